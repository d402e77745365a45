"""Encoding: exact nearest entry, independence from chunks/threads/BLAS, outputs, gradient order."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import ImageError, ParameterError
from core.palette import (
    SPACES,
    acescg_to_fit,
    decode,
    encode,
    fit_palette,
    gradient_map,
    index_dtype_for,
)
from core.palette.assign import HDR_LIMIT, SDR_LIMIT, U_BITS, key_matrix, nearest_u_array
from core.palette.order import gradient_order, path_metric
from core.palette.spaces import Workspace, rgb_to_u
from tests.test_palette_operator import KNOWN, exact_random, palette_image


def _u(rgb: np.ndarray, space) -> np.ndarray:
    flat = np.ascontiguousarray(rgb.reshape(-1, 3), np.float32)
    ws = Workspace(len(flat)).view(len(flat))
    return np.stack(rgb_to_u(space, flat[:, 0], flat[:, 1], flat[:, 2], ws), axis=1).copy()


# -- exactness and determinism ---------------------------------------------------------------------


@pytest.mark.parametrize("space", ["oklab", "lab"])
@pytest.mark.parametrize("k", [2, 16, 256])
def test_keys_from_blas_equal_exact_integer_arithmetic(space, k):
    """The float64 matrix product is the exact integer result (so BLAS, threads and CPU cannot change it)."""
    sp = SPACES[space]
    rng = np.random.default_rng(k)
    centres = acescg_to_fit((rng.random((k, 3)) * 2).astype(np.float32), space)
    keys = key_matrix(centres, sp)
    u = _u(np.concatenate([rng.random((5_000, 3)) * 3, rng.random((100, 3)) * 40000]).astype(np.float32), sp)
    uq = np.rint(np.clip(u * np.float32(2.0**U_BITS), -HDR_LIMIT, HDR_LIMIT)).astype(np.float64)
    ubuf = np.vstack([uq.T, np.ones(len(uq))])
    fine = np.abs(uq).max(axis=1) <= SDR_LIMIT
    for matrix, cols in ((keys.fine, fine), (keys.coarse, slice(None))):
        sub = ubuf[:, cols]
        # every partial sum, in any order, is bounded by the sum of absolute values
        assert (np.abs(matrix) @ np.abs(sub)).max() < 2.0**53
        blas = matrix @ sub
        exact = matrix.astype(np.int64) @ sub.astype(np.int64)  # integer matmul: numpy's own loop, no BLAS
        assert np.array_equal(blas.astype(np.int64), exact)


@pytest.mark.parametrize("space", ["oklab", "lab"])
@pytest.mark.parametrize("k", [12, 64])
def test_assignment_is_the_nearest_entry(space, k):
    """The chosen entry is the nearest one to within 0.002 ΔE (float64 brute force as reference)."""
    sp = SPACES[space]
    rng = np.random.default_rng(k)
    centres = acescg_to_fit((rng.random((k, 3)) * 1.2).astype(np.float32), space).astype(np.float64)
    rgb = np.concatenate([rng.random((20_000, 3)) * 1.5, rng.random((500, 3)) * 5000]).astype(np.float32)
    u = _u(rgb, sp)
    got = nearest_u_array(u, centres, sp)
    A = np.array(sp.post)
    x = u.astype(np.float64) @ A.T + np.array(sp.offset)
    d = np.sqrt(((x[:, None, :] - centres[None]) ** 2).sum(-1)) * sp.scale
    excess = d[np.arange(len(d)), got] - d.min(axis=1)
    spacing = np.sqrt(((centres[:, None] - centres[None]) ** 2).sum(-1))[np.triu_indices(k, 1)].min() * sp.scale
    assert spacing > 0.5  # random palettes: nearest two entries about half a ΔE apart or more
    assert excess.max() < 0.002, excess.max()
    assert (got == d.argmin(axis=1)).mean() > 0.9995


def test_ties_go_to_the_lowest_index():
    sp = SPACES["oklab"]
    c = acescg_to_fit(np.array([[0.2, 0.2, 0.2], [0.2, 0.2, 0.2], [0.5, 0.1, 0.1]], np.float32), "oklab")
    u = _u(np.array([[0.2, 0.2, 0.2], [0.21, 0.2, 0.2]], np.float32), sp)
    assert nearest_u_array(u, c, sp).tolist() == [0, 0]


def test_encode_is_independent_of_chunks_and_threads():
    img = exact_random((90, 110, 4), seed=9)
    img[..., 3] = np.where(img[..., 3] < 0.2, 0.0, img[..., 3])  # some transparent pixels
    fit = fit_palette(img, k=7, seed=1)
    ref = encode(img, fit)
    for chunk, threads in ((1, 1), (997, 1), (4096, 2), (333, 3), (10**6, 4)):
        enc = encode(img, fit, chunk=chunk, threads=threads)
        assert enc.index.tobytes() == ref.index.tobytes(), (chunk, threads)
        assert enc.distance.tobytes() == ref.distance.tobytes(), (chunk, threads)
        assert enc.counts.tolist() == ref.counts.tolist()


def test_encode_twice_identical_and_fit_sample_consistent():
    img = palette_image(KNOWN, noise=0.02)
    fit = fit_palette(img, k=5)
    a, b = encode(img, fit), encode(img, fit)
    assert a.index.tobytes() == b.index.tobytes()
    # every pixel was in the fit (small image), so the encoder's counts are the fit's
    assert a.counts.tolist() == fit.counts.tolist()


# -- outputs ------------------------------------------------------------------------------------------


def test_outputs_shapes_types_and_decode():
    img = palette_image(KNOWN, noise=0.0)
    fit = fit_palette(img, k=5)
    enc = encode(img, fit)
    assert enc.index.dtype == np.uint8 and enc.index.shape == img.shape[:2]
    assert enc.mask is None
    np.testing.assert_allclose(enc.reconstruction(), img, atol=1e-5)  # noiseless: exact colours back
    assert enc.distance.max() < 0.01
    assert enc.output("index").shape == img.shape[:2] + (1,)
    assert enc.output("gradient").dtype == np.float32
    assert enc.output("reconstruction").shape == img.shape
    assert enc.output("distance").shape == img.shape[:2] + (1,)
    g = enc.gradient()
    assert g.min() == 0.0 and g.max() == 1.0
    np.testing.assert_array_equal(g, fit.positions[enc.index])
    np.testing.assert_array_equal(decode(enc.index, fit.palette_acescg), enc.reconstruction())
    no_dist = encode(img, fit, distance=False)
    assert no_dist.distance is None
    with pytest.raises(ParameterError, match="distance"):
        no_dist.output("distance")
    with pytest.raises(ParameterError, match="'output'"):
        enc.output("luma")


def test_distance_is_the_fit_space_distance_in_delta_e_units():
    img = palette_image(KNOWN, noise=0.02, h=30, w=30)
    for space, scale in (("oklab", 100.0), ("lab", 1.0)):
        fit = fit_palette(img, k=5, space=space)
        enc = encode(img, fit)
        x = acescg_to_fit(img, space).astype(np.float64)
        want = np.sqrt(((x - fit.palette.astype(np.float64)[enc.index]) ** 2).sum(-1)) * scale
        np.testing.assert_allclose(enc.distance, want, rtol=1e-4, atol=2e-3)


def test_index_dtypes():
    assert index_dtype_for(8) == np.uint8
    assert index_dtype_for(255) == np.uint8
    assert index_dtype_for(256) == np.uint16
    assert index_dtype_for(8, "uint16") == np.uint16
    with pytest.raises(ParameterError, match="uint8 holds at most 255"):
        index_dtype_for(256, "uint8")
    img = palette_image(KNOWN, noise=0.0, h=16, w=16)
    fit = fit_palette(img, k=5)
    e16 = encode(img, fit, index_dtype="uint16")
    assert e16.index.dtype == np.uint16
    np.testing.assert_array_equal(e16.index, encode(img, fit).index)


def test_k_256_uses_uint16_with_masked_65535():
    img = exact_random((40, 40, 4), seed=3)
    img[:4, :, 3] = 0.0
    fit = fit_palette(img, k=256, max_iter=5)
    enc = encode(img, fit)
    assert enc.index.dtype == np.uint16
    assert (enc.index[:4] == 65535).all() and enc.index[4:].max() <= 255
    assert enc.reconstruction()[:4].max() == 0.0


def test_decode_and_gradient_refuse_foreign_indices():
    with pytest.raises(ImageError, match="value 7 at x=1 y=0"):
        decode(np.array([[0, 7]], np.uint8), np.zeros((3, 3), np.float32))
    with pytest.raises(ImageError, match="uint8/uint16"):
        gradient_map(np.zeros((2, 2), np.int32), np.zeros(3))
    np.testing.assert_array_equal(gradient_map(np.array([[0, 255]], np.uint8), [0.25, 1.0]), [[0.25, 0.0]])


# -- gradient order ------------------------------------------------------------------------------------


def _oklch(L, C, h_deg):
    h = np.radians(h_deg)
    return np.column_stack([L, C * np.cos(h), C * np.sin(h)])


@pytest.mark.parametrize("k", [8, 20])  # exact (Held-Karp) and heuristic (2-opt) solvers
def test_gradient_order_follows_hue(k):
    hues = np.linspace(0.0, 270.0, k)  # an open arc of hues
    pal = _oklch(np.full(k, 0.7), np.full(k, 0.12), hues)
    rng = np.random.default_rng(k)
    perm = rng.permutation(k)
    order, pos = gradient_order(pal[perm], SPACES["oklab"])
    walked = hues[perm][order]
    steps = np.diff(walked)
    assert np.all(steps > 0) or np.all(steps < 0), walked  # monotone in hue: neighbours adjacent in hue
    assert pos[0] == 0.0 and pos[-1] == 1.0 and np.all(np.diff(pos) > 0)
    np.testing.assert_allclose(np.diff(pos), 1.0 / (k - 1), rtol=1e-6)  # equal steps for equal hue spacing


def test_gradient_order_of_fire_runs_dark_to_light():
    fire_srgb_linear = np.array([
        [0.002, 0.002, 0.002],  # black smoke
        [0.25, 0.01, 0.005],  # deep red
        [0.8, 0.08, 0.01],  # red
        [1.0, 0.3, 0.02],  # orange
        [1.0, 0.75, 0.1],  # yellow
        [1.0, 1.0, 0.9],  # white core
    ], np.float32)
    from core.color import convert

    acescg = convert(fire_srgb_linear, "lin_rec709", "ACEScg")
    pal = acescg_to_fit(acescg, "oklab")
    perm = np.array([3, 0, 5, 1, 4, 2])
    order, _ = gradient_order(pal[perm], SPACES["oklab"])
    assert perm[order].tolist() == [0, 1, 2, 3, 4, 5]


def test_fit_stores_palette_in_gradient_order():
    img = palette_image(KNOWN, noise=0.0)
    fit = fit_palette(img, k=5)
    d = path_metric(fit.palette, SPACES["oklab"])
    path_len = sum(d[i, i + 1] for i in range(4))
    import itertools

    best = min(sum(d[p[i], p[i + 1]] for i in range(4)) for p in itertools.permutations(range(5)))
    assert path_len == pytest.approx(best, rel=1e-12)
    assert fit.palette[0, 0] <= fit.palette[-1, 0]  # dark end first
