"""Structural similarity (SSIM) maps, with the window as a parameter.

Wang, Bovik, Sheikh & Simoncelli, "Image quality assessment: from error
visibility to structural similarity", IEEE TIP 13(4), 2004: per pixel,
``((2 ux uy + C1)(2 vxy + C2)) / ((ux² + uy² + C1)(vx + vy + C2))`` with
``C1 = (K1 L)²``, ``C2 = (K2 L)²``, ``L`` the data range, ``K1 = 0.01``,
``K2 = 0.03``, and the means, variances and covariance taken over a local
:class:`Window`. Two windows are in use:

:data:`SKIMAGE_WINDOW`
    ``skimage.metrics.structural_similarity``'s default: a 7x7 uniform
    window, mirrored borders (``scipy.ndimage`` ``"reflect"``, OpenCV
    ``BORDER_REFLECT``), sample covariance (``N / (N - 1)``), float64. The
    validation stage's SSIM (:func:`core.metrics.image.ssim`); tested against
    scikit-image.
:data:`GAUSSIAN_WINDOW`
    The paper's: an 11x11 Gaussian, sigma 1.5, OpenCV's default border
    (``BORDER_REFLECT_101``), population covariance, float32. The dataset
    builder's near-duplicate test on 8-bit grey thumbnails
    (:mod:`core.dataset.dedup`).

Images are ``HWC`` (or ``HW``, one channel) arrays of any real dtype, in
any colour space and encoding the caller chose (the map compares the
numbers as they are), values on a scale whose range is ``data_range``. The
map is ``HW`` in the window's dtype, the mean over the channels; every step
after the window means runs in slices of :data:`CHUNK` pixels (the same
values as in one pass, bit for bit).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from core.errors import ParameterError

#: Pixels per slice of the per-pixel steps: the temporaries then stay in the CPU cache.
CHUNK = 32768
K1, K2 = 0.01, 0.03


@dataclasses.dataclass(frozen=True)
class Window:
    """The local window of SSIM's statistics.

    ``kind``: ``"uniform"`` (mirrored borders, ``BORDER_REFLECT``) or
    ``"gaussian"`` (``sigma``; OpenCV's default border, ``BORDER_REFLECT_101``);
    ``size``: its side in pixels (odd); ``sample_covariance``: scale
    variances and covariance by ``N / (N - 1)`` (``N = size²``);
    ``dtype``: the precision of every step (``float64`` or ``float32``).
    """

    kind: str
    size: int
    sigma: float = 0.0
    sample_covariance: bool = True
    dtype: type = np.float64

    def __post_init__(self):
        if self.kind not in ("uniform", "gaussian"):
            raise ParameterError(f"SSIM window {self.kind!r}: expected 'uniform' or 'gaussian'")
        if self.size < 1 or self.size % 2 == 0:
            raise ParameterError(f"SSIM window size {self.size}: must be odd and positive")

    def mean(self, x: np.ndarray) -> np.ndarray:
        """The window's weighted mean around every pixel of ``x`` (``HW``, :attr:`dtype`)."""
        import cv2

        if self.kind == "uniform":
            ddepth = cv2.CV_64F if self.dtype == np.float64 else cv2.CV_32F
            return cv2.boxFilter(x, ddepth, (self.size, self.size), normalize=True, borderType=cv2.BORDER_REFLECT)
        return cv2.GaussianBlur(x, (self.size, self.size), self.sigma)


SKIMAGE_WINDOW = Window("uniform", 7)
GAUSSIAN_WINDOW = Window("gaussian", 11, sigma=1.5, sample_covariance=False, dtype=np.float32)


def moments(img: np.ndarray, window: Window = SKIMAGE_WINDOW) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per channel ``(x, mean, mean of squares)`` over ``window``: what SSIM needs of one image.

    ``img``: ``HWC`` or ``HW``; computed once, it can be compared with many
    images (:func:`ssim_map_of_moments`).
    """
    arr = np.asarray(img)
    channels = [arr] if arr.ndim == 2 else [arr[..., ch] for ch in range(arr.shape[-1])]
    out = []
    for c in channels:
        x = np.ascontiguousarray(c, dtype=window.dtype)
        out.append((x, window.mean(x), window.mean(x * x)))
    return out


def ssim_map_of_moments(ma, mb, window: Window = SKIMAGE_WINDOW, *, data_range: float = 1.0) -> np.ndarray:
    """The SSIM map ``HW`` (mean over channels) from both images' :func:`moments` over the same ``window``."""
    n = window.size * window.size
    cov_norm = n / (n - 1.0)
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    shape = ma[0][0].shape
    out = np.zeros(shape[0] * shape[1], window.dtype)
    for (x, ux, uxx), (y, uy, uyy) in zip(ma, mb):
        flat = [v.reshape(-1) for v in (ux, uxx, uy, uyy, window.mean(x * y))]
        for i in range(0, out.size, CHUNK):
            ux_, uxx_, uy_, uyy_, uxy_ = (v[i:i + CHUNK] for v in flat)
            vx, vy, vxy = uxx_ - ux_ * ux_, uyy_ - uy_ * uy_, uxy_ - ux_ * uy_
            if window.sample_covariance:
                vx, vy, vxy = cov_norm * vx, cov_norm * vy, cov_norm * vxy
            num = (2 * ux_ * uy_ + c1) * (2 * vxy + c2)
            den = (ux_ * ux_ + uy_ * uy_ + c1) * (vx + vy + c2)
            out[i:i + CHUNK] += num / den
    return (out / len(ma)).reshape(shape)


def ssim_map(a: np.ndarray, b: np.ndarray, window: Window = SKIMAGE_WINDOW, *, data_range: float = 1.0) -> np.ndarray:
    """The SSIM map ``HW`` (mean over channels) of two images of one shape (``HWC`` or ``HW``).

    With the defaults it is scikit-image's map of two ``HW3`` images in
    0..1 (``structural_similarity(..., channel_axis=-1, data_range=1.0,
    full=True)``, before its border crop).
    """
    return ssim_map_of_moments(moments(a, window), moments(b, window), window, data_range=data_range)
