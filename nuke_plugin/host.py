"""The host adapter: a reelkit node's input frames, its result, and its background task.

Nuke has no Python pixel engine, so a reelkit node works on files:

1. **Input frames.** If the node's input is a plain Read (reached through any
   Dots) whose pixels are the file's own, core reads that Read's files
   directly (``plate.####.exr``, ``plate.%04d.exr``, over the Read's frame
   range). Otherwise the node renders its input to a temporary EXR sequence
   through the ``Write_input`` node inside it (``nuke.execute``), and core
   reads those. :func:`gather_input` decides and returns an
   :class:`InputSequence`. A node with several inputs gathers each
   (``input=i``); input i > 0 renders through its own ``Write_<label>``,
   named after the Input node that labels its arrow.
2. **Core.** The node module calls one core function on those files, off the
   UI thread (:func:`run_task`), with a ``nuke.ProgressTask`` that shows
   progress and can cancel between frames.
3. **Result.** :func:`set_output` stores the output pattern and frame range
   in the node's result knobs; the ``Read_output`` node inside the gizmo
   reads them through expressions, and a Switch shows the input until a
   result exists. (A gizmo instance saves only its own knobs, never its
   internals, so the result lives in the node's knobs, not in the Read's.)

Threads: knobs and the node graph are touched only on Nuke's main thread.
The worker thread runs core and updates the ProgressTask; its result and
errors go back through ``nuke.executeInMainThread``. Without a GUI
(``nuke -t``) the same core call runs synchronously and errors propagate.

The internal node names and result knob names below are the contract with
the gizmos written by :mod:`nuke_plugin.build_gizmos`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from core.errors import ColorSpaceError, ImageWriteError, ParameterError, ReelkitError
from core.jobs import ProgressFn

logger = logging.getLogger("nuke_plugin.host")

# Nodes inside every reelkit gizmo. A node with several inputs names its Input nodes after
# them (the labels on its input arrows) and renders input i > 0 through Write_<label>.
INPUT_NODE = "Input1"
WRITE_NODE = "Write_input"
READ_NODE = "Read_output"
SWITCH_NODE = "Switch_result"
OUTPUT_NODE = "Output1"

# Result knobs on every reelkit gizmo, set by set_output.
OUTPUT_FILE = "output_file"
OUTPUT_FIRST = "output_first"
OUTPUT_LAST = "output_last"
OUTPUT_READY = "output_ready"
STATUS = "status"
NOT_RUN = "not run yet"

# Nuke working-space names (nuke-default and OCIO configs) -> reelkit colour spaces.
NUKE_WORKING_SPACES = {
    "linear": "lin_rec709",
    "lin_rec709": "lin_rec709",
    "Linear Rec.709 (sRGB)": "lin_rec709",
    "Utility - Linear - sRGB": "lin_rec709",
    "Utility - Linear - Rec.709": "lin_rec709",
    "ACEScg": "ACEScg",
    "ACES - ACEScg": "ACEScg",
    "ACES2065-1": "ACES2065-1",
    "ACES - ACES2065-1": "ACES2065-1",
}


class TaskCancelled(ReelkitError):
    """The user cancelled a running job (frames finished before it are kept)."""


class TaskBusy(ReelkitError):
    """A node's previous job is still running."""


# --------------------------------------------------------------------------- input frames


@dataclasses.dataclass(frozen=True)
class InputSequence:
    """The files core reads for a node's input.

    ``pattern`` is a sequence pattern (``####`` / ``%04d``) or, for a
    still, one file (``still``). ``frames`` are the Nuke frame numbers to
    process; for a sequence they are also the file numbers. ``origin`` is
    ``"read"`` (an upstream Read's own files) or ``"render"`` (temporary
    EXRs rendered from the input into ``temp_dir``, deleted after the job).
    """

    pattern: str
    frames: tuple[int, ...]
    origin: str
    upstream: str
    still: bool = False
    temp_dir: str | None = None

    @property
    def first(self) -> int:
        return self.frames[0]

    @property
    def last(self) -> int:
        return self.frames[-1]

    @property
    def frames_text(self) -> str | None:
        """The frames as a core range string (``"1001-1100"``), ``None`` for a still."""
        from core.io import format_frames

        return None if self.still else format_frames(self.frames, sep=",")

    @property
    def identity(self) -> str:
        """What the input is, for naming outputs: the files, or the node rendered from."""
        return self.pattern if self.origin == "read" else f"render:{self.upstream}"

    def paths(self) -> list[str]:
        from core.io import sequence_path

        return [self.pattern] if self.still else [sequence_path(self.pattern, n) for n in self.frames]


