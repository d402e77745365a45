"""The pieces of core.align on their own: phase correlation, scale search, sharpness measure,
coordinate conventions, the spline field, damage and the held-out test, ECC on a pyramid, the parameter spec."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from core.align import ALIGN_PARAMS, geometry, heldout, phase, robust, spline
from core.align import represent as rep
from core.align.ecc import ecc_pyramid
from tests.test_align import photo, resample, similarity, truth


@pytest.fixture(scope="module")
def z_coffee():
    """The structure representation of a real photo (320 x 448)."""
    y = rep.relative(rep.luminance(photo("coffee", (40, 360, 40, 488))))
    return y, rep.normalize(y, presmooth=1.0, normalize_sigma=16.0)[0]


def _z(y):
    return rep.normalize(y, presmooth=1.0, normalize_sigma=16.0)[0]


@pytest.mark.parametrize("shift", [(0.3, -0.7), (2.25, 1.6), (-5.43, 0.11)])
def test_phase_correlation_is_subpixel_and_says_which_way(z_coffee, shift):
    y, z = z_coffee
    # moving(p + shift) = fixed(p): the fixed image is the moving one sampled at p + shift
    t = geometry.translation(*shift)
    fixed = _z(resample(y[..., None], truth(t, y.shape))[..., 0])
    res = phase.phase_correlate(fixed, z)
    assert math.hypot(res.shift[0] - shift[0], res.shift[1] - shift[1]) < 0.03
    assert res.psr > 50


def test_phase_correlation_of_unrelated_pictures_has_a_low_peak(z_coffee):
    other = _z(rep.relative(rep.luminance(photo("astronaut", (40, 360, 40, 488)))))
    assert phase.phase_correlate(z_coffee[1], other).psr < 12


def test_max_shift_limits_the_search(z_coffee):
    y, z = z_coffee
    fixed = np.roll(z, 40, axis=1)  # fixed(x) = z(x - 40): the answer is -40
    assert phase.phase_correlate(fixed, z).shift[0] == pytest.approx(-40, abs=0.05)
    assert abs(phase.phase_correlate(fixed, z, max_shift=20).shift[0]) <= 20


def test_scale_rotation_recovers_a_zoom_and_a_turn(z_coffee):
    y, z = z_coffee
    t = similarity(y.shape, 0.0, 0.0, 1.15, -2.0)
    fixed = _z(resample(y[..., None], truth(t, y.shape))[..., 0])  # fixed(p) = moving(t(p))
    scale, angle, psr = phase.scale_rotation(fixed, z)
    assert scale == pytest.approx(1.15, rel=0.01)
    assert angle == pytest.approx(-2.0, abs=0.3)
    assert psr > 20


@pytest.mark.parametrize("sigma", [1.0, 2.0])
def test_relative_blur_measures_which_image_is_softer(z_coffee, sigma):
    y, _ = z_coffee
    soft = rep.gaussian(y, sigma)
    assert rep.relative_blur(soft, y) == pytest.approx(sigma, abs=0.35)
    assert rep.relative_blur(y, soft) == pytest.approx(-sigma, abs=0.35)
    assert abs(rep.relative_blur(y, y * 0.5 + 0.1)) < 0.1  # gain and offset are not blur


def test_tone_match_gives_the_target_histogram(z_coffee):
    y, _ = z_coffee
    faded = 0.3 * y**0.7 + 0.05
    matched = rep.tone_match(faded, y)
    assert np.quantile(matched, [0.1, 0.5, 0.9]) == pytest.approx(np.quantile(y, [0.1, 0.5, 0.9]), rel=0.02)
    assert np.corrcoef(matched.ravel(), y.ravel())[0, 1] > 0.999


def test_texture_tells_a_photo_from_flat_grey_and_grain(z_coffee):
    y, _ = z_coffee
    rng = np.random.default_rng(0)
    grainy = (1.0 + 0.03 * rng.standard_normal(y.shape)).astype(np.float32)
    assert rep.texture(y) > 0.5
    assert rep.texture(np.ones_like(y)) == 0.0
    assert rep.texture(grainy) < 0.05


def test_resize_matrix_is_opencv_resize_convention(z_coffee):
    import cv2

    y, _ = z_coffee
    small = cv2.resize(y, (224, 160), interpolation=cv2.INTER_LINEAR)
    back = geometry.remap(y, geometry.coordinate_map(geometry.resize_matrix((160, 224), y.shape), (160, 224)),
                          interpolation="linear")
    np.testing.assert_allclose(back[2:-2, 2:-2], small[2:-2, 2:-2], atol=1e-3)


def test_coordinate_map_matches_apply_for_affine_and_homography():
    t = similarity((50, 70), 1.5, -2.0, 1.1, 3.0)
    h = t.copy()
    h[2, :2] = (1e-4, -2e-4)
    flow = np.random.default_rng(1).standard_normal((50, 70, 2)).astype(np.float32)
    ys, xs = np.mgrid[0:50, 0:70].astype(np.float64)
    for m in (t, h):
        X, Y = geometry.apply(m, xs + flow[..., 0], ys + flow[..., 1])
        got = geometry.coordinate_map(m, (50, 70), flow)
        np.testing.assert_allclose(got[..., 0], X, atol=1e-3)
        np.testing.assert_allclose(got[..., 1], Y, atol=1e-3)


def test_decompose_reads_back_a_similarity():
    d = geometry.decompose(similarity((100, 100), 3.0, 4.0, 1.2, 7.0)[:2, :2])
    assert d["scale"] == pytest.approx(1.2) and d["rotation_deg"] == pytest.approx(7.0)
    assert d["anisotropy"] == pytest.approx(1.0) and d["shear"] == pytest.approx(0.0, abs=1e-12)
    assert geometry.decompose(np.diag([1.0, -1.0]))["flip"]


def test_spline_field_fits_an_affine_field_exactly_and_pays_nothing_for_it():
    model = spline.SplineField((90, 120), 20.0)
    ys, xs = np.mgrid[0:90, 0:120].astype(np.float32)
    field = np.stack([0.3 + 0.01 * xs - 0.02 * ys, -0.5 + 0.015 * ys], axis=-1)
    coef = model.fit(field, np.ones((90, 120), np.float32), lam=10.0)  # however stiff
    np.testing.assert_allclose(model.field(coef), field, atol=1e-3)
    assert float(coef[0].ravel() @ model.bending @ coef[0].ravel()) == pytest.approx(0.0, abs=1e-6)
    # evaluated on a twice finer grid it is the same field, twice the size
    fine = model.field(coef, (180, 240), 2.0)
    np.testing.assert_allclose(fine[::2, ::2], 2.0 * field, atol=2e-3)


def test_spline_refine_follows_a_smooth_warp(z_coffee):
    y, z = z_coffee
    t = np.eye(3)
    m = truth(t, y.shape, amp=2.0, period=(250.0, 400.0))
    fixed = _z(resample(y[..., None], m)[..., 0])
    model = spline.SplineField(y.shape, max(y.shape) / 12)
    lam = (10.0 / model.spacing) ** 4
    coef, info = spline.refine(fixed, z, model, model.zeros(), lam=lam, iterations=15)
    ys, xs = np.mgrid[0:y.shape[0], 0:y.shape[1]]
    err = np.hypot(*(model.field(coef) - (m - np.stack([xs, ys], -1))).transpose(2, 0, 1))[12:-12, 12:-12]
    assert err.mean() < 0.1 and info["iterations"] <= 15


def _with_defects(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(y with core.degrade's line dropouts, solid patches and block tears, their mask)`` (luminance ``HW``)."""
    from core.degrade import degrade_frame

    out = degrade_frame(np.repeat(y[..., None], 3, axis=2), seed=seed, frame=1, masks=True,
                        params={"dropout_rate": 1.0, "patch_rate": 1.0, "tear_rate": 1.0})
    return rep.luminance(out.pixels), out.masks["digital"] > 0


