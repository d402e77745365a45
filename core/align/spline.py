"""A smooth dense displacement field: a cubic B-spline grid fitted by Gauss-Newton.

What is left after the global transform — the frame bent by gate weave,
film shrinkage, lens differences between transfers — is smooth over the
frame. A per-pixel optical flow is noisy where the picture is flat or
grainy (tenths of a pixel to a pixel with DIS on the degraded samples);
a field with one control point every ``spacing`` pixels, fitted to all the
pixels around each, is an order of magnitude more precise and still
follows warps a few grid cells in wavelength.

Model: ``u(x, y) = sum_ij C[i, j] By_i(y) Bx_j(x)`` per component, uniform
cubic B-splines with knots at ``(j - 1) * spacing`` (the field covers the
frame with ``ceil((n - 1) / spacing) + 3`` control points a side). Fitting
minimises ``sum_p w_p (e_p - g_p . du(p))^2 + lam * bending(C)`` per
Gauss-Newton step (``e``: residual of the warped moving image, ``g``: the
mean of both images' gradients, an efficient second-order step; Benhimane &
Malis 2004), where ``bending`` penalises the second differences of the
control grid (an affine field costs nothing), and ``w`` are robust weights
(Tukey's biweight, :mod:`core.align.robust`): damage the two images do not
share — dust, scratches, patches, dropouts — and its near neighbours weigh
nothing. Normal equations are assembled with dense matrix products of the
separable basis (``G @ Bx``, then ``By^T @ .``) and solved densely (a grid
of at most :data:`MAX_GRID` control points a side keeps that small). Images are ``float32`` ``HW``; the field is
``float32`` ``HW2`` ``(dx, dy)`` px with ``fixed(p) ~= moving(p + u(p))``.
"""

from __future__ import annotations

import math

import numpy as np

from core.align import geometry, robust

#: Most control points per side the dense solver is meant for (``flow_grid`` is capped below it).
MAX_GRID = 40
DAMPING = 1e-6
#: The field's damage grows by this many pixels (less than the global fit's: a wider band would hide the very
#: edges a local warp moves).
DAMAGE_GROW = 2


def _bspline3(t: np.ndarray) -> np.ndarray:
    t = np.abs(t)
    out = np.zeros_like(t)
    a = t < 1.0
    b = (t >= 1.0) & (t < 2.0)
    out[a] = 2.0 / 3.0 - t[a] ** 2 + 0.5 * t[a] ** 3
    out[b] = (2.0 - t[b]) ** 3 / 6.0
    return out


def control_count(n: int, spacing: float) -> int:
    """Control points along a side of ``n`` px with knots ``spacing`` px apart."""
    return int(math.ceil((n - 1) / spacing)) + 3


def basis(n: int, spacing: float, count: int | None = None) -> np.ndarray:
    """``(n, count)`` ``float32`` matrix of the cubic B-spline basis at pixel centres ``0..n-1``."""
    count = control_count(n, spacing) if count is None else count
    x = np.arange(n, dtype=np.float64)[:, None]
    knots = (np.arange(count, dtype=np.float64) - 1.0) * spacing
    return _bspline3((x - knots[None, :]) / spacing).astype(np.float32)


def _bending(ny: int, nx: int) -> np.ndarray:
    """Dense ``(ny*nx)^2`` thin-plate penalty on a control grid: ``Dyy^T Dyy + Dxx^T Dxx + 2 Dxy^T Dxy``."""
    def d2(n: int) -> np.ndarray:
        d = np.zeros((max(n - 2, 0), n))
        for i in range(n - 2):
            d[i, i:i + 3] = (1.0, -2.0, 1.0)
        return d

    def d1(n: int) -> np.ndarray:
        return np.diff(np.eye(n), axis=0)

    dyy = np.kron(d2(ny), np.eye(nx))
    dxx = np.kron(np.eye(ny), d2(nx))
    dxy = np.kron(d1(ny), d1(nx))
    return dyy.T @ dyy + dxx.T @ dxx + 2.0 * dxy.T @ dxy


