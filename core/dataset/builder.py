"""The dataset builder: footage -> shots -> frames -> filter -> embed -> dedup -> cluster -> caption -> assemble.

:func:`run_dataset` runs the stages in order into one output folder, one
sub-folder per stage, each with its own ``manifest.json``
(``reelkit.manifest/1``)::

    OUTPUT_DIR/
      manifest.json            the run: footage with sha256, every parameter, per-stage status
      shots/shots.json         reelkit.dataset_shots/1: videos and their shots
      frames/<video>/*.png     extracted frames (8-bit sRGB PNG) + frames/frames.json (records)
      filter/quality.json      quality measures, perceptual hash and rejection reasons of every frame
      embed/embeddings.npz     ids + float32 vectors of the frames that passed the filter
      dedup/dedup.json         kept / duplicate (stage, duplicate_of, score) for those frames
      cluster/clusters.json    reelkit.clusters/1 (see core.dataset.cluster), model.pkl, clusters.png
      review/decisions.json    reelkit.review/1, written by the review panel (optional)
      caption/captions.json    schema fields, final caption, token count, flags per frame
      dataset/                 the training set (see core.dataset.assemble)
      cache/                   embedding cache (by content hash; cache_dir moves it)

Resume: a stage's config hash covers its own parameters, the hash of the
stage before it and (for shots) the footage's sha256s, so a changed caption
option redoes caption and assemble only. A stage whose manifest says done
with the same hash is skipped; shot detection and extraction also resume
video by video inside an interrupted stage, and embeddings come from the
cache. A stage whose files changed since (an image deleted, a file
truncated or edited: each stage's manifest records the size, mtime and
sha256 of every file in its folder) is redone. ``force`` redoes the stages asked for. An output folder built from
other footage (adding videos to the same footage is fine), or holding files
reelkit did not write, is refused unless ``force``.

:func:`plan_dataset` says, before a run, which stages it does and every
file it writes that is known then (:class:`DatasetPlan`).

Memory stays flat in the number of frames: frames are decoded one at a
time, deduplication uses hash buckets, BK-trees and radius queries on
embeddings, clustering never forms an N x N matrix.

Inside a :func:`core.scale.scheduler` block that names a Dask cluster (the
CLI's ``--scheduler``), the heavy stages' work goes to its workers through
:func:`core.scale.map_in_order`: extract a video at a time, the filter's
measures a frame at a time, embed a batch at a time, dedup's candidate
search a block of rows at a time; results come back and are recorded here
in the local order, so the folder and its manifests end as a local run
leaves them (clocks and mtimes aside). Shots, the near-duplicate (pHash,
SSIM) check, clustering, captions and assembly run in this process.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
import shutil
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.dataset.params import DATASET_PARAMS, HASHED_WHEN_SET, STAGE_PARAMS, STAGES
from core.errors import EmptyResultError, FormatError, ImageReadError, OutputExistsError, ParameterError
from core.formats import FORMATS, Format
from core.jobs import StageProgressFn


#: Formats of ``shots.json``, ``frames.json`` and of the run's ``manifest.json`` (its ``dataset_format``).
SHOTS_FORMAT = FORMATS["reelkit.dataset_shots"]
FRAMES_FORMAT = FORMATS["reelkit.dataset_frames"]
RUN_FORMAT = FORMATS["reelkit.dataset_run"]
#: The folder of each stage's outputs, relative to the output folder.
STAGE_DIRS = {"shots": "shots", "extract": "frames", "filter": "filter", "embed": "embed", "dedup": "dedup",
              "cluster": "cluster", "caption": "caption", "assemble": "dataset"}
#: Folders a dataset folder may hold before its first run: the embedding cache and review decisions (inputs).
_INPUT_DIRS = {"cache", "review"}


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ImageReadError(f"{path}: cannot read ({exc}); run the stage that writes it") from exc


def _read_doc(path: Path, fmt: Format) -> dict[str, Any]:
    """``path``'s document read as ``fmt`` (:meth:`core.formats.Format.read`: upgraded when older, a
    :class:`~core.errors.FormatError` naming the file otherwise)."""
    doc = _read_json(path)
    if not isinstance(doc, dict):
        raise FormatError(f"{path}: not a {fmt.tag} document (a JSON {type(doc).__name__})")
    return fmt.read(doc, where=str(path))


def _write_json(path: Path, data: Any) -> Path:
    from core.io.atomic import write_text_atomic

    return write_text_atomic(path, json.dumps(data, indent=1, default=str) + "\n", overwrite=True)


def video_ids(paths: Sequence[str | os.PathLike]) -> list[str]:
    """File-safe ids from the file stems, unique (``_2``, ``_3``... for repeated stems)."""
    out: list[str] = []
    for p in paths:
        base = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(p).stem) or "video"
        vid, n = base, 2
        while vid in out:
            vid, n = f"{base}_{n}", n + 1
        out.append(vid)
    return out


def decisions_path(output_dir: str | os.PathLike, params: Mapping[str, Any]) -> Path:
    """Where review decisions are read from (``review_file`` or ``OUTPUT_DIR/review/decisions.json``)."""
    return Path(params.get("review_file") or Path(output_dir) / "review" / "decisions.json")


def reviewed_clusters(output_dir: str | os.PathLike, params: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The cluster document with review decisions applied (when there are any), and the decisions' sha256.

    Decisions (``reelkit.review/1``) are read and applied by the review model,
    :func:`core.dataset.review.load_clusters` / :func:`~core.dataset.review.apply_decisions`
    (strict: decisions made for another cluster result raise
    :class:`~core.dataset.review.StaleDecisionsError`). The result is a
    ``reelkit.clusters/1`` document in which every frame carries its reviewed
    ``cluster``, ``tags`` (its cluster's, then its own), ``caption`` (the
    review's fields, the frame's over its cluster's) and ``excluded`` /
    ``excluded_reason``; clusters carry their reviewed ``name``, ``tags`` and
    ``fields``, split-made ones included. Without a decisions file the
    document is returned as the cluster stage wrote it.
    """
    from core.dataset.cluster import read_clusters
    from core.manifest import file_sha256

    cluster_file = Path(output_dir) / "cluster" / "clusters.json"
    doc = read_clusters(cluster_file)
    path = decisions_path(output_dir, params)
    if not path.is_file():
        if params.get("review_file"):
            raise ParameterError(f"review_file {path}: no such file")
        return doc, None
    try:
        from core.dataset import review
    except ImportError as exc:
        raise ParameterError(f"{path}: review decisions found but core.dataset.review cannot be loaded "
                             f"({exc})") from exc
    cs = review.apply_decisions(review.load_clusters(cluster_file), review.load_decisions(path), source=str(path))
    frames = []
    for f in doc["frames"]:
        d = cs.decision(f["id"])
        frames.append({**f, "cluster": d.cluster, "tags": list(d.tags), "caption": dict(d.fields),
                       "excluded": d.rejected, "excluded_reason": d.reason})
    old = {c["id"]: c for c in doc["clusters"]}
    clusters = []
    for view in cs.clusters():
        ex = [fid for fid in view.frames if cs.frames[fid].exemplar is not None]
        clusters.append({**old.get(view.id, {}), "id": view.id, "name": view.name, "size": view.size,
                         "exemplars": ex if view.id != -1 else [], "tags": list(view.tags),
                         "fields": dict(view.fields), "created": view.created})
    return {**doc, "clusters": clusters, "frames": frames, "review": {"file": str(path),
                                                                     "history": list(cs.history)}}, file_sha256(path)


