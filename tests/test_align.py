"""core.align.align on real photos with known warps: ground-truth end-point error, failures, errors.

Ground truth: a shipped photo (sRGB decoded to ACEScg) is the reference;
the source is the photo resampled through a known map ``m`` (source pixel ->
photo/reference coordinates; exact cubic-spline interpolation, SciPy), then
degraded with a film preset whose gate weave moves it further (the weave
record gives that part of the truth). The recovered map is
``AlignResult.coords()``; the end-point error (EPE) is ``|coords - m|``
averaged over the valid pixels away from the frame edge.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from core.align import ALIGN_PARAMS, METHODS, STAGES, align
from core.align import geometry
from core.errors import ColorSpaceError, ImageError, ParameterError
from core.frame import Frame

MARGIN = 12


# -- ground truth helpers (shared by the other test_align modules) -------------------------------------------------
def photo(name: str, crop: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """A shipped photo as ``float32`` ``HW3`` ACEScg; ``crop`` is ``(y0, y1, x0, x1)``."""
    from core.color import convert
    from core.io.samples import load_sample

    px = load_sample(name).pixels
    if crop is not None:
        y0, y1, x0, x1 = crop
        px = px[y0:y1, x0:x1]
    return np.ascontiguousarray(convert(px, "srgb", "ACEScg"), dtype=np.float32)


def similarity(hw: tuple[int, int], dx: float, dy: float, scale: float = 1.0, angle_deg: float = 0.0) -> np.ndarray:
    """Source -> reference: scale and turn about the frame centre, then shift by ``(dx, dy)`` px."""
    h, w = hw
    return geometry.translation(dx, dy) @ geometry.similarity_about(((w - 1) / 2, (h - 1) / 2), scale, angle_deg)


def field_at(t: np.ndarray, x: np.ndarray, y: np.ndarray, amp: float = 0.0,
             period: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """``t(x, y)`` plus a smooth sinusoidal displacement of amplitude ``amp`` px (``HW2`` float64)."""
    X, Y = geometry.apply(t, np.asarray(x, np.float64), np.asarray(y, np.float64))
    if amp:
        X = X + amp * np.sin(2 * np.pi * y / period[0] + 0.3) * np.cos(2 * np.pi * x / period[1])
        Y = Y + 0.8 * amp * np.cos(2 * np.pi * x / period[0] + 1.1) * np.sin(2 * np.pi * y / period[1] + 0.5)
    return np.stack([X, Y], axis=-1)


def truth(t: np.ndarray, hw: tuple[int, int], amp: float = 0.0, period: tuple[float, float] = (1.0, 1.0),
          weave: dict | None = None) -> np.ndarray:
    """Reference coordinates of every source pixel; ``weave`` (a degrade record) moved the source after warping."""
    h, w = hw
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    if weave:
        from core.degrade.weave import weave_matrix

        moved = np.vstack([weave_matrix(weave, h, w), [0.0, 0.0, 1.0]])
        xs, ys = geometry.apply(np.linalg.inv(moved), xs, ys)
    return field_at(t, xs, ys, amp, period)


def resample(px: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """``px`` at ``coords`` (``HW2`` x, y): exact cubic B-spline interpolation, mirrored edges."""
    from scipy import ndimage

    return np.stack([ndimage.map_coordinates(px[..., c], [coords[..., 1], coords[..., 0]], order=3, mode="mirror")
                     for c in range(px.shape[2])], axis=-1).astype(np.float32)


def make_pair(name: str, crop, t: np.ndarray, *, amp: float = 0.0, period_frac=(0.7, 0.9), preset: str | None = None,
              seed: int = 3, frame: int = 1001):
    """``(source, reference, truth map)``: the photo warped by ``t`` (+ a local field), degraded by ``preset``."""
    from core.degrade import degrade_frame

    ref = photo(name, crop)
    hw = ref.shape[:2]
    period = (period_frac[0] * hw[0], period_frac[1] * hw[1])
    src = resample(ref, truth(t, hw, amp, period))
    weave = None
    if preset:
        out = degrade_frame(src, preset=preset, seed=seed, frame=frame)
        src, weave = out.pixels, out.record.get("weave")
    return src, ref, truth(t, hw, amp, period, weave)


def epe(result, truth_map: np.ndarray, margin: int = MARGIN) -> float:
    """Mean end-point error (px) of ``result.coords()`` over valid pixels at least ``margin`` px inside the frame."""
    c = result.coords().astype(np.float64)
    err = np.hypot(c[..., 0] - truth_map[..., 0], c[..., 1] - truth_map[..., 1])
    valid = result.mask[..., 0] > 0
    valid[:margin], valid[-margin:], valid[:, :margin], valid[:, -margin:] = False, False, False, False
    assert valid.mean() > 0.3, f"only {valid.mean():.2f} of the frame is valid"
    return float(err[valid].mean())


CROP = (40, 360, 40, 488)  # 320 x 448


# -- accuracy -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, preset", [("astronaut", "faded_16mm"), ("coffee", "dusty_35mm"), ("chelsea", None)])
def test_global_transform_recovered_within_a_tenth_of_a_pixel(name, preset):
    crop = (0, 300, 0, 448) if name == "chelsea" else CROP
    hw = (crop[1] - crop[0], crop[3] - crop[2])
    t = similarity(hw, 1.37, -2.21, 1.015, 0.6)
    src, ref, m = make_pair(name, crop, t, preset=preset)
    glob = align(src, ref, method="global")
    assert glob.converged, glob.reason
    assert glob.flow is None and glob.motion == "affine"
    assert epe(glob, m) <= 0.1
    # the default method keeps the global transform alone when a local field explains nothing more
    both = align(src, ref)
    assert both.converged, both.reason
    assert epe(both, m) <= 0.1
    assert both.valid_fraction > 0.7


@pytest.mark.parametrize("name, preset", [("astronaut", "faded_16mm"), ("coffee", "dusty_35mm")])
def test_smooth_local_warp_recovered_within_three_tenths_of_a_pixel(name, preset):
    t = similarity((320, 448), -0.8, 1.3, 0.99, -0.4)
    src, ref, m = make_pair(name, CROP, t, amp=2.5, preset=preset)
    res = align(src, ref)
    assert res.converged, res.reason
    assert res.stages["flow"]["kept"]
    assert epe(res, m) <= 0.3
    assert 1.0 < res.flow_max < 5.0
    # one transform cannot explain the pair: the local stage is what recovers it
    glob = align(src, ref, method="global")
    assert epe(glob, m) > 1.0
    assert res.residual_after < glob.residual_after


@pytest.mark.parametrize("angle, scale", [(0.05, 1.0), (0.0, 1.001)])
def test_a_small_real_turn_or_zoom_keeps_the_affine(angle, scale):
    """0.2 px at the corners: the held-out test against a translation keeps it (on identical pairs it does not)."""
    t = similarity((320, 448), 0.3, -0.2, scale, angle)
    src, ref, m = make_pair("coffee", CROP, t, preset="dusty_35mm")
    res = align(src, ref, method="global")
    assert res.converged, res.reason
    assert res.motion == "affine" and res.stages["motion_test"]["held_out_t"] >= 5.0
    assert epe(res, m) <= 0.03
    # a translation alone would leave a tenth of a pixel
    shift = align(src, ref, method="global", motion="translation")
    assert epe(shift, m) > 0.1


def test_reference_at_another_resolution_is_warped_onto_the_source_grid():
    import cv2

    t = similarity((320, 448), 1.1, 0.7, 1.0, 0.3)
    src, full, m = make_pair("coffee", CROP, t, preset="dusty_35mm")
    ref = np.maximum(cv2.resize(full, (336, 240), interpolation=cv2.INTER_AREA), 0.0)  # a 0.75x transfer
    to_ref = geometry.resize_matrix((320, 448), (240, 336))
    m_ref = np.stack(geometry.apply(to_ref, m[..., 0], m[..., 1]), axis=-1)
    res = align(src, ref)
    assert res.converged, res.reason
    assert res.warped.shape == src.shape and res.mask.shape == (320, 448, 1)
    assert epe(res, m_ref) <= 0.1 * 0.75  # in reference pixels
    assert geometry.decompose(res.transform[:2, :2])["scale"] == pytest.approx(0.75, abs=0.01)


def test_scale_search_finds_a_zoomed_and_turned_transfer():
    hw = (320, 448)
    t = similarity(hw, 0.0, 0.0, 1.2, 1.5)  # the reference is a 1.2x zoomed, turned transfer of the same frame
    base = photo("astronaut", CROP)
    ref = resample(base, truth(np.linalg.inv(t), hw))
    from core.degrade import degrade_frame

    src = degrade_frame(base, preset="dusty_35mm", seed=2, params={"weave_amplitude_px": 0.0}).pixels
    found = align(src, ref, method="global", scale_search="logpolar")
    assert found.converged, found.reason
    search = found.stages["phase"]["scale_search"]
    assert search["scale"] == pytest.approx(1.2, rel=0.01) and search["rotation_deg"] == pytest.approx(1.5, abs=0.3)
    assert epe(found, truth(t, hw)) <= 0.1
    # assuming the same framing does not get there
    lost = align(src, ref, method="global")
    assert not lost.converged or epe(lost, truth(t, hw)) > 1.0


def test_phase_method_recovers_a_subpixel_translation():
    import cv2

    t = geometry.translation(2.37, -1.61)
    src, ref, m = make_pair("chelsea", (0, 288, 0, 448), t)
    res = align(src, ref, method="phase")
    assert res.converged and res.motion == "translation"
    assert epe(res, m) <= 0.05
    assert np.allclose(res.transform[:2, :2], np.eye(2))
    # OpenCV's own phase correlation on the same images is further off (the reason this one exists)
    g = lambda px: cv2.cvtColor(np.ascontiguousarray(px), cv2.COLOR_RGB2GRAY)  # noqa: E731
    (cx, cy), _ = cv2.phaseCorrelate(g(src), g(ref))
    assert math.hypot(cx - 2.37, cy + 1.61) > math.hypot(res.transform[0, 2] - 2.37, res.transform[1, 2] + 1.61)


def test_flow_method_alone_follows_a_shift_and_a_local_warp():
    t = geometry.translation(1.5, -1.0)
    src, ref, m = make_pair("coffee", CROP, t, amp=1.5)
    res = align(src, ref, method="flow")
    assert res.converged, res.reason
    assert np.allclose(res.transform, np.eye(3))  # all of it is in the flow
    assert epe(res, m) <= 0.3


# -- the result -----------------------------------------------------------------------------------------------------
def test_result_contract_and_transform_direction():
    import cv2

    t = similarity((320, 448), 1.37, -2.21, 1.01, 0.5)
    src, ref, _ = make_pair("coffee", CROP, t, preset="faded_16mm")
    alpha = np.linspace(0.0, 1.0, ref.shape[1], dtype=np.float32)[None, :, None].repeat(ref.shape[0], 0)
    ref4 = np.concatenate([ref, alpha], axis=2)
    src4 = np.concatenate([src, np.ones_like(alpha)], axis=2)
    res = align(src4, ref4, method="global")
    assert res.converged, res.reason
    assert res.warped.dtype == np.float32 and res.warped.shape == (320, 448, 4)
    assert res.mask.dtype == np.float32 and res.mask.shape == (320, 448, 1)
    assert set(np.unique(res.mask)) <= {0.0, 1.0}
    assert res.residual.dtype == np.float32 and res.residual.shape == (320, 448, 1) and res.residual.min() >= 0
    assert res.transform.shape == (3, 3) and res.transform.dtype == np.float64
    assert res.residual_after < 0.5 * res.residual_before and res.correlation > 0.9
    # source -> reference coordinates: what OpenCV's warp with WARP_INVERSE_MAP makes
    ocv = cv2.warpPerspective(ref4, res.transform, (448, 320), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP)
    inner = (slice(8, -8), slice(8, -8))
    np.testing.assert_allclose(res.warped[inner], ocv[inner], atol=2e-3)
    # alpha is resampled like colour: the ramp lands where the transform says
    xs = res.coords()[..., 0]
    np.testing.assert_allclose(res.warped[inner][..., 3], (xs / (ref.shape[1] - 1))[inner], atol=2e-3)
    rec = res.record()
    assert json.loads(json.dumps(rec))["converged"] is True
    np.testing.assert_allclose(rec["transform"], res.transform)


def test_same_inputs_give_the_same_result():
    t = similarity((320, 448), 0.4, 0.9, 1.0, 0.2)
    src, ref, _ = make_pair("astronaut", CROP, t, amp=1.0, preset="dusty_35mm")
    a, b = align(src, ref), align(src, ref)
    assert np.array_equal(a.warped, b.warped) and np.array_equal(a.mask, b.mask)
    assert np.array_equal(a.transform, b.transform) and np.array_equal(a.flow, b.flow)


def test_align_runs_blas_on_one_thread_and_gives_the_pool_back(monkeypatch):
    """Per-frame linear algebra is small: a BLAS pool on busy cores made it 6x slower (benchmarks/align_bench.py)."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from core.align import spline

    seen = []
    solve = spline.SplineField.solve

    def spy(self, *args, **kwargs):
        seen.append({i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"})
        return solve(self, *args, **kwargs)

    monkeypatch.setattr(spline.SplineField, "solve", spy)
    t = similarity((320, 448), 0.6, -0.4)
    src, ref, _ = make_pair("coffee", CROP, t, preset="dusty_35mm")
    with threadpool_limits(limits=2, user_api="blas"):
        align(src, ref)
        after = {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
    assert seen and all(n == {1} for n in seen)
    assert after == {2}


def test_content_the_reference_does_not_share_is_valid_geometry_unless_a_residual_threshold_drops_it():
    t = similarity((320, 448), 0.6, -0.4)
    src, ref, m = make_pair("coffee", CROP, t, preset="dusty_35mm")
    ref = ref.copy()
    ref[100:196, 150:262] = photo("astronaut", (200, 296, 200, 312))  # a patch of another picture
    patch = (slice(110, 186), slice(160, 252))
    rest = np.ones(src.shape[:2], bool)
    rest[80:216, 130:282] = False
    # the mask says where the geometry holds: the patch neither moves the alignment nor leaves it
    # (a source's damage is the same case, and what a restoration model must learn from)
    res = align(src, ref)
    assert res.converged, res.reason
    assert epe(res, m) <= 0.05 and not res.stages["flow"]["kept"]
    assert res.mask[patch][..., 0].mean() == 1.0
    # a residual threshold drops what the two pictures do not share
    strict = align(src, ref, residual_threshold=0.25)
    assert strict.converged, strict.reason
    assert strict.mask[patch][..., 0].mean() < 0.3
    assert strict.mask[..., 0][rest].mean() > 0.9


def test_residual_threshold_drops_poorly_matching_pixels():
    t = similarity((320, 448), 0.6, -0.4)
    src, ref, _ = make_pair("coffee", CROP, t, preset="dusty_35mm")
    loose = align(src, ref, method="global")
    strict = align(src, ref, method="global", residual_threshold=0.3)
    assert strict.converged, strict.reason
    kept = strict.mask[..., 0] > 0
    assert strict.residual[..., 0][kept].max() <= 0.3
    assert strict.valid_fraction < loose.valid_fraction
    assert not (kept & (loose.mask[..., 0] == 0)).any()  # it only removes pixels


# -- failures are values ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", list(METHODS))
def test_unrelated_reference_fails_with_a_reason(method):
    src = photo("astronaut", CROP)
    ref = photo("coffee", CROP)
    res = align(src, ref, method=method)
    assert not res.converged
    assert any(word in res.reason for word in ("correlation", "peak", "valid", "converge"))
    assert not res.mask.any() and res.valid_fraction == 0.0
    assert res.warped.shape == src.shape  # still a full result, never an identity posing as success


@pytest.mark.parametrize("flat", ["reference", "source"])
def test_flat_grey_image_fails_for_too_little_texture(flat):
    pic = photo("coffee", CROP)
    grey = np.full_like(pic, 0.18)
    src, ref = (pic, grey) if flat == "reference" else (grey, pic)
    res = align(src, ref)
    assert not res.converged
    assert f"too little texture in the {flat}" in res.reason


def test_implausible_transform_is_refused():
    t = similarity((320, 448), 0.5, 0.5, 1.0, 3.0)
    src, ref, _ = make_pair("coffee", CROP, t)
    assert align(src, ref, method="global").converged
    res = align(src, ref, method="global", max_rotation_deg=1.0)
    assert not res.converged and "rotation" in res.reason


def test_too_few_valid_pixels_is_a_failure():
    t = similarity((320, 448), 0.5, 0.5)
    src, ref, _ = make_pair("coffee", CROP, t, preset="dusty_35mm")
    res = align(src, ref, method="global", min_valid_fraction=0.99)
    assert not res.converged and "valid" in res.reason


# -- bad input raises ---------------------------------------------------------------------------------------------
def test_bad_images_raise_image_error():
    pic = photo("coffee", (0, 64, 0, 96))
    with pytest.raises(ImageError, match="channel"):
        align(pic, pic[..., :1])
    bad = pic.copy()
    bad[5, 7, 1] = np.nan
    with pytest.raises(ImageError, match="reference.*non-finite.*x=7 y=5"):
        align(pic, bad)
    with pytest.raises(ImageError, match="source.*non-finite"):
        align(bad, pic)
    with pytest.raises(ImageError, match="too small"):
        align(pic[:16], pic[:16])
    with pytest.raises(ImageError):
        align(pic[..., :2], pic[..., :2])
    with pytest.raises(ColorSpaceError, match="ACEScg"):
        align(Frame(pic, "srgb"), Frame(pic, "srgb"))
    assert align(Frame(pic, "ACEScg"), Frame(pic, "ACEScg"), method="phase").converged


def test_bad_parameters_raise_parameter_error():
    pic = photo("coffee", (0, 64, 0, 96))
    with pytest.raises(ParameterError, match="global\\+local"):
        align(pic, pic, method="magic")
    with pytest.raises(ParameterError, match="unknown parameter"):
        align(pic, pic, ecc_iters=3)
    with pytest.raises(ParameterError, match="below the minimum"):
        align(pic, pic, fb_threshold=0.0)
    with pytest.raises(ParameterError):
        align(pic, pic, motion="elastic")


def test_method_table_is_the_parameter_spec():
    assert tuple(METHODS) == ALIGN_PARAMS["method"].choices
    for m in METHODS.values():
        assert m.stages and list(m.stages) == [s for s in STAGES if s in m.stages]
    assert ALIGN_PARAMS.resolve({})["method"] == "global+local"