class SplineField:
    """The B-spline displacement model on an ``hw`` grid (see the module)."""

    def __init__(self, hw: tuple[int, int], spacing: float):
        self.hw = hw
        self.spacing = float(spacing)
        self.by = basis(hw[0], spacing)
        self.bx = basis(hw[1], spacing)
        self.ny, self.nx = self.by.shape[1], self.bx.shape[1]
        self.bending = _bending(self.ny, self.nx)
        # index pattern of the normal matrix: control pairs within 3 cells in both directions
        self._pairs = []
        grid = np.arange(self.ny * self.nx).reshape(self.ny, self.nx)
        for oy in range(-3, 4):
            for ox in range(-3, 4):
                rows = grid[max(0, -oy):self.ny - max(0, oy), max(0, -ox):self.nx - max(0, ox)]
                cols = grid[max(0, oy):self.ny - max(0, -oy), max(0, ox):self.nx - max(0, -ox)]
                self._pairs.append((oy, ox, rows.ravel(), cols.ravel()))
        self._rows = np.concatenate([p[2] for p in self._pairs])
        self._cols = np.concatenate([p[3] for p in self._pairs])

    def zeros(self) -> np.ndarray:
        return np.zeros((2, self.ny, self.nx), np.float64)

    def field(self, coef: np.ndarray, hw: tuple[int, int] | None = None, scale: float = 1.0) -> np.ndarray:
        """The displacement ``float32`` ``HW2``; with ``hw`` and ``scale``, on a grid ``scale`` times finer.

        A field fitted on pyramid level ``l`` evaluated with ``scale = 2**l`` at
        full size gives the full-resolution displacement (coordinates and
        values both scaled).
        """
        if hw is None:
            by, bx = self.by, self.bx
        else:
            by = basis(hw[0], self.spacing * scale, self.ny)
            bx = basis(hw[1], self.spacing * scale, self.nx)
        c = coef.astype(np.float32) * np.float32(scale)
        return np.stack([by @ c[0] @ bx.T, by @ c[1] @ bx.T], axis=-1).astype(np.float32)

    def _normal_block(self, g: np.ndarray) -> np.ndarray:
        """Dense ``(n, n)``: ``sum_p g_p By_i By_k Bx_j Bx_l`` for control points ``(i, j)``, ``(k, l)``."""
        by, bx = self.by, self.bx
        n = self.ny * self.nx
        vals = []
        cache = {}
        for oy, ox, _, _ in self._pairs:
            if ox not in cache:
                px = bx[:, max(0, -ox):self.nx - max(0, ox)] * bx[:, max(0, ox):self.nx - max(0, -ox)]
                cache[ox] = g @ px
            py = by[:, max(0, -oy):self.ny - max(0, oy)] * by[:, max(0, oy):self.ny - max(0, -oy)]
            vals.append((py.T @ cache[ox]).ravel())
        out = np.zeros((n, n), np.float64)
        out[self._rows, self._cols] = np.concatenate(vals)
        return out

    def solve(self, gxx: np.ndarray, gxy: np.ndarray, gyy: np.ndarray, bx: np.ndarray, by: np.ndarray, *,
              lam: float, coef: np.ndarray | None = None) -> np.ndarray:
        """One regularised Gauss-Newton step: the control update ``dC`` (``(2, ny, nx)``).

        Solves ``(A + lam s R + d s I) dC = b - lam s R C - d s C`` where ``A``
        and ``b`` are the normal matrix and right-hand side of the per-pixel
        terms ``G = [[gxx, gxy], [gxy, gyy]]`` (already weighted) and
        ``(bx, by)`` (``float32`` ``HW`` images), ``R`` the bending penalty,
        ``s`` the mean diagonal of ``A``, ``d`` :data:`DAMPING` and ``C``
        the current control grid (zero if ``None``).
        """
        n = self.ny * self.nx
        axx, axy, ayy = (self._normal_block(np.ascontiguousarray(g, dtype=np.float32)) for g in (gxx, gxy, gyy))
        a = np.block([[axx, axy], [axy.T, ayy]])
        diag = np.diagonal(a)
        scale = float(diag.mean()) if diag.size and diag.mean() > 0 else 1.0
        rhs = np.concatenate([(self.by.T @ bx @ self.bx).ravel(),
                              (self.by.T @ by @ self.bx).ravel()]).astype(np.float64)
        reg = lam * scale
        damp = DAMPING * scale
        system = a
        system[:n, :n] += reg * self.bending
        system[n:, n:] += reg * self.bending
        system[np.diag_indices(2 * n)] += damp
        if coef is not None:
            c = coef.reshape(2, n)
            rhs -= np.concatenate([reg * (self.bending @ c[0]), reg * (self.bending @ c[1])]) + damp * c.ravel()
        try:
            d = np.linalg.solve(system, rhs)
        except np.linalg.LinAlgError:  # singular only when nothing constrains the field: no update
            d = np.zeros(2 * n)
        return d.reshape(2, self.ny, self.nx)

    def fit(self, flow: np.ndarray, weight: np.ndarray, *, lam: float) -> np.ndarray:
        """Control grid of the regularised weighted least-squares fit of ``flow`` (``HW2``) with ``weight`` (``HW``)."""
        w = weight.astype(np.float32)
        zero = np.zeros_like(w)
        return self.solve(w, zero, w, w * flow[..., 0], w * flow[..., 1], lam=lam)


