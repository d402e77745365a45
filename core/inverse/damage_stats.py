"""Statistics of film damage measured on a damaged scan alone: what damage matching compares.

Grain is random and dust lands anywhere, so a damaged scan is described by
statistics, not pixels (:func:`damage_statistics`, one flat ``{name: value}``
mapping over a few frames of one shot):

- grain, from flat areas (the way the AV1 / VVC film-grain estimators work:
  tile the frame, keep the flattest blocks, take away each block's
  content with a fitted plane, measure what is left): per channel the
  relative RMS of the residual against brightness, brought back to
  :mod:`core.degrade.grain`'s "RMS on 18% grey" through the model's own
  density law (``grain_r``, ``grain_g``, ``grain_b``), and the residual's
  autocorrelation (lags 1 to 3), whose spatial spread is the grain size
  (``grain_corr_r`` ...);
- dust and dirt: specks that are both small against their surroundings (a
  grey-level top-hat in log luminance) and new in their frame (not in
  either neighbouring frame, give or take a little motion), counted per
  frame by polarity,
  with their median equivalent radius (``dust_dark``, ``dust_bright``,
  ``dust_radius``) and the share of them that are long and thin, hairs and
  fibres (``dust_hair_share``: axis ratio of the speck's second moments at
  least :data:`HAIR_ELONGATION`, pieces one pixel apart taken together);
- scratches: columns whose thin-line response runs down most of the frame
  (``scratches``, per frame);
- flicker: the spread of each frame's mean log2 luminance about the clip's
  linear trend (``flicker``, stops);
- dye fade: the mean print density of each channel
  (``density_r`` ...; ``-log10`` of the value, as :mod:`core.degrade.fade`),
  and the density of the shadows (``shadow_r`` ...: the
  :data:`SHADOW_QUANTILE` quantile of each channel's density, on the
  lightly blurred median of neighbouring frames away from specks): a
  scene's colour lives in its objects, its deepest shadows are nearly
  neutral whatever their colour, while a faded dye takes its share of every
  density, the shadows' too;
- softness: the width of the strongest edges (of the median of five
  neighbouring frames, away from where specks overlap in them: dust is
  sharper than the picture), from how much a known extra blur lowers their
  gradient (``edge_sigma``, px; the "re-blur" measure).

Frames: ``float32`` ``HW3`` (or ``HW4``, alpha ignored) scene-linear ACEScg,
values >= 0, all of one size, at least 64 x 64 px. The statistics are pure
functions of the frames (no randomness).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from core.errors import ImageError, ParameterError

#: Side of the square blocks the grain is measured in (px).
BLOCK = 16
#: Share of the blocks (the flattest) the grain is measured on.
FLAT_SHARE = 0.2
#: Smallest frame side the statistics need (px).
MIN_SIDE = 64
#: Radius of the top-hat that finds specks (px): specks up to about this radius.
SPECK_RADIUS = 16
#: Motion (px) between neighbouring frames that is not taken for specks.
MOTION_PX = 3
#: Smallest contrast of a speck against its surroundings (stops), above the grain's own spread.
SPECK_STOPS = 0.25
#: Share of the rows by which a column's line response must beat its neighbourhood's to be a scratch.
SCRATCH_ROWS = 0.45
#: Contrast (stops) of the thin-line response of a scratch.
SCRATCH_STOPS = 0.15
#: Gradient maxima the edge width is measured on: those above this quantile (the strongest edges, which
#: grain does not reach even under strong blur: 0.97 kept a 3 px blur under 9% grain within 4%, 0.9 within 10%).
EDGE_QUANTILE = 0.97
#: Extra Gaussian blur (px) of the re-blur edge measure, and the pre-blur that quiets grain.
REBLUR_SIGMA, PRE_SIGMA = 2.0, 1.0
#: Axis ratio (of the second moments) from which a speck counts as a hair or fibre; a blob of
#: :mod:`core.degrade.dust` is at most about 2.3 (aspect 0.5 and a wobbly outline).
HAIR_ELONGATION = 3.0
#: Quantile of each channel's print density that stands for the scene's shadows, and the blur (px) that
#: quiets grain before it is taken.
SHADOW_QUANTILE, SHADOW_BLUR = 0.99, 2.0
_EPS = 1e-4

#: Names of the statistics :func:`damage_statistics` returns, in order.
STAT_NAMES = ("grain_r", "grain_g", "grain_b", "grain_corr_r", "grain_corr_g", "grain_corr_b",
              "dust_dark", "dust_bright", "dust_radius", "dust_hair_share", "scratches", "flicker",
              "density_r", "density_g", "density_b", "shadow_r", "shadow_g", "shadow_b", "edge_sigma")


def check_frames(frames: Sequence[Any], *, where: str = "damage statistics") -> list[np.ndarray]:
    """The frames' RGB as ``float32`` ``HW3`` arrays; one :class:`~core.errors.ImageError` line for no frames,
    another channel count, mixed sizes, a frame under :data:`MIN_SIDE` px or non-finite values."""
    out: list[np.ndarray] = []
    if not len(frames):
        raise ImageError(f"{where}: no frames")
    for i, f in enumerate(frames):
        name = getattr(f, "describe", lambda i=i: f"frame {i}")()
        px = np.asarray(getattr(f, "pixels", f))
        if px.ndim != 3 or px.shape[2] not in (3, 4):
            raise ImageError(f"{where}: {name} must be RGB or RGBA (HxWx3 or HxWx4), got shape {px.shape}")
        if min(px.shape[:2]) < MIN_SIDE:
            raise ImageError(f"{where}: {name} is {px.shape[1]}x{px.shape[0]}; "
                             f"at least {MIN_SIDE}x{MIN_SIDE} px needed")
        rgb = np.ascontiguousarray(px[..., :3], dtype=np.float32)
        if not np.isfinite(rgb).all():
            raise ImageError(f"{where}: {name} holds NaN or infinite values")
        if out and rgb.shape != out[0].shape:
            raise ImageError(f"{where}: {name} is {rgb.shape[1]}x{rgb.shape[0]}, the first frame "
                             f"{out[0].shape[1]}x{out[0].shape[0]}: give frames of one size")
        out.append(np.maximum(rgb, 0.0))
    return out


# -- grain ------------------------------------------------------------------------------------------------
def _blocks(x: np.ndarray, block: int) -> np.ndarray:
    """``(N, block * block, C)`` tiles of ``x`` (``HWC``; the right and bottom remainders dropped)."""
    h, w = (x.shape[0] // block) * block, (x.shape[1] // block) * block
    c = x.shape[2]
    tiles = x[:h, :w].reshape(h // block, block, w // block, block, c).transpose(0, 2, 1, 3, 4)
    return tiles.reshape(-1, block * block, c)


@functools.lru_cache(maxsize=4)
def _plane_projection(block: int) -> np.ndarray:
    """``(B*B, B*B)`` projection of a block's values on the planes ``a + b x + c y`` (least squares)."""
    yy, xx = np.mgrid[0:block, 0:block].astype(np.float64)
    design = np.stack([np.ones(block * block), xx.ravel() - xx.mean(), yy.ravel() - yy.mean()], axis=1)
    return (design @ np.linalg.pinv(design)).astype(np.float32)


