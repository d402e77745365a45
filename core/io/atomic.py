"""Atomic file output: write to a temporary file beside the target, then rename.

A reader never sees a half-written file, and a failed write leaves any
existing output untouched.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from core.errors import ImageWriteError, OutputExistsError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto ``path`` on success.

    The temporary name keeps the target's suffix (writers choose the format by
    extension). Raises :class:`OutputExistsError` if ``path`` exists and
    ``overwrite`` is false; on any exception the temporary file is removed and
    ``path`` is left as it was.
    """
    target = Path(path)
    if target.exists() and not overwrite:
        raise OutputExistsError(f"{target}: already exists (use --force / overwrite=True to replace it)")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if not tmp.exists():
            raise ImageWriteError(f"{target}: the writer produced no file")
        # mkstemp makes private (0600) files; outputs get the usual umask-based mode
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


# the names atomic_path gives its temporary files: .STEM.XXXXXXXX.tmpSUFFIX (mkstemp's 8 random characters)
_TEMP_NAME = re.compile(r"^\.(?P<stem>.*)\.[a-z0-9_]{8}\.tmp(?P<suffix>(\.[^.]*)?)$")


def remove_stale_temps(targets: Iterable[str | os.PathLike]) -> int:
    """Remove the temporary files :func:`atomic_path` left for ``targets`` (a writer killed mid-write).

    Only call it while no other writer of these targets runs (holding the
    output's lock). Each folder is listed once; returns how many were removed.
    """
    wanted: dict[Path, set[tuple[str, str]]] = {}
    for t in map(Path, targets):
        wanted.setdefault(t.parent, set()).add((t.stem, t.suffix))
    removed = 0
    for folder, names in wanted.items():
        if not folder.is_dir():
            continue
        for entry in os.scandir(folder):
            m = _TEMP_NAME.match(entry.name)
            if m and (m["stem"], m["suffix"]) in names and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed += 1
    return removed


def write_bytes_atomic(path: str | os.PathLike, data: bytes, *, overwrite: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str, *, overwrite: bool = False) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically; returns the path."""
    return write_bytes_atomic(path, text.encode("utf-8"), overwrite=overwrite)


@contextlib.contextmanager
def building_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty folder beside ``path`` (``.NAME.building``); swap it in for ``path`` on success.

    The old folder is renamed aside (``.NAME.old``), the new one renamed onto
    ``path``, then the old one removed, so ``path`` holds either the old
    whole folder or the new whole folder, never a mix. Leftovers of a killed
    run are removed first; on an exception the new folder is removed and
    ``path`` is left as it was.
    """
    target = Path(path)
    building = target.with_name(f".{target.name}.building")
    old = target.with_name(f".{target.name}.old")
    for leftover in (building, old):
        if leftover.exists():
            shutil.rmtree(leftover)
    building.mkdir(parents=True)
    try:
        yield building
        if target.exists():
            os.replace(target, old)
        os.replace(building, target)
    finally:
        for leftover in (building, old):
            if leftover.exists():
                shutil.rmtree(leftover)


@functools.cache
def _umask() -> int:
    """The process umask, read once (reading it means setting it for a moment)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
