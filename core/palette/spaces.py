"""Fit spaces of the palette: ACEScg <-> OKLab / CIE Lab with deterministic kernels.

The palette is fitted in a perceptual space (DESIGN.md, "Spectrum-based
reconstruction"). Both spaces have the same shape,

    x = A . g(B . rgb) + o

with ``rgb`` scene-linear ACEScg (AP1 primaries, ACES white), ``B`` a 3x3
matrix (ACEScg -> CIE XYZ D65 with the linear Bradford adaptation, then the
space's own matrix), ``g`` a per-channel cube root, ``A`` a 3x3 matrix and
``o`` an offset. The definitions are those of :mod:`core.color` (same
matrices, same white, same Bradford step); the kernels here differ only in
how the arithmetic is done.

``"oklab"``
    Ottosson's OKLab (2020). ``B`` = M1 . XYZ(ACEScg), ``g`` = signed cube
    root, ``A`` = M2, ``o`` = 0. L is 0..1 for SDR (1 = ACEScg white), a and
    b about -0.5..0.5.
``"lab"``
    CIE 1976 L*a*b* relative to D65 (``XYZ_D65`` of :mod:`core.color`),
    ``g`` = the CIE f(t) (cube root above (6/29)**3, linear below), ``A`` =
    the 116/500/200 matrix, ``o`` = (-16, 0, 0). L* is 0..100 for SDR.

Distances in a fit space are reported in "ΔE units": ``ΔE OK x 100`` for
OKLab (a just-noticeable difference is about 2, like ΔE76) and ΔE76 for
Lab; :attr:`FitSpace.scale` is the factor from native units to ΔE units.

Determinism
    The kernels use only IEEE-754 basic operations (+, -, x, /), integer
    operations and comparisons, elementwise in a fixed order: no BLAS, no
    transcendental library call. numpy's ``cbrt`` (a libm or SVML call whose
    last bit depends on the CPU) is replaced by a bit-pattern guess and two
    Newton steps: relative error below 2e-6, not correctly rounded, but the
    same bits on every machine, thread count and chunking. The matrices are
    literal constants (``tests/test_palette_spaces.py`` re-derives them from
    :mod:`core.color.matrices`); agreement with :func:`core.color.convert`
    is within 2e-5 (OKLab) and 2e-3 (Lab).

Arrays are ``float32`` ``(..., 3)`` unless a function says otherwise.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from core.errors import ParameterError

# The same matrices as core.color (core/color/matrices.py): ACEScg -> XYZ is
# NPM(AP1) followed by Bradford ACES white (0.32168, 0.33767) -> D65 (0.3127,
# 0.3290); then OKLab's M1 (Ottosson 2020). Written out as literals so the
# kernel's constants are the same bits everywhere (a 3x3 product computed at
# import could differ in the last bit between BLAS builds);
# tests/test_palette_spaces.py re-derives them from core.color.matrices.
_OKLAB_PRE = (
    (0.6316940125690677, 0.348861603168925, 0.01933519000413491),
    (0.2700701631304251, 0.6309514529951126, 0.09900529832257761),
    (0.09879026885552336, 0.18532154855177488, 0.7163678285649207),
)
_OKLAB_PRE_INV = (
    (2.0688027393211637, -1.175172287268965, 0.1065759597113472),
    (-0.8763285219734742, 2.1497601604357177, -0.2734540269905182),
    (-0.05859422830092189, -0.3940731066909077, 1.4519751090859032),
)
# OKLab M2 (LMS' -> Lab) and its inverse.
_OKLAB_POST = (
    (0.2104542553, 0.7936177850, -0.0040720468),
    (1.9779984951, -2.4285922050, 0.4505937099),
    (0.0259040371, 0.7827717662, -0.8086757660),
)
_OKLAB_POST_INV = (
    (0.9999999984505196, 0.39633779217376774, 0.2158037580607588),
    (1.0000000088817607, -0.10556134232365633, -0.0638541747717059),
    (1.0000000546724108, -0.08948418209496574, -1.2914855378640917),
)
# diag(1 / XYZ_D65) . Bradford(ACES white -> D65) . AP1_to_XYZ.
_LAB_PRE = (
    (0.6862364927425295, 0.13492065476145007, 0.17884285249602055),
    (0.2676721801253367, 0.6743399888015505, 0.05798783107311244),
    (-0.004941717519233988, 0.0012571052436297328, 1.0036846122756045),
)
_LAB_PRE_INV = (
    (1.57831316593858, -0.3152955608258708, -0.26301760511270944),
    (-0.6272306382072739, 1.6083914695660555, 0.018839168641219206),
    (0.008556545195746916, -0.003566876390337331, 0.9950103311945903),
)
_LAB_POST = ((0.0, 116.0, 0.0), (500.0, -500.0, 0.0), (0.0, 200.0, -200.0))
_LAB_POST_INV = ((1.0 / 116.0, 1.0 / 500.0, 0.0), (1.0 / 116.0, 0.0, 0.0), (1.0 / 116.0, 0.0, -1.0 / 200.0))
_LAB_DELTA = 6.0 / 29.0

# Newton-iteration cube root: the guess divides the float's bit pattern by 3
# (FreeBSD's cbrtf constant B1 = (127 - 127/3 - 0.03306235651) * 2**23).
_CBRT_B1 = np.int32(709958130)
_SIGN = np.int32(-0x80000000)
_ABS = np.int32(0x7FFFFFFF)


@dataclasses.dataclass(frozen=True)
class FitSpace:
    """A perceptual space ``x = A . g(B . rgb) + o`` (see the module docstring)."""

    name: str
    pre: tuple
    pre_inv: tuple
    post: tuple
    post_inv: tuple
    offset: tuple
    nonlinearity: str  # "cbrt" | "lab_f"
    scale: float  # native units -> ΔE units
    labels: tuple = ("L", "a", "b")
    lightness_max: float = 1.0  # L of ACEScg white (1.0 for OKLab, 100.0 for Lab)

    @property
    def post_array(self) -> np.ndarray:
        return np.array(self.post, dtype=np.float64)


SPACES: dict[str, FitSpace] = {
    "oklab": FitSpace("oklab", _OKLAB_PRE, _OKLAB_PRE_INV, _OKLAB_POST, _OKLAB_POST_INV,
                      (0.0, 0.0, 0.0), "cbrt", 100.0, lightness_max=1.0),
    "lab": FitSpace("lab", _LAB_PRE, _LAB_PRE_INV, _LAB_POST, _LAB_POST_INV,
                    (-16.0, 0.0, 0.0), "lab_f", 1.0, lightness_max=100.0),
}


def get_space(space: str | FitSpace) -> FitSpace:
    """The :class:`FitSpace` named ``space`` (``"oklab"`` or ``"lab"``, any case)."""
    if isinstance(space, FitSpace):
        return space
    if isinstance(space, str) and space.strip().lower() in SPACES:
        return SPACES[space.strip().lower()]
    raise ParameterError(f"parameter 'space': {space!r} is not one of {', '.join(SPACES)}")


# -- planar float32 kernels ----------------------------------------------------------


def _matrix3(m: tuple, c0: np.ndarray, c1: np.ndarray, c2: np.ndarray, out: tuple, tmp: np.ndarray) -> tuple:
    """``out[i] = m[i][0]*c0 + m[i][1]*c1 + m[i][2]*c2`` in that order (float32, elementwise).

    ``c0, c1, c2`` may be strided views; ``out`` are three contiguous buffers
    distinct from the inputs; ``tmp`` a scratch buffer.
    """
    for i in range(3):
        o = out[i]
        np.multiply(c0, np.float32(m[i][0]), out=o)
        np.multiply(c1, np.float32(m[i][1]), out=tmp)
        np.add(o, tmp, out=o)
        np.multiply(c2, np.float32(m[i][2]), out=tmp)
        np.add(o, tmp, out=o)
    return out


def cbrt_f32(x: np.ndarray, out: np.ndarray | None = None, tmp: np.ndarray | None = None,
             tmp2: np.ndarray | None = None) -> np.ndarray:
    """Signed cube root of a contiguous ``float32`` array, bit-reproducible everywhere.

    Guess from the bit pattern (exponent / 3), then two Newton steps
    ``y <- 2/3 y + (x/3) / y**2``: relative error below 2e-6 for normal
    floats (``tests/test_palette_spaces.py`` sweeps 1e-30..1e30). ``0`` gives
    about 8e-14 instead of 0. ``x`` must be finite.
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    if out is None:
        out = np.empty_like(x)
    if tmp is None:
        tmp = np.empty_like(x)
    if tmp2 is None:
        tmp2 = np.empty_like(x)
    bits = x.view(np.int32)
    guess = out.view(np.int32)
    sign = tmp.view(np.int32)
    np.bitwise_and(bits, _ABS, out=guess)
    np.floor_divide(guess, np.int32(3), out=guess)
    np.add(guess, _CBRT_B1, out=guess)
    np.bitwise_and(bits, _SIGN, out=sign)
    np.bitwise_or(guess, sign, out=guess)
    x3 = np.multiply(x, np.float32(1.0 / 3.0), out=tmp2)
    for _ in range(2):
        np.multiply(out, out, out=tmp)
        np.divide(x3, tmp, out=tmp)
        np.multiply(out, np.float32(2.0 / 3.0), out=out)
        np.add(out, tmp, out=out)
    return out


