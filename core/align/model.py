"""The front door: :func:`align` runs the stages a method names and returns an :class:`AlignResult`.

Pipeline (stages from :data:`core.align.params.METHODS`):

0. Working copy: the source's luminance is halved (``cv2.pyrDown``) until
   its longer side is at most ``max_size``; the reference's is resampled onto
   the same grid assuming both show the same frame
   (:func:`core.align.geometry.resize_matrix`). Every stage estimates what is
   left; only the final resampling runs at full resolution.
1. Representation of both (:mod:`core.align.represent`): texture check,
   sharpness and tone matching, local normalisation.
2. ``phase``: optional scale and rotation search (log-polar), then the
   translation by phase correlation (:mod:`core.align.phase`).
3. ``ecc``: ECC on a Gaussian pyramid, coarse to fine, with the ``motion``
   model (:mod:`core.align.ecc`), without the damage the start shows on
   the coarsest level; then, twice, through the fit so far the residual
   shows the damage (what no small displacement explains:
   :mod:`core.align.robust`), the representations are made again with
   statistics free of it, and ECC refits the finest level with it masked
   out; a richer motion than a translation is kept only when it beats one
   on held-out pixels (:mod:`core.align.heldout`) or is plainly large;
   plausibility checks on the transform.
4. ``flow``: the reference's representation seen through the global
   transform (made again from the full reference when the scales differ);
   DIS optical flow both ways starts a smooth B-spline field, refined by
   Gauss-Newton with damage left out (:mod:`core.align.flow`,
   :mod:`core.align.spline`). The field is kept only if, fitted on half the
   frame, it beats the global transform alone on the other half by more
   than noise can (:mod:`core.align.heldout`); else the flow is zero.
5. The reference's pixels are resampled once, through the composed map,
   onto the source grid; the validity mask, residual and statistics follow.
   The mask says where the geometry holds (inside the reference, optionally
   a residual threshold): damage in the source is valid — it is what a
   restoration model learns from.

Failure is a value: a result with ``converged=False`` and a ``reason``
(too little texture, no phase peak, ECC not converging or too weakly
correlated, an implausible transform, too few valid pixels). Its mask is
all zero; its transform and warped reference are the last estimate.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from core.align import ecc as _ecc
from core.align import flow as _flow
from core.align import geometry, heldout, phase, robust
from core.align import represent as rep
from core.align import spline as _spline
from core.align.params import ALIGN_PARAMS, METHODS
from core.errors import ColorSpaceError, ImageError
from core.frame import Frame, as_hwc_float32, check_finite

#: Colour space of the images (a :class:`~core.frame.Frame` in any other space is refused).
WORKING_COLORSPACE = "ACEScg"
#: Smallest image side :func:`align` accepts (px).
MIN_SIZE = 32
#: Coarsest pyramid level is about this wide (px) when ``pyramid_levels`` is 0.
COARSEST_SIZE = 64
#: Fraction of the source's smaller side masked out of ECC at each border (content there rarely matches).
ECC_BORDER = 0.03
#: Misalignment (coarsest-level px) the phase start may leave without its residual counting as damage.
START_SLACK_PX = 1.0
#: A richer global motion that moves some pixel this far (working px) from the translation is kept without the
#: held-out test (noise and leftover damage moved them by at most 0.3 px at the coarse levels, 0.1 px at the finest).
OBVIOUS_MOTION_PX = 1.0
#: Rounds of finding the damage through the fit so far and fitting the finest ECC level without it.
DAMAGE_ROUNDS = 2
#: A global transform within this of scale 1 lets the local stage see the reference's representation through it;
#: beyond, the reference is resampled from full size first (:meth:`_Aligner._rerender`).
SAME_SCALE = 0.05
#: The local stage decides whether to keep a field one pyramid level down when the working grid's smaller side
#: is at least twice this (px).
MIN_FLOW_SIZE = 96


@dataclasses.dataclass(frozen=True)
class AlignResult:
    """The reference aligned to one source frame, with how well it worked.

    Coordinates: ``x`` right, ``y`` down, pixel centres at integers
    (:mod:`core.align.geometry`). The alignment maps each **source** pixel
    ``p`` to the **reference** point ``transform(p + flow(p))``
    (:meth:`coords`), and ``warped(p) = reference(coords(p))``.

    Attributes
    ----------
    warped:
        The reference resampled onto the source's grid: ``float32`` ``HWC``,
        the source's height and width, the reference's channels (3 or 4; 1
        for Y), scene-linear ACEScg like the reference, unbounded (cubic and
        Lanczos interpolation overshoot slightly at edges); 0 where the
        source pixel maps outside the reference.
    mask:
        Validity, ``float32`` ``HW1``, 1 = the geometry holds, 0 = outside
        the reference (or within ``border_px`` of its edge), residual above
        ``residual_threshold`` when set; all 0 when the alignment failed.
        Damage in one image only (dust, a patch, a dropout) stays valid:
        the reference there is still the right picture.
    residual:
        ``float32`` ``HW1`` >= 0: ``|z_source - z_reference|`` after
        alignment, in units of the robust representation
        (:mod:`core.align.represent`: about local standard deviations of
        luminance); 0 outside the reference.
    transform:
        ``3x3`` ``float64`` homogeneous matrix mapping source pixel
        coordinates to reference pixel coordinates (includes the resolution
        ratio when the two sizes differ). Use
        ``cv2.warpPerspective(reference, transform, (W, H), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP)``
        to apply it alone; ``np.linalg.inv(transform)`` maps the other way.
    flow:
        Local displacement ``float32`` ``HW2`` ``(dx, dy)`` in source pixels,
        applied before ``transform``; ``None`` when the method has no flow stage.
    converged, reason:
        ``True`` and ``""``, or ``False`` and one line saying why not.
    method, motion:
        The method run and the global motion model fitted (``"translation"``
        for ``method="phase"``, ``"similarity"`` with ``scale_search``,
        ``"none"`` for ``method="flow"``: the transform is the resolution
        ratio alone).
    flow_mean, flow_max:
        Mean / maximum flow magnitude (source px) over valid pixels (0 without flow).
    residual_before, residual_after:
        Mean ``|z_source - z_reference|`` over the valid pixels with the
        same-framing start only, and after alignment.
    correlation:
        Correlation coefficient of the aligned representations over valid pixels.
    valid_fraction:
        Fraction of source pixels that are valid.
    stages:
        Per-stage diagnostics (JSON-friendly): phase shift and PSR, scale
        search, ECC levels and correlation, flow statistics.
    timings:
        Seconds per stage.
    """

    warped: np.ndarray
    mask: np.ndarray
    residual: np.ndarray
    transform: np.ndarray
    flow: np.ndarray | None
    converged: bool
    reason: str
    method: str
    motion: str
    flow_mean: float
    flow_max: float
    residual_before: float
    residual_after: float
    correlation: float
    valid_fraction: float
    stages: dict[str, Any]
    timings: dict[str, float]

    @property
    def source_size(self) -> tuple[int, int]:
        """``(width, height)`` of the source (and of every output image)."""
        return int(self.warped.shape[1]), int(self.warped.shape[0])

    def coords(self) -> np.ndarray:
        """Reference pixel coordinates of every source pixel: ``float32`` ``HW2`` ``(X, Y)``."""
        h, w = self.warped.shape[:2]
        return geometry.coordinate_map(self.transform, (h, w), self.flow)

    def record(self) -> dict[str, Any]:
        """A JSON-friendly summary (manifest and report row): no images."""
        return {
            "converged": self.converged,
            "reason": self.reason,
            "method": self.method,
            "motion": self.motion,
            "transform": [[float(v) for v in row] for row in self.transform],
            "valid_fraction": round(self.valid_fraction, 6),
            "residual_before": round(self.residual_before, 6),
            "residual_after": round(self.residual_after, 6),
            "correlation": round(self.correlation, 6),
            "flow_mean": round(self.flow_mean, 6),
            "flow_max": round(self.flow_max, 6),
            "stages": self.stages,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }


def _unpack(image: Frame | np.ndarray, name: str) -> np.ndarray:
    if isinstance(image, Frame):
        if image.colorspace != WORKING_COLORSPACE:
            raise ColorSpaceError(f"{name} {image.describe()}: align works on {WORKING_COLORSPACE}, got "
                                  f"{image.colorspace!r}; convert it first (core.color.convert_frame)")
        px, label = image.pixels, f"{name} {image.describe()}"
    else:
        px, label = image, name
    px = as_hwc_float32(px, name=label)
    check_finite(px, name=label)
    if min(px.shape[:2]) < MIN_SIZE:
        raise ImageError(f"{label}: {px.shape[1]}x{px.shape[0]} is too small to align (at least {MIN_SIZE} px a side)")
    return px


def _levels_for(hw: tuple[int, int], requested: int) -> int:
    auto = max(1, int(math.floor(math.log2(max(1.0, min(hw) / (COARSEST_SIZE / 2))))))
    return auto if requested == 0 else min(requested, auto + 1)


def _work_level(hw: tuple[int, int], max_size: int) -> int:
    level = 0
    while max(hw) / 2**level > max_size and min(hw) / 2 ** (level + 1) >= MIN_SIZE:
        level += 1
    return level


def _warp_rep(z: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The representation ``z`` resampled through ``t`` on its own grid (bilinear, 0 outside)."""
    return geometry.remap(z, geometry.coordinate_map(t, z.shape), interpolation="linear")


