"""Named looks: parameter values over :data:`core.degrade.DEGRADE_PARAMS`.

A preset lists only the values it changes; everything else keeps its
default, and every default leaves the picture untouched (each effect is off
until its amount is set). User parameters override a preset's values.
"""

from __future__ import annotations

from typing import Any

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
