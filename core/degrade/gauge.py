"""Gauge loss: the resolution and optical softness of a smaller film gauge.

Shooting on 16mm or Super 8 instead of 35mm puts the same picture on a
smaller frame: fewer grains and less lens resolution per picture height. The
model treats the input as a 35mm frame and, for a smaller gauge, resamples it
down by the ratio of frame widths (area average: the film integrates light
over its grains), blurs it there with the gauge's lens kernel (a Gaussian for
aberrations and emulsion scatter, convolved with a small defocus disk), and
resamples it back up (cubic). An extra lens blur and defocus can be added at
the working resolution. All of it is in scene-linear light, where optics are
linear.

Pixels: ``float32`` ``HW3`` scene-linear ACEScg, >= 0, in and out (same shape).

Frame widths (camera apertures, SMPTE): 35mm Academy 21.95 mm, 16mm 10.26 mm,
Super 8 5.79 mm -> scale 1, 2.14, 3.79.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from core.degrade._common import EffectOutput, defocus_blur, gaussian_blur
from core.params import Param

NAME = "gauge"


@dataclasses.dataclass(frozen=True)
class Gauge:
    """A film gauge: resolution divisor relative to 35mm and its lens kernel (in gauge pixels)."""

    scale: float
    lens_sigma: float
    lens_defocus: float
    help: str


GAUGES: dict[str, Gauge] = {
    "none": Gauge(1.0, 0.0, 0.0, "no gauge loss"),
    "35mm": Gauge(1.0, 0.5, 0.0, "35mm Academy frame (21.95 mm wide): the input's own resolution, lens softness only"),
    "16mm": Gauge(21.95 / 10.26, 0.55, 0.5, "16mm frame (10.26 mm wide): 2.1x less resolution, softer lens"),
    "super8": Gauge(21.95 / 5.79, 0.6, 0.8, "Super 8 frame (5.79 mm wide): 3.8x less resolution, consumer fixed-focus lens"),
}

PARAMS = [
    Param("gauge", str, "none", "film gauge whose resolution and lens softness to imitate (input = 35mm)",
          choices=GAUGES),
    Param("gauge_scale", float, 0.0, "resolution divisor relative to the input, overriding the gauge's own "
          "(35mm 1, 16mm 2.14, super8 3.79); 0 = the gauge's, below 1 = no resolution loss",
          minimum=0.0, maximum=16.0),
    Param("blur_sigma", float, 0.0, "extra lens blur at the working resolution (Gaussian sigma, px)",
          minimum=0.0, maximum=50.0),
    Param("lens_defocus_px", float, 0.0, "extra defocus at the working resolution (disk radius, px)",
          minimum=0.0, maximum=50.0),
]


def _scale(p: Mapping[str, Any]) -> float:
    return float(p["gauge_scale"]) if p["gauge_scale"] > 0 else GAUGES[p["gauge"]].scale


def enabled(p: Mapping[str, Any]) -> bool:
    return p["gauge"] != "none" or p["gauge_scale"] > 1.0 or p["blur_sigma"] > 0 or p["lens_defocus_px"] > 0


def apply(rgb: np.ndarray, p: Mapping[str, Any], *, seed: int, frame: int) -> EffectOutput:
    """Resample through the gauge's resolution and blur with its lens (deterministic: no randomness)."""
    import cv2

    gauge = GAUGES[p["gauge"]]
    scale = max(_scale(p), 1.0)
    h, w = rgb.shape[:2]
    out = rgb
    if scale > 1.0:
        small_size = (max(1, round(w / scale)), max(1, round(h / scale)))
        out = cv2.resize(out, small_size, interpolation=cv2.INTER_AREA)
    out = defocus_blur(gaussian_blur(out, gauge.lens_sigma), gauge.lens_defocus)
    if scale > 1.0:
        out = cv2.resize(out, (w, h), interpolation=cv2.INTER_CUBIC)
    out = defocus_blur(gaussian_blur(out, p["blur_sigma"]), p["lens_defocus_px"])
    # cubic resampling rings slightly below 0: clipped into the input array (see _common)
    out = np.maximum(out, 0.0, out=rgb)
    record = {
        "gauge": p["gauge"],
        "scale": round(scale, 4),
        "lens_sigma_px": round(gauge.lens_sigma * scale, 4),
        "lens_defocus_px": round(gauge.lens_defocus * scale, 4),
        "extra_blur_sigma": p["blur_sigma"],
        "extra_defocus_px": p["lens_defocus_px"],
    }
    return EffectOutput(out, record)
