"""Hue families: OKLab hue sectors, each one's share of an image's colour, and whether a palette covers them.

A palette keeps hue identity only if every hue that matters in the frame
has an entry. Plain k-means spends entries on pixel count, so a small,
saturated region (a lit path in a forest, the red spots of a butterfly,
a flame) loses its hue to the colours around it. This module names the
hue families, measures each one's share of the frame, and checks a
palette against them (the Controller's hue coverage, issue 24).

Families
    Eight sectors of OKLab hue ``h = atan2(b, a)`` (degrees), named by the
    colours they hold (sRGB primaries and secondaries at their OKLab hue:
    red 29, orange 53, yellow 110, green 142, cyan 195, blue 264, violet
    294, magenta 328)::

        red 350-40, orange 40-80, yellow 80-120, green 120-170,
        cyan 170-230, blue 230-280, purple 280-315, magenta 315-350

    Brown and orange share a hue (brown is a dark orange); olive is a dark
    yellow, foliage green.
Neutral
    A pixel with OKLab chroma ``C = hypot(a, b)`` below
    :data:`NEUTRAL_CHROMA` (0.03, ΔE OK x 100 of 3) has no reliable hue and
    belongs to no family. A palette entry covers a family when its hue is
    in the sector and its chroma is at least :data:`ENTRY_CHROMA` (half
    the pixel threshold: an entry is a mean, a little greyer than its
    pixels).
Share
    A family's share is the chroma-weighted fraction of the frame:
    ``sum(C over the family's pixels) / sum(C over all pixels)``, so a
    small vivid region counts more than a large dull one, and neutrals
    count for nothing.

Determinism
    The sector test compares cross products with literal unit vectors of
    the boundaries (no ``atan2``, whose last bit depends on libm):
    elementwise float64 ``+ - x`` and comparisons, the same on every machine.

Inputs are OKLab coordinates ``(..., 3)`` (L, a, b; L 0..1 for SDR, a and
b about -0.5..0.5), float32 or float64.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

#: Family names in hue order (OKLab hue from 350 degrees round to 350).
FAMILIES = ("red", "orange", "yellow", "green", "cyan", "blue", "purple", "magenta")
#: Each family's first hue (degrees); it ends where the next begins.
FAMILY_START_DEGREES = (350, 40, 80, 120, 170, 230, 280, 315)
# (cos, sin) of FAMILY_START_DEGREES, written out so the sector test is the same bits everywhere.
_BOUNDARIES = (
    (0.984807753012208, -0.1736481776669304),  # 350
    (0.766044443118978, 0.6427876096865393),  # 40
    (0.17364817766693041, 0.984807753012208),  # 80
    (-0.4999999999999998, 0.8660254037844387),  # 120
    (-0.984807753012208, 0.17364817766693028),  # 170
    (-0.6427876096865395, -0.7660444431189779),  # 230
    (0.17364817766692997, -0.9848077530122081),  # 280
    (0.7071067811865474, -0.7071067811865477),  # 315
)
#: OKLab chroma below which a pixel has no hue family (ΔE OK x 100 of 3).
NEUTRAL_CHROMA = 0.03
#: OKLab chroma an entry needs to cover the family its hue is in.
ENTRY_CHROMA = NEUTRAL_CHROMA / 2
#: Share the check uses when the fit did not ask for coverage (``hue_coverage=0``): a look, not a promise.
CHECK_SHARE = 0.01
NEUTRAL = -1


def chroma(oklab: np.ndarray) -> np.ndarray:
    """OKLab chroma ``sqrt(a^2 + b^2)`` (float64, shape ``(...)``) of OKLab ``(..., 3)``."""
    a = np.asarray(oklab[..., 1], dtype=np.float64)
    b = np.asarray(oklab[..., 2], dtype=np.float64)
    return np.sqrt(a * a + b * b)


def family_of(oklab: np.ndarray, *, min_chroma: float = NEUTRAL_CHROMA) -> np.ndarray:
    """Family index (``int8``, shape ``(...)``) of each OKLab colour: 0..7 into :data:`FAMILIES`, -1 neutral.

    ``min_chroma``: colours with OKLab chroma below it are neutral.
    """
    ok = np.asarray(oklab)
    a = np.asarray(ok[..., 1], dtype=np.float64)
    b = np.asarray(ok[..., 2], dtype=np.float64)
    out = np.full(a.shape, NEUTRAL, np.int8)
    n = len(_BOUNDARIES)
    # side[i]: the colour lies counter-clockwise of boundary i (or on it)
    side = [(c * b - s * a) >= 0.0 for c, s in _BOUNDARIES]
    for i in range(n):
        inside = side[i] & ~side[(i + 1) % n]
        out[inside] = i
    out[(a * a + b * b) < min_chroma * min_chroma] = NEUTRAL
    return out


def family_chroma(oklab: np.ndarray, counts: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """``(sums, total)``: the chroma each family holds (``(8,)`` float64) and the chroma of every colour given.

    ``oklab``: ``(n, 3)`` OKLab colours; ``counts``: ``(n,)`` how many pixels
    each stands for (``None``: one each); a colour adds ``count x C``.
    Neutral colours add to ``total`` only. Sums of chunks add up.
    """
    ok = np.asarray(oklab).reshape(-1, 3)
    c = chroma(ok)
    if counts is not None:
        c = c * np.asarray(counts, dtype=np.float64).reshape(-1)
    fam = family_of(ok)
    sums = np.bincount(fam[fam >= 0].astype(np.int64), weights=c[fam >= 0], minlength=len(FAMILIES))
    return sums, float(c.sum())


def family_shares(oklab: np.ndarray, counts: np.ndarray | None = None) -> np.ndarray:
    """``(8,)`` float64: each family's chroma-weighted share of the colours given (see :func:`family_chroma`).

    Share = the family's chroma / the chroma of every colour (neutrals in
    the denominator). All zeros for an image without chroma.
    """
    sums, total = family_chroma(oklab, counts)
    return shares_of(sums, total)


def shares_of(sums: np.ndarray, total: float) -> np.ndarray:
    """Shares from :func:`family_chroma`'s ``(sums, total)`` (summed over chunks); zeros when ``total`` is 0."""
    return np.asarray(sums, np.float64) / total if total > 0 else np.zeros(len(FAMILIES))


