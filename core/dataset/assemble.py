"""Assembly: the training set folder, the train/val split by shot with a leak check, and the reports.

Layouts (``layout=``), inside ``OUTPUT_DIR/dataset/``:

``plain``  ``images/<id>.png`` and ``captions/<id>.txt`` (the final caption, UTF-8, one line),
           ``train.txt`` / ``val.txt`` (one image path per line).
``kohya``  kohya-ss sd-scripts' DreamBooth folders: ``train/<repeats>_<cluster name>/<id>.png``
           with ``<id>.txt`` beside it, the same under ``val/``.

Both write ``metadata.json`` (``reelkit.dataset/1``: per frame its split,
image and caption paths, cluster, shot, source video and frame, caption
fields, token count and flags), ``cluster_report.json`` (per cluster:
name, size, train/val counts, exemplars, mean membership) and
``report/``: ``counts.csv`` and ``rejections.csv`` (every extracted frame
that is not in the set, with its stage and reason) with ``report.md``
(the same as Markdown tables), and ``clusters.png`` (the 2-D view).

With the vision options (``layers``, ``saliency_crop``: :mod:`core.dataset.layers`) each image is cut to its
saliency crop (``crop`` in its metadata), and a frame with a subject gets ``layers/<id>.character.png``,
``.background.png``, ``.subject.png`` (the masked crop; 8-bit sRGB RGBA, straight alpha) and ``.matte.png``
(its metadata's ``layers``).

Split: whole shots go to validation (``val_fraction`` of the shots,
rounded, at least one when there are two shots or more and the fraction is
above 0), chosen with ``numpy.random.default_rng(seed)``; a frame is never
split from its shot. The leak check then verifies that no shot, no content
hash and no perceptual hash within ``phash_distance`` bits appears in both
splits; found leaks are listed in ``metadata.json`` and the report.
"""

from __future__ import annotations

import csv
import io as _io
import json
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from core.formats import FORMATS
from core.jobs import ProgressFn

DATASET_FORMAT = FORMATS["reelkit.dataset"].tag


def split_shots(shots: list[str], *, val_fraction: float, seed: int) -> set[str]:
    """The shots held out for validation (see the module doc)."""
    shots = sorted(set(shots))
    if len(shots) < 2 or val_fraction <= 0:
        return set()
    n_val = min(len(shots) - 1, max(1, int(round(val_fraction * len(shots)))))
    order = np.random.default_rng(seed).permutation(len(shots))
    return {shots[i] for i in order[:n_val]}


def leak_check(frames: list[Mapping[str, Any]], *, phash_distance: int) -> list[dict[str, Any]]:
    """Leaks between the splits: ``{"kind": "shot" | "sha256" | "phash", "train": id, "val": id}``."""
    from core.dataset.hashing import BKTree

    leaks: list[dict[str, Any]] = []
    train = [f for f in frames if f["split"] == "train"]
    val = [f for f in frames if f["split"] == "val"]
    shots_train = {f["shot"]: f["id"] for f in train}
    sha_train = {f["sha256"]: f["id"] for f in train}
    tree = BKTree((int(f["phash"], 16), f["id"]) for f in train)
    for f in val:
        if f["shot"] in shots_train:
            leaks.append({"kind": "shot", "train": shots_train[f["shot"]], "val": f["id"]})
        if f["sha256"] in sha_train:
            leaks.append({"kind": "sha256", "train": sha_train[f["sha256"]], "val": f["id"]})
        for _, other, d in tree.within(int(f["phash"], 16), phash_distance):
            leaks.append({"kind": "phash", "train": other, "val": f["id"], "bits": d})
            break
    return leaks


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "cluster"


def _copy(src: Path, dst: Path) -> None:
    from core.io.atomic import atomic_path

    with atomic_path(dst, overwrite=True) as tmp:
        shutil.copyfile(src, tmp)


