"""Refinement: CMA-ES over the continuous params, from a prediction, against an image loss.

:func:`refine` keeps the categorical and boolean values it is given and
searches the continuous ones (normalised to 0..1 by the
:class:`~core.inverse.space.ParamSpace`, clipped to their range) with
:func:`~core.inverse.cmaes.cma_minimise`, started at the given params with
the given spreads (a prediction's ``sigma``, clipped to
:data:`SIGMA_RANGE`), minimising an image loss (:data:`LOSSES`) between the
generator's render and the target. Deterministic given the seed.

Losses (images ``float32`` ``HW3`` scene-linear ACEScg, the same size):
``"mse"`` the mean squared difference of their ``log2`` encodings
(:mod:`core.infer.encoding`: about equal weight per stop); ``"ssim"``
``1 - SSIM`` (:func:`core.metrics.image.ssim`, on sRGB-encoded clipped values).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from core.errors import ImageError, ParameterError
from core.inverse.cmaes import cma_minimise
from core.inverse.generators import Generator
from core.inverse.space import ParamSpace

#: Spreads CMA-ES starts with, in normalised units (a too-sure network must still let it move).
SIGMA_RANGE = (0.02, 0.3)


def _mse(a: np.ndarray, b: np.ndarray) -> float:
    from core.infer.encoding import encode_pixels

    return float(np.mean((encode_pixels(a, "log2") - encode_pixels(b, "log2")) ** 2))


def _ssim(a: np.ndarray, b: np.ndarray) -> float:
    from core.metrics.image import ssim

    return 1.0 - float(ssim(a, b))


#: Image loss name -> ``loss(render, target)`` (lower is better, 0 for equal images).
LOSSES: Mapping[str, Callable[[np.ndarray, np.ndarray], float]] = {"mse": _mse, "ssim": _ssim}


@dataclasses.dataclass(frozen=True)
class RefineResult:
    """The refined ``params`` (the generator's full dict), the loss of the starting params (``loss_before``)
    and of the refined ones (``loss_after``, never above ``loss_before``), ``evaluations`` and ``stopped``."""

    params: dict[str, Any]
    loss_before: float
    loss_after: float
    evaluations: int
    stopped: str


def image_loss(name: str) -> Callable[[np.ndarray, np.ndarray], float]:
    """The loss called ``name`` (:data:`LOSSES`), or one :class:`ParameterError` line naming the known."""
    try:
        return LOSSES[name]
    except KeyError:
        raise ParameterError(f"refine: unknown loss {name!r}; known: {', '.join(LOSSES)}") from None


def refine(gen: Generator, target: Any, params: Mapping[str, Any], space: ParamSpace, *,
           sigma: Sequence[float] | float | None = None, loss: str = "mse", seed: int = 0, render_seed: int = 0,
           max_evals: int = 200, max_seconds: float | None = None,
           progress: Callable[[int, float], None] | None = None) -> RefineResult:
    """Refine ``params`` (flat keys, the generator's params) so that ``gen`` renders ``target``.

    ``target``: ``float32`` ``HW3`` (or ``HW4``, alpha dropped) scene-linear
    ACEScg, or a Frame. ``sigma``: starting spread per continuous param in
    normalised units (default 0.1). ``render_seed``: the seed every render
    uses. ``progress(evaluations, best loss)`` after each CMA-ES generation.
    """
    fn = image_loss(loss)
    if space.spec_name != gen.spec.name or any(n not in gen.spec for n in space.names):
        raise ParameterError(f"refine: the space is of {space.spec_name!r}, not of generator {gen.name!r}")
    t = np.asarray(getattr(target, "pixels", target))
    if t.ndim != 3 or t.shape[2] not in (3, 4) or not np.isfinite(t[..., :3]).all():
        raise ImageError(f"refine: the target must be a finite HxWx3 image, got shape {t.shape}")
    t = t[..., :3].astype(np.float32)
    height, width = t.shape[:2]
    base = gen.spec.resolve({**space.fixed, **params})
    dims = space.continuous
    x0 = np.array([(base[d.name] - d.low) / (d.high - d.low) for d in dims], np.float64)
    s0 = np.clip(np.broadcast_to(np.asarray(0.1 if sigma is None else sigma, np.float64), (len(dims),)),
                 *SIGMA_RANGE)

    def values_at(x: np.ndarray) -> dict[str, Any]:
        return gen.spec.resolve({**base, **space.continuous_values(x)})

    def objective(x: np.ndarray) -> float:
        return fn(gen.render(values_at(x), render_seed, width, height), t)

    before = objective(np.clip(x0, 0.0, 1.0))
    res = cma_minimise(objective, x0, s0, seed=seed, max_evals=max_evals, max_seconds=max_seconds,
                       progress=progress)
    if res.f < before:
        return RefineResult(values_at(res.x), before, res.f, res.evaluations, res.stopped)
    return RefineResult(dict(base), before, before, res.evaluations, res.stopped)
