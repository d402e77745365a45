"""Output manifests: what a command did, with what, so it can be trusted and resumed.

Every command writes ``manifest.json`` into its ``--output-dir`` beside its
files: tool and version, the command, inputs with sha256, parameters, seed,
a config hash, timings and a per-frame status. A re-run with the same config
hash skips frames already done (resume); ``force`` redoes them.

When a job is split by frame range (``--frames 1001-1100`` on several farm
machines writing into one folder), each range keeps its own manifest file
(``manifest.frames-1001-1100.json``) so concurrent jobs never write the same
file.

Two promises hold for every command that writes through a manifest:

- **One writer per output.** :class:`OutputLock` claims the folder with a
  lock file (``.reelkit.lock``: pid, host, command, start time) before the
  job writes anything; a second job on the same folder is refused with
  :class:`~core.errors.OutputLockedError`. A frame-range job claims only its
  range (``.reelkit.frames-1001-1100.lock``), so farm machines can share a
  folder, but never beside a whole-folder job. The lock of a dead process
  (same host) is stale and taken over.
- **Nothing done is forgotten.** Each frame is journalled (``manifest.journal``:
  one JSON line appended when a frame starts and one when it is done) while
  the manifest itself is saved at most every 2 s, so a job killed with
  SIGKILL at any moment resumes: done frames are adopted, and the frame that
  was in flight is redone (its file, if it got there, is this job's own).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import socket
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from core.errors import FormatError, ImageReadError, OutputExistsError, OutputLockedError, ParameterError
from core.formats import FORMATS
from core.io.atomic import write_text_atomic
from core.params import config_hash

#: A manifest's format, ``reelkit.manifest/1`` (:mod:`core.formats`).
FORMAT = FORMATS["reelkit.manifest"]
_SAVE_INTERVAL_S = 2.0
_WHOLE_LOCK = ".reelkit.lock"
_RANGE_LOCK = ".reelkit.frames-"


def file_sha256(path: str | os.PathLike, *, chunk: int = 1 << 20) -> str:
    """sha256 hex digest of a file, read in chunks (flat memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def fingerprint(path: str | os.PathLike, *, sha256: str | None = None) -> dict[str, Any]:
    """What a manifest records of a file it read or wrote: ``size``, ``mtime_ns`` and ``sha256``."""
    st = os.stat(path)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha256 or file_sha256(path)}


