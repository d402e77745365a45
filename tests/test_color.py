"""core.color: names, plans, shapes, dtypes, NaN/Inf, frames, previews, curves, known values.

Comparisons with OpenColorIO and colour-science on real images live in
``test_color_reference.py``. Tolerances: linear conversions are compared
relative to each pixel's magnitude (float32 rounding of a 3x3 product is
~1e-7 of it); curves relative to their value.
"""

from __future__ import annotations

import doctest
import importlib
import itertools
import subprocess
import sys

import numpy as np
import pytest

import core.color as cc
from core.color import _engine, curves, matrices
from core.errors import ColorSpaceError, ImageError, ParameterError, ReelkitError
from core.frame import Frame
from tests.conftest import REPO, srgb_sample

SPACES = cc.COLORSPACES
NAMED = {
    ("ACEScg", "ACES2065-1"): cc.acescg_to_aces2065_1,
    ("ACES2065-1", "ACEScg"): cc.aces2065_1_to_acescg,
    ("ACEScg", "lin_rec709"): cc.acescg_to_lin_rec709,
    ("lin_rec709", "ACEScg"): cc.lin_rec709_to_acescg,
    ("lin_rec709", "srgb"): cc.lin_rec709_to_srgb,
    ("srgb", "lin_rec709"): cc.srgb_to_lin_rec709,
    ("ACEScg", "XYZ"): cc.acescg_to_xyz,
    ("XYZ", "ACEScg"): cc.xyz_to_acescg,
    ("XYZ", "Lab"): cc.xyz_to_lab,
    ("Lab", "XYZ"): cc.lab_to_xyz,
    ("XYZ", "OKLab"): cc.xyz_to_oklab,
    ("OKLab", "XYZ"): cc.oklab_to_xyz,
    ("ACEScg", "OKLab"): cc.acescg_to_oklab,
    ("OKLab", "ACEScg"): cc.oklab_to_acescg,
}


def acescg_photo(name: str = "coffee.png") -> np.ndarray:
    """A shipped photo in ACEScg (float32 HW3), decoded with the IEC sRGB EOTF written out here."""
    v = srgb_sample(name).astype(np.float64)
    lin = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    m = np.linalg.inv(matrices.MATRIX_AP1_TO_XYZ) @ matrices.MATRIX_REC709_TO_XYZ
    return (lin @ m.T).astype(np.float32)


def scaled_error(actual: np.ndarray, expected: np.ndarray, scale: np.ndarray) -> float:
    """max |actual - expected| / max(|scale pixel|_inf, 1)."""
    mag = np.maximum(np.abs(np.asarray(scale, dtype=np.float64)).max(axis=-1, keepdims=True), 1.0)
    return float((np.abs(actual.astype(np.float64) - expected) / mag).max())


def hdr_acescg(n: int = 3000, seed: int = 7) -> np.ndarray:
    """(n, 3) ACEScg values: photo-like, negatives (out of gamut) and highlights up to 100."""
    rng = np.random.default_rng(seed)
    parts = [rng.uniform(0, 1, (n, 3)), rng.uniform(-0.5, 1.0, (n, 3)), np.exp(rng.uniform(-9, np.log(100), (n, 3)))]
    return np.concatenate(parts).astype(np.float32)


def in_space(space: str, acescg: np.ndarray) -> np.ndarray:
    return cc.convert(acescg, "ACEScg", space)


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize("alias, canonical", [
    ("acescg", "ACEScg"), ("ACES - ACEScg", "ACEScg"), ("lin_ap1", "ACEScg"), ("  ACEScg ", "ACEScg"),
    ("aces2065-1", "ACES2065-1"), ("ACES - ACES2065-1", "ACES2065-1"), ("aces", "ACES2065-1"),
    ("lin_ap0", "ACES2065-1"),
    ("lin_srgb", "lin_rec709"), ("linear rec.709", "lin_rec709"), ("Linear   Rec.709  (sRGB)", "lin_rec709"),
    ("Utility - Linear - sRGB", "lin_rec709"),
    ("sRGB", "srgb"), ("srgb_tx", "srgb"), ("sRGB Encoded Rec.709 (sRGB)", "srgb"),
    ("Utility - sRGB - Texture", "srgb"),
    ("xyz", "XYZ"), ("CIE XYZ-D65 - Scene-referred", "XYZ"),
    ("lab", "Lab"), ("CIELAB", "Lab"), ("oklab", "OKLab"), ("OkLab", "OKLab"),
])
def test_aliases_resolve_case_insensitively(alias, canonical):
    assert cc.canonical_colorspace(alias) == canonical
    assert cc.convert(np.ones(3, np.float32), alias, canonical).dtype == np.float32


