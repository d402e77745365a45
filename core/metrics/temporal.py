"""Temporal flicker of a sequence, against its reference: per-frame stats, then frame-to-frame changes.

Images are ACEScg (AP1, scene-linear) ``float32`` ``HWC`` (C 3 or 4; alpha
ignored); masks are ``HW`` bool or float (a pixel counts where mask > 0.5).

Per frame (:func:`frame_stats`), over valid pixels: the mean of log2
luminance (ACEScg Y, :func:`core.color.luminance.luminance` with the AP1 weights,
floored at 2^-12) and, per block of a :data:`FLICKER_GRID` grid, the log2
of the local standard deviation of luminance (grain/texture level). Frame
to frame (:func:`flicker`): ``flicker = |Δ mean_result - Δ mean_reference|``
in stops and ``variance_drift = mean over blocks |Δ logstd_result -
Δ logstd_reference|`` in stops: 0 when the result changes from frame to
frame exactly as the reference does (real changes in the scene cancel
out). Without a reference the raw ``|Δ|`` are reported (``reference=None``).
"""

from __future__ import annotations

import numpy as np

from core.color.luminance import luminance
from core.errors import ImageError
from core.metrics.pixels import rgb_of, valid_mask

FLICKER_GRID = (8, 8)
_LOG_FLOOR = 2.0 ** -12


def frame_stats(image: np.ndarray, mask=None) -> dict[str, object]:
    """What :func:`flicker` needs of one frame: mean log2 luminance and per-block log2 local std.

    Blocks of :data:`FLICKER_GRID` with fewer than 16 valid pixels get NaN.
    """
    y = luminance(rgb_of(image, "image"))
    return luminance_stats(y, valid_mask(mask, y.shape, image))


def luminance_stats(y: np.ndarray, m: np.ndarray) -> dict[str, object]:
    """:func:`frame_stats` of a frame's ACEScg luminance ``y`` (``HW`` float32) over its valid pixels ``m``
    (``HW`` bool: the mask and the finite pixels, :func:`~core.metrics.pixels.valid_mask`)."""
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
