"""core.color on a 4K frame against OpenColorIO's CPU processor (and colour-science), in one run.

    python benchmarks/color_bench.py [--reps 7] [--sample astronaut.png] [--size 3840x2160] [--skip-colour]

The frame: a shipped sample photo (8-bit sRGB) upscaled to 3840x2160 with
OpenCV bicubic, decoded and converted to ACEScg, then graded into a plate
with scene-linear range: an exposure ramp from -2 to +4 stops left to right
(highlights up to ~16) and saturation x1.6 around the luminance (AP1 colours
outside Rec.709, which become negative in linear Rec.709). float32, HW3,
C-contiguous.

Timed, interleaved rep by rep so that both sides see the same machine load
(this machine is shared), median reported:

- ACEScg -> sRGB-encoded Rec.709: ``core.color.convert(frame, "ACEScg",
  "srgb")`` vs ``Config.CreateFromFile("ocio://cg-config-latest")
  .getProcessor("ACEScg", "sRGB Encoded Rec.709 (sRGB)")
  .getDefaultCPUProcessor().applyRGB(arr)``. OCIO works in place on a copy
  made before its timer starts; reelkit's time includes allocating its
  output. The first reelkit call, which also builds the curve table, is
  reported separately, as is the table build alone.
- ACEScg -> ACES2065-1 and ACEScg -> linear Rec.709 vs OCIO (one matrix).
- ACEScg -> OKLab vs colour-science (``XYZ_to_Oklab(RGB_to_XYZ(...))``,
  float64; fewer reps) unless --skip-colour.
- The 8-bit preview: ``acescg_to_srgb_preview`` with ``view="clip"`` and
  ``view="aces"`` (ACES 2.0 SDR through OCIO), for information.

Errors: max |reelkit - OCIO| over the frame, split by the linear Rec.709
value (below 0, 0..1, above 1) for the sRGB encoding, whose definitions
differ below 0 (IEC slope 12.92 vs OCIO's 12.9232), and max error of both
against a float64 evaluation of the IEC curve.

Targets: reelkit/OCIO time ratio <= 1.0 for ACEScg -> sRGB; max abs error
vs OCIO <= 1e-4 for the linear-to-linear conversions. Exit status 1 when a
target is missed.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def make_frame(sample: str, width: int, height: int) -> np.ndarray:
    import cv2

    import core.color as cc

    bgr = cv2.imread(str(REPO / "core" / "data" / "samples" / sample), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit(f"cannot read sample {sample}")
    srgb = np.ascontiguousarray(bgr[..., ::-1], dtype=np.float32) / np.float32(255.0)
    big = np.clip(cv2.resize(srgb, (width, height), interpolation=cv2.INTER_CUBIC), 0.0, 1.0)
    acescg = cc.convert(big, "srgb", "ACEScg")
    luma = acescg @ cc.conversion_matrix("ACEScg", "XYZ")[1].astype(np.float32)
    graded = luma[..., None] + np.float32(1.6) * (acescg - luma[..., None])
    stops = np.linspace(-2.0, 4.0, width, dtype=np.float32)
    graded *= np.exp2(stops)[None, :, None]
    return np.ascontiguousarray(graded, dtype=np.float32)


def interleaved(fns: dict, reps: int) -> dict[str, list[float]]:
    """Run each callable ``reps`` times, alternating between them; each returns its own elapsed seconds."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            times[name].append(fn())
    return times


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def ocio_runner(cpu, frame: np.ndarray, sink: dict, key: str):
    def run() -> float:
        arr = frame.copy()  # OCIO converts in place: copy outside the timer
        t0 = time.perf_counter()
        cpu.applyRGB(arr)
        dt = time.perf_counter() - t0
        sink[key] = arr
        return dt

    return run


def reelkit_runner(fn, frame: np.ndarray, sink: dict, key: str):
    def run() -> float:
        dt, out = timed(fn, frame)
        sink[key] = out
        return dt

    return run