def test_canonical_names_resolve_to_themselves_and_have_descriptions():
    for name in SPACES:
        assert cc.canonical_colorspace(name) == name
        assert cc.canonical_colorspace(name.upper()) == name
        assert name in cc.DESCRIPTIONS
    assert set(cc.ALIASES.values()) == set(SPACES)


@pytest.mark.parametrize("bad", ["sRGB - Display", "rec2020", "", "ACEScct", None, 3])
def test_unknown_colorspace_lists_known_names(bad):
    with pytest.raises(ColorSpaceError) as err:
        cc.convert(np.zeros(3, np.float32), bad, "ACEScg")
    assert isinstance(err.value, ValueError) and isinstance(err.value, ReelkitError)
    for name in SPACES:
        assert name in str(err.value)
    with pytest.raises(ColorSpaceError):
        cc.convert(np.zeros(3, np.float32), "ACEScg", bad)


def test_convert_matches_converter_module_choices():
    from core.convert import COLORSPACES

    assert set(COLORSPACES) == set(cc.COLORSPACES)


# --------------------------------------------------------------------------- plans


def test_plans_fuse_linear_steps():
    ops = lambda a, b: [op[0] if op[0] != "table" else op[1] for op in _engine.plan(a, b).ops]  # noqa: E731
    assert ops("ACEScg", "srgb") == ["matmul", "srgb_encode"]
    assert ops("srgb", "ACEScg") == ["srgb_decode", "matmul"]
    assert ops("ACEScg", "ACES2065-1") == ["matmul"]
    assert ops("lin_rec709", "srgb") == ["srgb_encode"]  # 709 -> XYZ -> 709 cancels
    assert ops("srgb", "lin_rec709") == ["srgb_decode"]
    assert ops("ACEScg", "OKLab") == ["matmul", "cbrt", "matmul"]
    assert ops("OKLab", "ACEScg") == ["matmul", "cube", "matmul"]
    assert ops("ACEScg", "Lab") == ["matmul", "lab_f", "matmul"]
    assert ops("Lab", "OKLab") == ["matmul", "lab_f_inverse", "matmul", "cbrt", "matmul"]
    assert ops("srgb", "srgb") == []


@pytest.mark.parametrize("source, target", list(itertools.product(SPACES, SPACES)))
def test_no_plan_has_two_consecutive_matrices(source, target):
    kinds = [op[0] for op in _engine.plan(source, target).ops]
    assert all(not (a == b == "matmul") for a, b in zip(kinds, kinds[1:]))
    assert len(kinds) <= 5


def test_conversion_matrix_composes_and_inverts():
    names = ("ACEScg", "ACES2065-1", "lin_rec709", "XYZ")
    for a, b, c in itertools.product(names, repeat=3):
        np.testing.assert_allclose(cc.conversion_matrix(b, c) @ cc.conversion_matrix(a, b), cc.conversion_matrix(a, c),
                                   atol=1e-12)
    np.testing.assert_allclose(cc.conversion_matrix("ACEScg", "XYZ"), matrices.MATRIX_AP1_TO_XYZ, atol=0)
    np.testing.assert_array_equal(cc.conversion_matrix("lin_srgb", "lin_rec709"), np.eye(3))
    # white stays white: every RGB space's (1, 1, 1) is the D65 white in XYZ
    for name in ("ACEScg", "ACES2065-1", "lin_rec709"):
        np.testing.assert_allclose(cc.conversion_matrix(name, "XYZ") @ np.ones(3), matrices.XYZ_D65, atol=1e-12)


