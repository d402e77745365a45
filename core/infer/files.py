"""Restore image files and sequences with an ONNX model: the library behind ``reelkit infer``.

For each frame: read it (any format :mod:`core.io` reads), restore it with
one :class:`~core.infer.session.Restorer` shared by every frame of the job
(frames not in the model's colour space are converted to it first), and
write scene-linear ACEScg OpenEXR (half by default) with the model's name,
version and sha256 in the header. The manifest records the model, the
parameters, the runtime (providers, threads) and per frame the source
colour space, the tile count and the time.

Resume: frames done by an earlier run with the same configuration — the
input, the output name, the model's sha256 and manifest, tile, overlap,
precision, EXR options — are skipped unless ``force``; the provider and
thread count are not part of it (a frame rendered on a GPU counts as done
for a CPU machine). The model is loaded only when a frame needs rendering.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from core.errors import ParameterError
from core.infer.model import LoadedModel, ModelSpec, load_model
from core.infer.session import PRECISIONS, PROVIDERS, Restorer
from core.infer.tiling import resolve_tiling
from core.io import EXR_OUTPUT_PARAMS
from core.jobs import JOB_FACTS, ProgressFn, output_path, plan_frame_files, run_frame_job
from core.manifest import Manifest
from core.params import Param, ParamSet
from core.scale import current as current_scheduler
from core.threads import job_threads

#: Colour space of the files written: the working space, scene-linear.
OUTPUT_COLORSPACE = "ACEScg"

#: Parameters of :func:`infer_files` (CLI options / node knobs).
INFER_PARAMS = ParamSet(
    "infer",
    [
        Param("tile", int, 512, "tile side in pixels; 0 runs the whole frame at once", minimum=0, maximum=16384),
        Param("overlap", int, 0, "overlap between tiles in pixels, at least the model's receptive field; "
              "0 = auto (receptive field + 16)", minimum=0, maximum=4096),
        Param("provider", str, "auto", "onnxruntime device: auto (CUDA when available), cpu, cuda; or torch: the "
              "model's torch network (the train extra; CUDA in fp16 when torch has it, else the CPU in fp32)",
              choices=PROVIDERS),
        Param("threads", int, 0, "CPU threads for onnxruntime, and the reader and writer threads of prefetch; "
              "0 = the cores free (core.threads)", minimum=0, maximum=256),
        Param("prefetch", bool, True, "read the next frames and write the previous ones while the model restores "
              "this one (as many readers and writers as the job's threads; the same files); off: one stage "
              "after the other", label="Prefetch"),
        Param("precision", str, "auto", "auto runs the model as stored; fp16 converts a float32 model "
              "(faster on GPUs); fp32 refuses a float16 model", choices=PRECISIONS),
        *EXR_OUTPUT_PARAMS,
        Param("temporal", bool, False, "before the model, repair one-frame defects (dust, dirt, dropouts, torn "
              "blocks) from the previous and next input frames, aligned by optical flow (core.infer.temporal); "
              "frames without both neighbours are left as they are", label="Temporal repair"),
        Param("mix", float, 1.0, "how much of the restoration to apply: 0 gives the input back, 1 the model's "
              "output, in between a mix in linear light (alpha untouched)", minimum=0.0, maximum=1.0, label="Mix"),
    ],
)

#: :data:`INFER_PARAMS` with the model first (the ReelInfer node's knobs): a path or a shipped model's name.
INFER_MODEL_PARAMS = ParamSet("infer_model", [
    Param("model", str, "film_restore", "the .onnx model (its manifest beside it) or the name of a model shipped "
          "in models/", label="Model"),
    *INFER_PARAMS,
])

#: Parameters that change how fast, not what: recorded, kept out of the resume hash.
RUNTIME_ONLY = ("provider", "threads", "prefetch")
#: Parameters added after jobs were first recorded: in the resume hash only when not at these defaults, so
#: those jobs still resume.
HASHED_WHEN_SET = {"mix": 1.0, "temporal": False}


def default_output(input_path: str, frames: str | None = None) -> str:
    """Output name for ``input_path``: its file name (or sequence pattern) with the extension ``.exr``; for a
    video, a pattern of its name (``clip.mov`` -> ``clip.####.exr``)."""
    from core import io

    name = str(input_path)
    if io.is_video_file(name):
        return f"{Path(name).stem}.####.exr"
    if frames and not io.is_sequence_pattern(name):
        name = io.sequence_pattern(name) or name
    return Path(name).with_suffix(".exr").name


def _read_input(restorer: Restorer, src: Path, dst: Path, *, frame: int | None,
                input_colorspace: str | None = None,
                neighbours: tuple[tuple[Path, int | None], ...] | None = None) -> tuple[Any, Any, dict[str, Any]]:
    """:func:`infer_file`'s first stage: the frame read (overscan and bbox kept), its neighbours' repair done,
    made ready for the model (:meth:`Restorer.prepare`: checked, in the model's colour space, its context
    computed); returns ``(frame, context, its record's facts)``."""
    from core import color, io
    from core.color.alpha import alpha_of

    t0 = time.perf_counter()
    img = io.read_frame(src, frame, colorspace=input_colorspace, window=io.job_window(dst))  # overscan, bbox kept
    facts: dict[str, Any] = {"from": img.colorspace}
    alpha = alpha_of(img)
    if alpha is not None:
        facts["alpha"] = alpha
    if neighbours is not None:
        from core.infer.temporal import temporal_repair

        space = restorer.spec.colorspace
        img = color.convert_frame(img, space)
        box = img.metadata.get("window", "display")  # the neighbours in this frame's window (a bbox may move)
        around = [color.convert_frame(io.read_frame(p, n, colorspace=input_colorspace, window=box), space).pixels
                  for p, n in neighbours]
        result = temporal_repair(img.pixels, *around[:2], **dict(zip(("prev2", "next2"), around[2:])))
        img = img.replace(pixels=result.image)
        facts["temporal_repaired_pixels"] = int(result.mask.sum())
        if result.skipped:
            facts["temporal_skipped"] = result.skipped
        if result.neighbours != (-1, 1):  # a nearer neighbour was damaged as a whole: frames further out
            facts["temporal_neighbours"] = "{:+d},{:+d}".format(*result.neighbours)
        del around, result  # the neighbours are not needed any more: two frames less while restoring
    img, context = restorer.prepare(img)
    facts["stages"] = {"read": round(time.perf_counter() - t0, 3)}
    return img, context, facts


def _restore(restorer: Restorer, img, context, facts: dict[str, Any], *, tile_progress: ProgressFn | None = None,
             grade=None):
    """:func:`infer_file`'s second stage: the model (then ``grade``) on the frame read; returns the ACEScg frame
    and adds the tile count and the stage's seconds to ``facts``."""
    from core import color

    t0 = time.perf_counter()
    tiles_before = restorer.tiles_run
    out = restorer.run_frame(img, progress=tile_progress, context=context)
    if out.colorspace != OUTPUT_COLORSPACE:
        out = color.convert_frame(out, OUTPUT_COLORSPACE)
    if grade is not None:
        out = out.replace(pixels=grade.apply(out.pixels))
    facts["tiles"] = restorer.tiles_run - tiles_before
    facts["stages"]["infer"] = round(time.perf_counter() - t0, 3)
    return out


def _write_output(restorer: Restorer, out, src: Path, dst: Path, facts: dict[str, Any], *, frame: int | None,
                  pixel_type: str, compression: str, overwrite: bool) -> dict[str, Any]:
    """:func:`infer_file`'s last stage: the restored frame written (atomically); returns the frame's record."""
    from core import io

    t0 = time.perf_counter()
    spec = restorer.spec
    io.write_image(dst, out, pixel_type=pixel_type, compression=compression, overwrite=overwrite,
                   attributes={"reelkit/source": os.path.basename(src),
                               "reelkit/infer/model": spec.name,
                               "reelkit/infer/version": spec.version,
                               "reelkit/infer/sha256": spec.sha256,
                               "reelkit/infer/tiling": f"{restorer.tile}/{restorer.overlap}",
                               "reelkit/infer/mix": f"{restorer.mix:g}"})
    stages = {**facts["stages"], "write": round(time.perf_counter() - t0, 3)}
    record = {"input": str(src), "output": str(dst), "from": facts["from"], "frame": frame, "tiles": facts["tiles"],
              "seconds": round(sum(stages.values()), 3), "stages": stages}
    record.update((k, v) for k, v in facts.items() if k not in record)
    return record


def infer_file(restorer: Restorer, src: Path, dst: Path, *, frame: int | None, pixel_type: str = "half",
               compression: str = "zip", input_colorspace: str | None = None,
               overwrite: bool = False,
               neighbours: tuple[tuple[Path, int | None], ...] | None = None,
               tile_progress: ProgressFn | None = None, grade=None) -> dict[str, Any]:
    """Restore one file into ``dst`` (ACEScg EXR); returns its manifest record.

    ``input_colorspace`` states the input's colour space (``None``: what
    :func:`core.io.read_image` finds); the record's ``from`` is the one used;
    for RGBA, ``alpha`` is the input's association (:func:`core.color.alpha.alpha_of`, as convert records it).
    ``src`` may be a video (``frame`` is then the frame read, :func:`core.io.read_frame`).
    ``neighbours``: the input frames n-1 and n+1 (then n-2 and n+2, optional), ``(file, frame)`` each; given, one-frame
    defects are first repaired from them (:func:`core.infer.temporal.temporal_repair`,
    in the model's colour space) and the record counts the pixels repaired.
    ``tile_progress(tiles done, tiles)`` follows the model's tiles.
    ``grade``: a :class:`~core.validate.grade.GradeFit` applied to the model's output (ACEScg), or ``None``.
    The record's ``stages`` gives the seconds of each stage (``read``, ``infer``, ``write``), ``seconds`` their sum.
    """
    img, context, facts = _read_input(restorer, src, dst, frame=frame, input_colorspace=input_colorspace,
                                      neighbours=neighbours)
    out = _restore(restorer, img, context, facts, tile_progress=tile_progress, grade=grade)
    del img  # not needed to write: on a huge frame, one frame-sized array less while the file is encoded
    return _write_output(restorer, out, src, dst, facts, frame=frame, pixel_type=pixel_type,
                         compression=compression, overwrite=overwrite)


def _with_neighbours(tasks: list) -> list:
    """Each frame task with its input frames n-1 and n+1 as extra sources, when both exist on disk, then n-2
    and n+2 when those exist too (looked up in the input sequence or video, not in the requested range: a
    farm chunk's first frame still has its neighbour)."""
    from core import io

    out = []
    for task in tasks:
        if task.frame is not None and io.is_video_file(task.source):
            count = io.count_video_frames(task.source)
            around = tuple(task.frame + s for d in (1, 2) if task.frame - d >= 0 and task.frame + d < count
                           for s in (-d, d))
            out.append(task._replace(extra_sources=(task.source,) * len(around), extra_frames=around)
                       if around else task)
            continue
        pattern = io.sequence_pattern(task.source) if task.frame else None  # frame 0 has no frame -1
        pairs = []
        for d in (1, 2):
            if not pattern or task.frame - d < 0:
                break
            pair = tuple(Path(io.sequence_path(pattern, task.frame + s)) for s in (-d, d))
            if not all(p.is_file() for p in pair):
                break
            pairs.append(pair)
        out.append(task._replace(extra_sources=tuple(p for pair in pairs for p in pair)) if pairs else task)
    return out


def infer_files(model: str | os.PathLike | LoadedModel, input_pattern: str, *, output_dir: str | os.PathLike,
                output: str | None = None, params: Mapping[str, Any] | None = None, frames: str | None = None,
                force: bool = False, progress: ProgressFn | None = None,
                manifest: str | os.PathLike | Mapping[str, Any] | None = None,
                input_colorspace: str | None = None, tile_progress: ProgressFn | None = None,
                grade=None) -> Manifest:
    """Restore a file or sequence with ``model`` into ``output_dir``; returns the finished manifest.

    ``input_pattern``: a file, a sequence (``plate.####.exr``,
    ``plate.%04d.exr``, or one numbered file with ``frames``) or a video
    (its frames numbered from 0, :mod:`core.io.video`). ``output``:
    the output file name or pattern inside ``output_dir`` (default: the
    input's name with ``.exr``); it must be an EXR. ``params``: values for
    :data:`INFER_PARAMS`. ``model``: an ``.onnx`` path, a shipped model's
    name (``"film_restore"``) or a :class:`~core.infer.model.LoadedModel`;
    ``manifest``: the model manifest when it is not beside the model. The
    model and its manifest are validated (sha256) once, before anything
    else (:func:`~core.infer.model.load_model`), and the session is built
    from the bytes that were hashed; one onnxruntime session serves every
    frame.
    ``input_colorspace``: the inputs' colour space, an OCIO or reelkit name
    (``None`` / ``"auto"``: the file-type rules of :mod:`core.io`), recorded
    in the manifest's ``colorspaces``.
    Frames already rendered with the same configuration are skipped unless
    ``force``; other existing outputs raise
    :class:`~core.errors.OutputExistsError` unless ``force``.
    ``progress(frames done, frames, frame)`` follows the frames,
    ``tile_progress(tiles done, tiles, frame)`` the tiles inside each frame
    rendered (a large frame is minutes of work).
    ``grade``: a :class:`~core.validate.grade.GradeFit` applied to every
    restored frame (ACEScg) after the model, e.g. the restore project's
    LUT fitted on the model's output of its training pairs; in the config
    hash by its digest.
    """
    from core.io import colorspace_option, is_video_file

    values = INFER_PARAMS.resolve(params or {})
    input_colorspace = colorspace_option(input_colorspace, name="input_colorspace")
    loaded = load_model(model, manifest=manifest)
    spec: ModelSpec = loaded.spec
    if values["provider"] == "torch" and loaded.network is None:
        raise ParameterError(f"provider 'torch': no torch network is loaded for {loaded.path}; pass the model "
                             "loaded with core.train.torch_model.torch_model() (reelkit infer --provider torch does)")
    resolve_tiling(tile=values["tile"], overlap=values["overlap"], halo=spec.halo, multiple_of=spec.multiple_of)
    output = output or default_output(input_pattern, frames)
    if Path(output).suffix.lower() != ".exr":
        raise ParameterError(f"output {output}: restored frames are scene-linear; write OpenEXR (.exr)")
    out_dir = Path(output_dir)
    out_pattern = output_path(out_dir, output)
    tasks = plan_frame_files(input_pattern, out_pattern, frames=frames)
    hashed = {k: v for k, v in values.items()
              if k not in RUNTIME_ONLY and not (k in HASHED_WHEN_SET and v == HASHED_WHEN_SET[k])}
    if values["temporal"]:  # each frame also reads its neighbours: they are inputs of the frame (resume hashes them)
        tasks = _with_neighbours(tasks)
    config = {"input": str(input_pattern), "output": output, "model": spec.record(), "params": hashed,
              "output_colorspace": OUTPUT_COLORSPACE}
    if input_colorspace is not None:  # only when set: earlier jobs keep their hash and resume
        config["input_colorspace"] = input_colorspace
    if grade is not None:  # only when given: earlier jobs keep their hash and resume
        config["grade"] = {"method": grade.method, "sha256": grade.digest()}
    job = Manifest(out_dir, "infer", config, frame_range=frames)
    job.set("parameters", values)
    job.set("colorspaces", {"input": input_colorspace or "auto", "output": OUTPUT_COLORSPACE})
    job.set("model", {**spec.record(), "path": str(spec.path),
                      "manifest": str(spec.manifest_path) if spec.manifest_path else None,
                      "training": dict(spec.training)})
    state: dict[str, Any] = {}
    pipelined = values["prefetch"] and current_scheduler() is None
    if current_scheduler() is not None:  # frames made in Dask workers: their tiles are not followed from here
        tile_progress = None
    threads = job_threads(values["threads"]) if pipelined else 1  # readers ahead and writers behind
    readers = 1 if any(is_video_file(t.source) for t in tasks) else threads  # a video decodes in order
    following = {t.key: tasks[i + 1:i + 1 + readers] for i, t in enumerate(tasks)}

    def restorer() -> tuple[Restorer, dict[str, Any]]:
        if "restorer" in state:
            return state["restorer"], {}
        # loaded once (per Dask worker), and only if a frame needs rendering
        state["restorer"] = Restorer(loaded, tile=values["tile"], overlap=values["overlap"],
                                     provider=values["provider"], threads=values["threads"],
                                     precision=values["precision"], mix=values["mix"])
        return state["restorer"], {JOB_FACTS: {"runtime": state["restorer"].info()}}

    def frame_tiles(task):
        return None if tile_progress is None else lambda done, total: tile_progress(done, total, task.frame)

    def process(task) -> dict[str, Any] | Future:
        r, facts = restorer()
        if pipelined:
            out, record = pipeline.restored(r, task, following[task.key], frame_tiles)
        else:
            img, context, record = _read_input(r, task.source, task.target, frame=task.frame,
                                               input_colorspace=input_colorspace, neighbours=task.reads[1:] or None)
            out = _restore(r, img, context, record, tile_progress=frame_tiles(task), grade=grade)
            del img

        def write() -> dict[str, Any]:
            return {**_write_output(r, out, task.source, task.target, record, frame=task.frame,
                                    pixel_type=values["pixel_type"], compression=values["compression"],
                                    overwrite=True), **facts}

        return pipeline.writer.submit(write) if pipelined else write()  # the job records frames in order

    pipeline = _Pipeline(input_colorspace=input_colorspace, grade=grade, force=force, readers=readers,
                         writers=threads) if pipelined else None
    try:
        return run_frame_job(job, tasks, process, force=force, progress=progress, behind=threads if pipelined else 0,
                             resources={"GPU": 1} if values["provider"] == "cuda" else None)  # Dask: GPU workers only
    finally:
        if pipeline is not None:
            pipeline.close()


class _Pipeline:
    """Reading ahead, restoring ahead and writing behind for :func:`infer_files`, in pools of threads.

    :meth:`restored` gives frame n restored, after starting the frames that
    follow it (``readers`` of them): their reads (the reader threads, in
    parallel) and then their restorations (the model thread, one at a time,
    in order). The job hands each restored frame to :attr:`writer`
    (``writers`` threads) and records the frames in order as they are
    written (:func:`core.jobs.run_frame_job`'s write-behind, at most
    ``writers`` frames unfinished when the next one is handed over). So
    while frames n-k..n-1 are encoded and written (each atomically, by the
    same code as without the pipeline), the model restores frame n and the
    next ones are read. Every frame goes through the model thread, in order,
    with the same restorer: the files are those of the sequential path, bit
    for bit. A frame is started ahead only when the job will make it: its
    output does not exist yet (or ``force``), so an earlier run's frames are
    never restored for nothing. A failure in a thread is raised where that
    frame's record is asked for: the job fails on that frame with its one
    line, and no output (not even a partial one) is written for it.
    """

    def __init__(self, *, input_colorspace: str | None, grade, force: bool, readers: int = 1, writers: int = 1):
        from concurrent.futures import ThreadPoolExecutor

        self.reader = ThreadPoolExecutor(readers, thread_name_prefix="reelkit-read")
        self.model = ThreadPoolExecutor(1, thread_name_prefix="reelkit-infer")
        self.writer = ThreadPoolExecutor(writers, thread_name_prefix="reelkit-write")
        self.input_colorspace, self.grade, self.force = input_colorspace, grade, force
        self.ahead: dict[Any, Any] = {}

    def _start(self, r: Restorer, task, tile_progress) -> Any:
        read = self.reader.submit(_read_input, r, task.source, task.target, frame=task.frame,
                                  input_colorspace=self.input_colorspace, neighbours=task.reads[1:] or None)

        def restore():
            img, context, facts = read.result()
            return _restore(r, img, context, facts, tile_progress=tile_progress, grade=self.grade), facts

        return self.model.submit(restore)

    def restored(self, r: Restorer, task, following, tiles) -> tuple[Any, dict[str, Any]]:
        """``task``'s frame restored and its record's facts; the ``following`` tasks started.
        ``tiles(task)``: the tile progress callback of a task's frame (or ``None``)."""
        done = self.ahead.pop(task.key, None)
        wanted = {t.key for t in following}
        for key in [k for k in self.ahead if k not in wanted]:  # started for a task the job did not ask for
            self.ahead.pop(key).cancel()
        if done is None:
            done = self._start(r, task, tiles(task))
        for t in following:
            if t.key not in self.ahead and (self.force or not any(p.exists() for p in t.targets)):
                self.ahead[t.key] = self._start(r, t, tiles(t))
        return done.result()

    def close(self) -> None:
        """Stop: frames not started are dropped, those being read, restored or written are waited for."""
        for future in self.ahead.values():
            future.cancel()
        self.ahead.clear()
        for pool in (self.reader, self.model, self.writer):
            pool.shutdown(wait=True, cancel_futures=True)
