"""Review decisions (``reelkit.review/1``): the document of a :class:`~core.dataset.review.clusters.ClusterSet`'s
edits, its file, and applying it to a cluster output again (stale checks included). The format is
documented in :mod:`core.dataset.review`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from core.dataset.review.clusters import NOISE, TABLES, ClusterSet, StaleDecisionsError, as_int
from core.errors import ImageReadError, ParameterError
from core.formats import FORMATS

#: The decisions' format, ``reelkit.review/1`` (:mod:`core.formats`).
FORMAT = FORMATS["reelkit.review"]
#: Where the decisions live, relative to the dataset folder.
DECISIONS_PATH = Path("review") / "decisions.json"
#: The caption schema's fields (the caption stage's template fills them; others are allowed).
CAPTION_FIELDS = ("character", "outfit", "materials", "lighting", "camera", "final_caption")
MAX_NAME = 80

_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def clean_text(value: Any, what: str, *, limit: int | None = None, comma: bool = True) -> str:
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


def clean_fields(fields: Mapping[str, Any], what: str) -> dict[str, str]:
    out = {}
    for k, v in fields.items():
        if not isinstance(k, str) or not _FIELD_NAME.match(k):
            raise ParameterError(f"{what}: field name {k!r} is not an identifier (e.g. {CAPTION_FIELDS[0]})")
        out[k] = "" if v is None else clean_text(v, f"{what} field {k}")
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
    created = {as_int(c.get("id"), "decisions: cluster id") for c in data.get("clusters", []) if c.get("created")}
    known = set(clusters.labels) | created | {NOISE}
    missing_c = set()
    for c in data.get("clusters", []):
        cid = as_int(c.get("id"), "decisions: cluster id")
        if cid not in known:
            missing_c.add(cid)
        if "merged_into" in c and as_int(c["merged_into"], "decisions: merged_into") not in known:
            missing_c.add(int(c["merged_into"]))
    missing_f = []
    for f in data.get("frames", []):
        if str(f.get("id")) not in clusters.frames:
            missing_f.append(str(f.get("id")))
        if "cluster" in f and as_int(f["cluster"], "decisions: frame cluster") not in known:
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
            e["names"][cid] = clean_text(c["name"], f"{source}: cluster {cid} name", limit=MAX_NAME)
        if c.get("tags"):
            e["cluster_tags"][cid] = tuple(clean_text(t, f"{source}: cluster {cid} tag", comma=False)
                                           for t in c["tags"])
        if c.get("fields"):
            e["cluster_fields"][cid] = clean_fields(c["fields"], f"{source}: cluster {cid}")
    for f in decisions.get("frames", []):
        fid = str(f["id"])
        if fid not in clusters.frames:
            continue
        if "cluster" in f and int(f["cluster"]) in known:
            e["assign"][fid] = int(f["cluster"])
        if f.get("tags"):
            e["frame_tags"][fid] = tuple(clean_text(t, f"{source}: frame {fid} tag", comma=False) for t in f["tags"])
        if f.get("fields"):
            e["frame_fields"][fid] = clean_fields(f["fields"], f"{source}: frame {fid}")
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
