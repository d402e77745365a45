"""core.io video: a real MJPG .avi written with OpenCV from a pan across a shipped photo."""

from __future__ import annotations

import numpy as np
import pytest

from core import io
from core.errors import ImageReadError, SequenceError
from tests.conftest import srgb_sample

N_FRAMES, W, H, FPS = 8, 160, 96, 24.0


def _pan_frames() -> list[np.ndarray]:
    """sRGB 0..1 crops of coffee.png moving 12 px right per frame."""
    photo = srgb_sample("coffee.png")
    return [photo[150:150 + H, 100 + 12 * i:100 + 12 * i + W].copy() for i in range(N_FRAMES)]


@pytest.fixture(scope="module")
def pan_video(tmp_path_factory):
    import cv2

    path = tmp_path_factory.mktemp("video") / "pan.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (W, H))
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write MJPG video")
    frames = _pan_frames()
    for f in frames:
        writer.write(np.ascontiguousarray((np.rint(f * 255)).astype(np.uint8)[..., ::-1]))
    writer.release()
    return path, frames


def test_video_info(pan_video):
    path, _ = pan_video
    info = io.video_info(path)
    assert (info.frame_count, info.width, info.height, info.codec) == (N_FRAMES, W, H, "MJPG")
    assert info.fps == pytest.approx(FPS)


def test_frames_read_back_close_to_written(pan_video):
    path, written = pan_video
    frames = list(io.iter_video_frames(path))
    assert [f.frame for f in frames] == list(range(N_FRAMES))
    for f, ref in zip(frames, written):
        assert f.pixels.shape == (H, W, 3) and f.pixels.dtype == np.float32
        assert (f.colorspace, f.metadata["colorspace_source"]) == ("srgb", "default")
        assert np.abs(f.pixels - ref).mean() < 0.02  # MJPG is lossy, but close
    # the frames really are the pan, in order and RGB (not BGR): each matches its own source best
    for i, f in enumerate(frames):
        errors = [np.abs(f.pixels - ref).mean() for ref in written]
        assert int(np.argmin(errors)) == i
        assert np.abs(f.pixels - written[i][..., ::-1]).mean() > np.abs(f.pixels - written[i]).mean()


def test_frame_subset_and_missing(pan_video):
    path, written = pan_video
    frames = list(io.iter_video_frames(path, "1-7x3", colorspace="srgb"))
    assert [f.frame for f in frames] == [1, 4, 7]
    assert frames[0].metadata["colorspace_source"] == "argument"
    assert np.abs(frames[1].pixels - written[4]).mean() < 0.02
    it = io.iter_video_frames(path, "6-10")
    assert [next(it).frame, next(it).frame] == [6, 7]
    with pytest.raises(SequenceError, match=r"missing frames 8-10: the video has 8 frames \(0-7\)"):
        next(it)


def test_video_errors(tmp_path):
    with pytest.raises(ImageReadError, match="no such file"):
        io.video_info(tmp_path / "none.avi")
    (tmp_path / "junk.avi").write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ImageReadError, match="junk.avi: not a readable video"):
        io.iter_video_frames(tmp_path / "junk.avi")
