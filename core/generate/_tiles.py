"""Render an image in bands of rows, on one or more threads, with the same bytes either way.

Every generator computes a band of rows from the pixel coordinates alone, so
bands are independent: the thread count changes the speed, never the result
(each band is computed by the same operations in the same order). Bands of
about 64k pixels keep numpy's temporaries in the CPU cache.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: Pixels per band (rows = this // width, at least 1).
BAND_PIXELS = 1 << 16


def pixel_centres(n: int, start: int = 0) -> np.ndarray:
    """``float32`` pixel-centre coordinates ``start + 0.5 ... start + n - 0.5`` (exact below 2**23)."""
    return np.arange(start, start + n, dtype=np.float32) + np.float32(0.5)


def render_bands(width: int, height: int, channels: int, rows_fn: Callable[[int, int], np.ndarray], *,
                 threads: int | None = None) -> np.ndarray:
    """A ``float32`` ``HWC`` image whose rows ``y0:y1`` are ``rows_fn(y0, y1)`` (shape ``(y1-y0, W, C)``).

    ``threads``: ``None`` or 0 for :func:`core.threads.job_threads`' choice, else at most that many.
    """
    out = np.empty((height, width, channels), np.float32)
    step = max(1, BAND_PIXELS // max(width, 1))
    bands = [(y, min(y + step, height)) for y in range(0, height, step)]

    def work(band: tuple[int, int]) -> None:
        out[band[0]:band[1]] = rows_fn(*band)

    if len(bands) == 1 or threads == 1:
        n = 1
    else:
        from core.threads import job_threads

        n = job_threads(int(threads or 0))  # None / 0: the cores free now ($REELKIT_THREADS, reelkit --threads)
    if n == 1:
        for band in bands:
            work(band)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(n, len(bands))) as pool:
            list(pool.map(work, bands))
    return out
