"""Deduplication in stages, keeping the best frame of each group, without an N x N matrix.

1. ``exact``: frames with the same content hash (sha256 of the decoded
   8-bit pixels) anywhere in the dataset; a dict lookup.
2. ``phash_ssim``: within a shot, frames whose 64-bit perceptual hashes
   differ in at most ``phash_distance`` bits (a :class:`~core.dataset.hashing.BKTree`
   query per frame) *and* whose grey thumbnails have an SSIM of at least
   ``ssim_threshold`` (computed only for those candidates).
3. ``embedding``: across shots, frames whose L2-normalised embeddings are
   closer than ``embedding_distance`` in cosine distance. Candidates come
   from a radius search in a PCA projection of at most
   :data:`SEARCH_DIMS` dimensions (a projection never lengthens a distance,
   so no true pair is missed), queried in blocks of :data:`BLOCK` frames
   against a scikit-learn ball tree on the cores the process may use; each candidate is then checked at full
   dimension. Memory grows with the frames and the pairs found, never with
   frames squared.

Groups are made greedily, best frame first (sharpest by Laplacian
variance, then highest entropy, then id): the best frame not yet removed
leads a group and removes its unremoved duplicates. A removed frame never
leads, so no chain of small differences merges distinct pictures, and
every removed frame is a direct duplicate of the frame that was kept for
it (``duplicate_of``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from core.dataset.hashing import BKTree, ssim, ssim_thumbnail
from core.dataset.quality import sharpness_rank
from core.errors import ParameterError
from core.jobs import StageProgressFn

#: Dimensions of the projection searched for embedding candidates (trees prune well in few dimensions:
#: at 100,000 frames a 16-d ball tree answered the radius queries 6x faster than a 32-d one).
SEARCH_DIMS = 16
#: Candidate pairs checked at full dimension at a time (bounds the memory of the check).
CHECK_CHUNK = 1 << 18
#: Frames per block of radius queries.
BLOCK = 4096

Record = Mapping[str, Any]


def _order(records: Sequence[Record]) -> list[int]:
    """Indices of ``records``, best frame first (sharpness, entropy, then id for a stable order)."""
    return sorted(range(len(records)), key=lambda i: (tuple(-v for v in sharpness_rank(records[i]["quality"])),
                                                       records[i]["id"]))


def exact_groups(records: Sequence[Record]) -> dict[int, tuple[int, float]]:
    """``{removed index: (kept index, 0.0)}`` for frames with equal ``sha256``."""
    first: dict[str, int] = {}
    removed = {}
    for i in _order(records):
        h = records[i]["sha256"]
        if h in first:
            removed[i] = (first[h], 0.0)
        else:
            first[h] = i
    return removed


def phash_ssim_groups(records: Sequence[Record], *, phash_distance: int, ssim_threshold: float,
                      load: Callable[[Record], np.ndarray]) -> dict[int, tuple[int, float]]:
    """``{removed index: (kept index, ssim)}`` for near-duplicates inside each shot.

    ``records`` need ``shot``, ``phash`` (hex string) and ``quality``;
    ``load(record)`` returns the frame as ``uint8`` ``HW3`` (called at
    most once per frame, only for frames with a candidate).
    """
    removed: dict[int, tuple[int, float]] = {}
    by_shot: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        by_shot.setdefault(r["shot"], []).append(i)
    for members in by_shot.values():
        if len(members) < 2:
            continue
        tree = BKTree((int(records[i]["phash"], 16), i) for i in members)
        thumbs: dict[int, np.ndarray] = {}

        def thumb(i: int) -> np.ndarray:
            if i not in thumbs:
                thumbs[i] = ssim_thumbnail(load(records[i]))
            return thumbs[i]

        kept: set[int] = set()
        for lead in [members[k] for k in _order([records[i] for i in members])]:
            if lead in removed:
                continue
            kept.add(lead)
            for _, other, _ in tree.within(int(records[lead]["phash"], 16), phash_distance):
                if other in kept or other in removed:
                    continue  # a kept frame leads its own group; every other candidate ranks below lead
                score = ssim(thumb(lead), thumb(other))
                if score >= ssim_threshold:
                    removed[other] = (lead, round(score, 4))
        thumbs.clear()
    return removed


def _workers() -> int:
    from core.threads import job_threads

    return job_threads()


def radius_pairs(vectors: np.ndarray, radius: float, *, groups: Sequence[Any] | None = None,
                 block: int = BLOCK, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair ``i < j`` of rows with Euclidean distance ``<= radius``: ``(i, j, distance)``, found in
    blocks of ``block`` query rows (on the Dask cluster of a :func:`core.scale.scheduler` block, if any).

    With ``groups``, only pairs from different groups (e.g. shots). Rows are
    projected to at most :data:`SEARCH_DIMS` PCA dimensions (fit on at most
    20,000 rows) for the candidate search; distances are then checked on
    the full rows.
    """
    from sklearn.decomposition import PCA
    from sklearn.neighbors import NearestNeighbors

    x = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(x)
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))
    if n < 2 or radius <= 0:
        return empty
    search = x
    if x.shape[1] > SEARCH_DIMS and n > SEARCH_DIMS:
        rng = np.random.default_rng(seed)
        sample = x if n <= 20000 else x[np.sort(rng.choice(n, 20000, replace=False))]
        pca = PCA(n_components=SEARCH_DIMS, svd_solver="randomized", random_state=seed).fit(sample)
        search = np.ascontiguousarray(pca.transform(x), dtype=np.float32)
    # a ball tree answered these small-radius queries 1.5-3x faster than a k-d tree (16-32 dimensions);
    # queries run on the cores this process may use (the tree releases the GIL)
    index = NearestNeighbors(radius=radius, algorithm="ball_tree", n_jobs=_workers())
    index.fit(search)
    gid = None
    if groups is not None:
        _, gid = np.unique(np.asarray([str(g) for g in groups]), return_inverse=True)
    ii, jj, dd = [], [], []

    def landed(bounds: tuple[int, int], found: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
        if len(found[0]):
            ii.append(found[0])
            jj.append(found[1])
            dd.append(found[2])

    from core.scale import map_in_order

    # a block of queries is one unit: on Dask each worker gets the tree and the rows once, blocks come back in order
    map_in_order(functools.partial(_block_pairs, index, search, x, gid, radius),
                 [(f"rows {s}-{min(n, s + block) - 1}", (s, min(n, s + block))) for s in range(0, n, block)],
                 landed, what="dedup candidate search")
    if not ii:
        return empty
    return np.concatenate(ii), np.concatenate(jj), np.concatenate(dd)


def _block_pairs(index: Any, search: np.ndarray, x: np.ndarray, gid: np.ndarray | None, radius: float,
                 bounds: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs ``(i, j, distance)``, ``i`` in rows ``bounds`` (start, stop), ``i < j``, other group, within
    ``radius`` at full dimension: the candidates of ``index`` (a ``NearestNeighbors`` fitted on ``search``,
    the projected rows), checked on ``x``. :func:`radius_pairs`' unit of work (pickled, ``search`` and the
    tree's copy of it travel once)."""
    start, stop = bounds
    none = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))
    index.n_jobs = _workers()  # the cores of the process it runs in (a Dask worker has its own share)
    neigh = index.radius_neighbors(search[start:stop], return_distance=False)
    counts = np.fromiter((len(a) for a in neigh), np.int64, len(neigh))
    if counts.sum() == 0:
        return none
    rows = np.repeat(np.arange(start, stop), counts)
    cols = np.concatenate(neigh).astype(np.int64)
    keep = cols > rows
    if gid is not None:
        keep &= gid[rows] != gid[cols]
    rows, cols = rows[keep], cols[keep]
    ii, jj, dd = [], [], []
    for c0 in range(0, len(rows), CHECK_CHUNK):
        r, c = rows[c0:c0 + CHECK_CHUNK], cols[c0:c0 + CHECK_CHUNK]
        dist = np.sqrt(np.maximum(((x[r] - x[c]) ** 2).sum(axis=1), 0.0))
        ok = dist <= radius
        ii.append(r[ok])
        jj.append(c[ok])
        dd.append(dist[ok].astype(np.float32))
    if not ii:
        return none
    return np.concatenate(ii), np.concatenate(jj), np.concatenate(dd)


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    x = np.asarray(vectors, dtype=np.float32)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norm > 0, norm, 1.0)


