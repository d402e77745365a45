"""Grade baselines: fit the colour relation of aligned source/reference pairs (a MatchGrade equivalent).

Methods (:data:`GRADE_METHODS`), each fitted by weighted least squares on
the valid pixels of one or several frames, made robust by iterative
reweighting (Cauchy weights on the residual; dust and scratches the mask
missed barely count):

``"matrix"``
    ``ref = M @ src``, a 3x3 matrix (no offset: scene-linear black stays
    black). Exposure-invariant.
``"root_poly"``
    Root-polynomial regression (Finlayson, Mackiewicz & Hurlbert, "Color
    Correction Using Root-Polynomial Regression", IEEE TIP 24(5), 2015):
    degree 2 has 6 terms (r, g, b, √rg, √gb, √rb), degree 3 has 13 (adds
    ∛(rg²), ∛(gb²), ∛(rb²), ∛(gr²), ∛(bg²), ∛(br²), ∛(rgb)). Every term
    scales with exposure, so the fit does too. Root terms use values
    clamped at 0 (the linear terms keep negatives).
``"lut3d"``
    A 3D LUT (``lut_size``\\ ³ nodes) on the log shaper of
    :mod:`core.validate.shaper`, started from a degree-2 root-polynomial fit
    and refined where the data reach it: every iteration splats the
    residuals onto the 8 nodes around each sample with trilinear weights
    and moves each node by the weighted mean of its residuals (a
    diagonally preconditioned least-squares iteration). Nodes no sample
    reaches keep the root-polynomial's values, so the LUT extrapolates like
    it. Applied by per-channel shaper, then trilinear interpolation.

Images are ACEScg (AP1, scene-linear) ``float32`` ``HWC`` (C 3 or 4; alpha
passes through); masks are ``HW`` bool or float 0..1 weights (1 = valid).
Sampling is seeded (``max_samples`` pixels per frame, chosen without
replacement), so a fit is a pure function of its inputs and ``seed``.

``.cube`` export (:meth:`GradeFit.write_cube`): the Resolve ``.cube``
layout with a 1D shaper and a 3D LUT in one file (``LUT_1D_SIZE``,
``LUT_1D_INPUT_RANGE 0 hi``, ``LUT_3D_SIZE``, ``LUT_3D_INPUT_RANGE 0 1``),
which DaVinci Resolve and OpenColorIO (``FileTransform``, format
``resolve_cube``) read. A matrix or root-polynomial fit is baked into the
3D LUT through the shaper. Applied with trilinear interpolation it matches
:meth:`GradeFit.apply` to :data:`CUBE_TOLERANCE` (tested in
``tests/test_validate_grade.py``): within 1% of each pixel's brightest
channel at 33³ (0.25% at 65³; dark channels of saturated colours carry the
largest errors, as in any 3D LUT), under one 8-bit sRGB code value on
natural images. A ``lut3d`` fit is the file's own content and matches
to float precision. Input values below 0 and above the
shaper's ``hi`` clamp in the file (not in :meth:`GradeFit.apply` of a
matrix or root-polynomial fit). Adobe's Cube LUT Specification 1.0 allows
one table per file: ``style="adobe"`` writes the shaper and the 3D LUT as
two files of that dialect, applied in turn (also tested through OCIO).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ImageError, ParameterError
from core.formats import FORMATS
from core.validate.shaper import Shaper, shaper_max

GRADE_METHODS = ("matrix", "root_poly", "lut3d")
#: A saved fit's format, ``reelkit.grade/1`` (:mod:`core.formats`).
FORMAT = FORMATS["reelkit.grade"]
#: Agreement of a baked 33³ ``.cube`` (through OCIO, trilinear) with :meth:`GradeFit.apply` of a matrix or
#: root-polynomial fit, for pixels whose brightest channel is in 2^-6·hi .. hi: the largest channel error
#: relative to the pixel's brightest channel (measured 0.0063 on random colours; 0.0016 with 65³), and, on
#: natural images, the error in sRGB-encoded display values (measured 0.88 code values; 0.23 with 65³).
#: A ``lut3d`` fit is written node for node: OCIO matches :meth:`GradeFit.apply` to float precision (1e-5).
CUBE_TOLERANCE = {"relative_to_brightest": 0.01, "srgb_natural": 1.0 / 255.0, "lut3d": 1e-5}
_MIN_SAMPLES_PER_TERM = 10
_LUT_ITERATIONS = 400
_ROBUST_ITERATIONS = 5
_LUT_SMOOTH = 1e-3
_LUT_RIDGE = 1e-6
#: Pixels per slice when a 3D LUT is applied to an image.
_APPLY_CHUNK = 32768


# --------------------------------------------------------------------------- features


def root_poly_terms(rgb: np.ndarray, degree: int) -> np.ndarray:
    """Root-polynomial features ``(N, 3)`` -> ``(N, 6 | 13)`` (float64), in the order of the module docstring."""
    x = np.asarray(rgb, dtype=np.float64)
    p = np.maximum(x, 0.0)
    r, g, b = p[:, 0], p[:, 1], p[:, 2]
    cols = [x[:, 0], x[:, 1], x[:, 2], np.sqrt(r * g), np.sqrt(g * b), np.sqrt(r * b)]
    if degree == 3:
        cols += [np.cbrt(r * g * g), np.cbrt(g * b * b), np.cbrt(r * b * b),
                 np.cbrt(g * r * r), np.cbrt(b * g * g), np.cbrt(b * r * r), np.cbrt(r * g * b)]
    elif degree != 2:
        raise ParameterError(f"root_poly degree must be 2 or 3, got {degree}")
    return np.stack(cols, axis=1)


def _features(rgb: np.ndarray, method: str, degree: int) -> np.ndarray:
    if method == "matrix":
        return np.asarray(rgb, dtype=np.float64)
    return root_poly_terms(rgb, degree)


# --------------------------------------------------------------------------- LUT evaluation


def lut_apply(lut: np.ndarray, u: np.ndarray, *, kernel: str = "auto") -> np.ndarray:
    """Trilinear interpolation of ``lut`` (``n,n,n,3`` indexed ``[r, g, b]``) at ``u`` ``(N, 3)`` in 0..1.

    The table and the cell positions in float32, as OCIO's CPU processor
    has them; returns float32 ``(N, 3)``. ``kernel``: one of
    :data:`core.kernels.KERNELS`: numpy array passes (eight gathers of the
    whole ``u``) or, with numba (the ``fast`` extra), one loop over the
    pixels (about 6x faster) doing the same float operations in the same
    order: the same bits (``tests/test_validate_speed.py``).
    """
    from core.kernels import choose

    n = lut.shape[0]
    table = np.ascontiguousarray(lut, dtype=np.float32).reshape(-1, lut.shape[-1])
    if choose(kernel, _lut_kernel_available) == "numba" and lut.shape[-1] == 3:
        out = np.empty((np.shape(u)[0], 3), np.float32)
        _lut_kernel()(np.ascontiguousarray(u, dtype=np.float32), table, n, out)
        return out
    idx = np.clip(np.asarray(u, dtype=np.float32), 0.0, 1.0) * np.float32(n - 1)
    i0 = np.minimum(idx.astype(np.int32), n - 2)
    f = idx - i0  # float64: float32 less int32
    base = (i0[:, 0] * n + i0[:, 1]) * n + i0[:, 2]
    out = np.zeros((idx.shape[0], lut.shape[-1]), np.float32)
    fr, fg, fb = f[:, 0], f[:, 1], f[:, 2]
    for dr, wr in ((0, 1.0 - fr), (1, fr)):
        for dg, wg in ((0, 1.0 - fg), (1, fg)):
            wrg = wr * wg
            for db, wb in ((0, 1.0 - fb), (1, fb)):
                w = wrg * wb
                out += w[:, None] * table.take(base + ((dr * n + dg) * n + db), axis=0)
    return out


@functools.lru_cache(maxsize=1)
def _lut_kernel():
    """The numba form of :func:`lut_apply`'s numpy path ``(u (N, 3) float32, table (n³, 3) float32, n, out)``,
    or ``None`` without numba. Every value is typed as the numpy path has it: the cell position in
    float32, its fraction and the weights in float64, each corner's term added to the float32 sum in
    float64 and rounded back (numpy's in-place ``+=``), corners in the same order; no ``fastmath``
    (nothing fused or reordered)."""
    try:
        import numba
    except ImportError:
        return None

    @numba.njit(nogil=True, cache=True)
    def kernel(u, table, n, out):  # pragma: no cover - compiled
        top = np.float32(n - 1)
        cell = np.empty(3, np.int64)  # each channel's lower node and fraction (no jitted helper in the
        frac = np.empty(3, np.float64)  # closure: numba's cache could not find the kernel again)
        for p in range(u.shape[0]):
            for c in range(3):
                v = u[p, c]
                v = np.float32(0.0) if v < 0.0 else (np.float32(1.0) if v > 1.0 else v)  # np.clip (NaN stays)
                idx = np.float32(v * top)
                i = np.int64(np.int32(idx))
                i = n - 2 if i > n - 2 else i
                cell[c] = i
                frac[c] = np.float64(idx) - np.float64(i)
            fr, fg, fb = frac[0], frac[1], frac[2]
            base = (cell[0] * n + cell[1]) * n + cell[2]
            o0 = np.float32(0.0)
            o1 = np.float32(0.0)
            o2 = np.float32(0.0)
            for dr in range(2):
                wr = fr if dr else 1.0 - fr
                for dg in range(2):
                    wrg = wr * (fg if dg else 1.0 - fg)
                    for db in range(2):
                        w = wrg * (fb if db else 1.0 - fb)
                        k = base + (dr * n + dg) * n + db
                        o0 = np.float32(np.float64(o0) + w * np.float64(table[k, 0]))
                        o1 = np.float32(np.float64(o1) + w * np.float64(table[k, 1]))
                        o2 = np.float32(np.float64(o2) + w * np.float64(table[k, 2]))
            out[p, 0] = o0
            out[p, 1] = o1
            out[p, 2] = o2

    return kernel


def _lut_kernel_available() -> bool:
    return _lut_kernel() is not None


def _corners(i0: np.ndarray, f: np.ndarray):
    """The 8 cell corners around each sample as ``(index tuple, weight)``."""
    for dr in (0, 1):
        wr = f[:, 0] if dr else 1.0 - f[:, 0]
        for dg in (0, 1):
            wg = f[:, 1] if dg else 1.0 - f[:, 1]
            for db in (0, 1):
                wb = f[:, 2] if db else 1.0 - f[:, 2]
                yield (i0[:, 0] + dr, i0[:, 1] + dg, i0[:, 2] + db), wr * wg * wb


def _lut_grid(n: int) -> np.ndarray:
    """Node coordinates ``(n**3, 3)`` in 0..1, ``[r, g, b]`` index order (b fastest)."""
    axis = np.linspace(0.0, 1.0, n)
    r, g, b = np.meshgrid(axis, axis, axis, indexing="ij")
    return np.stack([r.ravel(), g.ravel(), b.ravel()], axis=1)


# --------------------------------------------------------------------------- result


@dataclasses.dataclass(frozen=True)
class GradeFit:
    """A fitted grade: ``apply`` it to ACEScg images, ``write_cube`` it, ``to_dict`` it.

    ``coefficients``: ``(terms, 3)`` float64 for ``matrix`` (terms 3; the
    3x3 matrix ``M`` with ``ref = M @ src`` is ``coefficients.T``) and
    ``root_poly``; ``lut``: ``(n, n, n, 3)`` float64 for ``lut3d``.
    ``success`` is False, with ``reason``, when the data could not
    determine the fit (too few valid pixels, a singular system); such a fit
    refuses to :meth:`apply`.
    """

    method: str
    shaper: Shaper
    coefficients: np.ndarray | None = None
    lut: np.ndarray | None = None
    degree: int = 2
    n_samples: int = 0
    n_frames: int = 0
    rms: float = float("nan")
    seed: int = 0
    success: bool = True
    reason: str = ""

    @property
    def matrix(self) -> np.ndarray:
        """The 3x3 matrix (``ref = M @ src``) of a ``matrix`` fit."""
        if self.method != "matrix" or self.coefficients is None:
            raise ParameterError(f"grade fit {self.method!r} has no 3x3 matrix")
        return self.coefficients.T.copy()

    def _check(self) -> None:
        if not self.success:
            raise ParameterError(f"the {self.method} grade fit failed ({self.reason}); it cannot be applied")

    def apply_rgb(self, rgb: np.ndarray) -> np.ndarray:
        """Apply to ``(N, 3)`` ACEScg values; float64 ``(N, 3)``."""
        self._check()
        if self.method == "lut3d":
            return lut_apply(self.lut, self.shaper.forward(np.asarray(rgb, dtype=np.float32))).astype(np.float64)
        return _features(np.asarray(rgb, dtype=np.float64), self.method, self.degree) @ self.coefficients

    def apply(self, image: np.ndarray) -> np.ndarray:
        """Apply to an ACEScg ``(..., 3|4)`` image (usually ``HWC`` ``float32``); returns ``float32``, alpha kept.

        Non-finite pixels raise :class:`~core.errors.ImageError`.
        """
        arr = np.asarray(image)
        if arr.ndim < 1 or arr.shape[-1] not in (3, 4):
            raise ImageError(f"grade apply: expected (..., 3|4) pixels, got shape {arr.shape}")
        rgb = arr[..., :3].reshape(-1, 3)
        if not np.isfinite(rgb).all():
            raise ImageError("grade apply: the image has NaN/Inf pixels")
        out = arr.astype(np.float32, copy=True)
        if self.method == "lut3d":  # float32 through and through (apply_rgb's float64 holds the same values)
            self._check()
            # in slices that stay in the CPU cache; every step is per pixel, so the values are the same
            graded = np.empty(rgb.shape, np.float32)
            for i in range(0, rgb.shape[0], _APPLY_CHUNK):
                graded[i:i + _APPLY_CHUNK] = lut_apply(self.lut, self.shaper.forward(rgb[i:i + _APPLY_CHUNK]))
        else:
            graded = self.apply_rgb(rgb).astype(np.float32)
        out[..., :3] = graded.reshape(arr.shape[:-1] + (3,))
        return out

    def baked(self, size: int = 33) -> "GradeFit":
        """This fit as a ``lut3d`` fit of ``size``\\ ³ nodes on the same shaper (what :meth:`write_cube` writes)."""
        self._check()
        if self.method == "lut3d" and (size is None or size == self.lut.shape[0]):
            return self
        if not 2 <= int(size) <= 129:
            raise ParameterError(f"cube size must be 2..129, got {size}")
        nodes = self.shaper.inverse(_lut_grid(int(size)))
        lut = self.apply_rgb(nodes).reshape(size, size, size, 3)
        return dataclasses.replace(self, method="lut3d", lut=lut, coefficients=None)

    def write_cube(self, path: str | os.PathLike, *, size: int | None = None, style: str = "resolve",
                   title: str | None = None, overwrite: bool = False) -> Path:
        """Write the grade as ``.cube`` atomically; returns the path (of the 3D LUT for ``"adobe"``).

        ``style`` ``"resolve"``: one file, the Resolve layout (1D shaper +
        ``size``\\ ³ 3D LUT). ``"adobe"``: Adobe's Cube LUT Specification 1.0
        allows one table per file, so two files: ``<stem>_shaper.cube`` (the
        1D shaper, ``DOMAIN_MAX hi hi hi``) and ``path`` (the 3D LUT on the
        shaper's 0..1 output); apply the shaper first. ``size`` ``None``: a
        ``lut3d`` fit's own nodes (exact), 33 for the others.
        """
        from core.io.atomic import write_text_atomic

        if style not in ("resolve", "adobe"):
            raise ParameterError(f"cube style must be resolve or adobe, got {style!r}")
        if size is None:
            size = self.lut.shape[0] if self.method == "lut3d" else 33
        lut = self.baked(size).lut
        n = lut.shape[0]
        table = self.shaper.table()
        shaper_rows = [f"{v:.9g} {v:.9g} {v:.9g}" for v in table]
        lut_rows = [f"{r:.7g} {g:.7g} {b:.7g}" for r, g, b in lut.transpose(2, 1, 0, 3).reshape(-1, 3)]  # red fastest
        # no TITLE line: OpenColorIO's resolve_cube reader rejects it
        head = [f"# {title or f'reelkit grade {self.method}'}",
                f"# reelkit {FORMAT.tag}: method {self.method}, ACEScg scene-linear in and out",
                f"# shaper: u = log2(1 + x/c) / log2(1 + hi/c), c = hi/1024, hi = {self.shaper.hi:g}"]
        if style == "resolve":
            lines = [*head, f"LUT_1D_SIZE {len(table)}", f"LUT_1D_INPUT_RANGE 0.0 {self.shaper.hi:.9g}",
                     f"LUT_3D_SIZE {n}", "LUT_3D_INPUT_RANGE 0.0 1.0", *shaper_rows, *lut_rows]
            return write_text_atomic(path, "\n".join(lines) + "\n", overwrite=overwrite)
        target = Path(path)
        shaper_path = target.with_name(f"{target.stem}_shaper.cube")
        hi = f"{self.shaper.hi:.9g}"
        write_text_atomic(shaper_path, "\n".join([*head[:1], "# step 1 of 2: the log shaper (then "
                                                   f"{target.name})", f'TITLE "{target.stem} shaper"',
                                                   f"LUT_1D_SIZE {len(table)}", "DOMAIN_MIN 0 0 0",
                                                   f"DOMAIN_MAX {hi} {hi} {hi}", *shaper_rows]) + "\n",
                          overwrite=overwrite)
        lines = [*head, f"# step 2 of 2: input is {shaper_path.name}'s output", f'TITLE "{target.stem}"',
                 f"LUT_3D_SIZE {n}", "DOMAIN_MIN 0 0 0", "DOMAIN_MAX 1 1 1", *lut_rows]
        return write_text_atomic(path, "\n".join(lines) + "\n", overwrite=overwrite)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly description (the LUT itself is left out: it is in the ``.cube``)."""
        out = {"format": FORMAT.tag, "method": self.method, "degree": self.degree, "shaper": self.shaper.to_dict(),
               "n_samples": self.n_samples, "n_frames": self.n_frames,
               "rms": None if not math.isfinite(self.rms) else round(float(self.rms), 8),
               "seed": self.seed, "success": self.success, "reason": self.reason}
        if self.coefficients is not None:
            out["coefficients"] = self.coefficients.tolist()
        if self.method == "matrix" and self.coefficients is not None:
            out["matrix"] = self.matrix.tolist()
        if self.lut is not None:
            out["lut_size"] = int(self.lut.shape[0])
        return out

    def _json(self) -> str:
        data = self.to_dict()
        if self.lut is not None:
            data["lut"] = np.round(self.lut, 9).tolist()
        return json.dumps(data) + "\n"

    def save(self, path: str | os.PathLike, *, overwrite: bool = True) -> Path:
        """Write ``to_dict`` (plus the LUT nodes of a ``lut3d`` fit) as JSON, atomically."""
        from core.io.atomic import write_text_atomic

        return write_text_atomic(path, self._json(), overwrite=overwrite)

    def digest(self) -> str:
        """sha256 of what :meth:`save` writes: the fit's identity in a config hash."""
        import hashlib

        return hashlib.sha256(self._json().encode("utf-8")).hexdigest()

    @classmethod
    def load(cls, path: str | os.PathLike) -> "GradeFit":
        """Read a fit written by :meth:`save`."""
        from core.errors import ImageReadError

        try:
            data = json.loads(Path(path).read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise ImageReadError(f"{path}: not a readable grade fit ({exc})") from None
        if not isinstance(data, dict):
            raise ImageReadError(f"{path}: not a {FORMAT.tag} file (a JSON {type(data).__name__})")
        data = FORMAT.read(data, where=str(path))
        return cls(method=data["method"], shaper=Shaper(data["shaper"]["hi"], data["shaper"]["size"]),
                   coefficients=None if "coefficients" not in data else np.asarray(data["coefficients"]),
                   lut=None if "lut" not in data else np.asarray(data["lut"]), degree=data["degree"],
                   n_samples=data["n_samples"], n_frames=data["n_frames"],
                   rms=float("nan") if data["rms"] is None else data["rms"], seed=data["seed"],
                   success=data["success"], reason=data["reason"])


# --------------------------------------------------------------------------- fitting


def _as_mask(mask, shape: tuple[int, ...], index: int) -> np.ndarray:
    if mask is None:
        return np.ones(shape[:2], np.float32)
    m = np.asarray(mask)
    if m.ndim == 3 and m.shape[-1] >= 1:
        m = m[..., 0]
    if m.shape != shape[:2]:
        raise ImageError(f"frame {index}: mask shape {m.shape} does not match the image's {shape[:2]}")
    m = m.astype(np.float32)
    return np.where(np.isfinite(m), np.clip(m, 0.0, 1.0), 0.0)


def sample_pairs(source: np.ndarray, reference: np.ndarray, mask=None, *, max_samples: int = 200_000,
                 seed: int = 0, index: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Valid pixels of one pair as ``(src (N,3), ref (N,3), weight (N,))``, seeded subsample of ``max_samples``.

    Pixels with a zero mask weight or a NaN/Inf in either image are left out.
    """
    src = np.asarray(source)
    ref = np.asarray(reference)
    if src.ndim != 3 or src.shape[-1] not in (3, 4):
        raise ImageError(f"frame {index}: source must be HWC with 3 or 4 channels, got shape {src.shape}")
    if ref.shape[:2] != src.shape[:2] or ref.ndim != 3 or ref.shape[-1] not in (3, 4):
        raise ImageError(f"frame {index}: reference shape {ref.shape} does not match the source's {src.shape}")
    w = _as_mask(mask, src.shape, index).ravel()
    s = src[..., :3].reshape(-1, 3)
    r = ref[..., :3].reshape(-1, 3)
    keep = (w > 0) & np.isfinite(s).all(axis=1) & np.isfinite(r).all(axis=1)
    idx = np.flatnonzero(keep)
    if idx.size > max_samples:
        rng = np.random.default_rng([int(seed), int(index)])
        idx = np.sort(rng.choice(idx, size=int(max_samples), replace=False))
    return s[idx].astype(np.float64), r[idx].astype(np.float64), w[idx].astype(np.float64)


def fit_grade(source, reference, *, mask=None, method: str = "matrix", degree: int = 2, lut_size: int = 17,
              max_samples: int = 200_000, seed: int = 0, shaper_hi: float | None = None,
              robust: bool = True) -> GradeFit:
    """Fit ``method`` so that ``fit.apply(source) ≈ reference`` on the valid pixels.

    ``source``/``reference``: ACEScg ``HWC`` ``float32`` images, or equal-length
    lists of them (one fit over several frames); ``mask``: ``HW`` bool/float
    weights, a list of them (``None`` entries = all valid), or ``None``.
    ``degree``: root-polynomial degree (2 or 3); ``lut_size``: nodes per axis
    of a ``lut3d`` fit; ``max_samples``: pixels drawn per frame (seeded);
    ``shaper_hi``: the shaper's white (default: from the source values,
    :func:`~core.validate.shaper.shaper_max`); ``robust``: down-weight outliers
    (dust, scratches, misaligned pixels) by iterative reweighting (Cauchy
    weights), on by default. See :func:`fit_grade_frames`.
    """
    if isinstance(source, np.ndarray) and source.ndim == 3:
        frames = [(source, reference, mask)]
    else:
        if isinstance(reference, np.ndarray) or len(source) != len(reference):
            raise ParameterError("fit_grade: give as many reference frames as source frames")
        masks = [None] * len(source) if mask is None else list(mask)
        if len(masks) != len(source):
            raise ParameterError("fit_grade: give one mask per frame (or mask=None)")
        frames = list(zip(source, reference, masks))
    return fit_grade_frames(frames, method=method, degree=degree, lut_size=lut_size, max_samples=max_samples,
                            seed=seed, shaper_hi=shaper_hi, robust=robust)


def fit_grade_frames(frames: Iterable[tuple[np.ndarray, np.ndarray, Any]], *, method: str = "matrix",
                     degree: int = 2, lut_size: int = 17, max_samples: int = 200_000, seed: int = 0,
                     shaper_hi: float | None = None, robust: bool = True) -> GradeFit:
    """One fit over an iterable of ``(source, reference, mask)`` frames, read one at a time.

    Only ``max_samples`` pixels per frame are kept, so memory stays flat for
    long sequences. A fit the data cannot determine comes back with
    ``success=False`` and the reason.
    """
    _check_fit_args(method, degree, lut_size)
    return fit_grade_samples(sample_frames(frames, max_samples=max_samples, seed=seed), method=method,
                             degree=degree, lut_size=lut_size, seed=seed, shaper_hi=shaper_hi, robust=robust)


def _check_fit_args(method: str, degree: int, lut_size: int) -> None:
    if method not in GRADE_METHODS:
        raise ParameterError(f"grade method {method!r}: expected one of {', '.join(GRADE_METHODS)}")
    if degree not in (2, 3):
        raise ParameterError(f"root_poly degree must be 2 or 3, got {degree}")
    if not 3 <= int(lut_size) <= 65:
        raise ParameterError(f"lut_size must be 3..65, got {lut_size}")


@dataclasses.dataclass(frozen=True)
class Samples:
    """The pixels a fit learns from: ``src``, ``ref`` ``(N, 3)`` float64 ACEScg, ``weight`` ``(N,)``, and how
    many frames they were drawn from (:func:`sample_frames`)."""

    src: np.ndarray
    ref: np.ndarray
    weight: np.ndarray
    n_frames: int
    #: Solves shared by fits of these samples (the root-polynomial degree-2 solve is both the
    #: ``root_poly`` fit and the ``lut3d`` fit's seed): ``(features, robust)`` -> ``_solve``'s result.
    solves: dict = dataclasses.field(default_factory=dict, compare=False, repr=False)


def sample_frames(frames: Iterable[tuple[np.ndarray, np.ndarray, Any]], *, max_samples: int = 200_000,
                  seed: int = 0) -> Samples:
    """:func:`sample_pairs` of every ``(source, reference, mask)`` frame (read one at a time), joined.

    Several fits of the same frames (``matrix``, ``root_poly``, ``lut3d``) can share one draw: the draw
    depends only on the frames, ``max_samples`` and ``seed``.
    """
    if int(max_samples) < 1:
        raise ParameterError(f"max_samples must be at least 1, got {max_samples}")
    parts = [sample_pairs(s, r, m, max_samples=int(max_samples), seed=seed, index=i)
             for i, (s, r, m) in enumerate(frames)]
    if not parts:
        raise ParameterError("fit_grade: no frames given")
    return Samples(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                   np.concatenate([p[2] for p in parts]), len(parts))


def fit_grade_samples(samples: Samples, *, method: str = "matrix", degree: int = 2, lut_size: int = 17,
                      seed: int = 0, shaper_hi: float | None = None, robust: bool = True) -> GradeFit:
    """Fit ``method`` on drawn :class:`Samples` (see :func:`fit_grade`; ``seed`` is recorded in the fit)."""
    _check_fit_args(method, degree, lut_size)
    src, ref, w = samples.src, samples.ref, samples.weight
    hi = float(shaper_hi) if shaper_hi is not None else shaper_max(src) if src.size else 1.0
    shaper = Shaper(hi)
    base = dict(method=method, shaper=shaper, degree=degree, n_samples=int(src.shape[0]), n_frames=samples.n_frames,
                seed=int(seed))
    n_terms = {"matrix": 3, "root_poly": 6 if degree == 2 else 13, "lut3d": 6}[method]
    if src.shape[0] < n_terms * _MIN_SAMPLES_PER_TERM:
        return GradeFit(**base, success=False,
                        reason=f"{src.shape[0]} valid pixels, need at least {n_terms * _MIN_SAMPLES_PER_TERM}")
    if method == "lut3d":
        coef, reason, robust_w = _shared_solve(samples, "root_poly", 2, robust)
        if coef is None:
            return GradeFit(**base, success=False, reason=reason)
        seed_fit = GradeFit(method="root_poly", shaper=shaper, coefficients=coef, degree=2)
        lut = seed_fit.baked(int(lut_size)).lut
        lut = _refine_lut(lut, shaper.forward(src.astype(np.float32)).astype(np.float64), ref, robust_w)
        fit = GradeFit(**base, lut=lut)
    else:
        coef, reason, _ = _shared_solve(samples, method, degree, robust)
        if coef is None:
            return GradeFit(**base, success=False, reason=reason)
        fit = GradeFit(**base, coefficients=coef)
    resid = fit.apply_rgb(src) - ref
    rms = float(np.sqrt(np.sum(w[:, None] * resid**2) / max(3 * np.sum(w), 1e-12)))
    return dataclasses.replace(fit, rms=rms)


def _shared_solve(samples: Samples, method: str, degree: int, robust: bool
                  ) -> tuple[np.ndarray | None, str, np.ndarray]:
    """:func:`_solve` of ``method``'s features of ``samples``, computed once per samples (a pure function of them)."""
    key = (method, degree if method == "root_poly" else 0, bool(robust))
    if key not in samples.solves:
        samples.solves[key] = _solve(_features(samples.src, method, degree), samples.ref, samples.weight,
                                     robust=robust)
    return samples.solves[key]


def _solve(x: np.ndarray, y: np.ndarray, w: np.ndarray, *, robust: bool = True
           ) -> tuple[np.ndarray | None, str, np.ndarray]:
    """Weighted least squares ``x @ coef ≈ y``; returns ``(coef, "", weights)`` or ``(None, reason, w)``.

    ``robust``: iteratively reweighted with Cauchy weights ``1 / (1 + (r / c)²)`` on the residual
    norm ``r``, ``c = 2.385 × 1.4826 × median(r)`` (95% efficiency for Gaussian noise), so dust,
    scratches and misaligned pixels that the mask missed do not pull the fit.
    """
    weights = w
    coef = None
    # normal equations on RMS-normalised columns (fast for many pixels; the columns' scale is equalised first)
    norm = np.sqrt(np.mean(x * x, axis=0))
    norm[norm == 0] = 1.0
    xn = x / norm
    for it in range(_ROBUST_ITERATIONS + 1 if robust else 1):
        xw = xn * weights[:, None]
        gram = xw.T @ xn
        eig = np.linalg.eigvalsh(gram)
        if eig[0] <= eig[-1] * 1e-13:
            rank = int(np.sum(eig > eig[-1] * 1e-13))
            return None, (f"the valid pixels do not determine the fit (rank {rank} of {x.shape[1]}: too few "
                          "distinct colours, e.g. a grey or flat frame)"), w
        coef = np.linalg.solve(gram, xw.T @ y) / norm[:, None]
        if it == _ROBUST_ITERATIONS or not robust:
            break
        r = np.linalg.norm(x @ coef - y, axis=1)
        scale = 1.4826 * float(np.median(r[w > 0]))
        if scale <= 1e-12 * max(1.0, float(np.abs(y).max())):
            break  # an exact fit: nothing to reweight
        weights = w / (1.0 + (r / (2.385 * scale)) ** 2)
    return coef, "", weights


def _laplacian(n: int):
    """The graph Laplacian of the n³ LUT lattice (6-neighbour), sparse."""
    from scipy import sparse

    d1 = sparse.diags([np.r_[1.0, np.full(n - 2, 2.0), 1.0], -np.ones(n - 1), -np.ones(n - 1)], [0, -1, 1])
    eye = sparse.identity(n)
    return (sparse.kron(sparse.kron(d1, eye), eye) + sparse.kron(sparse.kron(eye, d1), eye)
            + sparse.kron(sparse.kron(eye, eye), d1)).tocsr()


def _refine_lut(lut: np.ndarray, u: np.ndarray, ref: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Regularised least-squares LUT nodes (see the module docstring), solved by conjugate gradients.

    Minimises ``Σ w |interp(lut, u) - ref|² + λ |L (lut - seed)|² + μ |lut - seed|²`` with ``L`` the
    lattice Laplacian: the data decide where they reach, and the LUT bends like the seed (the
    root-polynomial fit) elsewhere. λ and μ are small fractions of the mean data weight per node.
    """
    from scipy import sparse
    from scipy.sparse.linalg import cg

    n = lut.shape[0]
    idx = np.clip(u, 0.0, 1.0) * (n - 1)
    i0 = np.minimum(np.floor(idx).astype(np.int64), n - 2)
    f = idx - i0
    # The data term's normal matrix A^T W A (A: each sample's 8 trilinear weights) summed cell by cell:
    # a sample adds w v_a v_b to the node pair (a, b) of its cell, so one weighted bincount over the
    # cells per corner pair (36 with the symmetry) replaces a sparse product of the N x n^3 matrix A.
    cell = np.ravel_multi_index(tuple(i0.T), (n, n, n))
    vals = [cw for _, cw in _corners(i0, f)]
    offsets = [(dr * n + dg) * n + db for dr in (0, 1) for dg in (0, 1) for db in (0, 1)]  # _corners' order
    used = np.flatnonzero(np.bincount(cell, minlength=n**3))
    rows, cols, data = [], [], []
    for a in range(8):
        wa = w * vals[a]
        for b in range(a, 8):
            s = np.bincount(cell, weights=wa * vals[b], minlength=n**3)[used]
            pairs = ((offsets[a], offsets[b]),) if a == b else ((offsets[a], offsets[b]), (offsets[b], offsets[a]))
            for oa, ob in pairs:
                rows.append(used + oa)
                cols.append(used + ob)
                data.append(s)
    ata = sparse.coo_matrix((np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
                            shape=(n**3, n**3)).tocsr()
    scale = float(np.sum(w)) / n**3
    lap = _laplacian(n)
    reg = _LUT_SMOOTH * scale * (lap.T @ lap) + _LUT_RIDGE * scale * sparse.identity(n**3)
    system = (ata + reg).tocsr()
    seed = lut.reshape(-1, 3)
    precond = sparse.diags(1.0 / system.diagonal())
    out = np.empty_like(seed)
    for ch in range(3):
        aty = np.zeros(n**3)
        for a in range(8):  # A^T W y, corner by corner
            aty += np.bincount(cell + offsets[a], weights=w * vals[a] * ref[:, ch], minlength=n**3)
        rhs = aty + reg @ seed[:, ch]
        out[:, ch], _ = cg(system, rhs, x0=seed[:, ch], rtol=1e-10, maxiter=_LUT_ITERATIONS, M=precond)
    return out.reshape(n, n, n, 3)


# --------------------------------------------------------------------------- OCIO


def ocio_apply_cube(path: str | os.PathLike | Sequence[str | os.PathLike], pixels: np.ndarray, *,
                    interpolation: str = "linear") -> np.ndarray:
    """Apply a ``.cube`` file through OpenColorIO's ``FileTransform`` (CPU processor); ``float32`` copy.

    ``path``: one file, or several applied in order (an ``"adobe"`` pair:
    the shaper, then the 3D LUT). ``pixels``: ``(..., 3)`` values as the
    file expects (ACEScg for :meth:`GradeFit.write_cube`). ``interpolation``: ``"linear"``
    (trilinear, as :meth:`GradeFit.apply` of a ``lut3d`` fit) or
    ``"tetrahedral"``. The comparison reference of the tests and the
    benchmark; needs PyOpenColorIO.
    """
    from core.errors import require

    ocio = require("PyOpenColorIO", "all")
    interp = {"linear": ocio.INTERP_LINEAR, "tetrahedral": ocio.INTERP_TETRAHEDRAL}.get(interpolation)
    if interp is None:
        raise ParameterError(f"interpolation must be linear or tetrahedral, got {interpolation!r}")
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    transform = ocio.GroupTransform([ocio.FileTransform(src=os.fspath(p), interpolation=interp,
                                                        direction=ocio.TRANSFORM_DIR_FORWARD) for p in paths])
    ocio.ClearAllCaches()  # OCIO caches files by path: a rewritten .cube must be read again
    config = ocio.Config.CreateRaw()
    cpu = config.getProcessor(transform).getDefaultCPUProcessor()
    arr = np.ascontiguousarray(np.asarray(pixels, dtype=np.float32).reshape(-1, 3)).copy()
    cpu.applyRGB(arr)
    return arr.reshape(np.shape(pixels)[:-1] + (3,))


def fits_summary(fits: Mapping[str, GradeFit] | Sequence[GradeFit]) -> list[dict[str, Any]]:
    """One line per fit for reports: method, frames, samples, RMS residual, success/reason."""
    items = fits.values() if isinstance(fits, Mapping) else fits
    return [{"method": f.method, "frames": f.n_frames, "samples": f.n_samples, "rms": f.rms,
             "success": f.success, "reason": f.reason} for f in items]
