"""Controller of the palette: refusals, reconstruction error, hue coverage, palette stability across frames.

Refusals raise (:class:`~core.errors.ParameterError` for a parameter,
:class:`~core.errors.ImageError` for pixels) with one line naming the
parameter or the first bad pixel. Estimators that can fail return a value
that says so (:class:`StabilityReport.stable`, ``PaletteFit.converged``).

Hue coverage (:func:`hue_coverage`, :mod:`core.palette.hues`): whether
every OKLab hue family holding a set share of the frame's chroma has a
palette entry, with the families found and missed.

Errors are reported in two units: ΔE00 (CIEDE2000 on CIE Lab D65, see
:mod:`core.metrics.deltae`) and ΔE OK x 100 (Euclidean OKLab x 100).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from core.errors import ImageError, ParameterError
from core.frame import Frame, as_hwc_float32, check_finite
from core.metrics.deltae import delta_e_2000, delta_e_ok
from core.palette import hues
from core.palette.params import ENCODE_PARAMS
from core.palette.spaces import acescg_to_fit

#: Pixels measured at a time by :func:`reconstruction_error` (its float64 ΔE temporaries stay a few MiB).
ERROR_CHUNK = 1 << 14
#: Default stability threshold: share-weighted mean matched ΔE OK x 100 between frames.
STABILITY_THRESHOLD = 2.0


class PaletteStabilityWarning(UserWarning):
    """Palettes of consecutive frames differ by more than the threshold (encoding will flicker)."""


# -- refusals ---------------------------------------------------------------------------


def check_param(name: str, value: Any) -> Any:
    """Validate one encode parameter against :data:`~core.palette.params.ENCODE_PARAMS`."""
    return ENCODE_PARAMS[name].coerce(value)


def check_image(image: Any, *, name: str | None = None, finite: bool = True) -> tuple[np.ndarray, str]:
    """``(pixels, name)``: ``float32`` ``HWC`` ACEScg with 3 or 4 channels, all finite.

    ``image`` is an array (taken as ACEScg, RGB or premultiplied RGBA) or a
    :class:`~core.frame.Frame` (converted to ACEScg with :mod:`core.color`
    when it is in another colour space; RGBA comes back premultiplied,
    a straight PNG's colour multiplied by its alpha after the conversion). NaN/Inf anywhere raise
    :class:`ImageError` naming the first pixel. ``finite=False``: the caller
    checks the returned pixels itself, in a pass it makes anyway (the
    compiled encoder), and calls :func:`core.frame.check_finite` when it
    finds one.
    """
    if isinstance(image, Frame):
        label = name or image.describe()
        pixels = image.pixels
        if image.colorspace != "ACEScg" or image.n_channels == 4:  # RGBA: premultiplied (core.color.alpha)
            if image.n_channels not in (3, 4):
                raise ImageError(f"{label}: expected RGB or RGBA, got {image.n_channels} channel(s)")
            from core.color import convert_frame

            check_finite(pixels, name=label)
            pixels = convert_frame(image, "ACEScg").pixels
    else:
        label = name or "image"
        pixels = image
    pixels = as_hwc_float32(pixels, name=label)
    if pixels.shape[2] not in (3, 4):
        raise ImageError(f"{label}: expected ACEScg RGB or RGBA (3 or 4 channels), got {pixels.shape[2]}")
    if finite:
        check_finite(pixels, name=label)
    return pixels, label


def valid_mask(pixels: np.ndarray, alpha_threshold: float) -> np.ndarray | None:
    """``HW`` bool of pixels with alpha > threshold, or ``None`` for RGB input."""
    if pixels.shape[2] != 4:
        return None
    return pixels[..., 3] > np.float32(alpha_threshold)


def refuse_empty(mask: np.ndarray | None, alpha_threshold: float, label: str) -> int:
    """Number of usable pixels; :class:`ImageError` when alpha leaves none."""
    if mask is None:
        return -1
    n = int(np.count_nonzero(mask))
    if n == 0:
        raise ImageError(
            f"{label}: every pixel has alpha <= {alpha_threshold} (alpha_threshold); nothing to fit a palette to"
        )
    return n


def refuse_distinct(k: int, n_distinct: int, *, space: str, n_pixels: int, alpha_threshold: float | None,
                    label: str) -> None:
    """:class:`ParameterError` when ``k`` exceeds the number of distinct colours."""
    if n_distinct < k:
        where = f"{n_pixels} pixels" + (f" with alpha > {alpha_threshold}" if alpha_threshold is not None else "")
        raise ParameterError(
            f"parameter 'k': {k} colours requested but {label} has only {n_distinct} distinct colour(s) "
            f"({space}, among {where}); use k <= {n_distinct}"
        )


def refuse_coverage(k: int, need: Sequence[int], shares: np.ndarray, min_share: float, n_fixed: int = 0) -> None:
    """:class:`ParameterError` when ``k`` entries cannot hold one per required hue family (plus ``n_fixed``)."""
    if len(need) + n_fixed > k:
        listed = ", ".join(f"{hues.FAMILIES[i]} {shares[i]:.1%}" for i in need)
        besides = f" besides the {n_fixed} fixed" if n_fixed else ""
        raise ParameterError(
            f"parameter 'k': {k} entries cannot cover the {len(need)} hue families holding >= {min_share:.1%} of "
            f"the chroma{besides} ({listed}); use k >= {len(need) + n_fixed} or a larger hue_coverage"
        )


# -- reconstruction error ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ReconstructionError:
    """How far decoded colours are from the source, over the pixels measured.

    ``de2000_*`` in ΔE00 (CIE Lab, D65), ``deok_*`` in ΔE OK x 100. ``p95`` is
    the 95th percentile (linear interpolation).
    """

    de2000_mean: float
    de2000_p95: float
    de2000_max: float
    deok_mean: float
    deok_p95: float
    deok_max: float
    n_pixels: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def reconstruction_error(image: Any, index: np.ndarray, palette_acescg: np.ndarray, *,
                         alpha_threshold: float = 0.0, premultiplied: bool = True,
                         sample_size: int | None = None, seed: int = 0) -> ReconstructionError:
    """ΔE00 and ΔE OK between each pixel and the palette colour its index decodes to.

    ``image``: ACEScg ``HWC`` (RGB, or RGBA: pixels with alpha <= threshold
    are skipped, premultiplied colour is divided by alpha). ``index``: ``HW``
    integer map into ``palette_acescg`` (``(K, 3)`` ACEScg); entries >= K
    (the masked sentinel) are skipped. ``sample_size``: measure a seeded
    random subset of that many pixels (``None``: all). Measured
    :data:`ERROR_CHUNK` pixels at a time: beyond the image, the memory is
    the two float64 ΔE arrays (8 bytes per measured pixel each).
    """
    pixels, label = check_image(image)
    index = np.asarray(index)
    if index.shape != pixels.shape[:2]:
        raise ImageError(f"{label}: index map is {index.shape}, image is {pixels.shape[:2]}")
    pal = np.asarray(palette_acescg, dtype=np.float64)
    flat_idx = index.reshape(-1)
    valid = flat_idx < len(pal)
    mask = valid_mask(pixels, alpha_threshold)
    if mask is not None:
        valid &= mask.reshape(-1)
    n_valid = int(np.count_nonzero(valid))
    if not n_valid:
        raise ImageError(f"{label}: no pixel to measure (all masked)")
    flat = pixels.reshape(-1, pixels.shape[2])
    sampled = sample_size is not None and sample_size < n_valid
    if sampled:
        rng = np.random.Generator(np.random.PCG64(seed))
        where = np.sort(rng.choice(np.flatnonzero(valid), size=int(sample_size), replace=False))
        spans = [where[s:s + ERROR_CHUNK] for s in range(0, len(where), ERROR_CHUNK)]
        n_valid = len(where)
    else:  # every valid pixel, in order, a chunk at a time: no frame-sized index or float64 temporaries
        spans = [slice(s, s + ERROR_CHUNK) for s in range(0, len(flat), ERROR_CHUNK)]
    pal32 = pal.astype(np.float32)
    lab_pal = acescg_to_fit(pal32, "lab")
    ok_pal = acescg_to_fit(pal32, "oklab")
    de00, deok = np.empty(n_valid), np.empty(n_valid)
    done = 0
    for span in spans:
        px, idx = flat[span], flat_idx[span]
        if not sampled:
            px, idx = px[valid[span]], idx[valid[span]]
        src = px[:, :3].astype(np.float32)
        if pixels.shape[2] == 4 and premultiplied:
            src = src / px[:, 3:4]
        idx = idx.astype(np.int64)
        stop = done + len(idx)
        de00[done:stop] = delta_e_2000(acescg_to_fit(src, "lab"), lab_pal[idx])
        deok[done:stop] = delta_e_ok(acescg_to_fit(src, "oklab"), ok_pal[idx])
        done = stop
    # mean and max first: the percentile then partitions each array in place instead of copying it
    means, maxima = (float(de00.mean()), float(deok.mean())), (float(de00.max()), float(deok.max()))
    p95 = (float(np.percentile(de00, 95, overwrite_input=True)), float(np.percentile(deok, 95, overwrite_input=True)))
    return ReconstructionError(
        de2000_mean=means[0], de2000_p95=p95[0], de2000_max=maxima[0],
        deok_mean=means[1], deok_p95=p95[1], deok_max=maxima[1],
        n_pixels=n_valid,
    )


def encoding_error(image: Any, encoding: Any, *, sample_size: int | None = None, seed: int = 0) -> ReconstructionError:
    """:func:`reconstruction_error` of a :class:`~core.palette.PaletteEncoding` of ``image``
    (its index, its palette, and the fit's alpha threshold and premultiplication)."""
    fit = encoding.fit
    return reconstruction_error(image, encoding.index, fit.palette_acescg,
                                alpha_threshold=fit.params.get("alpha_threshold", 0.0),
                                premultiplied=fit.params.get("premultiplied", True),
                                sample_size=sample_size, seed=seed)


# -- hue coverage -----------------------------------------------------------------------


def hue_coverage(image: Any, palette_acescg: Any, *, min_share: float = hues.CHECK_SHARE,
                 alpha_threshold: float = 0.0, premultiplied: bool = True) -> hues.HueCoverage:
    """Whether a palette has an entry in every OKLab hue family of ``image`` holding ``min_share`` of its chroma.

    ``image``: ACEScg ``HWC`` (RGB, or RGBA: pixels with alpha <= threshold
    are skipped, premultiplied colour is divided by alpha), every pixel
    measured (:data:`ERROR_CHUNK` at a time). ``palette_acescg``: a
    :class:`~core.palette.PaletteFit` or ``(K, 3)`` ACEScg. The families and
    shares are those of :mod:`core.palette.hues`. ``min_share`` in 0..1
    (:class:`ParameterError` outside). A fit's own
    :attr:`~core.palette.PaletteFit.coverage` measures its pixel sample.
    """
    min_share = check_param("hue_coverage", min_share)
    ok_pal, _ = _palette_oklab(palette_acescg)
    shares = image_hue_shares(image, alpha_threshold=alpha_threshold, premultiplied=premultiplied)
    return hues.coverage(shares, ok_pal, min_share)


def _oklab_chunks(image: Any, alpha_threshold: float, premultiplied: bool):
    """OKLab ``(n, 3)`` float32 of the usable pixels of ``image`` (ACEScg HWC), :data:`ERROR_CHUNK` at a time."""
    pixels, _ = check_image(image)
    mask = valid_mask(pixels, alpha_threshold)
    flat = pixels.reshape(-1, pixels.shape[2])
    keep = None if mask is None else mask.reshape(-1)
    for s in range(0, len(flat), ERROR_CHUNK):
        px = flat[s:s + ERROR_CHUNK] if keep is None else flat[s:s + ERROR_CHUNK][keep[s:s + ERROR_CHUNK]]
        rgb = px[:, :3].astype(np.float32)
        if pixels.shape[2] == 4 and premultiplied:
            rgb = rgb / px[:, 3:4]
        yield acescg_to_fit(rgb, "oklab")


def image_hue_shares(image: Any, *, alpha_threshold: float = 0.0, premultiplied: bool = True) -> np.ndarray:
    """``(8,)`` float64: each OKLab hue family's chroma-weighted share of every usable pixel of ``image``.

    ``image``: ACEScg ``HWC`` RGB or RGBA (as :func:`hue_coverage`); families
    and shares as :func:`core.palette.hues.family_shares`.
    """
    sums = np.zeros(len(hues.FAMILIES))
    total = 0.0
    for ok in _oklab_chunks(image, alpha_threshold, premultiplied):
        chunk_sums, chunk_total = hues.family_chroma(ok)
        sums += chunk_sums
        total += chunk_total
    return hues.shares_of(sums, total)


def family_colour(image: Any, family: str, *, weight: str = "energy", alpha_threshold: float = 0.0,
                  premultiplied: bool = True) -> np.ndarray:
    """``(3,)`` float32 ACEScg: the mean colour of hue family ``family``'s pixels in ``image``.

    The mean is taken in OKLab, each pixel weighted as the fit would weigh
    it (``weight``, :mod:`core.palette.weights`; default ``"energy"``, so a
    bright vivid pixel counts more than a dull one). What a hue-coverage
    pin starts from, and what the palette panel locks when the artist pins a
    missed family. :class:`ParameterError`: an unknown family or weight, or
    no pixel of that family in the image.
    """
    from core.palette.spaces import fit_to_acescg
    from core.palette.weights import fit_weights

    index = hues.family_index(family)
    weight = check_param("weight", weight)
    sums, total = np.zeros(3), 0.0
    for ok in _oklab_chunks(image, alpha_threshold, premultiplied):
        fam = hues.family_of(ok)
        sel = fam == index
        if not sel.any():
            continue
        w = fit_weights(weight, ok[sel], np.ones(int(sel.sum())))
        sums += hues.family_means(ok[sel], w, fam[sel], [index])[0] * w.sum()
        total += float(w.sum())
    if not total > 0:
        raise ParameterError(f"hue family {hues.FAMILIES[index]!r}: no pixel of that hue in the image "
                             f"(OKLab chroma >= {hues.NEUTRAL_CHROMA})")
    return fit_to_acescg(sums / total, "oklab").astype(np.float32)


# -- stability --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PaletteMatch:
    """Two palettes matched entry to entry (Hungarian matching on ΔE OK x 100).

    ``pairs[i] = (entry in a, entry in b)``; ``distances[i]`` their ΔE OK x
    100. ``mean`` / ``max`` over matched pairs; ``weighted_mean`` weights each
    pair by the mean of the two entries' shares (when both palettes have
    shares), so a rarely used entry moving counts little. ``unmatched``:
    entries left over when the palettes differ in size.
    """

    pairs: tuple
    distances: np.ndarray
    mean: float
    max: float
    weighted_mean: float
    unmatched: int


def _palette_oklab(p: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """OKLab coordinates and shares of a PaletteFit / PalettePack / (K, 3) ACEScg array."""
    acescg = getattr(p, "palette_acescg", None)
    shares = getattr(p, "shares", None)
    if acescg is None:
        acescg = np.asarray(p, dtype=np.float32)
        if acescg.ndim != 2 or acescg.shape[1] != 3:
            raise ParameterError(f"palette: expected a PaletteFit or a (K, 3) ACEScg array, got shape {acescg.shape}")
    acescg = np.asarray(acescg, dtype=np.float32)
    if not np.isfinite(acescg).all():
        raise ImageError("palette: non-finite colours")
    return acescg_to_fit(acescg, "oklab").astype(np.float64), None if shares is None else np.asarray(shares, np.float64)


def palette_distance(a: Any, b: Any) -> PaletteMatch:
    """Match the entries of palettes ``a`` and ``b`` (min total ΔE OK) and report the distances.

    ``a``, ``b``: :class:`~core.palette.PaletteFit` (or anything with
    ``palette_acescg`` and optional ``shares``) or ``(K, 3)`` ACEScg arrays.
    The matching ignores entry order, so a permuted palette is at distance 0.
    Uses SciPy's ``scipy.optimize.linear_sum_assignment`` (a core dependency).
    """
    from scipy import optimize

    oa, sa = _palette_oklab(a)
    ob, sb = _palette_oklab(b)
    cost = delta_e_ok(oa[:, None, :], ob[None, :, :])
    rows, cols = optimize.linear_sum_assignment(cost)
    d = cost[rows, cols]
    if sa is not None and sb is not None:
        w = (sa[rows] + sb[cols]) / 2.0
        weighted = float((w * d).sum() / w.sum()) if w.sum() > 0 else float(d.mean())
    else:
        weighted = float(d.mean())
    return PaletteMatch(
        pairs=tuple((int(r), int(c)) for r, c in zip(rows, cols)), distances=d, mean=float(d.mean()),
        max=float(d.max()), weighted_mean=weighted, unmatched=abs(len(oa) - len(ob)),
    )


@dataclasses.dataclass(frozen=True)
class StabilityReport:
    """Palette stability over a sequence of per-frame palettes.

    ``matches[i]`` compares palette ``i`` with palette ``i + 1`` (or with the
    first, ``reference="first"``). ``stable`` is false when any comparison's
    ``weighted_mean`` exceeds ``threshold`` (ΔE OK x 100) or entries are
    unmatched; ``unstable`` lists those comparisons' indices.
    """

    matches: tuple
    threshold: float
    worst: float
    stable: bool
    unstable: tuple
    message: str


def palette_stability(palettes: Sequence[Any], *, threshold: float = STABILITY_THRESHOLD,
                      reference: str = "previous", warn: bool = True) -> StabilityReport:
    """Compare each frame's palette with the previous (or the first) one.

    Emits a :class:`PaletteStabilityWarning` when unstable and ``warn`` is
    true; the report says so either way.
    """
    if reference not in ("previous", "first"):
        raise ParameterError(f"parameter 'reference': {reference!r} is not one of previous, first")
    threshold = float(threshold)
    if not threshold >= 0:
        raise ParameterError(f"parameter 'threshold': {threshold} must be >= 0")
    palettes = list(palettes)
    if len(palettes) < 2:
        raise ParameterError(f"palette_stability: need at least 2 palettes, got {len(palettes)}")
    matches = []
    for i in range(1, len(palettes)):
        ref = palettes[i - 1] if reference == "previous" else palettes[0]
        matches.append(palette_distance(ref, palettes[i]))
    unstable = tuple(i for i, m in enumerate(matches) if m.weighted_mean > threshold or m.unmatched)
    worst = max(m.weighted_mean for m in matches)
    if unstable:
        msg = (f"palette unstable: {len(unstable)} of {len(matches)} frame pair(s) differ by more than "
               f"ΔE OK {threshold:g} (worst {worst:.2f}); consider a shared palette")
        if warn:
            warnings.warn(msg, PaletteStabilityWarning, stacklevel=2)
    else:
        msg = f"palette stable: worst frame-to-frame ΔE OK {worst:.2f} <= {threshold:g}"
    return StabilityReport(matches=tuple(matches), threshold=threshold, worst=worst, stable=not unstable,
                           unstable=unstable, message=msg)
