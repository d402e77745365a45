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
   band of ``2 * window + 1`` reference frames around the centre. *Sequence
   continuity comes first*: matching the next reference frame costs
   nothing, and every departure from the steady rate is one ``event``
   (0.1 in similarity units): a *duplicate* (the same reference frame as
   the previous source frame), a *skip* of a reference frame (up to a
   *jump*), a *drop* (the source frame has no counterpart: it scores
   ``gap - event`` instead of a similarity; ``gap`` alone before the
   reference's first frame or after its last). Repeats are the steady
   rate, free: skipping a reference frame that repeats its neighbour (a
   telecine's cadence) and keeping the reference frame for a source frame
   that repeats the one before (a scan's repeat), each as alike as a
   correct pair. Reference frames before the first match and after the
   last are free (for the path; the confidence's model expects the ends to
   meet, below). A frame's similarity only moves it off its neighbours'
   line when it outweighs the events that takes, so adjacent
   near-identical frames are told apart by the rest of the shot, not by
   noise. Similarities are floored at ``gap - event`` and a frame matched
   between two good matches on the steady rate is *excused* up to the
   typical similarity ``s_typ``: a damaged frame between matched
   neighbours is a match (its reference frame is the one they leave free),
   not a drop, while a frame with no free reference frame between its
   neighbours' matches is still dropped, and a run of unrelated frames
   (no good neighbours) is not excused. Two passes: the first (with a
   fixed gap halfway between the unrelated level and the typical best
   similarity) measures, within ``±16`` frames of the same shot, the
   typical similarity of a correct pair ``s_typ``, its robust spread
   ``sigma`` and what one frame of motion costs (``margin``: the pair's
   similarity minus that of the better adjacent reference frame). The
   second uses ``gap = s_typ - tol`` with
   ``tol = max(margin / 2, 2.5 * sigma, 0.02)``. Limits: in a static
   stretch, which frame is missing (or repeated) cannot be told from the
   pictures: the frames there get a low confidence; an absent frame in a
   static shot is reported as a duplicate.

Per source frame the result is a reference index (or -1), the similarity,
the margin, whether it is *damaged* and a confidence in 0..1.

*Damaged* is a test of its own, not the drop tolerance (whose 0.02 floor
is far above the spread of a near-static shot's pairs: issue 14's
surveillance clip has ``s_typ`` 0.993 and ``sigma`` 0.001, its patched
frame 0.983): a matched frame whose similarity is below ``s_typ - d``
with ``d = max(5 * sigma, margin, 0.003)`` (:func:`damage_drop`) — well
outside the clip's own spread, and more than one frame of motion takes
(a frame exposed a little early or late is less alike, not damaged).

The confidence is calibrated on the events the matching trusts: the
*evidence* is how much worse the best path that puts the frame anywhere
else — another reference frame (a copy of the same picture does not
count) or dropped — scores than the path found (from max-marginals: the
programme run forwards and on the reversed problem). These are taken in
a model where the inputs' ends are expected to meet: a path that does not
start on the first source frame and the first reference frame costs one
``event``, and one more when it does not end on the last of both
(``marginal_end_event`` of :func:`align_band`; the path itself is found
with free ends). Without it, sliding a whole near-static shot by a frame
cost less than one event (the reference frame left at one end was free,
the source frame left at the other scored the gap), so a steady 1:1 run
of equal lengths was never trusted; with it, that slide must also
explain the ends. Where the ends do not meet the path gains nothing, and
an alternative that meets them gains an event: its frames are less sure.
Then ``confidence = line * (1 - 2 ** (-evidence / event))`` with ``line =
clip((s_typ - b) / (1 - b))`` (``b``: the similarity of unrelated frames,
the median over source frames of the median similarity to 32 reference
frames spread over the reference): 0.5 when the best alternative needs
one more event than the match found, 0.75 for two. A frame that only
continuity places (a damaged one, a near-static one) gets what the events
give it, whatever its similarity; a wrong match, whose alternative the
programme nearly took, gets little.
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
#: A matched frame is damaged when its similarity is this many robust standard deviations of the local pair
#: similarity below the typical one...
DAMAGE_SIGMAS = 5.0
#: ...and at least this much (similarity units): a test of its own, not the drop tolerance, whose floor is
#: far above the spread of a static shot's pairs (issue 14: typical 0.993, sigma 0.001).
MIN_DAMAGE_DROP = 0.003
#: A repeated frame is at most this fraction as far from its neighbour as the frames around are from theirs.
REPEAT_RATIO = 0.25
#: A matched pair is also damaged where this fraction of its picture differs from the reference
#: (:func:`core.pipeline.signatures.pair_damage`)...
DAMAGE_FRACTION = 0.004
#: ...and it is this many times the typical fraction of the pairs around it.
DAMAGE_RATIO = 3.0
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
    event: float = 0.1
    jump: float = 0.5
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
    frame source frame ``i`` matched) or ``"not_in_source"``. ``damaged[i]``:
    matched with a similarity below ``typical[i] - damage_drop`` (``typical``:
    the local similarity of a correct pair; :func:`damage_drop`); ``evidence[i]``: how much worse
    the best path placing frame ``i`` elsewhere scores (the confidence's
    input, see the module docstring).
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
    damaged: np.ndarray
    evidence: np.ndarray
    typical: np.ndarray


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


@dataclasses.dataclass
class BandPath:
    """A monotonic path through the band (see :func:`align_band`).

    ``path[r]`` is the reference index of source row ``r`` or -1 (dropped);
    ``steady[r]`` says the row was matched between two neighbours on the
    steady rate (scored with its excuse); ``total`` is the path's score.
    With ``marginals``: ``marginal[r, k]`` is the best score of any path
    that matches row ``r`` to band cell ``k`` (reference ``lo[r] + k``), so
    ``marginal_total - marginal[r, k]`` is what choosing that cell instead
    would cost; ``drop_cost[r]`` is what dropping a matched row costs with
    its neighbours' matches kept (``marginal_total``: the path's score in
    the model of the max-marginals, ``total`` unless they were taken with
    another ``end_event``).
    """

    path: np.ndarray
    steady: np.ndarray
    total: float
    marginal: np.ndarray | None = None
    drop_cost: np.ndarray | None = None
    marginal_total: float | None = None


def _step_cost(a: int, b: int, event: float, jump: float, repeated_ref: np.ndarray, repeat: bool) -> float:
    """Cost of the move from reference ``a`` (last matched) to ``b`` (next matched): see :func:`align_band`."""
    if b == a + 1:
        return 0.0
    if b == a:
        return 0.0 if repeat else event
    if b == a + 2 and repeated_ref[a + 1]:
        return 0.0
    return min(event * (b - a - 1), jump) if b > a else float("inf")


def _advances(rate: float) -> tuple[int, ...]:
    """Reference frames a steady path advances per source frame at ``rate`` (1 for 1; 1 or 2 for 25/24...)."""
    return tuple(sorted({math.floor(rate), math.ceil(rate)}))


# layers of the programme: matched (any moves), matched on the steady rate (excused), dropped, dropped with the
# last match far below the band
_FREE, _STEADY, _DROP, _FAR = 0, 1, 2, 3


def _forward(score: np.ndarray, excused: np.ndarray, good: np.ndarray, lo: np.ndarray, gap: np.ndarray, m: int,
             event: float, jump: float, steps: tuple[int, ...], repeated_ref: np.ndarray, repeat_src: np.ndarray,
             end_event: float = 0.0):
    """The dynamic programme of :func:`align_band`, front to back: the layers' scores and back-pointers.

    A dropped row keeps the position of the last match, which may lie below
    the row's band: dropped states cover ``below`` positions under the band
    and one *far* state for anything lower, from which every move costs a
    jump. Every path of the model is represented, whichever direction it is
    read in (the reversed pass of :func:`align_band` relies on that).
    """
    n, width = score.shape
    below = int(math.ceil(jump / event)) + 1   # from further down every move is a jump
    ext = below + width
    cols, ecols = np.arange(width), np.arange(ext)
    free = np.full((n, width), _NEG)
    steady = np.full((n, width), _NEG)
    drop = np.full((n, ext), _NEG)             # position lo[r] - below + e
    far = np.full(n, _NEG)
    far_pos = np.zeros(n, np.int64)
    far_from = np.zeros(n, np.int8)            # the previous row's layer (_FAR: its far state)
    first = np.zeros((n, width), bool)         # free: the first match (every row before it dropped)
    from_j = np.zeros((n, 2, width), np.int64)  # free, steady: the previous row's reference index
    from_layer = np.zeros((n, 2, width), np.int8)
    drop_from = np.zeros((n, ext), np.int8)
    start = 0.0                                # every row so far dropped, inside the reference
    moves: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # per band shift: advances, costs, steady

    def moves_for(shift: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if shift not in moves:
            adv = (shift + below) + cols[:, None] - ecols[None, :]   # reference frames advanced
            cost = np.where(adv == 0, event, np.where(adv >= 2, np.minimum(event * (adv - 1), jump), 0.0))
            cost = np.where(adv < 0, np.inf, cost)
            moves[shift] = adv, cost, np.isin(adv[:, below:], steps)
        return moves[shift]

    for r in range(n):
        J = lo[r] + cols
        begin = np.full(width, start - end_event)
        if lo[r] == 0:
            begin[0] += r * event              # those rows were before the reference: no event each
            if r == 0:
                begin[0] += end_event          # the path starts where both inputs start
        start += gap[r] - event
        if r == 0:
            free[0] = score[0] + begin
            first[0] = True
            steady[0] = excused[0] + begin  # the sequence's first row may be excused (its next must be good)
            continue
        shift = int(lo[r] - lo[r - 1])
        P0 = int(lo[r - 1]) - below            # the previous row's positions: P0 + ecols
        adv, cost, on_rate = moves_for(shift)
        # skipping one reference frame that repeats its neighbour (a telecine's cadence) is the steady rate
        skipped = np.flatnonzero(repeated_ref[np.clip(J - 1, 0, m - 1)] & (J >= 1))
        e2 = skipped + shift + below - 2       # the previous position two below the target
        skipped, e2 = skipped[(e2 >= 0) & (e2 < ext)], e2[(e2 >= 0) & (e2 < ext)]
        if len(skipped):
            cost = cost.copy()
            cost[skipped, e2] = 0.0
        band_cost = cost[:, below:]
        # from a matched row, a source frame repeating it (a scan's repeat) keeps its reference frame for free
        if repeat_src[r]:
            band_cost = np.where(adv[:, below:] == 0, 0.0, band_cost)
        if len(skipped) or repeat_src[r]:
            on_rate = on_rate | (band_cost == 0.0)
        # into a free match: any move from a free or dropped row (from the far state: a jump); the steady rate
        # from an excused row (into a good match only); or the first match
        prev_free, prev_drop, prev_steady = free[r - 1], drop[r - 1], steady[r - 1]
        c_drop = prev_drop[None, :] - cost
        c_free = prev_free[None, :] - band_cost
        from_free = np.zeros((width, ext), bool)
        from_free[:, below:] = c_free >= c_drop[:, below:]
        c_drop[:, below:] = np.maximum(c_drop[:, below:], c_free)
        k_loose = np.argmax(c_drop, axis=1)
        v_loose = c_drop[cols, k_loose]
        v_far = far[r - 1] - jump
        c_steady = np.where(on_rate & good[r][:, None], prev_steady[None, :] - band_cost, _NEG)
        k_steady = np.argmax(c_steady, axis=1)
        v_steady = c_steady[cols, k_steady]
        best = np.maximum(np.maximum(v_loose, v_steady), v_far)
        take_loose = v_loose >= best
        take_steady = ~take_loose & (v_steady >= best)
        src = np.where(take_loose, np.where(from_free[cols, k_loose], _FREE, _DROP),
                       np.where(take_steady, _STEADY, _FAR))
        first[r] = begin > best
        free[r] = score[r] + np.maximum(best, begin)
        from_layer[r, _FREE] = src
        from_j[r, _FREE] = np.where(take_loose, P0 + k_loose, np.where(take_steady, P0 + below + k_steady,
                                                                       far_pos[r - 1]))
        # into an excused match: the steady rate from a good free match
        c_good = np.where(on_rate & good[r - 1][None, :], prev_free[None, :] - band_cost, _NEG)
        k_good = np.argmax(c_good, axis=1)
        steady[r] = excused[r] + c_good[cols, k_good]
        from_j[r, _STEADY] = P0 + below + k_good
        from_layer[r, _STEADY] = _FREE
        # a dropped row keeps the last match's position
        loose = prev_drop.copy()
        loose_layer = np.full(ext, _DROP, np.int8)
        better = prev_free >= loose[below:]
        loose[below:] = np.where(better, prev_free, loose[below:])
        loose_layer[below:] = np.where(better, _FREE, _DROP)
        if shift < ext:
            drop[r, :ext - shift] = loose[shift:] + (gap[r] - event)
            drop_from[r, :ext - shift] = loose_layer[shift:]
        drop_from[r, max(ext - shift, 0):] = _DROP
        sink = loose[:min(shift, ext)]         # positions that fall below the band's reach: the far state
        far[r], far_pos[r], far_from[r] = far[r - 1], far_pos[r - 1], _FAR
        if len(sink) and sink.max() > far[r]:
            e = int(np.argmax(sink))
            far[r], far_pos[r], far_from[r] = sink[e], P0 + e, loose_layer[e]
        far[r] += gap[r] - event
    return free, steady, drop, far, far_pos, far_from, first, from_j, from_layer, drop_from, start, below


def _terminal(free: np.ndarray, steady: np.ndarray, lo: np.ndarray, gap: np.ndarray, m: int, event: float,
              start: float, end_event: float = 0.0):
    """``(total, row, reference index, layer)`` of the best end: the last match (rows after it dropped), or none.

    ``end_event`` is taken off every end but the last row on the last reference frame.
    """
    n, width = free.shape
    rows = np.arange(n)
    after = np.concatenate([np.cumsum(gap[::-1])[::-1], [0.0]])[1:]   # sum of gap over the rows after r
    corner = np.zeros((n, width), bool)  # the last row on the last reference frame: both inputs end there
    if 0 <= m - 1 - lo[n - 1] < width:
        corner[n - 1, m - 1 - lo[n - 1]] = True
    loose = free - np.where(corner, 0.0, end_event)
    k = np.argmax(loose, axis=1)
    any_end = loose[rows, k] + after - event * (n - 1 - rows)
    k_last = m - 1 - lo
    last_ok = (k_last >= 0) & (k_last < width)
    at_last = np.where(last_ok, loose[rows, np.clip(k_last, 0, width - 1)] + after, _NEG)
    ends = [(start - 2 * end_event, -1, -1, _FREE)]
    r = int(np.argmax(any_end))
    ends.append((float(any_end[r]), r, int(lo[r] + k[r]), _FREE))
    r = int(np.argmax(at_last))
    ends.append((float(at_last[r]), r, m - 1, _FREE))
    last = steady[n - 1] - np.where(corner[n - 1], 0.0, end_event)
    ks = int(np.argmax(last))   # a steady run may reach the last row
    ends.append((float(last[ks]), n - 1, int(lo[n - 1] + ks), _STEADY))
    return max(ends, key=lambda e: e[0])  # ties: the earlier entry


def align_band(score: np.ndarray, lo: np.ndarray, gap: np.ndarray, *, m: int, event: float, jump: float,
               rate: float = 1.0, excuse: np.ndarray | None = None, repeated_ref: np.ndarray | None = None,
               repeat_src: np.ndarray | None = None, marginals: bool = False, end_event: float = 0.0,
               marginal_end_event: float | None = None) -> BandPath:
    """Monotonic alignment inside the band: a reference index per source row, -1 for dropped rows.

    ``score`` ``(n, width)``: the score of matching row ``r`` to reference
    ``lo[r] + k`` (the similarity, floored by the caller); ``gap``: what
    dropping each row scores; ``m``: reference length. Moves between
    consecutive rows, each a cost subtracted:

    - *match* the next reference frame: 0 (the steady rate);
    - *skip* ``k`` reference frames: ``event * k``, at most ``jump``;
    - *duplicate* (the same reference frame as the last match): ``event``;
    - *drop* the row (no counterpart): it scores ``gap - event`` instead
      of a match — ``gap`` alone when it lies outside the reference:
      before a first match on its first frame or after a last match on
      its last.

    Reference frames before the first match and after the last are free.
    A row matched *between two good matches on the steady rate* (the rows
    before and after matched, each scoring at least its ``gap``, ``rate``
    reference frames away, rounded down or up: the next frame at rate 1,
    the next or the one after at 25/24; or one of them the sequence's
    end) may instead score ``score + excuse[r]`` (default 0):
    that is how continuity outweighs the low similarity of a damaged
    frame. Two excused rows are never neighbours, so a run of unrelated
    frames cannot pass for a damaged one. Every departure from the steady
    rate is one ``event``. ``end_event`` is taken off a path whose first
    match is not the first row on the first reference frame, and again off
    one whose last match is not the last row on the last reference frame
    (both for a path with no match): the inputs' ends are expected to meet
    (the confidence's model, :func:`match_signatures`; 0: ends are free).
    ``marginal_end_event`` (default ``end_event``): the one the
    max-marginals and drop costs are taken with; ``marginal_total`` is then
    the path's score with it.
    With ``marginals``, also the max-marginals (a second pass on the
    reversed problem: every move costs the same read backwards) and each
    matched row's drop cost (:class:`BandPath`).
    """
    n, width = score.shape
    score = np.asarray(score, np.float64)
    gap = np.asarray(gap, np.float64)
    lo = np.asarray(lo, np.int64)
    excused = score + (0.0 if excuse is None else np.asarray(excuse, np.float64)[:, None])
    good = score >= gap[:, None]
    out = np.full(n, -1, np.int64)
    on_steady = np.zeros(n, bool)
    if n == 0:
        return BandPath(out, on_steady, 0.0)
    steps = _advances(rate)
    repeated_ref = np.zeros(m, bool) if repeated_ref is None else np.asarray(repeated_ref, bool)
    repeat_src = np.zeros(n, bool) if repeat_src is None else np.asarray(repeat_src, bool)
    fwd = _forward(score, excused, good, lo, gap, m, event, jump, steps, repeated_ref, repeat_src, end_event)
    free, steady, drop, far, far_pos, far_from, first, from_j, from_layer, drop_from, start, below = fwd
    total, r, j, layer = _terminal(free, steady, lo, gap, m, event, start, end_event)
    while r >= 0:
        if layer == _DROP:
            layer = drop_from[r, j - (lo[r] - below)]
        elif layer == _FAR:
            layer = far_from[r]
        else:
            k = j - lo[r]
            out[r], on_steady[r] = j, layer == _STEADY
            if r == 0 or (layer == _FREE and first[r, k]):  # the first match: every row before it is dropped
                break
            layer, j = from_layer[r, layer, k], int(from_j[r, layer, k])
        r -= 1
    result = BandPath(out, on_steady, total)
    if not marginals:
        return result
    corners = corner_ends(out, m)
    if marginal_end_event is None or marginal_end_event == end_event:
        marginal_end_event = end_event
        result.marginal_total = total
    else:
        fwd = _forward(score, excused, good, lo, gap, m, event, jump, steps, repeated_ref, repeat_src,
                       marginal_end_event)
        free, steady = fwd[0], fwd[1]
        result.marginal_total = total + (end_event - marginal_end_event) * (2 - sum(corners))
    lo_rev = m - (lo[::-1] + width)
    # read backwards, the move into row r' is the move between rows n - r' and n - 1 - r'
    repeat_rev = np.concatenate([[False], repeat_src[::-1][:-1]])
    rev = _forward(score[::-1, ::-1], excused[::-1, ::-1], good[::-1, ::-1], lo_rev, gap[::-1], m, event, jump,
                   steps, repeated_ref[::-1], repeat_rev, marginal_end_event)
    free_b, steady_b = rev[0][::-1, ::-1], rev[1][::-1, ::-1]
    result.marginal = np.maximum(free + free_b - score, steady + steady_b - excused)
    result.drop_cost = _drop_costs(out, on_steady, score, excused, lo, gap, event, jump, repeated_ref, repeat_src)
    if corners[0]:
        result.drop_cost[0] += marginal_end_event  # without it the path no longer starts where both inputs start
    if corners[1]:
        result.drop_cost[n - 1] += marginal_end_event
    return result


def corner_ends(path: np.ndarray, m: int) -> tuple[bool, bool]:
    """Whether ``path`` starts on the first row and first reference frame, and ends on the last of both."""
    hits = np.flatnonzero(path >= 0)
    if len(hits) == 0:
        return False, False
    return (bool(hits[0] == 0 and path[0] == 0),
            bool(hits[-1] == len(path) - 1 and path[-1] == m - 1))


def _drop_costs(path: np.ndarray, on_steady: np.ndarray, score: np.ndarray, excused: np.ndarray, lo: np.ndarray,
                gap: np.ndarray, event: float, jump: float, repeated_ref: np.ndarray,
                repeat_src: np.ndarray) -> np.ndarray:
    """What dropping each matched row costs, its neighbours' matches kept (``nan`` for dropped rows).

    Neighbours matched on the steady rate lose their excuse: their
    diagonal to the dropped row is gone.
    """
    n = len(path)
    out = np.full(n, np.nan)
    hits = np.flatnonzero(path >= 0)

    def value(r: int) -> float:
        k = int(path[r] - lo[r])
        return float(excused[r, k] if on_steady[r] else score[r, k])

    for a, r in enumerate(hits):
        j = int(path[r])
        before = int(hits[a - 1]) if a > 0 else None
        after = int(hits[a + 1]) if a + 1 < len(hits) else None
        old, new = value(r), gap[r] - event
        if before is not None:
            old -= _step_cost(int(path[before]), j, event, jump, repeated_ref, bool(repeat_src[r]) and before == r - 1)
            if on_steady[before] and before == r - 1:
                new -= value(before) - score[before, int(path[before] - lo[before])]
        if after is not None:
            old -= _step_cost(j, int(path[after]), event, jump, repeated_ref,
                              bool(repeat_src[after]) and after == r + 1)
            if on_steady[after] and after == r + 1:
                new -= value(after) - score[after, int(path[after] - lo[after])]
        if before is not None and after is not None:
            new -= _step_cost(int(path[before]), int(path[after]), event, jump, repeated_ref, False)
        out[r] = old - new
    return out


# --------------------------------------------------------------------------- statistics


def rolling_median(values: np.ndarray, valid: np.ndarray, half: int, labels: np.ndarray) -> np.ndarray:
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
    s_typ = rolling_median(s, ok, half, labels)
    dev = np.abs(s - s_typ)
    sigma = 1.4826 * rolling_median(dev, ok, half, labels)
    marg = rolling_median(margin, ok & np.isfinite(margin), half, labels)
    s_typ = np.nan_to_num(s_typ, nan=0.0)
    sigma = np.nan_to_num(sigma, nan=0.0)
    marg = np.nan_to_num(np.maximum(marg, 0.0), nan=0.0)
    return s_typ, sigma, marg


def locally_damaged(fraction: np.ndarray, valid: np.ndarray, labels: np.ndarray | None = None,
                    half: int = STATS_HALF_WINDOW) -> np.ndarray:
    """Pairs whose differing fraction (:func:`core.pipeline.signatures.pair_damage`) stands out locally.

    At least :data:`DAMAGE_FRACTION` of the picture and :data:`DAMAGE_RATIO`
    times the median of the valid pairs within ``±half`` frames of the
    same shot: a defect on some frames, not the wear every frame shows.
    """
    labels = np.zeros(len(fraction), np.int64) if labels is None else np.asarray(labels)
    typical = np.nan_to_num(rolling_median(fraction, valid, half, labels), nan=0.0)
    return valid & (fraction >= np.maximum(DAMAGE_FRACTION, DAMAGE_RATIO * typical))


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
    moves = {"m": m, "event": settings.event, "jump": settings.jump, "rate": rate}
    # pass 1: a fixed gap halfway between unrelated and the typical best pair, to measure what a pair scores here
    gap1 = np.full(n, floor)
    score1 = _scores(S, gap1, src_flat, settings.event)
    path1 = align_band(score1, lo, gap1, excuse=_excuses(score1, gap1), **moves).path
    s_typ, sigma, marg = local_statistics(S, lo, path1, src_flat | np.isin(np.arange(n), list(forced)),
                                          shot_labels)
    tol = np.maximum.reduce([marg / 2.0, SIGMA_FACTOR * sigma, np.full(n, MIN_TOLERANCE)])
    gap = s_typ - tol
    score = _scores(S, gap, src_flat, settings.event)
    copy_ref, repeat_src = _repeats(src, ref, s_typ, src_flat | np.isin(np.arange(n), list(forced)), shot_labels)
    repeated_ref = copy_ref | np.concatenate([copy_ref[1:], [False]])  # a copy, or the frame it copies
    band = align_band(score, lo, gap, excuse=_excuses(score, s_typ), repeated_ref=repeated_ref,
                      repeat_src=repeat_src, marginals=True, marginal_end_event=settings.event, **moves)
    path = band.path
    if settings.rate <= 0:  # the pairs found say more than the candidates did
        on = np.flatnonzero((path >= 0) & ~src_flat)
        if len(on) >= 2:
            rate, rate_scores = estimate_rate(on, path[on], np.ones(len(on)), hint=settings.rate_hint,
                                              preference=FINAL_RATE_PREFERENCE)
    return _describe(S, lo, band, ref, copy_ref, src_flat, s_typ, damage_drop(sigma, marg), tol, baseline, rate,
                     rate_scores, rate_from, m, len(chain_i), settings.event)


def damage_drop(sigma: np.ndarray, margin: np.ndarray) -> np.ndarray:
    """How far below the typical similarity a matched frame's is when it is damaged (see the module docstring).

    The larger of :data:`DAMAGE_SIGMAS` robust standard deviations of the
    local pair similarity, one frame of motion (``margin``: a frame exposed
    a little early or late is less alike, not damaged) and
    :data:`MIN_DAMAGE_DROP`.
    """
    return np.maximum.reduce([DAMAGE_SIGMAS * np.asarray(sigma, np.float64), np.asarray(margin, np.float64),
                              np.full(np.shape(sigma), MIN_DAMAGE_DROP)])


def _scores(S: np.ndarray, gap: np.ndarray, flat: np.ndarray, event: float) -> np.ndarray:
    """Band scores for :func:`align_band`: similarities floored at ``gap - event``; flat rows neutral.

    The floor is what lets continuity decide a damaged frame: however low
    its similarity, matching it to the reference frame its neighbours
    leave free scores above dropping it and skipping that frame
    (``gap - 2 event``), while a frame with no free reference frame is
    still dropped (a duplicate at the floor scores ``gap - 2 event``,
    a drop ``gap - event``). Flat rows (no picture) score the same in
    every cell, a little above the gap: the moves carry them along.
    """
    floor = (gap - event)[:, None]
    out = np.maximum(S.astype(np.float64), floor)
    out[flat] = gap[flat, None] + 1e-3
    return out


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


def _repeats(src: np.ndarray, ref: np.ndarray, s_typ: np.ndarray, flat: np.ndarray,
             labels: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """``(copy_ref, repeat_src)``: reference frames repeating the one before, source frames repeating the
    one before.

    A repeat is a frame much closer to its neighbour than its neighbours
    are to theirs — a distance ``1 - similarity`` at most
    :data:`REPEAT_RATIO` times the median over ``±16`` frames (of the same
    shot, for the source) — and at least as alike as a correct pair (the
    local typical similarity; for the reference, its median over the
    sequence). Skipping such a reference frame, or matching such a source
    frame to its predecessor's reference frame, is the steady rate: a
    telecine's or a scan's repeat. Adjacent frames of a slow pan or a
    static shot are alike, but no more than their neighbours: no repeats.
    """
    def repeats(sigs: np.ndarray, level: np.ndarray, skip: np.ndarray, shots: np.ndarray) -> np.ndarray:
        n = len(sigs)
        sim = np.zeros(n)
        for start in range(1, n, 1024):
            end = min(n, start + 1024)
            sim[start:end] = np.einsum("nd,nd->n", np.asarray(sigs[start:end], np.float32),
                                       np.asarray(sigs[start - 1:end - 1], np.float32))
        dist = 1.0 - sim
        valid = ~skip
        valid[:1] = False
        typical = np.nan_to_num(rolling_median(dist, valid, STATS_HALF_WINDOW, shots), nan=0.0)
        return valid & (dist <= REPEAT_RATIO * typical) & (sim >= level)

    ok = ~flat
    level = float(np.median(s_typ[ok])) if ok.any() else 1.0
    m = len(ref)
    copy_ref = repeats(ref, np.full(m, level), np.zeros(m, bool), np.zeros(m, np.int64))
    shots = np.zeros(len(src), np.int64) if labels is None else np.asarray(labels)
    repeat_src = repeats(src, s_typ, flat | np.concatenate([[True], flat[:-1]]), shots)
    return copy_ref, repeat_src


def _excuses(score: np.ndarray, level: np.ndarray) -> np.ndarray:
    """What lifts each row's best score to ``level`` (0 when it is there already): the excuse of a damaged frame.

    The excuse is the same for every cell of the row, so the row's own
    preference among reference frames stays; it is only granted to a row
    matched between two neighbours on the steady rate (:func:`align_band`),
    so a frame that has no counterpart (no free reference frame between
    its neighbours' matches) is still dropped.
    """
    return np.maximum(level - score.max(axis=1), 0.0)


def _dot(sigs: np.ndarray, a: int, b: int) -> float:
    """Similarity of two frames of one input."""
    return float(np.dot(np.asarray(sigs[a], np.float32), np.asarray(sigs[b], np.float32)))


def _describe(S, lo, band: BandPath, ref, copy_ref, flat, s_typ, drop, tol, baseline, rate, rate_scores, rate_from,
              m, chain_points, event) -> MatchResult:
    path = band.path
    n, width = S.shape
    rows = np.arange(n)
    matched = path >= 0
    k = np.clip(path - lo, 0, width - 1)
    raw = np.where(S > FORCE_BONUS / 2, S - FORCE_BONUS, S).astype(np.float64)
    s = np.where(matched, raw[rows, k], np.nan)
    left = np.where(k > 0, raw[rows, np.maximum(k - 1, 0)], -np.inf)
    right = np.where(k < width - 1, raw[rows, np.minimum(k + 1, width - 1)], -np.inf)
    adj = np.maximum(left, right)
    margin = np.where(matched & np.isfinite(adj), s - adj, np.nan)
    # evidence: how much worse the best path with this frame anywhere else (another reference frame, or
    # dropped) scores than the path found; continuity with the shot counts as much as the frame's own picture
    others = band.marginal.copy()
    others[rows, k] = _NEG
    for r in np.flatnonzero(matched):  # another copy of the same picture (a repeated frame) is no alternative
        kk = int(k[r])
        while kk > 0 and copy_ref[lo[r] + kk]:
            kk -= 1
            others[r, kk] = _NEG
        kk = int(k[r])
        while kk + 1 < width and copy_ref[lo[r] + kk + 1]:
            kk += 1
            others[r, kk] = _NEG
    total = band.marginal_total
    alternative = np.maximum(others.max(axis=1), total - np.nan_to_num(band.drop_cost, nan=np.inf))
    evidence = np.where(matched, total - alternative, np.nan)
    line = np.clip((s_typ - baseline) / max(1.0 - baseline, 1e-6), 0.0, 1.0)
    conf = np.where(matched, line * (1.0 - 2.0 ** (-np.maximum(evidence, 0.0) / event)), np.nan)
    conf = np.where(flat & matched, 0.0, conf)
    damaged = matched & ~flat & (s < s_typ - drop)
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
    # reference frames inside the matched range that no source frame uses: a duplicate when it is as like
    # the reference frame matched beside it as a correct pair is (compared reference to reference, so a
    # damaged source frame nearby changes nothing)
    unmatched: list[tuple[int, str, int]] = []
    if len(hits):
        used = set(int(v) for v in path[hits])
        for j in range(first_j, last_j + 1):
            if j in used:
                continue
            before, after = hits[path[hits] < j], hits[path[hits] > j]
            near = ([int(before[-1])] if len(before) else []) + ([int(after[0])] if len(after) else [])
            kind_j, who = "not_in_source", near[0]
            for r in near:
                if _dot(ref, j, path[r]) >= s_typ[r] - tol[r]:
                    kind_j, who = "duplicate", r
                    break
            unmatched.append((j, kind_j, who))
    return MatchResult(path, kind, reason, s, margin, conf, tol, rate, rate_scores, rate_from, baseline,
                       unmatched, chain_points, damaged, evidence, s_typ)
