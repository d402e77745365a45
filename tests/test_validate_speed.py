"""What makes stage 5 fast changes no number: each shortcut against the plain computation, on real photos.

The shortcuts: :class:`core.metrics.ReferenceScorer` (the reference's share prepared once, its valid
pixels gathered by index), slices for the per-pixel steps (SSIM past its window means, CIEDE2000, the 3D
LUT), the 3D LUT's numba loop, the LUT regrade of
only the pixels dust busting changed, one pixel draw for every grade fit, and the thread pool of
``run_validation``. Timings are in ``benchmarks/validate_bench.py --stage``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.validate import baselines as B
from core import metrics as M
from core.metrics.structural import CHUNK
from core.validate.grade import fit_grade, fit_grade_frames, fit_grade_samples, lut_apply, sample_frames
from tests.conftest import srgb_sample


@pytest.fixture(scope="module")
def frames():
    """Three frames of a pan over a real photo (ACEScg), the middle one faded and dusted; its reference."""
    from core.color import convert

    plate = convert(srgb_sample("coffee.png"), "srgb", "ACEScg").astype(np.float32)
    h, w = 200, 260  # more pixels than one slice of the per-pixel steps (CHUNK)
    views = [np.ascontiguousarray(plate[40:40 + h, 30 + 2 * k:30 + 2 * k + w]) for k in range(3)]
    fade = np.array([[0.8, 0.12, 0.0], [0.05, 0.78, 0.1], [0.02, 0.1, 0.7]], np.float32)
    src = [np.ascontiguousarray((v.reshape(-1, 3) @ fade.T).reshape(v.shape) + 0.01) for v in views]
    rng = np.random.default_rng(3)
    for y, x in rng.integers(5, [h - 5, w - 5], (12, 2)):
        src[1][y - 1:y + 2, x - 1:x + 2] = 2.0  # dust on the middle frame only
    return src, views[1]


def test_reference_scorer_equals_each_metric_on_its_own(frames):
    src, ref = frames
    assert ref.shape[0] * ref.shape[1] > CHUNK
    mask = np.ones(ref.shape[:2], np.float32)
    mask[:, :9] = 0.0
    mask[60:90, 100:140] = 0.3
    holed = src[1].copy()
    holed[5:9, 200:210, 2] = np.nan  # a result with non-finite pixels takes the slow path
    for m in (None, mask):
        scorer = M.ReferenceScorer(ref, m)
        assert scorer.stats == M.frame_stats(ref, m)
        for img in (src[1], holed, ref):
            got = scorer.score(img)
            assert got["psnr"] == M.psnr(img, ref, m)
            assert got["ssim"] == pytest.approx(M.ssim(img, ref, m), abs=1e-12)
            assert got["delta_e"] == M.delta_e(img, ref, m)
            assert got["stats"] == M.frame_stats(img, m)
            assert got["valid"] == int(M.valid_mask(m, img.shape, img, ref).sum())
            assert got == M.frame_metrics(img, ref, m)


def test_ssim_valid_pixels_by_opencv_erosion_equal_scipy():
    """The pixels whose whole SSIM window is valid: OpenCV's erosion gives scipy's binary_erosion (outside the
    image counts as valid), cropped by half a window, on random masks, holes at the borders and a full mask."""
    from scipy.ndimage import binary_erosion

    from core.metrics.image import _ssim_keep

    rng = np.random.default_rng(2)
    masks = [rng.random((40 + k, 57 - k)) > p for k, p in enumerate((0.02, 0.1, 0.5))]
    edge = np.ones((30, 31), bool)
    edge[0, 5], edge[:, -1], edge[12:15, 2] = False, False, False
    masks += [edge, np.ones((9, 9), bool), edge[:, ::2]]  # the last one not contiguous
    for m in masks:
        want = np.zeros_like(m)
        want[3:m.shape[0] - 3, 3:m.shape[1] - 3] = True
        want &= binary_erosion(m, structure=np.ones((7, 7), bool), border_value=1)
        assert np.array_equal(_ssim_keep(m), want)


def test_ssim_map_in_slices_equals_scikit_image_and_one_pass(frames):
    from skimage.metrics import structural_similarity

    src, ref = frames
    a, b = M.encode(src[1]).astype(np.float64), M.encode(ref).astype(np.float64)
    _, full = structural_similarity(a, b, channel_axis=-1, data_range=1.0, full=True)
    np.testing.assert_allclose(M.ssim_map(a, b), full.mean(axis=-1), atol=1e-12)


def test_lut_in_slices_and_the_dust_regrade_are_bit_identical(frames):
    src, ref = frames
    fit = fit_grade(src[1], ref, method="lut3d", lut_size=9, max_samples=5000)
    whole = lut_apply(fit.lut, fit.shaper.forward(src[1].reshape(-1, 3)))
    assert np.array_equal(fit.apply(src[1]).reshape(-1, 3), whole)
    fits = {"lut3d": fit, "matrix": fit_grade(src[1], ref, method="matrix", max_samples=5000)}
    names = ("grade_lut3d", "dust_bust+grade_lut3d", "grade_matrix", "dust_bust+grade_matrix")
    seen = []
    together = B.run_baselines(names, src[1], prev=src[0], next=src[2], grades=fits,
                               ready=lambda name, img: seen.append(name))
    assert seen == list(names)
    busted = B.run_baseline("dust_bust", src[1], prev=src[0], next=src[2])
    assert 0 < (busted != src[1]).any(axis=-1).mean() < B._REGRADE_FRACTION  # the regrade path was taken
    for name in names:
        assert np.array_equal(together[name], B.run_baseline(name, src[1], prev=src[0], next=src[2], grades=fits))
    assert np.array_equal(together["dust_bust+grade_lut3d"], fit.apply(busted))


def test_lut_kernels_give_the_same_bits(frames):
    """The numba trilinear loop does numpy's float operations in numpy's order: the same float32 bits, on a
    real photo's shaper values, on values past 0..1 (clamped) and on every node exactly."""
    from core.validate.grade import _lut_kernel_available

    if not _lut_kernel_available():
        pytest.skip("numba is not installed (the fast extra)")
    src, ref = frames
    fit = fit_grade(src[1], ref, method="lut3d", lut_size=9, max_samples=5000)
    nodes = np.repeat((np.arange(9, dtype=np.float32) / 8)[:, None], 3, axis=1)
    u = np.concatenate([fit.shaper.forward(src[1].reshape(-1, 3)),
                        np.random.default_rng(0).uniform(-0.5, 1.5, (4096, 3)).astype(np.float32), nodes,
                        np.array([[0, 1, 0], [np.nextafter(np.float32(1), np.float32(0))] * 3], np.float32)])
    assert np.array_equal(lut_apply(fit.lut, u, kernel="numba"), lut_apply(fit.lut, u, kernel="numpy"))


