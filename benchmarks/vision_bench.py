"""core.vision measured against the reference tools in the same run: flow, sessions, mattes.

    python benchmarks/vision_bench.py [--size 640x480] [--frames 100] [--threads 2] [--quick]
    python benchmarks/vision_bench.py --picture docs/images/vision_passes.png   # the docs' picture only

1. **Flow EPE on known warps.** Each shipped sample photo at ``--size``
   (area resize, sRGB decoded to ACEScg) is resampled through three known
   smooth flows (cubic spline, SciPy; 1.5-4 px, the kind
   tests/test_vision.py uses). reelkit's ``dis`` and ``refined`` against
   OpenCV's Farneback (``cv2.calcOpticalFlowFarneback`` with the
   parameters of OpenCV's own sample: pyramid 0.5, 3 levels, window 15, 3
   iterations, poly_n 5, sigma 1.2) on the same 8-bit log-luminance images.
   Mean end-point error over pixels 16 px inside the frame, and time per
   flow; ratios Farneback / reelkit.
2. **Session against photo mode over ``--frames`` frames.** A depth model
   (a 6-layer 32-channel convolution net, exported here with torch to
   ONNX; a stand-in with a real model's shape of work, no weights
   downloaded) on a ``--size`` shot: one :class:`~core.vision.session.VisionSession`
   for the shot against a new session per frame (the model read, hashed
   and loaded again each time). And the flow pass: one session (each pair
   once) against the per-frame function (both neighbours' pairs per frame).
3. **Matte IoU on generated ground truth.** Shapes (ellipse, rectangle,
   rounded blob) of one photo composited over another (12 combinations);
   GrabCut + guided filter from the shape's box with a 10 % margin, and
   from a rough mask (the shape dilated by 8 px); IoU of the matte >= 0.5
   with the shape.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.timing import best_of  # noqa: E402

SAMPLES = ("coffee", "astronaut", "chelsea", "rocket")
MARGIN = 16


def photo(name: str, size: tuple[int, int]) -> np.ndarray:
    import cv2

    from core.color import convert
    from core.io.samples import load_sample

    srgb = cv2.resize(load_sample(name).pixels, size, interpolation=cv2.INTER_AREA)
    return convert(np.clip(srgb, 0.0, 1.0), "srgb", "ACEScg").astype(np.float32)


def warped(img: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(fixed, truth)`` with ``fixed(p) = img(p + truth(p))``."""
    from scipy import ndimage

    h, w = img.shape[:2]
    ph = np.random.default_rng(seed).uniform(0, 2 * np.pi, 2)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    fx = 2.5 + 1.5 * np.sin(2 * np.pi * ys / (0.9 * h) + ph[0]) * np.cos(2 * np.pi * xs / (1.1 * w))
    fy = -1.7 + 1.2 * np.cos(2 * np.pi * xs / (0.9 * w) + ph[1]) * np.sin(2 * np.pi * ys / (1.1 * h))
    fixed = np.stack([ndimage.map_coordinates(img[..., c], [ys + fy, xs + fx], order=3, mode="mirror")
                      for c in range(3)], axis=-1).astype(np.float32)
    return fixed, np.stack([fx, fy], axis=-1)


def epe(flow: np.ndarray, truth: np.ndarray) -> float:
    err = np.hypot(flow[..., 0] - truth[..., 0], flow[..., 1] - truth[..., 1])
    return float(err[MARGIN:-MARGIN, MARGIN:-MARGIN].mean())


def bench_flow(size, samples, repeat) -> None:
    import cv2

    from core.vision.flow import flow_codes
    from core.vision.image import log_luma, to_u8

    print(f"1. flow on known warps, {size[0]}x{size[1]}: mean EPE px (time per flow s)")
    print(f"{'pair':14s} {'dis':>15s} {'refined':>15s} {'Farneback':>15s}")
    rows = []
    for name in samples:
        img = photo(name, size)
        for seed in range(3):
            fixed, truth = warped(img, seed)
            a, b = log_luma(fixed), log_luma(img)
            row = []
            for method in ("dis", "refined"):
                t, f = best_of(lambda: flow_codes(a, b, method=method), repeat)
                row += [epe(f, truth), t]
            t, f = best_of(lambda: cv2.calcOpticalFlowFarneback(to_u8(a), to_u8(b), None, 0.5, 3, 15, 3, 5, 1.2, 0),
                           repeat)
            row += [epe(f, truth), t]
            rows.append(row)
            print(f"{name + ' ' + str(seed):14s} {row[0]:7.3f} ({row[1]:5.3f}) {row[2]:7.3f} ({row[3]:5.3f}) "
                  f"{row[4]:7.3f} ({row[5]:5.3f})")
    m = np.mean(rows, axis=0)
    print(f"{'mean':14s} {m[0]:7.3f} ({m[1]:5.3f}) {m[2]:7.3f} ({m[3]:5.3f}) {m[4]:7.3f} ({m[5]:5.3f})")
    print(f"Farneback EPE / dis: {m[4] / m[0]:.1f}x, / refined: {m[4] / m[2]:.1f}x; "
          f"time dis / Farneback {m[1] / m[5]:.2f}x, refined / Farneback {m[3] / m[5]:.2f}x")


