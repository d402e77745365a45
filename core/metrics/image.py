"""Image quality metrics of a result against its reference, on valid-mask pixels only: PSNR, SSIM, ΔE2000.

Images are ACEScg (AP1, scene-linear) ``float32`` ``HWC`` (C 3 or 4; alpha
ignored); masks are ``HW`` bool or float (a pixel counts where mask > 0.5).

Encodings (one constant each, so numbers compare across runs):

PSNR and SSIM (:data:`METRIC_ENCODING`)
    sRGB-encoded display values clipped to 0..1: ACEScg -> linear Rec.709
    -> sRGB curve (IEC 61966-2-1), clip; data range 1.0. Display values
    weigh errors roughly as a viewer sees them (an error in the shadows
    counts as much as a visible one in the highlights) and clipped
    highlights compare as equal, as on an SDR monitor.
ΔE2000
    CIE Lab (D65 white, :mod:`core.color`) of the scene-linear values, with
    scene-linear 1.0 as diffuse white (L* = 100); CIEDE2000 from
    :func:`core.metrics.deltae.delta_e_2000` (tested against colour-science).
Temporal flicker
    :mod:`core.metrics.temporal` (:class:`ReferenceScorer` includes its
    per-frame stats).

SSIM follows ``skimage.metrics.structural_similarity(..., channel_axis=-1,
data_range=1.0)`` with its defaults (:data:`core.metrics.structural.SKIMAGE_WINDOW`:
7x7 uniform window, sample covariance, K1 0.01, K2 0.03; the border of half
a window left out, mean over channels); with a mask, the SSIM map is
averaged over the pixels whose whole window is valid (the mask eroded by
half a window) inside that border. Tested against scikit-image.
"""

from __future__ import annotations

import math

import numpy as np

from core.color.luminance import luminance
from core.errors import ImageError
from core.metrics.pixels import finite_pixels, rgb_of, valid_mask
from core.metrics.structural import CHUNK, SKIMAGE_WINDOW, moments, ssim_map, ssim_map_of_moments
from core.metrics.temporal import luminance_stats

METRIC_ENCODING = "srgb_clip"
METRICS = ("psnr", "ssim", "delta_e", "flicker", "variance_drift")
#: Higher is better for these; lower is better for the rest.
HIGHER_IS_BETTER = frozenset({"psnr", "ssim"})
#: PSNR where the images are identical on the valid pixels (instead of +inf).
PSNR_CAP = 100.0


def encode(image: np.ndarray) -> np.ndarray:
    """ACEScg -> sRGB-encoded display values clipped to 0..1 (:data:`METRIC_ENCODING`), ``float32`` ``HW3``."""
    from core.color import convert

    rgb = rgb_of(image, "image")
    return np.clip(convert(rgb, "ACEScg", "srgb", nonfinite="pass"), 0.0, 1.0).astype(np.float32)


def _check_pair(result, reference):
    a = rgb_of(result, "result")
    b = rgb_of(reference, "reference")
    if a.shape != b.shape:
        raise ImageError(f"result shape {a.shape} does not match the reference's {b.shape}")
    return a, b


def psnr(result: np.ndarray, reference: np.ndarray, mask=None, *, encoded: bool = False) -> float:
    """PSNR in dB (data range 1) of sRGB-encoded clipped values over valid pixels; NaN if none are valid.

    ``encoded=True``: the inputs already are :func:`encode` output.
    """
    a, b = _check_pair(result, reference)
    m = valid_mask(mask, a.shape, a, b)
    if not encoded:
        a, b = encode(a), encode(b)
    return _psnr(a, b, m)


def _psnr(ea: np.ndarray, eb: np.ndarray, m: np.ndarray) -> float:
    if not m.any():
        return float("nan")
    return _psnr_of((ea - eb) if m.all() else (ea[m] - eb[m]))


def _psnr_of(d: np.ndarray) -> float:
    """PSNR (dB, data range 1) of the differences ``d`` of the valid pixels."""
    mse = float(np.mean(np.square(d, dtype=np.float64)))
    return PSNR_CAP if mse <= 10.0 ** (-PSNR_CAP / 10.0) else 10.0 * math.log10(1.0 / mse)