def input_label(group, input: int = 0) -> str:
    """The name of the Input node inside ``group`` for input ``input`` (what its arrow shows)."""
    for node in group.nodes():
        if node.Class() == "Input" and int(node["number"].value()) == input:
            return node.name()
    raise ParameterError(f"{group.name()}: no Input node for input {input + 1} inside; create the node again")


def write_node(input: int, label: str) -> str:
    """The Write inside a gizmo that renders input ``input`` (whose Input node is ``label``)."""
    return WRITE_NODE if input == 0 else f"Write_{label}"


def upstream(group, input: int = 0):
    """The node feeding ``group``'s input ``input``, looking through Dots; ``None`` if unconnected."""
    node = group.input(input)
    while node is not None and node.Class() == "Dot":
        node = node.input(0)
    return node


def read_problem(read) -> str | None:
    """Why core cannot read ``read``'s files in its place, or ``None`` if it can.

    It can when the Read is enabled, its file name is literal (no TCL, no
    stereo ``%V``), core reads the format, there is no frame offset, and
    its pixels are the file's own: ``raw`` is on, or its colour space is
    the working space.
    """
    from core.io import EXTENSIONS

    if read.Class() != "Read":
        return f"{read.name()} is a {read.Class()}, not a Read"
    if read["disable"].value():
        return f"{read.name()} is disabled"
    path = read["file"].value()
    if not path:
        return f"{read.name()} has no file"
    if any(c in path for c in "[]$") or re.search(r"%[vV]", path):
        return f"{read.name()}'s file name holds an expression, variable or view"
    ext = os.path.splitext(path)[1].lower()
    if ext not in EXTENSIONS:
        return f"{read.name()} reads {ext or 'extension-less'} files, which core does not read"
    if read["frame"].value().strip():
        return f"{read.name()} offsets or remaps frames"
    if read["raw"].value():
        return None
    space = read["colorspace"].value()
    m = re.fullmatch(r"default \((.*)\)", space)
    resolved = m.group(1) if m else space
    if resolved in ("scene_linear", _working_space_name()):
        return None
    return f"{read.name()} converts its colour ({space}) to the working space"


def sequence_from_read(read, frames: Iterable[int] | None = None) -> InputSequence:
    """The files of a plain Read (see :func:`read_problem`) over ``frames`` (default: its range)."""
    from core.io import is_sequence_pattern

    path = read["file"].value()
    first, last = int(read["first"].value()), int(read["last"].value())
    numbers = tuple(frames) if frames is not None else tuple(range(first, last + 1))
    return InputSequence(pattern=path, frames=numbers, origin="read", upstream=read.fullName(),
                         still=not is_sequence_pattern(path))


def frame_runs(frames: Iterable[int]) -> list[tuple[int, int, int]]:
    """Frames as ``(first, last, step)`` runs for ``nuke.execute``: ``[1, 3, 5, 6]`` -> ``[(1, 5, 2), (6, 6, 1)]``."""
    nums = sorted(set(frames))
    runs = []
    i = 0
    while i < len(nums):
        if i + 1 == len(nums):
            runs.append((nums[i], nums[i], 1))
            break
        step = nums[i + 1] - nums[i]
        j = i + 1
        while j + 1 < len(nums) and nums[j + 1] - nums[j] == step:
            j += 1
        runs.append((nums[i], nums[j], step))
        i = j + 1
    return runs


