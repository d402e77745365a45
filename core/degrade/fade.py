"""Chromogenic dye fade: dyes lost per layer, in the density domain.

A colour print's picture is three dyes: cyan (absorbs red), magenta (green),
yellow (blue). In dark storage the dyes decay at different rates — on most
Eastmancolor-era prints cyan goes first, leaving the familiar magenta/red
cast — and the print loses contrast and D-max (blacks turn milky). The model:

1. print densities ``D = -log10(v + 10**-PRINT_DMAX)`` per channel (``v = 1``
   is clear base, ``v = 0`` the print's D-max; brighter-than-base values
   carry no dye);
2. dye amounts from densities through the dyes' spectral crosstalk matrix
   :data:`DYE_DENSITIES` (each dye also absorbs a little outside its band);
3. each dye amount scaled by ``1 - fade_<dye>`` (negative amounts — colours
   more saturated than the dyes can make — are not faded) and the lost dye's
   density removed from every channel it absorbed in;
4. optional D-max loss: ``D' = dmax * tanh(D / dmax)`` (identity for low
   densities, caps the deepest shadows: raised blacks, less shadow contrast);
5. optional yellow stain: density added mostly in blue (aged base and
   residual couplers).

Pixels: ``float32`` ``HW3`` scene-linear ACEScg, >= 0, in and out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from core.degrade._common import EffectOutput, strip_rows
from core.params import Param

NAME = "fade"

#: Channel densities (rows R, G, B) per unit of dye (columns cyan, magenta,
#: yellow). Unit main absorptions, with unwanted side absorptions of the
#: size typical of chromogenic print dyes (magenta's blue absorption is the
#: largest); illustrative values, not a measured stock.
DYE_DENSITIES = np.array([
    [1.00, 0.08, 0.02],
    [0.12, 1.00, 0.08],
    [0.06, 0.28, 1.00],
], dtype=np.float64)
_DYE_FROM_DENSITY = np.linalg.inv(DYE_DENSITIES)
#: D-max of a new print: scene-linear 0 maps to this density (``v + 10**-PRINT_DMAX``
#: is the print's transmittance), so black fades like the darkest dye.
PRINT_DMAX = 3.5
#: Channel densities (R, G, B) of one unit of stain: mostly blue (a yellow stain).
STAIN_DENSITY = np.array([0.05, 0.25, 1.0], dtype=np.float32)

PARAMS = [
    Param("fade_cyan", float, 0.0, "dye fade: fraction of the cyan dye lost (red channel brightens: red cast)",
          minimum=0.0, maximum=0.95),
    Param("fade_magenta", float, 0.0, "dye fade: fraction of the magenta dye lost (green cast)",
          minimum=0.0, maximum=0.95),
    Param("fade_yellow", float, 0.0, "dye fade: fraction of the yellow dye lost (blue cast)",
          minimum=0.0, maximum=0.95),
    Param("fade_dmax", float, 0.0, "dye fade: maximum density the faded print still reaches; lower = "
          "more raised blacks (0 = off; a new print is about 3.5)", minimum=0.0, maximum=4.0),
    Param("fade_stain", float, 0.0, "dye fade: yellow stain density added to the base (0 = off)",
          minimum=0.0, maximum=0.5),
]


def enabled(p: Mapping[str, Any]) -> bool:
    return any(p[k] > 0 for k in ("fade_cyan", "fade_magenta", "fade_yellow", "fade_dmax", "fade_stain"))


def fade_matrix(p: Mapping[str, Any]) -> np.ndarray:
    """3x3 matrix that removes the faded part of each dye from channel densities."""
    lost = np.diag([p["fade_cyan"], p["fade_magenta"], p["fade_yellow"]])
    return DYE_DENSITIES @ lost


def apply(rgb: np.ndarray, p: Mapping[str, Any], *, seed: int, frame: int) -> EffectOutput:
    """Fade the dyes (deterministic: no randomness), a strip of rows at a time (per-pixel work), in place."""
    out = rgb
    rows = strip_rows(rgb)
    for y in range(0, rgb.shape[0], rows):
        out[y:y + rows] = _fade(rgb[y:y + rows], p)
    record = {"cyan": p["fade_cyan"], "magenta": p["fade_magenta"], "yellow": p["fade_yellow"],
              "dmax": p["fade_dmax"], "stain": p["fade_stain"]}
    return EffectOutput(out, record)


def _fade(rgb: np.ndarray, p: Mapping[str, Any]) -> np.ndarray:
    """The faded print of ``rgb`` (``float32`` ``HW3`` linear, >= 0)."""
    h, w = rgb.shape[:2]
    t0 = np.float32(10.0 ** -PRINT_DMAX)
    density = -np.log10(rgb.reshape(-1, 3) + t0)  # scene black = the print's D-max
    dyes = np.maximum(np.maximum(density, 0.0) @ _DYE_FROM_DENSITY.T.astype(np.float32), 0.0)
    faded = density - dyes @ fade_matrix(p).T.astype(np.float32)
    faded = np.maximum(faded, np.minimum(density, 0.0))  # a channel never fades past clear base
    if p["fade_dmax"] > 0:
        dmax = np.float32(p["fade_dmax"])
        faded = np.where(faded > 0, dmax * np.tanh(faded / dmax), faded)
    if p["fade_stain"] > 0:
        faded = faded + np.float32(p["fade_stain"]) * STAIN_DENSITY
    return np.maximum(np.power(np.float32(10.0), -faded) - t0, 0.0).reshape(h, w, 3)
