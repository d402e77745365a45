"""The training loop: :func:`train` writes a ``03_training``-style folder.

Files written into ``output_dir``:

- ``config.json``: the complete resolved config (:meth:`TrainConfig.to_dict`);
- ``checkpoints/step_NNNNNNNN.pt``: every ``checkpoint_every`` steps and at
  the end, the last ``keep_checkpoints`` kept — weights, optimiser,
  scheduler, torch RNG state and the loss history
  (:data:`CHECKPOINT_FORMAT`);
- ``loss.csv`` (one row per step, rewritten every few seconds and at each
  checkpoint), ``loss.png`` and ``contact_sheet.png`` (input / prediction /
  reference on fixed crops), refreshed while training
  (:mod:`core.train.report`);
- ``model.onnx`` + ``model.json`` (:mod:`core.train.export`);
- ``manifest.json``: the run (``reelkit.manifest/1``: inputs with sha256,
  config hash, seed, timings, metrics, outputs).

Determinism: crops are a pure function of (seed, step)
(:meth:`PairDataset.batch`), weights start from ``torch.manual_seed(seed)``
and ``torch.use_deterministic_algorithms`` is on while training (the
caller's torch RNG and settings are restored afterwards). On the CPU, two
runs with the same config and torch build give bit-identical weights, and
a run resumed from a checkpoint ends bit-identical to one never
interrupted. On CUDA the same settings are asked for, but some kernels
only warn that they are not deterministic.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import OutputExistsError, ParameterError, ReelkitError, require
from core.formats import FORMATS
from core.jobs import ProgressFn
from core.train.config import TrainConfig
from core.train.data import Batch, PairDataset
from core.train.schedule import lr_factor

log = logging.getLogger(__name__)

#: ``loss.csv`` is rewritten at least this often (seconds) while training, for live monitoring.
LOSS_CSV_SECONDS = 2.0
#: Format of checkpoints, ``reelkit.train_checkpoint/1`` (:mod:`core.formats`).
CHECKPOINT_FORMAT = FORMATS["reelkit.train_checkpoint"]
CHECKPOINT_DIR = "checkpoints"
#: Output file names.
OUTPUT_FILES = {"config": "config.json", "loss_csv": "loss.csv", "loss_png": "loss.png",
                "contact_sheet": "contact_sheet.png", "onnx": "model.onnx", "weights": "model.pt", "model_manifest": "model.json",
                "manifest": "manifest.json"}


class TrainingError(ReelkitError, RuntimeError):
    """Training cannot go on: the loss became NaN/Inf, or a checkpoint cannot be used."""


@dataclasses.dataclass(frozen=True)
class TrainProgress:
    """What the progress callback gets after each step.

    ``eta_s`` extrapolates the seconds per step of this session (``None``
    before the first step is done); ``resumed_from`` is the checkpoint's
    step (0 for a fresh run).
    """

    step: int
    steps: int
    loss: float
    lr: float
    elapsed_s: float
    eta_s: float | None
    resumed_from: int

    def __str__(self) -> str:
        eta = "?" if self.eta_s is None else _hms(self.eta_s)
        return f"step {self.step}/{self.steps} loss {self.loss:.4g} lr {self.lr:.2e} ETA {eta}"


@dataclasses.dataclass
class TrainResult:
    """What :func:`train` did and where it wrote it."""

    output_dir: Path
    config: TrainConfig
    device: str
    steps: int
    resumed_from: int
    history: list[dict[str, Any]]
    metrics: dict[str, Any]
    files: dict[str, Path]
    checkpoint: Path

    @property
    def final_loss(self) -> float:
        return float(self.history[-1]["loss"]) if self.history else float("nan")


def _hms(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def resolve_device(name: str) -> str:
    """``"auto"`` -> ``"cuda"`` when torch sees a GPU, else ``"cpu"``; ``"cuda"`` without one raises."""
    torch = require("torch", "train")
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ParameterError(f"device: cuda was asked for but torch {torch.__version__} sees no GPU")
    if name not in ("cpu", "cuda"):
        raise ParameterError(f"device: expected auto, cpu or cuda, got {name!r}")
    return name


@contextlib.contextmanager
def deterministic_session(device: str, *, seed: int, threads: int = 0):
    """Seed torch, switch deterministic algorithms on, and restore the caller's state afterwards."""
    import torch

    saved = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
             torch.get_num_threads(), torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    devices = [torch.cuda.current_device()] if device == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        try:
            torch.use_deterministic_algorithms(True, warn_only=device == "cuda")
            torch.backends.cudnn.deterministic = True
            torch.backends.cudnn.benchmark = False
            if threads:
                torch.set_num_threads(threads)
            torch.manual_seed(seed)
            yield
        finally:
            torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
            torch.set_num_threads(saved[2])
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved[3], saved[4]


