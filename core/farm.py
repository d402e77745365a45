"""Farm job templates: a reelkit job cut into chunks of frames, as Open Job Description, Deadline or OpenCue files.

A farm runs the same chunked commands a person would type: every task of
a job is ``reelkit COMMAND ... --frames A-B``, a call that is idempotent,
atomic per frame and recorded in its own manifest
(``manifest.frames-A-B.json``, :mod:`core.manifest`), so tasks of one job
run on any machines that see the same files, in any order, and a task run
twice redoes nothing. :func:`frame_job` and :func:`restore_job` turn a job into
:class:`FarmStep` s (``reelkit farm export`` reads a command line into one,
:mod:`core.cli.farm`); :func:`export_farm_job` writes them for a farm manager
(:data:`FARM_FORMATS`):

- ``openjd``: ``job.template.json``, an Open Job Description job template
  (``jobtemplate-2023-09``): one step per :class:`FarmStep`, a chunked step
  with a STRING task parameter ``Frames`` holding each chunk's range, steps
  chained by ``dependencies``, the executable a job parameter ``Reelkit``
  (default ``reelkit``). ``openjd run job.template.json --step NAME`` runs a
  step on this machine (openjd-cli).
- ``deadline``: per step ``NN_STEP.job_info.job`` + ``NN_STEP.plugin_info.job``
  for Deadline's CommandLine plugin (``Frames`` and ``ChunkSize`` in the job
  info, ``--frames <STARTFRAME>-<ENDFRAME>`` in the arguments), submitted in
  order, each depending on the one before, by ``submit_deadline.sh``
  (``deadlinecommand -SubmitMultipleJobs -dependent``).
- ``opencue``: ``job.cue.xml``, an OpenCue job spec (the ``cjsl-1.13``
  document ``cuerun``/``pycuerun`` submit): one layer per step with ``range``,
  ``chunk`` and ``#FRAME_START#-#FRAME_END#`` in its command, layers chained
  by ``LAYER_ON_LAYER`` dependencies.

Jobs:

- a reelkit per-frame command line (``infer --model M plate.####.exr
  --output-dir out``; any command with ``--frames``): one step, its input's
  frames (or the ``--frames`` given) cut into chunks;
- a restoration project (its folder, or ``restore run PROJECT --stages
  2-5``): one step per stage; stages 2 (alignment) and 4 (inference render)
  in chunks over the source's frames (``reelkit restore run PROJECT --stages
  4 --frames A-B``: :func:`core.pipeline.project.run_project`), the others
  one task each, a stage after a chunked one first completing it
  (``--stages 4-5``).

Paths in the job that exist here are written absolute (farm machines run
in their own working folders): the files must be seen under the same paths
on the farm (shared storage, or the farm manager's path mapping).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from core.errors import ParameterError

#: The placeholder of a chunk's frame range in a step's arguments.
FRAMES = "{frames}"
#: Stages of a restoration project a farm runs in chunks of frames.
CHUNKED_STAGES = (2, 4)


@dataclasses.dataclass(frozen=True)
class FarmStep:
    """One step of a farm job: ``reelkit`` + ``args`` (:data:`FRAMES` standing for a chunk's range), run once
    per chunk of ``frames`` (``()``: one task, no range), after the step named ``after``."""

    name: str
    args: tuple[str, ...]
    frames: tuple[int, ...] = ()
    after: str | None = None

    def chunks(self, size: int) -> list[str]:
        """The ranges of the step's tasks: ``frames`` in order, ``size`` at a time (``[]``: one task)."""
        from core.io import format_frames

        return [format_frames(self.frames[i:i + size], sep=",") for i in range(0, len(self.frames), size)]

    def command(self, frames: str | None = None) -> list[str]:
        """The arguments of one task (``frames``: its range)."""
        return [frames if a == FRAMES else a for a in self.args] if frames is not None else list(self.args)


@dataclasses.dataclass(frozen=True)
class FarmJob:
    """A job for a farm: its name, steps in order and chunk size (frames per task)."""

    name: str
    steps: tuple[FarmStep, ...]
    chunk: int

    def tasks(self) -> list[tuple[str, list[str]]]:
        """``(step name, arguments)`` of every task, in order: what the farm runs."""
        return [(s.name, s.command(r)) for s in self.steps for r in (s.chunks(self.chunk) or [None])]


def absolute_paths(argv: Sequence[str], cwd: str | os.PathLike) -> list[str]:
    """A reelkit command line's arguments with the paths that exist under ``cwd`` (files, folders, sequence
    patterns with a frame on disk) and the ``--output-dir`` value made absolute (farm machines run in their own
    working folders); the command's own words (``restore run``, ``palette encode``) are kept."""
    from core import io

    argv, here = list(argv), Path(cwd)
    out = []
    names = 2 if argv and argv[0] in ("restore", "palette", "dataset") else 1
    for i, token in enumerate(argv):
        path = here / token
        is_dir_value = i > 0 and argv[i - 1] in ("--output-dir", "-o")
        if i < names or token.startswith("-") and not is_dir_value:
            out.append(token)
            continue
        exists = path.exists() or (io.is_sequence_pattern(token) and _has_frames(str(path)))
        out.append(os.path.abspath(path) if is_dir_value or exists else token)
    return out


def _has_frames(pattern: str) -> bool:
    from core import io
    from core.errors import SequenceError

    try:
        return bool(io.find_frames(pattern))
    except SequenceError:
        return False


def job_name(text: str) -> str:
    """A name every farm manager takes (letters, digits, ``._-``; OpenCue's NMTOKEN), at most 64 characters."""
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in text).strip("_")
    return (safe or "reelkit")[:64]


