"""Line charts for reports, drawn with numpy and OpenCV (no matplotlib).

:func:`line_chart` draws one or more series over a shared x axis on a white
``uint8`` ``HW3`` sRGB image, with a light grid, tick labels and a legend.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

#: Series colours (RGB), in order.
COLORS = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14), (148, 103, 189), (140, 86, 75),
          (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207))


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values (1, 2, 5 x 10^k steps) covering ``lo..hi``."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(1, count)
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step + 1e-9) + 1)]


def _label(v: float) -> str:
    if float(v).is_integer() and abs(v) < 1e7:
        return str(int(v))
    return f"{v:.4g}"


def line_chart(series: Mapping[str, tuple[Sequence[float], Sequence[float]]], *, title: str = "",
               x_label: str = "", y_label: str = "", size: tuple[int, int] = (900, 360)) -> np.ndarray:
    """``{name: (x, y)}`` as lines (points where a series has one value); NaN/Inf points are skipped.

    Returns an ``uint8`` ``HW3`` sRGB image of ``size`` (width, height).
    """
    import cv2

    w, h = size
    img = np.full((h, w, 3), 255, np.uint8)
    legend_w = 240
    x0, x1, y0, y1 = 64, w - legend_w, 28, h - 40
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(img, title, (x0, 18), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    xs = [np.asarray(x, np.float64) for x, _ in series.values()]
    ys = [np.asarray(y, np.float64) for _, y in series.values()]
    allx = np.concatenate([x[np.isfinite(y)] for x, y in zip(xs, ys)]) if xs else np.array([])
    ally = np.concatenate([y[np.isfinite(y)] for y in ys]) if ys else np.array([])
    cv2.rectangle(img, (x0, y0), (x1, y1), (160, 160, 160), 1)
    if ally.size == 0:
        cv2.putText(img, "no data", (x0 + 10, (y0 + y1) // 2), font, 0.5, (90, 90, 90), 1, cv2.LINE_AA)
        return img
    xlo, xhi = float(allx.min()), float(allx.max())
    ylo, yhi = float(ally.min()), float(ally.max())
    if xhi - xlo < 1e-12:
        xlo, xhi = xlo - 1, xhi + 1
    pad = (yhi - ylo) * 0.08 or max(abs(yhi) * 0.05, 1e-3)
    ylo, yhi = ylo - pad, yhi + pad

    def px(x):
        return x0 + (np.asarray(x) - xlo) / (xhi - xlo) * (x1 - x0)

    def py(y):
        return y1 - (np.asarray(y) - ylo) / (yhi - ylo) * (y1 - y0)

    for t in nice_ticks(ylo, yhi):
        y = int(round(float(py(t))))
        cv2.line(img, (x0 + 1, y), (x1 - 1, y), (232, 232, 232), 1)
        cv2.putText(img, _label(t), (4, y + 4), font, 0.35, (90, 90, 90), 1, cv2.LINE_AA)
    for t in nice_ticks(xlo, xhi, 8 if (xhi - xlo) >= 8 else max(1, int(xhi - xlo))):
        x = int(round(float(px(t))))
        cv2.line(img, (x, y1), (x, y1 + 4), (120, 120, 120), 1)
        cv2.putText(img, _label(t), (x - 4 * len(_label(t)), y1 + 16), font, 0.35, (90, 90, 90), 1, cv2.LINE_AA)
    if x_label:
        cv2.putText(img, x_label, ((x0 + x1) // 2 - 20, h - 6), font, 0.4, (60, 60, 60), 1, cv2.LINE_AA)
    if y_label:
        cv2.putText(img, y_label, (x0 + 6, y0 + 14), font, 0.4, (60, 60, 60), 1, cv2.LINE_AA)
    for i, ((name, _), x, y) in enumerate(zip(series.items(), xs, ys)):
        color = COLORS[i % len(COLORS)]
        ok = np.isfinite(y) & np.isfinite(x)
        pts = np.stack([px(x[ok]), py(y[ok])], 1).round().astype(np.int32)
        if len(pts) > 1:
            cv2.polylines(img, [pts], False, color, 2, cv2.LINE_AA)
        for p in pts if len(pts) <= 60 else ():
            cv2.circle(img, tuple(int(v) for v in p), 3, color, -1, cv2.LINE_AA)
        ly = y0 + 12 + 18 * i
        cv2.line(img, (x1 + 12, ly - 4), (x1 + 32, ly - 4), color, 3)
        text = name if len(name) <= 30 else name[:29] + "~"
        cv2.putText(img, text, (x1 + 38, ly), font, 0.4, (30, 30, 30), 1, cv2.LINE_AA)
    return img
