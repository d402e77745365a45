"""Controller: reconstruction error, palette stability across frames, luma comparison, parameter spec."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from core.errors import ImageError, ParameterError
from core.metrics import delta_e_2000
from core.palette import (
    ENCODE_PARAMS,
    PaletteStabilityWarning,
    acescg_to_fit,
    compare_luma,
    encode,
    fit_palette,
    fit_to_acescg,
    palette_distance,
    palette_stability,
    reconstruction_error,
    rec709_luma,
)
from core.palette.params import encode_kwargs, fit_kwargs
from tests.conftest import srgb_sample
from tests.test_palette_operator import KNOWN, palette_image

# -- reconstruction error ----------------------------------------------------------------------


def test_error_is_zero_for_an_exact_palette_and_matches_a_direct_computation():
    img = palette_image(KNOWN, noise=0.0)
    fit = fit_palette(img, k=5)
    enc = encode(img, fit)
    err = reconstruction_error(img, enc.index, fit.palette_acescg)
    assert err.n_pixels == img.shape[0] * img.shape[1]
    assert err.de2000_max < 0.01 and err.deok_max < 0.01

    noisy = palette_image(KNOWN, noise=0.02)
    fit = fit_palette(noisy, k=5)
    enc = encode(noisy, fit)
    err = reconstruction_error(noisy, enc.index, fit.palette_acescg)
    lab_src = acescg_to_fit(noisy.reshape(-1, 3), "lab")
    lab_dec = acescg_to_fit(fit.palette_acescg, "lab")[enc.index.reshape(-1)]
    de = delta_e_2000(lab_src, lab_dec)
    assert err.de2000_mean == pytest.approx(de.mean(), rel=1e-9)
    assert err.de2000_p95 == pytest.approx(np.percentile(de, 95), rel=1e-9)
    assert err.deok_mean == pytest.approx(float(enc.distance.mean()), rel=1e-4)  # OKLab fit: distance map is ΔE OK
    assert 0 < err.de2000_mean < err.de2000_p95 <= err.de2000_max


def test_error_skips_masked_pixels_and_samples():
    img = palette_image(KNOWN, noise=0.01)
    rgba = np.concatenate([img, np.ones(img.shape[:2] + (1,), np.float32)], axis=-1)
    rgba[:50, :, 3] = 0.0
    fit = fit_palette(rgba, k=5)
    enc = encode(rgba, fit)
    err = reconstruction_error(rgba, enc.index, fit.palette_acescg)
    assert err.n_pixels == (96 - 50) * 128
    sub = reconstruction_error(rgba, enc.index, fit.palette_acescg, sample_size=1000, seed=1)
    assert sub.n_pixels == 1000 and sub.de2000_mean == pytest.approx(err.de2000_mean, rel=0.15)


def test_error_refusals():
    img = palette_image(KNOWN, noise=0.0, h=10, w=10)
    with pytest.raises(ImageError, match="index map is"):
        reconstruction_error(img, np.zeros((5, 5), np.uint8), KNOWN)
    bad = img.copy()
    bad[1, 2, 0] = np.nan
    with pytest.raises(ImageError, match="non-finite"):
        reconstruction_error(bad, np.zeros((10, 10), np.uint8), KNOWN)
    with pytest.raises(ImageError, match="no pixel"):
        reconstruction_error(img, np.full((10, 10), 255, np.uint8), KNOWN)


# -- stability ------------------------------------------------------------------------------------


def test_permuted_palette_is_at_distance_zero():
    perm = KNOWN[[3, 1, 4, 0, 2]]
    m = palette_distance(KNOWN, perm)
    assert m.mean == 0.0 and m.max == 0.0 and m.unmatched == 0
    assert sorted(m.pairs) == [(0, 3), (1, 1), (2, 4), (3, 0), (4, 2)]


def test_perturbed_palette_distance_is_the_perturbation():
    ok = acescg_to_fit(KNOWN, "oklab").astype(np.float64)
    shift = np.array([0.01, 0.0, 0.0])  # +0.01 OKLab L = ΔE OK 1.0 for every entry
    moved = fit_to_acescg(ok + shift, "oklab").astype(np.float32)
    m = palette_distance(KNOWN, moved[::-1])
    np.testing.assert_allclose(m.distances, 1.0, atol=2e-3)
    assert m.mean == pytest.approx(1.0, abs=2e-3) and m.weighted_mean == pytest.approx(1.0, abs=2e-3)
    # one entry moved by ΔE 6, four unchanged: the mean is 6 / 5
    one = ok.copy()
    one[2] += [0.0, 0.06, 0.0]
    m = palette_distance(KNOWN, fit_to_acescg(one, "oklab").astype(np.float32))
    assert m.max == pytest.approx(6.0, abs=1e-2) and m.mean == pytest.approx(1.2, abs=2e-3)


def test_stability_report_and_warning():
    img = palette_image(KNOWN, noise=0.01)
    frames = [img, img * np.float32(1.01), img * np.float32(1.02)]  # a slow fade: stable
    fits = [fit_palette(f, k=5) for f in frames]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rep = palette_stability(fits)
    assert rep.stable and len(rep.matches) == 2 and rep.worst < 2.0
    jump = fit_palette(palette_image(KNOWN * np.float32([1.0, 0.6, 0.6]), noise=0.01), k=5)  # a grade change
    with pytest.warns(PaletteStabilityWarning, match="unstable"):
        rep = palette_stability(fits + [jump])
    assert not rep.stable and rep.unstable == (2,) and rep.worst > 2.0
    rep = palette_stability(fits + [jump], warn=False, reference="first")
    assert not rep.stable
    with pytest.raises(ParameterError, match="at least 2"):
        palette_stability(fits[:1])
    with pytest.raises(ParameterError, match="reference"):
        palette_stability(fits, reference="median")


def test_different_sizes_are_unmatched_not_hidden():
    m = palette_distance(KNOWN, KNOWN[:4])
    assert m.unmatched == 1 and m.mean == 0.0
    with pytest.warns(PaletteStabilityWarning):
        assert not palette_stability([KNOWN, KNOWN[:4]]).stable


# -- luma comparison ----------------------------------------------------------------------------


def _equal_luma_pair() -> np.ndarray:
    """An orange and a blue of the same Rec.709 luma, in ACEScg."""
    from core.color import convert

    srgb = np.array([[0.95, 0.45, 0.10], [0.25, 0.55, 0.95]], np.float32)
    y = rec709_luma(convert(srgb, "srgb", "ACEScg"))
    srgb[1] *= y[0] / y[1]  # same luma (a uniform scale of encoded values scales Y')
    return convert(srgb, "srgb", "ACEScg")


def test_luma_merges_what_the_palette_separates_synthetic():
    colours = _equal_luma_pair()
    img = np.zeros((40, 40, 3), np.float32)
    img[:, :20] = colours[0]
    img[:, 20:] = colours[1]
    fit = fit_palette(img, k=2)
    enc = encode(img, fit)
    luma = rec709_luma(img)
    assert np.ptp(luma) < 1e-3  # one grey for both halves
    assert enc.index[0, 0] != enc.index[0, 39]  # two entries
    assert abs(float(enc.gradient()[0, 0] - enc.gradient()[0, 39])) == 1.0  # the two ends of the gradient
    lc = compare_luma(img, enc)
    assert len(lc.collapses) == 1 and lc.collapsed_entries == (0, 1)
    c = lc.collapses[0]
    assert c.pixel_luma_overlap == 1.0 and c.hue_difference > 150 and c.delta_e_ok > 20
    assert lc.merged_share == 1.0
    assert "luma merges 1 of 1" in lc.summary()


def test_luma_merges_distinct_colours_on_the_real_rocket():
    """On the real photo (dusk sky, sodium lamps, lit pad), luma gives orange light and blue sky one grey."""
    from core.color import convert

    crop = srgb_sample("rocket.jpg")[300:427, 60:520]  # the pad: lamps, their glow, the dusk sky
    img = np.ascontiguousarray(convert(crop, "srgb", "ACEScg"))
    fit = fit_palette(img, k=8, seed=0)
    enc = encode(img, fit)
    lc = compare_luma(img, enc)
    assert lc.collapses, lc.summary()
    hues = acescg_to_fit(fit.palette_acescg, "oklab")
    for c in lc.collapses:
        assert c.delta_e_ok > 10 and c.luma_difference <= 0.05
    # at least one collapse joins a warm and a cool colour whose pixels luma cannot tell apart
    best = max(lc.collapses, key=lambda c: c.pixel_luma_overlap)
    assert best.hue_difference > 90 and best.pixel_luma_overlap > 0.4
    a, b = hues[best.a], hues[best.b]
    warm, cool = (a, b) if a[1] > b[1] else (b, a)
    assert warm[2] > 0 > cool[2]  # OKLab b: yellow-orange vs blue
    # the pixels themselves: per-pixel luma of the two groups overlaps, their gradient values do not
    ia, ib = enc.index == best.a, enc.index == best.b
    la, lb = rec709_luma(img[ia]), rec709_luma(img[ib])
    assert np.percentile(la, 25) < np.percentile(lb, 75) and np.percentile(lb, 25) < np.percentile(la, 75)
    g = enc.gradient()
    assert abs(float(g[ia][0] - g[ib][0])) > 0.1
    assert set(np.unique(g[ia])).isdisjoint(np.unique(g[ib]))


def test_luma_comparison_parameters():
    img = palette_image(KNOWN, noise=0.0, h=10, w=10)
    enc = encode(img, fit_palette(img, k=5))
    for kwargs, match in (({"bands": 1}, "'bands'"), ({"luma_delta": 2.0}, "'luma_delta'"),
                          ({"distinct_threshold": 0.0}, "'distinct_threshold'"), ({"min_share": 1.0}, "'min_share'")):
        with pytest.raises(ParameterError, match=match):
            compare_luma(img, enc, **kwargs)


# -- parameter spec -------------------------------------------------------------------------------


def test_param_spec_drives_the_functions():
    assert [p.name for p in ENCODE_PARAMS] == ["k", "space", "seed", "sample_size", "weight", "hue_coverage",
                                                "max_iter", "tol", "alpha_threshold", "premultiplied", "shared",
                                                "index_dtype", "output"]
    kw = fit_kwargs({"k": "12", "space": "LAB", "premultiplied": "no"})
    assert kw["k"] == 12 and kw["space"] == "lab" and kw["premultiplied"] is False and "output" not in kw
    img = palette_image(KNOWN, noise=0.0, h=16, w=16)
    fit = fit_palette(img, **fit_kwargs({"k": 5}))
    assert fit.params == fit_kwargs({"k": 5})
    assert encode(img, fit, **encode_kwargs({"index_dtype": "uint16"})).index.dtype == np.uint16
    with pytest.raises(ParameterError, match="unknown parameter"):
        fit_kwargs({"colours": 8})
    with pytest.raises(ParameterError, match="'output'"):
        ENCODE_PARAMS.resolve({"output": "luma"})
    d = ENCODE_PARAMS.to_dict()
    assert d["name"] == "palette_encode" and d["params"][0]["maximum"] == 256


def test_encode_shot_shared_and_per_frame():
    from core.palette import encode_shot, encoding_error

    frames = [palette_image(KNOWN[[0, 1]], seed=1, h=20, w=24), palette_image(KNOWN[[0, 2]], seed=2, h=20, w=24)]
    shared = encode_shot(frames, {"k": "3", "shared": "true", "index_dtype": "uint16"})
    assert len(shared) == 2 and shared[0].fit is shared[1].fit and shared[0].index.dtype == np.uint16
    per_frame = encode_shot(frames, {"k": 2})
    assert per_frame[0].fit is not per_frame[1].fit and per_frame[0].fit.k == 2
    err = encoding_error(frames[0], per_frame[0])
    assert err.n_pixels == 20 * 24 and err.de2000_mean < 1.0
    out = shared[1].output(ENCODE_PARAMS.resolve({})["output"])
    assert out.shape == (20, 24, 1) and out.dtype == np.float32
    with pytest.raises(ImageError, match="no frames"):
        encode_shot([], {})
    with pytest.raises(ParameterError, match="'k'"):
        encode_shot(frames, {"k": 300})