def embedding_groups(records: Sequence[Record], embeddings: np.ndarray, *, distance: float,
                     seed: int = 0) -> dict[int, tuple[int, float]]:
    """``{removed index: (kept index, cosine distance)}`` for duplicates across shots."""
    if distance <= 0 or len(records) < 2:
        return {}
    if len(embeddings) != len(records):
        raise ParameterError(f"dedup: {len(embeddings)} embeddings for {len(records)} frames")
    x = normalise(embeddings)
    # cosine distance c between unit vectors <-> Euclidean distance sqrt(2 c)
    i, j, d = radius_pairs(x, float(np.sqrt(2.0 * distance)), groups=[r["shot"] for r in records], seed=seed)
    if len(i) == 0:
        return {}
    from scipy.sparse import coo_matrix

    n = len(records)
    cos = (d.astype(np.float64) ** 2) / 2.0
    adj = coo_matrix((np.concatenate([cos, cos]), (np.concatenate([i, j]), np.concatenate([j, i]))),
                     shape=(n, n)).tocsr()
    removed: dict[int, tuple[int, float]] = {}
    kept: set[int] = set()
    for lead in _order(records):
        if lead in removed:
            continue
        kept.add(lead)
        lo, hi = adj.indptr[lead], adj.indptr[lead + 1]
        for other, c in zip(adj.indices[lo:hi].tolist(), adj.data[lo:hi].tolist()):
            if other not in kept and other not in removed:
                removed[other] = (lead, round(c, 6))
    return removed


