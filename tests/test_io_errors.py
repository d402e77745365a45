"""core.io bad input: missing, corrupt and truncated files, unknown types, overwrite refusal."""

from __future__ import annotations

import numpy as np
import pytest

from core import io
from core.errors import (
    ImageReadError,
    ImageWriteError,
    OutputExistsError,
    ParameterError,
    ReelkitError,
)
from tests.conftest import srgb_sample


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return srgb_sample("coffee.png")[:64, :96].copy()


def test_missing_file_names_the_path(tmp_path):
    for name in ("none.exr", "none.png", "none.jpg", "none.tif"):
        with pytest.raises(ImageReadError, match=rf"{name}: no such file"):
            io.read_image(tmp_path / name)
    with pytest.raises(ImageReadError, match="no such file"):
        io.read_exr_header(tmp_path / "none.exr")
    with pytest.raises(ImageReadError, match=r"sequence pattern: use iter_frames"):
        io.read_image(tmp_path / "plate.####.exr")
    with pytest.raises(ImageReadError, match="not a regular file"):
        io.read_image(tmp_path)
    # ImageReadError is an OSError and a ReelkitError
    with pytest.raises(OSError):
        io.read_image(tmp_path / "none.exr")
    with pytest.raises(ReelkitError):
        io.read_image(tmp_path / "none.exr")


@pytest.mark.parametrize("name", ["junk.exr", "junk.png", "junk.jpg", "junk.tif"])
def test_random_bytes_are_a_clear_error(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(np.random.default_rng(3).bytes(2000))
    with pytest.raises(ImageReadError, match=rf"{name}: not a"):
        io.read_image(path)


@pytest.mark.parametrize("name", ["empty.exr", "empty.png", "empty.jpg", "empty.tiff"])
def test_empty_files_are_a_clear_error(tmp_path, name):
    (tmp_path / name).write_bytes(b"")
    with pytest.raises(ImageReadError, match=name):
        io.read_image(tmp_path / name)


def test_exr_header_of_a_non_exr(tmp_path):
    (tmp_path / "fake.exr").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(ImageReadError, match="fake.exr"):
        io.read_exr_header(tmp_path / "fake.exr")


@pytest.mark.parametrize("compression", ["none", "zip", "piz", "dwaa"])
def test_truncated_exr_is_detected_at_any_cut(tmp_path, compression, photo):
    full = io.write_image(tmp_path / "full.exr", photo, colorspace="srgb", compression=compression)
    raw = full.read_bytes()
    assert np.abs(io.read_image(full).pixels - photo).mean() < 0.01  # the whole file reads fine
    for frac in (0.05, 0.3, 0.5, 0.8, 0.97):
        cut = tmp_path / f"cut_{int(frac * 100)}.exr"
        cut.write_bytes(raw[:int(len(raw) * frac)])
        with pytest.raises(ImageReadError, match=cut.name):
            io.read_image(cut)
    last = tmp_path / "minus1.exr"
    last.write_bytes(raw[:-1])
    with pytest.raises(ImageReadError, match=r"minus1.exr: .*(truncated|corrupt|not a readable)"):
        io.read_image(last)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".tif"])
def test_truncated_raster_is_detected(tmp_path, ext, photo):
    kwargs = {"bit_depth": 8} if ext != ".jpg" else {}
    full = io.write_image(tmp_path / f"full{ext}", photo, colorspace="srgb", **kwargs)
    raw = full.read_bytes()
    for frac in (0.3, 0.9):
        cut = tmp_path / f"cut{int(frac * 100)}{ext}"
        cut.write_bytes(raw[:int(len(raw) * frac)])
        with pytest.raises(ImageReadError, match=cut.name):
            io.read_image(cut)


def test_unknown_extension(tmp_path):
    (tmp_path / "a.bmp").write_bytes(b"BM")
    with pytest.raises(ImageReadError, match=r"a.bmp: unsupported file type '.bmp'"):
        io.read_image(tmp_path / "a.bmp")
    with pytest.raises(ImageWriteError, match="unsupported file type"):
        io.write_image(tmp_path / "b.webp", np.zeros((2, 2, 3)), colorspace="srgb")
    with pytest.raises(ImageWriteError, match=r"no extension"):
        io.write_image(tmp_path / "noext", np.zeros((2, 2, 3)), colorspace="srgb")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bmp"]


@pytest.mark.parametrize("ext", [".exr", ".png", ".tif", ".jpg"])
def test_overwrite_refused_file_untouched_no_temp_left(tmp_path, ext, photo):
    target = tmp_path / f"out{ext}"
    target.write_bytes(b"precious")
    with pytest.raises(OutputExistsError, match=f"out{ext}: already exists"):
        io.write_image(target, photo, colorspace="srgb")
    assert target.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir()] == [f"out{ext}"]
    # FileExistsError is what plain Python code would catch
    with pytest.raises(FileExistsError):
        io.write_image(str(target), photo, colorspace="srgb")
    out = io.write_image(target, photo, colorspace="srgb", overwrite=True)
    assert out == target and target.read_bytes() != b"precious"
    assert io.read_image(target).pixels.shape == photo.shape
    assert [p.name for p in tmp_path.iterdir()] == [f"out{ext}"]


def test_refused_writes_leave_nothing(tmp_path):
    from core.errors import ImageError
    from core.frame import Frame

    frame = Frame(np.zeros((2, 2, 1)), "ACEScg", channels=("",))
    with pytest.raises(ImageError, match="channel names must be non-empty"):
        io.write_image(tmp_path / "bad.exr", frame)
    clash = Frame(np.zeros((2, 2, 3)), "ACEScg", layers={"x": np.zeros((2, 2, 1))},
                  metadata={"layer_channels": {"x": ["R"]}})
    with pytest.raises(ImageError, match="R used twice"):
        io.write_image(tmp_path / "clash.exr", clash)
    assert list(tmp_path.iterdir()) == []


def test_writes_create_folders_and_accept_pathlike(tmp_path, photo):
    out = io.write_image(tmp_path / "a" / "b" / "c.png", photo, colorspace="srgb")
    assert out.is_file() and io.read_image(str(out)).metadata["format"] == "png"


@pytest.mark.parametrize("bad", [None, 3, b"", ""])
def test_bad_path_types(bad):
    with pytest.raises(ParameterError):
        io.read_image(bad)


@pytest.mark.parametrize("bad", ["", "  ", 3])
def test_bad_colorspace_argument(tmp_path, bad, photo):
    out = io.write_image(tmp_path / "x.png", photo, colorspace="srgb")
    with pytest.raises(ValueError, match="colorspace"):
        io.read_image(out, colorspace=bad)


def test_atomic_outputs_have_umask_permissions(tmp_path):
    import os
    import stat

    from core.io.atomic import _umask, write_text_atomic

    _umask.cache_clear()
    old = os.umask(0o022)
    try:
        path = write_text_atomic(tmp_path / "a.json", "{}")
    finally:
        os.umask(old)
        _umask.cache_clear()
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
