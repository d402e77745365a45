"""ReelDegrade and ReelInfer respect bbox, format, proxy mode and HDR values (issue 20 item 4).

The plate is a real photo (scikit-image's astronaut) in ACEScg scaled so
its highlights reach 64.0, written by OpenEXR with a data window larger
than the display window (overscan: what Nuke's Write puts in an EXR when
the bbox exceeds the format). Through each node, read straight from the
upstream Read or rendered through the node's Write_input (the render hook
stands for Nuke's Write and writes the same windows), the result must keep
both windows and equal the core function on the whole data window, with
the values above 1.0 as they are. In proxy mode a Write renders at the
proxy scale, so the input is rendered with proxy mode off (the fake
refuses a proxy-scale render) and proxy mode is on again afterwards.
"""

from __future__ import annotations

import numpy as np
import pytest

from core import io
from nuke_plugin import host
from nuke_plugin.nodes import reel_degrade, reel_infer

FRAME = 1001
DISPLAY = [0, 0, 95, 63]
OVERSCAN = [-16, -8, 111, 71]  # 128x80 of data around a 96x64 format


@pytest.fixture(scope="module")
def hdr() -> np.ndarray:
    """128x80 of the astronaut, ACEScg float32 HWC, scaled so the brightest value is 64.0."""
    from skimage import data

    from core.color import convert

    crop = convert(data.astronaut()[120:200, 160:288].astype(np.float32) / 255.0, "srgb", "ACEScg")
    return (crop * np.float32(64.0 / crop.max())).astype(np.float32)


def _write_plate(path, pixels) -> str:
    import OpenEXR

    def pair(w):
        return np.array(w[:2], np.int32), np.array(w[2:], np.int32)

    header = {"dataWindow": pair(OVERSCAN), "displayWindow": pair(DISPLAY), "type": OpenEXR.scanlineimage,
              "reelkit/colorspace": "ACEScg"}
    OpenEXR.File(header, {c: np.ascontiguousarray(pixels[..., i]) for i, c in enumerate("RGB")}).write(str(path))
    return str(path)


def _input(nuke, tmp_path, hdr, how):
    """The node's input: a Read of the plate, or a Grade whose render (the hook) writes the plate's windows."""
    pattern = (tmp_path / "plate.####.exr").as_posix()
    if how == "read":
        _write_plate(io.sequence_path(pattern, FRAME), hdr)
        return nuke.nodes.Read(file=pattern, first=FRAME, last=FRAME, raw=True)
    nuke._render_hook = lambda write, frame: _write_plate(io.sequence_path(write["file"].value(), frame), hdr)
    nuke.root()["first_frame"].setValue(FRAME)  # an input-less Grade spans the script's range
    nuke.root()["last_frame"].setValue(FRAME)
    return nuke.nodes.Grade()


def _run(nuke, module, node):
    task = module.run(node)
    assert task is not None, nuke._calls("message")
    nuke._pump(until=lambda: task.done, timeout=120)
    assert task.error is None and nuke._calls("message") == []


def _result(node) -> tuple[dict, np.ndarray]:
    path = io.sequence_path(node[host.OUTPUT_FILE].value(), FRAME)
    return io.read_exr_header(path), io.read_image(path, window="data").pixels


@pytest.mark.parametrize("how", ["read", "render"])
def test_degrade_keeps_overscan_and_hdr(started, tmp_path, hdr, how):
    from core.degrade import degrade_frame

    nuke = started
    nuke.root()["proxy"].setValue(how == "render")  # proxy mode on while the input is rendered
    node = nuke.createNode("ReelDegrade")
    node.setInput(0, _input(nuke, tmp_path, hdr, how))
    for knob, value in {"preset": "dusty_35mm", "seed": 7, "pixel_type": "float",
                        "output_dir": str(tmp_path / "out")}.items():
        node[knob].setValue(value)
    _run(nuke, reel_degrade, node)
    info, got = _result(node)
    assert (info["data_window"], info["display_window"]) == (OVERSCAN, DISPLAY)
    np.testing.assert_array_equal(got, degrade_frame(hdr, frame=FRAME, seed=7, preset="dusty_35mm").pixels)
    assert got.max() > 32.0  # HDR highlights are not clamped
    assert nuke.root()["proxy"].value() is (how == "render")  # proxy mode as the user left it


@pytest.mark.parametrize("how", ["read", "render"])
def test_infer_keeps_overscan_and_hdr(started, tmp_path, hdr, how):
    pytest.importorskip("onnxruntime")
    from core.infer import Restorer
    from core.infer.shipped import resolve_model

    nuke = started
    nuke.root()["proxy"].setValue(how == "render")
    node = nuke.createNode("ReelInfer")
    node.setInput(0, _input(nuke, tmp_path, hdr, how))
    for knob, value in {"model": "film_restore", "tile": 0, "threads": 1, "pixel_type": "float",
                        "output_dir": str(tmp_path / "out")}.items():
        node[knob].setValue(value)
    _run(nuke, reel_infer, node)
    info, got = _result(node)
    assert (info["data_window"], info["display_window"]) == (OVERSCAN, DISPLAY)
    want = Restorer(resolve_model("film_restore"), tile=0, threads=1).run(hdr)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert got.max() > 32.0
    assert nuke.root()["proxy"].value() is (how == "render")


def test_a_render_in_proxy_mode_is_refused_by_the_fake(started):
    """The fake models Nuke's rule (a Write renders at the active scale) by refusing: the tests above
    would fail if the node rendered its input with proxy mode on."""
    nuke = started
    nuke.root()["proxy"].setValue(True)
    write = nuke.nodes.Write(file="/tmp/never.####.exr")
    with pytest.raises(AttributeError, match="proxy mode"):
        nuke.execute(write, 1, 1, 1)


@pytest.fixture(scope="module")
def wide_hdr() -> np.ndarray:
    """4224x48 of real photos side by side (astronaut, coffee, chelsea, rocket, ...), ACEScg, highlights at 64."""
    import cv2
    from skimage import data

    from core.color import convert

    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), data.immunohistochemistry()]
    strips, width = [], 0
    while width < 4224:
        img = photos[len(strips) % len(photos)]
        h, w = img.shape[:2]
        strip = cv2.resize(img, (max(1, round(w * 48 / h)), 48), interpolation=cv2.INTER_AREA)
        strips.append(strip)
        width += strip.shape[1]
    srgb = np.concatenate(strips, axis=1)[:, :4224].astype(np.float32) / 255.0
    lin = convert(srgb, "srgb", "ACEScg").astype(np.float32)
    return lin * np.float32(64.0 / lin.max())


@pytest.mark.parametrize("tile", [1024, 2048, 4096])
def test_tiled_equals_whole_frame_for_nukes_tile_sizes(wide_hdr, tile):
    """The tile sizes Nuke's Inference offers (none, 1024, 2048, 4096) on a frame wider than the largest:
    the tiled result is the whole-frame result to float rounding, HDR values included."""
    pytest.importorskip("onnxruntime")
    from core.infer import Restorer
    from core.infer.shipped import resolve_model

    model = resolve_model("film_restore")
    whole = Restorer(model, tile=0, threads=1).run(wide_hdr)
    tiled = Restorer(model, tile=tile, threads=1)
    out = tiled.run(wide_hdr)
    assert tiled.tiles_run >= 2  # the frame really was cut
    np.testing.assert_allclose(out, whole, rtol=1e-5, atol=1e-5)
    assert whole.max() > 32.0