def dedup(records: Sequence[Record], embeddings: np.ndarray | None, *, phash_distance: int = 8,
          ssim_threshold: float = 0.8, embedding_distance: float = 0.005,
          load: Callable[[Record], np.ndarray], seed: int = 0,
          progress: StageProgressFn | None = None) -> list[dict[str, Any]]:
    """Run the three stages; one result per record, in order.

    Each result: ``id``, ``status`` (``kept`` / ``duplicate``) and, for a
    duplicate, ``stage`` (``exact`` / ``phash_ssim`` / ``embedding``),
    ``duplicate_of`` (the id kept for it) and ``score`` (0 for exact, the
    SSIM, or the cosine distance). ``embeddings`` rows follow ``records``
    (``None`` skips the embedding stage).
    """
    n = len(records)
    out: list[dict[str, Any]] = [{"id": r["id"], "status": "kept"} for r in records]

    def mark(removed: Mapping[int, tuple[int, float]], alive: list[int], stage: str) -> list[int]:
        for local, (lead, score) in removed.items():
            g, lead_g = alive[local], alive[lead]
            out[g].update(status="duplicate", stage=stage, duplicate_of=records[lead_g]["id"], score=score)
        return [g for k, g in enumerate(alive) if k not in removed]

    alive = list(range(n))
    alive = mark(exact_groups(records), alive, "exact")
    if progress:
        progress("exact", n - len(alive), n)
    sub = [records[g] for g in alive]
    alive = mark(phash_ssim_groups(sub, phash_distance=phash_distance, ssim_threshold=ssim_threshold,
                                   load=load), alive, "phash_ssim")
    if progress:
        progress("phash_ssim", n - len(alive), n)
    if embeddings is not None and embedding_distance > 0:
        sub = [records[g] for g in alive]
        emb = np.asarray(embeddings)[alive]
        alive = mark(embedding_groups(sub, emb, distance=embedding_distance, seed=seed), alive, "embedding")
        if progress:
            progress("embedding", n - len(alive), n)
    return out
