"""Operator: fit a K-colour palette to an image (or a shot) with deterministic k-means.

Algorithm
    1. Pixels with alpha <= ``alpha_threshold`` are ignored (RGBA input;
       premultiplied colour is divided by alpha first).
    2. A seeded sample of up to ``sample_size`` pixels (uniform, with
       replacement, duplicates dropped) is converted to the fit space
       (:mod:`core.palette.spaces`) and reduced to its distinct colours with
       their counts as weights. If the sample holds fewer than ``k`` distinct
       colours, every usable pixel is used instead; fewer than ``k`` there is
       a :class:`~core.errors.ParameterError`.
    3. Every distinct colour gets a fit weight: the pixels it stands for,
       times the ``weight`` mode's factor (:mod:`core.palette.weights`:
       ``"count"`` 1, ``"chroma"`` or ``"energy"`` more for vivid, bright
       colours). Counts, shares and distances reported stay per pixel.
    4. Greedy weighted k-means++ (Arthur & Vassilvitskii 2007; ``2 + ln k``
       candidates per step, the one lowering the potential most is kept, as
       in scikit-learn) picks ``k`` distinct starting colours. With
       ``fixed`` entries (locked colours), k-means++ starts from them as if
       already chosen and picks the ``k - len(fixed)`` others.
    5. Lloyd iterations: assign (:mod:`core.palette.assign`, exact), move
       every entry to the weighted mean of its colours (sums in float64 with
       ``np.bincount``, a sequential loop), stop when the assignment no
       longer changes or no entry moved more than ``tol`` (ΔE units), or
       after ``max_iter``. An entry left without colours is moved to the
       colour farthest from its entry. Fixed entries never move (they still
       take their pixels in the assignment).
    6. Hue coverage (:mod:`core.palette.hues`): with ``hue_coverage > 0``
       every OKLab hue family holding at least that share of the sample's
       chroma must have an entry. Each family the fit missed gets a pinned
       entry, started at the weighted mean of the family's colours, and the
       fit runs again twice: from k-means++ around the pins (and ``fixed``
       entries), and from the fit before with the free entries whose loss
       raises the sample's mean distance least (count-weighted, not
       squared) replaced by the new pins; the one with the lower mean
       distance is kept (the first on a tie). In Lloyd a pin moves to the weighted mean of the colours it
       takes when that mean is in its family, else to the point nearest
       that mean, on the way from the mean of its own family's colours
       (in the family: a hue sector holds its means), that still is: it
       serves the neutral and neighbouring colours it takes as well as it
       can and never leaves the family. Repeated while a family is missed
       (at most once per family). The result's ``coverage`` says which
       families were found and missed either way.
    7. Entries are stored in gradient order (:mod:`core.palette.order`).

Determinism
    Random draws come from ``numpy.random.PCG64`` raw 64-bit output (a
    stream numpy keeps stable across versions), seeded by ``seed`` (and the
    frame position for a shared palette); sampling and weighted choice use
    integer arithmetic and sequential cumulative sums. With the kernels of
    :mod:`core.palette.spaces` and :mod:`core.palette.assign`, the same input
    and seed give the same palette bits on every run, thread count and
    machine.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from core.errors import ImageError, ParameterError
from core.palette import controller, hues
from core.palette.assign import QuantizedPoints
from core.palette.order import gradient_order
from core.palette.spaces import FitSpace, Workspace, acescg_to_fit, fit_to_acescg, get_space, rgb_to_u, u_to_x
from core.palette.weights import fit_weights

METHOD = "kmeans++/lloyd (reelkit.palette)"
#: Fits on at least this many distinct colours first run Lloyd on a seeded quarter of them.
_COARSE_MIN_POINTS = 40_000
_CONVERT_CHUNK = 1 << 15


@dataclasses.dataclass(frozen=True, eq=False)
class PaletteFit:
    """A fitted palette (a value: nothing in it refers back to the image).

    Attributes
    ----------
    palette:
        ``(K, 3)`` float32, fit-space coordinates (OKLab: L 0..1; Lab: L*
        0..100), stored **in gradient order**: entry ``i`` sits at
        ``positions[i]`` along the hue path.
    palette_acescg:
        ``(K, 3)`` float32, the same colours in ACEScg (scene-linear).
    positions:
        ``(K,)`` float32, each entry's gradient value 0..1 (arc length along
        the path, :mod:`core.palette.order`).
    counts, shares:
        ``(K,)`` sampled pixels per entry (int64) and their fraction (float64).
    inertia:
        Sum over sampled pixels of the squared fit-space distance to their
        entry (native units squared, as scikit-learn's ``inertia_``).
    mean_distance:
        Mean distance of sampled pixels to their entry, in ΔE units (ΔE OK x
        100 or ΔE76).
    n_iter, converged, message:
        Lloyd iterations run; whether they converged (else the palette is
        the last iterate, usable but not settled); a one-line summary.
    space, seed, params:
        Fit space name, seed, and every parameter of the fit.
    n_samples, n_distinct, n_frames:
        Pixels in the fit sample, distinct colours among them, frames sampled.
    fixed:
        ``(K,)`` bool, True for the entries given as ``fixed`` (kept as
        they were given; their ``palette_acescg`` row is the given colour,
        bit for bit); ``None`` when the fit had no fixed entries.
    pinned:
        ``(K,)`` bool, True for the entries the hue coverage added (one per
        family the plain fit missed, fixed at the family's mean colour);
        ``None`` when it added none.
    coverage:
        :class:`~core.palette.hues.HueCoverage` of the palette against the
        sample's hue families: at ``hue_coverage`` when the fit enforced it,
        else a check at :data:`~core.palette.hues.CHECK_SHARE` (1%);
        ``None`` for a fit rebuilt from a pack.
    """

    palette: np.ndarray
    palette_acescg: np.ndarray
    positions: np.ndarray
    counts: np.ndarray
    shares: np.ndarray
    inertia: float
    mean_distance: float
    n_iter: int
    converged: bool
    message: str
    space: str
    seed: int
    params: Mapping[str, Any]
    n_samples: int
    n_distinct: int
    n_frames: int = 1
    method: str = METHOD
    fixed: np.ndarray | None = None
    pinned: np.ndarray | None = None
    coverage: hues.HueCoverage | None = None

    @property
    def k(self) -> int:
        return int(self.palette.shape[0])

    @property
    def fit_space(self) -> FitSpace:
        return get_space(self.space)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (lists of floats, exact float32 values as Python floats).

        ``fixed`` (the indices of fixed entries) and ``pinned`` (those the hue
        coverage added) are present only when the fit had some;
        ``hue_coverage`` when the fit measured it.
        """
        out = {
            "k": self.k,
            "space": self.space,
            "palette": self.palette.astype(np.float64).tolist(),
            "palette_acescg": self.palette_acescg.astype(np.float64).tolist(),
            "positions": self.positions.astype(np.float64).tolist(),
            "counts": self.counts.tolist(),
            "shares": self.shares.tolist(),
            "inertia": self.inertia,
            "mean_distance": self.mean_distance,
            "n_iter": self.n_iter,
            "converged": self.converged,
            "message": self.message,
            "seed": self.seed,
            "params": dict(self.params),
            "n_samples": self.n_samples,
            "n_distinct": self.n_distinct,
            "n_frames": self.n_frames,
            "method": self.method,
        }
        if self.fixed is not None:
            out["fixed"] = [int(i) for i in np.flatnonzero(self.fixed)]
        if self.pinned is not None:
            out["pinned"] = [int(i) for i in np.flatnonzero(self.pinned)]
        if self.coverage is not None:
            out["hue_coverage"] = self.coverage.to_dict()
        return out


# -- random stream ------------------------------------------------------------------------


class _Stream:
    """Seeded draws from PCG64's raw output (stable across numpy versions)."""

    def __init__(self, seed: int, *extra: int):
        ss = np.random.SeedSequence([int(seed), *[int(e) for e in extra]])
        self._bg = np.random.PCG64(ss)

    def raw(self, n: int) -> np.ndarray:
        return np.asarray(self._bg.random_raw(n), dtype=np.uint64).reshape(n)

    def uniform(self, n: int) -> np.ndarray:
        """``n`` floats in [0, 1): the top 53 bits of raw draws times 2**-53."""
        return (self.raw(n) >> np.uint64(11)).astype(np.float64) * (2.0**-53)

    def below(self, n: int, high: int) -> np.ndarray:
        """``n`` integers in [0, high), ``high < 2**32``: ``(raw >> 32) * high >> 32`` (bias < 2**-32 * high)."""
        r = self.raw(n) >> np.uint64(32)
        return ((r * np.uint64(high)) >> np.uint64(32)).astype(np.int64)


# -- pixels -> fit space ---------------------------------------------------------------------


def _params(k, space, seed, sample_size, max_iter, tol, alpha_threshold, premultiplied, weight,
            hue_coverage) -> dict[str, Any]:
    p = {
        "k": controller.check_param("k", k),
        "space": controller.check_param("space", space),
        "seed": controller.check_param("seed", seed),
        "sample_size": controller.check_param("sample_size", sample_size),
        "weight": controller.check_param("weight", weight),
        "hue_coverage": controller.check_param("hue_coverage", hue_coverage),
        "max_iter": controller.check_param("max_iter", max_iter),
        "tol": controller.check_param("tol", tol),
        "alpha_threshold": controller.check_param("alpha_threshold", alpha_threshold),
        "premultiplied": controller.check_param("premultiplied", premultiplied),
    }
    return p


def _gather_rgb(pixels: np.ndarray, flat_index: np.ndarray | None, premultiplied: bool) -> np.ndarray:
    """``(n, 3)`` float32 ACEScg of the chosen pixels (unpremultiplied when RGBA + premultiplied)."""
    flat = pixels.reshape(-1, pixels.shape[2])
    rows = flat if flat_index is None else flat[flat_index]
    rgb = np.ascontiguousarray(rows[:, :3], dtype=np.float32)
    if pixels.shape[2] == 4 and premultiplied:
        rgb = rgb / rows[:, 3:4]
        np.clip(rgb, -1e6, 1e6, out=rgb)
    return rgb


def _to_u_x(rgb: np.ndarray, space: FitSpace) -> tuple[np.ndarray, np.ndarray]:
    """``(u, x)`` ``(n, 3)`` float32 for ``(n, 3)`` ACEScg (the encoder's kernel, chunked)."""
    n = len(rgb)
    u_out = np.empty((n, 3), np.float32)
    x_out = np.empty((n, 3), np.float32)
    ws = Workspace(min(_CONVERT_CHUNK, max(n, 1)))
    for s in range(0, n, _CONVERT_CHUNK):
        e = min(s + _CONVERT_CHUNK, n)
        w = ws.view(e - s)
        u = rgb_to_u(space, rgb[s:e, 0], rgb[s:e, 1], rgb[s:e, 2], w)
        x = u_to_x(space, u, w)
        for i in range(3):
            u_out[s:e, i] = u[i]
            x_out[s:e, i] = x[i]
    return u_out, x_out


def _distinct(u: np.ndarray, x: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct fit-space colours ``(u, x, weights)`` sorted by their bytes (deterministic order)."""
    x = x + np.float32(0.0)  # -0.0 -> +0.0
    keys = np.ascontiguousarray(x).view(np.dtype((np.void, 12))).reshape(-1)
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    w = np.ones(len(x)) if weights is None else np.asarray(weights, np.float64)
    counts = np.bincount(inverse.reshape(-1), weights=w, minlength=len(first))
    return u[first], x[first], counts


# -- k-means -------------------------------------------------------------------------------------


def _sqdist(xp: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Squared distances of planar ``(3, n)`` float64 points to one centre (fixed summation order)."""
    d0 = xp[0] - c[0]
    d1 = xp[1] - c[1]
    d2 = xp[2] - c[2]
    return (d0 * d0 + d1 * d1) + d2 * d2


def _kmeans_pp(xp: np.ndarray, w: np.ndarray, k: int, stream: _Stream,
               fixed: np.ndarray | None = None) -> np.ndarray:
    """Greedy weighted k-means++: indices of distinct starting points.

    Without ``fixed``: ``k`` indices. With ``fixed`` (``(m, 3)`` float64
    fit-space centres taken as already chosen): ``k - m`` more indices.
    """
    n = xp.shape[1]
    n_trials = 2 + int(math.log(k))
    if fixed is None:
        cum = np.cumsum(w)
        first = int(np.searchsorted(cum, stream.uniform(1)[0] * cum[-1], side="right"))
        chosen = [min(first, n - 1)]
        d2 = _sqdist(xp, xp[:, chosen[0]])
        todo = k - 1
    else:
        chosen = []
        d2 = _sqdist(xp, fixed[0])
        for c in fixed[1:]:
            d2 = np.minimum(d2, _sqdist(xp, c))
        todo = k - len(fixed)
    for _ in range(todo):
        cum = np.cumsum(w * d2)
        total = cum[-1]
        if not total > 0:
            break  # fewer distinct points than k (caller refuses)
        cand = np.minimum(np.searchsorted(cum, stream.uniform(n_trials) * total, side="right"), n - 1)
        best_pot, best_i, best_d2 = np.inf, -1, None
        for ci in cand:
            dn = np.minimum(d2, _sqdist(xp, xp[:, ci]))
            pot = float(np.sum(w * dn))
            if pot < best_pot:
                best_pot, best_i, best_d2 = pot, int(ci), dn
        chosen.append(best_i)
        d2 = best_d2
    return np.array(chosen, dtype=np.int64)


def _means(labels: np.ndarray, wxp: np.ndarray, w: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Weighted sums and weights per entry (``np.bincount``: a sequential float64 loop, fixed order)."""
    counts = np.bincount(labels, weights=w, minlength=k)
    sums = np.stack([np.bincount(labels, weights=wxp[i], minlength=k) for i in range(3)], axis=1)
    return sums, counts


def _lloyd(points: QuantizedPoints, xp: np.ndarray, w: np.ndarray, centres: np.ndarray, space: FitSpace,
           max_iter: int, tol: float, n_fixed: int = 0,
           hold: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, int, bool, float]:
    """Lloyd iterations from ``centres``; returns ``(centres, n_iter, converged, last_shift)``.

    The first ``n_fixed`` centres are fixed: they take part in the
    assignment but are never moved. ``hold``: ``(entry_family, point_family)``
    (``(K,)`` and ``(n,)`` int): an entry with a family (>= 0, a hue-coverage
    pin) moves as close to the weighted mean of the points it takes as its
    family allows (:func:`_keep_in_family`) and stays put when it takes none.
    """
    k = len(centres)
    wxp = w * xp
    labels = points.nearest(centres, space)
    shift = np.inf
    for it in range(1, max_iter + 1):
        sums, counts = _means(labels, wxp, w, k)
        new = centres.copy()
        filled = counts > 0
        new[filled] = sums[filled] / counts[filled, None]
        if hold is not None:
            pinned = np.flatnonzero((hold[0] >= 0) & filled)
            if len(pinned):
                family = hold[0][labels]
                wk = np.where(hold[1] == family, w, 0.0)  # the points of the pin's own family
                fsums, fcounts = _means(labels, wk * xp, wk, k)
                inside = np.where((fcounts[pinned] > 0)[:, None],
                                  fsums[pinned] / np.maximum(fcounts[pinned], 1e-300)[:, None], centres[pinned])
                new[pinned] = _keep_in_family(inside, new[pinned], hold[0][pinned], space)
            filled = filled | (hold[0] >= 0)
        new[:n_fixed] = centres[:n_fixed]
        empty = np.flatnonzero(~filled)
        empty = empty[empty >= n_fixed]
        if len(empty):
            cur = np.stack([centres[labels, i] for i in range(3)])
            far = _sqdist_rows(xp, cur)
            order = np.argsort(-far, kind="stable")
            for j, e in enumerate(empty):
                new[e] = xp[:, order[j]]
        dc = new - centres
        shift = float(np.sqrt(np.max((dc[:, 0] * dc[:, 0] + dc[:, 1] * dc[:, 1]) + dc[:, 2] * dc[:, 2]))) * space.scale
        centres = new
        new_labels = points.nearest(centres, space)
        same = bool(np.array_equal(new_labels, labels)) and not len(empty)
        labels = new_labels
        if same or shift <= tol:
            return centres, it, True, shift
    return centres, max_iter, False, shift


#: Halvings of the segment in :func:`_keep_in_family` (the pin lands within 2**-12 of the segment of its family).
_FAMILY_STEPS = 12


def _entry_families(c: np.ndarray, space: FitSpace) -> np.ndarray:
    """Hue family of fit-space entries ``(m, 3)`` float64 (:func:`core.palette.hues.entry_families`)."""
    if space.name != "oklab":
        c = acescg_to_fit(fit_to_acescg(c.astype(np.float32), space).astype(np.float32), "oklab")
    return hues.entry_families(c)


def _keep_in_family(inside: np.ndarray, target: np.ndarray, families: np.ndarray, space: FitSpace) -> np.ndarray:
    """Where hue-coverage pins go: ``target`` (``(m, 3)`` fit space, the mean of the points each pin takes)
    when it lies in the pin's family, else the point of the segment ``inside -> target`` nearest ``target``
    that does (``inside``: the mean of the pin's own family's points, in the family), found by halving.

    The mean of a pin's own family's points alone (the former rule) kept the pin
    in its family but away from the neutral and neighbouring colours it also
    takes; moving it to the edge of its family instead lowers the frame's error
    (benchmarks/palette_hues_bench.py --set dev: mean ΔE00 over all pixels
    x1.075 -> x1.033 of plain k-means, worst x1.48 -> x1.16). Elementwise
    float64 and the family test only: the same bits everywhere.
    """
    ok = _entry_families(target, space) == families
    if ok.all():
        return target
    lo, hi = np.zeros(len(target)), np.ones(len(target))
    step = target - inside
    for _ in range(_FAMILY_STEPS):
        mid = 0.5 * (lo + hi)
        good = _entry_families(inside + mid[:, None] * step, space) == families
        lo = np.where(good, mid, lo)
        hi = np.where(good, hi, mid)
    return np.where(ok[:, None], target, inside + lo[:, None] * step)


def _sqdist_rows(xp: np.ndarray, cp: np.ndarray) -> np.ndarray:
    d0 = xp[0] - cp[0]
    d1 = xp[1] - cp[1]
    d2 = xp[2] - cp[2]
    return (d0 * d0 + d1 * d1) + d2 * d2


def _fit_points(u: np.ndarray, x: np.ndarray, w: np.ndarray, p: dict[str, Any], space: FitSpace,
                stream: _Stream, n_samples: int, n_frames: int, fixed: "_Fixed | None" = None, *,
                wf: np.ndarray | None = None, pins: "_Pins | None" = None,
                start: np.ndarray | None = None) -> PaletteFit:
    """k-means on distinct points, then gradient order and the result value.

    ``w``: pixels per point (counts, shares and distances are per pixel);
    ``wf``: fit weights (``None``: ``w``). ``fixed``: the user's fixed
    entries (never move); ``pins``: hue-coverage entries (start at their
    family's mean, move within their family). k-means++ starts from both.
    ``start``: ``(k, 3)`` float64 fit-space centres to start Lloyd from
    instead (fixed entries first, then the pins, then the others), with no
    k-means++ and no coarse pass.
    """
    k = p["k"]
    m = 0 if fixed is None else fixed.m
    n_pins = 0 if pins is None else len(pins.families)
    held = m + n_pins
    wf = w if wf is None else wf
    xp = np.ascontiguousarray(x.T, dtype=np.float64)
    start_x = [a for a in (None if fixed is None else fixed.x, None if pins is None else pins.x) if a is not None]
    if start is None:
        chosen = _kmeans_pp(xp, wf, k, stream, np.concatenate(start_x, axis=0) if start_x else None)
        if len(chosen) < k - held:
            if not held:  # pragma: no cover - guarded by the distinct-colour refusal
                raise ParameterError(f"parameter 'k': only {len(chosen)} distinct colours could be chosen for k={k}")
            what = f"the {m} fixed" if not n_pins else f"the {held} fixed or hue-coverage"
            raise ParameterError(f"parameter 'k': {k - held} colour(s) to fit besides {what}, but only "
                                 f"{len(chosen)} distinct colour(s) differ from those; lower k or fix fewer")
        centres = np.concatenate(start_x + [xp[:, chosen].T], axis=0)
    else:
        centres = np.array(start, dtype=np.float64)
    hold = None
    if pins is not None:
        entry_family = np.full(k, -1, np.int64)
        entry_family[m:held] = pins.families
        hold = (entry_family, pins.point_families)
    n_iter = 0
    n = len(w)
    if n >= _COARSE_MIN_POINTS and start is None:
        # coarse to fine: settle on a seeded quarter of the points, then finish on all of them
        sub = np.unique(stream.below(n // 4, n))
        coarse = QuantizedPoints(u[sub])
        centres, n_iter, _, _ = _lloyd(coarse, np.ascontiguousarray(xp[:, sub]), wf[sub], centres, space,
                                       p["max_iter"], p["tol"], m, None if hold is None else (hold[0], hold[1][sub]))
    points = QuantizedPoints(u)
    centres, fine_iter, converged, shift = _lloyd(points, xp, wf, centres, space, p["max_iter"], p["tol"], m, hold)
    n_iter += fine_iter
    palette32 = centres.astype(np.float32)
    order, positions = gradient_order(palette32, space)
    palette32 = palette32[order]
    palette_acescg = fit_to_acescg(palette32, space).astype(np.float32)
    fixed_mask = pinned_mask = None
    if fixed is not None:
        fixed_mask = order < m
        palette_acescg[fixed_mask] = fixed.acescg[order[fixed_mask]]
    if pins is not None:
        pinned_mask = (order >= m) & (order < held)
    # final statistics with the stored (float32) palette, as the encoder will use it
    labels = points.nearest(palette32, space)
    cp = palette32.astype(np.float64)[labels].T
    d2 = _sqdist_rows(xp, cp)
    total_w = float(w.sum())
    counts = np.bincount(labels, weights=w, minlength=k)
    inertia = float(np.sum(w * d2))
    mean_distance = float(np.sum(w * np.sqrt(d2)) / total_w) * space.scale
    if converged:
        message = f"converged after {n_iter} iteration(s); mean distance {mean_distance:.3f} ΔE"
    else:
        message = (f"did not converge in {n_iter} iteration(s) (an entry still moved {shift:.3g} ΔE > tol "
                   f"{p['tol']:g}); palette is the last iterate")
    return PaletteFit(
        palette=palette32,
        palette_acescg=palette_acescg,
        positions=positions.astype(np.float32),
        counts=np.rint(counts).astype(np.int64),
        shares=counts / total_w,
        inertia=inertia,
        mean_distance=mean_distance,
        n_iter=n_iter,
        converged=converged,
        message=message,
        space=space.name,
        seed=p["seed"],
        params=dict(p),
        n_samples=int(n_samples),
        n_distinct=int(len(w)),
        n_frames=n_frames,
        fixed=fixed_mask,
        pinned=pinned_mask,
    )


# -- hue coverage -------------------------------------------------------------------------------------


def _fit_covered(u: np.ndarray, x: np.ndarray, w: np.ndarray, p: dict[str, Any], space: FitSpace,
                 n_samples: int, n_frames: int, fixed: "_Fixed | None") -> PaletteFit:
    """Weighted k-means, then entries pinned for the hue families it missed (steps 3 to 6 of the module doc)."""
    ok = x if space.name == "oklab" else acescg_to_fit(fit_to_acescg(x, space).astype(np.float32), "oklab")
    wf = fit_weights(p["weight"], ok, w)
    shares = hues.family_shares(ok, w)
    enforced = p["hue_coverage"] > 0
    min_share = p["hue_coverage"] if enforced else hues.CHECK_SHARE
    if enforced:
        controller.refuse_coverage(p["k"], hues.required_families(shares, min_share), shares, min_share,
                                   0 if fixed is None else fixed.m)

    def run(pins: "_Pins | None", start: np.ndarray | None = None) -> tuple[PaletteFit, hues.HueCoverage]:
        stream = _Stream(p["seed"], 2**32 - 1)  # the k-means++ stream, apart from the sampling streams
        fit = _fit_points(u, x, w, p, space, stream, n_samples, n_frames, fixed, wf=wf, pins=pins, start=start)
        pal_ok = fit.palette if space.name == "oklab" else acescg_to_fit(fit.palette_acescg, "oklab")
        return fit, hues.coverage(shares, pal_ok, min_share, enforced=enforced)

    fit, cov = run(None)
    pinned: list[int] = []
    families = hues.family_of(ok).astype(np.int64)
    for _ in hues.FAMILIES:  # each round pins at least one family more
        if not enforced or cov.passed:
            break
        missed = [hues.FAMILIES.index(f) for f in cov.missed]
        pinned += missed
        pins = _Pins(np.array(pinned, np.int64), hues.family_means(x, wf, families, pinned), families)
        fresh = run(pins)
        swapped = run(pins, _swap_start(fit, cov, pins, len(missed), x, w, space, fixed))
        fit, cov = swapped if swapped[0].mean_distance < fresh[0].mean_distance else fresh
    return dataclasses.replace(fit, coverage=cov)


def _swap_start(fit: PaletteFit, cov: hues.HueCoverage, pins: "_Pins", n_new: int, x: np.ndarray, w: np.ndarray,
                space: FitSpace, fixed: "_Fixed | None") -> np.ndarray:
    """Lloyd's start for a fit with ``n_new`` more pins: ``fit``'s entries, less the free ones cheapest to lose.

    Free entries (neither fixed nor pinned) are dropped one at a time, each
    time the one whose points, moved to their next nearest entry, raise the
    sample's summed distance (``w``: pixels, not squared) least; an entry
    that is the only one of a family the check found is kept while others
    can go. Returns ``(k, 3)`` float64: fixed entries (as given), the pins
    (those already in ``fit`` where it put them, the new ones at their
    family's mean), the free entries kept (in ``fit``'s order).

    Why: a fresh k-means++ around the pins is drawn towards far, sparse
    colours (an HDR flame), and the fit keeps extra entries there that a
    frame's mean error pays for (benchmarks/palette_hues_bench.py --set dev:
    fire x1.16 of plain k-means -> x1.00).
    """
    c = fit.palette.astype(np.float64)
    k = len(c)
    fixed_mask = np.zeros(k, bool) if fit.fixed is None else fit.fixed
    pinned_mask = np.zeros(k, bool) if fit.pinned is None else fit.pinned
    free = ~(fixed_mask | pinned_mask)
    fam = _entry_families(c, space)
    found = [hues.FAMILIES.index(f) for f in cov.found]
    sole = np.array([f in found and int(np.sum(fam == f)) == 1 for f in fam])
    droppable = free & ~sole if int(np.sum(free & ~sole)) >= n_new else free
    xp = np.ascontiguousarray(x.T, dtype=np.float64)
    alive = np.ones(k, bool)
    for _ in range(n_new):
        live = np.flatnonzero(alive)
        d1 = np.full(xp.shape[1], np.inf)
        d2 = np.full(xp.shape[1], np.inf)
        i1 = np.zeros(xp.shape[1], np.int64)
        for j in live:  # nearest and second nearest live entry of every point
            d = _sqdist(xp, c[j])
            closer = d < d1
            d2 = np.where(closer, d1, np.minimum(d2, d))
            d1 = np.where(closer, d, d1)
            i1 = np.where(closer, j, i1)
        loss = np.bincount(i1, weights=w * (np.sqrt(d2) - np.sqrt(d1)), minlength=k)
        cand = np.flatnonzero(droppable & alive)
        alive[cand[int(np.argmin(loss[cand]))]] = False
    placed = {int(f): c[i] for f, i in zip(fam[pinned_mask], np.flatnonzero(pinned_mask))}
    parts = [] if fixed is None else [fixed.x]
    parts.append(np.array([placed.get(int(f), pins.x[i]) for i, f in enumerate(pins.families)]))
    parts.append(c[free & alive])
    return np.concatenate(parts, axis=0)


@dataclasses.dataclass(frozen=True)
class _Pins:
    """Hue-coverage entries: their families ``(p,)``, start colours ``(p, 3)`` float64 fit space, and every
    point's family ``(n,)`` (-1 neutral)."""

    families: np.ndarray
    x: np.ndarray
    point_families: np.ndarray



# -- fixed entries ----------------------------------------------------------------------------------


class _Fixed:
    """Validated fixed entries: ACEScg as given (float32) and their fit-space centres (float64)."""

    def __init__(self, fixed: Any, k: int, space: FitSpace):
        try:
            acescg = np.array(fixed, dtype=np.float32, ndmin=2)
        except (TypeError, ValueError):
            raise ParameterError(f"parameter 'fixed': expected (n, 3) ACEScg colours, got {fixed!r}") from None
        if acescg.ndim != 2 or acescg.shape[1] != 3:
            raise ParameterError(f"parameter 'fixed': expected (n, 3) ACEScg colours, got shape {acescg.shape}")
        if not np.isfinite(acescg).all():
            raise ParameterError("parameter 'fixed': colours must be finite (no NaN/Inf)")
        if len(acescg) > k:
            raise ParameterError(f"parameter 'fixed': {len(acescg)} fixed colours for k={k}; at most k")
        _, x = _to_u_x(np.ascontiguousarray(acescg), space)
        x = x + np.float32(0.0)  # -0.0 -> +0.0
        if len(np.unique(np.ascontiguousarray(x).view(np.dtype((np.void, 12))))) != len(x):
            raise ParameterError("parameter 'fixed': two fixed colours are the same colour")
        self.acescg = acescg
        self.x = x.astype(np.float64)
        self.m = len(acescg)

    @staticmethod
    def of(fixed: Any, k: int, space: str) -> "_Fixed | None":
        """``None`` for no fixed entries (``None`` or an empty list): the fit is the plain one."""
        if fixed is None or (hasattr(fixed, "__len__") and len(fixed) == 0):
            return None
        return _Fixed(fixed, k, get_space(space))

    def record(self) -> list[list[float]]:
        return self.acescg.astype(np.float64).tolist()


# -- public -----------------------------------------------------------------------------------------


def _lazy(image: Any) -> bool:
    """Whether ``image`` names a frame to read when needed: a path, or a ``(video path, frame number)`` pair."""
    return isinstance(image, (str, os.PathLike)) or (
        isinstance(image, tuple) and len(image) == 2 and isinstance(image[0], (str, os.PathLike))
        and isinstance(image[1], int))


class _Source:
    """One frame to sample: pixels, valid pixel positions and a label."""

    def __init__(self, image: Any, p: dict[str, Any], colorspace: str | None = None):
        if _lazy(image):
            from core.io import read_frame

            image = read_frame(*((image, None) if isinstance(image, (str, os.PathLike)) else image),
                               colorspace=colorspace)
        self.pixels, self.label = controller.check_image(image)
        mask = controller.valid_mask(self.pixels, p["alpha_threshold"])
        controller.refuse_empty(mask, p["alpha_threshold"], self.label)
        self.valid = None if mask is None else np.flatnonzero(mask.reshape(-1))
        self.n_valid = self.pixels.shape[0] * self.pixels.shape[1] if self.valid is None else len(self.valid)

    def sample(self, size: int, stream: _Stream) -> np.ndarray | None:
        """Sorted flat positions of up to ``size`` sampled usable pixels (``None``: all of them)."""
        if self.n_valid <= size:
            return self.valid
        pos = np.unique(stream.below(size, self.n_valid))
        return pos if self.valid is None else self.valid[pos]


def _fit_sources(sources: list, images: list, p: dict[str, Any], fixed: _Fixed | None = None,
                 colorspace: str | None = None) -> PaletteFit:
    space = get_space(p["space"])
    need = p["k"] - (0 if fixed is None else fixed.m)
    n_frames = len(images)
    quota = -(-p["sample_size"] // n_frames)
    us, xs, ws = [], [], []
    n_samples = 0
    everything = True
    for j, image in enumerate(images):
        src = sources[j] if sources[j] is not None else _Source(image, p, colorspace)
        pos = src.sample(quota, _Stream(p["seed"], j) if n_frames > 1 else _Stream(p["seed"]))
        everything &= pos is src.valid
        rgb = _gather_rgb(src.pixels, pos, p["premultiplied"])
        u, x = _to_u_x(rgb, space)
        u, x, w = _distinct(u, x)
        us.append(u), xs.append(x), ws.append(w)
        n_samples += len(rgb)
        label = src.label
    u, x, w = _distinct(np.concatenate(us), np.concatenate(xs), np.concatenate(ws))
    if len(w) < need and not everything:
        # the sample missed rare colours: use every usable pixel
        us, xs, ws, n_samples = [], [], [], 0
        for j, image in enumerate(images):
            src = sources[j] if sources[j] is not None else _Source(image, p, colorspace)
            rgb = _gather_rgb(src.pixels, src.valid, p["premultiplied"])
            uu, xx = _to_u_x(rgb, space)
            uu, xx, ww = _distinct(uu, xx)
            us.append(uu), xs.append(xx), ws.append(ww)
            n_samples += len(rgb)
        u, x, w = _distinct(np.concatenate(us), np.concatenate(xs), np.concatenate(ws))
    if len(w) < need:
        what = label if n_frames == 1 else f"the {n_frames} frames"
        controller.refuse_distinct(need, len(w), space=space.name, n_pixels=n_samples,
                                   alpha_threshold=p["alpha_threshold"] if _has_alpha(sources) else None,
                                   label=what)
    return _fit_covered(u, x, w, p, space, n_samples, n_frames, fixed)


def _has_alpha(sources: list) -> bool:
    return any(s is not None and s.pixels.shape[2] == 4 for s in sources)


def fit_palette(image: Any, *, k: int = 8, space: str = "oklab", seed: int = 0, sample_size: int = 100_000,
                max_iter: int = 100, tol: float = 0.05, alpha_threshold: float = 0.0,
                premultiplied: bool = True, fixed: Any = None, weight: str = "count",
                hue_coverage: float = 0.0) -> PaletteFit:
    """Fit a ``k``-colour palette to one image.

    ``image``: ``float32`` ``HWC`` scene-linear ACEScg, RGB or RGBA (any
    range; an array is taken as ACEScg, a :class:`~core.frame.Frame` in
    another colour space is converted), or a path read with
    :func:`core.io.read_image`. Parameters and ranges are those of
    :data:`~core.palette.params.ENCODE_PARAMS`; ``tol`` is in ΔE units (ΔE
    OK x 100 for OKLab, ΔE76 for Lab).

    Raises :class:`~core.errors.ParameterError` (a parameter out of range,
    ``k`` above the number of distinct colours) and
    :class:`~core.errors.ImageError` (NaN/Inf, wrong channels, alpha leaving
    no pixel). A fit that runs out of iterations is returned with
    ``converged=False``.

    ``fixed``: ``(m, 3)`` ACEScg colours (m <= k) kept as palette entries
    (e.g. entries an artist locked): k-means++ starts from them and Lloyd
    never moves them; the other ``k - m`` entries are fitted around them.
    Deterministic like the rest; ``fixed=None`` (or empty) is the plain fit,
    bit for bit. The result marks them in :attr:`PaletteFit.fixed` and
    records them in ``params["fixed"]``. Refused
    (:class:`~core.errors.ParameterError`): a wrong shape, NaN/Inf, more
    than ``k``, two equal colours, or fewer distinct image colours than
    entries to fit.

    ``weight``: what a pixel counts for (:mod:`core.palette.weights`):
    ``"count"`` (plain k-means, the default), ``"chroma"``, ``"energy"``
    (OKLab chroma x lightness). ``hue_coverage``: every OKLab hue family
    (:mod:`core.palette.hues`) holding at least this share (0..1) of the
    sample's chroma-weighted pixels gets an entry (``0``: off). Refused
    (:class:`~core.errors.ParameterError`): an unknown weight, a share
    outside 0..1, or ``k`` below the families to cover plus ``fixed``
    entries (the message names the families). :attr:`PaletteFit.coverage`
    reports the families found and missed either way.
    """
    p = _params(k, space, seed, sample_size, max_iter, tol, alpha_threshold, premultiplied, weight, hue_coverage)
    fx = _Fixed.of(fixed, p["k"], p["space"])
    if fx is not None:
        p["fixed"] = fx.record()
    src = _Source(image, p)
    return _fit_sources([src], [image], p, fx)


def fit_shared_palette(images: Iterable[Any], *, k: int = 8, space: str = "oklab", seed: int = 0,
                       sample_size: int = 100_000, max_iter: int = 100, tol: float = 0.05,
                       alpha_threshold: float = 0.0, premultiplied: bool = True, fixed: Any = None,
                       colorspace: str | None = None, weight: str = "count",
                       hue_coverage: float = 0.0) -> PaletteFit:
    """Fit one palette over several frames (a shot), so its encoding does not flicker.

    ``images``: frames as for :func:`fit_palette` (arrays, Frames, paths or
    ``(video path, frame number)`` pairs; paths and pairs are read one at a
    time, so a long shot need not fit in memory, in ``colorspace`` when
    given, else as :func:`core.io.read_frame` finds).
    Each frame contributes ``ceil(sample_size / n_frames)`` sampled pixels,
    drawn with a stream seeded by ``(seed, frame position)``. ``fixed``,
    ``weight``, ``hue_coverage``: as for :func:`fit_palette` (the hue
    shares are those of the shot's sample).
    """
    p = _params(k, space, seed, sample_size, max_iter, tol, alpha_threshold, premultiplied, weight, hue_coverage)
    fx = _Fixed.of(fixed, p["k"], p["space"])
    if fx is not None:
        p["fixed"] = fx.record()
    images = list(images)
    if not images:
        raise ImageError("fit_shared_palette: no frames given")
    lazy = [_lazy(im) for im in images]
    sources = [None if is_path else _Source(im, p) for im, is_path in zip(images, lazy)]
    return _fit_sources(sources, images, p, fx, colorspace)
