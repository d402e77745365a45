"""The agent's journal: every executed action, what it created and replaced, and exact undo / redo.

``<root>/.reelkit/journal.jsonl`` holds one JSON line per event
(:data:`FORMAT`): ``{"op": "action", "id", "tool", "arguments", "created",
"replaced", "dirs", "time", "frames", "seconds"}`` when a call ran, ``{"op": "undo" | "redo",
"id"}`` when it was undone or redone. The state of each action is the
replay of its lines, so the journal survives a restart of the server.
An action of the host application (a Nuke node made or run) is an
``action`` line with ``"host"`` (``"nuke"``) and ``"host_undo"`` (the
name of its undo item there) and no files: :meth:`Journal.undo` refuses it,
saying where to undo it.

Before an action runs, every file its plan writes that exists is copied to
``.reelkit/undo/<id>/before/`` (the action may then replace it in place,
as a resumed job expects to find it). After it, ``created`` (path ->
sha256) lists the files that did not exist before, ``replaced`` (path ->
``{"before", "after"}`` sha256) those whose bytes changed, ``removed``
(path -> ``{"before"}``) those the action deleted (a stage redone from
scratch); a file written outside the plan's files and folders is recorded
too (``unplanned``). :meth:`Journal.undo`
moves the created files to ``.reelkit/undo/<id>/after/``, copies the
replaced ones back and checks every restored file's sha256;
:meth:`Journal.redo` puts the after-state back the same way. Both refuse
(naming the file) when a file changed since the journal last saw it.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.agent.plan import FOLDER, Plan
from core.agent.schema import FieldError
from core.formats import FORMATS
from core.manifest import file_sha256

#: A journal line's format, ``reelkit.agent.journal/1`` (:mod:`core.formats`).
FORMAT = FORMATS["reelkit.agent.journal"]


class Journal:
    """The journal of one server (its first root's ``.reelkit/``)."""

    def __init__(self, root: Path):
        self.folder = Path(root) / FOLDER
        self.path = self.folder / "journal.jsonl"
        self._lock = threading.Lock()  # background tasks record from their threads
        self._reserved: set[int] = set()

    # -- reading ----------------------------------------------------------------------------------------
    def events(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        return [FORMAT.read(json.loads(line), where=f"{self.path}:{n}")
                for n, line in enumerate(self.path.read_text("utf-8").splitlines(), 1) if line.strip()]

    def actions(self) -> list[dict[str, Any]]:
        """Every action with its ``state`` (``done`` or ``undone``), in the order they ran."""
        actions: dict[int, dict[str, Any]] = {}
        for event in self.events():
            if event["op"] == "action":
                actions[event["id"]] = {**event, "state": "done"}
            elif event["id"] in actions:
                actions[event["id"]]["state"] = "undone" if event["op"] == "undo" else "done"
        return list(actions.values())

    def _append(self, event: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"format": FORMAT.tag, **event}, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def _store(self, action_id: int, side: str) -> Path:
        return self.folder / "undo" / str(action_id) / side

    # -- recording ------------------------------------------------------------------------------------
    def record(self, plan: Plan, run: Callable[[], dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        """Run ``run`` for ``plan``: files it will write copied aside first, then the action appended.

        Returns (action id, the run's result). A run that raises is still recorded (``"error"``) when it
        changed a file, so it can be undone.
        """
        with self._lock:
            action_id = 1 + max([a["id"] for a in self.actions()] + list(self._reserved), default=0)
            self._reserved.add(action_id)
        before_dir = self._store(action_id, "before")
        folders = list(dict.fromkeys(f for f in (plan.output_dir, *plan.folders, *plan.clears) if f is not None))
        new_dirs = [str(f) for f in folders if not f.is_dir()]
        seen = self._scan(folders)
        kept: dict[str, dict[str, Any]] = {}
        for i, path in enumerate(plan.replaces):
            if path.is_file():
                before_dir.mkdir(parents=True, exist_ok=True)
                copy = before_dir / f"{i:06d}{path.suffix}"
                shutil.copy2(path, copy)
                kept[str(path)] = {"sha256": file_sha256(copy), "copy": str(copy.relative_to(self.folder))}
        error = None
        result: dict[str, Any] = {}
        started = time.perf_counter()
        try:
            result = run()
        except BaseException as exc:
            error = exc
        seconds = round(time.perf_counter() - started, 3)
        created, replaced, removed = {}, {}, {}
        planned = {str(p) for p in plan.writes}
        after = self._scan(folders)
        for path in sorted(planned | set(after) | set(kept)):
            p = Path(path)
            if not p.is_file():
                if path in kept:
                    removed[path] = {"before": kept[path]["sha256"], "copy": kept[path]["copy"]}
                continue
            if path in kept:
                digest = file_sha256(p)
                if digest != kept[path]["sha256"]:
                    replaced[path] = {"before": kept[path]["sha256"], "after": digest, "copy": kept[path]["copy"]}
            elif path not in seen:
                created[path] = file_sha256(p)
        within = [f"{f}{os.sep}" for f in plan.folders]
        unplanned = sorted(p for p in created if p not in planned and not p.startswith(tuple(within)))
        if error is None or created or replaced or removed:
            self._append({"op": "action", "id": action_id, "tool": plan.tool,
                          "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                          "arguments": plan.arguments, "created": created, "replaced": replaced,
                          "removed": removed, "unplanned": unplanned, "dirs": new_dirs,
                          "frames": plan.frames, "seconds": seconds,
                          **({"error": f"{type(error).__name__}: {error}"} if error is not None else {})})
        else:
            shutil.rmtree(self._store(action_id, ""), ignore_errors=True)
        with self._lock:
            self._reserved.discard(action_id)
        if error is not None:
            raise error
        return action_id, result

    def seconds_per_frame(self, tool: str) -> float | None:
        """The median seconds per frame of the finished runs of ``tool`` in the journal (``None``: none yet).

        A run that resumed frames done earlier counts them as made quickly: the estimate leans short after
        interrupted runs."""
        rates = sorted(a["seconds"] / a["frames"] for a in self.actions()
                       if a["tool"] == tool and a.get("frames") and a.get("seconds") and not a.get("error"))
        return None if not rates else rates[len(rates) // 2]

    def record_host(self, host: str, tool: str, arguments: dict[str, Any], undo_name: str) -> int:
        """Append an action done in the host application (undone there); returns its id."""
        with self._lock:
            action_id = 1 + max([a["id"] for a in self.actions()] + list(self._reserved), default=0)
        self._append({"op": "action", "id": action_id, "tool": tool, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                      "arguments": arguments, "created": {}, "replaced": {}, "removed": {}, "unplanned": [],
                      "dirs": [], "host": host, "host_undo": undo_name})
        return action_id

    def _scan(self, folders: list[Path]) -> set[str]:
        """Every file under ``folders`` except the journal's own folder."""
        return {str(p) for folder in folders if folder.is_dir() for p in folder.rglob("*")
                if p.is_file() and FOLDER not in p.relative_to(folder).parts and p != self.path}

    # -- undo / redo -------------------------------------------------------------------------------------
    def _pick(self, action_id: int | None, state: str) -> dict[str, Any]:
        actions = self.actions()
        if action_id is None:
            candidates = [a for a in actions if a["state"] == state]
            if not candidates:
                raise FieldError("id", f"no action to {'undo' if state == 'done' else 'redo'}", code="not_found")
            return candidates[-1] if state == "done" else self._last_undone(actions)
        match = [a for a in actions if a["id"] == action_id]
        if not match:
            raise FieldError("id", f"no action {action_id} in the journal", code="not_found")
        if match[0]["state"] != state:
            raise FieldError("id", f"action {action_id} is {match[0]['state']}", code="invalid")
        return match[0]

    @staticmethod
    def _not_host(action: dict[str, Any]) -> dict[str, Any]:
        if action.get("host"):
            raise FieldError("id", f"action {action['id']} ({action['tool']}) was done in {action['host'].title()}: "
                             f"undo it there (Edit > Undo {action.get('host_undo')!r}, one Ctrl+Z)", code="invalid")
        return action

    def _last_undone(self, actions: list[dict[str, Any]]) -> dict[str, Any]:
        """The action undone most recently and not redone since."""
        stack: list[int] = []
        for event in self.events():
            if event["op"] == "undo":
                stack.append(event["id"])
            elif event["op"] == "redo" and event["id"] in stack:
                stack.remove(event["id"])
        by_id = {a["id"]: a for a in actions}
        return by_id[stack[-1]]

    @staticmethod
    def _expect(path: str, digest: str | None) -> None:
        """``path`` holds ``digest`` (``None``: does not exist), else the undo/redo is refused."""
        p = Path(path)
        actual = file_sha256(p) if p.is_file() else None
        if actual != digest:
            state = "is missing" if actual is None else "changed since" if digest else "exists"
            raise FieldError("id", f"{path} {state}: the journal no longer matches the folder; undo/redo refused",
                             code="invalid")

    def undo(self, action_id: int | None = None) -> dict[str, Any]:
        """Put back the state before an action (the last one done, or ``action_id``): byte-identical, checked."""
        action = self._not_host(self._pick(action_id, "done"))
        for path, digest in action["created"].items():
            self._expect(path, digest)
        for path, rec in action["replaced"].items():
            self._expect(path, rec["after"])
        for path in action.get("removed", {}):
            self._expect(path, None)
        after = self._store(action["id"], "after")
        after.mkdir(parents=True, exist_ok=True)
        moved = []
        for i, path in enumerate(sorted(action["created"])):
            shutil.move(path, after / f"c{i:06d}")
            moved.append(path)
        for i, (path, rec) in enumerate(sorted(action["replaced"].items())):
            shutil.copy2(path, after / f"r{i:06d}")
            shutil.copy2(self.folder / rec["copy"], path)
            self._expect(path, rec["before"])
        for path, rec in action.get("removed", {}).items():
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(self.folder / rec["copy"], path)
            self._expect(path, rec["before"])
        for folder in sorted(action.get("dirs", []), key=len, reverse=True):
            _remove_empty(Path(folder))
        self._append({"op": "undo", "id": action["id"], "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        return {"undone": action["id"], "tool": action["tool"], "removed": moved,
                "restored": sorted([*action["replaced"], *action.get("removed", {})])}

    def redo(self, action_id: int | None = None) -> dict[str, Any]:
        """Re-apply an undone action (the most recently undone, or ``action_id``) from its stored after-state."""
        action = self._not_host(self._pick(action_id, "undone"))
        for path in action["created"]:
            self._expect(path, None)
        for path, rec in action["replaced"].items():
            self._expect(path, rec["before"])
        for path, rec in action.get("removed", {}).items():
            self._expect(path, rec["before"])
        after = self._store(action["id"], "after")
        for path in action.get("removed", {}):
            os.unlink(path)
        for i, path in enumerate(sorted(action["created"])):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            shutil.move(after / f"c{i:06d}", path)
            self._expect(path, action["created"][path])
        for i, (path, rec) in enumerate(sorted(action["replaced"].items())):
            shutil.copy2(after / f"r{i:06d}", path)
            self._expect(path, rec["after"])
        self._append({"op": "redo", "id": action["id"], "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        return {"redone": action["id"], "tool": action["tool"], "created": sorted(action["created"]),
                "replaced": sorted(action["replaced"]), "removed": sorted(action.get("removed", {}))}


def _remove_empty(folder: Path) -> None:
    """``folder`` and its empty sub-folders, when nothing else is left in them."""
    if not folder.is_dir():
        return
    for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        try:
            sub.rmdir()
        except OSError:
            pass
    try:
        folder.rmdir()
    except OSError:
        pass
