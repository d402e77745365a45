"""The cluster stage's output as the review sees it: frames, clusters, and the review's edit tables.

A :class:`ClusterSet` (read with :func:`load_clusters`, or made from frame records
with :func:`clusters_from_records` / :func:`clusters_from_result`) answers where every
frame is now; :mod:`core.dataset.review.editor` writes its edit tables, and
:mod:`core.dataset.review.decisions` saves and applies them. The rules are in
:mod:`core.dataset.review`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from core.errors import ImageReadError, ParameterError
from core.formats import FORMATS

#: Label of the noise bucket (as ``core.dataset.cluster.NOISE``).
NOISE = -1
NOISE_NAME = "noise"
#: Where :func:`load_clusters` looks for the cluster stage's output, relative to the dataset folder.
CLUSTER_FILES = (Path("cluster") / "clusters.json", Path("clusters.json"), Path("cluster.json"))
#: The cluster stage's document, ``reelkit.clusters/1``.
CLUSTERS_FORMAT = FORMATS["reelkit.clusters"]


def default_name(cid: int) -> str:
    """A cluster's name until someone names it: ``cluster_007`` (as the cluster stage names them), ``noise``."""
    return NOISE_NAME if cid == NOISE else f"cluster_{cid:03d}"


class StaleDecisionsError(ParameterError):
    """Review decisions reference frames or clusters the cluster output no longer has, or were
    made for another cluster output (base hash mismatch)."""


# --------------------------------------------------------------------------- the data


@dataclasses.dataclass(frozen=True)
class FrameInfo:
    """One frame as the cluster stage left it. ``path``/``thumbnail`` are relative to the set's root."""

    id: str
    path: str
    label: int
    probability: float = 0.0
    outlier_score: float = 0.0
    exemplar: int | None = None
    shot: str | None = None
    video: str | None = None
    thumbnail: str | None = None


@dataclasses.dataclass(frozen=True)
class FrameDecision:
    """What the review made of a frame: its cluster, tags (cluster's then its own), fields, rejection."""

    id: str
    path: str
    cluster: int
    cluster_name: str
    tags: tuple[str, ...]
    fields: Mapping[str, str]
    rejected: bool
    reason: str


@dataclasses.dataclass(frozen=True)
class ClusterView:
    """A cluster as shown: id, name, frame ids (exemplars first), tags, fields, whether split-made."""

    id: int
    name: str
    frames: tuple[str, ...]
    tags: tuple[str, ...]
    fields: Mapping[str, str]
    created: bool
    exemplars: int
    rejected: int

    @property
    def is_noise(self) -> bool:
        return self.id == NOISE

    @property
    def size(self) -> int:
        return len(self.frames)


#: The edit tables: name -> {key: value}. Values are never mutated in place.
TABLES = ("names", "merged", "created", "assign", "cluster_tags", "cluster_fields", "frame_tags",
          "frame_fields", "rejected")


