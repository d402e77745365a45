"""Phase correlation: the translation between two images, and their scale and rotation (Fourier-Mellin).

Translation: both images (``float32`` ``HW``, the same size) are windowed
(Hann), transformed, and their normalised cross-power spectrum
``R = F_m conj(F_f) / |F_m conj(F_f)|`` is band-limited by a Gaussian
(``lowpass``, in cycles per pixel), which turns the correlation peak into a
smooth bump whose maximum is unbiased. The integer peak of ``IFFT(R)`` is
refined by evaluating the correlation surface on finer and finer grids with
a matrix-multiply DFT around the peak (Guizar-Sicairos, Thurman & Fienup,
"Efficient subpixel image registration algorithms", Opt. Lett. 33, 2008),
then a parabola through the finest 3x3. ``cv2.phaseCorrelate`` instead takes
a 5x5 weighted centroid of the raw, sharp peak, which is biased by up to a
few tenths of a pixel on sharp images.

Confidence is the peak-to-sidelobe ratio (PSR): the peak's height above the
mean of the correlation surface, in standard deviations of the surface away
from the peak. Unrelated images give a PSR near the largest of many Gaussian
samples (about 5); matching pictures give tens to hundreds.

Scale and rotation: the Hann-windowed, high-pass-emphasised log magnitude
spectra of both images are resampled to log-polar coordinates, where a
scale is a shift along log-radius and a rotation a shift along the angle;
phase correlation of the two finds both (Reddy & Chatterji, IEEE TIP 5(8),
1996). The magnitude spectrum is symmetric, so rotations are found modulo
180 degrees: the one nearest zero is returned.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

#: Default band limit of the cross-power spectrum (cycles/px, Gaussian sigma).
DEFAULT_LOWPASS = 0.2


@dataclasses.dataclass(frozen=True)
class PhaseResult:
    """``shift`` ``(dx, dy)`` px with ``moving(p + shift) ~= fixed(p)``; ``psr`` the peak-to-sidelobe ratio."""

    shift: tuple[float, float]
    psr: float


def _hann2d(h: int, w: int) -> np.ndarray:
    wy = np.hanning(h).astype(np.float32) if h > 1 else np.ones(1, np.float32)
    wx = np.hanning(w).astype(np.float32) if w > 1 else np.ones(1, np.float32)
    return wy[:, None] * wx[None, :]


def _spectrum(img: np.ndarray, window: np.ndarray) -> np.ndarray:
    x = img.astype(np.float32, copy=False)
    x = (x - np.float32(x.mean())) * window
    return np.fft.fft2(x)


def _dft_region(r: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Real part of the inverse DFT of ``r`` (full ``HxW`` spectrum) at arbitrary positions ``ys`` x ``xs``."""
    h, w = r.shape
    ky = np.fft.fftfreq(h)
    kx = np.fft.fftfreq(w)
    ey = np.exp(2j * np.pi * np.outer(ys, ky))  # (ny, H)
    ex = np.exp(2j * np.pi * np.outer(kx, xs))  # (W, nx)
    return (ey @ (r @ ex)).real / (h * w)


def _parabola(c: np.ndarray) -> tuple[float, float]:
    """Sub-sample offset of the maximum of a 3x3 patch (centre = max), by separable parabolas."""
    def one(a: float, b: float, d: float) -> float:
        den = a - 2.0 * b + d
        return 0.0 if den >= 0 else float(np.clip(0.5 * (a - d) / den, -0.5, 0.5))

    return one(c[1, 0], c[1, 1], c[1, 2]), one(c[0, 1], c[1, 1], c[2, 1])


def cross_power(fixed: np.ndarray, moving: np.ndarray, *, lowpass: float = DEFAULT_LOWPASS) -> np.ndarray:
    """The band-limited normalised cross-power spectrum ``R`` of two same-size ``HW`` images."""
    window = _hann2d(*fixed.shape)
    ff = _spectrum(fixed, window)
    fm = _spectrum(moving, window)
    r = fm * np.conj(ff)
    mag = np.abs(r)
    r /= np.maximum(mag, 1e-12 * float(mag.max()) + 1e-30)
    h, w = fixed.shape
    ky = np.fft.fftfreq(h)[:, None]
    kx = np.fft.fftfreq(w)[None, :]
    r *= np.exp(-0.5 * (ky * ky + kx * kx) / (lowpass * lowpass))
    return r


