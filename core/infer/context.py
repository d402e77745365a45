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

Detail channels (``input.context_detail`` in a manifest): the look of a
print is also in its texture (grain strength, softness, specks), which
averaging removes. With ``detail`` the thumbnail carries, after the ``C``
mean channels, ``C`` more: the band means of ``|x - box3(x)|``, each
pixel's distance from the mean of its 3x3 neighbourhood (edges mirrored,
without repeating the edge pixel), in scene-linear light like the means,
so a gain on the frame is the same gain on every channel.
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


def local_detail(pixels: np.ndarray) -> np.ndarray:
    """``|x - box3(x)|`` per pixel and channel (``HWC`` ``float32`` in and out).

    ``box3``: the mean of the 3x3 neighbourhood, edges mirrored without
    repeating the edge pixel (``cv2.BORDER_REFLECT_101``); a frame
    narrower than 2 pixels along an axis has no detail along it.
    """
    import cv2

    arr = np.ascontiguousarray(pixels, dtype=np.float32)
    h, w = arr.shape[:2]
    k = (3 if w > 1 else 1, 3 if h > 1 else 1)
    out = np.empty_like(arr)
    for c in range(arr.shape[2]):  # per channel: cv2 takes at most 4 channels
        out[..., c] = np.abs(arr[..., c] - cv2.blur(arr[..., c], k, borderType=cv2.BORDER_REFLECT_101))
    return out


def context_channels(channels: int, detail: bool) -> int:
    """Channels of the context of a ``channels``-channel frame (doubled with detail)."""
    return int(channels) * (2 if detail else 1)


def frame_context(pixels: np.ndarray, size: int, detail: bool = False) -> np.ndarray:
    """The frame area-averaged to ``size x size`` (``HWC`` in, ``size x size x C`` ``float32`` out).

    ``pixels``: ``float`` ``HWC`` scene-linear, in the model's colour space
    (the caller encodes the result with :func:`core.infer.encoding.encode_pixels`).
    With ``detail``, ``size x size x 2C``: the means, then the band means of
    :func:`local_detail`.
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 1 <= size <= MAX_CONTEXT:
        raise ParameterError(f"context size {size!r}: expected an integer in 1..{MAX_CONTEXT}")
    arr = np.asarray(pixels)
    if arr.ndim != 3 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ImageError(f"frame context: expected an HWC image, got shape {arr.shape}")
    parts = [_band_means(arr, int(size))]
    if detail:
        parts.append(_band_means(arr, int(size), detail=True))
    return np.concatenate(parts, axis=2) if detail else parts[0]


def _band_means(arr: np.ndarray, size: int, *, detail: bool = False) -> np.ndarray:
    """Band means of ``arr`` (or, with ``detail``, of :func:`local_detail` of it).

    The row bands are summed one band at a time (each band's sum is the
    same float64 sum over the same rows as one ``reduceat``), and the
    detail of a band is computed from its rows plus one neighbour row on
    each side (what the 3x3 box reads): no frame-sized float64 or detail
    array, whatever the frame's size.
    """
    height = arr.shape[0]
    if height < size:  # fewer rows than bands: small by definition
        rows, heights = _band_sums(local_detail(arr) if detail else arr, size, 0)
    else:
        edges = band_edges(height, size)
        rows = np.empty((size,) + arr.shape[1:], np.float64)
        for i in range(size):
            a, b = int(edges[i]), int(edges[i + 1])
            if detail:
                lo, hi = max(a - 1, 0), min(b + 1, height)
                band = local_detail(arr[lo:hi])[a - lo:b - lo]
            else:
                band = arr[a:b]
            np.add.reduce(band, axis=0, dtype=np.float64, out=rows[i])
        heights = np.diff(edges).astype(np.float64)
    sums, widths = _band_sums(rows, size, 1)
    # one division by the band's area: a mirrored frame gives exactly the mirrored thumbnail
    return (sums / (heights[:, None, None] * widths[None, :, None])).astype(np.float32)


def context_input(pixels: np.ndarray, size: int, encoding: str, dtype=np.float32,
                  detail: bool = False) -> np.ndarray:
    """The network's ``context`` input for a frame: :func:`frame_context` in ``encoding``, ``1 x C x S x S``.

    ``pixels``: ``HWC`` scene-linear in the model's colour space (the whole
    frame, not a tile); ``dtype``: the graph's input type (float32 or float16);
    ``detail``: add the detail channels (``C`` doubles).
    """
    from core.infer.encoding import encode_pixels

    thumb = encode_pixels(frame_context(pixels, size, detail), encoding)
    return np.ascontiguousarray(thumb.transpose(2, 0, 1)[None], dtype=dtype)
