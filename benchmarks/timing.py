"""Timing shared by the benchmarks: the best wall time of a few runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def best_of(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Run ``fn`` ``repeat`` times; ``(shortest wall time in seconds, the last run's result)``."""
    best, out = float("inf"), None
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out
