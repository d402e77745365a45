"""Classic baselines: dust busting on a real moving sequence with planted specks; denoise; unsharp; the table."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import ImageError, ParameterError
from core import metrics
from core.validate import BASELINES, filters, parse_baselines, run_baseline
from tests.conftest import srgb_sample

H, W = 160, 200


@pytest.fixture(scope="module")
def plate():
    from core.color import convert

    return convert(srgb_sample("astronaut.png")[::2, ::2], "srgb", "ACEScg").astype(np.float32)


def _frames(plate, pan: int) -> list[np.ndarray]:
    """Frames n-1, n, n+1 of a camera pan of ``pan`` pixels per frame across the real photo."""
    return [np.ascontiguousarray(plate[60:60 + H, 40 + pan * t: 40 + pan * t + W]) for t in range(3)]


def _plant(frame: np.ndarray, seed: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Dark and bright 3x3 specks (dirt and dust on a print); returns (dusty frame, speck mask)."""
    rng = np.random.default_rng(seed)
    dusty = frame.copy()
    where = np.zeros(frame.shape[:2], bool)
    for y, x in rng.integers(8, [H - 8, W - 8], (24, 2)):
        dusty[y - 1:y + 2, x - 1:x + 2] = 0.002 if rng.random() < 0.5 else 2.5
        where[y - 1:y + 2, x - 1:x + 2] = True
    return dusty, where


@pytest.mark.parametrize("pan", [0, 3])
def test_dust_busting_removes_planted_specks(plate, pan):
    prev, clean, nxt = _frames(plate, pan)
    dusty, specks = _plant(clean)
    r = filters.dust_bust(dusty, prev, nxt)
    # specks that show on a display (a dark speck on the black suit does not)
    visible = specks & (np.abs(metrics.encode(dusty) - metrics.encode(clean)).max(axis=-1) > 0.1)
    assert visible.sum() > 0.8 * specks.sum()
    # a speck within `search` pixels of something as dark (or bright) in frames n±1 can be missed (module doc)
    assert (r.mask & visible).sum() / visible.sum() >= 0.95
    before = np.abs(dusty - clean)[visible].mean()
    after = np.abs(r.image - clean)[visible].mean()
    assert after < 0.1 * before
    # every pixel outside the repair mask is untouched, bit for bit
    np.testing.assert_array_equal(r.image[~r.mask], dusty[~r.mask])
    # nothing but the specks and their 1-pixel rim is touched
    from scipy.ndimage import binary_dilation

    assert not (r.mask & ~binary_dilation(specks, iterations=1)).any()
    # still, or a pan undone by the global shift: temporal repair everywhere, which restores the clean
    # frame exactly (away from the frame edge the pan uncovers)
    assert r.shifts == ((0.0, 0.0), (0.0, 0.0)) if pan == 0 else ((3.0, 0.0), (-3.0, 0.0))
    inner = r.mask.copy()
    inner[:, :pan], inner[:, W - pan:] = False, False
    assert r.temporal[inner].all()
    np.testing.assert_array_equal(r.image[inner], clean[inner])


