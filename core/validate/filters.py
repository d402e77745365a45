"""Classic spatial and temporal filters: the restoration baselines the ML result must beat.

``dust_bust``
    Median dust busting with a motion-aware mask. Detection works on log2
    luminance (ACEScg Y, ``log2(Y + 2^-8)``): thresholds are in stops and
    mean the same from dark greys to highlights, while near-black detail is
    compressed rather than blown up.

    1. Frames n-1 and n+1 are shifted onto frame n by the global
       translation phase correlation finds (a pan or tilt; whole pixels, so
       no interpolation softens them); ``compensate=False`` skips it.
    2. A pixel is an *outlier* when it is brighter (or darker) by more than
       ``threshold`` stops than *every* pixel within ``search`` pixels of it
       in frame n-1 and in frame n+1 (dust and dirt are on one frame only;
       picture content is found again nearby in the neighbours), and differs
       from the median of its ``speck_size`` square in frame n by more than
       ``threshold``. Local motion beyond ``search`` pixels is not
       compensated. Without neighbours only the spatial test runs (it also
       catches fine bright or dark texture: raise ``threshold``).
    3. The outliers, grown by ``grow`` pixels to take in a speck's soft rim,
       are repaired with the *temporal median* of frames n-1, n, n+1 (per
       channel, shifted) where those agree (|n+1 − n−1| below ``motion``
       stops over the whole ``speck_size`` neighbourhood: no motion there),
       with the *spatial median* (``speck_size`` square, per channel)
       elsewhere. No other pixel changes (bit for bit).
``denoise_nlm`` / ``denoise_bilateral``
    OpenCV's non-local means (``cv2.fastNlMeansDenoising``, all channels
    in one patch distance, ``NORM_L1`` on 16-bit) and bilateral filter
    (``cv2.bilateralFilter`` on float32). Scene-linear is carried in and
    out through the log shaper of :mod:`core.validate.shaper` (``hi`` from
    the image, a power of two ≥ its 99.99th percentile): ``u`` in 0..1,
    ×65535 and rounded for NLM (16-bit steps are 1/6500 stop at most),
    float32 for the bilateral filter, then back through the analytic
    inverse. ``strength`` (NLM) and ``sigma_color`` (bilateral) are in
    shaper units (1.0 = the whole 0..hi range, about 10 stops). Pixels
    below 0 or above ``hi`` are passed through unchanged.
``unsharp``
    Unsharp mask in the same shaper domain: ``u + amount * (u - gauss(u, sigma))``.

Images: ACEScg (AP1, scene-linear) ``float32`` ``HWC``, C 3 or 4 (alpha
passes through unchanged); the result has the input's shape and dtype
``float32``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from core.errors import ImageError, ParameterError
from core.validate.shaper import Shaper, shaper_max

#: Toe of the log luminance dust detection works in: log2(Y + toe). Differences in stops above ~2^-8
#: (a dark grey), compressed below (near-black detail and interpolation ripples are not dust).
_DUST_TOE = 2.0 ** -8


def _image(image, name: str = "image") -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[-1] not in (3, 4):
        raise ImageError(f"{name}: expected HWC with 3 or 4 channels, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ImageError(f"{name}: has NaN/Inf pixels")
    return arr.astype(np.float32, copy=False)


def _log_luma(rgb: np.ndarray) -> np.ndarray:
    """``log2(max(Y, 0) + toe)`` of ACEScg luminance (``HW`` float32): stops, with a toe near black."""
    from core.color.luminance import acescg_log2_luminance

    return acescg_log2_luminance(rgb, _DUST_TOE)


# --------------------------------------------------------------------------- dust busting


@dataclasses.dataclass(frozen=True)
class DustResult:
    """``image``: the repaired frame; ``mask``: ``HW`` bool, pixels replaced; ``temporal``: of those, repaired
    from the temporal median (the rest from the spatial median); ``shifts``: the ``(dx, dy)`` that moved
    frames n-1 and n+1 onto frame n (empty without neighbours or compensation)."""

    image: np.ndarray
    mask: np.ndarray
    temporal: np.ndarray
    shifts: tuple = ()

    @property
    def n_fixed(self) -> int:
        return int(self.mask.sum())


def dust_bust(image, prev=None, next=None, *, threshold: float = 0.5, motion: float = 0.25,
              speck_size: int = 11, search: int = 1, grow: int = 1, compensate: bool = True) -> DustResult:
    """Find and repair dust on ``image`` (frame n) using ``prev``/``next`` (frames n-1, n+1) where given.

    ``threshold``: stops an outlier differs by; ``motion``: stops of
    disagreement between n-1 and n+1 that count as motion; ``search``: the
    local motion (pixels) left after ``compensate`` (a global shift of
    n-1 and n+1 onto n by phase correlation) the temporal test allows for; ``speck_size``:
    the (odd) median window, about twice the largest speck; ``grow``: pixels
    added around each detection. See the module docstring.
    """
    from scipy.ndimage import binary_dilation, maximum_filter, median_filter, minimum_filter

    img = _image(image)
    if speck_size < 3 or speck_size % 2 == 0:
        raise ParameterError(f"speck_size must be an odd number of at least 3, got {speck_size}")
    if threshold <= 0 or motion <= 0:
        raise ParameterError("threshold and motion must be positive (stops)")
    if (prev is None) != (next is None):
        raise ParameterError("dust_bust: give both temporal neighbours (prev and next) or neither")
    rgb = img[..., :3]
    lum = _log_luma(rgb)
    temporal = np.zeros(lum.shape, bool)
    shifts: list = []
    if prev is None:
        outlier = np.abs(lum - median_filter(lum, size=speck_size, mode="reflect")) > threshold
    else:
        p = _image(prev, "previous frame")[..., :3]
        n = _image(next, "next frame")[..., :3]
        if p.shape != rgb.shape or n.shape != rgb.shape:
            raise ImageError(f"dust_bust: neighbour frames must match the frame's shape {rgb.shape}")
        inside = np.ones(lum.shape, bool)
        if compensate:  # undo a global pan/tilt first, so the neighbours line up with frame n
            (p, ok_p, sp), (n, ok_n, sn) = _compensate(lum, p), _compensate(lum, n)
            inside, shifts = ok_p & ok_n, [sp, sn]
        lp, ln = _log_luma(p), _log_luma(n)
        size = 2 * int(search) + 1
        brighter = (lum - maximum_filter(lp, size=size) > threshold) & (lum - maximum_filter(ln, size=size) > threshold)
        darker = (minimum_filter(lp, size=size) - lum > threshold) & (minimum_filter(ln, size=size) - lum > threshold)
        outlier = (brighter | darker) & inside
        # the spatial test only where the temporal one fired (few pixels: no full-frame median)
        if outlier.any():
            med = _median_at(lum[..., None], outlier, speck_size)[:, 0]
            outlier[outlier] = np.abs(lum[outlier] - med) > threshold
        still = (maximum_filter(np.abs(lp - ln), size=speck_size, mode="nearest") <= motion) & inside
    if grow > 0 and outlier.any():
        outlier = binary_dilation(outlier, iterations=int(grow))
    out = img.copy()
    if not outlier.any():
        return DustResult(out, outlier, temporal, tuple(shifts))
    if prev is not None:
        temporal = outlier & still
        if temporal.any():
            out[..., :3][temporal] = np.median(np.stack([p[temporal], rgb[temporal], n[temporal]]), axis=0)
    spatial = outlier & ~temporal
    if spatial.any():
        out[..., :3][spatial] = _median_at(rgb, spatial, speck_size)
    return DustResult(out, outlier, temporal, tuple(shifts))


def _compensate(lum: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """``other`` (RGB) shifted onto frame n by the global translation phase correlation finds on log luminance,
    rounded to whole pixels.

    Returns the shifted frame, where it has picture (pixels shifted in from outside the frame are
    False) and the ``(dx, dy)`` applied. A weak correlation peak (a cut, or nothing to lock on)
    applies no shift.
    """
    import cv2

    lo = _log_luma(other)
    window = cv2.createHanningWindow(lum.shape[::-1], cv2.CV_32F)
    # phaseCorrelate applies the window to its inputs in place: give it copies
    (dx, dy), response = cv2.phaseCorrelate(lum.copy(), lo, window)
    if response < 0.05 or abs(dx) > lum.shape[1] / 4 or abs(dy) > lum.shape[0] / 4:
        return other, np.ones(lum.shape, bool), (0.0, 0.0)
    # whole pixels only: interpolation would soften the neighbours' extremes and make sharp detail of
    # frame n look like dust; the sub-pixel rest is within the temporal test's ``search`` window
    ix, iy = int(round(dx)), int(round(dy))
    m = np.float32([[1, 0, -ix], [0, 1, -iy]])
    size = lum.shape[::-1]
    moved = cv2.warpAffine(np.ascontiguousarray(other), m, size, flags=cv2.INTER_NEAREST,
                           borderMode=cv2.BORDER_REPLICATE)
    inside = np.zeros(lum.shape, bool)
    inside[max(0, iy):lum.shape[0] + min(0, iy), max(0, ix):lum.shape[1] + min(0, ix)] = True
    return moved, inside, (float(ix), float(iy))


def _median_at(rgb: np.ndarray, where: np.ndarray, size: int) -> np.ndarray:
    """Per-channel median of the ``size`` square (reflected at the border) around each pixel of ``where``."""
    r = size // 2
    padded = np.pad(rgb, ((r, r), (r, r), (0, 0)), mode="symmetric")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (size, size), axis=(0, 1))
    ys, xs = np.nonzero(where)
    return np.median(windows[ys, xs].reshape(len(ys), rgb.shape[-1], -1), axis=-1)


# --------------------------------------------------------------------------- denoise / sharpen


def _to_shaper(rgb: np.ndarray, hi: float | None) -> tuple[Shaper, np.ndarray, np.ndarray]:
    shaper = Shaper(hi if hi is not None else shaper_max(rgb))
    inside = ((rgb >= 0) & (rgb <= shaper.hi)).all(axis=-1)
    return shaper, shaper.curve(rgb).astype(np.float32), inside


def _from_shaper(img: np.ndarray, shaper: Shaper, u: np.ndarray, inside: np.ndarray) -> np.ndarray:
    out = img.copy()
    rgb = shaper.curve_inverse(u).astype(np.float32)
    out[..., :3] = np.where(inside[..., None], rgb, img[..., :3])
    return out


def denoise_nlm(image, *, strength: float = 0.02, patch: int = 5, search: int = 15,
                hi: float | None = None) -> np.ndarray:
    """Non-local means (OpenCV, 16-bit, L1 patch distance); ``strength`` in shaper units (module docstring)."""
    import cv2

    img = _image(image)
    if not 0 < strength <= 1:
        raise ParameterError(f"strength must be in (0, 1] (shaper units), got {strength}")
    shaper, u, inside = _to_shaper(img[..., :3], hi)
    u16 = np.round(np.clip(u, 0.0, 1.0) * 65535.0).astype(np.uint16)
    den = cv2.fastNlMeansDenoising(u16, h=[float(strength) * 65535.0], templateWindowSize=int(patch),
                                   searchWindowSize=int(search), normType=cv2.NORM_L1)
    return _from_shaper(img, shaper, den.astype(np.float32) / 65535.0, inside)


def denoise_bilateral(image, *, sigma_color: float = 0.03, sigma_space: float = 2.0, diameter: int = 7,
                      hi: float | None = None) -> np.ndarray:
    """Bilateral filter (OpenCV, float32); ``sigma_color`` in shaper units, ``sigma_space`` in pixels."""
    import cv2

    img = _image(image)
    if sigma_color <= 0 or sigma_space <= 0:
        raise ParameterError("sigma_color and sigma_space must be positive")
    shaper, u, inside = _to_shaper(img[..., :3], hi)
    den = cv2.bilateralFilter(np.ascontiguousarray(u), int(diameter), float(sigma_color), float(sigma_space))
    return _from_shaper(img, shaper, den, inside)


def unsharp(image, *, amount: float = 0.5, sigma: float = 1.0, hi: float | None = None) -> np.ndarray:
    """Unsharp mask in the shaper domain: ``u + amount * (u - gauss(u, sigma))``."""
    import cv2

    img = _image(image)
    if amount < 0 or sigma <= 0:
        raise ParameterError("amount must be >= 0 and sigma > 0")
    shaper, u, inside = _to_shaper(img[..., :3], hi)
    blur = cv2.GaussianBlur(u, (0, 0), float(sigma), borderType=cv2.BORDER_REFLECT)
    return _from_shaper(img, shaper, u + float(amount) * (u - blur), inside)
