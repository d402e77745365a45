"""Robust statistics of an alignment residual: its noise level, the damage it shows, and robust weights.

Two transfers of one frame differ by noise (grain, compression) everywhere
and by damage (dust, scratches, solid patches, line dropouts) in places.
Damage is what the two images do not share: no displacement explains it,
so it must not drive an estimate. A residual ``e`` (``float32`` ``HW``, in
representation units, :mod:`core.align.represent`) is summarised by its
robust scale ``sigma`` (1.4826 x the median absolute value: the standard
deviation of Gaussian noise, unmoved by up to half the pixels being
damage); pixels beyond :data:`DAMAGE_SIGMAS` ``sigma`` are damage, so are
neighbourhoods whose residual is too large as a whole, and so are their near
neighbours (:data:`DAMAGE_GROW` px: the representation's
presmoothing spreads a defect's edge); a rough fit's residual along edges
is not damage (:func:`misalignment_slack`). Estimators leave damage out and
weight the rest with Cauchy weights; comparisons of two models use Tukey's
bounded loss, under which damage costs both the same.
"""

from __future__ import annotations

import math

import numpy as np

#: A residual beyond this many robust standard deviations is damage (Tukey's 95 %-efficiency constant).
DAMAGE_SIGMAS = 4.685
#: A neighbourhood (Gaussian sigma, px) whose root-mean-square residual is more than REGION_SIGMAS robust standard
#: deviations (plus its slack) is damage (:func:`damage`).
REGION_SIGMA = 4.0
REGION_SIGMAS = 3.0
#: Scale of the Cauchy weights in robust standard deviations.
CAUCHY_SIGMAS = 3.0
#: Damage grows by this many pixels (the presmoothing and interpolation spread a defect's edge).
DAMAGE_GROW = 4
#: Misalignment (px) a rough fit may leave without its residual counting as damage (:func:`misalignment_slack`).
MISALIGNMENT_PX = 0.5
#: Smallest noise level used (representation units): identical images have a zero residual.
MIN_SIGMA = 1e-3
#: At most about this many samples go into the median.
SAMPLES = 50_000


def sigma(e: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Robust standard deviation of ``e`` over ``mask``: 1.4826 MAD (about zero), at least :data:`MIN_SIGMA`.

    Computed on a regular subsample of at most about :data:`SAMPLES` values
    (deterministic). ``mask``: ``bool``, the shape of ``e``; no pixel gives
    :data:`MIN_SIGMA`.
    """
    step = max(1, e.size // SAMPLES)
    vals = e.ravel()[::step]
    if mask is not None:
        vals = vals[mask.ravel()[::step]]
    if vals.size == 0:
        return MIN_SIGMA
    return max(MIN_SIGMA, 1.4826 * float(np.median(np.abs(vals))))


def damage(e: np.ndarray, noise: float, *, grow: int = DAMAGE_GROW, slack: np.ndarray | None = None) -> np.ndarray:
    """``bool`` ``HW``: where ``e`` holds more than noise (and ``slack``) can, grown by ``grow`` px.

    A pixel is damage when ``|e| > DAMAGE_SIGMAS * noise + slack``, or when
    its neighbourhood's root-mean-square residual (Gaussian,
    :data:`REGION_SIGMA` px) exceeds ``REGION_SIGMAS * noise`` plus the
    neighbourhood's root-mean-square slack: a band of picture torn sideways
    is damage even where single pixels stay under the threshold (it moved
    an identical pair's alignment by 0.056 px). ``slack`` (``float32``
    ``HW``, optional): what else the residual may hold and not be damage,
    such as :func:`misalignment_slack`.
    """
    import cv2

    def local_rms(x: np.ndarray) -> np.ndarray:
        k = 2 * int(math.ceil(3.0 * REGION_SIGMA)) + 1
        return np.sqrt(cv2.GaussianBlur(x * x, (k, k), REGION_SIGMA, borderType=cv2.BORDER_REFLECT101))

    pixel = np.float32(DAMAGE_SIGMAS * noise)
    region = np.float32(REGION_SIGMAS * noise)
    if slack is not None:
        pixel = pixel + slack
        region = region + local_rms(slack)
    out = ((np.abs(e) > pixel) | (local_rms(e) > region)).astype(np.uint8)
    if grow > 0 and out.any():
        out = cv2.dilate(out, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
    return out.astype(bool)


def misalignment_slack(z: np.ndarray, px: float = MISALIGNMENT_PX) -> np.ndarray:
    """``float32`` ``HW``: the residual a misalignment of ``px`` pixels makes on image ``z`` (``px |grad z|``).

    A first, rough fit leaves residuals along every edge; with this slack
    they are not taken for damage.
    """
    import cv2

    gx = cv2.Scharr(z, cv2.CV_32F, 1, 0, scale=1.0 / 32.0)
    gy = cv2.Scharr(z, cv2.CV_32F, 0, 1, scale=1.0 / 32.0)
    return (np.float32(px) * np.sqrt(gx * gx + gy * gy)).astype(np.float32, copy=False)


def cauchy_weights(e: np.ndarray, noise: float) -> np.ndarray:
    """``float32`` Cauchy weights ``1 / (1 + (e / c)^2)``, ``c = CAUCHY_SIGMAS * noise``: small, never 0, for
    large residuals (a fit still far from its answer has many, along the edges that carry the motion)."""
    r = e / np.float32(CAUCHY_SIGMAS * noise)
    return (np.float32(1.0) / (np.float32(1.0) + r * r)).astype(np.float32, copy=False)


def tukey_loss(e: np.ndarray, noise: float) -> np.ndarray:
    """``float32`` Tukey loss in units of ``c^2 / 6`` (``c = DAMAGE_SIGMAS * noise``): 0 at 0, 1 beyond ``c``.

    ``1 - (1 - (e / c)^2)^3`` inside, 1 outside: a residual of damage costs
    the same whatever its size, so it cannot decide between two models.
    """
    r = e / np.float32(DAMAGE_SIGMAS * noise)
    inner = np.maximum(np.float32(1.0) - r * r, np.float32(0.0))
    return (np.float32(1.0) - inner * inner * inner).astype(np.float32, copy=False)
