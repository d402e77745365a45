"""core.infer.filterbank: linear restoration filters learned from pairs (RAISR-style buckets).

Real photos (scikit-image's astronaut and chelsea, sRGB -> ACEScg by OCIO-checked core.color); the damage
is a known one, a Gaussian blur of sigma 1.2 px in scene-linear, so what the bank must learn is known.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.color import convert
from core.errors import ImageError, ParameterError
from core.infer.filterbank import FilterBank, fit_filter_bank

cv2 = pytest.importorskip("cv2")
data = pytest.importorskip("skimage.data")


def linear(img: np.ndarray) -> np.ndarray:
    return convert(img.astype(np.float32) / 255.0, "srgb", "ACEScg").astype(np.float32)


def blur(x: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(x, (0, 0), 1.2)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    def disp(v):
        return np.clip(convert(v, "ACEScg", "srgb"), 0.0, 1.0)

    return float(10 * np.log10(1.0 / np.mean((disp(a) - disp(b)) ** 2)))


@pytest.fixture(scope="module")
def photos():
    return linear(data.astronaut()), linear(data.chelsea())


@pytest.fixture(scope="module")
def bank(photos):
    astronaut, _ = photos
    return fit_filter_bank([(blur(astronaut), astronaut, None)], samples=30_000, seed=0)


def test_learns_a_known_blur_and_restores_another_photo(bank, photos):
    _, chelsea = photos
    assert bank.success and bank.n_frames == 1 and bank.n_samples == 30_000
    assert bank.held_out_rms["filtered"] < 0.8 * bank.held_out_rms["input"]
    before, after = psnr(blur(chelsea), chelsea), psnr(bank.apply(blur(chelsea)), chelsea)
    # measured 32.11 -> 34.55 dB with 60k samples (a photo the bank never saw)
    assert after - before > 1.5, (before, after)


def test_nothing_to_learn_is_the_identity(photos):
    astronaut, chelsea = photos
    same = fit_filter_bank([(astronaut, astronaut, None)], samples=5_000, seed=0)
    assert not same.success and "no gain on held-out pixels" in same.reason
    assert np.array_equal(same.apply(chelsea), chelsea)


def test_deterministic_and_saved_as_applied(bank, photos, tmp_path):
    astronaut, chelsea = photos
    again = fit_filter_bank([(blur(astronaut), astronaut, None)], samples=30_000, seed=0)
    assert again.digest() == bank.digest()
    other = fit_filter_bank([(blur(astronaut), astronaut, None)], samples=30_000, seed=1)
    assert other.digest() != bank.digest()
    loaded = FilterBank.load(bank.save(tmp_path / "bank.json"))
    assert loaded.digest() == bank.digest()
    x = blur(chelsea)
    assert np.array_equal(loaded.apply(x), bank.apply(x))


def test_numpy_and_numba_give_the_same_bits(bank, photos):
    pytest.importorskip("numba")
    x = blur(photos[1])[:97, :131]
    assert np.array_equal(bank.apply(x, kernel="numpy"), bank.apply(x, kernel="numba"))


def test_hdr_alpha_and_non_finite_pixels(bank, photos):
    x = blur(photos[1])[:64, :80] * 64.0  # up to 64.0 scene-linear: no clamp anywhere
    rgba = np.concatenate([x, np.full(x.shape[:2] + (1,), 0.25, np.float32)], axis=2)
    rgba[10, 10, 0] = np.nan
    out = bank.apply(rgba)
    assert out.dtype == np.float32 and out.shape == rgba.shape
    assert np.all(out[..., 3] == 0.25)
    # a pixel whose neighbourhood is not finite comes back as it was (the NaN stays where it was, alone)
    assert np.array_equal(out[8:13, 8:13, :3], rgba[8:13, 8:13, :3], equal_nan=True)
    assert np.isfinite(out[..., :3]).all(axis=2).sum() == x.shape[0] * x.shape[1] - 1
    assert out[..., :3][np.isfinite(out[..., :3])].max() > 16.0


def test_bad_input_says_which(photos):
    astronaut, chelsea = photos
    with pytest.raises(ImageError, match="pair 0: input .* and reference .* differ"):
        fit_filter_bank([(astronaut, chelsea, None)])
    with pytest.raises(ParameterError, match="radius"):
        fit_filter_bank([], radius=9)
    with pytest.raises(ParameterError, match="outlier"):
        fit_filter_bank([], outlier=0.0)
    with pytest.raises(ImageError, match="HWC"):
        FilterBank(radius=1, angles=1, strengths=1, edges=np.zeros(0), weights=None).apply(np.zeros((4, 4)))
    empty = fit_filter_bank([])
    assert not empty.success and empty.reason == "no valid pixels to fit on"