class _Stage:
    """One stage's folder, manifest and config hash."""

    def __init__(self, run: "_Run", name: str, config: Mapping[str, Any]):
        from core.manifest import Manifest

        self.run, self.name = run, name
        self.dir = run.out / STAGE_DIRS[name]
        seed = run.params["seed"] if "seed" in STAGE_PARAMS[name] else None
        self.manifest = Manifest(self.dir, f"dataset {name}", config, seed=seed)
        self.hash = self.manifest.config_hash

    def previous(self) -> dict[str, Any] | None:
        path = self.dir / "manifest.json"
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            return None

    def up_to_date(self) -> bool:
        """Done with this config hash, and every file the stage wrote still holds what it wrote."""
        from core.stages import judge

        old = self.previous() or {}
        return judge(old.get("status"), [
            (old.get("config_hash") == self.hash, "its parameters changed"),
            (lambda: "files" in old and not self.manifest.changed_files(old["files"]), "its files changed"),
        ]).done

    def progress(self, done: int, total: int) -> None:
        if self.run.progress is not None:
            self.run.progress(self.name, done, total)


def load_frame(out: Path, record: Mapping[str, Any]) -> np.ndarray:
    """An extracted frame of the dataset folder ``out`` (its record's ``path``), ``uint8`` ``HW3`` sRGB-encoded."""
    from core.dataset.extract import read_uint8

    return read_uint8(out / record["path"])


class _Run:
    def __init__(self, footage: list[Path], out: Path, params: dict[str, Any], progress: StageProgressFn | None):
        self.footage, self.out, self.params, self.progress = footage, out, params, progress
        self.ids = video_ids(footage)
        self.hashes: dict[str, str] = {}
        self.summary: dict[str, dict[str, Any]] = {}
        self.load = functools.partial(load_frame, out)  # travels to Dask workers (core.scale.map_in_order)

    def cache_dir(self) -> Path:
        return Path(self.params["cache_dir"]) if self.params["cache_dir"] else self.out / "cache"


