"""Align file sequences: the library behind ``reelkit align`` and the ``02_alignment`` stage.

For each frame, reads the degraded source and the reference of the same
frame number (any format :mod:`core.io` reads; frames not in ACEScg are
converted with :mod:`core.color`), runs :func:`core.align.align`, and
writes into ``output_dir``:

- ``aligned/ref.####.exr``: the reference on the source's pixel grid
  (scene-linear ACEScg, the source's size; EXR header
  ``reelkit/align/converged``, ``.../transform`` and ``.../reason``);
- ``mask/mask.####.exr``: validity, one channel ``Y``, 0 or 1 (all 0 for a
  frame that failed to align), colour space ``"raw"`` (data, not colour);
- ``residual/residual.####.exr``: ``Y``, the residual in robust
  representation units (:mod:`core.align.represent`), colour space ``"raw"``;
- ``report/report.####.png`` (``report=True``): before/after sheet
  (:func:`core.align.report_image`);
- ``report.csv``: one row per frame (:data:`REPORT_COLUMNS`);
- ``manifest.json``: inputs with sha256 (source and reference), parameters,
  timings and per frame the alignment record (:meth:`AlignResult.record`).

A single source file pairs with a single reference file (names without a
frame number: ``aligned/ref.exr``...). Source and reference may each be a
sequence or a video file (frames numbered by :mod:`core.io.video`'s rule,
the 0-based decode index). By default reference frames pair
with the source frames of the same number; ``pairs`` (a frame table, such
as stage 1's :meth:`core.pairs.PairManifest.mapping`) pairs each source
frame with another reference frame number instead — a telecine numbered
from 1, dropped or repeated frames — and leaves out source frames it maps
to ``None`` or does not list. Outputs are always numbered by source frame. A frame that fails to align is not
an error: its record says ``converged: false`` with the reason, its mask
is zero, and the job goes on. Frames done by an earlier run with the same
configuration are skipped (resume) unless ``force``; outputs that exist but
were not made by such a run raise :class:`~core.errors.OutputExistsError`.
Split frame ranges (``frames``) keep their own ``manifest.frames-A-B.json``
and ``report.frames-A-B.csv``.
"""

from __future__ import annotations

import csv
import io as _stdio
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from core.align.geometry import decompose
from core.align.model import WORKING_COLORSPACE, align
from core.align.params import ALIGN_PARAMS
from core.errors import ImageError, ImageReadError, ParameterError, SequenceError
from core.formats import FORMATS
from core.io import EXR_OUTPUT_PARAMS
from core.jobs import FrameTask, ProgressFn, plan_frame_files, run_frame_job
from core.manifest import Manifest
from core.params import Param, ParamSet

#: Format tag of the per-frame record and the report.
RECORD_FORMAT = FORMATS["reelkit.align"].tag
#: Colour space written into the mask and residual files: data, not colour.
DATA_COLORSPACE = "raw"

#: Output options of :func:`align_files` (CLI options / node knobs) besides :data:`ALIGN_PARAMS`.
ALIGN_OUTPUT_PARAMS = ParamSet(
    "align_output",
    [
        *EXR_OUTPUT_PARAMS,
        Param("report", bool, True, "write a before/after PNG per frame into report/", label="Report images"),
    ],
)

#: Every parameter :func:`align_files` accepts.
ALIGN_FILE_PARAMS = ParamSet("align_files", [*ALIGN_PARAMS, *ALIGN_OUTPUT_PARAMS])

#: Columns of ``report.csv``.
REPORT_COLUMNS = ("frame", "converged", "reason", "valid_fraction", "residual_before", "residual_after",
                  "correlation", "flow_mean", "flow_max", "tx", "ty", "scale", "rotation_deg", "method", "motion",
                  "seconds")

#: Output folder and file stem of each output, per kind.
OUTPUTS = {"aligned": ("aligned", "ref", ".exr"), "mask": ("mask", "mask", ".exr"),
           "residual": ("residual", "residual", ".exr"), "report": ("report", "report", ".png")}


