"""The agent's tools: each one's parameters are the command's own specs, its work the command's library call.

A :class:`Tool` names the :class:`~core.params.Param` objects its input
schema is made from (the CLI's specs: ``CONVERT_PARAMS``,
``DEGRADE_PARAMS``, ``INFER_PARAMS``, ``REPORT_PARAMS`` (palette), each generate
family's spec, ``COLORSPACE_PARAMS``; the arguments every file command
shares are :data:`FILE_PARAMS`), which of them are paths (checked against
the allowed roots), and for a writing tool a ``plan`` (the files read and
written, before anything runs) and a ``run`` calling the same library
function the CLI calls (:func:`core.convert.convert`,
:func:`core.degrade.degrade_files`, :func:`core.infer.infer_files`,
:func:`core.palette.files.report`, :func:`core.generate.files.generate_files`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from core.agent.plan import Plan
from core.agent.roots import Roots
from core.agent.schema import FieldError, ListParam, object_schema
from core.jobs import JOB_PARAMS, output_path
from core.params import Param, ParamSet

#: Arguments of the file commands that are not parameters of the operation (the CLI's positional
#: arguments and output options), plus the two that steer a writing call.
FILE_PARAMS = ParamSet("agent_files", [
    Param("input", str, None, "image file, sequence pattern (plate.####.exr) or video, inside the allowed roots"),
    Param("output", str, None, "output file name or pattern inside output_dir (default: the input's name)"),
    # the job spec (core.jobs), in the agent's words
    dataclasses.replace(JOB_PARAMS["frames"], label=None),
    dataclasses.replace(JOB_PARAMS["output_dir"], label=None,
                        help="folder to write into, inside the allowed roots (created if missing)"),
    dataclasses.replace(JOB_PARAMS["force"], label=None,
                        help="redo and replace existing outputs (needs confirm with the plan's token)"),
    Param("plan_only", bool, True, "only check the call and return its plan (files read, written, replaced; "
          "frame count; token); false runs it"),
    Param("confirm", str, None, "the plan's token: required to run a destructive call (force over existing "
          "files) or a long one (more frames than the server's limit)"),
    Param("background", bool, False, "run as a background task: the call returns a task id at once (poll "
          "task_status, stop with task_cancel; the same call again resumes the frames done)"),
])
CONTROL = ("force", "plan_only", "confirm", "background")

#: Path arguments of the commands that read a source and a reference (align, validate, restore init) and
#: the other inputs those commands name (the CLI's --source, --reference, --mask, --candidate...).
PAIR_PARAMS = ParamSet("agent_pairs", [
    Param("source", str, None, "degraded source: file, sequence pattern or video, inside the allowed roots"),
    Param("reference", str, None, "reference: file, sequence pattern or video, inside the allowed roots"),
    Param("mask", str, None, "validity masks (first channel > 0.5 = valid): file or sequence pattern"),
    ListParam("candidate", str, None, "results to validate, each NAME=PATTERN (e.g. ml=render/ml.####.exr)"),
    ListParam("shot", str, None, "shots for per-shot tables, each NAME=RANGE (e.g. opening=1001-1048; "
              "default: one shot)"),
    Param("damaged", str, None, "damaged source frames, also scored on their own (e.g. 1012,1040-1042)"),
    Param("fit_source", str, None, "training pairs' sources to fit the grades on (default: the validated "
          "frames, which the report flags as optimistic)"),
    Param("fit_reference", str, None, "training pairs' references (with fit_source)"),
    Param("fit_mask", str, None, "training pairs' validity masks"),
    Param("fit_range", str, None, "frame range of the training pairs to draw fit_frames from"),
    Param("experiments", str, None, "append this run to a notes/experiments.md and show its entries in the report"),
    Param("title", str, "reelkit validation", "report title"),
    ListParam("footage", str, None, "video files (anything OpenCV reads: mp4, mov, avi, mkv...), inside the "
              "allowed roots"),
    Param("stages", str, None, "comma-separated dataset stages to run (default all): shots, extract, filter, "
          "embed, dedup, cluster, caption, assemble"),
])

#: Arguments of the read-only status tools.
FOLDER_PARAMS = ParamSet("agent_folders", [
    Param("project", str, None, "restoration project folder (holds project.json), inside the allowed roots"),
    Param("folder", str, None, "dataset folder written by 'reelkit dataset run', inside the allowed roots"),
])


@dataclasses.dataclass(frozen=True)
class Tool:
    """One MCP tool: its parameters (from the specs), the path arguments, and what it does."""

    name: str
    description: str
    params: tuple[Param, ...]
    required: tuple[str, ...]
    #: argument name -> "read" (an input), "write" (an output folder) or "model" (a file, or a shipped
    #: model's name: checked by the tool's plan); "read" and "write" ones are checked before anything else
    paths: Mapping[str, str]
    #: (values, given names, roots[, progress]) -> result; a writing tool's run takes the task's progress callback
    #: ``progress(done, total, frame=None, note=None)``
    run: Callable[..., dict[str, Any]]
    plan: Callable[[dict[str, Any], set[str], Roots], Plan] | None = None

    @property
    def writes(self) -> bool:
        return self.plan is not None

    @property
    def by_name(self) -> dict[str, Param]:
        return {p.name: p for p in self.params}

    def input_schema(self) -> dict[str, Any]:
        return object_schema(self.params, self.required)


def _pick(spec: ParamSet, names: Iterable[str]) -> list[Param]:
    return [spec[n] for n in names]


def _except(spec: ParamSet, skip: Iterable[str] = ()) -> list[Param]:
    return [p for p in spec if p.name not in set(skip)]


def _colorspaces(*names: str) -> list[Param]:
    from core.io import COLORSPACE_PARAMS

    return _pick(COLORSPACE_PARAMS, names)


def _path(values: Mapping[str, Any], name: str, roots: Roots) -> Path:
    return roots.path(name, values[name])


def _output_pattern(values: Mapping[str, Any], out_dir: Path, default: str) -> str:
    return output_path(out_dir, values.get("output") or default)


def _frame_plan(tool: str, values: dict[str, Any], roots: Roots, output: str) -> Plan:
    """The plan of a per-frame file job: one task per frame (:func:`core.jobs.plan_frame_files`) plus its
    manifest."""
    from core.jobs import plan_frame_files
    from core.manifest import manifest_name

    src = _path(values, "input", roots)
    out_dir = _path(values, "output_dir", roots)
    tasks = plan_frame_files(str(src), _output_pattern(values, out_dir, output), frames=values["frames"])
    reads = list(dict.fromkeys(p for t in tasks for p in t.sources))
    writes = [p for t in tasks for p in t.targets] + [out_dir / manifest_name(values["frames"])]
    return Plan(tool, values, reads, [Path(os.path.abspath(p)) for p in writes], len(tasks), out_dir,
                note="frames already done by an earlier run with the same settings are kept (resume)")


def _summary(manifest) -> dict[str, Any]:
    frames = manifest.data["frames"]
    resumed = sum(1 for r in frames.values() if r.get("resumed"))
    return {"manifest": str(manifest.path), "frames": len(frames), "resumed": resumed,
            "status": manifest.data.get("status")}


# -- info, status -----------------------------------------------------------------------------------------
def _info(values, given, roots) -> dict[str, Any]:
    from core import io
    from core.io.describe import describe

    path = _path(values, "input", roots)
    if io.is_sequence_pattern(str(path)):
        roots.check("input", (io.sequence_path(str(path), n) for n in io.find_frames(str(path))))
    return describe(str(path), io.colorspace_option(values["input_colorspace"], name="input_colorspace"))


def restore_status(path: Path, roots: Roots) -> dict[str, Any]:
    """A restore project's stages as JSON (what ``reelkit restore status --json`` prints).

    The status lists the project's source and reference files (names, sizes, times): both must lie inside
    the roots too.
    """
    from core.pipeline.project import load_project, project_status

    project = load_project(path)
    for what in ("source", "reference"):
        roots.path("project", getattr(project, what))
    return {"project": str(path), "stages": [s.to_dict() for s in project_status(project)], **_reports(project)}


def _reports(project) -> dict[str, Any]:
    """Where a project's stage folders, validation report and metrics tables are, and stage 5's summary
    table (method -> metric -> mean) when it ran."""
    from core.pipeline.project import STAGES
    from core.validate.report import REPORT
    from core.validate.run import read_metrics

    validation = project.folder(5)
    files = {"report": validation / REPORT, "metrics_csv": validation / "metrics.csv",
             "metrics_json": validation / "metrics.json", "notes": project.notes}
    out: dict[str, Any] = {"folders": {s.key: str(project.folder(s)) for s in STAGES},
                           "reports": {k: str(p) for k, p in files.items() if p.is_file()}, "metrics": None}
    if files["metrics_json"].is_file():
        data = read_metrics(files["metrics_json"])
        out["metrics"] = {"summary": data.get("summary"), "verdict": data.get("verdict"),
                          "headline": data.get("headline")}
    return out


def dataset_status(path: Path) -> dict[str, Any]:
    """A dataset folder's stages as JSON (what ``reelkit dataset status`` prints), and its report's path."""
    from core.dataset import dataset_status as status

    report = path / "dataset" / "report" / "report.md"
    return {"folder": str(path), "stages": status(path), "report": str(report) if report.is_file() else None}


# -- convert ----------------------------------------------------------------------------------------------
def _convert_plan(values, given, roots) -> Plan:
    return _frame_plan("convert", values, roots, os.path.basename(values["input"]))


def _convert_params(values) -> dict[str, Any]:
    from core.convert import CONVERT_PARAMS
    from core.io import colorspace_option

    params = {p.name: values[p.name] for p in CONVERT_PARAMS if p.name != "source"}
    params["source"] = colorspace_option(values["input_colorspace"], name="input_colorspace") or "auto"
    return params


def _convert_run(values, given, roots, progress=None) -> dict[str, Any]:
    from core.convert import convert

    out_dir = _path(values, "output_dir", roots)
    manifest = convert(str(_path(values, "input", roots)), values["output"] or os.path.basename(values["input"]),
                       output_dir=out_dir, params=_convert_params(values), frames=values["frames"],
                       force=values["force"], progress=progress)
    return _summary(manifest)


# -- degrade ----------------------------------------------------------------------------------------------
def _degrade_plan(values, given, roots) -> Plan:
    from core.degrade.model import preset_name, resolve_params

    resolve_params(preset_name(values["preset"]), _effects(values, given))
    return _frame_plan("degrade", values, roots, os.path.basename(values["input"]))


def _effects(values, given) -> dict[str, Any]:
    """Only the effect values the caller gave: the rest come from the preset (as on the CLI)."""
    from core.degrade import DEGRADE_PARAMS

    return {p.name: values[p.name] for p in DEGRADE_PARAMS if p.name in given}


def _degrade_run(values, given, roots, progress=None) -> dict[str, Any]:
    from core.degrade import degrade_files, preset_name

    out_dir = _path(values, "output_dir", roots)
    manifest = degrade_files(str(_path(values, "input", roots)), values["output"] or os.path.basename(values["input"]),
                             output_dir=out_dir, preset=preset_name(values["preset"]),
                             params=_effects(values, given), seed=values["seed"], frames=values["frames"],
                             force=values["force"], pixel_type=values["pixel_type"],
                             compression=values["compression"], input_colorspace=values["input_colorspace"],
                             output_colorspace=values["output_colorspace"], progress=progress)
    return _summary(manifest)


# -- infer ------------------------------------------------------------------------------------------------
def _model(values, roots) -> str:
    """A shipped model's name as it is; a path checked against the roots."""
    model = values["model"]
    if os.sep in model or "/" in model or model.lower().endswith(".onnx"):
        return str(roots.path("model", model))
    return model


