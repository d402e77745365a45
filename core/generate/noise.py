"""Procedural noise: value, gradient (Perlin-style) and simplex-style lattice noise, fBm and turbulence.

Knob names and defaults follow Nuke's Noise node (``type`` fBm/turbulence,
``size`` 350, ``zoffset``, ``octaves`` 10, ``nyquist``, ``lacunarity`` 2,
``gain`` 0.5, ``gamma`` 0.5, a transform with ``translate`` / ``rotate`` /
``scale``) plus what Nuke's node lacks: an explicit integer ``seed``, the
lattice kind (``noise``) and a two-colour ramp in ACEScg.

Octave ``k`` samples the lattice noise at frequency ``lacunarity**k / size``
(cycles per pixel) with amplitude ``gain**k``; fBm is the normalised sum
(``0.5 + 0.5 * sum / sum(gain**k)``, in 0..1), turbulence the normalised sum of
absolute values (0..1). ``nyquist`` drops octaves above 0.5 cycles per
pixel. The value ``v`` becomes ``v ** gamma`` and then
``color0 + (color1 - color0) * v``.

``zoffset`` moves through a third lattice axis (animate it to make the noise
evolve): each octave blends the 2-D lattice slices ``floor(z)`` and
``floor(z) + 1`` with a quintic fade, so an integer ``zoffset`` costs one
slice. Every lattice value or gradient is an integer hash of (seed,
octave, slice, cell): the same params and seed give the same bits on any
machine and thread count (see :mod:`core.generate._hash`, :mod:`._math`).

Output: ``float32`` ``HW3`` scene-linear ACEScg, values between the two
ramp colours (>= 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.generate._hash import PRIME_X, PRIME_Y, mix32, seed_key, unit_float
from core.generate._math import power, sin_cos_degrees
from core.generate._tiles import pixel_centres, render_bands
from core.generate.family import Family, color_of, color_params, color_sampling
from core.params import Param, ParamSet

NOISE_KINDS = ("value", "gradient", "simplex")
NOISE_TYPES = ("fBm", "turbulence")

NOISE_PARAMS = ParamSet(
    "generate.noise",
    [
        Param("type", str, "fBm", "fBm (fractional Brownian motion) or turbulence (sum of absolute octaves), "
              "as Nuke's Noise node", choices=NOISE_TYPES),
        Param("noise", str, "gradient", "lattice noise of each octave: value, gradient (Perlin-style) or "
              "simplex (simplex-style)", choices=NOISE_KINDS, label="Noise kind"),
        Param("size", float, 350.0, "x size of the lowest frequency, in pixels (Nuke's size x)",
              minimum=1.0, maximum=100000.0, label="x size", cli="--size-x"),
        Param("size_y", float, 350.0, "y size of the lowest frequency, in pixels (Nuke's size y)",
              minimum=1.0, maximum=100000.0, label="y size"),
        Param("zoffset", float, 0.0, "position along the third noise axis: animate it to evolve the noise",
              minimum=-100000.0, maximum=100000.0, label="z"),
        Param("octaves", int, 10, "number of octaves summed", minimum=1, maximum=16),
        Param("nyquist", bool, True, "drop octaves finer than 2 pixels per cycle"),
        Param("lacunarity", float, 2.0, "frequency ratio between successive octaves", minimum=1.0,
              maximum=100.0),
        Param("gain", float, 0.5, "amplitude ratio between successive octaves", minimum=0.0, maximum=2.0),
        Param("gamma", float, 0.5, "the 0..1 noise value v becomes v ** gamma", minimum=0.05, maximum=20.0),
        Param("translate_x", float, 0.0, "move the noise right, in pixels", minimum=-1e6, maximum=1e6),
        Param("translate_y", float, 0.0, "move the noise down, in pixels", minimum=-1e6, maximum=1e6),
        Param("rotate", float, 0.0, "rotate the noise about the image centre, in degrees",
              minimum=-36000.0, maximum=36000.0),
        Param("scale", float, 1.0, "scale the noise about the image centre", minimum=0.001, maximum=1000.0),
        *color_params("color0", (0.0, 0.0, 0.0), "colour at noise 0"),
        *color_params("color1", (1.0, 1.0, 1.0), "colour at noise 1"),
    ],
)

_F2 = np.float32(0.3660254037844386)   # (sqrt(3) - 1) / 2, simplex skew
_G2 = np.float32(0.21132486540518713)  # (3 - sqrt(3)) / 6, simplex unskew
_SIMPLEX_SCALE = np.float32(64.0)      # brings the simplex sum to about -1..1
_SIGN = np.uint32(1 << 31)


def _fade(t: np.ndarray) -> np.ndarray:
    """Quintic fade 6t^5 - 15t^4 + 10t^3 (float32, exact ops)."""
    return t * t * t * (t * (t * np.float32(6) - np.float32(15)) + np.float32(10))


def _floor_split(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cell index as ``uint32`` bits of an int32, fraction in [0, 1)) of a float32 lattice coordinate."""
    f = np.floor(x)
    return f.astype(np.int32).view(np.uint32), x - f


