"""What a generator family is: a name, one parameter spec, and a pure render function.

A family's ``render(params, seed, width, height, threads)`` returns the
image as ``float32`` ``HWC`` (C = 3) scene-linear ACEScg; ``params`` are
already resolved by its :class:`~core.params.ParamSet` (every key present,
each value checked). The CLI options, config keys, Nuke knobs and the
(image, params) data set keys all come from that spec, as flat keys.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from core.params import Param, ParamSet

RenderFn = Callable[[dict[str, Any], int, int, int, "int | None"], np.ndarray]


@dataclasses.dataclass(frozen=True)
class Family:
    """One generator family: ``name``, its ``spec``, its ``render`` function and a one-line ``summary``."""

    name: str
    spec: ParamSet
    render: RenderFn
    summary: str
    #: What batch variations draw (:mod:`core.generate.sampling`): param name -> ``(low, high)`` for numbers,
    #: ``None`` for every choice of a str / both values of a bool. Params not named keep their value.
    sampling: Mapping[str, tuple[float, float] | None] = dataclasses.field(default_factory=dict)


def color_params(prefix: str, rgb: tuple[float, float, float], what: str) -> list[Param]:
    """Three flat float params ``PREFIX_r``, ``PREFIX_g``, ``PREFIX_b`` (ACEScg, scene-linear, >= 0)."""
    return [Param(f"{prefix}_{c}", float, v, f"{what}, ACEScg {c.upper()} (scene-linear)", minimum=0.0,
                  maximum=1000.0, label=f"{what} {c.upper()}") for c, v in zip("rgb", rgb)]


def color_sampling(prefix: str, low: float = 0.0, high: float = 1.0) -> dict[str, tuple[float, float]]:
    """Sampling ranges of the three :func:`color_params` of ``prefix``."""
    return {f"{prefix}_{c}": (low, high) for c in "rgb"}


def color_of(params: dict[str, Any], prefix: str) -> np.ndarray:
    """The ``float32`` RGB triple of :func:`color_params` ``prefix``."""
    return np.array([params[f"{prefix}_{c}"] for c in "rgb"], np.float32)


def mix_colors(c0: np.ndarray, c1: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``c0 + (c1 - c0) * t`` per pixel: ``t`` ``float32`` ``HW`` -> ``float32`` ``HW3`` (exact float ops)."""
    t = t[..., None]
    return c0 + (c1 - c0) * t
