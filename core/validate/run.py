"""``run_validation``: baselines, metrics and the report of a restoration against its reference.

Inputs are file sequences (patterns, or one file of a numbered sequence
with ``frames=``, as :func:`core.jobs.plan_frame_files` takes them; one
file without ``frames`` is a still, and then every input is one file): the
degraded ``sources``, the ``references`` aligned to them, optional validity
``masks`` (first channel, > 0.5 = valid) and ``candidates`` (name ->
sequence: the ML results). Frames pair by number. Every image is read as
ACEScg (files in another colour space are converted on reading).

What it does, in order:

1. Fits the grades the baselines need (:func:`~core.validate.fit_grade`) on
   ``fit_sources``/``fit_references`` (the training pairs) when given,
   otherwise on the validated frames themselves (the report says so: an
   optimistic setting for the grade baselines); ``fit_frames`` frames evenly
   spaced over them. Writes ``grades/<method>.json`` and ``.cube``.
2. Per frame (a :func:`core.jobs.run_frame_job`: resumable, frame ranges,
   refuses foreign outputs): runs the baselines, computes PSNR, SSIM, ΔE2000
   and the flicker statistics of ``source``, each baseline and each
   candidate against the reference on valid pixels
   (:mod:`core.metrics`), writes ``frames/metrics.####.json``,
   the baselines' EXRs (``baselines/<name>/<name>.####.exr``) and, for the
   comparison frames, 8-bit crops.
3. Aggregates per frame, per shot and overall (flicker within a shot), and
   separately over the ``damaged`` frames when they are known (the frames
   restoration is for); decides who won (:func:`core.validate.verdict.decide`:
   best mean PSNR, flicker flagged against the source's) and writes
   ``metrics.csv``, ``metrics.json`` (its ``headline`` first), the plots and
   ``report.html`` (:mod:`core.validate.report`, the verdict its first line)
   beside ``manifest.json``.

With ``weight_matte`` (a matte sequence, or ``saliency``: the reference's
saliency pass, :mod:`core.vision`), every method is also scored by PSNR
weighted by the matte (:func:`core.metrics.weighted_psnr`), written as
``weighted`` in ``metrics.json``; without it nothing changes (not even the
config hash).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io as _stdio
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ImageError, ParameterError, SequenceError
from core.formats import FORMATS
from core.io.jsonfile import read_json_object
from core.jobs import ProgressFn
from core.metrics import HIGHER_IS_BETTER, METRIC_ENCODING, METRICS

#: ``metrics.json``'s format, ``reelkit.validation/1`` (:mod:`core.formats`).
FORMAT = FORMATS["reelkit.validation"]
COMMAND = "validate"
SOURCE = "source"
CSV_COLUMNS = ("frame", "shot", "damaged", "method", *METRICS, "valid_pixels")
#: EXR compression of the baselines' frames: lossless, and faster to write than zip on grainy pictures.
BASELINE_EXR = "piz"


# --------------------------------------------------------------------------- sequences


@dataclasses.dataclass(frozen=True)
class _Seq:
    """A sequence pattern, a video file (``video=True``; frames numbered from 0, :mod:`core.io.video`) or a still
    file (``still=True``), read in ``colorspace`` (``None``: as core.io finds)."""

    spec: str
    still: bool
    colorspace: str | None = None
    video: bool = False

    @classmethod
    def of(cls, path, what: str, *, sequence: bool, colorspace: str | None = None) -> "_Seq":
        """``sequence``: a pattern, or one file of a numbered sequence standing for it; else one still file."""
        from core import io

        if path is None:
            raise ParameterError(f"{what}: a file or sequence pattern is required")
        text = os.fspath(path)
        if io.is_video_file(text) and sequence:
            io.count_video_frames(text)  # ImageReadError for a missing or unreadable file
            return cls(text, False, colorspace, video=True)
        if io.is_sequence_pattern(text):
            if not sequence:
                raise ParameterError(f"{what}: {text} is a sequence pattern but the source is a single file")
            return cls(text, False, colorspace)
        if sequence:
            pattern = io.sequence_pattern(text)
            if pattern is None:
                raise SequenceError(f"{what}: {text} is not a numbered sequence (the source is one)")
            return cls(pattern, False, colorspace)
        if not Path(text).is_file():
            raise SequenceError(f"{what}: {text}: no such file")
        return cls(text, True, colorspace)

    def path(self, frame: int | None) -> Path:
        from core import io

        return Path(self.spec if self.still or self.video or frame is None else io.sequence_path(self.spec, frame))

    def has(self, frame: int) -> bool:
        if frame < 0:  # a sequence or clip numbered from 0 has no frame -1 (frame 0's previous neighbour)
            return False
        if self.video:
            from core import io

            return 0 <= frame < io.count_video_frames(self.spec)
        return not self.still and self.path(frame).is_file()

    def numbers(self, frames=None) -> list:
        """The frames to read (``frames``: a subset, all present), ``[None]`` for a still."""
        from core import io

        if self.still:
            return [None]
        return io.resolve_video_frames(self.spec, frames) if self.video else io.resolve_frames(self.spec, frames)


def _read_acescg(path: Path, what: str, frame, colorspace: str | None = None) -> np.ndarray:
    from core import io
    from core.color import convert_frame

    f = io.read_frame(path, frame, colorspace=colorspace)
    if f.colorspace != "ACEScg":
        f = convert_frame(f, "ACEScg")
    px = f.pixels
    if px.shape[-1] == 1:
        raise ImageError(f"{path}: {what} frame {frame} has one channel; RGB is needed")
    return np.ascontiguousarray(px[..., :3], dtype=np.float32)


def _read_mask(path: Path) -> np.ndarray:
    from core import io

    return io.read_image(path).pixels[..., 0]


#: ``weight_matte`` naming a pass computed here rather than a file: the reference's saliency.
WEIGHT_PASS = "saliency"
#: Layers of a ``reelkit vision`` EXR read as the weight, in this order (else the file's first channel).
WEIGHT_LAYERS = ("matte", "saliency")


def _read_weights(weights, frame, reference: np.ndarray) -> np.ndarray:
    """The weight matte of ``frame``: ``HW`` ``float32`` (clipped to 0..1 by the scorer). ``weights``: a
    :class:`_Seq` of matte files, or :data:`WEIGHT_PASS` (the saliency of the ACEScg ``reference``)."""
    if isinstance(weights, str):
        from core.vision.saliency import saliency

        return saliency(reference)[..., 0]
    from core import io

    f = io.read_image(weights.path(frame))
    layer = next((f.layers[k] for k in WEIGHT_LAYERS if k in f.layers), f.pixels)
    w = layer[..., 0]
    if w.shape != reference.shape[:2]:
        raise ImageError(f"{weights.path(frame)}: weight matte frame {frame} is {w.shape[1]}x{w.shape[0]}, the "
                         f"reference {reference.shape[1]}x{reference.shape[0]}")
    return w


def weighted_scores(records: Mapping[Any, Mapping[str, Any]], methods: Sequence[str], weights: str,
                    ) -> dict[str, Any]:
    """metrics.json's ``weighted``: the weight matte, and each method's matte-weighted PSNR
    (:func:`core.metrics.weighted_psnr`) per frame and its mean over the frames where it is finite."""
    frames = [{"frame": "" if n is None else n, "method": m, "psnr": rec["methods"][m]["psnr_weighted"]}
              for m in methods for n, rec in records.items() if m in rec["methods"]]
    summary = {}
    for m in methods:
        v = np.array([f["psnr"] for f in frames if f["method"] == m], np.float64)
        if v.size:
            v = v[np.isfinite(v)]
            summary[m] = {"psnr": float(v.mean()) if v.size else float("nan")}
    return {"weight_matte": weights, "metric": "psnr", "summary": summary, "frames": frames}


def safe_name(name: str) -> str:
    """A folder/file name for a method (``dust_bust+grade_lut3d`` -> ``dust_bust-grade_lut3d``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name.replace("+", "-")).strip("-") or "method"


