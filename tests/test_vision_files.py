"""``reelkit vision``: real photo sequences through the CLI into EXR channels Nuke reads (motion vectors with
Nuke's y-up v, matte.A, saliency.Y, depth.Z from a tiny ONNX model made here), resume, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from core import io
from core.cli.main import main
from core.color import convert
from core.frame import Frame
from tests.test_vision import composite, iou, photo


def sequence(folder, frames, name="plate"):
    for k, px in enumerate(frames):
        io.write_image(folder / f"{name}.{1001 + k}.exr", Frame(px, "ACEScg"), pixel_type="float")
    return str(folder / f"{name}.####.exr")


def test_flow_is_written_in_nukes_motion_channels(tmp_path, capsys):
    """The astronaut moved 2 px down and 1 px right a frame: forward (u, v) = (1, -2) in Nuke's y-up
    convention, backward (-1, 2); the first frame has no backward (consistency 0), the last no forward."""
    base = photo("astronaut")
    frames = [ndimage.shift(base, (2 * k, k, 0), order=3, mode="mirror").astype(np.float32) for k in range(3)]
    pattern = sequence(tmp_path, frames)
    out = tmp_path / "vectors"
    assert main(["vision", "flow", pattern, "--frames", "1001-1003", "--output-dir", str(out), "-q"]) == 0
    mid = io.read_image(out / "plate.flow.1002.exr")
    assert set(mid.layers) == {"forward", "backward", "consistency"}
    assert mid.metadata["layer_channels"]["forward"] == ["forward.u", "forward.v"]
    inner = (slice(20, -20), slice(20, -20))
    assert np.median(mid.layers["forward"][inner][..., 0]) == pytest.approx(1.0, abs=0.05)
    assert np.median(mid.layers["forward"][inner][..., 1]) == pytest.approx(-2.0, abs=0.05)
    assert np.median(mid.layers["backward"][inner][..., 0]) == pytest.approx(-1.0, abs=0.05)
    assert np.median(mid.layers["backward"][inner][..., 1]) == pytest.approx(2.0, abs=0.05)
    assert np.abs(mid.pixels - frames[1]).max() < 2e-3  # the plate itself, half float
    first = io.read_image(out / "plate.flow.1001.exr")
    assert not first.layers["consistency"][..., 0].any() and first.layers["consistency"][..., 1].mean() > 0.8
    # resume: nothing redone
    assert main(["vision", "flow", pattern, "--frames", "1001-1003", "--output-dir", str(out)]) == 0
    assert "0 frame(s), 3 already done" in capsys.readouterr().out


def moving_composite(folder) -> tuple[str, list[np.ndarray]]:
    """The composite's subject moving 3 px right a frame over 3 frames: the sequence's pattern and each frame's
    true matte."""
    img, truth = composite()
    frames = [ndimage.shift(img, (0, 3 * k, 0), order=3, mode="mirror").astype(np.float32) for k in range(3)]
    return sequence(folder, frames), [ndimage.shift(truth.astype(np.float32), (0, 3 * k), order=1) >= 0.5
                                      for k in range(3)]


def test_matte_from_a_box_on_a_moving_shot_and_saliency(tmp_path):
    pattern, truths = moving_composite(tmp_path)
    out = tmp_path / "mattes"
    assert main(["vision", "matte", pattern, "--frames", "1001-1003", "--box", "90,55,160,130",
                 "--output-dir", str(out), "-q"]) == 0
    for k in range(3):
        assert iou(io.read_image(out / f"plate.matte.{1001 + k}.exr").layers["matte"], truths[k]) > 0.95
    assert main(["vision", "saliency", str(tmp_path / "plate.1001.exr"), "--output-dir", str(tmp_path / "s"),
                 "-q"]) == 0
    s = io.read_image(tmp_path / "s" / "plate.1001.saliency.exr").layers["saliency"]
    assert s.shape == (240, 320, 1) and 0 <= s.min() and s.max() == pytest.approx(1.0, abs=1e-3)


def test_matte_resumes_from_the_frame_written_before(tmp_path, capsys):
    """Frames 1001-1002 first, then 1003 alone (with a wrong box): frame 1003 starts from 1002's file (no box needed again)."""
    pattern, truths = moving_composite(tmp_path)
    out = tmp_path / "m"
    assert main(["vision", "matte", pattern, "--frames", "1001-1002", "--box", "90,55,160,130",
                 "--output-dir", str(out), "-q"]) == 0
    assert main(["vision", "matte", pattern, "--frames", "1003-1003", "--box", "0,0,10,10",
                 "--output-dir", str(out), "-q"]) == 0
    m = io.read_image(out / "plate.matte.1003.exr").layers["matte"]
    assert iou(m, truths[2]) > 0.95  # from 1002's matte: the wrong box was not used


def test_depth_from_a_tiny_model(tmp_path):
    """An identity ONNX model as 'depth': depth.Z is channel 0 of the normalised input (sRGB red, 0..1)."""
    from tests.test_vision_learned import entry, identity, index

    data = identity(tmp_path / "depth.onnx")
    index(tmp_path, entry("depth.onnx", data, mean=[0, 0, 0], std=[1, 1, 1]))
    px = np.empty((64, 128, 3), np.float32)
    px[...] = convert(np.array([0.25, 0.5, 0.75], np.float32), "srgb", "ACEScg")
    io.write_image(tmp_path / "still.exr", Frame(px, "ACEScg"), pixel_type="float")
    assert main(["vision", "depth", str(tmp_path / "still.exr"), "--model", str(tmp_path / "depth.onnx"),
                 "--output-dir", str(tmp_path / "d"), "-q"]) == 0
    z = io.read_image(tmp_path / "d" / "still.depth.exr").layers["depth"]
    assert np.abs(z - 0.25).max() < 1e-3  # half float


def test_bad_input_is_one_line(tmp_path, capsys):
    grey = photo("coffee")[..., :1]
    io.write_image(tmp_path / "mono.exr", Frame(grey, "ACEScg"), pixel_type="float")
    assert main(["vision", "matte", str(tmp_path / "mono.exr"), "--box", "10,10,50,50",
                 "--output-dir", str(tmp_path / "o")]) != 0
    err = capsys.readouterr().err.strip()
    assert err.endswith("mono.exr: the matte pass needs a colour (RGB) image, got 1 channel"), err
    assert len(err.splitlines()) == 1
    assert main(["vision", "depth", str(tmp_path / "mono.exr"), "--output-dir", str(tmp_path / "o")]) != 0
    assert "pass 'depth': needs --model" in capsys.readouterr().err