@pytest.mark.parametrize("pair", [("ACEScg", "srgb"), ("XYZ", "Lab"), ("ACEScg", "OKLab")])
def test_conversion_matrix_refuses_nonlinear_pairs(pair):
    with pytest.raises(ColorSpaceError, match="not a linear"):
        cc.conversion_matrix(*pair)


def test_conversion_matrix_is_what_convert_applies():
    x = hdr_acescg()
    for target in ("ACES2065-1", "lin_rec709", "XYZ"):
        expected = x.astype(np.float64) @ cc.conversion_matrix("ACEScg", target).T
        assert scaled_error(cc.convert(x, "ACEScg", target), expected, x) < 1e-6


# --------------------------------------------------------------------------- named functions, round trips


@pytest.mark.parametrize("pair", list(NAMED))
def test_named_functions_equal_convert(pair):
    x = in_space(pair[0], acescg_photo("chelsea.png")[::4, ::4])
    np.testing.assert_array_equal(NAMED[pair](x), cc.convert(x, *pair))


def test_named_function_docstrings_state_space_layout_dtype_range_reference_and_example():
    for fn in list(NAMED.values()) + [cc.convert, cc.convert_frame, cc.acescg_to_srgb_preview]:
        doc = fn.__doc__
        words = ["float32", "Returns", ">>> ", "Frame" if fn is cc.convert_frame else "References"]
        if fn in NAMED.values():
            words += ["Domain", "Range", "ACEScg" if "acescg" in fn.__name__ else ""]
        for word in words:
            assert word in doc, (fn.__name__, word)
        assert "(..., 3)" in doc or "HWC" in doc, fn.__name__


@pytest.mark.parametrize("source, target", [p for p in itertools.product(SPACES, SPACES) if p[0] != p[1]])
def test_round_trip_every_pair(source, target):
    x = in_space(source, hdr_acescg(800))
    back = cc.convert(cc.convert(x, source, target), target, source)
    # relative to the pixel's magnitude (values up to 100, negatives); the perceptual spaces'
    # cube roots and large a/b coefficients cost a little more float32 precision
    perceptual = {source, target} & {"Lab", "OKLab"}
    assert scaled_error(back, x.astype(np.float64), x) < (5e-5 if perceptual else 1e-5)


def test_round_trip_on_a_photo_is_tight():
    x = acescg_photo("astronaut.png")
    for space in ("OKLab", "Lab", "srgb", "XYZ", "ACES2065-1", "lin_rec709"):
        back = cc.convert(cc.convert(x, "ACEScg", space), space, "ACEScg")
        assert np.abs(back - x).max() < 5e-6, space


def test_same_space_returns_a_float32_copy():
    x = hdr_acescg(10)
    y = cc.convert(x, "ACEScg", "acescg")
    np.testing.assert_array_equal(x, y)
    assert y is not x and not np.shares_memory(x, y)


# --------------------------------------------------------------------------- known values (provenance in each case)


def test_ottosson_published_xyz_to_oklab_table():
    # https://bottosson.github.io/posts/oklab/ "Table of example XYZ and Oklab pairs" (3 decimals)
    xyz = np.array([[0.950, 1.000, 1.089], [1.000, 0.000, 0.000], [0.000, 1.000, 0.000], [0.000, 0.000, 1.000]])
    lab = np.array([[1.000, 0.000, 0.000], [0.450, 1.236, -0.019], [0.922, -0.671, 0.263], [0.153, -1.415, -0.449]])
    np.testing.assert_allclose(cc.xyz_to_oklab(xyz), lab, atol=6e-4)
    np.testing.assert_allclose(cc.oklab_to_xyz(lab), xyz, atol=3e-3)


