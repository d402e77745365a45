"""core.infer on a 4K frame: tiled inference against the same ONNX model run on the whole frame, in one run.

    python benchmarks/infer_bench.py [--reps 2] [--size 3840x2160] [--channels 32] [--blocks 4]
                                     [--tile 512] [--overlap 0] [--threads 2] [--provider cpu]
                                     [--encoding log2] [--skip-whole]

The model: no trained model ships yet, so the benchmark exports a
representative one with ``onnx.helper``: the shape of
``core.train``'s ``resnet_small`` — a 3x3 head convolution (3 -> 32
channels), ``--blocks`` residual blocks (3x3 conv, ReLU, 3x3 conv, skip
scaled by 0.1), a 3x3 tail convolution (32 -> 3) and a global residual add;
seeded random weights (He-normal / 2), dynamic H and W, float32, opset 17.
Receptive field ``1 + 2 * (2 + 2 * blocks)`` (21 for 4 blocks). Its
manifest declares ACEScg, the ``--encoding``, ``multiple_of`` 1.

The frame: the shipped coffee photo (8-bit sRGB) upscaled to 3840x2160 with
OpenCV bicubic and converted to ACEScg: float32 HW3.

Timed, interleaved rep by rep (the machine is shared), median reported:

- tiled: ``Restorer(model, tile=512, overlap=auto).run(frame)`` —
  encoding, reflect padding, every tile through onnxruntime, decoding,
  feathered blending;
- whole frame: ``Restorer(model, tile=0).run(frame)`` — the same call, one
  tile covering the padded frame (onnxruntime sees 3882x2202 at once);
- for information: ``encode_pixels`` + ``decode_pixels`` of the frame alone.

Also printed: the largest |tiled - whole| (target < 1e-3), onnxruntime's
providers and thread count, and the session load time (once per job).

Targets: tiled inference of a 3840x2160 frame under 15 s on 2 CPU cores;
max |tiled - whole| < 1e-3. Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TARGET_S = 15.0
TARGET_DIFF = 1e-3


def export_resnet(path: Path, *, channels: int, blocks: int, seed: int = 0) -> int:
    """Write the benchmark network to ``path``; returns its receptive field."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    inits, nodes = [], []

    def conv(src: str, c_in: int, c_out: int, name: str) -> str:
        w = rng.normal(0, math.sqrt(2.0 / (9 * c_in)) * 0.5, (c_out, c_in, 3, 3)).astype(np.float32)
        b = rng.normal(0, 0.01, c_out).astype(np.float32)
        inits.extend([numpy_helper.from_array(w, f"{name}.w"), numpy_helper.from_array(b, f"{name}.b")])
        nodes.append(helper.make_node("Conv", [src, f"{name}.w", f"{name}.b"], [name], pads=[1, 1, 1, 1]))
        return name

    inits.append(numpy_helper.from_array(np.array(0.1, np.float32), "res_scale"))
    x = conv("input", 3, channels, "head")
    for i in range(blocks):
        a = conv(x, channels, channels, f"block{i}.conv1")
        nodes.append(helper.make_node("Relu", [a], [f"block{i}.relu"]))
        b = conv(f"block{i}.relu", channels, channels, f"block{i}.conv2")
        nodes.append(helper.make_node("Mul", [b, "res_scale"], [f"block{i}.scaled"]))
        nodes.append(helper.make_node("Add", [x, f"block{i}.scaled"], [f"block{i}.out"]))
        x = f"block{i}.out"
    t = conv(x, channels, 3, "tail")
    nodes.append(helper.make_node("Add", ["input", t], ["output"]))
    graph = helper.make_graph(
        nodes, "resnet_bench",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, "h", "w"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, "h", "w"])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="reelkit-bench")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return 1 + 2 * (2 + 2 * blocks)