def refine(fixed: np.ndarray, moving: np.ndarray, model: SplineField, coef: np.ndarray, *, lam: float,
           iterations: int, tol: float = 1e-2, mask: np.ndarray | None = None,
           transform: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """Gauss-Newton iterations of ``coef`` so that ``fixed(p) ~= moving(T(p + u(p)))`` (``float32`` ``HW``).

    ``transform``: ``T``, 3x3 from ``fixed``'s grid to ``moving``'s
    (identity if ``None``): the field is what is left after it, in
    ``fixed``'s pixels. ``mask``: optional ``bool`` ``HW`` of fixed pixels
    to use. Stops after ``iterations`` or when the field moves no pixel by
    more than ``tol`` px. Returns the control grid and ``{"iterations", "last_step"}``.
    """
    import cv2

    t = np.eye(3) if transform is None else transform
    fx = cv2.Scharr(fixed, cv2.CV_32F, 1, 0, scale=1.0 / 32.0)
    fy = cv2.Scharr(fixed, cv2.CV_32F, 0, 1, scale=1.0 / 32.0)
    step = float("inf")
    done = 0
    for done in range(1, iterations + 1):
        warped = cv2.remap(moving, geometry.coordinate_map(t, fixed.shape, model.field(coef)), None, cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=np.nan)
        inside = np.isfinite(warped)
        if mask is not None:
            inside &= mask
        warped = np.where(inside, warped, 0.0).astype(np.float32)
        gx = 0.5 * (fx + cv2.Scharr(warped, cv2.CV_32F, 1, 0, scale=1.0 / 32.0))
        gy = 0.5 * (fy + cv2.Scharr(warped, cv2.CV_32F, 0, 1, scale=1.0 / 32.0))
        e = np.where(inside, fixed - warped, 0.0).astype(np.float32)
        if not inside.any():
            break
        noise = robust.sigma(e, inside)
        if np.isfinite(step):  # damage has no say: what the last step's size of misalignment cannot explain
            slack = robust.misalignment_slack(warped, max(step, robust.MISALIGNMENT_PX))
            inside &= ~robust.damage(e, noise, slack=slack, grow=DAMAGE_GROW)
        wgt = np.where(inside, robust.cauchy_weights(e, noise), np.float32(0.0))
        wgx, wgy = wgt * gx, wgt * gy
        d = model.solve(wgx * gx, wgx * gy, wgy * gy, wgx * e, wgy * e, lam=lam, coef=coef)
        coef = coef + d
        du = model.field(d)
        step = float(np.sqrt((du * du).sum(axis=-1).max()))
        if step < tol:
            break
    return coef, {"iterations": done, "last_step": step}