def build_model(config: TrainConfig):
    """The config's network with its initial weights (from ``torch.manual_seed(config.seed)``; caller's RNG kept)."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return config.model.build()


def make_optimizer(model, config: TrainConfig):
    """``(optimizer, scheduler)`` for ``model`` (Adam/AdamW, warm-up + decay through ``LambdaLR``)."""
    import torch

    o, s = config.optim, config.schedule
    cls = torch.optim.AdamW if o.optimizer == "adamw" else torch.optim.Adam
    opt = cls(model.parameters(), lr=o.lr, betas=(o.beta1, o.beta2), weight_decay=o.weight_decay)
    factor = functools.partial(lr_factor, kind=s.kind, steps=config.steps, warmup_steps=s.warmup_steps,
                               min_lr_ratio=s.min_lr_ratio, step_size=s.step_size, gamma=s.gamma)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)


def checkpoint_path(output_dir: str | Path, step: int) -> Path:
    return Path(output_dir) / CHECKPOINT_DIR / f"step_{step:08d}.pt"


def _checkpoint_steps(cfg) -> list[int]:
    """The steps a whole run saves a checkpoint at: every ``checkpoint_every`` and the last."""
    return sorted({*range(cfg.checkpoint_every, cfg.steps + 1, cfg.checkpoint_every), cfg.steps})


def training_outputs(config: TrainConfig | Mapping[str, Any], output_dir: str | Path) -> list[Path]:
    """Every file :func:`train` leaves in ``output_dir`` after a whole run of ``config`` (the files of
    :data:`OUTPUT_FILES` and the last ``keep_checkpoints`` checkpoints); a run stopped and resumed also keeps
    the checkpoint it stopped at while it is among the newest."""
    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    out = Path(output_dir)
    return [out / name for name in OUTPUT_FILES.values()] + [
        checkpoint_path(out, s) for s in _checkpoint_steps(cfg)[-cfg.keep_checkpoints:]]


def list_checkpoints(output_dir: str | Path) -> list[tuple[int, Path]]:
    """``(step, path)`` of the checkpoints in ``output_dir/checkpoints``, oldest first."""
    folder = Path(output_dir) / CHECKPOINT_DIR
    found = []
    if folder.is_dir():
        for p in folder.glob("step_*.pt"):
            digits = p.stem[len("step_"):]
            if digits.isdigit():
                found.append((int(digits), p))
    return sorted(found)


def load_checkpoint(path: str | Path, *, device: str = "cpu") -> dict[str, Any]:
    """Read a checkpoint (tensors only, no code: ``weights_only``); a foreign file raises :class:`TrainingError`."""
    import torch

    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises many kinds for truncated or foreign files
        raise TrainingError(f"{path}: cannot read checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict) or "format" not in state:
        raise TrainingError(f"{path}: not a reelkit training checkpoint ({CHECKPOINT_FORMAT.tag})")
    return CHECKPOINT_FORMAT.read(state, where=str(path))


def initial_weights(init_from: str, *, device: str = "cpu") -> tuple[dict[str, Any], dict[str, str]]:
    """The ``state_dict`` that ``init_from`` names, and a record of it (``source``, ``path``, ``sha256``).

    ``init_from``: a reelkit checkpoint (its ``model`` weights), a plain
    ``state_dict`` ``.pt`` file, or the name of a model shipped in
    ``models/`` with torch weights (:func:`core.infer.shipped.shipped_weights`,
    sha256 checked). Files are read with ``torch.load(weights_only=True)``
    (tensors only, no code). Raises :class:`~core.errors.ParameterError` for a
    name that is neither, :class:`TrainingError` for a file that holds no weights.
    """
    import torch

    from core.infer.model import ModelError
    from core.manifest import file_sha256

    path = Path(init_from)
    if path.is_file():
        source, digest = "file", file_sha256(path)
    elif path.suffix or len(path.parts) > 1:
        raise ParameterError(f"init_from: {init_from}: no such file")
    else:
        from core.infer.shipped import shipped_weights

        try:
            path, digest = shipped_weights(init_from)
        except ModelError as exc:
            raise ParameterError(f"init_from: {exc}") from None
        source = "shipped"
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises many kinds for truncated or foreign files
        raise TrainingError(f"init_from: {path}: cannot read weights ({type(exc).__name__}: {exc})") from None
    if isinstance(state, dict) and "format" in state:
        state = CHECKPOINT_FORMAT.read(state, where=f"init_from: {path}")["model"]
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise TrainingError(f"init_from: {path}: neither a reelkit checkpoint nor a state_dict of tensors")
    return state, {"source": source, "name": str(init_from), "path": str(path), "sha256": digest}


#: Layers of a gated network (``model.gate``) that weights of the same network without a gate lack.
GATE_LAYERS = ("mask.", "context.confidence.")


def _load_initial(model, cfg: TrainConfig, device: str) -> dict[str, Any]:
    state, record = initial_weights(cfg.init_from, device=device)
    # weights of the same network without a gate: the gate's layers start as a new gated network's do
    own = model.state_dict()
    fresh = [k for k in own if k not in state and k.startswith(GATE_LAYERS)]
    if fresh:
        record["fresh_layers"] = fresh
    try:
        model.load_state_dict({**{k: own[k] for k in fresh}, **state})
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[:3]
        raise TrainingError(f"init_from: {record['path']} does not fit model {cfg.model.to_dict()} "
                            f"({' '.join(first)}); give the model section of the run that made it") from None
    return record


def _run_hash(config: TrainConfig, spaces: Mapping[str, str | None], world_size: int = 1) -> str:
    """What a checkpoint must match to be resumed: the training config, the data's stated colour spaces and,
    with several processes, their number (each draws its own crops)."""
    stated = {k: v for k, v in spaces.items() if v is not None}
    if world_size > 1:
        stated["world_size"] = world_size
    if not stated:  # nothing stated: the config's own hash, so earlier checkpoints resume
        return config.training_hash()
    from core.params import config_hash

    return config_hash({"training": config.training_hash(), **stated})


def _resume_state(config: TrainConfig, output_dir: Path, device: str, run_hash: str) -> dict[str, Any] | None:
    """The newest readable checkpoint of this run (``run_hash``: :func:`_run_hash`), or ``None``; another's raise."""
    for step, path in reversed(list_checkpoints(output_dir)):
        try:
            state = load_checkpoint(path, device=device)
        except TrainingError as exc:
            log.warning("%s; trying an older checkpoint", exc)
            continue
        if state.get("training_hash") != run_hash:
            raise OutputExistsError(f"{path}: a checkpoint of another training config; train with resume=False "
                                    "to start over (its checkpoints are removed) or choose another output folder")
        return state
    return None


