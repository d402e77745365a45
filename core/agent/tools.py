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
from core.agent.schema import object_schema
from core.params import Param, ParamSet

#: Arguments of the file commands that are not parameters of the operation (the CLI's positional
#: arguments and output options), plus the two that steer a writing call.
FILE_PARAMS = ParamSet("agent_files", [
    Param("input", str, None, "image file, sequence pattern (plate.####.exr) or video, inside the allowed roots"),
    Param("output", str, None, "output file name or pattern inside output_dir (default: the input's name)"),
    Param("frames", str, None, "frame range, e.g. 1001-1100, 1001-1100x2, 1,5,7-9 (default: every frame)"),
    Param("output_dir", str, None, "folder to write into, inside the allowed roots (created if missing)"),
    Param("force", bool, False, "redo and replace existing outputs (needs confirm with the plan's token)"),
    Param("plan_only", bool, True, "only check the call and return its plan (files read, written, replaced; "
          "frame count; token); false runs it"),
    Param("confirm", str, None, "the plan's token: required to run a destructive call (force over existing "
          "files) or a long one (more frames than the server's limit)"),
    Param("background", bool, False, "run as a background task: the call returns a task id at once (poll "
          "task_status, stop with task_cancel; the same call again resumes the frames done)"),
])
CONTROL = ("force", "plan_only", "confirm", "background")

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
    #: (values, given names, roots[, progress]) -> result; a writing tool's run takes the job's progress callback
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
    output = values.get("output") or default
    return output if os.path.isabs(output) else str(out_dir / output)


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
    return {"project": str(path), "stages": [s.to_dict() for s in project_status(project)]}


def dataset_status(path: Path) -> dict[str, Any]:
    """A dataset folder's stages as JSON (what ``reelkit dataset status`` prints)."""
    from core.dataset import dataset_status as status

    return {"folder": str(path), "stages": status(path)}


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
    from core.degrade.model import resolve_params

    resolve_params(None if values["preset"] == "none" else values["preset"], _effects(values, given))
    return _frame_plan("degrade", values, roots, os.path.basename(values["input"]))


def _effects(values, given) -> dict[str, Any]:
    """Only the effect values the caller gave: the rest come from the preset (as on the CLI)."""
    from core.degrade import DEGRADE_PARAMS

    return {p.name: values[p.name] for p in DEGRADE_PARAMS if p.name in given}


def _degrade_run(values, given, roots, progress=None) -> dict[str, Any]:
    from core.degrade import degrade_files

    out_dir = _path(values, "output_dir", roots)
    manifest = degrade_files(str(_path(values, "input", roots)), values["output"] or os.path.basename(values["input"]),
                             output_dir=out_dir, preset=None if values["preset"] == "none" else values["preset"],
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
    from core.infer import load_model
    from core.infer.files import default_output

    load_model(_model(values, roots))  # the model and its manifest exist and match, before any plan
    return _frame_plan("infer", values, roots, default_output(values["input"], values["frames"]))


def _infer_run(values, given, roots, progress=None) -> dict[str, Any]:
    from core.infer import INFER_PARAMS, infer_files

    manifest = infer_files(_model(values, roots), str(_path(values, "input", roots)),
                           output_dir=_path(values, "output_dir", roots), output=values["output"],
                           params={p.name: values[p.name] for p in INFER_PARAMS}, frames=values["frames"],
                           force=values["force"], input_colorspace=values["input_colorspace"], progress=progress)
    return _summary(manifest)


# -- palette report ---------------------------------------------------------------------------------------
_REPORT_FILES = ("swatches.png", "luma_vs_palette.png", "metrics.json", "manifest.json")


def _report_plan(values, given, roots) -> Plan:
    src = _path(values, "input", roots)
    if not src.is_file():
        from core.agent.schema import FieldError

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


def build_tools() -> dict[str, Tool]:
    """Every tool, by name."""
    from core.convert import CONVERT_PARAMS
    from core.degrade import DEGRADE_OUTPUT_PARAMS, DEGRADE_PARAMS
    from core.generate import FAMILIES
    from core.infer import INFER_PARAMS
    from core.infer.files import INFER_MODEL_PARAMS
    from core.palette.params import REPORT_PARAMS

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
        Tool("restore_status", "a restoration project's five stages: state, reason, counts, headline (reads only)",
             (FOLDER_PARAMS["project"],), ("project",), {"project": "read"},
             lambda v, g, r: restore_status(_path(v, "project", r), r)),
        Tool("dataset_status", "a dataset folder's stages: status, staleness, counts (reads only)",
             (FOLDER_PARAMS["folder"],), ("folder",), {"folder": "read"},
             lambda v, g, r: dataset_status(_path(v, "folder", r))),
        *(_generate_tool(name) for name in FAMILIES),
    ]
    return {t.name: t for t in tools}
