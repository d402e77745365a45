"""Signed-distance shapes: circle, box, rounded box, ring, line, polygon, star; unions and repetition.

One shape (``shape``) at ``center`` (fractions of the width/height), ``radius``
(its radius or half-height, a fraction of the image height), ``aspect``
(width / height of boxes and lines), ``rotate`` (degrees counter-clockwise),
optionally united with a second shape (``union``, same size, moved by
``union_offset``), repeated on a ``repeat_x`` x ``repeat_y`` grid every
``spacing_x`` / ``spacing_y`` (fractions of the height; domain repetition: each
pixel sees its nearest copy). Edges are anti-aliased from the distance field
(``softness`` pixels wide); ``foreground`` over ``background``, ACEScg.

Output: ``float32`` ``HW3`` scene-linear ACEScg, >= 0. The seed is unused.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.generate import sdf
from core.generate._math import sin_cos_degrees
from core.generate._tiles import pixel_centres, render_bands
from core.generate.family import Family, color_of, color_params, color_sampling
from core.params import Param, ParamSet

SHAPES = ("circle", "box", "rounded_box", "ring", "line", "polygon", "star")

SHAPE_PARAMS = ParamSet(
    "generate.shape",
    [
        Param("shape", str, "circle", "the shape", choices=SHAPES),
        Param("center_x", float, 0.5, "centre, fraction of the width", minimum=-10.0, maximum=10.0),
        Param("center_y", float, 0.5, "centre, fraction of the height (0 = top)", minimum=-10.0, maximum=10.0),
        Param("radius", float, 0.3, "radius (circle, ring, polygon, star) or half-height (box, line), "
              "fraction of the height", minimum=0.0005, maximum=10.0),
        Param("aspect", float, 1.0, "width / height of box, rounded_box and line", minimum=0.01, maximum=100.0),
        Param("corner", float, 0.25, "rounded_box corner radius, fraction of size", minimum=0.0, maximum=1.0),
        Param("thickness", float, 0.03, "stroke width of ring and line, fraction of the height",
              minimum=0.0005, maximum=10.0),
        Param("sides", int, 5, "sides of a polygon, points of a star", minimum=3, maximum=64),
        Param("inner", float, 0.5, "inner radius of a star, fraction of its radius", minimum=0.01, maximum=1.0),
        Param("rotate", float, 0.0, "rotation, degrees counter-clockwise", minimum=-36000.0, maximum=36000.0),
        Param("union", str, None, "a second shape united with the first (none: only the first)",
              choices=SHAPES, optional=True),
        Param("union_offset_x", float, 0.2, "the second shape's offset, fraction of the height",
              minimum=-10.0, maximum=10.0),
        Param("union_offset_y", float, 0.0, "the second shape's offset, fraction of the height (down)",
              minimum=-10.0, maximum=10.0),
        Param("repeat_x", int, 1, "copies across", minimum=1, maximum=256),
        Param("repeat_y", int, 1, "copies down", minimum=1, maximum=256),
        Param("spacing_x", float, 0.5, "distance between copies across, fraction of the height",
              minimum=0.001, maximum=10.0),
        Param("spacing_y", float, 0.5, "distance between copies down, fraction of the height",
              minimum=0.001, maximum=10.0),
        Param("softness", float, 1.0, "anti-aliasing width in pixels", minimum=0.01, maximum=1000.0),
        *color_params("foreground", (0.8, 0.8, 0.8), "shape colour"),
        *color_params("background", (0.02, 0.02, 0.02), "background colour"),
    ],
)


def shape_distance(shape: str, x: np.ndarray, y: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    """Signed distance (height units) of ``shape`` with ``p``'s radius, aspect, corner, thickness, sides and inner;
    ``x``, ``y`` relative to the shape's centre, already rotated into the shape's frame."""
    r, a, t = p["radius"], p["aspect"], p["thickness"]
    if shape == "circle":
        return sdf.circle(x, y, r)
    if shape == "box":
        return sdf.box(x, y, r * a, r)
    if shape == "rounded_box":
        return sdf.rounded_box(x, y, r * a, r, p["corner"] * r)
    if shape == "ring":
        return sdf.ring(x, y, r, t)
    if shape == "line":
        return sdf.segment(x, y, -r * a, 0.0, r * a, 0.0, t)
    if shape == "polygon":
        return sdf.polygon(x, y, sdf.regular_vertices(p["sides"], r))
    return sdf.polygon(x, y, sdf.regular_vertices(p["sides"], r, inner=p["inner"]))


def _repeat(v: np.ndarray, count: int, spacing: float) -> np.ndarray:
    """Domain repetition: ``v`` relative to the nearest of ``count`` copies ``spacing`` apart, centred on 0."""
    if count == 1:
        return v
    half = np.float32((count - 1) / 2)
    sp = np.float32(spacing)
    idx = np.clip(np.floor(v / sp + half + np.float32(0.5)), np.float32(0), np.float32(count - 1))
    return v - sp * (idx - half)


def render_shape(p: dict[str, Any], seed: int, width: int, height: int, threads: int | None = None) -> np.ndarray:
    """The ``shape`` family: ``float32`` ``HW3`` ACEScg (see the module docstring)."""
    del seed
    fg, bg = color_of(p, "foreground"), color_of(p, "background")
    h = np.float32(height)
    px = (pixel_centres(width) - np.float32(p["center_x"] * width)) / h
    s, c = sin_cos_degrees(p["rotate"])
    s, c = np.float32(s), np.float32(c)

    def local(x, y):  # screen (y down) -> shape frame rotated counter-clockwise on screen
        return c * x - s * y, s * x + c * y

    union = SHAPE_PARAMS["union"].value(p["union"])

    def rows(y0: int, y1: int) -> np.ndarray:
        py = (pixel_centres(y1 - y0, y0) - np.float32(p["center_y"] * height)) / h
        x = _repeat(np.broadcast_to(px[None, :], (y1 - y0, width)), p["repeat_x"], p["spacing_x"])
        y = _repeat(np.broadcast_to(py[:, None], (y1 - y0, width)), p["repeat_y"], p["spacing_y"])
        d = shape_distance(p["shape"], *local(x, y), p)
        if union is not None:
            d = np.minimum(d, shape_distance(union, *local(x - np.float32(p["union_offset_x"]),
                                                                 y - np.float32(p["union_offset_y"])), p))
        cov = sdf.coverage(d * h, p["softness"])[..., None]
        return bg + (fg - bg) * cov

    return render_bands(width, height, 3, rows, threads=threads)


FAMILY = Family("shape", SHAPE_PARAMS, render_shape,
                "anti-aliased signed-distance shapes (circle ... star) with unions and grid repetition",
                {"shape": None, "center_x": (0.3, 0.7), "center_y": (0.3, 0.7), "radius": (0.05, 0.4),
                 "aspect": (0.5, 2.0), "corner": (0.0, 1.0), "thickness": (0.01, 0.1), "sides": (3, 12),
                 "inner": (0.3, 0.8), "rotate": (0.0, 360.0), "union": None, "union_offset_x": (-0.3, 0.3),
                 "union_offset_y": (-0.3, 0.3), "repeat_x": (1, 4), "repeat_y": (1, 4), "spacing_x": (0.2, 0.8),
                 "spacing_y": (0.2, 0.8), **color_sampling("foreground"), **color_sampling("background", 0.0, 0.2)})
