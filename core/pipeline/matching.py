"""Temporal frame matching: which reference frame shows each source frame.

Inputs are the per-frame signatures of :mod:`core.pipeline.signatures`
(unit vectors; similarity = dot product). Positions ``i`` (source) and
``j`` (reference) are 0-based indices into each input's frame list; the
caller maps them to frame numbers. Nothing here builds the dense
``N x M`` similarity matrix: memory and time grow with ``N + M``.

Steps
-----
1. **Candidates** (:func:`candidates`): for up to ``max_anchors`` source
   frames spread over the sequence, the ``top`` most similar reference
   frames over the *whole* reference, with a coarse signature (the rank
   image alone), in chunks.
2. **Rate and offset** (:func:`estimate_rate`): for each candidate rate
   ``r`` (reference frames per source frame: 1, 25/24 and 24/25 for
   frame repetition between 24 and 25 fps, 5/4 and 4/5 for 24 <-> 30
   pulldown with whole repeated frames, 6/5, 5/6, 2, 1/2, and the ratio of
   the inputs' frame rates when both are known), every candidate votes
   for the offset ``o = j - r * i`` with its weight; the score of ``r`` is
   the heaviest window of offsets one frame wide. The hint (the fps ratio,
   else 1) is kept unless another rate scores 10% more. Once aligned (step
   4), the rate is scored again on the pairs found, one vote each, and
   the hint kept unless another rate scores 5% more: that is the rate
   reported. A PAL transfer (24 fps film played at 25 fps) is rate 1: no
   frame is repeated.
3. **Chain** (:func:`chain`): the heaviest monotonic chain of candidates,
   penalised by how far each step departs from the rate (capped, so a
   reel change or a missing scene costs a bounded amount). Interpolated, it
   is the centre of the search band for every source frame.
4. **Banded alignment** (:func:`align_band`): dynamic programming over a
   band of ``2 * window + 1`` reference frames around the centre, with
   moves *match* (next reference frame), *duplicate* (the same reference
   frame as the previous source frame, cost ``p_dup``), *skip reference
   frames* (``p_skip`` each, capped by a *jump* costing ``p_jump``) and
   *drop* (the source frame has no counterpart; it scores ``gap``
   instead of a similarity, and ``p_skip`` less unless it lies before the
   reference's first frame or after its last). Reference frames before
   the first match and after the last are free. Two passes: the first
   (with a fixed gap halfway between the unrelated level and the typical
   best similarity) measures, within ``±16`` frames of the same shot, the
   typical similarity of a correct pair ``s_typ``, its robust spread
   ``sigma`` and what one frame of motion costs (``margin``: the pair's
   similarity minus that of the better adjacent reference frame). The
   second uses ``gap = s_typ - tol`` with
   ``tol = max(margin / 2, 2.5 * sigma, 0.02)``: a source frame is dropped
   when no reference frame is about as similar as a correct pair is,
   locally. Limits: in a static shot a dropped frame is indistinguishable
   from a repeated one (both are reported, as a duplicate); a frame damaged
   far beyond its neighbours may be reported dropped rather than matched.

Per source frame the result is a reference index (or -1), the similarity,
the margin, and a confidence in 0..1:
``clip((s - b) / (1 - b)) * clip(1.5 - (s_typ - s) / (2 * tol))`` where
``b`` is the similarity of unrelated frames (median over source frames of
the median similarity to 32 reference frames spread over the reference):
how far the pair is from "unrelated" towards "identical", scaled down
linearly when it is less similar than its neighbours' pairs by more than
``tol`` (to 0 at ``3 * tol``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from fractions import Fraction

import numpy as np

#: Candidate rates (reference frames per source frame) tried by :func:`estimate_rate`.
RATES: tuple[float, ...] = (1.0, 25 / 24, 24 / 25, 5 / 4, 4 / 5, 6 / 5, 5 / 6, 2.0, 0.5)
#: A rate other than the hint must score this much more to be chosen: on candidates, on the final pairs.
RATE_PREFERENCE = 1.10
FINAL_RATE_PREFERENCE = 1.05
#: Half-width (source frames) of the window for the local statistics of pass 1.
STATS_HALF_WINDOW = 16
#: The drop tolerance is at least this many robust standard deviations of the local pair similarity.
SIGMA_FACTOR = 2.5
#: Lower bound of the drop tolerance (similarity units).
MIN_TOLERANCE = 0.02
#: Score given to an overridden (forced) cell, far above any similarity.
FORCE_BONUS = 10.0

_NEG = -1e18


@dataclasses.dataclass(frozen=True)
class MatchSettings:
    """Tuning of :func:`match_signatures` (defaults are the ``PAIRS_PARAMS`` defaults)."""

    window: int = 10
    rate: float = 0.0  # 0: estimate
    rate_hint: float | None = None
    max_anchors: int = 2000
    top: int = 4
    p_dup: float = 0.01
    p_skip: float = 0.04
    p_jump: float = 0.5
    chain_penalty: float = 0.05
    chain_cap: float = 20.0
    chain_lookback: int = 48


@dataclasses.dataclass
class MatchResult:
    """What :func:`match_signatures` found (indices are 0-based positions in each input).

    ``ref_index[i]`` is the reference position of source frame ``i`` or -1
    (dropped); ``similarity``, ``margin`` and ``confidence`` are per source
    frame (``nan`` where undefined); ``kind[i]`` is ``"match"``,
    ``"duplicate"`` (same reference frame as source frame ``i - 1``) or
    ``"drop"`` with ``drop_reason[i]`` ``"before_reference"``,
    ``"after_reference"`` or ``"not_in_reference"``. ``ref_unmatched`` lists
    ``(j, kind, i)`` for reference frames inside the matched range that no
    source frame uses: ``"duplicate"`` (the same picture as the reference
    frame source frame ``i`` matched) or ``"not_in_source"``.
    """

    ref_index: np.ndarray
    kind: list[str]
    drop_reason: list[str | None]
    similarity: np.ndarray
    margin: np.ndarray
    confidence: np.ndarray
    tolerance: np.ndarray
    rate: float
    rate_scores: dict[str, float]
    rate_from: str
    baseline: float
    ref_unmatched: list[tuple[int, str, int]]
    chain_points: int


# --------------------------------------------------------------------------- candidates and rate


def candidates(src: np.ndarray, ref: np.ndarray, rows: np.ndarray, *, top: int = 4,
               chunk: int = 1024) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(i, j, s)``: the ``top`` most similar reference frames of each source row in ``rows``.

    ``src`` / ``ref`` are coarse signatures ``(n, d)`` / ``(m, d)``; the
    reference is scanned in chunks, so memory is ``len(rows) * (chunk + top)``.
    Each row's candidates come best first.
    """
    m = len(ref)
    k = min(top, m)
    q = np.asarray(src[rows], np.float32)
    best_s = np.full((len(rows), k), -np.inf, np.float32)
    best_j = np.zeros((len(rows), k), np.int64)
    for start in range(0, m, chunk):
        block = q @ np.asarray(ref[start:start + chunk], np.float32).T
        s = np.concatenate([best_s, block], axis=1)
        pick = np.argpartition(-s, k - 1, axis=1)[:, :k]
        best_s = np.take_along_axis(s, pick, axis=1)
        best_j = np.where(pick < k, np.take_along_axis(best_j, np.minimum(pick, k - 1), axis=1), pick - k + start)
    order = np.argsort(-best_s, axis=1, kind="stable")
    best_s = np.take_along_axis(best_s, order, axis=1)
    best_j = np.take_along_axis(best_j, order, axis=1)
    ii = np.repeat(rows, k)
    return ii.astype(np.int64), best_j.reshape(-1), best_s.reshape(-1)