def _infer_plan(values, given, roots) -> Plan:
    from core.infer.files import default_output
    from core.train.torch_model import load_for

    load_for(_model(values, roots), values["provider"])  # the model, its manifest (and torch weights) match
    return _frame_plan("infer", values, roots, default_output(values["input"], values["frames"]))


def _infer_run(values, given, roots, progress=None) -> dict[str, Any]:
    from core.infer import INFER_PARAMS, infer_files
    from core.train.torch_model import load_for

    manifest = infer_files(load_for(_model(values, roots), values["provider"]), str(_path(values, "input", roots)),
                           output_dir=_path(values, "output_dir", roots), output=values["output"],
                           params={p.name: values[p.name] for p in INFER_PARAMS}, frames=values["frames"],
                           force=values["force"], input_colorspace=values["input_colorspace"], progress=progress)
    return _summary(manifest)


# -- palette report ---------------------------------------------------------------------------------------
_REPORT_FILES = ("swatches.png", "luma_vs_palette.png", "metrics.json", "manifest.json")


def _report_plan(values, given, roots) -> Plan:
    src = _path(values, "input", roots)
    if not src.is_file():
        raise FieldError("input", f"{values['input']}: no such file", code="not_found")
    out_dir = _path(values, "output_dir", roots)
    return Plan("palette_report", values, [src], [out_dir / n for n in _REPORT_FILES], 1, out_dir)


