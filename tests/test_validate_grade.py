"""Grade baselines: known transforms recovered from real-image pairs, .cube round trips through OCIO."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import FormatError, ImageError, ImageReadError, ParameterError
from core import metrics
from core.validate import GradeFit, fit_grade, fit_grade_frames, ocio_apply_cube
from core.validate.grade import CUBE_TOLERANCE, root_poly_terms
from core.validate.shaper import Shaper
from tests.conftest import srgb_sample

# A plausible camera/print crosstalk matrix (rows: output r, g, b).
MATRIX = np.array([[1.10, 0.05, -0.02], [0.03, 0.90, 0.08], [-0.04, 0.10, 1.20]])


def _acescg(name: str, step: int = 3) -> np.ndarray:
    """A shipped photo, decoded and converted to ACEScg with colour-science (independent of core.color)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import colour
    srgb = srgb_sample(name)[::step, ::step]
    lin = colour.models.eotf_sRGB(srgb.astype(np.float64))
    m = colour.matrix_RGB_to_RGB(colour.RGB_COLOURSPACES["sRGB"], colour.RGB_COLOURSPACES["ACEScg"],
                                 chromatic_adaptation_transform="Bradford")
    return (lin @ m.T).astype(np.float32)


def _apply_matrix(img: np.ndarray, m: np.ndarray) -> np.ndarray:
    return (img.reshape(-1, 3).astype(np.float64) @ m.T).reshape(img.shape).astype(np.float32)


@pytest.fixture(scope="module")
def photo():
    return _acescg("coffee.png")


def test_matrix_recovered_exactly(photo):
    ref = _apply_matrix(photo, MATRIX)
    fit = fit_grade(photo, ref, method="matrix")
    assert fit.success and fit.method == "matrix"
    np.testing.assert_allclose(fit.matrix, MATRIX, atol=1e-6)
    assert fit.rms < 1e-6
    np.testing.assert_allclose(fit.apply(photo), ref, atol=1e-5)


