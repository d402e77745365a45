"""The robust representation every alignment stage works on.

A degraded scan and its reference differ in colour (dye fade, grade,
flicker), noise (grain, dust) and softness, so raw RGB is a poor thing to
match. Each image becomes one channel that keeps the picture's structure and
drops most of the rest:

1. luminance ``Y`` of the ACEScg pixels (AP1 weights, :data:`core.color.matrices.AP1_LUMINANCE`),
   divided by its mean (a global exposure gain such as flicker cancels);
2. sharpness matching (optional): the relative blur of the two is measured
   from their radial power spectra (:func:`relative_blur`, no correspondence
   needed) and the sharper one is blurred to match;
3. tone matching (optional): the source's luminance is mapped through the
   monotone curve that gives it the reference's histogram (quantile
   matching), which undoes most of a fade or grade without knowing where
   the pixels correspond;
4. a light Gaussian blur (``presmooth`` px) against grain and dust specks;
5. local contrast normalisation: subtract the Gaussian local mean and divide
   by the local standard deviation (``normalize_sigma`` px, floored at
   :data:`CONTRAST_FLOOR` of the mean luminance), which removes fade, grade,
   vignetting and uneven exposure that vary slowly across the frame.

Why linear light and not log luminance: softness (lens, gauge, generation
loss) blurs scene-linear light. After a log, a blurred edge moves towards
its dark side (the log stretches the dark tail of the blur), so bright
objects look larger in the softer image and a scale / shear estimate is
biased: by 0.1-0.2 px on a 512 px photo blurred by 1.5 px, against 0.01-0.02
px in linear light (measured with ECC, affine motion, on the shipped samples).

Why match sharpness first: a softer source against a sharp reference biases
local displacement estimates where the texture is uneven (the residual of a
blur correlates with the gradient), by about 0.2 px for a 2 px blur in the
tests; and a tone curve fitted between a soft and a sharp histogram is an
S-curve that moves soft edges. Matching sharpness, then tone, removes most
of both (0.06 px).

The result ``z`` is ``float32`` ``HW``, dimensionless (about zero mean, unit
local spread, clipped to +-:data:`Z_CLIP`). Residuals in :mod:`core.align`
are in these units.
"""

from __future__ import annotations

import math

import numpy as np

from core.color.luminance import luminance as acescg_luminance

#: Floor of the local standard deviation, relative to the mean luminance: flat areas are not amplified into noise.
CONTRAST_FLOOR = 0.02
#: The representation is clipped to +-Z_CLIP (outliers such as dust specks and scratches saturate).
Z_CLIP = 4.0
#: Frequency band (cycles/px) over which :func:`relative_blur` compares spectra.
BLUR_BAND = (0.03, 0.2)
#: :func:`relative_blur` measures at most this central square (px).
BLUR_CROP = 1024
#: Relative blurs below this (px) are left alone.
BLUR_MIN = 0.3
#: :func:`texture` measures at about this size (px).
TEXTURE_SIZE = 256
#: Quantiles used by tone matching.
TONE_QUANTILES = 1024
#: Entries of the table tone matching looks pixels up in (between the lowest and highest quantile).
TONE_TABLE = 65536


