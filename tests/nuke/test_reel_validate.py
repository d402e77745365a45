"""ReelValidate: four inputs (source, reference, ml, mask); Validate runs core.validate.run_validation; views; report.

End to end with core on a tiny real sequence: the reference is a pan over a
shipped photo (ACEScg), the source the reference through a known faded
grade with a few dust specks, ml the reference with a little noise. What
the gizmo shows comes from the fake's :func:`_pixels`, which reads the
result EXRs through core.io and follows the Reads and Switches inside.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from nuke_plugin import host
from nuke_plugin.nodes import reel_validate

FRAMES = (1001, 1002, 1003)
MATRIX = np.array([[0.85, 0.10, 0.0], [0.05, 0.80, 0.05], [0.0, 0.12, 0.70]])


@pytest.fixture(scope="module")
def shot(tmp_path_factory):
    """``{"src"|"ref"|"ml": pattern}`` and the pixels, three frames of 64 x 96, EXR, ACEScg."""
    from core import io
    from core.color import convert
    from core.io.samples import load_sample

    photo = convert(load_sample("coffee").pixels[::4, ::4], "srgb", "ACEScg").astype(np.float32)
    folder = tmp_path_factory.mktemp("shot")
    rng = np.random.default_rng(0)
    patterns = {k: (folder / k / f"{k}.####.exr").as_posix() for k in ("src", "ref", "ml")}
    pixels = {k: {} for k in patterns}
    for i, n in enumerate(FRAMES):
        ref = np.ascontiguousarray(photo[10:74, 5 + 2 * i:101 + 2 * i])
        src = (ref.reshape(-1, 3) @ MATRIX.T).reshape(ref.shape).astype(np.float32)
        src[20:22, 30:32] = 1.5
        ml = (ref * np.exp2(rng.normal(0, 0.02, ref.shape))).astype(np.float32)
        for k, img in (("src", src), ("ref", ref), ("ml", ml)):
            io.write_image(io.sequence_path(patterns[k], n), img, colorspace="ACEScg", pixel_type="float")
            pixels[k][n] = io.read_image(io.sequence_path(patterns[k], n)).pixels
    return patterns, pixels


def read(nuke, pattern, first=FRAMES[0], last=FRAMES[-1]):
    return nuke.nodes.Read(file=pattern, first=first, last=last, raw=True)


def make_node(nuke, tmp_path, source=None, reference=None, ml=None, mask=None, **knobs):
    node = nuke.createNode("ReelValidate")
    for i, inp in enumerate((source, reference, ml, mask)):
        if inp is not None:
            node.setInput(i, inp)
    values = {"output_dir": str(tmp_path / "out"), "baselines": "grade_matrix,dust_bust", "compare_frames": 1,
              "crop_size": 32, **knobs}
    for key, value in values.items():
        node[key].setValue(value)
    return node


def shown(nuke, node, frame):
    px = nuke._pixels(node, frame)
    return np.stack([px["rgba.red"], px["rgba.green"], px["rgba.blue"]], axis=-1)


def test_four_labelled_inputs(started):
    node = started.createNode("ReelValidate")
    assert node.maxInputs() == 4
    assert [host.input_label(node, i) for i in range(4)] == ["source", "reference", "ml", "mask"]
    assert node.node("Write_ml").input(0) is node.node("ml")
    assert node.node("Write_mask").input(0) is node.node("mask")
    assert "write_baselines" not in node.knobs() and node.knob("open_report") is not None


def test_validate_end_to_end(started, tmp_path, shot, monkeypatch):
    nuke = started
    patterns, pixels = shot
    opened = []
    monkeypatch.setattr(reel_validate.webbrowser, "open", opened.append)
    node = make_node(nuke, tmp_path, read(nuke, patterns["src"]), read(nuke, patterns["ref"]),
                     read(nuke, patterns["ml"]))
    assert reel_validate.open_report(node) is False  # nothing yet: said so
    assert nuke._calls("message")[-1][0][0] == "ReelValidate1: no report yet: press Validate first"
    task = reel_validate.run(node)
    assert task is not None, nuke._calls("message")
    nuke._pump(until=lambda: task.done, timeout=120)
    assert task.error is None, task.error

    status = node[host.STATUS].value()
    assert status.startswith("validated 3 frame(s): ml ") and "best baseline grade_matrix" in status
    shown_file = node[host.OUTPUT_FILE].value()
    assert shown_file.endswith("/baselines/grade_matrix/grade_matrix.####.exr")
    out = Path(shown_file).parents[2]
    assert out.parent == tmp_path / "out" / "ReelValidate1"
    data = json.loads((out / "metrics.json").read_text())
    assert data["summary"]["ml"]["psnr"] > data["summary"]["grade_matrix"]["psnr"] > data["summary"]["source"][
        "psnr"]
    assert "output" not in data["params"] and data["params"]["write_baselines"] is True
    # the views: switching re-runs nothing
    for view, want in (("ml", pixels["ml"][1002]), ("reference", pixels["ref"][1002]),
                       ("source", pixels["src"][1002])):
        node["output"].setValue(view)
        np.testing.assert_array_equal(shown(nuke, node, 1002), want)
    node["output"].setValue("baseline")
    from core import io

    np.testing.assert_array_equal(shown(nuke, node, 1002),
                                  io.read_image(io.sequence_path(shown_file, 1002)).pixels)
    assert len(nuke._progress_tasks) == 1
    # the report
    report = Path(node[reel_validate.REPORT_KNOB].value())
    assert report == out / "report.html" and report.is_file()
    assert reel_validate.open_report(node) is True and opened == [report.as_uri()]
    node.setSelected(True)
    assert reel_validate.open_latest_report() is True and opened[-1] == report.as_uri()


def test_menu_entry_opens_the_newest_report_or_says_there_is_none(started, tmp_path, monkeypatch):
    nuke = started
    nuke._run_startup(str(Path(__file__).resolve().parents[2]), "menu.py")
    opened = []
    monkeypatch.setattr(reel_validate.webbrowser, "open", opened.append)
    item = nuke.menu("Nuke").findItem("reelkit").findItem("Open validation report")
    item.invoke()
    assert opened == [] and "No ReelValidate node has a report yet" in nuke._calls("message")[-1][0][0]
    a, b = nuke.createNode("ReelValidate"), nuke.createNode("ReelValidate")
    for node, name in ((a, "a.html"), (b, "b.html")):
        path = tmp_path / name
        path.write_text("<html></html>")
        reel_validate.report_knob(node).setValue(path.as_posix())
    os.utime(tmp_path / "a.html", (1, 1))
    item.invoke()
    assert opened == [(tmp_path / "b.html").as_uri()]  # none selected: the newest
    a.setSelected(True)
    item.invoke()
    assert opened[-1] == (tmp_path / "a.html").as_uri()


def test_without_ml_only_the_baselines_are_measured(headless, tmp_path, shot):
    nuke = headless
    nuke._run_startup(str(Path(__file__).resolve().parents[2]), "init.py")
    patterns, _ = shot
    node = make_node(nuke, tmp_path, read(nuke, patterns["src"]), read(nuke, patterns["ref"]),
                     baselines="grade_root_poly", frames="1001-1002")
    node["validate"].execute()  # nuke -t: the button's script runs inline
    status = node[host.STATUS].value()
    assert status.startswith("validated 2 frame(s): best baseline grade_root_poly") and " ml " not in status
    assert node["output_ml"].value() == ""


def test_rendered_ml_input_is_kept_beside_the_results(headless, tmp_path, shot):
    from core import io
    from core.frame import Frame

    nuke = headless
    nuke._run_startup(str(Path(__file__).resolve().parents[2]), "init.py")
    patterns, pixels = shot

    def render(write, frame):  # Nuke would render the Grade; copy the ml frame in its place
        assert write.name() == "Write_ml"
        io.write_image(io.sequence_path(write["file"].value(), frame), Frame(pixels["ml"][frame], "ACEScg"),
                       pixel_type="float", overwrite=True)

    nuke._render_hook = render
    grade = nuke.nodes.Grade()
    grade.setInput(0, read(nuke, patterns["ml"]))
    node = make_node(nuke, tmp_path, read(nuke, patterns["src"]), read(nuke, patterns["ref"]), grade,
                     frames="1001-1002")
    node["validate"].execute()
    kept = node["output_ml"].value()
    out = Path(node[host.OUTPUT_FILE].value()).parents[2]
    assert kept == (out / "inputs" / "ml" / "ReelValidate1.ml.####.exr").as_posix()
    assert all(Path(io.sequence_path(kept, n)).is_file() for n in (1001, 1002))
    (_, kwargs), = nuke._calls("execute")
    assert not os.path.exists(os.path.dirname(kwargs["file"]))  # the temporary folder was moved, not left


def test_inputs_missing_or_short_are_named(started, tmp_path, shot):
    nuke = started
    patterns, _ = shot
    node = make_node(nuke, tmp_path, reference=read(nuke, patterns["ref"]))
    assert reel_validate.run(node) is None
    node.setInput(0, read(nuke, patterns["src"]))
    node.setInput(2, read(nuke, patterns["ml"], 1001, 1002))
    assert reel_validate.run(node) is None
    node.setInput(1, None)
    assert reel_validate.run(node) is None
    messages = [args[0] for args, _ in nuke._calls("message")]
    assert messages[0] == "ReelValidate1: connect its source input (input 1) first"
    assert messages[1].startswith("ReelValidate1: the ml input has frames 1001-1002 and lacks source frame(s) 1003")
    assert messages[2] == "ReelValidate1: connect its reference input (input 2) first"
    assert nuke._progress_tasks == []


def test_mask_input_limits_the_metrics_to_trusted_pixels(headless, tmp_path, shot):
    """ml is ruined (black) on its left 32 columns, which the mask marks untrusted: the node's metrics equal
    core.validate.run_validation's with the same mask (tested against reference metrics in
    tests/test_validate_*.py), and ml scores as well as the untouched right part."""
    from core import io
    from core.validate import run_validation

    nuke = headless
    nuke._run_startup(str(Path(__file__).resolve().parents[2]), "init.py")
    patterns, pixels = shot
    bad = (tmp_path / "bad" / "bad.####.exr").as_posix()
    mask = (tmp_path / "mask" / "mask.####.exr").as_posix()
    trusted = np.ones((64, 96, 3), np.float32)
    trusted[:, :32] = 0.0
    for n in FRAMES:
        ruined = pixels["ml"][n].copy()
        ruined[:, :32] = 0.0
        io.write_image(io.sequence_path(bad, n), ruined, colorspace="ACEScg", pixel_type="float")
        io.write_image(io.sequence_path(mask, n), trusted, colorspace="raw", pixel_type="half")
    node = make_node(nuke, tmp_path, read(nuke, patterns["src"]), read(nuke, patterns["ref"]), read(nuke, bad),
                     read(nuke, mask), baselines="grade_matrix")
    node["validate"].execute()
    assert node[host.STATUS].value().startswith("validated 3 frame(s): ml "), node[host.STATUS].value()
    got = json.loads((Path(node[host.OUTPUT_FILE].value()).parents[2] / "metrics.json").read_text())["summary"]
    want = {}
    for name, masks in (("masked", mask), ("unmasked", None)):
        want[name] = run_validation(sources=patterns["src"], references=patterns["ref"], candidates={"ml": bad},
                                    masks=masks, output_dir=tmp_path / name,
                                    params={"baselines": "grade_matrix", "compare_frames": 1,
                                            "crop_size": 32}).summary
    assert got["ml"]["psnr"] == pytest.approx(want["masked"]["ml"]["psnr"], abs=1e-9)
    assert got["ml"]["delta_e"] == pytest.approx(want["masked"]["ml"]["delta_e"], abs=1e-9)
    assert got["ml"]["psnr"] > 35.0 > 20.0 > want["unmasked"]["ml"]["psnr"]