def _evenly(items: Sequence, n: int) -> list:
    if len(items) <= n:
        return list(items)
    idx = np.unique(np.round(np.linspace(0, len(items) - 1, n)).astype(int))
    return [items[i] for i in idx]


def _shot_table(frames: Sequence[int | None], shots) -> dict[str, list]:
    """``{shot name: [frames]}``; ``shots`` is None (one shot ``all``), a mapping name -> range, or ranges."""
    from core.io import as_frame_range

    if shots is None:
        return {"all": list(frames)}
    items = shots.items() if isinstance(shots, Mapping) else ((f"shot{i + 1:02d}", r) for i, r in enumerate(shots))
    table: dict[str, list] = {}
    taken: set = set()
    for name, rng in items:
        wanted = set(as_frame_range(rng))
        mine = [n for n in frames if n in wanted and n not in taken]
        taken.update(mine)
        if mine:
            table[str(name)] = mine
    rest = [n for n in frames if n not in taken]
    if rest:
        table["other"] = rest
    return table


# --------------------------------------------------------------------------- result


@dataclasses.dataclass
class ValidationResult:
    """What a validation run produced.

    ``summary``: method -> metric -> mean over all frames (``source`` first,
    then baselines, then candidates); ``shots``: shot -> method -> metric ->
    mean; ``rows``: the per-frame rows of ``metrics.csv``; ``fits``: method
    -> :class:`~core.validate.GradeFit`. ``verdict``: who won over all
    frames (:func:`core.validate.verdict.decide`; ``verdict["line"]`` is the
    report's first line); ``damaged_frames``: the frames given as damaged
    (``None``: not known), ``damaged_summary`` and ``damaged_verdict`` the
    same over those of them that were scored (``None`` when none were).
    """

    output_dir: Path
    summary: dict[str, dict[str, float]]
    shots: dict[str, dict[str, dict[str, float]]]
    rows: list[dict[str, Any]]
    fits: dict[str, Any]
    methods: dict[str, str]
    report: Path
    metrics_csv: Path
    metrics_json: Path
    manifest: Path
    config_hash: str
    seed: int
    verdict: dict[str, Any] = dataclasses.field(default_factory=dict)
    damaged_frames: list[int] | None = None
    damaged_summary: dict[str, dict[str, float]] | None = None
    damaged_verdict: dict[str, Any] | None = None

    @property
    def headline(self) -> str:
        """Who won and what is recommended, over all frames then the damaged frames (one or two sentences)."""
        return " ".join(v["line"] for v in (self.verdict, self.damaged_verdict) if v)

    def best(self, metric: str, *, kind: str | None = None) -> str | None:
        """The method with the best mean ``metric`` (optionally only of ``kind``: source/baseline/candidate)."""
        if metric not in METRICS:
            raise ParameterError(f"metric {metric!r}: expected one of {', '.join(METRICS)}")
        vals = {m: s[metric] for m, s in self.summary.items()
                if (kind is None or self.methods[m] == kind) and math.isfinite(s.get(metric, float("nan")))}
        if not vals:
            return None
        return (max if metric in HIGHER_IS_BETTER else min)(vals, key=vals.get)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly: paths as strings, the summary, per-shot means and the fits (no per-frame rows)."""
        return {"output_dir": str(self.output_dir), "summary": self.summary, "shots": self.shots,
                "methods": self.methods, "fits": {m: f.to_dict() for m, f in self.fits.items()},
                "report": str(self.report), "metrics_csv": str(self.metrics_csv),
                "metrics_json": str(self.metrics_json), "manifest": str(self.manifest),
                "config_hash": self.config_hash, "seed": self.seed, "headline": self.headline,
                "verdict": self.verdict, "damaged_frames": self.damaged_frames,
                "damaged_summary": self.damaged_summary, "damaged_verdict": self.damaged_verdict}

    def table(self, metrics: Sequence[str] = METRICS) -> str:
        """The summary as a plain-text table (one row per method) for a terminal."""
        width = max(len("method"), *(len(m) for m in self.summary))
        head = f"{'method':<{width}}  " + "  ".join(f"{m:>14}" for m in metrics)
        lines = [head, "-" * len(head)]
        for method, vals in self.summary.items():
            cells = "  ".join(f"{_fmt(vals.get(m)):>14}" for m in metrics)
            lines.append(f"{method:<{width}}  {cells}")
        return "\n".join(lines)


def read_metrics(path: str | os.PathLike) -> dict[str, Any]:
    """A validation report's ``metrics.json`` (:data:`FORMAT`, upgraded when older): ``headline``, ``verdict``,
    ``summary``...; one :class:`~core.errors.ImageReadError` or :class:`~core.errors.FormatError` line naming it."""
    return FORMAT.read(read_json_object(path, "validation report"), where=str(path))


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return f"{v:.4f}" if abs(v) < 100 else f"{v:.2f}"


# --------------------------------------------------------------------------- the run


@dataclasses.dataclass(frozen=True)
class _Job:
    """A validation's inputs resolved and checked, before anything is written (:func:`_resolve`)."""

    out: Path
    opts: dict[str, Any]
    weight_matte: str | None
    names: tuple
    spaces: dict[str, str | None]
    src: _Seq
    ref: _Seq
    msk: _Seq | None
    cands: dict[str, _Seq]
    wgt: _Seq | None
    numbers: list
    shot_table: dict[str, list]
    damaged_frames: list[int] | None
    methods: dict[str, str]
    compare: set
    fit_src: _Seq | None
    fit_ref: _Seq | None
    config: dict[str, Any]
    frame_range: str | None


