"""Review of the cluster stage's output: names, merges, splits, moves, tags, captions, rejections.

Qt-free; the review panel (:mod:`nuke_plugin.panels.review_panel`) draws a
:class:`ReviewModel`, and the caption and assembly stages read the result
with :func:`load_decisions` + :func:`apply_decisions`.

The data
--------
A :class:`ClusterSet` is the cluster stage's output (every kept frame with
its HDBSCAN label, ``-1`` being the noise bucket, its membership
probability, outlier score and exemplar rank) plus the review's edits. It is
read from the stage's JSON with :func:`load_clusters`, or made in memory from
frame records and a :class:`core.dataset.cluster.ClusterResult` with
:func:`clusters_from_result`.

Clusters are named by integers: the stage's labels, ``-1`` for noise
(:data:`NOISE`), and new numbers (after the largest one in use) for clusters
made by a split. The frames of a cluster are listed exemplars first (by
exemplar rank), then by membership probability (highest first), then id.

The edits, and what they mean for a frame
-----------------------------------------
- **merge** ``A`` into ``B``: every frame whose label is ``A`` now belongs to
  ``B`` (a frame placed later with label ``A`` follows it too); a split-made
  ``A`` just hands its frames over. The noise bucket cannot be merged away.
- **split**: the selected frames go to a new cluster (named ``cluster_NNN``
  after its id unless a name is given).
- **move**: the selected frames go to an existing cluster (or noise).
- **rename**: a cluster's name (one line, at most 80 characters, unique
  among the clusters regardless of case; noise keeps its name).
- **tag** / **untag**: a tag (one line, no comma: captions are comma-joined)
  on frames or on a cluster. A frame's tags are its cluster's plus its own.
- **fields**: caption fields (:data:`CAPTION_FIELDS`, or any other
  identifier) on a cluster or on frames; a frame's value overrides its
  cluster's; an empty value clears the field.
- **reject** / **restore**: a rejected frame stays visible in its cluster
  but leaves the dataset; the reason is kept.

Every edit is one undoable command of :class:`ReviewModel` (``undo`` /
``redo``). A command records the previous value of each table entry it
writes, so undo and redo are exact, whatever the command.

Decisions file (``reelkit.review/1``)
-------------------------------------
:func:`save_decisions` writes ``review/decisions.json`` (:data:`DECISIONS_PATH`
under the dataset folder), atomically, with sorted keys and lists (the same
edits give the same bytes)::

    {"format": "reelkit.review/1",
     "base": {"hash": "<sha256>", "frames": 120, "clusters": 5},
     "clusters": [{"id": 3, "name": "red coat", "tags": ["hero"], "fields": {"outfit": "red coat"}},
                  {"id": 5, "merged_into": 3},
                  {"id": 9, "created": true, "split_from": 3, "name": "cluster_009"}],
     "frames": [{"id": "clip_f000010", "cluster": 9, "tags": ["closeup"], "fields": {},
                 "rejected": "motion blur"}],
     "history": ["merge 5 into 3", "split 4 frames of 3 into 9"],
     "summary": {...}}

Only what differs from the stage's output is written. ``base.hash`` is
:meth:`ClusterSet.base_hash` (sha256 of every frame id with its label): when
the cluster stage has been run again with another result the decisions are
stale. :func:`apply_decisions` raises :class:`StaleDecisionsError` naming the
missing frames and clusters and the hash mismatch, or with ``strict=False``
applies what still applies and lists the rest in ``ClusterSet.problems``.

Input read by :func:`load_clusters`
-----------------------------------
The cluster stage's ``cluster/clusters.json`` (``reelkit.clusters/1``,
documented in :mod:`core.dataset.cluster`). What is read: ``frames``, a
list of records with ``id``, ``path`` (relative to the dataset folder),
``cluster`` (or ``label``), and optionally ``probability``,
``outlier_score``, ``exemplar`` (``true``/``false``, or a rank), ``shot``,
``video`` and ``thumbnail`` (a smaller picture for the panel, relative like
``path``); ``clusters``, a list of ``{"id": int, "name": str, "exemplars":
[frame ids]}`` (the exemplar lists give the ranks, most representative
first); optional ``root`` (the folder paths are relative to, itself
relative to the file; default: the dataset folder, the parent of
``cluster/``). Other keys are ignored; a ``format`` other than
``reelkit.clusters/1`` is refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from core.errors import ImageReadError, ParameterError
from core.formats import FORMATS

#: The decisions' format, ``reelkit.review/1`` (:mod:`core.formats`).
FORMAT = FORMATS["reelkit.review"]
#: Label of the noise bucket (as ``core.dataset.cluster.NOISE``).
NOISE = -1
NOISE_NAME = "noise"
#: Where the decisions live, relative to the dataset folder.
DECISIONS_PATH = Path("review") / "decisions.json"
#: Where :func:`load_clusters` looks for the cluster stage's output, relative to the dataset folder.
CLUSTER_FILES = (Path("cluster") / "clusters.json", Path("clusters.json"), Path("cluster.json"))
#: The caption schema's fields (the caption stage's template fills them; others are allowed).
CAPTION_FIELDS = ("character", "outfit", "materials", "lighting", "camera", "final_caption")
MAX_NAME = 80
#: The cluster stage's document, ``reelkit.clusters/1``.
CLUSTERS_FORMAT = FORMATS["reelkit.clusters"]

_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


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
        frame = self._frame(fid)
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
        self._cluster_exists(cid)
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
        f = self._frame(fid)
        rel = f.thumbnail if thumbnail and f.thumbnail else f.path
        p = Path(rel)
        return p if p.is_absolute() or self.root is None else self.root / p

    # -- checks --------------------------------------------------------------------------------

    def _frame(self, fid: str) -> FrameInfo:
        try:
            return self.frames[fid]
        except KeyError:
            raise ParameterError(f"review: no frame {fid!r} in the cluster output") from None

    def _cluster_exists(self, cid: int) -> None:
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


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise ParameterError(f"{what}: expected an integer, got {value!r}")
    return int(value)


def clusters_from_records(records: Iterable[Mapping[str, Any]], *, root: str | os.PathLike | None = None,
                          clusters: Iterable[Mapping[str, Any]] = (), source: str = "cluster output") -> ClusterSet:
    """A :class:`ClusterSet` from frame records and optional cluster records (the format in the module doc)."""
    names: dict[int, str] = {}
    ranks: dict[str, int] = {}
    for c in clusters:
        label = _int(c.get("label", c.get("id")), f"{source}: cluster label")
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
            id=fid, path=str(r["path"]), label=_int(label, f"{source}: frame {fid!r} label"),
            probability=float(r.get("probability") or 0.0), outlier_score=float(r.get("outlier_score") or 0.0),
            exemplar=None if ex is None else _int(ex, f"{source}: frame {fid!r} exemplar"),
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


# --------------------------------------------------------------------------- decisions


def _norm_text(value: Any, what: str, *, limit: int | None = None, comma: bool = True) -> str:
    if not isinstance(value, str):
        raise ParameterError(f"{what}: expected text, got {type(value).__name__}")
    text = " ".join(value.split()) if "\n" not in value and "\r" not in value else None
    if text is None:
        raise ParameterError(f"{what} {value!r}: must be one line")
    if not comma and "," in text:
        raise ParameterError(f"{what} {value!r}: no commas (captions are comma-separated)")
    if limit is not None and len(text) > limit:
        raise ParameterError(f"{what} {value!r}: at most {limit} characters")
    return text


def _clean_fields(fields: Mapping[str, Any], what: str) -> dict[str, str]:
    out = {}
    for k, v in fields.items():
        if not isinstance(k, str) or not _FIELD_NAME.match(k):
            raise ParameterError(f"{what}: field name {k!r} is not an identifier (e.g. {CAPTION_FIELDS[0]})")
        out[k] = "" if v is None else _norm_text(v, f"{what} field {k}")
    return out


def decisions_of(clusters: ClusterSet) -> dict[str, Any]:
    """The ``reelkit.review/1`` document of ``clusters``' edits (only what differs from the stage output)."""
    e = clusters.edits
    cids = sorted(set(e["names"]) | set(e["merged"]) | set(e["created"]) | set(e["cluster_tags"])
                  | set(e["cluster_fields"]))
    out_clusters = []
    for cid in cids:
        entry: dict[str, Any] = {"id": cid}
        if cid in e["merged"]:
            entry["merged_into"] = e["merged"][cid]
        if cid in e["created"]:
            entry["created"] = True
            entry["split_from"] = e["created"][cid]
        if cid in e["names"] or cid in e["created"]:
            entry["name"] = clusters.name(cid)
        if e["cluster_tags"].get(cid):
            entry["tags"] = sorted(e["cluster_tags"][cid])
        if e["cluster_fields"].get(cid):
            entry["fields"] = dict(sorted(e["cluster_fields"][cid].items()))
        out_clusters.append(entry)
    fids = sorted(set(e["assign"]) | set(e["frame_tags"]) | set(e["frame_fields"]) | set(e["rejected"]))
    out_frames = []
    for fid in fids:
        entry = {"id": fid}
        if fid in e["assign"]:
            entry["cluster"] = e["assign"][fid]
        if e["frame_tags"].get(fid):
            entry["tags"] = sorted(e["frame_tags"][fid])
        if e["frame_fields"].get(fid):
            entry["fields"] = dict(sorted(e["frame_fields"][fid].items()))
        if fid in e["rejected"]:
            entry["rejected"] = e["rejected"][fid]
        out_frames.append(entry)
    return {"format": FORMAT.tag,
            "base": {"hash": clusters.base_hash(), "frames": len(clusters.frames), "clusters": len(clusters.labels)},
            "clusters": out_clusters, "frames": out_frames, "history": list(clusters.history),
            "summary": clusters.summary()}