def _report_run(values, given, roots, progress=None) -> dict[str, Any]:
    from core.palette.files import report
    from core.palette.params import REPORT_PARAMS

    params = {p.name: values[p.name] for p in REPORT_PARAMS if p.name in given}
    return report(str(_path(values, "input", roots)), output_dir=_path(values, "output_dir", roots), params=params,
                  force=values["force"], input_colorspace=values["input_colorspace"])


# -- generate ---------------------------------------------------------------------------------------------
def _generate_tool(name: str) -> Tool:
    from core.generate import family
    from core.generate.files import GENERATE_RUN_PARAMS

    fam = family(name)
    own = {p.name for p in fam.spec}

    def split(values, given):
        run = {p.name: values[p.name] for p in GENERATE_RUN_PARAMS}
        return {k: values[k] for k in own if k in given}, run

    def plan(values, given, roots) -> Plan:
        from core.generate.files import output_names
        from core.manifest import manifest_name

        params, run = split(values, given)
        fam.spec.resolve(params)
        out_dir = _path(values, "output_dir", roots)
        stem = run["name"] or fam.name
        writes = [out_dir / f for i in range(1, run["count"] + 1) for f in output_names(stem, i, preview=run["preview"])]
        return Plan(f"generate_{name}", values, [], writes + [out_dir / manifest_name()], run["count"], out_dir)

    def run_(values, given, roots, progress=None) -> dict[str, Any]:
        from core.generate.files import generate_files

        params, run = split(values, given)
        manifest = generate_files(name, params, output_dir=_path(values, "output_dir", roots),
                                  force=values["force"], progress=progress, **run)
        return _summary(manifest)

    return Tool(f"generate_{name}", f"render {name} images ({fam.summary}): scene-linear ACEScg EXR, a params "
                "JSON beside each, optional sRGB PNG; same params and seed, same bytes",
                (*GENERATE_RUN_PARAMS, *fam.spec, *_pick(FILE_PARAMS, ("output_dir", *CONTROL))),
                ("output_dir",), {"output_dir": "write"}, run_, plan)


