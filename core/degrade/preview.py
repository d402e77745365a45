"""Previews of a degradation: before/after side by side, or one tile per effect.

Returns display-ready ``uint8`` ``HW3`` sRGB-encoded images (IEC 61966-2-1),
made with :func:`core.color.acescg_to_srgb_preview` (``view="clip"``:
ACEScg -> linear Rec.709 -> sRGB, clipped; ``"aces"``: the ACES 2.0 SDR
output transform). The effects run at the input's resolution; only the
finished sheet is scaled down to ``max_width``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from core.degrade.model import SEED_PARAM, degrade_frame, enabled_effects, resolve_params, unpack_image
from core.errors import ParameterError
from core.frame import Frame, as_hwc_float32
from core.sheets import contact_sheet

#: Layout name -> description.
PREVIEW_LAYOUTS = {
    "side_by_side": "the clean frame and the degraded frame next to each other",
    "grid": "the clean frame, each switched-on effect alone, and all effects together",
}

def preview(image: Frame | np.ndarray, preset: str | None = None, *, params: Mapping[str, Any] | None = None,
            seed: int = 0, frame: int | None = None, layout: str = "side_by_side", max_width: int | None = 2048,
            labels: bool = True, view: str = "clip") -> np.ndarray:
    """A before/after sheet of ``image`` degraded with ``preset`` / ``params``.

    ``image`` is ``float32`` ``HWC`` scene-linear ACEScg (C = 3 or 4; alpha
    is not shown) or a Frame in ACEScg. ``layout`` is a key of
    :data:`PREVIEW_LAYOUTS`; ``view`` is the display transform of
    :func:`core.color.acescg_to_srgb_preview`. Returns ``uint8`` ``HW3``
    sRGB-encoded, at most ``max_width`` px wide (``None``: full size).
    """
    from core.color import PREVIEW_VIEWS, acescg_to_srgb_preview

    if view not in PREVIEW_VIEWS:
        raise ParameterError(f"preview: unknown view {view!r}; valid: {', '.join(PREVIEW_VIEWS)}")
    if layout not in PREVIEW_LAYOUTS:
        raise ParameterError(f"preview: unknown layout {layout!r}; valid: {', '.join(PREVIEW_LAYOUTS)}")
    if max_width is not None and int(max_width) < 16:
        raise ParameterError(f"preview: max_width {max_width} is below 16 px")
    values = resolve_params(preset, params)
    seed = SEED_PARAM.coerce(seed)
    pixels, number, name = unpack_image(image, frame)
    clean = as_hwc_float32(pixels, name=name)
    tiles = [("clean", clean)]
    kwargs = {"frame": number, "seed": seed, "params": values}
    if layout == "grid":
        for effect in enabled_effects(values):
            tiles.append((effect, degrade_frame(clean, effects=(effect,), **kwargs).pixels))
    tiles.append((f"degraded: {preset}" if preset else "degraded", degrade_frame(clean, **kwargs).pixels))
    cols = len(tiles) if layout == "side_by_side" else math.ceil(math.sqrt(len(tiles)))
    shown = [(title, acescg_to_srgb_preview(px[..., :3], view=view)) for title, px in tiles]
    return contact_sheet(shown, cols=cols, labels=labels, max_width=max_width)
