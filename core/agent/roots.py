"""The folders an agent may touch: every path is resolved (symlinks followed) and must lie inside one.

Relative paths are taken from the first root, never from the server's
working folder. A path whose resolved form leaves every root (``../``, an
absolute path elsewhere, a symlink pointing out) is refused with a
:class:`~core.agent.schema.FieldError` naming the argument, before anything
is read or written.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from core.agent.schema import FieldError
from core.errors import ParameterError


class Roots:
    """The allowed roots, resolved once; :meth:`path` checks one argument, :meth:`check` planned files."""

    def __init__(self, roots: Iterable[str | os.PathLike]):
        self.roots = []
        for root in roots:
            resolved = Path(root).expanduser().resolve()
            if not resolved.is_dir():
                raise ParameterError(f"--root {root}: not a folder")
            self.roots.append(resolved)
        if not self.roots:
            raise ParameterError("at least one --root is required: the folders the server may read and write")

    @property
    def primary(self) -> Path:
        """The first root: relative paths start here; the journal lives in its ``.reelkit/``."""
        return self.roots[0]

    def inside(self, path: Path) -> bool:
        return any(path == root or path.is_relative_to(root) for root in self.roots)

    def path(self, field: str, value: str | os.PathLike) -> Path:
        """``value`` made absolute (from :attr:`primary`) and resolved; refused outside the roots."""
        p = Path(value).expanduser()
        resolved = (p if p.is_absolute() else self.primary / p).resolve()
        if not self.inside(resolved):
            raise FieldError(field, f"{value} is outside the allowed roots ({', '.join(map(str, self.roots))})",
                             code="outside_roots")
        return resolved

    def check(self, field: str, paths: Iterable[str | os.PathLike]) -> None:
        """Every one of ``paths`` (files a plan reads or writes) resolves inside the roots."""
        for path in paths:
            self.path(field, path)