def _resolve(*, sources, references, candidates, masks, output_dir, frames, shots, damaged, baselines, params,
             fit_sources, fit_references, fit_masks, fit_frames, seed, input_colorspace,
             reference_colorspace) -> _Job:
    """The inputs of :func:`run_validation` read as sequences and checked (frames present, names free); the
    parameters resolved; the job's config. Reads no pixel and writes nothing."""
    from core.validate.baselines import parse_baselines
    from core.validate.params import VALIDATE_PARAMS

    given = dict(params or {})
    if baselines is not None:
        given["baselines"] = ",".join(parse_baselines(baselines)) if baselines else ""
    if seed is not None:
        given["seed"] = seed
    opts = VALIDATE_PARAMS.resolve(given)
    weight_matte = opts.pop("weight_matte") or None  # kept out of params: unweighted runs stay as they were
    names = parse_baselines(opts["baselines"]) if opts["baselines"] else ()
    candidates = dict(candidates or {})
    for c in candidates:
        if c in (SOURCE, "reference") or c in names:
            raise ParameterError(f"candidate name {c!r} is taken (source, reference or a baseline name)")
    out = Path(output_dir)
    from core import io

    spaces = {"input_colorspace": io.colorspace_option(input_colorspace, name="input_colorspace"),
              "reference_colorspace": io.colorspace_option(reference_colorspace, name="reference_colorspace")}
    # a pattern, or one file with frames=, is a sequence; one file alone is a still (as core.jobs reads them)
    seq = io.is_sequence_pattern(os.fspath(sources)) or io.is_video_file(sources) or frames is not None
    src = _Seq.of(sources, "sources", sequence=seq, colorspace=spaces["input_colorspace"])
    ref = _Seq.of(references, "references", sequence=seq, colorspace=spaces["reference_colorspace"])
    msk = _Seq.of(masks, "masks", sequence=seq) if masks is not None else None
    cands = {name: _Seq.of(p, f"candidate {name!r}", sequence=seq) for name, p in candidates.items()}
    wgt = (_Seq.of(weight_matte, "weight_matte", sequence=seq)
           if weight_matte is not None and weight_matte != WEIGHT_PASS else None)
    numbers: list = src.numbers(frames)
    for what, seq in (("references", ref), ("masks", msk), ("weight_matte", wgt),
                      *((f"candidate {k!r}", s) for k, s in cands.items())):
        if seq is None or seq.still:
            continue
        lacking = [n for n in numbers if n is not None and not seq.has(n)]
        if lacking:
            from core.io import format_frames

            raise SequenceError(f"{what} ({seq.spec}): missing frames {format_frames(lacking, limit=12)}")
    shot_table = _shot_table(numbers, shots) if numbers != [None] else {"all": [None]}
    damaged_frames = _frame_list(damaged)
    methods = {SOURCE: "source", **{n: "baseline" for n in names}, **{c: "candidate" for c in cands}}
    compare = set(_evenly([n for n in numbers], opts["compare_frames"])) if opts["compare_frames"] else set()

    # the training pairs the grades are fitted on
    fit_seq = fit_sources is not None and (io.is_sequence_pattern(os.fspath(fit_sources)) or fit_frames is not None
                                           or io.is_video_file(fit_sources))
    fit_src = (_Seq.of(fit_sources, "fit_sources", sequence=fit_seq, colorspace=spaces["input_colorspace"])
               if fit_sources is not None else None)
    fit_ref = (_Seq.of(fit_references, "fit_references", sequence=fit_seq,
                       colorspace=spaces["reference_colorspace"]) if fit_references is not None else None)
    if (fit_src is None) != (fit_ref is None):
        raise ParameterError("give fit_sources and fit_references together (the training pairs)")
    stamp = _input_stamp([src, ref, msk, *cands.values(), fit_src, fit_ref, wgt])
    config = {"format": FORMAT.tag, "sources": src.spec, "references": ref.spec, "masks": msk and msk.spec,
              "candidates": {k: s.spec for k, s in cands.items()}, "params": opts, "encoding": METRIC_ENCODING,
              "fit": {"sources": fit_src and fit_src.spec, "references": fit_ref and fit_ref.spec,
                      "masks": None if fit_masks is None else os.fspath(fit_masks),
                      "frames": None if fit_frames is None else str(fit_frames)},
              # shots only group the table: changing them re-aggregates without redoing frames
              "compare": sorted(n for n in compare if n is not None), "inputs_stamp": stamp}
    config.update({k: v for k, v in spaces.items() if v is not None})  # only when set: earlier jobs resume
    if weight_matte is not None:
        config["weight_matte"] = wgt.spec if wgt is not None else WEIGHT_PASS
    return _Job(out=out, opts=opts, weight_matte=weight_matte, names=names, spaces=spaces, src=src, ref=ref,
                msk=msk, cands=cands, wgt=wgt, numbers=numbers, shot_table=shot_table,
                damaged_frames=damaged_frames, methods=methods, compare=compare, fit_src=fit_src, fit_ref=fit_ref,
                config=config, frame_range=None if frames is None else str(frames))