def _save_checkpoint(output_dir: Path, step: int, config: TrainConfig, model, opt, sched,
                     history: list[dict[str, Any]], keep: int, run_hash: str) -> Path:
    import torch

    from core.io.atomic import write_bytes_atomic

    state = {
        "format": CHECKPOINT_FORMAT.tag, "step": step, "training_hash": run_hash,
        "config": config.to_dict(), "torch": str(torch.__version__),
        "model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
        "rng": {"torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []},
        "history": history,
    }
    path = checkpoint_path(output_dir, step)
    write_bytes_atomic(path, torch_bytes(state), overwrite=True)
    for _, old in list_checkpoints(output_dir)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def save_weights(model, path: str | Path) -> Path:
    """Write the model's ``state_dict`` (CPU tensors only: ``torch.load(weights_only=True)`` reads it), atomically;
    the same model gives the same bytes (:func:`torch_bytes`)."""
    from core.io.atomic import write_bytes_atomic

    state = {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()}
    return write_bytes_atomic(path, torch_bytes(state), overwrite=True)


def torch_bytes(obj) -> bytes:
    """``torch.save(obj)`` as bytes, the same on every run: saved to a file, torch names the archive's
    root folder after the file, and an atomic write's temporary name is random."""
    import io

    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _to_device(batch: Batch, device: str):
    """``(input, reference, mask, context or None)`` as tensors on ``device``."""
    import torch

    arrays = (batch.input, batch.reference, batch.mask, batch.context)
    return tuple(None if a is None else torch.from_numpy(a).to(device) for a in arrays)


def forward(model, x, context=None):
    """Run ``model`` on ``x`` (and the frame's ``context`` when the network takes one)."""
    return model(x) if context is None else model(x, context)


def _masked_l1(a, b, m) -> float:
    valid = m.expand_as(a) > 0
    return float((a - b).abs()[valid].mean()) if bool(valid.any()) else float("nan")


def _preview(model, preview: Batch, config: TrainConfig, device: str) -> tuple[np.ndarray, dict[str, float]]:
    """Contact sheet image and metrics of the fixed preview crops."""
    import torch

    from core.infer.encoding import decode_pixels
    from core.train.report import contact_sheet_image

    x, y, m, ctx = _to_device(preview, device)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        pred = forward(model, x, ctx)
    model.train(was_training)
    l1_model, l1_input = _masked_l1(pred, y, m), _masked_l1(x, y, m)
    metrics = {"preview_l1": l1_model, "preview_l1_input": l1_input,
               "preview_improvement": 1.0 - l1_model / l1_input if l1_input > 0 else float("nan")}
    out = pred.detach().to("cpu").numpy().transpose(0, 2, 3, 1)
    rows = [(c.input, decode_pixels(np.ascontiguousarray(p), config.encoding), c.reference)
            for c, p in zip(preview.crops, out)]
    return contact_sheet_image(rows), metrics


def train(config: TrainConfig | Mapping[str, Any], *, output_dir: str | Path, resume: bool = True,
          progress: ProgressFn | None = None, input_colorspace: str | None = None,
          reference_colorspace: str | None = None) -> TrainResult:
    """Train an image-to-image network on degraded -> reference pairs; see the module for the files.

    Parameters
    ----------
    config:
        A :class:`~core.train.config.TrainConfig` or a mapping for
        :meth:`TrainConfig.from_dict` (validated before anything is read).
    output_dir:
        The training folder (created).
    resume:
        Continue from the newest checkpoint of the same training config
        (a finished run is only re-exported). Checkpoints of another config
        raise :class:`~core.errors.OutputExistsError`. ``False`` removes
        existing checkpoints and starts over.
    progress:
        ``progress(step, steps, info)`` after each step, ``info`` a
        :class:`TrainProgress` (loss, learning rate, ETA). Raising from it
        stops training: that step is checkpointed for a resume (which ends
        as an uninterrupted run would) and the manifest says ``stopped``.
    input_colorspace, reference_colorspace:
        The colour space of file pairs' degraded / reference files
        (``data.degraded`` / ``data.reference``), OCIO or reelkit names
        (``None`` / ``"auto"``: :mod:`core.io`'s rules; a pair manifest's
        source is read as ``pairs.json`` says). Recorded in the manifest's
        ``colorspaces`` (and its config, when set); a checkpoint resumes only
        with the same ones.

    Raises :class:`~core.errors.ParameterError` for a bad config,
    :class:`~core.errors.ImageReadError` / :class:`~core.errors.SequenceError`
    for missing data, :class:`~core.errors.ImageError` for unusable pixels,
    :class:`~core.errors.MissingDependencyError` without torch (the
    ``train`` extra), :class:`TrainingError` when the loss diverges.

    Under ``torchrun --nproc_per_node N`` the processes train one model
    with DistributedDataParallel (:mod:`core.train.distributed`): each rank
    draws its own ``batch_size`` crops per step, rank 0 writes every file,
    and the manifest's ``distributed`` entry records the world size and
    that the ranks ended with equal weights.
    """
    from core.io import colorspace_option
    from core.train import distributed

    cfg = TrainConfig.from_dict(config)
    spaces = {"input_colorspace": colorspace_option(input_colorspace, name="input_colorspace"),
              "reference_colorspace": colorspace_option(reference_colorspace, name="reference_colorspace")}
    require("torch", "train")

    out = Path(output_dir)
    device = resolve_device(cfg.device)
    ranks = distributed.join(device)
    try:
        return _train(cfg, spaces, out, device, ranks, resume=resume, progress=progress)
    finally:
        distributed.leave(ranks)


def _train(cfg: TrainConfig, spaces: dict[str, str | None], out: Path, device: str, ranks, *, resume: bool,
           progress: ProgressFn | None) -> TrainResult:
    """:func:`train` in one process of ``ranks`` (:mod:`core.train.distributed`): rank 0 writes every file."""
    import torch

    from core.io.atomic import remove_stale_temps, write_text_atomic
    from core.manifest import Manifest, file_sha256, refuse_escapes
    from core.train import distributed
    from core.train.export import export_onnx, write_model_json
    from core.train.losses import compute_loss
    from core.train.report import loss_plot, write_loss_csv, write_png

    main = ranks.main
    dataset = PairDataset.from_config(cfg.data, crop_size=cfg.crop_size, encoding=cfg.encoding,
                                      augment=cfg.augment, seed=cfg.seed, context_size=cfg.model.context,
                                      context_detail=cfg.model.context_detail, **spaces)
    run_hash = _run_hash(cfg, spaces, ranks.world_size)
    files = {k: out / v for k, v in OUTPUT_FILES.items()}
    manifest = Manifest(out, "train", {"config": cfg.to_dict(), **{k: v for k, v in spaces.items() if v is not None}},
                        seed=cfg.seed)
    manifest.set("colorspaces", {"input": spaces["input_colorspace"] or "auto",
                                 "reference": spaces["reference_colorspace"] or "auto"})
    if ranks.active:
        manifest.set("distributed", {**ranks.record(), "batch_size_per_rank": cfg.batch_size,
                                     "batch_size": cfg.batch_size * ranks.world_size})
    data_hashes: dict[str, str] = {}
    state = failed = None
    if main:  # rank 0 alone checks and claims the folder; the others wait for it to say it may go on
        try:
            # a model or loss table this folder's training did not make is never replaced (resume=False is --force)
            manifest.refuse_foreign([p for k, p in files.items() if k != "manifest"], force=not resume)
            refuse_escapes(out, [checkpoint_path(out, 0)])  # checkpoints/ is no link to elsewhere either
            manifest.declare_outputs(p for k, p in files.items() if k != "manifest")  # saved before any is written
            out.mkdir(parents=True, exist_ok=True)
            state = _resume_state(cfg, out, device, run_hash) if resume else None
            if not resume:
                for _, old in list_checkpoints(out):
                    old.unlink()
            data_hashes = {f: file_sha256(f) for f in dataset.input_files()}
            for f, digest in data_hashes.items():
                manifest.add_input(f, digest)
            manifest.set("data", dataset.description)
            manifest.set("device", device)
            manifest.set("torch", torch.__version__)
            manifest.save()  # holds the output's lock from here: temporary files a killed run left can go
            remove_stale_temps([manifest.path, *files.values(),
                                *(checkpoint_path(out, s) for s in _checkpoint_steps(cfg))])
            write_text_atomic(files["config"], json.dumps(cfg.to_dict(), indent=2) + "\n", overwrite=True)
        except BaseException as exc:
            failed = exc
    if not distributed.all_ok(ranks, failed is None, device):
        if failed is not None:
            raise failed
        raise distributed.DistributedError(f"rank {ranks.rank}: rank 0 could not start the training in {out} "
                                           "(its message says why)")
    if not main and resume:  # the checkpoint rank 0 resumes from (read once it has cleared the folder)
        state = _resume_state(cfg, out, device, run_hash)
    t_start = time.perf_counter()
    stopped = False
    try:
        from core.threads import fixed_threads

        with deterministic_session(device, seed=cfg.seed, threads=fixed_threads(cfg.threads)):
            model = cfg.model.build().to(device)
            if ranks.active:  # the same weights on every rank (one seed); each rank's own stream afterwards
                torch.manual_seed(distributed.rank_seed(cfg.seed, ranks.rank))
            opt, sched = make_optimizer(model, cfg)
            history: list[dict[str, Any]] = []
            start = 0
            if state is not None:
                model.load_state_dict(state["model"])
                opt.load_state_dict(state["optimizer"])
                sched.load_state_dict(state["scheduler"])
                torch.set_rng_state(state["rng"]["torch"].cpu())
                if device == "cuda" and state["rng"]["cuda"]:
                    torch.cuda.set_rng_state_all([s.cpu() for s in state["rng"]["cuda"]])
                history = list(state["history"])
                start = int(state["step"])
            elif cfg.init_from:
                init = _load_initial(model, cfg, device)
                manifest.add_input(init["path"], init["sha256"])
                manifest.set("init_from", init)
            manifest.set("resumed_from", start)
            net = model
            if ranks.active:  # gradients averaged over the ranks
                from torch.nn.parallel import DistributedDataParallel

                net = DistributedDataParallel(model, device_ids=[torch.cuda.current_device()] if device == "cuda"
                                              else None)
            preview = dataset.preview(cfg.preview_crops) if main else None
            ckpt = checkpoint_path(out, start) if start else None
            model.train()
            t_loop = time.perf_counter()
            csv_written = time.monotonic()
            for step in range(start + 1, cfg.steps + 1):
                x, y, m, ctx = _to_device(distributed.rank_batch(dataset, step, cfg.batch_size, ranks.rank), device)
                loss, parts = compute_loss(forward(net, x, ctx), y, m, cfg.loss)
                value, *means = distributed.mean_over_ranks(ranks, [float(loss.detach()), *parts.values()], device)
                parts = dict(zip(parts, means))
                if not math.isfinite(value):
                    raise TrainingError(f"step {step}: the loss is {value}; lower optim.lr (now {cfg.optim.lr}) or "
                                        "check the data for extreme values")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.optim.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
                lr = float(opt.param_groups[0]["lr"])
                opt.step()
                sched.step()
                history.append({"step": step, "loss": value, **parts, "lr": lr})
                if not main:
                    continue
                at_checkpoint = step % cfg.checkpoint_every == 0 or step == cfg.steps
                if at_checkpoint:
                    ckpt = _save_checkpoint(out, step, cfg, model, opt, sched, history, cfg.keep_checkpoints, run_hash)
                if at_checkpoint or time.monotonic() - csv_written > LOSS_CSV_SECONDS:
                    write_loss_csv(files["loss_csv"], history)  # what the training monitor plots
                    csv_written = time.monotonic()
                if (step % cfg.preview_every == 0) if cfg.preview_every else at_checkpoint:
                    write_png(files["loss_png"], loss_plot(history, title=f"{cfg.name}: training loss"))
                    write_png(files["contact_sheet"], _preview(model, preview, cfg, device)[0])
                if progress is not None:
                    elapsed = time.perf_counter() - t_loop
                    done = step - start
                    eta = elapsed / done * (cfg.steps - step)
                    try:
                        progress(step, cfg.steps, TrainProgress(step, cfg.steps, value, lr, elapsed, eta, start))
                    except BaseException:  # a stop asked by the caller: keep this step for the resume
                        stopped = True
                        if not at_checkpoint:
                            _save_checkpoint(out, step, cfg, model, opt, sched, history, cfg.keep_checkpoints, run_hash)
                            write_loss_csv(files["loss_csv"], history)
                        raise
            loop_s = time.perf_counter() - t_loop
            difference = distributed.weights_difference(ranks, model, device)
            sheet, preview_metrics = _preview(model, preview, cfg, device) if main else (None, {})
        losses = [h["loss"] for h in history]
        metrics = {"loss_first": float(np.mean(losses[:10])), "loss_last": float(np.mean(losses[-10:])),
                   **preview_metrics, "steps": cfg.steps, "resumed_from": start,
                   "seconds": round(time.perf_counter() - t_start, 3)}
        if not main:
            return TrainResult(out, cfg, device, cfg.steps, start, history, metrics, files, ckpt)
        manifest.data["timings"]["loop_seconds"] = round(loop_s, 3)  # the optimiser steps alone (benchmarks)
        if ranks.active:
            manifest.data["distributed"]["max_weight_difference"] = difference
        write_loss_csv(files["loss_csv"], history)
        write_png(files["loss_png"], loss_plot(history, title=f"{cfg.name}: training loss"))
        write_png(files["contact_sheet"], sheet)
        export_onnx(model, files["onnx"], multiple_of=cfg.model.multiple_of, context=cfg.model.context,
                    context_detail=cfg.model.context_detail)
        save_weights(model, files["weights"])
        write_model_json(cfg, files["onnx"], data=data_hashes, metrics=metrics, steps=cfg.steps,
                         weights=files["weights"])
    except BaseException:
        if main:
            manifest.finish("stopped" if stopped else "failed")
        raise
    manifest.set("metrics", metrics)
    manifest.set("outputs", {k: p.name for k, p in files.items() if k != "manifest"}
                 | {"checkpoint": str(ckpt.relative_to(out))})
    manifest.record_outputs(p for k, p in files.items() if k != "manifest")
    manifest.finish("done")
    return TrainResult(out, cfg, device, cfg.steps, start, history, metrics, files, ckpt)