def phase_correlate(fixed: np.ndarray, moving: np.ndarray, *, lowpass: float = DEFAULT_LOWPASS,
                    max_shift: float | None = None) -> PhaseResult:
    """Translation of ``moving`` relative to ``fixed`` (``float32`` ``HW``, same size), sub-pixel.

    Returns ``shift = (dx, dy)`` with ``moving(x + dx, y + dy) ~= fixed(x, y)``
    (so the source -> reference transform is a translation by ``shift`` when
    ``fixed`` is the source). ``max_shift`` (px) limits the search to shifts
    up to that size. Precision is about 0.01 px on textured images.
    """
    h, w = fixed.shape
    r = cross_power(fixed, moving, lowpass=lowpass)
    surface = np.fft.ifft2(r).real
    if max_shift is not None:
        dy = np.minimum(np.arange(h), h - np.arange(h))[:, None]
        dx = np.minimum(np.arange(w), w - np.arange(w))[None, :]
        far = (dy > max_shift) | (dx > max_shift)
        search = np.where(far, -np.inf, surface)
    else:
        search = surface
    iy, ix = np.unravel_index(int(np.argmax(search)), surface.shape)
    peak = float(surface[iy, ix])
    # peak-to-sidelobe ratio, the peak's neighbourhood (the band-limited bump) excluded
    rad = max(2, int(math.ceil(3.0 / (2 * math.pi * lowpass))) + 1)
    side = np.roll(np.roll(surface, -iy + rad, axis=0), -ix + rad, axis=1)
    keep = np.ones_like(side, dtype=bool)
    keep[:2 * rad + 1, :2 * rad + 1] = False
    sl = side[keep]
    psr = (peak - float(sl.mean())) / max(float(sl.std()), 1e-30)
    y0 = iy - h if iy > h // 2 else iy
    x0 = ix - w if ix > w // 2 else ix
    # zoom in: 1/8 px over +-1.5 px, then 1/64 px over +-1/8 px, then a parabola
    cy, cx = float(y0), float(x0)
    for step, half in ((1.0 / 8.0, 12), (1.0 / 64.0, 8)):
        offs = np.arange(-half, half + 1) * step
        region = _dft_region(r, cy + offs, cx + offs)
        jy, jx = np.unravel_index(int(np.argmax(region)), region.shape)
        jy = min(max(jy, 1), region.shape[0] - 2)
        jx = min(max(jx, 1), region.shape[1] - 2)
        ox, oy = _parabola(region[jy - 1:jy + 2, jx - 1:jx + 2])
        cy, cx = cy + offs[jy] + oy * step, cx + offs[jx] + ox * step
    return PhaseResult((float(cx), float(cy)), float(psr))


def _log_magnitude(img: np.ndarray) -> np.ndarray:
    """Centred log magnitude spectrum with a high-pass emphasis (low frequencies carry no scale cue)."""
    window = _hann2d(*img.shape)
    spec = np.fft.fftshift(np.abs(_spectrum(img, window)))
    h, w = img.shape
    ky = np.fft.fftshift(np.fft.fftfreq(h))[:, None]
    kx = np.fft.fftshift(np.fft.fftfreq(w))[None, :]
    c = np.cos(np.pi * ky) * np.cos(np.pi * kx)
    emphasis = (1.0 - c) * (2.0 - c)  # Reddy & Chatterji's high-pass
    return (np.log1p(spec) * emphasis).astype(np.float32)


def scale_rotation(fixed: np.ndarray, moving: np.ndarray, *, lowpass: float = DEFAULT_LOWPASS,
                   size: int = 256) -> tuple[float, float, float]:
    """Scale and rotation of ``moving`` relative to ``fixed`` (``HW``, same size), about the frame centre.

    Returns ``(scale, angle_deg, psr)`` with ``moving(c + scale R(angle) (p - c)) ~= fixed(p)``
    (``R`` positive counter-clockwise on screen, :func:`core.align.geometry.similarity_about`),
    for scales in about 1/3..3 and angles in -90..90 degrees. Precision is about
    1 % and 0.3 degree: enough to start ECC from.
    """
    import cv2

    n = min(size, min(fixed.shape))
    a = cv2.resize(fixed, (n, n), interpolation=cv2.INTER_AREA)
    b = cv2.resize(moving, (n, n), interpolation=cv2.INTER_AREA)
    ma, mb = _log_magnitude(a), _log_magnitude(b)
    center = (n / 2.0, n / 2.0)
    max_radius = n / 2.0
    n_angle, n_radius = 2 * n, n
    flags = cv2.INTER_LINEAR | cv2.WARP_FILL_OUTLIERS | cv2.WARP_POLAR_LOG
    pa = cv2.warpPolar(ma, (n_radius, n_angle), center, max_radius, flags)
    pb = cv2.warpPolar(mb, (n_radius, n_angle), center, max_radius, flags)
    # only the upper half of the angles (the spectrum is symmetric) and radii above the lowest few
    res = phase_correlate(pa, pb, lowpass=lowpass)
    d_rho, d_angle = res.shift
    # a pattern scaled by s in space is scaled by 1/s in frequency: moving's spectrum radius = fixed's / s
    log_base = math.log(max_radius) / n_radius
    scale = math.exp(-d_rho * log_base)
    # warpPolar's angle axis runs the other way round from similarity_about's positive angles
    angle = -d_angle * 360.0 / n_angle
    angle = (angle + 90.0) % 180.0 - 90.0
    return scale, angle, res.psr
