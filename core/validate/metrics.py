"""Image quality metrics of a result against its reference, on valid-mask pixels only.

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
    :func:`core.palette.deltae.delta_e_2000` (tested against colour-science).
Temporal flicker (:func:`frame_stats` then :func:`flicker`)
    Per frame, over valid pixels: the mean of log2 luminance (ACEScg Y,
    AP1 luminance weights, floored at 2^-12) and, per block of a
    :data:`FLICKER_GRID` grid, the log2 of the local standard deviation
    of luminance (grain/texture level). Frame to frame:
    ``flicker = |Δ mean_result - Δ mean_reference|`` in stops and
    ``variance_drift = mean over blocks |Δ logstd_result - Δ logstd_reference|``
    in stops: 0 when the result changes from frame to frame exactly as the
    reference does (real changes in the scene cancel out). Without a
    reference the raw ``|Δ|`` are reported (:func:`flicker` with
    ``reference=None``).

SSIM follows ``skimage.metrics.structural_similarity(..., channel_axis=-1,
data_range=1.0)`` with its defaults (7x7 uniform window, sample covariance,
K1 0.01, K2 0.03, the border of half a window left out, mean over channels);
with a mask, the SSIM map is averaged over the pixels whose whole window
is valid (the mask eroded by half a window) inside that border.
Tested against scikit-image.
"""

from __future__ import annotations

import math

import numpy as np

from core.color.matrices import AP1_LUMINANCE
from core.errors import ImageError

METRIC_ENCODING = "srgb_clip"
METRICS = ("psnr", "ssim", "delta_e", "flicker", "variance_drift")
#: Higher is better for these; lower is better for the rest.
HIGHER_IS_BETTER = frozenset({"psnr", "ssim"})
FLICKER_GRID = (8, 8)
SSIM_WINDOW = 7
_K1, _K2 = 0.01, 0.03
_LOG_FLOOR = 2.0 ** -12
#: PSNR where the images are identical on the valid pixels (instead of +inf).
PSNR_CAP = 100.0
#: Pixels per slice of the per-pixel steps (SSIM past its window means, CIEDE2000): the temporaries then
#: stay in the CPU cache; the values are the same as in one pass, bit for bit.
_CHUNK = 32768


def encode(image: np.ndarray) -> np.ndarray:
    """ACEScg -> sRGB-encoded display values clipped to 0..1 (:data:`METRIC_ENCODING`), ``float32`` ``HW3``."""
    from core.color import convert

    rgb = _rgb(image, "image")
    return np.clip(convert(rgb, "ACEScg", "srgb", nonfinite="pass"), 0.0, 1.0).astype(np.float32)


def _rgb(image, name: str) -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[-1] not in (3, 4):
        raise ImageError(f"{name}: expected HWC with 3 or 4 channels, got shape {arr.shape}")
    return np.ascontiguousarray(arr[..., :3], dtype=np.float32)


def valid_mask(mask, shape: tuple[int, ...], *images: np.ndarray) -> np.ndarray:
    """Bool ``HW``: ``mask > 0.5`` (all pixels when ``None``) and finite in every image."""
    if mask is None:
        m = np.ones(shape[:2], bool)
    else:
        m = np.asarray(mask)
        if m.ndim == 3:
            m = m[..., 0]
        if m.shape != tuple(shape[:2]):
            raise ImageError(f"mask shape {m.shape} does not match the image's {tuple(shape[:2])}")
        m = np.nan_to_num(m.astype(np.float32), nan=0.0) > 0.5
    for img in images:
        m &= np.isfinite(np.asarray(img)[..., :3]).all(axis=-1)
    return m


def _check_pair(result, reference):
    a = _rgb(result, "result")
    b = _rgb(reference, "reference")
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
    d = (ea - eb) if m.all() else (ea[m] - eb[m])
    mse = float(np.mean(np.square(d, dtype=np.float64)))
    return PSNR_CAP if mse <= 10.0 ** (-PSNR_CAP / 10.0) else 10.0 * math.log10(1.0 / mse)


def _box(x: np.ndarray) -> np.ndarray:
    """Mean over the :data:`SSIM_WINDOW` square, borders mirrored (``scipy.ndimage.uniform_filter``'s
    ``"reflect"``, i.e. OpenCV's ``BORDER_REFLECT``), float64."""
    import cv2

    return cv2.boxFilter(x, cv2.CV_64F, (SSIM_WINDOW, SSIM_WINDOW), normalize=True, borderType=cv2.BORDER_REFLECT)