def test_damage_is_what_half_a_pixel_of_misalignment_does_not_explain(z_coffee):
    import cv2

    y, z = z_coffee
    shifted = resample(y[..., None], truth(geometry.translation(0.3, 0.0), y.shape))[..., 0]
    damaged, defects = _with_defects(shifted, seed=0)
    e = _z(damaged) - z
    noise = robust.sigma(e)
    found = robust.damage(e, noise, slack=robust.misalignment_slack(z))
    far = ~cv2.dilate(defects.astype(np.uint8), np.ones((81, 81), np.uint8)).astype(bool)  # beyond their halo
    assert found[defects].mean() > 0.9  # the rest changed too little to see (a patch of the region's mean colour)
    assert found[far].mean() < 0.02
    # without the slack, the 0.3 px shift's edges would pass for damage
    assert robust.damage(e, noise)[far].mean() > 0.1
    # identical images: no noise, no damage, no division by zero
    assert robust.sigma(np.zeros_like(z)) == robust.MIN_SIGMA and not robust.damage(np.zeros_like(z), 0.0).any()


@pytest.mark.parametrize("case, kept", [("smooth warp", True), ("grain", False), ("damage", False),
                                        ("damage and grain", False)])
def test_held_out_blocks_keep_a_real_field_and_refuse_noise_and_damage(z_coffee, case, kept):
    """The local field is fitted on half the blocks, judged on the others (t >= heldout.MIN_T)."""
    y, z = z_coffee
    rng = np.random.default_rng(1)

    def grain(img: np.ndarray) -> np.ndarray:  # multiplicative, 5 % per pixel
        return (img * (1.0 + 0.05 * rng.standard_normal(img.shape))).astype(np.float32)

    fixed, moving = {
        "smooth warp": lambda: (_z(resample(y[..., None], truth(np.eye(3), y.shape, 1.5, (250.0, 400.0)))[..., 0]), z),
        "grain": lambda: (_z(grain(y)), _z(grain(y))),
        "damage": lambda: (_z(_with_defects(y, 3)[0]), z),
        "damage and grain": lambda: (_z(_with_defects(grain(y), 4)[0]), _z(grain(y))),
    }[case]()
    model = spline.SplineField(y.shape, max(y.shape) / 12)
    lam = (10.0 / model.spacing) ** 4
    fit, labels = heldout.split(y.shape, int(model.spacing / 2))
    inner = np.zeros(y.shape, bool)
    inner[10:-10, 10:-10] = True
    coef, _ = spline.refine(fixed, moving, model, model.zeros(), lam=lam, iterations=6, mask=inner & fit)
    verdict = heldout.judge(fixed, moving, model.field(coef), transform=np.eye(3), held_out=inner & ~fit,
                            labels=labels, min_gain=0.05)
    assert verdict.kept is kept and verdict.blocks > 100
    assert (verdict.t > 10.0) if kept else (verdict.t < 2.0)
    # no field at all: nothing gained
    zero = heldout.judge(fixed, moving, np.zeros(y.shape + (2,), np.float32), transform=np.eye(3),
                         held_out=inner & ~fit, labels=labels, min_gain=0.05)
    assert zero.gain == 0.0 and zero.t == 0.0 and not zero.kept


