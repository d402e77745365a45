"""Shared pieces of the film damage model: the film/scan conventions, blur and
correlated noise.

Conventions used by every effect (stated once here, repeated in docstrings):

- Pixels are ``float32`` ``HW3`` scene-linear ACEScg (alpha is split off
  before the effects run). Values are >= 0; effects keep them >= 0.
- An effect's ``apply(rgb, ...)`` gets the model's own working array and may
  write its result into it (returning ``rgb``): no frame-sized copy per
  effect, so a frame degrades in about twice its size.
- The degraded frame is treated as the scan of a film print: a linear value
  ``v`` is the print's transmittance relative to clear base, so ``v = 1.0``
  (:data:`BASE_WHITE`) is clear film and print density is about ``-log10(v)``.
- Sizes are in pixels of the working resolution.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

#: Scene-linear value of clear film base (print transmittance 1.0): what a
#: speck of dust on the negative or an emulsion scratch on the print shows.
BASE_WHITE = 1.0


class EffectOutput(NamedTuple):
    """What one effect returns: its pixels (often the input array, written in place), a JSON-friendly record,
    an optional damage mask."""

    pixels: np.ndarray
    record: dict[str, Any]
    mask: np.ndarray | None = None


#: Values per strip of rows when an effect works a strip at a time (1M: a few MiB of temporaries).
STRIP_VALUES = 1 << 20


def row_strips(img: np.ndarray) -> range:
    """Starts of the strips of rows of ``img`` (``HW`` or ``HWC``) holding about :data:`STRIP_VALUES` values each;
    a strip is ``img[y:y + strip_rows(img)]``. Per-pixel work done strip by strip gives the same values as on
    the whole frame, with temporaries of a strip's size instead of the frame's."""
    return range(0, img.shape[0], strip_rows(img))


def strip_rows(img: np.ndarray) -> int:
    """Rows per strip of :func:`row_strips`."""
    return max(1, STRIP_VALUES // max(1, img[0].size))


def composite(rgb: np.ndarray, dark: np.ndarray, bright: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
    """Damage over the frame: ``dark`` opacity blocks light, then ``bright`` opacity reveals clear base
    (:data:`BASE_WHITE`). ``rgb``: ``float32`` ``HW3``; masks ``float32`` ``HW`` in 0..1; returns ``out``
    (a new ``float32`` ``HW3`` array when ``None``; may be ``rgb`` itself), made a strip of rows at a time."""
    out = np.empty(rgb.shape, np.float32) if out is None else out
    rows = strip_rows(rgb)
    for y in range(0, rgb.shape[0], rows):
        s = slice(y, y + rows)
        dimmed = rgb[s] * (1.0 - dark[s])[..., None]
        b = bright[s][..., None]
        out[s] = dimmed * (1.0 - b) + np.float32(BASE_WHITE) * b
    return out


def gaussian_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with standard deviation ``sigma`` px (reflected borders); no-op at 0."""
    if sigma <= 0:
        return img
    import cv2

    radius = max(1, int(math.ceil(3.5 * sigma)))
    return cv2.GaussianBlur(img, (2 * radius + 1, 2 * radius + 1), sigma, sigmaY=sigma,
                            borderType=cv2.BORDER_REFLECT101)


def disk_kernel(radius: float, *, supersample: int = 8) -> np.ndarray:
    """Normalised defocus (pillbox) kernel of ``radius`` px with an area-weighted, anti-aliased edge."""
    half = int(math.ceil(radius)) + 1
    n = 2 * half + 1
    ss = supersample
    coords = (np.arange(n * ss, dtype=np.float64) + 0.5) / ss - half - 0.5
    yy, xx = np.meshgrid(coords, coords, indexing="ij")
    inside = (xx * xx + yy * yy <= radius * radius).astype(np.float64)
    kernel = inside.reshape(n, ss, n, ss).mean(axis=(1, 3))
    if kernel.sum() <= 0:  # radius far below a pixel: a delta
        kernel[half, half] = 1.0
    return (kernel / kernel.sum()).astype(np.float32)


def defocus_blur(img: np.ndarray, radius: float) -> np.ndarray:
    """Convolve with :func:`disk_kernel` (a lens out of focus); no-op at 0."""
    if radius <= 0:
        return img
    import cv2

    return cv2.filter2D(img, -1, disk_kernel(radius), borderType=cv2.BORDER_REFLECT101)


def correlated_noise(rng: np.random.Generator, height: int, width: int, sigma: float) -> np.ndarray:
    """Stationary Gaussian noise, unit variance, autocorrelation ``exp(-r^2 / (4 sigma^2))``.

    White noise filtered by a Gaussian of standard deviation ``sigma`` px and
    divided by the filter's exact noise gain; generated with a margin so the
    borders are as random as the middle. Returns ``float32`` ``(height, width)``.
    """
    import cv2

    if sigma < 0.2:
        return rng.standard_normal((height, width), dtype=np.float32)
    radius = max(1, int(math.ceil(3.5 * sigma)))
    white = rng.standard_normal((height + 2 * radius, width + 2 * radius), dtype=np.float32)
    k = cv2.getGaussianKernel(2 * radius + 1, sigma, cv2.CV_64F)
    gain = float(np.sum(k * k))  # std of the separable filter's output for unit white noise
    out = cv2.sepFilter2D(white, cv2.CV_32F, k, k, borderType=cv2.BORDER_REFLECT101)
    del white
    out *= np.float32(1.0 / gain)  # in place (margins too: cheaper than a copy of the frame)
    return out[radius:radius + height, radius:radius + width]
