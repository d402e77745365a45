"""ΔE00 against Sharma, Wu & Dalal (2005) and colour-science; ΔE OK definition."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from core.errors import ParameterError
from core.metrics import delta_e_2000, delta_e_76, delta_e_ok
from core.metrics import deltae


@pytest.fixture(params=["numpy", "numba"])
def kernel(request):
    """Each ΔE00 kernel (numba's is skipped where numba is not installed)."""
    if request.param == "numba" and not deltae.available():
        pytest.skip("numba is not installed (the fast extra)")
    return request.param

# Sharma, Wu & Dalal, "The CIEDE2000 color-difference formula: implementation
# notes, supplementary test data, and mathematical observations", Color Res.
# Appl. 30(1), 2005, Table 1 (ciede2000testdata.txt): (Lab1, Lab2, ΔE00).
SHARMA = [
    ((50.0000, 2.6772, -79.7751), (50.0000, 0.0000, -82.7485), 2.0425),
    ((50.0000, 3.1571, -77.2803), (50.0000, 0.0000, -82.7485), 2.8615),
    ((50.0000, 2.8361, -74.0200), (50.0000, 0.0000, -82.7485), 3.4412),
    ((50.0000, -1.3802, -84.2814), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, -1.1848, -84.8006), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, -0.9009, -85.5211), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, 0.0000, 0.0000), (50.0000, -1.0000, 2.0000), 2.3669),
    ((50.0000, -1.0000, 2.0000), (50.0000, 0.0000, 0.0000), 2.3669),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0009), 7.1792),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0010), 7.1792),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0011), 7.2195),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0012), 7.2195),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0009, -2.4900), 4.8045),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0010, -2.4900), 4.8045),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0011, -2.4900), 4.7461),
    ((50.0000, 2.5000, 0.0000), (50.0000, 0.0000, -2.5000), 4.3065),
    ((50.0000, 2.5000, 0.0000), (73.0000, 25.0000, -18.0000), 27.1492),
    ((50.0000, 2.5000, 0.0000), (61.0000, -5.0000, 29.0000), 22.8977),
    ((50.0000, 2.5000, 0.0000), (56.0000, -27.0000, -3.0000), 31.9030),
    ((50.0000, 2.5000, 0.0000), (58.0000, 24.0000, 15.0000), 19.4535),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.1736, 0.5854), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.2972, 0.0000), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 1.8634, 0.5757), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.2592, 0.3350), 1.0000),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((63.0109, -31.0961, -5.8663), (62.8187, -29.7946, -4.0864), 1.2630),
    ((61.2901, 3.7196, -5.3901), (61.4292, 2.2480, -4.9620), 1.8731),
    ((35.0831, -44.1164, 3.7933), (35.0232, -40.0716, 1.5901), 1.8645),
    ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373),
    ((36.4612, 47.8580, 18.3852), (36.2715, 50.5065, 21.2231), 1.4146),
    ((90.8027, -2.0831, 1.4410), (91.1528, -1.6435, 0.0447), 1.4441),
    ((90.9257, -0.5406, -0.9208), (88.6381, -0.8985, -0.7239), 1.5381),
    ((6.7747, -0.2908, -2.4247), (5.8714, -0.0985, -2.2286), 0.6377),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
]


def test_sharma_table_all_pairs(kernel):
    lab1 = np.array([p[0] for p in SHARMA])
    lab2 = np.array([p[1] for p in SHARMA])
    want = np.array([p[2] for p in SHARMA])
    got = delta_e_2000(lab1, lab2, kernel=kernel)
    assert len(SHARMA) == 34
    np.testing.assert_allclose(got, want, rtol=0, atol=5e-5 + 1e-9)  # the table has 4 decimals


def test_symmetric_and_zero(kernel):
    lab1 = np.array([p[0] for p in SHARMA])
    lab2 = np.array([p[1] for p in SHARMA])
    np.testing.assert_allclose(delta_e_2000(lab1, lab2, kernel=kernel), delta_e_2000(lab2, lab1, kernel=kernel),
                               atol=1e-12)
    assert float(delta_e_2000([42.0, -3.0, 17.0], [42.0, -3.0, 17.0], kernel=kernel)) == 0.0
    # both neutral: no division by zero
    assert float(delta_e_2000([50.0, 0.0, 0.0], [60.0, 0.0, 0.0], kernel=kernel)) > 0


def test_matches_colour_science_on_random_pairs(kernel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import colour
    rng = np.random.default_rng(7)
    lab1 = np.column_stack([rng.random(5000) * 100, rng.normal(0, 40, 5000), rng.normal(0, 40, 5000)])
    lab2 = lab1 + rng.normal(0, 8, lab1.shape)
    ours = delta_e_2000(lab1, lab2, kernel=kernel)
    ref = colour.delta_E(lab1, lab2, method="CIE 2000")
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-10)