def check_chunk(chunk: Any) -> int:
    """``chunk`` (frames per farm task) checked: an integer >= 1."""
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ParameterError(f"--chunk {chunk!r}: expected an integer >= 1 (frames per farm task)")
    return chunk


def frame_job(argv: Sequence[str], *, command: str, source: str, frames: str | None, chunk: int) -> FarmJob:
    """One step running the per-frame command ``argv`` (``reelkit`` left out; no ``--frames``) in chunks over the
    frames of its input ``source`` (all of them, or ``frames``). A missing input raises its own error
    (:class:`~core.errors.ImageReadError`, :class:`~core.errors.SequenceError`); a still is one task."""
    from core import io
    from core.jobs import plan_frame_files

    check_chunk(chunk)
    sequence = bool(frames) or io.is_sequence_pattern(source) or io.is_video_file(source)
    planned = plan_frame_files(source, "farm.####.exr" if sequence else "farm.exr", frames=frames)
    numbers = tuple(t.frame for t in planned if t.frame is not None)
    rest = list(argv)
    rest += [] if "--quiet" in rest or "-q" in rest else ["--quiet"]
    step = FarmStep(job_name(command.replace(" ", "_")), tuple(rest + (["--frames", FRAMES] if numbers else [])),
                    numbers)
    return FarmJob(job_name(f"reelkit_{command}_{Path(source).name}"), (step,), chunk)