def fmt(seconds: float) -> str:
    return f"{seconds:.3f} s" if seconds >= 0.1 else f"{seconds * 1000:.1f} ms"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7, help="timed repetitions per conversion (default 7)")
    ap.add_argument("--sample", default="astronaut.png", help="sample photo in core/data/samples")
    ap.add_argument("--size", default="3840x2160", help="frame size WxH (default 3840x2160)")
    ap.add_argument("--skip-colour", action="store_true", help="skip the colour-science OKLab comparison")
    args = ap.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))

    t_import, _ = timed(__import__, "core.color")
    ocio_by_import = "PyOpenColorIO" in sys.modules
    import PyOpenColorIO as ocio

    import core.color as cc
    from core.color import curves

    print(f"python {platform.python_version()}, numpy {np.__version__}, OpenColorIO {ocio.__version__}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print(f"import core.color: {fmt(t_import)} (PyOpenColorIO loaded by it: {'yes' if ocio_by_import else 'no'})")

    frame = make_frame(args.sample, width, height)
    lin = cc.convert(frame, "ACEScg", "lin_rec709")
    print(f"frame: {args.sample} -> {width}x{height}x3 float32 ACEScg, {frame.nbytes / 2**20:.0f} MiB, "
          f"range {frame.min():.3f}..{frame.max():.2f}; linear Rec.709 < 0 in {(lin < 0).mean():.1%} of values, "
          f"> 1 in {(lin > 1).mean():.1%}")

    config = ocio.Config.CreateFromFile("ocio://cg-config-latest")
    cpu_srgb = config.getProcessor("ACEScg", "sRGB Encoded Rec.709 (sRGB)").getDefaultCPUProcessor()

    # ---- first call (includes the table build), then the build alone
    first, _ = timed(cc.convert, frame, "ACEScg", "srgb")
    build = curves.build_table("srgb_encode").build_seconds
    print(f"\nfirst reelkit call ACEScg->sRGB: {fmt(first)} (includes building the sRGB table: "
          f"{fmt(build)} when built alone)")

    # ---- ACEScg -> sRGB encoded
    out: dict[str, np.ndarray] = {}
    t = interleaved({
        "reelkit": reelkit_runner(lambda f: cc.convert(f, "ACEScg", "srgb"), frame, out, "reelkit"),
        "ocio": ocio_runner(cpu_srgb, frame, out, "ocio"),
    }, args.reps)
    med_r, med_o = statistics.median(t["reelkit"]), statistics.median(t["ocio"])
    ratio_srgb = med_r / med_o
    print(f"\nACEScg -> sRGB encoded ({args.reps} reps, median): reelkit {fmt(med_r)}, OCIO {fmt(med_o)}, "
          f"ratio reelkit/OCIO {ratio_srgb:.2f}")
    print(f"  all reps: reelkit {' '.join(f'{v:.3f}' for v in t['reelkit'])}; "
          f"OCIO {' '.join(f'{v:.3f}' for v in t['ocio'])}")
    diff = np.abs(out["reelkit"] - out["ocio"])
    lin64 = frame.reshape(-1, 3).astype(np.float64) @ cc.conversion_matrix("ACEScg", "lin_rec709").T
    exact = curves.srgb_encode_f64(lin64).reshape(frame.shape)
    del lin64
    print(f"  max |reelkit - OCIO|: {diff.max():.2e} overall; by linear value: "
          f"0..1 {diff[(lin >= 0) & (lin <= 1)].max():.2e}, >1 {diff[lin > 1].max():.2e} "
          f"(relative {(diff[lin > 1] / np.abs(out['ocio'][lin > 1])).max():.1e}), "
          f"<0 {diff[lin < 0].max():.2e} (IEC slope 12.92 vs OCIO 12.9232 below 0)")
    print(f"  max error vs float64 IEC 61966-2-1: reelkit {np.abs(out['reelkit'] - exact).max():.2e}, "
          f"OCIO on values >= 0: {np.abs(out['ocio'] - exact)[lin >= 0].max():.2e}")
    del out

    # ---- linear conversions
    ratios, errors = {}, {}
    for target, ocio_name in (("ACES2065-1", "ACES2065-1"), ("lin_rec709", "Linear Rec.709 (sRGB)")):
        cpu = config.getProcessor("ACEScg", ocio_name).getDefaultCPUProcessor()
        out = {}
        t = interleaved({
            "reelkit": reelkit_runner(lambda f, tg=target: cc.convert(f, "ACEScg", tg), frame, out, "reelkit"),
            "ocio": ocio_runner(cpu, frame, out, "ocio"),
        }, args.reps)
        med_r, med_o = statistics.median(t["reelkit"]), statistics.median(t["ocio"])
        ratios[target] = med_r / med_o
        errors[target] = float(np.abs(out["reelkit"] - out["ocio"]).max())
        print(f"ACEScg -> {target} ({args.reps} reps, median): reelkit {fmt(med_r)}, OCIO {fmt(med_o)}, "
              f"ratio {ratios[target]:.2f}, max |reelkit - OCIO| {errors[target]:.2e} "
              f"(values up to {np.abs(out['ocio']).max():.1f})")
        del out

    # ---- OKLab vs colour-science
    if not args.skip_colour:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                import colour
        except ImportError:
            print("ACEScg -> OKLab: colour-science not installed, skipped")
        else:
            reps = max(1, min(3, args.reps))
            space = colour.RGB_COLOURSPACES["ACEScg"]
            d65 = np.array([0.3127, 0.3290])

            def colour_oklab(f):
                return colour.XYZ_to_Oklab(colour.RGB_to_XYZ(f, space, d65, "Bradford"))

            out = {}
            t = interleaved({
                "reelkit": reelkit_runner(cc.acescg_to_oklab, frame, out, "reelkit"),
                "colour": reelkit_runner(colour_oklab, frame, out, "colour"),
            }, reps)
            med_r, med_c = statistics.median(t["reelkit"]), statistics.median(t["colour"])
            err = float(np.abs(out["reelkit"] - out["colour"]).max())
            print(f"ACEScg -> OKLab ({reps} reps, median): reelkit {fmt(med_r)}, colour-science (float64) "
                  f"{fmt(med_c)}, ratio {med_r / med_c:.2f}, max |difference| {err:.2e}")
            del out
            back_t, back = timed(cc.oklab_to_acescg, cc.acescg_to_oklab(frame))
            print(f"OKLab -> ACEScg: reelkit {fmt(back_t)}; round trip max |error| {np.abs(back - frame).max():.2e}")

    # ---- previews
    t_clip, _ = timed(cc.acescg_to_srgb_preview, frame)
    cc.acescg_to_srgb_preview(frame[:8, :8], view="aces")  # build the OCIO processor
    t_aces, _ = timed(lambda f: cc.acescg_to_srgb_preview(f, view="aces"), frame)
    print(f"8-bit preview: view='clip' {fmt(t_clip)}, view='aces' (ACES 2.0 SDR via OCIO) {fmt(t_aces)}")

    ok_speed = ratio_srgb <= 1.0
    ok_error = all(e <= 1e-4 for e in errors.values())
    print(f"\ntargets: ACEScg->sRGB ratio {ratio_srgb:.2f} <= 1.0: {'PASS' if ok_speed else 'FAIL'}; "
          f"linear max abs error vs OCIO {max(errors.values()):.2e} <= 1e-4: {'PASS' if ok_error else 'FAIL'}")
    return 0 if ok_speed and ok_error else 1


if __name__ == "__main__":
    raise SystemExit(main())
