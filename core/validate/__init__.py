"""Restoration stage 5: baselines, metrics and the validation report.

* Grade baselines (:mod:`core.validate.grade`): :func:`fit_grade` /
  :func:`fit_grade_frames` fit a 3x3 matrix, a root-polynomial or a 3D LUT
  from source to reference on valid pixels; :class:`GradeFit` applies it,
  exports a Resolve ``.cube`` (with a log shaper for scene-linear values,
  :mod:`core.validate.shaper`) that OpenColorIO applies identically.
* Classic filters (:mod:`core.validate.filters`): motion-aware median dust
  busting, non-local means and bilateral denoise (OpenCV), unsharp mask;
  :data:`BASELINES` is the method table, ``+`` chains steps.
* Metrics: :mod:`core.metrics` (PSNR, SSIM as scikit-image, ΔE2000,
  temporal flicker and local variance drift, on valid pixels).
* :func:`run_validation`: all of it over file sequences, per frame, per
  shot, overall and over the damaged frames, with ``metrics.csv``,
  ``metrics.json``, ``report.html`` and a manifest; who won and what to
  recommend (:func:`decide`, :mod:`core.validate.verdict`) is their first
  line; :func:`append_experiment` writes ``notes/experiments.md``. :func:`plan_validation` says, before it
  runs, every file it would write (:class:`ValidationPlan`).
* :func:`render_method`: one baseline (or the source) rendered over a
  whole sequence, as the project's stage 4 does when a baseline wins.

Images are ACEScg (AP1, scene-linear) ``float32`` ``HWC``. Importing this
package is cheap (numpy only); OpenCV, SciPy and OCIO load on use.
"""

from core.validate import filters
from core.validate.baselines import (BASELINES, DEFAULT_BASELINES, Baseline, parse_baselines, run_baseline,
                                     run_baselines)
from core.validate.experiments import append_experiment
from core.validate.grade import GRADE_METHODS, GradeFit, fit_grade, fit_grade_frames, ocio_apply_cube
from core.validate.params import VALIDATE_PARAMS
from core.validate.render import render_method
from core.validate.run import ValidationPlan, ValidationResult, plan_validation, run_validation
from core.validate.verdict import decide

__all__ = [
    "BASELINES", "DEFAULT_BASELINES", "GRADE_METHODS", "VALIDATE_PARAMS", "Baseline", "GradeFit",
    "ValidationPlan", "ValidationResult", "append_experiment", "decide", "filters", "fit_grade", "fit_grade_frames",
    "ocio_apply_cube", "parse_baselines", "plan_validation", "render_method", "run_baseline", "run_baselines",
    "run_validation",
]
