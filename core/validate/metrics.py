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
    if not m.any():
        return float("nan")
    if not encoded:
        a, b = encode(a), encode(b)
    d = (a - b) if m.all() else (a[m] - b[m])
    mse = float(np.mean(np.square(d, dtype=np.float64)))
    return PSNR_CAP if mse <= 10.0 ** (-PSNR_CAP / 10.0) else 10.0 * math.log10(1.0 / mse)


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The SSIM map ``HW`` (mean over channels) of two encoded ``HW3`` images, as scikit-image computes it."""
    from scipy.ndimage import uniform_filter

    win = SSIM_WINDOW
    np_ = win * win
    cov_norm = np_ / (np_ - 1.0)
    c1, c2 = (_K1 * 1.0) ** 2, (_K2 * 1.0) ** 2
    out = np.zeros(a.shape[:2], np.float64)
    for ch in range(a.shape[-1]):
        x = a[..., ch].astype(np.float64)
        y = b[..., ch].astype(np.float64)
        ux, uy = uniform_filter(x, size=win), uniform_filter(y, size=win)
        uxx, uyy = uniform_filter(x * x, size=win), uniform_filter(y * y, size=win)
        uxy = uniform_filter(x * y, size=win)
        vx, vy, vxy = cov_norm * (uxx - ux * ux), cov_norm * (uyy - uy * uy), cov_norm * (uxy - ux * uy)
        num = (2 * ux * uy + c1) * (2 * vxy + c2)
        den = (ux * ux + uy * uy + c1) * (vx + vy + c2)
        out += num / den
    return out / a.shape[-1]


def ssim(result: np.ndarray, reference: np.ndarray, mask=None, *, encoded: bool = False) -> float:
    """SSIM of sRGB-encoded clipped values (see the module docstring); NaN if no valid pixel is left."""
    a, b = _check_pair(result, reference)
    m = valid_mask(mask, a.shape, a, b)
    if not encoded:
        a, b = encode(a), encode(b)
    pad = (SSIM_WINDOW - 1) // 2
    if min(a.shape[:2]) < SSIM_WINDOW:
        raise ImageError(f"SSIM needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels, got {a.shape[:2]}")
    finite = valid_mask(None, a.shape, a, b)[..., None]
    s = ssim_map(np.where(finite, a, 0.0), np.where(finite, b, 0.0))
    # pixels whose whole window is valid (all of them but the border, without a mask: scikit-image's crop)
    keep = np.zeros_like(m)
    keep[pad:m.shape[0] - pad, pad:m.shape[1] - pad] = True
    if not m.all():
        from scipy.ndimage import binary_erosion

        keep &= binary_erosion(m, structure=np.ones((SSIM_WINDOW, SSIM_WINDOW), bool), border_value=1)
    return float(s[keep].mean()) if keep.any() else float("nan")


def delta_e(result: np.ndarray, reference: np.ndarray, mask=None) -> float:
    """Mean CIEDE2000 over valid pixels (Lab D65 of the scene-linear ACEScg values); NaN if none are valid."""
    from core.color import convert
    from core.palette.deltae import delta_e_2000

    a, b = _check_pair(result, reference)
    m = valid_mask(mask, a.shape, a, b)
    if not m.any():
        return float("nan")
    lab_a = convert(a[m], "ACEScg", "Lab", nonfinite="pass")
    lab_b = convert(b[m], "ACEScg", "Lab", nonfinite="pass")
    return float(np.mean(delta_e_2000(lab_a, lab_b)))


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


def frame_metrics(result: np.ndarray, reference: np.ndarray, mask=None) -> dict[str, object]:
    """PSNR, SSIM, ΔE2000 and the flicker stats of one frame (encoding once for PSNR and SSIM)."""
    a, b = _check_pair(result, reference)
    ea, eb = encode(a), encode(b)
    return {"psnr": psnr(ea, eb, mask, encoded=True), "ssim": ssim(ea, eb, mask, encoded=True),
            "delta_e": delta_e(a, b, mask), "stats": frame_stats(a, mask),
            "valid": int(valid_mask(mask, a.shape, a, b).sum())}
