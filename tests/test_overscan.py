"""EXR data and display windows survive read -> process -> write (issue 15 item 8, issue 20 item 4).

The input is a real photo (scikit-image's astronaut, a 96x64 crop in
ACEScg) written by OpenEXR itself with overscan (a data window 16 px wider
and 8 px taller than the display window on every side, as a Nuke render
with a blur or a lens distortion writes) or with a bounding box inside the
display window. Before: convert, degrade and infer read the display window
only, so the overscan was dropped (a warning) and a smaller bbox came back
padded to the display window with zeros. Each command's output must carry
the input's two windows and hold, over the whole data window, what the
command's own per-frame function gives on the data-window pixels.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from core import io
from core.errors import ParameterError

DISPLAY = [0, 0, 95, 63]
OVERSCAN = [-16, -8, 111, 71]  # 128x80 of data around a 96x64 format
BBOX = [10, 6, 69, 45]         # 60x40 of data inside it


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """128x80 of scikit-image's astronaut, ACEScg float32 HWC (linear, 0..1)."""
    from skimage import data

    from core.color import convert

    crop = data.astronaut()[120:200, 160:288].astype(np.float32) / 255.0
    return convert(crop, "srgb", "ACEScg").astype(np.float32)


def _write(path, pixels: np.ndarray, data_window, display_window=DISPLAY) -> str:
    """An ACEScg float EXR written by the OpenEXR bindings with the given windows."""
    import OpenEXR

    def pair(w):
        return np.array(w[:2], np.int32), np.array(w[2:], np.int32)

    header = {"dataWindow": pair(data_window), "displayWindow": pair(display_window),
              "type": OpenEXR.scanlineimage, "reelkit/colorspace": "ACEScg"}
    planes = {c: np.ascontiguousarray(pixels[..., i]) for i, c in enumerate("RGB")}
    OpenEXR.File(header, planes).write(str(path))
    return str(path)


def _windows(path) -> tuple[list[int], list[int]]:
    info = io.read_exr_header(path)
    return info["data_window"], info["display_window"]


def test_reading_the_data_window_keeps_overscan_and_bbox(tmp_path, photo, caplog):
    over = _write(tmp_path / "over.exr", photo, OVERSCAN)
    with caplog.at_level(logging.WARNING, logger="core"):
        whole = io.read_image(over, window="data")
    assert caplog.records == []  # nothing dropped, nothing to say
    np.testing.assert_array_equal(whole.pixels, photo)
    assert whole.metadata["window"] == OVERSCAN and whole.metadata["display_window"] == DISPLAY
    shown = io.read_image(over)  # the default stays the display window
    np.testing.assert_array_equal(shown.pixels, photo[8:72, 16:112])
    assert shown.metadata["window"] == DISPLAY
    # a box: the display window of a bbox file, zeros where the bbox has no data
    small = _write(tmp_path / "bbox.exr", photo[:40, :60], BBOX)
    box = io.read_image(small, window=[0, 0, 95, 63]).pixels
    np.testing.assert_array_equal(box[6:46, 10:70], photo[:40, :60])
    box[6:46, 10:70] = 0
    assert not box.any()
    with pytest.raises(ParameterError, match=r"window: 'bbox' is not"):
        io.read_image(small, window="bbox")


@pytest.mark.parametrize("data_window", [OVERSCAN, BBOX], ids=["overscan", "bbox"])
def test_a_frame_read_whole_is_written_with_its_windows(tmp_path, photo, data_window):
    h, w = data_window[3] - data_window[1] + 1, data_window[2] - data_window[0] + 1
    src = _write(tmp_path / "in.exr", photo[:h, :w], data_window)
    frame = io.read_image(src, window="data")
    out = io.write_image(tmp_path / "out.exr", frame, pixel_type="float")
    assert _windows(out) == (data_window, DISPLAY)
    np.testing.assert_array_equal(io.read_image(out, window="data").pixels, photo[:h, :w])
    # a frame whose size is not its window's (cropped, resized): written plain, data = display = the frame
    cropped = frame.replace(pixels=frame.pixels[:10, :12])
    assert _windows(io.write_image(tmp_path / "crop.exr", cropped)) == ([0, 0, 11, 9], [0, 0, 11, 9])


