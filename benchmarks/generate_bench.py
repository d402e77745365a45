"""core.generate's fBm against a compiled noise library and a pure-numpy one, on the same image, in one run.

    python benchmarks/generate_bench.py [--size 3840x2160] [--octaves 8] [--reps 3] [--threads 2]
                                        [--noise gradient] [--skip-vnoise]

The image: ``generate("noise", {"noise": "gradient", "octaves": 8, "size": 350, "size_y": 350,
"nyquist": False, "gamma": 1.0}, seed=1, width=3840, height=2160, threads=2)`` — 2-D gradient
(Perlin-style) fBm, lacunarity 2, gain 0.5, lowest frequency 1/350 cycle per pixel, every octave kept.

References, the same noise kind, octaves, lacunarity, gain and frequency over the same pixel grid:

- pyfastnoiselite (FastNoiseLite, compiled C++ through Cython): ``NoiseType_Perlin`` (``--noise value``:
  ``NoiseType_Value``; ``simplex``: ``NoiseType_OpenSimplex2``), ``FractalType_FBm``, ``gen_from_coords``
  on the image's pixel coordinates (built before its timer starts), with the library's own threading;
- vnoise (pure numpy, Perlin only: gradient noise): ``Noise(1).noise2(x, y, octaves=8, grid_mode=True)``,
  one rep: it is slow (``--skip-vnoise`` leaves it out). vnoise imports ``pkg_resources``, which
  setuptools 81+ no longer ships; when it is missing, a stand-in answering
  ``get_distribution(name).version`` from ``importlib.metadata`` is installed for it.

A reference that is not installed is skipped (``pip install 'reelkit[bench]'``). Timed reps are
interleaved (reelkit, FastNoiseLite, reelkit, ...) so both see the same machine load (this machine is
shared); the best rep is reported. Bit-exactness is checked in the same run: the image's sha256 on 1
thread and on ``--threads`` threads must be equal.

Target (issue 18): reelkit / FastNoiseLite time <= 2.0 while bit-exact. Exit status 1 when missed.
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import sys
import time
import types
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.timing import best_of  # noqa: E402
from core.generate import generate, parse_size  # noqa: E402


#: FastNoiseLite's noise type for each of core.generate's lattice noises.
FNL_TYPES = {"value": "NoiseType_Value", "gradient": "NoiseType_Perlin", "simplex": "NoiseType_OpenSimplex2"}


def _fastnoiselite(width: int, height: int, octaves: int, size: float, kind: str = "gradient"):
    """A callable rendering the reference image with pyfastnoiselite, or None when it is not installed."""
    try:
        from pyfastnoiselite.pyfastnoiselite import FastNoiseLite, FractalType, NoiseType
    except ImportError:
        return None
    noise = FastNoiseLite(1)
    noise.noise_type = getattr(NoiseType, FNL_TYPES[kind])
    noise.fractal_type = FractalType.FractalType_FBm
    noise.fractal_octaves = octaves
    noise.fractal_lacunarity = 2.0
    noise.fractal_gain = 0.5
    noise.frequency = 1.0 / size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    coords = np.ascontiguousarray(np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5]))
    return lambda: noise.gen_from_coords(coords)


def _vnoise(width: int, height: int, octaves: int, size: float):
    """A callable rendering the reference image with vnoise, or None when it is not installed."""
    try:
        import vnoise
    except ImportError as exc:
        if "pkg_resources" not in str(exc):
            return None
        import importlib.metadata as metadata

        stand_in = types.ModuleType("pkg_resources")
        stand_in.get_distribution = lambda name: types.SimpleNamespace(version=metadata.version(name))
        stand_in.DistributionNotFound = metadata.PackageNotFoundError
        sys.modules["pkg_resources"] = stand_in
        try:
            import vnoise
        except ImportError:
            return None
    noise = vnoise.Noise(1)
    x = (np.arange(width) + 0.5) / size
    y = (np.arange(height) + 0.5) / size
    return lambda: noise.noise2(x, y, octaves=octaves, persistence=0.5, lacunarity=2.0, grid_mode=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="3840x2160")
    ap.add_argument("--octaves", type=int, default=8)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--noise", default="gradient", choices=("value", "gradient", "simplex"))
    ap.add_argument("--skip-vnoise", action="store_true")
    args = ap.parse_args(argv)
    width, height = parse_size(args.size)
    params = {"noise": args.noise, "octaves": args.octaves, "size": 350.0, "size_y": 350.0, "nyquist": False,
              "gamma": 1.0}
    print(f"fBm {args.noise} noise, {args.octaves} octaves, {width}x{height}, reelkit on {args.threads} threads; "
          f"{platform.processor() or platform.machine()}, numpy {np.__version__}")

    def ours(threads: int):
        return lambda: generate("noise", params, seed=1, width=width, height=height, threads=threads).pixels

    fnl = _fastnoiselite(width, height, args.octaves, 350.0, args.noise)
    times: dict[str, list[float]] = {"reelkit": [], "FastNoiseLite": []}
    image = None
    for _ in range(max(1, args.reps)):  # interleaved, so both see the same load
        t, image = best_of(ours(args.threads))
        times["reelkit"].append(t)
        if fnl is not None:
            times["FastNoiseLite"].append(best_of(fnl)[0])
    one = generate("noise", params, seed=1, width=width, height=height, threads=1).pixels
    digest, digest1 = (hashlib.sha256(a.tobytes()).hexdigest() for a in (image, one))
    exact = digest == digest1
    best = min(times["reelkit"])
    print(f"reelkit        {best:7.3f} s  (sha256 {digest[:16]}; 1 thread: {digest1[:16]}, "
          f"{'same bytes' if exact else 'DIFFERENT BYTES'})")
    ok = exact
    if fnl is None:
        print("FastNoiseLite  skipped: pip install pyfastnoiselite (the bench extra)")
    else:
        ref = min(times["FastNoiseLite"])
        ratio = best / ref
        ok = ok and ratio <= 2.0
        print(f"FastNoiseLite  {ref:7.3f} s  ratio reelkit/FastNoiseLite {ratio:.2f} (target <= 2.0)")
    vn = None if args.skip_vnoise or args.noise != "gradient" else _vnoise(width, height, args.octaves, 350.0)
    if vn is None:
        why = ("" if args.skip_vnoise else ": Perlin only" if args.noise != "gradient"
               else ": pip install vnoise (the bench extra)")
        print("vnoise         skipped" + why)
    else:
        t0 = time.perf_counter()
        vn()
        ref = time.perf_counter() - t0
        print(f"vnoise         {ref:7.3f} s  ratio reelkit/vnoise {best / ref:.2f}")
    print("target met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
