"""What training shows while it runs: ``loss.csv``, ``loss.png`` and ``contact_sheet.png`` (numpy + OpenCV).

``loss.csv`` has one row per optimiser step (:data:`LOSS_COLUMNS`).
``loss.png`` plots the loss on a log scale, raw (light) and smoothed
(exponential moving average, dark), with the learning rate as a thin line
on its own scale. The contact sheet has one row per preview crop: the
degraded input, the model's prediction and the reference, as 8-bit sRGB
previews of ACEScg (:func:`core.color.acescg_to_srgb_preview`).
"""

from __future__ import annotations

import csv
import io as _stdio
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: Columns of ``loss.csv`` (one row per step).
LOSS_COLUMNS = ("step", "loss", "l1", "ssim", "frequency", "lr")
_W, _H, _MARGIN = 900, 420, 60
_MIN_TILE = 128


def write_loss_csv(path: str | os.PathLike, history: Sequence[Mapping[str, Any]]) -> Path:
    """Write ``history`` (dicts with :data:`LOSS_COLUMNS`) as CSV, atomically."""
    from core.io.atomic import write_text_atomic

    buf = _stdio.StringIO()
    writer = csv.DictWriter(buf, fieldnames=LOSS_COLUMNS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in history:
        writer.writerow({k: (f"{row[k]:.8g}" if isinstance(row[k], float) else row[k]) for k in LOSS_COLUMNS})
    return write_text_atomic(path, buf.getvalue(), overwrite=True)


def smooth(values: Sequence[float], *, alpha: float | None = None) -> np.ndarray:
    """Exponential moving average with bias correction (``alpha`` default: ~1/50 of the series, 0.02..0.3)."""
    v = np.asarray(values, dtype=np.float64)
    if alpha is None:
        alpha = min(0.3, max(0.02, 1.0 / max(1.0, len(v) / 50.0)))
    out = np.empty_like(v)
    acc, weight = 0.0, 0.0
    for i, x in enumerate(v):
        acc = (1 - alpha) * acc + alpha * x
        weight = (1 - alpha) * weight + alpha
        out[i] = acc / weight
    return out


def loss_plot(history: Sequence[Mapping[str, Any]], *, title: str = "training loss") -> np.ndarray:
    """The loss curve as an ``uint8`` ``HW3`` sRGB image (white background)."""
    import cv2

    img = np.full((_H, _W, 3), 255, np.uint8)
    x0, x1, y0, y1 = _MARGIN, _W - 20, 30, _H - 40
    cv2.rectangle(img, (x0, y0), (x1, y1), (160, 160, 160), 1)
    cv2.putText(img, title, (x0, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    steps = np.array([r["step"] for r in history], np.float64)
    loss = np.array([r["loss"] for r in history], np.float64)
    keep = np.isfinite(loss) & (loss > 0)
    if keep.sum() < 1:
        return img
    steps, loss = steps[keep], loss[keep]
    lo, hi = math.log10(loss.min()), math.log10(loss.max())
    if hi - lo < 1e-6:
        lo, hi = lo - 0.5, hi + 0.5
    s_lo, s_hi = float(steps.min()), float(max(steps.max(), steps.min() + 1))

    def pts(s: np.ndarray, v: np.ndarray) -> np.ndarray:
        px = x0 + (s - s_lo) / (s_hi - s_lo) * (x1 - x0)
        py = y1 - (np.log10(v) - lo) / (hi - lo) * (y1 - y0)
        return np.stack([px, py], axis=1).round().astype(np.int32)

    for k in range(int(math.floor(lo)), int(math.ceil(hi)) + 1):
        for m in (1, 2, 5):
            v = m * 10.0 ** k
            if lo <= math.log10(v) <= hi:
                y = int(round(y1 - (math.log10(v) - lo) / (hi - lo) * (y1 - y0)))
                cv2.line(img, (x0, y), (x1, y), (235, 235, 235), 1)
                cv2.putText(img, f"{v:.0e}", (4, y + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (90, 90, 90), 1,
                            cv2.LINE_AA)
    lr = np.array([r.get("lr", 0.0) for r in history], np.float64)[keep]
    if lr.max() > 0:
        ly = y1 - lr / lr.max() * (y1 - y0) * 0.95
        lx = x0 + (steps - s_lo) / (s_hi - s_lo) * (x1 - x0)
        cv2.polylines(img, [np.stack([lx, ly], 1).round().astype(np.int32)], False, (120, 200, 120), 1,
                      cv2.LINE_AA)
    cv2.polylines(img, [pts(steps, loss)], False, (200, 200, 230), 1, cv2.LINE_AA)
    cv2.polylines(img, [pts(steps, smooth(loss))], False, (160, 40, 20), 2, cv2.LINE_AA)
    cv2.putText(img, f"step {int(s_lo)}", (x0, _H - 15), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (60, 60, 60), 1,
                cv2.LINE_AA)
    cv2.putText(img, f"step {int(steps.max())}", (x1 - 90, _H - 15), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                (60, 60, 60), 1, cv2.LINE_AA)
    cv2.putText(img, f"loss {loss[-1]:.4g} (smoothed {smooth(loss)[-1]:.4g}); green: learning rate",
                (x0 + 180, _H - 15), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (60, 60, 60), 1, cv2.LINE_AA)
    return img


def _tile(pixels: np.ndarray) -> np.ndarray:
    import cv2

    from core.color import acescg_to_srgb_preview

    tile = acescg_to_srgb_preview(np.ascontiguousarray(pixels, dtype=np.float32), nonfinite="pass")
    h = tile.shape[0]
    if h < _MIN_TILE:
        f = int(math.ceil(_MIN_TILE / h))
        tile = cv2.resize(tile, (tile.shape[1] * f, h * f), interpolation=cv2.INTER_NEAREST)
    return tile


def contact_sheet_image(rows: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], *,
                        max_width: int = 1600) -> np.ndarray:
    """Rows of (input, prediction, reference) ``HW3`` ACEScg crops -> ``uint8`` sRGB sheet."""
    from core.sheets import contact_sheet

    tiles = []
    for inp, pred, ref in rows:
        tiles += [("input", _tile(inp)), ("prediction", _tile(pred)), ("reference", _tile(ref))]
    return contact_sheet(tiles, cols=3, max_width=max_width)


def write_png(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write an ``uint8`` sRGB image as an 8-bit PNG, atomically (replacing the old one)."""
    from core import io

    return io.write_image(path, image.astype(np.float32) / 255.0, colorspace="srgb", bit_depth=8, overwrite=True)
