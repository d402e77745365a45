"""core.io sequences: frame ranges, patterns, gaps, lazy iteration."""

from __future__ import annotations

import gc
import os
import weakref
from pathlib import Path

import numpy as np
import pytest

from core import io
from core.errors import SequenceError
from core.io import FrameRange


def _write_plate(folder: Path, name: str, frames, *, size=(4, 6)) -> None:
    """One tiny EXR per frame whose pixels hold the frame number (so frames are distinguishable)."""
    for n in frames:
        io.write_image(io.sequence_path(str(folder / name), n), np.full((*size, 3), float(n)),
                       colorspace="ACEScg", pixel_type="float")


# --------------------------------------------------------------------------- frame ranges


@pytest.mark.parametrize("text, frames", [
    ("1001", [1001]),
    ("1001-1005", [1001, 1002, 1003, 1004, 1005]),
    ("1001-1009x2", [1001, 1003, 1005, 1007, 1009]),
    ("1001-1010x4", [1001, 1005, 1009]),
    ("1,5,7-9", [1, 5, 7, 8, 9]),
    (" 7-9 , 1, 5 ,5", [1, 5, 7, 8, 9]),
    ("0", [0]),
    ("1003-1005, 1009", [1003, 1004, 1005, 1009]),
])
def test_frame_range_parse(text, frames):
    r = FrameRange.parse(text)
    assert list(r) == frames and len(r) == len(frames)
    assert (r.first, r.last) == (frames[0], frames[-1])
    assert FrameRange.parse(str(r)) == r
    assert frames[0] in r and frames[-1] + 1 not in r


@pytest.mark.parametrize("text, match", [
    ("", "empty"),
    ("   ", "empty"),
    ("abc", "not N, A-B or A-BxS"),
    ("1001-", "not N, A-B or A-BxS"),
    ("-5", "not N, A-B or A-BxS"),
    ("1,,2", "not N, A-B or A-BxS"),
    ("1.5", "not N, A-B or A-BxS"),
    ("1100-1001", "ends before it starts"),
    ("1-10x0", "step must be at least 1"),
    ("0-99999999", "more than"),
])
def test_frame_range_errors(text, match):
    with pytest.raises(SequenceError, match=match):
        FrameRange.parse(text)


def test_frame_range_constructor_normalises_and_validates():
    assert FrameRange((9, 3, 3)).frames == (3, 9)
    with pytest.raises(SequenceError, match="non-negative ints"):
        FrameRange((1, -1))
    with pytest.raises(SequenceError, match="no frames"):
        FrameRange(())


def test_as_frame_range_accepts_ints_and_iterables():
    assert list(io.as_frame_range(7)) == [7]
    assert list(io.as_frame_range([9, 3, 3])) == [3, 9]
    assert list(io.as_frame_range(range(1, 4))) == [1, 2, 3]
    with pytest.raises(SequenceError):
        io.as_frame_range([1, -2])
    with pytest.raises(SequenceError):
        io.as_frame_range(1.5)
    with pytest.raises(SequenceError):
        io.as_frame_range([])


@pytest.mark.parametrize("frames, text", [
    ([1003, 1004, 1005, 1009], "1003-1005, 1009"),
    ([1, 3, 5, 7], "1-7x2"),
    ([1, 3], "1, 3"),
    ([5], "5"),
    ([1, 2, 10, 20, 30, 31], "1-2, 10-30x10, 31"),
])
def test_format_frames(frames, text):
    assert io.format_frames(frames) == text
    assert list(FrameRange.parse(text)) == sorted(frames)


def test_format_frames_limit_and_missing():
    assert io.format_frames(range(0, 100, 3), limit=None) == "0-99x3"
    assert io.format_frames([1, 3, 10, 12, 20], limit=2) == "1, 3, ... and 3 more"
    assert io.missing_frames([1001, 1002, 1006, 1008]) == [1003, 1004, 1005, 1007]
    assert io.missing_frames([5]) == [] and io.missing_frames([]) == []


# --------------------------------------------------------------------------- patterns


@pytest.mark.parametrize("pattern, frame, path", [
    ("plate.####.exr", 1001, "plate.1001.exr"),
    ("plate.####.exr", 7, "plate.0007.exr"),
    ("plate.####.exr", 12345, "plate.12345.exr"),
    ("plate.%04d.exr", 42, "plate.0042.exr"),
    ("plate.%d.exr", 42, "plate.42.exr"),
    ("plate.@@@.png", 5, "plate.005.png"),
    ("plate.#.png", 5, "plate.5.png"),
    ("dir/v002/plate_####.tif", 3, os.path.join("dir/v002", "plate_0003.tif")),
])
def test_sequence_path(pattern, frame, path):
    assert io.sequence_path(pattern, frame) == path
    assert io.is_sequence_pattern(pattern)


def test_pattern_errors_and_detection():
    assert not io.is_sequence_pattern("plate.1001.exr")
    assert not io.is_sequence_pattern("a.##.b.##.exr")
    assert io.is_sequence_pattern(Path("shots/plate.%04d.exr"))
    with pytest.raises(SequenceError, match="not a sequence pattern"):
        io.sequence_path("plate.exr", 1)
    with pytest.raises(SequenceError, match="more than one"):
        io.sequence_path("a.##.b.##.exr", 1)
    with pytest.raises(SequenceError, match="non-negative"):
        io.sequence_path("a.####.exr", -1)
    with pytest.raises(SequenceError, match="must be an int"):
        io.sequence_path("a.####.exr", 1.0)


