"""The method table of restoration baselines (:data:`BASELINES`) and how to run one on a frame.

A baseline name is one entry of :data:`BASELINES` or several joined by
``+``, run left to right (``"dust_bust+denoise_nlm+grade_lut3d"``: clean,
denoise, then grade). Grade steps use a fit made beforehand
(:func:`core.validate.fit_grade`) and passed in ``grades`` by method;
``dust_bust`` uses frames n-1 and n+1 of the source when given.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from core.errors import ParameterError


@dataclasses.dataclass(frozen=True)
class Baseline:
    """One classic method: ``kind`` ``"grade"`` (needs a fit of ``grade``) or ``"filter"`` (``function`` in
    :mod:`core.validate.filters`, with keyword arguments from ``options``: baseline option -> filter keyword)."""

    name: str
    kind: str
    help: str
    grade: str = ""
    function: str = ""
    temporal: bool = False
    options: Mapping[str, str] = dataclasses.field(default_factory=dict)


BASELINES: dict[str, Baseline] = {b.name: b for b in (
    Baseline("grade_matrix", "grade", "3x3 matrix grade fitted on the training pairs (MatchGrade-like)",
             grade="matrix"),
    Baseline("grade_root_poly", "grade", "root-polynomial grade (degree 2) fitted on the training pairs",
             grade="root_poly"),
    Baseline("grade_lut3d", "grade", "3D LUT grade fitted on the training pairs (what a .cube carries)",
             grade="lut3d"),
    Baseline("dust_bust", "filter", "median dust busting, temporal where frames agree, spatial elsewhere",
             function="dust_bust", temporal=True,
             options={"dust_threshold": "threshold", "dust_motion": "motion", "dust_speck_size": "speck_size"}),
    Baseline("denoise_nlm", "filter", "OpenCV non-local means on the log shaper (16-bit)",
             function="denoise_nlm", options={"nlm_strength": "strength"}),
    Baseline("denoise_bilateral", "filter", "OpenCV bilateral filter on the log shaper",
             function="denoise_bilateral", options={"bilateral_sigma": "sigma_color"}),
    Baseline("unsharp", "filter", "unsharp mask on the log shaper",
             function="unsharp", options={"unsharp_amount": "amount", "unsharp_sigma": "sigma"}),
)}

#: What :func:`core.validate.run_validation` runs unless told otherwise.
DEFAULT_BASELINES = ("grade_matrix", "grade_root_poly", "grade_lut3d", "dust_bust+grade_lut3d",
                     "dust_bust+denoise_nlm+grade_lut3d")


def parse_baseline(name: str) -> list[Baseline]:
    """The steps of ``name`` (``"a+b"``); unknown steps raise :class:`~core.errors.ParameterError`."""
    if not isinstance(name, str) or not name.strip():
        raise ParameterError(f"baseline: expected a name like 'grade_lut3d' or 'dust_bust+grade_matrix', got {name!r}")
    steps = []
    for part in name.split("+"):
        part = part.strip()
        if part not in BASELINES:
            raise ParameterError(f"baseline {name!r}: unknown step {part!r}; known: {', '.join(BASELINES)}")
        steps.append(BASELINES[part])
    return steps


def parse_baselines(names) -> tuple[str, ...]:
    """Baseline names from a comma-separated string or a sequence, checked, duplicates dropped, order kept."""
    if isinstance(names, str):
        names = [n for n in names.split(",") if n.strip()]
    out: list[str] = []
    for n in names:
        n = "+".join(p.strip() for p in str(n).split("+"))
        parse_baseline(n)
        if n not in out:
            out.append(n)
    return tuple(out)


def grade_methods(names) -> tuple[str, ...]:
    """The grade methods the baselines ``names`` need fitted (in :data:`~core.validate.grade.GRADE_METHODS` order)."""
    from core.validate.grade import GRADE_METHODS

    need = {s.grade for n in names for s in parse_baseline(n) if s.kind == "grade"}
    return tuple(m for m in GRADE_METHODS if m in need)


def run_baseline(name: str, image: np.ndarray, *, prev: np.ndarray | None = None, next: np.ndarray | None = None,
                 grades: Mapping[str, Any] | None = None, options: Mapping[str, Any] | None = None) -> np.ndarray:
    """Run baseline ``name`` on one ACEScg ``HWC`` ``float32`` frame; returns the result (same shape, float32).

    ``prev``/``next``: the *source* frames n-1 and n+1 (``dust_bust``; both or
    neither); ``grades``: method -> :class:`~core.validate.GradeFit`;
    ``options``: baseline options (:data:`core.validate.VALIDATE_PARAMS` names).
    """
    return run_baselines([name], image, prev=prev, next=next, grades=grades, options=options)[name]


def run_baselines(names, image: np.ndarray, *, prev: np.ndarray | None = None, next: np.ndarray | None = None,
                  grades: Mapping[str, Any] | None = None, options: Mapping[str, Any] | None = None,
                  ready: Callable[[str, np.ndarray], None] | None = None) -> dict[str, np.ndarray]:
    """Run several baselines on one frame, computing each shared leading chain of steps once.

    (``dust_bust+grade_lut3d`` and ``dust_bust+denoise_nlm+grade_lut3d`` bust the dust once; and a 3D
    LUT grade, a per-pixel function, is applied again only to the pixels a step before it changed —
    ``dust_bust+grade_lut3d`` grades the repaired specks and takes the rest from ``grade_lut3d`` — with
    the same result.) Same arguments as :func:`run_baseline`; ``ready(name, result)`` is called as each
    baseline is done (to start using it while the next runs); returns ``{name: result}``.
    """
    done: dict[tuple[str, ...], np.ndarray] = {(): np.asarray(image, dtype=np.float32)}
    graded: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}  # grade method -> [(its input, its output)]
    out = {}
    for name in names:
        steps = parse_baseline(name)
        keys = tuple(s.name for s in steps)
        start = max(i for i in range(len(keys) + 1) if keys[:i] in done)
        img = done[keys[:start]]
        for i in range(start, len(keys)):
            img = _step(steps[i], img, prev=prev, next=next, grades=grades, options=options, name=name,
                        graded=graded)
            done[keys[:i + 1]] = img
        out[name] = img
        if ready is not None:
            ready(name, img)
    return out


#: A grade is applied to the changed pixels only when at most this fraction of the frame changed.
_REGRADE_FRACTION = 0.25


def _step(step: Baseline, out: np.ndarray, *, prev, next, grades, options, name: str,
          graded: dict | None = None) -> np.ndarray:
    from core.validate import filters

    options = dict(options or {})
    if step.kind == "grade":
        fit = (grades or {}).get(step.grade)
        if fit is None:
            raise ParameterError(f"baseline {name!r}: no {step.grade} grade fit was given")
        if graded is None or fit.method != "lut3d":  # only the LUT is evaluated pixel by pixel, bit for bit
            return fit.apply(out)
        for before, after in graded.get(step.grade, ()):
            if before.shape == out.shape:
                changed = (before != out).any(axis=-1)
                if changed.mean() <= _REGRADE_FRACTION:
                    result = after.copy()
                    result[changed] = fit.apply(out[changed])
                    return result
        result = fit.apply(out)
        graded.setdefault(step.grade, []).append((out, result))
        return result
    kwargs = {kw: options[opt] for opt, kw in step.options.items() if opt in options}
    fn = getattr(filters, step.function)
    if step.temporal:
        return fn(out, prev, next, **kwargs).image
    return fn(out, **kwargs)
