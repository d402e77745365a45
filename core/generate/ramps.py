"""Gradients and ramps in ACEScg: linear, radial, angular and four-corner, with an exposure in stops.

The ramp parameter ``t`` (0..1) of each pixel centre mixes ``color0`` into
``color1`` (``four_corner``: the bilinear mix of ``color0`` top left,
``color1`` top right, ``color2`` bottom left, ``color3`` bottom right), in
scene-linear ACEScg; ``falloff`` ``smooth`` shapes ``t`` with smoothstep; the
result is multiplied by ``2 ** exposure``. ``linear`` runs along ``angle``
(0 = left to right, counter-clockwise, degrees) across the whole image;
``radial`` from ``center`` out to ``radius`` (a fraction of the image
height); ``angular`` once around ``center`` starting at ``angle``.

Output: ``float32`` ``HW3`` scene-linear ACEScg, >= 0. The seed is unused
(ramps are not random). Angles use :mod:`core.generate._math`, so the bytes
are the same on every machine.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.generate._math import atan2_turns, exact_scalar_exp2, sin_cos_degrees
from core.generate._tiles import pixel_centres, render_bands
from core.generate.family import Family, color_of, color_params, color_sampling
from core.params import Param, ParamSet

RAMP_SHAPES = ("linear", "radial", "angular", "four_corner")

RAMP_PARAMS = ParamSet(
    "generate.ramp",
    [
        Param("shape", str, "linear", "linear, radial, angular or four_corner", choices=RAMP_SHAPES),
        Param("angle", float, 0.0, "direction of a linear ramp / start of an angular one, degrees "
              "counter-clockwise from +x", minimum=-3600.0, maximum=3600.0),
        Param("center_x", float, 0.5, "centre of a radial/angular ramp, fraction of the width",
              minimum=-10.0, maximum=10.0),
        Param("center_y", float, 0.5, "centre of a radial/angular ramp, fraction of the height (0 = top)",
              minimum=-10.0, maximum=10.0),
        Param("radius", float, 0.5, "radius of a radial ramp, fraction of the height", minimum=0.001,
              maximum=100.0),
        Param("falloff", str, "linear", "linear or smooth (smoothstep) ramp", choices=("linear", "smooth")),
        Param("exposure", float, 0.0, "exposure in stops: the ramp is multiplied by 2 ** exposure",
              minimum=-20.0, maximum=20.0),
        *color_params("color0", (0.0, 0.0, 0.0), "start colour (four_corner: top left)"),
        *color_params("color1", (1.0, 1.0, 1.0), "end colour (four_corner: top right)"),
        *color_params("color2", (1.0, 0.0, 0.0), "four_corner: bottom left"),
        *color_params("color3", (0.0, 0.0, 1.0), "four_corner: bottom right"),
    ],
)


def render_ramp(p: dict[str, Any], seed: int, width: int, height: int, threads: int | None = None) -> np.ndarray:
    """The ``ramp`` family: ``float32`` ``HW3`` ACEScg (see the module docstring)."""
    del seed  # ramps draw nothing at random
    gain = np.float32(exact_scalar_exp2(p["exposure"]))
    colors = [color_of(p, f"color{i}") for i in range(4)]
    px = pixel_centres(width)[None, :]
    cx, cy = np.float32(p["center_x"] * width), np.float32(p["center_y"] * height)
    s, c = sin_cos_degrees(p["angle"])
    shape = p["shape"]

    def rows(y0: int, y1: int) -> np.ndarray:
        py = pixel_centres(y1 - y0, y0)[:, None]
        if shape == "four_corner":
            u = np.broadcast_to(px / np.float32(width), (y1 - y0, width))
            v = np.broadcast_to(py / np.float32(height), (y1 - y0, width))
            u, v = _falloff(u, p["falloff"]), _falloff(v, p["falloff"])
            top = colors[0] + (colors[1] - colors[0]) * u[..., None]
            bottom = colors[2] + (colors[3] - colors[2]) * u[..., None]
            return (top + (bottom - top) * v[..., None]) * gain
        if shape == "linear":
            extent = abs(width * c) + abs(height * s)  # the image's length along the ramp direction
            dx, dy = np.float32(c / extent), np.float32(-s / extent)  # y grows downwards
            t = (px - np.float32(width / 2)) * dx + (py - np.float32(height / 2)) * dy + np.float32(0.5)
        elif shape == "radial":
            ddx, ddy = px - cx, py - cy
            t = np.sqrt(ddx * ddx + ddy * ddy) / np.float32(p["radius"] * height)
        else:
            turns = atan2_turns(-(py - cy).astype(np.float64), (px - cx).astype(np.float64)) - p["angle"] / 360.0
            t = (turns - np.floor(turns)).astype(np.float32)
        t = _falloff(np.clip(np.broadcast_to(t, (y1 - y0, width)), np.float32(0), np.float32(1)), p["falloff"])
        return (colors[0] + (colors[1] - colors[0]) * t[..., None]) * gain

    return render_bands(width, height, 3, rows, threads=threads)


def _falloff(t: np.ndarray, falloff: str) -> np.ndarray:
    if falloff == "smooth":
        return t * t * (np.float32(3) - np.float32(2) * t)
    return t


FAMILY = Family("ramp", RAMP_PARAMS, render_ramp, "linear / radial / angular / four-corner ramps with exposure",
                {"shape": None, "angle": (0.0, 360.0), "center_x": (0.2, 0.8), "center_y": (0.2, 0.8),
                 "radius": (0.2, 1.0), "falloff": None, "exposure": (-2.0, 2.0),
                 **{k: v for i in range(4) for k, v in color_sampling(f"color{i}").items()}})
