"""core.io PNG / TIFF / JPEG: quantisation, channels, colour space, embedded metadata, samples.

Pillow (a dependency of scikit-image, in the dev extra) serves as the
independent reader; the tests that need it skip without it.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from core import io
from core.errors import ColorSpaceError, ImageError, ParameterError
from core.frame import Frame
from tests.conftest import REPO, SAMPLES, srgb_sample


def _pil():
    return pytest.importorskip("PIL.Image")


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """coffee.png, sRGB 0..1, cropped to 48x64."""
    return srgb_sample("coffee.png")[150:198, 250:314].copy()


def _pillow_array(path) -> np.ndarray:
    with _pil().open(path) as im:
        return np.asarray(im)


# --------------------------------------------------------------------------- quantisation


@pytest.mark.parametrize("ext", [".png", ".tif"])
@pytest.mark.parametrize("bits", [8, 16])
def test_integer_round_trip_error_is_half_a_code_value(tmp_path, ext, bits):
    rng = np.random.default_rng(1)
    px = rng.random((24, 32, 3)).astype(np.float32)
    out = io.write_image(tmp_path / f"q{ext}", px, colorspace="srgb", bit_depth=bits)
    back = io.read_image(out)
    top = 2**bits - 1
    err = np.abs(back.pixels - px)
    assert err.max() <= 0.5 / top + 1e-6
    assert err.max() > 0.25 / top  # it really was quantised at this depth
    assert back.metadata["bit_depth"] == bits
    # code values equal round(x * top), read independently with Pillow / tifffile
    if ext == ".png" and bits == 8:
        assert np.array_equal(_pillow_array(out), np.rint(px.astype(np.float64) * top).astype(np.uint8))
    if ext == ".tif":
        import tifffile

        codes = np.rint(px.astype(np.float64) * top).astype(np.uint8 if bits == 8 else np.uint16)
        assert np.array_equal(tifffile.imread(out), codes)


def test_rounds_not_truncates_and_clips(tmp_path):
    px = np.array([[[0.6 / 255, 254.6 / 255, 1.7], [-0.2, 0.5, 127.4 / 255]]], np.float32)
    back = io.read_image(io.write_image(tmp_path / "r.png", px, colorspace="srgb", bit_depth=8))
    codes = np.rint(back.pixels * 255).astype(int)
    assert codes.tolist() == [[[1, 255, 255], [0, 128, 127]]]


def test_tiff_float32_is_exact(tmp_path, photo):
    px = photo * 3.0 - 0.5  # unbounded values survive
    back = io.read_image(io.write_image(tmp_path / "f.tiff", px, colorspace="lin_rec709", bit_depth=32))
    assert np.array_equal(back.pixels, px)
    assert (back.colorspace, back.metadata["colorspace_source"]) == ("lin_rec709", "header")


def test_nan_refused_for_integer_output(tmp_path):
    px = np.zeros((4, 4, 3), np.float32)
    px[2, 3, 1] = np.nan
    with pytest.raises(ImageError, match=r"1 non-finite.*x=3 y=2 channel=1"):
        io.write_image(tmp_path / "n.png", px, colorspace="srgb")
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------- channels


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_grey_and_rgba_round_trip(tmp_path, ext, photo):
    grey = photo[..., 1:2]
    back = io.read_image(io.write_image(tmp_path / f"g{ext}", grey, colorspace="srgb", bit_depth=16))
    assert back.pixels.shape == grey.shape and np.abs(back.pixels - grey).max() <= 0.5 / 65535 + 1e-7
    rgba = np.dstack([photo, np.linspace(0, 1, photo.shape[1], dtype=np.float32)[None, :].repeat(photo.shape[0], 0)])
    back = io.read_image(io.write_image(tmp_path / f"a{ext}", rgba, colorspace="srgb", bit_depth=8))
    assert back.channels == ("R", "G", "B", "A")
    assert np.abs(back.pixels - rgba).max() <= 0.5 / 255 + 1e-6


def test_png_is_rgb_order_for_other_readers(tmp_path):
    px = np.zeros((2, 2, 4), np.float32)
    px[..., 0] = 1.0  # pure red, alpha 0.5
    px[..., 3] = 0.5
    out = io.write_image(tmp_path / "red.png", px, colorspace="srgb", bit_depth=8)
    Image = _pil()
    with Image.open(out) as im:
        assert im.mode == "RGBA" and im.getpixel((0, 0)) == (255, 0, 0, 128)
        assert im.info["reelkit"].startswith("{")  # our tEXt chunk, seen by Pillow


def test_grey_alpha_and_palette_pngs_from_pillow(tmp_path):
    Image = _pil()
    la = np.dstack([np.full((3, 4), 100, np.uint8), np.full((3, 4), 200, np.uint8)])
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    frame = io.read_image(tmp_path / "la.png")
    assert frame.channels == ("R", "G", "B", "A")
    assert np.allclose(frame.pixels[0, 0], [100 / 255, 100 / 255, 100 / 255, 200 / 255])
    rgb = np.zeros((3, 4, 3), np.uint8)
    rgb[:, 2:] = (10, 20, 30)
    Image.fromarray(rgb, "RGB").convert("P", palette=Image.Palette.ADAPTIVE).save(tmp_path / "p.png")
    with Image.open(tmp_path / "p.png") as im:
        assert im.mode == "P"
    frame = io.read_image(tmp_path / "p.png")
    assert frame.pixels.shape == (3, 4, 3) and np.array_equal(np.rint(frame.pixels * 255), rgb)
    assert (frame.colorspace, frame.metadata["colorspace_source"]) == ("srgb", "default")


@pytest.mark.parametrize("ext", [".png", ".tif", ".jpg", ".exr"])
def test_two_channel_arrays_are_refused(tmp_path, ext):
    with pytest.raises(ImageError, match="expected 1, 3 or 4 channels"):
        io.write_image(tmp_path / f"two{ext}", np.zeros((4, 4, 2), np.float32), colorspace="srgb")
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------- JPEG


def test_jpeg_reads_shipped_sample_like_pillow():
    frame = io.read_image(SAMPLES / "rocket.jpg")
    ref = _pillow_array(SAMPLES / "rocket.jpg").astype(np.float32) / 255
    assert frame.pixels.shape == ref.shape == (427, 640, 3)
    # two libjpeg builds may differ by an IDCT rounding step, no more
    assert np.abs(frame.pixels - ref).max() <= 3 / 255 and np.abs(frame.pixels - ref).mean() < 0.5 / 255
    assert (frame.colorspace, frame.metadata["colorspace_source"]) == ("srgb", "default")


def test_jpeg_round_trip_and_limits(tmp_path, photo):
    out = io.write_image(tmp_path / "p.jpeg", photo, colorspace="srgb")
    back = io.read_image(out)
    assert back.metadata["bit_depth"] == 8 and back.metadata["colorspace_source"] == "header"
    assert np.abs(back.pixels - photo).mean() < 0.02
    with pytest.raises(ImageError, match="JPEG has no alpha"):
        io.write_image(tmp_path / "a.jpg", np.ones((4, 4, 4)), colorspace="srgb")
    with pytest.raises(ParameterError, match="JPEG supports 8 bit, not 16"):
        io.write_image(tmp_path / "b.jpg", np.ones((4, 4, 3)), colorspace="srgb", bit_depth=16)
    with pytest.raises(ParameterError, match="PNG supports 8, 16 bit, not 32"):
        io.write_image(tmp_path / "c.png", np.ones((4, 4, 3)), colorspace="srgb", bit_depth=32)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.jpeg"]


# --------------------------------------------------------------------------- colour space and attributes


@pytest.mark.parametrize("ext", [".png", ".tif", ".jpg"])
def test_colorspace_and_attributes_travel_in_the_file(tmp_path, ext):
    attrs = {"reelkit/source": "plate.1001.exr", "reelkit/frame": 1001, "gain": 0.5}
    # asked for, a linear space travels in an integer file (the default would encode it as srgb)
    out = io.write_image(tmp_path / f"lin{ext}", np.full((8, 8, 3), 0.25), colorspace="lin_rec709", attributes=attrs,
                         output_colorspace="lin_rec709")
    frame = io.read_image(out)
    assert (frame.colorspace, frame.metadata["colorspace_source"]) == ("lin_rec709", "header")
    for k, v in attrs.items():
        assert frame.metadata["attributes"][k] == v
    assert io.read_image(out, colorspace="srgb").metadata["colorspace_source"] == "argument"


def test_foreign_integer_files_default_to_srgb(tmp_path):
    import tifffile

    tifffile.imwrite(tmp_path / "t16.tif", np.full((4, 5, 3), 65535, np.uint16), photometric="rgb")
    frame = io.read_image(tmp_path / "t16.tif")
    assert (frame.colorspace, frame.metadata["colorspace_source"]) == ("srgb", "default")
    assert np.all(frame.pixels == 1.0) and frame.metadata["bit_depth"] == 16
    tifffile.imwrite(tmp_path / "tf.tif", np.full((4, 5), 2.5, np.float32))
    frame = io.read_image(tmp_path / "tf.tif")
    assert (frame.colorspace, frame.metadata["colorspace_source"]) == ("lin_rec709", "default")
    assert frame.pixels.shape == (4, 5, 1) and np.all(frame.pixels == 2.5)


def test_planar_tiff(tmp_path):
    import tifffile

    planes = np.stack([np.full((3, 4), v, np.uint8) for v in (10, 20, 30)])
    tifffile.imwrite(tmp_path / "planar.tif", planes, photometric="rgb", planarconfig="separate")
    frame = io.read_image(tmp_path / "planar.tif")
    assert frame.pixels.shape == (3, 4, 3) and np.allclose(frame.pixels[2, 3] * 255, [10, 20, 30])


def test_writing_never_relabels(tmp_path):
    frame = Frame(np.ones((2, 2, 3)), "ACEScg")
    with pytest.raises(ColorSpaceError, match="does not convert"):
        io.write_image(tmp_path / "x.exr", frame, colorspace="srgb")
    with pytest.raises(ParameterError, match="colorspace= is required"):
        io.write_image(tmp_path / "x.png", np.ones((2, 2, 3)))
    with pytest.raises(ColorSpaceError, match="colour space name"):
        io.write_image(tmp_path / "y.png", Frame(np.ones((2, 2, 3)), ""))
    assert io.write_image(tmp_path / "x.exr", frame, colorspace="ACEScg").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["x.exr"]


# --------------------------------------------------------------------------- samples and import cost


def test_samples_are_listed_and_loaded():
    assert io.samples.sample_names() == ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg"]
    frame = io.samples.load_sample("coffee")
    assert np.array_equal(frame.pixels, srgb_sample("coffee.png"))  # same as OpenCV, read independently
    assert (frame.colorspace, frame.metadata["colorspace_source"]) == ("srgb", "argument")
    assert frame.pixels.shape == (400, 600, 3) and frame.pixels.dtype == np.float32
    assert io.samples.load_sample("chelsea.png").pixels.shape == (300, 451, 3)
    with pytest.raises(ParameterError, match="shipped samples: astronaut.png"):
        io.samples.load_sample("lena")


def test_import_is_cheap():
    code = "import sys, core.io; print(sorted(m for m in ('cv2', 'OpenEXR', 'tifffile') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