# -- align -----------------------------------------------------------------------------------------------
def _spaces(values) -> dict[str, str | None]:
    """The colour-space arguments a tool has, as the library takes them (``None``: auto)."""
    from core.io import colorspace_option

    return {k: colorspace_option(values[k], name=k) for k in ("input_colorspace", "reference_colorspace")
            if k in values}


def _given(spec: ParamSet, values, given) -> dict[str, Any]:
    """The values of ``spec`` the caller gave (the rest are the library's defaults, as on the CLI)."""
    return {p.name: values[p.name] for p in spec if p.name in given}


def _task_plan(tool: str, values, tasks, out_dir: Path, extra: Iterable[Path] = ()) -> Plan:
    """The plan of a per-frame job whose frames are ``tasks``: their outputs, the manifest and ``extra``."""
    from core.manifest import manifest_name

    reads = list(dict.fromkeys(p for t in tasks for p in t.sources))
    writes = [p for t in tasks for p in t.targets] + [out_dir / manifest_name(values["frames"]), *extra]
    return Plan(tool, values, reads, [Path(os.path.abspath(p)) for p in writes], len(tasks), out_dir,
                note="frames already done by an earlier run with the same settings are kept (resume)")


def _align_plan(values, given, roots) -> Plan:
    from core.align import ALIGN_FILE_PARAMS
    from core.align.files import plan_align_tasks, report_name

    opts = ALIGN_FILE_PARAMS.resolve(_given(ALIGN_FILE_PARAMS, values, given))
    out_dir = _path(values, "output_dir", roots)
    tasks = plan_align_tasks(str(_path(values, "source", roots)), str(_path(values, "reference", roots)), out_dir,
                             values["frames"], opts["report"])
    return _task_plan("align", values, tasks, out_dir, [out_dir / report_name(values["frames"])])


def _align_run(values, given, roots, progress=None) -> dict[str, Any]:
    from core.align import ALIGN_FILE_PARAMS, align_files

    manifest = align_files(str(_path(values, "source", roots)), str(_path(values, "reference", roots)),
                           output_dir=_path(values, "output_dir", roots),
                           params=_given(ALIGN_FILE_PARAMS, values, given), frames=values["frames"],
                           force=values["force"], progress=progress, **_spaces(values))
    summary = manifest.data["summary"]
    return {**_summary(manifest), "aligned": summary["converged"], "not_aligned": summary["failed"],
            "report": str(manifest.output_dir / manifest.data["report"])}


# -- palette encode ---------------------------------------------------------------------------------------
def _encode_plan(values, given, roots) -> Plan:
    from core.palette import ENCODE_PARAMS
    from core.palette.files import STABILITY_PARAMS, encode_tasks

    ENCODE_PARAMS.resolve(_given(ENCODE_PARAMS, values, given))
    STABILITY_PARAMS.resolve({"stability_threshold": values["stability_threshold"]})
    out_dir = _path(values, "output_dir", roots)
    return _task_plan("palette_encode", values, encode_tasks(str(_path(values, "input", roots)), out_dir,
                                                             values["frames"]), out_dir)