def restore_job(project_dir: str | os.PathLike, *, stages: str | None, chunk: int) -> FarmJob:
    """One step per stage of a restoration project (``stages``: 1-5 by default); stages 2 and 4 in chunks over
    the source's frames, a stage after a chunked one first completing it (``--stages 4-5``), and a last
    chunked stage completed by a task of its own. A folder that is not a project raises
    :class:`~core.errors.ImageReadError`."""
    from core import io
    from core.pipeline.project import STAGES, load_project, parse_stages

    check_chunk(chunk)
    project = load_project(project_dir)
    chosen = parse_stages(stages)
    source = project.source
    frames = tuple(io.resolve_video_frames(source) if io.is_video_file(source) else io.resolve_frames(source))
    base = ("restore", "run", os.path.abspath(project.path), "--quiet", "--stages")
    steps: list[FarmStep] = []
    for n in chosen:
        name = f"stage{n}_{STAGES[n - 1].key}"
        after = steps[-1].name if steps else None
        if n in CHUNKED_STAGES:
            steps.append(FarmStep(name, (*base, str(n), "--frames", FRAMES), frames, after))
        else:
            first = n - 1 if n - 1 in CHUNKED_STAGES and n - 1 in chosen else n
            steps.append(FarmStep(name, (*base, f"{first}-{n}" if first != n else str(n)), (), after))
    if chosen[-1] in CHUNKED_STAGES:  # the last stage's chunks: one task completes it (stage.json, manifest)
        n = chosen[-1]
        steps.append(FarmStep(f"stage{n}_complete", (*base, str(n)), (), steps[-1].name))
    return FarmJob(job_name(f"reelkit_restore_{project.name}"), tuple(steps), chunk)


# --------------------------------------------------------------------------- writers


def openjd_template(job: FarmJob) -> dict[str, Any]:
    """``job`` as an Open Job Description job template (``jobtemplate-2023-09``), a JSON-able mapping."""
    steps = []
    for s in job.steps:
        args = ["{{Task.Param.Frames}}" if a == FRAMES else a for a in s.args]
        step: dict[str, Any] = {"name": s.name,
                                "script": {"actions": {"onRun": {"command": "{{Param.Reelkit}}", "args": args}}}}
        chunks = s.chunks(job.chunk)
        if chunks:
            step["parameterSpace"] = {"taskParameterDefinitions": [{"name": "Frames", "type": "STRING",
                                                                    "range": chunks}]}
        if s.after:
            step["dependencies"] = [{"dependsOn": s.after}]
        steps.append(step)
    return {"specificationVersion": "jobtemplate-2023-09", "name": job.name,
            "parameterDefinitions": [{"name": "Reelkit", "type": "STRING", "default": "reelkit",
                                      "description": "the reelkit executable on the farm machines"}],
            "steps": steps}


def _contiguous(step: FarmStep, size: int, fmt: str) -> None:
    """Deadline and OpenCue give a task its first and last frame: a chunk must have no gap."""
    for r in step.chunks(size):
        if "," in r or "x" in r:
            raise ParameterError(f"farm export --format {fmt}: step {step.name}'s chunk {r} has gaps; its tasks get "
                                 "a first and last frame only (use --format openjd, or --frames without gaps)")


def _write_openjd(job: FarmJob, folder: Path) -> dict[str, str]:
    return {"job.template.json": json.dumps(openjd_template(job), indent=2) + "\n"}


def _quote(args: Sequence[str]) -> str:
    return shlex.join(args)


def _write_deadline(job: FarmJob, folder: Path) -> dict[str, str]:
    files: dict[str, str] = {}
    pairs = []
    for i, s in enumerate(job.steps, 1):
        _contiguous(s, job.chunk, "deadline")
        frames = ",".join(s.chunks(len(s.frames) or 1)) if s.frames else "0"
        info = {"Plugin": "CommandLine", "Name": f"{job.name} {s.name}", "BatchName": job.name,
                "Frames": frames, "ChunkSize": str(job.chunk if s.frames else 1)}
        args = s.command("<STARTFRAME>-<ENDFRAME>") if s.frames else s.command()
        plugin = {"Executable": "reelkit", "Arguments": _quote(args), "Shell": "bash", "ShellExecute": "True"}
        stem = f"{i:02d}_{s.name}"
        files[f"{stem}.job_info.job"] = "".join(f"{k}={v}\n" for k, v in info.items())
        files[f"{stem}.plugin_info.job"] = "".join(f"{k}={v}\n" for k, v in plugin.items())
        pairs.append(f"-job {stem}.job_info.job {stem}.plugin_info.job")
    files["submit_deadline.sh"] = ("#!/bin/sh\n# each job waits for the one before (reelkit farm export)\n"
                                   'cd "$(dirname "$0")" && deadlinecommand -SubmitMultipleJobs -dependent '
                                   + " ".join(pairs) + "\n")
    return files


