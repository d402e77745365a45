"""A per-frame report image: what the alignment did, for a person to check at a glance.

Four tiles, side by side, labelled: the source, the aligned reference (both
through :func:`core.color.acescg_to_srgb_preview`), and the difference of
the two pictures' structure before alignment (the reference only scaled to
the source's size) and after, with invalid pixels shown in dark red. The
difference is ``|z_source - z_reference|`` of a simple structure
representation (relative luminance, locally contrast-normalised:
:func:`core.align.represent.normalize`), shown as grey from 0 (black,
identical) to 2 (white): a misaligned edge shows as a double white line,
an aligned one disappears; colour differences (fade, grade) do not show.

Returns ``uint8`` ``HW3`` sRGB-encoded (IEC 61966-2-1) display pixels.
"""

from __future__ import annotations

import numpy as np

from core.align import geometry
from core.align import represent as rep
from core.sheets import contact_sheet

#: Difference shown as white.
DIFF_WHITE = 2.0
_INVALID = np.array([90, 0, 0], np.uint8)


def _structure(pixels: np.ndarray) -> np.ndarray:
    return rep.normalize(rep.relative(rep.luminance(pixels)), presmooth=1.0, normalize_sigma=16.0)[0]


def _diff_tile(a: np.ndarray, b: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    d = np.clip(np.abs(a - b) * (255.0 / DIFF_WHITE), 0, 255).astype(np.uint8)
    tile = np.repeat(d[..., None], 3, axis=2)
    if valid is not None:
        tile[~valid] = _INVALID
    return tile


def _colour_tile(pixels: np.ndarray) -> np.ndarray:
    from core.color import acescg_to_srgb_preview

    px = pixels[..., :3] if pixels.shape[2] >= 3 else np.repeat(pixels[..., :1], 3, axis=2)
    return acescg_to_srgb_preview(np.ascontiguousarray(px), nonfinite="pass")


def report_image(source: np.ndarray, reference: np.ndarray, result, *, max_width: int | None = 2048,
                 labels: bool = True) -> np.ndarray:
    """The report sheet of one alignment (see the module).

    ``source`` and ``reference`` are the images given to
    :func:`core.align.align` (``float32`` ``HWC`` scene-linear ACEScg);
    ``result`` its :class:`~core.align.AlignResult`. The sheet is scaled
    down to at most ``max_width`` px (``None``: full size).
    """
    h, w = source.shape[:2]
    z_src = _structure(source)
    same_framing = geometry.remap(reference, geometry.coordinate_map(
        geometry.resize_matrix((h, w), reference.shape[:2]), (h, w)), interpolation="linear")
    z_before = _structure(np.maximum(same_framing, 0.0))
    z_after = _structure(np.maximum(result.warped, 0.0))
    valid = result.mask[..., 0] > 0.5
    status = "aligned" if result.converged else "FAILED"
    tiles = [
        ("source", _colour_tile(source)),
        (f"reference {status}", _colour_tile(result.warped)),
        (f"difference before {result.residual_before:.3f}", _diff_tile(z_src, z_before, None)),
        (f"difference after {result.residual_after:.3f}", _diff_tile(z_src, z_after, valid)),
    ]
    return contact_sheet(tiles, labels=labels, max_width=max_width)
