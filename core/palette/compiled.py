"""A compiled nearest-entry kernel: the encoder's arithmetic fused into one pass, bit-identical to the numpy path.

The numpy encoder (:mod:`core.palette.spaces` then :mod:`core.palette.assign`)
makes about twenty passes over each chunk: the 3x3 matrix, the cube root's
bit guess and two Newton steps per channel, the fixed-point rounding, a
``(K, 4) @ (4, n)`` product and a column minimum. This module does the same
operations, in the same order and the same precision, in one numba call
per chunk (``nogil``, so :func:`core.palette.assign.run_chunks` threads run
in parallel), :data:`BLOCK` pixels at a time so that its scratch stays in
the cache, each step a loop LLVM vectorises (``error_model="numpy"``: no
division-by-zero branch):

- float32 ``(m0 r + m1 g) + m2 b`` for each of the three rows (as
  ``_matrix3``), with the matrices' float32 constants;
- the cube root of :func:`core.palette.spaces.cbrt_f32`: the integer bit
  guess ``(|bits| // 3 + B1) | sign``, then twice ``y <- y * 2/3 + (x/3) / y^2``
  in float32; for CIE Lab the linear segment below ``(6/29)^3``;
- ``rint(clip(u * 2**19, -2**24, 2**24))`` and the exact integer keys of
  :func:`core.palette.assign.key_matrix` (fine grid, the coarse one when a
  coordinate passes ``2**20``): every partial sum is an integer below
  ``2**53``, so the order of the sum does not matter;
- the minimum key's low bits are the entry.

numba compiles without ``fastmath``: LLVM then neither reorders float
operations nor fuses a multiply and an add into an FMA, so each float32
operation rounds exactly as numpy's does. ``tests/test_palette_compiled.py``
checks the index (and ``u``) bit for bit against the numpy path on photos,
HDR values up to 1e6, negatives, both fit spaces and K from 2 to 256.

numba is optional (the ``fast`` extra, also in ``all`` and ``dev``; the
``dataset`` extra's umap-learn brings it too): :func:`available` says
whether it is there, and ``encode(kernel="auto")`` keeps the numpy path
without it, with the same bits (``tests/test_palette_kernel_fallback.py``
runs encode in a process where ``import numba`` fails). The first call compiles (a few seconds;
numba caches the machine code on disk beside this module when it can
write there).

Speed (``benchmarks/palette_bench.py``, 3840x2160, K=16, 2 shared CPUs,
both paths in the same run): encode (index only) 50.8 ms against 252 ms for
the numpy path (5.0x), 4.0x the memory-bandwidth floor against 20x; with
the distance map 123 ms. For an image without masked pixels the kernel
also writes the index map's own type and the per-entry counts. The keys
are then computed four entries per pass over a block (a quarter of the
loads and stores of the running minimum): one thread, 4K, best of 6
alternating with the former one-entry passes in one process (2 CPUs under
load 4.5), K=8 101 -> 91 ms, K=16 88.5 -> 60.1 ms, K=37 225 -> 161 ms,
the same bits. The issue's target, 3x the floor, is not shown yet: under
that load palette_bench gave 5.8x (111 ms against 19.3 ms); on a quiet
machine it was 4.0x before this change. The kernel also checks that every
input is finite as it reads it (``encode`` no longer reads the frame once
more to check it first): 4K, K=16, one thread, thread CPU time, best of 8
alternating (load ~11): 67.2 -> 61.5 ms. Quiet (load 0.0, 2026-12-08,
before that): 61.3 ms on two threads against a 10.1 ms floor, 6.1x.

Tried and dropped: a 3D LUT over the bits of the linear LMS (8 cells per
octave, 2**-12..4, each cell verified on first use at the 8 corners of
its fixed-point box, keys being affine in q; bit-identical on 4K rocket):
on 1080p rocket it was slower than this kernel (K=16 22 ms against 16 ms,
thread CPU time), since 16% (K=8) to 27% (K=16) of the pixels sit in
cells the palette splits and take this kernel anyway, and reading the
input and finding the cell already cost half of it. Passing the
interleaved channels to the kernel instead of de-interleaving them first
made no difference (17.7 against 17.3 ms).
"""

from __future__ import annotations

import functools

import numpy as np

from core import kernels
from core.palette.assign import HDR_LIMIT, SDR_LIMIT, U_BITS, Keys
from core.palette.spaces import _CBRT_B1, _LAB_DELTA, FitSpace

#: Encoder kernels: ``"numpy"`` (always there), ``"numba"`` (this module), ``"auto"`` (numba when installed).
KERNELS = kernels.KERNELS