def render_input(group, frames: Iterable[int], temp_dir: str | os.PathLike, input: int = 0) -> InputSequence:
    """Render ``group``'s input ``input`` to ``temp_dir/<node>.<what>.####.exr`` through its Write.

    Input 0 renders through ``Write_input`` to ``<node>.input.####.exr``;
    input i > 0 through ``Write_<label>`` to ``<node>.<label>.####.exr``
    (``label``: :func:`input_label`). The Write is enabled only while it
    renders, at full resolution: a Write renders at the active scale, so
    proxy mode is turned off for the render and back on after it (core works
    on full-resolution frames; in proxy mode the result's Read scales them
    down itself, as any Read without a proxy file does). The EXR keeps the
    input's bbox as its data window and its format as the display window,
    and core keeps both (:func:`core.io.job_window`). A render error raises
    :class:`~core.errors.ImageWriteError`; cancelling Nuke's render progress
    raises :class:`TaskCancelled`.
    """
    import nuke

    numbers = tuple(sorted(set(frames)))
    label = "input" if input == 0 else input_label(group, input)
    name = write_node(input, label)
    write = group.node(name)
    if write is None:
        raise ParameterError(f"{group.name()}: no {name} node inside; create the node again")
    os.makedirs(temp_dir, exist_ok=True)
    pattern = (Path(temp_dir) / f"{group.name()}.{label}.####.exr").as_posix()
    write["file"].setValue(pattern)
    write["disable"].setValue(False)
    proxy = nuke.root().knob("proxy")
    was_proxy = proxy is not None and bool(proxy.value())
    if was_proxy:
        proxy.setValue(False)
    try:
        for first, last, step in frame_runs(numbers):
            nuke.execute(write, first, last, step)
    except RuntimeError as exc:
        if "cancel" in str(exc).lower():
            raise TaskCancelled(f"{group.name()}: rendering the {label} was cancelled") from None
        raise ImageWriteError(f"{group.name()}: rendering the {label} to {pattern} failed: {exc}") from None
    finally:
        write["disable"].setValue(True)
        write["file"].setValue("")
        if was_proxy:
            proxy.setValue(True)
    up = group.input(input)
    return InputSequence(pattern=pattern, frames=numbers, origin="render", upstream=up.fullName(),
                         temp_dir=os.fspath(temp_dir))


def gather_input(group, *, frames: str = "", mode: str = "auto", input: int = 0) -> InputSequence:
    """The frames of ``group``'s input ``input`` as files: an upstream Read's own, or a temporary render.

    ``frames`` is a core range string (empty: the input's whole range);
    ``mode`` ``"auto"`` reads a plain upstream Read directly, ``"render"``
    always renders (input i > 0 through its own ``Write_<label>``, see
    :func:`render_input`). Runs on the main thread (it may render).
    """
    from core.io import as_frame_range

    if group.input(input) is None:
        label = input_label(group, input)
        if label == INPUT_NODE:
            raise ParameterError(f"{group.name()}: connect an input first")
        raise ParameterError(f"{group.name()}: connect its {label} input (input {input + 1}) first")
    wanted = tuple(as_frame_range(frames)) if frames.strip() else None
    source = upstream(group, input)
    what = "input" if input == 0 else f"{input_label(group, input)} input"
    if mode == "auto":
        problem = read_problem(source)
        if problem is None:
            return sequence_from_read(source, wanted)
        logger.info("%s: rendering the %s (%s)", group.name(), what, problem)
    elif mode != "render":
        raise ParameterError(f"{group.name()}: input mode {mode!r} is not auto or render")
    if wanted is None:
        span = group.input(input).frameRange()
        wanted = tuple(range(int(span.first()), int(span.last()) + 1))
    temp_dir = tempfile.mkdtemp(prefix=f"reelkit_{group.name()}_")
    try:
        return render_input(group, wanted, temp_dir, input)
    except BaseException:
        shutil.rmtree(temp_dir, ignore_errors=True)
        raise


# --------------------------------------------------------------------------- colour, output


def _working_space_name() -> str:
    import nuke

    knob = nuke.root().knob("workingSpaceLUT")
    return knob.value() if knob is not None else ""


def working_space() -> str:
    """Nuke's working space as a reelkit colour space name.

    Raises :class:`~core.errors.ColorSpaceError` naming Nuke's working space
    when reelkit has no name for it (then choose the colour space on the node).
    """
    name = _working_space_name()
    try:
        return NUKE_WORKING_SPACES[name]
    except KeyError:
        raise ColorSpaceError(
            f"Nuke's working space {name!r} has no reelkit name (known: {', '.join(sorted(NUKE_WORKING_SPACES))}); "
            "choose the input colour space on the node"
        ) from None


def default_output_root() -> Path:
    """``<temp>/reelkit/<script name>``: where results go when a node names no output folder."""
    import nuke

    script = nuke.root()["name"].value()
    return Path(tempfile.gettempdir()) / "reelkit" / (Path(script).stem or "untitled")


def output_dir(node, base: str, config: Mapping[str, Any]) -> Path:
    """``<base>/<node name>/<config hash>``: one folder per node and configuration.

    A re-run with the same configuration finds its earlier frames there
    (resume); changed settings never collide with earlier results.
    """
    from core.params import config_hash

    root = Path(base.strip()) if base.strip() else default_output_root()
    return root / node.name() / config_hash(dict(config))[:12]


