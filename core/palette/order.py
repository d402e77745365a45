"""Gradient order: the palette laid along a hue-coherent path, so an index becomes a smooth 0..1 value.

The path is the shortest open path (travelling-salesman path, free ends)
through the palette entries under the metric

    d(i, j) = sqrt((w_L * ΔL)^2 + Δa^2 + Δb^2) * scale      (ΔE units)

in the fit space, with the lightness difference down-weighted by ``w_L``
(``lightness_weight``, default 0.5). Distances in the a/b plane are hue
differences weighted by chroma (ΔH ~ C Δh), so near-neutral entries, whose
hue is unreliable, sit close to everything of similar lightness and are
placed where they cost least, while saturated entries are chained by hue:
fire runs black -> deep red -> orange -> yellow -> white instead of jumping
between neutrals and hues as a plain hue-angle sort would.

Solver: exact (Held-Karp dynamic programme) for K <= 12; for larger K,
nearest-neighbour paths from every start, the shortest one improved by
2-opt until no reversal shortens it. Every step is deterministic (fixed loop
order, first minimum wins). The path runs from its darker end (lower L) to
its lighter end.

An entry's gradient position is its arc length along the path divided by
the total length, so positions are 0 for the first entry, 1 for the last,
and neighbouring entries that look alike get close values.
"""

from __future__ import annotations

import numpy as np

from core.palette.spaces import FitSpace

EXACT_MAX_K = 12


def path_metric(centres: np.ndarray, space: FitSpace, *, lightness_weight: float = 0.5) -> np.ndarray:
    """The ``(K, K)`` float64 matrix of path distances (ΔE units, lightness weighted)."""
    c = np.asarray(centres, dtype=np.float64)
    dl = (c[:, None, 0] - c[None, :, 0]) * lightness_weight
    da = c[:, None, 1] - c[None, :, 1]
    db = c[:, None, 2] - c[None, :, 2]
    return np.sqrt((dl * dl + da * da) + db * db) * space.scale


def _held_karp(d: np.ndarray) -> list[int]:
    k = len(d)
    full = (1 << k) - 1
    inf = np.inf
    dp = np.full((1 << k, k), inf)
    parent = np.full((1 << k, k), -1, dtype=np.int64)
    for j in range(k):
        dp[1 << j, j] = 0.0
    bits = 1 << np.arange(k)
    for mask in range(1, full + 1):
        row = dp[mask]
        if not np.isfinite(row).any():
            continue
        # extend by every k not in mask: cost[j, k] = dp[mask, j] + d[j, k]
        cost = row[:, None] + d
        best_j = np.argmin(cost, axis=0)
        best = cost[best_j, np.arange(k)]
        nxt = np.flatnonzero((mask & bits) == 0)
        if not len(nxt):
            continue
        m2 = mask | bits[nxt]
        upd = best[nxt] < dp[m2, nxt]  # strict: the first mask reaching a state keeps it
        dp[m2[upd], nxt[upd]] = best[nxt[upd]]
        parent[m2[upd], nxt[upd]] = best_j[nxt[upd]]
    end = int(np.argmin(dp[full]))
    path = [end]
    mask = full
    while True:
        p = int(parent[mask, path[-1]])
        if p < 0:
            break
        mask ^= 1 << path[-1]
        path.append(p)
    return path[::-1]


def _path_length(d: np.ndarray, path: list[int]) -> float:
    return float(sum(d[path[i], path[i + 1]] for i in range(len(path) - 1)))


def _nearest_neighbour(d: np.ndarray, start: int) -> list[int]:
    k = len(d)
    used = np.zeros(k, bool)
    path = [start]
    used[start] = True
    for _ in range(k - 1):
        row = np.where(used, np.inf, d[path[-1]])
        nxt = int(np.argmin(row))
        path.append(nxt)
        used[nxt] = True
    return path


def _two_opt(d: np.ndarray, path: list[int]) -> list[int]:
    """Reverse segments while that shortens the open path (first improvement, fixed order)."""
    p = np.array(path)
    k = len(p)
    improved = True
    while improved:
        improved = False
        for i in range(k - 1):
            # reverse p[i..j] for j > i: old edges (i-1, i), (j, j+1) -> (i-1, j), (i, j+1)
            j = np.arange(i + 1, k)
            prev = p[i - 1] if i > 0 else -1
            nxt = np.where(j + 1 < k, p[np.minimum(j + 1, k - 1)], -1)
            old = np.where(nxt >= 0, d[p[j], np.maximum(nxt, 0)], 0.0)
            new = np.where(nxt >= 0, d[p[i], np.maximum(nxt, 0)], 0.0)
            if prev >= 0:
                old = old + d[prev, p[i]]
                new = new + d[prev, p[j]]
            gain = old - new
            best = int(np.argmax(gain))
            if gain[best] > 1e-12 * (1.0 + old[best]):
                jj = int(j[best])
                p[i:jj + 1] = p[i:jj + 1][::-1].copy()
                improved = True
    return [int(v) for v in p]


def gradient_order(centres: np.ndarray, space: FitSpace, *, lightness_weight: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """``(order, positions)``: the path through the entries and each path entry's 0..1 position.

    ``order[i]`` is the index (into ``centres``) of the i-th entry along the
    path; ``positions[i]`` its normalised arc length (float64, ``positions[0]
    == 0``, ``positions[-1] == 1``; all 0 for a single entry).
    """
    c = np.asarray(centres, dtype=np.float64)
    k = len(c)
    if k == 1:
        return np.zeros(1, np.int64), np.zeros(1)
    d = path_metric(c, space, lightness_weight=lightness_weight)
    if k <= EXACT_MAX_K:
        path = _held_karp(d)
    else:
        best, best_len = None, np.inf
        for s in range(k):
            cand = _nearest_neighbour(d, s)
            length = _path_length(d, cand)
            if length < best_len:
                best, best_len = cand, length
        path = _two_opt(d, best)
    first, last = c[path[0]], c[path[-1]]
    if tuple(first) > tuple(last):  # dark end first (L, then a, then b)
        path = path[::-1]
    steps = np.array([d[path[i], path[i + 1]] for i in range(k - 1)])
    cum = np.concatenate([[0.0], np.cumsum(steps)])
    total = cum[-1]
    positions = cum / total if total > 0 else np.linspace(0.0, 1.0, k)
    return np.array(path, dtype=np.int64), positions