def _encode_run(values, given, roots, progress=None) -> dict[str, Any]:
    from core.palette import ENCODE_PARAMS
    from core.palette.files import encode_files

    manifest = encode_files(str(_path(values, "input", roots)), output_dir=_path(values, "output_dir", roots),
                            params=_given(ENCODE_PARAMS, values, given), frames=values["frames"],
                            force=values["force"], progress=progress,
                            stability_threshold=values["stability_threshold"], **_spaces(values))
    return {**_summary(manifest), "stability": manifest.data.get("stability")}


# -- validate ---------------------------------------------------------------------------------------------
def _named(values, field: str, roots: Roots | None = None) -> dict[str, str]:
    """A list of NAME=VALUE items as a mapping (:func:`core.validate.params.named_values`; values resolved
    inside the roots when ``roots``)."""
    from core.errors import ParameterError
    from core.validate.params import named_values

    try:
        out = named_values(values[field], field)
    except ParameterError as exc:
        raise FieldError(field, str(exc).removeprefix(f"{field} "), code="invalid") from None
    return {k: str(roots.path(field, v)) for k, v in out.items()} if roots else out


_VALIDATE_PATHS = ("source", "reference", "mask", "fit_source", "fit_reference", "fit_mask")


def _validate_args(values, roots) -> dict[str, Any]:
    """The keyword arguments of :func:`core.validate.run_validation` but params, progress and force."""
    paths = {k: None if values[k] is None else str(_path(values, k, roots)) for k in _VALIDATE_PATHS}
    return {"sources": paths["source"], "references": paths["reference"], "masks": paths["mask"],
            "candidates": _named(values, "candidate", roots), "shots": _named(values, "shot") or None,
            "damaged": values["damaged"], "fit_sources": paths["fit_source"],
            "fit_references": paths["fit_reference"], "fit_masks": paths["fit_mask"],
            "fit_frames": values["fit_range"], "title": values["title"], "frames": values["frames"],
            "experiments": None if values["experiments"] is None else str(_path(values, "experiments", roots)),
            "log_experiment": values["experiments"] is not None, **_spaces(values)}


def _validate_params(values, given, roots) -> dict[str, Any]:
    """The validation parameters given, resolved; a weight matte file resolved inside the roots."""
    from core.validate import VALIDATE_PARAMS
    from core.validate.run import WEIGHT_PASS

    params = VALIDATE_PARAMS.resolve(_given(VALIDATE_PARAMS, values, given))
    if params["weight_matte"] not in (None, WEIGHT_PASS):  # a matte file: within the roots, as the inputs
        params["weight_matte"] = str(_path(values, "weight_matte", roots))
    return params


def _validate_plan(values, given, roots) -> Plan:
    """Every file the validation writes (:func:`core.validate.plan_validation`)."""
    from core.validate import plan_validation

    out_dir = _path(values, "output_dir", roots)
    planned = plan_validation(**_validate_args(values, roots), output_dir=out_dir,
                              params=_validate_params(values, given, roots), force=values["force"])
    return Plan("validate", values, planned.reads, planned.writes, planned.frames, out_dir, note=planned.note)


def _validate_run(values, given, roots, progress=None) -> dict[str, Any]:
    from core.validate import run_validation

    result = run_validation(**_validate_args(values, roots), output_dir=_path(values, "output_dir", roots),
                            params=_validate_params(values, given, roots), force=values["force"], progress=progress)
    return {"headline": result.headline, "summary": result.summary, "report": str(result.report),
            "metrics_csv": str(result.metrics_csv), "metrics_json": str(result.metrics_json),
            "manifest": str(result.manifest)}


# -- restore init / run -----------------------------------------------------------------------------------
def _sequence_files(pattern: str) -> list[Path]:
    """The files of a sequence pattern, or the one file (a video, a still)."""
    from core import io

    if io.is_sequence_pattern(pattern):
        return [Path(io.sequence_path(pattern, n)) for n in io.find_frames(pattern)]
    return [Path(pattern)]


def _frame_count(pattern: str) -> int:
    from core import io

    return io.count_video_frames(pattern) if io.is_video_file(pattern) else len(_sequence_files(pattern))