def test_broadcast_and_shapes(kernel):
    lab = np.zeros((2, 3, 3))
    assert delta_e_2000(lab, [10.0, 0.0, 0.0], kernel=kernel).shape == (2, 3)
    # pure lightness difference: ΔE00 = ΔL / S_L with S_L at the mean L* = 5
    np.testing.assert_allclose(delta_e_2000(lab, [10.0, 0.0, 0.0], kernel=kernel),
                               10.0 / (1 + 0.015 * 2025 / np.sqrt(20 + 2025)))


def test_kernels_agree_on_real_photos():
    """The numba kernel against the numpy path on every pixel of two real photos and a graded, noisy copy
    of each (scikit-image's astronaut and coffee, sRGB -> ACEScg -> Lab): within 1e-12 ΔE, same mean to
    1e-13, NaN where the numpy path gives NaN."""
    if not deltae.available():
        pytest.skip("numba is not installed (the fast extra)")
    from skimage import data

    from core.color import convert

    rng = np.random.default_rng(3)
    for photo in (data.astronaut(), data.coffee()):
        rgb = convert(photo[..., :3].astype(np.float32) / 255.0, "sRGB", "ACEScg")
        other = (rgb * np.float32(1.04) + rng.normal(0, 0.01, rgb.shape)).astype(np.float32)
        lab1 = convert(rgb, "ACEScg", "Lab", nonfinite="pass")
        lab2 = convert(other, "ACEScg", "Lab", nonfinite="pass")
        lab2[0, :3] = np.nan
        ref = delta_e_2000(lab1, lab2, kernel="numpy")
        got = delta_e_2000(lab1, lab2, kernel="numba")
        assert got.shape == ref.shape == photo.shape[:2] and got.dtype == np.float64
        assert np.isnan(got[0, :3]).all() and np.array_equal(np.isnan(got), np.isnan(ref))
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)
        assert abs(np.nanmean(got) - np.nanmean(ref)) < 1e-13
        assert np.nanmean(ref) > 0.5  # the copy does differ


def test_kernels_agree_where_the_hue_vectors_are_ill_conditioned():
    """The numba kernel takes hues as unit vectors; where their sum is short (nearly opposite hues) or a chroma
    is 0 it goes by the angles. Pairs on both sides of that switch, near-equal hues, one chroma 0 and
    near-greys: within 1e-12 of the numpy path (measured 4.3e-14)."""
    if not deltae.available():
        pytest.skip("numba is not installed (the fast extra)")
    rng = np.random.default_rng(11)
    n = 20000
    hue = rng.uniform(0, 2 * np.pi, n)
    c1, c2, light = rng.uniform(0, 40, n), rng.uniform(0, 40, n), rng.uniform(0, 100, n)
    # hue differences from 180 degrees: 1e-12 .. 0.5 rad, either side (exactly opposite, CIEDE2000's mean hue
    # jumps by 180 degrees, and which side a pair takes is rounding's choice, in either kernel)
    gap = 10.0 ** rng.uniform(-12, np.log10(0.5), n) * rng.choice([-1, 1], n)

    def lab(c, h):
        return np.column_stack([light, c * np.cos(h), c * np.sin(h)])

    first = lab(c1, hue)
    for second in (lab(c2, hue + np.pi + gap), lab(c2, hue + gap), lab(c2 * 1e-4, hue + np.pi + gap)):
        second[::7, 1:] = 0.0  # a zero chroma
        pair = (first, second)
        np.testing.assert_allclose(delta_e_2000(*pair, kernel="numba"), delta_e_2000(*pair, kernel="numpy"),
                                   rtol=0, atol=1e-12)
    greys = np.column_stack([light, rng.normal(0, 0.01, n), rng.normal(0, 0.01, n)])
    other = greys + rng.normal(0, 0.01, greys.shape)
    np.testing.assert_allclose(delta_e_2000(greys, other, kernel="numba"),
                               delta_e_2000(greys, other, kernel="numpy"), rtol=0, atol=1e-12)


def test_unknown_kernel_is_one_error():
    with pytest.raises(ParameterError, match="kernel"):
        delta_e_2000([50.0, 0.0, 0.0], [50.0, 1.0, 0.0], kernel="cuda")


def test_delta_e_ok_is_euclidean_times_100():
    assert float(delta_e_ok([0.5, 0.0, 0.0], [0.5, 0.03, 0.04])) == pytest.approx(5.0, abs=1e-12)
    assert float(delta_e_76([50.0, 0.0, 0.0], [50.0, 3.0, 4.0])) == pytest.approx(5.0, abs=1e-12)
