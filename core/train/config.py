"""The training configuration: typed, validated sections, JSON in and out.

A config is a JSON-friendly mapping (``config.json`` in the training
folder, or ``reelkit train --config``). Top-level run options
(:data:`RUN_PARAMS`) sit beside sections, each with its own parameter
spec: ``model`` (:mod:`core.train.registry`, chosen by ``type``),
``data`` (:class:`DataConfig`), ``optim`` (:data:`OPTIM_PARAMS`),
``schedule`` (:data:`SCHEDULE_PARAMS`), ``loss`` (:data:`LOSS_PARAMS`) and
``augment`` (:data:`AUGMENT_PARAMS`). ``preset`` names one of
:data:`core.train.presets.TRAIN_PRESETS`, whose values the rest of the
mapping overrides (sections merge key by key; a ``model`` of another
``type`` replaces the preset's whole ``model``)::

    {
      "preset": "spatial_gauge",
      "name": "gauge16", "seed": 0, "steps": 4000, "batch_size": 8, "crop_size": 128,
      "model": {"type": "resnet_small", "channels": 32, "blocks": 4},
      "data": {"pairs": "pipeline/01_dataset_curation/pairs.json", "aligned": "pipeline/02_alignment"},
      "schedule": {"kind": "cosine", "warmup_steps": 200},
      "loss": {"l1": 1.0, "ssim": 0.2}
    }

:meth:`TrainConfig.from_dict` validates everything up front and raises
:class:`~core.errors.ParameterError` naming the key (``optim.lr``,
``model.type``...); unknown keys are refused with the known ones listed.
:meth:`TrainConfig.to_dict` gives the complete, resolved mapping (every
default spelled out), which :meth:`from_dict` reads back unchanged.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from core.errors import ParameterError
from core.formats import FORMATS
from core.params import Param, ParamSet, config_hash
from core.train.registry import ModelConfig, model_config
from core.train.schedule import SCHEDULES

#: Format of a resolved config (``config.json``), ``reelkit.train_config/1`` (:mod:`core.formats`).
FORMAT = FORMATS["reelkit.train_config"]

#: ``device`` values: ``auto`` picks CUDA when torch sees a GPU, else the CPU.
DEVICES = ("auto", "cpu", "cuda")

#: Top-level run options.
RUN_PARAMS = ParamSet("train", [
    Param("name", str, "restore", "model name, written into model.json"),
    Param("version", str, "1", "model version, written into model.json"),
    Param("seed", int, 0, "random seed: weights, crops and augmentation; same seed, same model on the CPU",
          minimum=0, maximum=2**31 - 1),
    Param("device", str, "auto", "where to train: auto (CUDA if available), cpu, cuda", choices=DEVICES),
    Param("steps", int, 2000, "optimiser steps", minimum=1, maximum=10_000_000),
    Param("batch_size", int, 8, "crops per step", minimum=1, maximum=1024),
    Param("crop_size", int, 128, "side of the square training crops (px)", minimum=8, maximum=4096),
    Param("encoding", str, "log2", "transform of scene-linear pixels before the network and its inverse after "
          "(core.infer.encoding; training and inference use the same)"),
    Param("init_from", str, None, "start from these weights instead of random ones: a checkpoint (.pt) of an "
          "earlier run, a state_dict .pt, or the name of a model shipped in models/ (e.g. film_restore)"),
    Param("threads", int, 0, "CPU threads for torch (0 = torch's default)", minimum=0, maximum=1024),
    Param("checkpoint_every", int, 500, "save a resumable checkpoint every N steps (and at the end)",
          minimum=1, maximum=10_000_000),
    Param("keep_checkpoints", int, 3, "how many recent checkpoints to keep", minimum=1, maximum=1000),
    Param("preview_every", int, 500, "write loss.png and contact_sheet.png every N steps (0 = at checkpoints "
          "and the end)", minimum=0, maximum=10_000_000),
    Param("preview_crops", int, 4, "fixed crops shown in the contact sheet and scored in the metrics",
          minimum=1, maximum=64),
])

#: ``optim`` section.
OPTIM_PARAMS = ParamSet("optim", [
    Param("optimizer", str, "adam", "adam or adamw (decoupled weight decay)", choices=("adam", "adamw")),
    Param("lr", float, 2e-4, "peak learning rate", minimum=1e-9, maximum=1.0),
    Param("weight_decay", float, 0.0, "weight decay", minimum=0.0, maximum=1.0),
    Param("beta1", float, 0.9, "Adam beta1", minimum=0.0, maximum=0.9999),
    Param("beta2", float, 0.99, "Adam beta2", minimum=0.0, maximum=0.99999),
    Param("grad_clip", float, 0.0, "clip the gradient norm to this (0 = off)", minimum=0.0, maximum=1e6),
])

#: ``schedule`` section (:func:`core.train.schedule.lr_factor`).
SCHEDULE_PARAMS = ParamSet("schedule", [
    Param("kind", str, "cosine", "learning-rate decay after the warm-up", choices=SCHEDULES),
    Param("warmup_steps", int, 100, "linear warm-up steps", minimum=0, maximum=10_000_000),
    Param("min_lr_ratio", float, 0.01, "cosine: final learning rate as a fraction of the peak",
          minimum=0.0, maximum=1.0),
    Param("step_size", int, 1000, "step: decay every N steps", minimum=1, maximum=10_000_000),
    Param("gamma", float, 0.5, "step: factor per decay", minimum=0.0, maximum=1.0),
])

#: ``loss`` section: weights of the terms (:mod:`core.train.losses`), computed on valid pixels only.
LOSS_PARAMS = ParamSet("loss", [
    Param("l1", float, 1.0, "weight of the mean absolute error", minimum=0.0, maximum=1000.0),
    Param("ssim", float, 0.0, "weight of 1 - SSIM (structure)", minimum=0.0, maximum=1000.0),
    Param("frequency", float, 0.0, "weight of the mean absolute FFT difference (fine detail, grain)",
          minimum=0.0, maximum=1000.0),
])

#: ``augment`` section. Everything is off by default: restoration must not invent.
AUGMENT_PARAMS = ParamSet("augment", [
    Param("hflip", bool, False, "flip crops left-right at random (only for content without a handedness)"),
    Param("vflip", bool, False, "flip crops upside down at random"),
    Param("rot90", bool, False, "rotate crops by a random multiple of 90 degrees"),
    Param("exposure_stops", float, 0.0, "scale input and reference together by 2**u, u uniform in +-this "
          "(scene-linear exposure; 0 = off)", minimum=0.0, maximum=8.0),
])

#: Scalar options of the ``data`` section (:class:`DataConfig` has the file lists too).
DATA_PARAMS = ParamSet("data", [
    Param("pairs", str, None, "pair manifest of stage 1 (pairs.json or its folder)"),
    Param("aligned", str, None, "stage-2 folder with aligned/ and mask/ (needed with pairs; the CLI and the "
          "ReelTrain node default to 02_alignment beside the pair manifest's folder)"),
    Param("cache_frames", int, 8, "decoded frames kept in memory (LRU)", minimum=1, maximum=100_000),
    Param("min_valid", float, 0.5, "resample a crop whose mask is valid on less than this fraction",
          minimum=0.0, maximum=1.0),
])

#: Options of ``data.degrade`` (synthetic pairs from clean frames).
SYNTHETIC_PARAMS = ParamSet("degrade", [
    Param("preset", str, "faded_16mm", "damage preset of core.degrade (or none)"),
    Param("variants", int, 16, "damage draws per clean frame (degrade frame numbers 0..N-1)",
          minimum=1, maximum=1_000_000),
    Param("scene_grade", float, 0.0, "strength of a random global grade (white balance, exposure, "
          "saturation) given to each clean variant before the damage, reference included: teaches that "
          "clean scenes have casts too (0 = off, 1 = up to +-0.5 stop exposure and +-0.3 stop white balance)",
          minimum=0.0, maximum=2.0),
    Param("clean_share", float, 0.0, "share of the variants left undamaged (input = reference, scene grade "
          "included): the clean case as a training case of its own, so the model learns to leave clean frames "
          "alone (0 = every variant damaged)", minimum=0.0, maximum=1.0),
    Param("strength_min", float, 1.0, "each damaged variant's strength is drawn uniformly in strength_min..1: "
          "the damaged frame mixed with its clean frame in linear light (1 = always the look's full strength)",
          minimum=0.0, maximum=1.0),
])


#: Entropy tag of the stream that picks each synthetic variant's preset (``data.degrade.presets``).
PRESET_STREAM = 7_919
#: Entropy tag of the stream that draws each synthetic variant's damage strength (:meth:`SyntheticConfig.strength_for`).
STRENGTH_STREAM = 6_151

#: What a host (the ReelTrain node) asks for: a config file and the options that most often change.
#: Empty / 0 means "from the config file or the preset".
TRAIN_JOB_PARAMS = ParamSet("train_job", [
    Param("config", str, "", "training config (JSON); the knobs below override it", label="Config file"),
    Param("preset", str, "", "training preset (colour_reference, colour_still, spatial_gauge, spatial_generation, "
          "spatial_analog_video); empty: none or the config's", label="Preset"),
    Param("pairs", str, "", "stage-1 pair manifest (pairs.json); empty: the config's data", label="Pairs"),
    Param("init_from", str, "", "start from a checkpoint, a state_dict .pt or a shipped model (film_restore)",
          label="Start from"),
    Param("steps", int, 0, "optimiser steps (0: the config's)", minimum=0, maximum=10_000_000, label="Steps"),
    Param("batch_size", int, 0, "crops per step (0: the config's)", minimum=0, maximum=1024, label="Batch size"),
    Param("crop_size", int, 0, "crop side in px (0: the config's)", minimum=0, maximum=4096, label="Crop size"),
    Param("lr", float, 0.0, "peak learning rate (0: the config's)", minimum=0.0, maximum=1.0, label="Learning rate"),
    Param("device", str, "auto", "where to train: auto (CUDA if available), cpu, cuda", choices=DEVICES,
          label="Device"),
    Param("seed", int, 0, "random seed", minimum=0, maximum=2**31 - 1, label="Seed"),
])


def job_config(values: Mapping[str, Any]) -> dict[str, Any]:
    """The raw config mapping for :data:`TRAIN_JOB_PARAMS` values: the config file, then the set values."""
    import json
    from pathlib import Path

    from core.errors import ImageReadError

    v = TRAIN_JOB_PARAMS.resolve(values)
    raw: dict[str, Any] = {}
    if v["config"]:
        try:
            raw = json.loads(Path(v["config"]).read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise ImageReadError(f"{v['config']}: cannot read the training config ({exc})") from None
        if not isinstance(raw, dict):
            raise ParameterError(f"{v['config']}: a training config is a JSON object")
    for key in ("preset", "init_from", "steps", "batch_size", "crop_size"):
        if v[key]:
            raw[key] = v[key]
    raw["device"], raw["seed"] = v["device"], v["seed"]
    if v["lr"]:
        raw["optim"] = {**(raw.get("optim") or {}), "lr": v["lr"]}
    if v["pairs"]:
        keep = {k: x for k, x in (raw.get("data") or {}).items() if k in ("cache_frames", "min_valid")}
        raw["data"] = {**keep, "pairs": v["pairs"]}
    return raw


def _section(params: ParamSet, raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ParameterError(f"{where}: expected a mapping, got {type(raw).__name__}")
    unknown = sorted(str(k) for k in raw if k not in params)
    if unknown:
        raise ParameterError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(params.params)}")
    try:
        return params.resolve(raw)
    except ParameterError as exc:
        raise ParameterError(f"{where}: {exc}") from None


def _str_list(raw: Any, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        return (raw,)
    if not isinstance(raw, Sequence) or not all(isinstance(v, str) and v for v in raw):
        raise ParameterError(f"{where}: expected a path or a list of paths (strings), got {raw!r}")
    return tuple(raw)


@dataclasses.dataclass(frozen=True)
class OptimConfig:
    optimizer: str = OPTIM_PARAMS["optimizer"].default
    lr: float = OPTIM_PARAMS["lr"].default
    weight_decay: float = OPTIM_PARAMS["weight_decay"].default
    beta1: float = OPTIM_PARAMS["beta1"].default
    beta2: float = OPTIM_PARAMS["beta2"].default
    grad_clip: float = OPTIM_PARAMS["grad_clip"].default


@dataclasses.dataclass(frozen=True)
class ScheduleConfig:
    kind: str = SCHEDULE_PARAMS["kind"].default
    warmup_steps: int = SCHEDULE_PARAMS["warmup_steps"].default
    min_lr_ratio: float = SCHEDULE_PARAMS["min_lr_ratio"].default
    step_size: int = SCHEDULE_PARAMS["step_size"].default
    gamma: float = SCHEDULE_PARAMS["gamma"].default


@dataclasses.dataclass(frozen=True)
class LossConfig:
    l1: float = LOSS_PARAMS["l1"].default
    ssim: float = LOSS_PARAMS["ssim"].default
    frequency: float = LOSS_PARAMS["frequency"].default


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    hflip: bool = False
    vflip: bool = False
    rot90: bool = False
    exposure_stops: float = 0.0

    @property
    def geometric(self) -> bool:
        return self.hflip or self.vflip or self.rot90


@dataclasses.dataclass(frozen=True)
class SyntheticConfig:
    """Synthetic pairs: clean frames degraded on the fly with :func:`core.degrade.degrade_frame`.

    ``preset`` is the damage look of every variant; ``presets`` (a list,
    empty by default) mixes several looks instead: variant ``v`` of every
    clean frame gets :meth:`preset_for` ``(v, seed)``, each look equally
    often (a seeded shuffle of the list per round of ``len(presets)``
    variants), so ``variants`` = 4 x 4 looks gives each clean frame every
    look four times. ``params`` override the presets' effect values;
    ``exclude`` lists effects left out (default ``weave``: a real pipeline
    aligns the reference, so the model must not learn to guess a shift).
    ``scene_grade`` > 0 first gives each variant's clean frame a random
    global grade (:func:`core.train.data.scene_grade`), which the reference
    keeps: the scene is different, the damage is the same.
    ``clean_share`` of the variants stay undamaged and the others get a
    damage strength in ``strength_min``..1 (:meth:`strength_for`): from none
    to the look's full strength, so a model learns how much to undo.
    """

    preset: str = SYNTHETIC_PARAMS["preset"].default
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    exclude: tuple[str, ...] = ("weave",)
    variants: int = SYNTHETIC_PARAMS["variants"].default
    presets: tuple[str, ...] = ()
    scene_grade: float = SYNTHETIC_PARAMS["scene_grade"].default
    clean_share: float = SYNTHETIC_PARAMS["clean_share"].default
    strength_min: float = SYNTHETIC_PARAMS["strength_min"].default

    def strength_for(self, variant: int, seed: int, name: str) -> float:
        """Damage strength of ``variant`` of the clean frame ``name`` under ``seed``: 0 (clean) or in ``strength_min``..1.

        Drawn from ``numpy.random.default_rng([seed, STRENGTH_STREAM, crc32(name), variant])``
        (``u0 < clean_share`` -> 0, else ``strength_min + (1 - strength_min) * u1``):
        a pure function of (seed, name, variant). With the defaults it is always 1.
        """
        if not self.clean_share and self.strength_min >= 1.0:
            return 1.0
        import zlib

        import numpy as np

        u = np.random.default_rng([int(seed), STRENGTH_STREAM, zlib.crc32(name.encode("utf-8")), int(variant)]).random(2)
        if u[0] < self.clean_share:
            return 0.0
        return float(self.strength_min + (1.0 - self.strength_min) * u[1])

    def effects(self) -> tuple[str, ...]:
        """Effect names to apply (all of :data:`core.degrade.EFFECTS` but ``exclude``)."""
        from core.degrade import EFFECTS

        return tuple(e for e in EFFECTS if e not in self.exclude)

    def preset_for(self, variant: int, seed: int) -> str:
        """The damage preset of variant ``variant`` under ``seed`` (``preset`` when ``presets`` is empty).

        Round ``r = variant // len(presets)`` uses the permutation of
        ``presets`` drawn from ``numpy.random.default_rng([seed, PRESET_STREAM, r])``:
        a pure function of (seed, variant), balanced over each round.
        """
        if not self.presets:
            return self.preset
        import numpy as np

        n = len(self.presets)
        order = np.random.default_rng([int(seed), PRESET_STREAM, int(variant) // n]).permutation(n)
        return self.presets[int(order[int(variant) % n])]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"preset": self.preset} if not self.presets else {"presets": list(self.presets)}
        out.update({"params": dict(self.params), "exclude": list(self.exclude), "variants": self.variants})
        # written only when used: configs without them keep their hash
        for key in ("scene_grade", "clean_share"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.strength_min < 1.0:
            out["strength_min"] = self.strength_min
        return out


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where the training pairs come from: exactly one of three sources.

    - ``pairs`` + ``aligned``: the selected pairs of a stage-1 pair
      manifest; degraded frames from its source, references and masks from
      the stage-2 folder (:func:`core.align.files.align_outputs`).
    - ``degraded`` + ``reference`` (+ ``mask``): lists of files or sequence
      patterns, paired in order.
    - ``clean`` (+ ``degrade``): clean frames (files, sequence patterns, or
      ``sample:NAME`` for a shipped photo) degraded on the fly.
    """

    pairs: str | None = None
    aligned: str | None = None
    degraded: tuple[str, ...] = ()
    reference: tuple[str, ...] = ()
    mask: tuple[str, ...] = ()
    clean: tuple[str, ...] = ()
    degrade: SyntheticConfig = dataclasses.field(default_factory=SyntheticConfig)
    cache_frames: int = DATA_PARAMS["cache_frames"].default
    min_valid: float = DATA_PARAMS["min_valid"].default

    @property
    def mode(self) -> str:
        """``"pairs"``, ``"files"`` or ``"synthetic"``."""
        if self.pairs:
            return "pairs"
        return "files" if self.degraded else "synthetic"

    def to_dict(self) -> dict[str, Any]:
        out = {"pairs": self.pairs, "aligned": self.aligned, "degraded": list(self.degraded),
               "reference": list(self.reference), "mask": list(self.mask), "clean": list(self.clean),
               "cache_frames": self.cache_frames, "min_valid": self.min_valid}
        if self.mode == "synthetic":
            out["degrade"] = self.degrade.to_dict()
        return out


