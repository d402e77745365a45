"""ReelInfer: the Restore button runs core.infer.infer_files with the shipped film_restore model.

End to end on a tiny real plate: two 64x96 crops of coffee.png in ACEScg,
degraded with faded_16mm; what the node shows must be the model's output
(core.infer.Restorer on the same pixels) within half-float precision.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from nuke_plugin import host  # noqa: E402
from nuke_plugin.nodes import reel_infer  # noqa: E402

FRAMES = (1001, 1002)


@pytest.fixture(scope="module")
def plate(tmp_path_factory):
    from core import io
    from core.color import convert
    from core.degrade import degrade_frame
    from core.frame import Frame
    from core.io.samples import load_sample

    photo = convert(load_sample("coffee").pixels, "srgb", "ACEScg")[100:164, 200:296].astype(np.float32)
    folder = tmp_path_factory.mktemp("plate")
    pattern = (folder / "plate.####.exr").as_posix()
    pixels = {}
    for n in FRAMES:
        bad = degrade_frame(photo, frame=n, seed=3, preset="faded_16mm", effects=("fade", "grain")).pixels
        io.write_image(io.sequence_path(pattern, n), Frame(bad, "ACEScg"), pixel_type="float")
        pixels[n] = bad
    return pattern, pixels


def test_restore_end_to_end_with_the_shipped_model(started, tmp_path, plate):
    from core.infer import Restorer
    from core.infer.shipped import resolve_model, shipped_entry

    nuke = started
    pattern, pixels = plate
    node = nuke.createNode("ReelInfer")
    node.setInput(0, nuke.nodes.Read(file=pattern, first=FRAMES[0], last=FRAMES[-1], raw=True))
    for key, value in {"output_dir": str(tmp_path / "out"), "model": "film_restore", "tile": 0, "threads": 1}.items():
        node[key].setValue(value)
    task = reel_infer.run(node)
    assert task is not None, nuke._calls("message")
    nuke._pump(until=lambda: task.done, timeout=60)
    assert task.error is None and nuke._calls("message") == []
    version = shipped_entry("film_restore")["version"]
    assert node[host.STATUS].value() == f"restored with film_restore {version}, frames 1001-1002"
    want = Restorer(resolve_model("film_restore"), tile=0, threads=1).run(pixels[1002])
    px = nuke._pixels(node, 1002)
    got = np.stack([px["rgba.red"], px["rgba.green"], px["rgba.blue"]], axis=-1)
    np.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-3)


def test_unknown_model_is_named_before_anything_runs(started, tmp_path, plate):
    nuke = started
    node = nuke.createNode("ReelInfer")
    node.setInput(0, nuke.nodes.Read(file=plate[0], first=FRAMES[0], last=FRAMES[-1], raw=True))
    node["model"].setValue("no_such_model")
    assert reel_infer.run(node) is None
    (args, _), = nuke._calls("message")
    assert "no_such_model" in args[0] and "film_restore" in args[0]
    assert nuke._calls("execute") == []