def depth_model(folder: Path, size: tuple[int, int]) -> Path:
    """A 6-layer 32-channel conv net as ONNX (input 1x3xHxW at the network ``size``) with its vision entry."""
    import torch

    torch.manual_seed(0)
    layers: list[torch.nn.Module] = [torch.nn.Conv2d(3, 32, 3, padding=1), torch.nn.ReLU()]
    for _ in range(4):
        layers += [torch.nn.Conv2d(32, 32, 3, padding=1), torch.nn.ReLU()]
    layers += [torch.nn.Conv2d(32, 1, 3, padding=1)]
    net = torch.nn.Sequential(*layers).eval()
    path = folder / "depth_bench.onnx"
    torch.onnx.export(net, torch.zeros(1, 3, *size), str(path), input_names=["image"], output_names=["depth"],
                      opset_version=17, dynamo=False)
    data = path.read_bytes()
    entry = {"id": "depth_bench", "task": "depth", "file": path.name, "sha256": hashlib.sha256(data).hexdigest(),
             "licence": "CC0-1.0", "input": {"size": list(size), "resize": "letterbox", "colorspace": "srgb",
                                              "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
             "output": {"channels": 1, "meaning": "benchmark stand-in"}}
    (folder / "manifest.json").write_text(json.dumps({"format": "reelkit.models/1", "models": [],
                                                      "vision": [entry]}))
    return path


def bench_sessions(size, frames, samples) -> None:
    from core.vision.flow import flow_pair
    from core.vision.image import log_luma
    from core.vision.session import VisionSession

    base = photo(samples[0], size)
    shot = [np.roll(base, k, axis=1) for k in range(frames)]
    print(f"\n2. sessions over {frames} frames of {size[0]}x{size[1]}: ms per frame")
    with tempfile.TemporaryDirectory() as tmp:
        model = depth_model(Path(tmp), (256, 256))
        VisionSession("depth", model=model, smoothing=0.0).run(shot[0])  # first-call costs of onnxruntime
        t0 = time.perf_counter()
        session = VisionSession("depth", model=model, smoothing=0.0)
        for px in shot:
            session.run(px)
        one = (time.perf_counter() - t0) / frames
        t0 = time.perf_counter()
        for px in shot:
            VisionSession("depth", model=model, smoothing=0.0).run(px)
        photo_mode = (time.perf_counter() - t0) / frames
    print(f"depth (256x256 net): session {1000 * one:.1f} ms, a session per frame {1000 * photo_mode:.1f} ms: "
          f"{photo_mode / one:.2f}x")
    n = min(frames, 30)
    t0 = time.perf_counter()
    session = VisionSession("flow")
    for k in range(n):
        session.run(shot[k], next=shot[k + 1] if k + 1 < n else None)
    one = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    for k in range(n):
        codes = log_luma(shot[k])
        if k:
            flow_pair(codes, log_luma(shot[k - 1]))
        if k + 1 < n:
            flow_pair(codes, log_luma(shot[k + 1]))
    per_frame = (time.perf_counter() - t0) / n
    print(f"flow (dis, {n} frames): session {1000 * one:.1f} ms, per-frame function {1000 * per_frame:.1f} ms: "
          f"{per_frame / one:.2f}x")


def shapes(h: int, w: int) -> dict[str, np.ndarray]:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    cx, cy = 0.52 * w, 0.5 * h
    ang = np.arctan2(yy - cy, xx - cx)
    r = np.hypot((xx - cx) / (0.2 * w), (yy - cy) / (0.25 * h))
    return {"ellipse": r <= 1.0,
            "rectangle": (np.abs(xx - cx) <= 0.18 * w) & (np.abs(yy - cy) <= 0.28 * h),
            "blob": r <= 1.0 + 0.25 * np.sin(3 * ang)}


def bench_mattes(size, samples) -> None:
    import cv2

    from core.vision.matte import matte

    w, h = size
    print(f"\n3. matte IoU on shapes composited over photos, {w}x{h}")
    print(f"{'foreground':10s} {'background':10s} {'shape':9s} {'box IoU':>8s} {'mask IoU':>8s} {'time s':>7s}")
    rows = []
    for i, fg_name in enumerate(samples):
        bg_name = samples[(i + 1) % len(samples)]
        fg, bg = photo(fg_name, size), photo(bg_name, size)
        for name, shape in shapes(h, w).items():
            comp = np.where(shape[..., None], fg, bg)
            ys, xs = np.nonzero(shape)
            mx, my = int(0.1 * (xs.max() - xs.min())), int(0.1 * (ys.max() - ys.min()))
            box = (max(0, xs.min() - mx), max(0, ys.min() - my), 0, 0)
            box = (box[0], box[1], min(w, xs.max() + mx) - box[0], min(h, ys.max() + my) - box[1])
            rough = cv2.dilate(shape.astype(np.uint8), np.ones((17, 17), np.uint8)).astype(np.float32)
            t, m_box = best_of(lambda: matte(comp, box=box))
            m_mask = matte(comp, mask=rough)
            ious = [float(((m[..., 0] >= 0.5) & shape).sum() / ((m[..., 0] >= 0.5) | shape).sum())
                    for m in (m_box, m_mask)]
            rows.append(ious)
            print(f"{fg_name:10s} {bg_name:10s} {name:9s} {ious[0]:8.3f} {ious[1]:8.3f} {t:7.2f}")
    r = np.array(rows)
    print(f"IoU from a box: mean {r[:, 0].mean():.3f}, worst {r[:, 0].min():.3f}; from a rough mask: mean "
          f"{r[:, 1].mean():.3f}, worst {r[:, 1].min():.3f}")


VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def flow_picture(flow: np.ndarray, most: float) -> np.ndarray:
    """``uint8`` ``HW3`` of a ``HW2`` flow: hue = direction, brightness = length (``most`` px = full)."""
    import cv2

    mag, ang = cv2.cartToPolar(flow[..., 0].astype(np.float32), flow[..., 1].astype(np.float32))
    hsv = np.zeros((*flow.shape[:2], 3), np.uint8)
    hsv[..., 0] = (ang * (90 / np.pi)).astype(np.uint8)
    hsv[..., 1] = 255
    hsv[..., 2] = np.clip(mag / most * 255, 0, 255).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def picture(path: Path) -> None:
    """The docs' picture: frames 100-101 of opencv-doc's vtest.avi (a street) through the flow and saliency
    passes, and the astronaut photo's matte from a box, as one contact sheet."""
    import cv2

    from core import io
    from core.color import convert
    from core.color.preview import acescg_to_srgb_preview
    from core.io.samples import load_sample
    from core.sheets import contact_sheet
    from core.vision import VisionSession

    a, b = (io.read_frame(VTEST, n) for n in (100, 101))
    flow = VisionSession("flow").run(a, next=b)
    sal = VisionSession("saliency", method="fine_grained").run(a)["saliency"]
    h, w = a.height, a.width
    grey = lambda m: np.repeat(np.clip(m * 255, 0, 255).astype(np.uint8), 3, axis=2)  # noqa: E731
    astro = convert(load_sample("astronaut").pixels, "srgb", "ACEScg").astype(np.float32)
    box = (20, 15, 420, 497)
    matte = VisionSession("matte", box=box).run(astro)["matte"]
    shown = acescg_to_srgb_preview(astro * matte)
    cv2.rectangle(shown, box[:2], (box[0] + box[2], box[1] + box[3]), (255, 200, 0), 3)
    fit = lambda img: cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)  # noqa: E731
    tiles = [("vtest.avi frame 100", acescg_to_srgb_preview(convert(a.pixels, "srgb", "ACEScg"))),
             ("forward flow (hue: direction)", flow_picture(flow["forward"], 2.0)),
             ("consistency (black: not trusted)", grey(flow["consistency"][..., 1:2])),
             ("saliency, fine grained", grey(sal)),
             ("astronaut: box", fit(acescg_to_srgb_preview(astro))),
             ("matte from the box", fit(shown))]
    tiles[4][1][...] = fit(cv2.rectangle(acescg_to_srgb_preview(astro), box[:2],
                                         (box[0] + box[2], box[1] + box[3]), (255, 200, 0), 3))
    sheet = contact_sheet(tiles, cols=3, max_width=1050)
    io.write_image(path, sheet.astype(np.float32) / 255.0, colorspace="srgb", bit_depth=8, overwrite=True)
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="640x480", help="frame size WxH")
    ap.add_argument("--frames", type=int, default=100, help="frames of the session measurement")
    ap.add_argument("--threads", type=int, default=2, help="OpenCV and onnxruntime threads")
    ap.add_argument("--repeat", type=int, default=1, help="time each flow this many times, keep the best")
    ap.add_argument("--quick", action="store_true", help="one photo, 20 frames")
    ap.add_argument("--picture", type=Path, help="only write the docs' picture (a PNG) here")
    args = ap.parse_args(argv)
    import cv2

    if args.picture:
        picture(args.picture)
        return 0
    cv2.setNumThreads(args.threads)
    size = tuple(int(v) for v in args.size.lower().split("x"))
    samples = SAMPLES[:1] if args.quick else SAMPLES
    print(f"vision bench: OpenCV {cv2.__version__}, {args.threads} threads, numpy {np.__version__}")
    bench_flow(size, samples, args.repeat)
    bench_sessions(size, 20 if args.quick else args.frames, SAMPLES)
    bench_mattes(size, SAMPLES[:2] if args.quick else SAMPLES)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
