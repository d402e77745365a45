"""Tiled evaluation of a translation-equivariant image network with feathered blending.

The frame is reflect-padded by the model's halo (``receptive_field // 2``)
on every side and to a multiple of ``multiple_of``, then cut into tiles
of side at most ``tile`` that overlap their neighbours by at least
``overlap`` pixels — as few tiles as that allows, shrunk to share the frame
evenly (so a tile may be rectangular, and no thin last tile costs a full
one); tile sides and origins are multiples of ``multiple_of`` (networks that downsample
are equivariant only to such shifts). Near a tile's edge the network sees
its own zero padding instead of the neighbouring pixels, so the ``halo``
pixels along each inner tile edge get weight 0; across the rest of each
overlap (``overlap - 2 * halo`` pixels, at least 1) the weight of one tile
falls as a raised cosine while its neighbour's rises, and the weights are
normalised to sum to exactly 1 at every pixel. Every output pixel is
therefore a convex blend of tile outputs that each equal what the network
gives on the whole padded frame: the tiled result matches the whole-frame
result to float rounding, borders included, when ``overlap`` is at least
``2 * halo + 1`` (the receptive field for an odd one).

Weights are separable (one 1D profile per axis), so a tile's 2D weight is
an outer product and tiles accumulate straight into one output buffer. The
padded frame is never built: each tile's crop is cut from the input, the
reflected rows and columns of a border tile gathered by index, so the
memory is the input plus the output plus a tile, whatever the frame size.

Layout: ``HWC`` ``float32`` arrays, any number of channels; the function
evaluated maps an ``(h, w, C)`` crop to an ``(h, w, C_out)`` array.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np

from core.errors import ParameterError
from core.jobs import ProgressFn

#: Extra overlap beyond ``2 * halo + 1`` when ``overlap=0`` (auto): a 16-pixel feather.
AUTO_FEATHER = 16


@dataclasses.dataclass(frozen=True)
class AxisTiles:
    """Tiles along one axis of length ``length`` (image pixels).

    ``padded``: padded length (``halo`` before the image, the rest after);
    ``size``: tile side; per tile: ``origins`` (in padded coordinates), the
    image span ``starts[i]:stops[i]`` it contributes to, and ``weights[i]``
    (``float32``, one per pixel of that span; over all tiles they sum to 1).
    """

    length: int
    halo: int
    padded: int
    size: int
    origins: tuple[int, ...]
    starts: tuple[int, ...]
    stops: tuple[int, ...]
    weights: tuple[np.ndarray, ...]

    def local(self, i: int) -> slice:
        """The part of tile ``i``'s output (tile coordinates) that lands on its image span."""
        first = self.starts[i] + self.halo - self.origins[i]
        return slice(first, first + self.stops[i] - self.starts[i])


