"""Film damage model: seeded, physically plausible degradation of clean footage.

Builds supervised (degraded, clean) training pairs and test data. Effects,
each with its own parameters in :data:`DEGRADE_PARAMS` and applied in film
order: gauge loss (:mod:`.gauge`), film grain (:mod:`.grain`), generation
loss (:mod:`.generation`), dye fade (:mod:`.fade`), dust and dirt
(:mod:`.dust`), vertical scratches (:mod:`.scratches`), flicker
(:mod:`.flicker`), gate weave (:mod:`.weave`), digital and tape defects of
a video transfer on a few frames (:mod:`.digital`). Named looks:
:data:`PRESETS`.

Frames are ``float32`` ``HWC`` scene-linear ACEScg, C = 3 or 4 (alpha passes
through untouched), values >= 0. A frame's damage is a pure function of
(pixels, frame number, parameters, seed), so frame ranges can be split over
processes with bit-identical results.

>>> import numpy as np
>>> grey = np.full((32, 48, 3), 0.18, np.float32)
>>> out = degrade_frame(grey, frame=1001, seed=7, preset="dusty_35mm")
>>> out.pixels.shape, out.pixels.dtype.name, out.record["applied"][-1]
((32, 48, 3), 'float32', 'weave')
"""

from core.degrade.files import DEGRADE_OUTPUT_PARAMS, degrade_files
from core.degrade.model import (
    DEGRADE_PARAMS,
    EFFECTS,
    PRESET_PARAM,
    RECORD_FORMAT,
    SEED_PARAM,
    WORKING_COLORSPACE,
    DegradeResult,
    degrade_frame,
    degrade_sequence,
    digital_defects,
    enabled_effects,
    flicker_gain,
    preset_name,
    resolve_params,
    scratch_positions,
    select_effects,
    weave_offsets,
)
from core.degrade.presets import PRESETS
from core.degrade.preview import PREVIEW_LAYOUTS, preview

__all__ = [
    "DEGRADE_OUTPUT_PARAMS",
    "DEGRADE_PARAMS",
    "EFFECTS",
    "PRESETS",
    "PRESET_PARAM",
    "PREVIEW_LAYOUTS",
    "RECORD_FORMAT",
    "SEED_PARAM",
    "WORKING_COLORSPACE",
    "DegradeResult",
    "degrade_files",
    "degrade_frame",
    "degrade_sequence",
    "digital_defects",
    "enabled_effects",
    "flicker_gain",
    "preset_name",
    "preview",
    "resolve_params",
    "scratch_positions",
    "select_effects",
    "weave_offsets",
]
