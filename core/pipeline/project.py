"""A restoration project: the five stages in one folder, run in order, resumed, and checked for staleness.

A project folder (``reelkit restore init``)::

    PROJECT/
      project.json                    reelkit.project/1: inputs, seed, every stage's parameters
      pipeline/01_dataset_curation/   stage 1: pairs.json (frame matching, training pairs)
      pipeline/02_alignment/          stage 2: aligned/ref.####.exr, mask/mask.####.exr (by source frame)
      pipeline/03_training/           stage 3: checkpoints, loss curves, model.onnx + model.json
      pipeline/04_inference_render/   stage 4: restored.####.exr, the whole source restored
      pipeline/05_validation/         stage 5: baselines, metrics, report.html
      notes/experiments.md            appended by every stage: parameters, seeds, results

``project.json`` (:data:`FORMAT`) holds the ``source`` (the degraded scan)
and ``reference`` (another transfer of the same film: DVD, telecine,
print), both image sequences (absolute patterns), ``colorspaces``: the
colour space each is read in (``source`` / ``reference``: an OCIO or
reelkit name, or ``auto`` for :mod:`core.io`'s header / file-type rule;
every stage reads that input so), the project ``seed`` and
one mapping of parameters per stage under ``stages``: ``curation``
(:data:`core.pipeline.PAIRS_PARAMS`), ``alignment``
(:data:`core.align.ALIGN_FILE_PARAMS`), ``training`` (a training config,
:mod:`core.train.config`, merged over the project's data, seed and
``init_from``), ``inference`` (:data:`core.infer.files.INFER_PARAMS`, plus
``method``: what stage 4 renders, ``ml`` — the model, the default — or a
baseline name or ``source``, rendered by :func:`core.validate.render_method`;
:func:`set_render_method` sets it, ``winner`` taking stage 5's
recommendation) and ``validation`` (:data:`core.validate.params.VALIDATE_PARAMS`,
less the seed: the project's).
Edit it by hand; :func:`project_status` notices.

Each stage records itself in ``stage.json`` in its folder (:data:`STAGE_FORMAT`):
``status`` (``running``/``done``/``failed``), the hash of its parameters,
the digest of what it was run on (stage 1: the input files' names, sizes
and times; later stages: the previous stage's outputs), the digest of its
own outputs, counts, timings and the error of a failed run; the rules that judge and
resume it are :mod:`core.stages`' (those of the dataset builder's stages too).
:func:`project_status` compares those with ``project.json`` and the files
on disk: a stage is ``not started``, ``done``, ``stale`` (its parameters,
its input or its outputs changed since it ran — an edited ``overrides`` in
``pairs.json`` makes stage 1 stale — or an earlier stage is not done) or
``failed`` (an error, or an interrupted run).

:func:`run_project` runs the chosen stages in order and skips those that
are done. A failed or interrupted stage resumes where it stopped (each
stage's library call resumes: frames already aligned or rendered,
training from its last checkpoint); a stale stage is redone from scratch
(its folder emptied, except stage 1, whose ``pairs.json`` keeps its manual
overrides). ``force`` redoes the chosen stages even when done, and is
needed to write into a stage folder holding files the project did not
make.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from core.errors import FormatError, ImageReadError, OutputExistsError, ParameterError, ReelkitError, SequenceError
from core.formats import FORMATS
from core.io.jsonfile import read_json_object
from core.jobs import StageProgressFn
from core.params import Param, ParamSet, config_hash

#: ``project.json``'s format, ``reelkit.project/1`` (:mod:`core.formats`).
FORMAT = FORMATS["reelkit.project"]
#: ``stage.json``'s format, ``reelkit.stage/1`` (:mod:`core.formats`).
STAGE_FORMAT = FORMATS["reelkit.stage"]
PROJECT_FILE = "project.json"
#: The inputs of a project, each with its colour space in ``project.json``'s ``colorspaces``.
INPUTS = ("source", "reference")
STAGE_FILE = "stage.json"
NOTES_FILE = Path("notes") / "experiments.md"

#: The top-level keys of ``project.json`` (:meth:`Project.to_dict` writes them all); any other is refused.
TOP_KEYS = ("format", "tool", "version", "name", "created", "source", "reference", "colorspaces", "seed", "stages")
#: Stage states :func:`project_status` reports.
STATES = ("not started", "done", "stale", "failed")


@dataclasses.dataclass(frozen=True)
class Stage:
    """One stage: its number, key in ``project.json``'s ``stages``, folder and title."""

    number: int
    key: str
    folder: str
    title: str


STAGES: tuple[Stage, ...] = (
    Stage(1, "curation", "01_dataset_curation", "dataset curation"),
    Stage(2, "alignment", "02_alignment", "alignment"),
    Stage(3, "training", "03_training", "training"),
    Stage(4, "inference", "04_inference_render", "inference render"),
    Stage(5, "validation", "05_validation", "validation"),
)


def alignment_folder(pairs: str | os.PathLike) -> Path:
    """Stage 2's folder beside a project's stage-1 pair manifest (``pairs.json`` or its folder).

    ``PROJECT/pipeline/01_dataset_curation/pairs.json`` -> ``PROJECT/pipeline/02_alignment``:
    what the CLI and the ReelTrain node train on when a config names
    ``data.pairs`` without ``data.aligned``.
    """
    from core.pairs import FILE_NAME

    path = Path(pairs)
    if path.is_dir():
        path = path / FILE_NAME
    return path.parent.parent / STAGES[1].folder


