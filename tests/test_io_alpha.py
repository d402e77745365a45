"""Straight and premultiplied alpha (issue 25 item 7), as Nuke's Read and Write handle them.

PNG colour is straight by the PNG specification (ISO/IEC 15948, 'alpha channel': "the colour values are not
premultiplied"); OpenEXR colour is premultiplied (OpenEXR 'Interpreting Deep Pixels' / TechnicalIntroduction:
"colour channels are premultiplied by alpha"); TIFF says which in ExtraSamples (1 associated, 2 unassociated).
The test image: a 96x128 crop of scikit-image's coffee photo with an alpha disc (opaque centre, a soft edge,
fully transparent corners), written by OpenCV as an 8-bit straight PNG that keeps the photo's colour under
alpha 0, as paint programs and renderers' PNG exports do.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import srgb_sample


@pytest.fixture(scope="module")
def straight_png(tmp_path_factory):
    import cv2

    rgb = np.rint(srgb_sample("coffee.png")[100:196, 200:328] * 255).astype(np.uint8)
    yy, xx = np.mgrid[:96, :128]
    r = np.hypot(yy - 47.5, xx - 63.5)
    alpha = np.rint(np.clip((52 - r) / 16, 0, 1) * 255).astype(np.uint8)  # 1 inside r 36, 0 beyond r 52
    path = tmp_path_factory.mktemp("alpha") / "cutout.png"
    assert cv2.imwrite(str(path), np.dstack([rgb[..., ::-1], alpha]))
    return path, rgb.astype(np.float32) / 255, alpha.astype(np.float32) / 255


def _linear(rgb):
    from core.color import convert

    return convert(rgb, "srgb", "ACEScg")


def test_png_is_read_straight_and_premultiplied_after_linearising(straight_png):
    from core import color, io

    path, rgb, a = straight_png
    frame = io.read_image(path)
    assert frame.metadata["alpha"] == "straight" and frame.colorspace == "srgb"
    assert np.array_equal(frame.pixels[..., :3], rgb)  # as stored
    work = color.convert_frame(frame, "ACEScg")
    assert work.metadata["alpha"] == "premultiplied"
    # linearise the straight colour, then multiply by alpha (Nuke's Read: colour transform before premult)
    np.testing.assert_allclose(work.pixels[..., :3], _linear(rgb) * a[..., None], atol=1e-6)
    assert np.array_equal(work.pixels[..., 3], a)
    assert (a == 0).sum() > 1000 and not work.pixels[a == 0][:, :3].any()


def test_convert_png_to_exr_leaves_no_colour_under_zero_alpha_and_comes_back(straight_png, tmp_path):
    from core import io
    from core.convert import convert

    path, rgb, a = straight_png
    manifest = convert(str(path), "cutout.exr", output_dir=tmp_path / "exr", params={"target": "ACEScg"})
    exr = io.read_image(tmp_path / "exr" / "cutout.exr")
    assert exr.metadata["alpha"] == "premultiplied"
    assert not exr.pixels[a == 0][:, :3].any()  # was the photo's colour before the fix
    assert manifest.data["frames"]["cutout.png"]["alpha"] == "straight"
    # and back to an 8-bit PNG: straight again, within one code value where alpha >= 0.2 (half precision
    # of premultiplied colour, divided by alpha)
    convert(str(tmp_path / "exr" / "cutout.exr"), "back.png", output_dir=tmp_path / "png",
            params={"target": "srgb", "bit_depth": "8"})
    back = io.read_image(tmp_path / "png" / "back.png")
    assert back.metadata["alpha"] == "straight"
    seen = a >= 0.2
    assert np.abs(back.pixels[..., :3][seen] - rgb[seen]).max() <= 1 / 255 + 1e-6
    assert np.array_equal(back.pixels[..., 3], a)


def test_tiff_says_which_alpha_and_writers_follow_their_container(straight_png, tmp_path):
    import tifffile

    from core import io
    from core.frame import Frame

    path, rgb, a = straight_png
    premult = np.dstack([_linear(rgb) * a[..., None], a]).astype(np.float32)
    tifffile.imwrite(tmp_path / "assoc.tif", premult, photometric="rgb", extrasamples=["assocalpha"])
    assoc = io.read_image(tmp_path / "assoc.tif")
    assert assoc.metadata["alpha"] == "premultiplied" and np.array_equal(assoc.pixels, premult)
    # a premultiplied linear frame written as float TIFF: unassociated alpha, straight colour
    io.write_image(tmp_path / "ours.tif", Frame(premult, "ACEScg"), bit_depth=32)
    with tifffile.TiffFile(tmp_path / "ours.tif") as tif:
        assert tuple(int(v) for v in np.atleast_1d(tif.pages[0].extrasamples)) == (2,)
        stored = tif.pages[0].asarray()
    seen = a > 0
    np.testing.assert_allclose(stored[..., :3][seen], _linear(rgb)[seen], rtol=1e-5, atol=1e-6)
    assert io.read_image(tmp_path / "ours.tif").metadata["alpha"] == "straight"
    # a straight frame written as EXR is premultiplied
    io.write_image(tmp_path / "s.exr", io.read_image(path), pixel_type="float")
    np.testing.assert_allclose(io.read_image(tmp_path / "s.exr").pixels[..., :3], rgb * a[..., None], atol=1e-7)


def test_palette_of_a_straight_png_sees_the_visible_colours(straight_png):
    from core import io
    from core.palette.controller import check_image
    from core.palette.operator import fit_palette

    path, rgb, a = straight_png
    frame = io.read_image(path)
    pixels, _ = check_image(frame)
    np.testing.assert_allclose(pixels[..., :3], _linear(rgb) * a[..., None], atol=1e-6)
    # the default (premultiplied=True) divides by alpha: the palette holds the photo's own colours; when
    # straight PNG colour was taken as premultiplied, the soft edge's colour was divided by alpha again
    fit = fit_palette(frame, k=6, alpha_threshold=0.0)
    top = _linear(rgb)[a > 0].max(axis=0)
    assert (fit.palette_acescg <= top + 1e-4).all()


def test_degrade_and_infer_record_the_inputs_alpha_like_convert(straight_png, tmp_path):
    """Every per-frame job that reads RGBA records the input's association in its frame record (convert's
    ``alpha`` field, :func:`core.color.alpha.alpha_of`): straight for the PNG, premultiplied for its EXR copy,
    nothing for a frame without alpha."""
    pytest.importorskip("onnxruntime")
    from core import io
    from core.degrade.files import degrade_files
    from core.infer import infer_files
    from tests.test_infer import make_model

    path, rgb, _ = straight_png
    folder = tmp_path / "in"
    io.write_image(folder / "cutout.exr", io.read_image(path))
    io.write_image(folder / "opaque.png", rgb, colorspace="srgb", bit_depth=8)
    (tmp_path / "models").mkdir()
    model = make_model(tmp_path / "models", "cnn", convs=2, seed=4, name="restore")
    for src, expected in ((path, "straight"), (folder / "cutout.exr", "premultiplied"), (folder / "opaque.png", None)):
        out = tmp_path / src.suffix[1:] / src.stem
        degraded = degrade_files(str(src), "d.exr", output_dir=out / "degrade", preset="faded_16mm", seed=7)
        restored = infer_files(model, str(src), output_dir=out / "infer", params={"tile": 64, "threads": 1})
        for manifest in (degraded, restored):
            (record,) = manifest.data["frames"].values()
            assert record.get("alpha") == expected, (src.name, manifest.data["command"])
