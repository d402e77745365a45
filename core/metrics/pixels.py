"""The pixels a metric counts: an image's RGB, and the valid mask (the caller's mask and finite pixels).

Images are ``HWC`` (C 3 or 4; alpha ignored) in any colour space; masks are
``HW`` (or ``HW1``) bool or float, a pixel counting where mask > 0.5.
"""

from __future__ import annotations

import numpy as np

from core.errors import ImageError


def rgb_of(image, name: str) -> np.ndarray:
    """The RGB of an ``HWC`` image (C 3 or 4; alpha dropped), contiguous ``float32`` ``HW3``.

    ``name`` names the image in the :class:`~core.errors.ImageError` for another shape.
    """
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[-1] not in (3, 4):
        raise ImageError(f"{name}: expected HWC with 3 or 4 channels, got shape {arr.shape}")
    return np.ascontiguousarray(arr[..., :3], dtype=np.float32)


def valid_mask(mask, shape: tuple[int, ...], *images: np.ndarray) -> np.ndarray:
    """Bool ``HW``: ``mask > 0.5`` (all pixels when ``None``) and finite in every image."""
    if mask is None:
        m = np.ones(shape[:2], bool)
    else:
        m = np.asarray(mask)
        if m.ndim == 3:
            m = m[..., 0]
        if m.shape != tuple(shape[:2]):
            raise ImageError(f"mask shape {m.shape} does not match the image's {tuple(shape[:2])}")
        m = np.nan_to_num(m.astype(np.float32), nan=0.0) > 0.5
    for img in images:
        m &= finite_pixels(img)
    return m


def finite_pixels(image) -> np.ndarray:
    """Bool ``HW``: where every channel of an ``HWC`` image's first three is finite (``isfinite(...).all(-1)``,
    as three ANDs: a tenth of the time over the short last axis)."""
    f = np.isfinite(np.asarray(image)[..., :3])
    if f.shape[-1] != 3:
        return f.all(axis=-1)
    return f[..., 0] & f[..., 1] & f[..., 2]
