"""Encoding: every pixel -> its nearest palette entry, at full resolution; and back.

Outputs (all ``HW``, same height and width as the image)

``index``
    The entry of each pixel. ``uint8`` holds K <= 255, ``uint16`` any K
    (``index_dtype="auto"`` picks uint8 when it can). The largest value of
    the type (255 / 65535) is reserved: it marks pixels ignored because
    their alpha is at or below the threshold (:data:`MASKED_UINT8`,
    :data:`MASKED_UINT16`). Entries are in gradient order, so
    ``index / (K - 1)`` already rises along the hue path.
``distance``
    ``float32`` distance of the pixel to its entry in the fit space, in ΔE
    units (ΔE OK x 100 for OKLab, ΔE76 for Lab): the confidence of the
    encoding (0 where masked).
``gradient``
    ``float32`` 0..1: the entry's position along the hue path
    (``PaletteFit.positions``), a smooth scalar that keeps hue identity,
    where a luma matte would merge hues of equal brightness (0 where masked).
``reconstruction``
    ``float32`` ``HW3`` ACEScg: the entry's colour (0 where masked).

The assignment is exact and deterministic (:mod:`core.palette.assign`); the
result does not depend on ``chunk`` or ``threads``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from core.errors import ImageError, ParameterError
from core.frame import check_finite
from core.palette import controller
from core.palette.assign import block_columns, key_matrix, nearest_from_u, run_chunks
from core.palette.operator import PaletteFit
from core.palette.spaces import Workspace, get_space, rgb_to_u, u_to_x

MASKED_UINT8 = 255
MASKED_UINT16 = 65535
#: Pixels per work item of :func:`encode` (about 13 MB of scratch per thread).
ENCODE_CHUNK = 1 << 17


def masked_value(dtype: Any) -> int:
    """The reserved "no pixel" index of an index map type (255 or 65535)."""
    return int(np.iinfo(np.dtype(dtype)).max)


def index_dtype_for(k: int, index_dtype: str = "auto") -> np.dtype:
    """The index map type for ``k`` entries: ``uint8`` holds K <= 255, ``uint16`` any K <= 256."""
    index_dtype = controller.check_param("index_dtype", index_dtype)
    if index_dtype == "auto":
        return np.dtype(np.uint8) if k <= MASKED_UINT8 else np.dtype(np.uint16)
    dt = np.dtype(index_dtype)
    if k > masked_value(dt):
        raise ParameterError(
            f"parameter 'index_dtype': {index_dtype} holds at most {masked_value(dt)} entries "
            f"(its largest value marks masked pixels), k is {k}; use uint16 or auto"
        )
    return dt


@dataclasses.dataclass(frozen=True, eq=False)
class PaletteEncoding:
    """The encoding of one image with a :class:`~core.palette.PaletteFit`.

    ``index`` (``HW`` uint8/uint16, masked = dtype max), ``distance`` (``HW``
    float32 ΔE units, or ``None`` when not computed), ``mask`` (``HW`` bool,
    True where the pixel was encoded; ``None`` for RGB input: every pixel),
    ``counts`` (``(K,)`` int64 pixels per entry at full resolution) and the
    ``fit`` used.
    """

    index: np.ndarray
    distance: np.ndarray | None
    mask: np.ndarray | None
    counts: np.ndarray
    fit: PaletteFit

    @property
    def masked_value(self) -> int:
        return masked_value(self.index.dtype)

    def gradient(self) -> np.ndarray:
        """``HW`` float32 gradient map (0 where masked)."""
        return gradient_map(self.index, self.fit.positions)

    def reconstruction(self) -> np.ndarray:
        """``HW3`` float32 ACEScg: each pixel's palette colour (0 where masked)."""
        return decode(self.index, self.fit.palette_acescg)

    def output(self, name: str) -> np.ndarray:
        """The ``HWC`` float32 image of one output (``index`` | ``gradient`` | ``reconstruction`` | ``distance``).

        ``index`` is returned as float32 values (exact); ``distance`` needs
        an encoding made with ``distance=True``.
        """
        name = controller.check_param("output", name)
        if name == "index":
            return self.index.astype(np.float32)[..., None]
        if name == "gradient":
            return self.gradient()[..., None]
        if name == "reconstruction":
            return self.reconstruction()
        if self.distance is None:
            raise ParameterError("output 'distance': this encoding was made with distance=False")
        return self.distance[..., None]


