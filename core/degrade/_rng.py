"""Seeded random streams for the damage model: one per (seed, effect, keys).

Every random number the model draws comes from a generator derived from the
job seed, the effect's name and integer keys (frame number, scratch track,
knot index...) through :class:`numpy.random.SeedSequence`. A frame's damage is
therefore a pure function of (pixels, frame number, parameters, seed): frame
ranges can be split across processes and give bit-identical results, and no
frame depends on the frames before it.

Persistent damage (gate weave, scratch drift, flicker) uses
:func:`smooth_noise`: seeded Gaussian values on knots every ``period`` frames,
joined by a Catmull-Rom spline, so the value at frame N needs only the four
knots around N.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

#: Version of the stream derivation; part of every seed, so a change in how
#: streams are derived changes every output instead of silently mixing.
STREAM_SCHEME = 1


def _name_word(name: str) -> int:
    """A stable 64-bit integer for ``name`` (Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "little")


def _zigzag(n: int) -> int:
    """Map any integer to a non-negative one, one-to-one (SeedSequence needs n >= 0)."""
    n = int(n)
    return 2 * n if n >= 0 else -2 * n - 1


def effect_rng(seed: int, name: str, *keys: int) -> np.random.Generator:
    """A PCG64 generator for ``(seed, name, *keys)``; same words, same stream.

    >>> float(effect_rng(7, "grain", 12).random()) == float(effect_rng(7, "grain", 12).random())
    True
    >>> float(effect_rng(7, "grain", 12).random()) == float(effect_rng(7, "grain", 13).random())
    False
    """
    entropy = [STREAM_SCHEME, _zigzag(seed), _name_word(name), *(_zigzag(k) for k in keys)]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))


def catmull_rom_weights(f):
    """Catmull-Rom weights of the four samples around a point at fraction ``f`` (scalar or array) past the second."""
    f2, f3 = f * f, f * f * f
    return (
        0.5 * (-f3 + 2.0 * f2 - f),
        0.5 * (3.0 * f3 - 5.0 * f2 + 2.0),
        0.5 * (-3.0 * f3 + 4.0 * f2 + f),
        0.5 * (f3 - f2),
    )


def smooth_noise(seed: int, name: str, frame: int, period: int, shape: tuple[int, ...] = (),
                 keys: tuple[int, ...] = ()) -> np.ndarray:
    """Unit-variance Gaussian noise that varies smoothly with the frame number.

    Knot ``k`` (at frame ``k * period``) holds ``standard_normal(shape)`` from
    ``effect_rng(seed, name, *keys, k)``; frames between knots interpolate the
    four nearest knots with a Catmull-Rom spline, rescaled so the variance is 1
    at every frame. ``period=1`` gives independent values per frame. Computing
    frame N touches only knots around N (no dependence on earlier frames).

    Returns a ``float64`` array of ``shape`` (a 0-d array for ``shape=()``).
    """
    frame, period = int(frame), max(int(period), 1)
    k0, rem = divmod(frame, period)

    def knot(k: int) -> np.ndarray:
        return effect_rng(seed, name, *keys, k).standard_normal(shape)

    if rem == 0:
        return np.asarray(knot(k0), dtype=np.float64)
    weights = catmull_rom_weights(rem / period)
    total = sum(w * knot(k0 + j) for w, j in zip(weights, (-1, 0, 1, 2)))
    return np.asarray(total / math.sqrt(sum(w * w for w in weights)), dtype=np.float64)
