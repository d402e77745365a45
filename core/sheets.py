"""Contact sheets for reports and previews: labelled tiles in a grid.

Tiles are display images: ``uint8`` ``HW3`` sRGB-encoded (e.g. from
:func:`core.color.acescg_to_srgb_preview`), all of the same size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

GAP = 4
GAP_VALUE = 40


def label(tile: np.ndarray, text: str) -> None:
    """Write ``text`` in the top-left corner of ``tile`` (in place), white on a darkened box."""
    import cv2

    scale = max(0.4, tile.shape[0] / 600.0)
    thickness = max(1, int(round(scale * 1.4)))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    pad = max(3, int(round(6 * scale)))
    box = tile[: th + base + 2 * pad, : tw + 2 * pad]
    box[...] = (box * 0.35).astype(np.uint8)
    cv2.putText(tile, text, (pad, pad + th), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, cv2.LINE_AA)


def contact_sheet(tiles: Sequence[tuple[str, np.ndarray]], *, cols: int | None = None, labels: bool = True,
                  max_width: int | None = None) -> np.ndarray:
    """Lay ``(title, tile)`` pairs out in rows of ``cols`` (default: one row); returns ``uint8`` ``HW3``.

    ``max_width`` shrinks the sheet (area resampling) when it is wider.
    """
    import cv2

    if not tiles:
        raise ValueError("contact_sheet: no tiles")
    h, w = tiles[0][1].shape[:2]
    cols = len(tiles) if cols is None else max(1, min(cols, len(tiles)))
    rows = math.ceil(len(tiles) / cols)
    sheet = np.full((rows * h + (rows - 1) * GAP, cols * w + (cols - 1) * GAP, 3), GAP_VALUE, np.uint8)
    for i, (title, tile) in enumerate(tiles):
        tile = np.ascontiguousarray(tile, dtype=np.uint8)
        if tile.ndim == 2:
            tile = np.repeat(tile[..., None], 3, axis=2)
        if labels and title:
            tile = tile.copy()
            label(tile, title)
        r, c = divmod(i, cols)
        y, x = r * (h + GAP), c * (w + GAP)
        sheet[y:y + h, x:x + w] = tile
    if max_width is not None and sheet.shape[1] > max_width:
        new_h = max(1, round(sheet.shape[0] * max_width / sheet.shape[1]))
        sheet = cv2.resize(sheet, (int(max_width), new_h), interpolation=cv2.INTER_AREA)
    return sheet
