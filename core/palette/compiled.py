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
runs encode in a process where ``import numba`` fails). The numba
functions are in :mod:`core.palette._compiled_numba`, at module level, so
that numba's on-disk cache (beside that module, when it can write there)
serves every later process: the first call of the first process compiles
(17.5 s on the loaded 2-core machine), later processes load it (2.3 s
there; before, built in a closure, every process compiled anew).

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
Where a 4K K=16 kernel call goes (one thread, thread CPU time): 60 ms,
of which the cube roots 9 ms and the keys of entries 1..15 24 ms. The
key matrix is now padded to a multiple of 4 rows (the last entry
repeated: the same key) and every entry goes through the four-entry
passes, the minimum starting at +inf (K=16: 4 passes over the block
instead of 1 + 3 + 3 single ones): kernel alone, best of 8 alternating,
load ~9.5, K=8 47.8 -> 40.6 ms, K=16 49.7 -> 40.6 ms, K=37 70.9 -> 70.6 ms,
the same bits.

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
from core.palette.assign import U_BITS, Keys
from core.palette.spaces import _LAB_DELTA, FitSpace

#: Encoder kernels: ``"numpy"`` (always there), ``"numba"`` (this module), ``"auto"`` (numba when installed).
KERNELS = kernels.KERNELS


@functools.lru_cache(maxsize=1)
def _compiled():
    """The numba kernel (:mod:`core.palette._compiled_numba`), or ``None`` when numba is not installed."""
    try:
        from core.palette import _compiled_numba
    except ImportError:
        return None
    return _compiled_numba.kernel


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
    finite = kernel(r, g, b, pre, space.nonlinearity == "lab_f", consts, _by_fours(keys.fine), keys.coarse,
                    keys.index_bits,
                    u[0], u[1], u[2], scratch.guess, *scratch.q, scratch.best, out, index, counts)
    scratch.finite &= bool(finite)
    return out


def _by_fours(fine: np.ndarray) -> np.ndarray:
    """The fine key matrix with its last row repeated up to a multiple of 4 rows (the kernel's passes take
    four entries; a repeated row has the same key, so the same minimum)."""
    k = fine.shape[0]
    pad = -k % 4
    return fine if not pad else np.concatenate([fine, np.repeat(fine[-1:], pad, axis=0)])


_NO_INDEX = np.zeros(0, np.uint8)
_NO_COUNTS = np.zeros(1, np.int64)
