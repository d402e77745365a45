"""ReelDegrade's "Match from input" button: core.inverse.match on the node's input, the matched look on the knobs.

The input is a real photo (scikit-image's chelsea, a 128 px crop) damaged
by core.degrade with known grain, fade and dust, written as an EXR
sequence and read by a Read node.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.degrade import DEGRADE_PARAMS, degrade_frame, resolve_params
from nuke_plugin import host, registry
from nuke_plugin.nodes import reel_degrade

GROUPS = registry.get("ReelDegrade").preset_groups


def _damaged_plate(folder, frames, truth) -> str:
    import cv2

    from core import color, io
    from core.frame import Frame
    from core.train.data import bundled_media_path

    px = color.convert_frame(io.read_image(bundled_media_path("skimage:chelsea")), "ACEScg").pixels[..., :3]
    h, w = px.shape[:2]
    clean = np.ascontiguousarray(cv2.resize(px[h // 2 - 96:h // 2 + 96, w // 2 - 96:w // 2 + 96], (128, 128),
                                            interpolation=cv2.INTER_AREA))
    folder.mkdir(parents=True, exist_ok=True)
    pattern = (folder / "scan.####.exr").as_posix()
    for n in frames:
        out = degrade_frame(clean, frame=n, seed=5, params=truth).pixels
        io.write_image(io.sequence_path(pattern, n), Frame(out, "ACEScg"), pixel_type="float")
    return pattern


@pytest.mark.parametrize("gui", [True, False])
def test_match_from_input_fills_the_knobs_with_the_matched_preset(started, tmp_path, gui):
    from core.degrade.presets import read_preset_file

    nuke = started
    nuke._set_gui(gui)
    truth = {"grain_intensity": 0.05, "grain_size": 1.2, "fade_cyan": 0.4, "dust_count": 10.0}
    pattern = _damaged_plate(tmp_path / "in", range(1001, 1005), truth)
    node = nuke.createNode("ReelDegrade")
    node.setInput(0, nuke.nodes.Read(file=pattern, first=1001, last=1004, raw=True))
    node["preset"].setValue("dusty_35mm")          # replaced by the match: no preset afterwards
    node["output_dir"].setValue(str(tmp_path / "out"))
    task = reel_degrade.match(node)
    assert task is not None, nuke._calls("message")
    nuke._pump(until=lambda: task.done, timeout=120)
    assert task.error is None and nuke._calls("message") == []
    (preset_file,) = (tmp_path / "out").rglob("matched.json")
    matched = read_preset_file(preset_file)
    assert node["preset"].value() == "none"
    assert node[host.STATUS].value().startswith("matched from input frames 1001-1004")
    # the node now runs exactly the preset file's look
    assert resolve_params(None, reel_degrade.overrides(node)) == resolve_params(str(preset_file))
    assert {p: node[p].value() for p in DEGRADE_PARAMS.params} == resolve_params(str(preset_file))
    over = reel_degrade.overridden(node)
    assert {"grain", "fade", "dust", "scratches", "flicker", "gauge"} <= set(over)
    assert matched["grain_intensity"] == pytest.approx(0.05, abs=0.02)
    assert matched["fade_cyan"] > max(matched["fade_magenta"], matched["fade_yellow"])


def test_match_refuses_a_too_small_input(started, tmp_path, caplog):
    from core import io
    from core.frame import Frame

    nuke = started
    pattern = (tmp_path / "tiny.####.exr").as_posix()
    for n in (1, 2):
        io.write_image(io.sequence_path(pattern, n), Frame(np.full((24, 32, 3), 0.18, np.float32), "ACEScg"))
    node = nuke.createNode("ReelDegrade")
    node.setInput(0, nuke.nodes.Read(file=pattern, first=1, last=2, raw=True))
    node["output_dir"].setValue(str(tmp_path / "out"))
    before = {p: node[p].value() for p in DEGRADE_PARAMS.params}
    caplog.errors_expected = True  # the frames are read in the background: the task fails and says why
    task = reel_degrade.match(node)
    nuke._pump(until=lambda: task.done, timeout=60)
    assert "32x24; at least 64x64 px needed" in str(task.error)
    assert {p: node[p].value() for p in DEGRADE_PARAMS.params} == before
    assert not list((tmp_path / "out").rglob("matched.json"))