def run_validation(*, sources, references, candidates: Mapping[str, Any] | None = None, masks=None,
                   output_dir, frames=None, shots=None, damaged=None, baselines=None,
                   params: Mapping[str, Any] | None = None,
                   fit_sources=None, fit_references=None, fit_masks=None, fit_frames=None,
                   stages: Sequence[Mapping[str, Any]] | None = None, experiments: str | os.PathLike | None = None,
                   log_experiment: bool = False, title: str = "reelkit validation", seed: int | None = None,
                   force: bool = False, input_colorspace: str | None = None,
                   reference_colorspace: str | None = None,
                   progress: ProgressFn | None = None) -> ValidationResult:
    """Validate ``candidates`` (and the baselines) against ``references``; see the module docstring.

    ``frames``: a frame range of ``sources`` (default: all on disk);
    ``shots``: ``{name: frame range}`` or a list of ranges (default: one
    shot); ``damaged``: the damaged source frames (a frame range or
    numbers; ``None``: not known), scored apart as well (only the tables
    change: the frames are the same); ``baselines``: names (:data:`~core.validate.BASELINES`, ``+``
    chains), default ``params["baselines"]``; ``params``:
    :data:`~core.validate.VALIDATE_PARAMS` values; ``fit_*``: the training
    pairs the grades are fitted on, and the frame range used of them;
    ``stages``: rows for the report's per-stage summary (mappings, e.g.
    ``{"stage": "03_training", "status": "done", "summary": "loss 0.012"}``);
    ``experiments``: a ``notes/experiments.md`` whose entries the report
    shows; ``log_experiment``: first append this run to it
    (:func:`~core.validate.append_experiment`: parameters, seed, config
    hash, the summary table); ``seed`` overrides ``params["seed"]``;
    ``input_colorspace`` / ``reference_colorspace``: the colour space of the
    sources (and fit sources) / references (and fit references), OCIO or
    reelkit names (``None`` / ``"auto"``: :mod:`core.io`'s rules; candidates
    and masks always so), recorded in the manifest's ``colorspaces`` (and its
    config, when set); ``progress(done, total, frame)`` is called after each frame.
    """
    from core.jobs import FrameTask, run_frame_job
    from core.manifest import Manifest, OutputLock
    from core.validate.baselines import grade_methods, parse_baseline

    job = _resolve(sources=sources, references=references, candidates=candidates, masks=masks,
                   output_dir=output_dir, frames=frames, shots=shots, damaged=damaged, baselines=baselines,
                   params=params, fit_sources=fit_sources, fit_references=fit_references, fit_masks=fit_masks,
                   fit_frames=fit_frames, seed=seed, input_colorspace=input_colorspace,
                   reference_colorspace=reference_colorspace)
    opts, weight_matte, names, out, spaces = job.opts, job.weight_matte, job.names, job.out, job.spaces
    src, ref, msk, cands, wgt, numbers = job.src, job.ref, job.msk, job.cands, job.wgt, job.numbers
    shot_table, damaged_frames, methods, compare = job.shot_table, job.damaged_frames, job.methods, job.compare
    fit_src, fit_ref, config, frame_range = job.fit_src, job.fit_ref, job.config, job.frame_range
    # the whole job under one lock: grade fits, frames, tables and report (the manifest's own lock, taken
    # and given back by the frame job, is nested inside it); a folder made for a job that fails empty goes
    existed = out.is_dir()
    lock = OutputLock(out, COMMAND, frame_range=frame_range)
    lock.acquire()
    try:
        manifest = Manifest(out, COMMAND, config, frame_range=frame_range, seed=opts["seed"])
        manifest.set("colorspaces", {"input": spaces["input_colorspace"] or "auto",
                                     "reference": spaces["reference_colorspace"] or "auto"})
        whole = _job_outputs(out, grade_methods(names))
        manifest.refuse_foreign(whole, force=force)  # a report or table this job did not make stays
        from core.manifest import refuse_escapes
        from core.validate.report import REPORT_DIR, crops_folder

        # the report's plots and crops: no link on the way out either
        refuse_escapes(out, [out / REPORT_DIR / "plot.png", *(crops_folder(out, n) / "crop.png" for n in compare)])
        manifest.declare_outputs(whole)
        fits, fit_note = _fits(grade_methods(names), opts, out, manifest.config_hash, force, src=src, ref=ref,
                               msk=msk, numbers=numbers, fit_src=fit_src, fit_ref=fit_ref, fit_masks=fit_masks,
                               fit_frames=fit_frames)

        # -- per frame -----------------------------------------------------------------------------
        temporal = any(step.temporal for n in names for step in parse_baseline(n))
        tasks = _frame_tasks(job, {m: f.success for m, f in fits.items()})

        sources = _SourceWindow(src)
        threads: dict[str, Any] = {}  # the scoring pool, made where the frames are made (here, or in a Dask worker)

        def process(task: FrameTask) -> dict[str, Any]:
            if "pool" not in threads:
                from concurrent.futures import ThreadPoolExecutor

                threads["pool"] = ThreadPoolExecutor(max_workers=_workers(), thread_name_prefix="reelkit-validate")
            return _process_frame(task, sources=sources, ref=ref, msk=msk, cands=cands, names=names, fits=fits,
                                  opts=opts, temporal=temporal, out=out, crop=task.frame in compare,
                                  pool=threads["pool"], weights=wgt if wgt is not None else weight_matte)

        manifest.set("methods", methods)
        try:
            run_frame_job(manifest, tasks, process, force=force, progress=progress)
        finally:
            if "pool" in threads:
                threads.pop("pool").shutdown()

        # -- aggregate + report ------------------------------------------------------------------------
        from core.validate import report as rep

        from core.validate.verdict import decide

        records = {t.frame: json.loads(t.target.read_text("utf-8")) for t in tasks}
        hurt = None if damaged_frames is None else set(damaged_frames)
        rows, summary, per_shot = aggregate(records, shot_table, list(methods), hurt)
        verdict = decide(summary, methods, frames=len(numbers), scope="all frames")
        scored_damaged = [n for n in numbers if hurt and n in hurt]
        damaged_summary = damaged_verdict = None
        if scored_damaged:
            damaged_summary = summarize([r for r in rows if r["damaged"] == 1], list(methods))
            damaged_verdict = decide(damaged_summary, methods, frames=len(scored_damaged), scope="damaged frames")
        headline = " ".join(v["line"] for v in (verdict, damaged_verdict) if v)
        csv_path = _write_csv(out / "metrics.csv", rows)
        fits_info = {m: f.to_dict() for m, f in fits.items()}
        data = {"headline": headline, "format": FORMAT.tag, "title": title, "verdict": verdict,
                "damaged_frames": damaged_frames, "damaged_summary": damaged_summary, "damaged_verdict": damaged_verdict,
                "encoding": METRIC_ENCODING, "metrics": list(METRICS),
                "higher_is_better": sorted(HIGHER_IS_BETTER), "methods": methods, "summary": summary,
                "shots": per_shot, "frames": rows, "fits": fits_info, "fit_note": fit_note, "seed": opts["seed"],
                "config_hash": manifest.config_hash, "params": opts}
        if weight_matte is not None:
            data["weighted"] = weighted_scores(records, list(methods), config["weight_matte"])
        from core.io.atomic import write_text_atomic

        json_path = write_text_atomic(out / "metrics.json", json.dumps(data, indent=1, default=_json_default) + "\n",
                                      overwrite=True)
        if log_experiment:
            if experiments is None:
                raise ParameterError("log_experiment needs experiments= (the notes/experiments.md to append to)")
            from core.validate.experiments import append_experiment

            append_experiment(experiments, title=title, results=summary,
                              params={**opts, "sources": src.spec, "references": ref.spec,
                                      "candidates": ", ".join(f"{k}={s.spec}" for k, s in cands.items()),
                                      "frames": _frames_text(numbers), "config_hash": manifest.config_hash[:16]})
        report_path = rep.write_report(out, data, stages=stages, experiments=experiments, manifest=manifest.data,
                                       compare=[n for n in numbers if n in compare])
        manifest.data["outputs"] = {"metrics_csv": str(csv_path), "metrics_json": str(json_path),
                                    "report": str(report_path),
                                    "cubes": {m: str(out / "grades" / f"{m}.cube") for m in fits}}
        manifest.record_outputs(_job_outputs(out, grade_methods(names)))
        manifest.set("summary", summary)
        manifest.set("verdict", {"headline": headline, "winner": verdict["winner"], "recommend": verdict["recommend"]})
        manifest.save()
        return ValidationResult(out, summary, per_shot, rows, fits, methods, report_path, csv_path, json_path,
                                manifest.path, manifest.config_hash, opts["seed"], verdict, damaged_frames,
                                damaged_summary, damaged_verdict)
    finally:
        lock.release()
        if not existed:
            with contextlib.suppress(OSError):
                out.rmdir()  # only when empty