@pytest.mark.parametrize("path, pattern", [
    ("plate.1001.exr", "plate.####.exr"),
    ("shots/sh010_v002.0042.png", os.path.join("shots", "sh010_v002.####.png")),
    ("frame7.tif", "frame#.tif"),
    ("plate.####.exr", "plate.####.exr"),
    ("plate.exr", None),
])
def test_sequence_pattern_from_a_file(path, pattern):
    assert io.sequence_pattern(path) == pattern


def test_find_frames_hash_percent_and_padding(tmp_path):
    _write_plate(tmp_path, "plate.####.exr", [1001, 1002, 1004])
    (tmp_path / "plate.01003.exr").write_bytes(b"")  # 5 digits: not a #### frame
    (tmp_path / "plate.1005.exr.bak").write_bytes(b"")
    (tmp_path / "other.1003.exr").write_bytes(b"")
    (tmp_path / "plate.1006.exr").mkdir()  # folders are not frames
    assert io.find_frames(tmp_path / "plate.####.exr") == [1001, 1002, 1004]
    assert io.find_frames(str(tmp_path / "plate.%04d.exr")) == [1001, 1002, 1004]
    assert io.find_frames(tmp_path / "plate.@@@@.exr") == [1001, 1002, 1004]
    assert io.find_frames(tmp_path / "plate.#####.exr") == [1003]
    # a file of the sequence leads to its pattern and frames
    assert io.find_frames(io.sequence_pattern(tmp_path / "plate.1002.exr")) == [1001, 1002, 1004]


def test_empty_sequence_is_an_error(tmp_path):
    with pytest.raises(SequenceError, match=rf"no files match plate\.####\.exr in {tmp_path}"):
        io.find_frames(tmp_path / "plate.####.exr")
    with pytest.raises(SequenceError, match="does not exist"):
        io.find_frames(tmp_path / "nowhere" / "plate.####.exr")
    with pytest.raises(SequenceError, match="no files match"):
        io.iter_frames(tmp_path / "plate.%04d.exr")


def test_gaps_are_named_compactly(tmp_path):
    _write_plate(tmp_path, "plate.####.exr", [1001, 1002, 1006, 1007, 1008, 1010])
    pattern = str(tmp_path / "plate.####.exr")
    with pytest.raises(SequenceError, match=r"missing frames 1003-1005, 1009 \(on disk: 1001-1002, 1006-1008, 1010\)"):
        io.resolve_frames(pattern)
    with pytest.raises(SequenceError, match=r"missing frames 1003-1005 of the requested 1001-1006"):
        io.iter_frames(pattern, "1001-1006")  # raised before any frame is read
    assert io.resolve_frames(pattern, "1006-1008") == [1006, 1007, 1008]
    with pytest.raises(SequenceError, match=r"missing frames 1005, 1009 of the requested 1001-1009x4"):
        io.resolve_frames(pattern, "1001-1009x4")


def test_step_range_with_missing_members(tmp_path):
    _write_plate(tmp_path, "p.####.exr", [1, 3, 5])
    assert io.resolve_frames(tmp_path / "p.####.exr", "1-5x2") == [1, 3, 5]
    with pytest.raises(SequenceError, match="missing frames 7"):
        io.resolve_frames(tmp_path / "p.####.exr", "1-7x2")
    with pytest.raises(SequenceError, match="missing frames 2"):
        io.resolve_frames(tmp_path / "p.####.exr")


# --------------------------------------------------------------------------- iteration


@pytest.mark.parametrize("token", ["####", "%04d"])
def test_iter_frames_yields_frames_in_order(tmp_path, token):
    _write_plate(tmp_path, "plate.####.exr", range(1001, 1006))
    frames = list(io.iter_frames(tmp_path / f"plate.{token}.exr", "1001-1005x2"))
    assert [f.frame for f in frames] == [1001, 1003, 1005]
    for f in frames:
        assert np.all(f.pixels == f.frame) and f.path.endswith(f"plate.{f.frame}.exr")
        assert (f.colorspace, f.metadata["colorspace_source"]) == ("ACEScg", "header")
    lin = next(io.iter_frames(tmp_path / "plate.####.exr", 1004, colorspace="lin_rec709"))
    assert (lin.frame, lin.colorspace, lin.metadata["colorspace_source"]) == (1004, "lin_rec709", "argument")


def test_iter_frames_is_lazy_and_keeps_nothing(tmp_path):
    _write_plate(tmp_path, "plate.####.exr", range(1, 5))
    it = io.iter_frames(tmp_path / "plate.####.exr")
    # files are read when asked for: a frame replaced after the call is seen
    io.write_image(tmp_path / "plate.0003.exr", np.full((4, 6, 3), 99.0), colorspace="ACEScg",
                   pixel_type="float", overwrite=True)
    first = next(it)
    ref = weakref.ref(first.pixels)
    del first
    second = next(it)
    gc.collect()
    assert ref() is None, "the iterator kept the previous frame's pixels"
    assert second.frame == 2
    third = next(it)
    assert np.all(third.pixels == 99.0)
    # a file deleted after the call fails when its turn comes, naming it
    (tmp_path / "plate.0004.exr").unlink()
    with pytest.raises(OSError, match="plate.0004.exr"):
        next(it)


def test_png_sequence_round_trip(tmp_path):
    for n in (1, 2, 3):
        io.write_image(io.sequence_path(str(tmp_path / "p.%03d.png"), n), np.full((2, 3, 3), n / 10),
                       colorspace="srgb", bit_depth=16)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.001.png", "p.002.png", "p.003.png"]
    values = [round(float(f.pixels.mean()), 4) for f in io.iter_frames(tmp_path / "p.###.png")]
    assert values == [0.1, 0.2, 0.3]
