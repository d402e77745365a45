"""Editing a review: every edit (merge, split, move, rename, tags, caption fields, reject) as an
undoable command over a :class:`~core.dataset.review.clusters.ClusterSet`, observed by the review panel
(:mod:`nuke_plugin.panels.review.panel`); the rules are in :mod:`core.dataset.review`. No Qt.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from core.dataset.review.clusters import (NOISE, ClusterSet, dataset_dir_of, default_name, find_cluster_file,
                                          load_clusters)
from core.dataset.review.decisions import (MAX_NAME, apply_decisions, clean_fields, clean_text, decisions_of,
                                          decisions_path, load_decisions, save_decisions)
from core.errors import ParameterError


class _Command:
    """One undoable edit: the text shown in the history and, per touched table entry, (old, new)."""

    __slots__ = ("text", "changes", "touched")

    def __init__(self, text: str):
        self.text = text
        self.changes: dict[tuple[str, Any], tuple[Any, Any]] = {}
        self.touched: set[int] = set()


_MISSING = object()


class ReviewModel:
    """The review of one :class:`ClusterSet`: edits as undoable commands; observers are told of changes.

    ``subscribe(callback)``: ``callback(event, payload)`` with ``event`` one of
    ``"reset"`` (everything changed; payload ``None``), ``"edit"`` (payload:
    the command text), ``"undo"``, ``"redo"`` (payload: the command text),
    ``"saved"`` (payload: the path).
    """

    def __init__(self, clusters: ClusterSet, *, decisions_file: str | os.PathLike | None = None):
        self.clusters = clusters
        self.decisions_file = Path(decisions_file) if decisions_file else None
        self._undo: list[_Command] = []
        self._redo: list[_Command] = []
        self._observers: list[Callable[[str, Any], None]] = []
        self._current: _Command | None = None
        self._saved_top: _Command | None = None

    # -- opening ---------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike, *, strict: bool = False) -> "ReviewModel":
        """The review of a dataset folder (or cluster JSON); existing decisions
        (``review/decisions.json``) are applied, stale entries listed in ``clusters.problems``
        unless ``strict``."""
        file = find_cluster_file(path)
        clusters = load_clusters(file)
        dec_path = decisions_path(dataset_dir_of(file))
        if dec_path.is_file():
            clusters = apply_decisions(clusters, load_decisions(dec_path), strict=strict, source=str(dec_path))
        return cls(clusters, decisions_file=dec_path)

    # -- observers -----------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[str, Any], None]) -> None:
        self._observers.append(callback)

    def _emit(self, event: str, payload: Any = None) -> None:
        for cb in list(self._observers):
            cb(event, payload)

    # -- state ---------------------------------------------------------------------------------

    @property
    def dirty(self) -> bool:
        """Whether there are edits not saved."""
        return (self._undo[-1] if self._undo else None) is not self._saved_top

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_text(self) -> str:
        return self._undo[-1].text if self._undo else ""

    @property
    def redo_text(self) -> str:
        return self._redo[-1].text if self._redo else ""

    def decisions(self) -> dict[str, Any]:
        return decisions_of(self.clusters)

    # -- the command machinery -----------------------------------------------------------------------

    def _write(self, table: str, key: Any, value: Any) -> None:
        """Set (or with ``_MISSING`` delete) one table entry, recording its old value in the command."""
        rows = self.clusters.edits[table]
        old = rows.get(key, _MISSING)
        if value is _MISSING:
            rows.pop(key, None)
        else:
            rows[key] = value
        cmd = self._current
        if cmd is not None:
            k = (table, key)
            first_old = cmd.changes[k][0] if k in cmd.changes else old
            cmd.changes[k] = (first_old, value)

    def _run(self, text: str, body: Callable[[], Any]) -> Any:
        cmd = _Command(text)
        self._current = cmd
        try:
            result = body()
        except BaseException:
            self._current = None
            self._restore(cmd, old=True)
            raise
        finally:
            self._current = None
            self.clusters.invalidate()
        if not any(old is not new and old != new for old, new in cmd.changes.values()):
            return result  # nothing changed: no command
        self._undo.append(cmd)
        self._redo.clear()
        self.clusters.history.append(text)
        self._emit("edit", text)
        return result

    def _restore(self, cmd: _Command, *, old: bool) -> None:
        for (table, key), (before, after) in cmd.changes.items():
            value = before if old else after
            rows = self.clusters.edits[table]
            if value is _MISSING:
                rows.pop(key, None)
            else:
                rows[key] = value
        self.clusters.invalidate()

    def undo(self) -> str | None:
        """Undo the last edit; returns its text (``None`` when there is nothing to undo)."""
        if not self._undo:
            return None
        cmd = self._undo.pop()
        self._restore(cmd, old=True)
        if self.clusters.history and self.clusters.history[-1] == cmd.text:
            self.clusters.history.pop()
        self._redo.append(cmd)
        self._emit("undo", cmd.text)
        return cmd.text

    def redo(self) -> str | None:
        if not self._redo:
            return None
        cmd = self._redo.pop()
        self._restore(cmd, old=False)
        self.clusters.history.append(cmd.text)
        self._undo.append(cmd)
        self._emit("redo", cmd.text)
        return cmd.text

    # -- helpers ------------------------------------------------------------------------------------

    def _frames(self, frame_ids: Iterable[str]) -> list[str]:
        ids = list(dict.fromkeys(str(f) for f in frame_ids))
        if not ids:
            raise ParameterError("review: no frames selected")
        for fid in ids:
            self.clusters.frame_info(fid)
        return ids

    def _place(self, fid: str, cid: int) -> None:
        """Put frame ``fid`` in cluster ``cid`` (an override only where its label would not put it there)."""
        natural = self.clusters.resolve_label(self.clusters.frames[fid].label)
        self._write("assign", fid, _MISSING if natural == cid else cid)

    def _unique_name(self, name: str, cid: int) -> None:
        low = name.casefold()
        for other in self.clusters.cluster_ids():
            if other != cid and self.clusters.name(other).casefold() == low:
                raise ParameterError(f"review: cluster {other} is already named {self.clusters.name(other)!r}")

    # -- the edits ------------------------------------------------------------------------------------

    def merge(self, sources: Iterable[int], target: int) -> int:
        """Merge clusters ``sources`` into ``target``; returns ``target``."""
        cs = self.clusters
        cs.require_cluster(target)
        srcs = [int(s) for s in dict.fromkeys(sources) if int(s) != target]
        if not srcs:
            raise ParameterError("review: merge needs at least one cluster other than the target")
        for s in srcs:
            cs.require_cluster(s)
            if s == NOISE:
                raise ParameterError("review: the noise bucket cannot be merged; move or split its frames instead")

        def body():
            for s in srcs:
                members = cs.members(s)
                for other, into in list(cs.edits["merged"].items()):  # stage clusters merged into s follow it
                    if into == s:
                        self._write("merged", other, target)
                if s in cs.edits["created"]:
                    self._write("created", s, _MISSING)
                    self._write("names", s, _MISSING)
                else:
                    self._write("merged", s, target)
                cs.invalidate()
                for fid in members:
                    self._place(fid, target)
                # what was said about s alone is dropped (undo brings it back); the target keeps its own
                for table in ("cluster_tags", "cluster_fields", "names"):
                    if s in cs.edits[table]:
                        self._write(table, s, _MISSING)
                cs.invalidate()
            return target

        return self._run(f"merge {', '.join(map(str, srcs))} into {target}", body)

    def split(self, frame_ids: Iterable[str], name: str | None = None) -> int:
        """Move ``frame_ids`` to a new cluster; returns its id."""
        cs = self.clusters
        ids = self._frames(frame_ids)
        if name is not None:
            name = clean_text(name, "cluster name", limit=MAX_NAME)
            if not name:
                raise ParameterError("review: a cluster name cannot be empty")
        cid = cs.next_id()
        origins = sorted({cs.cluster_of(f) for f in ids})

        def body():
            self._write("created", cid, origins[0] if len(origins) == 1 else NOISE)
            chosen = name
            if chosen is None:
                chosen = default_name(cid)
                n = 2
                while any(cs.name(o).casefold() == chosen.casefold() for o in cs.cluster_ids() if o != cid):
                    chosen, n = f"{default_name(cid)}_{n}", n + 1
            else:
                self._unique_name(chosen, cid)
            self._write("names", cid, chosen)
            for fid in ids:
                self._place(fid, cid)
            return cid

        src = origins[0] if len(origins) == 1 else ", ".join(map(str, origins))
        return self._run(f"split {len(ids)} frame{'s' * (len(ids) != 1)} of {src} into {cid}", body)

    def rename(self, cid: int, name: str) -> None:
        cs = self.clusters
        cs.require_cluster(cid)
        if cid == NOISE:
            raise ParameterError("review: the noise bucket keeps its name")
        name = clean_text(name, "cluster name", limit=MAX_NAME)
        if not name:
            raise ParameterError("review: a cluster name cannot be empty")
        self._unique_name(name, cid)
        default = cs.base_names.get(cid) or default_name(cid)

        def body():
            keep = cid in cs.edits["created"]
            self._write("names", cid, name if (keep or name != default) else _MISSING)

        self._run(f"rename {cid} to {name!r}", body)

    def move(self, frame_ids: Iterable[str], cid: int) -> None:
        """Move ``frame_ids`` to cluster ``cid`` (noise included)."""
        cs = self.clusters
        ids = self._frames(frame_ids)
        cs.require_cluster(cid)

        def body():
            for fid in ids:
                self._place(fid, cid)

        self._run(f"move {len(ids)} frame{'s' * (len(ids) != 1)} to {cid}", body)

    def _tag(self, tag: str) -> str:
        tag = clean_text(tag, "tag", limit=MAX_NAME, comma=False)
        if not tag:
            raise ParameterError("review: a tag cannot be empty")
        return tag

    def retag_frames(self, frame_ids: Iterable[str], add: Iterable[str] = (), remove: Iterable[str] = ()) -> None:
        """Add tags to and remove tags from ``frame_ids``, as one edit (a tag in both is added)."""
        ids = self._frames(frame_ids)
        plus = list(dict.fromkeys(self._tag(t) for t in add))
        minus = {self._tag(t) for t in remove} - set(plus)
        rows = self.clusters.edits["frame_tags"]

        def body():
            for fid in ids:
                tags = [t for t in rows.get(fid, ()) if t not in minus]
                tags += [t for t in plus if t not in tags]
                self._write("frame_tags", fid, tuple(tags) if tags else _MISSING)

        words = ([f"+{t}" for t in plus] + [f"-{t}" for t in sorted(minus)])
        self._run(f"tag {len(ids)} frame{'s' * (len(ids) != 1)} {' '.join(words)}", body)

    def tag_frames(self, frame_ids: Iterable[str], tag: str, *, on: bool = True) -> None:
        """Add (``on``) or remove ``tag`` on ``frame_ids``."""
        ids = self._frames(frame_ids)
        tag = self._tag(tag)
        if on:
            self.retag_frames(ids, add=[tag])
        else:
            self.retag_frames(ids, remove=[tag])

    def untag_frames(self, frame_ids: Iterable[str], tag: str) -> None:
        self.tag_frames(frame_ids, tag, on=False)

    def set_cluster_tags(self, cid: int, tags: Iterable[str]) -> None:
        """Replace the tags of cluster ``cid`` (one edit)."""
        cs = self.clusters
        cs.require_cluster(cid)
        new = tuple(dict.fromkeys(self._tag(t) for t in tags))

        def body():
            self._write("cluster_tags", cid, new if new else _MISSING)

        self._run(f"tags of cluster {cid}: {', '.join(new) if new else 'none'}", body)

    def tag_cluster(self, cid: int, tag: str, *, on: bool = True) -> None:
        cs = self.clusters
        cs.require_cluster(cid)
        tag = self._tag(tag)
        tags = tuple(cs.edits["cluster_tags"].get(cid, ()))
        new = (tags if tag in tags else tags + (tag,)) if on else tuple(t for t in tags if t != tag)
        if new != tags:
            cs_text = f"{'tag' if on else 'untag'} cluster {cid} {tag!r}"
            self._run(cs_text, lambda: self._write("cluster_tags", cid, new if new else _MISSING))

    def untag_cluster(self, cid: int, tag: str) -> None:
        self.tag_cluster(cid, tag, on=False)

    def set_cluster_fields(self, cid: int, fields: Mapping[str, Any]) -> None:
        """Set caption fields of cluster ``cid`` (an empty value clears the field)."""
        cs = self.clusters
        cs.require_cluster(cid)
        clean = clean_fields(fields, f"cluster {cid}")

        def body():
            now = {**cs.edits["cluster_fields"].get(cid, {}), **clean}
            now = {k: v for k, v in now.items() if v}
            self._write("cluster_fields", cid, now if now else _MISSING)

        self._run(f"caption cluster {cid}: {', '.join(sorted(clean))}", body)

    def set_frame_fields(self, frame_ids: Iterable[str], fields: Mapping[str, Any]) -> None:
        """Set caption fields of frames (they override the cluster's; an empty value clears the field)."""
        ids = self._frames(frame_ids)
        clean = clean_fields(fields, "frame")
        rows = self.clusters.edits["frame_fields"]

        def body():
            for fid in ids:
                now = {**rows.get(fid, {}), **clean}
                now = {k: v for k, v in now.items() if v}
                self._write("frame_fields", fid, now if now else _MISSING)

        self._run(f"caption {len(ids)} frame{'s' * (len(ids) != 1)}: {', '.join(sorted(clean))}", body)

    def reject(self, frame_ids: Iterable[str], reason: str = "rejected in review") -> None:
        """Reject frames (they stay visible in their cluster and leave the dataset)."""
        ids = self._frames(frame_ids)
        reason = clean_text(reason, "reject reason", limit=200) or "rejected in review"

        def body():
            for fid in ids:
                self._write("rejected", fid, reason)

        self._run(f"reject {len(ids)} frame{'s' * (len(ids) != 1)}", body)

    def restore(self, frame_ids: Iterable[str]) -> None:
        """Take rejected frames back into the dataset."""
        ids = self._frames(frame_ids)

        def body():
            for fid in ids:
                self._write("rejected", fid, _MISSING)

        self._run(f"restore {len(ids)} frame{'s' * (len(ids) != 1)}", body)

    # -- files ----------------------------------------------------------------------------------------

    def save_decisions(self, path: str | os.PathLike | None = None) -> Path:
        """Write ``reelkit.review/1`` (default: the file the model was opened with)."""
        target = Path(path) if path is not None else self.decisions_file
        if target is None:
            raise ParameterError("review: no decisions file given (and the model was not opened from a dataset)")
        out = save_decisions(target, self.clusters)
        self.decisions_file = target
        self._saved_top = self._undo[-1] if self._undo else None
        self._emit("saved", out)
        return out

    def load_decisions(self, path: str | os.PathLike, *, strict: bool = True) -> list[str]:
        """Replace the edits with those of a decisions file; clears undo. Returns the problems (non-strict)."""
        p = Path(path)
        applied = apply_decisions(self.clusters, load_decisions(p), strict=strict, source=str(p))
        self.clusters = applied
        self.decisions_file = p
        self._undo.clear()
        self._redo.clear()
        self._saved_top = None
        self._emit("reset", None)
        return list(applied.problems)