def _lab_f(t: np.ndarray, out: np.ndarray, tmp: np.ndarray, tmp2: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """CIE f(t): cube root above (6/29)**3, ``t / (3 (6/29)**2) + 4/29`` below."""
    cbrt_f32(t, out=out, tmp=tmp, tmp2=tmp2)
    np.greater(t, np.float32(_LAB_DELTA**3), out=mask)
    np.multiply(t, np.float32(1.0 / (3.0 * _LAB_DELTA**2)), out=tmp)
    np.add(tmp, np.float32(4.0 / 29.0), out=tmp)
    np.copyto(out, tmp, where=~mask)
    return out


class Workspace:
    """Scratch buffers for one thread working on chunks of up to ``n`` pixels."""

    def __init__(self, n: int):
        self.n = n
        self.v = tuple(np.empty(n, np.float32) for _ in range(3))
        self.u = tuple(np.empty(n, np.float32) for _ in range(3))
        self.x = tuple(np.empty(n, np.float32) for _ in range(3))
        self.tmp = np.empty(n, np.float32)
        self.tmp2 = np.empty(n, np.float32)
        self.mask = np.empty(n, np.bool_)

    def view(self, n: int) -> "_Sized":
        return _Sized(self, n)


class _Sized:
    """The first ``n`` elements of every buffer of a :class:`Workspace`."""

    def __init__(self, ws: Workspace, n: int):
        self.v = tuple(b[:n] for b in ws.v)
        self.u = tuple(b[:n] for b in ws.u)
        self.x = tuple(b[:n] for b in ws.x)
        self.tmp = ws.tmp[:n]
        self.tmp2 = ws.tmp2[:n]
        self.mask = ws.mask[:n]


def rgb_to_u(space: FitSpace, r: np.ndarray, g: np.ndarray, b: np.ndarray, ws: _Sized) -> tuple:
    """ACEScg channels -> ``u = g(B . rgb)`` (planar float32 in ``ws.u``)."""
    v = _matrix3(space.pre, r, g, b, ws.v, ws.tmp)
    for i in range(3):
        if space.nonlinearity == "cbrt":
            cbrt_f32(v[i], out=ws.u[i], tmp=ws.tmp, tmp2=ws.tmp2)
        else:
            _lab_f(v[i], ws.u[i], ws.tmp, ws.tmp2, ws.mask)
    return ws.u


def u_to_x(space: FitSpace, u: tuple, ws: _Sized) -> tuple:
    """``x = A . u + o`` (planar float32 in ``ws.x``)."""
    x = _matrix3(space.post, u[0], u[1], u[2], ws.x, ws.tmp)
    for i in range(3):
        if space.offset[i] != 0.0:
            np.add(x[i], np.float32(space.offset[i]), out=x[i])
    return x


def acescg_to_fit(rgb: np.ndarray, space: str | FitSpace = "oklab", *, chunk: int = 1 << 16) -> np.ndarray:
    """ACEScg ``(..., 3)`` -> fit-space coordinates ``(..., 3)`` float32.

    Same kernel (and the same bits) as the palette fit and encoder use. Input
    is scene-linear ACEScg, any range; it must be finite.
    """
    sp = get_space(space)
    arr = np.asarray(rgb, dtype=np.float32)
    if arr.shape[-1] != 3:
        raise ParameterError(f"acescg_to_fit: expected (..., 3) ACEScg values, got shape {arr.shape}")
    flat = arr.reshape(-1, 3)
    out = np.empty_like(flat)
    ws = Workspace(min(chunk, max(1, len(flat))))
    for start in range(0, len(flat), chunk):
        stop = min(start + chunk, len(flat))
        w = ws.view(stop - start)
        u = rgb_to_u(sp, flat[start:stop, 0], flat[start:stop, 1], flat[start:stop, 2], w)
        x = u_to_x(sp, u, w)
        for i in range(3):
            out[start:stop, i] = x[i]
    return out.reshape(arr.shape)


def _apply3_f64(m: tuple, c: np.ndarray) -> np.ndarray:
    c = np.asarray(c, dtype=np.float64)
    return np.stack([m[i][0] * c[..., 0] + m[i][1] * c[..., 1] + m[i][2] * c[..., 2] for i in range(3)], axis=-1)


def fit_to_acescg(x: np.ndarray, space: str | FitSpace = "oklab") -> np.ndarray:
    """Fit-space coordinates ``(..., 3)`` -> ACEScg ``(..., 3)`` float64 (elementwise, exact inverse formulas)."""
    sp = get_space(space)
    x = np.asarray(x, dtype=np.float64) - np.asarray(sp.offset)
    u = _apply3_f64(sp.post_inv, x)
    if sp.nonlinearity == "cbrt":
        v = u * u * u
    else:
        v = np.where(u > _LAB_DELTA, u * u * u, 3.0 * _LAB_DELTA**2 * (u - 4.0 / 29.0))
    return _apply3_f64(sp.pre_inv, v)


def fit_to_u(x: np.ndarray, space: FitSpace) -> np.ndarray:
    """Fit-space coordinates -> ``u`` (the linear pre-image ``A^-1 (x - o)``), float64."""
    return _apply3_f64(space.post_inv, np.asarray(x, dtype=np.float64) - np.asarray(space.offset))
