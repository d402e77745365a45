"""Film grain: signal-dependent, spatially correlated, independent per dye layer and per frame.

Model. A colour negative records each of R, G, B in its own emulsion layer;
grain is the random clumping of the dye clouds that form each layer's
density. Working per channel on scene-linear ``v``:

1. negative density above fog, with a toe:
   ``Dn = NEG_GAMMA * log10(1 + v / TOE)``;
2. RMS granularity grows with density (Nutting/Selwyn: variance proportional
   to the number of developed grains):
   ``sigma_D = intensity * layer * (NEG_GAMMA / ln 10) * sqrt((Dn + FOG) / (Dn_grey + FOG))``
   where ``Dn_grey`` is the density of 18% grey — so ``grain_intensity`` reads
   as the relative RMS of the grain on an 18% grey card (0.05 = 5%);
3. the fluctuation is a Gaussian field ``n`` with unit variance and a
   correlation length set by the layer's grain size (white noise filtered by
   a Gaussian of sigma ``size`` px: autocorrelation ``exp(-r^2/(4 size^2))``,
   1/e length ``2 size``), fresh for every frame and every layer;
4. ``Dn' = Dn + sigma_D n - ln(10) sigma_D^2 / (2 NEG_GAMMA)`` (the last
   term keeps the mean linear value unchanged), and back to linear.

In linear light this is multiplicative lognormal noise on ``v + TOE``:
``v' + TOE = (v + TOE) exp(s n - s^2/2)`` with ``s = ln(10) sigma_D / NEG_GAMMA``,
so the standard deviation of ``v'`` is ``(v + TOE) sqrt(exp(s^2) - 1)``
(:func:`grain_std`): it grows with the signal, and relative to ``v + TOE`` it
grows slowly (as the square root of density). The result is clipped at 0.

Pixels: ``float32`` ``HW3`` scene-linear ACEScg, >= 0, in and out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from core.degrade._common import EffectOutput, correlated_noise, row_strips, strip_rows
from core.degrade._rng import effect_rng
from core.params import Param

NAME = "grain"

#: Camera-negative gamma (slope of density against log10 exposure), typical 0.55-0.65.
NEG_GAMMA = 0.6
#: Scene-linear exposure of the negative's toe: 5 stops under 18% grey.
TOE = 0.18 / 32.0
#: Base + fog density that still carries grain in the blacks.
FOG = 0.1
_LN10 = math.log(10.0)
#: Negative density of 18% grey, where ``grain_intensity`` is the relative RMS.
_DN_GREY = NEG_GAMMA * math.log10(1.0 + 0.18 / TOE)
CHANNELS = ("r", "g", "b")

PARAMS = [
    Param("grain_intensity", float, 0.0, "film grain: relative RMS grain on 18% grey (0.05 = 5%; 0 = off; "
          "about 0.02 fine 35mm, 0.05 16mm, 0.08 Super 8)", minimum=0.0, maximum=1.0),
    Param("grain_size", float, 1.0, "film grain: dye cloud size (Gaussian sigma of the grain correlation, px)",
          minimum=0.2, maximum=10.0),
    Param("grain_intensity_r", float, 1.0, "grain intensity of the red-sensitive (cyan dye) layer, relative",
          minimum=0.0, maximum=4.0, label="Grain intensity R"),
    Param("grain_intensity_g", float, 0.8, "grain intensity of the green-sensitive (magenta dye) layer, relative",
          minimum=0.0, maximum=4.0, label="Grain intensity G"),
    Param("grain_intensity_b", float, 1.3, "grain intensity of the blue-sensitive (yellow dye) layer, relative; "
          "the fast blue layer is usually grainiest", minimum=0.0, maximum=4.0, label="Grain intensity B"),
    Param("grain_size_r", float, 1.0, "grain size of the red-sensitive layer, relative",
          minimum=0.25, maximum=4.0, label="Grain size R"),
    Param("grain_size_g", float, 0.85, "grain size of the green-sensitive layer, relative",
          minimum=0.25, maximum=4.0, label="Grain size G"),
    Param("grain_size_b", float, 1.5, "grain size of the blue-sensitive layer, relative; usually the coarsest",
          minimum=0.25, maximum=4.0, label="Grain size B"),
]


def enabled(p: Mapping[str, Any]) -> bool:
    return p["grain_intensity"] > 0 and any(p[f"grain_intensity_{c}"] > 0 for c in CHANNELS)


def layer_intensities(p: Mapping[str, Any], intensity: float | None = None) -> list[float]:
    """Per-channel grain intensity (relative RMS on 18% grey) (R, G, B)."""
    base = p["grain_intensity"] if intensity is None else intensity
    return [float(base * p[f"grain_intensity_{c}"]) for c in CHANNELS]


def layer_sizes(p: Mapping[str, Any], size: float | None = None) -> list[float]:
    """Per-channel grain correlation sigma in px (R, G, B)."""
    base = p["grain_size"] if size is None else size
    return [float(base * p[f"grain_size_{c}"]) for c in CHANNELS]


def negative_density(v: np.ndarray) -> np.ndarray:
    """Negative density above fog for scene-linear ``v`` >= 0 (any shape)."""
    return NEG_GAMMA * np.log10(1.0 + np.maximum(v, 0.0) / TOE)


def density_sigma(dn: np.ndarray, intensity: float) -> np.ndarray:
    """RMS density fluctuation at negative density ``dn`` for a layer of ``intensity``."""
    return (intensity * NEG_GAMMA / _LN10) * np.sqrt((dn + FOG) / (_DN_GREY + FOG))


def grain_std(v: np.ndarray | float, intensity: float) -> np.ndarray:
    """Expected standard deviation of the grained linear value for a flat patch at ``v``.

    Exact for the lognormal model before clipping at 0 (which only matters
    where ``v`` is within a few ``TOE`` of black):
    ``(v + TOE) * sqrt(exp(s^2) - 1)``, ``s = ln(10) sigma_D(v) / NEG_GAMMA``.

    >>> round(float(grain_std(0.18, 0.05) / (0.18 + TOE)), 4)  # 5% of 18% grey (+ the toe offset)
    0.05
    >>> bool(grain_std(0.5, 0.05) > grain_std(0.05, 0.05))
    True
    """
    v = np.asarray(v, dtype=np.float64)
    s = _LN10 * density_sigma(negative_density(v), intensity) / NEG_GAMMA
    return (v + TOE) * np.sqrt(np.expm1(s * s))


def add_grain(rgb: np.ndarray, rng: np.random.Generator, intensities: Sequence[float],
              sizes: Sequence[float], *, out: np.ndarray | None = None) -> np.ndarray:
    """Add one film stock's grain to ``rgb`` (``float32`` ``HW3`` linear, >= 0); returns ``out`` (a new array
    when ``None``; may be ``rgb`` itself: each strip is read before it is written).

    Each layer's noise is drawn for the whole frame (the random streams do
    not depend on the frame's size in strips); the per-pixel density work is
    done a strip of rows at a time.
    """
    h, w = rgb.shape[:2]
    out = np.empty_like(rgb) if out is None else out
    for c in range(3):
        noise = correlated_noise(rng, h, w, sizes[c])  # drawn for every layer: streams stay aligned
        if intensities[c] <= 0:
            if out is not rgb:
                out[..., c] = rgb[..., c]
            continue
        for y in row_strips(noise):
            s = slice(y, y + strip_rows(noise))
            dn = negative_density(rgb[s, :, c])
            sigma = density_sigma(dn, intensities[c]).astype(np.float32)
            dn_out = dn + sigma * noise[s] - np.float32(_LN10 / (2.0 * NEG_GAMMA)) * sigma * sigma
            out[s, :, c] = TOE * (np.power(np.float32(10.0), dn_out / np.float32(NEG_GAMMA)) - 1.0)
        del noise
    return np.maximum(out, 0.0, out=out)


def apply(rgb: np.ndarray, p: Mapping[str, Any], *, seed: int, frame: int) -> EffectOutput:
    """The camera negative's grain; a new pattern every frame."""
    intensities, sizes = layer_intensities(p), layer_sizes(p)
    out = add_grain(rgb, effect_rng(seed, NAME, frame), intensities, sizes, out=rgb)  # in place (see _common)
    return EffectOutput(out, {"intensity": intensities, "size_px": sizes})