def flat_blocks(rgb: np.ndarray, other: np.ndarray | None = None, *, damaged: np.ndarray | None = None,
                block: int = BLOCK, share: float = FLAT_SHARE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plane-fit residuals ``(N, block, block, 3)`` and means ``(N, 3)`` of the flattest blocks of ``rgb``
    (``float32`` ``HW3`` linear): neither near black nor near clear base, the ``share`` whose lightly
    smoothed luminance departs least from a plane. With ``other`` (the next frame of the shot, same size),
    the residuals are those of ``(rgb - other * gain) / sqrt(2)`` (``gain`` evens the two frames' means):
    the picture cancels where it stands still and the grain, new in every frame, is left. ``damaged``
    (``bool`` ``HW``): pixels to leave out (specks); blocks more than a quarter damaged are not used. Returns
    the residuals, the means and the valid pixels ``(N, block, block)`` of the blocks kept."""
    import cv2

    proj = _plane_projection(block)
    blocks = _blocks(rgb, block)
    means = blocks.mean(axis=1)
    smooth = cv2.GaussianBlur(rgb.mean(axis=2), (0, 0), 2.0)[..., None]
    sb = _blocks(smooth, block)[..., 0]
    structure = (sb - sb @ proj.T).var(axis=1) / np.maximum(sb.mean(axis=1), _EPS) ** 2
    lum = means.mean(axis=1)
    valid = np.ones(blocks.shape[:2], bool) if damaged is None else ~_blocks(damaged[..., None], block)[..., 0]
    usable = np.flatnonzero((means.min(axis=1) > 0.01) & (lum < 0.9) & (valid.mean(axis=1) >= 0.75))
    if usable.size == 0:
        usable = np.arange(len(means))
    keep = usable[np.argsort(structure[usable], kind="stable")[:max(4, int(round(share * usable.size)))]]
    if other is not None:
        gain = np.float32(rgb.mean(dtype=np.float64) / max(float(other.mean(dtype=np.float64)), _EPS))
        values = (blocks[keep] - _blocks(other, block)[keep] * gain) * np.float32(math.sqrt(0.5))
    else:
        values = blocks[keep]
    resid = values - np.matmul(proj, values)
    return resid.reshape(-1, block, block, 3), means[keep], valid[keep].reshape(-1, block, block)


def relative_grain(std: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """:mod:`core.degrade.grain`'s intensity (relative RMS on 18% grey) that gives RMS ``std`` at linear ``mean``:
    the inverse of :func:`core.degrade.grain.grain_std` (``std = (v + TOE) sqrt(exp(s^2) - 1)``,
    ``s = intensity sqrt((Dn + FOG) / (Dn_grey + FOG))``)."""
    from core.degrade import grain

    v = np.maximum(np.asarray(mean, np.float64), 0.0)
    s = np.sqrt(np.log1p((np.asarray(std, np.float64) / (v + grain.TOE)) ** 2))
    dn_grey = grain.NEG_GAMMA * math.log10(1.0 + 0.18 / grain.TOE)
    return s / np.sqrt((grain.negative_density(v) + grain.FOG) / (dn_grey + grain.FOG))


def _correlation(resid: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Autocorrelation of residual blocks ``(N, B, B, 3)`` per channel, averaged over lags 1, 2 and 3 in x and
    y, over the pairs of valid pixels (``valid`` ``(N, B, B)`` bool; ``None``: all): near 0 for white noise,
    rising towards 1 with the grain's size, and still rising for coarse grain where lag 1 alone is near 1."""
    v = np.ones(resid.shape[:3], np.float32) if valid is None else valid.astype(np.float32)
    acc = np.zeros(resid.shape[-1])
    for k in (1, 2, 3):
        num = np.zeros(resid.shape[-1])
        den = np.zeros(resid.shape[-1])
        for a, b, w in ((resid[:, :, k:], resid[:, :, :-k], v[:, :, k:] * v[:, :, :-k]),
                        (resid[:, k:], resid[:, :-k], v[:, k:] * v[:, :-k])):
            num += (a * b * w[..., None]).sum(axis=(0, 1, 2))
            den += (0.5 * (a * a + b * b) * w[..., None]).sum(axis=(0, 1, 2))
        acc += num / np.maximum(den, 1e-20)
    return acc / 3.0


def grain_statistics(rgb: np.ndarray, other: np.ndarray | None = None, damaged: np.ndarray | None = None
                     ) -> dict[str, float]:
    """``grain_r|g|b`` (relative RMS on 18% grey, per channel) and ``grain_corr_r|g|b`` (autocorrelation of
    the residual, lags 1-3) of one frame (``float32`` ``HW3`` linear), from its flattest blocks (:func:`flat_blocks`;
    ``other``: the next frame, whose difference takes the picture away; ``damaged``: speck pixels left out).
    The RMS is the median absolute deviation's (a few specks in a block do not count)."""
    resid, means, valid = flat_blocks(rgb, other, damaged=damaged)
    mad = np.median(np.abs(resid - np.median(resid, axis=(1, 2), keepdims=True)), axis=(1, 2)) * 1.4826
    rel = np.median(relative_grain(mad, means), axis=0)
    corr = _correlation(resid, valid)
    out = {f"grain_{c}": float(rel[i]) for i, c in enumerate("rgb")}
    out.update({f"grain_corr_{c}": float(corr[i]) for i, c in enumerate("rgb")})
    return out


@functools.lru_cache(maxsize=1)
def grain_calibration() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(sizes, corr, gain)``: for :mod:`core.degrade`'s grain of each size (px) on flat 18% grey, two
    frames 256 x 256 from a fixed seed, the autocorrelation and the share of the true intensity that
    :func:`grain_statistics` measures (a block of 16 px holds fewer independent samples of a coarser grain, and
    its fitted plane takes some away). Deterministic; made once per process."""
    from core.degrade import grain

    sizes = np.geomspace(0.2, 8.0, 25)
    corr, gain = [], []
    grey = np.full((256, 256, 3), 0.18, np.float32)
    for i, s in enumerate(sizes):
        a, b = (grain.add_grain(grey, np.random.default_rng([20_261, i, k]), [0.05] * 3, [float(s)] * 3)
                for k in (0, 1))
        st = grain_statistics(a, b)
        corr.append(np.mean([st[f"grain_corr_{c}"] for c in "rgb"]))
        gain.append(np.mean([st[f"grain_{c}"] for c in "rgb"]) / 0.05)
    return sizes, np.maximum.accumulate(np.asarray(corr)), np.asarray(gain)


def grain_size_of(corr: float) -> float:
    """Grain size (px, :mod:`core.degrade.grain`'s correlation sigma) whose measured autocorrelation is
    ``corr`` (:func:`grain_calibration`)."""
    sizes, table, _ = grain_calibration()
    return float(np.interp(corr, table, sizes))


def grain_gain_of(size: float) -> float:
    """Share of a grain's intensity :func:`grain_statistics` measures at grain size ``size`` px."""
    sizes, _, gain = grain_calibration()
    return float(np.interp(size, sizes, gain))


# -- dust and scratches -----------------------------------------------------------------------------------
def _log_lum(rgb: np.ndarray) -> np.ndarray:
    from core.color.luminance import acescg_log2_luminance

    return acescg_log2_luminance(rgb, 1e-3)


def speck_masks(log_lum: Sequence[np.ndarray], index: int, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Dark and bright speck masks (``bool`` ``HW``) of frame ``index`` among ``log_lum`` (log2 luminance
    frames of one shot): a top-hat response above ``threshold`` stops that is also darker (brighter) by that
    much than everything within :data:`MOTION_PX` px in both neighbouring frames (the two nearest for the first
    and last frame), so picture moving that far is not a speck; one frame alone: the top-hat only."""
    import cv2

    x = log_lum[index]
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * SPECK_RADIUS + 1, 2 * SPECK_RADIUS + 1))
    dark = cv2.morphologyEx(x, cv2.MORPH_CLOSE, k) - x > threshold
    bright = x - cv2.morphologyEx(x, cv2.MORPH_OPEN, k) > threshold
    if len(log_lum) >= 2:
        near = sorted((j for j in range(len(log_lum)) if j != index), key=lambda j: (abs(j - index), j))[:2]
        m = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * MOTION_PX + 1, 2 * MOTION_PX + 1))
        for j in near:
            dark &= cv2.erode(log_lum[j], m) - x > threshold
            bright &= x - cv2.dilate(log_lum[j], m) > threshold
    return dark, bright


def _parts(mask: np.ndarray, height: int, labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Areas (px) and axis ratios (of their second moments, a pixel's own extent included) of the speck-like
    parts of ``mask`` (2 px or more, not scratch-like), labelled by ``labels`` (default: its 8-connected parts)."""
    import cv2

    if labels is None:
        labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)[1]
    labels = np.where(mask, labels, 0)
    n = int(labels.max()) + 1
    yy, xx = np.nonzero(labels)
    lab = labels[yy, xx]
    area = np.bincount(lab, minlength=n).astype(np.float64)
    safe = np.maximum(area, 1.0)
    x, y = xx.astype(np.float64), yy.astype(np.float64)
    mx, my = np.bincount(lab, x, n) / safe, np.bincount(lab, y, n) / safe
    sxx = np.bincount(lab, x * x, n) / safe - mx * mx + 1.0 / 12.0
    syy = np.bincount(lab, y * y, n) / safe - my * my + 1.0 / 12.0
    sxy = np.bincount(lab, x * y, n) / safe - mx * my
    half, root = 0.5 * (sxx + syy), np.sqrt(np.maximum(0.25 * (sxx - syy) ** 2 + sxy * sxy, 0.0))
    ratio = np.sqrt((half + root) / np.maximum(half - root, 1e-6))
    # extents, for the scratch-like test: a part taller than 0.3 of the frame and under a tenth as wide
    top = np.full(n, yy.max(initial=0) + 1)
    bottom, left, right = np.full(n, -1), np.full(n, xx.max(initial=0) + 1), np.full(n, -1)
    np.minimum.at(top, lab, yy)
    np.maximum.at(bottom, lab, yy)
    np.minimum.at(left, lab, xx)
    np.maximum.at(right, lab, xx)
    h, w = bottom - top + 1, right - left + 1
    keep = (area >= 2) & ~((h > 0.3 * height) & (w < 0.1 * h))
    keep[0] = False
    return area[keep], ratio[keep]


def _components(mask: np.ndarray, height: int) -> tuple[list[float], int, int]:
    """Equivalent radii (px) of the speck-like connected parts of ``mask`` (:func:`_parts`); and, over its
    parts joined across one-pixel gaps (a thin hair breaks up where it is faint), how many are hair-like (axis
    ratio >= :data:`HAIR_ELONGATION`) of how many."""
    import cv2

    area, _ = _parts(mask, height)
    joined = cv2.connectedComponents(cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)), connectivity=8)[1]
    _, ratio = _parts(mask, height, joined)
    return np.sqrt(area / math.pi).tolist(), int(np.count_nonzero(ratio >= HAIR_ELONGATION)), int(ratio.size)


def scratch_columns(log_lum: np.ndarray, threshold: float) -> np.ndarray:
    """Columns of one frame (log2 luminance ``HW``) a scratch runs down (``bool``, one per column): where the
    thin-line response (against a horizontal opening and closing 5 px wide) passes ``threshold`` stops on
    :data:`SCRATCH_ROWS` more of the rows than the median column of their neighbourhood (31 columns) does:
    texture, which is everywhere, cancels; a line down the frame stands out. A run of such columns is one
    scratch (:func:`count_runs`)."""
    import cv2
    from numpy.lib.stride_tricks import sliding_window_view

    k = np.ones((1, 5), np.uint8)
    resp = np.maximum(cv2.morphologyEx(log_lum, cv2.MORPH_CLOSE, k) - log_lum,
                      log_lum - cv2.morphologyEx(log_lum, cv2.MORPH_OPEN, k))
    share = (resp > threshold).mean(axis=0)
    local = np.median(sliding_window_view(np.pad(share, 15, mode="reflect"), 31), axis=1)
    return share - local >= SCRATCH_ROWS


def count_runs(flags: np.ndarray) -> int:
    """Runs of ``True`` in a 1-D ``bool`` array."""
    cols = np.concatenate([[False], flags, [False]])
    return int(np.count_nonzero(cols[1:] & ~cols[:-1]))


# -- softness and colour ----------------------------------------------------------------------------------
def edge_sigma(rgb: np.ndarray, exclude: np.ndarray | None = None) -> float:
    """Blur (Gaussian sigma, px) of the frame's strongest horizontal edges, pre-blur included: the vertical
    gradient's drop under an extra blur of :data:`REBLUR_SIGMA` at its strongest local maxima (above
    :data:`EDGE_QUANTILE`) gives
    ``R = sqrt(S^2 + a^2) / S`` (``S`` the edge's own sigma), so ``S = a / sqrt(R^2 - 1)``. Measured on log2
    luminance; vertical scratches, which are sharper than the picture, have no vertical gradient. ``exclude``
    (``bool`` ``HW``): pixels whose maxima do not count (specks, sharper than the picture too)."""
    import cv2

    x = _log_lum(rgb)
    g1 = cv2.GaussianBlur(x, (0, 0), PRE_SIGMA)
    g2 = cv2.GaussianBlur(g1, (0, 0), REBLUR_SIGMA)
    m1 = np.abs(np.gradient(g1, axis=0))
    m2 = np.abs(np.gradient(g2, axis=0))
    peak = (m1 == cv2.dilate(m1, np.ones((5, 5), np.uint8))) & (m1 > 0)
    if exclude is not None:
        peak &= ~exclude
    vals = m1[peak]
    if vals.size < 8:
        return 0.0
    top = peak & (m1 >= np.quantile(vals, EDGE_QUANTILE))
    ratio = np.median(m1[top] / np.maximum(m2[top], 1e-9))
    return float(REBLUR_SIGMA / math.sqrt(max(ratio * ratio - 1.0, 1e-6)))


def print_density(values: np.ndarray) -> np.ndarray:
    """Print density of linear values (any shape): ``-log10(v + 10**-PRINT_DMAX)`` as :mod:`core.degrade.fade`,
    values above clear base counting as 0; ``float64``."""
    from core.degrade import fade

    return np.maximum(-np.log10(np.asarray(values, np.float64) + 10.0 ** -fade.PRINT_DMAX), 0.0)


def mean_density(rgb: np.ndarray) -> np.ndarray:
    """Mean print density per channel (:func:`print_density`)."""
    return print_density(rgb.reshape(-1, 3)).mean(axis=0)


def shadow_density(rgb: np.ndarray, exclude: np.ndarray | None = None) -> np.ndarray:
    """Print density (as :func:`mean_density`) of the shadows per channel: its :data:`SHADOW_QUANTILE` quantile
    over the frame blurred by :data:`SHADOW_BLUR` px (``float32`` ``HW3`` linear in), leaving out ``exclude``
    (``bool`` ``HW``: specks, which are neutral and would stand for shadows)."""
    import cv2

    blurred = cv2.GaussianBlur(rgb, (0, 0), SHADOW_BLUR).reshape(-1, 3)
    if exclude is not None and np.count_nonzero(~exclude) >= 64:
        blurred = blurred[~exclude.ravel()]
    return np.quantile(print_density(blurred), SHADOW_QUANTILE, axis=0)


# -- all of it ----------------------------------------------------------------------------------------------
def damage_statistics(frames: Sequence[Any], *, only: Sequence[str] | None = None) -> dict[str, float]:
    """The damage statistics (:data:`STAT_NAMES`, module docstring) of a few frames of one shot.

    ``frames``: arrays or :class:`~core.frame.Frame` objects, ``float32``
    ``HW3``/``HW4`` scene-linear ACEScg, one size, in time order.
    Per-frame values are averaged (grain over consecutive pairs, dust,
    scratches, density, edges); grain and flicker are best measured on two
    frames or more (one frame: its own spatial residual, and no flicker).
    ``only``: just these statistics (the others are not measured).
    """
    rgbs = check_frames(frames)
    want = set(STAT_NAMES if only is None else only)
    unknown = sorted(want - set(STAT_NAMES))
    if unknown:
        raise ParameterError(f"damage statistics: unknown statistic(s) {', '.join(unknown)}; known: "
                             f"{', '.join(STAT_NAMES)}")
    out: dict[str, float] = {}
    pairs = [(i, i + 1) for i in range(len(rgbs) - 1)] or [(0, None)]
    logs = [_log_lum(x) for x in rgbs]
    # the grain's RMS (median absolute deviations: specks hardly count) sets the specks' threshold ...
    rough = [grain_statistics(rgbs[i], None if j is None else rgbs[j]) for i, j in pairs]
    grain_stops = max(float(np.median([p["grain_g"] for p in rough])), 0.0) * 1.7  # about its RMS in stops
    threshold = max(SPECK_STOPS, 4.0 * grain_stops)
    specks = [speck_masks(logs, i, threshold) for i in range(len(logs))]
    # ... and the grain is measured again without the specks' pixels ...
    import cv2

    grow = np.ones((5, 5), np.uint8)
    hit = [cv2.dilate((d | b).astype(np.uint8), grow).astype(bool) for d, b in specks]
    # ... and away from the scratches (a line down a flat block is no grain, and correlated along its length)
    scratched = [scratch_columns(x, max(SCRATCH_STOPS, 2.0 * grain_stops)) for x in logs]
    for h, cols in zip(hit, scratched):
        h[:, cv2.dilate(cols.astype(np.uint8)[None], grow)[0] > 0] = True
    per = [grain_statistics(rgbs[i], None if j is None else rgbs[j], hit[i] | (hit[j] if j is not None else False))
           for i, j in pairs]
    out.update({k: float(np.median([p[k] for p in per])) for k in per[0]})
    if want & {"dust_dark", "dust_bright", "dust_radius", "dust_hair_share"}:
        dark, bright, radii, hairs, parts = [], [], [], 0, 0
        for (d, b), x in zip(specks, logs):
            (rd, hd, nd), (rb, hb, nb) = _components(d, x.shape[0]), _components(b, x.shape[0])
            dark.append(len(rd))
            bright.append(len(rb))
            radii += rd + rb
            hairs, parts = hairs + hd + hb, parts + nd + nb
        out["dust_dark"] = float(np.mean(dark))
        out["dust_bright"] = float(np.mean(bright))
        out["dust_radius"] = float(np.median(radii)) if radii else 0.0
        out["dust_hair_share"] = hairs / parts if parts else 0.0
    if "scratches" in want:
        out["scratches"] = float(np.mean([count_runs(cols) for cols in scratched]))
    if "flicker" in want:
        means = np.array([float(np.mean(x)) for x in logs])
        if len(means) >= 3:
            t = np.arange(len(means), dtype=np.float64)
            means = means - np.polyval(np.polyfit(t, means, 1), t)
            out["flicker"] = float(np.sqrt((means ** 2).sum() / (len(means) - 2)))
        else:
            out["flicker"] = float(abs(means[-1] - means[0]) / math.sqrt(2.0))
    if want & {"density_r", "density_g", "density_b"}:
        dens = np.mean([mean_density(x) for x in rgbs], axis=0)
        out.update({f"density_{c}": float(dens[i]) for i, c in enumerate("rgb")})
    if want & {"edge_sigma", "shadow_r", "shadow_g", "shadow_b"}:
        # on the median of (up to) five neighbours, away from the specks that survive it
        span = min(len(rgbs), 5) if len(rgbs) >= 3 else 1
        grow = np.ones((9, 9), np.uint8)
        sigmas, shadows = [], []
        for i in range(len(rgbs) - span + 1):
            steady = np.median(np.stack(rgbs[i:i + span]), axis=0) if span > 1 else rgbs[i]
            # a speck survives the median only where more than one of the frames has one
            found = sum((d | b).astype(np.uint8) for d, b in specks[i:i + span])
            left = cv2.dilate((found >= min(2, span)).astype(np.uint8), grow) > 0
            sigmas.append(edge_sigma(steady, left))
            shadows.append(shadow_density(steady, left))
        out["edge_sigma"] = float(np.median(sigmas))
        out.update({f"shadow_{c}": float(v) for c, v in zip("rgb", np.median(shadows, axis=0))})
    return {k: out[k] for k in STAT_NAMES if k in want}
