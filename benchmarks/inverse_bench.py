"""Inverse model on one core.generate family: parameter error of the CNN alone, then after CMA-ES refinement.

    OMP_NUM_THREADS=1 python benchmarks/inverse_bench.py [--train 400] [--test 50] [--steps 300] [--evals 200]
                                                         [--size 64] [--work DIR]

``--family shape`` (the default), 4 learned params: ``shape`` in {circle,
box, ring} (categorical), ``center_x``, ``center_y`` in 0.3..0.7
(fractions of the frame), ``radius`` in 0.1..0.3 (fraction of the
height); everything else fixed (ring thickness 0.06). ``--family
repetition``: ``element`` in {ring, square, bar}, ``repeats`` 1..6 (an
integer), ``filled`` (a boolean), ``radius`` 0.03..0.06, ``origin_x``
0.12..0.28 (a row of equal elements 0.13 of the height apart). A bar
is always filled, so ``filled`` is invisible on bars: its accuracy there
is chance. A training set (seed 1) and a held-out
set (seed 2) are made by :func:`core.inverse.data.make_dataset`, the CNN is
trained by :func:`core.inverse.train.train_inverse` (CPU, one thread),
predictions run on onnxruntime, and each held-out image is refined with
:func:`core.inverse.refine.refine` (MSE of log2 encodings, ``--evals``
renders, seed 0) from the CNN's prediction and spread.

Printed: categorical accuracy; per continuous param the mean absolute
error as a share of its range, CNN alone and after refinement (and their
ratio); the image loss before/after; SSIM of the re-render against the
target; CNN time per image (onnxruntime, batch 1, one thread).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from core.inverse.data import load_dataset, make_dataset
from core.inverse.generators import generator
from core.inverse.predict import InversePredictor
from core.inverse.refine import refine
from core.inverse.space import ParamSpace
from core.inverse.train import train_inverse
from core.metrics.image import ssim

#: family -> (learned params with their ranges / choices, fixed values)
CASES = {
    "shape": ({"shape": ("circle", "box", "ring"), "center_x": (0.3, 0.7), "center_y": (0.3, 0.7),
               "radius": (0.1, 0.3)}, {"thickness": 0.06}),
    "repetition": ({"element": ("ring", "square", "bar"), "repeats": (1, 6), "filled": None, "radius": (0.03, 0.06),
                    "origin_x": (0.12, 0.28)}, {"scale_step": 0.0, "step_x": 0.13, "thickness": 0.015}),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", type=int, default=400)
    ap.add_argument("--test", type=int, default=50)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--evals", type=int, default=200)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--work", default="")
    ap.add_argument("--family", default="shape", choices=tuple(CASES))
    args = ap.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="inverse_bench_"))
    gen = generator(f"generate:{args.family}")
    space = ParamSpace.from_spec(gen.spec, *CASES[args.family])
    t = time.perf_counter()
    make_dataset(gen, space, work / "train", count=args.train, seed=1, width=args.size, height=args.size)
    make_dataset(gen, space, work / "test", count=args.test, seed=2, width=args.size, height=args.size)
    print(f"data: {args.train} + {args.test} images {args.size}x{args.size} in {time.perf_counter() - t:.1f} s")
    result = train_inverse(work / "train", work / "model", steps=args.steps, batch_size=32, seed=0, threads=1)
    h = result.history
    first = np.mean([r["loss"] for r in h[:10]])
    print(f"train: {args.steps} steps in {result.metrics['seconds']:.1f} s, loss {first:.4f} (first 10) -> "
          f"{result.metrics['loss']:.4f} (last 20)")
    test = load_dataset(work / "test")
    predictor = InversePredictor(result.onnx, threads=1)
    t = time.perf_counter()
    preds = [predictor.predict([im])[0] for im in test.images]
    per_image_ms = 1000 * (time.perf_counter() - t) / len(test)
    names = [d.name for d in space.continuous]
    spans = np.array([d.high - d.low for d in space.continuous])
    truth = np.array([[p[n] for n in names] for p in test.params])
    cnn = np.array([[p.params[n] for n in names] for p in preds])
    heads = [d.name for d in (*space.categorical, *space.boolean)]
    ok = np.array([all(p.params[k] == q[k] for k in heads) for p, q in zip(preds, test.params)])
    acc = {k: np.mean([p.params[k] == q[k] for p, q in zip(preds, test.params)]) for k in heads}
    refined, before, after, ssim_cnn, ssim_ref = [], [], [], [], []
    t = time.perf_counter()
    for im, p in zip(test.images, preds):
        r = refine(gen, im, p.params, space, sigma=p.sigma, seed=0, max_evals=args.evals)
        refined.append([r.params[n] for n in names])
        before.append(r.loss_before)
        after.append(r.loss_after)
        ssim_cnn.append(ssim(gen.render(gen.spec.resolve(p.params), 0, args.size, args.size), im))
        ssim_ref.append(ssim(gen.render(r.params, 0, args.size, args.size), im))
    refine_s = (time.perf_counter() - t) / len(test)
    refined = np.array(refined)
    err_cnn = np.abs(cnn - truth) / spans
    err_ref = np.abs(refined - truth) / spans
    print(f"held-out {len(test)} images: accuracy {', '.join(f'{k} {v:.1%}' for k, v in acc.items())}; "
          f"CNN {per_image_ms:.2f} ms/image; "
          f"refinement {refine_s:.2f} s/image ({args.evals} evaluations)")
    print(f"{'param':10s} {'CNN err':>9s} {'refined':>9s} {'ratio':>7s}   (mean |error| / range)")
    for k, n in enumerate(names):
        a, b = err_cnn[:, k].mean(), err_ref[:, k].mean()
        print(f"{n:10s} {a:9.4f} {b:9.4f} {a / max(b, 1e-12):7.1f}x")
    print(f"{'all':10s} {err_cnn.mean():9.4f} {err_ref.mean():9.4f} {err_cnn.mean() / err_ref.mean():7.1f}x"
          f"   (classes right only: {err_cnn[ok].mean():.4f} -> {err_ref[ok].mean():.4f})")
    for k, d in enumerate(space.continuous):
        if d.integer:
            print(f"{d.name}: exact {np.mean(cnn[:, k] == truth[:, k]):.1%} (CNN), "
                  f"{np.mean(refined[:, k] == truth[:, k]):.1%} (refined)")
    print(f"image loss (log2 MSE) median {np.median(before):.2e} -> {np.median(after):.2e}; "
          f"SSIM mean {np.mean(ssim_cnn):.4f} -> {np.mean(ssim_ref):.4f}")


if __name__ == "__main__":
    main()
