"""Dataset curation end to end on a real "film" made from the shipped photos.

The film: three shots of 20 frames (160x96), each a slow pan and zoom over
one photo (coffee, chelsea, astronaut) with ``cv2.warpAffine``, scene-linear
ACEScg. The *source* is the film damaged like a 16mm print
(:func:`core.degrade.degrade_frame`, ``faded_16mm``), written as EXR
frames 1001... with one frame scanned twice. The *reference* is the film
graded (gamma, warm tint, lifted blacks), letterboxed into 128x96, as
8-bit sRGB PNG numbered from 1, starting 5 film frames earlier, with two
film frames dropped and two repeated. Every expected number below comes
from how the film was cut, not from the matcher.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from core import io
from core.color import convert
from core.degrade import degrade_frame
from core.errors import ImageReadError, OutputExistsError, ParameterError, SequenceError
from core.pairs import load_pairs
from core.pipeline import PAIRS_PARAMS, build_pairs

W, H = 160, 96
SHOT_LENGTH = 20
# photo, centre (photo px), pan (photo px per frame), zoom at the shot start, zoom change per frame
SHOTS = [("coffee", (280, 200), (3.5, 1.0), 1.0, 0.01),
         ("chelsea", (250, 150), (-3.5, 1.0), 0.9, 0.0),
         ("astronaut", (256, 330), (2.0, -5.0), 0.8, 0.01)]
SOURCE_FIRST = 1001
REF_LEAD = 5              # the reference starts this many film frames before the source
REF_DROPPED = (17, 44)    # film frames missing from the reference
REF_REPEATED = (30, 52)   # film frames the reference shows twice
SOURCE_REPEATED = (56,)   # film frames the scan holds twice
N_FILM = 3 * SHOT_LENGTH


def film_frame(k: int, width: int = W, height: int = H) -> np.ndarray:
    """Film frame ``k`` (negative: before the first shot starts), ACEScg ``HW3`` float32.

    ``width``/``height`` other than 160x96 show more or less of the scene at the same scale.
    """
    import cv2

    from core.io.samples import load_sample

    shot = min(max(k, 0) // SHOT_LENGTH, len(SHOTS) - 1)
    name, (cx, cy), (vx, vy), zoom, dzoom = SHOTS[shot]
    t = k - shot * SHOT_LENGTH
    photo = _photo(name, load_sample)
    scale = 0.5 * zoom * (1 + dzoom * t)  # film px per photo px
    px, py = cx + 2 * vx * t, cy + 2 * vy * t
    m = np.array([[scale, 0, width / 2 - scale * px], [0, scale, height / 2 - scale * py]], np.float32)
    out = cv2.warpAffine(photo, m, (width, height), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
    return convert(out, "srgb", "ACEScg")


_PHOTOS: dict[str, np.ndarray] = {}


def _photo(name, load):
    if name not in _PHOTOS:
        _PHOTOS[name] = load(name).pixels
    return _PHOTOS[name]


def grade(acescg: np.ndarray, size=(128, 96), *, letterbox: bool = True) -> np.ndarray:
    """The reference look: sRGB, gamma 0.8, warm, lifted blacks; letterboxed (or squeezed) into ``size``; 8-bit."""
    import cv2

    srgb = np.clip(convert(acescg, "ACEScg", "srgb"), 0, 1)
    graded = np.clip(srgb ** 0.8 * np.array([1.06, 1.0, 0.88], np.float32) + 0.03, 0, 1)
    w2, h2 = size
    if letterbox:
        h = round(w2 * H / W)
        out = np.zeros((h2, w2, 3), np.float32)
        y0 = (h2 - h) // 2
        out[y0:y0 + h] = cv2.resize(graded, (w2, h), interpolation=cv2.INTER_AREA)
    else:
        out = cv2.resize(graded, (w2, h2), interpolation=cv2.INTER_AREA)
    return (np.round(out * 255) / 255).astype(np.float32)


def source_film_frames() -> list[int]:
    """Film frame shown by each source frame, in order (the scan repeats SOURCE_REPEATED)."""
    out = []
    for k in range(N_FILM):
        out.append(k)
        if k in SOURCE_REPEATED:
            out.append(k)
    return out


def reference_film_frames(first: int = -REF_LEAD, last: int = N_FILM + 4) -> list[int]:
    """Film frame shown by each reference frame, in order (drops and repeats applied)."""
    out = []
    for k in range(first, last + 1):
        if k in REF_DROPPED:
            continue
        out.append(k)
        if k in REF_REPEATED:
            out.append(k)
    return out


def write_source(folder, film, *, preset="faded_16mm", seed=3) -> str:
    pattern = str(folder / "scan.####.exr")
    for n, k in enumerate(source_film_frames()):
        number = SOURCE_FIRST + n
        damaged = degrade_frame(film[k], frame=number, seed=seed, preset=preset).pixels
        io.write_image(io.sequence_path(pattern, number), damaged, colorspace="ACEScg")
    return pattern


def write_reference(folder, film, frames, *, first_number=1, letterbox=True) -> str:
    pattern = str(folder / "dvd.####.png")
    for n, k in enumerate(frames):
        io.write_image(io.sequence_path(pattern, first_number + n), grade(film[k], letterbox=letterbox),
                       colorspace="srgb", bit_depth=8)
    return pattern


@pytest.fixture(scope="module")
def film():
    return {k: film_frame(k) for k in range(-REF_LEAD - 2, N_FILM + 8)}


@pytest.fixture(scope="module")
def footage(tmp_path_factory, film):
    """(source pattern, reference pattern, source film frames, reference film frames)."""
    root = tmp_path_factory.mktemp("footage")
    (root / "scan").mkdir()
    (root / "dvd").mkdir()
    ref_frames = reference_film_frames()
    return (write_source(root / "scan", film), write_reference(root / "dvd", film, ref_frames),
            source_film_frames(), ref_frames)


@pytest.fixture(scope="module")
def built(footage, tmp_path_factory):
    src, ref, _, _ = footage
    out = tmp_path_factory.mktemp("pairs")
    return build_pairs(src, ref, output_dir=out, params={"pairs_per_shot": 4}), out


def truth(src_film, ref_film, *, first_ref_number=1):
    """Source frame number -> the reference frame numbers showing the same film frame (empty: dropped)."""
    where: dict[int, list[int]] = {}
    for n, k in enumerate(ref_film):
        where.setdefault(k, []).append(first_ref_number + n)
    return {SOURCE_FIRST + n: where.get(k, []) for n, k in enumerate(src_film)}


def correct(pairs, expected) -> list[int]:
    """Source frames whose reference frame is right (one of the truth's, or None when the truth has none)."""
    ok = []
    for m in pairs.matches:
        want = expected[m.source_frame]
        if (m.reference_frame in want) if want else m.reference_frame is None:
            ok.append(m.source_frame)
    return ok


# --------------------------------------------------------------------------- matching


def test_offset_rate_and_every_frame(built, footage):
    pairs, _ = built
    _, _, src_film, ref_film = footage
    expected = truth(src_film, ref_film)
    assert pairs.status == "ok"
    assert pairs.timing["rate"] == 1.0 and pairs.timing["rate_name"] == "1"
    # film frame 0 is source 1001 and reference frame 6 (index 5): 5 frames earlier
    assert pairs.timing["offset"] == REF_LEAD
    assert pairs.timing["frame_offset"] == (REF_LEAD + 1) - SOURCE_FIRST
    assert {s["offset"] for s in pairs.timing["segments"]} <= {REF_LEAD - 1.0, float(REF_LEAD)}
    good = correct(pairs, expected)
    assert len(good) >= 0.95 * len(pairs.matches)
    # a confident "matched" is never wrong
    wrong = [m for m in pairs.matches if m.status == "matched" and m.source_frame not in good]
    assert wrong == []
    assert len(pairs.matches) == len(src_film)


def test_dropped_and_duplicated_frames_are_reported(built, footage):
    pairs, _ = built
    _, _, src_film, ref_film = footage
    dropped = [SOURCE_FIRST + n for n, k in enumerate(src_film) if k in REF_DROPPED]
    assert pairs.by_status("dropped") == dropped
    for number in dropped:
        assert pairs.match(number).reference_frame is None
        assert "not in the reference" in pairs.match(number).reason
    # the scan's repeated frame: the second copy shares the first's reference frame
    repeats = [SOURCE_FIRST + n for n in range(1, len(src_film)) if src_film[n] == src_film[n - 1]]
    assert pairs.by_status("duplicate") == repeats
    for number in repeats:
        assert pairs.match(number).reference_frame == pairs.match(number - 1).reference_frame
    # the reference's repeated frames: one copy of each is unused, reported as a duplicate of the other
    unmatched = {r["reference_frame"]: r for r in pairs.reference_unmatched}
    for k in REF_REPEATED:
        copies = [n + 1 for n, f in enumerate(ref_film) if f == k]
        assert len(copies) == 2
        spare = [c for c in copies if c in unmatched]
        assert len(spare) == 1
        assert unmatched[spare[0]]["status"] == "duplicate"
        assert unmatched[spare[0]]["same_as"] == [c for c in copies if c != spare[0]][0]
    assert len(unmatched) == len(REF_REPEATED)
    assert pairs.summary["reference_duplicates"] == len(REF_REPEATED)


def test_confidence_and_summary(built):
    pairs, _ = built
    counts = {s: len(pairs.by_status(s)) for s in ("matched", "duplicate", "dropped", "low_confidence", "override")}
    assert {k: pairs.summary[k] for k in counts} == counts
    assert sum(counts.values()) == len(pairs.matches)
    for m in pairs.matches:
        assert 0.0 <= m.confidence <= 1.0
        if m.status == "matched":
            assert m.confidence >= pairs.params["min_confidence"] and m.similarity > 0.8
        if m.status == "dropped":
            assert m.confidence == 0.0 and m.similarity is None
    assert pairs.summary["median_confidence"] > 0.7  # 0.75: the best alternative needs two more events
    assert pairs.summary["baseline_similarity"] < 0.3


def test_shots_and_selection(built, footage):
    pairs, _ = built
    _, _, src_film, ref_film = footage
    expected = truth(src_film, ref_film)
    # the cuts of the film, in source frame numbers (the scan's repeat shifts the last shot by one)
    assert [(s.first, s.last) for s in pairs.shots] == [(1001, 1020), (1021, 1040), (1041, 1061)]
    for shot in pairs.shots:
        picked = list(shot.selected)
        assert len(picked) == 4
        assert all(b - a >= 2 for a, b in zip(picked, picked[1:]))  # never adjacent
        assert picked[-1] - picked[0] >= shot.frames // 2           # spread over the shot
        for number in picked:
            m = pairs.match(number)
            assert m.status == "matched" and m.reference_frame in expected[number]
    assert pairs.selected_pairs() == [(p["source_frame"], p["reference_frame"]) for p in pairs.selected]
    assert len(pairs.selected) == 12


def test_outputs_on_disk(built):
    import cv2

    pairs, out = built
    assert load_pairs(out).to_dict() == pairs.to_dict()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"] == "pairs build" and manifest["status"] == "done"
    assert set(manifest["outputs"]) == {"pairs.json", "contact_sheet.png"}
    assert manifest["result"]["offset"] == REF_LEAD
    sheet = cv2.imread(str(out / "contact_sheet.png"))
    assert sheet is not None and sheet.shape[0] == 3 * (96 + 14)  # 12 pairs, 4 per row
    assert (out / "signatures" / "source.npz").is_file() and (out / "signatures" / "reference.npz").is_file()
    text = (out / "pairs.json").read_text()
    assert text.index('"overrides"') < text.index('"matches"')  # the hand-edited part comes first
    assert text.count("\n") > len(pairs.matches)  # one line per match


# --------------------------------------------------------------------------- overrides, re-runs, determinism


def test_overrides_are_applied_and_survive_reruns(footage, tmp_path):
    src, ref, src_film, ref_film = footage
    params = {"pairs_per_shot": 3, "contact_sheet": False}
    first = build_pairs(src, ref, output_dir=tmp_path, params=params)
    assert first.overrides == {}
    path = tmp_path / "pairs.json"
    data = json.loads(path.read_text())
    # as a user edits the file: the next reference frame for 1012, exclude 1013, use 1018 after all
    sharper = first.match(1012).reference_frame + 1
    data["overrides"] = {"1012": sharper, "1013": None, "1018": 22, "999": 5}
    path.write_text(json.dumps(data, indent=1))
    second = build_pairs(src, ref, output_dir=tmp_path, params=params)
    assert second.overrides == {1012: sharper, 1013: None, 1018: 22, 999: 5}
    assert (second.match(1012).status, second.match(1012).reference_frame) == ("override", sharper)
    assert (second.match(1013).status, second.match(1013).reference_frame) == ("override", None)
    assert second.match(1013).reason == "excluded by override"
    assert (second.match(1018).status, second.match(1018).reference_frame) == ("override", 22)
    assert second.summary["unused_overrides"] == [999]  # not a source frame: kept, reported, not applied
    assert 1013 not in [p[0] for p in second.selected_pairs()]
    # frames away from the overrides keep their matches
    for number in (1005, 1011, 1014, 1017, 1019, 1030, 1050):
        assert second.match(number).reference_frame == first.match(number).reference_frame
    third = build_pairs(src, ref, output_dir=tmp_path, params=params)  # nothing edited: overrides stay
    assert third.overrides == second.overrides
    assert [m.to_dict() for m in third.matches] == [m.to_dict() for m in second.matches]
    # given as an argument: merged over the file's, the argument wins
    fourth = build_pairs(src, ref, output_dir=tmp_path, params=params, overrides={1012: None, "1020": 26})
    assert fourth.overrides == {1012: None, 1013: None, 1018: 22, 1020: 26, 999: 5}
    assert fourth.match(1012).reference_frame is None and fourth.match(1020).reference_frame == 26
    assert json.loads(path.read_text())["overrides"] == {"999": 5, "1012": None, "1013": None, "1018": 22,
                                                         "1020": 26}
    with pytest.raises(ParameterError, match="reference frame 5000"):
        build_pairs(src, ref, output_dir=tmp_path, params=params, overrides={1012: 5000})


def test_same_seed_same_manifest_and_cache(footage, tmp_path):
    src, ref, _, _ = footage
    a = build_pairs(src, ref, output_dir=tmp_path / "a", params={"seed": 7})
    b = build_pairs(src, ref, output_dir=tmp_path / "b", params={"seed": 7})
    text_a = (tmp_path / "a" / "pairs.json").read_bytes()
    assert text_a == (tmp_path / "b" / "pairs.json").read_bytes()
    # a re-run in place reads no pixels (cached thumbnails) and writes the same manifest
    again = build_pairs(src, ref, output_dir=tmp_path / "a", params={"seed": 7})
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["signature_cache"] == {"source": "reused", "reference": "reused"}
    assert (tmp_path / "a" / "pairs.json").read_bytes() == text_a
    assert again.to_dict() == a.to_dict()
    # another seed: the same matches, a selection drawn again
    c = build_pairs(src, ref, output_dir=tmp_path / "c", params={"seed": 8})
    assert [m.to_dict() for m in c.matches] == [m.to_dict() for m in b.matches]
    assert [s.first for s in c.shots] == [s.first for s in b.shots]


# --------------------------------------------------------------------------- rates, video, no match


def test_24_to_25_by_frame_repetition(film, tmp_path):
    """A 25 fps reference made from 24 fps film by repeating one frame in 24: rate 25/24, every frame right."""
    (tmp_path / "scan").mkdir()
    (tmp_path / "dvd").mkdir()
    src_film = list(range(N_FILM))
    ref_film = [int(np.floor(n * 24 / 25)) - 3 for n in range(N_FILM + 6)]
    pattern = str(tmp_path / "scan" / "scan.####.exr")
    for n, k in enumerate(src_film):
        damaged = degrade_frame(film[k], frame=SOURCE_FIRST + n, seed=1, preset="faded_16mm").pixels
        io.write_image(io.sequence_path(pattern, SOURCE_FIRST + n), damaged, colorspace="ACEScg")
    ref = write_reference(tmp_path / "dvd", film, ref_film)
    pairs = build_pairs(pattern, ref, output_dir=tmp_path / "out", params={"contact_sheet": False})
    assert pairs.status == "ok"
    assert pairs.timing["rate_name"] == "25/24" and pairs.timing["rate_from"] == "content"
    assert pairs.timing["frame_offset"] is None
    expected = truth(src_film, ref_film)
    assert correct(pairs, expected) == [m.source_frame for m in pairs.matches]
    assert pairs.by_status("dropped") == [] and pairs.by_status("duplicate") == []
    # each repeat inside the matched range leaves one copy unused, as a duplicate
    first_ref = min(m.reference_frame for m in pairs.matches)
    last_ref = max(m.reference_frame for m in pairs.matches)
    repeats = [n + 1 for n in range(1, len(ref_film)) if ref_film[n] == ref_film[n - 1]
               and first_ref < n + 1 <= last_ref]
    assert len(repeats) >= 2
    assert len(pairs.reference_unmatched) == len(repeats)
    assert all(r["status"] == "duplicate" for r in pairs.reference_unmatched)
    # with the frame rates given, the same answer comes as the hint
    hinted = build_pairs(pattern, ref, output_dir=tmp_path / "out2",
                         params={"contact_sheet": False, "source_fps": 24, "reference_fps": 25})
    assert hinted.timing["rate_name"] == "25/24" and hinted.timing["fps"] == {"source": 24.0, "reference": 25.0}
    # every frame right again (at a repeat, either copy of the film frame is right)
    assert correct(hinted, expected) == [m.source_frame for m in hinted.matches]


def test_video_reference(film, footage, tmp_path):
    import cv2

    src, _, src_film, ref_film = footage
    path = tmp_path / "dvd.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (128, 96))
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write MJPG video")
    for k in ref_film:
        writer.write(np.ascontiguousarray(np.rint(grade(film[k]) * 255).astype(np.uint8)[..., ::-1]))
    writer.release()
    seen = []
    pairs = build_pairs(src, path, output_dir=tmp_path / "out", params={"pairs_per_shot": 2},
                        progress=lambda done, total, frame: seen.append((done, total)))
    assert pairs.reference["kind"] == "video" and pairs.reference["fps"] == pytest.approx(25.0)
    assert pairs.reference["first"] == 0 and pairs.reference["count"] == len(ref_film)
    assert pairs.timing["offset"] == REF_LEAD and pairs.timing["frame_offset"] == REF_LEAD - SOURCE_FIRST
    expected = truth(src_film, ref_film, first_ref_number=0)  # video frames are 0-based
    assert len(correct(pairs, expected)) >= 0.95 * len(pairs.matches)
    assert pairs.by_status("dropped") == [SOURCE_FIRST + n for n, k in enumerate(src_film) if k in REF_DROPPED]
    assert [d for d, _ in seen] == list(range(1, len(seen) + 1))
    assert seen[-1][0] == len(src_film) + len(ref_film)
    assert (tmp_path / "out" / "contact_sheet.png").is_file()


def test_reference_of_one_shot_is_partial(film, footage, tmp_path):
    """A reference holding only the middle shot: the rest of the source lies before and after it."""
    src, _, src_film, _ = footage
    ref = write_reference(tmp_path, film, list(range(SHOT_LENGTH, 2 * SHOT_LENGTH)), first_number=501)
    pairs = build_pairs(src, ref, output_dir=tmp_path / "out", params={"pairs_per_shot": 3})
    assert pairs.status == "partial" and "only 33%" in pairs.message
    assert pairs.timing["frame_offset"] == 501 - (SOURCE_FIRST + SHOT_LENGTH)
    for m in pairs.matches:
        k = src_film[m.source_frame - SOURCE_FIRST]
        if k < SHOT_LENGTH:
            assert (m.status, m.reason) == ("dropped", "before the reference starts")
        elif k >= 2 * SHOT_LENGTH:
            assert (m.status, m.reason) == ("dropped", "after the reference ends")
        else:
            assert m.status == "matched" and m.reference_frame == 501 + k - SHOT_LENGTH
    assert [len(s.selected) for s in pairs.shots] == [0, 3, 0]


def test_unrelated_reference_is_no_match_not_an_error(footage, tmp_path):
    """Another film (pans over a photo the source never shows): a value saying so, nothing selected."""
    import cv2

    from core.io.samples import load_sample

    src, _, _, _ = footage
    rocket = load_sample("rocket").pixels
    (tmp_path / "other").mkdir()
    pattern = str(tmp_path / "other" / "other.####.png")
    for n in range(40):
        x, y = 120 + 6 * (n % 20), 60 + 40 * (n // 20)
        crop = cv2.resize(rocket[y:y + 240, x:x + 400], (128, 77), interpolation=cv2.INTER_AREA)
        frame = np.zeros((96, 128, 3), np.float32)
        frame[9:86] = crop
        io.write_image(io.sequence_path(pattern, n + 1), frame, colorspace="srgb", bit_depth=8)
    pairs = build_pairs(src, pattern, output_dir=tmp_path / "out")
    assert pairs.status == "no_match"
    assert "no plausible alignment" in pairs.message
    assert pairs.selected == [] and all(s.selected == () for s in pairs.shots)
    assert pairs.summary["median_confidence"] < 0.5
    assert not (tmp_path / "out" / "contact_sheet.png").exists()
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["result"]["status"] == "no_match"


# --------------------------------------------------------------------------- bad inputs


def test_bad_inputs_raise_named_errors(footage, tmp_path):
    src, ref, _, _ = footage
    with pytest.raises(SequenceError, match="nothing.####.exr"):
        build_pairs(str(tmp_path / "nothing.####.exr"), ref, output_dir=tmp_path / "o1")
    broken = tmp_path / "broken"
    broken.mkdir()
    for n in (1, 2, 3):
        (broken / f"b.{n:04d}.exr").write_bytes(b"not an exr at all")
    with pytest.raises(ImageReadError, match="b.0001.exr"):
        build_pairs(str(broken / "b.####.exr"), ref, output_dir=tmp_path / "o2")
    with pytest.raises(ImageReadError, match="missing.avi"):
        build_pairs(src, str(tmp_path / "missing.avi"), output_dir=tmp_path / "o3")
    with pytest.raises(ParameterError, match="unknown parameter"):
        build_pairs(src, ref, output_dir=tmp_path / "o4", params={"pairs_per_shoot": 3})
    with pytest.raises(ParameterError, match="thumbnail_size"):
        build_pairs(src, ref, output_dir=tmp_path / "o5", params={"thumbnail_size": 24, "signature_size": 32})
    with pytest.raises(SequenceError, match="missing frames"):
        build_pairs(src, ref, output_dir=tmp_path / "o6", params={"source_frames": "1001-1100"})


def test_output_folder_of_other_inputs_needs_force(footage, tmp_path):
    src, ref, _, _ = footage
    build_pairs(src, ref, output_dir=tmp_path, params={"contact_sheet": False, "reference_frames": "1-40"},
                overrides={1005: 10})
    other = str(tmp_path / "elsewhere.####.png")
    for n in range(1, 4):
        io.write_image(io.sequence_path(other, n), grade(film_frame(n)), colorspace="srgb", bit_depth=8)
    with pytest.raises(OutputExistsError, match="pairs.json"):
        build_pairs(src, other, output_dir=tmp_path)
    replaced = build_pairs(src, other, output_dir=tmp_path, force=True, params={"contact_sheet": False})
    assert replaced.overrides == {} and replaced.reference["count"] == 3
    # a hand edit that broke the JSON stops the run instead of losing the overrides
    (tmp_path / "pairs.json").write_text('{"format": "reelkit.pairs/1", "overrides": {"1012": 40,}}')
    with pytest.raises(ImageReadError, match="line 1"):
        build_pairs(src, other, output_dir=tmp_path)


def test_params_spec():
    values = PAIRS_PARAMS.resolve({})
    assert values["pairs_per_shot"] == 8 and values["framing"] == "auto" and values["rate"] == 0.0
    import argparse

    parser = argparse.ArgumentParser()
    PAIRS_PARAMS.add_arguments(parser)
    ns = parser.parse_args(["--pairs-per-shot", "3", "--framing", "crop", "--no-contact-sheet"])
    got = PAIRS_PARAMS.from_namespace(ns)
    assert (got["pairs_per_shot"], got["framing"], got["contact_sheet"]) == (3, "crop", False)
    with pytest.raises(ParameterError):
        PAIRS_PARAMS.resolve({"framing": "stretch"})


def test_cli_pairs_build_matches_the_library(footage, built, tmp_path, capsys):
    from core.cli.main import main
    from core.pairs import load_pairs

    src, ref, _, _ = footage
    lib, _ = built
    assert main(["pairs", "build", "--source", src, "--reference", ref, "--pairs-per-shot", "4",
                 "-o", str(tmp_path / "cli"), "-q"]) == 0
    cli = load_pairs(tmp_path / "cli")
    assert [(m.source_frame, m.reference_frame, m.status) for m in cli.matches] == \
        [(m.source_frame, m.reference_frame, m.status) for m in lib.matches]
    assert cli.selected_pairs() == lib.selected_pairs()
    capsys.readouterr()
    assert main(["pairs", "build", "--source", src, "--reference", str(tmp_path / "none.####.exr"),
                 "-o", str(tmp_path / "bad"), "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "none.####.exr" in err[0]
