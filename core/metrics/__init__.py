"""Image metrics: PSNR, SSIM, ΔE2000 / ΔE OK and temporal flicker, one implementation each.

- :mod:`~core.metrics.image`: a result against its reference on valid
  pixels (ACEScg ``float32`` ``HWC`` in, sRGB-encoded clipped values for
  PSNR and SSIM, Lab D65 for ΔE2000): :func:`psnr`, :func:`ssim`,
  :func:`delta_e`, :func:`frame_metrics`, :class:`ReferenceScorer`; the
  validation stage's numbers.
- :mod:`~core.metrics.structural`: the SSIM map with the window as a
  parameter (:data:`SKIMAGE_WINDOW`, :data:`GAUSSIAN_WINDOW`).
- :mod:`~core.metrics.deltae`: CIEDE2000, ΔE OK (x 100), ΔE76 on Lab /
  OKLab values.
- :mod:`~core.metrics.temporal`: per-frame stats and flicker / variance
  drift in stops.
- :mod:`~core.metrics.pixels`: which pixels count (the mask and finite
  pixels).

Luminance lives in :mod:`core.color.luminance`. Importing this package
costs numpy only; OpenCV, scipy and the colour conversions are imported by
the functions that use them.
"""

from core.metrics.deltae import delta_e_76, delta_e_2000, delta_e_ok
from core.metrics.image import (
    HIGHER_IS_BETTER,
    METRIC_ENCODING,
    METRICS,
    PSNR_CAP,
    ReferenceScorer,
    delta_e,
    encode,
    frame_metrics,
    psnr,
    ssim,
    weighted_psnr,
)
from core.metrics.pixels import valid_mask
from core.metrics.structural import GAUSSIAN_WINDOW, SKIMAGE_WINDOW, Window, ssim_map
from core.metrics.temporal import FLICKER_GRID, flicker, frame_stats

__all__ = [
    "FLICKER_GRID", "GAUSSIAN_WINDOW", "HIGHER_IS_BETTER", "METRICS", "METRIC_ENCODING", "PSNR_CAP",
    "ReferenceScorer", "SKIMAGE_WINDOW", "Window", "delta_e", "delta_e_2000", "delta_e_76", "delta_e_ok", "encode",
    "flicker", "frame_metrics", "frame_stats", "psnr", "ssim", "ssim_map", "valid_mask",
    "weighted_psnr",
]