# -- stages -------------------------------------------------------------------------------------------


def _stage_shots(st: _Stage, run: _Run, force: bool) -> dict[str, Any]:
    from core.shots import Shot, detect_shots
    from core.stages import same_setup

    p = run.params
    # per-video results of an earlier run with the same detector settings (adding videos keeps them)
    old = None if force else st.previous()
    same = same_setup(None if old is None else old.get("config", {}), {k: p[k] for k in STAGE_PARAMS["shots"]})
    done = {k: v for k, v in (old or {}).get("frames", {}).items() if same and v.get("status") == "done"}
    videos, shots = [], []
    for k, (path, vid) in enumerate(zip(run.footage, run.ids)):
        sha = st.manifest.add_input(path)
        rec = done.get(vid)
        if rec and rec.get("sha256") == sha:
            st.manifest.adopt(vid, rec)
            found = [Shot.from_dict(s) for s in rec["shots"]]
        else:
            t0 = time.perf_counter()
            found = detect_shots(path, video_id=vid, detector=p["detector"], threshold=p["detector_threshold"],
                                 min_shot_length=p["min_shot_length"])
            st.manifest.frame_done(vid, sha256=sha, shots=[s.to_dict() for s in found],
                                   seconds=round(time.perf_counter() - t0, 3))
        frames = found[-1].end if found else 0
        videos.append({"id": vid, "path": str(path), "sha256": sha, "frames": frames,
                       "fps": found[0].fps if found else 0.0, "shots": len(found)})
        shots += [s.to_dict() for s in found]
        st.progress(k + 1, len(run.footage))
    _write_json(st.dir / "shots.json", {"format": SHOTS_FORMAT.tag, "videos": videos, "shots": shots})
    return {"videos": len(videos), "shots": len(shots), "video_frames": sum(v["frames"] for v in videos)}


def _extract_video(settings: Mapping[str, Any], video: Mapping[str, Any], *,
                   progress: Any = None) -> list[dict[str, Any]]:
    """One video's planned frames written, their records returned: a pure function of the video, its shots'
    plans and ``settings`` (frames folder, root, colour space); a unit of :func:`core.scale.map_in_order`."""
    from core.dataset.extract import extract_frames

    if "adopt" in video:
        return video["adopt"]["frames"]
    return extract_frames(video["path"], video["shots"], video["plan"], progress=progress, **settings)


