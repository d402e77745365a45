"""The family registry and :func:`generate`, the one entry point every surface calls.

``generate(family, params, seed=, width=, height=)`` validates the family
name, the parameters (against the family's spec), the size (1..16384 per
side) and the seed (an integer, 0..2**63-1), renders, and returns a
:class:`~core.frame.Frame`: ``float32`` ``HW3`` scene-linear ACEScg, with
the generator's name, version, resolved params and seed in its metadata.
Same params and seed, same bytes, on any machine and thread count.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any

from core.errors import ParameterError
from core.formats import FORMATS
from core.frame import Frame
from core.generate import charts, noise, ramps, repetition, shapes
from core.generate.family import Family
from core.params import Param

#: Version of the generators' pixels: bumped whenever any family's output bytes change for the same params.
GENERATOR_VERSION = FORMATS["reelkit.generate"].tag
MAX_SIZE = 16384
WORKING_COLORSPACE = "ACEScg"

FAMILIES: Mapping[str, Family] = types.MappingProxyType(
    {f.name: f for f in (noise.FAMILY, ramps.FAMILY, shapes.FAMILY, repetition.FAMILY, charts.FAMILY)})

SEED_PARAM = Param("seed", int, 0, "seed of every random choice: same params and seed, same bytes",
                   minimum=0, maximum=2**63 - 1)


def family(name: str) -> Family:
    """The :class:`Family` called ``name``; unknown names raise one :class:`ParameterError` line listing the known."""
    try:
        return FAMILIES[name]
    except (KeyError, TypeError):
        raise ParameterError(f"generate: unknown family {name!r}; known: {', '.join(FAMILIES)}") from None


def check_seed(seed: Any) -> int:
    """The seed as an ``int``: integers (or integral strings) 0..2**63-1; anything else is one ParameterError line."""
    if isinstance(seed, float) or (isinstance(seed, str) and not seed.strip().lstrip("+").isdigit()):
        raise ParameterError(f"parameter 'seed': expected an integer, got {seed!r}")
    return SEED_PARAM.coerce(seed)


def check_size(width: Any, height: Any) -> tuple[int, int]:
    """``(width, height)`` as ints in 1..:data:`MAX_SIZE`, else one ParameterError line naming the size."""
    out = []
    for name, v in (("width", width), ("height", height)):
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_SIZE:
            raise ParameterError(f"size: {name} {v!r} must be an integer from 1 to {MAX_SIZE}")
        out.append(v)
    return out[0], out[1]


def parse_size(text: str) -> tuple[int, int]:
    """``"1920x1080"`` -> ``(1920, 1080)``; anything else (``0x0``, ``20000x10``, ``big``) is one ParameterError line.

    >>> parse_size("256x144")
    (256, 144)
    """
    parts = str(text).lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ParameterError(f"size: {text!r} is not WIDTHxHEIGHT (e.g. 1920x1080)")
    return check_size(int(parts[0]), int(parts[1]))


def resolve(name: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The family's full parameter dict: ``params`` checked over its defaults (unknown keys raise)."""
    return family(name).spec.resolve(params)


def generate(name: str, params: Mapping[str, Any] | None = None, *, seed: int = 0, width: int = 1920,
             height: int = 1080, threads: int | None = None) -> Frame:
    """Render family ``name``: a ``float32`` ``HW3`` scene-linear ACEScg :class:`Frame`.

    ``params`` are checked against the family's spec (unknown names and
    out-of-range values raise :class:`~core.errors.ParameterError`, one line
    naming them). ``threads`` (``None``: the CPUs available) changes the speed
    only, never the bytes. The frame's metadata holds ``generator``
    (:data:`GENERATOR_VERSION`), ``family``, ``params`` (all of them,
    resolved) and ``seed``.

    >>> import numpy as np
    >>> f = generate("chart", {"chart": "step_wedge", "steps": 3, "stop_min": -1, "stop_max": 1}, width=6, height=2)
    >>> f.pixels.shape, f.colorspace, f.pixels[0, ::2, 0].tolist() == [np.float32(v) for v in (0.09, 0.18, 0.36)]
    ((2, 6, 3), 'ACEScg', True)
    """
    fam = family(name)
    values = fam.spec.resolve(params)
    seed = check_seed(seed)
    width, height = check_size(width, height)
    pixels = fam.render(values, seed, width, height, threads)
    return Frame(pixels, WORKING_COLORSPACE,
                 metadata={"generator": GENERATOR_VERSION, "family": fam.name, "params": values, "seed": seed,
                           "colorspace_source": "generated"})
