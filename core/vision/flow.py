"""Optical flow between two frames, both ways, with a consistency mask.

Methods (:data:`FLOW_METHODS`):

- ``"dis"``: OpenCV's Dense Inverse Search with the alignment stage's
  preset (:func:`core.align.flow.dis_flow`, ``medium``): fast, a few tenths
  of a pixel;
- ``"refined"``: DIS at full resolution with variational refinement
  (:mod:`core.align.flow`'s ``fine`` preset), then ``iterations`` passes
  that warp the moving image by the flow found so far (bicubic, in float)
  and add the residual flow DIS finds between it and the fixed image. Each
  pass re-quantises the *warped* image, so the 8-bit steps no longer bound
  the precision. About 3x the time of ``fine`` DIS and about half its
  error (benchmarks/vision_bench.py).

Both run on :func:`core.vision.image.log_luma` (log2 luminance, one
fixed mapping for a whole shot). Convention (as :mod:`core.align.flow`):
``fixed(p) ~= moving(p + flow(p))``, ``float32`` ``HW2`` ``(dx, dy)`` in
pixels, ``x`` right, ``y`` down. For frame ``n`` the *forward* flow has
``moving`` = frame ``n+1`` and the *backward* flow ``moving`` = frame
``n-1`` (Nuke's forward/backward motion vectors; :mod:`core.vision.files`
flips ``dy`` into Nuke's y-up ``v``).

Consistency (Sundaram, Brox & Keutzer, ECCV 2010; :func:`core.align.flow.fb_error`):
``1`` where the flow from ``a`` to ``b`` and the flow back from ``b`` at
the target cancel to within ``threshold`` px, ``0`` at occlusions,
disocclusions and mismatches.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from core.align.flow import dis_flow, fb_error, sample
from core.errors import ParameterError
from core.frame import Frame
from core.vision.image import log_luma, name_of, same_size, to_u8, working_pixels

#: ``method`` choices of :func:`optical_flow`.
FLOW_METHODS = ("dis", "refined")
#: DIS preset of ``"dis"``: the alignment stage's default (core.align.params ``flow_preset``).
DIS_PRESET = "medium"


@dataclasses.dataclass(frozen=True)
class FlowPair:
    """The flows between two frames ``a`` and ``b``: ``a_to_b`` (``a(p) ~= b(p + a_to_b(p))``), ``b_to_a``,
    each ``float32`` ``HW2`` px, and ``a_consistent`` / ``b_consistent``: ``float32`` ``HW`` 0/1, where each
    flow agrees with the other one at its target."""

    a_to_b: np.ndarray
    b_to_a: np.ndarray
    a_consistent: np.ndarray
    b_consistent: np.ndarray


def _refined(fixed: np.ndarray, moving: np.ndarray, iterations: int) -> np.ndarray:
    import cv2

    fixed_u8 = to_u8(fixed)
    flow = dis_flow(fixed_u8, to_u8(moving), preset="fine")
    h, w = fixed.shape
    xs = np.arange(w, dtype=np.float32)[None, :]
    ys = np.arange(h, dtype=np.float32)[:, None]
    for _ in range(iterations):
        warped = cv2.remap(moving, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_CUBIC,
                           borderMode=cv2.BORDER_REFLECT)
        step = dis_flow(fixed_u8, to_u8(warped), preset="fine")
        flow = step + sample(flow, xs + step[..., 0], ys + step[..., 1])
    return flow


def flow_codes(fixed: np.ndarray, moving: np.ndarray, *, method: str = "dis", iterations: int = 2) -> np.ndarray:
    """:func:`optical_flow` on two ``float32`` ``HW`` images already in the flow representation
    (:func:`core.vision.image.log_luma` codes)."""
    if method not in FLOW_METHODS:
        raise ParameterError(f"method {method!r}: expected one of {', '.join(FLOW_METHODS)}")
    if iterations < 0:
        raise ParameterError(f"iterations {iterations!r}: must be >= 0")
    if method == "dis":
        return dis_flow(to_u8(fixed), to_u8(moving), preset=DIS_PRESET)
    return _refined(fixed, moving, iterations)


def optical_flow(fixed: Frame | np.ndarray, moving: Frame | np.ndarray, *, method: str = "dis",
                 iterations: int = 2) -> np.ndarray:
    """Dense flow ``fixed(p) ~= moving(p + flow(p))``: ``float32`` ``HW2`` ``(dx, dy)`` px.

    ``fixed``, ``moving``: frames of one size (:func:`core.vision.image.working_pixels`:
    a Frame in any colour space, or ACEScg ``float32`` ``HWC``; 1 or 3 channels). ``method``:
    :data:`FLOW_METHODS`; ``iterations``: the refinement passes of ``"refined"``.
    """
    a = working_pixels(fixed, what="flow")
    b = working_pixels(moving, what="flow")
    same_size(a, b, names=(name_of(fixed), name_of(moving)))
    return flow_codes(log_luma(a), log_luma(b), method=method, iterations=iterations)


def flow_pair(a: np.ndarray, b: np.ndarray, *, method: str = "dis", iterations: int = 2,
              threshold: float = 0.5) -> FlowPair:
    """Both flows between two ``float32`` ``HW`` flow representations (:func:`core.vision.image.log_luma`)
    and where each is consistent
    (forward-backward error at most ``threshold`` px)."""
    if not threshold > 0:
        raise ParameterError(f"threshold {threshold!r}: the consistency threshold must be > 0 px")
    ab = flow_codes(a, b, method=method, iterations=iterations)
    ba = flow_codes(b, a, method=method, iterations=iterations)
    return FlowPair(ab, ba, (fb_error(ab, ba) <= threshold).astype(np.float32),
                    (fb_error(ba, ab) <= threshold).astype(np.float32))


def warp(field: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``field`` (``float32`` ``HW`` or ``HWC``) pulled along ``flow``: ``out(p) = field(p + flow(p))``,
    bilinear, edges replicated; the result has ``field``'s layout."""
    h, w = flow.shape[:2]
    xs = np.arange(w, dtype=np.float32)[None, :] + flow[..., 0]
    ys = np.arange(h, dtype=np.float32)[:, None] + flow[..., 1]
    out = sample(np.ascontiguousarray(field, dtype=np.float32), xs, ys)
    return out.reshape(field.shape)