def rate_name(rate: float) -> str:
    """``"25/24"``-style name of a rate (``"1"`` for 1)."""
    frac = Fraction(rate).limit_denominator(1001)
    return str(frac.numerator) if frac.denominator == 1 else f"{frac.numerator}/{frac.denominator}"


def offset_window(i: np.ndarray, j: np.ndarray, w: np.ndarray, rate: float) -> tuple[float, float, float]:
    """``(score, low, high)``: the heaviest window ``[o, o + 1)`` of offsets ``j - rate * i`` (weights ``w``).

    ``low``/``high`` are the smallest and largest offsets inside it.
    """
    if len(i) == 0:
        return 0.0, 0.0, 0.0
    o = j.astype(np.float64) - rate * i.astype(np.float64)
    order = np.argsort(o, kind="stable")
    o, w = o[order], w[order]
    cw = np.concatenate([[0.0], np.cumsum(w)])
    ends = np.searchsorted(o, o + 1.0 - 1e-9, side="left")
    sums = cw[ends] - cw[np.arange(len(o))]
    p = int(np.argmax(sums))
    return float(sums[p]), float(o[p]), float(o[ends[p] - 1])


def estimate_rate(i: np.ndarray, j: np.ndarray, w: np.ndarray, *, hint: float | None = None,
                  rates: tuple[float, ...] = RATES, preference: float = RATE_PREFERENCE,
                  ) -> tuple[float, dict[str, float]]:
    """The rate (reference frames per source frame) best supported by weighted pairs, and each rate's score.

    The hint (else 1) is kept unless another rate scores ``preference`` times more.
    """
    tried = list(rates)
    if hint is not None and all(abs(hint - r) > 1e-6 for r in tried):
        tried.insert(0, float(hint))
    scores = {r: offset_window(i, j, w, r)[0] for r in tried}
    prior = hint if hint is not None else 1.0
    prior = min(tried, key=lambda r: abs(r - prior))
    best = max(tried, key=lambda r: (scores[r], r == prior))
    if best != prior and scores[best] < preference * scores[prior]:
        best = prior
    return best, {rate_name(r): round(float(v), 4) for r, v in scores.items()}


