"""Temporal repair: one-frame defects (dust, dirt, dropouts, torn blocks) filled from the neighbouring frames.

A defect that sits on one frame only is what the frames before and after
show best. For frame ``n`` with neighbours ``n-1`` and ``n+1``:

1. **Motion without frame n.** Dense optical flow (OpenCV DIS, medium
   preset, on 8-bit log2 luminance) from ``n-1`` to ``n+1`` and back. Frame
   ``n`` is never used to estimate motion: its defects would pull the flow.
   A pixel is *reliable* where the two flows agree (forward-backward error
   below ``consistency`` px): occlusions, fast non-rigid motion and the
   frame border are not.
2. **The neighbours at time n.** Each is warped halfway along the flow
   (``n-1`` forward by f/2, ``n+1`` back by f/2: linear motion). Where they
   agree (log2 luminance within ``agree`` stops) they predict frame ``n``.
3. **A defect** is a reliable pixel where the neighbours agree, frame
   ``n`` is brighter (or darker) than *both* by more than ``threshold``
   stops, and also stands out from its own 5x5 neighbourhood by that much
   (a speck, not a lighting change). Detections grow by one pixel (still
   only where reliable and agreeing) to take in soft rims.
4. **Repair:** those pixels become the mean of the two warped neighbours.
   Every other pixel is returned bit for bit.

**Only when the neighbours predict the frame.** The premise is that frames
``n-1`` and ``n+1`` show what frame ``n`` shows. It fails when a neighbour
is damaged as a whole (a frame shifted or mirrored by a tape transfer), at a
cut, and when frame ``n`` itself is displaced: the halfway warp then puts
every edge in the wrong place and a "repair" pastes it in, harming a clean
frame by 5-8 dB (measured on benchmarks/project_bench.py's bikes pair, the
clean frames beside a shifted one). So before repairing, the prediction (the
mean of the warped neighbours) is checked against frame ``n`` as a whole:
the global shift between the two (phase correlation on log2 luminance) must
be under ``max_shift`` px, and at least ``min_match`` of the trusted pixels
must match frame ``n`` within ``threshold`` stops. Otherwise the frame is
returned bit for bit with an empty mask and ``skipped`` saying why.

Limits, measured on real clips (benchmarks/restore_bench.py's sets): a
defect repeated at the same place on the neighbours (tape head-switching
noise on every frame) is not one-frame damage and is not repaired, and a
frame between two damaged neighbours may take their damage where it is
the majority. Clean moving frames come back at about 50-60 dB (a few
pixels of fast motion pass every test), so the repair is an option, not
the default. On benchmarks/project_bench.py's bikes pair (JPEG-compressed
scan, digital_tape damage on 13 of 120 frames), with the guard below:
damaged frames gain 0.84 dB on average, clean frames lose 0.20 dB on
average (worst 2.1 dB: thin fast-moving detail taken for a defect).

Images: ``float32`` ``HW3`` scene-linear (any RGB working space; the
luminance weights are ACEScg's), >= 0; the same layout out.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from core.errors import ImageError, ParameterError

#: Log2 luminance range mapped to 8 bits for the flow (stops below and above 1.0).
_LOG_LO, _LOG_HI = -8.0, 1.0


@dataclasses.dataclass(frozen=True)
class TemporalResult:
    """``image``: the repaired frame; ``mask``: ``bool`` ``HW``, the pixels replaced."""

    image: np.ndarray
    mask: np.ndarray
    skipped: str = ""


def _log_luma(rgb: np.ndarray) -> np.ndarray:
    from core.color.luminance import acescg_log2_luminance

    return acescg_log2_luminance(rgb, 2.0 ** _LOG_LO)


def _u8(log_luma: np.ndarray) -> np.ndarray:
    scaled = (log_luma - _LOG_LO) * (255.0 / (_LOG_HI - _LOG_LO))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def temporal_repair(image: np.ndarray, prev: np.ndarray, next: np.ndarray, *, threshold: float = 0.4,
                    agree: float = 0.1, consistency: float = 0.5, max_shift: float = 1.0,
                    min_match: float = 0.5) -> TemporalResult:
    """Repair the one-frame defects of ``image`` (frame n) from ``prev`` and ``next`` (frames n-1, n+1).

    ``threshold`` (stops): how much brighter or darker than both warped
    neighbours, and than its own 5x5 median, a defect is; ``agree``
    (stops): how close the two warped neighbours must be; ``consistency``
    (px): the largest forward-backward flow error of a reliable pixel;
    ``max_shift`` (px) and ``min_match`` (share of trusted pixels): how well
    the neighbours must predict the frame as a whole before anything is
    repaired. See the module docstring. Deterministic: the same frames give the same bytes.
    """
    import cv2

    for name, value in (("threshold", threshold), ("agree", agree), ("consistency", consistency),
                        ("max_shift", max_shift), ("min_match", min_match)):
        if not value > 0:
            raise ParameterError(f"temporal_repair: {name} must be positive, got {value!r}")
    frames = []
    for what, px in (("frame", image), ("previous frame", prev), ("next frame", next)):
        px = np.asarray(px)
        if px.ndim != 3 or px.shape[2] < 3 or px.dtype != np.float32:
            raise ImageError(f"temporal_repair: the {what} must be float32 HWC with RGB, got {px.dtype} {px.shape}")
        frames.append(px)
    cur, p, n = frames
    if p.shape != cur.shape or n.shape != cur.shape:
        raise ImageError(f"temporal_repair: neighbours {p.shape} / {n.shape} must match the frame's {cur.shape}")
    rgb, prgb, nrgb = cur[..., :3], p[..., :3], n[..., :3]
    lc, lp, ln = _log_luma(rgb), _log_luma(prgb), _log_luma(nrgb)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    fwd = dis.calc(_u8(lp), _u8(ln), None)
    bwd = dis.calc(_u8(ln), _u8(lp), None)
    h, w = lc.shape
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    back = cv2.remap(bwd, gx + fwd[..., 0], gy + fwd[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    reliable = np.hypot(fwd[..., 0] + back[..., 0], fwd[..., 1] + back[..., 1]) < consistency
    half_x, half_y = fwd[..., 0] / 2, fwd[..., 1] / 2
    pw = cv2.remap(prgb, gx - half_x, gy - half_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    nw = cv2.remap(nrgb, gx + half_x, gy + half_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    lpw, lnw = _log_luma(pw), _log_luma(nw)
    trusted = reliable & (np.abs(lpw - lnw) < agree)
    d1, d2 = lc - lpw, lc - lnw
    skipped = _unpredicted(lc, 0.5 * (lpw + lnw), trusted, threshold, max_shift, min_match)
    if skipped:
        return TemporalResult(cur.copy(), np.zeros(lc.shape, bool), skipped)
    mask = trusted & (((d1 > threshold) & (d2 > threshold)) | ((d1 < -threshold) & (d2 < -threshold)))
    if mask.any():  # a speck also stands out from its own neighbourhood
        med = cv2.medianBlur(_u8(lc), 5).astype(np.float32) * ((_LOG_HI - _LOG_LO) / 255.0) + _LOG_LO
        mask &= np.abs(lc - med) > threshold
    if mask.any():
        mask = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & trusted
    out = cur.copy()
    if mask.any():
        out[..., :3][mask] = 0.5 * (pw[mask] + nw[mask])
    return TemporalResult(out, mask)


def _unpredicted(lc: np.ndarray, predicted: np.ndarray, trusted: np.ndarray, threshold: float, max_shift: float,
                 min_match: float) -> str:
    """Why the warped neighbours do not predict frame n as a whole (``""``: they do). ``lc`` and
    ``predicted`` are log2 luminance ``HW`` float32; ``trusted`` the pixels where the flow holds."""
    import cv2

    if not trusted.any():
        return "no pixel where the neighbours' motion holds"
    h, w = lc.shape  # the frame's border is where new picture comes in: measured inside it
    inner = (slice(h // 8, h - h // 8), slice(w // 8, w - w // 8))
    a, b = (np.ascontiguousarray(x[inner], dtype=np.float64) for x in (lc, predicted))
    (dx, dy), _ = cv2.phaseCorrelate(a, b, cv2.createHanningWindow(a.shape[::-1], cv2.CV_64F))
    if np.hypot(dx, dy) > max_shift:
        return f"the neighbours predict this frame shifted by {np.hypot(dx, dy):.2f} px"
    match = float(np.mean(np.abs(lc - predicted)[trusted] < threshold))
    if match < min_match:
        return f"the neighbours predict only {match:.0%} of this frame"
    return ""
