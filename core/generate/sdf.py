"""Signed distance functions of 2-D shapes, and coverage from a distance.

Each function takes ``float32`` coordinates ``x``, ``y`` (broadcastable
arrays, any unit — the generators use image heights, y down) relative to
the shape's centre and returns the signed distance in the same unit:
negative inside, positive outside. Only ``+ - * /``, ``sqrt``, ``abs``,
``min``/``max`` and :mod:`core.generate._math` are used, so distances are
bit-identical on every machine. :func:`coverage` turns a distance in pixels
into anti-aliased coverage (a 1-pixel box filter across the edge).
"""

from __future__ import annotations

import numpy as np

from core.generate._math import atan2_turns, sin_cos_turns

_F = np.float32


def coverage(d_px: np.ndarray, softness: float = 1.0) -> np.ndarray:
    """Coverage 0..1 of a pixel whose centre is ``d_px`` pixels from the edge (inside negative).

    ``softness`` is the width of the transition in pixels (1 = a box-filtered edge).
    """
    return np.clip(_F(0.5) - d_px / _F(softness), _F(0), _F(1))


def length(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.sqrt(x * x + y * y)


def circle(x, y, r: float) -> np.ndarray:
    return length(x, y) - _F(r)


def box(x, y, hx: float, hy: float) -> np.ndarray:
    """An axis-aligned box of half-extents ``hx``, ``hy``."""
    qx, qy = np.abs(x) - _F(hx), np.abs(y) - _F(hy)
    outside = length(np.maximum(qx, _F(0)), np.maximum(qy, _F(0)))
    return outside + np.minimum(np.maximum(qx, qy), _F(0))


def rounded_box(x, y, hx: float, hy: float, r: float) -> np.ndarray:
    """A box with corners rounded to radius ``r`` (clipped to the smaller half-extent)."""
    r = min(float(r), float(hx), float(hy))
    return box(x, y, hx - r, hy - r) - _F(r)


def ring(x, y, r: float, thickness: float) -> np.ndarray:
    """A circle of radius ``r`` stroked ``thickness`` wide."""
    return np.abs(circle(x, y, r)) - _F(thickness / 2)


def segment(x, y, ax: float, ay: float, bx: float, by: float, thickness: float) -> np.ndarray:
    """A capsule: the segment a-b stroked ``thickness`` wide (round caps)."""
    px, py = x - _F(ax), y - _F(ay)
    dx, dy = _F(bx - ax), _F(by - ay)
    dd = dx * dx + dy * dy
    h = np.clip((px * dx + py * dy) / dd, _F(0), _F(1)) if dd > 0 else _F(0)
    return length(px - dx * h, py - dy * h) - _F(thickness / 2)


def polygon(x, y, vertices: list[tuple[float, float]]) -> np.ndarray:
    """Any simple polygon (convex or not), by its vertices in order: exact Euclidean distance, crossing-number sign."""
    vx = [_F(v[0]) for v in vertices]
    vy = [_F(v[1]) for v in vertices]
    n = len(vertices)
    best = None
    inside = None
    for i in range(n):
        j = (i - 1) % n
        ex, ey = vx[j] - vx[i], vy[j] - vy[i]
        wx, wy = x - vx[i], y - vy[i]
        h = np.clip((wx * ex + wy * ey) / (ex * ex + ey * ey), _F(0), _F(1))
        bx, by = wx - ex * h, wy - ey * h
        d2 = bx * bx + by * by
        best = d2 if best is None else np.minimum(best, d2)
        c1, c2 = y >= vy[i], y < vy[j]
        c3 = ex * wy > ey * wx
        flip = (c1 & c2 & c3) | (~c1 & ~c2 & ~c3)
        inside = flip if inside is None else inside ^ flip
    d = np.sqrt(best)
    return np.where(inside, -d, d)


def regular_vertices(sides: int, radius: float, rotation_turns: float = 0.0,
                     inner: float | None = None) -> list[tuple[float, float]]:
    """Vertices of a regular polygon (or, with ``inner``, a star of ``sides`` points whose inner radius is
    ``inner * radius``), first vertex straight up, counter-clockwise on screen (y down)."""
    count = sides * 2 if inner is not None else sides
    turns = np.array([rotation_turns + 0.25 + k / count for k in range(count)], np.float64)
    s, c = sin_cos_turns(turns)
    radii = [radius if inner is None or k % 2 == 0 else radius * inner for k in range(count)]
    return [(float(c[k]) * radii[k], -float(s[k]) * radii[k]) for k in range(count)]


def spiral(x, y, radius: float, turns: float, thickness: float) -> np.ndarray:
    """An Archimedean spiral from the centre out to ``radius`` in ``turns`` turns, stroked ``thickness`` wide."""
    pitch = radius / turns
    a = atan2_turns(-y.astype(np.float64), x.astype(np.float64))        # turns, counter-clockwise
    rho = np.sqrt(x.astype(np.float64) ** 2 + y.astype(np.float64) ** 2)
    a = a - np.floor(a)                                                 # 0..1
    k = np.clip(np.floor(rho / pitch - a + 0.5), 0.0, max(np.floor(turns - 1e-9), 0.0))
    arm = (k + a) * pitch                                               # radius of the nearest arm at this angle
    d = np.abs(rho - arm)
    end = np.sqrt((x.astype(np.float64) - radius) ** 2 + y.astype(np.float64) ** 2)  # the outer end
    d = np.where(rho > radius, np.minimum(end, rho - radius + d), d)
    return (d - thickness / 2).astype(np.float32)


def wave(x, y, half_length: float, amplitude: float, cycles: float, thickness: float) -> np.ndarray:
    """A sine wave ``amplitude * sin(cycles * turn * x / (2 half_length))`` over ``|x| <= half_length``."""
    xf = np.clip(x.astype(np.float64), -half_length, half_length)
    phase = cycles * (xf + half_length) / (2 * half_length)
    s, c = sin_cos_turns(phase)
    slope = amplitude * c * 2 * np.pi * cycles / (2 * half_length)
    dy = np.abs(y.astype(np.float64) - amplitude * s) / np.sqrt(1.0 + slope * slope)
    dx = np.abs(x.astype(np.float64)) - half_length
    d = np.where(dx > 0, np.sqrt(np.maximum(dx, 0) ** 2 + dy * dy), dy)
    return (d - thickness / 2).astype(np.float32)