_DATA_KEYS = ("pairs", "aligned", "degraded", "reference", "mask", "clean", "degrade", "cache_frames", "min_valid")


def data_config(raw: Any, *, where: str = "data") -> DataConfig:
    """Validate the ``data`` section (see :class:`DataConfig`)."""
    if isinstance(raw, DataConfig):
        return raw
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ParameterError(f"{where}: expected a mapping, got {type(raw).__name__}")
    unknown = sorted(str(k) for k in raw if k not in _DATA_KEYS)
    if unknown:
        raise ParameterError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(_DATA_KEYS)}")
    scalars = _section(DATA_PARAMS, {k: v for k, v in raw.items() if k in DATA_PARAMS}, where)
    lists = {k: _str_list(raw.get(k), f"{where}.{k}") for k in ("degraded", "reference", "mask", "clean")}
    given = [name for name, on in (("pairs", scalars["pairs"]), ("degraded/reference", lists["degraded"]
                                                                or lists["reference"]), ("clean", lists["clean"]))
             if on]
    if len(given) != 1:
        raise ParameterError(f"{where}: give exactly one source of pairs — 'pairs' (a pair manifest), "
                             f"'degraded' + 'reference' (files), or 'clean' (synthetic); got "
                             f"{' and '.join(given) if given else 'none'}")
    if scalars["aligned"] and not scalars["pairs"]:
        raise ParameterError(f"{where}.aligned: only used with {where}.pairs")
    if scalars["pairs"] and not scalars["aligned"]:
        raise ParameterError(f"{where}.aligned: {where}.pairs needs stage 2's folder (what reelkit align wrote: "
                             "aligned/ and mask/)")
    if given[0] == "degraded/reference":
        if not lists["degraded"] or not lists["reference"]:
            raise ParameterError(f"{where}: 'degraded' and 'reference' go together (one entry each per pair)")
        if len(lists["degraded"]) != len(lists["reference"]):
            raise ParameterError(f"{where}: {len(lists['degraded'])} 'degraded' entries for "
                                 f"{len(lists['reference'])} 'reference' entries")
        if lists["mask"] and len(lists["mask"]) != len(lists["degraded"]):
            raise ParameterError(f"{where}.mask: {len(lists['mask'])} entries for {len(lists['degraded'])} pairs "
                                 "(one per pair, or none)")
    elif lists["mask"]:
        raise ParameterError(f"{where}.mask: only used with 'degraded' + 'reference'")
    synthetic = synthetic_config(raw.get("degrade"), where=f"{where}.degrade")
    if "degrade" in raw and given[0] != "clean":
        raise ParameterError(f"{where}.degrade: only used with {where}.clean (synthetic pairs)")
    return DataConfig(pairs=scalars["pairs"], aligned=scalars["aligned"], degrade=synthetic,
                      cache_frames=scalars["cache_frames"], min_valid=scalars["min_valid"], **lists)


