"""Digital and tape defects: what a video transfer or a digitised archive adds, on a few frames.

Analogue-video references and digitised archives carry defects that film
never shows, each on a seeded random fraction of frames (real archives:
a few dozen frames in a few hundred), the other frames untouched:

- **line dropouts** (``dropout_*``): tape dropouts and their compensation —
  horizontal streaks one or two lines high, white, black or a repeat of
  the line above;
- **block tears and displacement** (``tear_*``): a codec's broken
  macroblocks — a band of block rows torn sideways (the picture wraps
  round) or single blocks showing the picture from elsewhere;
- **solid patches** (``patch_*``): blocks of flat colour — the region's own
  mean (only the DC coefficient survived), black, or the green of an
  all-zero YUV decode;
- **shifted frames** (``frame_shift_*``): the whole picture displaced
  (mostly vertically: a frame-sync roll), the vacated band black;
- **mirrored frames** (``mirror_rate``): the picture flipped left to right;
- **head-switching noise** (``head_switch_*``): the bottom lines of the
  frame skewed sideways, more towards the bottom, with noise where the
  picture moved away.

Blocks and bands sit on a grid of ``digital_block_px`` px (a codec's
macroblock). Whether a frame has a defect is drawn per frame and per
defect (probability ``<defect>_rate``) from that defect's own stream
(:func:`core.degrade._rng.effect_rng` with the frame number), and so is
everything else about it: a frame's damage is a pure function of
(pixels, frame number, parameters, seed), and one defect's draws never
shift another's. Every rate defaults to 0: the picture passes untouched.

Pixels: ``float32`` ``HW3`` scene-linear ACEScg, >= 0, in and out; sizes in
px of the working resolution. The mask (``HW`` float32, 0 or 1) marks the
pixels a defect replaced (all of them on a mirrored frame).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from core.degrade._common import BASE_WHITE, EffectOutput
from core.degrade._rng import effect_rng
from core.params import Param

NAME = "digital"
#: The defects, in the order they are applied (the whole frame first, the playback head last).
DEFECTS = ("frame_shift", "mirror", "tear", "patch", "dropout", "head_switch")
#: Fill kinds of a solid patch.
PATCH_FILLS = ("mean", "black", "green")
#: Replacement kinds of a dropout line.
DROPOUT_KINDS = ("white", "black", "repeat")

PARAMS = [
    Param("dropout_rate", float, 0.0, "line dropouts: fraction of frames with tape dropouts (0 = off)",
          minimum=0.0, maximum=1.0),
    Param("dropout_lines", float, 6.0, "line dropouts: mean number of streaks on a frame that has them",
          minimum=1.0, maximum=500.0),
    Param("dropout_length", float, 0.3, "line dropouts: mean streak length (fraction of the width)",
          minimum=0.01, maximum=1.0),
    Param("tear_rate", float, 0.0, "block tears: fraction of frames with torn or displaced blocks (0 = off)",
          minimum=0.0, maximum=1.0),
    Param("tear_count", float, 3.0, "block tears: mean number of torn bands and displaced blocks on such a frame",
          minimum=1.0, maximum=200.0),
    Param("tear_shift_px", float, 24.0, "block tears: largest sideways tear or block displacement (px)",
          minimum=1.0, maximum=2000.0),
    Param("patch_rate", float, 0.0, "solid patches: fraction of frames with flat-colour blocks (0 = off)",
          minimum=0.0, maximum=1.0),
    Param("patch_count", float, 2.0, "solid patches: mean number of patches on such a frame",
          minimum=1.0, maximum=200.0),
    Param("patch_size_px", float, 32.0, "solid patches: typical patch side (px; rounded to whole blocks)",
          minimum=1.0, maximum=4000.0),
    Param("digital_block_px", int, 16, "block tears and solid patches: codec block size (px)",
          minimum=2, maximum=256),
    Param("frame_shift_rate", float, 0.0, "shifted frames: fraction of frames displaced, with a black band "
          "(0 = off)", minimum=0.0, maximum=1.0),
    Param("frame_shift_px", float, 24.0, "shifted frames: largest displacement (px)", minimum=1.0, maximum=2000.0),
    Param("mirror_rate", float, 0.0, "mirrored frames: fraction of frames flipped left to right (0 = off)",
          minimum=0.0, maximum=1.0),
    Param("head_switch_rate", float, 0.0, "head-switching noise: fraction of frames with skewed bottom lines "
          "(0 = off)", minimum=0.0, maximum=1.0),
    Param("head_switch_lines", int, 8, "head-switching noise: lines affected at the bottom of the frame",
          minimum=1, maximum=500),
    Param("head_switch_shift_px", float, 12.0, "head-switching noise: sideways skew of the bottom line (px)",
          minimum=0.0, maximum=2000.0),
]

_RATES = {"frame_shift": "frame_shift_rate", "mirror": "mirror_rate", "tear": "tear_rate",
          "patch": "patch_rate", "dropout": "dropout_rate", "head_switch": "head_switch_rate"}


def enabled(p: Mapping[str, Any]) -> bool:
    return any(p[rate] > 0 for rate in _RATES.values())


def _stream(seed: int, defect: str, frame: int) -> np.random.Generator:
    return effect_rng(seed, f"{NAME}-{defect}", frame)


def frame_defects(p: Mapping[str, Any], *, seed: int, frame: int) -> tuple[str, ...]:
    """The defects ``frame`` has (names from :data:`DEFECTS`, in order), without any pixels.

    Each defect's first draw on its own stream decides: a pure function of
    (seed, frame, its rate).
    """
    return tuple(d for d in DEFECTS if p[_RATES[d]] > 0 and _stream(seed, d, frame).random() < p[_RATES[d]])


@functools.lru_cache(maxsize=1)
def _green() -> np.ndarray:
    """ACEScg of sRGB (0, 135/255, 0): an all-zero YUV block decoded to RGB (BT.601, video range)."""
    from core.color import convert

    return convert(np.array([[[0.0, 135 / 255, 0.0]]], np.float32), "srgb", "ACEScg").reshape(3)


def _grid(size: int, block: int) -> int:
    """Number of whole blocks along ``size`` px (at least 1)."""
    return max(1, size // block)


def _frame_shift(out, mask, rng, p) -> dict[str, Any]:
    h, w = out.shape[:2]
    vertical = bool(rng.random() < 0.7)
    limit = (h if vertical else w) - 1
    amount = max(1, min(limit, int(round(p["frame_shift_px"] * rng.uniform(0.25, 1.0)))))
    sign = 1 if rng.random() < 0.5 else -1
    dy, dx = (sign * amount, 0) if vertical else (0, sign * amount)
    moved = np.zeros_like(out)
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    moved[yd, xd] = out[ys, xs]
    out[...] = moved
    band = np.ones((h, w), bool)
    band[yd, xd] = False
    mask[band] = 1.0
    return {"dx": dx, "dy": dy}


def _mirror(out, mask, rng, p) -> dict[str, Any]:
    out[...] = out[:, ::-1].copy()
    mask[...] = 1.0
    return {}


def _tear(out, mask, rng, p) -> dict[str, Any]:
    h, w = out.shape[:2]
    block = p["digital_block_px"]
    rows, cols = _grid(h, block), _grid(w, block)
    n = max(1, int(rng.poisson(p["tear_count"])))
    kinds = rng.random(n) < 0.5  # True: a torn band, False: a displaced block
    starts = rng.integers(0, rows, n)
    heights = rng.integers(1, 4, n)
    shifts = rng.uniform(0.2, 1.0, (n, 2)) * p["tear_shift_px"] * np.where(rng.random((n, 2)) < 0.5, -1, 1)
    block_cols = rng.integers(0, cols, n)
    bands = blocks = 0
    for k in range(n):
        y0 = int(starts[k]) * block
        if kinds[k]:
            y1 = min(h, y0 + int(heights[k]) * block)
            s = int(round(shifts[k, 0])) or 1
            out[y0:y1] = np.roll(out[y0:y1], s, axis=1)
            mask[y0:y1] = 1.0
            bands += 1
        else:
            x0 = int(block_cols[k]) * block
            y1, x1 = min(h, y0 + block), min(w, x0 + block)
            sy = int(np.clip(y0 + round(shifts[k, 1]), 0, h - (y1 - y0)))
            sx = int(np.clip(x0 + round(shifts[k, 0]), 0, w - (x1 - x0)))
            out[y0:y1, x0:x1] = out[sy:sy + (y1 - y0), sx:sx + (x1 - x0)].copy()
            mask[y0:y1, x0:x1] = 1.0
            blocks += 1
    return {"bands": bands, "blocks": blocks}


def _patch(out, mask, rng, p) -> dict[str, Any]:
    h, w = out.shape[:2]
    block = p["digital_block_px"]
    rows, cols = _grid(h, block), _grid(w, block)
    n = max(1, int(rng.poisson(p["patch_count"])))
    size = rng.uniform(0.5, 2.0, (n, 2)) * p["patch_size_px"] / block
    corner = rng.random((n, 2))
    fill = rng.integers(0, len(PATCH_FILLS), n)
    fills = []
    for k in range(n):
        bh, bw = (max(1, min(g, int(round(v)))) for g, v in zip((rows, cols), size[k]))
        r0, c0 = int(corner[k, 0] * (rows - bh + 1)), int(corner[k, 1] * (cols - bw + 1))
        y0, x0 = r0 * block, c0 * block
        y1, x1 = min(h, y0 + bh * block), min(w, x0 + bw * block)
        kind = PATCH_FILLS[int(fill[k])]
        if kind == "mean":
            colour = out[y0:y1, x0:x1].reshape(-1, 3).mean(axis=0, dtype=np.float64).astype(np.float32)
        elif kind == "black":
            colour = np.zeros(3, np.float32)
        else:
            colour = _green()
        out[y0:y1, x0:x1] = colour
        mask[y0:y1, x0:x1] = 1.0
        fills.append(kind)
    return {"patches": fills}


def _dropout(out, mask, rng, p) -> dict[str, Any]:
    h, w = out.shape[:2]
    n = max(1, int(rng.poisson(p["dropout_lines"])))
    ys = rng.integers(0, h, n)
    thick = 1 + (rng.random(n) < 0.3)
    lengths = p["dropout_length"] * np.exp(np.clip(0.5 * rng.standard_normal(n), -1.5, 1.0))
    x_starts = rng.random(n)
    kinds = rng.integers(0, len(DROPOUT_KINDS), n)
    levels = rng.uniform(0.6, 1.0, n)
    noise = rng.standard_normal((n, w)).astype(np.float32)
    for k in range(n):
        length = max(1, min(w, int(round(lengths[k] * w))))
        x0 = int(x_starts[k] * (w - length + 1))
        x1 = x0 + length
        y0, y1 = int(ys[k]), min(h, int(ys[k]) + int(thick[k]))
        kind = DROPOUT_KINDS[int(kinds[k])]
        if kind == "white":
            value = np.float32(BASE_WHITE * levels[k]) * (1.0 + 0.05 * noise[k, x0:x1])
            out[y0:y1, x0:x1] = np.maximum(value, 0.0)[None, :, None]
        elif kind == "black":
            out[y0:y1, x0:x1] = 0.0
        else:  # dropout compensation: the line above repeated (the line below at the top)
            src = y0 - 1 if y0 > 0 else min(h - 1, y1)
            out[y0:y1, x0:x1] = out[src, x0:x1]
        mask[y0:y1, x0:x1] = 1.0
    return {"lines": n}


def _head_switch(out, mask, rng, p) -> dict[str, Any]:
    h, w = out.shape[:2]
    lines = min(h, p["head_switch_lines"])
    ramp = ((np.arange(lines) + 1.0) / lines) ** 2
    shifts = np.rint(p["head_switch_shift_px"] * ramp * rng.uniform(0.7, 1.3, lines)).astype(np.int64)
    shifts = np.minimum(shifts, w)
    noise = (0.05 * rng.random((lines, w, 1))).astype(np.float32)
    for r in range(lines):
        y = h - lines + r
        s = int(shifts[r])
        if s <= 0:
            continue
        out[y, s:] = out[y, :w - s].copy()
        out[y, :s] = noise[r, :s]
        mask[y] = 1.0
    return {"lines": int(lines), "shift_px": int(shifts.max(initial=0))}


_APPLY = {"frame_shift": _frame_shift, "mirror": _mirror, "tear": _tear, "patch": _patch, "dropout": _dropout,
          "head_switch": _head_switch}


def apply(rgb: np.ndarray, p: Mapping[str, Any], *, seed: int, frame: int) -> EffectOutput:
    """Apply the defects the frame has (:func:`frame_defects`); a frame without any comes back as it was."""
    h, w = rgb.shape[:2]
    mask = np.zeros((h, w), np.float32)
    chosen = frame_defects(p, seed=seed, frame=frame)
    record: dict[str, Any] = {"defects": list(chosen)}
    if not chosen:
        return EffectOutput(rgb, record, mask)
    out = np.array(rgb, dtype=np.float32, copy=True)
    for d in chosen:
        rng = _stream(seed, d, frame)
        rng.random()  # the draw that decided the defect
        record[d] = _APPLY[d](out, mask, rng, p)
    return EffectOutput(np.maximum(out, 0.0), record, mask)


def defect_fraction(p: Mapping[str, Any]) -> float:
    """Expected fraction of frames with at least one defect (rates are independent per frame)."""
    return 1.0 - math.prod(1.0 - p[r] for r in _RATES.values())