def _signed(a: np.ndarray, h: np.ndarray, bit: int) -> np.ndarray:
    """``a`` with its sign flipped where bit ``bit`` of hash ``h`` is set (exact: a sign-bit xor)."""
    flip = (h & np.uint32(1 << bit)) << np.uint32(31 - bit)
    return (np.ascontiguousarray(a, np.float32).view(np.uint32) ^ flip).view(np.float32)


def _grad(h: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Dot product of the hashed diagonal gradient (+-1, +-1) with (dx, dy)."""
    return _signed(dx, h, 0) + _signed(dy, h, 1)


def _corner(i: np.ndarray, j: np.ndarray, k: np.uint32) -> np.ndarray:
    """The hash of lattice corner ``(i, j)`` (``uint32`` bits of int32 indices) under key ``k``."""
    return mix32((i * PRIME_X) ^ ((j * PRIME_Y) ^ k))


def _lattice_2d(kind: str, x: np.ndarray, y: np.ndarray, key: int, cx: int, cy: int) -> np.ndarray:
    """One 2-D lattice noise, about -1..1, at float32 coordinates ``x``, ``y`` (broadcastable).

    The true lattice coordinate is ``(x + cx, y + cy)``: ``cx``/``cy`` are integer offsets kept out of
    the float so large translations lose no precision. ``key`` seeds the hash.
    """
    k = np.uint32(key)
    if kind == "simplex":
        s = (x + y) * _F2
        i, _ = _floor_split(x + s)
        j, _ = _floor_split(y + s)
        fi, fj = i.view(np.int32).astype(np.float32), j.view(np.int32).astype(np.float32)
        t = (fi + fj) * _G2
        x0 = x - (fi - t)
        y0 = y - (fj - t)
        upper = x0 > y0
        i1, j1 = upper.astype(np.float32), np.float32(1) - upper.astype(np.float32)
        x1, y1 = x0 - i1 + _G2, y0 - j1 + _G2
        x2, y2 = x0 - np.float32(1) + _G2 * np.float32(2), y0 - np.float32(1) + _G2 * np.float32(2)
        i = i + np.uint32(cx & 0xFFFFFFFF)
        j = j + np.uint32(cy & 0xFFFFFFFF)
        ui = upper.astype(np.uint32)
        one_u = np.uint32(1)
        h0 = _corner(i, j, k)
        h1 = _corner(i + ui, j + (one_u - ui), k)
        h2 = _corner(i + one_u, j + one_u, k)
        total = None
        for h, dx, dy in ((h0, x0, y0), (h1, x1, y1), (h2, x2, y2)):
            w = np.maximum(np.float32(0.5) - dx * dx - dy * dy, np.float32(0))
            w = w * w
            term = w * w * _grad(h, dx, dy)
            total = term if total is None else total + term
        return total * _SIMPLEX_SCALE
    ix, tx = _floor_split(x)
    iy, ty = _floor_split(y)
    hx0 = (ix + np.uint32(cx & 0xFFFFFFFF)) * PRIME_X
    hx1 = hx0 + PRIME_X
    hy0 = (iy + np.uint32(cy & 0xFFFFFFFF)) * PRIME_Y
    hy1 = (hy0 + PRIME_Y) ^ k
    hy0 = hy0 ^ k
    sx, sy = _fade(tx), _fade(ty)
    if kind == "value":
        v00, v10 = unit_float(mix32(hx0 ^ hy0)), unit_float(mix32(hx1 ^ hy0))
        v01, v11 = unit_float(mix32(hx0 ^ hy1)), unit_float(mix32(hx1 ^ hy1))
        a = v00 + sx * (v10 - v00)
        b = v01 + sx * (v11 - v01)
        return (a + sy * (b - a)) * np.float32(2) - np.float32(1)
    one = np.float32(1)
    tx1, ty1 = tx - one, ty - one
    g00, g10 = _grad(mix32(hx0 ^ hy0), tx, ty), _grad(mix32(hx1 ^ hy0), tx1, ty)
    g01, g11 = _grad(mix32(hx0 ^ hy1), tx, ty1), _grad(mix32(hx1 ^ hy1), tx1, ty1)
    a = g00 + sx * (g10 - g00)
    b = g01 + sx * (g11 - g01)
    return a + sy * (b - a)


def _octaves(p: dict[str, Any], width: int, height: int, seed: int) -> list[dict[str, Any]]:
    """Per octave: amplitude, the affine map pixel -> lattice (float32 parts + integer offsets), z slice."""
    s, c = sin_cos_degrees(p["rotate"])
    cx0, cy0 = width / 2.0 + p["translate_x"], height / 2.0 + p["translate_y"]
    out, freq, amp = [], 1.0, 1.0
    for k in range(p["octaves"]):
        fx, fy = freq / (p["size"] * p["scale"]), freq / (p["size_y"] * p["scale"])
        if p["nyquist"] and max(fx, fy) > 0.5 and k > 0:
            break
        key = seed_key(seed, "noise", k)
        shift = (key >> 8) * 2.0**-24 * 256.0   # per-octave lattice shift, so octaves do not share a cell corner
        # lattice x = fx * ( c * (px - cx0) + s * (py - cy0)) + shift
        #         y = fy * (-s * (px - cx0) + c * (py - cy0)) + shift
        ax, bx = fx * c, fx * s
        ay, by = -fy * s, fy * c
        x0 = -(ax * cx0 + bx * cy0) + shift
        y0 = -(ay * cx0 + by * cy0) + shift
        ix0, iy0 = int(np.floor(x0)), int(np.floor(y0))
        z = p["zoffset"] * freq
        iz = int(np.floor(z))
        out.append({"amp": amp, "ax": np.float32(ax), "bx": np.float32(bx), "ay": np.float32(ay),
                    "by": np.float32(by), "x0": np.float32(x0 - ix0), "y0": np.float32(y0 - iy0),
                    "ix0": ix0, "iy0": iy0, "iz": iz, "fz": np.float32(z - iz),
                    "keys": (seed_key(seed, "noise", k, iz), seed_key(seed, "noise", k, iz + 1))})
        freq *= p["lacunarity"]
        amp *= p["gain"]
    return out


def render_noise(p: dict[str, Any], seed: int, width: int, height: int, threads: int | None = None) -> np.ndarray:
    """The ``noise`` family: ``float32`` ``HW3`` ACEScg (see the module docstring)."""
    octaves = _octaves(p, width, height, seed)
    norm = np.float32(1.0 / sum(o["amp"] for o in octaves)) if any(o["amp"] for o in octaves) else np.float32(0)
    px = pixel_centres(width)
    turbulence = p["type"] == "turbulence"
    c0, c1 = color_of(p, "color0"), color_of(p, "color1")

    def rows(y0: int, y1: int) -> np.ndarray:
        py = pixel_centres(y1 - y0, y0)[:, None]
        acc = np.zeros((y1 - y0, width), np.float32)
        for o in octaves:
            x = o["ax"] * px[None, :] + (o["bx"] * py + o["x0"]) if o["bx"] != 0 else (o["ax"] * px + o["x0"])[None, :]
            y = o["by"] * py + (o["ay"] * px[None, :] + o["y0"]) if o["ay"] != 0 else o["by"] * py + o["y0"]
            n = _lattice_2d(p["noise"], x, y, o["keys"][0], o["ix0"], o["iy0"])
            if o["fz"] != 0:
                n1 = _lattice_2d(p["noise"], x, y, o["keys"][1], o["ix0"], o["iy0"])
                n = n + _fade(o["fz"]) * (n1 - n)
            if turbulence:
                n = np.abs(n)
            acc += np.float32(o["amp"]) * n
        v = acc * norm
        if not turbulence:
            v = np.float32(0.5) + np.float32(0.5) * v
        v = np.clip(v, np.float32(0), np.float32(1))
        if p["gamma"] != 1.0:
            v = power(v, p["gamma"]).astype(np.float32)
        return c0 + (c1 - c0) * v[..., None]

    return render_bands(width, height, 3, rows, threads=threads)


FAMILY = Family("noise", NOISE_PARAMS, render_noise,
                "value / gradient / simplex noise, fBm or turbulence, Nuke Noise knobs plus a seed",
                {"type": None, "noise": None, "size": (20.0, 800.0), "size_y": (20.0, 800.0), "zoffset": (0.0, 10.0),
                 "octaves": (1, 10), "lacunarity": (1.5, 3.0), "gain": (0.3, 0.7), "gamma": (0.3, 2.0),
                 "rotate": (0.0, 360.0), **color_sampling("color0"), **color_sampling("color1")})
