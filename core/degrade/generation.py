"""Generation loss: what each photochemical duplication adds.

A print made from a dupe negative went through an interpositive and an
internegative: every copy is a contact or optical print that (1) blurs by the
printer's MTF, (2) changes contrast — density is multiplied by the copy's
gamma about mid grey, i.e. ``v' = 0.18 (v / 0.18) ** gamma`` in linear —
and (3) adds the copy stock's own grain (finer than camera negative grain:
size ``0.75 * grain_size``, same per-layer ratios as :mod:`.grain`, the same
signal-dependent model). Each generation's grain is a fresh random field.

Pixels: ``float32`` ``HW3`` scene-linear ACEScg, >= 0, in and out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from core.degrade import grain as _grain
from core.degrade._common import EffectOutput, gaussian_blur
from core.degrade._rng import effect_rng
from core.params import Param

NAME = "generation"
#: Pivot of the per-generation contrast change: scene-linear mid grey.
MID_GREY = 0.18
#: Grain size of duplicating stock relative to ``grain_size``.
COPY_GRAIN_SIZE = 0.75

PARAMS = [
    Param("generation_count", int, 0, "generation loss: number of duplications (1 = interpositive, "
          "2 = + internegative, 3 = print from a dupe...; 0 = off)", minimum=0, maximum=8),
    Param("generation_blur", float, 0.6, "printer blur added by each generation (Gaussian sigma, px)",
          minimum=0.0, maximum=10.0),
    Param("generation_contrast", float, 1.05, "contrast (density gamma about mid grey) of each generation",
          minimum=0.5, maximum=2.0),
    Param("generation_grain", float, 0.015, "grain of each copy stock (relative RMS on 18% grey)",
          minimum=0.0, maximum=1.0),
]


def enabled(p: Mapping[str, Any]) -> bool:
    return p["generation_count"] > 0


def apply(rgb: np.ndarray, p: Mapping[str, Any], *, seed: int, frame: int) -> EffectOutput:
    """Duplicate ``generation_count`` times: blur, contrast, copy-stock grain per generation."""
    gamma = np.float32(p["generation_contrast"])
    intensities = _grain.layer_intensities(p, p["generation_grain"])
    sizes = _grain.layer_sizes(p, COPY_GRAIN_SIZE * p["grain_size"])
    out = rgb
    for g in range(p["generation_count"]):
        out = gaussian_blur(out, p["generation_blur"])
        if gamma != 1.0:
            out = np.float32(MID_GREY) * np.power(np.maximum(out, 0.0) / np.float32(MID_GREY), gamma)
        if p["generation_grain"] > 0:
            out = _grain.add_grain(out, effect_rng(seed, NAME, frame, g), intensities, sizes)
    out = np.maximum(out, 0.0).astype(np.float32, copy=False)
    return EffectOutput(out, {"count": p["generation_count"], "blur_sigma": p["generation_blur"],
                              "contrast": p["generation_contrast"], "grain": intensities})