def _csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    buf = _io.StringIO()
    w = csv.DictWriter(buf, columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def _md_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    return head + "".join("| " + " | ".join(str(r.get(c, "")).replace("|", "/") for c in columns) + " |\n"
                          for r in rows)


def assemble(out: str | os.PathLike, dest: str | os.PathLike, params: Mapping[str, Any], *,
             progress: ProgressFn | None = None) -> dict[str, Any]:
    """Write the training set of the dataset run in ``out`` into ``dest``; returns counts."""
    from core.dataset.builder import _read_json, _write_json, reviewed_clusters
    from core.dataset.report import cluster_plot
    from core.io.atomic import write_text_atomic

    out, dest = Path(out), Path(dest)
    doc, review_sha = reviewed_clusters(out, params)
    captions = {c["id"]: c for c in _read_json(out / "caption" / "captions.json")["frames"]}
    records = {r["id"]: r for r in _read_json(out / "frames" / "frames.json")["frames"]}
    quality = {q["id"]: q for q in _read_json(out / "filter" / "quality.json")["frames"]}
    dedup = {d["id"]: d for d in _read_json(out / "dedup" / "dedup.json")["frames"]}
    clusters = {c["id"]: c for c in doc["clusters"]}

    frames = [f for f in doc["frames"] if not f.get("excluded")]
    missing = [f["id"] for f in frames if f["id"] not in captions]
    if missing:
        from core.errors import ParameterError

        raise ParameterError(f"assemble: frame {missing[0]} has no caption; run the caption stage again")
    val_shots = split_shots([f["shot"] for f in frames], val_fraction=params["val_fraction"], seed=params["seed"])
    kohya = params["layout"] == "kohya"
    meta = []
    for k, f in enumerate(frames):
        split = "val" if f["shot"] in val_shots else "train"
        cluster = clusters[f["cluster"]]
        if kohya:
            folder = f"{split}/{params['kohya_repeats']}_{_safe(cluster['name'])}"
            image, text = f"{folder}/{f['id']}.png", f"{folder}/{f['id']}.txt"
        else:
            image, text = f"images/{f['id']}.png", f"captions/{f['id']}.txt"
        q = quality[f["id"]]
        if q.get("crop") or (q.get("subject") or {}).get("matte"):  # the vision options (core.dataset.layers)
            from core.dataset.layers import write_frame_layers

            extra = write_frame_layers(out, dest, image, f["path"], q)
        else:
            _copy(out / f["path"], dest / image)
            extra = {}
        cap = captions[f["id"]]
        write_text_atomic(dest / text, cap["final_caption"] + "\n", overwrite=True)
        rec = records[f["id"]]
        meta.append({"id": f["id"], "split": split, "image": image, "caption_file": text,
                     "cluster": f["cluster"], "cluster_name": cluster["name"], "shot": f["shot"],
                     "video": f["video"], "frame": f["frame"], "time": f.get("time"), "source": f["path"],
                     "sha256": rec["sha256"], "phash": quality[f["id"]]["phash"],
                     "caption": {k2: cap[k2] for k2 in ("character", "outfit", "materials", "lighting", "camera",
                                                         "final_caption")},
                     "tokens": cap["tokens"], "flags": cap["flags"], **extra})
        if progress is not None:
            progress(k + 1, len(frames))
    leaks = leak_check(meta, phash_distance=params["phash_distance"])
    if not kohya:
        for split in ("train", "val"):
            write_text_atomic(dest / f"{split}.txt", "".join(m["image"] + "\n" for m in meta if m["split"] == split),
                              overwrite=True)
    _write_json(dest / "metadata.json", {"format": DATASET_FORMAT, "layout": params["layout"],
                                         "review_sha256": review_sha, "val_shots": sorted(val_shots),
                                         "leaks": leaks, "frames": meta})

    report = []
    for c in doc["clusters"]:
        members = [m for m in meta if m["cluster"] == c["id"]]
        probs = [f["probability"] for f in frames if f["cluster"] == c["id"]]
        report.append({"id": c["id"], "name": c["name"], "size": len(members), "tags": c.get("tags", []),
                       "train": sum(m["split"] == "train" for m in members),
                       "val": sum(m["split"] == "val" for m in members),
                       "shots": len({m["shot"] for m in members}), "exemplars": c.get("exemplars", []),
                       "mean_probability": round(float(np.mean(probs)), 4) if probs else 0.0})
    _write_json(dest / "cluster_report.json", {"clusters": report})

    # every extracted frame not in the set, with why
    rejections = []
    kept_ids = {m["id"] for m in meta}
    excluded = {f["id"]: f.get("excluded_reason") or "" for f in doc["frames"] if f.get("excluded")}
    for fid in records:
        if fid in kept_ids:
            continue
        q = quality.get(fid)
        d = dedup.get(fid)
        if q and q["status"] == "rejected":
            for why in q["reasons"]:
                rejections.append({"id": fid, "stage": "filter", "reason": why,
                                   "detail": q["subject"]["why"] if why == "no_subject" else
                                   json.dumps(q["quality"], sort_keys=True)})
        elif d and d["status"] == "duplicate":
            rejections.append({"id": fid, "stage": "dedup", "reason": f"duplicate_{d['stage']}",
                               "detail": f"of {d['duplicate_of']} (score {d['score']})"})
        elif fid in excluded:
            rejections.append({"id": fid, "stage": "review", "reason": "excluded", "detail": excluded[fid]})
        else:
            rejections.append({"id": fid, "stage": "unknown", "reason": "not in the reviewed clusters",
                               "detail": ""})
    shots_doc = _read_json(out / "shots" / "shots.json")
    n_extracted = len(records)
    n_filtered = sum(q["status"] == "kept" for q in quality.values())
    n_dedup = sum(d["status"] == "kept" for d in dedup.values())
    counts = [
        {"stage": "shots", "in": sum(v["frames"] for v in shots_doc["videos"]), "out": len(shots_doc["shots"]),
         "note": f"{len(shots_doc['videos'])} videos, video frames -> shots"},
        {"stage": "extract", "in": len(shots_doc["shots"]), "out": n_extracted, "note": "shots -> frames"},
        {"stage": "filter", "in": n_extracted, "out": n_filtered, "note": "quality"},
        {"stage": "dedup", "in": n_filtered, "out": n_dedup, "note": "exact, phash+SSIM, embedding"},
        {"stage": "cluster", "in": n_dedup, "out": len(doc["frames"]),
         "note": f"{sum(1 for c in doc['clusters'] if c['id'] != -1)} clusters, "
                 f"{clusters.get(-1, {}).get('size', 0)} noise"},
        {"stage": "review", "in": len(doc["frames"]), "out": len(frames), "note": f"{len(excluded)} excluded"},
        {"stage": "assemble", "in": len(frames), "out": len(meta),
         "note": f"{sum(m['split'] == 'train' for m in meta)} train, {sum(m['split'] == 'val' for m in meta)} val, "
                 f"{len(leaks)} leaks"},
    ]
    reasons: dict[tuple[str, str], int] = {}
    for r in rejections:
        reasons[(r["stage"], r["reason"])] = reasons.get((r["stage"], r["reason"]), 0) + 1
    reason_rows = [{"stage": s, "reason": r, "frames": n} for (s, r), n in sorted(reasons.items())]
    rep = dest / "report"
    write_text_atomic(rep / "counts.csv", _csv(counts, ["stage", "in", "out", "note"]), overwrite=True)
    write_text_atomic(rep / "rejections.csv", _csv(rejections, ["id", "stage", "reason", "detail"]), overwrite=True)
    flagged = [{"id": m["id"], "tokens": m["tokens"], "flags": ",".join(m["flags"])} for m in meta if m["flags"]]
    md = ["# Dataset report", "", "## Frames per stage", "", _md_table(counts, ["stage", "in", "out", "note"]),
          "## Rejections", "", _md_table(reason_rows, ["stage", "reason", "frames"]) if reason_rows else "none\n",
          "## Clusters", "", _md_table(report, ["id", "name", "size", "train", "val", "shots", "mean_probability"]),
          "## Captions", "",
          f"{len(flagged)} of {len(meta)} captions flagged (token limits {params['min_tokens']}-"
          f"{params['max_tokens']}, words and punctuation counted).", "",
          "## Split leaks", "", _md_table(leaks, ["kind", "train", "val"]) if leaks else "none\n",
          "![clusters](clusters.png)", ""]
    write_text_atomic(rep / "report.md", "\n".join(md), overwrite=True)
    cluster_plot(doc, rep / "clusters.png")
    return {"frames": len(meta), "train": sum(m["split"] == "train" for m in meta),
            "val": sum(m["split"] == "val" for m in meta), "leaks": len(leaks),
            "rejected": len({r["id"] for r in rejections})}  # frames; rejections.csv has one row per reason
