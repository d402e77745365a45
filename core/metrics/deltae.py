"""Colour differences: CIEDE2000 (ΔE00) on CIE Lab, and ΔE OK on OKLab.

``delta_e_2000``
    Sharma, Wu & Dalal, "The CIEDE2000 color-difference formula:
    implementation notes, supplementary test data, and mathematical
    observations", Color Research & Application 30(1), 2005, equations
    (1)-(22), with their conventions: hue angles in degrees in [0, 360),
    h' = 0 for a zero-chroma colour, the mean hue of a pair with a zero
    chroma is h1' + h2'. Tested against the paper's 34 pairs and against
    ``colour.delta_E(..., method="CIE 2000")``.
``delta_e_ok``
    Euclidean distance in OKLab (Ottosson 2020) **multiplied by 100**, so
    its magnitudes read like ΔE76/ΔE00 (a just-noticeable difference is
    about 2; CSS Color 4's ``deltaEOK`` is the same distance without the
    factor 100).

Inputs are ``(..., 3)`` arrays (any float dtype, broadcastable); outputs are
``float64`` ``(...)``. ΔE00 is symmetric and 0 for identical colours.

Kernels (:data:`core.kernels.KERNELS`): ``delta_e_2000`` runs the same float64 formula
either as numpy array passes (about 40 temporaries per pixel) or, with numba
installed (the ``fast`` extra), as one compiled loop per pixel (``nogil``, no
``fastmath``) that spends fewer transcendental calls: powers by products,
``hypot`` as ``sqrt(a² + b²)`` (Lab values cannot overflow), the hues as
unit vectors ``(a', b) / C'`` — ``ΔH' = 2 sqrt(C1' C2') sin(Δh'/2)`` is
``sqrt(C1' C2')`` times the chord between them, signed as their cross
product, and the mean hue ``h̄'`` is the direction of their sum, so T's
four cosines come from its ``cos``/``sin`` by the multiple- and sum-angle
identities and one ``atan2`` gives ``h̄'`` for ``Δθ`` — save where a chroma
is 0 or the hues are nearly opposite (:data:`_APART`), which go by the
angles as the numpy path does. Each kernel is deterministic; the two differ
by rounding only, at most 7.3e-14 ΔE per pixel on real photos, random,
near-opposite and near-equal hue pairs and Sharma's table
(``tests/test_palette_deltae.py`` checks 1e-12); at exactly opposite hues,
where CIEDE2000's mean hue jumps by 180 degrees, rounding picks the side
in each kernel (as it did before the hue vectors). ``"auto"`` takes numba when
it imports. Speed: ``benchmarks/validate_bench.py`` (the ``ΔE2000
numba/numpy`` line; a 640x272 frame's pixels, one thread: 10.8 ms, the
angle-by-angle loop before it 19.0 ms, the numpy path about 45 ms).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from core.kernels import KERNELS, choose

_25_POW_7 = 25.0**7
#: The numba kernel takes the hues as unit vectors where their sum is at least this long (hues less than
#: about 174 degrees apart); nearer opposite, the sum's direction is ill-conditioned, and it goes by the angles.
_APART = 0.1


@functools.lru_cache(maxsize=1)
def _compiled():
    """The numba kernel ``(lab1 (n, 3), lab2 (n, 3), out (n,), k_l, k_c, k_h)``, or ``None`` without numba."""
    try:
        import numba
    except ImportError:
        return None

    @numba.njit(nogil=True, cache=True, error_model="numpy")
    def kernel(lab1, lab2, out, k_l, k_c, k_h):  # pragma: no cover - compiled
        # everything in the body (a jitted helper or a constant in the closure would keep numba's cache from
        # finding the kernel again: compiled anew in every process)
        rad = math.pi / 180.0
        # cos(x + k) = cos x cos k - sin x sin k for the constant offsets of T
        c30, s30, c6, s6, c63, s63 = (math.cos(30.0 * rad), math.sin(30.0 * rad), math.cos(6.0 * rad),
                                      math.sin(6.0 * rad), math.cos(63.0 * rad), math.sin(63.0 * rad))
        for i in range(out.shape[0]):
            L1, a1, b1 = np.float64(lab1[i, 0]), np.float64(lab1[i, 1]), np.float64(lab1[i, 2])
            L2, a2, b2 = np.float64(lab2[i, 0]), np.float64(lab2[i, 1]), np.float64(lab2[i, 2])
            c_bar = (math.sqrt(a1 * a1 + b1 * b1) + math.sqrt(a2 * a2 + b2 * b2)) / 2.0
            c_bar2 = c_bar * c_bar
            c_bar7 = c_bar2 * c_bar2 * c_bar2 * c_bar
            g = 0.5 * (1.0 - math.sqrt(c_bar7 / (c_bar7 + _25_POW_7)))
            a1p = (1.0 + g) * a1
            a2p = (1.0 + g) * a2
            c1p = math.sqrt(a1p * a1p + b1 * b1)
            c2p = math.sqrt(a2p * a2p + b2 * b2)
            dLp = L2 - L1
            dCp = c2p - c1p
            cprod = c1p * c2p
            sq = math.sqrt(cprod)
            # the hues as unit vectors: ΔH' = 2 sqrt(C1'C2') sin(Δh'/2) is sqrt(C1'C2') times the chord between
            # them (signed as their cross product), the mean hue is the direction of their sum; one angle
            # (h̄' for Δθ) instead of five. Near-opposite hues (the sum's direction ill-conditioned, and which
            # half-turn the mean takes decided by rounding) and a zero chroma go by the angles.
            n1x, n1y, n2x, n2y = a1p / c1p, b1 / c1p, a2p / c2p, b2 / c2p
            sx, sy = n1x + n2x, n1y + n2y
            sl = math.sqrt(sx * sx + sy * sy)
            if cprod > 0 and sl > _APART:
                ex, ey = n2x - n1x, n2y - n1y
                chord = math.sqrt(ex * ex + ey * ey)
                dHp = sq * chord if n1x * n2y - n1y * n2x >= 0 else -(sq * chord)
                ch, sh = sx / sl, sy / sl
                hbp = (math.atan2(sy, sx) / rad) % 360.0
            else:  # the angles, as the numpy path has them: h' in [0, 360), 0 for a zero chroma; Δh' wrapped
                # to +-180; the mean over the shorter arc
                h1p = 0.0 if (a1p == 0 and b1 == 0) else (math.atan2(b1, a1p) / rad) % 360.0
                h2p = 0.0 if (a2p == 0 and b2 == 0) else (math.atan2(b2, a2p) / rad) % 360.0
                dh = h2p - h1p
                if cprod == 0:
                    dhp = 0.0
                elif abs(dh) <= 180.0:
                    dhp = dh
                elif dh > 180.0:
                    dhp = dh - 360.0
                else:
                    dhp = dh + 360.0
                hsum = h1p + h2p
                if cprod == 0:
                    hbp = hsum
                elif abs(h1p - h2p) <= 180.0:
                    hbp = hsum / 2.0
                elif hsum < 360.0:
                    hbp = (hsum + 360.0) / 2.0
                else:
                    hbp = (hsum - 360.0) / 2.0
                dHp = 2.0 * sq * math.sin(dhp * (rad / 2.0))
                ch, sh = math.cos(hbp * rad), math.sin(hbp * rad)
            Lbp = (L1 + L2) / 2.0
            Cbp = (c1p + c2p) / 2.0
            c2h = 2.0 * ch * ch - 1.0
            s2h = 2.0 * sh * ch
            c3h = ch * (4.0 * ch * ch - 3.0)
            s3h = sh * (3.0 - 4.0 * sh * sh)
            c4h = 2.0 * c2h * c2h - 1.0
            s4h = 2.0 * s2h * c2h
            t = (1.0 - 0.17 * (ch * c30 + sh * s30) + 0.24 * c2h
                 + 0.32 * (c3h * c6 - s3h * s6) - 0.20 * (c4h * c63 + s4h * s63))
            q = (hbp - 275.0) / 25.0
            d_theta = 30.0 * math.exp(-(q * q))
            cbp2 = Cbp * Cbp
            cbp7 = cbp2 * cbp2 * cbp2 * Cbp
            r_c = 2.0 * math.sqrt(cbp7 / (cbp7 + _25_POW_7))
            l50 = (Lbp - 50.0) * (Lbp - 50.0)
            s_l = 1.0 + 0.015 * l50 / math.sqrt(20.0 + l50)
            s_c = 1.0 + 0.045 * Cbp
            s_h = 1.0 + 0.015 * Cbp * t
            r_t = -math.sin(2.0 * d_theta * rad) * r_c
            tl = dLp / (k_l * s_l)
            tc = dCp / (k_c * s_c)
            th = dHp / (k_h * s_h)
            v = tl * tl + tc * tc + th * th + r_t * tc * th
            out[i] = math.sqrt(0.0 if v < 0.0 else v)  # NaN stays NaN, as np.maximum(v, 0)

    return kernel


def available() -> bool:
    """Whether the numba kernel can run here (numba imports)."""
    return _compiled() is not None


def delta_e_2000(lab1, lab2, *, k_l: float = 1.0, k_c: float = 1.0, k_h: float = 1.0,
                 kernel: str = "auto") -> np.ndarray:
    """CIEDE2000 colour difference between CIE Lab colours ``(..., 3)`` (L* 0..100).

    ``kernel``: one of :data:`core.kernels.KERNELS` (the module's docstring says how they differ).

    >>> round(float(delta_e_2000([50.0, 2.6772, -79.7751], [50.0, 0.0, -82.7485])), 4)
    2.0425
    """
    if choose(kernel, available) == "numba":
        lab1, lab2 = (np.asarray(x) for x in (lab1, lab2))
        lab1, lab2 = (x if x.dtype in (np.float32, np.float64) else x.astype(np.float64) for x in (lab1, lab2))
        if lab1.shape[-1:] == lab2.shape[-1:] == (3,):
            shape = np.broadcast_shapes(lab1.shape, lab2.shape)
            flat = [np.ascontiguousarray(np.broadcast_to(x, shape)).reshape(-1, 3) for x in (lab1, lab2)]
            out = np.empty(flat[0].shape[0], np.float64)
            _compiled()(flat[0], flat[1], out, float(k_l), float(k_c), float(k_h))
            return out.reshape(shape[:-1])
    lab1 = np.asarray(lab1, dtype=np.float64)
    lab2 = np.asarray(lab2, dtype=np.float64)
    L1, a1, b1 = lab1[..., 0], lab1[..., 1], lab1[..., 2]
    L2, a2, b2 = lab2[..., 0], lab2[..., 1], lab2[..., 2]

    c1 = np.hypot(a1, b1)
    c2 = np.hypot(a2, b2)
    c_bar7 = ((c1 + c2) / 2.0) ** 7
    g = 0.5 * (1.0 - np.sqrt(c_bar7 / (c_bar7 + _25_POW_7)))
    a1p = (1.0 + g) * a1
    a2p = (1.0 + g) * a2
    c1p = np.hypot(a1p, b1)
    c2p = np.hypot(a2p, b2)
    # hue angles in degrees, [0, 360); 0 where a' = b = 0
    h1p = np.where((a1p == 0) & (b1 == 0), 0.0, np.degrees(np.arctan2(b1, a1p)) % 360.0)
    h2p = np.where((a2p == 0) & (b2 == 0), 0.0, np.degrees(np.arctan2(b2, a2p)) % 360.0)

    dLp = L2 - L1
    dCp = c2p - c1p
    cprod = c1p * c2p
    dh = h2p - h1p
    dhp = np.where(cprod == 0, 0.0,
                   np.where(np.abs(dh) <= 180.0, dh, np.where(dh > 180.0, dh - 360.0, dh + 360.0)))
    dHp = 2.0 * np.sqrt(cprod) * np.sin(np.radians(dhp / 2.0))

    Lbp = (L1 + L2) / 2.0
    Cbp = (c1p + c2p) / 2.0
    hsum = h1p + h2p
    hbp = np.where(cprod == 0, hsum,
                   np.where(np.abs(h1p - h2p) <= 180.0, hsum / 2.0,
                            np.where(hsum < 360.0, (hsum + 360.0) / 2.0, (hsum - 360.0) / 2.0)))
    t = (1.0 - 0.17 * np.cos(np.radians(hbp - 30.0)) + 0.24 * np.cos(np.radians(2.0 * hbp))
         + 0.32 * np.cos(np.radians(3.0 * hbp + 6.0)) - 0.20 * np.cos(np.radians(4.0 * hbp - 63.0)))
    d_theta = 30.0 * np.exp(-(((hbp - 275.0) / 25.0) ** 2))
    cbp7 = Cbp**7
    r_c = 2.0 * np.sqrt(cbp7 / (cbp7 + _25_POW_7))
    l50 = (Lbp - 50.0) ** 2
    s_l = 1.0 + 0.015 * l50 / np.sqrt(20.0 + l50)
    s_c = 1.0 + 0.045 * Cbp
    s_h = 1.0 + 0.015 * Cbp * t
    r_t = -np.sin(np.radians(2.0 * d_theta)) * r_c
    tl = dLp / (k_l * s_l)
    tc = dCp / (k_c * s_c)
    th = dHp / (k_h * s_h)
    return np.sqrt(np.maximum(tl * tl + tc * tc + th * th + r_t * tc * th, 0.0))


def delta_e_ok(oklab1, oklab2) -> np.ndarray:
    """Euclidean OKLab distance x 100 (``(..., 3)`` inputs, L 0..1).

    >>> float(delta_e_ok([0.5, 0.0, 0.0], [0.5, 0.03, 0.04]))
    5.0
    """
    d = np.asarray(oklab1, dtype=np.float64) - np.asarray(oklab2, dtype=np.float64)
    return np.sqrt(d[..., 0] ** 2 + d[..., 1] ** 2 + d[..., 2] ** 2) * 100.0


def delta_e_76(lab1, lab2) -> np.ndarray:
    """Euclidean CIE Lab distance (ΔE*ab 1976)."""
    d = np.asarray(lab1, dtype=np.float64) - np.asarray(lab2, dtype=np.float64)
    return np.sqrt(d[..., 0] ** 2 + d[..., 1] ** 2 + d[..., 2] ** 2)
