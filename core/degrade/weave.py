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

Convention: a point ``p`` of the picture moves to ``R (p - c) + c + (dx, dy)``
(x right, y down, :func:`weave_matrix`), with ``c = ((W - 1) / 2, (H - 1) / 2)``
the frame centre and ``R`` a rotation by ``rotation_deg``, positive
counter-clockwise on screen (as OpenCV's ``getRotationMatrix2D``). For a pure
translation ``out(x, y) = in(x - dx, y - dy)``.

Resampling: three 1-D shears (Paeth's rotation by shears; a translation is
two 1-D shifts), each with the Catmull-Rom cubic, exact at any subpixel
offset (no fixed-point position rounding) and reproducing linear ramps, so
the picture's centroid moves by exactly the reported offset. Pixels moved in
at the borders are a reflection of the picture (no black gate edge, which a
training pair could not explain).

Pixels: ``float32`` ``HW3`` scene-linear ACEScg, >= 0, in and out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from core.degrade._common import EffectOutput, strip_rows
from core.degrade._rng import catmull_rom_weights, smooth_noise
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
    """``{"dx", "dy", "rotation_deg"}`` of ``frame`` (see the module's convention)."""
    n = smooth_noise(seed, NAME, frame, p["weave_period"], shape=(3,))
    amp = p["weave_amplitude_px"]
    # + 0.0 turns -0.0 (zero amplitude times a negative draw) into 0.0
    return {"dx": float(amp * n[0]) + 0.0, "dy": float(amp * p["weave_jump_ratio"] * n[1]) + 0.0,
            "rotation_deg": float(p["weave_rotation_deg"] * n[2]) + 0.0}


def weave_matrix(offsets: Mapping[str, float], height: int, width: int) -> np.ndarray:
    """2x3 forward affine matrix (input -> output pixel coordinates) of ``offsets``."""
    a = math.radians(offsets["rotation_deg"])
    c, s = math.cos(a), math.sin(a)
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    rot = np.array([[c, s], [-s, c]])
    shift = np.array([cx, cy]) - rot @ np.array([cx, cy]) + np.array([offsets["dx"], offsets["dy"]])
    return np.hstack([rot, shift[:, None]])


def shift_rows(img: np.ndarray, shifts: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
    """``out[y, x] = img[y, x - shifts[y]]`` (Catmull-Rom, reflected borders); ``img`` ``HWC`` float32.

    ``out``: where to write (a new array when ``None``); it may be ``img`` itself, a strip of rows being
    copied (padded) before it is written."""
    h, w = img.shape[:2]
    shifts = np.broadcast_to(np.asarray(shifts, dtype=np.float64), (h,))
    start = np.floor(-shifts).astype(np.int64)  # sample position x - s = x + start + frac
    frac = -shifts - start
    weights = np.asarray(catmull_rom_weights(frac), dtype=np.float32)  # (4, H)
    pad = int(np.abs(start).max()) + 3
    fresh = out is None
    if fresh:
        out = np.zeros(img.shape, img.dtype)  # C order even for a transposed view: no copy to make it contiguous
    uniform = bool(np.all(shifts == shifts[0]))
    rows = strip_rows(img)
    for y0 in range(0, h, rows):  # a strip of rows padded at a time: no padded copy of the frame
        padded = np.pad(img[y0:y0 + rows], ((0, 0), (pad, pad), (0, 0)), mode="reflect")
        if not fresh:
            out[y0:y0 + rows] = 0  # cleared once copied (it may be img itself)
        if uniform:
            strip = out[y0:y0 + rows]
            for k in range(4):
                lo = pad + int(start[0]) - 1 + k
                strip += weights[k, 0] * padded[:, lo:lo + w]
            continue
        for y in range(y0, min(h, y0 + rows)):
            row = out[y]
            for k in range(4):
                lo = pad + int(start[y]) - 1 + k
                row += weights[k, y] * padded[y - y0, lo:lo + w]
    return out


def warp(img: np.ndarray, offsets: Mapping[str, float], *, out: np.ndarray | None = None) -> np.ndarray:
    """Apply :func:`weave_matrix` to ``img`` (``HWC`` float32) by three shears: x, y, x.

    ``out``: where the result goes (a new array when ``None``); it may be ``img`` itself: the x shears are
    written into it, and only the y shear takes a new array (written in place through a transposed view,
    its strided writes took 3.6x the time), so the peak is two frames, not three."""
    h, w = img.shape[:2]
    a = math.radians(offsets["rotation_deg"])
    alpha, beta = math.tan(a / 2.0), -math.sin(a)  # R = Sx(alpha) Sy(beta) Sx(alpha)
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    rows = np.arange(h, dtype=np.float64) - cy
    cols = np.arange(w, dtype=np.float64) - cx
    cur = img
    if alpha != 0.0:
        cur = shift_rows(cur, alpha * rows, out=out)
    # y shear (with the vertical translation), done as a row shift of the transposed image
    cur = shift_rows(cur.transpose(1, 0, 2), beta * cols + offsets["dy"]).transpose(1, 0, 2)
    # last x shear; the translation dy added before it is sheared by alpha too: compensate
    cur = shift_rows(cur, alpha * rows + offsets["dx"] - alpha * offsets["dy"], out=out)
    return np.ascontiguousarray(cur)


def apply(rgb: np.ndarray, p: Mapping[str, Any], *, seed: int, frame: int) -> EffectOutput:
    """Move the frame by its weave offsets."""
    offsets = weave_offsets(p, seed=seed, frame=frame)
    out = warp(rgb, offsets, out=rgb)  # in place (see _common), then clipped in place
    return EffectOutput(np.maximum(out, 0.0, out=out), offsets)