def _job_outputs(out: Path, grades) -> list[Path]:
    """The files a validation writes once per job: tables, report page, grade fits."""
    from core.validate.report import REPORT

    return [out / "metrics.csv", out / "metrics.json", out / REPORT,
            *(out / "grades" / f"{m}{ext}" for m in grades for ext in (".json", ".cube")), out / "grades" / "fits.json"]


def fit_files(out: Path, fits_ok: Mapping[str, bool]) -> list[Path]:
    """The files grade fits are saved as in ``out/grades`` (by :func:`_fits`): ``<method>.json`` each, its
    ``.cube`` when the fit succeeded (``fits_ok``: method -> success), and ``fits.json`` when there are any."""
    gdir = Path(out) / "grades"
    files = [p for m, ok in fits_ok.items() for p in (gdir / f"{m}.json", *([gdir / f"{m}.cube"] if ok else []))]
    return files + ([gdir / "fits.json"] if fits_ok else [])


def _report_files(job: _Job, fits_ok: Mapping[str, bool]) -> list[Path]:
    """The files a validation writes once per job, as they come out: grade fits (a ``.cube`` only for a fit
    that succeeded), tables, report page, plots over frames, each comparison frame's crops and strip."""
    from core.validate.report import PLOTTED, REPORT, REPORT_DIR, compare_strip, crops_folder

    files = fit_files(job.out, fits_ok)
    files += [job.out / "metrics.csv", job.out / "metrics.json", job.out / REPORT]
    if any(n is not None for n in job.numbers):
        files += [job.out / REPORT_DIR / f"plot_{metric}.png" for metric, _ in PLOTTED]
    shown = [SOURCE, *_kept_baselines(job.names, fits_ok), *job.cands, "reference"]
    for n in sorted(job.compare, key=lambda n: -1 if n is None else n):
        files += [crops_folder(job.out, n) / f"{safe_name(name)}.png" for name in shown]
        files.append(compare_strip(job.out, n))
    return files


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    return str(o)


