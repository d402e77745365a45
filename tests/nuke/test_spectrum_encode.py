"""SpectrumEncode: the Encode button runs core.palette.files.encode_files; 'Output' switches the view without a re-run.

End to end with core: a tiny EXR sequence of known colours is encoded, and
what the gizmo shows (the fake's :func:`_pixels`, which reads the result
EXRs through core.io and follows the Copy/Switch nodes inside the gizmo) is
compared with the packs core wrote beside them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from core.errors import ParameterError
from nuke_plugin import host
from nuke_plugin.nodes import spectrum_encode

#: Four ACEScg colours; frames are made of them with a little noise, so K = 4 finds them.
COLOURS = np.array([[0.60, 0.10, 0.05], [0.10, 0.50, 0.10], [0.05, 0.10, 0.60], [0.80, 0.35, 0.02]], np.float32)


def write_plate(folder: Path, frames, name="plate.####.exr") -> str:
    from core import io
    from core.frame import Frame

    folder.mkdir(parents=True, exist_ok=True)
    pattern = (folder / name).as_posix()
    for n in frames:
        rng = np.random.default_rng(n)
        labels = rng.integers(0, len(COLOURS), size=(24, 32))
        px = COLOURS[labels] + rng.normal(0, 0.004, size=(24, 32, 3)).astype(np.float32)
        path = io.sequence_path(pattern, n) if "#" in name else pattern
        io.write_image(path, Frame(np.abs(px).astype(np.float32), "ACEScg"), pixel_type="float")
    return pattern


def make_node(nuke, tmp_path, pattern, first, last, **knobs):
    node = nuke.createNode("SpectrumEncode")
    node.setInput(0, nuke.nodes.Read(file=pattern, first=first, last=last, raw=True))
    values = {"k": 4, "sample_size": 1000, "output_dir": str(tmp_path / "out"), **knobs}
    for key, value in values.items():
        node[key].setValue(value)
    return node


def run(nuke, node):
    task = spectrum_encode.run(node)
    assert task is not None, nuke._calls("message")
    nuke._pump(until=lambda: task.done, timeout=60)
    assert task.error is None and nuke._calls("message") == []
    return task


def shown(nuke, node, frame):
    """The RGB the node shows at ``frame``, HW3."""
    px = nuke._pixels(node, frame)
    return np.stack([px["rgba.red"], px["rgba.green"], px["rgba.blue"]], axis=-1)


def test_encode_button_runs_the_node_callback(started, monkeypatch):
    nuke = started
    node = nuke.createNode("SpectrumEncode")
    seen = []
    monkeypatch.setattr(spectrum_encode, "run", seen.append)
    node["encode"].execute()
    assert seen == [node]


def test_output_knob_drives_the_view_switch(started):
    """Switch_view's which is the index of the Output choice (the fake evaluates {{parent.output}})."""
    nuke = started
    node = nuke.createNode("SpectrumEncode")
    switch = node.node("Switch_view")
    from core.palette import ENCODE_PARAMS

    for i, choice in enumerate(ENCODE_PARAMS["output"].choices):
        node["output"].setValue(choice)
        assert switch["which"].value() == i
        source = switch.input(i)
        assert source.name() == ("Read_output" if choice == "reconstruction" else f"View_{choice}")
    assert node.node("Switch_result")["which"].value() == 0  # not run: the input passes through


@pytest.mark.parametrize("gui", [True, False])
def test_end_to_end_from_a_read(started, tmp_path, gui):
    from core import io
    from core.palette import decode, unpack

    nuke = started
    nuke._set_gui(gui)
    pattern = write_plate(tmp_path / "in", [1001, 1002, 1003])
    node = make_node(nuke, tmp_path, pattern, 1001, 1003)
    before = shown(nuke, node, 1002)                        # not run yet: the input
    np.testing.assert_array_equal(before, io.read_image(io.sequence_path(pattern, 1002)).pixels)
    run(nuke, node)
    out = node[host.OUTPUT_FILE].value()
    assert out.endswith("/plate.####.exr") and Path(out).parent.parent == tmp_path / "out" / "SpectrumEncode1"
    assert node[host.STATUS].value().startswith("4 colours (oklab), frames 1001-1003; mean ΔE00 ")
    for n in (1001, 1003):
        pack = unpack(Path(out).parent / "packs" / f"plate.{n}.npz")
        assert pack.k == 4
        node["output"].setValue("index")
        np.testing.assert_array_equal(shown(nuke, node, n), np.repeat(pack.index[..., None], 3, axis=2))
        node["output"].setValue("gradient")
        np.testing.assert_allclose(shown(nuke, node, n)[..., 1], pack.gradient(), atol=1e-3)   # half EXR
        node["output"].setValue("reconstruction")
        np.testing.assert_allclose(shown(nuke, node, n), decode(pack.index, pack.palette_acescg), rtol=1e-3)
        node["output"].setValue("distance")
        dist = shown(nuke, node, n)
        assert dist.min() >= 0 and 0 < dist.max() < 5  # ΔE OK x 100 of the noise around each colour
        assert np.array_equal(dist[..., 0], dist[..., 2])
    # switching the output re-ran nothing
    assert len(nuke._calls("ProgressTask")) == (1 if gui else 0)
    (path,) = Path(out).parent.glob("manifest*.json")  # manifest.frames-1001-1003.json
    manifest = json.loads(path.read_text("utf-8"))
    assert manifest["status"] == "done" and sorted(manifest["frames"]) == ["1001", "1002", "1003"]
    assert manifest["parameters"]["k"] == 4 and manifest["parameters"]["output"] == "gradient"  # never the view


