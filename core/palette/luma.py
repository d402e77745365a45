"""What a Rec.709 luma matte merges that the palette keeps apart.

Luma here is the matte an artist keys from the displayed image:
``Y' = 0.2126 R' + 0.7152 G' + 0.0722 B'`` (ITU-R BT.709 weights) on the
ACEScg colour converted to sRGB-encoded Rec.709 (:mod:`core.color`), clipped
to 0..1. The 0..1 range is cut into ``bands`` equal luma bands (default 16:
steps of 1/16, about what a luma key can tell apart on a fire or a glow).

Two palette entries are *visually distinct* when their ΔE OK x 100 exceeds
``distinct_threshold`` (default 10: five times a just-noticeable
difference). A *collapse* is a pair of visually distinct entries whose luma
differs by at most ``luma_delta`` (default 0.05 of the 0..1 range, under a
16-band step; a threshold rather than fixed bands so that two colours either
side of a band edge are not counted apart): a luma matte gives them
practically one grey, the palette index keeps them apart.
:func:`compare_luma` counts them per image and measures, from the pixels
themselves, how much the luma histograms (``bands`` equal bins) of the two
groups of pixels overlap.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from core.color.luminance import luminance
from core.color.matrices import REC709_LUMINANCE
from core.errors import ParameterError
from core.metrics.deltae import delta_e_ok
from core.palette import controller
from core.palette.spaces import acescg_to_fit

#: Pixels whose luma :func:`compare_luma` bins at a time.
LUMA_CHUNK = 1 << 16


def rec709_luma(acescg: Any) -> np.ndarray:
    """``(...)`` float32 Rec.709 luma Y' (0..1) of ACEScg colours ``(..., 3)`` as displayed in sRGB."""
    from core.color import convert

    rgb = np.asarray(acescg, dtype=np.float32)
    flat = rgb.reshape(-1, rgb.shape[-1])
    out = np.empty(len(flat), np.float32)
    for start in range(0, len(flat), LUMA_CHUNK):  # a chunk at a time: no frame-sized temporaries
        enc = np.clip(convert(flat[start:start + LUMA_CHUNK], "ACEScg", "srgb"), 0.0, 1.0)
        out[start:start + LUMA_CHUNK] = luminance(enc, REC709_LUMINANCE)
    return out.reshape(rgb.shape[:-1])


def luma_band(luma: Any, bands: int) -> np.ndarray:
    """Band number 0..bands-1 of luma values in 0..1 (``floor(Y' * bands)``, 1.0 in the top band)."""
    return np.minimum((np.asarray(luma, np.float64) * bands).astype(np.int64), bands - 1)


@dataclasses.dataclass(frozen=True)
class Collapse:
    """Two visually distinct palette entries of (nearly) the same luma.

    ``luma_difference``: |ΔY'|; ``delta_e_ok``: their ΔE OK x 100; ``hue_difference``: degrees between
    their OKLab hue angles; ``pixel_luma_overlap``: histogram intersection
    (0..1) of the luma bands of the pixels encoded as ``a`` and as ``b`` (1:
    a luma matte cannot tell the two groups of pixels apart at all).
    """

    a: int
    b: int
    luma_difference: float
    delta_e_ok: float
    hue_difference: float
    pixel_luma_overlap: float


@dataclasses.dataclass(frozen=True)
class LumaComparison:
    """Per image: palette entries, their luma, and the distinct colours luma merges.

    ``entries``: entries considered (share of encoded pixels >= ``min_share``);
    ``entry_luma`` / ``entry_band``: ``(K,)`` luma and band of every entry;
    ``distinct_pairs``: visually distinct pairs among the considered entries;
    ``collapses``: those within ``luma_delta`` of each other;
    ``collapsed_entries``: entries in at least one collapse; ``merged_share``:
    fraction of encoded pixels whose entry is collapsed; ``luma_groups``:
    distinct luma bands the considered entries occupy (of ``bands``).
    """

    bands: int
    luma_delta: float
    distinct_threshold: float
    entries: tuple
    entry_luma: np.ndarray
    entry_band: np.ndarray
    distinct_pairs: int
    collapses: tuple
    collapsed_entries: tuple
    merged_share: float
    luma_groups: int

    def summary(self) -> str:
        return (f"luma merges {len(self.collapses)} of {self.distinct_pairs} visually distinct colour pair(s) "
                f"(|ΔY'| <= {self.luma_delta:g}, ΔE OK > {self.distinct_threshold:g}): "
                f"{len(self.collapsed_entries)} of {len(self.entries)} palette colour(s), "
                f"{self.merged_share:.1%} of pixels; the palette index keeps them apart")