def test_oklab_of_srgb_red_and_white():
    # CSS Color 4 (W3C), sample "red" = oklab(62.796% 0.22486 0.12585); it uses Ottosson's
    # linear-sRGB matrix, which differs from M1 @ NPM(709) by up to 3e-4: hence 1e-4.
    red = cc.convert(np.array([1.0, 0.0, 0.0]), "srgb", "OKLab")
    np.testing.assert_allclose(red, [0.62796, 0.22486, 0.12585], atol=1e-4)
    white = cc.convert(np.array([1.0, 1.0, 1.0]), "srgb", "OKLab")
    np.testing.assert_allclose(white, [1.0, 0.0, 0.0], atol=2e-4)  # M1 maps D65 to LMS (0.99989, 1.00003, 1.00048)
    assert abs(white[0] - 1.0) < 1e-5


def test_cie_lab_known_values():
    # CIE 15:2004: the reference white is L* = 100, a* = b* = 0; Y = 0.18 is L* = 116 * 0.18^(1/3) - 16.
    np.testing.assert_allclose(cc.xyz_to_lab(matrices.XYZ_D65), [100.0, 0.0, 0.0], atol=1e-4)
    grey = cc.xyz_to_lab(0.18 * matrices.XYZ_D65)
    np.testing.assert_allclose(grey, [116 * 0.18 ** (1 / 3) - 16, 0, 0], atol=1e-4)
    np.testing.assert_allclose(grey[0], 49.4961, atol=1e-4)
    # below the joint (6/29)^3: L* = kappa * Y, kappa = 24389/27
    np.testing.assert_allclose(cc.xyz_to_lab(0.001 * matrices.XYZ_D65)[0], 24389 / 27 * 0.001, rtol=1e-5)
    np.testing.assert_allclose(cc.acescg_to_xyz(np.ones(3)), matrices.XYZ_D65, rtol=1e-6)


def test_srgb_known_values():
    # IEC 61966-2-1: 0.5 encoded is 0.21404 linear; 0.18 linear is 0.46135 encoded; 0.0031308 joins 0.04045.
    np.testing.assert_allclose(cc.srgb_to_lin_rec709(np.array([0.5, 0.5, 0.5])), 0.2140411, rtol=1e-6)
    np.testing.assert_allclose(cc.lin_rec709_to_srgb(np.array([0.18, 0.0031308, 1.0])), [0.4613561, 0.0404500, 1.0],
                               rtol=1e-5)
    np.testing.assert_allclose(cc.lin_rec709_to_srgb(np.array([-0.001, 0.001, 2.0])),
                               [-0.01292, 0.01292, 1.055 * 2 ** (1 / 2.4) - 0.055], rtol=1e-6)


def test_standards_normalised_primary_matrices():
    # SMPTE ST 2065-1:2012 4.1 and Academy S-2014-004 4.1 publish these NPMs (10 decimals).
    np.testing.assert_allclose(
        matrices.normalised_primary_matrix(matrices.PRIMARIES_AP0, matrices.WHITE_ACES),
        [[0.9525523959, 0.0, 0.0000936786], [0.3439664498, 0.7281660966, -0.0721325464], [0.0, 0.0, 1.0088251844]],
        atol=5e-11)
    np.testing.assert_allclose(
        matrices.normalised_primary_matrix(matrices.PRIMARIES_AP1, matrices.WHITE_ACES),
        [[0.6624541811, 0.1340042065, 0.1561876870], [0.2722287168, 0.6740817658, 0.0536895174],
         [-0.0055746495, 0.0040607335, 1.0103391003]],
        atol=5e-11)
    # IEC 61966-2-1 publishes the 709 NPM to 4 decimals; BT.709 item 3.2 the luma weights.
    npm709 = matrices.normalised_primary_matrix(matrices.PRIMARIES_REC709, matrices.WHITE_D65)
    np.testing.assert_allclose(npm709, [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]],
                               atol=6e-5)


# --------------------------------------------------------------------------- shapes and layouts


