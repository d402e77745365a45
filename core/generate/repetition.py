"""Repetition scenes: one element repeated N times along scale, rotation, alpha and position progressions.

Element ``i`` (0 .. ``repeats``-1) of kind ``element`` is drawn at
``origin + (step_x, step_y) * u(position_mode, i)``, scaled by
``scale_start + scale_step * u(scale_mode, i)``, rotated by
``rotation_start + rotation_step * u(rotation_mode, i)`` degrees, with opacity
``alpha_start + alpha_step * u(alpha_mode, i)`` (clipped to 0..1), in
``color`` over the elements before it and the ``background``. The whole
scene is then moved by ``scene_x``/``scene_y``, rotated by ``scene_rotate``
and scaled by ``scene_scale`` about the image centre. Lengths are fractions
of the image height.

Progressions ``u(mode, i)`` (:data:`PROGRESSIONS`), each 0 at ``i = 0``:
``linear`` i; ``exponential`` 1.5**i - 1; ``additive`` 1 + 2 + ... + i;
``fibonacci`` F(i) (0, 1, 1, 2, 3, 5...); ``golden`` phi**i - 1; ``sine``
sin(i / repeats turns); rotation also has ``golden_angle``: i * 137.5077...
degrees (times ``rotation_step``).

A parameter space of continuous, categorical and boolean values in flat
keys, for the inverse model to learn. Output: ``float32`` ``HW3``
scene-linear ACEScg, >= 0. The seed is unused (the scene is fully
described by its parameters).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.generate import sdf
from core.generate._math import sin_cos_degrees, sin_cos_turns
from core.generate._tiles import pixel_centres, render_bands
from core.generate.family import Family, color_of, color_params, color_sampling
from core.params import Param, ParamSet

ELEMENTS = ("ring", "bar", "line", "arch", "u", "spiral", "wave", "infinity", "square", "rounded_rect")
PROGRESSIONS = ("linear", "exponential", "additive", "fibonacci", "golden", "sine")
GOLDEN_RATIO = 1.618033988749895
GOLDEN_ANGLE = 137.50776405003785
_MAX_U = 1e6  # exponential progressions stop growing here (far off screen)


def _progression(name: str, default_mode: str, start: float, step: float, what: str, *, minimum=-1000.0,
                 maximum=1000.0, modes=PROGRESSIONS) -> list[Param]:
    return [
        Param(f"{name}_mode", str, default_mode, f"progression of the {what} over the elements", choices=modes),
        Param(f"{name}_start", float, start, f"{what} of the first element", minimum=minimum, maximum=maximum),
        Param(f"{name}_step", float, step, f"{what} step (times the progression)", minimum=-1000.0, maximum=1000.0),
    ]


REPETITION_PARAMS = ParamSet(
    "generate.repetition",
    [
        Param("element", str, "ring", "the repeated element", choices=ELEMENTS),
        Param("repeats", int, 12, "number of elements", minimum=1, maximum=256),
        Param("radius", float, 0.1, "element radius / half-length, fraction of the height", minimum=0.001,
              maximum=10.0),
        Param("aspect", float, 1.0, "width / height of bar, square and rounded_rect; length of line and wave",
              minimum=0.05, maximum=20.0),
        Param("thickness", float, 0.01, "stroke width, fraction of the height", minimum=0.0005, maximum=1.0),
        Param("filled", bool, False, "fill closed elements (ring, square, rounded_rect) instead of stroking"),
        *_progression("scale", "linear", 1.0, 0.3, "scale", minimum=0.0),
        *_progression("rotation", "linear", 0.0, 0.0, "rotation (degrees)",
                      modes=(*PROGRESSIONS, "golden_angle")),
        *_progression("alpha", "linear", 1.0, 0.0, "opacity", minimum=0.0, maximum=1.0),
        Param("position_mode", str, "linear", "progression of the position", choices=PROGRESSIONS),
        Param("origin_x", float, 0.5, "first element's centre, fraction of the width", minimum=-10.0,
              maximum=10.0),
        Param("origin_y", float, 0.5, "first element's centre, fraction of the height (0 = top)",
              minimum=-10.0, maximum=10.0),
        Param("step_x", float, 0.0, "x step between elements, fraction of the height", minimum=-10.0, maximum=10.0),
        Param("step_y", float, 0.0, "y step between elements (down), fraction of the height",
              minimum=-10.0, maximum=10.0),
        Param("scene_rotate", float, 0.0, "rotate the scene about the image centre, degrees",
              minimum=-36000.0, maximum=36000.0),
        Param("scene_scale", float, 1.0, "scale the scene about the image centre", minimum=0.01, maximum=100.0),
        Param("scene_x", float, 0.0, "move the scene right, fraction of the height", minimum=-10.0, maximum=10.0),
        Param("scene_y", float, 0.0, "move the scene down, fraction of the height", minimum=-10.0, maximum=10.0),
        Param("softness", float, 1.0, "anti-aliasing width in pixels", minimum=0.01, maximum=1000.0),
        *color_params("color", (0.9, 0.6, 0.2), "element colour"),
        *color_params("background", (0.02, 0.02, 0.02), "background colour"),
    ],
)


def progression(mode: str, i: int, count: int) -> float:
    """``u(mode, i)`` of the module docstring (0 at ``i = 0``), a Python float computed with exact operations.

    >>> [progression("fibonacci", i, 8) for i in range(7)]
    [0.0, 1.0, 1.0, 2.0, 3.0, 5.0, 8.0]
    """
    if mode == "linear":
        return float(i)
    if mode == "additive":
        return i * (i + 1) / 2.0
    if mode == "fibonacci":
        a, b = 0, 1
        for _ in range(i):
            a, b = b, a + b
        return float(min(a, _MAX_U))
    if mode in ("exponential", "golden"):
        ratio, v = (1.5 if mode == "exponential" else GOLDEN_RATIO), 1.0
        for _ in range(i):
            v = min(v * ratio, _MAX_U)
        return v - 1.0
    if mode == "golden_angle":
        return i * GOLDEN_ANGLE
    return float(sin_cos_turns(i / count)[0])


def element_distance(kind: str, x: np.ndarray, y: np.ndarray, r: float, aspect: float, t: float,
                     filled: bool) -> np.ndarray:
    """Signed distance (height units) of one element of radius ``r`` and stroke ``t`` at the origin."""
    def stroke(d):
        return d if filled else np.abs(d) - np.float32(t / 2)

    if kind == "ring":
        return stroke(sdf.circle(x, y, r))
    if kind == "bar":
        return sdf.box(x, y, r * aspect, max(t / 2, r * 0.25))
    if kind == "line":
        return sdf.segment(x, y, -r * aspect, 0.0, r * aspect, 0.0, t)
    if kind == "arch":  # the upper half of a ring, flat ends
        return np.maximum(sdf.ring(x, y, r, t), y)
    if kind == "u":  # the lower half of a ring with two legs up to height r
        bowl = np.maximum(sdf.ring(x, y, r, t), -y)
        legs = np.minimum(sdf.segment(x, y, -r, 0.0, -r, -r, t), sdf.segment(x, y, r, 0.0, r, -r, t))
        return np.minimum(bowl, legs)
    if kind == "spiral":
        return sdf.spiral(x, y, r, 3.0, t)
    if kind == "wave":
        return sdf.wave(x, y, r * aspect, r * 0.3, 2.0, t)
    if kind == "infinity":  # two tangent rings
        return np.minimum(sdf.ring(x + np.float32(r / 2), y, r / 2, t), sdf.ring(x - np.float32(r / 2), y, r / 2, t))
    if kind == "square":
        return stroke(sdf.box(x, y, r * aspect, r))
    return stroke(sdf.rounded_box(x, y, r * aspect, r, r * 0.3))


def _elements(p: dict[str, Any]) -> list[dict[str, float]]:
    out = []
    for i in range(p["repeats"]):
        scale = max(p["scale_start"] + p["scale_step"] * progression(p["scale_mode"], i, p["repeats"]), 0.0)
        alpha = min(max(p["alpha_start"] + p["alpha_step"] * progression(p["alpha_mode"], i, p["repeats"]), 0.0), 1.0)
        rot = p["rotation_start"] + p["rotation_step"] * progression(p["rotation_mode"], i, p["repeats"])
        u = progression(p["position_mode"], i, p["repeats"])
        if scale > 0 and alpha > 0:
            out.append({"scale": scale, "alpha": alpha, "rot": rot, "dx": p["step_x"] * u, "dy": p["step_y"] * u})
    return out


def render_repetition(p: dict[str, Any], seed: int, width: int, height: int,
                      threads: int | None = None) -> np.ndarray:
    """The ``repetition`` family: ``float32`` ``HW3`` ACEScg (see the module docstring)."""
    del seed
    color, bg = color_of(p, "color"), color_of(p, "background")
    h = float(height)
    ss, sc = sin_cos_degrees(p["scene_rotate"])
    elements = []
    for e in _elements(p):
        # element centre in scene units (height, relative to the image centre), then the scene transform
        ex = (p["origin_x"] - 0.5) * width / h + e["dx"]
        ey = p["origin_y"] - 0.5 + e["dy"]
        k = p["scene_scale"]
        cx = k * (sc * ex + ss * ey) + p["scene_x"]
        cy = k * (-ss * ex + sc * ey) + p["scene_y"]
        s, c = sin_cos_degrees(e["rot"] + p["scene_rotate"])
        radius = e["scale"] * k * p["radius"] * max(p["aspect"], 1.0) * 1.5 + p["thickness"] * k + 2.0 / h
        elements.append({**e, "cx": cx, "cy": cy, "s": np.float32(s), "c": np.float32(c), "k": e["scale"] * k,
                         "x0": int(np.floor(width / 2 + (cx - radius) * h)),
                         "x1": int(np.ceil(width / 2 + (cx + radius) * h)),
                         "y0": int(np.floor(height / 2 + (cy - radius) * h)),
                         "y1": int(np.ceil(height / 2 + (cy + radius) * h))})
    px_all = (pixel_centres(width) - np.float32(width / 2)) / np.float32(h)

    def rows(y0: int, y1: int) -> np.ndarray:
        out = np.broadcast_to(bg, (y1 - y0, width, 3)).copy()
        py_all = (pixel_centres(y1 - y0, y0) - np.float32(height / 2)) / np.float32(h)
        for e in elements:
            a0, a1 = max(e["y0"], y0), min(e["y1"], y1)
            b0, b1 = max(e["x0"], 0), min(e["x1"], width)
            if a0 >= a1 or b0 >= b1:
                continue
            x = px_all[None, b0:b1] - np.float32(e["cx"])
            y = py_all[a0 - y0:a1 - y0, None] - np.float32(e["cy"])
            k = np.float32(e["k"])
            lx = (e["c"] * x - e["s"] * y) / k
            ly = (e["s"] * x + e["c"] * y) / k
            d = element_distance(p["element"], lx, ly, p["radius"], p["aspect"], p["thickness"] / e["k"],
                                 p["filled"]) * k
            a = sdf.coverage(d * np.float32(h), p["softness"]) * np.float32(e["alpha"])
            region = out[a0 - y0:a1 - y0, b0:b1]
            region += (color - region) * a[..., None]
        return out

    return render_bands(width, height, 3, rows, threads=threads)


FAMILY = Family("repetition", REPETITION_PARAMS, render_repetition,
                "an element repeated N times with scale / rotation / alpha / position progressions",
                {"element": None, "repeats": (1, 32), "radius": (0.02, 0.3), "aspect": (0.5, 3.0),
                 "thickness": (0.002, 0.03), "filled": None, "scale_mode": None, "scale_start": (0.2, 2.0),
                 "scale_step": (-0.2, 0.5), "rotation_mode": None, "rotation_start": (0.0, 360.0),
                 "rotation_step": (-30.0, 30.0), "alpha_mode": None, "alpha_start": (0.3, 1.0),
                 "alpha_step": (-0.1, 0.05), "position_mode": None, "origin_x": (0.2, 0.8), "origin_y": (0.2, 0.8),
                 "step_x": (-0.2, 0.2), "step_y": (-0.2, 0.2), "scene_rotate": (0.0, 360.0),
                 "scene_scale": (0.5, 2.0), "scene_x": (-0.2, 0.2), "scene_y": (-0.2, 0.2),
                 **color_sampling("color"), **color_sampling("background", 0.0, 0.2)})
