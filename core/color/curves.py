"""Per-channel non-linear curves and their fast float32 evaluation.

Each curve has an exact float64 definition (used to build its table, and
usable as a reference) and a fast float32 evaluator: a piecewise polynomial
indexed by the top 16 bits of the float32 bit pattern (sign, 8 exponent bits,
7 mantissa bits). Each of the 65536 buckets spans 1/128 of an octave; the
quadratic through a bucket's ends and middle is within 5e-7 relative (a few
float32 ulps: the fit itself is within 1e-8, the rest is float32 rounding) or
5e-7 absolute of the float64 curve. The absolute bound matters in the one
bucket holding the joint of a piecewise curve, where the slope jumps, and
where a curve crosses zero. (A secant, degree 1, would be within ~2e-6 relative; it is
used where a quadratic's coefficients do not fit float32: subnormal inputs of
the cube root, and |x| above ~1e20.) Evaluating costs a shift, one gather per
coefficient and a multiply-add per coefficient: no ``pow``.

Tables are built on first use (a few milliseconds each; see
:func:`build_tables`) and shared by all threads afterwards.

Curves
------
``srgb_encode``
    IEC 61966-2-1:1999 inverse EOTF: ``12.92 x`` for ``x <= 0.0031308``,
    else ``1.055 x^(1/2.4) - 0.055``; negative values continue the linear
    segment, values above 1 continue the power segment.
``srgb_decode``
    IEC 61966-2-1:1999 EOTF: ``V / 12.92`` for ``V <= 0.04045``, else
    ``((V + 0.055) / 1.055)^2.4``; same extensions.
``cbrt``
    Real cube root (odd: ``cbrt(-x) = -cbrt(x)``), for OKLab.
``lab_f`` / ``lab_f_inverse``
    CIE 15:2004 (8.2.1) ``f(t) = t^(1/3)`` for ``t > (6/29)^3``, else
    ``t / (3 (6/29)^2) + 4/29``, and its inverse.

Non-finite inputs propagate as IEEE arithmetic would: NaN -> NaN,
+Inf -> +Inf, -Inf -> -Inf. Results too large for float32 become +-Inf.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

_LAB_DELTA = 6.0 / 29.0


def srgb_encode_f64(x: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 inverse EOTF in float64 (linear -> encoded), extended as above."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(np.maximum(x, 0.0031308), 1 / 2.4) - 0.055)


def srgb_decode_f64(v: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 EOTF in float64 (encoded -> linear), extended as above."""
    v = np.asarray(v, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        return np.where(v <= 0.04045, v / 12.92, np.power((np.maximum(v, 0.04045) + 0.055) / 1.055, 2.4))


def lab_f_f64(t: np.ndarray) -> np.ndarray:
    """CIE 15:2004 ``f(t)`` in float64."""
    t = np.asarray(t, dtype=np.float64)
    return np.where(t > _LAB_DELTA**3, np.cbrt(t), t / (3 * _LAB_DELTA**2) + 4.0 / 29.0)


def lab_f_inverse_f64(f: np.ndarray) -> np.ndarray:
    """Inverse of :func:`lab_f_f64` in float64."""
    f = np.asarray(f, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(f > _LAB_DELTA, f * f * f, 3 * _LAB_DELTA**2 * (f - 4.0 / 29.0))


#: name -> (float64 definition, polynomial degree of the table).
CURVES: dict[str, tuple[Callable[[np.ndarray], np.ndarray], int]] = {
    "srgb_encode": (srgb_encode_f64, 2),
    "srgb_decode": (srgb_decode_f64, 2),
    "cbrt": (np.cbrt, 2),
    "lab_f": (lab_f_f64, 2),
    "lab_f_inverse": (lab_f_inverse_f64, 2),
}

_F32_MAX = float(np.finfo(np.float32).max)
_F32_TINY = float(np.finfo(np.float32).tiny)


@dataclass(frozen=True)
class CurveTable:
    """Per-bucket coefficients of ``((c x) + b) x + a`` (float32, 65536 each)."""

    name: str
    degree: int
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray | None
    build_seconds: float


def _bucket_bounds() -> tuple[np.ndarray, np.ndarray]:
    k = np.arange(65536, dtype=np.uint32) << np.uint32(16)
    with np.errstate(invalid="ignore"):
        lo = k.view(np.float32).astype(np.float64)
        hi = (k | np.uint32(0xFFFF)).view(np.float32).astype(np.float64)
    return lo, hi


def build_table(name: str) -> CurveTable:
    """Fit the 65536 bucket polynomials of curve ``name`` (float64 fit, float32 coefficients)."""
    fn, degree = CURVES[name]
    start = time.perf_counter()
    lo, hi = _bucket_bounds()
    special = ~(np.isfinite(lo) & np.isfinite(hi))  # exponent 255: Inf and NaN
    lo = np.where(special, 1.0, lo)
    hi = np.where(special, 2.0, hi)
    with np.errstate(all="ignore"):
        f_lo, f_hi = fn(lo), fn(hi)
        if degree == 1:
            b = (f_hi - f_lo) / (hi - lo)
            a = f_lo - b * lo
            c = np.zeros_like(a)
        else:
            mid = 0.5 * (lo + hi)
            f_mid = fn(mid)
            d1 = (f_mid - f_lo) / (mid - lo)
            d2 = ((f_hi - f_mid) / (hi - mid) - d1) / (hi - lo)
            c = d2
            b = d1 - d2 * (lo + mid)
            a = f_lo - d1 * lo + d2 * lo * mid
            # Where the quadratic's coefficients do not fit float32 (overflow
            # in subnormal buckets of steep curves, or a curvature term that
            # underflows for huge inputs), fall back to the secant.
            bad = ~(np.all(np.abs(np.stack([a, b, c])) <= _F32_MAX, axis=0))
            bad |= (c != 0) & (np.abs(c) < _F32_TINY)
            if bad.any():
                b1 = (f_hi - f_lo) / (hi - lo)
                a = np.where(bad, f_lo - b1 * lo, a)
                b = np.where(bad, b1, b)
                c = np.where(bad, 0.0, c)
        # Buckets whose results overflow float32 give +-Inf.
        over = ~(np.isfinite(a) & np.isfinite(b) & np.isfinite(c)) | (np.maximum(np.abs(f_lo), np.abs(f_hi)) > _F32_MAX)
    sign = np.sign(np.where(over, f_hi, 1.0))
    a = np.where(over, sign * np.inf, a)
    b = np.where(over, 0.0, b)
    c = np.where(over, 0.0, c)
    # Inf / NaN buckets: x -> x. Degree 1: 1 * x + 0. Degree 2: (+-1 x + 0) x + 0
    # gives +Inf for +Inf and -Inf for -Inf (the sign of c flips with the sign bit).
    negative = np.arange(65536) >= 0x8000
    if degree == 1:
        a = np.where(special, 0.0, a)
        b = np.where(special, 1.0, b)
    else:
        a = np.where(special, 0.0, a)
        b = np.where(special, 0.0, b)
        c = np.where(special, np.where(negative, -1.0, 1.0), c)
    table = CurveTable(
        name=name,
        degree=degree,
        a=np.ascontiguousarray(a, dtype=np.float32),
        b=np.ascontiguousarray(b, dtype=np.float32),
        c=np.ascontiguousarray(c, dtype=np.float32) if degree == 2 else None,
        build_seconds=time.perf_counter() - start,
    )
    for arr in (table.a, table.b, table.c):
        if arr is not None:
            arr.flags.writeable = False
    return table


_TABLES: dict[str, CurveTable] = {}
_LOCK = threading.Lock()


def get_table(name: str) -> CurveTable:
    """The table of curve ``name``, built on first use."""
    table = _TABLES.get(name)
    if table is None:
        with _LOCK:
            table = _TABLES.get(name)
            if table is None:
                table = _TABLES[name] = build_table(name)
    return table


def build_tables(*names: str) -> dict[str, float]:
    """Build the named tables (all when none are named) now; returns seconds spent per table.

    Conversions build what they need on first use; calling this ahead (e.g.
    when a Nuke panel opens) moves that one-time cost out of the first frame.
    Already-built tables report the time their build took.
    """
    return {name: get_table(name).build_seconds for name in (names or tuple(CURVES))}


class Scratch:
    """Work buffers for evaluating tables on chunks of up to ``size`` floats."""

    def __init__(self, size: int) -> None:
        self.idx = np.empty(size, dtype=np.intp)
        self.t0 = np.empty(size, dtype=np.float32)
        self.t1 = np.empty(size, dtype=np.float32)


def apply_table(table: CurveTable, src: np.ndarray, dst: np.ndarray, scratch: Scratch) -> None:
    """``dst = curve(src)`` for contiguous 1-D float32 ``src``/``dst`` (may be the same array)."""
    m = src.shape[0]
    idx = scratch.idx[:m]
    t0 = scratch.t0[:m]
    np.right_shift(src.view(np.uint32), 16, out=idx, casting="unsafe")
    t1 = scratch.t1[:m]
    if table.c is None:
        np.take(table.b, idx, out=t0, mode="wrap")
        np.multiply(t0, src, out=t0)
    else:
        np.take(table.c, idx, out=t0, mode="wrap")
        np.multiply(t0, src, out=t0)
        np.take(table.b, idx, out=t1, mode="wrap")
        np.add(t0, t1, out=t0)
        np.multiply(t0, src, out=t0)
    np.take(table.a, idx, out=t1, mode="wrap")
    np.add(t0, t1, out=dst)