@pytest.mark.parametrize("shape", [(3,), (1, 3), (7, 3), (1, 1, 3), (5, 4, 3), (2, 3, 4, 3), (0, 3), (0, 5, 3)])
@pytest.mark.parametrize("target", ["srgb", "OKLab", "ACES2065-1", "Lab"])
def test_shapes_are_kept_and_values_do_not_depend_on_layout(shape, target):
    flat = hdr_acescg(40)[: int(np.prod(shape[:-1]))]
    x = flat.reshape(shape)
    y = cc.convert(x, "ACEScg", target)
    assert y.shape == shape and y.dtype == np.float32 and y.flags.c_contiguous
    np.testing.assert_array_equal(y.reshape(-1, 3), cc.convert(flat, "ACEScg", target))


def test_chunk_boundaries_and_strided_inputs_give_identical_results(monkeypatch):
    monkeypatch.setattr(_engine, "CHUNK_PIXELS", 64)
    x = acescg_photo("rocket.jpg")[:37, :53]  # 1961 pixels: 30 full chunks and a remainder
    reference = cc.acescg_to_oklab(x.reshape(-1, 3)).reshape(x.shape)
    rgba = np.concatenate([x, np.ones(x.shape[:2] + (1,), np.float32)], axis=2)
    for variant in (x, rgba[..., :3], np.asfortranarray(x), x[::-1][::-1], np.ascontiguousarray(x[:, ::-1])[:, ::-1]):
        np.testing.assert_array_equal(cc.acescg_to_oklab(variant), reference)
    monkeypatch.setattr(_engine, "CHUNK_PIXELS", 8192)
    np.testing.assert_array_equal(cc.acescg_to_oklab(x), reference)


@pytest.mark.parametrize("shape", [(4,), (2, 2), (3, 3, 4), (3, 3, 1), ()])
def test_wrong_channel_count_is_an_image_error(shape):
    with pytest.raises(ImageError, match=r"\(\.\.\., 3\)"):
        cc.acescg_to_oklab(np.zeros(shape, np.float32))


def test_rgba_error_points_to_convert_frame():
    with pytest.raises(ImageError, match="convert_frame"):
        cc.convert(np.zeros((2, 2, 4), np.float32), "ACEScg", "srgb")


# --------------------------------------------------------------------------- dtype policy


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_float_inputs_give_float32_computed_from_the_float32_value(dtype):
    x = acescg_photo("chelsea.png")[::3, ::3].astype(dtype)
    before = x.copy()
    for target in ("srgb", "OKLab", "XYZ"):
        y = cc.convert(x, "ACEScg", target)
        assert y.dtype == np.float32
        np.testing.assert_array_equal(y, cc.convert(x.astype(np.float32), "ACEScg", target))
    np.testing.assert_array_equal(x, before)  # input untouched


def test_lists_are_read_as_float32():
    np.testing.assert_array_equal(cc.acescg_to_xyz([1, 1, 1]), cc.acescg_to_xyz(np.ones(3, np.float32)))
    assert cc.acescg_to_xyz([[0.1, 0.2, 0.3]]).shape == (1, 3)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.bool_, np.complex64, object])
def test_non_float_arrays_are_refused(dtype):
    with pytest.raises(ImageError, match="float"):
        cc.srgb_to_lin_rec709(np.zeros((2, 2, 3), dtype=dtype))


def test_non_numeric_input_is_an_image_error():
    with pytest.raises(ImageError):
        cc.convert("not pixels", "ACEScg", "srgb")


# --------------------------------------------------------------------------- NaN / Inf


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("pair", list(NAMED))
def test_nonfinite_raise_names_count_and_first_location(bad, pair):
    x = in_space(pair[0], acescg_photo("coffee.png")[:40, :300]).copy()  # 12000 px: two chunks
    x[33, 290, 2] = bad  # in the second chunk
    x[39, 299, 0] = bad
    with pytest.raises(ImageError) as err:
        NAMED[pair](x)
    msg = str(err.value)
    assert "2 non-finite values" in msg and "x=290 y=33 channel=2" in msg, msg
    assert f"{pair[0]} -> {pair[1]}" in msg


