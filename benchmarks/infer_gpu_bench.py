"""``reelkit infer`` end to end (read EXR, restore, write EXR) over a sequence: frames per second, seconds per
stage, and the overlapped path against the sequential one, measured in the same run (issue 20 item 3).

    PYTHONPATH=. python3 benchmarks/infer_gpu_bench.py [--frames 100] [--size 3840x2160] [--provider torch]
                                                      [--model film_restore] [--tile 0] [--precision auto]
                                                      [--threads 0] [--exr-threads N] [--writers 0]
                                                      [--workdir DIR] [--keep]

The frames: ``--frames`` textured ACEScg half-float EXR frames (zip), made
from the shipped astronaut photo (``core/data/samples``, sRGB converted to
ACEScg) mirrored into a ``--size`` canvas, panned 7 pixels a frame and
lifted into HDR (the brightest ~5 % of each frame up to ~6.0): real image
texture, edges and highlights at any size, bit-identical on every machine.

The runs: ``python -m core.cli.main infer`` in a child process (what a user
runs: import, model load, every frame read, restored and written), once
with ``--no-prefetch`` (read, restore, write one after the other: the
reference) and once with ``--prefetch`` (the next frame read and the
previous one written while the model works: the default), each into its
own output folder; the sequential run goes first (it also warms the file
cache for the second). Wall time of
each child is measured here; per-stage seconds are the means of the frame
records of each run's manifest (``stages``: read, infer, write).

Printed: frames per second of each run (frames / wall seconds, import and
model load included; and the steady rate between the first and the last
frame written, from the outputs' mtimes), seconds per frame of each stage,
and the ratios sequential / overlapped. The outputs of both runs are compared byte for byte.
Then the write-only figure: the restored frames written again as half zip
EXR by one writer thread and by ``--writers`` threads at once (what the
overlapped run's writer pool does), frames per second and CPU seconds a
frame of each, with how many cores other processes kept busy meanwhile (the
machine's load: writers only gain where cores are free).

Runs without the venv: only numpy and reelkit's own dependencies (OpenEXR,
and onnxruntime or torch for the provider chosen) are needed, imported when
used; run it from the repository with ``PYTHONPATH=.``. ``--frames 3
--size 512`` runs on a CPU in seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def parse_size(text: str) -> tuple[int, int]:
    """``"3840x2160"`` -> (2160, 3840) (height, width); ``"512"`` -> (512, 512)."""
    w, _, h = text.lower().partition("x")
    return int(h or w), int(w)


def write_frames(folder: Path, frames: int, height: int, width: int) -> str:
    """Write the textured test sequence into ``folder``; returns its pattern."""
    import numpy as np

    from core import color, io
    from core.io import samples

    photo = color.convert_frame(samples.load_sample("astronaut.png"), "ACEScg").pixels[..., :3]
    ph, pw = photo.shape[:2]
    tile = np.concatenate([photo, photo[:, ::-1]], axis=1)
    tile = np.concatenate([tile, tile[::-1]], axis=0)  # mirrored: seamless when repeated
    reps = (-(-(height + 7 * frames) // (2 * ph)) + 1, -(-(width + 7 * frames) // (2 * pw)) + 1, 1)
    canvas = np.tile(tile, reps)
    pattern = str(folder / "plate.####.exr")
    for n in range(1, frames + 1):
        px = np.ascontiguousarray(canvas[7 * n:7 * n + height, 7 * n:7 * n + width])
        hi = np.quantile(px[::8, ::8].max(axis=2), 0.95)
        px = np.where(px > hi, hi + (px - hi) * np.float32(60.0), px).astype(np.float32)  # highlights to ~6
        io.write_image(io.sequence_path(pattern, n), px, colorspace="ACEScg", pixel_type="half", overwrite=True)
    return pattern


def run_infer(pattern: str, out: Path, args, prefetch: bool) -> float:
    """Wall seconds of one ``reelkit infer`` child over the sequence."""
    argv = ["infer", "--model", args.model, pattern, "--output-dir", str(out), "--provider", args.provider,
            "--tile", str(args.tile), "--precision", args.precision, "--threads", str(args.threads),
            "--prefetch" if prefetch else "--no-prefetch", "--quiet"]
    cmd = [sys.executable, "-m", "core.cli.main", *argv]
    if args.exr_threads is not None:  # OpenEXR's own thread pool (compression, decompression) set first
        cmd = [sys.executable, "-c", f"import sys; from core.io.exr import exr_threads; "
               f"exr_threads({args.exr_threads}); from core.cli.main import main; sys.exit(main({argv!r}))"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"reelkit infer failed ({' '.join(cmd)}): {done.stderr.strip()}")
    return seconds


def stage_means(out: Path) -> tuple[dict[str, float], float | None, dict]:
    """Mean seconds per frame of each stage, the steady frame rate (frames after the first / seconds between
    the first and the last output's mtime: no import, model load or first-frame latency) and the run's
    runtime facts, from ``out``'s manifest."""
    data = json.loads((out / "manifest.json").read_text())
    records = [r for r in data["frames"].values() if "stages" in r]
    means = {k: sum(r["stages"][k] for r in records) / len(records) for k in ("read", "infer", "write")}
    times = sorted(fp["mtime_ns"] for r in records for fp in r["files"]["out"].values())
    steady = (len(times) - 1) / ((times[-1] - times[0]) * 1e-9) if len(times) > 1 and times[-1] > times[0] else None
    return means, steady, data.get("runtime", {})


def write_only(work: Path, writers: int) -> bool:
    """Frames written per second (half zip EXR, what ``reelkit infer`` writes, atomically) by one writer thread
    and by ``writers`` threads at once, in this process, from the restored frames held in memory; prints both
    and the machine's load; returns whether both wrote the same bytes."""
    from concurrent.futures import ThreadPoolExecutor

    from core import io
    from core.io.exr import exr_threads
    from core.threads import busy_elsewhere, job_threads

    writers, pool = job_threads(writers), exr_threads()
    frames = [io.read_image(p) for p in sorted((work / "overlapped").glob("*.exr"))]
    rates, cpu, files = {}, {}, {}
    for n in sorted({1, writers}):
        out = work / f"writers_{n}"
        out.mkdir(exist_ok=True)
        t0, c0 = time.perf_counter(), time.process_time()
        with ThreadPoolExecutor(n) as threads:
            list(threads.map(lambda f: io.write_image(out / Path(f.path).name, f, pixel_type="half", compression="zip",
                                                   overwrite=True), frames))
        rates[n] = len(frames) / (time.perf_counter() - t0)
        cpu[n] = (time.process_time() - c0) / len(frames)  # every thread of this process
        files[n] = [p.read_bytes() for p in sorted(out.glob("*.exr"))]
    same = all(v == files[1] for v in files.values())
    print(f"write only ({len(frames)} frames, OpenEXR pool {pool} threads, other processes busy on "
          f"{busy_elsewhere(1.0):.1f} of {os.cpu_count()} cores): "
          + ", ".join(f"{n} writer{'s' * (n > 1)} {r:.2f} frames/s ({cpu[n]:.2f} CPU s a frame)"
                      for n, r in rates.items())
          + (f", ratio {rates[writers] / rates[1]:.2f}x" if writers > 1 else "") + f"; same bytes: {same}")
    return same


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--size", default="3840x2160", help="WxH, or one side for a square")
    ap.add_argument("--provider", default="auto", help="auto | cpu | cuda | torch")
    ap.add_argument("--model", default="film_restore")
    ap.add_argument("--tile", type=int, default=0, help="0: the whole frame at once (the GPU default here)")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--exr-threads", type=int, help="OpenEXR's thread pool in the reelkit child (default: "
                    "reelkit's, the job's thread budget: core.io.exr.exr_threads); for an A/B of EXR threads")
    ap.add_argument("--writers", type=int, default=0, help="the write-only figure: frames written per second "
                    "by 1 writer thread against this many (0: the thread budget, core.threads.job_threads)")
    ap.add_argument("--workdir", type=Path, help="where the frames and outputs go (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args(argv)
    height, width = parse_size(args.size)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="infer_gpu_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        pattern = write_frames(work / "in", args.frames, height, width)
        print(f"wrote {args.frames} frames {width}x{height} half EXR in {time.perf_counter() - t0:.1f} s")
        walls = {}
        for prefetch in (False, True):
            out = work / ("overlapped" if prefetch else "sequential")
            shutil.rmtree(out, ignore_errors=True)
            walls[prefetch] = run_infer(pattern, out, args, prefetch)
        seq, seq_steady, _ = stage_means(work / "sequential")
        ovl, ovl_steady, runtime = stage_means(work / "overlapped")
        same = all((work / "overlapped" / p.name).read_bytes() == p.read_bytes()
                   for p in sorted((work / "sequential").glob("*.exr")))
        device = runtime.get("device") or ", ".join(runtime.get("providers", []))
        exr = "" if args.exr_threads is None else f", OpenEXR threads {args.exr_threads}"
        print(f"reelkit infer --model {args.model} --provider {args.provider} --tile {args.tile}{exr}: backend "
              f"{runtime.get('backend')} on {device}, precision {runtime.get('precision')}")
        for name, wall, steady, means in (("sequential", walls[False], seq_steady, seq),
                                          ("overlapped", walls[True], ovl_steady, ovl)):
            rate = f"{steady:.2f}" if steady else "n/a"
            print(f"{name:10s}: {args.frames / wall:6.2f} frames/s ({wall:.1f} s wall, import and model load "
                  f"included; {rate} frames/s between the first and last frame written); per frame read "
                  f"{means['read']:.3f} s, infer {means['infer']:.3f} s, write {means['write']:.3f} s")
        print(f"ratio sequential/overlapped wall: {walls[False] / walls[True]:.2f}x"
              + (f", steady {ovl_steady / seq_steady:.2f}x" if seq_steady and ovl_steady else "")
              + f"; outputs identical: {same}")
        same_writes = write_only(work, args.writers)
        return 0 if same and same_writes else 1
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
