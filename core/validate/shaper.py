"""The log shaper that carries scene-linear values into a 3D LUT (and into 8/16-bit filters).

A 3D LUT sampled on a linear grid wastes its nodes on highlights and has
almost none for the shadows of scene-linear images. The shaper maps
scene-linear ``x`` (ACEScg, per channel) to ``u`` in 0..1:

    u = log2(1 + x / c) / log2(1 + hi / c),    c = hi / 1024

linear near black (no singularity at 0, so shadows and black keep their
detail), logarithmic above ``c`` (equal LUT spacing per stop over the top
ten stops below ``hi``). Values below 0 and above ``hi`` clamp. ``hi`` (the
shaper's white, a power of two) is chosen from the data
(:func:`shaper_max`).

The shaper *is* the piecewise-linear table :meth:`Shaper.table` samples it
into (``size`` points evenly spaced over 0..hi): that is what a ``.cube``
file can store (``LUT_1D_SIZE`` + ``LUT_1D_INPUT_RANGE``) and what OCIO and
Resolve evaluate, so :meth:`Shaper.forward` and :meth:`Shaper.inverse`
interpolate the same table and a LUT baked through them matches the file
exactly at its nodes.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from core.errors import ParameterError

#: Points of the 1D shaper table (a .cube's ``LUT_1D_SIZE``).
SHAPER_SIZE = 4096
#: Stops of logarithmic range below ``hi`` before the curve turns linear.
SHAPER_STOPS = 10


def shaper_max(values: np.ndarray, *, percentile: float = 99.99, floor: float = 1.0) -> float:
    """The smallest power of two at or above the ``percentile`` of finite ``values`` (at least ``floor``)."""
    v = np.asarray(values, dtype=np.float32)
    v = v[np.isfinite(v)]
    top = float(np.percentile(v, percentile)) if v.size else floor
    top = max(top, floor)
    return float(2.0 ** math.ceil(math.log2(top)))


@dataclasses.dataclass(frozen=True)
class Shaper:
    """The log shaper over scene-linear ``0..hi`` (see the module docstring)."""

    hi: float = 1.0
    size: int = SHAPER_SIZE

    def __post_init__(self) -> None:
        if not (isinstance(self.hi, (int, float)) and math.isfinite(self.hi) and self.hi > 0):
            raise ParameterError(f"shaper: hi must be a positive finite number, got {self.hi!r}")
        if not 2 <= int(self.size) <= 65536:
            raise ParameterError(f"shaper: size must be 2..65536, got {self.size}")

    @property
    def c(self) -> float:
        return self.hi / 2.0**SHAPER_STOPS

    def curve(self, x: np.ndarray) -> np.ndarray:
        """The analytic curve (float64), before tabulation."""
        x = np.clip(np.asarray(x, dtype=np.float64), 0.0, self.hi)
        return np.log2(1.0 + x / self.c) / math.log2(1.0 + self.hi / self.c)

    def curve_inverse(self, u: np.ndarray) -> np.ndarray:
        """The analytic inverse of :meth:`curve` (float64), extended beyond 0..1 without clamping."""
        u = np.asarray(u, dtype=np.float64)
        return self.c * (np.exp2(u * math.log2(1.0 + self.hi / self.c)) - 1.0)

    def nodes(self) -> np.ndarray:
        """Input values of the table (float64, ``size`` points over 0..hi)."""
        return np.linspace(0.0, self.hi, int(self.size))

    def table(self) -> np.ndarray:
        """The table a .cube stores: ``u`` at :meth:`nodes` (float64, 0..1)."""
        return self.curve(self.nodes())

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Scene-linear -> shaper 0..1, by linear interpolation of :meth:`table` (float32, same shape)."""
        x = np.asarray(x, dtype=np.float32)
        table = self.table()
        # the nodes are evenly spaced: index arithmetic instead of a search (same values as np.interp)
        pos = np.clip(x.astype(np.float64) * ((self.size - 1) / self.hi), 0.0, self.size - 1)
        i0 = np.minimum(pos.astype(np.int64), self.size - 2)
        f = pos - i0
        return (table[i0] * (1.0 - f) + table[i0 + 1] * f).astype(np.float32)

    def inverse(self, u: np.ndarray) -> np.ndarray:
        """Shaper 0..1 -> scene-linear 0..hi, the exact inverse of :meth:`forward` (float64)."""
        u = np.asarray(u, dtype=np.float64)
        return np.interp(u.ravel(), self.table(), self.nodes()).reshape(u.shape)

    def to_dict(self) -> dict:
        return {"kind": "log2", "hi": self.hi, "size": int(self.size), "stops": SHAPER_STOPS}
