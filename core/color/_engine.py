"""Conversion plans and the chunked executor (private).

A conversion is a list of steps: affine 3x3 steps (``M @ x + offset``) and
per-channel curves. Each colour space is described by its steps to XYZ (D65)
and from XYZ; a conversion is ``source.to_xyz + target.from_xyz`` with
consecutive affine steps multiplied together (in float64) into one, and
identity steps dropped. ACEScg -> sRGB is one matrix and one curve;
ACEScg -> OKLab is matrix, cube root, matrix.

The executor walks the pixels in chunks of :data:`CHUNK_PIXELS` rows of an
``(n, C)`` view so that every intermediate stays in the CPU cache, writing into
a new C-contiguous float32 array. It is single-threaded (numpy releases the
GIL, so callers may run frames in parallel threads).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from core.color import curves, matrices as mx
from core.color.spaces import canonical_colorspace
from core.errors import ColorSpaceError, ImageError, ParameterError

#: Pixels per chunk: 8192 x 3 float32 = 96 KiB per work buffer.
CHUNK_PIXELS = 8192

NONFINITE_MODES = ("raise", "pass")


@dataclass(frozen=True)
class Affine:
    """``out = matrix @ x + offset`` (float64, kept exact until compiled)."""

    matrix: np.ndarray
    offset: np.ndarray | None = None


@dataclass(frozen=True)
class Curve:
    """A per-channel curve from :mod:`core.color.curves`, or ``"cube"`` (x**3, computed directly)."""

    name: str


def _affine(m, offset=None) -> Affine:
    return Affine(np.asarray(m, dtype=np.float64), None if offset is None else np.asarray(offset, dtype=np.float64))


# Lab: L = 116 fy - 16, a = 500 (fx - fy), b = 200 (fy - fz)   (CIE 15:2004, 8.2.1)
_LAB_FROM_F = np.array([[0.0, 116.0, 0.0], [500.0, -500.0, 0.0], [0.0, 200.0, -200.0]])
_LAB_OFFSET = np.array([-16.0, 0.0, 0.0])
_F_FROM_LAB = np.linalg.inv(_LAB_FROM_F)

#: colour space -> (steps to XYZ D65, steps from XYZ D65).
SPACES: dict[str, tuple[tuple, tuple]] = {
    "XYZ": ((), ()),
    "ACEScg": ((_affine(mx.MATRIX_AP1_TO_XYZ),), (_affine(mx.MATRIX_XYZ_TO_AP1),)),
    "ACES2065-1": ((_affine(mx.MATRIX_AP0_TO_XYZ),), (_affine(mx.MATRIX_XYZ_TO_AP0),)),
    "lin_rec709": ((_affine(mx.MATRIX_REC709_TO_XYZ),), (_affine(mx.MATRIX_XYZ_TO_REC709),)),
    "srgb": (
        (Curve("srgb_decode"), _affine(mx.MATRIX_REC709_TO_XYZ)),
        (_affine(mx.MATRIX_XYZ_TO_REC709), Curve("srgb_encode")),
    ),
    "Lab": (
        (_affine(_F_FROM_LAB, -_F_FROM_LAB @ _LAB_OFFSET), Curve("lab_f_inverse"), _affine(np.diag(mx.XYZ_D65))),
        (_affine(np.diag(1.0 / mx.XYZ_D65)), Curve("lab_f"), _affine(_LAB_FROM_F, _LAB_OFFSET)),
    ),
    "OKLab": (
        (_affine(np.linalg.inv(mx.MATRIX_OKLAB_M2)), Curve("cube"), _affine(np.linalg.inv(mx.MATRIX_OKLAB_M1))),
        (_affine(mx.MATRIX_OKLAB_M1), Curve("cbrt"), _affine(mx.MATRIX_OKLAB_M2)),
    ),
}

_IDENTITY_TOL = 1e-12


def _fuse(steps) -> list:
    fused: list = []
    for step in steps:
        if isinstance(step, Affine) and fused and isinstance(fused[-1], Affine):
            prev = fused.pop()
            offset = None
            if prev.offset is not None:
                offset = step.matrix @ prev.offset
            if step.offset is not None:
                offset = step.offset if offset is None else offset + step.offset
            step = Affine(step.matrix @ prev.matrix, offset)
        fused.append(step)
    out = []
    for step in fused:
        if isinstance(step, Affine):
            off = step.offset
            if off is not None and np.all(np.abs(off) <= _IDENTITY_TOL):
                off = None
            if off is None and np.all(np.abs(step.matrix - np.eye(3)) <= _IDENTITY_TOL):
                continue
            step = Affine(step.matrix, off)
        out.append(step)
    return out


@dataclass(frozen=True)
class Plan:
    """A compiled conversion: fused steps plus float32 operands."""

    source: str
    target: str
    steps: tuple
    # compiled: ("matmul", M.T float32, offset float32 | None) | ("table", CurveTable name) | ("cube",)
    ops: tuple

    @property
    def per_channel(self) -> bool:
        """True when no step mixes channels (the plan works on any channel count)."""
        return not any(isinstance(s, Affine) for s in self.steps)

    def describe(self) -> str:
        parts = ["matrix" if isinstance(s, Affine) and s.offset is None else
                 "affine" if isinstance(s, Affine) else s.name for s in self.steps]
        return " -> ".join(parts) or "identity"


@functools.lru_cache(maxsize=None)
def plan(source: str, target: str) -> Plan:
    """The fused plan from canonical ``source`` to canonical ``target``."""
    steps = () if source == target else tuple(_fuse(SPACES[source][0] + SPACES[target][1]))
    return Plan(source, target, steps, _compile(steps))


def _compile(steps) -> tuple:
    ops = []
    for s in steps:
        if isinstance(s, Affine):
            mt = np.ascontiguousarray(s.matrix.T, dtype=np.float32)
            off = None if s.offset is None else s.offset.astype(np.float32)
            ops.append(("matmul", mt, off))
        elif s.name == "cube":
            ops.append(("cube",))
        else:
            ops.append(("table", s.name))
    return tuple(ops)


def resolve_plan(source: str, target: str) -> Plan:
    return plan(canonical_colorspace(source), canonical_colorspace(target))


def linear_matrix(source: str, target: str) -> np.ndarray:
    """The float64 3x3 matrix of a linear conversion, else :class:`ColorSpaceError`."""
    p = resolve_plan(source, target)
    if not p.steps:
        return np.eye(3)
    if len(p.steps) == 1 and isinstance(p.steps[0], Affine) and p.steps[0].offset is None:
        return p.steps[0].matrix.copy()
    raise ColorSpaceError(
        f"{p.source} -> {p.target} is not a linear (3x3 matrix) conversion: it is {p.describe()}"
    )


def check_nonfinite_mode(nonfinite: str) -> bool:
    """True when the mode asks for a check; :class:`ParameterError` on an unknown mode."""
    if nonfinite == "raise":
        return True
    if nonfinite == "pass":
        return False
    raise ParameterError(f"nonfinite: expected one of {', '.join(map(repr, NONFINITE_MODES))}, got {nonfinite!r}")


def as_pixels(pixels, *, channels: tuple[int, ...] = (3,), name: str = "pixels") -> np.ndarray:
    """Validate ``pixels``: a float array (or a list of numbers) shaped ``(..., C)``.

    numpy arrays must have a floating dtype (float16/32/64): integer images
    must be scaled by their reader first. Lists and tuples are read as
    float32. Returns the array itself (no copy, dtype unchanged).
    """
    if isinstance(pixels, np.ndarray):
        arr = pixels
        if not np.issubdtype(arr.dtype, np.floating):
            raise ImageError(
                f"{name}: expected a float16/float32/float64 array, got {arr.dtype} "
                "(scale integer images to 0..1 floats first: core.io readers do)"
            )
    else:
        try:
            arr = np.asarray(pixels, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise ImageError(
                f"{name}: expected an array of numbers shaped (..., 3), got {type(pixels).__name__}"
            ) from exc
    if arr.ndim == 0 or arr.shape[-1] not in channels:
        want = " or ".join(str(c) for c in channels)
        hint = ""
        if arr.ndim and arr.shape[-1] == 4:
            hint = " (RGBA: use convert_frame, which passes alpha through, or pixels[..., :3])"
        raise ImageError(f"{name}: expected an array shaped (..., {want}), got shape {arr.shape}{hint}")
    return arr


def nonfinite_error(arr: np.ndarray, name: str) -> ImageError:
    """The :class:`ImageError` naming the count and first location of NaN/Inf in ``arr`` (as float32)."""
    with np.errstate(over="ignore", invalid="ignore"):
        bad = ~np.isfinite(arr.astype(np.float32, copy=False))
    count = int(bad.sum())
    first = tuple(int(v) for v in np.unravel_index(int(np.argmax(bad)), bad.shape))
    if arr.ndim == 3:
        where = f"x={first[1]} y={first[0]} channel={first[2]}"
    elif arr.ndim == 2:
        where = f"pixel {first[0]} channel={first[1]}"
    elif arr.ndim == 1:
        where = f"channel={first[0]}"
    else:
        where = f"index {first}"
    return ImageError(
        f"{name}: {count} non-finite values (NaN/Inf); first at {where} "
        "(nonfinite='pass' lets them through)"
    )


def _chunk_finite(x: np.ndarray) -> bool:
    flat = x.reshape(-1)
    # One BLAS dot product: non-finite iff some value is NaN/Inf or the sum of
    # squares overflows (|x| > ~1.8e19); the exact test settles the latter.
    if np.isfinite(np.dot(flat, flat)):
        return True
    return bool(np.isfinite(flat).all())


def run(plan: Plan, pixels: np.ndarray, *, check: bool, name: str = "pixels", quantize8: bool = False) -> np.ndarray:
    """Apply ``plan`` to validated ``pixels`` (..., C); returns a new C-contiguous float32 array.

    ``quantize8``: return uint8 ``round(255 * clip(result, 0, 1))`` instead,
    NaN giving 0 (computed chunk by chunk, no float32 frame in between).
    """
    shape = pixels.shape
    c = shape[-1]
    src = pixels.reshape(-1, c)
    n = src.shape[0]
    out = np.empty(shape, dtype=np.uint8 if quantize8 else np.float32)
    rows = max(1, CHUNK_PIXELS * 3 // c)
    size = min(n, rows) * c
    dst8 = None
    if quantize8:
        dst8 = out.reshape(-1, c)
        dst = np.empty((min(n, rows), c), dtype=np.float32)
    else:
        dst = out.reshape(-1, c)
    scratch = curves.Scratch(size)
    tmp = np.empty(size, dtype=np.float32)
    staged = np.empty(size, dtype=np.float32) if (src.dtype != np.float32 or not src.flags.c_contiguous) else None
    tables = {op[1]: curves.get_table(op[1]) for op in plan.ops if op[0] == "table"}
    with np.errstate(all="ignore"):
        for s in range(0, n, rows):
            e = min(n, s + rows)
            m = (e - s) * c
            x = src[s:e]
            if staged is not None:
                xs = staged[:m].reshape(e - s, c)
                np.copyto(xs, x, casting="unsafe")
                x = xs
            if check and not _chunk_finite(x):
                raise nonfinite_error(pixels, name)
            o = dst[: e - s] if quantize8 else dst[s:e]
            t = tmp[:m].reshape(e - s, c)
            cur = x
            for op in plan.ops:
                kind = op[0]
                if kind == "matmul":
                    target = t if cur is o else o
                    np.matmul(cur, op[1], out=target)
                    if op[2] is not None:
                        np.add(target, op[2], out=target)
                    cur = target
                elif kind == "table":
                    target = cur if cur is not x else o
                    curves.apply_table(tables[op[1]], cur.reshape(-1), target.reshape(-1), scratch)
                    cur = target
                else:  # cube
                    target = cur if cur is not x else o
                    np.multiply(cur, cur, out=scratch.t0[:m].reshape(e - s, c))
                    np.multiply(scratch.t0[:m].reshape(e - s, c), cur, out=target)
                    cur = target
            if quantize8:
                if cur is x:
                    np.copyto(o, cur)
                    cur = o
                np.fmax(cur, 0.0, out=cur)  # NaN -> 0
                np.fmin(cur, 1.0, out=cur)
                np.multiply(cur, 255.0, out=cur)
                np.add(cur, 0.5, out=cur)
                np.copyto(dst8[s:e], cur, casting="unsafe")  # truncation of v + 0.5: round half up
            elif cur is not o:
                np.copyto(o, cur)
    return out


def exposure_plan(plan: Plan, scale: float) -> Plan:
    """``plan`` preceded by a multiplication by ``scale`` (folded into its first matrix)."""
    if scale == 1.0:
        return plan
    steps = tuple(_fuse((Affine(np.eye(3) * scale),) + plan.steps))
    return Plan(plan.source, plan.target, steps, _compile(steps))