def _init_plan(values, given, roots) -> Plan:
    from core.pipeline.project import INIT_PARAMS, NOTES_FILE, PROJECT_FILE, check_inputs

    INIT_PARAMS.resolve(_given(INIT_PARAMS, values, given))
    folder = _path(values, "project", roots)
    if (folder / PROJECT_FILE).exists() and not values["force"]:
        raise FieldError("project", f"{values['project']}: a project already exists (force=true replaces its "
                         "settings; the stage folders stay)", code="invalid")
    spaces = _spaces(values)
    src, ref = check_inputs(_path(values, "source", roots), _path(values, "reference", roots),
                            source_colorspace=spaces["input_colorspace"],
                            reference_colorspace=spaces["reference_colorspace"])
    writes = [folder / PROJECT_FILE] + [folder / NOTES_FILE] * (not (folder / NOTES_FILE).exists())
    return Plan("restore_init", values, _sequence_files(src) + _sequence_files(ref), writes, 0, folder)


def _init_run(values, given, roots, progress=None) -> dict[str, Any]:
    from core.pipeline.project import INIT_PARAMS, init_project

    opts = INIT_PARAMS.resolve(_given(INIT_PARAMS, values, given))
    project = init_project(_path(values, "project", roots), source=str(_path(values, "source", roots)),
                           reference=str(_path(values, "reference", roots)), seed=opts["seed"],
                           params={"training": {"steps": opts["steps"]}} if opts["steps"] is not None else None,
                           force=values["force"], **_spaces(values))
    return {"project": str(project.path), "source": project.source, "reference": project.reference,
            "seed": project.seed}


def _run_plan(values, given, roots) -> Plan:
    """The stages that will run: from the first chosen one not done (every chosen one with force; stage 4
    when a new method is set) to the last chosen, since a stage redone makes the ones after it stale. With
    ``frames``, that range of the one stage chosen (2 or 4), unless the stage is done."""
    from core import io
    from core.errors import ParameterError
    from core.pipeline.project import (FRAME_STAGES, PROJECT_FILE, STAGES, load_project, parse_stages,
                                       project_status, stage_files)

    folder = _path(values, "project", roots)
    project = load_project(folder)
    for what in ("source", "reference"):
        roots.path("project", getattr(project, what))
    chosen = parse_stages(values["stages"])
    if values["method"] is not None and 4 not in chosen:
        raise FieldError("method", f"sets what stage 4 renders: include stage 4 in stages (got {values['stages']})")
    status = project_status(project)
    due = [n for n in chosen if values["force"] or status[n - 1].state != "done"
           or (n == 4 and values["method"] is not None)]
    run = [n for n in chosen if due and n >= due[0]]
    writes = ([folder / PROJECT_FILE] if values["method"] is not None else []) + ([project.notes] if run else [])
    folders, clears = [], []
    for n in run:
        files = None if not _layout_known(n, run, values) else stage_files(project, n)
        if files is None:
            folders.append(project.folder(n))
        else:
            writes += files
            clears.append(project.folder(n))
    long = [f"trains a model (stage 3, {project.params(3).get('steps')} steps)"] if 3 in run else []
    frames = _frame_count(project.source) if run else 0
    if values["frames"] is not None:
        if len(chosen) != 1 or chosen[0] not in FRAME_STAGES:
            raise FieldError("frames", f"runs a frame range of one stage of {' or '.join(map(str, FRAME_STAGES))} "
                             f"(stages=\"2\" or \"4\"), got stages={values['stages']!r}")
        try:
            frames = len(list(io.as_frame_range(values["frames"]))) if run else 0
        except ParameterError as exc:
            raise FieldError("frames", str(exc)) from None
    later = [n for n in run if project.folder(n) in folders]
    return Plan("restore_run", values, _sequence_files(project.source) + _sequence_files(project.reference),
                writes, frames, folder, folders=folders, clears=clears, long_reasons=long,
                note=f"runs stage(s) {', '.join(f'{n} {STAGES[n - 1].title}' for n in run) or 'none'}; "
                "done stages are skipped, failed or interrupted ones resume"
                + (f"; the files of stage(s) {', '.join(map(str, later))} are known once the stages before them "
                   "have run (planned as folders)" if later else ""))


#: The stages whose file layout depends on an earlier stage's results (stage 2 aligns the frames stage 1
#: matched; stage 5 validates the frames stage 2 aligned, and needs stage 4's render).
_LAYOUT_NEEDS = {2: (1,), 5: (1, 2, 4)}


def _layout_known(n: int, run: list[int], values) -> bool:
    """Whether stage ``n``'s files can be listed before a restore_run call runs ``run``: not for a frame
    range (a farm task), not for stage 4 or 5 when the call sets a new render method, not when a stage its
    layout depends on runs before it in the same call."""
    if values["frames"] is not None or (values["method"] is not None and n >= 4):
        return False
    return not any(k in run and k < n for k in _LAYOUT_NEEDS.get(n, ()))


