"""Keep a local field only when it beats the global transform on held-out pixels by more than noise can.

The frame is split into square blocks in a checkerboard (:func:`split`):
the local field is fitted on one colour and judged on the other. A field
that only fits noise, or damage, does not carry over to pixels it never saw:
there it makes the residual worse, not better. :func:`judge` compares, on
the held-out pixels, the residual of the global transform alone (``field``
zero) with that of the local field, through Tukey's bounded loss
(:func:`core.align.robust.tukey_loss`, scaled by the global residual's
noise level): a pixel of damage costs both models the same, so it cannot
vote. Per held-out block the loss saved is summed; the blocks are
independent samples (the noise of one block is not the noise the field saw),
so a one-sample t statistic of the block sums says whether the saving is
real. The field is kept when ``t >= MIN_T`` (on noise alone the saving's
mean is negative, and a t of 5 has a one-sided normal tail of 3e-7) and the
relative saving is at least ``min_gain`` (worth having).

Images are the representation of :mod:`core.align.represent` (``float32``
``HW``); the field is ``float32`` ``HW2`` ``(dx, dy)`` px with
``fixed(p) ~= moving(p + field(p))``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from core.align import geometry, robust

#: Smallest t statistic of the held-out saving for the field to be kept.
MIN_T = 5.0
#: A held-out block counts when at least this fraction of its pixels are usable.
MIN_BLOCK_FILL = 0.25


@dataclasses.dataclass(frozen=True)
class Verdict:
    """``gain``: loss saved / global loss on held-out pixels; ``t``: its t statistic over ``blocks`` blocks."""

    gain: float
    t: float
    blocks: int
    kept: bool

    def record(self) -> dict:
        return {"held_out_gain": round(self.gain, 5), "held_out_t": round(self.t, 3), "held_out_blocks": self.blocks,
                "kept": self.kept}


def split(hw: tuple[int, int], block: int) -> tuple[np.ndarray, np.ndarray]:
    """``(fit, labels)``: ``bool`` ``HW`` checkerboard of ``block`` px squares (the top-left one's colour is the
    fit half) and ``int64`` ``HW`` block numbers."""
    by = (np.arange(hw[0]) // block)[:, None]
    bx = (np.arange(hw[1]) // block)[None, :]
    nbx = -(-hw[1] // block)
    return ((by + bx) % 2) == 0, by * nbx + bx


def _residual(fixed: np.ndarray, moving: np.ndarray, transform: np.ndarray, field: np.ndarray | None) -> np.ndarray:
    """``fixed - moving(T(p + field(p)))`` (NaN where that falls outside ``moving``)."""
    import cv2

    coords = geometry.coordinate_map(transform, fixed.shape, field)
    warped = cv2.remap(moving, coords, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=np.nan)
    return fixed - warped


def judge(fixed: np.ndarray, moving: np.ndarray, field: np.ndarray, *, transform: np.ndarray, held_out: np.ndarray,
          labels: np.ndarray, min_gain: float) -> Verdict:
    """Does ``field`` (fitted without the ``held_out`` pixels) beat no field on them? See the module.

    ``transform``: the global transform ``T`` from ``fixed``'s grid to
    ``moving``'s; the local model is ``T(p + field(p))``. ``labels``: the
    block numbers of :func:`split`.
    """
    e_global = _residual(fixed, moving, transform, None)
    e_local = _residual(fixed, moving, transform, field)
    use = held_out & np.isfinite(e_global) & np.isfinite(e_local)
    noise = robust.sigma(e_global, use)
    # damage: what neither model explains (it would cost both the same anyway; its grown edge too)
    use &= ~(robust.damage(e_global, noise) & robust.damage(np.nan_to_num(e_local, nan=np.inf), noise))
    if not use.any():
        return Verdict(0.0, 0.0, 0, False)
    lg = robust.tukey_loss(e_global[use], noise).astype(np.float64)
    ll = robust.tukey_loss(e_local[use], noise).astype(np.float64)
    lab = labels[use]
    n = int(labels.max()) + 1
    count = np.bincount(lab, minlength=n)
    saved = np.bincount(lab, lg - ll, minlength=n)
    area = np.bincount(labels.ravel(), minlength=n)
    full = count >= MIN_BLOCK_FILL * np.maximum(area, 1)
    d = saved[full]
    total = float(lg.sum())
    gain = float(d.sum()) / total if total > 0 else 0.0
    t = 0.0
    if d.size >= 2:
        sd = float(d.std(ddof=1))
        t = float(d.mean()) / (sd / math.sqrt(d.size)) if sd > 0 else 0.0
    return Verdict(gain, t, int(d.size), bool(t >= MIN_T and gain >= min_gain))
