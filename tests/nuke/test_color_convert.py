"""ReelColorConvert: the Convert button gathers knobs, calls core.convert.convert, shows the result."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import core.convert
from core.errors import ColorSpaceError
from nuke_plugin import host
from nuke_plugin.nodes import color_convert


class FakeConvert:
    """Stands in for core.convert.convert: records its arguments, reports progress per frame."""

    def __init__(self):
        self.calls = []

    def __call__(self, input_path, output, *, output_dir, params, frames, force, progress):
        self.calls.append(dict(input_path=input_path, output=output, output_dir=output_dir, params=params,
                               frames=frames, force=force,
                               input_exists=os.path.isdir(os.path.dirname(input_path))))
        from core.io import as_frame_range

        numbers = list(as_frame_range(frames)) if frames else [None]
        for i, n in enumerate(numbers):
            progress(i + 1, len(numbers), n)
        return "manifest"


@pytest.fixture
def fake_convert(monkeypatch):
    fake = FakeConvert()
    monkeypatch.setattr(core.convert, "convert", fake)
    return fake


def plate(nuke, folder, first=1001, last=1003):
    return nuke.nodes.Read(file=(Path(folder) / "plate.####.exr").as_posix(), first=first, last=last, raw=True)


def test_convert_button_runs_the_node_callback(node, monkeypatch):
    import nuke

    seen = []
    monkeypatch.setattr(color_convert, "run", seen.append)
    node["convert"].execute()
    assert seen == [node]
    assert nuke.thisNode() is None


def test_run_from_a_read(node, fake_convert, tmp_path):
    import nuke

    node.setInput(0, plate(nuke, tmp_path / "in"))
    node["source"].setValue("ACEScg")
    node["target"].setValue("Lab")
    node["pixel_type"].setValue("float")
    node["output_dir"].setValue(str(tmp_path / "out"))
    task = color_convert.run(node)
    nuke._pump(until=lambda: task.done)
    (call,) = fake_convert.calls
    out_dir = call["output_dir"]
    assert call["input_path"] == (tmp_path / "in" / "plate.####.exr").as_posix()
    assert call["output"] == "ReelColorConvert1.####.exr"
    assert out_dir.parent == tmp_path / "out" / "ReelColorConvert1"
    assert call["params"] == {"source": "ACEScg", "target": "Lab", "nonfinite": "raise", "pixel_type": "float",
                              "compression": "zip", "bit_depth": "auto"}
    assert call["frames"] == "1001-1003" and call["force"] is False
    assert node[host.OUTPUT_FILE].value() == (out_dir / "ReelColorConvert1.####.exr").as_posix()
    assert (node[host.OUTPUT_FIRST].value(), node[host.OUTPUT_LAST].value()) == (1001, 1003)
    assert node[host.OUTPUT_READY].value() is True
    assert node[host.STATUS].value() == "ACEScg -> Lab, frames 1001-1003"
    assert nuke._progress_tasks[0]._progress == [33, 66, 100]


def test_auto_source_is_the_working_space(node, fake_convert, tmp_path):
    import nuke

    nuke.root()["workingSpaceLUT"].setValue("ACES - ACEScg")
    node.setInput(0, plate(nuke, tmp_path))
    node["output_dir"].setValue(str(tmp_path / "out"))
    task = color_convert.run(node)
    nuke._pump(until=lambda: task.done)
    assert fake_convert.calls[0]["params"]["source"] == "ACEScg"


def test_settings_choose_the_folder(node, fake_convert, tmp_path):
    import nuke

    node.setInput(0, plate(nuke, tmp_path))
    node["output_dir"].setValue(str(tmp_path / "out"))
    for target in ("srgb", "srgb", "OKLab"):
        node["target"].setValue(target)
        task = color_convert.run(node)
        nuke._pump(until=lambda: task.done)
    first, again, other = (c["output_dir"] for c in fake_convert.calls)
    assert first == again != other


def test_rendered_input_is_always_redone_and_removed(node, fake_convert, tmp_path):
    import nuke

    node.setInput(0, nuke.nodes.Grade())
    node["source"].setValue("lin_rec709")
    node["frames"].setValue("1-4")
    node["output_dir"].setValue(str(tmp_path / "out"))
    task = color_convert.run(node)
    nuke._pump(until=lambda: task.done)
    (call,) = fake_convert.calls
    assert call["force"] is True and call["input_exists"] and call["frames"] == "1-4"
    assert not os.path.exists(os.path.dirname(call["input_path"]))


@pytest.mark.parametrize("setup, message", [
    (lambda nuke, node: None, "ReelColorConvert1: connect an input first"),
    (lambda nuke, node: node["frames"].setValue("10-1"), "10-1 ends before it starts"),
    (lambda nuke, node: nuke.root()["workingSpaceLUT"].setValue("Custom"),
     "Nuke's working space 'Custom' has no reelkit name"),
])
def test_problems_are_shown_not_raised_in_the_gui(node, fake_convert, tmp_path, setup, message):
    import nuke

    if "connect" not in message:
        node.setInput(0, plate(nuke, tmp_path))
    setup(nuke, node)
    assert color_convert.run(node) is None
    ((text,), _), = nuke._calls("message")
    assert message in text
    assert fake_convert.calls == []


def test_headless_runs_synchronously_and_raises(headless, fake_convert, tmp_path):
    nuke = headless
    nuke._run_startup(str(Path(__file__).resolve().parents[2]), "init.py")
    node = nuke.createNode("ReelColorConvert")
    node.setInput(0, plate(nuke, tmp_path))
    node["source"].setValue("ACEScg")
    task = color_convert.run(node)
    assert task.done and node[host.OUTPUT_READY].value() is True and len(fake_convert.calls) == 1
    nuke.root()["workingSpaceLUT"].setValue("Custom")
    node["source"].setValue("auto")
    with pytest.raises(ColorSpaceError):
        color_convert.run(node)


# ----------------------------------------------------------------------------- end to end, with core.color and core.io


def _core_ready():
    try:
        from core import color, io
    except ImportError as exc:
        return f"core.color/core.io not importable: {exc}"
    missing = [f"core.color.{n}" for n in ("convert_frame",) if not hasattr(color, n)]
    missing += [f"core.io.{n}" for n in ("read_image", "write_image", "sequence_path") if not hasattr(io, n)]
    return ", ".join(missing) + " not written yet" if missing else None


needs_core = pytest.mark.skipif(bool(_core_ready()), reason=str(_core_ready()))


def _write_plate(folder: Path, frames, colorspace="ACEScg") -> str:
    from core import io
    from core.frame import Frame

    folder.mkdir(parents=True, exist_ok=True)
    pattern = (folder / "plate.####.exr").as_posix()
    for n in frames:
        px = np.linspace(0.0, 1.5, 4 * 3 * 3, dtype=np.float32).reshape(4, 3, 3) * (1 + (n % 7) / 10)
        io.write_image(io.sequence_path(pattern, n), Frame(px, colorspace), pixel_type="float")
    return pattern


def _expected(src_path, source, target):
    from core import color, io

    return color.convert_frame(io.read_image(src_path, colorspace=source), target).pixels


@needs_core
@pytest.mark.parametrize("gui", [True, False])
def test_end_to_end_from_a_read(started, tmp_path, gui):
    from core import io

    nuke = started
    nuke._set_gui(gui)
    pattern = _write_plate(tmp_path / "in", [1001, 1002, 1003])
    node = nuke.createNode("ReelColorConvert")
    node.setInput(0, nuke.nodes.Read(file=pattern, first=1001, last=1003, raw=True))
    node["source"].setValue("ACEScg")
    node["target"].setValue("srgb")
    node["pixel_type"].setValue("float")
    node["output_dir"].setValue(str(tmp_path / "out"))
    node["convert"].execute()
    nuke._pump(until=lambda: node[host.OUTPUT_READY].value() or nuke._calls("message"), timeout=60)
    assert nuke._calls("message") == []
    out = node[host.OUTPUT_FILE].value()
    for n in (1001, 1002, 1003):
        got = io.read_image(io.sequence_path(out, n))
        assert got.colorspace == "srgb"
        np.testing.assert_allclose(got.pixels, _expected(io.sequence_path(pattern, n), "ACEScg", "srgb"),
                                   rtol=0, atol=1e-6)
    (manifest_path,) = Path(out).parent.glob("manifest*.json")  # manifest.frames-1001-1003.json
    manifest = json.loads(manifest_path.read_text("utf-8"))
    assert manifest["status"] == "done" and sorted(manifest["frames"]) == ["1001", "1002", "1003"]


@needs_core
def test_end_to_end_rendered_input(started, tmp_path):
    from core import io
    from core.frame import Frame

    nuke = started
    source = _write_plate(tmp_path / "src", [1, 2])

    def render(write, frame):  # Nuke would render the Grade; copy the source frame in its place
        img = io.read_image(io.sequence_path(source, frame), colorspace="lin_rec709")
        io.write_image(io.sequence_path(write["file"].value(), frame), Frame(img.pixels, "lin_rec709"),
                       pixel_type="float", overwrite=True)

    nuke._render_hook = render
    node = nuke.createNode("ReelColorConvert")
    node.setInput(0, nuke.nodes.Grade())
    node["frames"].setValue("1-2")
    node["source"].setValue("lin_rec709")
    node["target"].setValue("ACEScg")
    node["pixel_type"].setValue("float")
    node["output_dir"].setValue(str(tmp_path / "out"))
    task = color_convert.run(node)
    nuke._pump(until=lambda: task.done, timeout=60)
    assert task.error is None and nuke._calls("message") == []
    out = node[host.OUTPUT_FILE].value()
    for n in (1, 2):
        np.testing.assert_allclose(io.read_image(io.sequence_path(out, n)).pixels,
                                   _expected(io.sequence_path(source, n), "lin_rec709", "ACEScg"), rtol=0, atol=1e-6)
    (_, kwargs), = nuke._calls("execute")
    assert kwargs["file"].endswith(".input.####.exr") and not os.path.exists(os.path.dirname(kwargs["file"]))


def test_second_click_while_running_is_refused(node, monkeypatch, tmp_path):
    import threading

    import nuke

    release = threading.Event()
    monkeypatch.setattr(core.convert, "convert", lambda *a, **k: release.wait(5))
    node.setInput(0, plate(nuke, tmp_path))
    node["source"].setValue("ACEScg")
    task = color_convert.run(node)
    assert color_convert.run(node) is None
    ((text,), _), = nuke._calls("message")
    assert "ReelColorConvert1: the previous run" in text
    release.set()
    nuke._pump(until=lambda: task.done)
