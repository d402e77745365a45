"""Vertical scratches: thin lines that stay put across frames and drift slowly.

Film running through a projector or printer gets scratched along its length
by grit in the gate, so the scratch sits at nearly the same x on consecutive
frames, wandering slowly as the film weaves. An emulsion scratch on the
print removes dye and shows bright (toward clear base, :data:`BASE_WHITE`); a
scratch on the negative (or a base scratch) prints dark.

Each of ``scratch_count`` tracks lives in segments of ``scratch_lifetime``
frames (offset per track so they do not all change at once); per segment it
draws where it is (x as a fraction of the width), whether it shows
(probability ``scratch_presence``), its polarity, opacity, width and a slight
tilt. Within a segment x drifts by ``scratch_drift_px`` (RMS) of smooth
noise with a period of :data:`DRIFT_PERIOD` frames. Positions are therefore a
pure function of (seed, frame, parameters): frame N needs no earlier frame.
Along y the opacity varies per frame (each frame is a different stretch of
film).

Pixels: ``float32`` ``HW3`` scene-linear ACEScg, >= 0, in and out. The mask
(``HW`` float32, 0..1) is the scratches' opacity.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from core.degrade._common import EffectOutput, composite
from core.degrade._rng import effect_rng, smooth_noise
from core.params import Param

NAME = "scratches"
POLARITIES = ("bright", "dark", "mixed")
#: Frames between knots of the slow horizontal drift.
DRIFT_PERIOD = 24
#: Knots of the opacity variation along a scratch, per frame height.
_Y_KNOTS = 8
_FWHM_TO_SIGMA = 1.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))

PARAMS = [
    Param("scratch_count", int, 0, "scratches: number of scratch tracks (0 = off)", minimum=0, maximum=64),
    Param("scratch_width", float, 1.2, "scratches: line width (full width at half maximum, px)",
          minimum=0.3, maximum=40.0),
    Param("scratch_opacity", float, 0.5, "scratches: opacity of the strongest scratches", minimum=0.0, maximum=1.0),
    Param("scratch_polarity", str, "bright", "bright: emulsion scratch on the print; dark: scratch on the "
          "negative or base; mixed: both", choices=POLARITIES),
    Param("scratch_drift_px", float, 2.0, "scratches: slow horizontal wander (RMS, px)", minimum=0.0, maximum=200.0),
    Param("scratch_lifetime", int, 120, "scratches: frames a scratch lasts before its track moves on",
          minimum=1, maximum=1_000_000),
    Param("scratch_presence", float, 0.8, "scratches: fraction of the time a track shows a scratch",
          minimum=0.0, maximum=1.0),
]


def enabled(p: Mapping[str, Any]) -> bool:
    return p["scratch_count"] > 0 and p["scratch_opacity"] > 0 and p["scratch_presence"] > 0


def tracks(p: Mapping[str, Any], *, seed: int, frame: int, width: int) -> list[dict[str, Any]]:
    """Every track's state at ``frame``: x (px, at mid height), visibility, polarity, opacity, width, tilt."""
    life = int(p["scratch_lifetime"])
    out = []
    for k in range(p["scratch_count"]):
        phase = int(effect_rng(seed, "scratch-track", k).integers(0, life))
        segment = (int(frame) + phase) // life
        rng = effect_rng(seed, "scratch-segment", k, segment)
        x0, u_show, u_pol, u_op, u_width = rng.random(5)
        tilt = float(rng.standard_normal()) * 0.5
        drift = p["scratch_drift_px"] * float(smooth_noise(seed, "scratch-drift", frame, DRIFT_PERIOD, keys=(k,)))
        if p["scratch_polarity"] == "mixed":
            polarity = "bright" if u_pol < 0.5 else "dark"
        else:
            polarity = p["scratch_polarity"]
        out.append({
            "track": k,
            "segment": segment,
            "x": float(x0 * width + drift),
            "visible": bool(u_show < p["scratch_presence"]),
            "polarity": polarity,
            "opacity": float(p["scratch_opacity"] * (0.5 + 0.5 * u_op)),
            "width": float(p["scratch_width"] * (0.6 + 0.8 * u_width)),
            "tilt_px": tilt,
        })
    return out


def _along(seed: int, frame: int, track: int, height: int) -> np.ndarray:
    """Opacity factor along the scratch (``H`` float32 in 0..1): faint and strong stretches, some gaps."""
    knots = effect_rng(seed, "scratch-along", frame, track).standard_normal(_Y_KNOTS + 1)
    y = np.linspace(0.0, _Y_KNOTS, height)
    return np.clip(0.8 + 0.4 * np.interp(y, np.arange(_Y_KNOTS + 1), knots), 0.0, 1.0).astype(np.float32)


def render(trk: list[dict[str, Any]], *, seed: int, frame: int, height: int, width: int
           ) -> tuple[np.ndarray, np.ndarray]:
    """Opacity masks (bright, dark), ``float32`` ``HW`` in 0..1, of the visible tracks."""
    bright = np.zeros((height, width), np.float32)
    dark = np.zeros((height, width), np.float32)
    rows = (np.arange(height, dtype=np.float64) / max(height - 1, 1) - 0.5)[:, None]
    for t in trk:
        if not t["visible"]:
            continue
        sigma = max(t["width"] * _FWHM_TO_SIGMA, 0.25)
        reach = 4.0 * sigma + abs(t["tilt_px"]) + 1.0
        x0, x1 = max(0, int(t["x"] - reach)), min(width, int(math.ceil(t["x"] + reach)) + 1)
        if x0 >= x1:
            continue
        centre = t["x"] + t["tilt_px"] * rows
        cols = np.arange(x0, x1, dtype=np.float64)[None, :]
        profile = np.exp(-0.5 * ((cols - centre) / sigma) ** 2)
        m = (t["opacity"] * profile * _along(seed, frame, t["track"], height)[:, None]).astype(np.float32)
        target = bright if t["polarity"] == "bright" else dark
        np.maximum(target[:, x0:x1], m, out=target[:, x0:x1])
    return bright, dark


def apply(rgb: np.ndarray, p: Mapping[str, Any], *, seed: int, frame: int) -> EffectOutput:
    """Draw the visible scratches of ``frame``."""
    h, w = rgb.shape[:2]
    trk = tracks(p, seed=seed, frame=frame, width=w)
    bright, dark = render(trk, seed=seed, frame=frame, height=h, width=w)
    out = composite(rgb, dark, bright, out=rgb)  # in place (see _common)
    visible = [t for t in trk if t["visible"]]
    record = {"x": [round(t["x"], 3) for t in visible], "polarity": [t["polarity"] for t in visible],
              "tracks": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in t.items()} for t in trk]}
    return EffectOutput(out, record, np.maximum(bright, dark))