def align_outputs(folder: str | os.PathLike) -> dict[str, str]:
    """Sequence patterns of what :func:`align_files` writes into ``folder``, per kind of :data:`OUTPUTS`.

    ``{"aligned": "FOLDER/aligned/ref.####.exr", "mask": "FOLDER/mask/mask.####.exr",
    "residual": ..., "report": "FOLDER/report/report.####.png"}``, numbered by
    source frame (more digits past 9999, :func:`align_output`). Consumers of
    stage 2 (training, validation) take these rather than rebuilding the names.
    """
    out = Path(folder)
    return {kind: str(out / sub / f"{stem}.####{ext}") for kind, (sub, stem, ext) in OUTPUTS.items()}


def align_output(folder: str | os.PathLike, kind: str, frame: int | None) -> Path:
    """The file of ``kind`` (a key of :data:`OUTPUTS`) for source frame ``frame`` in ``folder``.

    Numbered with at least 4 digits (``aligned/ref.1001.exr``,
    ``aligned/ref.12345.exr``); ``frame=None`` names a single file's output
    (``aligned/ref.exr``).
    """
    sub, stem, ext = OUTPUTS[kind]
    name = f"{stem}{ext}" if frame is None else f"{stem}.{frame:0{max(4, len(str(frame)))}d}{ext}"
    return Path(folder) / sub / name


def plan_align_tasks(source: str, reference: str, out_dir: Path, frames: str | None, report: bool,
                     pairs: Mapping[int, int | None] | None = None) -> list[FrameTask]:
    """The frames :func:`align_files` aligns, one :class:`~core.jobs.FrameTask` each (source + reference in;
    aligned reference, mask, residual and, with ``report``, the report PNG out), checked before any work:
    a file/sequence mismatch, a missing reference frame or an output that is an input raise."""
    from core import io

    seq = bool(frames) or io.is_sequence_pattern(source) or io.is_video_file(source)
    primary = align_outputs(out_dir)["aligned"] if seq else str(align_output(out_dir, "aligned", None))
    tasks = plan_frame_files(source, primary, frames=frames)
    ref_video = io.is_video_file(reference)
    ref_seq = ref_video or io.is_sequence_pattern(reference) or (
        seq and io.sequence_pattern(reference) is not None and not os.path.isfile(reference))
    if seq and not ref_seq:
        raise ParameterError(f"source {source} is a sequence: the reference must be one too "
                             f"(a pattern such as ref.####.png, or a video), got {reference}")
    if not seq and ref_seq:
        raise ParameterError(f"source {source} is a single file: the reference must be one too, got {reference}")
    ref_pattern = io.sequence_pattern(reference) if seq and not ref_video else None
    ref_count = io.count_video_frames(reference) if ref_video else None
    if seq and not ref_video and ref_pattern is None:
        raise ParameterError(f"reference {reference} has no frame number to pair with the source's frames")
    if pairs is not None:
        if not seq:
            raise ParameterError(f"pairs: a frame table needs sequences, but source {source} is a single file")
        tasks = [t for t in tasks if pairs.get(t.frame) is not None]
        if not tasks:
            raise ParameterError(f"pairs: no source frame of {source}"
                                 f"{' in ' + frames if frames else ''} has a reference frame in the frame table")
    out = []
    for t in tasks:
        ref_frame = t.frame if pairs is None else int(pairs[t.frame])
        ref = Path(io.sequence_path(ref_pattern, ref_frame)) if ref_pattern else Path(reference)
        if ref_video and not 0 <= ref_frame < ref_count:
            raise SequenceError(f"{ref}: no frame {ref_frame} (the reference of source frame {t.frame}; "
                                f"the video has {ref_count} frames, 0-{ref_count - 1})")
        if not ref.is_file():
            raise ImageReadError(f"{ref}: no such file (the reference of source frame {t.frame})"
                                 if seq else f"{ref}: no such file")
        extra = [align_output(out_dir, k, t.frame) for k in ("mask", "residual")]
        if report:
            extra.append(align_output(out_dir, "report", t.frame))
        target = align_output(out_dir, "aligned", t.frame)
        for p in (target, *extra):
            if p.resolve() in (t.source.resolve(), ref.resolve()):
                raise ParameterError(f"output {p} is an input file: choose another --output-dir")
        out.append(FrameTask(t.key, t.frame, t.source, target, (ref,), tuple(extra), (ref_frame,)))
    return out


