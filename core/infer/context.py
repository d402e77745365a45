"""Whole-frame context: a small thumbnail of the frame that every tile of it is shown.

A tile of a frame cannot tell a faded print from a warm scene: the
difference is in the whole frame's colour and tone distribution (raised,
tinted blacks over every shot of a faded reel; a warm cast only where the
light is warm). A model that declares ``input.context = S`` in its manifest
takes a second input, ``context``: the frame it is restoring (not the
tile) area-averaged to ``S x S`` pixels and put in the model's encoding.
Every tile of a frame gets the same context, so tiled inference still
equals whole-frame inference; training computes the context of each
crop's whole degraded frame with the same function.

Area averaging: the frame's rows are cut into ``S`` bands at
``round(i * H / S)`` and its columns likewise (so any aspect ratio gives
an ``S x S`` thumbnail; along an axis shorter than ``S``, each band takes
the pixel under its centre), and each
output pixel is the mean of its band's pixels in scene-linear light
(float64 sums, divided once by the band's area). Averaging removes grain, dust and scratches; what remains
is the frame's colour and tone layout.
"""

from __future__ import annotations

import numpy as np

from core.errors import ImageError, ParameterError

#: Largest context side a manifest may declare.
MAX_CONTEXT = 256


def band_edges(length: int, size: int) -> np.ndarray:
    """``size + 1`` band edges over ``length >= size`` pixels: ``i * length / size`` rounded half up (exact integers).

    >>> band_edges(10, 4).tolist()
    [0, 3, 5, 8, 10]
    """
    i = np.arange(size + 1, dtype=np.int64)
    return (2 * i * int(length) + size) // (2 * size)


def _band_sums(values: np.ndarray, size: int, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Sums over the bands along ``axis`` (float64) and each band's pixel count."""
    length = values.shape[axis]
    if length < size:  # fewer pixels than bands: each band is the pixel under its centre
        centres = np.minimum(((np.arange(size) + 0.5) * length / size).astype(np.int64), length - 1)
        return np.take(values, centres, axis=axis).astype(np.float64), np.ones(size)
    edges = band_edges(length, size)
    return np.add.reduceat(values, edges[:-1], axis=axis, dtype=np.float64), np.diff(edges).astype(np.float64)


def frame_context(pixels: np.ndarray, size: int) -> np.ndarray:
    """The frame area-averaged to ``size x size`` (``HWC`` in, ``size x size x C`` ``float32`` out).

    ``pixels``: ``float`` ``HWC`` scene-linear, in the model's colour space
    (the caller encodes the result with :func:`core.infer.encoding.encode_pixels`).
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 1 <= size <= MAX_CONTEXT:
        raise ParameterError(f"context size {size!r}: expected an integer in 1..{MAX_CONTEXT}")
    arr = np.asarray(pixels)
    if arr.ndim != 3 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ImageError(f"frame context: expected an HWC image, got shape {arr.shape}")
    rows, heights = _band_sums(arr, int(size), 0)
    sums, widths = _band_sums(rows, int(size), 1)
    # one division by the band's area: a mirrored frame gives exactly the mirrored thumbnail
    return (sums / (heights[:, None, None] * widths[None, :, None])).astype(np.float32)


def context_input(pixels: np.ndarray, size: int, encoding: str, dtype=np.float32) -> np.ndarray:
    """The network's ``context`` input for a frame: :func:`frame_context` in ``encoding``, ``1 x C x S x S``.

    ``pixels``: ``HWC`` scene-linear in the model's colour space (the whole
    frame, not a tile); ``dtype``: the graph's input type (float32 or float16).
    """
    from core.infer.encoding import encode_pixels

    thumb = encode_pixels(frame_context(pixels, size), encoding)
    return np.ascontiguousarray(thumb.transpose(2, 0, 1)[None], dtype=dtype)
