"""Gate weave: the frame's small random translation (and rotation) in the gate.

Each frame sits slightly differently on the registration pins of the camera,
printer or projector: a sideways weave, a vertical jump and a tiny rotation,
correlated over a few frames. The offsets are smooth noise
(:func:`core.degrade._rng.smooth_noise`, period ``weave_period`` frames;
1 = independent frames): ``dx = weave_amplitude_px * n0``,
``dy = weave_amplitude_px * weave_jump_ratio * n1``,
``rotation = weave_rotation_deg * n2`` — so amplitudes are RMS values. They
are a pure function of (seed, frame, parameters): frame N needs no earlier
frame, and :func:`weave_offsets` gives them without pixels (ground truth for
alignment).

Convention: the picture content moves by ``(+dx, +dy)`` px (x right, y down):
``out(x, y) = in(x - dx, y - dy)`` for a pure translation; the rotation is
about the frame centre ``((W - 1) / 2, (H - 1) / 2)``, positive
counter-clockwise on screen (OpenCV's ``getRotationMatrix2D``). Resampling
is bicubic; the few pixels moved in at the borders are a reflection of the
picture (no black gate edge, which a training pair could not explain).

Pixels: ``float32`` ``HW3`` scene-linear ACEScg, >= 0, in and out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from core.degrade._common import EffectOutput
from core.degrade._rng import smooth_noise
from core.params import Param

NAME = "weave"

PARAMS = [
    Param("weave_amplitude_px", float, 0.0, "gate weave: RMS horizontal displacement (px; 0 = off)",
          minimum=0.0, maximum=50.0),
    Param("weave_jump_ratio", float, 0.6, "gate weave: vertical displacement (jump) relative to the horizontal",
          minimum=0.0, maximum=4.0),
    Param("weave_rotation_deg", float, 0.0, "gate weave: RMS rotation (degrees)", minimum=0.0, maximum=5.0),
    Param("weave_period", int, 3, "gate weave: frames over which the weave changes (1 = every frame independent)",
          minimum=1, maximum=1000),
]


def enabled(p: Mapping[str, Any]) -> bool:
    return p["weave_amplitude_px"] > 0 or p["weave_rotation_deg"] > 0


def weave_offsets(p: Mapping[str, Any], *, seed: int, frame: int) -> dict[str, float]:
    """``{"dx", "dy", "rotation_deg"}`` of ``frame`` (see the module's sign convention)."""
    n = smooth_noise(seed, NAME, frame, p["weave_period"], shape=(3,))
    amp = p["weave_amplitude_px"]
    return {"dx": float(amp * n[0]), "dy": float(amp * p["weave_jump_ratio"] * n[1]),
            "rotation_deg": float(p["weave_rotation_deg"] * n[2])}


def weave_matrix(offsets: Mapping[str, float], height: int, width: int) -> np.ndarray:
    """2x3 forward affine matrix (input -> output pixel coordinates) of ``offsets``."""
    import cv2

    m = cv2.getRotationMatrix2D(((width - 1) / 2.0, (height - 1) / 2.0), offsets["rotation_deg"], 1.0)
    m[:, 2] += (offsets["dx"], offsets["dy"])
    return m


def apply(rgb: np.ndarray, p: Mapping[str, Any], *, seed: int, frame: int) -> EffectOutput:
    """Move the frame by its weave offsets."""
    import cv2

    h, w = rgb.shape[:2]
    offsets = weave_offsets(p, seed=seed, frame=frame)
    out = cv2.warpAffine(rgb, weave_matrix(offsets, h, w), (w, h), flags=cv2.INTER_CUBIC,
                         borderMode=cv2.BORDER_REFLECT101)
    return EffectOutput(np.maximum(out, 0.0).astype(np.float32, copy=False), offsets)
