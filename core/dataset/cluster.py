"""Clustering frames by their embeddings: PCA -> UMAP -> HDBSCAN, seeded.

1. PCA (scikit-learn, randomized SVD seeded) to ``pca_components`` (at most
   ``n - 1``) on the L2-normalised embeddings: removes noise dimensions and
   makes UMAP's neighbour search cheap.
2. UMAP (``umap-learn``; McInnes, Healy & Melville 2018) to
   ``umap_components`` dimensions, ``min_dist=0`` (tight clumps, as the
   HDBSCAN docs advise), ``random_state=seed`` (which makes UMAP
   single-threaded and reproducible). Skipped when ``umap_components`` is
   0 or there are too few frames for the neighbourhood
   (``n <= umap_neighbors + 1``); the result says so.
3. HDBSCAN (the ``hdbscan`` package; Campello, Moulavi & Sander 2013;
   McInnes & Healy 2017) with ``min_cluster_size``, ``min_samples`` and
   ``prediction_data=True``: labels (``-1`` is the noise bucket),
   membership probabilities, GLOSH outlier scores, and per cluster its
   exemplars (the frames nearest the cluster's most persistent points).

A 2-D view for the report: the first two principal components of the
space HDBSCAN clustered (cheap; no second UMAP).

:class:`ClusterModel` keeps the fitted PCA, UMAP and HDBSCAN (pickled,
``model.pkl``: load only files you made) so frames added later are placed
with ``hdbscan.approximate_predict`` without re-clustering.
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

NOISE = -1
MODEL_FORMAT = "reelkit.dataset_clusters/1"


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
        from core.io.atomic import write_bytes_atomic

        blob = pickle.dumps({"format": MODEL_FORMAT, "pca": self.pca, "umap": self.umap, "hdbscan": self.hdbscan})
        return write_bytes_atomic(path, blob, overwrite=True)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ClusterModel":
        """Load a model this module saved (pickle: never load a file from elsewhere)."""
        with open(path, "rb") as fh:
            data = pickle.load(fh)  # noqa: S301 - our own output, documented
        if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
            raise ParameterError(f"{path}: not a {MODEL_FORMAT} file")
        return cls(data["pca"], data["umap"], data["hdbscan"])


def _exemplar_rows(clusterer: Any, reduced: np.ndarray, labels: np.ndarray) -> dict[int, list[int]]:
    """Rows nearest each cluster's exemplar points (HDBSCAN's most persistent members)."""
    out: dict[int, list[int]] = {}
    try:
        exemplars = clusterer.exemplars_
    except (AttributeError, ValueError, IndexError):  # no prediction data or no clusters
        exemplars = []
    for label, points in enumerate(exemplars):
        rows = np.flatnonzero(labels == label)
        if len(rows) == 0:
            continue
        pts = np.asarray(points, np.float64)
        d = ((reduced[rows][:, None, :] - pts[None, :, :]) ** 2).sum(-1).min(axis=1)
        order = rows[np.argsort(d, kind="stable")]
        out[label] = [int(r) for r in order[: min(len(order), max(1, min(len(pts), 8)))]]
    return out


def cluster_embeddings(embeddings: np.ndarray, *, pca_components: int = 32, umap_components: int = 8,
                       umap_neighbors: int = 15, min_cluster_size: int = 12, min_samples: int = 2,
                       seed: int = 0, view: bool = True) -> ClusterResult:
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
                                    random_state=seed, metric="euclidean").fit(reduced)
        space = np.asarray(fitted_umap.embedding_, np.float64)
        steps["umap"] = {"components": umap_components, "neighbors": umap_neighbors}
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