def _read(path: Path, frame: int | None, colorspace: str | None = None):
    from core import color, io

    img = io.read_frame(path, frame, colorspace=colorspace)
    space = img.colorspace
    if space != WORKING_COLORSPACE:
        img = color.convert_frame(img, WORKING_COLORSPACE)
    return img, space


def align_file_pair(task: FrameTask, values: Mapping[str, Any], *, input_colorspace: str | None = None,
                    reference_colorspace: str | None = None) -> dict[str, Any]:
    """Align one (source, reference) pair of ``task`` and write its outputs; returns the manifest record.

    ``input_colorspace`` / ``reference_colorspace``: the source's / reference's
    colour space (``None``: what :func:`core.io.read_image` finds); the
    record's ``from`` / ``reference_from`` are the ones used.
    """
    import time

    from core import io
    from core.align.report import report_image

    t0 = time.perf_counter()
    (src_file, src_frame), (ref_file, ref_frame) = task.reads[:2]
    src, src_space = _read(src_file, src_frame, input_colorspace)
    ref, ref_space = _read(ref_file, ref_frame, reference_colorspace)
    s_px, r_px = src.pixels, ref.pixels
    if s_px.shape[2] != r_px.shape[2]:
        if min(s_px.shape[2], r_px.shape[2]) < 3:
            raise ImageError(f"{task.source} has {s_px.shape[2]} channel(s), {task.extra_sources[0]} "
                             f"{r_px.shape[2]}: align needs the same layout (Y, RGB or RGBA)")
        s_px, r_px = s_px[..., :3], r_px[..., :3]  # RGB vs RGBA: align the colour, drop alpha
    result = align(s_px, r_px, params={k: values[k] for k in ALIGN_PARAMS.params})
    rec = result.record()
    attrs = {"reelkit/source": task.source.name, "reelkit/reference": task.extra_sources[0].name,
             "reelkit/align/converged": int(result.converged), "reelkit/align/reason": result.reason,
             "reelkit/align/transform": json.dumps(rec["transform"])}
    exr = {"pixel_type": values["pixel_type"], "compression": values["compression"], "overwrite": True}
    mask_path, residual_path = task.extra_targets[:2]
    io.write_image(task.target, result.warped, colorspace=WORKING_COLORSPACE, attributes=attrs, **exr)
    io.write_image(mask_path, result.mask, colorspace=DATA_COLORSPACE, attributes=attrs, **exr)
    io.write_image(residual_path, result.residual, colorspace=DATA_COLORSPACE, attributes=attrs, **exr)
    outputs = {"output": str(task.target), "mask": str(mask_path), "residual": str(residual_path)}
    if len(task.extra_targets) > 2:
        sheet = report_image(s_px, r_px, result)
        io.write_image(task.extra_targets[2], sheet.astype(np.float32) / 255.0, colorspace="srgb", bit_depth=8,
                       overwrite=True)
        outputs["report"] = str(task.extra_targets[2])
    rec["timings"]["total"] = round(time.perf_counter() - t0, 4)
    return {"input": str(task.source), "reference": str(ref_file), "reference_frame": ref_frame, **outputs,
            "frame": task.frame, "from": src_space, "reference_from": ref_space,
            "source_size": [src.width, src.height], "reference_size": [ref.width, ref.height],
            "format": RECORD_FORMAT, **rec}


def report_rows(manifest: Manifest) -> list[dict[str, Any]]:
    """One :data:`REPORT_COLUMNS` row per frame record of ``manifest`` (frame order)."""
    rows = []
    for key, rec in manifest.data["frames"].items():
        t = np.asarray(rec.get("transform", np.eye(3)), dtype=np.float64)
        d = decompose(t[:2, :2])
        rows.append({
            "frame": rec.get("frame", key) if rec.get("frame") is not None else key,
            "converged": rec.get("converged"), "reason": rec.get("reason", ""),
            "valid_fraction": rec.get("valid_fraction"), "residual_before": rec.get("residual_before"),
            "residual_after": rec.get("residual_after"), "correlation": rec.get("correlation"),
            "flow_mean": rec.get("flow_mean"), "flow_max": rec.get("flow_max"),
            "tx": round(float(t[0, 2]), 4), "ty": round(float(t[1, 2]), 4), "scale": round(d["scale"], 6),
            "rotation_deg": round(d["rotation_deg"], 5), "method": rec.get("method"), "motion": rec.get("motion"),
            "seconds": rec.get("timings", {}).get("total"),
        })
    return rows