def gaussian(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur (``sigma`` px, reflected borders) of a ``float32`` ``HW`` image; no-op at 0.

    Large kernels run on a reduced copy (area downsampling, then bilinear
    upsampling: both keep pixel centres in place), which is exact enough for
    the slowly varying local statistics they serve.
    """
    import cv2

    if sigma <= 0:
        return img
    factor = int(sigma // 4)
    h, w = img.shape[:2]
    if factor >= 2 and min(h, w) // factor >= 8:
        small = cv2.resize(img, (max(1, round(w / factor)), max(1, round(h / factor))), interpolation=cv2.INTER_AREA)
        s = sigma * math.sqrt(small.shape[1] / w * small.shape[0] / h)
        radius = max(1, int(math.ceil(3.0 * s)))
        small = cv2.GaussianBlur(small, (2 * radius + 1, 2 * radius + 1), s, sigmaY=s,
                                 borderType=cv2.BORDER_REFLECT101)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    radius = max(1, int(math.ceil(3.0 * sigma)))
    return cv2.GaussianBlur(img, (2 * radius + 1, 2 * radius + 1), sigma, sigmaY=sigma,
                            borderType=cv2.BORDER_REFLECT101)


def luminance(pixels: np.ndarray) -> np.ndarray:
    """Luminance ``Y`` (``float32`` ``HW``, >= 0) of ``HWC`` scene-linear ACEScg pixels.

    C = 1: the channel itself; C = 4: alpha is ignored (:func:`core.color.luminance.luminance`).
    Negative values count as 0.
    """
    return np.maximum(acescg_luminance(pixels), 0.0).astype(np.float32, copy=False)


def relative(y: np.ndarray) -> np.ndarray:
    """``y`` divided by its mean (all zeros stay zeros)."""
    mean = float(y.mean(dtype=np.float64))
    return (y / np.float32(mean)).astype(np.float32, copy=False) if mean > 0 else y


def tone_match(y: np.ndarray, target: np.ndarray, *, mask: np.ndarray | None = None,
               target_mask: np.ndarray | None = None) -> np.ndarray:
    """``y`` mapped through the monotone curve that gives it ``target``'s histogram (quantile matching).

    ``mask`` / ``target_mask`` (``bool``, the shape of each): the histograms
    of those pixels only (damage left out, the same part of the picture in
    both); all of ``y`` is mapped. A mask with no pixel counts as none.
    """
    def quantiles(img: np.ndarray, sel: np.ndarray | None) -> np.ndarray:
        step = max(1, int(math.sqrt(img.size / 250_000)))
        vals = img[::step, ::step]
        if sel is not None and sel[::step, ::step].any():
            vals = vals[sel[::step, ::step]]
        vals = np.sort(vals, axis=None)
        return vals[np.rint(np.linspace(0, vals.size - 1, TONE_QUANTILES)).astype(np.int64)].astype(np.float64)

    qy, qt = quantiles(y, mask), quantiles(target, target_mask)
    # flat runs in y's quantiles (many equal values) map to their mean target value
    qy, idx = np.unique(qy, return_inverse=True)
    qt = np.bincount(idx, weights=qt) / np.bincount(idx)
    if qy.size < 2:
        return np.full_like(y, float(qt.mean()))
    # the piecewise-linear curve through the quantiles, tabulated finely and interpolated linearly (np.interp on
    # every pixel searches the quantiles per pixel, in float64: 5x slower); flat outside the quantiles, like np.interp
    lo, hi = float(qy[0]), float(qy[-1])
    table = np.interp(np.linspace(lo, hi, TONE_TABLE), qy, qt).astype(np.float32)
    pos = (y - np.float32(lo)) * np.float32((TONE_TABLE - 1) / (hi - lo))
    np.clip(pos, 0.0, TONE_TABLE - 1, out=pos)
    i = np.minimum(pos.astype(np.int32), TONE_TABLE - 2)
    return table[i] + (pos - i) * np.diff(table)[i]


def radial_power(img: np.ndarray, bins: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """``(frequency, power)``: the Hann-windowed power spectrum of ``img`` averaged in radial bins (cycles/px)."""
    h, w = img.shape
    window = np.hanning(h)[:, None] * np.hanning(w)[None, :]
    p = np.abs(np.fft.rfft2((img - img.mean()) * window)) ** 2
    k = np.sqrt(np.fft.fftfreq(h)[:, None] ** 2 + np.fft.rfftfreq(w)[None, :] ** 2)
    edges = np.linspace(0.0, 0.5, bins + 1)
    idx = np.clip(np.digitize(k, edges) - 1, 0, bins - 1).ravel()
    power = np.bincount(idx, p.ravel(), bins) / np.maximum(np.bincount(idx, None, bins), 1)
    return 0.5 * (edges[1:] + edges[:-1]), power


def relative_blur(a: np.ndarray, b: np.ndarray, *, band: tuple[float, float] = BLUR_BAND) -> float:
    """Signed Gaussian sigma (px) by which ``a`` is softer than ``b`` (negative: ``a`` is sharper).

    Both ``float32`` ``HW``, the same framing and size. For ``a = G_s * b``
    the power ratio is ``exp(-4 pi^2 s^2 k^2)``; a line fitted to the log
    ratio against ``k^2`` over ``band`` (cycles/px, where picture dominates
    grain) gives ``s^2`` (a gain or fade only moves the intercept). Large
    images are measured on a central crop of :data:`BLUR_CROP` px. Measured
    on the shipped samples: 0.9-1.0 for a 1 px blur, 1.5-2.0 for 2 px.
    """
    h, w = a.shape
    y0, x0 = max(0, (h - BLUR_CROP) // 2), max(0, (w - BLUR_CROP) // 2)
    crop = (slice(y0, y0 + BLUR_CROP), slice(x0, x0 + BLUR_CROP))
    k, pa = radial_power(a[crop])
    _, pb = radial_power(b[crop])
    sel = (k >= band[0]) & (k <= band[1]) & (pa > 0) & (pb > 0)
    if np.count_nonzero(sel) < 3:
        return 0.0
    x = k[sel] ** 2
    y = np.log(pa[sel] / pb[sel])
    slope = np.polyfit(x, y, 1)[0]
    d = -slope / (4.0 * math.pi**2)
    return float(math.copysign(math.sqrt(abs(d)), d))


def normalize(y: np.ndarray, *, presmooth: float, normalize_sigma: float,
              weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Steps 4-5 of the module recipe on a relative luminance image (``float32`` ``HW``, mean about 1).

    Returns ``(z, local_std)``: the representation (``float32`` ``HW``,
    clipped to +-:data:`Z_CLIP`) and the local standard deviation of the
    blurred luminance before flooring (relative units), the texture measure.
    ``weight`` (``float32`` ``HW`` in 0..1): the local mean and spread are
    weighted averages (normalised convolution), so that pixels of weight 0
    — damage — do not shift the representation of their neighbours.
    """
    smooth = gaussian(y, presmooth)
    if weight is None:
        mean = gaussian(smooth, normalize_sigma)
        detail = smooth - mean
        var = np.maximum(gaussian(detail * detail, normalize_sigma), 0.0)
    else:
        norm = np.maximum(gaussian(weight, normalize_sigma), np.float32(1e-3))
        mean = gaussian(weight * smooth, normalize_sigma) / norm
        detail = smooth - mean
        var = np.maximum(gaussian(weight * detail * detail, normalize_sigma) / norm, 0.0)
    z = detail / np.sqrt(var + np.float32(CONTRAST_FLOOR**2))
    np.clip(z, -Z_CLIP, Z_CLIP, out=z)
    return z.astype(np.float32, copy=False), np.sqrt(var).astype(np.float32, copy=False)


def texture(y: np.ndarray, *, size: int = TEXTURE_SIZE, threshold: float = 2 * CONTRAST_FLOOR) -> float:
    """Fraction of an image with detail: relative luminance ``y`` (``HW``, mean about 1) reduced by
    ``cv2.pyrDown`` to at most ``size`` px (grain averages out), local standard deviation (Gaussian,
    ``size / 32`` px) above ``threshold``."""
    import cv2

    while max(y.shape) > size and min(y.shape) >= 16:
        y = cv2.pyrDown(y)
    _, std = normalize(y, presmooth=0.0, normalize_sigma=max(2.0, max(y.shape) / 32.0))
    return float(np.count_nonzero(std > threshold)) / std.size


def pyramid(img: np.ndarray, levels: int) -> list[np.ndarray]:
    """``[img, pyrDown(img), ...]`` with ``levels`` entries (level ``l`` coordinates are full ones / 2**l)."""
    import cv2

    out = [img]
    for _ in range(levels - 1):
        out.append(cv2.pyrDown(out[-1]))
    return out


def to_u8(z: np.ndarray) -> np.ndarray:
    """The representation as ``uint8`` (``128 + 31 z``, clipped) for OpenCV's DIS optical flow."""
    return np.clip(np.rint(128.0 + 31.0 * z), 0, 255).astype(np.uint8)
