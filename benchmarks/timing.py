"""Timing shared by the benchmarks: the best wall time of a few runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def best_of(fn: Callable[[], Any], repeat: int = 1, *,
            clock: Callable[[], float] = time.perf_counter) -> tuple[float, Any]:
    """Run ``fn`` ``repeat`` times; ``(shortest time in seconds, the last run's result)``.

    ``clock``: wall time by default; ``time.thread_time`` measures the CPU
    time of the calling thread only (for work that runs on it alone), which
    other processes on a loaded machine do not lengthen.
    """
    best, out = float("inf"), None
    for _ in range(max(1, repeat)):
        t0 = clock()
        out = fn()
        best = min(best, clock() - t0)
    return best, out