def test_nonfinite_location_for_lists_and_single_colours():
    with pytest.raises(ImageError, match=r"1 non-finite values \(NaN/Inf\); first at pixel 4 channel=1"):
        cc.acescg_to_oklab(np.r_[np.zeros((4, 3)), [[0, np.nan, 0]]])
    with pytest.raises(ImageError, match="first at channel=0"):
        cc.acescg_to_oklab(np.array([np.inf, 0, 0]))


@pytest.mark.parametrize("pair", list(NAMED))
def test_nonfinite_pass_propagates_and_leaves_other_pixels_alone(pair):
    x = in_space(pair[0], hdr_acescg(100))
    clean = NAMED[pair](x)
    dirty = x.copy()
    dirty[5] = [np.nan, 0.1, 0.2]
    dirty[6] = [np.inf, np.inf, np.inf]
    dirty[7] = [-np.inf, -np.inf, -np.inf]
    y = NAMED[pair](dirty, nonfinite="pass")
    keep = np.ones(len(x), bool)
    keep[5:8] = False
    np.testing.assert_array_equal(y[keep], clean[keep])
    assert np.isnan(y[5]).any()
    assert not np.isfinite(y[6]).all() and not np.isfinite(y[7]).all()


def test_per_channel_curves_keep_ieee_values():
    v = np.array([[np.inf, -np.inf, np.nan]], np.float32)
    for fn in (cc.lin_rec709_to_srgb, cc.srgb_to_lin_rec709):
        y = fn(v, nonfinite="pass")
        assert y[0, 0] == np.inf and y[0, 1] == -np.inf and np.isnan(y[0, 2])


def test_huge_finite_values_are_not_reported_as_nonfinite():
    x = np.array([[1e30, 1e-30, -3e38], [1e20, 1e20, 1e20]], np.float32)  # sum of squares overflows
    y = cc.convert(x, "ACEScg", "ACES2065-1")
    assert y.shape == x.shape
    assert np.isfinite(cc.convert(np.float32(1e30) * np.ones(3, np.float32), "ACEScg", "srgb")).all()


def test_float64_values_beyond_float32_are_nonfinite():
    with pytest.raises(ImageError, match="1 non-finite"):
        cc.acescg_to_xyz(np.array([1e39, 0.0, 0.0]))


@pytest.mark.parametrize("mode", ["ignore", "RAISE", None, True])
def test_unknown_nonfinite_mode_is_a_parameter_error(mode):
    with pytest.raises(ParameterError, match="nonfinite"):
        cc.convert(np.zeros(3, np.float32), "ACEScg", "srgb", nonfinite=mode)


# --------------------------------------------------------------------------- frames


def test_convert_frame_passes_alpha_through_bit_for_bit_and_unpremultiplies_for_the_curve():
    rgb = acescg_photo("astronaut.png")[:64, :80]
    alpha = np.linspace(-0.5, 2.0, 64 * 80, dtype=np.float32).reshape(64, 80, 1)
    alpha[0, 0, 0] = np.nan  # alpha is not checked nor touched
    frame = Frame(np.concatenate([rgb, alpha], axis=2), "ACES - ACEScg", frame=1001, path="/plates/a.1001.exr",
                  metadata={"colorspace_source": "header"}, layers={"depth": np.ones((64, 80, 1), np.float32)})
    out = cc.convert_frame(frame, "sRGB")
    assert out.colorspace == "srgb" and out.frame == 1001 and out.path == frame.path
    assert out.channels == ("R", "G", "B", "A")
    assert out.metadata == {"colorspace_source": "header", "converted_from": "ACEScg", "alpha": "straight"}
    assert frame.metadata == {"colorspace_source": "header"}
    np.testing.assert_array_equal(out.pixels[..., 3].view(np.uint32), alpha[..., 0].view(np.uint32))
    # scene-linear colour is premultiplied: divided by alpha (where > 0) before the sRGB curve, as Nuke does
    straight = np.where(alpha > 0, rgb / np.where(alpha > 0, alpha, 1), rgb).astype(np.float32)
    np.testing.assert_allclose(out.pixels[..., :3], cc.convert(straight, "ACEScg", "srgb"), rtol=1e-6, atol=1e-7)
    # a linear-to-linear conversion keeps premultiplied colour as it is (the matrix commutes with alpha)
    lin = cc.convert_frame(frame, "lin_rec709")
    np.testing.assert_array_equal(lin.pixels[..., :3], cc.convert(rgb, "ACEScg", "lin_rec709"))
    assert lin.metadata["alpha"] == "premultiplied"
    assert out.layers.keys() == {"depth"}
    np.testing.assert_array_equal(frame.pixels[..., :3], rgb)  # source frame untouched


