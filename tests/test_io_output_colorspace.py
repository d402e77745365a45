"""Writers encode for their container: 8/16-bit PNG, TIFF and JPEG get an output transform, EXR stays linear.

Reproduces issue #25 item 1: ``reelkit degrade photo.jpg --preset ... --output-dir damaged`` wrote
scene-linear ACEScg code values into ``damaged/photo.jpg``, so the picture was dark in every viewer.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from core import color, io
from core.cli.main import main
from core.io import samples

#: A degrade that leaves the tone alone: a few dust specks only (no fade, no flicker, no grain).
DUST_ONLY = ["--preset", "none", "--dust-count", "3"]


def _mean_code_values(path) -> np.ndarray:
    """Per-channel mean of a file's 8-bit code values, read as a plain viewer would (OpenCV, no tags)."""
    import cv2

    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    scale = 257.0 if arr.dtype == np.uint16 else 1.0
    return arr[..., ::-1].reshape(-1, 3).mean(axis=0) / scale


@pytest.mark.parametrize("name", ["photo.jpg", "photo.png", "photo.tif"])
def test_degraded_display_file_keeps_the_source_tone(tmp_path, name):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(samples.sample_path("rocket.jpg").read_bytes())
    src_mean = _mean_code_values(photo)
    rc = main(["degrade", str(photo), name, *DUST_ONLY, "--seed", "7", "--output-dir", str(tmp_path / "d"), "-q"])
    assert rc == 0
    out_mean = _mean_code_values(tmp_path / "d" / name)
    # measured before the fix (JPEG): source means (52.3, 61.3, 82.3) -> (15.1, 15.5, 24.0), linear ACEScg as is
    np.testing.assert_allclose(out_mean, src_mean, atol=3.0)
    frame = io.read_image(tmp_path / "d" / name)
    assert frame.colorspace == "srgb"
    record = json.loads((tmp_path / "d" / "manifest.json").read_text())["frames"]["photo.jpg"]
    assert (record["from"], record["colorspace"]) == ("srgb", "srgb")


def test_exr_stays_scene_linear_with_chromaticities(tmp_path):
    photo = samples.sample_path("coffee.png")
    assert main(["degrade", str(photo), "c.exr", *DUST_ONLY, "--seed", "1", "--output-dir", str(tmp_path), "-q"]) == 0
    header = io.read_exr_header(tmp_path / "c.exr")
    assert header["colorspace"] == "ACEScg"
    assert np.allclose(header["attributes"]["chromaticities"][:2], (0.713, 0.293))
    assert json.loads((tmp_path / "manifest.json").read_text())["frames"]["coffee.png"]["colorspace"] == "ACEScg"


def test_output_colorspace_option_chooses_the_encoding(tmp_path):
    photo = samples.sample_path("coffee.png")
    assert main(["degrade", str(photo), "c.png", *DUST_ONLY, "--seed", "1", "--output-colorspace", "lin_rec709",
                 "--output-dir", str(tmp_path), "-q"]) == 0
    frame = io.read_image(tmp_path / "c.png")
    assert frame.colorspace == "lin_rec709"
    srgb = io.read_image(photo, colorspace="srgb").pixels
    # dust touches few pixels: the bulk equals the source decoded to linear Rec.709
    np.testing.assert_allclose(np.median(frame.pixels, axis=(0, 1)),
                               np.median(color.srgb_to_lin_rec709(srgb), axis=(0, 1)), atol=2 / 65535 + 1e-3)


@pytest.mark.parametrize("ext,bits", [(".png", 8), (".png", 16), (".tif", 16), (".jpg", 8)])
def test_write_image_encodes_linear_frames_as_srgb(tmp_path, ext, bits):
    srgb = io.read_image(samples.sample_path("chelsea.png"), colorspace="srgb")
    linear = color.convert_frame(srgb, "ACEScg")
    path = io.write_image(tmp_path / f"c{ext}", linear, bit_depth=bits)
    back = io.read_image(path)
    assert back.colorspace == "srgb"
    tolerance = 3 / 255 if ext == ".jpg" else 1.5 / 255
    assert np.abs(back.pixels - srgb.pixels).mean() < tolerance


def test_write_image_leaves_data_and_float_tiff_alone(tmp_path):
    mask = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8, 1)
    io.write_image(tmp_path / "m.png", mask, colorspace="raw", bit_depth=16)
    back = io.read_image(tmp_path / "m.png")
    assert back.colorspace == "raw" and np.abs(back.pixels - mask).max() < 1e-4
    linear = np.full((4, 4, 3), 0.18, np.float32)
    io.write_image(tmp_path / "f.tif", linear, colorspace="ACEScg", bit_depth=32)
    back = io.read_image(tmp_path / "f.tif")
    assert back.colorspace == "ACEScg" and np.array_equal(back.pixels, linear)


def test_encoded_colorspace_rule():
    assert io.encoded_colorspace("a.png", "ACEScg") == "srgb"
    assert io.encoded_colorspace("a.jpg", "lin_rec709") == "srgb"
    assert io.encoded_colorspace("a.exr", "ACEScg") == "ACEScg"
    assert io.encoded_colorspace("a.tif", "ACEScg", bit_depth=32) == "ACEScg"
    assert io.encoded_colorspace("a.png", "srgb") == "srgb"
    assert io.encoded_colorspace("a.png", "raw") == "raw"
    assert io.encoded_colorspace("a.png", "ACEScg", output_colorspace="ACEScg") == "ACEScg"
    assert io.encoded_colorspace("a.exr", "ACEScg", output_colorspace="lin_rec709") == "lin_rec709"