def test_one_draw_serves_every_fit(frames):
    src, ref = frames
    pairs = [(src[1], ref, None), (src[0], ref, None)]
    drawn = sample_frames(pairs, max_samples=4000, seed=5)
    assert drawn.n_frames == 2 and drawn.src.shape == (8000, 3)
    for method in ("matrix", "root_poly", "lut3d"):
        a = fit_grade_samples(drawn, method=method, lut_size=9, seed=5)
        b = fit_grade_frames(iter(pairs), method=method, lut_size=9, max_samples=4000, seed=5)
        assert a.to_dict() == b.to_dict()
        assert np.array_equal(a.apply(src[1]), b.apply(src[1]))


def test_validation_is_the_same_with_one_worker(frames, tmp_path, monkeypatch):
    """The thread pool only schedules: one worker gives the same per-frame records, bit for bit."""
    from core import io
    from core.validate import run, run_validation

    src, ref = frames
    for k, n in enumerate((1001, 1002, 1003)):
        io.write_image(tmp_path / "src" / f"src.{n}.exr", src[k], colorspace="ACEScg", pixel_type="float")
        io.write_image(tmp_path / "ref" / f"ref.{n}.exr", ref, colorspace="ACEScg", pixel_type="float")
    args = dict(sources=tmp_path / "src" / "src.####.exr", references=tmp_path / "ref" / "ref.####.exr",
                baselines=("grade_lut3d", "dust_bust+grade_lut3d"), params={"lut_size": 9, "compare_frames": 0,
                                                                           "max_samples": 5000})
    many = run_validation(output_dir=tmp_path / "many", **args)
    monkeypatch.setattr(run, "_workers", lambda: 1)
    one = run_validation(output_dir=tmp_path / "one", **args)
    assert json.dumps(many.rows) == json.dumps(one.rows)  # NaN (a shot's first flicker) written alike
    for n in (1001, 1002, 1003):
        name = f"dust_bust-grade_lut3d/dust_bust-grade_lut3d.{n}.exr"
        assert np.array_equal(io.read_image(many.output_dir / "baselines" / name).pixels,
                              io.read_image(one.output_dir / "baselines" / name).pixels)
