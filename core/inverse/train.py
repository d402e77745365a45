"""Train an inverse model on a data set of :mod:`core.inverse.data`, deterministic on the CPU.

:func:`train_inverse` fits an :class:`~core.inverse.nets.InverseNet` to a
finished data set folder: images in the ``log2`` encoding
(:mod:`core.infer.encoding`), Adam with a cosine decay, batches drawn as a
pure function of (seed, step), weights from ``torch.manual_seed(seed)``,
inside :func:`core.train.trainer.deterministic_session` (same data, settings
and torch build: the same weights, bit for bit). It writes into
``output_dir``: ``model.onnx`` + ``model.json`` (:mod:`core.inverse.model`),
``model.pt`` (the ``state_dict``), ``loss.csv`` and ``manifest.json``
(the data set's manifest hash as input, the settings, metrics).
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ParameterError, require
from core.jobs import ProgressFn
from core.params import Param, ParamSet

#: Training settings: one spec for the library, the CLI and the manifest.
INVERSE_TRAIN_PARAMS = ParamSet("inverse_train", [
    Param("steps", int, 300, "optimiser steps", minimum=1, maximum=10_000_000),
    Param("batch_size", int, 32, "images per step", minimum=1, maximum=4096),
    Param("lr", float, 2e-3, "Adam learning rate (cosine decay to 5% over the steps)", minimum=1e-7, maximum=1.0),
    Param("width", int, 16, "channels of the first ResNet stage (then x2, x4, x8)", minimum=4, maximum=256),
    Param("seed", int, 0, "seed of the initial weights and of every batch", minimum=0, maximum=2**31 - 1),
    Param("encoding", str, "log2", "pixel encoding the network sees", choices=("linear", "log2", "acescct")),
    Param("continuous_weight", float, 10.0, "weight of the continuous means' MSE", minimum=0.0, maximum=1e6),
    Param("spread_weight", float, 0.1, "weight of the spreads' Gaussian NLL", minimum=0.0, maximum=1e6),
    Param("categorical_weight", float, 1.0, "weight of the categorical heads' cross-entropy", minimum=0.0,
          maximum=1e6),
    Param("boolean_weight", float, 1.0, "weight of the boolean heads' BCE", minimum=0.0, maximum=1e6),
    Param("threads", int, 1, "torch CPU threads (0: torch's default)", minimum=0, maximum=1024),
    Param("name", str, "inverse", "model name in its manifest"),
])

OUTPUT_FILES = {"onnx": "model.onnx", "model_manifest": "model.json", "weights": "model.pt", "loss_csv": "loss.csv"}


@dataclasses.dataclass
class InverseTrainResult:
    """What :func:`train_inverse` wrote: ``files`` (name -> path), ``history`` (per-step loss parts),
    ``settings`` (resolved) and ``metrics`` (final training loss parts, seconds)."""

    output_dir: Path
    files: dict[str, Path]
    history: list[dict[str, float]]
    settings: dict[str, Any]
    metrics: dict[str, Any]

    @property
    def onnx(self) -> Path:
        return self.files["onnx"]


def _batch_indices(seed: int, step: int, n: int, size: int) -> np.ndarray:
    from core.inverse.data import keyed_rng

    return keyed_rng(seed, "batch", step).choice(n, size=min(size, n), replace=False)


def train_inverse(data_dir: str | Path, output_dir: str | Path, *, force: bool = False,
                  progress: ProgressFn | None = None,
                  **settings: Any) -> InverseTrainResult:
    """Train on the data set in ``data_dir``; ``settings`` over :data:`INVERSE_TRAIN_PARAMS`.

    ``progress(step, steps, loss)`` is called after each step. Unknown or
    out-of-range settings and an unfinished or foreign data folder raise one
    :class:`~core.errors.ParameterError` line before anything is written.
    """
    torch = require("torch", "train")
    from core.infer.encoding import encode_pixels
    from core.inverse.data import load_dataset
    from core.inverse.model import export_inverse_onnx, write_inverse_manifest
    from core.inverse.nets import InverseNet, inverse_loss
    from core.manifest import Manifest, file_sha256
    from core.train.trainer import deterministic_session

    s = INVERSE_TRAIN_PARAMS.resolve(settings)
    data = load_dataset(data_dir)
    n, height, width = data.images.shape[:3]
    out = Path(output_dir)
    files = {k: out / v for k, v in OUTPUT_FILES.items()}
    data_manifest = Path(data_dir) / "manifest.json"
    config = {"settings": s, "data": {"manifest_sha256": file_sha256(data_manifest), "count": n,
                                      "size": [width, height], "generator": data.generator}}
    manifest = Manifest(out, "inverse-train", config, seed=s["seed"])
    manifest.claim()
    try:
        manifest.refuse_foreign(files.values(), force=force)
    except BaseException:
        manifest.release()
        raise
    manifest.add_input(data_manifest)
    x_all = torch.from_numpy(np.ascontiguousarray(encode_pixels(data.images, s["encoding"]).transpose(0, 3, 1, 2)))
    y_all = tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in data.targets)
    weights = {"continuous": s["continuous_weight"], "spread": s["spread_weight"],
               "categorical": s["categorical_weight"], "boolean": s["boolean_weight"]}
    history: list[dict[str, float]] = []
    t0 = time.perf_counter()
    with deterministic_session("cpu", seed=s["seed"], threads=s["threads"]):
        net = InverseNet(data.space, height=height, width_px=width, width=s["width"])
        opt = torch.optim.Adam(net.parameters(), lr=s["lr"])
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda k: 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(k, s["steps"]) / s["steps"])))
        net.train()
        for step in range(1, s["steps"] + 1):
            idx = torch.from_numpy(_batch_indices(s["seed"], step, n, s["batch_size"]))
            loss, parts = inverse_loss(net(x_all[idx]), tuple(y[idx] for y in y_all), data.space, weights)
            if not torch.isfinite(loss):
                manifest.finish("failed")
                raise ParameterError(f"inverse train: the loss became {float(loss)} at step {step}; lower the lr")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            history.append({"step": step, "loss": float(loss.detach()), **parts})
            if progress is not None:
                progress(step, s["steps"], history[-1]["loss"])
        net.eval()
    seconds = time.perf_counter() - t0
    from core.io.atomic import atomic_path, write_text_atomic

    keys = sorted({k for h in history for k in h} - {"step", "loss"})
    rows = ["step,loss," + ",".join(keys)] + [
        f"{h['step']},{h['loss']:.6g}," + ",".join(f"{h.get(k, float('nan')):.6g}" for k in keys) for h in history]
    write_text_atomic(files["loss_csv"], "\n".join(rows) + "\n", overwrite=True)
    with atomic_path(files["weights"], overwrite=True) as tmp:
        torch.save(net.state_dict(), tmp)
    export_inverse_onnx(net, files["onnx"], height=height, width=width)
    tail = history[-min(20, len(history)):]
    metrics = {"loss": float(np.mean([h["loss"] for h in tail])), "seconds": round(seconds, 3),
               **{k: float(np.mean([h[k] for h in tail if k in h])) for k in keys}}
    from core import __version__

    training = {"tool": "reelkit", "tool_version": __version__, "torch": torch.__version__, "seed": s["seed"],
                "steps": s["steps"], "settings": s, "data": config["data"], "metrics": metrics,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    write_inverse_manifest(files["onnx"], name=s["name"], space=data.space, generator=data.generator, height=height,
                           width=width, encoding=s["encoding"], training=training)
    manifest.set("metrics", metrics)
    manifest.record_outputs(files.values())
    manifest.finish("done")
    return InverseTrainResult(out, files, history, s, metrics)
