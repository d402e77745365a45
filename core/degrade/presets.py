"""Named looks: parameter values over :data:`core.degrade.DEGRADE_PARAMS`.

A preset lists only the values it changes; everything else keeps its
default, and every default leaves the picture untouched (each effect is off
until its amount is set). User parameters override a preset's values.

A preset is a name from :data:`PRESETS` or a preset file: a JSON object
``{"format": "reelkit.degrade_preset/1", "name": ..., "params": {...}}``
(optionally ``"source"``, what made it: ``reelkit degrade match`` records
the scan and the statistics there), whose ``params`` are checked against
the spec when it is read (:func:`read_preset_file`). Wherever a preset is
taken (``reelkit degrade --preset``, ``reelkit train --degrade-preset``, a
training config's ``data.degrade.preset``), a value ending in ``.json`` is
such a file (:func:`preset_values`).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.errors import ParameterError
from core.formats import FORMATS
from core.params import Param

#: Format of a preset file.
PRESET_FILE_FORMAT = FORMATS["reelkit.degrade_preset"]
#: Keys a preset file may hold.
PRESET_FILE_KEYS = ("format", "name", "params", "source")

PRESETS: dict[str, dict[str, Any]] = {
    "faded_16mm": {
        # an Eastmancolor 16mm print from the 1970s: cyan dye mostly gone, milky blacks
        "gauge": "16mm",
        "grain_intensity": 0.05, "grain_size": 1.3,
        "fade_cyan": 0.55, "fade_magenta": 0.08, "fade_yellow": 0.2, "fade_dmax": 2.2, "fade_stain": 0.04,
        "dust_count": 6.0, "dust_size": 2.0, "dust_polarity": "mixed",
        "scratch_count": 2, "scratch_opacity": 0.35, "scratch_polarity": "bright",
        "flicker_amplitude": 0.04, "flicker_period": 2,
        "weave_amplitude_px": 0.5, "weave_period": 3,
    },
    "dusty_35mm": {
        # a well-exposed 35mm release print that has been run a lot and stored badly: dirt and scratches
        "gauge": "35mm",
        "grain_intensity": 0.025, "grain_size": 1.0,
        "dust_count": 40.0, "dust_size": 2.5, "dust_polarity": "mixed", "dust_opacity": 0.95, "dust_hairs": 0.2,
        "scratch_count": 3, "scratch_opacity": 0.45, "scratch_polarity": "mixed", "scratch_drift_px": 2.0,
        "flicker_amplitude": 0.02,
        "weave_amplitude_px": 0.3, "weave_period": 3,
    },
    "super8_home_movie": {
        # reversal Super 8 shot on a consumer camera: soft, coarse grain, unsteady, uneven exposure
        "gauge": "super8",
        "grain_intensity": 0.08, "grain_size": 1.6,
        "fade_cyan": 0.25, "fade_yellow": 0.15, "fade_dmax": 2.8,
        "dust_count": 12.0, "dust_size": 3.0, "dust_polarity": "dark",
        "scratch_count": 1, "scratch_opacity": 0.4,
        "flicker_amplitude": 0.1, "flicker_period": 1, "flicker_spatial": 0.08,
        "weave_amplitude_px": 1.5, "weave_jump_ratio": 0.8, "weave_rotation_deg": 0.08, "weave_period": 2,
    },
    "third_generation_dupe": {
        # a 35mm print struck from a dupe negative (IP -> IN -> print): soft, contrasty, extra grain
        "gauge": "35mm",
        "grain_intensity": 0.03, "grain_size": 1.0,
        "generation_count": 3, "generation_blur": 0.7, "generation_contrast": 1.08, "generation_grain": 0.015,
        "dust_count": 15.0, "dust_polarity": "mixed",
        "scratch_count": 2, "scratch_polarity": "dark", "scratch_opacity": 0.3,
        "flicker_amplitude": 0.03,
        "weave_amplitude_px": 0.4, "weave_period": 3,
    },
    "digital_tape": {
        # a digitised video transfer of a clean print: clean frames, and digital or tape defects on about
        # one frame in ten (line dropouts, torn and displaced blocks, solid patches, a rolled or mirrored
        # frame, head-switching noise), each frame's defects drawn independently
        "dropout_rate": 0.04, "dropout_lines": 6.0, "dropout_length": 0.3,
        "tear_rate": 0.03, "tear_count": 3.0, "tear_shift_px": 24.0,
        "patch_rate": 0.02, "patch_count": 2.0, "patch_size_px": 32.0,
        "frame_shift_rate": 0.01, "frame_shift_px": 16.0,
        "mirror_rate": 0.005,
        "head_switch_rate": 0.01, "head_switch_lines": 8, "head_switch_shift_px": 12.0,
    },
    "worn_tape_transfer": {
        # a worn tape dub of a clean print: line dropouts, torn blocks, solid patches and head-switching
        # noise on most frames (no rolled or mirrored frames: those are a whole-frame repair for stage 2)
        "dropout_rate": 0.6, "dropout_lines": 8.0, "dropout_length": 0.3,
        "tear_rate": 0.3, "tear_count": 3.0, "tear_shift_px": 24.0,
        "patch_rate": 0.3, "patch_count": 2.0, "patch_size_px": 32.0,
        "head_switch_rate": 0.5, "head_switch_lines": 8, "head_switch_shift_px": 12.0,
    },
}


def is_preset_file(preset: Any) -> bool:
    """Whether ``preset`` names a preset file (a path ending in ``.json``) rather than a built-in look."""
    return isinstance(preset, (str, os.PathLike)) and os.fspath(preset).lower().endswith(".json")


def read_preset_file(path: str | os.PathLike) -> dict[str, Any]:
    """The parameter values a preset file sets (only those it lists), checked against the spec.

    Raises one line naming the file: :class:`~core.errors.ImageReadError`
    when it is missing or not a JSON object, :class:`~core.errors.FormatError`
    for another format, :class:`~core.errors.ParameterError` for unknown keys,
    unknown parameters or out-of-range values.
    """
    from core.degrade.model import DEGRADE_PARAMS
    from core.io.jsonfile import read_json_object

    where = os.fspath(path)
    doc = PRESET_FILE_FORMAT.read(read_json_object(path, "damage preset"), where=where)
    unknown = sorted(str(k) for k in doc if k not in PRESET_FILE_KEYS)
    if unknown:
        raise ParameterError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(PRESET_FILE_KEYS)}")
    params = doc.get("params")
    if not isinstance(params, Mapping):
        raise ParameterError(f"{where}: 'params' must be an object of core.degrade parameters")
    try:
        DEGRADE_PARAMS.resolve(params)
    except ParameterError as exc:
        raise ParameterError(f"{where}: {exc}") from None
    return dict(params)


def write_preset_file(path: str | os.PathLike, params: Mapping[str, Any], *, name: str,
                      source: Mapping[str, Any] | None = None, overwrite: bool = False) -> Path:
    """Write ``params`` (checked against the spec first: nothing is written for a bad value) as a preset
    file, atomically; ``source``: what made it (JSON-friendly). Returns the path."""
    from core.degrade.model import DEGRADE_PARAMS
    from core.io.atomic import write_text_atomic

    values = DEGRADE_PARAMS.resolve(params)
    doc: dict[str, Any] = {"format": PRESET_FILE_FORMAT.tag, "name": str(name),
                           "params": {k: values[k] for k in params}}
    if source is not None:
        doc["source"] = dict(source)
    return write_text_atomic(path, json.dumps(doc, indent=2, sort_keys=False) + "\n", overwrite=overwrite)


@dataclasses.dataclass(frozen=True)
class PresetParam(Param):
    """The preset choice: a built-in look's name (:attr:`choices`) or a preset file (a path ending in ``.json``,
    read and checked when the value is given: a bad file is one line before anything runs)."""

    def coerce(self, value: Any) -> Any:
        if is_preset_file(value):
            read_preset_file(value)
            return os.fspath(value)
        return super().coerce(value)


def preset_values(preset: str | os.PathLike | None) -> dict[str, Any]:
    """The values a preset sets: a built-in look's (:data:`PRESETS`), a preset file's, or none for ``None``."""
    if preset is None:
        return {}
    if is_preset_file(preset):
        return read_preset_file(preset)
    return dict(PRESETS[str(preset)])
