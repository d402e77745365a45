"""Per-frame file jobs: plan the work, skip what is done, record it.

The shared machinery behind every command that turns input frames into
output files one frame at a time (``convert``, ``degrade``, ...). Per-frame
work is a pure function of (frame, parameters), so a job is a list of
:class:`FrameTask` that any process or farm machine can take a slice of.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures import wait as futures_wait
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from core.errors import ImageReadError, ParameterError, out_of_memory
from core.io.atomic import remove_stale_temps
from core.manifest import Manifest, file_sha256, fingerprint
from core.params import Param, ParamSet


class ProgressFn(Protocol):
    """The one progress callback: ``progress(done, total, item=None)``.

    ``done`` units of ``total`` (0: not known yet) are finished; ``item`` is what was just done, when
    there is something to say: a per-frame job's frame number (``None`` for a still), a tile's frame, a
    training step's figures (:class:`core.train.TrainProgress`), a short note. A callee may leave
    ``item`` out, so a callback takes it with a default. The CLI's bars (:mod:`core.cli.progress`),
    the Nuke host's tasks and the agent's tasks are such callbacks.
    """

    def __call__(self, done: int, total: int, item: Any = None, /) -> None: ...


class StageProgressFn(Protocol):
    """The progress callback of a run in stages (the restoration project, the dataset builder, the demo):
    ``progress(stage, done, total, item=None)``, the stage (its number or name) and then as :class:`ProgressFn`."""

    def __call__(self, stage: int | str, done: int, total: int, item: Any = None, /) -> None: ...


#: The job spec every per-frame command shares: which frames, where the results go, whether to redo
#: finished frames. The CLI's ``--frames``/``--output-dir``/``--force`` (:func:`core.cli.main.add_output_options`),
#: the Nuke nodes' job knobs (:data:`nuke_plugin.specs.JOB_PARAMS`) and the agent's tools derive from it.
JOB_PARAMS = ParamSet("job", [
    Param("frames", str, None, "frames to process, e.g. 1001-1100, 1001-1100x2, 1,5,7-9 (default: every frame "
          "of the input)", label="Frames", optional=True),
    Param("output_dir", str, None, "folder to write into: the results and their manifest.json (created if missing)",
          label="Output folder", optional=True),
    Param("force", bool, False, "redo and replace what an earlier run already made", label="Redo finished frames"),
])


class FrameTask(NamedTuple):
    """One unit of work: manifest key, frame number (``None`` for a still), input and output files.

    A task with several inputs or outputs (``align``: source and reference
    in; aligned reference, mask, residual out) lists the others in
    ``extra_sources`` / ``extra_targets``; the job hashes every input and
    resumes a frame only when every output exists. A source that is a
    video (:func:`core.io.is_video_file`) is read at a frame number: the
    task's ``frame`` for ``source``, ``extra_frames[i]`` for
    ``extra_sources[i]`` (``extra_frames`` empty: ``frame`` for each);
    :attr:`reads` pairs them and :func:`core.io.read_frame` reads either kind.
    A frame made from parameters alone (``generate``) has ``source`` ``None``:
    nothing is read or hashed for it.
    """

    key: str
    frame: int | None
    source: Path | None
    target: Path
    extra_sources: tuple[Path, ...] = ()
    extra_targets: tuple[Path, ...] = ()
    extra_frames: tuple[int | None, ...] = ()

    @property
    def sources(self) -> tuple[Path, ...]:
        return self.extra_sources if self.source is None else (self.source, *self.extra_sources)

    @property
    def reads(self) -> tuple[tuple[Path, int | None], ...]:
        """``(file, frame number)`` of each source, for :func:`core.io.read_frame`."""
        extra = self.extra_frames or (self.frame,) * len(self.extra_sources)
        first = () if self.source is None else ((self.source, self.frame),)
        return (*first, *zip(self.extra_sources, extra))

    @property
    def targets(self) -> tuple[Path, ...]:
        return (self.target, *self.extra_targets)


def output_path(output_dir: str | os.PathLike, output: str) -> str:
    """``output`` (a file name or sequence pattern) inside ``output_dir``; an absolute ``output`` as it is."""
    return output if os.path.isabs(output) else str(Path(output_dir) / output)


def plan_frame_files(input_path: str, output: str, *, frames: str | None = None) -> list[FrameTask]:
    """List the work for a file or a sequence, one :class:`FrameTask` per frame.

    ``input_path`` is a file, a sequence pattern (``plate.####.exr``,
    ``plate.%04d.exr``, or one file of a numbered sequence when ``frames`` is
    given) or a video file (frames numbered by :mod:`core.io.video`'s rule,
    the 0-based decode index; every task's ``source`` is the video);
    ``output`` is a file name or, for a sequence or a video, a pattern.
    Missing frames inside the range raise :class:`~core.errors.SequenceError`
    naming them.
    """
    from core import io

    video = io.is_video_file(input_path)
    pattern = io.sequence_pattern(input_path) if not video and (frames or io.is_sequence_pattern(input_path)) else None
    if video:
        if not io.is_sequence_pattern(output):
            raise ParameterError(f"input {input_path} is a video: the output must be a sequence pattern "
                                 f"(e.g. {Path(input_path).stem}.####.exr), got {output}")
        src = Path(input_path)
        tasks = [FrameTask(str(n), n, src, Path(io.sequence_path(output, n)))
                 for n in io.resolve_video_frames(src, frames or None)]
    elif pattern is None:
        if frames:
            raise ParameterError(f"--frames given but {input_path} is not part of a numbered sequence or a video")
        src = Path(input_path)
        if not src.is_file():
            raise ImageReadError(f"{input_path}: no such file")
        if io.is_sequence_pattern(output):
            raise ParameterError(f"output {output} is a sequence pattern but the input {input_path} is a single file")
        tasks = [FrameTask(src.name, None, src, Path(output))]
    else:
        if not io.is_sequence_pattern(output):
            raise ParameterError(
                f"input {input_path} is a sequence: the output must be a pattern too (e.g. out.####.exr), got {output}")
        numbers = io.resolve_frames(pattern, frames)
        tasks = [FrameTask(str(n), n, Path(io.sequence_path(pattern, n)), Path(io.sequence_path(output, n)))
                 for n in numbers]
    for task in tasks:
        if task.source.resolve() == task.target.resolve():
            raise ParameterError(f"output {task.target} is the input file: choose another name or --output-dir")
    return tasks


def _video_inputs(tasks: list[FrameTask]) -> dict[str, dict[str, Any]]:
    """What a manifest records of each video the tasks read: frame numbers read and their rule, rate, codec."""
    from core import io

    read: dict[str, set[int]] = {}
    for task in tasks:
        for path, frame in task.reads:
            if frame is not None and io.is_video_file(path):
                read.setdefault(str(path), set()).add(int(frame))
    out = {}
    for path, numbers in read.items():
        info = io.video_info(path)
        out[path] = {"frames": io.format_frames(sorted(numbers), sep=","), "frame_numbers": io.VIDEO_FRAME_NUMBERS,
                     "fps": info.fps, "codec": info.codec, "size": [info.width, info.height]}
    return out


def _intact(manifest: Manifest, task: FrameTask, record: dict[str, Any]) -> bool:
    """Whether a done frame still stands: the record covers this task's files, its inputs hold what was
    read (size and mtime, else sha256) and its outputs what was written. A record without fingerprints
    (an older run) is not trusted."""
    files = record.get("files") or {}
    names = {manifest.file_name(p) for p in task.sources}, {manifest.file_name(p) for p in task.targets}
    if set(files.get("in", {})) != names[0] or set(files.get("out", {})) != names[1]:
        return False
    return not manifest.changed_files(files)


def _describe(task: FrameTask) -> str:
    """The task's input and frame number, for messages."""
    where = "" if task.source is None else str(task.source)
    return f"{where} (frame {task.frame})".strip() if task.frame is not None else where or task.key


def _frame_shape(path: Path | None) -> tuple[int, ...] | None:
    """(height, width, channels) of an EXR input read from its header, else ``None`` (never raises)."""
    if path is None or path.suffix.lower() != ".exr":
        return None
    from core.io import read_exr_header

    try:
        info = read_exr_header(path)
    except Exception:  # the size is only a hint for the message
        return None
    return info["height"], info["width"], len(info["channels"])


#: Key of a frame record that holds facts about the whole job (``{"runtime": {...}}``), set on the manifest.
JOB_FACTS = "_job"


def _digester(most: int | None = None) -> Callable[[Path], str]:
    """sha256 of a file, each (path, size, mtime) hashed once: a video, or a frame that is also its
    neighbours' neighbour (``most``: digests kept at most, then forgotten)."""
    hashed: dict[tuple[str, int, int], str] = {}

    def digest(path: Path) -> str:
        st = path.stat()
        key = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
        if key not in hashed:
            if most is not None and len(hashed) >= most:
                hashed.clear()
            hashed[key] = file_sha256(path)
        return hashed[key]

    return digest


#: In a Dask worker: the digests of every chunk it makes (a video read by many chunks is hashed once).
_WORKER_DIGEST: list[Callable[[Path], str]] = []


def _make_frames(tasks: list[FrameTask], process: Callable[[FrameTask], dict[str, Any]],
                 digest: Callable[[Path], str] | None = None, *,
                 stop: Callable[[], bool] | None = None) -> tuple[list[dict[str, Any]], Exception | None]:
    """Make ``tasks`` one after the other (here, or in a Dask worker: :func:`core.scale.run_chunks`).

    Returns, for each task made, its input digests, ``process``'s record and
    the fingerprints of its inputs and outputs (keyed by path), and the
    exception that stopped the run (``None`` when every task was made, or
    when ``stop()`` said to stop before a task).
    ``digest``: the job's :func:`_digester` (default: this process's).
    """
    if digest is None:
        if not _WORKER_DIGEST:
            _WORKER_DIGEST.append(_digester(most=4096))
        digest = _WORKER_DIGEST[0]
    made: list[dict[str, Any]] = []
    for task in tasks:
        if stop is not None and stop():
            break
        try:
            made.append(_finish_frame(task, *_start_frame(task, process, digest)))
        except Exception as exc:
            return made, exc
    return made, None


def _start_frame(task: FrameTask, process: Callable[[FrameTask], Any],
                 digest: Callable[[Path], str]) -> tuple[dict[str, str], Any]:
    """The digests of ``task``'s inputs (before it runs) and what ``process`` returned: its record, or a
    :class:`~concurrent.futures.Future` of it (a frame still being written)."""
    digests = {str(p): digest(p) for p in task.sources}
    return digests, _named_memory_error(task, process, task)


def _finish_frame(task: FrameTask, digests: dict[str, str], record: Any) -> dict[str, Any]:
    """A started frame made: its record (waited for when a future) and the fingerprints of its files."""
    if isinstance(record, Future):
        record = _named_memory_error(task, record.result)
    files = {"in": {str(p): fingerprint(p, sha256=digests[str(p)]) for p in task.sources},
             "out": {str(p): fingerprint(p) for p in task.targets}}
    return {"digests": digests, "record": record, "files": files}


def _named_memory_error(task: FrameTask, call: Callable, *args: Any) -> Any:
    try:
        return call(*args)
    except MemoryError as exc:  # one line naming the frame, not numpy's traceback
        raise out_of_memory(exc, _describe(task), frame_shape=_frame_shape(task.source)) from None


def _record_frame(manifest: Manifest, task: FrameTask, made: dict[str, Any]) -> None:
    """Record a frame :func:`_make_frames` made as done (its files named as the manifest names them)."""
    digests, record = made["digests"], dict(made["record"])
    for key, value in (record.pop(JOB_FACTS, None) or {}).items():
        manifest.set(key, value)
    head = {} if task.source is None else {"sha256": digests[str(task.source)]}
    extra = {"extra_inputs": {str(p): digests[str(p)] for p in task.extra_sources}} if task.extra_sources else {}
    files = {side: {manifest.file_name(p): fp for p, fp in made["files"][side].items()} for side in ("in", "out")}
    manifest.frame_done(task.key, **head, **extra, **record, files=files)


def run_frame_job(manifest: Manifest, tasks: list[FrameTask],
                  process: Callable[[FrameTask], dict[str, Any]], *,
                  force: bool = False, progress: ProgressFn | None = None,
                  resources: Mapping[str, float] | None = None, behind: int = 0) -> Manifest:
    """Run ``process`` on every task not already done; returns the finished manifest.

    The output's lock is taken first (:meth:`Manifest.claim`): a second job
    on the same folder (or frame range) fails with
    :class:`~core.errors.OutputLockedError` before touching anything.
    Frames done by an earlier run with the same config hash (any manifest or
    journal in the output folder) are skipped unless ``force`` — as long as
    their inputs still hold what was read and their outputs what was written
    (each frame records the size, mtime and sha256 of both; a replaced input
    or a truncated or deleted output makes the frame again); a frame such
    a run started but never recorded (killed mid-frame) is redone, replacing
    its output, and temporary files such a run left are removed. Earlier jobs
    of other configs recorded in the folder's manifest are kept in it
    (:meth:`Manifest.keep_earlier_jobs`). A job that fails after frames are
    done leaves its manifest marked ``failed`` (the next run resumes those
    frames); one that fails before any frame is done leaves the folder as it
    found it (:meth:`Manifest.discard`: no manifest, or the one it replaced). Outputs
    that exist but were not made by such a run raise
    :class:`~core.errors.OutputExistsError` before any work starts, unless
    ``force`` (:meth:`Manifest.refuse_foreign`): nothing is silently replaced; a target outside the
    output folder (``../``, an absolute name elsewhere, a symlinked folder) raises
    :class:`~core.errors.ParameterError`, even with ``force``. ``process`` writes
    ``task.targets`` (atomically, overwrite allowed) and returns the frame's
    manifest record; the input's sha256 is added here (and
    ``extra_inputs``, path -> sha256, for a task's ``extra_sources``). A
    ``MemoryError`` in ``process`` becomes one
    :class:`~core.errors.OutOfMemoryError` line naming the frame and the
    sizes (:func:`~core.errors.out_of_memory`); finished frames stay recorded.
    A record may carry facts about the whole job under :data:`JOB_FACTS`
    (``infer``'s runtime): they are set on the manifest, not kept in the frame's record.

    Inside a :func:`core.scale.scheduler` block that names a Dask cluster, the
    frames to make go to its workers in chunks (``process`` pickled by value,
    so it must hold only what can travel: paths, parameters, a model's bytes);
    the manifest is kept here as in a local run, so it ends the same (keys,
    records, hashes; timings aside), and progress comes back as chunks land.
    ``resources``: what a chunk needs of a Dask worker (``{"GPU": 1}``: only
    workers started with ``--resources GPU=1`` take it); ignored in process.

    Write-behind (in process): ``process`` may return a :class:`concurrent.futures.Future` of the record
    instead of the record (the frame's files still being written, e.g. by a pool of writer threads).
    Then at most ``behind`` frames are left unfinished when the next frame is started (the oldest is waited
    for first), and frames are recorded (fingerprinted, progress called) in task order as they finish. A
    frame that fails fails the job with its own error once the frames started before the failure are
    finished and recorded: which frames are made does not depend on timing (the ``behind`` frames after
    a failed one, too). Every frame is marked started before ``process`` is called, so a run killed
    while writing leaves frames the next run redoes, never files it does not know.
    """
    from core.scale import current, pickled, require_resources, run_chunks

    client = current()
    if client is not None:  # before anything is written
        blob = pickled(process, what=manifest.data["command"])
        require_resources(client, resources, what=manifest.data["command"])
    manifest.claim()
    try:
        manifest.keep_earlier_jobs()  # a folder several jobs write into remembers each of them
        done, started = ({}, set()) if force else manifest.previous_work()
        manifest.refuse_foreign([p for t in tasks for p in t.targets], force=force,
                                owned=[p for t in tasks if t.key in done or t.key in started for p in t.targets])
        remove_stale_temps([manifest.path, *(p for t in tasks for p in t.targets)])  # left by a killed run
        videos = _video_inputs(tasks)
    except BaseException:
        manifest.release()
        raise
    from core import io

    if videos:
        manifest.set("videos", videos)
    digest = _digester()
    writing: deque[tuple[int, FrameTask, dict[str, str], Any]] = deque()  # started, not recorded: task order

    def record(most: int) -> None:
        """Record the oldest frames started until at most ``most`` are left (waiting for each in turn)."""
        failure = None
        while len(writing) > most:
            i, task, digests, result = writing.popleft()
            try:
                made = _finish_frame(task, digests, result)
            except BaseException as exc:  # the frames started before the failure are finished first
                failure, most = failure or exc, 0
                continue
            _record_frame(manifest, task, made)
            if progress is not None:
                progress(i + 1, len(tasks), task.frame)
        if failure is not None:
            raise failure

    try:
        pending = []
        for i, task in enumerate(tasks):
            if task.key in done and _intact(manifest, task, done[task.key]):
                record(0)  # progress in task order
                manifest.adopt(task.key, done[task.key])
                if progress is not None:
                    progress(i + 1, len(tasks), task.frame)
            else:
                if client is None:
                    record(behind)
                manifest.frame_started(task.key, **({} if task.source is None else {"input": str(task.source)}))
                pending.append(task)
                if client is None:
                    try:
                        writing.append((i, task, *_start_frame(task, process, digest)))
                    except BaseException:
                        record(0)
                        raise
        record(0)
        if client is not None:
            count = len(tasks) - len(pending)

            def landed(task: FrameTask, made: dict[str, Any]) -> None:
                nonlocal count
                _record_frame(manifest, task, made)
                count += 1
                if progress is not None:
                    progress(count, len(tasks), task.frame)

            run_chunks(client, pending, blob, _make_frames, landed, resources=resources)
            remove_stale_temps(p for t in pending for p in t.targets)  # a worker killed mid-write left its temp file
    except BaseException:
        futures_wait([r for *_, r in writing if isinstance(r, Future)])  # no file lands after the folder is judged
        frames = manifest.data["frames"]
        wrote = any(os.path.lexists(p) for t in tasks if frames.get(t.key, {}).get("status") == "started"
                    for p in t.targets)  # a frame that died after writing: its file is this job's
        if wrote or any(r.get("status") == "done" for r in frames.values()):
            manifest.finish("failed")  # what was done is recorded: the next run resumes it
        else:
            manifest.discard()  # nothing written: the folder is left as it was found
        raise
    finally:
        io.close_video_readers()
    inputs = {}
    for rec in manifest.data["frames"].values():
        if "input" in rec:
            inputs[rec["input"]] = rec.get("sha256")
        inputs.update(rec.get("extra_inputs", {}))
    manifest.data["inputs"] = inputs
    for path, entry in videos.items():  # the colour space each video was read in, from the frame records
        spaces = {r.get("from") for r in manifest.data["frames"].values() if r.get("input") == path}
        spaces |= {r.get("reference_from") for r in manifest.data["frames"].values() if r.get("reference") == path}
        entry["colorspace"] = ", ".join(sorted(s for s in spaces if s))
    manifest.finish("done")
    return manifest
