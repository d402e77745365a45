"""ReelTrain: Train / Stop / Resume / Monitor on a tiny real training (coffee.png degraded on the fly)."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from nuke_plugin import host  # noqa: E402
from nuke_plugin.nodes import reel_train  # noqa: E402

CFG = {"model": {"type": "unshuffle_small", "channels": 8, "blocks": 1}, "batch_size": 2, "crop_size": 32,
       "checkpoint_every": 2, "preview_every": 0, "preview_crops": 1, "threads": 1,
       "data": {"clean": ["sample:coffee"], "degrade": {"variants": 1}}}


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def make_node(nuke, tmp_path, steps):
    cfg = tmp_path / "train.json"
    cfg.write_text(json.dumps(CFG))
    node = nuke.createNode("ReelTrain")
    for key, value in {"output_dir": str(tmp_path / "out"), "config": str(cfg), "steps": steps,
                       "device": "cpu"}.items():
        node[key].setValue(value)
    return node


def test_knobs_mirror_the_train_job_spec(started):
    from core.train.config import TRAIN_JOB_PARAMS

    node = started.createNode("ReelTrain")
    for p in TRAIN_JOB_PARAMS:
        assert node[p.name].value() == p.default
    for button in ("train", "stop", "resume", "monitor"):
        assert node[button].Class() == "PyScript_Knob"


def test_train_shows_the_contact_sheet_and_monitor_reads_the_folder(started, tmp_path):
    nuke = started
    node = make_node(nuke, tmp_path, 4)
    task = reel_train.run(node)
    assert task is not None, nuke._calls("message")
    nuke._pump(until=lambda: task.done, timeout=120)
    assert task.error is None and nuke._calls("message") == []
    status = node[host.STATUS].value()
    assert status.startswith("trained 4 steps on cpu") and status.endswith("model.onnx")
    sheet = node[host.OUTPUT_FILE].value()
    assert sheet.endswith("/contact_sheet.png")
    folder = reel_train.training_folder(node)
    assert (folder / "model.onnx").is_file() and sheet == (folder / "contact_sheet.png").as_posix()

    pytest.importorskip("PySide6")
    from PySide6 import QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    panel = reel_train.monitor(node, poll_ms=0)
    app.processEvents()
    assert panel.model.folder == folder and panel.status.text().startswith("step 4/4")
    panel.close()


def test_stop_then_resume_continues_from_the_checkpoint(started, tmp_path):
    nuke = started
    node = make_node(nuke, tmp_path, 6)
    reel_train.stop(node)                 # nothing running: a no-op
    task = reel_train.run(node)
    reel_train.stop(node)                 # stops after the step in progress
    nuke._pump(until=lambda: task.done, timeout=120)
    assert task.cancelled and task.error is None
    folder = reel_train.training_folder(node)
    assert json.loads((folder / "manifest.json").read_text())["status"] == "stopped"
    from core.train import list_checkpoints

    stopped_at = list_checkpoints(folder)[-1][0]
    assert 1 <= stopped_at < 6
    task = reel_train.resume(node)
    nuke._pump(until=lambda: task.done, timeout=120)
    assert task.error is None, task.error
    assert node[host.STATUS].value().startswith("trained 6 steps")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "done" and manifest["resumed_from"] == stopped_at
