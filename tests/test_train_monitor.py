"""The training monitor (model without Qt, widget offscreen) over a real training folder.

The folder comes from a real, tiny CPU training run (core.train on a crop
of coffee.png degraded with faded_16mm), so the monitor reads exactly what
the trainer writes.
"""

from __future__ import annotations

import csv

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("PySide6")

from core.train import train  # noqa: E402
from core.train.monitor import TrainMonitorModel  # noqa: E402

CFG = {"model": {"type": "unshuffle_small", "channels": 8, "blocks": 1}, "steps": 6, "batch_size": 2,
       "crop_size": 32, "checkpoint_every": 3, "preview_every": 0, "preview_crops": 2, "device": "cpu",
       "threads": 1, "data": {"clean": ["sample:coffee"], "degrade": {"variants": 1}}}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("03_training")
    train(CFG, output_dir=out)
    return out


def test_model_reads_the_folder_and_only_rereads_changes(run_dir):
    m = TrainMonitorModel(run_dir)
    assert m.refresh() is True
    with open(run_dir / "loss.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert m.steps == [int(r["step"]) for r in rows] == list(range(1, 7))
    assert m.loss[-1] == pytest.approx(float(rows[-1]["loss"]))
    assert (m.planned_steps, m.status) == (6, "done")
    assert m.sheet == run_dir / "contact_sheet.png"
    assert m.summary().startswith("step 6/6, loss ") and m.summary().endswith("(done)")
    assert m.refresh() is False          # nothing changed on disk
    assert not m.can_stop and not m.can_resume  # no callbacks: watch only


def test_model_on_an_empty_folder(tmp_path):
    m = TrainMonitorModel(tmp_path)
    assert m.refresh() is False
    assert "no training yet" in m.summary()


def test_widget_offscreen_shows_status_and_sheet_and_wires_buttons(run_dir, tmp_path):
    from PySide6 import QtWidgets

    from nuke_plugin.panels.train_monitor import TrainMonitor

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    calls = []
    model = TrainMonitorModel(run_dir, on_stop=lambda: calls.append("stop"), on_resume=lambda: calls.append("resume"))
    panel = TrainMonitor(model=model, poll_ms=0)
    panel.resize(640, 560)
    panel.show()
    app.processEvents()
    assert panel.status.text().startswith("step 6/6")
    assert panel.sheet.pixmap() is not None and not panel.sheet.pixmap().isNull()
    # a finished run: nothing to stop, something to resume
    assert not panel.stop_button.isEnabled() and panel.resume_button.isEnabled()
    panel.resume_button.click()
    assert calls == ["resume"]
    image = panel.grab().toImage()
    assert (image.width(), image.height()) == (640, 560)
    # the plot is drawn: the accent (smoothed loss) colour appears in it
    plot = panel.plot.grab().toImage()
    colours = {plot.pixelColor(x, y).name() for x in range(0, plot.width(), 3) for y in range(0, plot.height(), 3)}
    assert "#f2a03d" in colours
    panel.close()


def test_model_follows_a_running_training(tmp_path, monkeypatch):
    import core.train.trainer as trainer

    monkeypatch.setattr(trainer, "LOSS_CSV_SECONDS", 0.0)  # rewrite loss.csv after every step
    m = TrainMonitorModel(tmp_path)
    seen = []

    def watch(step, steps, info):
        m.refresh()
        seen.append((step, m.last_step, m.status, m.can_stop))

    m.on_stop = lambda: None
    train({**CFG, "checkpoint_every": 100}, output_dir=tmp_path, progress=watch)
    assert [s for s, *_ in seen] == list(range(1, 7))
    # live: the monitor sees every step as it is written, while the manifest says running
    assert all(last == step and status == "running" and can_stop for step, last, status, can_stop in seen)
    m.refresh()
    assert m.status == "done" and not m.can_stop
