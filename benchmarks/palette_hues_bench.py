"""Hue coverage of palettes on real photos: plain k-means against the energy-aware, covered fit (issue 24 item 1).

    python benchmarks/palette_hues_bench.py [--k 8] [--share 0.01]

Photos: the shipped samples (scikit-image's astronaut, coffee, chelsea,
rocket), opencv-doc's squirrel_cls, butterfly, home and messi5 when
installed, and the forest-path case of ``tests/test_palette_hues.py``
(greenery with a 3% fur path). Each is fitted twice at the same K and
seed: plain (``weight="count"``, no coverage, the reference) and as
``reelkit palette report`` does by default (``weight="energy"``,
``hue_coverage=share``).

Printed per photo and for each fit: hue families holding at least
``share`` of the chroma found / required (full-frame check,
:func:`core.palette.controller.hue_coverage`), the families missed, mean
ΔE00 over all pixels and over high-chroma pixels (OKLab chroma >= 0.1),
and the ratio energy/plain of both. Target (issue 24): every family above
1% found at K=8, mean ΔE over all pixels at most 5% worse than plain.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
HIGH_CHROMA = 0.1


def _photos() -> list[tuple[str, np.ndarray]]:
    from core.io import read_image
    from core.palette.controller import check_image

    samples = Path(__file__).resolve().parent.parent / "core" / "data" / "samples"
    paths = [samples / n for n in ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg")]
    paths += [OPENCV_DATA / n for n in ("squirrel_cls.jpg", "butterfly.jpg", "home.jpg", "messi5.jpg")]
    out = [(p.name, check_image(read_image(p, colorspace="srgb"))[0]) for p in paths if p.is_file()]
    if (OPENCV_DATA / "squirrel_cls.jpg").is_file():
        from tests.test_palette_hues import forest_path

        out.append(("forest path", forest_path()[0]))
    return out


def _measure(image: np.ndarray, fit, share: float) -> dict:
    from core.metrics.deltae import delta_e_2000
    from core.palette import acescg_to_fit, encode, hues
    from core.palette.controller import hue_coverage

    enc = encode(image, fit)
    src = acescg_to_fit(image, "lab").reshape(-1, 3).astype(np.float64)
    got = acescg_to_fit(fit.palette_acescg, "lab").astype(np.float64)[enc.index.reshape(-1).astype(np.int64)]
    de = delta_e_2000(src, got)
    vivid = hues.chroma(acescg_to_fit(image, "oklab")).reshape(-1) >= HIGH_CHROMA
    cov = hue_coverage(image, fit, min_share=share)
    return {"found": len(cov.found), "required": len(cov.required), "missed": cov.missed,
            "de": float(de.mean()), "de_vivid": float(de[vivid].mean()) if vivid.any() else float("nan"),
            "vivid_share": float(vivid.mean()), "pinned": 0 if fit.pinned is None else int(fit.pinned.sum())}


def main(argv: list[str] | None = None) -> int:
    from core.palette import fit_palette

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--share", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    print(f"K={args.k}, families >= {args.share:.1%} of the chroma; ΔE00 all pixels / pixels of OKLab chroma >= "
          f"{HIGH_CHROMA}")
    print(f"{'photo':18s} {'plain fam':>9s} {'energy fam':>10s} {'plain ΔE':>8s} {'energy ΔE':>9s} {'ratio':>6s} "
          f"{'plain ΔEv':>9s} {'energy ΔEv':>10s} {'ratio':>6s}  missed by plain")
    ratios, ratios_vivid, total_missed = [], [], [0, 0]
    for name, image in _photos():
        plain = _measure(image, fit_palette(image, k=args.k, seed=args.seed), args.share)
        energy = _measure(image, fit_palette(image, k=args.k, seed=args.seed, weight="energy",
                                             hue_coverage=args.share), args.share)
        r, rv = energy["de"] / plain["de"], energy["de_vivid"] / plain["de_vivid"]
        ratios.append(r)
        if np.isfinite(rv):
            ratios_vivid.append(rv)
        total_missed[0] += len(plain["missed"])
        total_missed[1] += len(energy["missed"])
        print(f"{name:18s} {plain['found']:>4d}/{plain['required']:<4d} {energy['found']:>5d}/{energy['required']:<4d} "
              f"{plain['de']:8.2f} {energy['de']:9.2f} {r:6.3f} {plain['de_vivid']:9.2f} {energy['de_vivid']:10.2f} "
              f"{rv:6.3f}  {', '.join(plain['missed']) or '-'}"
              + (f" (energy missed {', '.join(energy['missed'])})" if energy["missed"] else ""))
    print(f"families missed: plain {total_missed[0]}, energy-aware {total_missed[1]}; ΔE00 ratio energy/plain: "
          f"mean {np.mean(ratios):.3f}, max {np.max(ratios):.3f}; on vivid pixels mean {np.mean(ratios_vivid):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