def make_frame(width: int, height: int) -> np.ndarray:
    import cv2

    import core.color as cc

    bgr = cv2.imread(str(REPO / "core" / "data" / "samples" / "coffee.png"), cv2.IMREAD_COLOR)
    srgb = np.ascontiguousarray(bgr[..., ::-1], dtype=np.float32) / np.float32(255.0)
    big = np.clip(cv2.resize(srgb, (width, height), interpolation=cv2.INTER_CUBIC), 0.0, 1.0)
    return np.ascontiguousarray(cc.convert(big, "srgb", "ACEScg"), dtype=np.float32)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--size", default="3840x2160")
    ap.add_argument("--channels", type=int, default=32)
    ap.add_argument("--blocks", type=int, default=4)
    ap.add_argument("--tile", type=int, default=512)
    ap.add_argument("--overlap", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads (the target is 2 cores)")
    ap.add_argument("--provider", default="cpu", choices=("auto", "cpu", "cuda"))
    ap.add_argument("--encoding", default="log2")
    ap.add_argument("--skip-whole", action="store_true", help="skip the whole-frame run (it needs several GB)")
    args = ap.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))

    import onnxruntime

    from core.infer import Restorer, decode_pixels, encode_pixels, write_model_manifest

    folder = Path(tempfile.mkdtemp(prefix="reelkit-infer-bench-"))
    model = folder / "resnet_bench.onnx"
    rf = export_resnet(model, channels=args.channels, blocks=args.blocks)
    write_model_manifest(model, name="resnet_bench", version="0", encoding=args.encoding, receptive_field=rf,
                         training={"note": "random weights, benchmarks/infer_bench.py"})
    frame = make_frame(width, height)
    print(f"python {platform.python_version()}, numpy {np.__version__}, onnxruntime {onnxruntime.__version__}, "
          f"{os.cpu_count()} CPUs visible, {platform.processor() or platform.machine()}")
    print(f"model: residual CNN, {args.channels} channels, {args.blocks} blocks ({2 + 2 * args.blocks} 3x3 convs), "
          f"receptive field {rf}, {model.stat().st_size / 1024:.0f} KiB, encoding {args.encoding}")
    print(f"frame: {width}x{height}x3 float32 ACEScg ({frame.nbytes / 2**20:.0f} MiB)")

    t0 = time.perf_counter()
    tiled = Restorer(model, tile=args.tile, overlap=args.overlap, provider=args.provider, threads=args.threads)
    load = time.perf_counter() - t0
    runners = {"tiled": tiled}
    if not args.skip_whole:
        runners["whole"] = Restorer(model, tile=0, provider=args.provider, threads=args.threads)
    print(f"session: {', '.join(tiled.providers)}, {args.threads} threads, load {load:.2f} s; "
          f"tiling {tiled.tile} px, overlap {tiled.overlap} px")

    def encode_decode() -> float:
        t = time.perf_counter()
        decode_pixels(encode_pixels(frame, args.encoding), args.encoding)
        return time.perf_counter() - t

    times: dict[str, list[float]] = {name: [] for name in runners}
    times["encode+decode"] = []
    outs: dict[str, np.ndarray] = {}
    for _ in range(args.reps):
        for name, r in runners.items():
            t = time.perf_counter()
            outs[name] = r.run(frame)
            times[name].append(time.perf_counter() - t)
        times["encode+decode"].append(encode_decode())
        print("  rep: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()))
    med = {k: statistics.median(v) for k, v in times.items()}
    tiles = tiled.tiles_run // args.reps
    print(f"\ntiled ({tiles} tiles of {tiled.tile} px), median of {args.reps}: {med['tiled']:.2f} s "
          f"({width * height / med['tiled'] / 1e6:.2f} Mpx/s)")
    print(f"encode + decode ({args.encoding}) alone: {med['encode+decode']:.2f} s")
    ok = med["tiled"] < TARGET_S
    print(f"target: tiled {width}x{height} under {TARGET_S:.0f} s on {args.threads} threads: {'PASS' if ok else 'FAIL'}")
    if "whole" in runners:
        diff = float(np.abs(outs["tiled"] - outs["whole"]).max())
        print(f"whole frame, median of {args.reps}: {med['whole']:.2f} s; time ratio tiled / whole = "
              f"{med['tiled'] / med['whole']:.2f}")
        passed = diff < TARGET_DIFF
        ok &= passed
        print(f"max |tiled - whole| over the frame: {diff:.2e} (target < {TARGET_DIFF:g}: "
              f"{'PASS' if passed else 'FAIL'})")
    for f in folder.iterdir():
        f.unlink()
    folder.rmdir()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
