"""Transcendental functions from exact IEEE operations only.

``numpy.sin``, ``exp``, ``arctan2`` and ``power`` call whichever SIMD or libm
routine the machine has, and their last bit differs between CPUs and numpy
builds. The generators need bit-identical output everywhere, so the few
transcendental functions they use are computed here from ``+ - * /``,
``sqrt``, ``floor``, ``frexp`` and ``ldexp`` (each correctly rounded or exact
in IEEE 754) in ``float64``, with Taylor series whose coefficients are
exact rational numbers (``1/k!``, ``1/(2k+1)``) — no fitted constants.
Accuracy is about 1e-15 relative, far below the ``float32`` / half results.
Scalars (a rotation angle, an exposure) go through the same functions, so
no ``math.cos`` enters a render either.

Angles are in *turns* (1 turn = 360 degrees), which makes range reduction
exact: ``t - floor(t)``.
"""

from __future__ import annotations

import math

import numpy as np

TWO_PI = 6.283185307179586
LN2 = 0.6931471805599453
SQRT_HALF = 0.7071067811865476

_INV_FACT = [1.0 / math.factorial(k) for k in range(20)]  # exact rationals, correctly rounded by Python


def _f64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def sin_cos_turns(t) -> tuple[np.ndarray, np.ndarray]:
    """``(sin, cos)`` of the angle ``t`` in turns (any real ``float64`` array or scalar).

    >>> s, c = sin_cos_turns(np.array([0.0, 0.25, 0.125]))
    >>> np.round(s, 12).tolist(), np.round(c, 12).tolist()
    ([0.0, 1.0, 0.707106781187], [1.0, 0.0, 0.707106781187])
    """
    t = _f64(t)
    r = t - np.floor(t + 0.5)                 # [-0.5, 0.5) turn
    q = np.floor(r * 4.0 + 0.5)               # nearest quarter turn, -2..2
    x = (r - q * 0.25) * TWO_PI               # |x| <= pi/4
    x2 = x * x
    s = _INV_FACT[17]
    for k in (15, 13, 11, 9, 7, 5, 3, 1):     # sin x = x - x^3/3! + ...
        s = _INV_FACT[k] - x2 * s
    s = s * x
    c = _INV_FACT[18]
    for k in (16, 14, 12, 10, 8, 6, 4, 2, 0):  # cos x = 1 - x^2/2! + ...
        c = _INV_FACT[k] - x2 * c
    qi = np.mod(q, 4.0)
    sin = np.where(qi == 0, s, np.where(qi == 1, c, np.where(qi == 2, -s, -c)))
    cos = np.where(qi == 0, c, np.where(qi == 1, -s, np.where(qi == 2, -c, s)))
    return sin + 0.0, cos + 0.0  # + 0.0: no negative zeros


def sin_cos_degrees(angle: float) -> tuple[float, float]:
    """``(sin, cos)`` of a scalar angle in degrees, as Python floats (for transforms).

    >>> sin_cos_degrees(90.0)
    (1.0, 0.0)
    """
    s, c = sin_cos_turns(float(angle) / 360.0)
    return float(s), float(c)


def _atan_unit(u: np.ndarray) -> np.ndarray:
    """atan(u) for 0 <= u <= 1: three argument halvings (|u| <= 0.099), then the Taylor series."""
    for _ in range(3):  # atan(u) = 2 atan(u / (1 + sqrt(1 + u^2)))
        u = u / (1.0 + np.sqrt(1.0 + u * u))
    u2 = u * u
    a = 1.0 / 17.0
    for k in (15, 13, 11, 9, 7, 5, 3, 1):
        a = 1.0 / k - u2 * a
    return a * u * 8.0


def atan2_turns(y, x) -> np.ndarray:
    """The angle of the point ``(x, y)`` in turns, in (-0.5, 0.5] (0 along +x; ``(0, 0)`` gives 0).

    >>> atan2_turns(np.array([0.0, 1.0, 1.0, -1.0]), np.array([1.0, 0.0, 1.0, -1.0])).tolist()
    [0.0, 0.25, 0.125, -0.375]
    """
    y, x = _f64(y), _f64(x)
    ax, ay = np.abs(x), np.abs(y)
    hi, lo = np.maximum(ax, ay), np.minimum(ax, ay)
    with np.errstate(invalid="ignore", divide="ignore"):
        u = np.where(hi > 0, lo / np.where(hi > 0, hi, 1.0), 0.0)
    a = _atan_unit(u) / TWO_PI                 # turns, 0..1/8
    a = np.where(ay > ax, 0.25 - a, a)
    a = np.where(x < 0, 0.5 - a, a)
    return np.where(y < 0, -a, a)


def exp2(x) -> np.ndarray:
    """2 ** x for a ``float64`` array (exact integer part through ``ldexp``).

    >>> exp2(np.array([0.0, 1.0, -2.0, 0.5])).tolist()[:3], round(float(exp2(0.5)), 15)
    ([1.0, 2.0, 0.25], 1.414213562373095)
    """
    x = _f64(x)
    n = np.floor(x + 0.5)
    y = (x - n) * LN2                          # |y| <= ln(2)/2
    e = _INV_FACT[19]
    for k in range(18, -1, -1):
        e = _INV_FACT[k] + y * e
    return np.ldexp(e, n.astype(np.int64))


def log2(x) -> np.ndarray:
    """log2 of a positive ``float64`` array (exponent from ``frexp``, mantissa by the atanh series).

    >>> log2(np.array([1.0, 8.0, 0.25])).tolist()
    [0.0, 3.0, -2.0]
    """
    m, e = np.frexp(_f64(x))                   # m in [0.5, 1)
    low = m < SQRT_HALF
    m = np.where(low, m * 2.0, m)
    e = np.where(low, e - 1, e)
    s = (m - 1.0) / (m + 1.0)                  # |s| <= 0.172
    s2 = s * s
    a = 1.0 / 23.0
    for k in (21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1):
        a = 1.0 / k + s2 * a
    return e + (2.0 * s * a) / LN2


def power(x, g: float) -> np.ndarray:
    """x ** g for ``x >= 0`` (``0 ** g`` = 0 for g > 0), via :func:`exp2` and :func:`log2`."""
    x = _f64(x)
    pos = x > 0
    out = exp2(float(g) * log2(np.where(pos, x, 1.0)))
    return np.where(pos, out, 0.0)


def exact_scalar_exp2(stops: float) -> float:
    """2 ** stops for a scalar (an exposure in stops), as a Python float.

    >>> exact_scalar_exp2(-1.0), exact_scalar_exp2(3.0)
    (0.5, 8.0)
    """
    return float(exp2(float(stops)))
