"""Palette fit + encode on a 4K frame: speed against scikit-learn and the memory-bandwidth floor.

    python benchmarks/palette_bench.py [--sample rocket.jpg] [--k 16] [--skip-full-kmeans] [--threads N]

A shipped sample photo is upscaled to 3840x2160 (OpenCV bicubic), decoded
from sRGB and converted to ACEScg (core.color). Then, each timed on its own:

- reelkit: ``fit_palette`` (k-means++ and Lloyd on a seeded sample) and
  ``encode`` (full-resolution nearest entry; index only, then with distance);
- scikit-learn ``KMeans`` with default settings on every pixel (OKLab
  coordinates from the same kernel), optional as it takes a while;
- scikit-learn ``MiniBatchKMeans`` with default settings;
- the floor: one plain numpy copy of the frame plus writing a uint8 array of
  the frame's size (one read of the frame, one write of the index).

The machine's load average is printed with the times. On a shared, loaded
machine wall times swing by 2x between runs; the encode and the floor are
then also timed on one thread in that thread's CPU time
(``time.thread_time``), which other processes do not lengthen (caches and
memory bandwidth they still share).

Quality: every palette is applied with the same exact nearest-entry
assignment and scored by the mean ΔE OK x 100 over all pixels and mean ΔE00
over a seeded 1M-pixel subset. Printed: times, ratios, ΔE and their ratios.
Targets (DESIGN.md, palette): fit + encode < 1 s on 2 cores; >= 10x faster
than full KMeans at a mean ΔE at most 5% worse; encode within 3x of the floor.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.timing import best_of  # noqa: E402


def _frame(sample: str, width: int, height: int) -> np.ndarray:
    import cv2

    from core.color import convert
    from core.io.samples import load_sample

    srgb = load_sample(sample).pixels
    big = cv2.resize(srgb, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(convert(np.clip(big, 0.0, 1.0), "srgb", "ACEScg"), dtype=np.float32)


def _quality(frame: np.ndarray, oklab: np.ndarray, centres_oklab: np.ndarray, lab_sample_idx: np.ndarray) -> tuple[float, float]:
    """(mean ΔE OK x 100 over all pixels, mean ΔE00 over the subset) for a palette given in OKLab."""
    from core.metrics import delta_e_2000
    from core.palette import SPACES, acescg_to_fit
    from core.palette.assign import nearest_u_array
    from core.palette.spaces import fit_to_u

    space = SPACES["oklab"]
    c32 = np.asarray(centres_oklab, np.float32)
    # u of every pixel = A^-1 x, recomputed from the OKLab coordinates for the exact assignment
    u = fit_to_u(oklab, space).astype(np.float32)
    labels = nearest_u_array(u, c32, space)
    d = oklab.astype(np.float64) - c32.astype(np.float64)[labels]
    deok = float(np.sqrt((d * d).sum(axis=1)).mean()) * 100.0
    from core.palette import fit_to_acescg

    pal_acescg = fit_to_acescg(c32, "oklab").astype(np.float32)
    src = frame.reshape(-1, 3)[lab_sample_idx]
    lab_src = acescg_to_fit(src, "lab")
    lab_pal = acescg_to_fit(pal_acescg, "lab")
    de00 = float(delta_e_2000(lab_src, lab_pal[labels[lab_sample_idx]]).mean())
    return deok, de00


def _pack_sizes(frame: np.ndarray, enc) -> None:
    """Bytes of the reelkit.palette/1 pack against the source frame as a half-float zip EXR."""
    import tempfile

    from core.palette import pack

    with tempfile.TemporaryDirectory() as tmp:
        source = None
        try:
            from core.io import write_image

            source = write_image(Path(tmp) / "source.exr", frame, colorspace="ACEScg", pixel_type="half")
        except ImportError as exc:  # OpenEXR missing on this machine
            print(f"  (source EXR not written: {exc})")
        t0 = time.perf_counter()
        info = pack(Path(tmp) / "frame.npz", enc, source=source)
        t_pack = time.perf_counter() - t0
        src = f"source EXR half/zip {info.source_bytes / 1e6:.2f} MB, ratio {info.ratio_to_source:.3f}; " if source else ""
        print(f"  pack                 {t_pack * 1e3:8.1f} ms   {info.total_bytes / 1e6:.2f} MB ({src}"
              f"raw half RGB {info.raw_half_bytes / 1e6:.1f} MB, ratio {info.ratio_to_raw_half:.3f})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample", default="rocket.jpg")
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--width", type=int, default=3840)
    ap.add_argument("--height", type=int, default=2160)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-full-kmeans", action="store_true", help="skip scikit-learn KMeans on every pixel (slow)")
    ap.add_argument("--skip-minibatch", action="store_true",
                    help="skip scikit-learn MiniBatchKMeans (its defaults run 100 epochs: minutes at 4K)")
    args = ap.parse_args(argv)

    from core.palette import acescg_to_fit, encode, fit_palette

    import platform

    print(f"palette_bench: {args.sample} upscaled to {args.width}x{args.height}, K={args.k}, "
          f"CPUs available {len(os.sched_getaffinity(0))}, threads {args.threads or 'default'}, "
          f"numpy {np.__version__}, {platform.processor() or platform.machine()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    frame = _frame(args.sample, args.width, args.height)
    n = frame.shape[0] * frame.shape[1]

    # the floor: one read of the frame (a copy), one write of the index
    idx_out = np.empty(n, np.uint8)

    def floor():
        frame.copy()
        idx_out.fill(1)

    t_floor, _ = best_of(floor, args.repeat)

    t_fit, fit = best_of(lambda: fit_palette(frame, k=args.k, seed=0), args.repeat)
    from core.palette import compiled

    kernel = compiled.choose("auto")
    t_enc, enc = best_of(lambda: encode(frame, fit, distance=False, threads=args.threads), args.repeat)
    t_enc_np, enc_np = best_of(lambda: encode(frame, fit, distance=False, threads=args.threads, kernel="numpy"),
                               args.repeat)
    same = np.array_equal(enc.index, enc_np.index)
    t_encd, _ = best_of(lambda: encode(frame, fit, distance=True, threads=args.threads), args.repeat)
    print(f"  reelkit fit          {t_fit * 1e3:8.1f} ms   ({fit.n_iter} iterations, converged={fit.converged}, "
          f"{fit.n_samples} sampled pixels, {fit.n_distinct} distinct)")
    from core.threads import job_threads

    used = job_threads(args.threads or 0)  # what encode(threads=None) took: the free cores (sampled every 5 s)
    print(f"  reelkit encode       {t_enc * 1e3:8.1f} ms   index only ({n / t_enc / 1e6:.0f} Mpixel/s; {kernel} kernel, "
          f"{used} thread(s))")
    print(f"  encode, numpy path   {t_enc_np * 1e3:8.1f} ms   {t_enc_np / t_enc:.2f}x the {kernel} kernel's time; "
          f"same index: {same}")
    print(f"  reelkit encode+dist  {t_encd * 1e3:8.1f} ms   index and distance map")
    print(f"  fit + encode         {(t_fit + t_enc) * 1e3:8.1f} ms   target < 1000 ms")
    print(f"  floor (copy+write)   {t_floor * 1e3:8.1f} ms   encode / floor = {t_enc / t_floor:.2f}x (target <= 3x; "
          f"numpy path {t_enc_np / t_floor:.2f}x)")
    cpu = time.thread_time
    c_floor, _ = best_of(floor, args.repeat, clock=cpu)
    c_enc, _ = best_of(lambda: encode(frame, fit, distance=False, threads=1), args.repeat, clock=cpu)
    print(f"  one thread, CPU time: encode {c_enc * 1e3:.1f} ms, floor {c_floor * 1e3:.1f} ms, encode / floor = "
          f"{c_enc / c_floor:.2f}x; load average now {os.getloadavg()[0]:.1f}")

    _pack_sizes(frame, enc)

    oklab = acescg_to_fit(frame.reshape(-1, 3), "oklab")
    rng = np.random.default_rng(1)
    sub = np.sort(rng.choice(n, size=min(n, 1_000_000), replace=False))
    q_ours = _quality(frame, oklab, fit.palette, sub)
    print(f"  reelkit quality      mean ΔE OK {q_ours[0]:.3f}   mean ΔE00 {q_ours[1]:.3f}")

    from sklearn.cluster import KMeans, MiniBatchKMeans

    if not args.skip_minibatch:
        t0 = time.perf_counter()
        mb = MiniBatchKMeans(n_clusters=args.k, random_state=0).fit(oklab)
        t_mb = time.perf_counter() - t0
        q_mb = _quality(frame, oklab, mb.cluster_centers_, sub)
        print(f"  sklearn MiniBatch    {t_mb * 1e3:8.1f} ms   mean ΔE OK {q_mb[0]:.3f}   mean ΔE00 {q_mb[1]:.3f}   "
              f"({mb.n_steps_} steps); reelkit fit+encode is {t_mb / (t_fit + t_enc):.1f}x faster, "
              f"ΔE OK ratio {q_ours[0] / q_mb[0]:.3f}")
    if not args.skip_full_kmeans:
        t0 = time.perf_counter()
        km = KMeans(n_clusters=args.k, random_state=0).fit(oklab)
        t_km = time.perf_counter() - t0
        q_km = _quality(frame, oklab, km.cluster_centers_, sub)
        print(f"  sklearn KMeans full  {t_km * 1e3:8.1f} ms   mean ΔE OK {q_km[0]:.3f}   mean ΔE00 {q_km[1]:.3f}   "
              f"({km.n_iter_} iterations)")
        print(f"  speed-up vs KMeans   {t_km / (t_fit + t_enc):8.1f}x  (fit+encode; target >= 10x)   "
              f"ΔE OK ratio {q_ours[0] / q_km[0]:.3f}   ΔE00 ratio {q_ours[1] / q_km[1]:.3f} (target <= 1.05)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