def _round_up(n: int, m: int) -> int:
    return -(-n // m) * m


def resolve_tiling(*, tile: int, overlap: int, halo: int, multiple_of: int) -> tuple[int, int]:
    """Effective ``(tile, overlap)``: overlap ``0`` means auto (``2 * halo + 1 + 16``); both are
    rounded to multiples of ``multiple_of`` (overlap up, tile down). ``tile`` 0 means the whole frame.

    Raises :class:`~core.errors.ParameterError` when the overlap is below the
    receptive field (the tiles would show seams) or leaves no stride.
    """
    m = int(multiple_of)
    need = 2 * halo + 1
    if overlap < 0 or tile < 0:
        raise ParameterError(f"tile {tile} / overlap {overlap}: must be >= 0")
    if overlap == 0:
        overlap = need + AUTO_FEATHER
    if overlap < need:
        raise ParameterError(f"overlap {overlap} is below the model's receptive field ({need} px): tiles would "
                             f"show seams; use --overlap {need} or more (0 = auto)")
    overlap = _round_up(overlap, m)
    if tile == 0:
        return 0, overlap
    tile = tile // m * m
    if tile < overlap + m:
        raise ParameterError(f"tile {tile} must exceed the overlap {overlap} by at least {m} px "
                             f"(the model's multiple_of); use a larger --tile or 0 for the whole frame")
    return tile, overlap


def axis_tiles(length: int, *, tile: int, overlap: int, halo: int, multiple_of: int = 1) -> AxisTiles:
    """Plan the tiles along one axis; ``tile`` and ``overlap`` as returned by :func:`resolve_tiling`.

    >>> ax = axis_tiles(1000, tile=256, overlap=32, halo=4)
    >>> ax.padded, ax.size, ax.origins
    (1008, 228, (0, 196, 392, 588, 780))
    >>> ax.starts, ax.stops
    ((0, 196, 392, 588, 780), (220, 416, 612, 808, 1000))
    """
    padded = _round_up(length + 2 * halo, multiple_of)
    if tile == 0 or tile >= padded:
        size, origins = padded, [0]
    else:
        # as few tiles as the limit allows, shrunk to share the length evenly (no thin last tile doing a
        # full tile's work): n tiles of side `size` overlapping by `overlap` cover `padded`
        n = -(-(padded - overlap) // (tile - overlap))
        size = _round_up(-(-(padded + (n - 1) * overlap) // n), multiple_of)
        origins = sorted({*(i * (size - overlap) for i in range(n - 1)), padded - size})
    raw = [np.ones(size, dtype=np.float64) for _ in origins]
    for i in range(len(origins) - 1):
        lo = origins[i + 1] + halo            # padded coordinates of the cross-fade between tiles i and i+1
        hi = origins[i] + size - halo
        width = hi - lo
        if width < 1:  # guaranteed by resolve_tiling; a plain error if called with unchecked values
            raise ParameterError(f"overlap {overlap} leaves no cross-fade for halo {halo}")
        rise = np.sin(0.5 * math.pi * (np.arange(width) + 0.5) / width) ** 2
        nxt, cur = raw[i + 1], raw[i]
        nxt[:halo] = 0.0
        nxt[halo:halo + width] *= rise
        cur[size - halo - width:size - halo] *= 1.0 - rise
        cur[size - halo:] = 0.0
    total = np.zeros(length, dtype=np.float64)
    spans = []
    for o, w in zip(origins, raw):
        nonzero = np.flatnonzero(w)  # the halo of an inner edge has weight 0: leave it out of the span
        start = max(o - halo + int(nonzero[0]), 0)
        stop = min(o - halo + int(nonzero[-1]) + 1, length)
        piece = w[start + halo - o:stop + halo - o]
        total[start:stop] += piece
        spans.append((start, stop, piece))
    if not np.all(total > 0):  # cannot happen when overlap >= 2 * halo + 1
        raise ParameterError(f"tiling {tile}/{overlap} leaves pixels uncovered for halo {halo}")
    starts, stops, weights = [], [], []
    for start, stop, piece in spans:
        starts.append(start)
        stops.append(stop)
        weights.append((piece / total[start:stop]).astype(np.float32))
    return AxisTiles(length, halo, padded, size, tuple(origins), tuple(starts), tuple(stops), tuple(weights))


def _source_span(start: int, stop: int, length: int) -> slice | np.ndarray:
    """Image indices of the padded positions ``start..stop`` (halo already subtracted) along an axis of
    ``length`` pixels: a slice inside the image, else numpy's ``"reflect"`` padding (the mirror without
    repeating the edge pixel, repeated as often as needed) as an index array."""
    if 0 <= start and stop <= length:
        return slice(start, stop)
    i = np.arange(start, stop)
    if length == 1:
        return np.zeros_like(i)
    period = 2 * (length - 1)
    i = np.mod(i, period)
    return np.where(i >= length, period - i, i)


def _runs(index: slice | np.ndarray) -> list[tuple[int, int, slice]]:
    """``index`` (a slice, or :func:`_source_span`'s index array) as pieces ``(start, stop, source slice)``:
    maximal runs of consecutive indices, rising or falling (a reflected border is one falling run)."""
    if isinstance(index, slice):
        return [(0, index.stop - index.start, index)]
    out, i, n = [], 0, len(index)
    while i < n:
        step = int(index[i + 1] - index[i]) if i + 1 < n and abs(int(index[i + 1] - index[i])) == 1 else 1
        j = i + 1
        while j < n and index[j] - index[j - 1] == step:
            j += 1
        first, last = int(index[i]), int(index[j - 1])
        out.append((i, j, slice(first, last + 1) if step == 1 else slice(first, last - 1 if last else None, -1)))
        i = j
    return out


def _crop(pixels: np.ndarray, rows: slice | np.ndarray, cols: slice | np.ndarray) -> np.ndarray:
    """``pixels[rows][:, cols]`` copying at most the crop (a view when both are slices).

    A reflected border is copied run by run (:func:`_runs`), block by block: the same values as numpy's
    fancy indexing, 9x faster for a whole padded 4K frame (43 ms against 390 ms).
    """
    if isinstance(rows, slice) and isinstance(cols, slice):
        return pixels[rows, cols]
    row_runs, col_runs = _runs(rows), _runs(cols)
    out = np.empty((row_runs[-1][1], col_runs[-1][1], *pixels.shape[2:]), dtype=pixels.dtype)
    for r0, r1, rs in row_runs:
        for c0, c1, cs in col_runs:
            out[r0:r1, c0:c1] = pixels[rs, cs]
    return out


def run_tiled(fn: Callable[[np.ndarray], np.ndarray], pixels: np.ndarray, *, tile: int, overlap: int,
              halo: int, multiple_of: int = 1, out_channels: int | None = None,
              out: np.ndarray | None = None,
              progress: ProgressFn | None = None) -> tuple[np.ndarray, int]:
    """Evaluate ``fn`` over ``pixels`` (``HWC`` ``float32``) tile by tile; returns ``(output, tiles run)``.

    ``tile``/``overlap`` as returned by :func:`resolve_tiling` (``tile`` 0:
    one tile over the whole padded frame). ``fn`` takes a ``(t, t, C)`` crop
    of the frame reflect-padded by ``halo`` (and up to a multiple of
    ``multiple_of``) and returns ``(t, t, out_channels)`` (default: C).
    ``out``: an ``(H, W, out_channels)`` ``float32`` array (or view) to
    write the result into instead of a new one; it is returned.
    ``progress(tiles done, tiles in the frame)`` is called after each tile.
    """
    h, w, c = pixels.shape
    rows = axis_tiles(h, tile=tile, overlap=overlap, halo=halo, multiple_of=multiple_of)
    cols = axis_tiles(w, tile=tile, overlap=overlap, halo=halo, multiple_of=multiple_of)
    if out is None:
        out = np.zeros((h, w, out_channels or c), dtype=np.float32)
    else:
        out[...] = 0.0
    count = 0
    for i, y0 in enumerate(rows.origins):
        ys = slice(rows.starts[i], rows.stops[i])
        src_rows = _source_span(y0 - halo, y0 - halo + rows.size, h)
        for j, x0 in enumerate(cols.origins):
            xs = slice(cols.starts[j], cols.stops[j])
            result = fn(_crop(pixels, src_rows, _source_span(x0 - halo, x0 - halo + cols.size, w)))
            count += 1
            crop = result[rows.local(i), cols.local(j)]
            if len(rows.origins) == len(cols.origins) == 1:  # one tile: its weights are exactly 1
                np.add(out[ys, xs], crop, out=out[ys, xs])  # the same bits as out + crop * 1, a third of the work
            else:
                out[ys, xs] += crop * (rows.weights[i][:, None, None] * cols.weights[j][None, :, None])
            if progress is not None:
                progress(count, len(rows.origins) * len(cols.origins))
    return out, count