# --------------------------------------------------------------------------- chain and band


def chain(i: np.ndarray, j: np.ndarray, w: np.ndarray, rate: float, *, penalty: float = 0.05,
          cap: float = 20.0, lookback: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """The heaviest chain of candidates increasing in ``i`` and non-decreasing in ``j``.

    A step from ``(i1, j1)`` to ``(i2, j2)`` costs ``penalty * min(|dj - rate * di|, cap)``;
    a link may reach back ``lookback`` source frames. Returns the chain's
    ``(i, j)``, sorted.
    """
    keep = w > 0
    i, j, w = i[keep], j[keep], w[keep]
    if len(i) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = np.lexsort((j, i))
    i, j, w = i[order], j[order], w[order].astype(np.float64)
    n = len(i)
    f = np.zeros(n)
    back = np.full(n, -1, np.int64)
    start = 0
    for a in range(n):
        while i[start] < i[a] - lookback:
            start += 1
        b = np.arange(start, a)
        if len(b):
            ok = (i[b] < i[a]) & (j[b] <= j[a])
            if ok.any():
                b = b[ok]
                dev = np.abs((j[a] - j[b]) - rate * (i[a] - i[b]))
                cand = f[b] - penalty * np.minimum(dev, cap)
                k = int(np.argmax(cand))
                if cand[k] > 0:
                    f[a] = w[a] + cand[k]
                    back[a] = b[k]
                    continue
        f[a] = w[a]
    a = int(np.argmax(f))
    pts = []
    while a >= 0:
        pts.append(a)
        a = int(back[a])
    pts.reverse()
    return i[pts], j[pts]


def band_centres(n: int, chain_i: np.ndarray, chain_j: np.ndarray, rate: float, offset: float) -> np.ndarray:
    """Centre of the search band for each of ``n`` source frames (float, non-decreasing).

    Linear interpolation of the chain; beyond its ends, lines of slope
    ``rate``; without a chain, the line ``offset + rate * i``.
    """
    idx = np.arange(n, dtype=np.float64)
    if len(chain_i) == 0:
        return offset + rate * idx
    ci, cj = chain_i.astype(np.float64), chain_j.astype(np.float64)
    c = np.interp(idx, ci, cj)
    c = np.where(idx < ci[0], cj[0] + rate * (idx - ci[0]), c)
    c = np.where(idx > ci[-1], cj[-1] + rate * (idx - ci[-1]), c)
    return np.maximum.accumulate(c)


def band_starts(centres: np.ndarray, m: int, window: int) -> tuple[np.ndarray, int]:
    """``(lo, width)``: first reference index of each row's band (non-decreasing) and the band width."""
    width = min(2 * window + 1, m)
    lo = np.clip(np.round(centres).astype(np.int64) - window, 0, m - width)
    return np.maximum.accumulate(lo), width


def band_similarities(src: np.ndarray, ref: np.ndarray, lo: np.ndarray, width: int, *,
                      block: int = 64) -> np.ndarray:
    """``S[i, k] = src[i] . ref[lo[i] + k]`` (float32 ``(n, width)``), computed in blocks."""
    n = len(src)
    out = np.empty((n, width), np.float32)
    offs = np.arange(width)
    for s in range(0, n, block):
        e = min(n, s + block)
        cand = np.asarray(ref[lo[s:e, None] + offs[None, :]], np.float32)  # (b, width, d)
        out[s:e] = np.einsum("bd,bkd->bk", np.asarray(src[s:e], np.float32), cand, optimize=True)
    return out


def align_band(S: np.ndarray, lo: np.ndarray, gap: np.ndarray, *, p_dup: float, p_skip: float,
               p_jump: float) -> np.ndarray:
    """Monotonic alignment inside the band: reference index per source row, -1 for dropped rows.

    ``S`` are band similarities ``(n, width)`` (see :func:`band_similarities`),
    ``gap`` the score of dropping each row. Moves and costs are described in
    the module docstring. At the ends: reference frames before the first
    match and after the last are free; a dropped source frame costs
    ``p_skip`` more (as if a reference frame were skipped) unless it lies
    outside the reference — before a first match on the reference's first
    frame, or after a last match on its last frame — so a damaged first or
    last frame is not dropped more easily than one in the middle.
    """
    n, width = S.shape
    m_ref = int(lo.max()) + width  # reference frames up to the last band
    k_idx = np.arange(width)
    ramp = p_skip * k_idx
    m_from = np.zeros((n, width), np.int8)
    a_from = np.zeros((n, width), np.int8)
    b_from = np.zeros((n, width), np.int16)
    jstar = np.full(n, -10**9, np.int64)
    t_any_from = np.full(n, -1, np.int64)
    t_end_from = np.full(n, -1, np.int64)
    m_prev = b_prev = None
    lo_prev = int(lo[0])
    zero = 0.0  # every row so far dropped
    t_any = t_end = _NEG  # last match somewhere / on the last reference frame, then only drops
    neg = np.full(width, _NEG)
    for r in range(n):
        lo_r = int(lo[r])
        s = S[r].astype(np.float64)
        start = np.full(width, zero)
        start[lo_r + k_idx == 0] += r * p_skip  # the rows before were before the reference: no penalty
        if m_prev is None:
            diag = same_m = same_b = jump = neg
        else:
            delta = lo_r - lo_prev
            diag = _shifted(b_prev, delta - 1)
            same_m = _shifted(m_prev, delta)
            same_b = _shifted(b_prev, delta)
            kb = int(np.argmax(b_prev))
            js = lo_prev + kb
            jstar[r] = js
            jump = np.where(lo_r + k_idx >= js + 2, b_prev[kb] - p_jump, _NEG)
        best, mf = _pick(diag, (same_m - p_dup, jump, start))
        m_cur = s + best
        a_cur, af = _pick(m_cur, (same_b + gap[r], jump + gap[r]))
        vals = a_cur + ramp
        cm = np.maximum.accumulate(vals)
        m_from[r], a_from[r] = mf, af
        b_from[r] = np.maximum.accumulate(np.where(vals >= cm, k_idx, 0))
        b_cur = cm - ramp
        # the end states
        k_any = int(np.argmax(m_cur))
        if m_cur[k_any] >= t_any + gap[r] - p_skip:
            t_any, t_any_from[r] = float(m_cur[k_any]), k_any
        else:
            t_any = t_any + gap[r] - p_skip
        k_end = m_ref - 1 - lo_r
        here = float(m_cur[k_end]) if 0 <= k_end < width else _NEG
        if here >= t_end + gap[r] and here > _NEG / 2:
            t_end, t_end_from[r] = here, k_end
        else:
            t_end = t_end + gap[r]
        zero = zero + gap[r] - p_skip
        m_prev, b_prev, lo_prev = m_cur, b_cur, lo_r
    out = np.full(n, -1, np.int64)
    if max(t_any, t_end) < zero:
        return out
    trail = t_end_from if t_end >= t_any else t_any_from
    r = n - 1
    while r >= 0 and trail[r] < 0:
        r -= 1
    if r < 0:
        return out
    layer, k = "m", int(trail[r])
    while r >= 0:
        if layer == "b":
            k, layer = int(b_from[r, k]), "a"
            continue
        if layer == "a":
            how = a_from[r, k]
            if how == 0:
                layer = "m"
                continue
            j_abs = lo[r] + k if how == 1 else jstar[r]
            r -= 1
            if r >= 0:
                k, layer = int(j_abs - lo[r]), "b"
            continue
        j_abs = int(lo[r] + k)
        out[r] = j_abs
        how = m_from[r, k]
        if how == 3:
            break
        r -= 1
        if r < 0:
            break
        if how == 0:
            k, layer = j_abs - 1 - int(lo[r]), "b"
        elif how == 1:
            k, layer = j_abs - int(lo[r]), "m"
        else:
            k, layer = int(jstar[r + 1] - lo[r]), "b"
    return out


def _pick(first: np.ndarray, others) -> tuple[np.ndarray, np.ndarray]:
    """Element-wise maximum of ``first`` and ``others`` and which one won (0 = first; ties: the earlier)."""
    best = first.copy()
    which = np.zeros(len(first), np.int8)
    for code, cand in enumerate(others, start=1):
        better = cand > best
        best[better] = cand[better]
        which[better] = code
    return best, which


def _shifted(prev: np.ndarray, shift: int) -> np.ndarray:
    """``out[k] = prev[k + shift]`` where that index exists, else -inf."""
    width = len(prev)
    out = np.full(width, _NEG)
    if shift >= width or shift <= -width:
        return out
    if shift >= 0:
        out[:width - shift] = prev[shift:]
    else:
        out[-shift:] = prev[:width + shift]
    return out


# --------------------------------------------------------------------------- statistics


def _rolling_median(values: np.ndarray, valid: np.ndarray, half: int, labels: np.ndarray) -> np.ndarray:
    """Median of the valid values within ``±half`` rows of the same shot (a run of equal labels).

    Where that window holds fewer than 3 values: the whole shot's median,
    else the whole sequence's.
    """
    import warnings

    from numpy.lib.stride_tricks import sliding_window_view

    n = len(values)
    v = np.where(valid, values, np.nan).astype(np.float64)
    glob = float(np.median(v[valid])) if valid.any() else np.nan
    out = np.empty(n)
    edges = np.concatenate([[0], np.flatnonzero(np.diff(labels)) + 1, [n]])
    for a, b in zip(edges[:-1], edges[1:]):
        seg = v[a:b]
        win = sliding_window_view(np.concatenate([np.full(half, np.nan), seg, np.full(half, np.nan)]), 2 * half + 1)
        count = (~np.isnan(win)).sum(axis=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows: replaced below
            med = np.nanmedian(win, axis=1)
        known = seg[~np.isnan(seg)]
        out[a:b] = np.where(count >= 3, med, float(np.median(known)) if len(known) >= 3 else glob)
    return out


def local_statistics(S: np.ndarray, lo: np.ndarray, path: np.ndarray, flat: np.ndarray,
                     labels: np.ndarray | None = None, half: int = STATS_HALF_WINDOW,
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(s_typ, sigma, margin)`` per row from a first alignment ``path`` (see the module docstring).

    ``labels`` (shot index per row) keeps each window inside its shot: shots
    differ in how similar a correct pair is (texture, damage, motion).
    """
    n, width = S.shape
    labels = np.zeros(n, np.int64) if labels is None else np.asarray(labels)
    rows = np.arange(n)
    ok = (path >= 0) & ~flat
    k = np.clip(path - lo, 0, width - 1)
    s = S[rows, k].astype(np.float64)
    left = np.where(k > 0, S[rows, np.maximum(k - 1, 0)], -np.inf)
    right = np.where(k < width - 1, S[rows, np.minimum(k + 1, width - 1)], -np.inf)
    adj = np.maximum(left, right)
    margin = np.where(np.isfinite(adj), s - adj, np.nan)
    s_typ = _rolling_median(s, ok, half, labels)
    dev = np.abs(s - s_typ)
    sigma = 1.4826 * _rolling_median(dev, ok, half, labels)
    marg = _rolling_median(margin, ok & np.isfinite(margin), half, labels)
    s_typ = np.nan_to_num(s_typ, nan=0.0)
    sigma = np.nan_to_num(sigma, nan=0.0)
    marg = np.nan_to_num(np.maximum(marg, 0.0), nan=0.0)
    return s_typ, sigma, marg


def baseline_similarity(src: np.ndarray, ref: np.ndarray, flat: np.ndarray, *, samples: int = 32) -> float:
    """Similarity of unrelated frames.

    The median over (up to 512) source frames of their median similarity to
    ``samples`` reference frames spread over the reference.
    """
    m = len(ref)
    rows = np.flatnonzero(~flat)
    if len(rows) == 0 or m == 0:
        return 0.0
    rows = rows[np.linspace(0, len(rows) - 1, min(len(rows), 512)).round().astype(np.int64)]
    cols = np.unique(np.linspace(0, m - 1, min(m, samples)).round().astype(np.int64))
    sims = np.asarray(src[rows], np.float32) @ np.asarray(ref[cols], np.float32).T
    return float(np.median(np.median(sims, axis=1)))


# --------------------------------------------------------------------------- the whole match


def match_signatures(src: np.ndarray, ref: np.ndarray, src_coarse: np.ndarray, ref_coarse: np.ndarray,
                     src_flat: np.ndarray, *, settings: MatchSettings = MatchSettings(),
                     forced: Mapping[int, int] | None = None, shot_labels: np.ndarray | None = None) -> MatchResult:
    """Match every source frame to a reference frame (see the module docstring).

    ``forced`` maps source positions to reference positions the alignment
    must go through (manual overrides); they join the chain and score
    :data:`FORCE_BONUS`. ``shot_labels`` (shot index per source frame)
    keeps the local statistics inside shots.
    """
    n, m = len(src), len(ref)
    forced = {int(k): int(v) for k, v in (forced or {}).items() if 0 <= int(v) < m and 0 <= int(k) < n}
    baseline = baseline_similarity(src, ref, src_flat)
    usable = np.flatnonzero(~src_flat)
    if len(usable) == 0:
        usable = np.arange(n)
    step = max(1, math.ceil(len(usable) / settings.max_anchors))
    rows = usable[::step]
    ci, cj, cs = candidates(src_coarse, ref_coarse, rows, top=settings.top)
    top1 = cs.reshape(len(rows), -1)[:, 0]
    floor = baseline + 0.5 * (float(np.median(top1)) - baseline)
    cw = np.maximum(cs - floor, 0.0)
    if settings.rate > 0:
        rate, rate_scores, rate_from = settings.rate, {rate_name(settings.rate): None}, "parameter"
    else:
        rate, rate_scores = estimate_rate(ci, cj, cw, hint=settings.rate_hint)
        rate_from = "content"
    _, o_lo, o_hi = offset_window(ci, cj, cw, rate)
    chain_i, chain_j = chain(ci, cj, cw, rate, penalty=settings.chain_penalty, cap=settings.chain_cap,
                             lookback=settings.chain_lookback * step)
    if forced:
        chain_i, chain_j = _merge_forced(chain_i, chain_j, forced)
    centres = band_centres(n, chain_i, chain_j, rate, (o_lo + o_hi) / 2)
    lo, width = band_starts(centres, m, settings.window)
    S = band_similarities(src, ref, lo, width)
    for i, j in forced.items():
        k = j - lo[i]
        if 0 <= k < width:
            S[i, k] += FORCE_BONUS
    # flat source frames: neutral rows, carried along the path by the transitions
    pass1_gap = np.full(n, floor)
    S_run = S.copy()
    S_run[src_flat] = floor + 1e-3
    path1 = align_band(S_run, lo, pass1_gap, p_dup=settings.p_dup, p_skip=settings.p_skip, p_jump=settings.p_jump)
    s_typ, sigma, marg = local_statistics(S, lo, path1, src_flat | np.isin(np.arange(n), list(forced)),
                                          shot_labels)
    tol = np.maximum.reduce([marg / 2.0, SIGMA_FACTOR * sigma, np.full(n, MIN_TOLERANCE)])
    gap = s_typ - tol
    S_run = S.copy()
    S_run[src_flat] = gap[src_flat, None] + 1e-3
    path = align_band(S_run, lo, gap, p_dup=settings.p_dup, p_skip=settings.p_skip, p_jump=settings.p_jump)
    if settings.rate <= 0:  # the pairs found say more than the candidates did
        on = np.flatnonzero((path >= 0) & ~src_flat)
        if len(on) >= 2:
            rate, rate_scores = estimate_rate(on, path[on], np.ones(len(on)), hint=settings.rate_hint,
                                              preference=FINAL_RATE_PREFERENCE)
    return _describe(S, lo, path, src_flat, s_typ, tol, baseline, rate, rate_scores, rate_from, m, len(chain_i))


def _merge_forced(ci: np.ndarray, cj: np.ndarray, forced: Mapping[int, int]) -> tuple[np.ndarray, np.ndarray]:
    fi = np.array(sorted(forced), np.int64)
    fj = np.array([forced[k] for k in fi], np.int64)
    keep = np.ones(len(ci), bool)
    for a, b in zip(fi, fj):
        keep &= ~((ci == a) | ((ci < a) & (cj > b)) | ((ci > a) & (cj < b)))
    i = np.concatenate([ci[keep], fi])
    j = np.concatenate([cj[keep], fj])
    order = np.lexsort((j, i))
    i, j = i[order], j[order]
    # forced points that contradict each other: the chain stays monotonic
    return i, np.maximum.accumulate(j)


def _describe(S, lo, path, flat, s_typ, tol, baseline, rate, rate_scores, rate_from, m,
              chain_points) -> MatchResult:
    n, width = S.shape
    rows = np.arange(n)
    matched = path >= 0
    k = np.clip(path - lo, 0, width - 1)
    s = np.where(matched, S[rows, k], np.nan).astype(np.float64)
    s = np.where(s > FORCE_BONUS / 2, s - FORCE_BONUS, s)
    left = np.where(k > 0, S[rows, np.maximum(k - 1, 0)], -np.inf)
    right = np.where(k < width - 1, S[rows, np.minimum(k + 1, width - 1)], -np.inf)
    adj = np.maximum(left, right)
    margin = np.where(matched & np.isfinite(adj), s - np.where(adj > FORCE_BONUS / 2, adj - FORCE_BONUS, adj),
                      np.nan)
    absolute = np.clip((s - baseline) / max(1.0 - baseline, 1e-6), 0.0, 1.0)
    consistency = np.clip(1.5 - (s_typ - s) / (2.0 * tol), 0.0, 1.0)
    conf = np.where(matched, absolute * consistency, np.nan)
    conf = np.where(flat & matched, 0.0, conf)
    kind: list[str] = []
    reason: list[str | None] = []
    hits = np.flatnonzero(matched)
    first_i, last_i = (int(hits[0]), int(hits[-1])) if len(hits) else (n, -1)
    first_j = int(path[first_i]) if len(hits) else 0
    last_j = int(path[last_i]) if len(hits) else m - 1
    for r in range(n):
        if not matched[r]:
            kind.append("drop")
            if r < first_i and first_j == 0:
                reason.append("before_reference")
            elif r > last_i and last_j == m - 1:
                reason.append("after_reference")
            else:
                reason.append("not_in_reference")
        elif r > 0 and path[r - 1] == path[r]:
            kind.append("duplicate")
            reason.append(None)
        else:
            kind.append("match")
            reason.append(None)
    # reference frames inside the matched range that no source frame uses
    unmatched: list[tuple[int, str, int]] = []
    if len(hits):
        used = set(int(v) for v in path[hits])
        owner = {}
        for r in hits:
            owner.setdefault(int(path[r]), int(r))
        for j in range(first_j, last_j + 1):
            if j in used:
                continue
            # the source frames matched just before and just after it (the path is monotonic)
            before, after = hits[path[hits] < j], hits[path[hits] > j]
            near = ([int(before[-1])] if len(before) else []) + ([int(after[0])] if len(after) else [])
            kind_j, who = "not_in_source", near[0]
            for r in near:
                kk = j - lo[r]
                if 0 <= kk < width and S[r, kk] >= s[r] - tol[r]:
                    kind_j, who = "duplicate", r
                    break
            unmatched.append((j, kind_j, who))
    return MatchResult(path, kind, reason, s, margin, conf, tol, rate, rate_scores, rate_from, baseline,
                       unmatched, chain_points)
