"""Enhanced Correlation Coefficient refinement on a Gaussian pyramid, coarse to fine.

OpenCV's ``cv2.findTransformECC`` (Evangelidis & Psarakis, "Parametric image
alignment using enhanced correlation coefficient maximization", IEEE TPAMI
30(10), 2008) maximises the correlation coefficient between the fixed image
and the moving image warped by a parametric motion; it is invariant to a
global gain and offset and converges from a start within a few pixels. Here
it runs on every pyramid level from the coarsest to ``finest_level`` (level
``l`` is ``cv2.pyrDown`` applied ``l`` times; coordinates ``full / 2**l``),
each level starting from the previous level's result, so it converges from
farther away and spends most iterations where pixels are few.

Images are the robust representation of :mod:`core.align.represent`
(``float32`` ``HW``, the same size: the reference already resampled onto the
source grid). Transforms are ``3x3`` source -> reference
(:mod:`core.align.geometry`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from core.align import geometry

MOTIONS = ("translation", "euclidean", "affine", "homography")


@dataclasses.dataclass(frozen=True)
class EccResult:
    """``transform`` (3x3, source -> reference, full resolution); ``correlation`` at the finest level run;
    ``reason`` is empty on success, else why ECC failed (then ``transform`` is the last good estimate)."""

    transform: np.ndarray
    correlation: float
    levels: list[dict]
    reason: str = ""


def _motion_flag(motion: str) -> int:
    import cv2

    return {"translation": cv2.MOTION_TRANSLATION, "euclidean": cv2.MOTION_EUCLIDEAN,
            "affine": cv2.MOTION_AFFINE, "homography": cv2.MOTION_HOMOGRAPHY}[motion]


def ecc_pyramid(fixed: list[np.ndarray], moving: list[np.ndarray], init: np.ndarray, *, motion: str,
                iterations: int, eps: float, finest_level: int = 0,
                fixed_masks: list[np.ndarray] | None = None) -> EccResult:
    """Refine ``init`` (3x3, source -> reference) from the coarsest level of the pyramids down to ``finest_level``.

    ``fixed`` / ``moving``: pyramids (lists, level 0 first) of the source
    and the resampled reference. ``fixed_masks``: optional ``uint8`` masks of
    valid source pixels per level. ``iterations`` and ``eps`` (the smallest
    gain in correlation worth another iteration) apply per level. Never
    raises for a failed fit: returns ``reason``.
    """
    import cv2

    flag = _motion_flag(motion)
    t = geometry.normalize(init)
    levels: list[dict] = []
    rho = float("nan")
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, int(iterations), float(eps))
    for level in range(len(fixed) - 1, finest_level - 1, -1):
        f, m = fixed[level], moving[level]
        if min(f.shape) < 16:
            continue
        tl = geometry.to_level(t, level)
        warp = tl.astype(np.float32) if motion == "homography" else np.ascontiguousarray(tl[:2].astype(np.float32))
        if motion == "translation":
            warp[:, :2] = np.eye(2, dtype=np.float32)
        mask = None if fixed_masks is None else fixed_masks[level]
        try:
            rho, warp = cv2.findTransformECC(f, m, warp, flag, criteria, mask, 1)
        except cv2.error as exc:
            msg = str(exc).split("error:")[-1].strip().splitlines()[0] if str(exc) else "OpenCV error"
            return EccResult(t, rho, levels, f"ECC did not converge at pyramid level {level}: {msg}")
        if not np.all(np.isfinite(warp)) or not np.isfinite(rho):
            return EccResult(t, rho, levels, f"ECC diverged at pyramid level {level} (non-finite warp)")
        full = np.vstack([warp.astype(np.float64), [0.0, 0.0, 1.0]]) if warp.shape[0] == 2 else warp.astype(np.float64)
        t = geometry.from_level(full, level)
        levels.append({"level": level, "size": [int(f.shape[1]), int(f.shape[0])], "correlation": float(rho)})
    return EccResult(t, float(rho), levels)