def encode(image: Any, fit: PaletteFit, *, distance: bool = True, index_dtype: str = "auto",
           alpha_threshold: float | None = None, premultiplied: bool | None = None,
           chunk: int = ENCODE_CHUNK, threads: int | None = None, kernel: str = "auto") -> PaletteEncoding:
    """Map every pixel of ``image`` to its nearest entry of ``fit`` (full resolution).

    ``image``: ``float32`` ``HWC`` ACEScg, RGB or RGBA (as for
    :func:`~core.palette.fit_palette`). ``alpha_threshold`` and
    ``premultiplied`` default to the fit's. ``distance``: also compute the
    distance map. ``chunk`` pixels per work item and ``threads`` workers
    (default: the usable CPUs, at most 8) change speed only, never the result.
    ``kernel``: ``"numba"`` (:mod:`core.palette.compiled`, one fused pass),
    ``"numpy"``, or ``"auto"`` (numba when installed): the same bits either way.
    """
    from core.palette import compiled

    fused = compiled.choose(kernel) == "numba"
    # the compiled kernel checks that RGB is finite as it reads it (alpha it does not read: checked here)
    pixels, label = controller.check_image(image, finite=not fused)
    if fused and pixels.shape[2] == 4:
        check_finite(pixels, name=label)
    params = fit.params
    thr = controller.check_param("alpha_threshold", params.get("alpha_threshold", 0.0)
                                 if alpha_threshold is None else alpha_threshold)
    premult = controller.check_param("premultiplied", params.get("premultiplied", True)
                                     if premultiplied is None else premultiplied)
    chunk = int(chunk)
    if chunk < 1:
        raise ParameterError(f"parameter 'chunk': {chunk} must be >= 1")
    space = get_space(fit.space)
    k = fit.k
    dt = index_dtype_for(k, index_dtype)
    sentinel = masked_value(dt)
    h, w, c = pixels.shape
    n = h * w
    flat = pixels.reshape(n, c)
    mask = controller.valid_mask(pixels, thr)
    if mask is not None:
        controller.refuse_empty(mask, thr, label)
    flat_mask = None if mask is None else mask.reshape(n)
    keys = key_matrix(fit.palette, space)
    pal = fit.palette.astype(np.float32)
    index = np.empty(n, dt)
    dist = np.empty(n, np.float32) if distance else None
    counts_parts: list[np.ndarray] = []
    scratches: list[compiled.Scratch] = []
    scale = np.float32(space.scale)

    def make_worker():
        m = min(chunk, n)
        ws = Workspace(m)
        ubuf = np.ones((4, m), np.float64)
        kbuf = np.empty(k * block_columns(k), np.float64)
        best = np.empty(m, np.float64)
        planar = np.empty((3, m), np.float32)
        sel = np.empty(m, np.float32)
        scratch = compiled.Scratch(m) if fused else None
        if fused:
            scratches.append(scratch)
        local_counts = np.zeros(max(k, 1 << keys.index_bits), np.int64)  # a NaN pixel's entry may be any key's
        counts_parts.append(local_counts)

        def work(s: int, e: int) -> None:
            size = e - s
            wv = ws.view(size)
            pl = planar[:, :size]
            np.copyto(pl, flat[s:e, :3].T)  # de-interleave once; the kernels then run on contiguous rows
            if c == 4 and premult:
                a = np.maximum(flat[s:e, 3], np.float32(1e-30), out=wv.tmp2)
                np.divide(pl, a, out=pl)
                np.clip(pl, -1e6, 1e6, out=pl)
            if fused:
                u = wv.u
                whole = flat_mask is None  # no masked pixel: the kernel writes the index and counts itself
                idx = compiled.nearest(pl[0], pl[1], pl[2], space, keys, u, scratch,
                                       index=index[s:e] if whole else None, counts=local_counts if whole else None)
            else:
                u = rgb_to_u(space, pl[0], pl[1], pl[2], wv)
                idx = nearest_from_u(u, keys, ubuf[:, :size], wv.tmp, kbuf, best[:size])
            if distance:
                x = u_to_x(space, u, wv)
                acc = dist[s:e]
                for i in range(3):
                    np.take(pal[:, i], idx, out=sel[:size])
                    np.subtract(x[i], sel[:size], out=wv.tmp)
                    np.multiply(wv.tmp, wv.tmp, out=wv.tmp)
                    if i == 0:
                        acc[...] = wv.tmp
                    else:
                        np.add(acc, wv.tmp, out=acc)
                np.sqrt(acc, out=acc)
                np.multiply(acc, scale, out=acc)
            if flat_mask is not None:
                fm = flat_mask[s:e]
                local_counts[:k] += np.bincount(idx[fm], minlength=k)[:k]
                idx[~fm] = sentinel
                if distance:
                    dist[s:e][~fm] = 0.0
            elif not fused:
                local_counts[:k] += np.bincount(idx, minlength=k)[:k]
            if flat_mask is not None or not fused:
                index[s:e] = idx

        return work

    run_chunks(n, chunk, threads, make_worker)
    if not all(s.finite for s in scratches):
        check_finite(pixels, name=label)  # raises, naming the first NaN/Inf
    counts = np.sum(counts_parts, axis=0)[:k] if counts_parts else np.zeros(k, np.int64)
    return PaletteEncoding(
        index=index.reshape(h, w),
        distance=None if dist is None else dist.reshape(h, w),
        mask=mask,
        counts=counts.astype(np.int64),
        fit=fit,
    )