def _moments(img: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per channel ``(x, mean, mean of squares)`` over the SSIM window, float64: what SSIM needs of one image."""
    out = []
    for ch in range(img.shape[-1]):
        x = np.ascontiguousarray(img[..., ch], dtype=np.float64)
        out.append((x, _box(x), _box(x * x)))
    return out


def _ssim_map(ma, mb) -> np.ndarray:
    """The SSIM map (mean over channels) from both images' :func:`_moments`.

    Past the window means every step is per pixel: it runs in slices that stay in the CPU cache
    (the same values as in one pass, bit for bit).
    """
    np_ = SSIM_WINDOW * SSIM_WINDOW
    cov_norm = np_ / (np_ - 1.0)
    c1, c2 = (_K1 * 1.0) ** 2, (_K2 * 1.0) ** 2
    shape = ma[0][0].shape
    out = np.zeros(shape[0] * shape[1], np.float64)
    for (x, ux, uxx), (y, uy, uyy) in zip(ma, mb):
        flat = [v.reshape(-1) for v in (ux, uxx, uy, uyy, _box(x * y))]
        for i in range(0, out.size, _CHUNK):
            ux_, uxx_, uy_, uyy_, uxy_ = (v[i:i + _CHUNK] for v in flat)
            vx, vy, vxy = cov_norm * (uxx_ - ux_ * ux_), cov_norm * (uyy_ - uy_ * uy_), cov_norm * (uxy_ - ux_ * uy_)
            num = (2 * ux_ * uy_ + c1) * (2 * vxy + c2)
            den = (ux_ * ux_ + uy_ * uy_ + c1) * (vx + vy + c2)
            out[i:i + _CHUNK] += num / den
    return (out / len(ma)).reshape(shape)


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The SSIM map ``HW`` (mean over channels) of two encoded ``HW3`` images, as scikit-image computes it."""
    return _ssim_map(_moments(a), _moments(b))


def _ssim_keep(m: np.ndarray) -> np.ndarray:
    """Pixels whose whole window is valid (all but the border without a mask: scikit-image's crop)."""
    pad = (SSIM_WINDOW - 1) // 2
    keep = np.zeros_like(m)
    keep[pad:m.shape[0] - pad, pad:m.shape[1] - pad] = True
    if not m.all():
        from scipy.ndimage import binary_erosion

        keep &= binary_erosion(m, structure=np.ones((SSIM_WINDOW, SSIM_WINDOW), bool), border_value=1)
    return keep


def _ssim_size(shape) -> None:
    if min(shape[:2]) < SSIM_WINDOW:
        raise ImageError(f"SSIM needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels, got {shape[:2]}")


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
    from core.palette.deltae import delta_e_2000

    de = np.empty(lab_a.shape[0], np.float64)
    for i in range(0, lab_a.shape[0], _CHUNK):
        de[i:i + _CHUNK] = delta_e_2000(lab_a[i:i + _CHUNK], lab_b[i:i + _CHUNK])
    return float(np.mean(de))


def delta_e(result: np.ndarray, reference: np.ndarray, mask=None) -> float:
    """Mean CIEDE2000 over valid pixels (Lab D65 of the scene-linear ACEScg values); NaN if none are valid."""
    a, b = _check_pair(result, reference)
    m = valid_mask(mask, a.shape, a, b)
    if not m.any():
        return float("nan")
    return _mean_delta_e(_lab(a[m]), _lab(b[m]))


def luminance(image: np.ndarray) -> np.ndarray:
    """ACEScg luminance ``HW`` (float32)."""
    rgb = _rgb(image, "image")
    return (rgb @ np.asarray(AP1_LUMINANCE, np.float32)).astype(np.float32)


def frame_stats(image: np.ndarray, mask=None) -> dict[str, object]:
    """What :func:`flicker` needs of one frame: mean log2 luminance and per-block log2 local std.

    Blocks of :data:`FLICKER_GRID` with fewer than 16 valid pixels get NaN.
    """
    y = luminance(image)
    m = valid_mask(mask, y.shape, image)
    logy = np.log2(np.maximum(y, _LOG_FLOOR))
    mean = float(logy[m].mean()) if m.any() else float("nan")
    gh, gw = FLICKER_GRID
    h, w = y.shape
    blocks = []
    for i in range(gh):
        for j in range(gw):
            ys, xs = slice(i * h // gh, (i + 1) * h // gh), slice(j * w // gw, (j + 1) * w // gw)
            v = y[ys, xs][m[ys, xs]]
            blocks.append(float(np.log2(max(float(v.std()), _LOG_FLOOR))) if v.size >= 16 else float("nan"))
    return {"log_mean": mean, "log_std": blocks}


def flicker(stats: list[dict], reference: list[dict] | None = None) -> tuple[list[float], list[float]]:
    """Per-frame ``(flicker, variance_drift)`` in stops from consecutive :func:`frame_stats`.

    The first frame has NaN (no previous frame). With ``reference`` (stats
    of the reference frames, same length) the reference's own change is
    subtracted first.
    """
    if reference is not None and len(reference) != len(stats):
        raise ImageError(f"flicker: {len(stats)} result frames but {len(reference)} reference frames")
    fl, vd = [float("nan")], [float("nan")]
    for t in range(1, len(stats)):
        dm = stats[t]["log_mean"] - stats[t - 1]["log_mean"]
        dv = np.subtract(stats[t]["log_std"], stats[t - 1]["log_std"])
        if reference is not None:
            dm -= reference[t]["log_mean"] - reference[t - 1]["log_mean"]
            dv = dv - np.subtract(reference[t]["log_std"], reference[t - 1]["log_std"])
        fl.append(abs(float(dm)))
        dv = np.abs(dv[np.isfinite(dv)])
        vd.append(float(dv.mean()) if dv.size else float("nan"))
    return fl, vd


class ReferenceScorer:
    """One reference frame (and its mask) prepared once, to score many results against it.

    :meth:`score` gives exactly what :func:`frame_metrics` gives (the same
    numbers, bit for bit), computing the reference's share of the work
    (its encoding, Lab values, SSIM window means, valid pixels and
    :func:`frame_stats`) once rather than once per result. ``reference``:
    ACEScg ``HWC`` float32; ``mask``: ``HW`` (or ``HW1``), > 0.5 valid, or ``None``.
    """

    def __init__(self, reference: np.ndarray, mask=None):
        self.reference = _rgb(reference, "reference")
        shape = self.reference.shape
        self.mask = mask
        self.base = valid_mask(mask, shape, self.reference)  # the mask and the reference's finite pixels
        self.encoded = encode(self.reference)
        self.encoded_finite = bool(np.isfinite(self.encoded).all())
        _ssim_size(shape)
        # computed here, not on first use: score() may run in several threads at once
        self._moments = _moments(self.encoded) if self.encoded_finite else None
        self._keep = _ssim_keep(self.base)
        self._lab = _lab(self.reference[self.base]) if self.base.any() else None
        self.stats = frame_stats(self.reference, mask)

    def score(self, result: np.ndarray) -> dict[str, object]:
        """PSNR, SSIM, ΔE2000, the flicker stats and the valid pixel count of ``result`` (as :func:`frame_metrics`)."""
        a, b = _check_pair(result, self.reference)
        finite = bool(np.isfinite(a).all())
        m = self.base if finite else self.base & valid_mask(None, a.shape, a)
        ea = encode(a)
        out: dict[str, object] = {"psnr": _psnr(ea, self.encoded, m)}
        # SSIM: non-finite encoded pixels of either image enter the windows as 0
        if self.encoded_finite and np.isfinite(ea).all():
            s = _ssim_map(_moments(ea), self._moments)
        else:
            both = valid_mask(None, ea.shape, ea, self.encoded)[..., None]
            s = _ssim_map(_moments(np.where(both, ea, 0.0)), _moments(np.where(both, self.encoded, 0.0)))
        keep = self._keep if m is self.base else _ssim_keep(m)
        out["ssim"] = float(s[keep].mean()) if keep.any() else float("nan")
        if not m.any():
            out["delta_e"] = float("nan")
        else:
            lab_b = self._lab if m is self.base else _lab(self.reference[m])
            out["delta_e"] = _mean_delta_e(_lab(a[m]), lab_b)
        out["stats"] = frame_stats(a, self.mask)
        out["valid"] = int(m.sum())
        return out


def frame_metrics(result: np.ndarray, reference: np.ndarray, mask=None) -> dict[str, object]:
    """PSNR, SSIM, ΔE2000 and the flicker stats of one frame (encoding once for PSNR and SSIM).

    Scoring several results against one reference: :class:`ReferenceScorer` (same numbers, less work).
    """
    return ReferenceScorer(reference, mask).score(result)