def _write_report(manifest: Manifest) -> Path:
    from core.io.atomic import write_text_atomic

    buf = _stdio.StringIO()
    writer = csv.DictWriter(buf, fieldnames=REPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(report_rows(manifest))
    return write_text_atomic(manifest.output_dir / report_name(manifest.data["frame_range"]), buf.getvalue(),
                             overwrite=True)


def report_name(frame_range: str | None = None) -> str:
    """The name of the CSV report of a job over ``frame_range``, beside its manifest (``report.csv``,
    ``report.frames-1001-1010.csv``)."""
    from core.manifest import manifest_name

    return "report" + manifest_name(frame_range)[len("manifest"):-len(".json")] + ".csv"


def align_files(source_pattern: str, reference_pattern: str, *, output_dir: str | os.PathLike,
                params: Mapping[str, Any] | None = None, frames: str | None = None, force: bool = False,
                progress: ProgressFn | None = None, pairs: Mapping[int, int | None] | None = None,
                input_colorspace: str | None = None, reference_colorspace: str | None = None) -> Manifest:
    """Align a reference sequence (or file) to a source sequence (or file) into ``output_dir``.

    ``source_pattern`` / ``reference_pattern``: files or sequence patterns
    (``scan.####.exr``, ``dvd.%04d.png``); reference frames pair with the
    source frames of the same number, or as ``pairs`` says (source frame ->
    reference frame or ``None``; unlisted source frames are left out).
    ``params``: values over
    :data:`ALIGN_FILE_PARAMS` (alignment and output options). ``frames``:
    a range such as ``"1001-1100"``. ``input_colorspace`` /
    ``reference_colorspace``: the source's / reference's colour space, OCIO
    or reelkit names (``None`` / ``"auto"``: :mod:`core.io`'s rules, each
    file on its own), recorded in the manifest's ``colorspaces`` (and its
    config, when set). Returns the finished manifest; see the
    module for the files written. Raises :class:`~core.errors.ParameterError`
    for bad parameters or a file/sequence mismatch,
    :class:`~core.errors.ImageReadError` / :class:`~core.errors.SequenceError`
    for missing inputs (before any work starts), and whatever a frame's
    read or an image error raises (the manifest then says ``failed``).
    """
    import cv2

    from core.io import colorspace_option

    values = ALIGN_FILE_PARAMS.resolve(params or {})
    spaces = {"input_colorspace": colorspace_option(input_colorspace, name="input_colorspace"),
              "reference_colorspace": colorspace_option(reference_colorspace, name="reference_colorspace")}
    out_dir = Path(output_dir)
    table = None if pairs is None else {int(k): (None if v is None else int(v)) for k, v in pairs.items()}
    tasks = plan_align_tasks(str(source_pattern), str(reference_pattern), out_dir, frames, values["report"], table)
    config = {"source": str(source_pattern), "reference": str(reference_pattern), "params": values,
              "record_format": RECORD_FORMAT}
    if table is not None:  # the whole table's frames: a frame range of the job is the same job (farm chunks)
        whole = tasks if frames is None else plan_align_tasks(str(source_pattern), str(reference_pattern), out_dir,
                                                               None, values["report"], table)
        config["pairs"] = {str(t.frame): table[t.frame] for t in whole}
    config.update({k: v for k, v in spaces.items() if v is not None})  # only when set: earlier jobs resume
    manifest = Manifest(out_dir, "align", config, frame_range=frames)
    manifest.set("parameters", values)
    manifest.set("colorspaces", {"input": spaces["input_colorspace"] or "auto",
                                 "reference": spaces["reference_colorspace"] or "auto", "output": WORKING_COLORSPACE})
    manifest.set("libraries", {"numpy": np.__version__, "opencv": cv2.__version__})
    run_frame_job(manifest, tasks, lambda t: align_file_pair(t, values, **spaces), force=force, progress=progress)
    report = _write_report(manifest)
    records = manifest.data["frames"]
    manifest.set("report", report.name)
    manifest.set("summary", {"frames": len(records),
                             "converged": sum(1 for r in records.values() if r.get("converged")),
                             "failed": [k for k, r in records.items() if not r.get("converged")]})
    manifest.save()
    return manifest