def with_alignment_folder(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A raw training config whose ``data.pairs`` has no ``data.aligned``, given :func:`alignment_folder`."""
    out = dict(raw)
    data = out.get("data")
    if isinstance(data, Mapping) and data.get("pairs") and not data.get("aligned"):
        out["data"] = {**data, "aligned": str(alignment_folder(data["pairs"]))}
    return out

#: Training defaults of a new project: a CPU fine-tune of the shipped model when there is one.
TRAINING_DEFAULTS: dict[str, Any] = {
    "init_from": "auto", "device": "cpu", "steps": 300, "batch_size": 4, "crop_size": 64,
    "checkpoint_every": 50, "preview_every": 0, "optim": {"lr": 3e-4}, "schedule": {"warmup_steps": 20},
}
#: Used when ``init_from`` is ``auto`` and no shipped model can be fine-tuned: train from scratch.
SCRATCH_PRESET = "colour_reference"
#: ``init_from: auto`` fine-tunes this shipped model when it ships torch weights.
SHIPPED_MODEL = "film_restore"
#: Pair statuses whose reference frame stage 2 aligns (low-confidence guesses are left out).
ALIGNED_STATUSES = ("matched", "duplicate", "override")
#: Stage 4's output pattern inside its folder.
RESTORED = "restored.####.exr"
#: Stage 4's default method: the trained model (stage 5's candidate of that name).
ML_METHOD = "ml"
#: Stage 5's name for stage 4's render when it rendered the source unchanged (``source`` is taken).
RENDERED_SOURCE = "render"
#: What stage 4's ``ml`` render does unless ``stages.inference`` says otherwise: one-frame defects are
#: repaired from the neighbouring frames first (``temporal``, :mod:`core.infer.temporal`), and the model's
#: output is finished by a grade (``grade``: ``lut3d``, or ``none``) fitted from the model's output of
#: the training pairs to their references, the way stage 5 fits its ``grade_lut3d`` baseline from the
#: source: whatever colour the model leaves wrong, the LUT takes, so the render is never worse than the
#: grade alone where the model is an identity (benchmarks/project_bench.py measures it); then the detail
#: the LUT cannot give back (``detail``: ``filters``, or ``none``): a bank of linear filters learned from
#: the same pairs through the model and the LUT (:mod:`core.infer.filterbank`), kept only when it lowers
#: the error on pixels held out of its fit.
ML_DEFAULTS = {"temporal": True, "grade": "lut3d", "detail": "none"}
#: What a new project's ``stages.inference`` starts with (written into its project.json), over
#: :data:`ML_DEFAULTS`, which a project.json without the key keeps: a project rendered before the detail
#: filters existed stays done, and renders as it did.
NEW_RENDER_DEFAULTS = {"detail": "filters"}
#: Values of ``stages.inference.grade``.
ML_GRADES = ("lut3d", "none")
#: Values of ``stages.inference.detail``.
ML_DETAILS = ("filters", "none")
def _ml_options(project: "Project") -> dict[str, Any]:
    """The ml render's :data:`ML_DEFAULTS` keys as this project sets them (``stages.inference``)."""
    return {k: project.params(4).get(k, v) for k, v in ML_DEFAULTS.items()}


#: Keys of ``stages.inference`` that are the project's, not :data:`~core.infer.files.INFER_PARAMS`.
_RENDER_KEYS = ("method", "grade", "detail")

#: Options of ``reelkit restore init`` besides the project folder and its inputs (CLI options, MCP tool).
INIT_PARAMS = ParamSet("restore_init", [
    Param("seed", int, 0, "seed of every random choice", minimum=0, maximum=2**31 - 1),
    Param("steps", int, None, "training steps (default: the project default)", minimum=1),
])
#: Options of ``reelkit restore run`` besides the project folder (CLI options, MCP tool).
RUN_PARAMS = ParamSet("restore_run", [
    Param("stages", str, "1-5", "stages to run: 1-5, 3, 2-4, 1,3"),
    Param("method", str, None, "what stage 4 renders, saved in project.json: ml (the model), a baseline "
          "(grade_lut3d, dust_bust+grade_lut3d, ...), source, or winner (stage 5's recommendation)"),
    Param("frames", str, None, "a frame range of stage 2 or 4 alone, e.g. 1001-1010 (a farm task: ranges run "
          "at once on several machines; the stage is done when all its frames are)"),
])


class StageError(ReelkitError, RuntimeError):
    """A stage cannot run (an earlier stage is not done) or produced nothing usable."""


# --------------------------------------------------------------------------- project file


@dataclasses.dataclass
class Project:
    """The content of ``project.json`` and where it lives."""

    path: Path
    name: str
    source: str
    reference: str
    seed: int = 0
    stages: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    created: str = ""
    #: ``{"source": name or None, "reference": name or None}`` (``None``: core.io's rules).
    colorspaces: dict[str, str | None] = dataclasses.field(default_factory=lambda: dict.fromkeys(INPUTS))

    def folder(self, stage: Stage | int) -> Path:
        s = stage if isinstance(stage, Stage) else STAGES[stage - 1]
        return self.path / "pipeline" / s.folder

    @property
    def notes(self) -> Path:
        return self.path / NOTES_FILE

    def params(self, stage: Stage | int) -> dict[str, Any]:
        s = stage if isinstance(stage, Stage) else STAGES[stage - 1]
        return dict(self.stages.get(s.key) or {})

    def to_dict(self) -> dict[str, Any]:
        from core import __version__

        return {"format": FORMAT.tag, "tool": "reelkit", "version": __version__, "name": self.name,
                "created": self.created, "source": self.source, "reference": self.reference,
                "colorspaces": {k: self.colorspaces.get(k) or "auto" for k in INPUTS}, "seed": self.seed,
                "stages": {s.key: dict(self.stages.get(s.key) or {}) for s in STAGES}}

    def save(self) -> Path:
        from core.io.atomic import write_text_atomic

        return write_text_atomic(self.path / PROJECT_FILE, json.dumps(self.to_dict(), indent=2) + "\n",
                                 overwrite=True)


def load_project(path: str | os.PathLike) -> Project:
    """Read ``PROJECT/project.json`` (a project folder or the file itself), validating every stage's parameters."""
    p = Path(path)
    file = p if p.suffix == ".json" else p / PROJECT_FILE
    if not file.is_file():
        raise ImageReadError(f"{file.parent}: not a reelkit project (no {PROJECT_FILE}; "
                             "create one with reelkit restore init)")
    d = FORMAT.read(read_json_object(file, "project file"), where=str(file))
    unknown_keys = sorted(str(k) for k in d if k not in TOP_KEYS)
    if unknown_keys:
        raise ParameterError(f"{file}: unknown key {unknown_keys[0]!r}"
                             f"{f' (and {len(unknown_keys) - 1} more)' if len(unknown_keys) > 1 else ''}; "
                             f"known: {', '.join(TOP_KEYS)}")
    stages = d.get("stages", {})
    if not isinstance(stages, Mapping):
        raise ParameterError(f"{file}: 'stages' must be a mapping of stage name -> parameters, "
                             f"got {json.dumps(stages)}")
    unknown = sorted(str(k) for k in stages if k not in {s.key for s in STAGES})
    if unknown:
        raise ParameterError(f"{file}: unknown stage(s) {', '.join(unknown)}; known: "
                             f"{', '.join(s.key for s in STAGES)}")
    for key in ("source", "reference"):
        if not isinstance(d.get(key), str) or not d[key]:
            raise ParameterError(f"{file}: '{key}' must be an image sequence pattern")
    project = Project(path=file.parent, name=str(d.get("name") or file.parent.name), source=d["source"],
                      reference=d["reference"], seed=_seed(d.get("seed", 0), str(file)),
                      stages={k: dict(v or {}) for k, v in stages.items()}, created=str(d.get("created", "")),
                      colorspaces=_colorspaces(d.get("colorspaces") or {}, where=f"{file}: colorspaces."))
    validate_params(project, where=str(file))
    return project


def _colorspaces(given: Any, *, where: str) -> dict[str, str | None]:
    """``{"source": ..., "reference": ...}`` checked (canonical names; ``None`` for auto); ``where`` prefixes errors."""
    from core.io import colorspace_option

    if not isinstance(given, Mapping) or sorted(set(given) - set(INPUTS)):
        raise ParameterError(f"{where.rstrip('.')}: expected a mapping with keys {', '.join(INPUTS)}")
    return {k: colorspace_option(given.get(k), name=where + k) for k in INPUTS}


def _seed(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise ParameterError(f"{where}: seed must be an integer 0..2**31-1, got {value!r}")
    return value


def validate_params(project: Project, *, where: str = "project") -> None:
    """Check every stage's parameters against its spec (raises :class:`ParameterError` naming the stage)."""
    from core.align import ALIGN_FILE_PARAMS
    from core.infer.files import INFER_PARAMS
    from core.pipeline.curation import PAIRS_PARAMS

    for stage, spec in (("curation", PAIRS_PARAMS), ("alignment", ALIGN_FILE_PARAMS), ("inference", INFER_PARAMS)):
        raw = project.stages.get(stage) or {}
        if not isinstance(raw, Mapping):
            raise ParameterError(f"{where}: stages.{stage} must be a mapping of parameters")
        try:
            spec.resolve({k: v for k, v in raw.items() if not (stage == "inference" and k in _RENDER_KEYS)})
            if stage == "inference":
                render_method_of(project)
                for key, allowed in (("grade", ML_GRADES), ("detail", ML_DETAILS)):
                    if raw.get(key, ML_DEFAULTS[key]) not in allowed:
                        raise ParameterError(f"{key} must be one of {', '.join(allowed)}, got {raw[key]!r}")
        except ParameterError as exc:
            raise ParameterError(f"{where}: stages.{stage}: {exc}") from None
    if not isinstance(project.stages.get("training") or {}, Mapping):
        raise ParameterError(f"{where}: stages.training must be a mapping")
    from core.validate.params import VALIDATE_PARAMS

    raw = dict(project.stages.get("validation") or {})
    if "seed" in raw:
        raise ParameterError(f"{where}: stages.validation.seed: the project's seed is used")
    try:
        VALIDATE_PARAMS.resolve(raw)
    except ParameterError as exc:
        raise ParameterError(f"{where}: stages.validation: {exc}") from None
    training_config(project, where=where)  # validates the training section (no file is read)


def _sequence(spec: str | os.PathLike, what: str) -> str:
    """The absolute sequence pattern of ``spec`` (a pattern or one numbered file) or the absolute path of a
    video file, checked non-empty."""
    from core import io

    text = os.fspath(spec)
    if io.is_video_file(text):
        if not io.count_video_frames(text):  # ImageReadError for a missing or unreadable file
            raise SequenceError(f"{what} {text}: no frame of the video decodes")
        return os.path.abspath(text)
    pattern = text if io.is_sequence_pattern(text) else io.sequence_pattern(text)
    if pattern is None:
        raise ParameterError(f"{what} {text}: not numbered; a project needs an image sequence (frame.####.exr, "
                             "frame.%04d.png or one file of a numbered sequence) or a video")
    pattern = os.path.abspath(pattern)
    try:
        numbers = io.find_frames(pattern)
    except SequenceError as exc:
        raise SequenceError(f"{what} {pattern}: empty sequence ({exc})") from None
    if not numbers:
        raise SequenceError(f"{what} {pattern}: empty sequence (no frame on disk)")
    return pattern


def init_project(path: str | os.PathLike, *, source: str | os.PathLike, reference: str | os.PathLike,
                 seed: int = 0, params: Mapping[str, Mapping[str, Any]] | None = None, name: str | None = None,
                 force: bool = False, input_colorspace: str | None = None,
                 reference_colorspace: str | None = None) -> Project:
    """Create a project folder: ``project.json``, ``pipeline/01_dataset_curation`` ... ``05_validation``, ``notes/``.

    ``source`` / ``reference``: image sequences (patterns or one numbered
    file; checked to exist and to share one resolution per sequence) or
    video files (frames numbered from 0, :mod:`core.io.video`).
    ``params``: per stage key (``curation``, ``alignment``, ``training``,
    ``inference``, ``validation``) values over the defaults
    (``training`` over :data:`TRAINING_DEFAULTS`). ``input_colorspace`` /
    ``reference_colorspace``: the source's / reference's colour space (OCIO
    or reelkit names; ``None`` / ``"auto"``: :mod:`core.io`'s rules), stored
    in ``project.json``'s ``colorspaces``. An existing project is
    not replaced unless ``force`` (which rewrites ``project.json`` and
    keeps the stage folders: :func:`project_status` then says which are stale).
    """
    out = Path(path)
    if (out / PROJECT_FILE).exists() and not force:
        raise OutputExistsError(f"{out / PROJECT_FILE}: a project already exists (use --force to replace its "
                                "settings)")
    if out.is_file():
        raise ParameterError(f"{out}: is a file, not a project folder")
    from core.io import colorspace_option

    spaces = {"source": colorspace_option(input_colorspace, name="input_colorspace"),
              "reference": colorspace_option(reference_colorspace, name="reference_colorspace")}
    src, ref = check_inputs(source, reference, source_colorspace=spaces["source"],
                            reference_colorspace=spaces["reference"])
    params = dict(params or {})
    unknown = sorted(str(k) for k in params if k not in {s.key for s in STAGES})
    if unknown:
        raise ParameterError(f"unknown stage(s) {', '.join(unknown)}; known: {', '.join(s.key for s in STAGES)}")
    stages = {s.key: dict(params.get(s.key) or {}) for s in STAGES}
    from core.train.config import merge

    stages["training"] = merge(TRAINING_DEFAULTS, stages["training"])
    stages["inference"] = {**NEW_RENDER_DEFAULTS, **stages["inference"]}
    project = Project(path=out, name=name or out.resolve().name, source=src, reference=ref, seed=_seed(seed, "seed"),
                      stages=stages, created=time.strftime("%Y-%m-%dT%H:%M:%S%z"), colorspaces=spaces)
    validate_params(project)
    for s in STAGES:
        project.folder(s).mkdir(parents=True, exist_ok=True)
    project.notes.parent.mkdir(parents=True, exist_ok=True)
    if not project.notes.exists():
        from core.io.atomic import write_text_atomic

        write_text_atomic(project.notes, f"# Experiments: {project.name}\n\nAppended by every stage of "
                          "`reelkit restore run`: parameters, seeds, results.\n", overwrite=False)
    project.save()
    return project


def check_inputs(source: str | os.PathLike, reference: str | os.PathLike, *, source_colorspace: str | None = None,
                 reference_colorspace: str | None = None) -> tuple[str, str]:
    """A project's source and reference as :func:`init_project` stores them (absolute sequence patterns or
    video paths), checked: each non-empty, a sequence of one resolution (``*_colorspace``: canonical names,
    ``None`` for auto)."""
    src = _sequence(source, "source")
    ref = _sequence(reference, "reference")
    _check_sizes(src, "source", colorspace=source_colorspace)
    _check_sizes(ref, "reference", colorspace=reference_colorspace)
    return src, ref


def _check_sizes(pattern: str, what: str, *, samples: int = 3, colorspace: str | None = None) -> None:
    """First, middle and last frame must have one resolution (headers only where the format allows); a video
    has one."""
    from core import io

    if io.is_video_file(pattern):
        return
    numbers = io.find_frames(pattern)
    picks = sorted({numbers[0], numbers[len(numbers) // 2], numbers[-1]})[:samples]
    sizes = {}
    for n in picks:
        img = io.read_image(io.sequence_path(pattern, n), colorspace=colorspace)
        if img.pixels.size == 0:
            raise SequenceError(f"{what} frame {n} ({io.sequence_path(pattern, n)}): empty image")
        sizes[n] = (img.width, img.height)
    if len(set(sizes.values())) > 1:
        detail = ", ".join(f"frame {n}: {w}x{h}" for n, (w, h) in sizes.items())
        raise SequenceError(f"{what} {pattern}: frames differ in resolution ({detail}); a sequence must have one")


# --------------------------------------------------------------------------- per-stage pieces


def training_config(project: Project, *, where: str = "project") -> dict[str, Any]:
    """The training config stage 3 runs: the project's ``training`` section over its data, seed and start weights.

    ``init_from: "auto"`` fine-tunes the shipped ``film_restore`` model
    when it ships torch weights, else trains from scratch with the
    ``colour_reference`` preset; ``""`` or ``null`` always from scratch.
    """
    from core.train.config import TrainConfig, merge

    raw = dict(project.stages.get("training") or {})
    if "data" in raw:
        raise ParameterError(f"{where}: stages.training.data: the project supplies the data (stages 1 and 2)")
    init = raw.pop("init_from", "auto")
    if init == "auto":
        init = SHIPPED_MODEL if _can_finetune(SHIPPED_MODEL) else None
    base: dict[str, Any] = {"name": project.name, "seed": project.seed,
                            "data": {"pairs": str(project.folder(1) / "pairs.json"),
                                     "aligned": str(project.folder(2))}}
    if init:
        base["init_from"] = str(init)
    elif "model" not in raw and "preset" not in raw:
        base["preset"] = SCRATCH_PRESET
    cfg = merge(base, raw)
    try:
        return TrainConfig.from_dict(cfg).to_dict()
    except ParameterError as exc:
        raise ParameterError(f"{where}: stages.training: {exc}") from None


def _can_finetune(name: str) -> bool:
    from core.infer.model import ModelError
    from core.infer.shipped import shipped_entry

    try:
        entry = shipped_entry(name)
    except ModelError:
        return False
    return isinstance(entry.get("weights"), Mapping)


def _init_weights_sha(init_from: str | None) -> str | None:
    """sha256 of the weights ``init_from`` names (a shipped model's, from its manifest; a file's own)."""
    if not init_from:
        return None
    path = Path(init_from)
    if path.is_file():
        return _file_digest(path)
    from core.infer.model import ModelError
    from core.infer.shipped import shipped_entry

    try:
        weights = shipped_entry(init_from).get("weights") or {}
    except ModelError:
        return None
    return weights.get("sha256") if isinstance(weights, Mapping) else None


def _input_digest(project: Project) -> str:
    """Names, sizes and modification times of both inputs' files (no pixels read)."""
    from core import io

    rows = []
    for what, pattern in (("source", project.source), ("reference", project.reference)):
        if io.is_video_file(pattern):
            st = os.stat(pattern)
            rows.append((what, "video", st.st_size, st.st_mtime_ns))
            continue
        numbers = io.find_frames(pattern)
        if not numbers:
            raise SequenceError(f"{what} {pattern}: empty sequence (no frame on disk)")
        for n in numbers:
            st = os.stat(io.sequence_path(pattern, n))
            rows.append((what, n, st.st_size, st.st_mtime_ns))
    return config_hash({"inputs": rows})


def _file_digest(path: Path) -> str | None:
    from core.manifest import file_sha256

    return file_sha256(path) if path.is_file() else None


def _manifest_digest(folder: Path, content: bool = False) -> str | None:
    """Digest of a finished per-frame job in ``folder`` (frame statuses and when it finished), ``None`` when
    it is unfinished or a frame's output is gone. Independent of where the project folder lives.

    ``content`` adds the job's config hash and each output's sha256 as the manifest recorded it: two
    renders that finish within one second (the manifest's clock) still differ when their pixels do.
    Stage 4 uses it; stage 2 keeps the older digest so that projects made before it do not retrain."""
    path = folder / "manifest.json"
    try:
        d = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if d.get("status") != "done":
        return None
    frames = {}
    for key, rec in d.get("frames", {}).items():
        out = Path(str(rec.get("output", "")))
        rel = out.parts[len(out.parts) - out.parts[::-1].index(folder.name):] if folder.name in out.parts else ()
        if not rel or not folder.joinpath(*rel).is_file():
            return None
        frames[key] = [rec.get("status"), rec.get("converged"), "/".join(rel)]
        if content:
            frames[key].append(sorted((k, v.get("sha256")) for k, v in (rec.get("files") or {}).get("out", {}).items()))
    values: dict[str, Any] = {"frames": frames, "finished": d.get("timings", {}).get("finished")}
    if content:
        values["config_hash"] = d.get("config_hash")
    return config_hash(values)


#: Stage records whose stage-4 digest includes the render's content (:func:`_manifest_digest`'s ``content``).
CONTENT_DIGEST = "content"


def _outputs_digest(project: Project, stage: Stage, record: Mapping[str, Any] | None = None) -> str | None:
    """Digest of a stage's outputs as they are on disk now (``None``: missing or unfinished), by the rule
    ``record`` (the stage's ``stage.json``) was made with: a render recorded before stage 4's digest took
    in the content is judged without it, so upgrading reelkit does not make finished renders stale."""
    folder = project.folder(stage)
    if stage.number == 1:
        return _file_digest(folder / "pairs.json")
    if stage.number in (2, 4):
        content = stage.number == 4 and (record is None or record.get("digest") == CONTENT_DIGEST)
        return _manifest_digest(folder, content=content)
    if stage.number == 3:
        return _file_digest(folder / "model.onnx")
    return _file_digest(folder / "metrics.json")


def _params_hash(project: Project, stage: Stage) -> str:
    values: dict[str, Any] = {"stage": stage.key, "seed": project.seed, "params": project.params(stage)}
    if stage.number == 1:
        values["inputs"] = [project.source, project.reference]
        if any(project.colorspaces.values()):  # only when stated: earlier projects keep their hash
            values["colorspaces"] = dict(project.colorspaces)
    if stage.number == 3:  # the resolved config, less what only names it or says where the project lives
        values["params"] = training_config(project)
        for key in ("name", "data"):
            values["params"].pop(key, None)
        values["init_weights"] = _init_weights_sha(values["params"].get("init_from"))
    if stage.number == 4 and render_method_of(project) == ML_METHOD:  # the ml render's defaults and grade fit
        ml = _ml_options(project)
        if ml["detail"] == "none":  # as before the filters existed: earlier projects keep their hash
            del ml["detail"]
        if ml["grade"] != "none" or "detail" in ml:
            opts = _grade_options(project)
            ml["fit"] = {k: opts[k] for k in _GRADE_FIT_KEYS}
        values["ml"] = ml
    return config_hash(values)


# --------------------------------------------------------------------------- status


@dataclasses.dataclass
class StageStatus:
    """Where one stage stands: ``state`` (one of :data:`STATES`), why, and its counts."""

    stage: Stage
    state: str
    reason: str = ""
    counts: dict[str, Any] = dataclasses.field(default_factory=dict)
    seconds: float | None = None
    record: dict[str, Any] | None = None

    @property
    def number(self) -> int:
        return self.stage.number

    def line(self) -> str:
        """One line for people: ``3 training       done   steps 300, loss 0.0213 (41 s)``."""
        counts = ", ".join(f"{k.replace('_', ' ')} {_fmt(v)}" for k, v in self.counts.items())
        bits = [f"{self.stage.number} {self.stage.title:<17} {self.state:<11}"]
        if self.state == "done" and self.record and self.record.get("headline"):
            bits.append(self.record["headline"] + " —")  # what the stage found, first (stage 5: who won)
        if counts:
            bits.append(counts)
        if self.reason:
            bits.append(f"({self.reason})")
        elif self.seconds is not None and self.state == "done":
            bits.append(f"({self.seconds:.0f} s)")
        return " ".join(bits).rstrip()

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage.number, "name": self.stage.key, "folder": self.stage.folder,
                "state": self.state, "reason": self.reason, "counts": dict(self.counts), "seconds": self.seconds,
                "headline": (self.record or {}).get("headline") if self.state == "done" else None}


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _read_stage(folder: Path) -> dict[str, Any] | None:
    """A stage's ``stage.json`` record; ``None`` when there is none. One that cannot be read or is not a
    :data:`STAGE_FORMAT` record raises :class:`~core.errors.ImageReadError` saying it is corrupt."""
    path = folder / STAGE_FILE
    if not path.is_file():
        return None
    try:
        d = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ImageReadError(f"{path}: corrupt stage record ({exc}); run the stage with --force to redo it") from None
    if not isinstance(d, dict):
        raise ImageReadError(f"{path}: corrupt stage record (not {STAGE_FORMAT}: {type(d).__name__!r}); "
                             "run the stage with --force to redo it")
    try:
        return STAGE_FORMAT.read(d, where=str(path))
    except FormatError as exc:
        raise ImageReadError(f"{exc}: a corrupt stage record; run the stage with --force to redo it") from None


def _upstream(project: Project, stage: Stage, before: StageStatus | None) -> str | None:
    if stage.number == 1:
        return _input_digest(project)
    if before is None or before.record is None:
        return None
    return before.record.get("outputs_digest")


def _setup(project: Project, stage: Stage, before: StageStatus | None) -> dict[str, Any]:
    """What a run of ``stage`` would be made with now (:mod:`core.stages`' setup): ``params_hash``, ``upstream``."""
    return {"params_hash": _params_hash(project, stage), "upstream": _upstream(project, stage, before)}


def _write_stage(project: Project, stage: Stage, setup: Mapping[str, Any], *, resumed: bool) -> dict[str, Any]:
    """Record in ``stage.json`` that a run of ``stage`` with ``setup`` starts (``running``); returns the record."""
    from core.stages import RUNNING

    record = {"format": STAGE_FORMAT.tag, "stage": stage.number, "name": stage.key, "status": RUNNING, **setup,
              "seed": project.seed, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "resumed": resumed}
    _save_stage(project.folder(stage), record)
    return record


def _save_stage(folder: Path, record: Mapping[str, Any]) -> None:
    from core.io.atomic import write_text_atomic

    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomic(folder / STAGE_FILE, json.dumps(record, indent=2, default=str) + "\n", overwrite=True)


def project_status(path: str | os.PathLike | Project) -> list[StageStatus]:
    """Per stage: not started / done / stale / failed, with the reason and counts (see the module)."""
    project = path if isinstance(path, Project) else load_project(path)
    out: list[StageStatus] = []
    before: StageStatus | None = None
    for stage in STAGES:
        st = _status_one(project, stage, before)
        out.append(st)
        before = st
    return out


def _status_one(project: Project, stage: Stage, before: StageStatus | None) -> StageStatus:
    folder = project.folder(stage)
    try:
        rec = _read_stage(folder)
    except ImageReadError as exc:
        return StageStatus(stage, "failed", str(exc), _partial_counts(stage, folder))
    if rec is None:
        return StageStatus(stage, "not started", counts=_partial_counts(stage, folder))
    from core.stages import DONE, FAILED, RUNNING, STALE, judge, upstream_checks

    seconds = rec.get("seconds")
    if rec.get("status") != DONE:  # an interrupted run (still running) or a failed one: resumed when run again
        reason = ("interrupted; run again to resume" if rec.get("status") == RUNNING
                  else str(rec.get("error") or "failed"))
        return StageStatus(stage, FAILED, reason, _partial_counts(stage, folder), record=rec)
    counts = dict(rec.get("counts") or {})
    try:
        setup = _setup(project, stage, before)
    except ReelkitError as exc:
        return StageStatus(stage, STALE, str(exc), counts, seconds, rec)
    first = stage.number == 1
    changed = "the source or reference files changed" if first else f"stage {stage.number - 1} changed"
    verdict = judge(DONE, [
        (rec.get("params_hash") == setup["params_hash"], "parameters changed in project.json"),
        *upstream_checks(None if before is None else str(before.number), None if before is None else before.state,
                         rec.get("upstream"), setup["upstream"], changed=changed),
        (lambda: _outputs_digest(project, stage, rec) == rec.get("outputs_digest"),
         "pairs.json changed since the run (overrides edited?)" if first else "its outputs changed or are missing"),
    ])
    return StageStatus(stage, verdict.state, verdict.reason, counts, seconds, rec)


def _partial_counts(stage: Stage, folder: Path) -> dict[str, Any]:
    """Counts of an unfinished stage from its library's own records (frames done, last checkpoint)."""
    if stage.number in (2, 4):
        done = 0
        for p in folder.glob("manifest*.json"):
            try:
                frames = json.loads(p.read_text("utf-8")).get("frames", {})
            except (OSError, ValueError):
                continue
            done = max(done, sum(1 for r in frames.values() if r.get("status") == "done"))
        return {"frames_done": done} if done else {}
    if stage.number == 3:
        from core.train.trainer import list_checkpoints

        found = list_checkpoints(folder)
        return {"checkpoint_step": found[-1][0]} if found else {}
    return {}


# --------------------------------------------------------------------------- running


def stage_files(project: Project, stage: Stage | int) -> list[Path] | None:
    """Every file a whole run of ``stage`` writes in its folder now, ``stage.json`` included (the project's
    notes, which every stage appends to, are not), given its upstream stages as they are on disk: ``None``
    while they do not say yet (stage 2 before stage 1's pairs exist; stage 5 before stages 2 and 4 are done).
    A stage redone from scratch first empties its folder (:func:`_run_stage`)."""
    number = stage.number if isinstance(stage, Stage) else int(stage)
    files = _stage_outputs(project, number)
    if files is None:
        return None
    return list(dict.fromkeys(Path(os.path.abspath(p)) for p in (project.folder(number) / STAGE_FILE, *files)))


def _stage_outputs(project: Project, n: int) -> list[Path] | None:
    """The files of :func:`stage_files` but ``stage.json``, each from the layout of the library call the stage
    makes (``None``: not known yet)."""
    from core.manifest import manifest_name

    folder = project.folder(n)
    if n == 1:
        from core.pipeline.curation import pairs_outputs

        return pairs_outputs(folder, {"seed": project.seed, **project.params(1)})
    if n == 2:
        from core.align.files import plan_align_tasks, report_name
        from core.pairs import FILE_NAME

        if not (project.folder(1) / FILE_NAME).is_file():
            return None
        pairs, table, values = _alignment_setup(project)
        tasks = plan_align_tasks(str(pairs.source["path"]), str(pairs.reference["path"]), folder, None,
                                 values["report"], pairs=table)
        return [folder / manifest_name(None), *(p for t in tasks for p in t.targets), folder / report_name(None)]
    if n == 3:
        from core.train.trainer import training_outputs

        return training_outputs(training_config(project), folder)
    if n == 4:
        from core.jobs import plan_frame_files
        from core.validate.baselines import grade_methods
        from core.validate.run import fit_files

        method = render_method_of(project)
        detail = []
        if method == ML_METHOD:  # the finishing steps of _model_grade
            wanted = _ml_options(project)
            grades = ("lut3d",) if wanted["grade"] != "none" else ()
            detail = [folder / "grades" / DETAIL_FILE] if wanted["detail"] != "none" else []
        else:
            grades = grade_methods([method]) if method != "source" else ()
        tasks = plan_frame_files(project.source, str(folder / RESTORED))
        return [folder / manifest_name(None), *(p for t in tasks for p in t.targets),
                *fit_files(folder, {m: True for m in grades}), *detail]
    from core.validate import plan_validation

    if project_status(project)[3].state != "done" or not (project.folder(2) / "manifest.json").is_file():
        return None
    args, _ = _validation_setup(project)
    return plan_validation(**args).writes


def parse_stages(spec: str | int | None) -> list[int]:
    """``"1-5"``, ``"3"``, ``"2-4"``, ``"1,3"`` -> stage numbers, sorted; bad specs raise ParameterError."""
    if spec is None or spec == "":
        return [s.number for s in STAGES]
    text = str(spec).replace(" ", "")
    out: set[int] = set()
    for part in text.split(","):
        bounds = part.split("-")
        if len(bounds) > 2 or not all(b.isdigit() for b in bounds):
            raise ParameterError(f"stages {spec!r}: expected stage numbers such as 1-5, 3 or 2,4")
        lo, hi = int(bounds[0]), int(bounds[-1])
        if not 1 <= lo <= hi <= len(STAGES):
            raise ParameterError(f"stages {spec!r}: stages are numbered 1 to {len(STAGES)}")
        out.update(range(lo, hi + 1))
    return sorted(out)


def run_project(path: str | os.PathLike, stages: str | int | None = "1-5", *, force: bool = False,
                frames: str | None = None,
                progress: StageProgressFn | None = None) -> list[StageStatus]:
    """Run the chosen stages in order, skipping those done; returns every stage's status afterwards.

    A stage runs when it is not done (not started, failed, stale) or when
    ``force``. It needs the stage before it done (run now or earlier):
    otherwise :class:`StageError` says which to run. The project folder is
    locked for the run (:class:`~core.manifest.OutputLock`): a second run of
    the same project raises :class:`~core.errors.OutputLockedError`. Files in a stage folder
    that the project did not make raise
    :class:`~core.errors.OutputExistsError` unless ``force``. A stage that
    raises is recorded ``failed`` (``stage.json``) and the error goes on up;
    running again resumes it.

    ``frames``: a frame range of one stage of :data:`FRAME_STAGES` (a farm
    task, :mod:`core.farm`): see :func:`_run_chunk`.
    """
    from core.manifest import OutputLock

    project = load_project(path)
    chosen = parse_stages(stages)
    if frames is not None:
        return _run_chunk(project, chosen, str(frames), force=force, progress=progress)
    lock = OutputLock(project.path, "restore run")
    lock.acquire()  # one run per project: a second one stops here, before any stage is judged
    try:
        from core.manifest import refuse_escapes

        # each stage's library call keeps inside its folder; the folders themselves are no links to elsewhere
        refuse_escapes(project.path, [project.notes, *(project.folder(s) / STAGE_FILE for s in STAGES)])
        for n in chosen:
            stage = STAGES[n - 1]
            status = project_status(project)
            st = status[n - 1]
            if st.state == "done" and not force:
                if progress is not None:
                    progress(n, 1, 1, "done already, skipped")
                continue
            if n > 1 and status[n - 2].state != "done":
                prev = status[n - 2]
                raise StageError(f"stage {n} ({stage.title}) needs stage {n - 1} ({prev.stage.title}) done first; "
                                 f"it is {prev.state}{': ' + prev.reason if prev.reason else ''} "
                                 f"(run --stages {n - 1}-{n})")
            _run_stage(project, stage, st, status[n - 2] if n > 1 else None, force=force, progress=progress)
    finally:
        lock.release()
    return project_status(project)


#: Stages a frame range of which is a unit of work (:func:`run_project`'s ``frames``): their per-frame job's
#: config hash is the same for any range (stage 2 hashes the whole frame table), so the stage's whole run
#: resumes every frame its ranges made.
FRAME_STAGES = (2, 4)


def _run_chunk(project: Project, chosen: list[int], frames: str, *, force: bool, progress) -> list[StageStatus]:
    """Run frames ``frames`` of one stage of :data:`FRAME_STAGES` into its folder (a farm task).

    Ranges of a stage run at the same time on several machines: each
    claims only its range (a frame-range lock on the project, none of the
    whole-project lock a run of whole stages takes), writes its frames with
    their own manifest (``manifest.frames-A-B.json``) under the whole run's
    config hash, and empties nothing. The stage before must be done. The
    first range of a new setup (parameters, upstream) records it in
    ``stage.json`` (``running``); when a range finds every frame of the
    stage done, it completes the stage as a whole run would (which resumes
    every frame: ``stage.json`` ``done``, ``manifest.json``), unless another
    range is still running (that one completes it). A done stage is
    skipped unless ``force``.
    """
    from core.errors import OutputLockedError
    from core.manifest import OutputLock
    from core.stages import same_setup

    if len(chosen) != 1 or chosen[0] not in FRAME_STAGES:
        raise ParameterError(f"--frames {frames}: runs a frame range of one stage of "
                             f"{' or '.join(map(str, FRAME_STAGES))} (--stages 2 or --stages 4), got --stages "
                             f"{','.join(map(str, chosen))}")
    n = chosen[0]
    stage = STAGES[n - 1]
    lock = OutputLock(project.path, f"restore run --stages {n} --frames {frames}", frame_range=f"stage{n}-{frames}")
    lock.acquire()
    try:
        status = project_status(project)
        before, st = status[n - 2], status[n - 1]
        if before.state != "done":
            raise StageError(f"stage {n} ({stage.title}) needs stage {n - 1} ({before.stage.title}) done first; it is "
                             f"{before.state}{': ' + before.reason if before.reason else ''} (run --stages {n - 1})")
        if st.state == "done" and not force:
            if progress is not None:
                progress(n, 1, 1, "done already, skipped")
            return status
        setup = _setup(project, stage, before)
        if not same_setup(_read_stage(project.folder(stage)), setup):
            _write_stage(project, stage, setup, resumed=False)

        def relay(done: int, total: int, info: str = "") -> None:
            if progress is not None:
                progress(n, done, total, info)

        RUNNERS[n](project, fresh=False, force=force, progress=relay, frames=frames)
    finally:
        lock.release()
    if not _frames_left(project, stage, frames):
        try:
            return run_project(project.path, str(n), progress=progress)
        except OutputLockedError:
            pass  # another range is still running: it completes the stage
    return project_status(project)


def _frames_left(project: Project, stage: Stage, frames: str) -> int | None:
    """How many frames of the stage no range has made yet under the setup of range ``frames``'s job
    (``None``: that range wrote no job)."""
    from core import io
    from core.manifest import Manifest, manifest_name

    folder = project.folder(stage)
    try:
        job = json.loads((folder / manifest_name(frames)).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if stage.number == 2:
        wanted = set(job["config"].get("pairs") or {})
    else:
        source = project.source
        wanted = {str(f) for f in (io.resolve_video_frames(source) if io.is_video_file(source)
                                   else io.resolve_frames(source))}
    done, _ = Manifest(folder, job["command"], job["config"]).previous_work()
    return len(wanted - set(done))


def _run_stage(project: Project, stage: Stage, st: StageStatus, before: StageStatus | None, *, force: bool,
               progress: StageProgressFn | None) -> None:
    from core.stages import DONE, failure, fresh_run

    folder = project.folder(stage)
    try:
        rec = _read_stage(folder)
    except ImageReadError:
        if not force:
            raise  # one line: corrupt, redo with --force (not "holds files this project did not make")
        rec = None
    if rec is None and not force and folder.is_dir():
        foreign = sorted(p.name for p in folder.iterdir())
        if foreign:
            raise OutputExistsError(f"{folder}: holds files this project did not make ({', '.join(foreign[:3])}"
                                    f"{', ...' if len(foreign) > 3 else ''}); use --force to replace them")
    setup = _setup(project, stage, before)
    fresh = fresh_run(rec, setup, force=force)  # redo from scratch; else resume a failed run of the same setup
    if stage.number == 5 and rec is not None and rec.get("status") == "failed":
        fresh = True  # validation that raised leaves files its own manifest never recorded (the grade fits)
    if fresh and stage.number > 1 and folder.is_dir():
        for p in folder.iterdir():
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    record = _write_stage(project, stage, setup, resumed=not fresh)
    t0 = time.perf_counter()

    def relay(done: int, total: int, info: str = "") -> None:
        if progress is not None:
            progress(stage.number, done, total, info)

    try:
        params, counts, results = RUNNERS[stage.number](project, fresh=fresh, force=force, progress=relay)
    except BaseException as exc:
        status, error = failure(exc)  # failed; a keyboard interrupt leaves it running, "interrupted"
        record.update(status=status, error=error, seconds=round(time.perf_counter() - t0, 3))
        _save_stage(folder, record)
        raise
    headline = results.pop("headline", None)
    if stage.number == 4:
        record["digest"] = CONTENT_DIGEST
    record.update(status=DONE, counts=counts, outputs_digest=_outputs_digest(project, stage),
                  finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"), seconds=round(time.perf_counter() - t0, 3))
    if headline:
        record["headline"] = headline
    _save_stage(folder, record)
    _log(project, stage, params, {**counts, **results, "seconds": record["seconds"]})


def _log(project: Project, stage: Stage, params: Mapping[str, Any], results: Mapping[str, Any]) -> None:
    from core.validate import append_experiment

    append_experiment(project.notes, title=f"Stage {stage.number}: {stage.title}",
                      params={"seed": project.seed, **params}, results=dict(results))


# --------------------------------------------------------------------------- the stages


def _read_as(project: Project) -> dict[str, str | None]:
    """The project's input colour spaces as ``input_colorspace`` / ``reference_colorspace`` arguments."""
    return {"input_colorspace": project.colorspaces["source"], "reference_colorspace": project.colorspaces["reference"]}


def _run_curation(project: Project, *, fresh: bool, force: bool, progress) -> tuple[dict, dict, dict]:
    from core.pipeline.curation import PAIRS_PARAMS, build_pairs
    from core.pairs import FILE_NAME, load_pairs

    folder = project.folder(1)
    values = PAIRS_PARAMS.resolve({"seed": project.seed, **project.params(1)})
    replace = False
    if (folder / FILE_NAME).is_file():  # same inputs: build_pairs keeps the manual overrides
        old = load_pairs(folder / FILE_NAME)
        replace = (os.path.abspath(str(old.source.get("path"))) != project.source
                   or os.path.abspath(str(old.reference.get("path"))) != project.reference)
    pairs = build_pairs(project.source, project.reference, output_dir=folder, params=values, force=replace,
                        progress=lambda d, t, f: progress(d, t, f"frame {f}"), **_read_as(project))
    s = pairs.summary
    if pairs.status == "no_match" or not pairs.selected:
        raise StageError(f"{folder / FILE_NAME}: {pairs.message or 'no training pairs selected'}")
    counts = {"source_frames": s.get("source_frames"), "matched": s.get("matched", 0) + s.get("override", 0),
              "damaged": s.get("damaged", 0), "shots": s.get("shots"), "pairs": s.get("selected"),
              "damaged_pairs": s.get("selected_damaged", 0)}
    results = {"status": pairs.status, "rate": pairs.timing.get("rate"), "frame_offset": pairs.timing.get("frame_offset"),
               "median_confidence": s.get("median_confidence"), "dropped": s.get("dropped", 0),
               "low_confidence": s.get("low_confidence", 0), "overrides": len(pairs.overrides)}
    return values, counts, results


def _alignment_setup(project: Project):
    """Stage 2's inputs: stage 1's pairs, their frame table (source frame -> reference frame, aligned ones) and
    the alignment parameters."""
    from core.align import ALIGN_FILE_PARAMS
    from core.pairs import load_pairs

    pairs = load_pairs(project.folder(1))
    table = {m.source_frame: m.reference_frame for m in pairs.matches
             if m.reference_frame is not None and m.status in ALIGNED_STATUSES}
    return pairs, table, ALIGN_FILE_PARAMS.resolve(project.params(2))


def _run_alignment(project: Project, *, fresh: bool, force: bool, progress,
                   frames: str | None = None) -> tuple[dict, dict, dict]:
    from core.align import align_files

    pairs, table, values = _alignment_setup(project)
    if frames is not None:
        from core.io import as_frame_range

        if not any(f in table for f in as_frame_range(frames)):  # a range with no matched frame: nothing to align
            return values, {"frames": 0, "aligned": 0, "failed": 0}, {}
    manifest = align_files(str(pairs.source["path"]), str(pairs.reference["path"]), output_dir=project.folder(2),
                           params=values, pairs=table, force=fresh or (force and frames is not None), frames=frames,
                           progress=lambda d, t, f: progress(d, t, f"frame {f}"), **_read_as(project))
    summary = manifest.data["summary"]
    if not summary["converged"] and frames is None:
        raise StageError(f"{project.folder(2)}: no frame aligned ({len(summary['failed'])} failed; "
                         "see report.csv)")
    records = list(manifest.data["frames"].values())
    valid = [r.get("valid_fraction") for r in records if r.get("converged") and r.get("valid_fraction") is not None]
    counts = {"frames": summary["frames"], "aligned": summary["converged"], "failed": len(summary["failed"])}
    results = {"mean_valid_fraction": round(sum(valid) / len(valid), 4) if valid else None,
               "failed_frames": summary["failed"][:20]}
    return values, counts, results


def _run_training(project: Project, *, fresh: bool, force: bool, progress) -> tuple[dict, dict, dict]:
    from core.train import train

    cfg = training_config(project)
    result = train(cfg, output_dir=project.folder(3), resume=not fresh,
                   progress=lambda step, steps, info: progress(step, steps, f"loss {info.loss:.4g}"))
    if not (project.folder(3) / "model.onnx").is_file():
        raise StageError(f"{project.folder(3)}: training finished without exporting model.onnx")
    init = cfg.get("init_from") or "scratch"
    counts = {"steps": result.steps, "loss": round(result.final_loss, 5)}
    results = {"init_from": init, "model": cfg["model"].get("type"), "device": result.device,
               "resumed_from": result.resumed_from, **{k: v for k, v in result.metrics.items()
                                                        if isinstance(v, (int, float, str))}}
    params = {k: cfg[k] for k in ("steps", "batch_size", "crop_size", "encoding", "init_from") if k in cfg}
    params.update(model=cfg["model"], optim=cfg["optim"], loss=cfg["loss"])
    return params, counts, results


def render_method_of(project: Project) -> str:
    """What stage 4 renders: ``ml`` (the trained model) or a baseline name or ``source`` (checked)."""
    from core.validate.render import check_method

    method = project.params(4).get("method", ML_METHOD)
    return ML_METHOD if method == ML_METHOD else check_method(method)


def set_render_method(path: str | os.PathLike | Project, method: str) -> str:
    """Set what stage 4 renders in ``project.json`` and return it (stage 4 is then stale until run again).

    ``method``: ``ml``, a baseline name (``grade_lut3d``,
    ``dust_bust+grade_lut3d``), ``source``, or ``winner``: what stage 5
    recommended last time it ran (its ``metrics.json`` verdict; stage 5
    must have run).
    """
    project = path if isinstance(path, Project) else load_project(path)
    if method == "winner":
        from core.validate.run import read_metrics

        metrics = project.folder(5) / "metrics.json"
        try:
            verdict = read_metrics(metrics).get("verdict") or {}
        except (OSError, ValueError):  # missing, unreadable, not JSON, not a reelkit.validation report
            raise StageError(f"{metrics}: no validation to take the winner from; run stage 5 first "
                             "(--stages 5)") from None
        method = verdict.get("recommend") or ML_METHOD
        method = "source" if method == RENDERED_SOURCE else method
    stages = dict(project.stages)
    stages["inference"] = {**project.params(4), "method": method}
    if method == ML_METHOD:
        stages["inference"].pop("method")
    trial = dataclasses.replace(project, stages=stages)
    validate_params(trial, where=str(project.path / PROJECT_FILE))
    trial.save()
    return render_method_of(trial)


def _run_inference(project: Project, *, fresh: bool, force: bool, progress,
                   frames: str | None = None) -> tuple[dict, dict, dict]:
    from core.infer.files import INFER_PARAMS, infer_files

    from core.train.torch_model import load_for

    method = render_method_of(project)
    raw = {k: v for k, v in project.params(4).items() if k not in _RENDER_KEYS}
    if method == ML_METHOD:
        raw = {"temporal": ML_DEFAULTS["temporal"], **raw}
    values = INFER_PARAMS.resolve(raw)
    relay = lambda d, t, f: progress(d, t, f"frame {f}")  # noqa: E731
    if method == ML_METHOD:
        model = load_for(project.folder(3) / "model.onnx", values["provider"])  # torch: the run's own network
        grade, note = _model_grade(project, model, values, force=fresh)
        manifest = infer_files(model, project.source, output_dir=project.folder(4),
                               output=RESTORED, params=values, force=fresh or (force and frames is not None),
                               frames=frames, progress=relay, grade=grade,
                               input_colorspace=project.colorspaces["source"])
        results = {"model_sha256": manifest.data.get("model", {}).get("sha256"), "grade": note,
                   "temporal": values["temporal"]}
    else:
        from core.validate.render import render_method

        fit = _fit_pairs(project)
        manifest = render_method(method, project.source, output_dir=project.folder(4), output=RESTORED,
                                 params={**project.params(5), "seed": project.seed}, pixel_type=values["pixel_type"],
                                 compression=values["compression"], force=fresh or (force and frames is not None),
                                 frames=frames, progress=relay,
                                 input_colorspace=project.colorspaces["source"], **fit)
        results = {"fit": manifest.data.get("fit_note")}
    counts = {"frames": len(manifest.data["frames"]), "method": method}
    return {**values, "method": method}, counts, results


#: The grade-fit options that change the ml render's LUT (in stage 4's hash and the LUT's cache key).
_GRADE_FIT_KEYS = ("fit_frames", "max_samples", "lut_size", "seed")


def _grade_options(project: Project) -> dict[str, Any]:
    """Stage 5's grade-fit options (:data:`~core.validate.VALIDATE_PARAMS`), which the ml render's grade uses too."""
    from core.validate.params import VALIDATE_PARAMS

    return VALIDATE_PARAMS.resolve({**project.params(5), "seed": project.seed})


def _model_grade(project: Project, model, values: Mapping[str, Any], *, force: bool):
    """What finishes stage 4's ``ml`` render (:data:`ML_DEFAULTS`) after the model, and a note for the record.

    ``grade``: a 3D LUT fitted from the model's output of the training
    pairs to their aligned references and masks, by stage 5's own fitting
    (:func:`core.validate.run._fits`: its ``fit_frames`` of the pairs,
    evenly spaced, its ``lut_size``, ``max_samples`` and the project's
    seed), which fits the ``grade_lut3d`` baseline from the source instead.
    ``detail``: a :class:`~core.infer.filterbank.FilterBank` fitted on the
    same frames through the model and that LUT. Both kept in
    ``04_inference_render/grades/`` (``lut3d.json``, ``lut3d.cube``,
    ``filters.json`` and ``fits.json``, each with the hash of everything it
    was fitted from: a range of stage 4 on another machine fits the same or
    reuses it). ``(None, "")`` when both are ``none``.
    """
    from core.infer.session import Restorer
    from core.manifest import config_hash
    from core.validate.run import _fits, _Seq

    wanted = _ml_options(project)
    if wanted["grade"] == "none" and wanted["detail"] == "none":
        return None, ""
    opts = _grade_options(project)
    fit = _fit_pairs(project)
    space = project.colorspaces["source"]
    src = _Seq.of(fit["fit_sources"], "fit_sources", sequence=True, colorspace=space)
    ref = _Seq.of(fit["fit_references"], "fit_references", sequence=True)
    key = config_hash({"model": model.spec.sha256, "frames": fit["fit_frames"],
                       "options": {k: opts[k] for k in _GRADE_FIT_KEYS},
                       "source": src.spec, "colorspace": space, "alignment": _manifest_digest(project.folder(2)),
                       "run": {k: values[k] for k in ("tile", "overlap", "precision", "mix")}})
    made: dict[str, Restorer] = {}
    steps: list = []

    def through_model(n: int, pixels):
        """Frame ``n`` of the source (ACEScg) -> the model's output of it (ACEScg), as stage 4 renders it, then
        the finishing steps fitted so far."""
        import numpy as np

        from core.color import convert_frame
        from core.frame import Frame

        if "restorer" not in made:  # only when something is fitted, not when every fit is reused
            made["restorer"] = Restorer(model, tile=values["tile"], overlap=values["overlap"],
                                        provider=values["provider"], threads=values["threads"],
                                        precision=values["precision"], mix=values["mix"])
        out = made["restorer"].run_frame(Frame(pixels, colorspace="ACEScg"))
        out = out if out.colorspace == "ACEScg" else convert_frame(out, "ACEScg")
        out = np.ascontiguousarray(out.pixels[..., :3], dtype=np.float32)
        for step in steps:
            out = step.apply(out)
        return out

    notes = []
    if wanted["grade"] != "none":
        fits, note = _fits(("lut3d",), opts, project.folder(4), key, force, src=None, ref=None, msk=None,
                           numbers=[], fit_src=src, fit_ref=ref, fit_masks=fit["fit_masks"],
                           fit_frames=fit["fit_frames"], through=through_model)
        grade = fits["lut3d"]
        if not grade.success:
            raise StageError(f"stage 4: the grade after the model could not be fitted ({grade.reason}); "
                             "set stages.inference.grade to none to render the model alone")
        steps.append(grade)
        notes.append(f"a {opts['lut_size']}^3 LUT ({note}, rms {grade.rms:.4g})")
    if wanted["detail"] != "none":
        bank = _detail_filters(project, key, steps, src, ref, fit, opts, through_model, force=force)
        if bank.success:
            steps.append(bank)
            rms = bank.held_out_rms
            notes.append(f"learned detail filters (held-out rms {rms['input']:.4g} -> {rms['filtered']:.4g})")
        else:
            notes.append(f"no detail filters: {bank.reason}")
    if not steps:
        return None, "the model's output as it is: " + "; ".join(notes)
    finish = steps[0] if len(steps) == 1 else _Finish(tuple(steps))  # one step: its own digest, as before
    return finish, "the model's output finished by " + ", then ".join(notes)


#: ``04_inference_render/grades/`` file of the ml render's learned detail filters.
DETAIL_FILE = "filters.json"


def _detail_filters(project: Project, key: str, steps, src, ref, fit, opts, through, *, force: bool):
    """The ml render's :class:`~core.infer.filterbank.FilterBank`: reused from :data:`DETAIL_FILE` when its
    recorded hash matches (``key`` and the steps before it), else fitted on the grade's frames through the
    model and ``steps`` and saved."""
    from core.infer.filterbank import FilterBank, fit_filter_bank
    from core.io.atomic import write_text_atomic
    from core.manifest import config_hash
    from core.validate.run import _evenly, _Seq, fit_pair_frames

    path = project.folder(4) / "grades" / DETAIL_FILE
    digest = config_hash({"fit": key, "after": [s.digest() for s in steps]})
    if not force and path.is_file():
        try:
            saved = json.loads(path.read_text("utf-8"))
            if saved.get("config_hash") == digest:
                return FilterBank.from_dict(saved["bank"], where=str(path))
        except (OSError, ValueError, KeyError, ParameterError):
            pass  # unreadable or another fit's: fit again
    msk = _Seq.of(fit["fit_masks"], "fit_masks", sequence=True) if fit["fit_masks"] is not None else None
    chosen = _evenly(src.numbers(fit["fit_frames"]), opts["fit_frames"])
    bank = fit_filter_bank(fit_pair_frames(src, ref, msk, chosen, through), seed=opts["seed"])
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps({"config_hash": digest, "frames": chosen, "bank": bank.to_dict()}) + "\n",
                      overwrite=True)
    return FilterBank.from_dict(json.loads(path.read_text("utf-8"))["bank"], where=str(path))


@dataclasses.dataclass(frozen=True)
class _Finish:
    """The ml render's finishing steps (a LUT, learned filters) as one ``grade`` for
    :func:`~core.infer.files.infer_files`: applied in order to the model's ACEScg ``HWC`` output."""

    steps: tuple

    @property
    def method(self) -> str:
        return "+".join(s.method for s in self.steps)

    def apply(self, pixels):
        for step in self.steps:
            pixels = step.apply(pixels)
        return pixels

    def digest(self) -> str:
        import hashlib

        return hashlib.sha256("\n".join(s.digest() for s in self.steps).encode("ascii")).hexdigest()


def _fit_pairs(project: Project) -> dict[str, str]:
    """The training pairs (stage 1's selected source frames, stage 2's aligned references and masks) as
    ``fit_*`` arguments of :func:`core.validate.run_validation` / :func:`core.validate.render_method`."""
    from core.align.files import align_outputs
    from core.io import format_frames
    from core.pairs import load_pairs

    aligned = align_outputs(project.folder(2))
    trained = [s for s, _ in load_pairs(project.folder(1)).selected_pairs()]
    return {"fit_sources": project.source, "fit_references": aligned["aligned"], "fit_masks": aligned["mask"],
            "fit_frames": format_frames(trained, sep=",")}


def _validation_setup(project: Project) -> tuple[dict[str, Any], dict[str, Any]]:
    """Stage 5's :func:`core.validate.run_validation` arguments (but ``force`` and ``progress``), and what its
    record says: ``params`` (the stage's, with the seed), ``name`` (stage 4's render among the candidates),
    ``frames`` (the aligned frames validated) and ``damaged`` (stage 1's damaged frames)."""
    from core.align.files import align_outputs
    from core.io import format_frames
    from core.pairs import load_pairs
    from core.validate.baselines import parse_baselines
    from core.validate.params import VALIDATE_PARAMS

    pairs = load_pairs(project.folder(1))
    align = project.folder(2)
    records = json.loads((align / "manifest.json").read_text("utf-8"))["frames"]
    frames = sorted(int(k) for k in records)
    shots = {f"shot {sh.index + 1}": f"{sh.first}-{sh.last}" for sh in pairs.shots}
    rows = [{"stage": st.stage.folder, "status": st.state, "summary": ", ".join(
        f"{k.replace('_', ' ')} {_fmt(v)}" for k, v in st.counts.items())} for st in project_status(project)[:4]]
    params = {**project.params(5), "seed": project.seed}
    # stage 4's render is the candidate, named for what it rendered (a rendered baseline leaves the baselines)
    method = render_method_of(project)
    name = RENDERED_SOURCE if method == "source" else method
    baselines = [b for b in parse_baselines(VALIDATE_PARAMS.resolve(params)["baselines"]) if b != name]
    outputs = align_outputs(align)
    refs, masks = outputs["aligned"], outputs["mask"]
    damaged = [m.source_frame for m in pairs.matches if m.damaged]  # stage 1: matched, but with low similarity
    args = dict(sources=project.source, references=refs, masks=masks,
                candidates={name: str(project.folder(4) / RESTORED)}, output_dir=project.folder(5),
                frames=format_frames(frames, sep=","), shots=shots, damaged=damaged,
                params={**params, "baselines": ",".join(baselines)}, **_fit_pairs(project), stages=rows,
                experiments=project.notes, title=f"{project.name}: validation",
                input_colorspace=project.colorspaces["source"])
    return args, {"params": params, "name": name, "frames": frames, "damaged": damaged}


def _run_validation(project: Project, *, fresh: bool, force: bool, progress) -> tuple[dict, dict, dict]:
    from core.validate import run_validation

    args, setup = _validation_setup(project)
    name, params = setup["name"], setup["params"]
    result = run_validation(**args, force=fresh, progress=lambda d, t, f: progress(d, t, f"frame {f}"))
    verdict = result.verdict
    counts = {"frames": len(setup["frames"]), "damaged": len(setup["damaged"])}
    headline = result.headline
    if verdict.get("recommend") not in (None, name):
        headline += f" To render it: reelkit restore run {project.path} --stages 4-5 --method winner"
    results = {"winner": verdict.get("winner"), "recommend": verdict.get("recommend"), **result.summary}
    return params, counts, {**results, "headline": headline}


RUNNERS: dict[int, Callable[..., tuple[dict, dict, dict]]] = {
    1: _run_curation, 2: _run_alignment, 3: _run_training, 4: _run_inference, 5: _run_validation,
}
