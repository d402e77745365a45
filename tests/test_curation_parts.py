"""The parts of dataset curation on real pictures: signatures, bars, framing, cuts, alignment, selection, format.

Frames come from the film of :mod:`tests.test_curation` (pans and zooms over
the shipped photos); every expected value follows from how the pictures
were made.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from core import io
from core.degrade import degrade_frame
from core.errors import FormatError, ImageReadError, ParameterError
from core.frame import Frame
from core.pairs import FORMAT, FrameMatch, PairManifest, Shot, load_pairs, parse_overrides
from core.pipeline import build_pairs
from core.pipeline import matching, selection
from core.pipeline import signatures as sig
from core.pipeline.sources import open_input
from core.shots import signature_cuts
from tests.test_curation import SHOT_LENGTH, film_frame, grade

N = 3 * SHOT_LENGTH


@pytest.fixture(scope="module")
def film():
    return {k: film_frame(k) for k in range(-6, N + 20)}


def thumbs_of(frames: list[Frame], size: int = 64) -> np.ndarray:
    shape = sig.thumbnail_shape(frames[0].width, frames[0].height, size)
    return np.stack([sig.frame_thumbnail(f, shape) for f in frames]).astype(np.float16)


def sigs_of(frames: list[Frame], *, grid_width: int = 32, gradients: bool = True, bars: bool = True):
    t = thumbs_of(frames)
    box = sig.active_box(t) if bars else (0, 0, t.shape[2], t.shape[1])
    aspect = sig.box_aspect(box, t.shape[1:], frames[0].width, frames[0].height)
    return sig.signatures(sig.crop_grid(t, box, sig.grid_shape(grid_width, aspect)), gradients=gradients)


# --------------------------------------------------------------------------- signatures


def test_same_picture_in_other_space_size_and_grade_is_similar(film):
    linear = Frame(film[5], "ACEScg")                                # scene-linear, 160x96
    display = Frame(grade(film[5], (120, 72), letterbox=False), "srgb")  # graded, encoded, smaller
    moved = Frame(film[8], "ACEScg")                                 # the same shot 3 frames later
    other = Frame(film[25], "ACEScg")                                # another shot
    faded = Frame(degrade_frame(film[5], frame=5, seed=2, preset="faded_16mm").pixels, "ACEScg")
    s = {name: sigs_of([f])[0][0] for name, f in
         (("linear", linear), ("display", display), ("moved", moved), ("other", other), ("faded", faded))}
    assert s["linear"] @ s["display"] > 0.95
    assert s["linear"] @ s["faded"] > 0.9
    assert s["linear"] @ s["moved"] < s["linear"] @ s["display"] - 0.1
    assert abs(s["linear"] @ s["other"]) < 0.3
    for v in s.values():
        assert v.dtype == np.float32 and np.linalg.norm(v) == pytest.approx(1.0, abs=1e-5)


def test_rank_signature_shrugs_off_tone_changes(film):
    """Gamma, gain and lift per channel (a fade, a grade): only area averaging and colour mixing remain."""
    base, _ = sigs_of([Frame(film[12], "ACEScg")], bars=False)
    for curved in (np.power(film[12], 2.2) * 3.0 + 0.02, np.power(film[12], 0.6) * 0.5, film[12] * 0.3 + 0.05):
        other, _ = sigs_of([Frame(curved, "ACEScg")], bars=False)
        assert base[0] @ other[0] > 0.98


def test_flat_frames_have_no_signature():
    black = Frame(np.zeros((96, 160, 3), np.float32), "ACEScg")
    grey = Frame(np.full((96, 160, 3), 0.18, np.float32), "ACEScg")
    s, flat = sigs_of([black, grey])
    assert flat.tolist() == [True, True] and not s.any()


def test_thumbnail_is_log2_luminance():
    grey = Frame(np.full((40, 80, 3), 0.18, np.float32), "ACEScg")
    t = sig.frame_thumbnail(grey, sig.thumbnail_shape(80, 40, 16))
    assert t.shape == (8, 16)
    assert np.allclose(t, np.log2(0.18 + sig.LOG_FLOOR), atol=1e-4)  # ACEScg grey: Y = 0.18
    mid = Frame(np.full((40, 80, 3), 0.5, np.float32), "srgb")  # display-encoded 0.5 -> linear 0.214
    assert np.allclose(sig.frame_thumbnail(mid, (8, 16)), np.log2(0.21404 + sig.LOG_FLOOR), atol=1e-3)
    assert sig.thumbnail_shape(1920, 1080, 64) == (36, 64) and sig.thumbnail_shape(1080, 1920, 64) == (64, 36)


# --------------------------------------------------------------------------- bars and framing


def test_letterbox_and_pillarbox_found_through_damage(film):
    def boxed(k, top, left, size):
        w, h = size
        out = np.zeros((h, w, 3), np.float32)
        out[top:h - top, left:w - left] = film_frame(k, w - 2 * left, h - 2 * top)
        return degrade_frame(out, frame=k, seed=4, preset="faded_16mm").pixels  # stain lifts the bars

    letter = [Frame(boxed(k, 15, 0, (160, 120)), "ACEScg") for k in range(0, 24, 2)]
    t = thumbs_of(letter)
    x0, y0, x1, y1 = sig.active_box(t)
    px = 160 / t.shape[2]  # px per thumbnail px
    assert (x0, x1) == (0, t.shape[2])
    assert abs(y0 * px - 15) <= px and abs(y1 * px - 105) <= px
    # a 4:3 telecine pillarboxed into a wider raster: video, so no film scratches across the bars
    pillar = []
    for k in range(0, 24, 2):
        out = np.zeros((96, 168, 3), np.float32)
        out[:, 20:148] = grade(film_frame(k, 128, 96), (128, 96), letterbox=False)
        pillar.append(Frame(out, "srgb"))
    t = thumbs_of(pillar)
    x0, y0, x1, y1 = sig.active_box(t)
    px = 168 / t.shape[2]
    assert (y0, y1) == (0, t.shape[1])
    assert abs(x0 * px - 20) <= px and abs(x1 * px - 148) <= px
    # no bars: the whole frame
    t = thumbs_of([Frame(film[k], "ACEScg") for k in range(10)])
    assert sig.active_box(t) == (0, 0, t.shape[2], t.shape[1])


def test_crop_to_aspect():
    assert sig.crop_to_aspect((0, 0, 64, 36), 16 / 9, 4 / 3) == pytest.approx((8.0, 0, 56.0, 36))
    assert sig.crop_to_aspect((0, 0, 64, 48), 4 / 3, 16 / 9) == pytest.approx((0, 6.0, 64, 42.0))
    with pytest.raises(ParameterError):
        sig.framing_boxes("stretch", (0, 0, 1, 1), 1.0, (0, 0, 1, 1), 1.0)


@pytest.mark.parametrize("kind, expected", [("pan_and_scan", "crop"), ("open_matte", "matte"),
                                            ("anamorphic", "fit")])
def test_framing_auto_finds_how_the_reference_was_framed(film, tmp_path, kind, expected):
    frames = range(SHOT_LENGTH)
    src = str(tmp_path / "scan.####.exr")
    ref = str(tmp_path / "ref.####.png")
    for k in frames:
        io.write_image(io.sequence_path(src, 1001 + k), degrade_frame(film[k], frame=k, seed=1,
                                                                      preset="faded_16mm").pixels,
                       colorspace="ACEScg")
        if kind == "pan_and_scan":      # the centre 4:3 of the picture
            picture = grade(film[k][:, 16:144], (128, 96), letterbox=False)
        elif kind == "open_matte":      # more picture above and below
            picture = grade(film_frame(k, 160, 120), (128, 96), letterbox=False)
        else:                           # the whole picture squeezed into a narrower raster
            picture = grade(film[k], (96, 96), letterbox=False)
        io.write_image(io.sequence_path(ref, 1 + k), picture, colorspace="srgb", bit_depth=8)
    pairs = build_pairs(src, ref, output_dir=tmp_path / "out", params={"contact_sheet": False})
    assert pairs.framing["mode"] == expected
    assert set(pairs.framing["scores"]) == {"fit", "crop", "matte"}
    assert pairs.timing["frame_offset"] == 1 - 1001
    assert all(m.reference_frame == m.source_frame - 1000 for m in pairs.matches)


# --------------------------------------------------------------------------- cuts and selection


def test_cuts_of_the_film_and_a_fade_to_black(film):
    frames = [Frame(film[k], "ACEScg") for k in range(N)]
    s, flat = sigs_of(frames)
    assert signature_cuts(s, flat) == [0, SHOT_LENGTH, 2 * SHOT_LENGTH]
    black = Frame(np.zeros((96, 160, 3), np.float32), "ACEScg")
    faded = frames[:15] + [black] * 4 + frames[20:40]
    s, flat = sigs_of(faded)
    assert signature_cuts(s, flat) == [0, 15, 19]
    assert signature_cuts(s, flat, min_length=5) == [0, 15]


def test_selection_is_spread_diverse_and_seeded(film):
    frames = [Frame(film[k], "ACEScg") for k in range(SHOT_LENGTH)]
    s, _ = sigs_of(frames)
    rows = np.arange(SHOT_LENGTH)
    conf = np.ones(SHOT_LENGTH)
    picks = selection.select_pairs(rows, s, conf, count=5, min_spacing=3, seed=4)
    assert len(picks) == 5 and picks == sorted(picks)
    assert all(b - a >= 3 for a, b in zip(picks, picks[1:]))
    assert picks[-1] - picks[0] >= SHOT_LENGTH // 2
    assert picks == selection.select_pairs(rows, s, conf, count=5, min_spacing=3, seed=4)
    assert len({tuple(selection.select_pairs(rows, s, conf, count=5, min_spacing=3, seed=k)) for k in range(8)}) > 1
    # never more than the spacing allows, never padded
    assert len(selection.select_pairs(rows, s, conf, count=50, min_spacing=2, seed=0)) == SHOT_LENGTH // 2
    assert selection.select_pairs(rows[:0], s, conf, count=5) == []
    # the first pick comes from the more confident half
    low = np.where(rows < 10, 0.1, 0.9)
    assert selection.select_pairs(rows, s, low, count=1, seed=3)[0] >= 10


# --------------------------------------------------------------------------- alignment


def test_missing_scene_and_inserted_material_beyond_the_search_window(film):
    """Reference without film frames 25-36 (12 frames) and with 15 frames of other material after 47."""
    import cv2

    from core.io.samples import load_sample

    rocket = load_sample("rocket").pixels
    extra = [cv2.resize(rocket[100:292, 40 + 8 * n:360 + 8 * n], (160, 96), interpolation=cv2.INTER_AREA)
             for n in range(15)]
    src_film = list(range(N))
    ref_items = [k for k in range(-3, N + 3) if not 25 <= k <= 36]
    at = ref_items.index(47) + 1
    ref_items = ref_items[:at] + [("x", n) for n in range(15)] + ref_items[at:]
    src = [Frame(degrade_frame(film[k], frame=k, seed=5, preset="faded_16mm").pixels, "ACEScg") for k in src_film]
    ref = [Frame(grade(film[k], (160, 96), letterbox=False) if isinstance(k, int) else extra[k[1]], "srgb")
           for k in ref_items]
    s_sig, s_flat = sigs_of(src)
    r_sig, _ = sigs_of(ref)
    s_coarse, _ = sigs_of(src, grid_width=16, gradients=False)
    r_coarse, _ = sigs_of(ref, grid_width=16, gradients=False)
    res = matching.match_signatures(s_sig, r_sig, s_coarse, r_coarse, s_flat,
                                    settings=matching.MatchSettings(window=6))
    assert res.rate == 1.0
    for i, k in enumerate(src_film):
        j = int(res.ref_index[i])
        if 25 <= k <= 36:
            assert j == -1 and res.drop_reason[i] == "not_in_reference"
        else:
            assert j >= 0 and ref_items[j] == k
    inserted = sorted(j for j, kind, _ in res.ref_unmatched if kind == "not_in_source")
    assert inserted == [j for j, item in enumerate(ref_items) if not isinstance(item, int)]


def test_align_band_moves():
    """The dynamic programme on a hand-made similarity band: duplicate, drop, skip, and a damaged frame excused."""
    n, width = 6, 5
    lo = np.zeros(n, np.int64)
    moves = {"m": width, "event": 0.1, "jump": 0.5}
    S = np.full((n, width), 0.1)
    # rows 0..5 want reference 0, 1, 1 (a repeat), -, 2 (row 3 matches nothing, and no reference frame is left
    # for it between its neighbours' matches), 3
    for r, j in enumerate([0, 1, 1, None, 2, 3]):
        if j is not None:
            S[r, j] = 0.95
    assert matching.align_band(S, lo, np.full(n, 0.8), **moves).path.tolist() == [0, 1, 1, -1, 2, 3]
    # reference frame 2 skipped between rows: row 2 moves on to 3
    S2 = np.full((4, width), 0.1)
    for r, j in enumerate([0, 1, 3, 4]):
        S2[r, j] = 0.95
    assert matching.align_band(S2, np.zeros(4, np.int64), np.full(4, 0.8), **moves).path.tolist() == [0, 1, 3, 4]
    # row 2 damaged (0.3 everywhere) between neighbours on the steady rate: dropped on similarity alone, matched
    # to the free reference frame once excused up to the typical 0.95; excused rows are never neighbours
    S3 = np.full((5, width), 0.1)
    for r, j in enumerate([0, 1, None, 3, 4]):
        if j is not None:
            S3[r, j] = 0.95
    S3[2] = 0.3
    assert matching.align_band(S3, np.zeros(5, np.int64), np.full(5, 0.8), **moves).path.tolist() == [0, 1, -1, 3, 4]
    excused = matching.align_band(S3, np.zeros(5, np.int64), np.full(5, 0.8), excuse=np.maximum(0.95 - S3.max(1), 0),
                                  **moves)
    assert excused.path.tolist() == [0, 1, 2, 3, 4] and excused.steady.tolist() == [False, False, True, False, False]


def test_rate_estimate_from_pairs():
    i = np.arange(48)
    j = np.floor(i * 25 / 24).astype(np.int64) + 7
    rate, scores = matching.estimate_rate(i, j, np.ones(len(i)))
    assert rate == pytest.approx(25 / 24) and scores["25/24"] == 48
    rate, _ = matching.estimate_rate(i, i + 3, np.ones(len(i)))
    assert rate == 1.0
    assert matching.rate_name(5 / 4) == "5/4" and matching.rate_name(1.0) == "1"


# --------------------------------------------------------------------------- thumbnails: cache and memory


def test_thumbnail_cache_and_flat_memory(film, tmp_path):
    import os
    import tracemalloc

    pattern = str(tmp_path / "big.####.png")
    for k in range(16):
        big = np.repeat(np.repeat(grade(film[k], (160, 96), letterbox=False), 3, axis=0), 3, axis=1)  # 480x288
        io.write_image(io.sequence_path(pattern, k + 1), big, colorspace="srgb", bit_depth=8)
    source = open_input(pattern)
    frame_bytes = 480 * 288 * 3 * 4
    tracemalloc.start()
    thumbs = sig.read_thumbnails(source, cache=tmp_path / "cache.npz")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert thumbs.pixels.shape == (16, 38, 64) and not thumbs.cached
    assert peak < 6 * frame_bytes  # a few frames' worth, not 16
    again = sig.read_thumbnails(open_input(pattern), cache=tmp_path / "cache.npz")
    assert again.cached and np.array_equal(again.pixels, thumbs.pixels)
    assert again.numbers.tolist() == list(range(1, 17))
    # a changed file invalidates the cache
    path = io.sequence_path(pattern, 3)
    os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 10**9))
    assert not sig.read_thumbnails(open_input(pattern), cache=tmp_path / "cache.npz").cached
    # a damaged cache is rebuilt, never trusted
    (tmp_path / "cache.npz").write_bytes(b"garbage")
    assert not sig.read_thumbnails(open_input(pattern), cache=tmp_path / "cache.npz").cached


# --------------------------------------------------------------------------- the file format


def small_manifest() -> PairManifest:
    return PairManifest(
        source={"path": "scan.####.exr", "kind": "sequence"}, reference={"path": "dvd.avi", "kind": "video"},
        timing={"rate": 1.0, "offset": 3}, framing={"mode": "fit"}, params={"seed": 0},
        matches=[FrameMatch(1001, 4, "matched", 0.93, 0.95, 0.05), FrameMatch(1002, None, "dropped", 0.0,
                                                                               reason="not in the reference")],
        shots=[Shot(0, 1001, 1002, 2, (1001,))],
        selected=[{"shot": 0, "source_frame": 1001, "reference_frame": 4, "confidence": 0.93}],
        reference_unmatched=[], overrides={1002: None, 1010: 12})


def test_format_round_trip(tmp_path):
    pm = small_manifest()
    path = pm.save(tmp_path)
    assert path.name == "pairs.json"
    back = load_pairs(path)
    assert back.to_dict() == pm.to_dict()
    data = json.loads(path.read_text())
    assert data["format"] == FORMAT.tag == "reelkit.pairs/1"
    assert data["overrides"] == {"1002": None, "1010": 12}
    assert back.selected_pairs() == [(1001, 4)] and back.mapping() == {1001: 4, 1002: None}
    assert back.by_status("dropped") == [1002]
    with pytest.raises(ParameterError):
        back.by_status("lost")


def test_upgrade_hook_and_refusals(tmp_path):
    old = small_manifest().to_dict()
    old["format"] = "reelkit.pairs/0"
    old["pairs"] = old.pop("matches")  # what a version 0 might have called them

    def zero_to_one(payload):
        payload = dict(payload)
        payload["matches"] = payload.pop("pairs")
        payload["format"] = "reelkit.pairs/1"
        return payload

    assert FORMAT.read(dict(old), where="old", upgraders={0: zero_to_one})["matches"][0]["source_frame"] == 1001
    with pytest.raises(FormatError, match="no upgrade path"):
        PairManifest.from_dict(old)
    newer = small_manifest().to_dict()
    newer["format"] = "reelkit.pairs/9"
    with pytest.raises(FormatError, match="newer"):
        PairManifest.from_dict(newer)
    (tmp_path / "palette.json").write_text(json.dumps({"format": "reelkit.palette/1"}))
    with pytest.raises(FormatError, match=r"palette.json: format 'reelkit.palette/1', expected reelkit.pairs/1 "
                       r"\(a pair manifest"):
        load_pairs(tmp_path / "palette.json")
    (tmp_path / "bad.json").write_text('{\n  "format": "reelkit.pairs/1",\n  "overrides": {"1": 2,}\n}')
    with pytest.raises(ImageReadError, match="line 3"):
        load_pairs(tmp_path / "bad.json")
    with pytest.raises(ImageReadError, match="no such"):
        load_pairs(tmp_path / "absent.json")
    broken = small_manifest().to_dict()
    del broken["matches"]
    with pytest.raises(ImageReadError, match="malformed"):
        PairManifest.from_dict(broken)


def test_override_validation():
    assert parse_overrides({"1012": 1043, "1013": None, 7: "9"}) == {1012: 1043, 1013: None, 7: 9}
    for bad in ({"x": 1}, {"1": -3}, {"1": True}, {"1": 2.5}, [1, 2]):
        with pytest.raises(ParameterError):
            parse_overrides(bad)
