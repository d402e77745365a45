"""Dedup + clustering of 100,000 frames' embeddings on 2 cores: time, peak memory, recovery.

    python benchmarks/dataset_bench.py [--frames 100000] [--sizes 25000,50000] [--skip-reference]

Synthetic embeddings (seeded) stand in for a long show's frames, with
planted structure to recover:

- 60 clusters of very different sizes (Zipf-like, 0.2%-9% of the frames)
  in 154 dimensions (the classical embedding's size): unit centres, members
  = centre + Gaussian noise, then scaled to unit length;
- 8% noise frames (random unit vectors);
- 6% planted duplicates: near-copies (cosine distance about 0.001) of
  another frame, in another shot (the same shot in another print);
- shots of 1-12 consecutive frames of one cluster.

Steps, each timed, exactly as the pipeline runs them:
:func:`core.dataset.dedup.embedding_groups` (radius search in a 16-d PCA
projection, blocked, checked at full dimension; ``embedding_distance``
0.005) then :func:`core.dataset.cluster.cluster_embeddings` with the
defaults (PCA 32 -> UMAP 8 -> HDBSCAN min_cluster_size 12, min_samples 2,
seed 0). Reported: time per step, the peak resident memory of the process
(``ru_maxrss``, each size in its own process), duplicate recall and
precision against the planted ones, and cluster recovery (adjusted Rand
index and the fraction of planted clusters matched by a found cluster with
Jaccard >= 0.5; planted noise counts as its own label).

Reference, same run: exact duplicate pairs by blocked brute force (numpy
matrix products, 4096 rows at a time: flat memory but N^2 work); the
ratio is our dedup time over the brute-force time and the pair sets must
be equal. A dense N x N float32 distance matrix at 100,000 frames would
need 40 GB; the peak memory printed is what we use instead.

Targets (issue 7): under 5 minutes on 2 cores, flat memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DIMS = 154


def make_embeddings(n: int, *, seed: int = 0, clusters: int = 60, noise: float = 0.08, dups: float = 0.06):
    """``(x, labels, shots, dup_of)``: unit rows; planted label (-1 noise); shot ids; original row or -1."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, DIMS))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    weights = 1.0 / np.arange(1, clusters + 1) ** 0.9
    weights /= weights.sum()
    n_dup = int(dups * n)
    n_noise = int(noise * n)
    n_clu = n - n_dup - n_noise
    labels = rng.choice(clusters, size=n_clu, p=weights)
    labels.sort(kind="stable")
    x = centres[labels] + rng.normal(scale=0.55 / np.sqrt(DIMS), size=(n_clu, DIMS)) * rng.uniform(0.7, 1.3, (n_clu, 1))
    noise_x = rng.normal(size=(n_noise, DIMS))
    x = np.concatenate([x, noise_x])
    labels = np.concatenate([labels, np.full(n_noise, -1)])
    # shots: runs of 1-12 consecutive frames of one label
    shots = np.empty(len(x), np.int64)
    sid, i = 0, 0
    while i < len(x):
        j = min(len(x), i + int(rng.integers(1, 13)))
        j = i + int(np.searchsorted(labels[i:j], labels[i], side="right"))  # never across a label change
        shots[i:j] = sid
        sid, i = sid + 1, j
    src = rng.choice(len(x), size=n_dup, replace=False)
    copies = x[src] + rng.normal(scale=0.045 / np.sqrt(DIMS), size=(n_dup, DIMS)) * np.linalg.norm(x[src], axis=1,
                                                                                                   keepdims=True)
    x = np.concatenate([x, copies]).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    labels = np.concatenate([labels, labels[src]])
    shots = np.concatenate([shots, sid + np.arange(n_dup)])  # each copy in a shot of its own
    dup_of = np.concatenate([np.full(len(x) - n_dup, -1), src])
    return x, labels, shots, dup_of


def brute_pairs(x: np.ndarray, radius: float, shots: np.ndarray, block: int = 4096) -> set[tuple[int, int]]:
    out = set()
    r2 = radius * radius
    sq = (x * x).sum(1)
    for s in range(0, len(x), block):
        d2 = sq[s:s + block, None] + sq[None, :] - 2.0 * (x[s:s + block] @ x.T)
        i, j = np.nonzero(d2 <= r2)
        i = i + s
        keep = (j > i) & (shots[i] != shots[j])
        out.update(zip(i[keep].tolist(), j[keep].tolist()))
    return out


