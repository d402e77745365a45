"""Mattes without trained weights: GrabCut from a box or a rough mask, refined by a guided filter.

1. **Segmentation** (Rother, Kolmogorov & Blake, "GrabCut", SIGGRAPH 2004;
   ``cv2.grabCut``): colour models (Gaussian mixtures) of the foreground and
   the background, and a graph cut between them, iterated. It starts from a
   box around the subject (everything outside is background) or from a
   rough mask (``>= 0.5`` foreground): a band of ``band`` of the frame's
   short side on each side of the mask's edge is left for GrabCut to
   decide, the rest is taken as sure foreground / background. It runs on a
   proxy whose long side is at most ``work_size`` px (sRGB-encoded 8-bit:
   what its colour models were designed on); OpenCV's random generator is
   seeded with ``seed`` first (its k-means starts the mixtures), so the
   result is the same on every run.
2. **Refinement** (He, Sun & Tang, "Guided image filtering", TPAMI 2013,
   the colour-guide form): the hard mask, upsampled to the frame, is
   filtered with the frame itself (sRGB-encoded RGB, 0..1) as the guide: the
   matte follows the frame's edges at full resolution and becomes soft
   where the colours mix (hair, motion blur). ``radius`` is in proxy pixels
   scaled to the frame; ``eps`` is the regularisation (display units
   squared: larger is smoother).

Temporal propagation along the flow (the previous frame's matte as the next
frame's rough mask, and the blend that keeps it from flickering) is the
session's (:mod:`core.vision.session`): each function here is pure.

Mattes: ``float32`` ``HW1``, 0..1 (1 = subject), straight (not premultiplied).
"""

from __future__ import annotations

import numpy as np

from core.errors import EmptyResultError, ImageError, ParameterError
from core.frame import Frame
from core.vision.image import display_u8, name_of, working_pixels


def _box_mean(a: np.ndarray, r: int) -> np.ndarray:
    import cv2

    return cv2.blur(a, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REFLECT)


def guided_filter(guide: np.ndarray, src: np.ndarray, *, radius: int, eps: float) -> np.ndarray:
    """``src`` (``float32`` ``HW``) filtered with the colour ``guide`` (``float32`` ``HW3``, 0..1, display
    encoded): He et al.'s local linear model ``q = a . I + b`` over ``(2 radius + 1)^2`` windows; ``float32`` ``HW``.

    The 3x3 covariance of each window is inverted in closed form (adjugate / determinant, ``eps`` added
    to its diagonal).
    """
    if radius < 1 or not eps > 0:
        raise ParameterError(f"guided filter: radius {radius!r} must be >= 1 and eps {eps!r} > 0")
    g = guide.astype(np.float32, copy=False)
    p = src.astype(np.float32, copy=False)
    mi = [_box_mean(g[..., c], radius) for c in range(3)]
    mp = _box_mean(p, radius)
    cov_ip = [_box_mean(g[..., c] * p, radius) - mi[c] * mp for c in range(3)]
    v = {(i, j): _box_mean(g[..., i] * g[..., j], radius) - mi[i] * mi[j] for i in range(3) for j in range(i, 3)}
    a00, a01, a02 = v[0, 0] + eps, v[0, 1], v[0, 2]
    a11, a12, a22 = v[1, 1] + eps, v[1, 2], v[2, 2] + eps
    c00, c01, c02 = a11 * a22 - a12 * a12, a02 * a12 - a01 * a22, a01 * a12 - a02 * a11
    c11, c12, c22 = a00 * a22 - a02 * a02, a01 * a02 - a00 * a12, a00 * a11 - a01 * a01
    det = a00 * c00 + a01 * c01 + a02 * c02
    ax = (c00 * cov_ip[0] + c01 * cov_ip[1] + c02 * cov_ip[2]) / det
    ay = (c01 * cov_ip[0] + c11 * cov_ip[1] + c12 * cov_ip[2]) / det
    az = (c02 * cov_ip[0] + c12 * cov_ip[1] + c22 * cov_ip[2]) / det
    b = mp - ax * mi[0] - ay * mi[1] - az * mi[2]
    q = (_box_mean(ax, radius) * g[..., 0] + _box_mean(ay, radius) * g[..., 1]
         + _box_mean(az, radius) * g[..., 2] + _box_mean(b, radius))
    return q.astype(np.float32)


def _scale(h: int, w: int, work_size: int) -> float:
    return min(1.0, work_size / max(h, w))