def required_families(shares: np.ndarray, min_share: float) -> list[int]:
    """Indices of the families holding at least ``min_share`` (``0`` requires none)."""
    if not min_share > 0:
        return []
    return [int(i) for i in np.flatnonzero(np.asarray(shares) >= min_share)]


def entry_families(palette_oklab: np.ndarray) -> np.ndarray:
    """``(K,)`` family of each palette entry (OKLab ``(K, 3)``), -1 for an entry too grey to cover one."""
    return family_of(np.asarray(palette_oklab).reshape(-1, 3), min_chroma=ENTRY_CHROMA)


def family_means(x: np.ndarray, weights: np.ndarray, families: np.ndarray, which: Sequence[int]) -> np.ndarray:
    """``(len(which), 3)`` float64: the weighted mean colour of each family in ``which``.

    ``x``: ``(n, 3)`` colours (any space, e.g. the fit space); ``weights``:
    ``(n,)``; ``families``: ``(n,)`` from :func:`family_of` (of the same
    colours in OKLab). Sums with ``np.bincount`` (a sequential float64 loop,
    fixed order: the same bits everywhere). A family without colours gives NaN.
    """
    lab = np.where(families >= 0, families, len(FAMILIES)).astype(np.int64)
    n = len(FAMILIES) + 1
    w = np.asarray(weights, np.float64)
    total = np.bincount(lab, weights=w, minlength=n)
    sums = np.stack([np.bincount(lab, weights=w * np.asarray(x[:, i], np.float64), minlength=n) for i in range(3)],
                    axis=1)
    which = list(which)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums[which] / total[which, None]


def family_index(name: str) -> int:
    """The index of hue family ``name`` (any case); :class:`~core.errors.ParameterError` naming the families."""
    from core.errors import ParameterError

    key = str(name).strip().lower()
    if key not in FAMILIES:
        raise ParameterError(f"hue family {name!r}: expected one of {', '.join(FAMILIES)}")
    return FAMILIES.index(key)


@dataclasses.dataclass(frozen=True)
class HueCoverage:
    """Which hue families the frame holds and which the palette has an entry for.

    ``min_share``: a family with at least this chroma-weighted share of the
    frame is *required*. ``shares``: every family's share (name -> 0..1).
    ``found`` / ``missed``: the required families with / without an entry
    (names, in hue order). ``entries``: each entry's family (name, or
    ``"neutral"``). ``passed``: nothing missed. ``enforced``: whether the fit
    was asked to cover them (``hue_coverage > 0``) or this is a check only.
    """

    min_share: float
    shares: dict
    found: tuple
    missed: tuple
    entries: tuple
    passed: bool
    enforced: bool

    @property
    def required(self) -> tuple:
        return tuple(f for f in FAMILIES if f in self.found or f in self.missed)

    @property
    def message(self) -> str:
        """One line: pass/fail, the share, families found and missed."""
        verdict = "pass" if self.passed else "FAIL"
        found = ", ".join(f"{f} {self.shares[f]:.1%}" for f in self.found) or "none"
        line = f"hue coverage {verdict} (families >= {self.min_share:.1%} of the chroma): found {found}"
        if self.missed:
            line += "; missed " + ", ".join(f"{f} {self.shares[f]:.1%}" for f in self.missed)
        return line

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "enforced": self.enforced, "min_share": self.min_share,
                "required": list(self.required), "found": list(self.found), "missed": list(self.missed),
                "shares": {f: round(float(s), 6) for f, s in self.shares.items()},
                "entries": list(self.entries), "message": self.message}


def coverage(shares: np.ndarray, palette_oklab: np.ndarray, min_share: float, *,
             enforced: bool = False) -> HueCoverage:
    """:class:`HueCoverage` of a palette (OKLab ``(K, 3)``) against family ``shares`` (``(8,)``)."""
    fam = entry_families(palette_oklab)
    have = set(int(f) for f in fam if f >= 0)
    need = required_families(shares, min_share)
    return HueCoverage(
        min_share=float(min_share),
        shares={FAMILIES[i]: float(s) for i, s in enumerate(shares)},
        found=tuple(FAMILIES[i] for i in need if i in have),
        missed=tuple(FAMILIES[i] for i in need if i not in have),
        entries=tuple(FAMILIES[f] if f >= 0 else "neutral" for f in fam),
        passed=all(i in have for i in need),
        enforced=bool(enforced),
    )