def run_one(n: int, reference: bool) -> dict:
    from sklearn.metrics import adjusted_rand_score

    from core.dataset.cluster import cluster_embeddings
    from core.dataset.dedup import embedding_groups, radius_pairs

    distance = 0.005
    t0 = time.perf_counter()
    x, labels, shots, dup_of = make_embeddings(n)
    t_make = time.perf_counter() - t0
    rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    records = [{"id": f"f{i:07d}", "shot": int(s), "quality": {"laplacian_var": 100.0, "entropy": 7.0}}
               for i, s in enumerate(shots)]
    t0 = time.perf_counter()
    removed = embedding_groups(records, x, distance=distance, seed=0)
    t_dedup = time.perf_counter() - t0
    planted = {int(i) for i in np.flatnonzero(dup_of >= 0)}
    # a planted pair is found when one of the two was removed as the other's duplicate
    found_pairs = {tuple(sorted((i, lead))) for i, (lead, _) in removed.items()}
    true_pairs = {tuple(sorted((int(i), int(dup_of[i])))) for i in planted}
    dup_recall = len(found_pairs & true_pairs) / len(true_pairs)
    dup_precision = len(found_pairs & true_pairs) / max(1, len(found_pairs))

    kept = np.asarray(sorted(set(range(len(x))) - set(removed)))
    t0 = time.perf_counter()
    res = cluster_embeddings(x[kept], seed=0)
    t_cluster = time.perf_counter() - t0
    truth, got = labels[kept], res.labels
    ari = adjusted_rand_score(truth, got)
    matched = 0
    planted_ids = sorted(set(truth.tolist()) - {-1})
    found_sets = {int(c): set(np.flatnonzero(got == c).tolist()) for c in set(got.tolist()) - {-1}}
    for c in planted_ids:
        members = set(np.flatnonzero(truth == c).tolist())
        best = max((len(members & f) / len(members | f) for f in found_sets.values()), default=0.0)
        matched += best >= 0.5
    out = {"frames": len(x), "make_s": round(t_make, 2), "dedup_s": round(t_dedup, 2), "cluster_s": round(t_cluster, 2),
           "total_s": round(t_dedup + t_cluster, 2), "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
           "rss_after_data_mb": round(rss_data, 1), "removed": len(removed), "planted_dups": len(planted),
           "dup_recall": round(dup_recall, 4), "dup_precision": round(dup_precision, 4),
           "clusters_found": res.n_clusters, "clusters_planted": len(planted_ids),
           "clusters_matched": int(matched), "ari": round(float(ari), 4),
           "noise_frames": int((got == -1).sum()), "steps": res.steps}
    if reference:
        radius = float(np.sqrt(2 * distance))
        t0 = time.perf_counter()
        ref = brute_pairs(x, radius, shots)
        t_ref = time.perf_counter() - t0
        i, j, _ = radius_pairs(x, radius, groups=shots, seed=0)
        ours = set(zip(i.tolist(), j.tolist()))
        out.update(reference_s=round(t_ref, 2), reference_pairs=len(ref), our_pairs=len(ours),
                   pairs_equal=ours == ref)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=100_000)
    ap.add_argument("--sizes", default="25000,50000", help="smaller sizes run first, to show memory growth")
    ap.add_argument("--skip-reference", action="store_true")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # child process: one size, JSON out
    ap.add_argument("--reference", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.reference)))
        return 0
    env = {**os.environ, "OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2", "MKL_NUM_THREADS": "2",
           "NUMBA_NUM_THREADS": "2"}
    cores = sorted(os.sched_getaffinity(0))[:2]
    sizes = [int(s) for s in args.sizes.split(",") if s] + [args.frames]
    print(f"cores used: {cores} (of {os.cpu_count()}), dims {DIMS}")
    rows = []
    for n in sizes:
        cmd = ["taskset", "-c", ",".join(map(str, cores)), sys.executable, __file__, "--one", str(n)]
        if n == args.frames and not args.skip_reference:
            cmd.append("--reference")
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr[-3000:])
            return 1
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        row["wall_s"] = round(time.perf_counter() - t0, 1)
        rows.append(row)
        print(f"{row['frames']:>7d} frames: dedup {row['dedup_s']:6.1f} s + cluster {row['cluster_s']:6.1f} s = "
              f"{row['total_s']:6.1f} s (process wall {row['wall_s']} s incl. imports, JIT and data); "
              f"peak RSS {row['peak_rss_mb']:.0f} MB (data alone {row['rss_after_data_mb']:.0f} MB)")
        print(f"          duplicates: {row['removed']} removed, planted {row['planted_dups']}, recall "
              f"{row['dup_recall']:.3f}, precision {row['dup_precision']:.3f}; clusters: {row['clusters_found']} "
              f"found / {row['clusters_planted']} planted, {row['clusters_matched']} matched (Jaccard >= 0.5), "
              f"ARI {row['ari']:.3f}, noise {row['noise_frames']}")
        if "reference_s" in row:
            print(f"          reference brute-force pairs: {row['reference_s']:.1f} s; ratio ours/reference "
                  f"{row['dedup_s'] / row['reference_s']:.3f}; pair sets equal: {row['pairs_equal']} "
                  f"({row['our_pairs']} pairs)")
    big = rows[-1]
    per_frame = [(r["peak_rss_mb"] - rows[0]["peak_rss_mb"]) / max(1, r["frames"] - rows[0]["frames"]) * 1024
                 for r in rows[1:]]
    print(f"memory growth: {', '.join(f'{v:.1f} KB/frame' for v in per_frame)} between sizes (linear, not N^2; "
          f"a dense float32 N x N matrix at {big['frames']} frames would be {big['frames'] ** 2 * 4 / 1e9:.0f} GB)")
    print(f"target < 300 s on 2 cores: {'met' if big['total_s'] < 300 else 'MISSED'} ({big['total_s']:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