def file_change(path: str | os.PathLike, recorded: Mapping[str, Any], *, rehash: bool = False) -> str | None:
    """How ``path`` differs from its :func:`fingerprint` ``recorded``, or ``None`` when it holds the same content.

    Cheap when nothing changed: the same size and modification time are
    trusted (unless ``rehash``); when the time changed (a copy, a ``touch``)
    the content is hashed and compared, so only a real change counts.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    if st.st_size != recorded.get("size"):
        return f"size {st.st_size} bytes, recorded {recorded.get('size')}"
    if st.st_mtime_ns == recorded.get("mtime_ns") and not rehash:
        return None
    if file_sha256(path) != recorded.get("sha256"):
        return "content changed (sha256 differs from the record)"
    return None


def _bookkeeping(rel: Path) -> bool:
    """A manifest, journal, lock or temporary file: not an output a manifest records."""
    return any(part.startswith(".") for part in rel.parts) or (
        len(rel.parts) == 1 and rel.name.startswith("manifest") and rel.suffix in (".json", ".journal"))


def file_changes(base: str | os.PathLike, files: Mapping[str, Any] | None, *,
                 rehash: bool = False) -> list[tuple[Path, str]]:
    """``(path, how)`` for each file of a ``files`` record (``{"in"|"out": {name: fingerprint}}``) that changed.

    Names are relative to ``base`` (the manifest's folder) or absolute.
    """
    out = []
    for group in (files or {}).values():
        for name, recorded in (group or {}).items():
            path = Path(base) / name
            how = file_change(path, recorded, rehash=rehash)
            if how is not None:
                out.append((path, how))
    return out


def refuse_escapes(folder: str | os.PathLike, paths: Iterable[str | os.PathLike]) -> None:
    """Raise :class:`~core.errors.ParameterError` (one line naming the path) when any of ``paths``
    would be written outside ``folder``.

    Outside: the path leaves the folder by name (``../``, an absolute name
    elsewhere), or one of the folders between ``folder`` and the file is a
    symbolic link (followed, it could lead anywhere), or the file itself is a
    symbolic link. ``folder`` itself may be a link (an output on another
    disk). Call it before anything is written; ``force`` does not lift it.
    """
    root = os.path.abspath(folder)
    real_root = os.path.realpath(root)
    cwd = os.getcwd()
    parents_ok: set[str] = set()  # the frames of a sequence share their folder: resolve it once
    for given in paths:
        raw = os.path.join(cwd, given)
        path = os.path.normpath(raw)
        rel = os.path.relpath(path, root)
        if rel == "." or rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
            raise ParameterError(f"output {given}: outside the output folder {folder} "
                                 "(output names must stay inside --output-dir)")
        parent = os.path.dirname(raw)
        # realpath resolves each link before a following '..', as the system does when writing
        if parent not in parents_ok:
            if os.path.realpath(parent) != os.path.normpath(os.path.join(real_root, os.path.dirname(rel))):
                for inside in reversed(Path(raw).parents):
                    if len(inside.parts) > len(Path(root).parts) and inside.is_symlink():
                        raise ParameterError(f"output {given}: goes through {inside}, a symbolic link to "
                                             f"{os.path.realpath(inside)} (outputs are never written through links)")
                raise ParameterError(f"output {given}: leaves the output folder {folder} through a symbolic link")
            parents_ok.add(parent)
        if os.path.islink(path):
            raise ParameterError(f"output {given}: is a symbolic link (to {os.path.realpath(path)}); "
                                 "outputs are never written through links")


def refuse_foreign(paths: Iterable[str | os.PathLike], *, owned: Iterable[str | os.PathLike] = ()) -> None:
    """The no-overwrite rule: raise :class:`~core.errors.OutputExistsError` when any of ``paths`` exists
    and is not in ``owned`` (one line: the first such file and how many more).

    Commands with a manifest call :meth:`Manifest.refuse_foreign` (which knows
    what earlier runs made, and ``--force``); a command without one (``palette
    report``) owns nothing it finds.
    """
    mine = {Path(os.path.abspath(p)) for p in owned}
    foreign = [str(p) for p in paths if os.path.lexists(p) and Path(os.path.abspath(p)) not in mine]
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        raise OutputExistsError(f"{foreign[0]}{more}: already exists and was not made by this job "
                                "(use --force to replace)")


def _jobs(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Every job a manifest holds, newest first: its own, then the earlier jobs it keeps (``jobs``,
    :meth:`Manifest.keep_earlier_jobs`)."""
    earlier = [j for j in (data.get("jobs") or []) if isinstance(j, Mapping)]
    return [data, *reversed(earlier)]


def _folder_jobs(folder: Path) -> Iterator[Mapping[str, Any]]:
    """Every job recorded by the reelkit manifests (``manifest*.json``) in ``folder``, manifest by manifest
    in name order, each manifest's newest job first (:func:`_jobs`); unreadable or foreign files are skipped."""
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("manifest*.json")):
        try:
            old = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        old = _manifest(old, path)
        if old is not None:
            yield from _jobs(old)


def _manifest(data: Any, where: str | os.PathLike) -> dict[str, Any] | None:
    """``data`` read as a reelkit manifest (:data:`FORMAT`, upgraded when older); ``None`` for any other JSON."""
    if not isinstance(data, dict):
        return None
    try:
        return FORMAT.read(data, where=str(where))
    except FormatError:
        return None


def _files_records(data: Mapping[str, Any], *, done_only: bool = False) -> list[Mapping[str, Any]]:
    """The ``files`` records of a manifest: the job's own and each frame's (done frames only, if asked)."""
    frames = [r for r in (data.get("frames") or {}).values()
              if isinstance(r, dict) and (r.get("status") == "done" or not done_only)]
    return [f for f in (data.get("files"), *(r.get("files") for r in frames)) if isinstance(f, Mapping)]


