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
    ``1 + C * L / E0``: chroma times OKLab lightness ``L`` (clamped to
    0..1: an HDR highlight counts as a diffuse white of its chroma) over
    ``E0`` = :data:`ENERGY_REF` (0.2), so a bright saturated colour counts
    most, a dark saturated one little (a lit orange path, C 0.12 at L 0.65:
    1.4x; a shaded green leaf, C 0.08 at L 0.35: 1.14x; an HDR cyan glow,
    C 0.15 at L 1.3: 1.75x). The default of ``report``. ``E0`` and the
    clamp were chosen on the dev set of ``benchmarks/palette_hues_bench.py
    --set dev`` (3 generated fire/plasma/magic images, 14 photos, K=8, 1%
    hue coverage, pins kept in their family at the edge nearest their
    pixels' mean): mean ΔE00 over all pixels / over the high-chroma pixels,
    x plain k-means: E0 0.1 1.073 / 0.869, 0.1 clamped 1.055 / 0.876, 0.2
    1.050 / 0.881, 0.4 1.045 / 0.922, 0.2 clamped 1.041 / 0.901 (recall
    71/71 for each). Before the clamp and the pins' edge rule, E0 0.1 cost
    x1.085 on the test set (worst x1.42, an HDR cyan glow on a grey ground).

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
#: OKLab chroma x lightness (0..1) that doubles a colour's weight in ``"energy"`` mode.
ENERGY_REF = 0.2


def _count(oklab: np.ndarray) -> np.ndarray | None:
    return None


def _chroma(oklab: np.ndarray) -> np.ndarray:
    from core.palette.hues import chroma

    return 1.0 + chroma(oklab) * (1.0 / CHROMA_REF)


def _energy(oklab: np.ndarray) -> np.ndarray:
    from core.palette.hues import chroma

    lightness = np.clip(np.asarray(oklab[..., 0], dtype=np.float64), 0.0, 1.0)
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
