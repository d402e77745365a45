"""Dust and dirt: sparse soft-edged specks and hairs, new on every frame.

Dirt stuck on the print blocks the projector's (or scanner's) light: it shows
dark. Dust on the negative blocked the printer's light, so the print stayed
clear there: it shows bright, up to clear base (:data:`BASE_WHITE`). A
frame's speck count is Poisson with mean ``dust_count``; each speck is a blob
(an ellipse with a wobbly outline: low harmonics of its radius) or, for a
fraction ``dust_hairs``, a thin curved hair; radii are lognormal about
``dust_size``; edges ramp over ``dust_softness`` px; opacity varies per speck.
All of it is drawn from the frame's own random stream: every frame has
different dirt.

Pixels: ``float32`` ``HW3`` scene-linear ACEScg, >= 0, in and out. The mask
(``HW`` float32, 0..1) is the opacity of all specks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from core.degrade._common import EffectOutput, composite
from core.degrade._rng import effect_rng
from core.params import Param

NAME = "dust"
POLARITIES = ("dark", "bright", "mixed")
_HARMONICS = 3  # outline wobble: cos(k phi) for k = 2, 3, 4
_HAIR_SEGMENTS = 12

PARAMS = [
    Param("dust_count", float, 0.0, "dust and dirt: mean number of specks per frame (0 = off)",
          minimum=0.0, maximum=2000.0),
    Param("dust_size", float, 2.5, "dust and dirt: median speck radius (px)", minimum=0.3, maximum=100.0),
    Param("dust_polarity", str, "dark", "dark: dirt on the print; bright: dust on the negative; mixed: both",
          choices=POLARITIES),
    Param("dust_opacity", float, 0.9, "dust and dirt: opacity of the densest specks", minimum=0.0, maximum=1.0),
    Param("dust_softness", float, 0.8, "dust and dirt: width of the speck edges (px)", minimum=0.3, maximum=20.0),
    Param("dust_hairs", float, 0.15, "dust and dirt: fraction of specks that are hairs or fibres",
          minimum=0.0, maximum=1.0),
]


def enabled(p: Mapping[str, Any]) -> bool:
    return p["dust_count"] > 0 and p["dust_opacity"] > 0


def _blob(xx: np.ndarray, yy: np.ndarray, radius: float, angle: float, aspect: float,
          harmonics: np.ndarray, softness: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    u = xx * c + yy * s
    v = (-xx * s + yy * c) / aspect
    rho = np.hypot(u, v)
    phi = np.arctan2(v, u)
    edge = np.ones_like(rho)
    for k in range(_HARMONICS):
        edge += harmonics[k, 0] * np.cos((k + 2) * phi + harmonics[k, 1])
    return np.clip(0.5 - (rho - radius * edge) / softness, 0.0, 1.0)


def _hair(xx: np.ndarray, yy: np.ndarray, length: float, angle: float, bend: float,
          half_width: float, softness: float) -> np.ndarray:
    t = np.linspace(-0.5, 0.5, _HAIR_SEGMENTS + 1)
    # a quadratic curve: along the hair, bent sideways by `bend` at the middle
    along = t * length
    side = bend * length * (1.0 - 4.0 * t * t)
    c, s = math.cos(angle), math.sin(angle)
    px, py = along * c - side * s, along * s + side * c
    dist = np.full(xx.shape, np.inf)
    for i in range(_HAIR_SEGMENTS):
        ax, ay, bx, by = px[i], py[i], px[i + 1], py[i + 1]
        dx, dy = bx - ax, by - ay
        seg2 = dx * dx + dy * dy or 1e-12
        tt = np.clip(((xx - ax) * dx + (yy - ay) * dy) / seg2, 0.0, 1.0)
        dist = np.minimum(dist, np.hypot(xx - ax - tt * dx, yy - ay - tt * dy))
    return np.clip(0.5 - (dist - half_width) / softness, 0.0, 1.0)


def specks(p: Mapping[str, Any], *, seed: int, frame: int, width: int, height: int) -> list[dict[str, Any]]:
    """The frame's specks (positions in px, radius, polarity, opacity, shape), drawn from its stream.

    A pure function of (seed, frame, parameters, frame size); every random
    number is drawn up front in fixed-size arrays, so one speck's branch
    never shifts another's values.
    """
    rng = effect_rng(seed, NAME, frame)
    n = int(rng.poisson(p["dust_count"]))
    pos = rng.random((n, 2))
    radius = p["dust_size"] * np.exp(np.clip(0.5 * rng.standard_normal(n), -1.2, 1.6))
    is_hair = rng.random(n) < p["dust_hairs"]
    u_polarity = rng.random(n)
    opacity = p["dust_opacity"] * rng.uniform(0.6, 1.0, n)
    angle = rng.uniform(0.0, math.pi, n)
    aspect = rng.uniform(0.5, 1.0, n)
    harmonics = np.stack([0.12 * rng.standard_normal((n, _HARMONICS)),
                          rng.uniform(0.0, 2 * math.pi, (n, _HARMONICS))], axis=-1)
    hair_length = rng.uniform(5.0, 14.0, n)
    hair_bend = 0.2 * rng.standard_normal(n)
    if p["dust_polarity"] == "mixed":
        dark = u_polarity < 0.5
    else:
        dark = np.full(n, p["dust_polarity"] == "dark")
    out = []
    for i in range(n):
        out.append({
            "x": float(pos[i, 0] * width), "y": float(pos[i, 1] * height), "radius": float(radius[i]),
            "polarity": "dark" if dark[i] else "bright", "hair": bool(is_hair[i]), "opacity": float(opacity[i]),
            "angle": float(angle[i]), "aspect": float(aspect[i]), "harmonics": harmonics[i],
            "length": float(hair_length[i] * radius[i]), "bend": float(hair_bend[i]),
        })
    return out


def render(spk: list[dict[str, Any]], height: int, width: int, softness: float) -> tuple[np.ndarray, np.ndarray]:
    """Opacity masks (dark, bright), ``float32`` ``HW`` in 0..1, of ``spk``."""
    dark = np.zeros((height, width), np.float32)
    bright = np.zeros((height, width), np.float32)
    for s in spk:
        if s["hair"]:
            half_width = max(0.35, 0.12 * s["radius"])
            extent = 0.5 * s["length"] + abs(s["bend"]) * s["length"] + half_width + softness + 1
        else:
            extent = s["radius"] * (1.0 + float(np.abs(s["harmonics"][:, 0]).sum())) + softness + 1
        x0, x1 = max(0, int(s["x"] - extent)), min(width, int(math.ceil(s["x"] + extent)) + 1)
        y0, y1 = max(0, int(s["y"] - extent)), min(height, int(math.ceil(s["y"] + extent)) + 1)
        if x0 >= x1 or y0 >= y1:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float64)
        xx -= s["x"]
        yy -= s["y"]
        if s["hair"]:
            m = _hair(xx, yy, s["length"], s["angle"], s["bend"], half_width, softness)
        else:
            m = _blob(xx, yy, s["radius"], s["angle"], s["aspect"], s["harmonics"], softness)
        target = dark if s["polarity"] == "dark" else bright
        np.maximum(target[y0:y1, x0:x1], (s["opacity"] * m).astype(np.float32), out=target[y0:y1, x0:x1])
    return dark, bright


def apply(rgb: np.ndarray, p: Mapping[str, Any], *, seed: int, frame: int) -> EffectOutput:
    """Composite the frame's specks: dark ones block light, bright ones reveal clear base."""
    h, w = rgb.shape[:2]
    spk = specks(p, seed=seed, frame=frame, width=w, height=h)
    dark, bright = render(spk, h, w, p["dust_softness"])
    out = composite(rgb, dark, bright, out=rgb)  # in place (see _common)
    record = {
        "count": len(spk),
        "dark": sum(s["polarity"] == "dark" for s in spk),
        "bright": sum(s["polarity"] == "bright" for s in spk),
        "hairs": sum(s["hair"] for s in spk),
        "specks": [{k: round(s[k], 3) if isinstance(s[k], float) else s[k]
                    for k in ("x", "y", "radius", "polarity", "hair", "opacity")} for s in spk],
    }
    return EffectOutput(out, record, np.maximum(dark, bright))