def test_output_choice_shares_one_result(started, tmp_path):
    """The folder hashes the core parameters only: another Output choice resumes, another K does not."""
    nuke = started
    pattern = write_plate(tmp_path / "in", [1, 2])
    node = make_node(nuke, tmp_path, pattern, 1, 2, output="index")
    run(nuke, node)
    first = node[host.OUTPUT_FILE].value()
    node["output"].setValue("distance")
    run(nuke, node)
    assert node[host.OUTPUT_FILE].value() == first
    (path,) = Path(first).parent.glob("manifest*.json")
    manifest = json.loads(path.read_text("utf-8"))
    assert all(rec.get("resumed") for rec in manifest["frames"].values())
    node["k"].setValue(3)
    run(nuke, node)
    assert node[host.OUTPUT_FILE].value() != first


def test_shared_palette_is_one_palette(started, tmp_path):
    from core.palette import unpack

    nuke = started
    pattern = write_plate(tmp_path / "in", [1, 2, 3])
    node = make_node(nuke, tmp_path, pattern, 1, 3, shared=True, frames="2-3")
    run(nuke, node)
    assert "shared" in node[host.STATUS].value() and "frames 2-3" in node[host.STATUS].value()
    packs = Path(node[host.OUTPUT_FILE].value()).parent / "packs"
    a, b = unpack(packs / "plate.0002.npz"), unpack(packs / "plate.0003.npz")
    np.testing.assert_array_equal(a.palette_acescg, b.palette_acescg)
    assert not (packs / "plate.0001.npz").exists()


def test_still_and_rendered_input(started, tmp_path):
    from core import io
    from core.frame import Frame

    nuke = started
    still = write_plate(tmp_path / "in", [7], name="still.exr")
    node = make_node(nuke, tmp_path, still, 1, 1)
    run(nuke, node)
    assert node[host.OUTPUT_FILE].value().endswith("/still.exr")
    node["output"].setValue("index")
    assert shown(nuke, node, 1).max() <= 3

    source = write_plate(tmp_path / "src", [1, 2])

    def render(write, frame):  # Nuke would render the Grade; copy the source frame in its place
        img = io.read_image(io.sequence_path(source, frame))
        io.write_image(io.sequence_path(write["file"].value(), frame), Frame(img.pixels, "ACEScg"),
                       pixel_type="float", overwrite=True)

    nuke._render_hook = render
    graded = nuke.createNode("SpectrumEncode")
    graded.setInput(0, nuke.nodes.Grade())
    for key, value in {"k": 4, "sample_size": 1000, "frames": "1-2", "output_dir": str(tmp_path / "out")}.items():
        graded[key].setValue(value)
    run(nuke, graded)
    out = graded[host.OUTPUT_FILE].value()
    assert out.endswith("/SpectrumEncode2.input.####.exr")
    assert all(os.path.exists(io.sequence_path(out, n)) for n in (1, 2))
    (_, kwargs), = nuke._calls("execute")
    assert not os.path.exists(os.path.dirname(kwargs["file"]))  # the temporary render is gone


def test_problems_are_shown_not_raised(started, tmp_path):
    nuke = started
    node = nuke.createNode("SpectrumEncode")
    assert spectrum_encode.run(node) is None
    node.setInput(0, nuke.nodes.Read(file=(tmp_path / "p.####.exr").as_posix(), first=1, last=2, raw=True))
    node["k"].setValue(1)
    assert spectrum_encode.run(node) is None
    messages = [args[0] for args, _ in nuke._calls("message")]
    assert messages[0] == "SpectrumEncode1: connect an input first"
    assert "SpectrumEncode1: parameter 'k': 1 is below the minimum 2" in messages[1]


def test_headless_raises(headless, tmp_path):
    nuke = headless
    nuke._run_startup(str(Path(__file__).resolve().parents[2]), "init.py")
    node = nuke.createNode("SpectrumEncode")
    node.setInput(0, nuke.nodes.Read(file=(tmp_path / "p.####.exr").as_posix(), first=1, last=2, raw=True))
    node["seed"].setValue(2**31 - 1)  # the largest a 32-bit Int_Knob holds is valid
    node["sample_size"].setValue(10)
    with pytest.raises(ParameterError, match="sample_size"):
        spectrum_encode.run(node)


def test_status_line_reports_instability():
    data = {"frames": {"1": {"error": {"de2000_mean": 1.0}}, "2": {"error": {"de2000_mean": 3.0}}},
            "stability": {"warning": "entries moved", "unstable_frames": ["2"]}}
    params = {"k": 6, "space": "lab", "shared": False}
    assert spectrum_encode.describe(data, params, 1, 2) == \
        "6 colours (lab), frames 1-2; mean ΔE00 2.00; palette jumps at 2"
