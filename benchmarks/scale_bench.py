"""The cost of distribution: ``reelkit infer`` on a Dask LocalCluster against the same job in process, in one run.

    python benchmarks/scale_bench.py [--frames 200] [--size 128] [--workers 2] [--threads 1] [--reps 2]

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
"""

from __future__ import annotations

import argparse
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


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def outputs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.exr"))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="onnxruntime threads per worker")
    ap.add_argument("--reps", type=int, default=2, help="times each is run (interleaved); the shortest is kept")
    args = ap.parse_args(argv)

    import logging

    import dask
    from distributed import Client, LocalCluster

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
        with dask.config.set({"distributed.worker.profile.enabled": False}), \
                LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                             silence_logs=logging.ERROR, env=env) as cluster, \
                Client(cluster, set_as_default=False) as client:
            client.wait_for_workers(args.workers)
            client.run(_warm)  # every worker has imported what a job needs
            reelkit(*job, "--frames", "1001-1004", "--scheduler", cluster.scheduler_address, "-o", str(tmp / "warm"))
            lib_local = lib_cluster = math.inf
            for rep in range(args.reps):
                lib_local = min(lib_local, timed(lambda: infer_files(
                    "film_restore", pattern, output_dir=tmp / f"lib_local{rep}", output="r.####.exr",
                    params={"threads": total_threads})))
                with scheduler(cluster.scheduler_address):
                    lib_cluster = min(lib_cluster, timed(lambda: infer_files(
                        "film_restore", pattern, output_dir=tmp / f"lib_cluster{rep}", output="r.####.exr",
                        params={"threads": args.threads})))
            local = running = started = math.inf
            for rep in range(args.reps):  # each rep into fresh folders (--force would still hash the old files)
                local = min(local, reelkit(*job, "--threads", str(total_threads), "-o", str(tmp / f"local{rep}")))
                running = min(running, reelkit(*job, "--threads", str(args.threads), "--scheduler",
                                               cluster.scheduler_address, "-o", str(tmp / f"cluster{rep}")))
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


if __name__ == "__main__":
    sys.exit(main())