def _run_run(values, given, roots, progress=None) -> dict[str, Any]:
    from core.pipeline.project import STAGES, run_project, set_render_method

    folder = _path(values, "project", roots)
    if values["method"] is not None:
        set_render_method(folder, values["method"])

    def relay(stage: int, done: int, total: int, info: str = "") -> None:
        if progress is not None:
            progress(done, total, None, f"stage {stage} {STAGES[stage - 1].title}")

    status = run_project(folder, values["stages"], force=values["force"], frames=values["frames"], progress=relay)
    return {"project": str(folder), "stages": [s.to_dict() for s in status]}


# -- dataset run ------------------------------------------------------------------------------------------
def _footage(values, roots) -> list[Path]:
    files = [roots.path("footage", f) for f in values["footage"]]
    for given, path in zip(values["footage"], files):
        if not path.is_file():
            raise FieldError("footage", f"{given}: no such file", code="not_found")
    return files


def _dataset_stages(values) -> list[str] | None:
    return [s.strip() for s in values["stages"].split(",")] if values["stages"] else None


def _dataset_plan(values, given, roots) -> Plan:
    from core import io
    from core.dataset import DATASET_PARAMS
    from core.dataset.builder import plan_dataset

    DATASET_PARAMS.resolve(_given(DATASET_PARAMS, values, given))
    files = _footage(values, roots)
    out_dir = _path(values, "output_dir", roots)
    frames = sum(io.count_video_frames(f) for f in files)
    planned = plan_dataset(files, out_dir, _given(DATASET_PARAMS, values, given), stages=_dataset_stages(values),
                           force=values["force"])
    return Plan("dataset_run", values, files, planned.writes, frames, out_dir, folders=planned.within,
                clears=planned.clears, note=f"runs {', '.join(planned.stages) or 'no stage'} (stages up to date "
                "are skipped; one that leaves nothing for the next ends the run); the files of writes_within "
                "depend on what an earlier stage of this run finds")


def _dataset_run(values, given, roots, progress=None) -> dict[str, Any]:
    from core.dataset import DATASET_PARAMS, run_dataset

    def relay(stage: str, done: int, total: int, item=None) -> None:  # core.jobs.StageProgressFn
        if progress is not None:
            progress(done, total, None, stage)

    out_dir = _path(values, "output_dir", roots)
    summary = run_dataset(_footage(values, roots), out_dir, _given(DATASET_PARAMS, values, given),
                          stages=_dataset_stages(values), force=values["force"], progress=relay)
    return {"folder": str(out_dir), "stages": summary}