def synthetic_config(raw: Any, *, where: str = "data.degrade") -> SyntheticConfig:
    """Validate ``data.degrade`` against :mod:`core.degrade` (presets, effect parameters, effect names).

    ``preset`` (one look) and ``presets`` (a list of looks mixed per variant)
    exclude each other; ``params`` must suit every preset used.
    """
    from core.degrade import EFFECTS, resolve_params

    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ParameterError(f"{where}: expected a mapping, got {type(raw).__name__}")
    known = ("preset", "presets", "params", "exclude", "variants", "scene_grade", "clean_share", "strength_min")
    unknown = sorted(str(k) for k in raw if k not in known)
    if unknown:
        raise ParameterError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(known)}")
    scalars = _section(SYNTHETIC_PARAMS, {k: v for k, v in raw.items() if k in SYNTHETIC_PARAMS}, where)
    presets = _str_list(raw.get("presets"), f"{where}.presets")
    if presets and "preset" in raw:
        raise ParameterError(f"{where}: give 'preset' (one damage look) or 'presets' (a list mixed per "
                             "variant), not both")
    if len(set(presets)) != len(presets):
        raise ParameterError(f"{where}.presets: {list(presets)} names a preset twice")
    params = raw.get("params") or {}
    if not isinstance(params, Mapping):
        raise ParameterError(f"{where}.params: expected a mapping of core.degrade parameters")
    for name in presets or (scalars["preset"],):
        try:
            resolve_params(name, params)
        except ParameterError as exc:
            raise ParameterError(f"{where}{'.presets' if presets else ''}: {exc}") from None
    exclude = _str_list(raw.get("exclude", ["weave"]), f"{where}.exclude")
    bad = [e for e in exclude if e not in EFFECTS]
    if bad:
        raise ParameterError(f"{where}.exclude: unknown effect(s) {', '.join(bad)}; known: {', '.join(EFFECTS)}")
    return SyntheticConfig(preset=scalars["preset"], params=dict(params), exclude=exclude,
                           variants=scalars["variants"], presets=presets, scene_grade=scalars["scene_grade"],
                           clean_share=scalars["clean_share"], strength_min=scalars["strength_min"])


