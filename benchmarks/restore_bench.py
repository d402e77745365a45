"""Restoration benchmark: the shipped model against classic baselines on real photos and video frames, and its speed.

Frames come from :mod:`restore_sets`: a development set (``--set dev``, the
default: choose variants on it) and a test set (``--set test``: report it
once per released model version). Each source is scored as shot and under
another light, with every damage look and clean; PSNR is measured on the
display encoding (sRGB, 0..1, clipped) against the clean frame, for:

- the degraded input;
- the best classic filter per look (median, bilateral, OpenCV non-local
  means, unsharp mask, each at a small grid of settings; the look's best
  setting chosen on the set's own frames, which favours the filters);
- grade-matching baselines (:func:`core.validate.fit_grade`: 3x3 matrix,
  root-polynomial and 3D LUT, best per frame), fitted on the *training*
  photos degraded (training seed) -> their clean originals: ``grade`` per
  look (it knows the look, as a grade fitted on one reel's own pairs does),
  ``grade_blind`` once over all looks (it knows what the model knows);
- the model (tiled onnxruntime, :class:`core.infer.Restorer`).

Reported per look, per source and per light: the mean, the gain over the
input and over the best filter, and the worst frame's gain; the clean
frames through the model (mean and worst); the flicker of a static shot
before and after the model; and the targets of a released model
(:data:`TARGETS`). Then the CPU time of one 3840x2160 frame through the
model, next to OpenCV's colour non-local means on the same frame and
threads, in the same run.

Usage::

    python benchmarks/restore_bench.py [--model models/film_restore.onnx] [--threads 2] [--set dev|test]
    python benchmarks/restore_bench.py --curve RUN_DIR [--device cuda]    # PSNR per checkpoint vs time
    python benchmarks/restore_bench.py --gpu-time RUN_DIR                 # torch fp16 4K time on CUDA
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import restore_sets  # noqa: E402  (benchmarks/restore_sets.py: the development and test sets)

#: Grade baselines are fitted on the shipped model's training photos (its training config), degraded under
#: the training seed, one draw per photo and look.
TRAIN_CONFIG = Path(__file__).resolve().parents[1] / "models" / "film_restore.train.json"
GRADE_FIT_CLEAN = tuple(json.loads(TRAIN_CONFIG.read_text("utf-8"))["data"]["clean"])
GRADE_FIT_SEED = 0
GRADE_METHODS = ("matrix", "root_poly", "lut3d")
UHD = (2160, 3840)
#: PSNR given to identical images (dB), so means stay finite.
PSNR_IDENTICAL = 100.0
#: Targets of a released model on the test set (issue 13).
TARGETS = {"gain_all_db": 5.0, "gain_over_filter_db": 2.0, "gain_look_db": 0.0, "worst_frame_db": -1.0,
           "clean_db": 45.0}


def to_display(acescg: np.ndarray) -> np.ndarray:
    """ACEScg scene-linear -> sRGB-encoded display values, clipped to 0..1 (``float32`` ``HW3``)."""
    from core import color

    return np.clip(color.convert(acescg, "ACEScg", "srgb", nonfinite="pass"), 0.0, 1.0)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10.0 * math.log10(1.0 / mse) if mse > 0 else PSNR_IDENTICAL


def _u8(display: np.ndarray) -> np.ndarray:
    return np.round(display * 255.0).astype(np.uint8)


def _nlm(display: np.ndarray, h: float) -> np.ndarray:
    import cv2

    return cv2.fastNlMeansDenoisingColored(_u8(display), None, h, h, 7, 21).astype(np.float32) / 255.0


def classic_filters():
    """``{filter: {setting: fn(display float HW3) -> display float HW3}}`` (OpenCV on 8-bit sRGB)."""
    import cv2

    def median(k):
        return lambda d: cv2.medianBlur(_u8(d), k).astype(np.float32) / 255.0

    def bilateral(dia, sc, ss):
        return lambda d: cv2.bilateralFilter(_u8(d), dia, sc, ss).astype(np.float32) / 255.0

    def nlm(h):
        return lambda d: _nlm(d, h)

    def unsharp(sigma, amount):
        def f(d):
            blur = cv2.GaussianBlur(d, (0, 0), sigma)
            return np.clip(d + amount * (d - blur), 0.0, 1.0)
        return f

    return {
        "median": {"3x3": median(3), "5x5": median(5)},
        "bilateral": {"d5 s20/3": bilateral(5, 20, 3), "d9 s40/5": bilateral(9, 40, 5)},
        "nlmeans": {"h5": nlm(5), "h10": nlm(10)},
        "unsharp": {"s1 a0.5": unsharp(1.0, 0.5), "s1.5 a1": unsharp(1.5, 1.0)},
    }


class _LstsqMatrix:
    """Fallback grade when :mod:`core.validate` is unavailable: ``ref = M @ src``, 3x3 least squares (ACEScg)."""

    def __init__(self, src: np.ndarray, ref: np.ndarray):
        self.m, *_ = np.linalg.lstsq(src.astype(np.float64), ref.astype(np.float64), rcond=None)

    def apply(self, image: np.ndarray) -> np.ndarray:
        return (image.reshape(-1, 3) @ self.m).reshape(image.shape).astype(np.float32)


def fit_grades() -> tuple[dict[str, dict[str, object]], dict]:
    """Per preset and grade method, a grade fitted on the training photos degraded by that preset -> clean,
    and (key ``"blind"``) one per method fitted on all presets' pairs together.

    Returns ``({preset or "blind": {method: fit with .apply(ACEScg HW3)}}, info)``;
    the fits never see a held-out pixel.
    """
    try:
        from core.validate import fit_grade
    except ImportError:  # core.validate not there: a plain 3x3 least-squares matrix
        fit_grade = None
    cleans = [restore_sets.load_clean(e) for e in GRADE_FIT_CLEAN]
    fits: dict[str, dict[str, object]] = {}
    info: dict = {"clean": list(GRADE_FIT_CLEAN), "seed": GRADE_FIT_SEED, "tool": "core.validate.fit_grade"
                  if fit_grade else "numpy lstsq 3x3", "rms": {}}
    every: list[np.ndarray] = []
    all_looks = restore_sets.looks()
    for preset in (*all_looks, "blind"):
        if preset == "blind":
            bad, ref_frames, samples = every, cleans * len(all_looks), 50_000 // len(all_looks)
        else:
            bad, ref_frames, samples = [restore_sets.degrade(c, frame=0, seed=GRADE_FIT_SEED, look=preset)
                                        for c in cleans], cleans, 50_000
            every.extend(bad)
        fits[preset] = {}
        if fit_grade is None:
            rng = np.random.default_rng(0)
            src = np.concatenate([b.reshape(-1, 3)[rng.choice(b.shape[0] * b.shape[1], 50_000)] for b in bad])
            # (same seeded draws for src and ref: the pixels correspond)
            rng = np.random.default_rng(0)
            ref = np.concatenate([c.reshape(-1, 3)[rng.choice(c.shape[0] * c.shape[1], 50_000)]
                                  for c in ref_frames])
            fits[preset]["matrix"] = _LstsqMatrix(src, ref)
            continue
        for method in GRADE_METHODS:
            fit = fit_grade(bad, ref_frames, method=method, max_samples=samples, seed=0)
            if fit.success:
                fits[preset][method] = fit
                info["rms"][f"{preset}/{method}"] = fit.rms
            else:
                info["rms"][f"{preset}/{method}"] = f"failed: {fit.reason}"
    return fits, info


def _summary(values: list[float]) -> dict:
    return {"mean": statistics.mean(values), "worst": min(values), "frames": len(values)}


def evaluate(model: str, threads: int, set_name: str, *, grades: bool = True) -> dict:
    """PSNR (dB, sRGB display values) of the input, the classic filters, the grades and the model on the
    frames of ``set_name`` (:mod:`restore_sets`): per look, per source, per light, mean and worst frame;
    clean frames through the model; flicker of a static shot."""
    from core.infer import Restorer

    restorer = Restorer(model, tile=512, provider="cpu", threads=threads)
    fits = fit_grades()[0] if grades else {}
    filters = classic_filters()
    rows: list[dict] = []   # one per damaged frame
    clean_rows: list[dict] = []
    # filter scores[filter][setting] = per-damaged-frame PSNR, in row order
    fscores: dict[str, dict[str, list[float]]] = {}
    for f in restore_sets.eval_frames(set_name):
        ref = to_display(f.clean)
        out = to_display(restorer.run(f.damaged, name=f.label))
        if f.look == "clean":
            clean_rows.append({"label": f.label, "source": f.source, "light": f.light, "model": psnr(out, ref)})
            continue
        shown = to_display(f.damaged)
        row = {"label": f.label, "source": f.source, "light": f.light, "look": f.look,
               "input": psnr(shown, ref), "model": psnr(out, ref)}
        for fname, settings in filters.items():
            for sname, fn in settings.items():
                fscores.setdefault(fname, {}).setdefault(sname, []).append(psnr(fn(shown), ref))
        if fits:
            row["grade"] = max(psnr(to_display(fit.apply(f.damaged)), ref) for fit in fits[f.look].values())
            row["grade_blind"] = max(psnr(to_display(fit.apply(f.damaged)), ref) for fit in fits["blind"].values())
        rows.append(row)
    # the best classic filter per look, its setting chosen on these frames (favourable to the filters)
    for look in restore_sets.looks():
        idx = [i for i, r in enumerate(rows) if r["look"] == look]
        best = max(((fn, sn) for fn, st in fscores.items() for sn in st),
                   key=lambda k: statistics.mean(fscores[k[0]][k[1]][i] for i in idx))
        for i in idx:
            rows[i]["filter"] = fscores[best[0]][best[1]][i]
            rows[i]["filter_name"] = f"{best[0]} {best[1]}"
    methods = ["input", "filter", "model"] + (["grade", "grade_blind"] if fits else [])

    def group(key: str | None) -> dict:
        out = {}
        names = sorted({r[key] for r in rows}) if key else ["all"]
        for name in names:
            sel = [r for r in rows if key is None or r[key] == name]
            g = {m: statistics.mean(r[m] for r in sel) for m in methods}
            gains = [r["model"] - r["input"] for r in sel]
            g.update(frames=len(sel), gain_db=g["model"] - g["input"], gain_over_filter_db=g["model"] - g["filter"],
                     worst_gain_db=min(gains), worst_frame=sel[gains.index(min(gains))]["label"])
            if key == "look":
                g["filter_name"] = sel[0]["filter_name"]
            out[name] = g
        return out

    from core.metrics import flicker, frame_stats

    shot = restore_sets.static_shot(set_name)
    entry, first, count = restore_sets.STATIC_SHOTS[set_name]
    fin = flicker([frame_stats(px) for px in shot])[0][1:]
    fout = flicker([frame_stats(restorer.run(px, name="static")) for px in shot])[0][1:]
    return {"set": set_name, "seed": restore_sets.EVAL_SEED, "looks": list(restore_sets.looks()),
            "sources": list(restore_sets.SETS[set_name]), "methods": methods,
            "per_look": group("look"), "per_source": group("source"), "per_light": group("light"),
            "all": group(None)["all"], "clean": {**_summary([r["model"] for r in clean_rows]),
                                                  "worst_frame": min(clean_rows, key=lambda r: r["model"])["label"]},
            "static_flicker": {"shot": f"{entry}@{first}-{first + count - 1}",
                               "input": statistics.mean(fin), "model": statistics.mean(fout)},
            "per_frame": rows, "clean_frames": clean_rows}


def print_quality(q: dict) -> None:
    methods = q["methods"]
    print(f"{q['set']} set: {q['all']['frames']} damaged frames = {len(q['sources'])} sources x 2 lights x "
          f"{len(q['looks'])} looks (seed {q['seed']}) + {q['clean']['frames']} clean; PSNR dB on sRGB display "
          "values; filters tuned per look on these frames")
    head = "".join(f"{m:>12}" for m in methods)
    for title, table in (("look", q["per_look"]), ("source", q["per_source"]), ("light", q["per_light"]),
                         ("", {"all": q["all"]})):
        print(f"{title or 'all':<26}{head}{'vs input':>10}{'vs filter':>10}{'worst':>8}  worst frame")
        for name, g in table.items():
            print(f"{name:<26}" + "".join(f"{g[m]:12.2f}" for m in methods) +
                  f"{g['gain_db']:+10.2f}{g['gain_over_filter_db']:+10.2f}{g['worst_gain_db']:+8.2f}  {g['worst_frame']}")
    c, fl = q["clean"], q["static_flicker"]
    print(f"clean frames through the model: mean {c['mean']:.2f} dB, worst {c['worst']:.2f} dB ({c['worst_frame']})")
    print(f"static shot {fl['shot']}: flicker input {fl['input']:.4f}, model {fl['model']:.4f}")
    t, a = TARGETS, q["all"]
    checks = [("overall gain over the input", a["gain_db"], t["gain_all_db"]),
              ("overall gain over the best filter", a["gain_over_filter_db"], t["gain_over_filter_db"]),
              ("worst look's mean gain", min(g["gain_db"] for g in q["per_look"].values()), t["gain_look_db"]),
              ("worst single frame's gain", a["worst_gain_db"], t["worst_frame_db"]),
              ("worst clean frame", c["worst"], t["clean_db"]),
              ("static flicker, input minus model", fl["input"] - fl["model"], 0.0)]
    for name, value, target in checks:
        print(f"  {name:<36} {value:+8.2f}  target >= {target:+.2f}  {'met' if value >= target else 'MISSED'}")


def uhd_frame() -> np.ndarray:
    """A 3840x2160 ACEScg frame (the coffee photo, degraded, resized up): content for timing."""
    import cv2

    from core.degrade import degrade_frame

    clean = restore_sets.load_clean("sample:coffee")
    bad = degrade_frame(clean, frame=0, seed=restore_sets.EVAL_SEED, preset="faded_16mm").pixels
    return np.ascontiguousarray(cv2.resize(bad, UHD[::-1], interpolation=cv2.INTER_LINEAR), dtype=np.float32)


def time_cpu(model: str, threads: int, repeats: int) -> dict:
    import cv2

    from core.infer import Restorer

    frame = uhd_frame()
    out = {"threads": threads, "size": f"{UHD[1]}x{UHD[0]}"}
    for tile in (0, 1024):
        restorer = Restorer(model, tile=tile, provider="cpu", threads=threads)
        restorer.run(frame[:256, :256])  # warm-up
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            restorer.run(frame)
            times.append(time.perf_counter() - t)
        out[f"model_tile{tile}_s"] = min(times)
    cv2.setNumThreads(threads)
    display = _u8(to_display(frame))
    t = time.perf_counter()
    cv2.fastNlMeansDenoisingColored(display, None, 5, 5, 7, 21)
    out["cv2_nlmeans_s"] = time.perf_counter() - t
    out["model_s"] = min(out["model_tile0_s"], out["model_tile1024_s"])
    out["ratio_model_to_nlmeans"] = out["model_s"] / out["cv2_nlmeans_s"]
    return out


# -- device-side measurements (torch) ---------------------------------------------------------------
def _torch_model(run_dir: Path, weights: Path, device: str):
    import torch

    from core.train import TrainConfig

    cfg = TrainConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    net = cfg.model.build()
    state = torch.load(weights, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "model" in state and "format" in state:
        state = state["model"]
    net.load_state_dict(state)
    return cfg, net.to(device).eval()


def curve(run_dir: Path, device: str) -> dict:
    """Held-out PSNR of every checkpoint of a run, against the seconds since training started."""
    import torch

    from core.infer.encoding import decode_pixels, encode_pixels
    from core.train import list_checkpoints

    from core.infer.context import context_input
    from core.train.trainer import forward

    frames = [(f.damaged, f.clean) for f in restore_sets.eval_frames("dev") if f.look != "clean"]
    t0 = (run_dir / "config.json").stat().st_mtime
    rows = []
    for step, path in list_checkpoints(run_dir):
        cfg, net = _torch_model(run_dir, path, device)
        side = cfg.model.context
        values = []
        for bad, clean in frames:
            x = torch.from_numpy(encode_pixels(bad, cfg.encoding).transpose(2, 0, 1)[None].copy()).to(device)
            ctx = (torch.from_numpy(context_input(bad, side, cfg.encoding, detail=cfg.model.context_detail)).to(device)
                   if side else None)
            with torch.no_grad():
                y = forward(net, x, ctx)[0].float().cpu().numpy().transpose(1, 2, 0)
            values.append(psnr(to_display(decode_pixels(np.ascontiguousarray(y), cfg.encoding)), to_display(clean)))
        rows.append({"step": step, "seconds": round(path.stat().st_mtime - t0, 1), "psnr": statistics.mean(values)})
    final = rows[-1]["psnr"]
    within = next(r for r in rows if r["psnr"] >= final - 0.5)
    return {"curve": rows, "final_psnr": final, "within_0.5db": within}


def gpu_time(run_dir: Path, repeats: int) -> dict:
    """Seconds for one 3840x2160 frame through the network in torch fp16 on CUDA (median of ``repeats``)."""
    import torch

    import onnxruntime

    from core.infer.context import context_channels
    from core.train.trainer import forward

    cfg, net = _torch_model(run_dir, run_dir / "model.pt", "cuda")
    net = net.half().to(memory_format=torch.channels_last)
    side = cfg.model.context
    x = torch.rand(1, 3, *UHD, device="cuda", dtype=torch.float16).to(memory_format=torch.channels_last)
    detail = cfg.model.context_detail
    c = (torch.rand(1, context_channels(3, detail), side, side, device="cuda", dtype=torch.float16) if side
         else None)
    torch.backends.cudnn.benchmark = True
    with torch.no_grad():
        for _ in range(5):
            forward(net, x, c)
        torch.cuda.synchronize()
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            forward(net, x, c)
            torch.cuda.synchronize()
            times.append(time.perf_counter() - t)
    # end to end: a float32 HWC frame in host memory -> GPU -> log2 encode -> fp16 network -> decode -> host
    from core.infer.encoding import LOG2_GAIN, LOG2_STOPS

    frame = np.random.default_rng(0).uniform(0, 1, (*UHD, 3)).astype(np.float32)
    k = LOG2_STOPS * math.log(2.0)

    def encode(t):
        return (torch.sign(t) * torch.log1p(LOG2_GAIN * t.abs()) / k).half()

    def thumbnail(t):
        # the thumbnail by torch's adaptive pooling (bands within a pixel of core.infer.context's): timing only
        pool = torch.nn.functional.adaptive_avg_pool2d
        if not detail:
            return pool(t, side)
        box = torch.nn.functional.avg_pool2d(torch.nn.functional.pad(t, (1, 1, 1, 1), mode="reflect"), 3, stride=1)
        return torch.cat([pool(t, side), pool((t - box).abs(), side)], dim=1)

    def restore(t):
        """HWC float32 frame on the GPU -> the restored HWC float32 frame on the GPU."""
        t = t.permute(2, 0, 1)[None]
        ctx = encode(thumbnail(t)) if side else None
        y = forward(net, encode(t).contiguous(memory_format=torch.channels_last), ctx).float()
        return (torch.sign(y) * torch.expm1(y.abs() * k) / LOG2_GAIN)[0].permute(1, 2, 0)

    def whole(px: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return restore(torch.from_numpy(px).to("cuda")).cpu().numpy()

    # the same with page-locked host buffers, as a reader/writer that decodes into and encodes from
    # pinned memory would use (ONNX Runtime's IO binding does likewise): the copies run at full PCIe speed
    pinned_in = torch.from_numpy(frame).pin_memory()
    pinned_out = torch.empty_like(pinned_in).pin_memory()

    def whole_pinned() -> torch.Tensor:
        with torch.no_grad():
            pinned_out.copy_(restore(pinned_in.to("cuda", non_blocking=True)), non_blocking=True)
            torch.cuda.synchronize()
            return pinned_out

    def timed(fn) -> list[float]:
        for _ in range(3):
            fn()
        out = []
        for _ in range(max(1, repeats // 2)):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
        return out

    e2e = timed(lambda: whole(frame))
    e2e_pinned = timed(whole_pinned)
    check = whole(frame)
    pinned_error = float(np.abs(whole_pinned().numpy() - check).max())
    return {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "dtype": "float16",
            "size": f"{UHD[1]}x{UHD[0]}", "median_s": statistics.median(times), "min_s": min(times),
            "end_to_end_median_s": statistics.median(e2e),
            "end_to_end_pinned_median_s": statistics.median(e2e_pinned), "pinned_max_abs_diff": pinned_error,
            "onnxruntime": onnxruntime.__version__, "ort_providers": onnxruntime.get_available_providers()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(Path(__file__).resolve().parents[1] / "models" / "film_restore.onnx"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--no-4k", action="store_true", help="skip the 3840x2160 CPU timing")
    ap.add_argument("--curve", type=Path, help="training folder: held-out PSNR per checkpoint")
    ap.add_argument("--gpu-time", type=Path, help="training folder: torch fp16 4K time on CUDA")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--set", default="dev", choices=tuple(restore_sets.SETS),
                    help="dev: choose variants on it; test: report once per released model version")
    ap.add_argument("--no-grades", action="store_true", help="skip the grade baselines (fitted on training photos)")
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    if args.curve or args.gpu_time:
        result = {}
        if args.curve:
            result["curve"] = curve(args.curve, args.device)
            for r in result["curve"]["curve"]:
                print(f"step {r['step']:6d}  {r['seconds']:7.1f} s  held-out PSNR {r['psnr']:.2f} dB")
            w = result["curve"]["within_0.5db"]
            print(f"final {result['curve']['final_psnr']:.2f} dB; within 0.5 dB at step {w['step']} "
                  f"after {w['seconds']:.0f} s ({w['seconds'] / 60:.1f} min)")
        if args.gpu_time:
            result["gpu"] = gpu_time(args.gpu_time, 20)
            g = result["gpu"]
            print(f"{g['device']}: 3840x2160 torch fp16 {g['median_s'] * 1000:.1f} ms (median of 20); end to end "
                  f"(host float32 frame -> GPU, log2, fp16 net, decode -> host) {g['end_to_end_median_s'] * 1000:.1f} ms, "
                  f"from/to pinned host buffers {g['end_to_end_pinned_median_s'] * 1000:.1f} ms "
                  f"(max diff {g['pinned_max_abs_diff']:.1e}); "
                  f"onnxruntime {g['onnxruntime']} providers {g['ort_providers']}")
    else:
        result = {"model": args.model, "quality": evaluate(args.model, args.threads, args.set,
                                                           grades=not args.no_grades)}
        print_quality(result["quality"])
        if not args.no_4k:
            result["cpu_4k"] = t = time_cpu(args.model, args.threads, args.repeats)
            print(f"3840x2160 on {args.threads} CPU thread(s): model {t['model_s']:.2f} s (whole frame "
                  f"{t['model_tile0_s']:.2f} s, tile 1024 {t['model_tile1024_s']:.2f} s); cv2 colour NLM "
                  f"{t['cv2_nlmeans_s']:.2f} s; ratio model/NLM {t['ratio_model_to_nlmeans']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