def dumps_decisions(decisions: Mapping[str, Any]) -> str:
    """Deterministic JSON text of a decisions document (sorted keys, 2-space indent, newline at the end)."""
    return json.dumps(decisions, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def save_decisions(path: str | os.PathLike, clusters: ClusterSet | Mapping[str, Any]) -> Path:
    """Write the decisions of ``clusters`` (or a decisions document) to ``path`` atomically; replaces it."""
    from core.io.atomic import write_text_atomic

    doc = decisions_of(clusters) if isinstance(clusters, ClusterSet) else clusters
    return write_text_atomic(path, dumps_decisions(doc), overwrite=True)


def upgrade_decisions(data: Any, source: str = "decisions") -> dict[str, Any]:
    """Check a decisions document and bring it to :data:`FORMAT`'s version (:class:`~core.errors.FormatError`
    for another format or a newer version)."""
    if not isinstance(data, dict):
        raise ParameterError(f"{source}: not a review decisions file (expected a JSON object)")
    data = FORMAT.read(data, where=source)
    for key in ("clusters", "frames"):
        if not isinstance(data.get(key, []), list):
            raise ParameterError(f"{source}: '{key}' must be a list")
    if not isinstance(data.get("base"), dict) or not isinstance(data["base"].get("hash"), str):
        raise ParameterError(f"{source}: no base hash ('base': {{'hash': ...}})")
    return data


def load_decisions(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check a ``reelkit.review/1`` file."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ImageReadError(f"{p}: no such review decisions file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImageReadError(f"{p}: cannot read the review decisions ({exc})") from exc
    return upgrade_decisions(data, str(p))


def _short(items: Sequence[Any], n: int = 5) -> str:
    text = ", ".join(str(i) for i in list(items)[:n])
    return text + (f" and {len(items) - n} more" if len(items) > n else "")


def check_decisions(clusters: ClusterSet, decisions: Mapping[str, Any]) -> list[str]:
    """Why ``decisions`` do not fit ``clusters`` (empty when they do): hash, missing frames, missing clusters."""
    data = upgrade_decisions(dict(decisions))
    problems = []
    if data["base"]["hash"] != clusters.base_hash():
        problems.append(f"made for cluster output {data['base']['hash'][:12]}, this one is "
                        f"{clusters.base_hash()[:12]} (the cluster stage ran again)")
    created = {_int(c.get("id"), "decisions: cluster id") for c in data.get("clusters", []) if c.get("created")}
    known = set(clusters.labels) | created | {NOISE}
    missing_c = set()
    for c in data.get("clusters", []):
        cid = _int(c.get("id"), "decisions: cluster id")
        if cid not in known:
            missing_c.add(cid)
        if "merged_into" in c and _int(c["merged_into"], "decisions: merged_into") not in known:
            missing_c.add(int(c["merged_into"]))
    missing_f = []
    for f in data.get("frames", []):
        if str(f.get("id")) not in clusters.frames:
            missing_f.append(str(f.get("id")))
        if "cluster" in f and _int(f["cluster"], "decisions: frame cluster") not in known:
            missing_c.add(int(f["cluster"]))
    if missing_f:
        problems.append(f"{len(missing_f)} frame(s) no longer in the cluster output: {_short(sorted(missing_f))}")
    if missing_c:
        problems.append(f"{len(missing_c)} cluster(s) no longer in the cluster output: {_short(sorted(missing_c))}")
    return problems


def apply_decisions(clusters: ClusterSet, decisions: Mapping[str, Any], *, strict: bool = True,
                    source: str = "review decisions") -> ClusterSet:
    """A copy of ``clusters`` with ``decisions`` applied (``clusters`` is not changed; the
    decisions replace any edits it had: they describe the whole review).

    ``strict`` (default): raise :class:`StaleDecisionsError` listing what does
    not fit (see :func:`check_decisions`). Otherwise apply every entry that
    still refers to something that exists and record the rest in the
    result's ``problems``.
    """
    problems = check_decisions(clusters, decisions)
    if problems and strict:
        raise StaleDecisionsError(f"{source}: stale: " + "; ".join(problems))
    out = clusters.copy()
    e = out.edits
    e.update({t: {} for t in TABLES})
    created = {int(c["id"]) for c in decisions.get("clusters", []) if c.get("created")}
    known = set(clusters.labels) | created | {NOISE}
    for c in decisions.get("clusters", []):
        cid = int(c["id"])
        if cid not in known:
            continue
        if c.get("created"):
            e["created"][cid] = int(c.get("split_from", NOISE))
        target = c.get("merged_into")
        if target is not None and int(target) in known and cid != NOISE:
            e["merged"][cid] = int(target)
        if c.get("name") and cid != NOISE:
            e["names"][cid] = _norm_text(c["name"], f"{source}: cluster {cid} name", limit=MAX_NAME)
        if c.get("tags"):
            e["cluster_tags"][cid] = tuple(_norm_text(t, f"{source}: cluster {cid} tag", comma=False)
                                           for t in c["tags"])
        if c.get("fields"):
            e["cluster_fields"][cid] = _clean_fields(c["fields"], f"{source}: cluster {cid}")
    for f in decisions.get("frames", []):
        fid = str(f["id"])
        if fid not in clusters.frames:
            continue
        if "cluster" in f and int(f["cluster"]) in known:
            e["assign"][fid] = int(f["cluster"])
        if f.get("tags"):
            e["frame_tags"][fid] = tuple(_norm_text(t, f"{source}: frame {fid} tag", comma=False) for t in f["tags"])
        if f.get("fields"):
            e["frame_fields"][fid] = _clean_fields(f["fields"], f"{source}: frame {fid}")
        if f.get("rejected") is not None and f.get("rejected") is not False:
            reason = f["rejected"]
            e["rejected"][fid] = reason if isinstance(reason, str) else "rejected"
    out.history = [str(h) for h in decisions.get("history", [])]
    out.problems = problems
    out.invalidate()
    return out


def decisions_path(dataset_dir: str | os.PathLike) -> Path:
    """``DATASET/review/decisions.json``."""
    return Path(dataset_dir) / DECISIONS_PATH


# --------------------------------------------------------------------------- the editable model


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
            self.clusters._frame(fid)
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
        cs._cluster_exists(target)
        srcs = [int(s) for s in dict.fromkeys(sources) if int(s) != target]
        if not srcs:
            raise ParameterError("review: merge needs at least one cluster other than the target")
        for s in srcs:
            cs._cluster_exists(s)
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
            name = _norm_text(name, "cluster name", limit=MAX_NAME)
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
        cs._cluster_exists(cid)
        if cid == NOISE:
            raise ParameterError("review: the noise bucket keeps its name")
        name = _norm_text(name, "cluster name", limit=MAX_NAME)
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
        cs._cluster_exists(cid)

        def body():
            for fid in ids:
                self._place(fid, cid)

        self._run(f"move {len(ids)} frame{'s' * (len(ids) != 1)} to {cid}", body)

    def _tag(self, tag: str) -> str:
        tag = _norm_text(tag, "tag", limit=MAX_NAME, comma=False)
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
        cs._cluster_exists(cid)
        new = tuple(dict.fromkeys(self._tag(t) for t in tags))

        def body():
            self._write("cluster_tags", cid, new if new else _MISSING)

        self._run(f"tags of cluster {cid}: {', '.join(new) if new else 'none'}", body)

    def tag_cluster(self, cid: int, tag: str, *, on: bool = True) -> None:
        cs = self.clusters
        cs._cluster_exists(cid)
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
        cs._cluster_exists(cid)
        clean = _clean_fields(fields, f"cluster {cid}")

        def body():
            now = {**cs.edits["cluster_fields"].get(cid, {}), **clean}
            now = {k: v for k, v in now.items() if v}
            self._write("cluster_fields", cid, now if now else _MISSING)

        self._run(f"caption cluster {cid}: {', '.join(sorted(clean))}", body)

    def set_frame_fields(self, frame_ids: Iterable[str], fields: Mapping[str, Any]) -> None:
        """Set caption fields of frames (they override the cluster's; an empty value clears the field)."""
        ids = self._frames(frame_ids)
        clean = _clean_fields(fields, "frame")
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
        reason = _norm_text(reason, "reject reason", limit=200) or "rejected in review"

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