def _measure_frame(load: Any, record: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """A frame's quality measures and perceptual hash (hex): the filter stage's per-frame unit."""
    from core.dataset.hashing import phash
    from core.dataset.quality import measure

    img = load(record)
    return measure(img), f"{phash(img):016x}"


def _stage_extract(st: _Stage, run: _Run, force: bool) -> dict[str, Any]:
    from core.dataset.extract import plan_shot
    from core.scale import current, map_in_order
    from core.shots import Shot

    p = run.params
    doc = _read_doc(run.out / "shots" / "shots.json", SHOTS_FORMAT)
    shots = [Shot.from_dict(s) for s in doc["shots"]]
    done = {} if force else st.manifest.previous_done()
    records: list[dict[str, Any]] = []
    total = 0
    plans = {}
    for s in shots:
        plans[s.shot_id] = plan_shot(s, mode=p["extract_mode"], interval=p["interval"], budget=p["per_shot_budget"],
                                     margin=p["shot_margin"])
        total += len(plans[s.shot_id])
    # a video is one unit (decoded forward once: OpenCV's seeks are not frame-exact); on Dask, videos go to the
    # workers; a video an earlier run extracted is adopted in its place (its records travel, no work)
    todo: list[tuple[str, dict[str, Any]]] = []
    for v in doc["videos"]:
        vshots = [s for s in shots if s.video == v["id"]]
        rec = done.get(v["id"])
        if rec and all((run.out / r["path"]).is_file() for r in rec["frames"]):
            todo.append((v["id"], {"id": v["id"], "adopt": rec}))
        else:
            todo.append((v["id"], {"id": v["id"], "path": v["path"], "shots": vshots,
                                   "plan": {s.shot_id: plans[s.shot_id] for s in vshots}}))
    settings = {"frames_dir": st.dir, "root": run.out,
                "colorspace": None if p["input_colorspace"] == "auto" else p["input_colorspace"]}
    process = functools.partial(_extract_video, settings)
    if current() is None:  # in process: progress frame by frame (on Dask: video by video)
        process = functools.partial(process, progress=lambda d, t, item=None: st.progress(len(records) + d, total))

    def landed(video: Mapping[str, Any], got: list[dict[str, Any]]) -> None:
        if "adopt" in video:
            st.manifest.adopt(video["id"], video["adopt"])
        else:
            st.manifest.frame_done(video["id"], frames=got)
        records.extend(got)
        st.progress(len(records), total)

    map_in_order(process, todo, landed, what="dataset extract")
    _write_json(st.dir / "frames.json", {"format": FRAMES_FORMAT.tag, "frames": records})
    wanted = {run.out / r["path"] for r in records}
    for png in st.dir.glob("*/*.png"):  # frames of an earlier plan would linger, and (the glob takes dot names)
        # the temporary file of a frame whose writer was killed (a Dask worker) mid-write
        if png not in wanted:
            png.unlink()
    return {"frames": len(records)}


def _stage_filter(st: _Stage, run: _Run, force: bool) -> dict[str, Any]:
    from core.dataset.quality import blur_limit, reasons, sharpness_reference
    from core.scale import map_in_order

    records = _read_doc(run.out / "frames" / "frames.json", FRAMES_FORMAT)["frames"]
    measured: list[tuple[dict[str, Any], str]] = []

    def landed(record: Mapping[str, Any], result: tuple[dict[str, Any], str]) -> None:
        measured.append(result)
        st.progress(len(measured), len(records))

    map_in_order(functools.partial(_measure_frame, run.load), [(r["id"], r) for r in records], landed,
                 what="dataset filter")
    # blur is judged against each video's own sharpness (core.dataset.quality's rule)
    refs = {v: sharpness_reference([m for (m, _), r in zip(measured, records) if r["video"] == v], run.params)
            for v in dict.fromkeys(r["video"] for r in records)}
    from core.dataset.layers import FrameAnalyser

    layers = FrameAnalyser(run.params)  # the vision options (layers, saliency crop): off by default
    shutil.rmtree(st.dir / "mattes", ignore_errors=True)  # an earlier run's mattes would linger
    out = []
    for r, (metrics, ph) in zip(records, measured):
        why = reasons(metrics, run.params, refs[r["video"]])
        extra: dict[str, Any] = {}
        if layers.active and not why:
            why, extra = layers.frame(run.load(r), st.dir / "mattes" / r["video"] / f"{r['id']}.png", root=run.out)
        out.append({"id": r["id"], "status": "rejected" if why else "kept", "reasons": why, "quality": metrics,
                    "phash": ph, **extra})
    _write_json(st.dir / "quality.json", {"frames": out, "sharpness": {
        v: {"reference": ref, "blur_limit": blur_limit(run.params, ref)} for v, ref in refs.items()}})
    counts: dict[str, int] = {}
    for f in out:
        for why in f["reasons"]:
            counts[why] = counts.get(why, 0) + 1
    kept = sum(f["status"] == "kept" for f in out)
    return {"frames": len(out), "kept": kept, "rejected": len(out) - kept, "reasons": counts}


def _kept_records(run: _Run) -> list[dict[str, Any]]:
    """Frame records that passed the filter, with their ``quality`` and ``phash``."""
    records = _read_doc(run.out / "frames" / "frames.json", FRAMES_FORMAT)["frames"]
    quality = {f["id"]: f for f in _read_json(run.out / "filter" / "quality.json")["frames"]}
    return [{**r, "quality": quality[r["id"]]["quality"], "phash": quality[r["id"]]["phash"]}
            for r in records if quality[r["id"]]["status"] == "kept"]


def _load_embeddings(run: _Run) -> tuple[list[str], np.ndarray]:
    path = run.out / "embed" / "embeddings.npz"
    try:
        with np.load(path, allow_pickle=False) as z:
            return [str(i) for i in z["ids"].tolist()], np.asarray(z["vectors"], np.float32)
    except (OSError, ValueError, KeyError) as exc:
        raise ImageReadError(f"{path}: cannot read ({exc}); run the embed stage") from exc


def _stage_embed(st: _Stage, run: _Run, force: bool) -> dict[str, Any]:
    import io as _io

    from core.dataset.embed import EmbeddingCache, embed_records, make_embedder
    from core.io.atomic import write_bytes_atomic

    p = run.params
    embedder = make_embedder(p["embedder"], onnx_model=p["onnx_model"], onnx_mean=p["onnx_mean"],
                             onnx_std=p["onnx_std"])
    records = _kept_records(run)
    cache = EmbeddingCache(run.cache_dir(), embedder.key)
    vectors, computed = embed_records(records, embedder, load=run.load, cache=cache, progress=st.progress)
    buf = _io.BytesIO()
    np.savez(buf, ids=np.asarray([r["id"] for r in records]), vectors=vectors)
    write_bytes_atomic(st.dir / "embeddings.npz", buf.getvalue(), overwrite=True)
    st.manifest.set("embedder", embedder.key)
    return {"frames": len(records), "computed": computed, "reused": len(records) - computed,
            "dims": int(vectors.shape[1]) if vectors.ndim == 2 else 0}


def _stage_dedup(st: _Stage, run: _Run, force: bool) -> dict[str, Any]:
    from core.dataset.dedup import dedup

    p = run.params
    records = _kept_records(run)
    ids, vectors = _load_embeddings(run)
    if ids != [r["id"] for r in records]:
        raise ParameterError("dedup: the embeddings do not match the filtered frames; run the embed stage again")
    results = dedup(records, vectors if len(vectors) else None, phash_distance=p["phash_distance"],
                    ssim_threshold=p["ssim_threshold"], embedding_distance=p["embedding_distance"],
                    load=run.load, seed=p["seed"], progress=lambda s, d, t, item=None: st.progress(d, t))
    _write_json(st.dir / "dedup.json", {"frames": results})
    by_stage: dict[str, int] = {}
    for r in results:
        if r["status"] == "duplicate":
            by_stage[r["stage"]] = by_stage.get(r["stage"], 0) + 1
    return {"frames": len(results), "kept": sum(r["status"] == "kept" for r in results), "duplicates": by_stage}


def _stage_cluster(st: _Stage, run: _Run, force: bool) -> dict[str, Any]:
    from core.dataset.cluster import cluster_embeddings, clusters_document
    from core.dataset.report import cluster_plot

    p = run.params
    records = _kept_records(run)
    ids, vectors = _load_embeddings(run)
    row = {i: k for k, i in enumerate(ids)}
    kept = {r["id"] for r in _read_json(run.out / "dedup" / "dedup.json")["frames"] if r["status"] == "kept"}
    records = [r for r in records if r["id"] in kept]
    x = vectors[[row[r["id"]] for r in records]] if records else np.zeros((0, max(1, vectors.shape[-1])), np.float32)
    st.progress(0, 1)
    result = cluster_embeddings(x, pca_components=p["pca_components"], umap_components=p["umap_components"],
                                umap_neighbors=p["umap_neighbors"], umap_epochs=p["umap_epochs"],
                                min_cluster_size=p["min_cluster_size"],
                                min_samples=p["min_samples"], seed=p["seed"])
    values = {k: p[k] for k in STAGE_PARAMS["cluster"]}
    doc = clusters_document(records, result, params=values, config_hash=st.hash)
    _write_json(st.dir / "clusters.json", doc)
    result.model.save(st.dir / "model.pkl")
    cluster_plot(doc, st.dir / "clusters.png")
    st.progress(1, 1)
    return {"frames": len(records), "clusters": result.n_clusters,
            "noise": int(sum(1 for v in result.labels if v == -1))}


def _stage_caption(st: _Stage, run: _Run, force: bool) -> dict[str, Any]:
    from core.dataset.captions import caption_frame, check_template, make_captioner

    p = run.params
    check_template(p["caption_template"])
    doc, _ = reviewed_clusters(run.out, p)
    quality = {f["id"]: f["quality"] for f in _read_json(run.out / "filter" / "quality.json")["frames"]}
    clusters = {c["id"]: c for c in doc["clusters"]}
    captioner = make_captioner("schema")
    out = []
    frames = [f for f in doc["frames"] if not f.get("excluded")]
    for k, f in enumerate(frames):
        cap = caption_frame({**f, "quality": quality.get(f["id"], {})}, clusters[f["cluster"]], captioner,
                            template=p["caption_template"], prefix=p["caption_prefix"],
                            min_tokens=p["min_tokens"], max_tokens=p["max_tokens"])
        out.append({"id": f["id"], **cap})
        st.progress(k + 1, len(frames))
    _write_json(st.dir / "captions.json", {"captioner": captioner.key, "frames": out})
    return {"frames": len(out), "short": sum("short" in c["flags"] for c in out),
            "truncated": sum("truncated" in c["flags"] for c in out)}


def _stage_assemble(st: _Stage, run: _Run, force: bool) -> dict[str, Any]:
    from core.dataset.assemble import assemble
    from core.io.atomic import building_dir

    # built aside and swapped in: a layout or split change leaves no old file behind, and a reader
    # (or a killed run) never sees half a training set
    with building_dir(st.dir) as dest:
        return assemble(run.out, dest, run.params, progress=st.progress)


_RUNNERS = {"shots": _stage_shots, "extract": _stage_extract, "filter": _stage_filter, "embed": _stage_embed,
            "dedup": _stage_dedup, "cluster": _stage_cluster, "caption": _stage_caption,
            "assemble": _stage_assemble}


# -- the run ------------------------------------------------------------------------------------------


def _check_folder(out: Path, footage_sha: dict[str, str], force: bool, top) -> None:
    """Refuse a folder of other footage or of files that are not ours, unless ``force``.

    Without a run manifest nothing in the folder is ours: every file and stage
    folder there goes through the one no-overwrite rule (``top.refuse_foreign``).
    """
    if not out.is_dir() or force:
        return
    run_file = out / "manifest.json"
    if run_file.is_file():
        try:
            old = json.loads(run_file.read_text("utf-8"))
        except (OSError, ValueError):
            old = {}
        try:
            old = RUN_FORMAT.read(old, where=str(run_file), key=("dataset_format",))
        except FormatError:
            raise OutputExistsError(f"{run_file}: not a dataset run's manifest (use --force to replace it)") from None
        if not set(old.get("inputs", {}).values()) <= set(footage_sha.values()):  # adding videos is fine
            raise OutputExistsError(f"{out}: holds a dataset built from other footage (use --force to replace it)")
    else:
        top.refuse_foreign(sorted(p for p in out.iterdir()
                                  if not p.name.startswith(".") and p.name not in _INPUT_DIRS), owned=())


def _walk(run: _Run, sha: Mapping[str, str], wanted: Sequence[str], force: bool):
    """The stages asked for, in order, as ``(name, stage, due)``: each with its config (its parameters, the hash
    of the stage before it, for shots the footage, for caption and assemble the review decisions) and whether
    a run does it (``force``, or not up to date). A stage not asked for passes on its hash, or the hash of what
    is on disk when that was made with other settings (later stages read it)."""
    from core.manifest import file_sha256

    previous = ""
    for name in STAGES:
        config: dict[str, Any] = {k: run.params[k] for k in STAGE_PARAMS[name]}
        for key, unset in HASHED_WHEN_SET.items():  # only when set: earlier runs stay up to date
            if key in config and config[key] == unset:
                del config[key]
        config["upstream"] = previous
        if name == "shots":
            config["footage"] = [sha[str(f)] for f in run.footage]
            config["video_ids"] = run.ids
        if name in ("caption", "assemble"):
            dpath = decisions_path(run.out, run.params)
            config["review_sha256"] = file_sha256(dpath) if dpath.is_file() else None
        st = _Stage(run, name, config)
        previous = st.hash
        if name not in wanted:
            old = st.previous()
            if old and old.get("config_hash") and not st.up_to_date():
                previous = old["config_hash"]  # later stages read what is on disk, made with other settings
            continue
        yield name, st, force or not st.up_to_date()


def _resolve_run(footage, params, stages) -> tuple[list[Path], dict[str, Any], list[str]]:
    """run_dataset's footage files (checked), parameters (resolved) and stages asked for (checked)."""
    from core.io import colorspace_option

    values = DATASET_PARAMS.resolve(params or {})
    values["input_colorspace"] = colorspace_option(values["input_colorspace"], name="input_colorspace") or "auto"
    files = [Path(footage)] if isinstance(footage, (str, os.PathLike)) else [Path(f) for f in footage]
    if not files:
        raise ParameterError("dataset: no footage given")
    for f in files:
        if not f.is_file():
            raise ImageReadError(f"{f}: no such video")
    wanted = list(STAGES) if stages is None else [s.strip() for s in stages if s.strip()]
    unknown = [s for s in wanted if s not in STAGES]
    if unknown:
        raise ParameterError(f"stages: unknown {', '.join(unknown)}; expected some of {', '.join(STAGES)}")
    return files, values, wanted


#: Each stage's own files in its folder, whatever it finds (its manifest besides): the extracted frames,
#: the filter's mattes, the embedding cache and the training set depend on what the stages before find.
STAGE_FILES = {"shots": ("shots.json",), "extract": ("frames.json",), "filter": ("quality.json",),
               "embed": ("embeddings.npz",), "dedup": ("dedup.json",),
               "cluster": ("clusters.json", "model.pkl", "clusters.png"), "caption": ("captions.json",),
               "assemble": ()}


@dataclasses.dataclass(frozen=True)
class DatasetPlan:
    """What :func:`run_dataset` with the same arguments would write, said before it runs.

    ``writes``: every file known now (the run's manifest, each stage's manifest and own files, the frames
    extract takes when the shots are on disk already); ``within``: the folders whose files depend on what a
    stage of the same run finds (extracted frames after shots run, the filter's mattes, the embedding cache,
    the training set); ``clears``: folders the run may empty first (every stage folder in a forced full run,
    the frames an earlier extract plan left, the filter's earlier mattes); ``stages``: the stages that
    run (a stage that leaves nothing for the next ends the run earlier)."""

    writes: list[Path]
    within: list[Path]
    clears: list[Path]
    stages: list[str]


def plan_dataset(footage: str | os.PathLike | Iterable[str | os.PathLike], output_dir: str | os.PathLike,
                 params: Mapping[str, Any] | None = None, *, stages: Iterable[str] | None = None,
                 force: bool = False) -> DatasetPlan:
    """The plan of :func:`run_dataset` with the same arguments: the same checks and stage configs (the
    footage's sha256 read), nothing written."""
    from core.dataset.extract import frame_file, plan_shot
    from core.manifest import file_sha256
    from core.shots import Shot

    files, values, wanted = _resolve_run(footage, params, stages)
    out = Path(output_dir)
    run = _Run(files, out, values, None)
    sha = {str(f): file_sha256(f) for f in files}
    from core.dataset.layers import FrameAnalyser

    writes, within, clears = [out / "manifest.json"], [], []
    ran: list[str] = []
    full = force and stages is None
    for name, st, due in _walk(run, sha, wanted, force):
        if not due:
            continue
        folder = out / STAGE_DIRS[name]
        writes += [folder / "manifest.json", *(folder / f for f in STAGE_FILES[name])]
        if name == "extract" and "shots" not in ran and not full and (out / "shots" / "shots.json").is_file():
            doc = _read_doc(out / "shots" / "shots.json", SHOTS_FORMAT)
            for shot in (Shot.from_dict(d) for d in doc["shots"]):
                writes += [frame_file(folder, shot.video, n) for n in plan_shot(
                    shot, mode=values["extract_mode"], interval=values["interval"],
                    budget=values["per_shot_budget"], margin=values["shot_margin"])]
            clears.append(folder)  # frames of an earlier plan are deleted
        elif name in ("extract", "assemble") or (name == "filter" and FrameAnalyser(values).active):
            within.append(folder)
        elif name == "filter" and (folder / "mattes").is_dir():
            clears.append(folder / "mattes")  # an earlier run's mattes are deleted
        if name == "embed":
            within.append(run.cache_dir())
        ran.append(name)
    if full:
        clears = [out / d for d in STAGE_DIRS.values() if (out / d).is_dir()]
    return DatasetPlan(list(dict.fromkeys(writes)), list(dict.fromkeys(within)), list(dict.fromkeys(clears)), ran)


def _stage_entries(out: Path) -> dict[str, Any]:
    """The per-stage entries (``{"config_hash", "counts"}``) of the run manifest already in ``out``, of the
    stages whose folder still holds a manifest, in stage order: a run of some stages keeps the others'."""
    try:
        entries = json.loads((out / "manifest.json").read_text("utf-8")).get("stages")
    except (OSError, ValueError, AttributeError):  # none yet, or a foreign file a forced run replaces
        return {}
    if not isinstance(entries, dict):
        return {}
    return {name: entries[name] for name in STAGES
            if name in entries and (out / STAGE_DIRS[name] / "manifest.json").is_file()}


def _set_entry(entries: dict[str, Any], name: str, entry: dict[str, Any]) -> None:
    """Set stage ``name``'s entry in the run manifest's ``entries``, keeping them in stage order."""
    entries[name] = entry
    ordered = {s: entries[s] for s in STAGES if s in entries}
    entries.clear()
    entries.update(ordered)


def run_dataset(footage: str | os.PathLike | Iterable[str | os.PathLike], output_dir: str | os.PathLike,
                params: Mapping[str, Any] | None = None, *, stages: Iterable[str] | None = None,
                force: bool = False, progress: StageProgressFn | None = None) -> dict[str, dict[str, Any]]:
    """Build a training set from ``footage`` (video files) in ``output_dir``; see the module doc.

    ``params`` are values of :data:`~core.dataset.params.DATASET_PARAMS`
    (validated; unknown names raise). ``stages`` (default all, in order)
    names the stages to run; each reads what the stage before it wrote, so
    a stage asked for alone needs its predecessors done. ``force`` redoes
    the stages asked for even when up to date. ``progress(stage, done,
    total)`` is called as work advances.

    Returns ``{stage: {"status": "done" | "up to date", "config_hash": ...,
    counts...}}`` for the stages asked for; the run's ``manifest.json`` keeps
    ``stages``: ``{stage: {"config_hash", "counts"}}`` of every stage whose
    folder holds a manifest (a run of some stages updates theirs only). A stage that leaves nothing for
    the next (every frame rejected by the filter, no shot found...) ends the
    run: its manifest and the run's are written, then
    :class:`~core.errors.EmptyResultError` names the stage, its counts and
    where to look.
    """
    from core.manifest import Manifest, file_sha256, refuse_escapes

    files, values, wanted = _resolve_run(footage, params, stages)
    out = Path(output_dir)
    sha = {str(f): file_sha256(f) for f in files}
    top = Manifest(out, "dataset run", {"footage": sha, "params": values}, seed=values["seed"])
    top.claim()  # before anything is judged or written: a second run on this folder stops here
    try:
        refuse_escapes(out, [out / d / "manifest.json" for d in STAGE_DIRS.values()])  # no stage folder is a link
        _check_folder(out, sha, force, top)
        if force and stages is None and out.is_dir():
            for d in STAGE_DIRS.values():  # a full forced run starts clean (stale frames would linger)
                if (out / d).is_dir():
                    shutil.rmtree(out / d)
        out.mkdir(parents=True, exist_ok=True)

        run = _Run(files, out, values, progress)
        top.set("dataset_format", RUN_FORMAT.tag)
        top.set("colorspaces", {"input": values["input_colorspace"], "output": "srgb"})
        for f, digest in sha.items():
            top.add_input(f, digest)
        top.set("stages", _stage_entries(out))  # read before the save below replaces the file
        top.save()  # first, so a folder whose first stage failed is still known as ours
        for name, st, due in _walk(run, sha, wanted, force):
            if not due:
                old = st.previous() or {}
                run.summary[name] = {"status": "up to date", "config_hash": st.hash, **old.get("counts", {})}
                _set_entry(top.data["stages"], name, {"config_hash": st.hash, "counts": old.get("counts", {})})
                if _left(name, run.summary[name]) == 0:
                    break
                continue
            try:
                counts = _RUNNERS[name](st, run, force)
            except BaseException as exc:
                st.manifest.set("error", str(exc))
                st.manifest.finish("failed")
                raise
            st.manifest.set("counts", counts)
            st.manifest.record_folder()
            st.manifest.finish()
            run.summary[name] = {"status": "done", "config_hash": st.hash, **counts}
            _set_entry(top.data["stages"], name, {"config_hash": st.hash, "counts": counts})
            top.save()
            if _left(name, counts) == 0:
                break
        top.finish()
    except BaseException:
        top.release()
        raise
    empty = [name for name, info in run.summary.items() if _left(name, info) == 0]
    if empty:
        raise EmptyResultError(_nothing_left(empty[0], run.summary[empty[0]], out))
    return run.summary


#: The count in each stage's summary that says how much it passed on (0: nothing for the stages after it).
_LEFT = {"shots": "shots", "extract": "frames", "filter": "kept", "embed": "frames", "dedup": "kept",
         "cluster": "frames", "caption": "frames", "assemble": "frames"}


def _left(name: str, counts: Mapping[str, Any]) -> int | None:
    value = counts.get(_LEFT[name])
    return None if value is None else int(value)


def _nothing_left(name: str, counts: Mapping[str, Any], out: Path) -> str:
    """The one line saying which stage left nothing, with its counts and where to look."""
    following = STAGES[STAGES.index(name) + 1:]
    rest = f"; {', '.join(following)} not run" if following else ""
    if name == "filter":
        why = ", ".join(f"{k} {v}" for k, v in counts.get("reasons", {}).items())
        return (f"filter: all {counts.get('frames', 0)} frames rejected ({why}){rest}; each frame's measures "
                f"and reasons are in {out / 'filter' / 'quality.json'}: relax --blur-relative / --blur-threshold "
                "or the exposure options and run again")
    if name == "dedup":
        return f"dedup: every frame is a duplicate{rest}; see {out / 'dedup' / 'dedup.json'}"
    return f"{name}: no {_LEFT[name]} left{rest}"


def dataset_status(output_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """Per stage: ``stage``, ``status`` (done / running / failed / not run / stale), ``config_hash``,
    ``finished`` and the stage's counts, read from the stage manifests; a stale stage has a ``reason``.

    ``stale``: done, but the stage before it was redone since (its hash is
    not the one this stage was built on), or is stale, failed or not run.
    """
    from core.stages import judge, upstream_checks

    out = Path(output_dir)
    if not (out / "manifest.json").is_file():
        raise ImageReadError(f"{out}: not a dataset folder (no manifest.json)")
    rows: list[dict[str, Any]] = []
    previous = None
    for name in STAGES:
        path = out / STAGE_DIRS[name] / "manifest.json"
        if not path.is_file():
            rows.append({"stage": name, "status": "not run"})
            previous = None
            continue
        m = json.loads(path.read_text("utf-8"))
        before = rows[-1] if rows else None
        checks = [] if before is None else upstream_checks(
            before["stage"], before["status"], m.get("config", {}).get("upstream"), previous,
            changed=f"stage {before['stage']} was redone since")
        status, reason = dataclasses.astuple(judge(m.get("status", "unknown"), checks))
        rows.append({"stage": name, "status": status, **({"reason": reason} if reason else {}),
                     "config_hash": m.get("config_hash", "")[:12],
                     "finished": m.get("timings", {}).get("finished"), **m.get("counts", {})})
        previous = m.get("config_hash")
    return rows
