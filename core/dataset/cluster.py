"""Clustering frames by their embeddings: PCA -> UMAP -> HDBSCAN, seeded.

1. PCA (scikit-learn, randomized SVD seeded) to ``pca_components`` (at most
   ``n - 1``) on the L2-normalised embeddings: removes noise dimensions and
   makes UMAP's neighbour search cheap.
2. UMAP (``umap-learn``; McInnes, Healy & Melville 2018) to
   ``umap_components`` dimensions, ``min_dist=0`` (tight clumps, as the
   HDBSCAN docs advise), ``random_state=seed`` (which makes UMAP
   single-threaded and reproducible), ``umap_epochs`` optimisation epochs
   (100 by default: at 50,000 frames 200 epochs took 3x as long for the
   same clusters in benchmarks/dataset_bench.py). Skipped when ``umap_components`` is
   0 or there are too few frames for the neighbourhood
   (``n <= umap_neighbors + 1``); the result says so.
3. HDBSCAN (the ``hdbscan`` package; Campello, Moulavi & Sander 2013;
   McInnes & Healy 2017) with ``min_cluster_size``, ``min_samples`` and
   ``prediction_data=True``: labels (``-1`` is the noise bucket),
   membership probabilities, GLOSH outlier scores, and per cluster its
   exemplars (the frames nearest the cluster's most persistent points).

A 2-D view for the report: the first two principal components of the
space HDBSCAN clustered (cheap; no second UMAP).

Output of the cluster stage (stable; the review model reads it)
----------------------------------------------------------------
``OUTPUT_DIR/cluster/clusters.json``, written by :func:`clusters_document`
and read back with :func:`read_clusters` (``OUTPUT_DIR`` is the folder
given to :func:`core.dataset.run_dataset`)::

    {
      "format": "reelkit.clusters/1",
      "config_hash": "<sha256 of the cluster stage's config>",
      "params": {"pca_components": 32, "umap_components": 8, ..., "seed": 0},
      "steps": {"frames": 812, "pca": {...}, "umap": {...}, "hdbscan": {...}},
      "clusters": [                       # ordered by id; the noise bucket (id -1) last, always present
        {"id": 0, "name": "cluster_000", "size": 57,
         "exemplars": ["reel_a_f000014", ...],   # frame ids, most representative first (<= 8)
         "tags": []},
        ...,
        {"id": -1, "name": "noise", "size": 9, "exemplars": [], "tags": []}
      ],
      "frames": [                         # every frame that survived filter + dedup, in dataset order
        {"id": "reel_a_f000014",          # unique over the dataset: <video id>_f<frame:06d>
         "path": "frames/reel_a/reel_a_f000014.png",   # relative to OUTPUT_DIR, 8-bit sRGB PNG
         "video": "reel_a", "shot": "reel_a_s0000", "frame": 14, "time": 0.5833,
         "width": 256, "height": 160,
         "cluster": 0,                    # -1: noise
         "probability": 0.93,             # HDBSCAN membership strength 0..1 (0 for noise)
         "outlier_score": 0.07,           # GLOSH 0..1, higher is more unusual
         "exemplar": true,                # listed in its cluster's "exemplars"
         "xy": [0.41, -1.2],              # 2-D view coordinates (the report's scatter plot)
         "tags": []}
      ]
    }

Ids and names are strings, numbers are plain JSON numbers, lists keep the
order given. Readers must ignore keys they do not know (later versions may
add keys; a change of meaning bumps the format to ``/2``).

Review decisions (``OUTPUT_DIR/review/decisions.json``, ``reelkit.review/1``,
made by :mod:`core.dataset.review`) are applied by the caption and assemble
stages through :func:`core.dataset.builder.reviewed_clusters`, which loads
this file with ``review.load_clusters``, applies ``review.apply_decisions``
and returns this document with the reviewed ``cluster``, ``tags``,
``caption`` (fields) and ``excluded`` of every frame and the reviewed
``name``, ``tags`` and ``fields`` of every cluster.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ParameterError, require
from core.formats import FORMATS

NOISE = -1
#: A fitted model file's format, ``reelkit.dataset_clusters/2`` (its first line).
MODEL_FORMAT = FORMATS["reelkit.dataset_clusters"]
#: The first bytes of a :class:`ClusterModel` file, checked before anything is unpickled.
MODEL_MAGIC = f"{MODEL_FORMAT.tag}\n".encode("ascii")


@dataclasses.dataclass
class ClusterResult:
    """Per-frame labels (``-1`` noise), probabilities and outlier scores; per-cluster exemplar rows;
    the 2-D view; what was done (``steps``) and the fitted :class:`ClusterModel`."""

    labels: np.ndarray
    probabilities: np.ndarray
    outlier_scores: np.ndarray
    exemplars: dict[int, list[int]]
    view: np.ndarray
    steps: dict[str, Any]
    model: "ClusterModel"

    @property
    def n_clusters(self) -> int:
        return int(len({int(v) for v in self.labels} - {NOISE}))


@dataclasses.dataclass
class ClusterModel:
    """The fitted steps, to place new frames (:meth:`predict`)."""

    pca: Any
    umap: Any
    hdbscan: Any

    def reduce(self, embeddings: np.ndarray) -> np.ndarray:
        from core.dataset.dedup import normalise

        x = self.pca.transform(normalise(embeddings)) if self.pca is not None else normalise(embeddings)
        return self.umap.transform(x) if self.umap is not None else x

    def predict(self, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(labels, strengths)`` of new frames, with ``hdbscan.approximate_predict``."""
        hdbscan = require("hdbscan", "dataset")
        if len(embeddings) == 0:
            return np.zeros(0, int), np.zeros(0)
        if self.hdbscan is None:
            return np.full(len(embeddings), NOISE), np.zeros(len(embeddings))
        labels, strengths = hdbscan.approximate_predict(self.hdbscan, self.reduce(np.asarray(embeddings)))
        return np.asarray(labels, int), np.asarray(strengths, float)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the model: the :data:`MODEL_MAGIC` line, then the fitted steps pickled.

        The steps are scikit-learn, UMAP and HDBSCAN objects (nearest-neighbour
        graphs, condensed trees): only pickle carries them whole, so the file
        starts with a line that :meth:`load` checks before unpickling anything.
        """
        from core.io.atomic import write_bytes_atomic

        blob = pickle.dumps({"pca": self.pca, "umap": self.umap, "hdbscan": self.hdbscan})
        return write_bytes_atomic(path, MODEL_MAGIC + blob, overwrite=True)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ClusterModel":
        """Load a model :meth:`save` wrote. The format line is checked first: a file without it (any
        other pickle) is refused unread. Unpickling still runs code: load only files reelkit made."""
        with open(path, "rb") as fh:
            head = fh.read(len(MODEL_MAGIC))
            if head != MODEL_MAGIC:
                raise ParameterError(f"{path}: not a {MODEL_FORMAT.tag} file (it does not start with its format line)")
            data = pickle.load(fh)  # noqa: S301 - our own format, checked above
        return cls(data["pca"], data["umap"], data["hdbscan"])


def _exemplar_rows(clusterer: Any, reduced: np.ndarray, labels: np.ndarray) -> dict[int, list[int]]:
    """Rows nearest each cluster's exemplar points (HDBSCAN's most persistent members)."""
    out: dict[int, list[int]] = {}
    try:
        exemplars = clusterer.exemplars_
    except (AttributeError, ValueError, IndexError):  # no prediction data or no clusters
        exemplars = []
    from sklearn.neighbors import NearestNeighbors

    for label, points in enumerate(exemplars):
        rows = np.flatnonzero(labels == label)
        if len(rows) == 0:
            continue
        pts = np.asarray(points, np.float64)
        # distance of each member to its nearest exemplar point (a tree: memory linear in the members)
        d = NearestNeighbors(n_neighbors=1).fit(pts).kneighbors(reduced[rows])[0][:, 0]
        order = rows[np.argsort(d, kind="stable")]
        out[label] = [int(r) for r in order[: min(len(order), max(1, min(len(pts), 8)))]]
    return out


def cluster_embeddings(embeddings: np.ndarray, *, pca_components: int = 32, umap_components: int = 8,
                       umap_neighbors: int = 15, umap_epochs: int = 100, min_cluster_size: int = 12,
                       min_samples: int = 2, seed: int = 0, view: bool = True) -> ClusterResult:
    """Cluster rows of ``embeddings`` (see the module doc); deterministic for a given ``seed``."""
    from sklearn.decomposition import PCA

    from core.dataset.dedup import normalise

    hdbscan = require("hdbscan", "dataset")
    x = normalise(np.asarray(embeddings, np.float32))
    n = len(x)
    steps: dict[str, Any] = {"frames": n}
    if n == 0:
        empty = np.zeros(0)
        return ClusterResult(empty.astype(int), empty, empty, {}, np.zeros((0, 2)), steps, ClusterModel(None, None, None))
    k = int(min(pca_components, x.shape[1], max(1, n - 1)))
    pca = None
    reduced = x
    if n > 2 and k < x.shape[1]:
        pca = PCA(n_components=k, svd_solver="randomized" if n > 500 else "full", random_state=seed).fit(x)
        reduced = pca.transform(x)
        steps["pca"] = {"components": k, "explained_variance": round(float(pca.explained_variance_ratio_.sum()), 4)}
    fitted_umap = None
    if umap_components > 0 and n > umap_neighbors + 1 and n > umap_components + 1:
        umap = require("umap", "dataset")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*n_jobs value.*")
            fitted_umap = umap.UMAP(n_components=umap_components, n_neighbors=umap_neighbors, min_dist=0.0,
                                    n_epochs=int(umap_epochs) or None, random_state=seed,
                                    metric="euclidean").fit(reduced)
        space = np.asarray(fitted_umap.embedding_, np.float64)
        steps["umap"] = {"components": umap_components, "neighbors": umap_neighbors, "epochs": umap_epochs}
    else:
        space = np.asarray(reduced, np.float64)
        steps["umap"] = None if umap_components == 0 else {"skipped": f"{n} frames are too few for "
                                                                      f"umap_neighbors={umap_neighbors}"}
    clusterer = None
    if n >= max(min_cluster_size, 2):
        clusterer = hdbscan.HDBSCAN(min_cluster_size=min_cluster_size, min_samples=min_samples,
                                    prediction_data=True, core_dist_n_jobs=1)
        clusterer.fit(space)
        labels = np.asarray(clusterer.labels_, int)
        probs = np.asarray(clusterer.probabilities_, float)
        outliers = np.nan_to_num(np.asarray(clusterer.outlier_scores_, float), nan=1.0)
        exemplars = _exemplar_rows(clusterer, space, labels)
    else:
        labels, probs, outliers, exemplars = np.full(n, NOISE), np.zeros(n), np.ones(n), {}
        steps["hdbscan"] = {"skipped": f"{n} frames are fewer than min_cluster_size={min_cluster_size}"}
    steps.setdefault("hdbscan", {"min_cluster_size": min_cluster_size, "min_samples": min_samples})
    view2 = _view(space) if view else np.zeros((n, 2))
    model = ClusterModel(pca, fitted_umap, clusterer)
    return ClusterResult(labels, probs, outliers, exemplars, view2, steps, model)


def _view(space: np.ndarray) -> np.ndarray:
    """The first two principal components of the clustering space (the report's scatter plot)."""
    n = len(space)
    out = np.zeros((n, 2))
    if n < 2:
        return out
    centred = np.asarray(space, np.float64) - np.asarray(space, np.float64).mean(axis=0)
    _, _, vt = np.linalg.svd(centred[:: max(1, n // 20000)], full_matrices=False)
    k = min(2, vt.shape[0])
    out[:, :k] = centred @ vt[:k].T
    return out


#: ``clusters.json``'s format, ``reelkit.clusters/1`` (:mod:`core.formats`).
CLUSTERS_FORMAT = FORMATS["reelkit.clusters"]
NOISE_NAME = "noise"


def cluster_name(label: int) -> str:
    """Default name of cluster ``label`` (``cluster_007``; ``noise`` for -1)."""
    return NOISE_NAME if label == NOISE else f"cluster_{label:03d}"


def clusters_document(records: list[dict[str, Any]], result: ClusterResult, *, params: dict[str, Any],
                      config_hash: str) -> dict[str, Any]:
    """The ``reelkit.clusters/1`` document (see the module doc) for ``records`` clustered as ``result``.

    ``records`` (one per row of the clustered embeddings) carry ``id``,
    ``path``, ``video``, ``shot``, ``frame``, ``time``, ``width``, ``height``.
    """
    labels = [int(v) for v in result.labels]
    ex_ids = {lab: [records[r]["id"] for r in rows] for lab, rows in result.exemplars.items()}
    ex_set = {i for ids in ex_ids.values() for i in ids}
    frames = []
    for k, r in enumerate(records):
        frames.append({
            **{key: r.get(key) for key in ("id", "path", "video", "shot", "frame", "time", "width", "height")},
            "cluster": labels[k],
            "probability": round(float(result.probabilities[k]), 4) if labels[k] != NOISE else 0.0,
            "outlier_score": round(float(result.outlier_scores[k]), 4),
            "exemplar": r["id"] in ex_set,
            "xy": [round(float(v), 4) for v in result.view[k]],
            "tags": [],
        })
    sizes: dict[int, int] = {}
    for lab in labels:
        sizes[lab] = sizes.get(lab, 0) + 1
    clusters = [{"id": lab, "name": cluster_name(lab), "size": sizes[lab], "exemplars": ex_ids.get(lab, []),
                 "tags": []} for lab in sorted(k for k in sizes if k != NOISE)]
    clusters.append({"id": NOISE, "name": NOISE_NAME, "size": sizes.get(NOISE, 0), "exemplars": [], "tags": []})
    return {"format": CLUSTERS_FORMAT.tag, "config_hash": config_hash, "params": dict(params),
            "steps": result.steps, "clusters": clusters, "frames": frames}


def read_clusters(path: str | os.PathLike) -> dict[str, Any]:
    """Load and check a ``reelkit.clusters/1`` document (``cluster/clusters.json``)."""
    import json

    from core.errors import ImageReadError

    try:
        doc = json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ImageReadError(f"{path}: cannot read the clusters file ({exc})") from exc
    if not isinstance(doc, dict):
        raise ParameterError(f"{path}: not a {CLUSTERS_FORMAT.tag} file (a JSON {type(doc).__name__})")
    doc = CLUSTERS_FORMAT.read(doc, where=str(path))
    ids = {c["id"] for c in doc["clusters"]}
    bad = [f["id"] for f in doc["frames"] if f["cluster"] not in ids]
    if bad:
        raise ParameterError(f"{path}: frame {bad[0]} is in cluster that is not listed")
    return doc