def test_mask_excludes_garbage(photo):
    ref = _apply_matrix(photo, MATRIX)
    h, w = photo.shape[:2]
    ref[: h // 3] = 5.0 * ref[: h // 3, ::-1]  # unrelated pixels where the mask is 0
    mask = np.ones((h, w), bool)
    mask[: h // 3] = False
    np.testing.assert_allclose(fit_grade(photo, ref, mask=mask).matrix, MATRIX, atol=1e-6)
    assert np.abs(fit_grade(photo, ref).matrix - MATRIX).max() > 0.05  # without the mask it is wrong


def test_fit_over_several_frames(photo):
    other = _acescg("astronaut.png", step=4)
    srcs = [photo, other]
    refs = [_apply_matrix(s, MATRIX) for s in srcs]
    a = fit_grade(srcs, refs, method="matrix", seed=3)
    b = fit_grade_frames(iter(zip(srcs, refs, [None, None])), method="matrix", seed=3)
    assert a.n_frames == 2 and a.n_samples == photo.shape[0] * photo.shape[1] + other.shape[0] * other.shape[1]
    np.testing.assert_allclose(a.matrix, MATRIX, atol=1e-6)
    np.testing.assert_array_equal(a.coefficients, b.coefficients)


@pytest.mark.parametrize("degree", [2, 3])
def test_root_poly_recovers_known_root_poly(photo, degree):
    rng = np.random.default_rng(degree)
    n_terms = 6 if degree == 2 else 13
    coef = np.zeros((n_terms, 3))
    coef[:3] = MATRIX.T
    coef[3:] = rng.uniform(-0.05, 0.05, (n_terms - 3, 3))
    ref = (root_poly_terms(photo.reshape(-1, 3), degree) @ coef).reshape(photo.shape).astype(np.float32)
    fit = fit_grade(photo, ref, method="root_poly", degree=degree)
    # degree 3's 13 terms are nearly collinear: float32 rounding of ref moves them by up to ~1e-4
    np.testing.assert_allclose(fit.coefficients, coef, atol=1e-5 if degree == 2 else 5e-4)
    np.testing.assert_allclose(fit.apply(photo), ref, atol=2e-6)
    # every term scales with exposure: so does the fit
    np.testing.assert_allclose(fit.apply(photo * 4.0), fit.apply(photo) * 4.0, rtol=1e-5, atol=1e-6)


def test_matrix_cube_through_ocio_matches_apply(tmp_path, photo):
    fit = fit_grade(photo, _apply_matrix(photo, MATRIX), method="matrix")
    path = fit.write_cube(tmp_path / "matrix.cube")
    text = path.read_text().splitlines()
    assert "LUT_3D_SIZE 33" in text and "LUT_1D_SIZE 4096" in text
    assert len([ln for ln in text if ln and (ln[0].isdigit() or ln[0] == "-")]) == 4096 + 33**3
    # natural image: under one sRGB code value
    got, want = ocio_apply_cube(path, photo), fit.apply(photo)
    keep = photo.max(axis=-1) > 2**-6
    diff = np.abs(metrics.encode(got) - metrics.encode(want))
    assert diff[keep].max() <= CUBE_TOLERANCE["srgb_natural"]
    # random colours over 6 stops: within 1% of the brightest channel
    rng = np.random.default_rng(0)
    x = np.exp2(rng.uniform(-6, 0, (20000, 3))).astype(np.float32) * fit.shaper.hi
    got, want = ocio_apply_cube(path, x), fit.apply_rgb(x)
    rel = np.abs(got - want).max(axis=1) / np.abs(want).max(axis=1)
    assert rel.max() <= CUBE_TOLERANCE["relative_to_brightest"]
    # the baked LUT evaluated by us is what OCIO evaluates
    np.testing.assert_allclose(fit.baked(33).apply_rgb(x), got, atol=CUBE_TOLERANCE["lut3d"] * 4, rtol=1e-5)


def test_lut3d_round_trip_of_a_smooth_transform(tmp_path, photo):
    """Fit a known smooth non-linear grade, export .cube, apply via OCIO, compare with the truth and our apply."""
    def truth(x):
        return (0.9 * np.maximum(x, 0.0) ** 1.15 @ MATRIX.T).astype(np.float32)

    half = photo.shape[0] // 2
    train, held = photo[:half], photo[half:]  # fit on the top half, check on the unseen bottom half
    fit = fit_grade(train, truth(train), method="lut3d", lut_size=17)
    rp = fit_grade(train, truth(train), method="root_poly")
    err_lut = np.abs(fit.apply(held) - truth(held)).mean()
    assert err_lut < 0.5 * np.abs(rp.apply(held) - truth(held)).mean()  # far better than its root-poly seed
    assert err_lut < 2e-3
    path = fit.write_cube(tmp_path / "lut.cube")
    assert "LUT_3D_SIZE 17" in path.read_text()
    via_ocio = ocio_apply_cube(path, held)
    np.testing.assert_allclose(via_ocio, fit.apply(held), atol=CUBE_TOLERANCE["lut3d"])
    d = np.abs(metrics.encode(via_ocio) - metrics.encode(truth(held)))
    assert np.percentile(d, 99) < 3 / 255  # measured 2.0 code values (17³ nodes)


def test_save_load_round_trip(tmp_path, photo):
    fit = fit_grade(photo, _apply_matrix(photo, MATRIX), method="lut3d", lut_size=9)
    again = GradeFit.load(fit.save(tmp_path / "g.json"))
    np.testing.assert_allclose(again.apply(photo), fit.apply(photo), atol=1e-6)
    assert again.to_dict() == fit.to_dict()
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(FormatError, match=r"bad.json: format None, expected reelkit.grade/1"):
        GradeFit.load(tmp_path / "bad.json")
    (tmp_path / "bad.json").write_text("[]")
    with pytest.raises(ImageReadError, match="bad.json: not a reelkit.grade/1 file"):
        GradeFit.load(tmp_path / "bad.json")


def test_failed_fit_says_why_and_refuses_to_apply():
    grey = np.full((32, 32, 3), 0.18, np.float32)
    fit = fit_grade(grey, grey * 1.2, method="root_poly")
    assert not fit.success and "rank" in fit.reason
    with pytest.raises(ParameterError, match="failed"):
        fit.apply(grey)
    few = fit_grade(grey, grey, mask=np.zeros((32, 32), bool))
    assert not few.success and "valid pixels" in few.reason


def test_bad_inputs(photo):
    with pytest.raises(ParameterError, match="method"):
        fit_grade(photo, photo, method="curves")
    with pytest.raises(ImageError, match="reference shape"):
        fit_grade(photo, photo[:10])
    with pytest.raises(ImageError, match="mask shape"):
        fit_grade(photo, photo, mask=np.ones((3, 3), bool))
    with pytest.raises(ParameterError, match="as many"):
        fit_grade([photo, photo], [photo])


def test_shaper_table_inverse_is_exact():
    s = Shaper(16.0)
    x = np.linspace(0, 16, 1001)
    np.testing.assert_allclose(s.inverse(s.forward(x)), x, atol=1e-4)
    assert s.forward(np.array([-1.0, 100.0])).tolist() == [0.0, 1.0]  # clamps
    np.testing.assert_allclose(s.curve_inverse(s.curve(x)), x, atol=1e-9)


def test_adobe_style_cube_pair_through_ocio(tmp_path, photo):
    """Adobe's spec allows one table per file: a 1D shaper .cube, then the 3D .cube; together as our apply."""
    fit = fit_grade(photo, _apply_matrix(photo, MATRIX), method="lut3d", lut_size=9)
    lut = fit.write_cube(tmp_path / "grade.cube", style="adobe")
    shaper = tmp_path / "grade_shaper.cube"
    assert "LUT_3D_SIZE 9" in lut.read_text() and "LUT_1D_SIZE" not in lut.read_text()
    assert "LUT_1D_SIZE 4096" in shaper.read_text() and "DOMAIN_MAX 1 1 1" in shaper.read_text()
    np.testing.assert_allclose(ocio_apply_cube([shaper, lut], photo), fit.apply(photo),
                               atol=CUBE_TOLERANCE["lut3d"])
    with pytest.raises(ParameterError, match="style"):
        fit.write_cube(tmp_path / "x.cube", style="iridas")


def test_fits_of_one_draw_share_solves_without_changing_them(photo):
    """Fits of one :class:`Samples` draw share the root-polynomial solve (``lut3d``'s seed is the degree-2
    ``root_poly`` fit): each fit is bit-identical to the same fit on a fresh draw, whatever ran before it,
    and a degree-3 ``root_poly`` does not stand in for the degree-2 seed."""
    from core.validate.grade import fit_grade_samples, sample_frames

    truth = (0.9 * np.maximum(photo, 0) ** 1.1 @ MATRIX.T).astype(np.float32)

    def draw():
        return sample_frames([(photo, truth, None)], max_samples=20_000, seed=2)

    shared = draw()
    order = [("root_poly", 3), ("root_poly", 2), ("lut3d", 2), ("matrix", 2)]
    fits = [fit_grade_samples(shared, method=m, degree=d, lut_size=9) for m, d in order]
    assert set(shared.solves) == {("root_poly", 3, True), ("root_poly", 2, True), ("matrix", 0, True)}
    for (m, d), fit in zip(order, fits):
        alone = fit_grade_samples(draw(), method=m, degree=d, lut_size=9)
        assert fit.success and alone.success
        if m == "lut3d":
            assert np.array_equal(fit.lut, alone.lut)
        else:
            assert np.array_equal(fit.coefficients, alone.coefficients)
        assert fit.rms == alone.rms