def compare_luma(image: Any, encoding: Any, *, luma_delta: float = 0.05, bands: int = 16,
                 distinct_threshold: float = 10.0, min_share: float = 0.005) -> LumaComparison:
    """Count the visually distinct palette colours that a Rec.709 luma matte merges.

    ``image``: the ACEScg image that was encoded; ``encoding``: its
    :class:`~core.palette.PaletteEncoding`. ``luma_delta``: luma difference
    (0..1) at or below which a matte cannot tell two colours apart;
    ``bands`` (2..256): bins of the pixel luma histograms;
    ``distinct_threshold`` in ΔE OK x 100; entries with less than
    ``min_share`` of the encoded pixels are left out (noise clusters).
    """
    bands = int(bands)
    if not 2 <= bands <= 256:
        raise ParameterError(f"parameter 'bands': {bands} is not in 2..256")
    luma_delta = float(luma_delta)
    if not 0.0 <= luma_delta <= 1.0:
        raise ParameterError(f"parameter 'luma_delta': {luma_delta} is not in 0..1")
    distinct_threshold = float(distinct_threshold)
    if not distinct_threshold > 0:
        raise ParameterError(f"parameter 'distinct_threshold': {distinct_threshold} must be > 0")
    if not 0.0 <= float(min_share) < 1.0:
        raise ParameterError(f"parameter 'min_share': {min_share} is not in [0, 1)")
    pixels, _ = controller.check_image(image)
    fit = encoding.fit
    pal = np.asarray(fit.palette_acescg, np.float32)
    k = len(pal)
    counts = np.asarray(encoding.counts, np.float64)
    total = counts.sum()
    shares = counts / total if total > 0 else counts
    entries = tuple(int(i) for i in np.flatnonzero(shares >= min_share))
    e_luma = rec709_luma(pal)
    e_band = luma_band(e_luma, bands)
    ok = acescg_to_fit(pal, "oklab").astype(np.float64)
    de = delta_e_ok(ok[:, None, :], ok[None, :, :])
    hue = np.degrees(np.arctan2(ok[:, 2], ok[:, 1]))

    # pixel luma bands per entry (from the pixels, not from the palette colours), counted a chunk of pixels
    # at a time (exact integer counts: the same histogram, without frame-sized temporaries)
    index = encoding.index.reshape(-1)
    flat = pixels.reshape(-1, pixels.shape[2])
    divide = pixels.shape[2] == 4 and fit.params.get("premultiplied", True)
    hist = np.zeros((k, bands))
    for start in range(0, len(index), LUMA_CHUNK):
        idx = index[start:start + LUMA_CHUNK]
        valid = idx < k
        px = flat[start:start + LUMA_CHUNK][valid]
        rgb = px[:, :3] / px[:, 3:4] if divide else px[:, :3]
        pix_band = luma_band(rec709_luma(rgb), bands)
        np.add.at(hist, (idx[valid].astype(np.int64), pix_band), 1.0)
    sums = hist.sum(axis=1, keepdims=True)
    hist = np.divide(hist, sums, out=np.zeros_like(hist), where=sums > 0)

    distinct = 0
    collapses = []
    for ii, i in enumerate(entries):
        for j in entries[ii + 1:]:
            if de[i, j] <= distinct_threshold:
                continue
            distinct += 1
            dy = abs(float(e_luma[i]) - float(e_luma[j]))
            if dy <= luma_delta:
                dh = abs(hue[i] - hue[j]) % 360.0
                collapses.append(Collapse(
                    a=i, b=j, luma_difference=dy, delta_e_ok=float(de[i, j]),
                    hue_difference=float(min(dh, 360.0 - dh)),
                    pixel_luma_overlap=float(np.minimum(hist[i], hist[j]).sum()),
                ))
    collapsed = tuple(sorted({c.a for c in collapses} | {c.b for c in collapses}))
    return LumaComparison(
        bands=bands,
        luma_delta=luma_delta,
        distinct_threshold=distinct_threshold,
        entries=entries,
        entry_luma=e_luma,
        entry_band=e_band,
        distinct_pairs=distinct,
        collapses=tuple(collapses),
        collapsed_entries=collapsed,
        merged_share=float(shares[list(collapsed)].sum()) if collapsed else 0.0,
        luma_groups=len({int(e_band[i]) for i in entries}),
    )
