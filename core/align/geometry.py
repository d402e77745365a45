"""Pixel coordinates, transforms and resampling shared by the alignment stages.

Conventions (every matrix and map in :mod:`core.align` follows them):

- Pixel coordinates: ``x`` right, ``y`` down, the centre of pixel
  ``[row, col]`` is ``(x, y) = (col, row)`` (OpenCV's convention).
- A transform is a ``3x3`` ``float64`` homogeneous matrix ``T`` that maps
  **source pixel coordinates to reference pixel coordinates**:
  ``(X, Y, W)^T = T (x, y, 1)^T``, reference point ``(X / W, Y / W)``. The
  aligned reference is ``aligned(x, y) = reference(T(x, y))`` (what
  ``cv2.warpPerspective(reference, T, ..., flags=WARP_INVERSE_MAP)`` makes).
- Pyramid level ``l`` (``cv2.pyrDown`` ``l`` times) has coordinates
  ``full / 2**l``.
"""

from __future__ import annotations

import math

import numpy as np


def resize_matrix(src_hw: tuple[int, int], ref_hw: tuple[int, int]) -> np.ndarray:
    """The transform between two images of the same framing at different resolutions.

    ``X = (x + 0.5) * Wr / Ws - 0.5`` (pixel edges line up, as ``cv2.resize``).
    Identity when the sizes match.
    """
    sx = ref_hw[1] / src_hw[1]
    sy = ref_hw[0] / src_hw[0]
    return np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])


def level_matrix(level: int) -> np.ndarray:
    """Full-resolution coordinates -> pyramid level ``level`` coordinates."""
    s = 0.5**level
    return np.diag([s, s, 1.0])


def to_level(t: np.ndarray, level: int) -> np.ndarray:
    """A full-resolution transform expressed between two images of pyramid level ``level``."""
    s = level_matrix(level)
    return normalize(s @ t @ np.linalg.inv(s))


def from_level(t: np.ndarray, level: int) -> np.ndarray:
    """Inverse of :func:`to_level`."""
    s = level_matrix(level)
    return normalize(np.linalg.inv(s) @ t @ s)


def normalize(t: np.ndarray) -> np.ndarray:
    """``t / t[2, 2]`` as ``float64``."""
    t = np.asarray(t, dtype=np.float64)
    return t / t[2, 2]


def translation(dx: float, dy: float) -> np.ndarray:
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


def similarity_about(center: tuple[float, float], scale: float, angle_deg: float) -> np.ndarray:
    """``p -> scale * R(angle) (p - c) + c``; positive angles turn counter-clockwise on screen (y down)."""
    a = math.radians(angle_deg)
    c, s = math.cos(a) * scale, math.sin(a) * scale
    cx, cy = center
    m = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
    return translation(cx, cy) @ m @ translation(-cx, -cy)


def grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` ``float32`` ``HW`` coordinate images of pixel centres."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return xs, ys


def apply(t: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map coordinate arrays through ``t`` (float64 maths, ``float32`` out when inputs are float32)."""
    x64 = np.asarray(x, dtype=np.float64)
    y64 = np.asarray(y, dtype=np.float64)
    X = t[0, 0] * x64 + t[0, 1] * y64 + t[0, 2]
    Y = t[1, 0] * x64 + t[1, 1] * y64 + t[1, 2]
    if t[2, 0] != 0.0 or t[2, 1] != 0.0:
        W = t[2, 0] * x64 + t[2, 1] * y64 + t[2, 2]
        W = np.where(np.abs(W) < 1e-12, 1e-12, W)
        X, Y = X / W, Y / W
    elif t[2, 2] != 1.0:
        X, Y = X / t[2, 2], Y / t[2, 2]
    dtype = np.result_type(np.asarray(x).dtype, np.float32)
    return X.astype(dtype, copy=False), Y.astype(dtype, copy=False)


def coordinate_map(t: np.ndarray, hw: tuple[int, int], flow: np.ndarray | None = None) -> np.ndarray:
    """Reference coordinates of every source pixel: ``float32`` ``HW2`` ``(X, Y)``.

    Without ``flow``: ``T(p)``; with a local displacement ``flow`` (``HW2``
    source px): ``T(p + flow(p))``. Affine transforms are evaluated in
    float32 from float64 row and column terms (error below 1e-3 px for
    frames up to 16k); homographies in float64.
    """
    h, w = hw
    t = normalize(t)
    if t[2, 0] != 0.0 or t[2, 1] != 0.0:
        x, y = grid(h, w)
        if flow is not None:
            x = x + flow[..., 0]
            y = y + flow[..., 1]
        X, Y = apply(t, x, y)
        return np.ascontiguousarray(np.stack([X, Y], axis=-1), dtype=np.float32)
    xs = np.arange(w, dtype=np.float64)
    ys = np.arange(h, dtype=np.float64)[:, None]
    out = np.empty((h, w, 2), np.float32)
    for k in range(2):
        # exact separable part in float64, stored once as float32
        out[..., k] = (t[k, 0] * xs)[None, :] + (t[k, 1] * ys + t[k, 2])
        if flow is not None:
            out[..., k] += np.float32(t[k, 0]) * flow[..., 0]
            out[..., k] += np.float32(t[k, 1]) * flow[..., 1]
    return out


def inside(coords: np.ndarray, ref_hw: tuple[int, int], *, border: float = 0.0) -> np.ndarray:
    """Boolean ``HW``: the coordinates fall inside the reference, ``border`` px away from its edge pixels."""
    h, w = ref_hw
    x, y = coords[..., 0], coords[..., 1]
    return (x >= border) & (x <= w - 1 - border) & (y >= border) & (y <= h - 1 - border)


INTERPOLATIONS = ("linear", "cubic", "lanczos")


def remap(img: np.ndarray, coords: np.ndarray, *, interpolation: str = "cubic", border: str = "constant") -> np.ndarray:
    """``out[p] = img(coords[p])`` for ``float32`` ``HW``/``HWC`` ``img``.

    Outside the image: 0 (``border="constant"``) or the image mirrored at
    its edge (``"reflect"``).
    OpenCV interpolates at 1/32 px positions; cubic and Lanczos overshoot
    near edges like any interpolating kernel (values are not clipped).
    """
    import cv2

    flag = {"linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC, "lanczos": cv2.INTER_LANCZOS4}[interpolation]
    squeeze = img.ndim == 3 and img.shape[2] == 1
    src = img[..., 0] if squeeze else img
    out = np.empty(coords.shape[:2] + src.shape[2:], np.float32)
    # cv2.remap takes at most 32767 px per side of the map; rows in chunks keep memory flat too
    step = max(1, (1 << 22) // max(1, coords.shape[1]))
    for r0 in range(0, coords.shape[0], step):
        part = coords[r0:r0 + step]
        mode = cv2.BORDER_CONSTANT if border == "constant" else cv2.BORDER_REFLECT101
        out[r0:r0 + step] = cv2.remap(src, part, None, flag, borderMode=mode, borderValue=0)
    return out[..., None] if squeeze else out


def decompose(a: np.ndarray) -> dict[str, float]:
    """Scale, anisotropy, shear and rotation of a ``2x2`` linear map ``a`` (source -> reference).

    ``scale``: geometric mean of the singular values; ``anisotropy``: their
    ratio (>= 1); ``rotation_deg``: the rotation of the nearest similarity,
    positive counter-clockwise on screen; ``shear``: ``|cos|`` of the angle
    between the mapped axes; ``flip``: the determinant is negative.
    """
    sv = np.linalg.svd(a, compute_uv=False)
    det = float(np.linalg.det(a))
    ex, ey = a[:, 0], a[:, 1]
    shear = abs(float(ex @ ey)) / max(1e-12, float(np.linalg.norm(ex) * np.linalg.norm(ey)))
    rotation = math.degrees(math.atan2(a[0, 1] - a[1, 0], a[0, 0] + a[1, 1]))
    return {"scale": float(math.sqrt(max(sv[0] * sv[1], 0.0))), "anisotropy": float(sv[0] / max(sv[1], 1e-12)),
            "shear": shear, "rotation_deg": rotation, "flip": det < 0}


def perspective_strength(t: np.ndarray, hw: tuple[int, int]) -> float:
    """How far from affine ``t`` is: the spread of its homogeneous ``w`` over the source frame (0 = affine)."""
    h, w = hw
    t = normalize(t)
    ws = [t[2, 0] * x + t[2, 1] * y + 1.0 for x, y in ((0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1))]
    return float(max(ws) - min(ws))