def opencue_spec(job: FarmJob, *, show: str = "reelkit", shot: str = "farm", user: str = "reelkit") -> str:
    """``job`` as an OpenCue job spec (XML, ``cjsl-1.13``): one layer per step, dependencies layer on layer."""
    import xml.etree.ElementTree as ET

    spec = ET.Element("spec")
    for tag, text in (("show", show), ("shot", shot), ("user", user)):
        ET.SubElement(spec, tag).text = text
    el = ET.SubElement(spec, "job", name=job.name)
    ET.SubElement(el, "paused").text = "False"
    ET.SubElement(el, "maxretries").text = "2"
    layers = ET.SubElement(el, "layers")
    for s in job.steps:
        _contiguous(s, job.chunk, "opencue")
        layer = ET.SubElement(layers, "layer", name=s.name, type="Render")
        args = s.command("#FRAME_START#-#FRAME_END#") if s.frames else s.command()
        ET.SubElement(layer, "cmd").text = _quote(["reelkit", *args])
        ET.SubElement(layer, "range").text = ",".join(s.chunks(len(s.frames))) if s.frames else "1"
        ET.SubElement(layer, "chunk").text = str(job.chunk if s.frames else 1)
        services = ET.SubElement(layer, "services")
        ET.SubElement(services, "service").text = "shell"
    after = [s for s in job.steps if s.after]
    if after:
        depends = ET.SubElement(spec, "depends")
        for s in after:
            d = ET.SubElement(depends, "depend", type="LAYER_ON_LAYER", anyframe="False")
            for tag, text in (("depjob", job.name), ("deplayer", s.name), ("onjob", job.name), ("onlayer", s.after)):
                ET.SubElement(d, tag).text = text
    ET.indent(spec)
    return ('<?xml version="1.0"?>\n<!DOCTYPE spec PUBLIC "SPI Cue Specification Language" '
            '"http://localhost:8080/spcue/dtd/cjsl-1.13.dtd">\n' + ET.tostring(spec, encoding="unicode") + "\n")


def _write_opencue(job: FarmJob, folder: Path) -> dict[str, str]:
    return {"job.cue.xml": opencue_spec(job)}


#: ``--format`` -> the files it writes (name -> text) for a :class:`FarmJob`.
FARM_FORMATS: dict[str, Callable[[FarmJob, Path], dict[str, str]]] = {
    "openjd": _write_openjd, "deadline": _write_deadline, "opencue": _write_opencue,
}


def export_farm_job(job: FarmJob, *, format: str, output_dir: str | os.PathLike,
                    force: bool = False) -> list[Path]:
    """Write ``job`` for the farm manager ``format`` (:data:`FARM_FORMATS`) into ``output_dir``; returns the files.

    Everything is checked before anything is written: a bad format, a chunk
    with gaps for a manager that takes first-last ranges, or a file of these
    names already in ``output_dir`` (:class:`~core.errors.OutputExistsError`
    unless ``force``) leave the folder as it was.
    """
    from core.errors import OutputExistsError
    from core.io.atomic import write_text_atomic

    if format not in FARM_FORMATS:
        raise ParameterError(f"--format {format!r}: expected one of {', '.join(FARM_FORMATS)}")
    out = Path(output_dir)
    files = FARM_FORMATS[format](job, out)
    existing = [n for n in files if (out / n).exists()]
    if existing and not force:
        raise OutputExistsError(f"{out / existing[0]}: exists; use --force to replace the farm job's files")
    written = [write_text_atomic(out / name, text, overwrite=True) for name, text in files.items()]
    script = out / "submit_deadline.sh"
    if script in written:
        script.chmod(0o755)
    return written