def test_ecc_pyramid_refines_an_affine_from_a_rough_start(z_coffee):
    y, z = z_coffee
    t = similarity(y.shape, 2.3, -1.7, 1.02, 0.8)
    fixed = _z(resample(y[..., None], truth(t, y.shape))[..., 0])
    res = ecc_pyramid(rep.pyramid(fixed, 3), rep.pyramid(z, 3), geometry.translation(2.0, -2.0), motion="affine",
                      iterations=100, eps=1e-6)
    assert not res.reason and res.correlation > 0.95
    ys, xs = np.mgrid[0:y.shape[0], 0:y.shape[1]].astype(np.float64)
    X, Y = geometry.apply(res.transform, xs, ys)
    Xt, Yt = geometry.apply(t, xs, ys)
    assert np.hypot(X - Xt, Y - Yt)[10:-10, 10:-10].mean() < 0.05


def test_ecc_failure_is_a_reason_not_an_exception():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((64, 64)).astype(np.float32)
    res = ecc_pyramid([a], [np.zeros_like(a)], np.eye(3), motion="affine", iterations=20, eps=1e-6)
    assert res.reason and np.array_equal(res.transform, np.eye(3))


def test_parameter_spec_describes_itself():
    spec = json.loads(json.dumps(ALIGN_PARAMS.to_dict()))
    names = [p["name"] for p in spec["params"]]
    assert names[:2] == ["method", "motion"] and len(names) == len(set(names))
    values = ALIGN_PARAMS.resolve({"motion": "HOMOGRAPHY", "flow_grid": "8"})
    assert values["motion"] == "homography" and values["flow_grid"] == 8
