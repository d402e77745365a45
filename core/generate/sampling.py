"""Seeded parameter variations: the (image, params) data sets of the inverse model.

Variation ``index`` of a batch draws each parameter named in its family's
``sampling`` table (and not fixed by the caller) from the table's range —
numbers uniformly in ``(low, high)`` (floats rounded to 6 decimals, so the
JSON reads cleanly and the value is exact), strings from every choice,
booleans either way — with integer hashes of (seed, family, index, name):
the same seed gives the same variations on every machine. Each variation
also gets its own render seed (:func:`variation_seed`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.generate._hash import seed_key, unit_scalar
from core.generate.registry import family


def variation_seed(seed: int, index: int) -> int:
    """The render seed of variation ``index`` of a batch seeded ``seed`` (0..2**31-1).

    >>> variation_seed(7, 0) == variation_seed(7, 0) != variation_seed(7, 1)
    True
    """
    return seed_key(seed, "variation", index) & 0x7FFFFFFF


def sample_params(name: str, seed: int, index: int, fixed: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """All parameters of variation ``index``: ``fixed`` ones as given, sampled ones drawn, the rest defaults.

    Returns the resolved dict (every key of the family's spec), checked by the spec.
    """
    fam = family(name)
    fixed = dict(fixed or {})
    values: dict[str, Any] = dict(fixed)
    for key, span in fam.sampling.items():
        if key in fixed:
            continue
        param = fam.spec[key]
        h = seed_key(seed, "sample", name, index, key)
        if param.kind is str:
            values[key] = param.choices[h % len(param.choices)]
        elif param.kind is bool:
            values[key] = bool((h >> 8) & 1)
        elif param.kind is int:
            low, high = int(span[0]), int(span[1])
            values[key] = low + h % (high - low + 1)
        else:
            low, high = span
            values[key] = round(low + (high - low) * unit_scalar(h), 6)
    return fam.spec.resolve(values)