def grabcut(image: Frame | np.ndarray, *, box: tuple[int, int, int, int] | None = None,
            mask: np.ndarray | None = None, iterations: int = 5, band: float = 0.03, work_size: int = 512,
            seed: int = 0, name: str | None = None) -> np.ndarray:
    """GrabCut's hard segmentation of ``image`` (a Frame or ACEScg ``float32`` ``HW3``; colour needed) at the
    proxy size: ``uint8`` ``hw`` 0/1 (1 = subject), ``hw`` the proxy's size.

    Exactly one of ``box`` (``x, y, width, height`` in frame pixels) and ``mask`` (``float`` ``HW`` or ``HW1``
    of the frame's size, ``>= 0.5`` = subject) starts it. Raises :class:`~core.errors.EmptyResultError`
    (one line) when nothing is left in the foreground.
    """
    import cv2

    label = name_of(image, name)
    px = working_pixels(image, what="matte", colour=True, name=name)
    h, w = px.shape[:2]
    if (box is None) == (mask is None):
        raise ParameterError(f"{label}: give the matte a box or a rough mask (exactly one)")
    if iterations < 1 or work_size < 16 or not 0 < band < 0.5:
        raise ParameterError(f"{label}: iterations {iterations} >= 1, work_size {work_size} >= 16 and "
                             f"0 < band {band} < 0.5 expected")
    s = _scale(h, w, work_size)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    small = cv2.resize(display_u8(px), size, interpolation=cv2.INTER_AREA)
    gc = np.zeros(small.shape[:2], np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(int(seed))
    if box is not None:
        x, y, bw, bh = (int(v) for v in box)
        if bw < 1 or bh < 1 or x < 0 or y < 0 or x + bw > w or y + bh > h:
            raise ParameterError(f"{label}: box {tuple(box)} is not inside the {w}x{h} frame")
        rect = (round(x * s), round(y * s), max(1, round(bw * s)), max(1, round(bh * s)))
        if rect[0] <= 0 and rect[1] <= 0 and rect[0] + rect[2] >= size[0] and rect[1] + rect[3] >= size[1]:
            raise EmptyResultError(f"{label}: box {tuple(box)} covers the whole {w}x{h} frame: no background to "
                                   "learn (draw it inside the frame)")
        cv2.grabCut(small, gc, rect, bgd, fgd, iterations, cv2.GC_INIT_WITH_RECT)
    else:
        m = np.asarray(mask, np.float32)
        m = m[..., 0] if m.ndim == 3 else m
        if m.shape != (h, w):
            raise ImageError(f"{label}: rough mask is {m.shape[1]}x{m.shape[0]}, the frame {w}x{h}")
        fg = cv2.resize(m, size, interpolation=cv2.INTER_AREA) >= 0.5
        if not fg.any():
            raise EmptyResultError(f"{label}: the rough mask has no subject (no value >= 0.5)")
        r = max(1, round(band * min(size)))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        sure_fg = cv2.erode(fg.astype(np.uint8), kernel).astype(bool)
        sure_bg = ~cv2.dilate(fg.astype(np.uint8), kernel).astype(bool)
        gc[:] = np.where(fg, cv2.GC_PR_FGD, cv2.GC_PR_BGD)
        gc[sure_fg] = cv2.GC_FGD
        gc[sure_bg] = cv2.GC_BGD
        if not (gc == cv2.GC_BGD).any() and not (gc == cv2.GC_PR_BGD).any():
            raise EmptyResultError(f"{label}: the rough mask covers the whole frame: no background to learn")
        cv2.grabCut(small, gc, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
    hard = ((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)).astype(np.uint8)
    if not hard.any():
        raise EmptyResultError(f"{label}: GrabCut found no subject")
    return hard


def refine(image: Frame | np.ndarray, hard: np.ndarray, *, radius: int = 4, eps: float = 1e-3,
           work_size: int = 512, name: str | None = None) -> np.ndarray:
    """The hard mask ``hard`` (``HW`` 0/1 at any size, e.g. GrabCut's proxy) as a soft matte of ``image``'s
    size: upsampled (bilinear) and guided-filtered with the frame; ``float32`` ``HW1`` 0..1.

    ``radius`` is in proxy pixels (:func:`grabcut`'s ``work_size``) and scaled to the frame.
    """
    import cv2

    px = working_pixels(image, what="matte", colour=True, name=name)
    h, w = px.shape[:2]
    up = cv2.resize(hard.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    r = max(1, round(radius / _scale(h, w, work_size)))
    guide = display_u8(px).astype(np.float32) / 255.0
    return np.clip(guided_filter(guide, up, radius=r, eps=eps), 0.0, 1.0)[..., None]


def matte(image: Frame | np.ndarray, *, box: tuple[int, int, int, int] | None = None,
          mask: np.ndarray | None = None, iterations: int = 5, band: float = 0.03, radius: int = 4,
          eps: float = 1e-3, work_size: int = 512, seed: int = 0, name: str | None = None) -> np.ndarray:
    """:func:`grabcut` then :func:`refine`: the subject's soft matte, ``float32`` ``HW1`` 0..1."""
    hard = grabcut(image, box=box, mask=mask, iterations=iterations, band=band, work_size=work_size, seed=seed,
                   name=name)
    return refine(image, hard, radius=radius, eps=eps, work_size=work_size, name=name)
