"""Restoration benchmark: the shipped model against classic baselines on held-out real photos, and its speed.

Held-out frames: real photos that no shipped model trains on (``coffee``,
a shipped sample, and scikit-image's ``motorcycle_left`` /
``motorcycle_right``), each degraded by :mod:`core.degrade` with every one
of the four damage presets (:data:`EVAL_PRESETS`; weave left out as in
training: stage 2 aligns it away), two damage draws each, under a seed the
training never used. PSNR is measured on the display encoding (sRGB, 0..1,
clipped) against the clean photo, per preset and over all frames, for:

- the degraded input;
- each classic filter (median, bilateral, OpenCV non-local means, unsharp
  mask), each at a small grid of settings with the best setting per filter
  reported: the filters are tuned on the test set itself (favourable to them);
- a grade-matching baseline (:func:`core.validate.fit_grade`: 3x3 matrix,
  root-polynomial and 3D LUT, best reported), fitted on the *training*
  photos degraded (training seed) -> their clean originals, never on
  held-out pixels: ``grade`` is fitted per preset (it knows the look, as a
  grade fitted on one reel's own pairs does), ``grade_blind`` once over all
  four presets (it knows what the model knows); and the per-preset 3x3
  matrix grade followed by non-local means;
- the model (tiled onnxruntime, :class:`core.infer.Restorer`).

The best baseline is the best of the filters and grades per preset. An
*oracle* global colour correction (a 3x4 affine map fitted to each clean
held-out photo itself, which no real tool can do) is printed for reference.
Then the CPU time of one 3840x2160 frame through the model, next to
OpenCV's colour non-local means on the same frame and threads, in the same run.

Usage::

    python benchmarks/restore_bench.py [--model models/film_restore.onnx] [--threads 2]
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

#: Held-out clean frames (never in the shipped model's training data).
HELD_OUT = ("sample:coffee", "skimage:motorcycle_left", "skimage:motorcycle_right")
#: Damage of the held-out frames: every core.degrade preset, under a seed the training never used.
EVAL_PRESETS = ("faded_16mm", "dusty_35mm", "super8_home_movie", "third_generation_dupe")
EVAL_SEED = 1000
EVAL_VARIANTS = 2
#: Grade baselines are fitted on the shipped model's training photos (its training config), degraded under
#: the training seed, one draw per photo and preset.
TRAIN_CONFIG = Path(__file__).resolve().parents[1] / "models" / "film_restore.train.json"
GRADE_FIT_CLEAN = tuple(json.loads(TRAIN_CONFIG.read_text("utf-8"))["data"]["clean"])
GRADE_FIT_SEED = 0
GRADE_METHODS = ("matrix", "root_poly", "lut3d")
UHD = (2160, 3840)


def load_clean(entry: str) -> np.ndarray:
    """A clean photo (``sample:NAME`` / ``skimage:NAME`` / ``sklearn:NAME``) as ``float32`` ``HW3`` scene-linear ACEScg."""
    from core import color, io
    from core.io.samples import sample_path
    from core.train.data import bundled_media_path

    kind, name = entry.split(":", 1)
    path = sample_path(name) if kind == "sample" else bundled_media_path(entry)
    frame = io.read_image(path, colorspace="srgb")
    px = frame.pixels[..., :3]
    if px.shape[2] == 1:
        px = np.repeat(px, 3, axis=2)
    px = color.convert(px, "srgb", "ACEScg")
    h, w = px.shape[:2]
    return np.ascontiguousarray(px[: h // 4 * 4, : w // 4 * 4], dtype=np.float32)


def _degrade(clean: np.ndarray, *, frame: int, seed: int, preset: str) -> np.ndarray:
    from core.degrade import EFFECTS, degrade_frame

    effects = tuple(e for e in EFFECTS if e != "weave")
    return degrade_frame(clean, frame=frame, seed=seed, preset=preset, effects=effects).pixels


def held_out_frames() -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """``(label, preset, degraded ACEScg, clean ACEScg)`` for every held-out photo, preset and damage draw."""
    out = []
    for entry in HELD_OUT:
        clean = load_clean(entry)
        for preset in EVAL_PRESETS:
            for v in range(EVAL_VARIANTS):
                bad = _degrade(clean, frame=v, seed=EVAL_SEED, preset=preset)
                out.append((f"{entry.split(':', 1)[1]}/{preset}#{v}", preset, bad, clean))
    return out


def to_display(acescg: np.ndarray) -> np.ndarray:
    """ACEScg scene-linear -> sRGB-encoded display values, clipped to 0..1 (``float32`` ``HW3``)."""
    from core import color

    return np.clip(color.convert(acescg, "ACEScg", "srgb", nonfinite="pass"), 0.0, 1.0)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10.0 * math.log10(1.0 / mse) if mse > 0 else float("inf")


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
    cleans = [load_clean(e) for e in GRADE_FIT_CLEAN]
    fits: dict[str, dict[str, object]] = {}
    info: dict = {"clean": list(GRADE_FIT_CLEAN), "seed": GRADE_FIT_SEED, "tool": "core.validate.fit_grade"
                  if fit_grade else "numpy lstsq 3x3", "rms": {}}
    every: list[np.ndarray] = []
    for preset in (*EVAL_PRESETS, "blind"):
        if preset == "blind":
            bad, ref_frames, samples = every, cleans * len(EVAL_PRESETS), 50_000 // len(EVAL_PRESETS)
        else:
            bad, ref_frames, samples = [_degrade(c, frame=0, seed=GRADE_FIT_SEED, preset=preset)
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


def oracle_colour_match(shown: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """The degraded display image under the 3x4 affine colour map that best fits it to the reference
    (least squares over all pixels). An oracle: it looks at the answer, which no real filter can."""
    x = np.concatenate([shown.reshape(-1, 3), np.ones((shown.shape[0] * shown.shape[1], 1), np.float32)], axis=1)
    m, *_ = np.linalg.lstsq(x.astype(np.float64), ref.reshape(-1, 3).astype(np.float64), rcond=None)
    return np.clip(x @ m, 0.0, 1.0).reshape(shown.shape).astype(np.float32)


def _best(settings: dict[str, list[float]]) -> tuple[str, float]:
    name = max(settings, key=lambda s: statistics.mean(settings[s]))
    return name, statistics.mean(settings[name])


def evaluate(model: str, threads: int) -> dict:
    """Held-out PSNR per preset and overall: input, every baseline (best setting), the model, the gains."""
    from core.infer import Restorer

    frames = held_out_frames()
    restorer = Restorer(model, tile=512, provider="cpu", threads=threads)
    grades, grade_info = fit_grades()
    filters = classic_filters()
    groups = {p: [i for i, f in enumerate(frames) if f[1] == p] for p in EVAL_PRESETS}
    groups["all"] = list(range(len(frames)))
    # scores[method][setting] = per-frame PSNR list, in frame order
    scores: dict[str, dict[str, list[float]]] = {"degraded": {"-": []}, "model": {"-": []},
                                                 "oracle_colour": {"-": []}}
    for label, preset, bad, clean in frames:
        ref, shown = to_display(clean), to_display(bad)
        scores["degraded"]["-"].append(psnr(shown, ref))
        for fname, settings in filters.items():
            for sname, fn in settings.items():
                scores.setdefault(fname, {}).setdefault(sname, []).append(psnr(fn(shown), ref))
        for key, which in (("grade", preset), ("grade_blind", "blind")):
            for method, fit in grades[which].items():
                scores.setdefault(key, {}).setdefault(method, []).append(psnr(to_display(fit.apply(bad)), ref))
        # the per-preset 3x3 matrix grade (the one every tool has) then non-local means h5
        matrix = to_display(grades[preset]["matrix"].apply(bad))
        scores.setdefault("grade_matrix+nlmeans", {}).setdefault("h5", []).append(psnr(_nlm(matrix, 5), ref))
        scores["model"]["-"].append(psnr(to_display(restorer.run(bad, name=label)), ref))
        scores["oracle_colour"]["-"].append(psnr(oracle_colour_match(shown, ref), ref))
    baselines = [m for m in scores if m not in ("degraded", "model", "oracle_colour")]
    result: dict = {"frames": [f[0] for f in frames], "presets": list(EVAL_PRESETS), "seed": EVAL_SEED,
                    "grade_fit": grade_info, "per_preset": {}}
    for group, idx in groups.items():
        row: dict = {"frames": len(idx)}
        for method, settings in scores.items():
            sub = {s: [v[i] for i in idx] for s, v in settings.items()}
            name, value = _best(sub)
            row[method] = {"psnr": value} if name == "-" else {"setting": name, "psnr": value}
        best = max(baselines, key=lambda m: row[m]["psnr"])
        row["best_baseline"] = best
        row["gain_over_input_db"] = row["model"]["psnr"] - row["degraded"]["psnr"]
        row["gain_over_best_baseline_db"] = row["model"]["psnr"] - row[best]["psnr"]
        classic = max(filters, key=lambda m: row[m]["psnr"])
        row["best_classic_filter"] = classic
        row["gain_over_best_classic_filter_db"] = row["model"]["psnr"] - row[classic]["psnr"]
        result["per_preset"][group] = row
    result["per_frame"] = {f[0]: {"degraded": scores["degraded"]["-"][i], "model": scores["model"]["-"][i]}
                           for i, f in enumerate(frames)}
    return result


def print_quality(q: dict) -> None:
    cols = ["degraded", "median", "bilateral", "nlmeans", "unsharp", "grade", "grade_blind", "grade_matrix+nlmeans",
            "model"]
    short = {"grade_matrix+nlmeans": "grade+nlm", "degraded": "input", "grade_blind": "grd blind"}
    print(f"held-out: {len(q['frames'])} frames = {len(HELD_OUT)} photos x {len(q['presets'])} presets x "
          f"{EVAL_VARIANTS} draws, seed {q['seed']}; PSNR dB on sRGB display values; grade fitted on "
          f"{len(q['grade_fit']['clean'])} training photos ({q['grade_fit']['tool']})")
    head = f"{'preset':<22}" + "".join(f"{short.get(c, c):>10}" for c in cols)
    print(head + f"{'vs input':>10}{'vs filt':>9}{'vs best':>9}  best baseline")
    for group, row in q["per_preset"].items():
        line = f"{group:<22}" + "".join(f"{row[c]['psnr']:10.2f}" for c in cols)
        best = row["best_baseline"]
        setting = row[best].get("setting", "")
        print(line + f"{row['gain_over_input_db']:+10.2f}{row['gain_over_best_classic_filter_db']:+9.2f}"
                     f"{row['gain_over_best_baseline_db']:+9.2f}  {best} {setting}")
    print("targets: +4 dB over the input, +2 dB over the best baseline (classic filters and grades; per preset and "
          "overall)")
    for group, row in q["per_preset"].items():
        miss = [f"{row['gain_over_input_db']:+.2f} dB over the input"] if row["gain_over_input_db"] < 4 else []
        if row["gain_over_best_classic_filter_db"] < 2:
            miss.append(f"{row['gain_over_best_classic_filter_db']:+.2f} dB over {row['best_classic_filter']}")
        if row["gain_over_best_baseline_db"] < 2 and row["best_baseline"] != row["best_classic_filter"]:
            miss.append(f"{row['gain_over_best_baseline_db']:+.2f} dB over {row['best_baseline']}")
        print(f"  {group:<22} {'MISSED: ' + ', '.join(miss) if miss else 'met'}")
    print("oracle colour match (3x4 affine fitted to each clean held-out photo itself): " +
          ", ".join(f"{g} {r['oracle_colour']['psnr']:.2f}" for g, r in q["per_preset"].items()))


def uhd_frame() -> np.ndarray:
    """A 3840x2160 ACEScg frame (the coffee photo, degraded, resized up): content for timing."""
    import cv2

    from core.degrade import degrade_frame

    clean = load_clean("sample:coffee")
    bad = degrade_frame(clean, frame=0, seed=EVAL_SEED, preset="faded_16mm").pixels
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

    frames = held_out_frames()
    t0 = (run_dir / "config.json").stat().st_mtime
    rows = []
    for step, path in list_checkpoints(run_dir):
        cfg, net = _torch_model(run_dir, path, device)
        side = cfg.model.context
        values = []
        for _, _, bad, clean in frames:
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
        result = {"model": args.model, "quality": evaluate(args.model, args.threads)}
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