def build_tools() -> dict[str, Tool]:
    """Every tool, by name."""
    from core.convert import CONVERT_PARAMS
    from core.degrade import DEGRADE_OUTPUT_PARAMS, DEGRADE_PARAMS
    from core.generate import FAMILIES
    from core.infer import INFER_PARAMS
    from core.infer.files import INFER_MODEL_PARAMS
    from core.align import ALIGN_FILE_PARAMS
    from core.dataset import DATASET_PARAMS
    from core.palette import ENCODE_PARAMS
    from core.palette.files import STABILITY_PARAMS
    from core.palette.params import REPORT_PARAMS
    from core.pipeline.project import INIT_PARAMS, RUN_PARAMS
    from core.validate import VALIDATE_PARAMS

    files = _pick(FILE_PARAMS, ("input", "output", "frames"))
    out = _pick(FILE_PARAMS, ("output_dir", *CONTROL))
    paths = {"input": "read", "output_dir": "write"}
    tools = [
        Tool("info", "describe an image, sequence or video: size, channels, bit depth, colour space, "
             "per-channel min/max/mean, NaN/Inf counts (reads only)",
             (FILE_PARAMS["input"], *_colorspaces("input_colorspace")), ("input",), {"input": "read"}, _info),
        Tool("convert", "convert a file, sequence or video's frames between colour spaces and formats "
             "(output format from the output extension)",
             (*files, *_except(CONVERT_PARAMS, ("source",)), *_colorspaces("input_colorspace"), *out),
             ("input", "output_dir"), paths, _convert_run, _convert_plan),
        Tool("degrade", "add seeded film damage (grain, dust, scratches, fade, gauge, flicker, weave, digital "
             "defects) to a clean file or sequence; effect values override the preset",
             (*files, *DEGRADE_OUTPUT_PARAMS, *_colorspaces("input_colorspace", "output_colorspace"),
              *DEGRADE_PARAMS, *out),
             ("input", "output_dir"), paths, _degrade_run, _degrade_plan),
        Tool("infer", "restore a file or sequence with an ONNX model (tiled, resumable, scene-linear ACEScg EXR)",
             (INFER_MODEL_PARAMS["model"], *files, *INFER_PARAMS, *_colorspaces("input_colorspace"), *out),
             ("input", "output_dir"), {**paths, "model": "model"}, _infer_run, _infer_plan),
        Tool("palette_report", "fit a K-colour palette to one image: swatches.png, luma_vs_palette.png and "
             "metrics.json (ΔE error, what luma merges)",
             (FILE_PARAMS["input"], *_except(REPORT_PARAMS, ("output", "shared")),
              *_colorspaces("input_colorspace"), *out),
             ("input", "output_dir"), paths, _report_run, _report_plan),
        Tool("align", "align a reference (DVD, telecine, other print) to a degraded source, frame by frame: "
             "aligned/ref.####.exr, mask/, residual/, report/ PNGs and report.csv; a frame that cannot be "
             "aligned is reported, not guessed",
             (*_pick(PAIR_PARAMS, ("source", "reference")), FILE_PARAMS["frames"], *ALIGN_FILE_PARAMS,
              *_colorspaces("input_colorspace", "reference_colorspace"), *out),
             ("source", "reference", "output_dir"), {"source": "read", "reference": "read", "output_dir": "write"},
             _align_run, _align_plan),
        Tool("palette_encode", "fit a palette per frame (or one for the shot) and encode a file, sequence or "
             "video: <stem>.####.exr (reconstruction + palette_index, palette_gradient, palette_distance "
             "layers) and packs/<stem>.####.npz",
             (FILE_PARAMS["input"], FILE_PARAMS["frames"], *_except(ENCODE_PARAMS, ("output",)), *STABILITY_PARAMS,
              *_colorspaces("input_colorspace"), *out),
             ("input", "output_dir"), paths, _encode_run, _encode_plan),
        Tool("validate", "compare restorations with the reference: classic baselines (grade fits, dust busting, "
             "denoise), PSNR/SSIM/ΔE2000/flicker per frame and per shot, metrics.csv, metrics.json, report.html",
             (*_pick(PAIR_PARAMS, ("source", "reference", "candidate", "mask")), FILE_PARAMS["frames"],
              *_pick(PAIR_PARAMS, ("shot", "damaged", "fit_source", "fit_reference", "fit_mask", "fit_range",
                                   "experiments", "title")),
              *VALIDATE_PARAMS, *_colorspaces("input_colorspace", "reference_colorspace"), *out),
             ("source", "reference", "output_dir"),
             {**{k: "read" for k in _VALIDATE_PATHS}, "weight_matte": "read", "experiments": "write",
              "output_dir": "write"},
             _validate_run, _validate_plan),
        Tool("restore_init", "create a restoration project: PROJECT/project.json (inputs, seed, every stage's "
             "parameters), the five stage folders and notes/experiments.md",
             (FOLDER_PARAMS["project"], *_pick(PAIR_PARAMS, ("source", "reference")), *INIT_PARAMS,
              *_colorspaces("input_colorspace", "reference_colorspace"), *_pick(FILE_PARAMS, CONTROL[:3])),
             ("project", "source", "reference"), {"project": "write", "source": "read", "reference": "read"},
             _init_run, _init_plan),
        Tool("restore_run", "run a restoration project's stages in order (curation, alignment, training, "
             "inference, validation), skipping those done; training needs confirming; long: use background",
             (FOLDER_PARAMS["project"], *RUN_PARAMS, *_pick(FILE_PARAMS, CONTROL)),
             ("project",), {"project": "write"}, _run_run, _run_plan),
        Tool("dataset_run", "build a training set from footage: shots, frames, quality filter, embeddings, "
             "dedup, clusters, captions, assembly with a train/val split by shot; each stage resumes",
             (PAIR_PARAMS["footage"], PAIR_PARAMS["stages"], *DATASET_PARAMS, *out),
             ("footage", "output_dir"), {"footage": "read", "output_dir": "write"}, _dataset_run, _dataset_plan),
        Tool("restore_status", "a restoration project's five stages: state, reason, counts, headline (reads only)",
             (FOLDER_PARAMS["project"],), ("project",), {"project": "read"},
             lambda v, g, r: restore_status(_path(v, "project", r), r)),
        Tool("dataset_status", "a dataset folder's stages: status, staleness, counts (reads only)",
             (FOLDER_PARAMS["folder"],), ("folder",), {"folder": "read"},
             lambda v, g, r: dataset_status(_path(v, "folder", r))),
        *(_generate_tool(name) for name in FAMILIES),
    ]
    return {t.name: t for t in tools}
