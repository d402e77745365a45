"""The numba functions of :mod:`core.palette.compiled` (imported by it alone, and only when numba is installed).

They live at module level, not inside a function: numba's on-disk cache
finds a module's jitted functions again in every process, while functions
made in a closure (and a jitted helper they call) get a fresh cache key
each time, so every process compiled the encoder anew (the first encode of
a process took 16-21 s on a loaded 2-core machine; the index file grew by
one entry a run). See :mod:`core.palette.compiled` for what they compute
and why the results are the numpy path's bits.
"""

from __future__ import annotations

import numba
import numpy as np

from core.palette.assign import HDR_LIMIT, SDR_LIMIT
from core.palette.spaces import _CBRT_B1


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
    k = coarse.shape[0]
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
    # 3. exact integer keys on the fine grid, minimum over the entries (vectorised over pixels): four entries
    # per pass over the block (a quarter of the loads and stores of best); ``fine`` has a multiple of 4 rows,
    # the last entry repeated (the same key: the same minimum)
    inf = np.float64(np.inf)
    for i in range(n):
        best[i] = inf
    for j in range(0, fine.shape[0], 4):
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
