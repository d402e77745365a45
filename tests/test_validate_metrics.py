"""Metrics against scikit-image (PSNR, SSIM) and colour-science (ΔE2000); flicker on planted gain flicker."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from core.errors import ImageError
from core import metrics as M
from tests.conftest import srgb_sample


@pytest.fixture(scope="module")
def pair():
    """A real photo in ACEScg and a degraded copy (gain, noise, blur)."""
    import cv2

    from core.color import convert

    ref = convert(srgb_sample("chelsea.png")[::2, ::2], "srgb", "ACEScg").astype(np.float32)
    rng = np.random.default_rng(0)
    res = cv2.GaussianBlur(ref, (0, 0), 1.2) * 1.07 + rng.normal(0, 0.01, ref.shape).astype(np.float32)
    return res.astype(np.float32), ref


def test_encoding_is_srgb_clipped():
    assert M.METRIC_ENCODING == "srgb_clip"
    x = np.array([[[0.18, 0.18, 0.18], [4.0, 4.0, 4.0], [-1.0, -1.0, -1.0]]], np.float32)
    e = M.encode(x)
    np.testing.assert_allclose(e[0, 0], 0.4613561, atol=2e-3)  # 0.18 ACEScg grey -> sRGB 118/255
    assert e[0, 1].tolist() == [1.0, 1.0, 1.0] and e[0, 2].tolist() == [0.0, 0.0, 0.0]


def test_psnr_matches_scikit_image(pair):
    from skimage.metrics import peak_signal_noise_ratio

    res, ref = pair
    want = peak_signal_noise_ratio(M.encode(ref), M.encode(res), data_range=1.0)
    assert M.psnr(res, ref) == pytest.approx(want, abs=1e-5)
    assert M.psnr(ref, ref) == M.PSNR_CAP


@pytest.mark.parametrize("kind", ["noisy_blurred", "gain", "shifted"])
def test_ssim_matches_scikit_image(pair, kind):
    from skimage.metrics import structural_similarity

    res, ref = pair
    if kind == "gain":
        res = ref * 0.8
    elif kind == "shifted":
        res = np.roll(ref, 2, axis=1)
    want = structural_similarity(M.encode(ref).astype(np.float64), M.encode(res).astype(np.float64),
                                 channel_axis=-1, data_range=1.0)
    assert M.ssim(res, ref) == pytest.approx(want, abs=1e-7)


def test_masked_ssim_and_psnr_ignore_invalid_pixels(pair):
    from scipy.ndimage import binary_erosion
    from skimage.metrics import structural_similarity

    res, ref = pair
    h, w = ref.shape[:2]
    mask = np.ones((h, w), bool)
    mask[:, : w // 4] = False
    garbage = res.copy()
    garbage[:, : w // 4] = np.nan
    _, smap = structural_similarity(M.encode(ref).astype(np.float64), M.encode(res).astype(np.float64),
                                    channel_axis=-1, data_range=1.0, full=True)
    keep = binary_erosion(mask, np.ones((7, 7), bool), border_value=1)
    keep[:3], keep[-3:], keep[:, :3], keep[:, -3:] = False, False, False, False
    assert M.ssim(res, ref, mask) == pytest.approx(smap.mean(axis=-1)[keep].mean(), abs=1e-7)
    assert M.ssim(garbage, ref, mask) == pytest.approx(M.ssim(res, ref, mask), abs=1e-12)
    e_ref, e_res = M.encode(ref), M.encode(res)
    mse = np.mean((e_ref[mask].astype(np.float64) - e_res[mask]) ** 2)
    assert M.psnr(garbage, ref, mask) == pytest.approx(10 * np.log10(1 / mse), abs=1e-6)
    assert np.isnan(M.psnr(res, ref, np.zeros((h, w), bool)))


def test_delta_e_matches_colour_science(pair):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import colour
    res, ref = pair
    d65 = colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["D65"]
    cs = colour.RGB_COLOURSPACES["ACEScg"]

    def lab(x):
        xyz = colour.RGB_to_XYZ(x.astype(np.float64), cs, illuminant=d65, chromatic_adaptation_transform="Bradford")
        return colour.XYZ_to_Lab(xyz, d65)

    want = colour.delta_E(lab(res), lab(ref), method="CIE 2000").mean()
    assert M.delta_e(res, ref) == pytest.approx(want, rel=2e-4)
    assert M.delta_e(ref, ref) == pytest.approx(0.0, abs=1e-9)


def test_flicker_detects_planted_gain_flicker(pair):
    _, ref = pair
    gains = [1.0, 1.2, 0.9, 0.9, 1.1]
    stats = [M.frame_stats(ref * g) for g in gains]
    still = [M.frame_stats(ref) for _ in gains]
    fl, vd = M.flicker(stats, still)
    assert np.isnan(fl[0]) and np.isnan(vd[0])
    want = [abs(np.log2(b / a)) for a, b in zip(gains, gains[1:])]
    np.testing.assert_allclose(fl[1:], want, atol=1e-4)
    np.testing.assert_allclose(vd[1:], want, atol=1e-3)  # a gain scales the local std by the same factor
    # the reference flickers the same way: nothing left to report
    fl2, vd2 = M.flicker(stats, stats)
    assert max(fl2[1:]) == 0.0 and max(vd2[1:]) == 0.0
    # without a reference, the raw change
    raw, _ = M.flicker(stats)
    np.testing.assert_allclose(raw[1:], want, atol=1e-4)


def test_variance_drift_sees_grain_change_that_keeps_the_mean(pair):
    _, ref = pair
    rng = np.random.default_rng(1)
    grainy = (ref * np.exp2(rng.normal(0, 0.3, ref.shape[:2]))[..., None]).astype(np.float32)
    grainy *= ref.mean() / grainy.mean()
    fl, vd = M.flicker([M.frame_stats(ref), M.frame_stats(grainy)], [M.frame_stats(ref)] * 2)
    assert vd[1] > 0.1 and vd[1] > 5 * fl[1]


def test_frame_metrics_and_errors(pair):
    res, ref = pair
    m = M.frame_metrics(res, ref)
    assert m["psnr"] == pytest.approx(M.psnr(res, ref)) and m["valid"] == ref.shape[0] * ref.shape[1]
    with pytest.raises(ImageError, match="does not match"):
        M.psnr(res[:10], ref)
    with pytest.raises(ImageError, match="mask shape"):
        M.ssim(res, ref, np.ones((2, 2)))