def set_output(group, pattern: str | os.PathLike, first: int, last: int, status: str, *,
               files: Mapping[str, tuple[str | os.PathLike, str]] | None = None) -> None:
    """Show a result: set the node's result knobs and reload its ``Read_output``. Main thread only.

    ``files`` (a node with a :class:`~nuke_plugin.registry.FileView`): more
    result files, ``{result knob: (pattern, Read node reading it)}``; each
    knob is set and its Read reloaded too.
    """
    extra = dict(files or {})
    reads = [READ_NODE, *(read for _, read in extra.values())]
    missing = [name for name in reads if group.node(name) is None]
    if missing:
        raise ParameterError(f"{group.name()}: no {', '.join(missing)} node inside; create the node again")
    group[OUTPUT_FILE].setValue(Path(pattern).as_posix())
    for knob, (path, _) in extra.items():
        group[knob].setValue(Path(path).as_posix())
    group[OUTPUT_FIRST].setValue(int(first))
    group[OUTPUT_LAST].setValue(int(last))
    group[OUTPUT_READY].setValue(True)
    group[STATUS].setValue(status)
    for name in reads:
        group.node(name)["reload"].execute()


# --------------------------------------------------------------------------- tasks


class Task:
    """A job started by :func:`run_task`.

    ``finished`` is set once the job has ended and, in the GUI, once its
    ``on_done`` callback (or error message) has run on the main thread.
    """

    def __init__(self, title: str):
        self.title = title
        self.result: Any = None
        self.error: BaseException | None = None
        self.cancelled = False
        self.thread: threading.Thread | None = None
        self.finished = threading.Event()

    @property
    def done(self) -> bool:
        return self.finished.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self.finished.wait(timeout)


_running: dict[str, Task] = {}


def check_idle(key: str) -> None:
    """Raise :class:`TaskBusy` if the job started under ``key`` (a node's full name) still runs."""
    task = _running.get(key)
    if task is not None and not task.done:
        raise TaskBusy(f"{key}: the previous run ({task.title}) is still going; wait for it or cancel it")


class _TaskProgress:
    """Progress callback for core, reporting to a ``nuke.ProgressTask`` and raising on cancel."""

    def __init__(self, progress_task):
        self._task = progress_task

    def __call__(self, done: int, total: int, frame: int | None = None) -> None:
        if done < total and self._task.isCancelled():
            raise TaskCancelled(f"cancelled after {done} of {total} frames")
        self._task.setProgress(int(100 * done / total) if total else 100)
        self._task.setMessage(f"frame {frame} ({done}/{total})" if frame is not None else f"{done}/{total}")


def _log_progress(title: str) -> ProgressFn:
    def progress(done: int, total: int, frame: int | None = None) -> None:
        logger.info("%s: frame %s (%d/%d)", title, frame, done, total)

    return progress


# --------------------------------------------------------------------------- undo


@contextlib.contextmanager
def undo_group(label: str) -> Iterator[None]:
    """Everything done inside is one undo item ``label``; on an error it is cancelled (undone) and re-raised."""
    import nuke

    undo = nuke.Undo()
    undo.begin(label)
    try:
        yield
    except BaseException:
        undo.cancel()
        raise
    undo.end()


@contextlib.contextmanager
def undo_disabled() -> Iterator[None]:
    """Nothing done inside goes on the undo stack (``nuke.Undo.disable`` ... ``enable``)."""
    import nuke

    undo = nuke.Undo()
    undo.disable()
    try:
        yield
    finally:
        undo.enable()


#: How the result of a task started now goes on the undo stack (:func:`result_undo`); empty: as each change comes.
_RESULT_UNDO: list[str | None] = []


@contextlib.contextmanager
def result_undo(label: str | None) -> Iterator[None]:
    """Tasks started inside (a button pressed for an assistant action, :mod:`nuke_plugin.agent`) set their result
    (their ``on_done`` / ``on_error`` changes, on the main thread when the work ends) as ONE undo item named
    ``label``; ``None``: as no undo item at all, because the result belongs to an item made already (the node's
    creation, whose Ctrl+Z removes the node and its result with it). Without a GUI the callbacks run inside the
    press, in the caller's own undo group, and nothing changes."""
    _RESULT_UNDO.append(label)
    try:
        yield
    finally:
        _RESULT_UNDO.pop()


