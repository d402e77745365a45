"""Multi-process training: ``torchrun --nproc_per_node N reelkit train`` against 1 process, in one run.

    python benchmarks/ddp_bench.py [--device cpu] [--nproc 2] [--steps 20] [--batch-size 4] [--crop-size 64]
                                   [--clean 4] [--threads 2] [--keep DIR]
    python benchmarks/ddp_bench.py --device cuda --nproc 2,4,8 --steps 300 --batch-size 32 --crop-size 128 --clean 0

The recipe: the shipped ``models/film_restore.train.json`` (the
``unshuffle_context`` network, clean photos degraded on the fly), shortened:
``--steps`` optimiser steps from scratch (its ``init_from`` is a file of the
machine that trained it), ``--batch-size`` crops per process and step,
``--crop-size``, the first ``--clean`` photos of its list (0: all 37),
checkpoints only at the end, no previews. Each process count runs through
the same launcher (``torchrun --standalone``, 1 process included), one after
the other, in this run.

Measured per run, from the manifest rank 0 writes: the seconds of the
optimiser loop alone (``timings.loop_seconds``: data loading and export
left out), steps per second, samples per second (steps x batch size x
processes) and the final mean loss. Printed: one JSON object with a row per
process count and, for N > 1, the throughput ratio N / 1 and the scaling
efficiency (samples/s on N / (N x samples/s on 1)); plus whether the ranks
ended with equal weights (``max_weight_difference`` 0).

On the CPU (gloo) each process gets ``--threads / N`` torch threads, so
1 and N processes use the same cores. On CUDA each process takes one GPU
(``LOCAL_RANK``).

Target (issue 26, GPUs): scaling efficiency >= 0.85 at 2 and 4 GPUs. On the
two shared CPU cores of the development machine, gloo's all-reduce of the
gradients competes with the convolutions for the same cores: the figure says
what the launcher and the code cost, not what a farm's GPUs reach.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RECIPE = REPO / "models" / "film_restore.train.json"


def recipe(args) -> dict:
    """The shipped recipe, shortened as the options say."""
    cfg = json.loads(RECIPE.read_text("utf-8"))
    cfg.update(device=args.device, steps=args.steps, batch_size=args.batch_size, crop_size=args.crop_size,
               checkpoint_every=args.steps, preview_every=0, init_from=None, name="ddp_bench")
    if args.clean:
        cfg["data"]["clean"] = cfg["data"]["clean"][:args.clean]
    return cfg


def run(nproc: int, cfg: dict, folder: Path, args) -> dict:
    """One ``torchrun`` launch of ``reelkit train``; its figures from rank 0's manifest."""
    cfg = {**cfg, "threads": max(1, args.threads // nproc) if args.device == "cpu" else 0}
    path = folder / f"config_{nproc}.json"
    path.write_text(json.dumps(cfg), "utf-8")
    out = folder / f"run_{nproc}"
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": str(cfg["threads"] or 1)}
    cmd = [str(torchrun), "--standalone", f"--nproc_per_node={nproc}", "-m", "core.cli.main", "train",
           "--config", str(path), "--output-dir", str(out), "--quiet", "--force"]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"torchrun --nproc_per_node={nproc} failed:\n{done.stderr[-3000:]}")
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    loop = manifest["timings"]["loop_seconds"]
    steps = manifest["metrics"]["steps"]
    return {"nproc": nproc, "device": manifest["device"], "loop_seconds": loop,
            "steps_per_second": round(steps / loop, 4),
            "samples_per_second": round(steps * cfg["batch_size"] * nproc / loop, 3),
            "loss_last": round(manifest["metrics"]["loss_last"], 6), "threads_per_process": cfg["threads"],
            "max_weight_difference": (manifest.get("distributed") or {}).get("max_weight_difference", 0.0)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--nproc", default="2", help="process counts to compare with 1, e.g. 2 or 2,4,8")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=4, help="crops per process and step")
    ap.add_argument("--crop-size", type=int, default=64)
    ap.add_argument("--clean", type=int, default=4, help="first N photos of the recipe (0: all)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="CPU: torch threads shared by the processes")
    ap.add_argument("--keep", help="write the runs into this folder (default: a temporary one)")
    args = ap.parse_args(argv)
    counts = sorted({int(n) for n in args.nproc.split(",")} - {1})
    cfg = recipe(args)
    with tempfile.TemporaryDirectory(prefix="ddp_bench_") as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        rows = [run(n, cfg, folder, args) for n in (1, *counts)]
    base = rows[0]
    for row in rows[1:]:
        row["throughput_ratio"] = round(row["samples_per_second"] / base["samples_per_second"], 3)
        row["scaling_efficiency"] = round(row["throughput_ratio"] / row["nproc"], 3)
    report = {"recipe": str(RECIPE.relative_to(REPO)), "steps": args.steps, "batch_size_per_process": args.batch_size,
              "crop_size": args.crop_size, "clean_photos": len(cfg["data"]["clean"]), "runs": rows}
    print(json.dumps(report, indent=1))
    for row in rows[1:]:
        print(f"{row['nproc']} processes / 1: throughput x{row['throughput_ratio']}, scaling efficiency "
              f"{row['scaling_efficiency']:.0%}, weights equal across ranks: {row['max_weight_difference'] == 0.0}",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
