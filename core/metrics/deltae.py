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
"""

from __future__ import annotations

import numpy as np

_25_POW_7 = 25.0**7


def delta_e_2000(lab1, lab2, *, k_l: float = 1.0, k_c: float = 1.0, k_h: float = 1.0) -> np.ndarray:
    """CIEDE2000 colour difference between CIE Lab colours ``(..., 3)`` (L* 0..100).

    >>> round(float(delta_e_2000([50.0, 2.6772, -79.7751], [50.0, 0.0, -82.7485])), 4)
    2.0425
    """
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