def check_encoding(name: str, *, where: str = "encoding") -> str:
    """Validate an encoding name against :mod:`core.infer.encoding` (the one inference uses)."""
    from core.infer.encoding import ENCODINGS

    if not isinstance(name, str) or name not in ENCODINGS:
        raise ParameterError(f"{where}: unknown encoding {name!r}; known: {', '.join(ENCODINGS)}")
    return name


_SECTIONS = ("model", "data", "optim", "schedule", "loss", "augment")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """A complete, validated training configuration (see the module docstring)."""

    model: ModelConfig
    data: DataConfig
    name: str = RUN_PARAMS["name"].default
    version: str = RUN_PARAMS["version"].default
    seed: int = RUN_PARAMS["seed"].default
    device: str = RUN_PARAMS["device"].default
    steps: int = RUN_PARAMS["steps"].default
    batch_size: int = RUN_PARAMS["batch_size"].default
    crop_size: int = RUN_PARAMS["crop_size"].default
    encoding: str = RUN_PARAMS["encoding"].default
    init_from: str | None = None
    threads: int = RUN_PARAMS["threads"].default
    checkpoint_every: int = RUN_PARAMS["checkpoint_every"].default
    keep_checkpoints: int = RUN_PARAMS["keep_checkpoints"].default
    preview_every: int = RUN_PARAMS["preview_every"].default
    preview_crops: int = RUN_PARAMS["preview_crops"].default
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    schedule: ScheduleConfig = dataclasses.field(default_factory=ScheduleConfig)
    loss: LossConfig = dataclasses.field(default_factory=LossConfig)
    augment: AugmentConfig = dataclasses.field(default_factory=AugmentConfig)
    preset: str | None = None

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "TrainConfig":
        """Validate a config mapping (``preset`` values first, then the mapping's own)."""
        from core.train.presets import TRAIN_PRESETS

        if isinstance(raw, TrainConfig):
            return raw
        if not isinstance(raw, Mapping):
            raise ParameterError(f"training config: expected a mapping, got {type(raw).__name__}")
        raw = dict(raw)
        if "format" in raw:  # optional: a config without one is read as the current version
            raw = dict(FORMAT.read(raw, where="training config"))
            del raw["format"]
        preset = raw.pop("preset", None)
        if preset is not None:
            if preset not in TRAIN_PRESETS:
                raise ParameterError(f"preset: unknown training preset {preset!r}; known: "
                                     f"{', '.join(TRAIN_PRESETS)}")
            raw = merge(TRAIN_PRESETS[preset]["config"], raw)
        known = ("format", "preset", *RUN_PARAMS.params, *_SECTIONS)
        unknown = sorted(str(k) for k in raw if k not in known)
        if unknown:
            raise ParameterError(f"training config: unknown key(s) {', '.join(unknown)}; known: {', '.join(known)}")
        raw = _from_shipped(raw)
        if "model" not in raw:
            raise ParameterError("model: required (a mapping with a 'type' key), unless init_from names a "
                                 "shipped model")
        run = _section(RUN_PARAMS, {k: v for k, v in raw.items() if k in RUN_PARAMS}, "training config")
        check_encoding(run["encoding"])
        model = model_config(raw["model"])
        if run["crop_size"] % model.multiple_of:
            raise ParameterError(f"crop_size: {run['crop_size']} is not a multiple of {model.multiple_of}, "
                                 f"which model type {model.type!r} needs")
        cfg = cls(
            model=model, data=data_config(raw.get("data")), preset=preset, **run,
            optim=OptimConfig(**_section(OPTIM_PARAMS, raw.get("optim"), "optim")),
            schedule=ScheduleConfig(**_section(SCHEDULE_PARAMS, raw.get("schedule"), "schedule")),
            loss=LossConfig(**_section(LOSS_PARAMS, raw.get("loss"), "loss")),
            augment=AugmentConfig(**_section(AUGMENT_PARAMS, raw.get("augment"), "augment")),
        )
        if cfg.loss.l1 + cfg.loss.ssim + cfg.loss.frequency <= 0:
            raise ParameterError("loss: every weight is 0 (l1, ssim, frequency): nothing to learn from")
        if cfg.loss.ssim > 0 and cfg.crop_size < 16:
            raise ParameterError(f"crop_size: {cfg.crop_size} is too small for the SSIM loss (at least 16)")
        return cfg

    def to_dict(self) -> dict[str, Any]:
        """The complete resolved mapping (JSON-friendly); :meth:`from_dict` reads it back unchanged."""
        out: dict[str, Any] = {"format": FORMAT.tag, "preset": self.preset}
        out.update({k: getattr(self, k) for k in RUN_PARAMS.params})
        out["model"] = self.model.to_dict()
        out["data"] = self.data.to_dict()
        for name in ("optim", "schedule", "loss", "augment"):
            out[name] = dataclasses.asdict(getattr(self, name))
        return out

    def training_hash(self) -> str:
        """sha256 of what determines the trained weights (checkpoints resume only under the same hash).

        Leaves out what only names, exports or reports: ``name``, ``version``,
        ``checkpoint_every``, ``keep_checkpoints``, ``preview_every``, ``preview_crops``.
        """
        d = self.to_dict()
        for key in ("name", "version", "checkpoint_every", "keep_checkpoints", "preview_every", "preview_crops"):
            d.pop(key)
        return config_hash(d)