def _input_stamp(seqs) -> str:
    """sha256 of (path, size, mtime) of every input file: re-rendered inputs change the config hash."""
    import hashlib

    from core import io

    h = hashlib.sha256()
    for seq in seqs:
        if seq is None:
            continue
        paths = [seq.path(None)] if seq.still or seq.video else [seq.path(n) for n in io.find_frames(seq.spec)]
        for p in paths:
            try:
                st = p.stat()
                h.update(f"{p}|{st.st_size}|{st.st_mtime_ns}\n".encode())
            except OSError:
                h.update(f"{p}|missing\n".encode())
    return h.hexdigest()


def fit_pair_frames(src: "_Seq", ref: "_Seq", masks: "_Seq | None", frames: Sequence[int], through=None):
    """``(source, reference, mask)`` of each of ``frames``: ACEScg ``HW3`` float32 frames, the mask ``HW``
    (``None`` without ``masks``); the source after ``through(frame, pixels)`` when given (see :func:`_fits`)."""
    for n in frames:
        mask = _read_mask(masks.path(n)) if masks is not None else None
        source = _read_acescg(src.path(n), "source", n, src.colorspace)
        yield (source if through is None else through(n, source),
               _read_acescg(ref.path(n), "reference", n, ref.colorspace), mask)


def _fits(methods, opts, out: Path, config_hash: str, force: bool, *, src, ref, msk, numbers, fit_src, fit_ref,
          fit_masks, fit_frames, through=None):
    """Fit (or reuse, same config hash) the grades ``methods``; returns ``(fits, note for the report)``.

    ``through(frame, pixels)``: what the fit's source frames (ACEScg ``HW3`` float32) go through before
    the fit (the restore project fits the model's output); ``None``: the frames as read. The fits come
    back as saved (:meth:`GradeFit.save` keeps 9 decimals), so a first run, a resumed one and another
    farm range of the same job apply the same grade, bit for bit."""
    from core.io.atomic import write_text_atomic
    from core.validate.grade import GradeFit, fit_grade_samples, sample_frames

    if not methods:
        return {}, ""
    gdir = out / "grades"
    index = gdir / "fits.json"
    kept = _fits_kept(methods, out, config_hash, force)
    if kept is not None:
        return {m: GradeFit.load(gdir / f"{m}.json") for m in methods}, kept.get("note", "")
    if fit_src is not None:
        from core import io

        fmsk = _Seq.of(fit_masks, "fit_masks", sequence=not fit_src.still) if fit_masks is not None else None
        pool = fit_src.numbers(fit_frames)
        chosen = _evenly(pool, opts["fit_frames"])
        s_seq, r_seq, m_seq = fit_src, fit_ref, fmsk
        note = (f"grades fitted on {len(chosen)} training pair(s) ({fit_src.spec}), frames "
                f"{_frames_text(chosen)}")
    else:
        chosen = _evenly(numbers, opts["fit_frames"])
        s_seq, r_seq, m_seq = src, ref, msk
        note = (f"grades fitted on {len(chosen)} of the validated frames ({_frames_text(chosen)}): no training "
                "pairs were given, so the grade baselines saw these frames (optimistic for them)")

    drawn = sample_frames(fit_pair_frames(s_seq, r_seq, m_seq, chosen, through), max_samples=opts["max_samples"],
                          seed=opts["seed"])  # one read for every fit
    fits = {m: fit_grade_samples(drawn, method=m, degree=opts["root_poly_degree"], lut_size=opts["lut_size"],
                                 seed=opts["seed"]) for m in methods}
    gdir.mkdir(parents=True, exist_ok=True)
    for m, fit in fits.items():
        fit.save(gdir / f"{m}.json")
        if fit.success:
            fit.write_cube(gdir / f"{m}.cube", size=None if m == "lut3d" else opts["cube_size"], overwrite=True)
    write_text_atomic(index, json.dumps({"config_hash": config_hash, "note": note,
                                         "fits": {m: f.to_dict() for m, f in fits.items()}}, indent=1,
                                        default=_json_default) + "\n", overwrite=True)
    return {m: GradeFit.load(gdir / f"{m}.json") for m in methods}, note


