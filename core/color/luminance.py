"""Luminance: one weighted sum of R, G and B, the weights naming the colour space.

:func:`luminance` is ``w_r R + w_g G + w_b B`` in ``float32`` (weights
rounded to float32, each product and sum rounded in turn, so every caller
gets the same bits on any machine). The weights say what the result is:

- :data:`~core.color.matrices.AP1_LUMINANCE` (default) on scene-linear
  ACEScg: relative luminance Y (the middle row of AP1's RGB -> XYZ, ACES
  white); the validation metrics, the aligner, the one-frame defect
  detectors.
- :data:`~core.color.matrices.REC709_LUMINANCE` on sRGB-encoded values:
  display luma Y' (ITU-R BT.709 weights); the palette's gradient check and
  the dataset's grey images (8-bit values as float32).

:func:`acescg_log2_luminance` is the log2 of the first, with a toe.
"""

from __future__ import annotations

import numpy as np

from core.color.matrices import AP1_LUMINANCE


def luminance(rgb: np.ndarray, weights=AP1_LUMINANCE) -> np.ndarray:
    """``(...)`` ``float32`` weighted sum of the first three channels of ``rgb`` (``(..., C)``, C >= 3).

    C = 1: the channel itself; C = 4: alpha is ignored. ``rgb``: any real
    dtype on any scale (the result is on the same scale); float32 inputs
    keep float32 arithmetic. No clipping: negative and non-finite values
    pass through.

    >>> round(float(luminance(np.array([0.18, 0.18, 0.18], np.float32))), 6)
    0.18
    """
    arr = np.asarray(rgb)
    if arr.shape[-1] == 1:
        return arr[..., 0].astype(np.float32, copy=False)
    w = np.asarray(weights, np.float32)
    return (w[0] * arr[..., 0] + w[1] * arr[..., 1] + w[2] * arr[..., 2]).astype(np.float32, copy=False)


def acescg_log2_luminance(rgb: np.ndarray, toe: float) -> np.ndarray:
    """``log2(max(Y, 0) + toe)`` of the ACEScg luminance of ``rgb`` (``float32`` ``HW3``, scene-linear):
    stops, with a toe near black so dark noise is compressed, not blown up. ``HW`` ``float32``.

    Y uses :data:`core.color.matrices.AP1_LUMINANCE`; the detectors of one-frame defects (dust busting,
    temporal repair) work on it, so their thresholds are in stops from the darks to the highlights.
    """
    return np.log2(np.maximum(luminance(rgb), 0.0) + toe).astype(np.float32)