@pytest.mark.parametrize("data_window", [OVERSCAN, BBOX], ids=["overscan", "bbox"])
def test_convert_keeps_the_windows(tmp_path, photo, data_window):
    from core.color import convert as convert_pixels
    from core.convert import convert

    h, w = data_window[3] - data_window[1] + 1, data_window[2] - data_window[0] + 1
    src = _write(tmp_path / "in.exr", photo[:h, :w], data_window)
    convert(src, "out.exr", output_dir=tmp_path / "o", params={"target": "lin_rec709", "pixel_type": "float"})
    out = tmp_path / "o" / "out.exr"
    assert _windows(out) == (data_window, DISPLAY)
    want = convert_pixels(photo[:h, :w], "ACEScg", "lin_rec709")
    np.testing.assert_allclose(io.read_image(out, window="data").pixels, want, rtol=1e-6, atol=1e-7)


def test_convert_to_png_says_the_overscan_is_dropped(tmp_path, photo, caplog):
    from core.convert import convert

    src = _write(tmp_path / "in.exr", photo, OVERSCAN)
    with caplog.at_level(logging.WARNING, logger="core"):
        convert(src, "out.png", output_dir=tmp_path / "o")
    assert io.read_image(tmp_path / "o" / "out.png").pixels.shape == (64, 96, 3)
    assert any("4096 data-window pixels outside the display window" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("data_window", [OVERSCAN, BBOX], ids=["overscan", "bbox"])
def test_degrade_keeps_the_windows(tmp_path, photo, data_window):
    from core.degrade import degrade_files, degrade_frame

    h, w = data_window[3] - data_window[1] + 1, data_window[2] - data_window[0] + 1
    src = _write(tmp_path / "in.exr", photo[:h, :w], data_window)
    degrade_files(src, "out.exr", output_dir=tmp_path / "o", preset="dusty_35mm", seed=5, pixel_type="float")
    out = tmp_path / "o" / "out.exr"
    assert _windows(out) == (data_window, DISPLAY)
    want = degrade_frame(photo[:h, :w], frame=0, seed=5, preset="dusty_35mm").pixels
    np.testing.assert_array_equal(io.read_image(out, window="data").pixels, want)


@pytest.mark.parametrize("data_window", [OVERSCAN, BBOX], ids=["overscan", "bbox"])
def test_infer_keeps_the_windows(tmp_path, photo, data_window):
    pytest.importorskip("onnxruntime")
    from core.infer import Restorer, infer_files
    from core.infer.shipped import resolve_model

    h, w = data_window[3] - data_window[1] + 1, data_window[2] - data_window[0] + 1
    src = _write(tmp_path / "in.exr", photo[:h, :w], data_window)
    infer_files("film_restore", src, output_dir=tmp_path / "o", output="out.exr",
                params={"tile": 0, "threads": 1, "pixel_type": "float"})
    out = tmp_path / "o" / "out.exr"
    assert _windows(out) == (data_window, DISPLAY)
    want = Restorer(resolve_model("film_restore"), tile=0, threads=1).run(photo[:h, :w])
    np.testing.assert_allclose(io.read_image(out, window="data").pixels, want, rtol=1e-5, atol=1e-6)


def test_a_data_window_outside_the_format_is_kept_for_exr_and_refused_for_png(tmp_path, photo):
    """Issue 15 item 8: a data window entirely outside the display window was an all-black frame with exit 0.
    EXR out keeps it (nothing of it is lost); PNG out, which has no windows, still refuses it in one line."""
    from core.cli.main import main

    away = [200, 100, 327, 179]  # 128x80 of data to the lower right of the 96x64 format
    src = _write(tmp_path / "away.exr", photo, away)
    assert main(["convert", src, "away.exr", "--to", "ACEScg", "--pixel-type", "float", "-o",
                 str(tmp_path / "o"), "-q"]) == 0
    assert _windows(tmp_path / "o" / "away.exr") == (away, DISPLAY)
    np.testing.assert_array_equal(io.read_image(tmp_path / "o" / "away.exr", window="data").pixels, photo)
    assert main(["convert", src, "away.png", "--to", "srgb", "-o", str(tmp_path / "p"), "-q"]) == 1
    assert not (tmp_path / "p" / "away.png").exists()
