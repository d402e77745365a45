"""The numba kernel of :mod:`core.infer.filterbank` (imported by it alone, and only when numba is installed).

At module level, not inside a function, so that numba's on-disk cache finds it again in every process (a
function made in a closure gets a fresh cache key each time, and every process compiled it anew; see
:mod:`core.palette._compiled_numba`). What it computes, and why it gives the numpy path's bits:
:func:`core.infer.filterbank._apply_numpy`.
"""

from __future__ import annotations

import numba


@numba.njit(nogil=True, cache=True, parallel=True)
def kernel(padded, bucket, weights, radius, out):  # pragma: no cover - compiled
    """``out[y, x, o] = bias + sum_j feature_j * weight_jo`` of each pixel's bucket, in float32, in feature
    order; rows on numba's threads (each pixel on its own: the same bits on any thread count)."""
    side = 2 * radius + 1
    last = weights.shape[1] - 1
    for y in numba.prange(bucket.shape[0]):
        for x in range(bucket.shape[1]):
            k = bucket[y, x]
            for o in range(3):
                acc = weights[k, last, o]
                j = 0
                for dy in range(side):
                    for dx in range(side):
                        for c in range(3):
                            acc += padded[y + dy, x + dx, c] * weights[k, j, o]
                            j += 1
                out[y, x, o] = acc