def verify_folder(folder: str | os.PathLike) -> tuple[int, list[str]]:
    """Re-hash every file the manifests under ``folder`` record; ``(files checked, one line per mismatch)``.

    Reads every ``manifest*.json`` (``reelkit.manifest/1``) in ``folder`` and
    its sub-folders, every job each holds (newest first: a file a later job
    rewrote is checked against that job's record): the fingerprints (size,
    sha256) of what each job read and wrote, per frame and per job, and the
    sha256 of its inputs.
    """
    root = Path(folder)
    if not root.is_dir():
        raise ImageReadError(f"{root}: no such folder")
    checked: set[Path] = set()
    problems: list[str] = []
    manifests = sorted(p for p in root.rglob("manifest*.json")
                       if not any(part.startswith(".") for part in p.relative_to(root).parts))
    found = 0
    for mpath in manifests:
        try:
            data = json.loads(mpath.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            problems.append(f"{mpath}: unreadable manifest ({exc})")
            continue
        data = _manifest(data, mpath)
        if data is None:
            continue
        found += 1
        for job in _jobs(data):
            for files in _files_records(job, done_only=True):
                for group in (files or {}).values():
                    for name, recorded in (group or {}).items():
                        path = mpath.parent / name
                        if path in checked:
                            continue
                        checked.add(path)
                        how = file_change(path, recorded, rehash=True)
                        if how is not None:
                            problems.append(f"{path}: {how} ({mpath.relative_to(root)})")
            for name, digest in (job.get("inputs") or {}).items():
                path = Path(name)
                if path in checked or (mpath.parent / name) in checked or not isinstance(digest, str):
                    continue
                checked.add(path)
                how = file_change(path, {"sha256": digest, "size": _size(path)}, rehash=True)
                if how is not None:
                    problems.append(f"{path}: {how} ({mpath.relative_to(root)})")
    if not found:
        problems.append(f"{root}: no reelkit manifest found")
    return len(checked), problems


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _safe_range(frame_range: str) -> str:
    return "".join(c if c.isalnum() or c in "-x" else "_" for c in frame_range)


def manifest_name(frame_range: str | None = None) -> str:
    """``manifest.json``, or ``manifest.frames-A-B.json`` for a partial frame range."""
    return f"manifest.frames-{_safe_range(frame_range)}.json" if frame_range else "manifest.json"


def lock_name(frame_range: str | None = None) -> str:
    """``.reelkit.lock``, or ``.reelkit.frames-A-B.lock`` for a partial frame range."""
    return f"{_RANGE_LOCK}{_safe_range(frame_range)}.lock" if frame_range else _WHOLE_LOCK


# -- one writer per output ------------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    except (OSError, OverflowError, ValueError):
        return False
    return True


@contextlib.contextmanager
def _folder_guard(folder: Path) -> Iterator[None]:
    """Serialise lock checks in ``folder`` between processes (``flock`` on the folder; best effort)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: the lock files alone
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):  # a file system without flock: the lock files alone
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing drops the flock


def _read_lock(path: Path) -> dict[str, Any] | None:
    try:
        info = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


class OutputLock:
    """An exclusive claim on an output folder, or on one frame range of it.

    The lock file holds ``{"pid", "host", "command", "started"}`` and is
    written atomically. Its owner is a process (same pid and host): a job
    run inside another on the same folder (the demo's project, a stage of a
    run) shares the outer one's lock, and only the outer one deletes it. A lock of a dead process on this host is stale and taken over; a
    lock from another host is trusted until its file is deleted.
    """

    def __init__(self, folder: str | os.PathLike, command: str, *, frame_range: str | None = None):
        self.folder = Path(folder)
        self.command = command
        self.path = self.folder / lock_name(frame_range)
        self.held = False
        self._nested = False

    def acquire(self) -> None:
        """Take the lock (creating the folder); raises :class:`~core.errors.OutputLockedError` when in use."""
        if self.held:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        host, pid = socket.gethostname(), os.getpid()
        nested = False
        with _folder_guard(self.folder):
            for path in (self.folder / _WHOLE_LOCK, *sorted(self.folder.glob(f"{_RANGE_LOCK}*.lock"))):
                if not path.is_file() or _WHOLE_LOCK not in (path.name, self.path.name) and path != self.path:
                    continue  # absent, or another frame range
                info = _read_lock(path)
                if info is None or (info.get("host") == host and not _pid_alive(int(info.get("pid", -1)))):
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()  # stale: its job is gone
                    continue
                if info.get("host") == host and info.get("pid") == pid:
                    nested = nested or path == self.path
                    continue  # ours
                what = "this folder" if path.name == _WHOLE_LOCK else "frames " + path.name[len(_RANGE_LOCK):-5]
                raise OutputLockedError(
                    f"{self.folder}: {what} in use by another job ({info.get('command', '?')}, pid {info.get('pid')} "
                    f"on {info.get('host')}, since {info.get('started', '?')}); wait for it to finish, or delete "
                    f"{path} if that job is gone")
            if not nested:
                record = {"pid": pid, "host": host, "command": self.command,
                          "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
                write_text_atomic(self.path, json.dumps(record) + "\n", overwrite=True)
        self.held, self._nested = True, nested

    def release(self) -> None:
        """Give the lock back: its file is deleted if it is still this process's."""
        if not self.held:
            return
        self.held = False
        if self._nested or not self.folder.is_dir():  # nested: the outer holder gives it back
            return
        with _folder_guard(self.folder):
            info = _read_lock(self.path)
            if info is not None and info.get("pid") == os.getpid() and info.get("host") == socket.gethostname():
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()


# -- manifests --------------------------------------------------------------------------------------


class Manifest:
    """A command's manifest, saved atomically and throttled during long runs.

    ``config`` is everything that determines the outputs (inputs pattern,
    parameters, seed, tool version); its hash decides whether existing
    outputs may be resumed. The first save (or :meth:`claim`) takes the
    output's :class:`OutputLock`; :meth:`finish` gives it back.
    """

    def __init__(self, output_dir: str | os.PathLike, command: str, config: Mapping[str, Any], *,
                 frame_range: str | None = None, seed: int | None = None):
        from core import __version__

        self.output_dir = Path(output_dir)
        self.path = self.output_dir / manifest_name(frame_range)
        self.journal_path = self.path.with_suffix(".journal")
        self.lock = OutputLock(self.output_dir, command, frame_range=frame_range)
        self.config_hash = config_hash({**config, "tool_version": __version__, "command": command})
        self.data: dict[str, Any] = {
            "format": FORMAT.tag,
            "tool": "reelkit",
            "version": __version__,
            "command": command,
            "argv": list(sys.argv),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "config": dict(config),
            "config_hash": self.config_hash,
            "seed": seed,
            "frame_range": frame_range,
            "inputs": {},
            "outputs": {},
            "frames": {},
            "timings": {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
            "status": "running",
        }
        self._last_save = 0.0
        self._t0 = time.perf_counter()
        self._found: tuple[bool, str | None] | None = None  # (folder existed, manifest text) at the first claim

    # -- ownership --------------------------------------------------------------------------------------
    def claim(self) -> None:
        """Take the output lock now, before anything is written (idempotent); the folder's state is
        noted first, so :meth:`discard` can put it back."""
        if self._found is None:
            existed = self.output_dir.is_dir()
            self.lock.acquire()
            try:
                replaced = self.path.read_text("utf-8") if existed else None
            except OSError:
                replaced = None
            self._found = (existed, replaced)
        self.lock.acquire()

    def release(self) -> None:
        """Give the output lock back (also done by :meth:`finish`)."""
        self.lock.release()

    # -- resume -----------------------------------------------------------------
    def previous_work(self) -> tuple[dict[str, dict[str, Any]], set[str]]:
        """(done records, keys started but never done) of earlier runs with the same config hash.

        Looks at every manifest and journal in the output folder, and every
        earlier job a manifest keeps (:meth:`keep_earlier_jobs`), so work
        done by another frame-range job of the same config, by a job that
        was killed, or by an earlier job of a folder other jobs wrote into
        since, counts too. A started key is a frame such a run was making
        when it died: its outputs, if present, are that run's and may be replaced.
        """
        done: dict[str, dict[str, Any]] = {}
        started: set[str] = set()
        for job in _folder_jobs(self.output_dir):
            if job.get("config_hash") != self.config_hash:
                continue
            for key, rec in (job.get("frames") or {}).items():
                if rec.get("status") == "done":
                    done.setdefault(key, rec)  # the newest job's record first
                elif rec.get("status") == "started":
                    started.add(key)
        for path in sorted(self.output_dir.glob("manifest*.journal")):
            with contextlib.suppress(OSError):
                for line in path.read_text("utf-8").splitlines():
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue  # a line cut short by a kill
                    if not isinstance(entry, dict) or entry.get("config_hash") != self.config_hash:
                        continue
                    key, rec = str(entry.get("key")), entry.get("record") or {}
                    if rec.get("status") == "done":
                        done[key] = rec
                    elif rec.get("status") == "started":
                        started.add(key)
        return done, started - set(done)

    def keep_earlier_jobs(self) -> None:
        """Share the folder with the jobs written into it before: the manifest this one replaces keeps
        living in this one's ``jobs`` list (its own ``jobs`` too), so converting ``a.exr`` then ``b.exr``
        into one folder and running the ``a.exr`` command again resumes it, and ``a``'s files stay owned
        and verified. A job with this one's config hash is this job (resumed) and is not kept twice.
        Call it before the first save.
        """
        self.claim()
        earlier: list[dict[str, Any]] = []
        try:
            old = json.loads(self._found[1] or "")
        except ValueError:
            old = None
        old = _manifest(old, self.path)
        if old is not None:
            for job in [*(old.get("jobs") or []), {k: v for k, v in old.items() if k != "jobs"}]:
                if isinstance(job, dict) and job.get("config_hash") != self.config_hash:
                    earlier = [j for j in earlier if j.get("config_hash") != job.get("config_hash")] + [job]
        self.data["jobs"] = earlier

    def discard(self) -> None:
        """The job failed before writing anything: put back the manifest it replaced (none if there was
        none; a folder made for it is removed when empty), drop its journal and give the lock back, so a
        failed command leaves the folder as it found it."""
        self.claim()
        existed, replaced = self._found
        try:
            with contextlib.suppress(FileNotFoundError):
                self.journal_path.unlink()
            if replaced is not None:
                write_text_atomic(self.path, replaced, overwrite=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
        finally:
            self.release()
        if not existed:
            with contextlib.suppress(OSError):
                self.output_dir.rmdir()  # only when empty: the lock file is gone, nothing else was written

    def previous_done(self) -> dict[str, dict[str, Any]]:
        """Per-frame records marked done by earlier runs with the same config hash (see :meth:`previous_work`)."""
        return self.previous_work()[0]

    def adopt(self, key: str, record: Mapping[str, Any]) -> None:
        """Carry a frame record from an earlier run into this manifest (resume)."""
        self.data["frames"][key] = {**record, "resumed": True}

    # -- what the job read and wrote ---------------------------------------------------------------------
    def file_name(self, path: str | os.PathLike) -> str:
        """How a file is recorded: relative to the output folder when inside it (the folder can move), else absolute."""
        p = Path(os.path.abspath(path))
        try:
            return p.relative_to(os.path.abspath(self.output_dir)).as_posix()
        except ValueError:
            return str(p)

    def files_record(self, inputs: Iterable[str | os.PathLike] = (), outputs: Iterable[str | os.PathLike] = (), *,
                     input_sha256: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
        """``{"in": {name: fingerprint}, "out": {...}}`` of the files a frame (or a job) read and wrote.

        ``input_sha256`` (path -> digest) saves hashing inputs twice.
        """
        known = input_sha256 or {}
        return {"in": {self.file_name(p): fingerprint(p, sha256=known.get(str(p))) for p in inputs},
                "out": {self.file_name(p): fingerprint(p) for p in outputs}}

    def record_folder(self, folder: str | os.PathLike | None = None) -> None:
        """Record every file under ``folder`` (default the output folder) as this job's output, in ``files``.

        Manifests, journals and hidden files (locks, temporary files) are left out.
        """
        root = Path(folder or self.output_dir)
        paths = sorted(p for p in root.rglob("*") if p.is_file() and not _bookkeeping(p.relative_to(root)))
        self.data["files"] = self.files_record(outputs=paths)

    def record_outputs(self, paths: Iterable[str | os.PathLike]) -> None:
        """Add files this job wrote (those that exist) to its ``files`` record: they become its own."""
        files = self.data.setdefault("files", {"in": {}, "out": {}})
        files.setdefault("out", {}).update(self.files_record(outputs=[p for p in paths if os.path.isfile(p)])["out"])

    def declare_outputs(self, paths: Iterable[str | os.PathLike]) -> None:
        """Name files this job will write (``owns``) before writing them, so a job killed before its
        manifest records them still owns them; saved with the manifest's next save."""
        names = self.data.setdefault("owns", [])
        names.extend(n for n in map(self.file_name, paths) if n not in names)

    def owned_files(self) -> set[Path]:
        """Files earlier runs of this command recorded as their outputs in this folder (any settings)."""
        owned: set[Path] = set()
        for job in _folder_jobs(self.output_dir):
            if job.get("command") != self.data["command"]:
                continue
            names = [n for files in _files_records(job) for n in (files.get("out") or {})] + list(job.get("owns") or [])
            owned.update(Path(os.path.abspath(self.output_dir / name)) for name in names)
        return owned

    def refuse_foreign(self, paths: Iterable[str | os.PathLike], *, force: bool = False,
                       owned: Iterable[str | os.PathLike] | None = None) -> None:
        """The no-overwrite rule of every command: a file this job does not own is never replaced without ``force``.

        Raises :class:`~core.errors.OutputExistsError` (one line: the first
        such file and how many more) when any of ``paths`` exists and is not
        owned. Owned: ``owned`` when given (a per-frame job passes the frames
        an earlier run with the same config made), else what earlier runs of
        this command recorded in this folder (:meth:`owned_files`). Call it
        before anything is written. Paths that would land outside the output
        folder (:func:`refuse_escapes`) are refused even with ``force``.
        """
        paths = list(paths)
        refuse_escapes(self.output_dir, paths)
        if not force:
            refuse_foreign(paths, owned=self.owned_files() if owned is None else owned)

    def changed_files(self, files: Mapping[str, Any] | None, *, rehash: bool = False) -> list[tuple[Path, str]]:
        """``(path, how)`` for every file of a :meth:`files_record` that no longer holds what was recorded."""
        return file_changes(self.output_dir, files, rehash=rehash)

    # -- recording ------------------------------------------------------------------------------------
    def add_input(self, path: str | os.PathLike, sha256: str | None = None) -> str:
        digest = sha256 or file_sha256(path)
        self.data["inputs"][str(path)] = digest
        return digest

    def _journal(self, key: str, record: Mapping[str, Any]) -> None:
        """Append one line to the journal (no fsync: it survives the process being killed, not a power cut)."""
        self.claim()
        line = json.dumps({"config_hash": self.config_hash, "key": key, "record": record}, default=str)
        with open(self.journal_path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    def frame_started(self, key: str, **info: Any) -> None:
        """Record that ``key`` is being made: if the job dies now, a re-run redoes it."""
        self.data["frames"][key] = {"status": "started", **info}
        self._journal(key, self.data["frames"][key])

    def frame_done(self, key: str, **info: Any) -> None:
        self.data["frames"][key] = {"status": "done", **info}
        self._journal(key, self.data["frames"][key])
        self.save(throttle=True)

    def frame_failed(self, key: str, error: str, **info: Any) -> None:
        self.data["frames"][key] = {"status": "failed", "error": error, **info}
        self._journal(key, self.data["frames"][key])
        self.save(throttle=True)

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value

    def finish(self, status: str = "done") -> Path:
        """Save the manifest a last time with ``status``, drop the journal and give the lock back."""
        self.data["status"] = status
        self.data["timings"]["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self.data["timings"]["seconds"] = round(time.perf_counter() - self._t0, 3)
        path = self._write()
        with contextlib.suppress(FileNotFoundError):
            self.journal_path.unlink()  # the manifest now holds every record
        self.release()
        return path

    def save(self, *, throttle: bool = False) -> Path:
        """Write the manifest atomically (taking the lock first); with ``throttle``, at most every 2 s.

        Saving a finished manifest (an amendment after :meth:`finish`) takes
        the lock for the write only.
        """
        if throttle and time.perf_counter() - self._last_save < _SAVE_INTERVAL_S:
            return self.path
        path = self._write()
        if self.data["status"] != "running":
            self.release()
        return path

    def _write(self) -> Path:
        self.claim()
        self._last_save = time.perf_counter()
        text = json.dumps(self.data, indent=2, sort_keys=False, default=str)
        return write_text_atomic(self.path, text + "\n", overwrite=True)
