"""Fit-space kernels of the palette: constants, cube root, agreement with core.color and colour-science."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from core.errors import ParameterError
from core.palette import SPACES, acescg_to_fit, fit_to_acescg
from core.palette.spaces import cbrt_f32, get_space


def _colour():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import colour
    return colour


def test_constants_are_core_color_matrices():
    """The literal matrices equal products of core.color's published-derived matrices."""
    from core.color import matrices as m

    ok_pre = m.MATRIX_OKLAB_M1 @ m.MATRIX_AP1_TO_XYZ
    lab_pre = np.diag(1.0 / m.XYZ_D65) @ m.MATRIX_AP1_TO_XYZ
    ok, lab = SPACES["oklab"], SPACES["lab"]
    np.testing.assert_allclose(np.array(ok.pre), ok_pre, rtol=0, atol=1e-15)
    np.testing.assert_allclose(np.array(ok.pre_inv), np.linalg.inv(ok_pre), rtol=0, atol=1e-14)
    np.testing.assert_allclose(np.array(ok.post), m.MATRIX_OKLAB_M2, rtol=0, atol=0)
    np.testing.assert_allclose(np.array(ok.post_inv), np.linalg.inv(m.MATRIX_OKLAB_M2), rtol=0, atol=1e-15)
    np.testing.assert_allclose(np.array(lab.pre), lab_pre, rtol=0, atol=1e-15)
    np.testing.assert_allclose(np.array(lab.pre_inv), np.linalg.inv(lab_pre), rtol=0, atol=1e-14)
    np.testing.assert_allclose(np.array(lab.post_inv), np.linalg.inv(np.array(lab.post)), rtol=0, atol=1e-15)


def test_cbrt_sweep_relative_error():
    x = (np.float32(10.0) ** np.linspace(-30, 30, 200_001)).astype(np.float32)
    x = np.concatenate([x, -x])
    got = cbrt_f32(x).astype(np.float64)
    ref = np.cbrt(x.astype(np.float64))
    assert np.max(np.abs(got / ref - 1.0)) < 2e-6


def test_cbrt_is_odd_and_exact_on_cubes_to_tolerance():
    x = np.array([1.0, 8.0, 27.0, 0.125, 1e-6, 1e6], np.float32)
    np.testing.assert_allclose(cbrt_f32(x), [1.0, 2.0, 3.0, 0.5, 0.01, 100.0], rtol=2e-6)
    np.testing.assert_array_equal(cbrt_f32(-x), -cbrt_f32(x))


@pytest.mark.parametrize("space, target", [("oklab", "OKLab"), ("lab", "Lab")])
def test_kernel_matches_core_color(space, target):
    from core.color import convert

    rng = np.random.default_rng(3)
    rgb = np.concatenate([rng.random((5000, 3)) * 2.0, rng.random((500, 3)) * 50.0,
                          rng.random((500, 3)) * 0.001]).astype(np.float32)
    ours = acescg_to_fit(rgb, space).astype(np.float64)
    ref = convert(rgb, "ACEScg", target).astype(np.float64)
    tol = 2e-5 if space == "oklab" else 2e-3  # Lab is ~100x larger
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=tol)


def test_oklab_matches_colour_science():
    colour = _colour()
    rng = np.random.default_rng(4)
    rgb = (rng.random((2000, 3)) * 1.5).astype(np.float32)
    cs = colour.RGB_COLOURSPACES["ACEScg"]
    d65 = colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["D65"]
    xyz = colour.RGB_to_XYZ(rgb.astype(np.float64), cs, illuminant=d65, chromatic_adaptation_transform="Bradford")
    ref_ok = colour.XYZ_to_Oklab(xyz)
    ref_lab = colour.XYZ_to_Lab(xyz, illuminant=d65)
    np.testing.assert_allclose(acescg_to_fit(rgb, "oklab"), ref_ok, atol=3e-6)
    np.testing.assert_allclose(acescg_to_fit(rgb, "lab"), ref_lab, atol=1.5e-3)  # a* = 500 (f(X) - f(Y)) amplifies float32


@pytest.mark.parametrize("space", ["oklab", "lab"])
def test_round_trip(space):
    rng = np.random.default_rng(5)
    rgb = np.concatenate([rng.random((1000, 3)), [[0.0005, 0.0004, 0.0002]]]).astype(np.float32)
    back = fit_to_acescg(acescg_to_fit(rgb, space), space)
    np.testing.assert_allclose(back, rgb, rtol=2e-5, atol=2e-6)


def test_white_is_neutral_and_reference_lightness():
    white = np.ones((1, 3), np.float32)
    ok = acescg_to_fit(white, "oklab")[0]
    lab = acescg_to_fit(white, "lab")[0]
    assert abs(ok[0] - 1.0) < 1e-3 and abs(ok[1]) < 1e-3 and abs(ok[2]) < 1e-3
    np.testing.assert_allclose(lab, [100.0, 0.0, 0.0], atol=1e-3)


def test_shapes_kept_and_bad_input():
    rgb = np.zeros((4, 5, 3), np.float32)
    assert acescg_to_fit(rgb).shape == (4, 5, 3)
    with pytest.raises(ParameterError, match="space"):
        get_space("hsv")
    with pytest.raises(ParameterError, match=r"\(\.\.\., 3\)"):
        acescg_to_fit(np.zeros((4, 4), np.float32))


def test_kernel_is_chunk_independent():
    rng = np.random.default_rng(6)
    rgb = (rng.random((10_007, 3)) * 3).astype(np.float32)
    a = acescg_to_fit(rgb, "oklab", chunk=1 << 16)
    b = acescg_to_fit(rgb, "oklab", chunk=333)
    assert a.tobytes() == b.tobytes()