def _check_index(index: Any, k: int) -> np.ndarray:
    idx = np.asarray(index)
    if idx.ndim != 2 or idx.dtype not in (np.uint8, np.uint16):
        raise ImageError(f"index map: expected an HW uint8/uint16 array, got {idx.dtype} of shape {idx.shape}")
    sentinel = masked_value(idx.dtype)
    bad = (idx >= k) & (idx != sentinel)
    if bad.any():
        y, x = (int(v) for v in np.argwhere(bad)[0])
        raise ImageError(f"index map: value {int(idx[y, x])} at x={x} y={y} is not an entry of a {k}-colour palette")
    return idx


def decode(index: Any, palette_acescg: Any) -> np.ndarray:
    """``HW3`` float32 ACEScg colours of an index map (masked pixels -> 0).

    ``palette_acescg``: ``(K, 3)`` ACEScg (``PaletteFit.palette_acescg``).
    """
    pal = np.asarray(palette_acescg, dtype=np.float32)
    if pal.ndim != 2 or pal.shape[1] != 3:
        raise ParameterError(f"palette: expected (K, 3) ACEScg colours, got shape {pal.shape}")
    idx = _check_index(index, len(pal))
    table = np.zeros((masked_value(idx.dtype) + 1, 3), np.float32)
    table[: len(pal)] = pal
    return table[idx]


def gradient_map(index: Any, positions: Any) -> np.ndarray:
    """``HW`` float32 gradient values (``positions[index]``, masked pixels -> 0)."""
    pos = np.asarray(positions, dtype=np.float32).reshape(-1)
    idx = _check_index(index, len(pos))
    table = np.zeros(masked_value(idx.dtype) + 1, np.float32)
    table[: len(pos)] = pos
    return table[idx]
