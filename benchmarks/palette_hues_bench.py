"""Does the palette keep the small hot colours? Plain k-means, energy-aware k-means and Rec.709 luma (issue 24).

    python benchmarks/palette_hues_bench.py [--set test|dev] [--k 8] [--share 0.01] [--no-photos]

Images (``--set test``, the default: the issue's set, measured once per change):

- generated (``core.generate`` fBm noise, 512x288, bit-exact): *fire*
  (the top 2% of one fBm field through a blackbody ramp, deep red ->
  orange -> yellow -> white up to 3.0, on a textured grey ground from a
  second field), *plasma* (the same through a violet -> magenta -> orange
  -> yellow ramp) and *magic* (a cyan glow on 2% and magenta sparks on
  0.7%, from two fields, on the same ground);
- real photos: the shipped samples (scikit-image's astronaut, coffee,
  chelsea, rocket), opencv-doc's squirrel_cls, butterfly, home and messi5
  when installed, and the forest-path case of ``tests/test_palette_hues.py``
  (greenery with a 3% fur path).

``--set dev`` (where parameters are chosen): the same three generated
kinds from other seeds, and other photos: scikit-image's ihc, retina,
hubble_deep_field and motorcycle_left, opencv-doc's baboon, fruits,
HappyFish, orange, starry_night, smarties, aero1, graf1, rubberwhale1
and building.

Each image is fitted at the same K and seed twice: *plain* (``weight=
"count"``, no coverage) and *energy* (``weight="energy"``,
``hue_coverage=share``: what ``reelkit palette report`` does by default).

Printed per image: the OKLab hue families holding at least ``share`` of the
chroma (:mod:`core.palette.hues`) and how many each fit found (recall);
mean ΔE00 over all pixels and over high-chroma pixels (OKLab chroma >= 0.1)
with the ratio energy/plain; and *hue confusion*: of all pairs of chromatic
pixels of different hue families, the fraction that share a band, for K
equal-population Rec.709 luma bands, and for the K palette entries (the
gradient map's bands) of each fit. Lower is better: 0 = every band holds
one family. Targets (issue 24 item 2): energy recall of every family above
1% at K=8; mean ΔE over all pixels at most 5% worse than plain.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
HIGH_CHROMA = 0.1
SIZE = (512, 288)
#: ACEScg ramps (position 0..1, colour), scene-linear.
BLACKBODY = ((0.0, (0.25, 0.01, 0.0)), (0.35, (1.0, 0.25, 0.02)), (0.7, (1.5, 1.1, 0.2)), (1.0, (3.0, 3.0, 2.6)))
PLASMA = ((0.0, (0.05, 0.0, 0.3)), (0.4, (0.6, 0.02, 0.5)), (0.75, (1.2, 0.35, 0.05)), (1.0, (2.0, 1.8, 0.3)))
GLOW = ((0.0, (0.0, 0.25, 0.35)), (0.6, (0.1, 0.9, 1.2)), (1.0, (1.5, 2.2, 2.4)))
SPARKS = ((0.0, (0.5, 0.02, 0.4)), (1.0, (2.0, 0.4, 1.6)))


# -- images ---------------------------------------------------------------------------------------------------


def _field(seed: int, size: float = 140.0) -> np.ndarray:
    """fBm noise 0..1 (``HW`` float64) from ``core.generate`` (6 octaves, gamma 1)."""
    from core.generate import generate

    params = {"octaves": 6, "size": size, "size_y": size, "gamma": 1.0}
    return generate("noise", params, seed=seed, width=SIZE[0], height=SIZE[1]).pixels[..., 0].astype(np.float64)


def _ramp(t: np.ndarray, stops) -> np.ndarray:
    pos = np.array([s[0] for s in stops])
    cols = np.array([s[1] for s in stops])
    return np.stack([np.interp(t, pos, cols[:, i]) for i in range(3)], axis=-1)


def _ground(seed: int) -> np.ndarray:
    """A textured, nearly neutral ground: ACEScg 0.01..0.51 from a finer fBm field."""
    v = _field(seed, size=60.0)
    return (0.01 + 0.5 * v * v)[..., None] * np.array([1.0, 0.97, 1.02])


def _hot(image: np.ndarray, seed: int, stops, share: float) -> None:
    """Paint the top ``share`` of an fBm field through ``stops`` (0 at the threshold, 1 at the field's maximum)."""
    v = _field(seed)
    threshold = np.quantile(v, 1.0 - share)
    hot = v > threshold
    image[hot] = _ramp((v[hot] - threshold) / (v.max() - threshold), stops)


def generated(seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """fire, plasma and magic; ``seed`` 0 is the test set's, another gives other fields (the dev set: 100)."""
    fire = _ground(101 + seed)
    _hot(fire, 1 + seed, BLACKBODY, 0.02)
    plasma = _ground(102 + seed)
    _hot(plasma, 2 + seed, PLASMA, 0.02)
    magic = _ground(103 + seed)
    _hot(magic, 3 + seed, GLOW, 0.02)
    _hot(magic, 4 + seed, SPARKS, 0.007)
    tag = f" {seed}" if seed else ""
    return [(n + tag, im.astype(np.float32)) for n, im in (("fire", fire), ("plasma", plasma), ("magic", magic))]


def _read(paths: list[Path]) -> list[tuple[str, np.ndarray]]:
    from core.io import read_image
    from core.palette.controller import check_image

    out = []
    for p in paths:
        if p.is_file():
            image = check_image(read_image(p, colorspace="srgb"))[0]
            out.append((p.name, np.ascontiguousarray(image[..., :3])))
    return out


def photos() -> list[tuple[str, np.ndarray]]:
    samples = Path(__file__).resolve().parent.parent / "core" / "data" / "samples"
    paths = [samples / n for n in ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg")]
    paths += [OPENCV_DATA / n for n in ("squirrel_cls.jpg", "butterfly.jpg", "home.jpg", "messi5.jpg")]
    out = _read(paths)
    if (OPENCV_DATA / "squirrel_cls.jpg").is_file():
        from tests.test_palette_hues import forest_path

        out.append(("forest path", forest_path()[0]))
    return out


def dev_photos() -> list[tuple[str, np.ndarray]]:
    """The dev set's photos (none of them in the test set)."""
    import skimage

    skdata = Path(skimage.__file__).resolve().parent / "data"
    paths = [skdata / n for n in ("ihc.png", "retina.jpg", "hubble_deep_field.jpg", "motorcycle_left.png")]
    paths += [OPENCV_DATA / n for n in ("baboon.jpg", "fruits.jpg", "HappyFish.jpg", "orange.jpg", "starry_night.jpg",
                                        "smarties.png", "aero1.jpg", "graf1.png", "rubberwhale1.png", "building.jpg")]
    return _read(paths)


# -- measures -------------------------------------------------------------------------------------------------


def confusion(bands: np.ndarray, families: np.ndarray, n_bands: int) -> float:
    """Of all pairs of chromatic pixels of different families, the fraction that share a band."""
    from core.palette import hues

    keep = families >= 0
    b, f = bands[keep].astype(np.int64), families[keep].astype(np.int64)
    nf = len(hues.FAMILIES)
    table = np.bincount(b * nf + f, minlength=n_bands * nf).reshape(n_bands, nf).astype(np.float64)
    per_band = table.sum(axis=1)
    per_family = table.sum(axis=0)
    total = (per_family.sum() ** 2 - (per_family ** 2).sum()) / 2
    shared = ((per_band ** 2 - (table ** 2).sum(axis=1)) / 2).sum()
    return float(shared / total) if total > 0 else 0.0


def luma_bands(image: np.ndarray, k: int) -> np.ndarray:
    """``HW`` band 0..k-1 of each pixel: ``k`` equal-population bands of Rec.709 luma."""
    from core.palette.luma import rec709_luma

    luma = rec709_luma(image[..., :3]).reshape(-1).astype(np.float64)
    edges = np.quantile(luma, np.linspace(0, 1, k + 1)[1:-1])
    return np.searchsorted(edges, luma, side="right")


def measure(image: np.ndarray, fit, share: float, families: np.ndarray, vivid: np.ndarray) -> dict:
    from core.metrics.deltae import delta_e_2000
    from core.palette import acescg_to_fit, encode
    from core.palette.controller import hue_coverage

    enc = encode(image, fit)
    index = enc.index.reshape(-1).astype(np.int64)
    src = acescg_to_fit(image, "lab").reshape(-1, 3).astype(np.float64)
    got = acescg_to_fit(fit.palette_acescg, "lab").astype(np.float64)[index]
    de = delta_e_2000(src, got)
    cov = hue_coverage(image, fit, min_share=share)
    return {"found": len(cov.found), "required": len(cov.required), "missed": cov.missed,
            "de": float(de.mean()), "de_vivid": float(de[vivid].mean()) if vivid.any() else float("nan"),
            "confusion": confusion(index, families, fit.k)}


def main(argv: list[str] | None = None) -> int:
    from core.palette import acescg_to_fit, fit_palette, hues

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--share", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-photos", action="store_true", help="generated images only")
    ap.add_argument("--set", choices=("test", "dev"), default="test",
                    help="test: the issue's images (report); dev: other seeds and photos (tune here)")
    args = ap.parse_args(argv)
    print(f"K={args.k}; families >= {args.share:.1%} of the chroma; ΔE00 over all pixels / over pixels of OKLab "
          f"chroma >= {HIGH_CHROMA}; hue confusion: share of different-family pixel pairs in one band")
    print(f"{'image':16s} {'recall':>5s} {'plain':>5s} {'energy':>6s} | {'ΔE plain':>8s} {'energy':>6s} {'ratio':>5s} | "
          f"{'ΔEv plain':>9s} {'energy':>6s} {'ratio':>5s} | {'conf luma':>9s} {'plain':>5s} {'energy':>6s} | missed "
          f"by plain")
    rows = []
    if args.set == "dev":
        images = generated(100) + ([] if args.no_photos else dev_photos())
    else:
        images = generated() + ([] if args.no_photos else photos())
    for name, image in images:
        ok = acescg_to_fit(image, "oklab")
        families = hues.family_of(ok).reshape(-1)
        vivid = hues.chroma(ok).reshape(-1) >= HIGH_CHROMA
        plain = measure(image, fit_palette(image, k=args.k, seed=args.seed), args.share, families, vivid)
        energy = measure(image, fit_palette(image, k=args.k, seed=args.seed, weight="energy",
                                            hue_coverage=args.share), args.share, families, vivid)
        luma = confusion(luma_bands(image, args.k), families, args.k)
        r, rv = energy["de"] / plain["de"], energy["de_vivid"] / plain["de_vivid"]
        rows.append((plain, energy, luma, r, rv))
        print(f"{name:16s} {plain['required']:>5d} {plain['found']:>5d} {energy['found']:>6d} | {plain['de']:8.2f} "
              f"{energy['de']:6.2f} {r:5.3f} | {plain['de_vivid']:9.2f} {energy['de_vivid']:6.2f} {rv:5.3f} | "
              f"{luma:9.3f} {plain['confusion']:5.3f} {energy['confusion']:6.3f} | {', '.join(plain['missed']) or '-'}"
              + (f" (energy missed {', '.join(energy['missed'])})" if energy["missed"] else ""))
    required = sum(p["required"] for p, *_ in rows)
    ratios = [r for *_, r, _ in rows]
    vivid_ratios = [rv for *_, rv in rows if np.isfinite(rv)]
    print(f"recall: plain {sum(p['found'] for p, *_ in rows)}/{required}, energy {sum(e['found'] for _, e, *_ in rows)}"
          f"/{required}; ΔE00 ratio energy/plain: mean {np.mean(ratios):.3f}, max {np.max(ratios):.3f} (target <= 1.05); "
          f"vivid pixels mean {np.mean(vivid_ratios):.3f}; hue confusion mean: luma {np.mean([lu for *_, lu, _, _ in rows]):.3f}, "
          f"plain {np.mean([p['confusion'] for p, *_ in rows]):.3f}, energy {np.mean([e['confusion'] for _, e, *_ in rows]):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