def _at(image: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``image[m]`` for the flat pixel ``index`` of a mask ``m`` (``np.flatnonzero(m)``): the same ``(N, C)``
    array, gathered several times faster than by the boolean mask."""
    return np.take(image.reshape(-1, image.shape[-1]), index, axis=0)


def _ssim_keep(m: np.ndarray) -> np.ndarray:
    """Pixels whose whole window is valid (all but the border without a mask: scikit-image's crop)."""
    size = SKIMAGE_WINDOW.size
    pad = (size - 1) // 2
    keep = np.zeros_like(m)
    keep[pad:m.shape[0] - pad, pad:m.shape[1] - pad] = True
    if not m.all():
        import cv2

        # the mask eroded by the window (outside counts as valid): OpenCV's separable erosion, the same
        # pixels as scipy.ndimage.binary_erosion(m, np.ones((size, size)), border_value=1) in 1/300 of the time
        m8 = np.ascontiguousarray(m, dtype=bool).view(np.uint8)
        keep &= cv2.erode(m8, np.ones((size, size), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=1) > 0
    return keep


def _ssim_size(shape) -> None:
    size = SKIMAGE_WINDOW.size
    if min(shape[:2]) < size:
        raise ImageError(f"SSIM needs images of at least {size}x{size} pixels, got {shape[:2]}")


def ssim(result: np.ndarray, reference: np.ndarray, mask=None, *, encoded: bool = False) -> float:
    """SSIM of sRGB-encoded clipped values (see the module docstring); NaN if no valid pixel is left."""
    a, b = _check_pair(result, reference)
    m = valid_mask(mask, a.shape, a, b)
    if not encoded:
        a, b = encode(a), encode(b)
    _ssim_size(a.shape)
    finite = valid_mask(None, a.shape, a, b)[..., None]
    s = ssim_map(np.where(finite, a, 0.0), np.where(finite, b, 0.0))
    keep = _ssim_keep(m)
    return float(s[keep].mean()) if keep.any() else float("nan")




def _lab(rgb: np.ndarray) -> np.ndarray:
    from core.color import convert

    return convert(rgb, "ACEScg", "Lab", nonfinite="pass")


def _mean_delta_e(lab_a: np.ndarray, lab_b: np.ndarray) -> float:
    from core.metrics.deltae import delta_e_2000

    de = np.empty(lab_a.shape[0], np.float64)
    for i in range(0, lab_a.shape[0], CHUNK):
        de[i:i + CHUNK] = delta_e_2000(lab_a[i:i + CHUNK], lab_b[i:i + CHUNK])
    return float(np.mean(de))


def delta_e(result: np.ndarray, reference: np.ndarray, mask=None) -> float:
    """Mean CIEDE2000 over valid pixels (Lab D65 of the scene-linear ACEScg values); NaN if none are valid."""
    a, b = _check_pair(result, reference)
    m = valid_mask(mask, a.shape, a, b)
    if not m.any():
        return float("nan")
    return _mean_delta_e(_lab(a[m]), _lab(b[m]))


def _weights(weights, shape: tuple[int, ...]) -> np.ndarray:
    w = np.asarray(weights, np.float32)
    w = w[..., 0] if w.ndim == 3 else w
    if w.shape != tuple(shape[:2]):
        raise ImageError(f"weight matte shape {w.shape} does not match the image's {tuple(shape[:2])}")
    return np.clip(np.nan_to_num(w, nan=0.0), 0.0, 1.0)


def _weighted_psnr(ea: np.ndarray, eb: np.ndarray, m: np.ndarray, w: np.ndarray) -> float:
    wm = np.where(m, w, 0.0).astype(np.float64)
    total = float(wm.sum())
    if not total > 0:
        return float("nan")
    d = np.where(m[..., None], ea - eb, 0.0)
    mse = float((wm * np.square(d, dtype=np.float64).sum(axis=-1)).sum()) / (3.0 * total)
    return PSNR_CAP if mse <= 10.0 ** (-PSNR_CAP / 10.0) else 10.0 * math.log10(1.0 / mse)


def weighted_psnr(result: np.ndarray, reference: np.ndarray, weights, mask=None, *, encoded: bool = False) -> float:
    """PSNR in dB (data range 1, :data:`METRIC_ENCODING`) with each valid pixel's squared error weighted by
    ``weights`` (``HW`` or ``HW1``, clipped to 0..1: a matte, 1 = counts fully): ``10 log10(1 / MSE_w)``,
    ``MSE_w = sum(w |a - b|^2) / (3 sum(w))`` over the valid pixels; NaN when no weight is left. Weights all 1
    give :func:`psnr`.
    """
    a, b = _check_pair(result, reference)
    m = valid_mask(mask, a.shape, a, b)
    if not encoded:
        a, b = encode(a), encode(b)
    return _weighted_psnr(a, b, m, _weights(weights, a.shape))


class ReferenceScorer:
    """One reference frame (and its mask) prepared once, to score many results against it.

    :meth:`score` gives exactly what :func:`frame_metrics` gives (the same
    numbers, bit for bit), computing the reference's share of the work
    (its encoding, Lab values, SSIM window means, valid pixels and
    :func:`frame_stats`) once rather than once per result. ``reference``:
    ACEScg ``HWC`` float32; ``mask``: ``HW`` (or ``HW1``), > 0.5 valid, or ``None``; ``weights``: a weight
    matte (:func:`weighted_psnr`), when given :meth:`score` adds ``psnr_weighted``.
    """

    def __init__(self, reference: np.ndarray, mask=None, *, weights=None):
        self.reference = rgb_of(reference, "reference")
        shape = self.reference.shape
        self.mask = mask
        self._masked = valid_mask(mask, shape)  # the mask alone: a finite result's valid pixels
        self.base = self._masked & finite_pixels(self.reference)  # and the reference's finite pixels
        self.encoded = encode(self.reference)
        self.encoded_finite = bool(np.isfinite(self.encoded).all())
        _ssim_size(shape)
        # computed here, not on first use: score() may run in several threads at once
        self._moments = moments(self.encoded) if self.encoded_finite else None
        self._keep_index = np.flatnonzero(_ssim_keep(self.base))
        self._all = bool(self.base.all())
        self._index = np.flatnonzero(self.base)
        self._encoded_at = None if self._all else _at(self.encoded, self._index)
        self._lab = _lab(_at(self.reference, self._index)) if self._index.size else None
        self.stats = luminance_stats(luminance(self.reference), self.base)  # frame_stats(reference, mask)
        self.weights = None if weights is None else _weights(weights, shape)

    def score(self, result: np.ndarray) -> dict[str, object]:
        """PSNR, SSIM, ΔE2000, the flicker stats and the valid pixel count of ``result`` (as :func:`frame_metrics`)."""
        a, b = _check_pair(result, self.reference)
        finite = bool(np.isfinite(a).all())
        m = self.base if finite else self.base & valid_mask(None, a.shape, a)
        ea = encode(a)
        if m is not self.base or not self._index.size:
            psnr = _psnr(ea, self.encoded, m)
        else:  # the pixels gathered by index: the same differences as _psnr's, in the same order
            psnr = _psnr_of((ea - self.encoded) if self._all else (_at(ea, self._index) - self._encoded_at))
        out: dict[str, object] = {"psnr": psnr}
        # SSIM: non-finite encoded pixels of either image enter the windows as 0
        if self.encoded_finite and np.isfinite(ea).all():
            s = ssim_map_of_moments(moments(ea), self._moments)
        else:
            both = valid_mask(None, ea.shape, ea, self.encoded)[..., None]
            s = ssim_map(np.where(both, ea, 0.0), np.where(both, self.encoded, 0.0))
        if m is self.base:
            out["ssim"] = float(np.take(s.reshape(-1), self._keep_index).mean()) if self._keep_index.size else math.nan
        else:
            keep = _ssim_keep(m)
            out["ssim"] = float(s[keep].mean()) if keep.any() else float("nan")
        if not m.any():
            out["delta_e"] = float("nan")
        elif m is self.base:
            out["delta_e"] = _mean_delta_e(_lab(_at(a, self._index)), self._lab)
        else:
            out["delta_e"] = _mean_delta_e(_lab(a[m]), _lab(self.reference[m]))
        # frame_stats(a, self.mask), its valid pixels known: the mask's where the result is finite
        out["stats"] = luminance_stats(luminance(a), self._masked if finite else valid_mask(self.mask, a.shape, a))
        out["valid"] = int(m.sum())
        if self.weights is not None:
            out["psnr_weighted"] = _weighted_psnr(ea, self.encoded, m, self.weights)
        return out


def frame_metrics(result: np.ndarray, reference: np.ndarray, mask=None) -> dict[str, object]:
    """PSNR, SSIM, ΔE2000 and the flicker stats of one frame (encoding once for PSNR and SSIM).

    Scoring several results against one reference: :class:`ReferenceScorer` (same numbers, less work).
    """
    return ReferenceScorer(reference, mask).score(result)