def test_dust_busting_repairs_spatially_where_the_neighbours_disagree(plate):
    prev, clean, nxt = _frames(plate, 0)
    nxt = nxt.copy()
    nxt[:, : W // 2] *= 2.0  # n+1 changes on the left half (a light switched on): motion for the test
    dusty, specks = _plant(clean)
    r = filters.dust_bust(dusty, prev, nxt, compensate=False)
    left = np.zeros_like(specks)
    left[:, : W // 2 - 6] = True
    assert (r.mask & left).any() and (r.mask & ~left).any()
    assert not r.temporal[r.mask & left].any()   # neighbours disagree: spatial median
    right = r.mask & ~left
    right[:, : W // 2 + 6] = False
    assert r.temporal[right].all()                # they agree: temporal median


def test_dust_busting_leaves_a_clean_moving_frame_alone(plate):
    prev, clean, nxt = _frames(plate, 3)
    r = filters.dust_bust(clean, prev, nxt)
    assert r.n_fixed == 0
    np.testing.assert_array_equal(r.image, clean)


def test_dust_busting_alone_on_a_still_is_spatial(plate):
    _, clean, _ = _frames(plate, 0)
    dusty, specks = _plant(clean)
    r = filters.dust_bust(dusty, threshold=1.5)
    visible = specks & (np.abs(metrics.encode(dusty) - metrics.encode(clean)).max(axis=-1) > 0.1)
    assert (r.mask & visible).sum() / visible.sum() > 0.85 and not r.temporal.any()
    with pytest.raises(ParameterError, match="both"):
        filters.dust_bust(dusty, clean)
    with pytest.raises(ParameterError, match="odd"):
        filters.dust_bust(dusty, speck_size=4)


@pytest.mark.parametrize("fn", [filters.denoise_nlm, filters.denoise_bilateral])
def test_denoise_improves_psnr_and_passes_out_of_range_pixels(plate, fn):
    _, clean, _ = _frames(plate, 0)
    rng = np.random.default_rng(2)
    noisy = (clean * np.exp2(rng.normal(0, 0.08, clean.shape))).astype(np.float32)
    noisy[0, 0] = [-0.05, 0.1, 0.2]  # negative: outside the shaper
    out = fn(noisy)
    assert out.shape == noisy.shape and out.dtype == np.float32
    assert metrics.psnr(out, clean) > metrics.psnr(noisy, clean) + 2.0
    np.testing.assert_array_equal(out[0, 0], noisy[0, 0])
    rgba = np.concatenate([noisy, np.full((H, W, 1), 0.5, np.float32)], axis=-1)
    np.testing.assert_array_equal(fn(rgba)[..., 3], 0.5)


def test_shaper_mapping_round_trips_a_flat_image():
    flat = np.full((32, 32, 3), 0.18, np.float32)
    np.testing.assert_allclose(filters.denoise_nlm(flat), flat, rtol=2e-4)  # 16-bit steps of the log shaper
    np.testing.assert_allclose(filters.denoise_bilateral(flat), flat, rtol=1e-5)


def test_unsharp(plate):
    _, clean, _ = _frames(plate, 0)
    np.testing.assert_allclose(filters.unsharp(clean, amount=0.0), clean, rtol=1e-5, atol=1e-7)
    sharp = filters.unsharp(clean, amount=1.0)
    hf = lambda x: np.abs(np.diff(np.log2(np.maximum(x, 1e-4)), axis=1)).mean()  # noqa: E731
    assert hf(sharp) > 1.3 * hf(clean)


def test_baseline_table_and_chains(plate):
    prev, clean, nxt = _frames(plate, 3)
    assert set(BASELINES) >= {"grade_matrix", "grade_root_poly", "grade_lut3d", "dust_bust", "denoise_nlm",
                              "denoise_bilateral", "unsharp"}
    assert parse_baselines("dust_bust, grade_matrix ,dust_bust") == ("dust_bust", "grade_matrix")
    with pytest.raises(ParameterError, match="unknown step 'median'"):
        parse_baselines("dust_bust+median")
    dusty, _ = _plant(clean)
    chained = run_baseline("dust_bust+denoise_bilateral", dusty, prev=prev, next=nxt)
    by_hand = filters.denoise_bilateral(filters.dust_bust(dusty, prev, nxt).image)
    np.testing.assert_array_equal(chained, by_hand)
    with pytest.raises(ParameterError, match="no matrix grade fit"):
        run_baseline("grade_matrix", clean)
    with pytest.raises(ImageError, match="NaN"):
        filters.unsharp(np.full((8, 8, 3), np.nan, np.float32))


def test_dust_busting_on_core_degrade_dust_with_its_ground_truth_mask(plate):
    """Specks and hairs drawn by the film damage model (new on every frame), on a panning real picture."""
    from scipy.ndimage import binary_dilation

    from core.degrade import degrade_frame

    clean = _frames(plate, 3)
    damaged = [degrade_frame(c, frame=1001 + t, seed=5, preset="dusty_35mm", effects=["dust"], masks=True)
               for t, c in enumerate(clean)]
    dust = damaged[1].masks["dust"]
    r = filters.dust_bust(damaged[1].pixels, damaged[0].pixels, damaged[2].pixels)
    visible = (dust > 0.3) & (np.abs(metrics.encode(damaged[1].pixels) - metrics.encode(clean[1])).max(-1) > 0.05)
    assert visible.sum() > 100
    assert r.shifts == ((3.0, 0.0), (-3.0, 0.0))  # the pan, found by phase correlation
    assert (r.mask & visible).sum() / visible.sum() > 0.65  # measured 0.69 on this busy picture
    before = np.abs(damaged[1].pixels - clean[1])[visible].mean()
    assert np.abs(r.image - clean[1])[visible].mean() < 0.4 * before
    assert (r.mask & ~binary_dilation(dust > 0.01, iterations=2)).sum() <= 10  # measured 0 away from the dust
    assert metrics.psnr(r.image, clean[1]) > metrics.psnr(damaged[1].pixels, clean[1]) + 4.0  # measured +4.9 dB


def test_run_baselines_shares_leading_steps(plate, monkeypatch):
    from core.validate import run_baselines

    prev, clean, nxt = _frames(plate, 3)
    dusty, _ = _plant(clean)
    calls = []
    real = filters.dust_bust
    monkeypatch.setattr(filters, "dust_bust", lambda *a, **k: calls.append(1) or real(*a, **k))
    out = run_baselines(["dust_bust+denoise_bilateral", "dust_bust+unsharp", "unsharp"], dusty, prev=prev, next=nxt)
    assert len(calls) == 1 and list(out) == ["dust_bust+denoise_bilateral", "dust_bust+unsharp", "unsharp"]
    np.testing.assert_array_equal(out["dust_bust+unsharp"], filters.unsharp(real(dusty, prev, nxt).image))
