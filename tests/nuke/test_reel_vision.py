"""ReelVision: the Analyse button runs core.vision.files.vision_files on the node's input; the node shows the
plate with the pass in Nuke's channels (motion vectors with v up), and a model of another task is refused
before anything runs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from nuke_plugin import host  # noqa: E402
from nuke_plugin.nodes import reel_vision  # noqa: E402

FRAMES = (1001, 1002, 1003)


@pytest.fixture(scope="module")
def plate(tmp_path_factory):
    """The astronaut (128x96 crop, ACEScg) moving 1 px right and 2 px down a frame."""
    from core import io
    from core.color import convert
    from core.frame import Frame
    from core.io.samples import load_sample

    photo = convert(load_sample("astronaut").pixels, "srgb", "ACEScg")[60:156, 180:308].astype(np.float32)
    folder = tmp_path_factory.mktemp("plate")
    pattern = (folder / "plate.####.exr").as_posix()
    for k, n in enumerate(FRAMES):
        moved = ndimage.shift(photo, (2 * k, k, 0), order=3, mode="mirror").astype(np.float32)
        io.write_image(io.sequence_path(pattern, n), Frame(moved, "ACEScg"), pixel_type="float")
    return pattern


def test_flow_pass_end_to_end(started, tmp_path, plate):
    nuke = started
    node = nuke.createNode("ReelVision")
    node.setInput(0, nuke.nodes.Read(file=plate, first=FRAMES[0], last=FRAMES[-1], raw=True))
    node["output_dir"].setValue(str(tmp_path / "out"))
    assert node["pass_name"].value() == "flow"
    task = reel_vision.run(node)
    assert task is not None, nuke._calls("message")
    nuke._pump(until=lambda: task.done, timeout=60)
    assert task.error is None and nuke._calls("message") == []
    assert node[host.STATUS].value() == "flow, frames 1001-1003"
    px = nuke._pixels(node, 1002)
    inner = (slice(16, -16), slice(16, -16))
    assert np.median(px["forward.u"][inner]) == pytest.approx(1.0, abs=0.1)
    assert np.median(px["forward.v"][inner]) == pytest.approx(-2.0, abs=0.1)  # Nuke's v is up
    assert np.median(px["backward.v"][inner]) == pytest.approx(2.0, abs=0.1)
    assert {"rgba.red", "consistency.forward", "consistency.backward"} <= set(px)


def test_a_model_of_another_task_is_refused_before_anything_runs(started, tmp_path, plate):
    pytest.importorskip("onnx")
    from tests.test_vision_learned import entry, identity, index

    nuke = started
    data = identity(tmp_path / "sal.onnx")
    index(tmp_path, entry("sal.onnx", data, task="saliency"))
    node = nuke.createNode("ReelVision")
    node.setInput(0, nuke.nodes.Read(file=plate, first=FRAMES[0], last=FRAMES[-1], raw=True))
    node["pass_name"].setValue("depth")
    node["model"].setValue(str(tmp_path / "sal.onnx"))
    assert reel_vision.run(node) is None
    (args, _), = nuke._calls("message")
    assert "vision model 'tiny' is a saliency model, not a depth model" in args[0]
    assert nuke._calls("execute") == []
