"""What the journal panel shows, without Qt: a root's agent journal as rows, and undo / redo from them.

:class:`JournalModel` reads ``<root>/.reelkit/journal.jsonl`` through
:class:`~core.agent.journal.Journal` (the file the MCP server writes, so the
panel and the server see one history), newest action first. A row says what
ran, when, its state (``done`` / ``undone``), what it did to files, and where
it is undone: by this model (file actions, byte for byte) or in the host
application (a Nuke action: one Ctrl+Z, named). :meth:`JournalModel.refresh`
re-reads the file only when it changed (size, time).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from core.agent.journal import Journal
from core.agent.schema import FieldError


@dataclasses.dataclass(frozen=True)
class JournalRow:
    """One action as the panel lists it."""

    id: int
    time: str
    tool: str
    state: str
    files: str
    undo_in: str
    detail: str

    @property
    def undoable(self) -> bool:
        return self.state == "done" and self.undo_in == "journal"

    @property
    def redoable(self) -> bool:
        return self.state == "undone" and self.undo_in == "journal"


def _files(action: dict[str, Any]) -> str:
    """``2 created, 1 replaced, 4 removed`` (``none`` when the action touched no file)."""
    counts = [(len(action.get(k) or {}), k) for k in ("created", "replaced", "removed")]
    return ", ".join(f"{n} {k}" for n, k in counts if n) or "none"


def _row(action: dict[str, Any]) -> JournalRow:
    host = action.get("host")
    detail = {"arguments": action.get("arguments"), **{k: sorted(action.get(k) or {})
                                                        for k in ("created", "replaced", "removed")}}
    if action.get("error"):
        detail["error"] = action["error"]
    return JournalRow(action["id"], action.get("time", ""), action["tool"], action["state"], _files(action),
                      f"{host.title()}: Edit > Undo {action.get('host_undo', '')!r}" if host else "journal",
                      json.dumps(detail, indent=1, default=str))


class JournalModel:
    """The journal of the agent server whose first root is ``root``; ``None``: no folder chosen yet."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.rows: list[JournalRow] = []
        self.message = ""
        self._stamp: tuple[int, int] | None = None
        self.journal: Journal | None = None
        self.set_root(root)

    @property
    def root(self) -> Path | None:
        return None if self.journal is None else self.journal.folder.parent

    def set_root(self, root: str | os.PathLike | None) -> None:
        """Watch the journal of ``root`` (a folder the server was started with, its first ``--root``)."""
        self.journal = None if root in (None, "") else Journal(Path(root).expanduser())
        self._stamp = None
        self.refresh()

    def refresh(self) -> bool:
        """Re-read the journal if it changed since; True when the rows changed."""
        if self.journal is None or not self.journal.path.is_file():
            stamp = None
        else:
            st = self.journal.path.stat()
            stamp = (st.st_size, st.st_mtime_ns)
        if stamp == self._stamp and (self.rows or stamp is None):
            return False
        self._stamp = stamp
        actions = [] if stamp is None else self.journal.actions()
        self.rows = [_row(a) for a in reversed(actions)]
        return True

    def row(self, action_id: int) -> JournalRow:
        return next(r for r in self.rows if r.id == action_id)

    def _act(self, what: str, action_id: int | None) -> dict[str, Any]:
        if self.journal is None:
            raise FieldError("root", "no journal folder chosen", code="missing")
        try:
            result = getattr(self.journal, what)(action_id)
        except FieldError as exc:
            self.message = str(exc)
            raise
        self.message = f"{what} {result.get('undone') or result.get('redone')} ({result['tool']}): done"
        self.refresh()
        return result

    def undo(self, action_id: int | None = None) -> dict[str, Any]:
        """Undo ``action_id`` (default: the last action done), as the server's ``undo`` does."""
        return self._act("undo", action_id)

    def redo(self, action_id: int | None = None) -> dict[str, Any]:
        """Redo ``action_id`` (default: the last action undone), as the server's ``redo`` does."""
        return self._act("redo", action_id)
