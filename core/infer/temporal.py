"""Temporal repair: one-frame defects (dust, dirt, dropouts, torn blocks) filled from the neighbouring frames.

A defect that sits on one frame only is what the frames before and after
show best. Every comparison below is made on *log2 luminance of the
sRGB-encoded luminance* (a perceptual scale: a "stop" there means as much
in the shadows as in the highlights; in linear light a codec's noise in a
dark area is several stops and passed for damage: measured on the bikes
pair, clean frames lost up to 4.9 dB). For frame ``n`` with neighbours
``n-1`` and ``n+1``:

1. **Motion without frame n.** Dense optical flow (OpenCV DIS, medium
   preset, on that log2 luminance in 8 bits) from ``n-1`` to ``n+1`` and back. Frame
   ``n`` is never used to estimate motion: its defects would pull the flow.
   A pixel is *reliable* where the two flows agree (forward-backward error
   below ``consistency`` px): occlusions, fast non-rigid motion and the
   frame border are not.
2. **The neighbours at time n.** Each is warped halfway along the flow
   (``n-1`` forward by f/2, ``n+1`` back by f/2: linear motion). Where they
   agree (log2 luminance within ``agree`` stops) they predict frame ``n``.
3. **Defects.** A pixel *differs* where frame ``n`` is brighter (or
   darker) than *both* warped neighbours by more than ``threshold`` stops.
   Where the flow holds and the neighbours agree, two kinds are taken:
   *specks* (dust, dirt: the pixel also stands out from its own 5x5
   median) and *regions* (solid patches, dropout lines, broken blocks:
   groups of at least :data:`REGION_MIN_PX` pixels whose mean difference
   from the nearer neighbour is at least :data:`REGION_STOPS` stops; they
   are flat inside, so the speck test finds only their rims). A region
   takes in up to :data:`REGION_GROW_PX` px of rim that still differs
   (where the flow could not vouch for the motion, a codec's soft edge).
   Every detection must pass a **context check**: on a ring 3-7 px around
   it, frame ``n`` must match the prediction (within :data:`RING_STOPS` on
   all but :data:`RING_MISS` of the ring). A "defect" that is really the
   neighbours misplaced (fast or non-rigid motion) shows on its ring too,
   and is left alone, unless it is flat in frame ``n`` where the
   prediction is not (a solid patch beside moving picture:
   :data:`FLAT_STOPS`). Detections grow by one pixel to take in soft rims.
4. **Repair:** those pixels become the warped neighbours' mean (weighted
   by time when they are not equally far). Every other pixel is returned
   bit for bit.

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

**Further neighbours.** When the nearest pair does not predict the frame
(one of them rolled or mirrored by a tape transfer), the pairs
(n-2, n+1), (n-1, n+2) and (n-2, n+2) are tried in turn, when given
(:data:`NEIGHBOUR_PAIRS`); frame ``n`` then sits 1/3 or 2/3 of the way.

Limits, measured on real clips: a defect repeated at the same place on
the neighbours (tape head-switching noise on every frame) is not one-frame
damage and is not repaired; a band of blocks torn sideways differs from
its neighbours only on its edges and texture and is mostly left, and so is
most of a patch filled with the region's own mean colour; a frame
displaced as a whole (rolled, mirrored) is left to the alignment. On
benchmarks/project_bench.py's bikes pair (JPEG-compressed scan,
digital_tape damage on 13 of 120 frames; ``/tmp``-free figures from
``benchmarks/temporal_bench.py``): see that benchmark's docstring for the
development and test figures. Clean moving frames come back at about
50-60 dB (a few pixels of fast motion pass every test), so the repair is
an option, not the default.

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
    #: The neighbours repaired from, as frame offsets (-1, 1: the nearest pair).
    neighbours: tuple[int, int] = (-1, 1)


def _log_luma(rgb: np.ndarray) -> np.ndarray:
    """log2 of the sRGB-encoded luminance (``HW`` float32): a perceptual scale, on which the thresholds
    in "stops" mean the same in the shadows as in the highlights (in linear light, a codec's noise in a
    dark area is several stops and would pass for damage)."""
    from core.color.curves import srgb_encode_f64
    from core.color.luminance import luminance

    y = srgb_encode_f64(luminance(rgb))
    return np.log2(np.maximum(y, 2.0 ** _LOG_LO)).astype(np.float32)


def _u8(log_luma: np.ndarray) -> np.ndarray:
    scaled = (log_luma - _LOG_LO) * (255.0 / (_LOG_HI - _LOG_LO))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


#: A region defect (patch, dropout line, torn block) is a group of at least this many pixels ...
REGION_MIN_PX = 16
#: ... whose mean difference from the nearer of the two warped neighbours is at least this many stops.
REGION_STOPS = 0.8
#: Up to this many px of a region's rim where frame n still differs from both neighbours (untrusted
#: motion, a patch's soft codec edge) are taken in with it.
REGION_GROW_PX = 6
#: The context check: a ring from ``RING_PX[0]`` to ``RING_PX[1]`` px around a detection, where frame n
#: must match the prediction (within ``RING_STOPS``) on all but ``RING_MISS`` of its pixels.
RING_PX = (3, 7)
RING_STOPS = 0.15
RING_MISS = 0.15
#: The neighbour pairs tried, in order, as frame offsets (before, after): the nearest first; a pair
#: reaching two frames away is used when a nearer neighbour is damaged as a whole.
NEIGHBOUR_PAIRS = ((1, 1), (2, 1), (1, 2), (2, 2))


def temporal_repair(image: np.ndarray, prev: np.ndarray, next: np.ndarray, *, prev2: np.ndarray | None = None,
                    next2: np.ndarray | None = None, threshold: float = 0.4, agree: float = 0.1,
                    consistency: float = 0.5, max_shift: float = 1.0, min_match: float = 0.5) -> TemporalResult:
    """Repair the one-frame defects of ``image`` (frame n) from ``prev`` and ``next`` (frames n-1, n+1).

    ``prev2`` / ``next2`` (frames n-2, n+2, optional): used in place of a
    nearer neighbour when the nearest pair does not predict the frame (one
    of them damaged as a whole), in the order of :data:`NEIGHBOUR_PAIRS`.
    ``threshold`` (stops): how much brighter or darker than both warped
    neighbours a defect is (and a speck than its own 5x5 median);
    ``agree`` (stops): how close the two warped neighbours must be;
    ``consistency`` (px): the largest forward-backward flow error of a
    reliable pixel; ``max_shift`` (px) and ``min_match`` (share of trusted
    pixels): how well the neighbours must predict the frame as a whole
    before anything is repaired. See the module docstring. Deterministic:
    the same frames give the same bytes.
    """
    for name, value in (("threshold", threshold), ("agree", agree), ("consistency", consistency),
                        ("max_shift", max_shift), ("min_match", min_match)):
        if not value > 0:
            raise ParameterError(f"temporal_repair: {name} must be positive, got {value!r}")
    given = {-1: prev, 1: next, -2: prev2, 2: next2}
    frames = {}
    for offset, what in ((0, "frame"), (-1, "previous frame"), (1, "next frame"), (-2, "frame n-2"),
                         (2, "frame n+2")):
        px = image if offset == 0 else given[offset]
        if px is None:
            continue
        px = np.asarray(px)
        if px.ndim != 3 or px.shape[2] < 3 or px.dtype != np.float32:
            raise ImageError(f"temporal_repair: the {what} must be float32 HWC with RGB, got {px.dtype} {px.shape}")
        if offset and px.shape != frames[0].shape:
            raise ImageError(f"temporal_repair: the {what} {px.shape} must match the frame's {frames[0].shape}")
        frames[offset] = px
    cur = frames[0]
    lc = _log_luma(cur[..., :3])
    first = ""
    for before, after in NEIGHBOUR_PAIRS:
        if -before not in frames or after not in frames:
            continue
        result = _repair_from(cur, lc, frames[-before], frames[after], before / (before + after), threshold=threshold,
                              agree=agree, consistency=consistency, max_shift=max_shift, min_match=min_match)
        if not result.skipped:
            return dataclasses.replace(result, neighbours=(-before, after))
        first = first or result.skipped
    return TemporalResult(cur.copy(), np.zeros(lc.shape, bool), first)


def _repair_from(cur: np.ndarray, lc: np.ndarray, p: np.ndarray, n: np.ndarray, t: float, *, threshold: float,
                 agree: float, consistency: float, max_shift: float, min_match: float) -> TemporalResult:
    """Repair ``cur`` (its log2 luminance ``lc``) from ``p`` before it and ``n`` after it; ``t``: where
    frame n sits between them (0.5: halfway; 2/3: two frames after ``p`` and one before ``n``)."""
    import cv2

    prgb, nrgb = p[..., :3], n[..., :3]
    lp, ln = _log_luma(prgb), _log_luma(nrgb)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    fwd = dis.calc(_u8(lp), _u8(ln), None)
    bwd = dis.calc(_u8(ln), _u8(lp), None)
    h, w = lc.shape
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    back = cv2.remap(bwd, gx + fwd[..., 0], gy + fwd[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    reliable = np.hypot(fwd[..., 0] + back[..., 0], fwd[..., 1] + back[..., 1]) < consistency
    # linear motion: frame n is t of the way from p to n; each neighbour is warped to that moment
    pw = cv2.remap(prgb, gx - t * fwd[..., 0], gy - t * fwd[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    nw = cv2.remap(nrgb, gx + (1 - t) * fwd[..., 0], gy + (1 - t) * fwd[..., 1], cv2.INTER_LINEAR,
                   borderMode=cv2.BORDER_REFLECT)
    lpw, lnw = _log_luma(pw), _log_luma(nw)
    trusted = reliable & (np.abs(lpw - lnw) < agree)
    d1, d2 = lc - lpw, lc - lnw
    predicted = (1 - t) * lpw + t * lnw
    skipped = _unpredicted(lc, predicted, trusted, threshold, max_shift, min_match)
    if skipped:
        return TemporalResult(cur.copy(), np.zeros(lc.shape, bool), skipped)
    differs = ((d1 > threshold) & (d2 > threshold)) | ((d1 < -threshold) & (d2 < -threshold))
    cand = trusted & differs
    mask = np.zeros(lc.shape, bool)
    if cand.any():
        err = np.abs(lc - predicted)  # where the prediction holds around a detection, the detection holds
        med = cv2.medianBlur(_u8(lc), 5).astype(np.float32) * ((_LOG_HI - _LOG_LO) / 255.0) + _LOG_LO
        specks = _in_context(cand & (np.abs(lc - med) > threshold), err)  # a speck stands out from its own 5x5
        near = np.minimum(np.abs(d1), np.abs(d2))
        found = _components(cand, REGION_MIN_PX, near, REGION_STOPS)
        region = _in_context(found, err)
        flat = found & ~region  # failed the context check: still a patch if flat where the picture is not
        if region.any() or flat.any():  # take in the rim the flow could not vouch for, then check the context
            region, flat = (_grow(m, differs, REGION_GROW_PX) for m in (region, flat))
            region = _in_context(region, err) | _flat(flat & ~region, lc, predicted)
        specks, region = (cv2.dilate(m.astype(np.uint8), _K3) > 0 for m in (specks, region))  # soft rims
        mask = (specks & trusted) | (region & (trusted | region))
    out = cur.copy()
    if mask.any():
        out[..., :3][mask] = ((1 - t) * pw + t * nw)[mask]
    return TemporalResult(out, mask)


_K3 = np.ones((3, 3), np.uint8)
#: A solid patch is flat: the spread (standard deviation, stops) of frame n inside it is at most this,
#: and at most ``1 / FLAT_CONTRAST`` of the prediction's spread there.
FLAT_STOPS = 0.08
FLAT_CONTRAST = 3.0


def _grow(mask: np.ndarray, within: np.ndarray, px: int) -> np.ndarray:
    import cv2

    for _ in range(px if mask.any() else 0):
        mask = mask | ((cv2.dilate(mask.astype(np.uint8), _K3) > 0) & within)
    return mask


def _groups(mask: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """The 8-connected groups of ``mask``: ``(count, labels HW int32, area (count,) float64)``, label 0 the
    background."""
    import cv2

    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    return count, labels, np.bincount(labels.ravel(), minlength=count).astype(np.float64)


def _group_sum(labels: np.ndarray, count: int, values: np.ndarray) -> np.ndarray:
    """Per label of ``labels`` (``count`` labels), the sum of ``values`` (same shape) over its pixels."""
    return np.bincount(labels.ravel(), weights=np.asarray(values, np.float64).ravel(), minlength=count)


def _flat(mask: np.ndarray, lc: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """The groups of ``mask`` that are flat in frame n (``lc``) where the prediction is not: a solid patch."""
    if not mask.any():
        return mask
    count, labels, area = _groups(mask)
    area = np.maximum(area, 1)

    def spread(x):
        m = _group_sum(labels, count, x) / area
        m2 = _group_sum(labels, count, x.astype(np.float64) ** 2) / area
        return np.sqrt(np.maximum(m2 - m * m, 0.0))

    own, pred = spread(lc), spread(predicted)
    keep = (own <= FLAT_STOPS) & (pred >= FLAT_CONTRAST * own) & (area >= REGION_MIN_PX)
    keep[0] = False
    return keep[labels]


def _components(mask: np.ndarray, min_px: int, strength: np.ndarray, min_strength: float) -> np.ndarray:
    """The 8-connected groups of ``mask`` with at least ``min_px`` pixels and a mean ``strength`` of at
    least ``min_strength``."""
    count, labels, area = _groups(mask)
    mean = _group_sum(labels, count, strength) / np.maximum(area, 1)
    keep = (area >= min_px) & (mean >= min_strength)
    keep[0] = False
    return keep[labels]


def _in_context(mask: np.ndarray, err: np.ndarray) -> np.ndarray:
    """The groups of ``mask`` whose surroundings (a ring :data:`RING_PX` px out) frame n and the
    prediction agree on (``err``, stops: within :data:`RING_STOPS` on all but :data:`RING_MISS` of the
    ring). Where the warped neighbours are misplaced (fast or non-rigid motion) the ring shows it, and
    the group is left alone."""
    import cv2

    if not mask.any():
        return mask
    count, labels, _ = _groups(mask)
    r_in, r_out = RING_PX
    spread = cv2.dilate(labels.astype(np.float32), np.ones((2 * r_out + 1,) * 2, np.uint8)).astype(np.int64)
    near = cv2.dilate(mask.astype(np.uint8), np.ones((2 * r_in + 1,) * 2, np.uint8)) > 0
    ring = (spread > 0) & ~near
    total = _group_sum(spread[ring], count, np.ones(int(ring.sum())))
    missed = _group_sum(spread[ring], count, err[ring] > RING_STOPS)
    keep = missed <= RING_MISS * np.maximum(total, 1)
    keep[0] = False
    return keep[labels]


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