def _undo_as(label: str | None, callback: Callable[..., None]) -> Callable[..., None]:
    """``callback`` whose changes are one undo item ``label`` (``None``: recorded nowhere)."""

    def call(*args) -> None:
        with undo_disabled() if label is None else undo_group(label):
            callback(*args)

    return call


def run_task(title: str, work: Callable[[ProgressFn], Any], *, on_done: Callable[[Any], None] | None = None,
             on_error: Callable[[BaseException], None] | None = None,
             cleanup: str | os.PathLike | Iterable[str | os.PathLike | None] | None = None,
             key: str | None = None) -> Task:
    """Run ``work(progress)``: in a background thread with a ProgressTask in the GUI, inline without.

    ``work`` must not touch knobs or nodes; ``progress(done, total, frame)``
    raises :class:`TaskCancelled` when the user cancels. ``on_done(result)``
    runs on the main thread; so does ``on_error(exception)`` when the work
    fails (not when it is cancelled), e.g. to put the reason on the node.
    ``cleanup`` (a folder, or several) is deleted when the work ends,
    however it ends. ``key`` (a node's full name) marks the job as that
    node's until it ends (see :func:`check_idle`). In the GUI errors are
    logged and shown with ``nuke.message``; without a GUI they propagate
    (after ``on_error``).
    """
    import nuke

    if key is not None:
        check_idle(key)
    task = Task(title)
    if not nuke.GUI:
        try:
            task.result = work(_log_progress(title))
        except TaskCancelled:
            raise
        except Exception as exc:
            task.error = exc
            if on_error is not None:
                on_error(exc)
            raise
        finally:
            _remove(cleanup)
            task.finished.set()
        if on_done is not None:
            on_done(task.result)
        return task

    if _RESULT_UNDO:
        on_done, on_error = (None if cb is None else _undo_as(_RESULT_UNDO[-1], cb) for cb in (on_done, on_error))

    def worker() -> None:
        progress_task = None
        try:
            progress_task = nuke.ProgressTask(title)
            progress_task.setMessage("starting")
            task.result = work(_TaskProgress(progress_task))
        except TaskCancelled as exc:
            task.cancelled = True
            logger.info("%s: %s", title, exc)
        except Exception as exc:
            task.error = exc
            logger.error("%s failed", title, exc_info=True)
            text = str(exc) if isinstance(exc, ReelkitError) else f"{type(exc).__name__}: {exc}"
            if on_error is not None:
                nuke.executeInMainThread(on_error, args=(exc,))
            nuke.executeInMainThread(nuke.message, args=(f"{title} failed: {text}",))
        else:
            if on_done is not None:
                nuke.executeInMainThread(on_done, args=(task.result,))
        finally:
            progress_task = None  # Nuke removes the progress bar when the task object goes
            _remove(cleanup)
            nuke.executeInMainThread(task.finished.set)

    if key is not None:
        _running[key] = task
    task.thread = threading.Thread(target=worker, name=f"reelkit: {title}", daemon=True)
    task.thread.start()
    return task


def button(start: Callable[[Any], Task]) -> Callable[[Any], Task | None]:
    """Make a node's button command from its ``start(node) -> Task``.

    The command returns the running :class:`Task`, or ``None`` when the job
    could not start: the reason is shown to the user (raised without a GUI,
    see :func:`report`).
    """

    def run(node) -> Task | None:
        try:
            return start(node)
        except ReelkitError as exc:
            report(exc)
            return None

    run.__doc__ = start.__doc__
    run.__name__ = "run"
    return run


def must_redo(job: Mapping[str, Any], *seqs: InputSequence) -> bool:
    """Whether a job redoes finished frames: asked for, or an input was rendered
    (a rendered input is new on every run, so frames made from an earlier render are stale)."""
    return bool(job["force"]) or any(seq.origin == "render" for seq in seqs)


def report(exc: ReelkitError) -> None:
    """Tell the user why a node could not start: a message box in the GUI, an exception without."""
    import nuke

    if not nuke.GUI:
        raise exc
    if isinstance(exc, TaskCancelled):
        logger.info("%s", exc)
        return
    nuke.message(str(exc))


def _remove(folders) -> None:
    """Delete a folder, or each of several (``None`` entries skipped)."""
    if folders is None:
        return
    for folder in [folders] if isinstance(folders, (str, os.PathLike)) else folders:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
