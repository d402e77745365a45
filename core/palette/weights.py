"""What a pixel counts for when the palette is fitted: the weight modes of :func:`core.palette.fit_palette`.

Plain k-means gives every pixel the same vote, so entries go where the
pixels are: eight greens for a forest, none for the narrow orange path
through it. An energy-aware fit gives vivid and bright colours more votes,
so small high-energy regions (fire, plasma, a lit path) pull an entry
towards them; the hue coverage check (:mod:`core.palette.hues`) then makes
sure every hue family that matters has one.

Modes (:data:`WEIGHTS`), a weight per sampled colour, times the number of
pixels it stands for:

``"count"``
    1: plain k-means (the default of ``encode``; the same bits as before
    weights existed).
``"chroma"``
    ``1 + C / C0``: OKLab chroma ``C`` over ``C0`` = :data:`CHROMA_REF`
    (0.1): a colour of chroma 0.2 (a saturated red) counts 3x a grey.
``"energy"``
    ``1 + C * L / E0``: chroma times OKLab lightness ``L`` (clamped at 0;
    above 1 for HDR highlights) over ``E0`` = :data:`ENERGY_REF` (0.1),
    so a bright saturated colour counts most, a dark saturated one
    little (a lit orange path, C 0.12 at L 0.65: 1.8x; a shaded green leaf,
    C 0.08 at L 0.35: 1.3x; an HDR cyan glow, C 0.15 at L 1.3: 3x). The
    default of ``report``. ``E0`` was chosen with
    ``benchmarks/palette_hues_bench.py`` (3 generated fire/plasma/magic
    images and 9 photos, K=8, 1% hue coverage): mean ΔE00 over the high-
    chroma pixels 0.87x plain k-means at 0.05 and 0.1, 0.99x at 0.2; over
    all pixels 1.13x (worst 2.1x, a cyan HDR glow on a grey ground) at
    0.05, 1.085x (worst 1.42x) at 0.1, 1.056x at 0.2.

The "1 +" keeps every colour in the fit: a pure chroma weight leaves greys,
skies and skin without entries and the mean error of the whole frame rises.

Weights are float64, computed elementwise (``+ x / sqrt``, IEEE-exact) from
the float32 OKLab coordinates: the same bits on every machine.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.errors import ParameterError

#: OKLab chroma that doubles a colour's weight in ``"chroma"`` mode.
CHROMA_REF = 0.1
#: OKLab chroma x lightness that doubles a colour's weight in ``"energy"`` mode.
ENERGY_REF = 0.1


def _count(oklab: np.ndarray) -> np.ndarray | None:
    return None


def _chroma(oklab: np.ndarray) -> np.ndarray:
    from core.palette.hues import chroma

    return 1.0 + chroma(oklab) * (1.0 / CHROMA_REF)


def _energy(oklab: np.ndarray) -> np.ndarray:
    from core.palette.hues import chroma

    lightness = np.maximum(np.asarray(oklab[..., 0], dtype=np.float64), 0.0)
    return 1.0 + (chroma(oklab) * lightness) * (1.0 / ENERGY_REF)


#: Weight mode -> function of OKLab ``(n, 3)`` giving ``(n,)`` float64 factors (``None``: all 1).
WEIGHTS: dict[str, Callable[[np.ndarray], np.ndarray | None]] = {
    "count": _count,
    "chroma": _chroma,
    "energy": _energy,
}


def fit_weights(mode: str, oklab: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Fit weights ``(n,)`` float64 of ``n`` distinct colours: ``counts x`` the mode's factor.

    ``oklab``: ``(n, 3)`` OKLab of the colours; ``counts``: ``(n,)`` pixels
    each stands for. ``"count"`` returns ``counts`` itself (the plain fit,
    bit for bit). An unknown mode raises :class:`~core.errors.ParameterError`.
    """
    try:
        factor = WEIGHTS[mode](oklab)
    except KeyError:
        raise ParameterError(f"parameter 'weight': {mode!r} is not one of {', '.join(WEIGHTS)}") from None
    return counts if factor is None else counts * factor
