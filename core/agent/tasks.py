"""Long calls as background tasks: started, polled, cancelled between frames; resumable after a restart.

A writing call with ``background=true`` runs in a thread of the server and
returns a task id at once. The task follows the job's own progress
(frames done of frames), and :meth:`Tasks.cancel` stops it after the frame
in hand: the job's manifest then records the frames done (status
``failed``), so the same call again resumes them (:func:`core.jobs.run_frame_job`).
A staged call (a restoration project, a dataset) reports its stage too
(``note``). Each task's state is kept in ``<root>/.reelkit/tasks/<id>.json``
and its log (one line per stage change, per second of progress at most, and
the end) in ``<id>.log``, whose last lines :meth:`Tasks.status` returns; a task
still ``running`` there when a new server starts was cut off with the old
one and reads as ``interrupted`` (run the same call again to resume it).
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.agent.schema import FieldError
from core.errors import ReelkitError
from core.formats import FORMATS

#: A task record's format, ``reelkit.agent.task/1`` (:mod:`core.formats`).
FORMAT = FORMATS["reelkit.agent.task"]
#: Lines of a task's log that :meth:`Tasks.status` returns.
LOG_TAIL = 20


class TaskCancelled(ReelkitError):
    """A background task stopped on request, between two frames."""


@dataclasses.dataclass
class Task:
    id: int
    tool: str
    state: str = "running"  # running, done, failed, cancelled, interrupted
    done: int = 0
    total: int | None = None
    frame: int | None = None
    #: what the task is doing now (a staged call's stage)
    note: str | None = None
    action: int | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    started: float = dataclasses.field(default_factory=time.time)
    finished: float | None = None
    pid: int = dataclasses.field(default_factory=os.getpid)

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT.tag, **dataclasses.asdict(self)}


class Tasks:
    """The background tasks of one server, kept in ``folder``."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._lock = threading.Lock()
        self._cancel: dict[int, threading.Event] = {}
        self._threads: dict[int, threading.Thread] = {}

    def _path(self, task_id: int) -> Path:
        return self.folder / f"{task_id}.json"

    def _log(self, task: Task, line: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / f"{task.id}.log", "a", encoding="utf-8") as fh:
            fh.write(f"{time.strftime('%H:%M:%S')} {line}\n")

    def status(self, task: Task, lines: int = LOG_TAIL) -> dict[str, Any]:
        """The task as JSON with the last ``lines`` lines of its log (``log_tail``)."""
        log = self.folder / f"{task.id}.log"
        tail = log.read_text("utf-8").splitlines()[-lines:] if log.is_file() else []
        return {**task.to_dict(), "log_tail": tail}

    def _save(self, task: Task) -> None:
        from core.io.atomic import write_text_atomic

        self.folder.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self._path(task.id), json.dumps(task.to_dict(), sort_keys=True, default=str) + "\n",
                          overwrite=True)

    def _load(self, path: Path) -> Task:
        data = dict(FORMAT.read(json.loads(path.read_text("utf-8")), where=str(path)))
        data.pop("format")
        task = Task(**data)
        if task.state == "running" and task.id not in self._threads:  # a server before this one ran it
            task.state = "interrupted"
        return task

    def all(self) -> list[Task]:
        if not self.folder.is_dir():
            return []
        return sorted((self._load(p) for p in self.folder.glob("*.json")), key=lambda t: t.id)

    def get(self, task_id: int) -> Task:
        if not self._path(task_id).is_file():
            raise FieldError("id", f"no task {task_id}", code="not_found")
        return self._load(self._path(task_id))

    def start(self, tool: str, work: Callable[[Callable[..., None]], tuple[int, dict[str, Any]]]) -> Task:
        """Run ``work(progress)`` (returns (journal action id, result)) in a thread; the task as it starts."""

        last = {"note": None, "time": 0.0}

        def progress(done: int, total: int, frame=None, note: str | None = None) -> None:
            task.done, task.total, task.frame, task.note = done, total, frame, note
            self._save(task)
            now = time.monotonic()
            if note != last["note"] or now - last["time"] >= 1.0 or done == total:
                self._log(task, f"{note + ': ' if note else ''}{done}/{total or '?'}"
                          f"{'' if frame is None else f' (frame {frame})'}")
                last.update(note=note, time=now)
            if cancel.is_set() and (not total or done < total):
                raise TaskCancelled(f"task {task_id} cancelled after {done} of {total} frame(s)")

        def main() -> None:
            try:
                task.action, task.result = work(progress)
                task.state = "done"
            except TaskCancelled as exc:
                task.state, task.error = "cancelled", str(exc)
            except BaseException as exc:  # the task's failure is its state; the server goes on
                task.state, task.error = "failed", f"{type(exc).__name__}: {exc}"
            task.finished = time.time()
            self._save(task)
            self._log(task, task.state + (f": {task.error}" if task.error else ""))

        with self._lock:
            task_id = 1 + max((t.id for t in self.all()), default=0)
            task = Task(task_id, tool)
            cancel = self._cancel[task_id] = threading.Event()
            thread = self._threads[task_id] = threading.Thread(target=main, name=f"reelkit-task-{task_id}",
                                                               daemon=True)
            self._save(task)
        thread.start()
        return task

    def cancel(self, task_id: int) -> Task:
        """Ask a running task to stop after its current frame; returns its state now."""
        task = self.get(task_id)
        if task.state != "running":
            raise FieldError("id", f"task {task_id} is {task.state}, not running", code="invalid")
        self._cancel[task_id].set()
        return task

    def wait(self, task_id: int, timeout: float | None = None) -> Task:
        """The task once its thread ended (or ``timeout`` passed)."""
        thread = self._threads.get(task_id)
        if thread is not None:
            thread.join(timeout)
        return self.get(task_id)
