"""A small, seeded CMA-ES (Hansen's covariance matrix adaptation evolution strategy) on a box.

:func:`cma_minimise` minimises ``f(x)`` over ``x`` in ``[0, 1]**n`` (points
are clipped to the box before evaluation) from a mean ``x0`` and a step
``sigma0`` (a scalar or one per coordinate: the search starts with a
diagonal covariance of those spreads). The update is the standard
(mu/mu_w, lambda) CMA-ES of Hansen's tutorial (arXiv:1604.00772): weighted
recombination, cumulative step-size adaptation, rank-one and rank-mu
covariance updates. Randomness is numpy's PCG64 from ``seed``: the same
``f``, start and seed give the same evaluations, in the same order.
Budget: ``max_evals`` evaluations, or ``max_seconds``; it stops early
when the step is below ``tol`` (in box units).

>>> res = cma_minimise(lambda x: float(((x - 0.3) ** 2).sum()), [0.8, 0.8], 0.3, seed=1, max_evals=400)
>>> bool(np.allclose(res.x, 0.3, atol=1e-3)), res.f < 1e-6
(True, True)
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class CMAResult:
    """Best point ``x`` (in the box), its value ``f``, ``evaluations`` made and why it stopped."""

    x: np.ndarray
    f: float
    evaluations: int
    stopped: str


def cma_minimise(f: Callable[[np.ndarray], float], x0: Sequence[float], sigma0: float | Sequence[float], *,
                 seed: int = 0, max_evals: int = 200, max_seconds: float | None = None, popsize: int = 0,
                 tol: float = 1e-6, progress: Callable[[int, float], None] | None = None) -> CMAResult:
    """Minimise ``f`` on ``[0, 1]**n`` (module docstring). ``popsize`` 0: ``4 + 3 ln n``.
    ``progress(evaluations, best)`` after each generation."""
    rng = np.random.default_rng(seed)
    mean = np.clip(np.asarray(x0, np.float64).reshape(-1), 0.0, 1.0)
    n = mean.size
    scales = np.broadcast_to(np.asarray(sigma0, np.float64), (n,)).copy()
    sigma = float(scales.max()) if n else 0.0
    best_x, best_f = mean.copy(), float(f(mean.copy()))
    evals = 1
    if n == 0 or sigma <= 0:
        return CMAResult(best_x, best_f, evals, "nothing to search")
    lam = popsize or 4 + int(3 * math.log(n))
    mu = lam // 2
    w = math.log(mu + 0.5) - np.log(np.arange(1, mu + 1))
    w /= w.sum()
    mueff = 1.0 / float((w ** 2).sum())
    cc = (4 + mueff / n) / (n + 4 + 2 * mueff / n)
    cs = (mueff + 2) / (n + mueff + 5)
    c1 = 2 / ((n + 1.3) ** 2 + mueff)
    cmu = min(1 - c1, 2 * (mueff - 2 + 1 / mueff) / ((n + 2) ** 2 + mueff))
    damps = 1 + 2 * max(0.0, math.sqrt((mueff - 1) / (n + 1)) - 1) + cs
    chin = math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n))
    pc, ps = np.zeros(n), np.zeros(n)
    C = np.diag((scales / sigma) ** 2)
    t0 = time.perf_counter()
    gen = 0
    stopped = "evaluations"
    while evals + lam <= max_evals:
        if max_seconds is not None and time.perf_counter() - t0 > max_seconds:
            stopped = "seconds"
            break
        vals, B = np.linalg.eigh(C)
        D = np.sqrt(np.maximum(vals, 1e-20))
        z = rng.standard_normal((lam, n))
        y = (z * D) @ B.T
        xs = mean + sigma * y
        fs = np.array([f(np.clip(x, 0.0, 1.0)) for x in xs], np.float64)
        evals += lam
        order = np.argsort(fs, kind="stable")
        if fs[order[0]] < best_f:
            best_f, best_x = float(fs[order[0]]), np.clip(xs[order[0]], 0.0, 1.0)
        y_sel = y[order[:mu]]
        y_w = w @ y_sel
        mean = mean + sigma * y_w
        inv_sqrt = B @ np.diag(1 / D) @ B.T
        ps = (1 - cs) * ps + math.sqrt(cs * (2 - cs) * mueff) * (inv_sqrt @ y_w)
        gen += 1
        hsig = float(np.linalg.norm(ps) / math.sqrt(1 - (1 - cs) ** (2 * gen)) / chin < 1.4 + 2 / (n + 1))
        pc = (1 - cc) * pc + hsig * math.sqrt(cc * (2 - cc) * mueff) * y_w
        rank_mu = (y_sel.T * w) @ y_sel
        C = ((1 - c1 - cmu) * C + c1 * (np.outer(pc, pc) + (1 - hsig) * cc * (2 - cc) * C) + cmu * rank_mu)
        C = (C + C.T) / 2
        sigma *= math.exp((cs / damps) * (np.linalg.norm(ps) / chin - 1))
        if progress is not None:
            progress(evals, best_f)
        if sigma * float(np.sqrt(np.max(np.diag(C)))) < tol:
            stopped = "converged"
            break
    return CMAResult(best_x, best_f, evals, stopped)
