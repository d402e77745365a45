"""Nearest palette entry for every pixel: exact arithmetic, deterministic, fast.

For a pixel with fit-space coordinates ``x = A u + o`` (see
:mod:`core.palette.spaces`) and palette entries ``c_k`` the squared distance
is ``|x|^2 + s_k`` with the score ``s_k = |c_k|^2 - 2 o.c_k + u.w_k``,
``w_k = -2 A^T c_k``: the nearest entry has the smallest score, and the
scores of a chunk of pixels are one ``(K, 4) @ (4, n)`` matrix product.

A floating-point matrix product is not reproducible across BLAS libraries,
CPU kernels and thread counts (summation order, FMA). Here every product is
*exact*: ``u`` is rounded to a fixed-point grid of step ``2**-19``, the
weights ``w`` and ``|c|^2 - 2 o.c`` to integers on a grid chosen from the
palette, and every partial sum stays below ``2**53``, so the float64 product
is the same integer whatever the order, the FMA use or the hardware. The
entry index is folded into the low ``b = bit_length(K - 1)`` bits of the key
(``key = 2**b * score + k``), so a plain minimum gives the nearest entry,
exact ties going to the lowest index.

Two grids share the 53 bits between ``u`` and ``w``: pixels with every
``|u| <= 2`` (LMS or XYZ/Xn up to 8: all SDR and most HDR pixels) get
``30 - b``-bit weights; brighter ones (``|u|`` up to 32, LMS up to 32768;
beyond, ``u`` is clipped for the choice of entry only) ``26 - b``-bit
weights. Which grid a pixel uses depends on the pixel alone.

Precision: rounding ``u`` moves a pixel by at most ``2**-20`` in ``u``
(about 0.001 ΔE OK x 100), rounding the weights changes a score by at most
``|u|_1 * max|w| * 2**-(bits + 1)``. The entry chosen is never farther from
the pixel than the nearest one by more than about 0.002 ΔE when palette
entries are at least 1 ΔE apart (``tests/test_palette_encode.py`` measures
it); between near-identical entries the choice may go either way.

The result depends only on the pixel and the palette: not on chunking,
threads, BLAS or CPU.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from core.palette.spaces import FitSpace
from core.threads import job_threads

U_BITS = 19  # fixed-point step of u: 2**-19
SDR_LIMIT = float(2**20)  # |u| <= 2 on the grid
HDR_LIMIT = float(2**24)  # |u| <= 32 on the grid (float32 holds these integers exactly)
DEFAULT_CHUNK = 1 << 15


@dataclasses.dataclass(frozen=True)
class Keys:
    """The integer-valued ``(K, 4)`` float64 key matrices of a palette (fine for |u| <= 2, coarse beyond)."""

    fine: np.ndarray
    coarse: np.ndarray
    index_bits: int

    @property
    def k(self) -> int:
        return int(self.fine.shape[0])


def _key_matrix(c: np.ndarray, space: FitSpace, u_limit: float, index_bits: int) -> np.ndarray:
    k = c.shape[0]
    A = space.post
    o = space.offset
    # w = -2 A^T c and beta = |c|^2 - 2 o.c, written out in a fixed order (no BLAS, no einsum).
    w = np.empty((k, 3), np.float64)
    for i in range(3):
        w[:, i] = -2.0 * ((A[0][i] * c[:, 0] + A[1][i] * c[:, 1]) + A[2][i] * c[:, 2])
    beta = (c[:, 0] * c[:, 0] + c[:, 1] * c[:, 1]) + c[:, 2] * c[:, 2]
    beta = beta - 2.0 * ((o[0] * c[:, 0] + o[1] * c[:, 1]) + o[2] * c[:, 2])
    limit = 2.0 ** (53 - index_bits)
    # weight bits such that 3 * u_limit * 2**wbits stays a quarter of the budget below the limit
    wbits = 53 - index_bits - math.ceil(math.log2(3.0 * u_limit)) - 1
    wmax = float(np.max(np.abs(w)))
    t = wbits - (math.frexp(wmax)[1] if wmax > 0 else 0)  # |w| * 2**t < 2**wbits
    while True:
        wq = np.rint(np.ldexp(w, t))
        bq = np.rint(np.ldexp(beta, U_BITS + t))  # scores are in units of 2**-(U_BITS + t)
        bound = 3.0 * u_limit * float(np.max(np.abs(wq))) + float(np.max(np.abs(bq)))
        if bound < limit:
            break
        t -= 1  # a large |c|^2 next to small weights: a coarser grid
    scale = float(1 << index_bits)
    out = np.empty((k, 4), np.float64)
    out[:, :3] = wq * scale
    out[:, 3] = bq * scale + np.arange(k, dtype=np.float64)
    return out


def key_matrix(centres: np.ndarray, space: FitSpace) -> Keys:
    """The key matrices of ``(K, 3)`` fit-space ``centres`` (``K <= 256``)."""
    c = np.asarray(centres, dtype=np.float64)
    k = c.shape[0]
    if not 1 <= k <= 256:
        raise ValueError(f"1..256 palette entries, got {k}")
    bits = max(1, (k - 1).bit_length())
    return Keys(_key_matrix(c, space, SDR_LIMIT, bits), _key_matrix(c, space, HDR_LIMIT, bits), bits)


def quantize_u(u: tuple, out: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    """Write ``rint(u * 2**19)`` clipped to ``+-2**24`` of the planar ``u`` into rows 0..2 of ``out`` (float64 (4, n))."""
    for i in range(3):
        np.multiply(u[i], np.float32(2.0**U_BITS), out=tmp)
        np.clip(tmp, -HDR_LIMIT, HDR_LIMIT, out=tmp)
        np.rint(tmp, out=out[i])  # an integer <= 2**24: the same value in float32 and float64
    return out


#: OpenBLAS runs a product of ``m * n * k <= 262144`` on the calling thread only.
#: Keeping each product under it avoids BLAS threads competing with the
#: encoder's own threads (and OpenBLAS's erratic wake-up latency on busy
#: machines). Speed only: the result is exact whatever BLAS does.
_BLAS_SINGLE_THREAD_MNK = 262144


def block_columns(k: int) -> int:
    """Columns per matrix product for a ``k``-entry palette (see ``_BLAS_SINGLE_THREAD_MNK``)."""
    return max(64, _BLAS_SINGLE_THREAD_MNK // (4 * k))


def _decode(keys: np.ndarray, ubuf: np.ndarray, kbuf: np.ndarray, best: np.ndarray, bits: int) -> np.ndarray:
    """Nearest entry of the ``(4, n)`` quantized points: keys product, column minimum, low bits.

    ``kbuf``: float64 scratch of at least ``K * block_columns(K)`` elements.
    """
    k = keys.shape[0]
    n = ubuf.shape[1]
    step = block_columns(k)
    flat = kbuf.reshape(-1)
    for a in range(0, n, step):
        b = min(a + step, n)
        kb = flat[: k * (b - a)].reshape(k, b - a)
        np.matmul(keys, ubuf[:, a:b], out=kb)
        np.minimum.reduce(kb, axis=0, out=best[a:b])
    idx = best[:n].astype(np.int64)
    np.bitwise_and(idx, (1 << bits) - 1, out=idx)
    return idx


def nearest_from_u(u: tuple, keys: Keys, ubuf: np.ndarray, tmp: np.ndarray,
                   kbuf: np.ndarray, best: np.ndarray) -> np.ndarray:
    """Index (``int64``) of the nearest entry for planar ``u`` (length ``n``).

    ``ubuf`` is a float64 ``(4, n)`` buffer whose row 3 holds ones; ``kbuf`` a
    float64 scratch of ``K * block_columns(K)`` elements; ``best`` a float64
    ``(n,)`` buffer.
    """
    quantize_u(u, ubuf, tmp)
    idx = _decode(keys.fine, ubuf, kbuf, best, keys.index_bits)
    uq = ubuf[:3]
    if max(float(uq.max()), -float(uq.min())) > SDR_LIMIT:
        bright = np.flatnonzero((np.abs(uq) > SDR_LIMIT).any(axis=0))
        sub = np.ascontiguousarray(ubuf[:, bright])
        idx[bright] = _decode(keys.coarse, sub, kbuf, np.empty(len(bright)), keys.index_bits)
    return idx


class QuantizedPoints:
    """``u`` of a fixed set of points, quantized once, for repeated assignments (Lloyd iterations).

    ``u``: ``(n, 3)`` float32. The same grid and clipping as the encoder, so a
    point gets the entry a pixel of the same colour would get.
    """

    def __init__(self, u: np.ndarray, *, chunk: int = DEFAULT_CHUNK):
        u = np.asarray(u, dtype=np.float32)
        self.n = n = len(u)
        self.chunks = []  # contiguous (4, m) blocks: BLAS wants contiguous operands
        bright = []
        for s in range(0, n, chunk):
            e = min(s + chunk, n)
            block = np.ones((4, e - s), np.float64)
            quantize_u(tuple(np.ascontiguousarray(u[s:e, i]) for i in range(3)), block, np.empty(e - s, np.float32))
            self.chunks.append((s, e, block))
            bright.append(s + np.flatnonzero((np.abs(block[:3]) > SDR_LIMIT).any(axis=0)))
        self.bright = np.concatenate(bright) if bright else np.zeros(0, np.int64)
        self.bright_block = None
        if len(self.bright):
            self.bright_block = np.ones((4, len(self.bright)), np.float64)
            quantize_u(tuple(np.ascontiguousarray(u[self.bright, i]) for i in range(3)), self.bright_block,
                       np.empty(len(self.bright), np.float32))

    def nearest(self, centres: np.ndarray, space: FitSpace) -> np.ndarray:
        """Index (``int64``) of the nearest of ``(K, 3)`` fit-space ``centres`` for every point."""
        keys = key_matrix(centres, space)
        out = np.empty(self.n, np.int64)
        m = max((e - s for s, e, _ in self.chunks), default=1)
        kbuf = np.empty(keys.k * block_columns(keys.k), np.float64)
        best = np.empty(m, np.float64)
        for s, e, block in self.chunks:
            out[s:e] = _decode(keys.fine, block, kbuf, best, keys.index_bits)
        if self.bright_block is not None:
            out[self.bright] = _decode(keys.coarse, self.bright_block, kbuf, np.empty(len(self.bright)),
                                       keys.index_bits)
        return out


def nearest_u_array(u: np.ndarray, centres: np.ndarray, space: FitSpace, *, chunk: int = DEFAULT_CHUNK) -> np.ndarray:
    """Nearest entry for ``u`` given as an ``(n, 3)`` float32 array (same result as the encoder)."""
    return QuantizedPoints(u, chunk=chunk).nearest(centres, space)


def run_chunks(n: int, chunk: int, threads: int | None, make_worker: Callable[[], Callable[[int, int], None]]) -> None:
    """Call a worker on ``[start, stop)`` ranges of ``n`` items, on ``threads`` threads.

    ``make_worker`` builds one worker (with its own scratch buffers) per
    thread. Chunks are disjoint, so the result does not depend on the thread
    count or the order chunks finish in.
    """
    threads = job_threads() if threads is None else max(1, int(threads))
    starts = list(range(0, n, chunk))
    if threads == 1 or len(starts) == 1:
        work = make_worker()
        for s in starts:
            work(s, min(s + chunk, n))
        return
    import threading

    local = threading.local()

    def task(s: int) -> None:
        work = getattr(local, "work", None)
        if work is None:
            work = local.work = make_worker()
        work(s, min(s + chunk, n))

    with ThreadPoolExecutor(max_workers=min(threads, len(starts))) as pool:
        for f in [pool.submit(task, s) for s in starts]:
            f.result()