def _from_shipped(raw: dict[str, Any]) -> dict[str, Any]:
    """With ``init_from`` naming a shipped model, its architecture and encoding fill in ``model`` and
    ``encoding`` when the config leaves them out (fine-tuning must keep both)."""
    name = raw.get("init_from")
    if not isinstance(name, str) or not name or "model" in raw and "encoding" in raw:
        return raw
    from pathlib import Path

    if Path(name).suffix or Path(name).exists():
        return raw
    from core.infer.model import ModelError
    from core.infer.shipped import shipped_entry

    try:
        entry = shipped_entry(name)
    except ModelError as exc:
        raise ParameterError(f"init_from: {exc}") from None
    training = entry.get("training") or {}
    out = dict(raw)
    if "model" not in out and isinstance(training.get("architecture"), Mapping):
        out["model"] = dict(training["architecture"])
    if "encoding" not in out and isinstance(entry.get("input"), Mapping):
        out["encoding"] = entry["input"].get("encoding", RUN_PARAMS["encoding"].default)
    return out


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``: sections (mappings) merge key by key, other values replace.

    A ``model`` whose ``type`` differs from the base's replaces the base's
    ``model`` entirely (one family's options mean nothing to another).
    """
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        old = out.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            if key == "model" and "type" in value and value.get("type") != old.get("type"):
                out[key] = copy.deepcopy(dict(value))
            else:
                out[key] = merge(old, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_config(path) -> TrainConfig:
    """Read and validate a JSON training config file."""
    from core.io.jsonfile import read_json_object

    return TrainConfig.from_dict(read_json_object(path, "training config"))
