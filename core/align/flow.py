"""Dense optical flow: DIS both ways, and the forward-backward consistency check.

After the global transform, what is left between the source and the
reference is local: gate weave that bends the frame, lens distortion that
differs between transfers, shrinkage of the film. OpenCV's Dense Inverse
Search flow (Kroeger et al., "Fast optical flow using dense inverse search",
ECCV 2016; ``cv2.DISOpticalFlow``) finds it per pixel; it takes 8-bit
images, so the robust representation is quantised
(:func:`core.align.represent.to_u8`). Per pixel it is good to a few tenths
of a pixel on degraded film, so :mod:`core.align` uses it to start and to
check, not as the answer: the smooth field of :mod:`core.align.spline`
fitted to it and refined on the images is an order of magnitude more
precise.

Presets (:data:`FLOW_PRESETS`): OpenCV's ``ultrafast``, ``fast`` and
``medium``, and ``fine`` — ``medium`` carried down to the finest scale (full
resolution instead of half) with a denser patch grid and more variational
refinement.

Consistency: the flow is computed both ways; a pixel whose forward flow
and the backward flow at its target do not cancel to within a threshold is
an occlusion, a disocclusion or a mismatch (Sundaram, Brox & Keutzer, ECCV
2010): content one image has and the other has not (a burned-in title, a
tear, a patch), and flat areas where nothing can be matched. Its flow does
not start the smooth field.

Flow convention: ``fixed(p) ~= moving(p + flow(p))``, ``flow`` ``float32``
``HW2`` ``(dx, dy)`` in pixels of the level it was computed at.
"""

from __future__ import annotations

import numpy as np

FLOW_PRESETS = ("ultrafast", "fast", "medium", "fine")


def _dis(preset: str):
    import cv2

    base = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
            "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, "fine": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}[preset]
    dis = cv2.DISOpticalFlow.create(base)
    if preset == "fine":
        dis.setFinestScale(0)
        dis.setPatchStride(2)
        dis.setVariationalRefinementIterations(10)
    return dis


def dis_flow(fixed_u8: np.ndarray, moving_u8: np.ndarray, *, preset: str) -> np.ndarray:
    """DIS flow ``fixed(p) ~= moving(p + flow(p))`` between two ``uint8`` ``HW`` images of one size."""
    return _dis(preset).calc(fixed_u8, moving_u8, None)


def sample(field: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear lookup of an ``HWC`` ``float32`` field at coordinates ``x``, ``y`` (edges replicated)."""
    import cv2

    return cv2.remap(field, x.astype(np.float32), y.astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def fb_error(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """``|forward(p) + backward(p + forward(p))|`` (px, ``float32`` ``HW``): 0 where the two flows agree."""
    h, w = forward.shape[:2]
    xs = np.arange(w, dtype=np.float32)[None, :]
    ys = np.arange(h, dtype=np.float32)[:, None]
    back = sample(backward, xs + forward[..., 0], ys + forward[..., 1])
    return np.hypot(forward[..., 0] + back[..., 0], forward[..., 1] + back[..., 1])


def upsample(field: np.ndarray, level: int, hw: tuple[int, int]) -> np.ndarray:
    """A field of pyramid level ``level`` (coordinates ``full / 2**level``) resampled to full size ``hw``.

    Bilinear, edges replicated; values are not rescaled (scale flows yourself).
    """
    import cv2

    if level == 0:
        return field
    s = 0.5**level
    m = np.array([[s, 0.0, 0.0], [0.0, s, 0.0]], np.float64)
    return cv2.warpAffine(field, m, (hw[1], hw[0]), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)
