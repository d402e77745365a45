"""The cluster picture: the 2-D view of a ``reelkit.clusters/1`` document as a scatter plot (PNG).

Drawn with OpenCV (no plotting library): one dot per frame at its ``xy``,
coloured by cluster (a fixed, seeded palette), noise as small grey dots,
exemplars ringed, each cluster's name at its members' median. 8-bit sRGB
PNG, ``width`` x ``height`` (default 960 x 720).
"""

from __future__ import annotations

import colorsys
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np


def cluster_colour(label: int) -> tuple[int, int, int]:
    """A distinct RGB colour per cluster (golden-ratio hues); grey for noise (-1)."""
    if label < 0:
        return (150, 150, 150)
    r, g, b = colorsys.hsv_to_rgb((label * 0.618033988749895) % 1.0, 0.75, 0.95)
    return (int(r * 255), int(g * 255), int(b * 255))


def cluster_image(doc: Mapping[str, Any], *, width: int = 960, height: int = 720) -> np.ndarray:
    """The scatter plot as ``uint8`` ``HW3`` sRGB-encoded RGB."""
    import cv2

    img = np.full((height, width, 3), 28, np.uint8)
    frames = doc.get("frames", [])
    names = {c["id"]: c["name"] for c in doc.get("clusters", [])}
    title = f"{sum(1 for k in names if k != -1)} clusters, {len(frames)} frames"
    cv2.putText(img, title, (12, 26), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (230, 230, 230), 1, cv2.LINE_AA)
    if not frames:
        return img
    xy = np.asarray([f["xy"] for f in frames], np.float64)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    margin = 40
    pts = np.empty_like(xy)
    pts[:, 0] = margin + (xy[:, 0] - lo[0]) / span[0] * (width - 2 * margin)
    pts[:, 1] = height - margin - (xy[:, 1] - lo[1]) / span[1] * (height - 2 * margin - 20)
    pts = np.rint(pts).astype(int)
    labels = np.asarray([f["cluster"] for f in frames])
    for k in np.argsort(labels != -1, kind="stable"):  # noise first, clusters on top
        lab = int(labels[k])
        colour = cluster_colour(lab)
        cv2.circle(img, tuple(int(v) for v in pts[k]), 2 if lab == -1 else 4, colour, -1, cv2.LINE_AA)
        if frames[k].get("exemplar"):
            cv2.circle(img, tuple(int(v) for v in pts[k]), 7, (255, 255, 255), 1, cv2.LINE_AA)
    for lab in sorted(set(labels.tolist()) - {-1}):
        cx, cy = np.median(pts[labels == lab], axis=0).astype(int)
        text = f"{names.get(lab, lab)} ({int((labels == lab).sum())})"
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
        org = (int(min(max(4, cx + 8), width - tw - 4)), int(min(max(th + 36, cy - 8), height - 4)))
        box = img[max(0, org[1] - th - 3):org[1] + 4, max(0, org[0] - 3):org[0] + tw + 3]
        box[...] = (box * 0.35).astype(np.uint8)  # darken behind the label, as core.sheets.label does
        cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.45, cluster_colour(lab), 1, cv2.LINE_AA)
    return img


def cluster_plot(doc: Mapping[str, Any], path: str | os.PathLike, **kwargs: Any) -> Path:
    """Write :func:`cluster_image` of ``doc`` to ``path`` (PNG, atomic); returns the path."""
    from core import io

    img = cluster_image(doc, **kwargs)
    return io.write_image(path, img.astype(np.float32) / 255.0, colorspace="srgb", bit_depth=8, overwrite=True)