def test_convert_frame_rgb():
    rgb = acescg_photo("coffee.png")[:20, :30]
    out = cc.convert_frame(Frame(rgb, "ACEScg"), "OKLab")
    assert out.colorspace == "OKLab" and out.pixels.shape == (20, 30, 3)
    np.testing.assert_array_equal(out.pixels, cc.acescg_to_oklab(rgb))


def test_one_channel_frame_is_an_error_for_chromatic_conversions():
    frame = Frame(np.full((4, 4, 1), 0.5, np.float32), "srgb", path="grey.png")
    with pytest.raises(ImageError, match=r"grey.png.*1-channel frame.*srgb -> ACEScg.*RGB"):
        cc.convert_frame(frame, "ACEScg")
    with pytest.raises(ImageError, match="1-channel"):
        cc.convert_frame(frame.replace(colorspace="ACEScg"), "OKLab")


def test_one_channel_frame_per_channel_conversions_work():
    v = np.linspace(-0.1, 2.0, 16, dtype=np.float32).reshape(4, 4, 1)
    lin = cc.convert_frame(Frame(v, "srgb"), "lin_rec709")
    assert lin.colorspace == "lin_rec709" and lin.pixels.shape == (4, 4, 1)
    np.testing.assert_array_equal(lin.pixels[..., 0], cc.srgb_to_lin_rec709(np.repeat(v, 3, axis=2))[..., 0])
    same = cc.convert_frame(Frame(v, "Lab"), "lab")
    np.testing.assert_array_equal(same.pixels, v)


def test_convert_frame_errors_name_the_frame():
    frame = Frame(np.zeros((2, 2, 3), np.float32), "rec2020", path="shot.exr", frame=7)
    with pytest.raises(ColorSpaceError, match=r"shot.exr \(frame 7\).*unknown colour space 'rec2020'"):
        cc.convert_frame(frame, "srgb")
    px = np.zeros((2, 2, 3), np.float32)
    px[1, 0, 1] = np.nan
    with pytest.raises(ImageError, match=r"shot.exr \(frame 7\).*x=0 y=1 channel=1"):
        cc.convert_frame(Frame(px, "ACEScg", path="shot.exr", frame=7), "srgb")
    out = cc.convert_frame(Frame(px, "ACEScg"), "srgb", nonfinite="pass")
    assert np.isnan(out.pixels[1, 0]).all() and np.isfinite(out.pixels[0]).all()
    with pytest.raises(ImageError, match="Frame"):
        cc.convert_frame(px, "srgb")


# --------------------------------------------------------------------------- preview


def test_preview_clip_is_the_quantised_srgb_encoding():
    x = acescg_photo("chelsea.png") * np.float32(1.7)  # some values clip
    u8 = cc.acescg_to_srgb_preview(x)
    assert u8.dtype == np.uint8 and u8.shape == x.shape
    enc = np.clip(cc.convert(x, "ACEScg", "srgb").astype(np.float64), 0, 1)
    assert np.abs(u8 - enc * 255).max() <= 0.5 + 1e-3  # rounding to nearest
    assert (u8 == 255).any()


def test_preview_exposure_is_a_scale_in_stops():
    x = acescg_photo("coffee.png")[::4, ::4]
    np.testing.assert_array_equal(cc.acescg_to_srgb_preview(x, exposure=-1.5),
                                  cc.acescg_to_srgb_preview(x * np.float32(2 ** -1.5)))
    assert cc.acescg_to_srgb_preview(x, exposure=1).mean() > cc.acescg_to_srgb_preview(x).mean()


