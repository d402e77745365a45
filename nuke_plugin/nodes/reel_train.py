"""ReelTrain: train a restoration model (CopyCat-style) with :func:`core.train.train`, and watch it.

The knobs mirror :data:`core.train.config.TRAIN_JOB_PARAMS` (a config file,
and the options that most often change: preset, pair manifest, start
weights, steps, batch, crop, learning rate, device, seed) and the job spec
(output folder, redo). Training reads its pairs from the pair manifest (stage
1 + stage 2 folders), not from the node's input.

Buttons: **Train** starts in the background (it continues from the newest
checkpoint of the same settings; with "Redo finished frames" on it starts
over); **Stop** ends it after the current step, which is checkpointed;
**Resume** continues from there; **Monitor** opens the training monitor
panel (live loss, contact sheet, stop / resume). The node shows the latest
contact sheet; the Result tab says where ``model.onnx`` is.
"""

from __future__ import annotations

import threading
from pathlib import Path

from nuke_plugin import host, knobs, registry

NODE = "ReelTrain"
#: Stop requests, by node full name (set by Stop, read by the running job's progress callback).
_stops: dict[str, threading.Event] = {}
#: The training folder of each node's last run, by node full name.
_folders: dict[str, Path] = {}


def training_folder(node) -> Path:
    """Where this node's training with its current knobs writes (the same folder on every run)."""
    spec = registry.get(NODE)
    params, job = spec.split(knobs.read_values(node, spec.knob_params()))
    return host.output_dir(node, job["output_dir"], {"node": NODE, "params": params})


def _start(node, *, resume_only: bool = False) -> host.Task:
    from core.pipeline.project import with_alignment_folder
    from core.train import TrainConfig
    from core.train.config import job_config

    host.check_idle(node.fullName())
    spec = registry.get(NODE)
    params, job = spec.split(knobs.read_values(node, spec.knob_params()))
    # a bad config stops here, before any thread
    config = TrainConfig.from_dict(with_alignment_folder(job_config(params)))
    out_dir = host.output_dir(node, job["output_dir"], {"node": NODE, "params": params})
    start_over = bool(job["force"]) and not resume_only
    stop = _stops[node.fullName()] = threading.Event()
    _folders[node.fullName()] = out_dir

    def work(progress):
        from core.train import train

        def step(done: int, total: int, info) -> None:
            if stop.is_set():
                raise host.TaskCancelled(f"stopped at step {done} of {total}; Resume continues from the last "
                                         "checkpoint")
            progress(done, total)

        return train(config, output_dir=out_dir, resume=not start_over, progress=step)

    def done(result) -> None:
        m = result.metrics
        status = (f"trained {result.steps} steps on {result.device}: loss {m['loss_first']:.4g} -> "
                  f"{m['loss_last']:.4g}; model {result.files['onnx']}")
        host.set_output(node, result.files["contact_sheet"], 1, 1, status)

    def failed(exc: BaseException) -> None:
        node[host.STATUS].setValue(f"failed: {exc}")

    return host.run_task(f"{node.name()}: train", work, on_done=done, on_error=failed, key=node.fullName())


def stop(node) -> None:
    """The Stop button: ask the running training to end after its current step."""
    event = _stops.get(node.fullName())
    if event is not None:
        event.set()


run = host.button(_start)
resume = host.button(lambda node: _start(node, resume_only=True))


def monitor(node, *, poll_ms: int = 2000):
    """The Monitor button: open the training monitor on this node's training folder (returns the panel)."""
    from core.train.monitor import TrainMonitorModel
    from nuke_plugin.panels.train_monitor import TrainMonitor

    folder = _folders.get(node.fullName()) or training_folder(node)
    model = TrainMonitorModel(folder, on_stop=lambda: stop(node), on_resume=lambda: resume(node))
    panel = TrainMonitor(model=model, poll_ms=poll_ms)
    panel.show()
    return panel
