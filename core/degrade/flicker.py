"""Flicker: per-frame exposure fluctuation, with optional slow spatial unevenness.

Printer-light, development and lamp variations change each frame's exposure.
The global gain is ``2 ** (flicker_amplitude * n(frame))`` with ``n`` unit
Gaussian smooth noise of period ``flicker_period`` frames (1 = independent
frames), so ``flicker_amplitude`` is the RMS fluctuation in stops. Uneven
development adds a low-frequency field: a 4x4 grid of smooth noise (same
period) upsampled over the frame, ``2 ** (flicker_spatial * grid)``,
normalised to mean 1 so the global gain stays the frame's mean gain.
Applied as a multiplication in scene-linear light. Pure function of
(seed, frame, parameters): frame N needs no earlier frame.

Pixels: ``float32`` ``HW3`` scene-linear ACEScg, >= 0, in and out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from core.degrade._common import EffectOutput
from core.degrade._rng import smooth_noise
from core.params import Param

NAME = "flicker"
_GRID = 4

PARAMS = [
    Param("flicker_amplitude", float, 0.0, "flicker: RMS exposure fluctuation per frame (stops; 0 = off)",
          minimum=0.0, maximum=2.0),
    Param("flicker_period", int, 1, "flicker: frames over which the exposure changes (1 = every frame independent)",
          minimum=1, maximum=1000),
    Param("flicker_spatial", float, 0.0, "flicker: RMS low-frequency unevenness across the frame (stops; 0 = off)",
          minimum=0.0, maximum=2.0),
]


def enabled(p: Mapping[str, Any]) -> bool:
    return p["flicker_amplitude"] > 0 or p["flicker_spatial"] > 0


def flicker_gain(p: Mapping[str, Any], *, seed: int, frame: int) -> float:
    """The frame's global exposure gain (linear factor)."""
    if p["flicker_amplitude"] <= 0:
        return 1.0
    n = float(smooth_noise(seed, NAME, frame, p["flicker_period"]))
    return float(2.0 ** (p["flicker_amplitude"] * n))


def spatial_field(p: Mapping[str, Any], *, seed: int, frame: int, height: int, width: int) -> np.ndarray | None:
    """The frame's low-frequency gain field (``float32`` ``HW``, mean 1), or ``None`` when off."""
    if p["flicker_spatial"] <= 0:
        return None
    import cv2

    grid = smooth_noise(seed, "flicker-spatial", frame, p["flicker_period"], shape=(_GRID, _GRID))
    field = cv2.resize(grid.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    field = np.exp2(np.float32(p["flicker_spatial"]) * field)
    return (field / field.mean(dtype=np.float64)).astype(np.float32)


def apply(rgb: np.ndarray, p: Mapping[str, Any], *, seed: int, frame: int) -> EffectOutput:
    """Multiply by the frame's gain (and spatial field)."""
    h, w = rgb.shape[:2]
    gain = flicker_gain(p, seed=seed, frame=frame)
    field = spatial_field(p, seed=seed, frame=frame, height=h, width=w)
    if field is None:
        out = np.multiply(rgb, np.float32(gain), out=rgb)  # in place (see _common)
        record = {"gain": gain}
    else:
        out = np.multiply(rgb, (np.float32(gain) * field)[..., None], out=rgb)
        record = {"gain": gain, "spatial_min": float(field.min()), "spatial_max": float(field.max())}
    return EffectOutput(out, record)