def _border_masks(hw: tuple[int, int], levels: int) -> list[np.ndarray]:
    """``uint8`` masks per pyramid level of ``hw``: 1 away from a border of :data:`ECC_BORDER` of the smaller side."""
    margin = max(2, int(round(ECC_BORDER * min(hw))))
    out = []
    for level in range(levels):
        h, w = -(-hw[0] // 2**level), -(-hw[1] // 2**level)
        m = max(1, int(round(margin / 2**level)))
        mask = np.zeros((h, w), np.uint8)
        mask[m:h - m, m:w - m] = 1
        out.append(mask)
    return out


def _plausibility(t: np.ndarray, hw: tuple[int, int], v: Mapping[str, Any]) -> str:
    """Empty if the relative transform (same grid) is within the bounds, else why not."""
    d = geometry.decompose(t[:2, :2])
    if d["flip"]:
        return "implausible transform: it mirrors the image"
    smax = v["max_scale_change"]
    if not 1.0 / smax <= d["scale"] <= smax:
        return f"implausible transform: scale {d['scale']:.4f} is outside 1/{smax:g}..{smax:g} (max_scale_change)"
    if d["anisotropy"] - 1.0 > v["max_shear"] or d["shear"] > v["max_shear"]:
        return (f"implausible transform: anisotropy {d['anisotropy']:.4f} / shear {d['shear']:.4f} beyond "
                f"max_shear {v['max_shear']:g}")
    if abs(d["rotation_deg"]) > v["max_rotation_deg"]:
        return (f"implausible transform: rotation {d['rotation_deg']:.3f} deg beyond max_rotation_deg "
                f"{v['max_rotation_deg']:g}")
    p = geometry.perspective_strength(t, hw)
    if p > v["max_perspective"]:
        return f"implausible transform: perspective {p:.4f} beyond max_perspective {v['max_perspective']:g}"
    return ""


def _correlation(a: np.ndarray, b: np.ndarray, valid: np.ndarray) -> float:
    if np.count_nonzero(valid) < 16:
        return 0.0
    x = a[valid].astype(np.float64)
    y = b[valid].astype(np.float64)
    x -= x.mean()
    y -= y.mean()
    den = math.sqrt(float(x @ x) * float(y @ y))
    return float(x @ y) / den if den > 0 else 0.0


def resolve(params: Mapping[str, Any] | None = None, **options: Any) -> dict[str, Any]:
    """Validated alignment parameters: defaults, then ``params``, then ``options`` (``None`` values skipped)."""
    merged = dict(params or {})
    merged.update({k: v for k, v in options.items() if v is not None})
    return ALIGN_PARAMS.resolve(merged)


def align(source: Frame | np.ndarray, reference: Frame | np.ndarray, *, method: str | None = None,
          motion: str | None = None, params: Mapping[str, Any] | None = None, **options: Any) -> AlignResult:
    """Align ``reference`` to ``source``: the reference resampled onto the source's pixel grid.

    Parameters
    ----------
    source:
        The degraded scan: ``float32`` (other float/int dtypes are converted
        without rescaling) ``HWC`` scene-linear ACEScg, C = 1, 3 or 4 (alpha
        is ignored for matching), values >= 0 expected; or a
        :class:`~core.frame.Frame` in ACEScg. It sets the output grid.
    reference:
        The other transfer (DVD, telecine, another print), same layout and
        channel count, any resolution; may differ in colour, noise, softness
        and framing.
    method, motion:
        A name from :data:`~core.align.params.METHODS` and a motion model
        (``"translation"``, ``"euclidean"``, ``"affine"``, ``"homography"``);
        shorthands for the same keys of ``params``.
    params, options:
        Values over :data:`~core.align.params.ALIGN_PARAMS` (``options`` win).

    Returns an :class:`AlignResult`; a failed alignment is a result with
    ``converged=False`` and a ``reason``, never an exception. Raises
    :class:`~core.errors.ImageError` for NaN/Inf, bad shapes, images under
    32 px or different channel counts, :class:`~core.errors.ColorSpaceError`
    for a Frame not in ACEScg and :class:`~core.errors.ParameterError` for
    unknown or out-of-range parameters.
    """
    v = resolve(params, method=method, motion=motion, **options)
    src = _unpack(source, "source")
    ref = _unpack(reference, "reference")
    if src.shape[2] != ref.shape[2]:
        raise ImageError(f"source has {src.shape[2]} channel(s), reference {ref.shape[2]}: "
                         "align needs the same layout (Y, RGB or RGBA) on both")
    with _one_blas_thread():
        return _Aligner(src, ref, v).run()


def _one_blas_thread():
    """A context in which NumPy's BLAS runs on one thread.

    The linear algebra of one frame is small (matrices of a few hundred
    rows, a few hundred thousand pixels): a BLAS thread pool gains nothing
    on it, and on busy cores every call waits for a second core to be free
    (a 720x528 frame took 3.2 s against 0.51 s on one thread, 2 cores at
    load 4). Parallelism belongs to frames (:mod:`core.jobs`), not to these calls.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


class _Aligner:
    """One alignment: the state the stages share.

    The stages run on a working copy of both images: the source's luminance
    reduced by ``cv2.pyrDown`` (level ``work_level``: coordinates
    ``source / 2**work_level``) until its longer side is at most
    ``max_size``, and the reference's resampled onto that grid for the same
    framing. ``self.t`` maps working-grid source coordinates to working-grid
    reference coordinates; :meth:`finish` carries it and the local field to
    full resolution. Once the reference's representation has been made again
    through a transform ``R`` (:meth:`_rerender`, ``self.rendered``), what is
    left to apply to it is ``R^-1 t`` (:meth:`_rel`).
    """

    def __init__(self, src: np.ndarray, ref: np.ndarray, v: dict[str, Any]):
        self.src, self.ref, self.v = src, ref, v
        self.hw = src.shape[:2]
        self.ref_hw = ref.shape[:2]
        self.method = METHODS[v["method"]]
        self.level = _work_level(self.hw, v["max_size"])
        self.scale = 2.0**self.level
        # working grid -> full-resolution source / reference coordinates
        self.work_to_src = np.linalg.inv(geometry.level_matrix(self.level))
        self.work_to_ref = geometry.resize_matrix(self.hw, self.ref_hw) @ self.work_to_src
        self.t = np.eye(3)
        self.field: np.ndarray | None = None  # local field on the working grid (working px)
        self.z_src = self.z_ref = None
        self.overlap: np.ndarray | None = None  # working pixels inside the reference after _rerender
        self.rendered: np.ndarray | None = None  # the transform z_ref was last made through (_rerender)
        self.damage: np.ndarray | None = None  # working pixels the global fit calls damage (_ecc_without_damage)
        self.stages: dict[str, Any] = {"work_level": self.level}
        self.timings: dict[str, float] = {}
        stages = self.method.stages
        self.motion = v["motion"] if "ecc" in stages else ("translation" if "phase" in stages else "none")
        self._clock = time.perf_counter()

    def _tick(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = self.timings.get(name, 0.0) + now - self._clock
        self._clock = now

    # -- stages -------------------------------------------------------------------------------
    def represent(self) -> str:
        import cv2

        v = self.v
        y_ref = y_ref_full = rep.luminance(self.ref)
        if self.ref_hw != self.hw:
            shrink = self.ref_hw[0] > self.hw[0] or self.ref_hw[1] > self.hw[1]
            y_ref = cv2.resize(y_ref, (self.hw[1], self.hw[0]),
                               interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
            y_ref = np.maximum(y_ref, 0.0)
        y_src = rep.luminance(self.src)
        for _ in range(self.level):
            y_src, y_ref = cv2.pyrDown(y_src), cv2.pyrDown(y_ref)
        self.work_hw = y_src.shape
        y_src, y_ref = rep.relative(y_src), rep.relative(y_ref)
        # texture of each image on its own (before either is matched to the other), at about 256 px
        tex_src, tex_ref = rep.texture(y_src), rep.texture(y_ref)
        self.stages["texture"] = {"source": round(tex_src, 4), "reference": round(tex_ref, 4)}
        for name, tex in (("source", tex_src), ("reference", tex_ref)):
            if tex < v["min_texture"]:
                self._tick("represent")
                return (f"too little texture in the {name}: {100 * tex:.1f}% of pixels have detail, "
                        f"min_texture is {100 * v['min_texture']:g}%")
        self.y_src, self.y_ref, self.y_ref_full = y_src, y_ref, y_ref_full
        self.z_src, self.z_ref = self._normalize(*self._match(y_src, y_ref, "sharpness"))
        self.before = np.abs(self.z_src - self.z_ref)  # residual of the same-framing start
        self.levels = _levels_for(self.work_hw, v["pyramid_levels"])
        self.pyr_src = rep.pyramid(self.z_src, self.levels)
        self.pyr_ref = rep.pyramid(self.z_ref, self.levels)
        self._tick("represent")
        return ""

    def _match(self, y_src: np.ndarray, y_ref: np.ndarray, key: str, *, keep: np.ndarray | None = None,
               keep_ref: np.ndarray | None = None, probe: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Sharpness and tone match of two relative luminances: ``(y_src, y_ref)`` matched.

        Without ``keep`` the statistics are those of the whole images (no
        correspondence needed). Once a global fit makes the pictures
        correspond and shows the damage, ``keep`` / ``keep_ref`` (``bool``
        ``HW`` of each image's grid) are the pixels whose statistics count
        (the tone curve is fitted on them), and ``probe`` (the source with
        the reference's pixels in place of its damage) stands for the source
        in the spectra (a solid patch is a softer picture, a dropout line a
        sharper one).
        """
        v = self.v
        if v["sharpness_match"]:
            blur = rep.relative_blur(y_src if probe is None else probe, y_ref)
            self.stages[key] = {"source_softer_by_px": round(blur * self.scale, 3)}
            if blur > rep.BLUR_MIN:
                y_ref = rep.gaussian(y_ref, blur)
            elif blur < -rep.BLUR_MIN:
                y_src = rep.gaussian(y_src, -blur)
        if v["tone_match"]:
            y_src = rep.tone_match(y_src, y_ref, mask=keep, target_mask=keep_ref)
        return y_src, y_ref

    def _normalize(self, y_src: np.ndarray, y_ref: np.ndarray, keep: np.ndarray | None = None,
                   keep_ref: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The representations ``(z_src, z_ref)`` of two matched luminances; with ``keep`` / ``keep_ref``, local
        statistics over those pixels only (damage does not shift its neighbours' representation)."""
        kw = {"presmooth": self.v["presmooth"], "normalize_sigma": self.v["normalize_sigma"]}
        return (rep.normalize(y_src, weight=None if keep is None else keep.astype(np.float32), **kw)[0],
                rep.normalize(y_ref, weight=None if keep_ref is None else keep_ref.astype(np.float32), **kw)[0])

    def _overlap(self, m: np.ndarray, coords: np.ndarray) -> np.ndarray:
        """Working pixels whose reference point (``coords``, through ``m``) the reference's representation serves.

        Inside the reference; and where the reference ends well inside the
        source's frame (by more than half a normalisation size), not within
        two normalisation sizes of that edge (that representation has seen
        mirrored content).
        """
        inside = geometry.inside(coords, self.ref_hw)
        scale = geometry.decompose(m[:2, :2])["scale"]
        rh, rw = self.ref_hw
        d_ref = np.minimum(np.minimum(coords[..., 0], rw - 1 - coords[..., 0]),
                           np.minimum(coords[..., 1], rh - 1 - coords[..., 1])) / np.float32(scale)
        h, w = self.work_hw
        xs, ys = np.arange(w, dtype=np.float32)[None, :], np.arange(h, dtype=np.float32)[:, None]
        d_src = np.minimum(np.minimum(xs, w - 1 - xs), np.minimum(ys, h - 1 - ys))
        sigma = self.v["normalize_sigma"]
        return inside & ~((d_ref < 2.0 * sigma) & (d_src - d_ref > 0.5 * sigma))

    def _rerender(self) -> None:
        """The representations again, the reference resampled from full size through the global transform.

        For a reference at another scale (a zoomed transfer): it is
        low-passed where it has more pixels than the working grid and
        resampled once, so that both representations see the picture at
        the same scale. Sharpness and tone are matched where the pictures
        now correspond, without the damage.
        """
        m = self.work_to_ref @ self.t
        coords = geometry.coordinate_map(m, self.work_hw)
        y = self.y_ref_full
        s_full = geometry.decompose(m[:2, :2])["scale"]
        if s_full > 1.0:
            y = rep.gaussian(y, 0.5 * math.sqrt(s_full * s_full - 1.0))
        # mirrored outside the reference, so that normalisation sees no artificial edge; those pixels are not used
        y = rep.relative(np.maximum(geometry.remap(y, coords, interpolation="cubic", border="reflect"), 0.0))
        self.overlap = self._overlap(m, coords)
        self.rendered = self.t.copy()
        keep = self.overlap if self.damage is None else self.overlap & ~self.damage
        probe = None if self.damage is None else np.where(self.damage, y, self.y_src)
        self.z_src, self.z_ref = self._normalize(*self._match(self.y_src, y, "sharpness_aligned", keep=keep,
                                                              keep_ref=keep, probe=probe))

    def _rel(self) -> np.ndarray:
        """What is left to apply to ``z_ref``: ``t``, or ``R^-1 t`` once it was made through ``R``."""
        return self.t if self.rendered is None else geometry.normalize(np.linalg.inv(self.rendered) @ self.t)

    def stage_phase(self) -> str:
        v = self.v
        fixed = self.z_src
        info: dict[str, Any] = {}
        if v["scale_search"] == "logpolar":
            scale, angle, psr = phase.scale_rotation(fixed, self.z_ref)
            h, w = self.work_hw
            self.t = geometry.similarity_about(((w - 1) / 2.0, (h - 1) / 2.0), scale, angle)
            self.motion = "similarity" if "ecc" not in self.method.stages else self.motion
            info["scale_search"] = {"scale": round(scale, 6), "rotation_deg": round(angle, 4), "psr": round(psr, 2)}
            self._tick("scale_search")
            bad = _plausibility(self.t, self.work_hw, v)
            if bad:
                self.stages["phase"] = info
                return f"scale search: {bad}"
        moving = self.z_ref if np.allclose(self.t, np.eye(3)) else _warp_rep(self.z_ref, self.t)
        res = phase.phase_correlate(fixed, moving, max_shift=v["max_shift"] * max(fixed.shape))
        self.t = geometry.normalize(self.t @ geometry.translation(*res.shift))
        info.update({"shift_px": [round(res.shift[0] * self.scale, 4), round(res.shift[1] * self.scale, 4)],
                     "psr": round(res.psr, 2)})
        self.stages["phase"] = info
        self._tick("phase")
        if res.psr < v["phase_min_psr"]:
            return (f"phase correlation found no clear peak (PSR {res.psr:.1f} < phase_min_psr "
                    f"{v['phase_min_psr']:g}): unrelated content or too little shared texture")
        return ""

    def stage_ecc(self) -> str:
        v = self.v
        masks = _border_masks(self.work_hw, self.levels)
        # the finest level is fitted once, by the refit without damage
        finest = 1 if self.levels > 1 else 0

        def run(start: np.ndarray, level: int = finest, fixed: list[np.ndarray] = masks) -> _ecc.EccResult:
            return _ecc.ecc_pyramid(self.pyr_src, self.pyr_ref, start, motion=v["motion"], finest_level=level,
                                    iterations=v["ecc_iterations"], eps=v["ecc_eps"], fixed_masks=fixed)

        res = run(self.t, finest, self._without_start_damage(masks))
        if (res.reason or res.correlation < v["min_correlation"]) and not np.allclose(self.t, np.eye(3)):
            # the phase peak may be a wrong one (repeated structure, a scratch): try the same-framing start
            retry = run(np.eye(3))
            if not retry.reason and (res.reason or retry.correlation > res.correlation):
                res = retry
        if not res.reason:
            refit = self._ecc_without_damage(res, masks[0], v)
            if refit.reason and finest:  # the refit failed: the finest level as it is
                refit = run(res.transform, 0)
            res = refit if not refit.reason else res
        self.stages["ecc"] = {"correlation": round(res.correlation, 6), "levels": res.levels}
        self._tick("ecc")
        if res.reason:
            return res.reason
        self.t = res.transform
        if not res.correlation >= v["min_correlation"]:
            return (f"ECC correlation {res.correlation:.3f} is below min_correlation {v['min_correlation']:g}: "
                    "unrelated content or too different")
        return ""

    def _without_start_damage(self, masks: list[np.ndarray]) -> list[np.ndarray]:
        """The ECC masks per pyramid level, less the damage the start (``self.t``) shows on the coarsest level.

        A band of picture torn sideways, or a large patch, pulls the coarse
        levels into a shear or a scale that the finest level cannot undo.
        On the coarsest level the start is within a pixel or so; what it
        leaves beyond :data:`START_SLACK_PX` of misalignment is damage. When
        that is most of the picture the start is wrong, not the picture:
        the masks stay as they were.
        """
        import cv2

        top = self.levels - 1
        fixed, moving = self.pyr_src[top], self.pyr_ref[top]
        coords = geometry.coordinate_map(geometry.to_level(self.t, top), fixed.shape)
        use = masks[top].astype(bool) & geometry.inside(coords, moving.shape)
        seen = geometry.remap(moving, coords, interpolation="linear")
        e = fixed - seen
        hit = robust.damage(e, robust.sigma(e, use), slack=robust.misalignment_slack(seen, START_SLACK_PX),
                            grow=1) & use
        if np.count_nonzero(hit) > 0.5 * np.count_nonzero(use):
            return masks
        out = []
        for level, m in enumerate(masks):
            h, w = m.shape
            hit_l = cv2.resize(hit.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) if level != top else hit
            out.append((m.astype(bool) & ~hit_l.astype(bool)).astype(np.uint8))
        self.stages["start_damage"] = round(float(np.count_nonzero(hit)) / hit.size, 6)
        return out

    def _ecc_without_damage(self, res: _ecc.EccResult, border: np.ndarray, v: Mapping[str, Any]) -> _ecc.EccResult:
        """ECC on the finest level, leaving out the damage the fit so far shows (:mod:`core.align.robust`).

        ECC weighs every pixel alike, and damage also bends the tone curve,
        the sharpness measure and the local normalisation of the
        representation: a solid patch or a line dropout moved the transform
        by a tenth of a pixel. Through the coarser fit the pictures
        correspond, so the residual shows the damage (beyond what half a
        pixel of misalignment explains); the representations are made again
        with statistics free of it, and ECC refits the finest level with it
        masked out, :data:`DAMAGE_ROUNDS` times. Both images stay on their
        own grids (a reference resampled through the first fit and refined
        again would carry the resampling's bias into the result). Then
        :meth:`_simplest_motion`. A failed refit is returned as it is
        (``reason``).
        """
        hw = self.work_hw
        t = res.transform
        levels = list(res.levels)
        # each round sees the damage through a better fit; at another scale the two representations also differ by
        # their normalisation's scale, which a second round would chase
        same_scale = abs(geometry.decompose(t[:2, :2])["scale"] - 1.0) < SAME_SCALE
        for _ in range(DAMAGE_ROUNDS if same_scale else 1):
            coords = geometry.coordinate_map(t, hw)
            use = border.astype(bool) & geometry.inside(coords, hw)
            z_seen = geometry.remap(self.z_ref, coords, interpolation="linear")
            e = self.z_src - z_seen
            hit = robust.damage(e, robust.sigma(e, use), slack=robust.misalignment_slack(z_seen)) & use
            keep = use & ~hit
            # the same pixels on the reference's grid
            back = geometry.coordinate_map(np.linalg.inv(t), hw)
            keep_ref = geometry.remap(keep.astype(np.float32), back, interpolation="linear") > 0.5
            probe = np.where(hit, geometry.remap(self.y_ref, coords, interpolation="linear"), self.y_src)
            y_src, y_ref = self._match(self.y_src, self.y_ref, "sharpness_without_damage", keep=keep,
                                       keep_ref=keep_ref, probe=probe)
            z_src, z_ref = self._normalize(y_src, y_ref, keep, keep_ref)
            again = _ecc.ecc_pyramid([z_src], [z_ref], t, motion=v["motion"], iterations=v["ecc_iterations"],
                                     eps=v["ecc_eps"], fixed_masks=[keep.astype(np.uint8)])
            if again.reason:
                return again
            t = again.transform
            levels.append({**again.levels[-1], "damage_masked": round(float(np.count_nonzero(hit)) / hit.size, 6)})
            # the next round's residual, and the local stage's representations: normalised over every pixel
            # (under a local warp the global fit's "damage" is also the misaligned edges the field must see)
            self.z_src, self.z_ref = self._normalize(y_src, y_ref)
        self.damage = hit
        if v["motion"] != "translation":
            again = self._simplest_motion(again, z_src, z_ref, keep, v)
        return dataclasses.replace(again, levels=levels)

    def _simplest_motion(self, res: _ecc.EccResult, z_src: np.ndarray, z_ref: np.ndarray, keep: np.ndarray,
                         v: Mapping[str, Any]) -> _ecc.EccResult:
        """``res``, or a translation when the ``motion`` model does not beat one on held-out pixels.

        The scale, shear and turn of an affine fit are also fitted to noise
        and to the damage left over: on a damaged copy of a flat picture
        they moved its corners by 0.08 px where nothing moved. A fit that
        moves some pixel more than :data:`OBVIOUS_MOTION_PX` from its own
        translation stands (noise does not do that, and an affine left to a
        local warp's residual loses the test's power, not its truth).
        Otherwise both models are fitted on half the blocks of the finest
        level (:func:`core.align.heldout.split`); the richer one is kept
        when it beats the translation on the other half by more than noise
        can (:func:`core.align.heldout.judge`: a turn of 0.05 degree or a
        scale of 1.001 on a 448 px photo passes, t 6.5-7; a pyramid level
        down they did not), else the translation is fitted on every pixel.
        ``z_src``, ``z_ref``: the representations ECC fitted, ``keep`` the
        pixels it used.
        """
        hw = self.work_hw
        h, w = hw
        cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
        centre = geometry.apply(res.transform, np.array([cx]), np.array([cy]))
        start = geometry.translation(float(centre[0][0]) - cx, float(centre[1][0]) - cy)
        apart = float(np.abs(geometry.coordinate_map(res.transform, hw) - geometry.coordinate_map(start, hw)).max())
        record = {"against": "translation", "apart_px": round(apart * self.scale, 4)}
        if apart > OBVIOUS_MOTION_PX:
            self.stages["motion_test"] = {**record, "kept": True}
            return res

        def ecc(motion: str, t: np.ndarray, mask: np.ndarray) -> _ecc.EccResult:
            return _ecc.ecc_pyramid([z_src], [z_ref], t, motion=motion, iterations=v["ecc_iterations"],
                                    eps=v["ecc_eps"], fixed_masks=[mask.astype(np.uint8)])

        fit, labels = heldout.split(hw, max(4, int(max(hw) / v["flow_grid"] / 2)))
        rich, simple = ecc(v["motion"], res.transform, keep & fit), ecc("translation", start, keep & fit)
        if rich.reason or simple.reason:
            return res
        field = (geometry.coordinate_map(np.linalg.inv(simple.transform) @ rich.transform, hw)
                 - geometry.coordinate_map(np.eye(3), hw))
        verdict = heldout.judge(z_src, z_ref, field, transform=simple.transform, held_out=keep & ~fit, labels=labels,
                                min_gain=0.0)
        self.stages["motion_test"] = {**record, **verdict.record()}
        if verdict.kept:
            return res
        one = ecc("translation", simple.transform, keep)
        if one.reason:
            return res
        self.motion = "translation"
        return one

    def check_transform(self) -> str:
        return _plausibility(self.t, self.work_hw, self.v)

    def stage_flow(self) -> str:
        import cv2

        v = self.v
        hw = self.work_hw
        m = self.work_to_ref @ self.t
        if abs(geometry.decompose(self.t[:2, :2])["scale"] - 1.0) < SAME_SCALE:
            # the reference's representation on its own grid, seen through the global transform
            self.overlap = self._overlap(m, geometry.coordinate_map(m, hw))
        else:
            self._rerender()
        base = self._rel()
        inner = _border_masks(hw, 1)[0].astype(bool) & self.overlap
        # the question (is there a local field at all?) is asked a pyramid level down, where it costs a quarter
        level = 1 if min(hw) >= 2 * MIN_FLOW_SIZE else 0
        fixed, moving, inner_l, base_l = self.z_src, self.z_ref, inner, base
        for _ in range(level):
            fixed, moving = cv2.pyrDown(fixed), cv2.pyrDown(moving)
            inner_l = cv2.resize(inner_l.astype(np.uint8), fixed.shape[::-1], interpolation=cv2.INTER_NEAREST) > 0
            base_l = geometry.to_level(base_l, 1)
        hw_l = fixed.shape
        f8 = rep.to_u8(fixed)
        m8 = rep.to_u8(geometry.remap(moving, geometry.coordinate_map(base_l, hw_l), interpolation="linear"))
        fwd = _flow.dis_flow(f8, m8, preset=v["flow_preset"])
        bwd = _flow.dis_flow(m8, f8, preset=v["flow_preset"])
        consistent = _flow.fb_error(fwd, bwd) <= v["fb_threshold"] / (self.scale * 2**level)
        self._tick("flow")
        spacing = max(hw) / v["flow_grid"]
        model = _spline.SplineField(hw_l, spacing / 2**level)
        lam = (v["flow_smooth"] / spacing) ** 4
        # model selection by held-out pixels: fit on half the frame (a checkerboard of half-cells), judge the fit
        # on the other half against the global transform alone; a field that only fits noise does not carry over
        half, labels = heldout.split(hw_l, max(4, int(model.spacing / 2)))
        coef = model.fit(fwd, consistent & inner_l & half, lam=lam)
        coef, info = _spline.refine(fixed, moving, model, coef, lam=lam, iterations=v["flow_iterations"],
                                    mask=inner_l & half, transform=base_l)
        verdict = heldout.judge(fixed, moving, model.field(coef), transform=base_l, held_out=inner_l & ~half,
                                labels=labels, min_gain=v["flow_min_gain"])
        self.field = np.zeros(hw + (2,), np.float32)
        if verdict.kept:  # then on every pixel of the working grid, from the half fit
            full = _spline.SplineField(hw, spacing)
            start = model.field(coef, hw, 2.0**level) if level else model.field(coef)
            coef = full.fit(start, np.ones(hw, np.float32), lam=lam) if level else coef
            coef, more = _spline.refine(self.z_src, self.z_ref, full, coef, lam=lam, iterations=v["flow_iterations"],
                                        mask=inner, transform=base)
            info = {"iterations": info["iterations"] + more["iterations"], "last_step": more["last_step"]}
            self.field = full.field(coef)
        self.stages["flow"] = {"preset": v["flow_preset"], "grid": [model.nx, model.ny], "level": level,
                               "fb_consistent": round(float(np.count_nonzero(consistent)) / consistent.size, 6),
                               "iterations": info["iterations"],
                               "last_step_px": round(info["last_step"] * self.scale, 5), **verdict.record()}
        self._tick("local_field")
        return ""

    # -- result -------------------------------------------------------------------------------
    def run(self) -> AlignResult:
        reason = self.represent()
        stage_fns = {"phase": self.stage_phase, "ecc": self.stage_ecc, "flow": self.stage_flow}
        if not reason:
            for stage in self.method.stages:
                if stage == "flow":
                    reason = self.check_transform()
                    if reason:
                        break
                reason = stage_fns[stage]()
                if reason:
                    break
            if not reason and "flow" not in self.method.stages:
                reason = self.check_transform()
        return self.finish(reason)

    def _full(self, field: np.ndarray) -> np.ndarray:
        """A working-grid field (``HW`` or ``HW2``) resampled to the source size (values unchanged)."""
        return field if self.level == 0 else _flow.upsample(field, self.level, self.hw)

    def finish(self, reason: str) -> AlignResult:
        v = self.v
        hw = self.hw
        to_ref = self.work_to_ref @ self.t
        transform = geometry.normalize(to_ref @ np.linalg.inv(self.work_to_src))
        flow = None
        if "flow" in self.method.stages:
            flow = (np.zeros(hw + (2,), np.float32) if self.field is None
                    else self._full(self.field) * np.float32(self.scale))
        coords = geometry.coordinate_map(transform, hw, flow)
        warped = geometry.remap(self.ref, coords, interpolation=v["interpolation"])
        valid = geometry.inside(coords, self.ref_hw, border=v["border_px"])
        residual = np.zeros(hw, np.float32)
        before = after = corr = 0.0
        if self.z_src is not None:
            # residual on the working grid, then brought to full size
            rel = geometry.coordinate_map(self._rel(), self.work_hw, self.field)
            z_warped = geometry.remap(self.z_ref, rel, interpolation="linear")
            res_w = np.abs(self.z_src - z_warped)
            residual = self._full(res_w)
            residual[~valid] = 0.0
            if v["residual_threshold"] > 0:
                valid &= residual <= v["residual_threshold"]
            # statistics on the working grid, over the pixels valid there
            valid_w = valid if self.level == 0 else self._valid_on_work(valid)
            if np.count_nonzero(valid_w):
                before = float(self.before[valid_w].mean(dtype=np.float64))
                after = float(res_w[valid_w].mean(dtype=np.float64))
                corr = _correlation(self.z_src, z_warped, valid_w)
        n_valid = int(np.count_nonzero(valid))
        valid_fraction = n_valid / valid.size
        flow_mean = flow_max = 0.0
        if flow is not None and n_valid:
            mag = np.hypot(flow[..., 0], flow[..., 1])[valid]
            flow_mean, flow_max = float(mag.mean(dtype=np.float64)), float(mag.max())
        self.stages["validity"] = {"valid_fraction": round(valid_fraction, 6)}
        if not reason and valid_fraction < v["min_valid_fraction"]:
            reason = (f"only {100 * valid_fraction:.1f}% of pixels are valid (min_valid_fraction "
                      f"{100 * v['min_valid_fraction']:g}%)")
        if not reason and corr < v["min_correlation"]:
            reason = (f"aligned correlation {corr:.3f} is below min_correlation {v['min_correlation']:g}: "
                      "unrelated content or too different")
        self._tick("finish")
        converged = not reason
        mask = valid.astype(np.float32)[..., None] if converged else np.zeros(hw + (1,), np.float32)
        return AlignResult(
            warped=warped if warped.ndim == 3 else warped[..., None], mask=mask,
            residual=residual.astype(np.float32, copy=False)[..., None], transform=transform, flow=flow,
            converged=converged, reason=reason, method=self.method.name, motion=self.motion,
            flow_mean=flow_mean, flow_max=flow_max, residual_before=before, residual_after=after,
            correlation=corr, valid_fraction=valid_fraction if converged else 0.0, stages=self.stages,
            timings=dict(self.timings))

    def _valid_on_work(self, valid: np.ndarray) -> np.ndarray:
        import cv2

        small = valid.astype(np.float32)
        for _ in range(self.level):
            small = cv2.pyrDown(small)
        return small > 0.99