@functools.lru_cache(maxsize=1)
def _compiled():
    """The numba function, or ``None`` when numba is not installed (compiled on first use)."""
    try:
        import numba
    except ImportError:
        return None

    @numba.njit(nogil=True, cache=True, inline="always", error_model="numpy")
    def channel(u, guess, q, lab, consts):  # pragma: no cover - compiled
        """Cube root of ``u`` in place (cbrt_f32; the CIE f(t) line for Lab), then its fixed point into ``q``."""
        n = u.shape[0]
        third, two_thirds, delta3, lab_k, lab_4, ustep = consts[0], consts[1], consts[2], consts[3], consts[4], consts[5]
        ulimit = np.float32(HDR_LIMIT)
        b1 = np.int32(_CBRT_B1)
        sign = np.int32(-0x80000000)
        absm = np.int32(0x7FFFFFFF)
        ub = u.view(np.int32)
        gf = guess.view(np.float32)
        for i in range(n):  # the guess from the bit pattern (int32)
            x = ub[i]
            guess[i] = (((x & absm) // np.int32(3)) + b1) | (x & sign)
        for i in range(n):  # two Newton steps (float32)
            x3 = u[i] * third
            y = gf[i]
            y = y * two_thirds + x3 / (y * y)
            y = y * two_thirds + x3 / (y * y)
            gf[i] = y
        if lab:
            for i in range(n):
                x = u[i]
                if not x > delta3:
                    gf[i] = x * lab_k + lab_4
        for i in range(n):
            y = gf[i]
            u[i] = y
            v = y * ustep
            v = max(v, -ulimit)
            v = min(v, ulimit)
            q[i] = np.rint(v)

    @numba.njit(nogil=True, cache=True, inline="always", error_model="numpy")
    def block(r, g, b, pre, lab, consts, fine, coarse, bits, u0, u1, u2, guess, q0, q1, q2, best, out, index,
              counts):  # pragma: no cover
        n = r.shape[0]
        k = fine.shape[0]
        # 1. v = pre . rgb (float32, the order of _matrix3), written to u0..u2; whether every input is finite
        fmax = np.float32(np.inf)
        finite = True
        for i in range(n):
            ri, gi, bi = r[i], g[i], b[i]
            u0[i] = (ri * pre[0, 0] + gi * pre[0, 1]) + bi * pre[0, 2]
            u1[i] = (ri * pre[1, 0] + gi * pre[1, 1]) + bi * pre[1, 2]
            u2[i] = (ri * pre[2, 0] + gi * pre[2, 1]) + bi * pre[2, 2]
            finite &= (abs(ri) < fmax) & (abs(gi) < fmax) & (abs(bi) < fmax)  # False for NaN and +-Inf
        # 2. cube root and fixed point, channel by channel
        channel(u0, guess, q0, lab, consts)
        channel(u1, guess, q1, lab, consts)
        channel(u2, guess, q2, lab, consts)
        # 3. exact integer keys on the fine grid, minimum over the entries (vectorised over pixels)
        for i in range(n):
            best[i] = ((fine[0, 0] * q0[i] + fine[0, 1] * q1[i]) + fine[0, 2] * q2[i]) + fine[0, 3]
        j = 1
        while j + 4 <= k:  # four entries per pass over the block: a quarter of the loads and stores of best
            a0, a1, a2, a3 = fine[j, 0], fine[j, 1], fine[j, 2], fine[j, 3]
            b0, b1, b2, b3 = fine[j + 1, 0], fine[j + 1, 1], fine[j + 1, 2], fine[j + 1, 3]
            c0, c1, c2, c3 = fine[j + 2, 0], fine[j + 2, 1], fine[j + 2, 2], fine[j + 2, 3]
            d0, d1, d2, d3 = fine[j + 3, 0], fine[j + 3, 1], fine[j + 3, 2], fine[j + 3, 3]
            for i in range(n):
                x0, x1, x2 = q0[i], q1[i], q2[i]
                ka = ((a0 * x0 + a1 * x1) + a2 * x2) + a3
                kb = ((b0 * x0 + b1 * x1) + b2 * x2) + b3
                kc = ((c0 * x0 + c1 * x1) + c2 * x2) + c3
                kd = ((d0 * x0 + d1 * x1) + d2 * x2) + d3
                best[i] = min(best[i], min(min(ka, kb), min(kc, kd)))
            j += 4
        for jj in range(j, k):
            w0, w1, w2, w3 = fine[jj, 0], fine[jj, 1], fine[jj, 2], fine[jj, 3]
            for i in range(n):
                key = ((w0 * q0[i] + w1 * q1[i]) + w2 * q2[i]) + w3
                best[i] = min(best[i], key)
        # 4. bright pixels (a coordinate beyond 2**20 on the grid): the coarse grid's keys
        for i in range(n):
            if abs(q0[i]) > SDR_LIMIT or abs(q1[i]) > SDR_LIMIT or abs(q2[i]) > SDR_LIMIT:
                m = ((coarse[0, 0] * q0[i] + coarse[0, 1] * q1[i]) + coarse[0, 2] * q2[i]) + coarse[0, 3]
                for j in range(1, k):
                    key = ((coarse[j, 0] * q0[i] + coarse[j, 1] * q1[i]) + coarse[j, 2] * q2[i]) + coarse[j, 3]
                    m = min(m, key)
                best[i] = m
        mask = np.int64((1 << bits) - 1)
        kmax = np.float64(2.0**53)
        for i in range(n):
            key = best[i]
            if not abs(key) < kmax:  # NaN/Inf input: any entry (the caller refuses the image), a defined cast
                key = 0.0
            out[i] = np.int64(key) & mask
        if index.shape[0]:  # the index map's own type, and the pixel count per entry (2**bits of them)
            for i in range(n):
                e = out[i]
                index[i] = e
                counts[e] += 1
        return finite

    @numba.njit(nogil=True, cache=True, error_model="numpy")
    def kernel(r, g, b, pre, lab, consts, fine, coarse, bits, u0, u1, u2, guess, q0, q1, q2, best, out, index,
               counts):  # pragma: no cover
        n = r.shape[0]
        step = guess.shape[0]  # blocks small enough for the scratch to stay in cache
        finite = True
        for s in range(0, n, step):
            e = min(s + step, n)
            m = e - s
            finite &= block(r[s:e], g[s:e], b[s:e], pre, lab, consts, fine, coarse, bits, u0[s:e], u1[s:e], u2[s:e],
                            guess[:m], q0[:m], q1[:m], q2[:m], best[:m], out[s:e],
                            index[s:e] if index.shape[0] else index, counts)
        return finite

    return kernel


def available() -> bool:
    """Whether the compiled kernel can run (numba installed)."""
    return _compiled() is not None


def choose(kernel: str) -> str:
    """``"numpy"`` or ``"numba"`` for a :data:`KERNELS` name (:func:`core.kernels.choose`)."""
    return kernels.choose(kernel, available)


def _constants(space: FitSpace) -> tuple[np.ndarray, np.ndarray]:
    pre = np.array(space.pre, dtype=np.float64).astype(np.float32)  # the kernels' np.float32(m[i][j])
    consts = np.array([1.0 / 3.0, 2.0 / 3.0, _LAB_DELTA**3, 1.0 / (3.0 * _LAB_DELTA**2), 4.0 / 29.0, 2.0**U_BITS],
                      dtype=np.float64).astype(np.float32)
    return pre, consts


#: Pixels the kernel works on at a time (its float64 scratch, 32 bytes a pixel, stays in the L1/L2 cache).
BLOCK = 2048


class Scratch:
    """Per-thread buffers of :func:`nearest` for chunks of up to ``n`` pixels.

    ``finite``: False once :func:`nearest` has seen a NaN or an infinity in
    its input (the entries it then gives are meaningless, and the caller
    refuses the image: :func:`core.palette.encode`).
    """

    def __init__(self, n: int):
        m = min(n, BLOCK)
        self.guess = np.empty(m, np.int32)
        self.q = tuple(np.empty(m, np.float64) for _ in range(3))
        self.best = np.empty(m, np.float64)
        self.out = np.empty(n, np.int64)
        self.finite = True


def nearest(r: np.ndarray, g: np.ndarray, b: np.ndarray, space: FitSpace, keys: Keys, u: tuple,
            scratch: Scratch, *, index: np.ndarray | None = None, counts: np.ndarray | None = None) -> np.ndarray:
    """Nearest entry (``int64``, a view of ``scratch``) of ACEScg channels ``r, g, b`` (contiguous float32).

    Also leaves ``u = g(B . rgb)`` (:func:`core.palette.spaces.rgb_to_u`,
    the same bits) in the three contiguous float32 arrays ``u``, for the
    distance map. Same result as :func:`core.palette.assign.nearest_from_u`
    on :func:`~core.palette.spaces.rgb_to_u`. ``index`` (an unsigned integer
    array of length n) and ``counts`` (``(2**keys.index_bits,)`` int64: a
    non-finite pixel's entry may be any of them): also write the entries
    there and add one per pixel to its entry's count, in the same pass (for
    an image without masked pixels). The same pass checks that every input
    is finite (``scratch.finite``), so the caller need not read the image
    once more to check it first.
    """
    kernel = _compiled()
    pre, consts = _constants(space)
    n = len(r)
    out = scratch.out[:n]
    if index is None:
        index, counts = _NO_INDEX, _NO_COUNTS
    finite = kernel(r, g, b, pre, space.nonlinearity == "lab_f", consts, keys.fine, keys.coarse, keys.index_bits,
                    u[0], u[1], u[2], scratch.guess, *scratch.q, scratch.best, out, index, counts)
    scratch.finite &= bool(finite)
    return out


_NO_INDEX = np.zeros(0, np.uint8)
_NO_COUNTS = np.zeros(1, np.int64)