class ClusterSet:
    """The cluster stage's frames (:class:`FrameInfo`) and the review's edits (see the module doc).

    ``root`` is the folder frame paths are relative to. ``base_names`` are
    names the stage gave its clusters (default :func:`default_name`).
    """

    def __init__(self, frames: Iterable[FrameInfo], *, root: str | os.PathLike | None = None,
                 base_names: Mapping[int, str] | None = None):
        self.frames: dict[str, FrameInfo] = {}
        for f in sorted(frames, key=lambda f: f.id):
            if f.id in self.frames:
                raise ParameterError(f"cluster output: frame id {f.id!r} appears twice")
            self.frames[f.id] = f
        self.root = Path(root) if root is not None else None
        self.labels: tuple[int, ...] = tuple(sorted({f.label for f in self.frames.values()} - {NOISE}))
        self.base_names = {int(k): str(v) for k, v in (base_names or {}).items()}
        self.edits: dict[str, dict[Any, Any]] = {t: {} for t in TABLES}
        self.history: list[str] = []
        self.problems: list[str] = []
        self._members: dict[int, tuple[str, ...]] | None = None
        self._hash: str | None = None
        # every frame in display order (exemplar rank, probability, id) with its label: fixed, sorted once
        self._order = tuple((fid, self.frames[fid].label) for fid in sorted(self.frames, key=self._sort_key))

    # -- copies and hashes ------------------------------------------------------------------

    def copy(self) -> "ClusterSet":
        out = ClusterSet.__new__(ClusterSet)
        out.frames, out.root, out.labels, out.base_names = self.frames, self.root, self.labels, self.base_names
        out.edits = {t: dict(v) for t, v in self.edits.items()}
        out.history = list(self.history)
        out.problems = list(self.problems)
        out._members, out._hash, out._order = None, self._hash, self._order
        return out

    def base_hash(self) -> str:
        """sha256 of every frame id with its stage label (sorted): names the cluster output decisions apply to."""
        if self._hash is None:
            blob = json.dumps([[f.id, f.label] for f in self.frames.values()], separators=(",", ":"))
            self._hash = hashlib.sha256(blob.encode("utf-8")).hexdigest()
        return self._hash

    def invalidate(self) -> None:
        self._members = None

    # -- clusters ----------------------------------------------------------------------------

    def next_id(self) -> int:
        """The id a split would give its new cluster."""
        return max([*self.labels, *self.edits["created"], NOISE]) + 1

    def exists(self, cid: int) -> bool:
        """Whether ``cid`` is a cluster now (noise, a stage cluster not merged away, or a split-made one)."""
        return cid == NOISE or (cid in self.labels and cid not in self.edits["merged"]) or cid in self.edits["created"]

    def cluster_ids(self) -> list[int]:
        """The clusters now, in order: the stage's and the split-made ones by id, noise last."""
        ids = [c for c in self.labels if c not in self.edits["merged"]] + sorted(self.edits["created"])
        return sorted(ids) + [NOISE]

    def resolve_label(self, label: int) -> int:
        """Where frames of stage label ``label`` are now (following merges)."""
        seen = set()
        merged = self.edits["merged"]
        while label in merged:
            if label in seen:  # pragma: no cover - merges never form a cycle; guard against hand-edited files
                raise StaleDecisionsError(f"review decisions: merges form a cycle through cluster {label}")
            seen.add(label)
            label = merged[label]
        return label

    def cluster_of(self, fid: str) -> int:
        frame = self.frame_info(fid)
        assigned = self.edits["assign"].get(fid)
        return self.resolve_label(frame.label if assigned is None else assigned)

    def _sort_key(self, fid: str):
        f = self.frames[fid]
        return (f.exemplar is None, f.exemplar if f.exemplar is not None else 0, -f.probability, fid)

    def members(self, cid: int) -> tuple[str, ...]:
        """Frame ids of cluster ``cid``: exemplars first (by rank), then by probability, then id."""
        if self._members is None:
            groups: dict[int, list[str]] = {c: [] for c in self.cluster_ids()}
            assign = self.edits["assign"]
            where: dict[int, int] = {}
            for fid, label in self._order:  # already in display order: no sort per change
                a = assign.get(fid)
                key = label if a is None else a
                c = where.get(key)
                if c is None:
                    c = where[key] = self.resolve_label(key)
                groups.setdefault(c, []).append(fid)
            self._members = {c: tuple(v) for c, v in groups.items()}
        return self._members.get(cid, ())

    def name(self, cid: int) -> str:
        if cid == NOISE:
            return NOISE_NAME
        return self.edits["names"].get(cid) or self.base_names.get(cid) or default_name(cid)

    def cluster(self, cid: int) -> ClusterView:
        self.require_cluster(cid)
        frames = self.members(cid)
        return ClusterView(cid, self.name(cid), frames, tuple(self.edits["cluster_tags"].get(cid, ())),
                           dict(self.edits["cluster_fields"].get(cid, {})), cid in self.edits["created"],
                           sum(self.frames[f].exemplar is not None for f in frames),
                           sum(f in self.edits["rejected"] for f in frames))

    def clusters(self) -> list[ClusterView]:
        return [self.cluster(c) for c in self.cluster_ids()]

    # -- frames ------------------------------------------------------------------------------

    def frame_tags(self, fid: str) -> tuple[str, ...]:
        return tuple(self.edits["frame_tags"].get(fid, ()))

    def frame_fields(self, fid: str) -> dict[str, str]:
        return dict(self.edits["frame_fields"].get(fid, {}))

    def is_rejected(self, fid: str) -> bool:
        return fid in self.edits["rejected"]

    def decision(self, fid: str) -> FrameDecision:
        """The frame as the caption and assembly stages should see it."""
        cid = self.cluster_of(fid)
        tags = list(self.edits["cluster_tags"].get(cid, ()))
        tags += [t for t in self.frame_tags(fid) if t not in tags]
        fields = {**self.edits["cluster_fields"].get(cid, {}), **self.frame_fields(fid)}
        reason = self.edits["rejected"].get(fid)
        return FrameDecision(fid, self.frames[fid].path, cid, self.name(cid), tuple(tags), fields,
                             reason is not None, reason or "")

    def decisions(self) -> list[FrameDecision]:
        """Every frame's :class:`FrameDecision`, by id."""
        return [self.decision(fid) for fid in self.frames]

    def image_path(self, fid: str, *, thumbnail: bool = True) -> Path:
        """Absolute path of the frame's thumbnail (or the frame when there is none or ``thumbnail=False``)."""
        f = self.frame_info(fid)
        rel = f.thumbnail if thumbnail and f.thumbnail else f.path
        p = Path(rel)
        return p if p.is_absolute() or self.root is None else self.root / p

    # -- checks --------------------------------------------------------------------------------

    def frame_info(self, fid: str) -> FrameInfo:
        try:
            return self.frames[fid]
        except KeyError:
            raise ParameterError(f"review: no frame {fid!r} in the cluster output") from None

    def require_cluster(self, cid: int) -> None:
        if not self.exists(cid):
            raise ParameterError(f"review: no cluster {cid} (clusters now: "
                                 f"{', '.join(str(c) for c in self.cluster_ids())})")

    def summary(self) -> dict[str, int]:
        e = self.edits
        return {"frames": len(self.frames), "clusters": len(self.cluster_ids()) - 1,
                "noise": len(self.members(NOISE)), "rejected": len(e["rejected"]), "moved": len(e["assign"]),
                "merged": len(e["merged"]), "created": len(e["created"]),
                "tagged_frames": len(e["frame_tags"]), "captioned_frames": len(e["frame_fields"])}