def test_preview_nonfinite():
    x = np.full((2, 2, 3), 0.18, np.float32)
    x[0, 1] = [np.nan, np.inf, -np.inf]
    with pytest.raises(ImageError, match="x=1 y=0 channel=0"):
        cc.acescg_to_srgb_preview(x)
    with pytest.raises(ImageError, match="x=1 y=0 channel=0"):
        cc.acescg_to_srgb_preview(x, view="aces")
    z = cc.acescg_to_srgb_preview(np.array([[np.nan, 0.5, 0.5], [np.inf, 0.0, 0.0], [-np.inf, 0.0, 0.0]]),
                                  nonfinite="pass")
    # NaN spreads to every channel through the matrix and shows black; +Inf in red stays +Inf in
    # red and becomes -Inf in green and blue (negative matrix terms): white red, black elsewhere.
    np.testing.assert_array_equal(z, [[0, 0, 0], [255, 0, 0], [0, 255, 255]])


@pytest.mark.parametrize("kwargs", [{"exposure": float("nan")}, {"exposure": "1"}, {"exposure": 100},
                                    {"exposure": True}, {"view": "filmic"}, {"nonfinite": "zero"}])
def test_preview_bad_parameters(kwargs):
    with pytest.raises(ParameterError):
        cc.acescg_to_srgb_preview(np.zeros((2, 2, 3), np.float32), **kwargs)


# --------------------------------------------------------------------------- curves


@pytest.mark.parametrize("name", list(curves.CURVES))
def test_curve_tables_match_their_float64_definition(name):
    fn, _ = curves.CURVES[name]
    rng = np.random.default_rng(3)
    x = np.concatenate([np.exp(rng.uniform(-25, 25, 200_000)), -np.exp(rng.uniform(-25, 25, 50_000)),
                        rng.uniform(-0.05, 0.25, 100_000), [0.0, -0.0, 1.0]]).astype(np.float32)
    out = np.empty_like(x)
    curves.apply_table(curves.get_table(name), x, out, curves.Scratch(x.size))
    exact = fn(x.astype(np.float64))
    err = np.abs(out - exact)
    # 5e-7 relative, or 5e-7 absolute (next to a joint, where a piecewise curve's slope jumps,
    # and at the zero crossings of the CIE f curves), as documented in core.color.curves
    assert np.all((err <= 5e-7 * np.abs(exact)) | (err <= 5e-7)), x[np.argmax(err / np.maximum(np.abs(exact), 1))]


def test_srgb_encoding_is_monotonic_across_bucket_edges():
    bits = np.arange(0x3A000000, 0x40400000, 97, dtype=np.uint32)  # ~0.0005 .. 3, every 97th float
    y = cc.lin_rec709_to_srgb(np.repeat(bits.view(np.float32)[:, None], 3, axis=1))[:, 0]
    assert np.all(np.diff(y) >= 0)


def test_build_tables_reports_seconds():
    spent = cc.build_tables()
    assert set(spent) == set(curves.CURVES) and all(0 <= s < 5 for s in spent.values())


# --------------------------------------------------------------------------- packaging


def test_import_is_cheap_and_loads_no_heavy_dependency():
    code = ("import sys, core.color, core.color.reference; "
            "bad = [m for m in ('PyOpenColorIO', 'colour', 'cv2', 'OpenEXR', 'skimage') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("module", ["core.color", "core.color.conversions", "core.color.spaces", "core.color.matrices",
                                    "core.color.preview", "core.color.reference", "core.color.curves"])
def test_doctests(module):
    mod = importlib.import_module(module)
    # colour-science switches numpy to legacy="1.13" printing when imported by other tests
    with np.printoptions(legacy=False):
        result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                                 extraglobs={"np": np})
    assert result.failed == 0
    if module in ("core.color.conversions", "core.color.spaces", "core.color.matrices", "core.color.preview",
                  "core.color.reference"):
        assert result.attempted > 0