def _fits_kept(methods, out: Path, config_hash: str, force: bool) -> dict[str, Any] | None:
    """``grades/fits.json`` when the fits of ``methods`` in ``out`` were made for ``config_hash`` and are reused
    (not ``force``), else ``None`` (they are fitted again)."""
    gdir = out / "grades"
    if force or not (gdir / "fits.json").is_file():
        return None
    try:
        old = json.loads((gdir / "fits.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if old.get("config_hash") == config_hash and all((gdir / f"{m}.json").is_file() for m in methods):
        return old
    return None


def _kept_baselines(names, fits_ok: Mapping[str, bool]) -> list[str]:
    """The baselines that run: a baseline whose grade fit failed has no result (it is not faked with the
    source)."""
    from core.validate.baselines import parse_baseline

    return [b for b in names if all(fits_ok[s.grade] for s in parse_baseline(b) if s.kind == "grade")]


def _frame_tasks(job: _Job, fits_ok: Mapping[str, bool]) -> list:
    """One :class:`~core.jobs.FrameTask` per frame: its record ``frames/metrics.NNNN.json`` and the baselines'
    EXRs (``fits_ok``: grade method -> whether its fit succeeded)."""
    from core.jobs import FrameTask

    tasks = []
    kept = _kept_baselines(job.names, fits_ok) if job.opts["write_baselines"] else []
    for n in job.numbers:
        stem = "still" if n is None else f"{n:04d}"
        extra_src = [job.ref.path(n)] + ([job.msk.path(n)] if job.msk else []) + [s.path(n) for s in job.cands.values()]
        extra_src += [job.wgt.path(n)] if job.wgt else []
        targets = [job.out / "baselines" / safe_name(b) / f"{safe_name(b)}.{stem}.exr" for b in kept]
        tasks.append(FrameTask("still" if n is None else str(n), n, job.src.path(n),
                               job.out / "frames" / f"metrics.{stem}.json", tuple(extra_src), tuple(targets)))
    return tasks


@dataclasses.dataclass(frozen=True)
class ValidationPlan:
    """What :func:`run_validation` with the same arguments reads and writes, said before it runs.

    ``writes``: every file it writes (the manifest, per-frame records, baseline EXRs, grade fits, tables,
    report page, plots, comparison crops and strips, the experiments file it appends to), whether it exists
    now or not; ``frames``: the frames scored; ``note``: what the prediction assumed.
    """

    reads: list[Path]
    writes: list[Path]
    frames: int
    note: str


def plan_validation(*, sources, references, candidates: Mapping[str, Any] | None = None, masks=None, output_dir,
                    frames=None, shots=None, damaged=None, baselines=None, params: Mapping[str, Any] | None = None,
                    fit_sources=None, fit_references=None, fit_masks=None, fit_frames=None,
                    experiments: str | os.PathLike | None = None, log_experiment: bool = False,
                    seed: int | None = None, force: bool = False, input_colorspace: str | None = None,
                    reference_colorspace: str | None = None, **_report) -> ValidationPlan:
    """The plan of :func:`run_validation` with the same arguments (``stages``, ``title``, ``progress``
    accepted and ignored): its inputs resolved and checked as the run checks them, nothing read of the
    pixels, nothing written. The grade fits' outcome is known when they are reused (same config, not
    ``force``); fits made anew are assumed to succeed (one that fails writes no ``.cube`` and no frames or
    crops of the baselines using it)."""
    from core.manifest import Manifest, manifest_name
    from core.validate.baselines import grade_methods

    job = _resolve(sources=sources, references=references, candidates=candidates, masks=masks,
                   output_dir=output_dir, frames=frames, shots=shots, damaged=damaged, baselines=baselines,
                   params=params, fit_sources=fit_sources, fit_references=fit_references, fit_masks=fit_masks,
                   fit_frames=fit_frames, seed=seed, input_colorspace=input_colorspace,
                   reference_colorspace=reference_colorspace)
    methods = grade_methods(job.names)
    config_hash = Manifest(job.out, COMMAND, job.config, frame_range=job.frame_range, seed=job.opts["seed"]).config_hash
    kept = _fits_kept(methods, job.out, config_hash, force)
    if kept is None:
        fits_ok, note = {m: True for m in methods}, "grade fits are made anew and assumed to succeed"
    else:
        fits_ok = {m: bool((kept.get("fits") or {}).get(m, {}).get("success", True)) for m in methods}
        note = "grade fits reused (same config)"
    tasks = _frame_tasks(job, fits_ok)
    reads = [p for t in tasks for p in t.sources]
    if job.fit_src is not None:
        pool = job.fit_src.numbers(fit_frames)
        chosen = _evenly(pool, job.opts["fit_frames"]) if kept is None else []
        reads += [seq.path(n) for n in chosen for seq in (job.fit_src, job.fit_ref)]
        if fit_masks is not None:
            fmsk = _Seq.of(fit_masks, "fit_masks", sequence=not job.fit_src.still)
            reads += [fmsk.path(n) for n in chosen]
    writes = [job.out / manifest_name(job.frame_range)] + [p for t in tasks for p in t.targets]
    writes += _report_files(job, fits_ok)
    if log_experiment and experiments is not None:
        writes.append(Path(experiments))
    unique = lambda paths: list(dict.fromkeys(Path(os.path.abspath(p)) for p in paths))  # noqa: E731
    return ValidationPlan(unique(reads), unique(writes), len(job.numbers), note)


def _frame_list(frames) -> list[int] | None:
    """Sorted frame numbers of a range string, ints or an empty sequence (``None`` stays ``None``)."""
    from core import io

    if frames is None:
        return None
    if not isinstance(frames, (str, int, io.FrameRange)):
        frames = list(frames)
        if not frames:
            return []
    return sorted(set(io.as_frame_range(frames)))


def _frames_text(frames) -> str:
    from core.io import format_frames

    nums = [n for n in frames if n is not None]
    return format_frames(nums, sep=",") if nums else "still"


def _workers() -> int:
    """Threads that score methods and write files beside the main thread: the cores free now (core.threads)."""
    from core.threads import job_threads

    return job_threads()


class _SourceWindow:
    """Source frames read once each: frame n is also n+1's previous and n-1's next frame (three are kept)."""

    def __init__(self, seq: _Seq):
        self.seq = seq
        self.kept: dict[Any, np.ndarray] = {}

    def read(self, n) -> np.ndarray:
        if n not in self.kept:
            self.kept[n] = _read_acescg(self.seq.path(n), "source", n, self.seq.colorspace)
        return self.kept[n]

    def window(self, n, temporal: bool) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Frame ``n`` and, when ``temporal`` and both exist, frames n-1 and n+1 (else ``None``)."""
        if n is not None:
            for k in [k for k in self.kept if k is None or abs(k - n) > 1]:
                del self.kept[k]
        s = self.read(n)
        if temporal and n is not None and self.seq.has(n - 1) and self.seq.has(n + 1):
            return s, self.read(n - 1), self.read(n + 1)
        return s, None, None


def _process_frame(task, *, sources: _SourceWindow, ref, msk, cands, names, fits, opts, temporal, out: Path,
                   crop: bool, pool, weights=None):
    """Baselines, metrics and files of one frame. The main thread runs the baselines; ``pool`` scores each
    image as soon as it exists and writes the baselines' EXRs (each result is a pure function of its
    inputs, so the order the threads finish in changes nothing)."""
    from core import metrics as M
    from core.validate.baselines import parse_baseline, run_baselines

    n = task.frame
    s, prev, nxt = sources.window(n, temporal)
    r = _read_acescg(ref.path(n), "reference", n, ref.colorspace)
    if r.shape != s.shape:
        raise ImageError(f"{ref.path(n)}: reference frame {n} is {r.shape[1]}x{r.shape[0]}, the source "
                         f"{s.shape[1]}x{s.shape[0]}: align it to the source first")
    mask = _read_mask(msk.path(n)) if msk is not None else None
    if mask is not None and mask.shape != s.shape[:2]:
        raise ImageError(f"{msk.path(n)}: mask frame {n} is {mask.shape[1]}x{mask.shape[0]}, the source "
                         f"{s.shape[1]}x{s.shape[0]}")
    scorer = M.ReferenceScorer(r, mask, weights=None if weights is None else _read_weights(weights, n, r))
    images = {SOURCE: s}
    scores = {SOURCE: pool.submit(scorer.score, s)}
    for name, seq in cands.items():
        c = _read_acescg(seq.path(n), f"candidate {name!r}", n)
        if c.shape != s.shape:
            raise ImageError(f"{seq.path(n)}: candidate {name!r} frame {n} is {c.shape[1]}x{c.shape[0]}, the "
                             f"source {s.shape[1]}x{s.shape[0]}")
        images[name] = c
        scores[name] = pool.submit(scorer.score, c)
    failed = {}  # baselines whose grade fit failed have no result (the fit's reason is in the report)
    for b in names:
        for step in parse_baseline(b):
            fit = fits.get(step.grade) if step.kind == "grade" else None
            if fit is not None and not fit.success:
                failed[b] = f"the {fit.method} grade fit failed: {fit.reason}"
    writes = []

    def ready(name: str, img: np.ndarray) -> None:
        scores[name] = pool.submit(scorer.score, img)
        if opts["write_baselines"]:
            from core import io

            target = next(t for t in task.targets if t.parent.name == safe_name(name))
            writes.append(pool.submit(io.write_image, target, img, colorspace="ACEScg", compression=BASELINE_EXR,
                                      overwrite=True))

    # the longest chains first: their scoring then overlaps the quick grades instead of ending the frame
    order = sorted((b for b in names if b not in failed), key=lambda b: -sum(
        st.kind == "filter" for st in parse_baseline(b)))
    baselines = run_baselines(order, s, prev=prev, next=nxt, grades=fits, options=opts, ready=ready)
    images = {SOURCE: s, **{b: baselines[b] for b in names if b in baselines}, **{c: images[c] for c in cands}}
    record: dict[str, Any] = {"frame": n, "reference_stats": scorer.stats, "methods": {}, "failed": failed}
    for name in images:
        record["methods"][name] = scores[name].result()
    for w in writes:
        w.result()
    if crop:
        from core.validate.report import write_crops

        record["crops"] = write_crops(out, n, {**images, "reference": r}, mask, opts["crop_size"])
    from core.io.atomic import write_text_atomic

    write_text_atomic(task.target, json.dumps(record, default=_json_default) + "\n", overwrite=True)
    return {"input": str(task.source), "output": str(task.target),
            "psnr": {k: round(v["psnr"], 4) for k, v in record["methods"].items()}}


# --------------------------------------------------------------------------- aggregation


def aggregate(records: Mapping[Any, Mapping[str, Any]], shot_table: Mapping[str, list], methods: list[str],
              damaged: set | None = None):
    """Per-frame rows, overall and per-shot means from the per-frame records (flicker within each shot).

    ``damaged``: the damaged frame numbers (each row's ``damaged`` says whether its frame is one; ``""``
    when ``None``: not known).
    """
    from core.metrics import flicker

    rows: list[dict[str, Any]] = []
    for shot, frames in shot_table.items():
        ref_stats = [records[n]["reference_stats"] for n in frames]
        for m in methods:
            present = [n for n in frames if m in records[n]["methods"]]
            if not present:
                continue
            stats = [records[n]["methods"][m]["stats"] for n in present]
            ref_m = [records[n]["reference_stats"] for n in present] if len(present) < len(frames) else ref_stats
            fl, vd = flicker(stats, ref_m)
            for i, n in enumerate(present):
                rec = records[n]["methods"][m]
                rows.append({"frame": "" if n is None else n, "shot": shot,
                             "damaged": "" if damaged is None else int(n in damaged), "method": m,
                             "psnr": rec["psnr"], "ssim": rec["ssim"], "delta_e": rec["delta_e"], "flicker": fl[i],
                             "variance_drift": vd[i], "valid_pixels": rec["valid"]})
    order = {m: i for i, m in enumerate(methods)}
    rows.sort(key=lambda r: (order[r["method"]], r["frame"] if r["frame"] != "" else -1))
    summary = summarize(rows, methods)
    per_shot = {shot: summarize([r for r in rows if r["shot"] == shot], list(summary)) for shot in shot_table}
    return rows, summary, per_shot


def summarize(rows: Sequence[Mapping[str, Any]], methods: Sequence[str]) -> dict[str, dict[str, float]]:
    """``{method: {metric: mean of the finite values}}`` over ``rows``, for the ``methods`` that have rows."""
    by_method: dict[str, list] = {}
    for r in rows:
        by_method.setdefault(r["method"], []).append(r)
    out = {}
    for m in methods:
        sel = by_method.get(m)
        if not sel:
            continue
        out[m] = {}
        for metric in METRICS:
            v = np.array([r[metric] for r in sel], np.float64)
            v = v[np.isfinite(v)]
            out[m][metric] = float(v.mean()) if v.size else float("nan")
    return out


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    from core.io.atomic import write_text_atomic

    buf = _stdio.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{r[k]:.6g}" if isinstance(r[k], float) else r[k]) for k in CSV_COLUMNS})
    return write_text_atomic(path, buf.getvalue(), overwrite=True)