# --------------------------------------------------------------------------- reading the stage output


def as_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise ParameterError(f"{what}: expected an integer, got {value!r}")
    return int(value)


def clusters_from_records(records: Iterable[Mapping[str, Any]], *, root: str | os.PathLike | None = None,
                          clusters: Iterable[Mapping[str, Any]] = (), source: str = "cluster output") -> ClusterSet:
    """A :class:`ClusterSet` from frame records and optional cluster records (the format in the module doc)."""
    names: dict[int, str] = {}
    ranks: dict[str, int] = {}
    for c in clusters:
        label = as_int(c.get("label", c.get("id")), f"{source}: cluster label")
        if c.get("name"):
            names[label] = str(c["name"])
        for rank, fid in enumerate(c.get("exemplars") or ()):
            ranks.setdefault(str(fid), rank)
    frames = []
    for i, r in enumerate(records):
        if "id" not in r or "path" not in r:
            raise ParameterError(f"{source}: frame record {i} has no 'id' or 'path'")
        fid = str(r["id"])
        label = r.get("label", r.get("cluster"))
        if label is None:
            raise ParameterError(f"{source}: frame {fid!r} has no 'label'")
        ex = r.get("exemplar")
        ex = ranks.get(fid) if ex is None else ex
        if isinstance(ex, bool):  # a flag: rank from the cluster list, else first
            ex = ranks.get(fid, 0) if ex else None
        frames.append(FrameInfo(
            id=fid, path=str(r["path"]), label=as_int(label, f"{source}: frame {fid!r} label"),
            probability=float(r.get("probability") or 0.0), outlier_score=float(r.get("outlier_score") or 0.0),
            exemplar=None if ex is None else as_int(ex, f"{source}: frame {fid!r} exemplar"),
            shot=None if r.get("shot") is None else str(r["shot"]),
            video=None if r.get("video") is None else str(r["video"]),
            thumbnail=None if not r.get("thumbnail") else str(r["thumbnail"])))
    return ClusterSet(frames, root=root, base_names=names)


def clusters_from_result(records: Sequence[Mapping[str, Any]], result: Any, *,
                         root: str | os.PathLike | None = None) -> ClusterSet:
    """A :class:`ClusterSet` from frame records (``id``, ``path``, ...) and the
    :class:`~core.dataset.cluster.ClusterResult` of their embeddings (row ``i`` = ``records[i]``)."""
    n = len(records)
    if len(result.labels) != n:
        raise ParameterError(f"cluster result has {len(result.labels)} labels for {n} frame records")
    rank = {int(row): r for rows in result.exemplars.values() for r, row in enumerate(rows)}
    out = []
    for i, rec in enumerate(records):
        out.append({**rec, "label": int(result.labels[i]), "probability": float(result.probabilities[i]),
                    "outlier_score": float(result.outlier_scores[i]), "exemplar": rank.get(i)})
    return clusters_from_records(out, root=root)


def find_cluster_file(path: str | os.PathLike) -> Path:
    """The cluster stage's JSON: ``path`` itself, or the first of :data:`CLUSTER_FILES` under the folder."""
    p = Path(path)
    if p.is_file():
        return p
    if p.is_dir():
        for rel in CLUSTER_FILES:
            if (p / rel).is_file():
                return p / rel
        raise ImageReadError(f"{p}: no cluster output here (looked for {', '.join(map(str, CLUSTER_FILES))})")
    raise ImageReadError(f"{p}: no such file or folder")


def dataset_dir_of(cluster_file: Path) -> Path:
    """The dataset folder of a cluster file: the parent of its stage folder (``cluster/``), else its folder."""
    folder = cluster_file.parent
    return folder.parent if folder.name == "cluster" else folder


def load_clusters(path: str | os.PathLike) -> ClusterSet:
    """Read the cluster stage's output (a dataset folder or the JSON file; format in the module doc)."""
    file = find_cluster_file(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImageReadError(f"{file}: cannot read the cluster output ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("frames"), list):
        raise ParameterError(f"{file}: not a cluster output (expected an object with a 'frames' list)")
    if "format" in data:  # a hand-made list of frames may go without
        data = CLUSTERS_FORMAT.read(data, where=str(file))
    root = dataset_dir_of(file)
    if data.get("root"):  # relative to the file's folder
        root = file.parent / Path(data["root"])
    root = root.absolute()
    return clusters_from_records(data["frames"], root=root, clusters=data.get("clusters") or (), source=str(file))
