"""core.degrade: each effect behaves as its physical model says, measured on pixels.

Grey cards and real photos (core/data/samples, decoded to linear), measured
with independent tools: standard deviations against the grain model's
prediction, FFT autocorrelation lengths, FFT high-frequency energy, mean
colour ratios, OpenCV phase correlation for gate weave, mean ratios for
flicker, column profiles for scratches.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.degrade import degrade_frame, flicker_gain, scratch_positions, weave_offsets
from core.degrade import dust as dust_effect
from core.degrade import grain as grain_effect
from core.degrade.model import resolve_params
from tests.test_degrade import linear_sample


def grey(level: float, size: int = 192) -> np.ndarray:
    return np.full((size, size, 3), level, np.float32)


def autocorr_length(residual: np.ndarray) -> float:
    """1/e length (px, linear interpolation) of the horizontal autocorrelation of a 2-D field (FFT, circular)."""
    r = residual - residual.mean()
    f = np.fft.rfft2(r)
    ac = np.fft.irfft2(np.abs(f) ** 2, s=r.shape)
    ac = ac[0] / ac[0, 0]  # along x
    below = np.nonzero(ac < 1 / math.e)[0][0]
    a0, a1 = ac[below - 1], ac[below]
    return below - 1 + (a0 - 1 / math.e) / (a0 - a1)


# -- grain --------------------------------------------------------------------------------------

GRAIN = {"grain_intensity": 0.06, "grain_size": 1.0}


def test_grain_std_grows_with_signal_as_the_density_model_predicts():
    p = resolve_params(None, GRAIN)
    intensities = grain_effect.layer_intensities(p)
    measured = []
    for level in (0.01, 0.05, 0.18, 0.5, 1.0):
        out = degrade_frame(grey(level), frame=3, seed=1, params=GRAIN).pixels
        std = out.reshape(-1, 3).std(axis=0, dtype=np.float64)
        predicted = [float(grain_effect.grain_std(level, i)) for i in intensities]
        np.testing.assert_allclose(std, predicted, rtol=0.1, err_msg=f"level {level}")
        # the model keeps the mean (lognormal bias removed): within 4 standard errors
        n_eff = out.shape[0] * out.shape[1] / (4 * math.pi * 1.5 ** 2)
        assert np.all(np.abs(out.reshape(-1, 3).mean(axis=0) - level) < 4 * std / math.sqrt(n_eff)), level
        measured.append(std)
    measured = np.array(measured)
    assert np.all(np.diff(measured, axis=0) > 0)  # linear std grows with the signal
    # ...and in relative terms it grows slowly with density (Selwyn: variance ~ developed grains)
    relative = measured[:, 1] / (np.array([0.01, 0.05, 0.18, 0.5, 1.0]) + grain_effect.TOE)
    assert relative[2] < relative[3] < relative[4] < 1.3 * relative[2]
    # grain_intensity reads as the relative RMS on 18% grey (green layer: x0.8)
    assert measured[2, 1] / (0.18 + grain_effect.TOE) == pytest.approx(0.06 * 0.8, rel=0.08)


def test_grain_correlation_length_grows_with_grain_size():
    lengths = []
    for size in (0.75, 1.5, 3.0):
        out = degrade_frame(grey(0.18, 256), frame=1, seed=4, params={"grain_intensity": 0.05, "grain_size": size})
        g = out.pixels[..., 1] - 0.18
        length = autocorr_length(g)
        # Gaussian-filtered noise: autocorrelation exp(-r^2 / (4 s^2)), 1/e at r = 2 s (green layer: s = 0.85 size)
        assert length == pytest.approx(2 * 0.85 * size, rel=0.2), size
        lengths.append(length)
        # the blue (yellow dye) layer is coarser than the green
        assert autocorr_length(out.pixels[..., 2] - 0.18) > 1.3 * length
    assert lengths[0] < lengths[1] < lengths[2]


def test_grain_is_new_every_frame_and_independent_per_layer():
    a = degrade_frame(grey(0.18), frame=10, seed=2, params=GRAIN).pixels - 0.18
    b = degrade_frame(grey(0.18), frame=11, seed=2, params=GRAIN).pixels - 0.18
    assert abs(np.corrcoef(a[..., 1].ravel(), b[..., 1].ravel())[0, 1]) < 0.05
    assert abs(np.corrcoef(a[..., 0].ravel(), a[..., 1].ravel())[0, 1]) < 0.05


def test_grain_on_a_real_photo_follows_the_signal():
    photo = linear_sample("astronaut.png", (0, 256, 0, 256))
    out = degrade_frame(photo, frame=0, seed=9, params={"grain_intensity": 0.05, "grain_size": 0.5}).pixels
    residual = (out - photo)[..., 1].ravel()
    level = photo[..., 1].ravel()
    dark, bright = level < np.quantile(level, 0.2), level > np.quantile(level, 0.8)
    assert residual[bright].std() > 2 * residual[dark].std()


# -- dye fade -----------------------------------------------------------------------------------

FADE = {"fade_cyan": 0.6, "fade_magenta": 0.1, "fade_yellow": 0.3}


def mean_ratios(img: np.ndarray) -> tuple[float, float]:
    m = img.reshape(-1, 3).mean(axis=0, dtype=np.float64)
    return m[0] / m[1], m[0] / m[2]


def test_cyan_fade_turns_a_neutral_grey_card_red():
    card = grey(0.18, 32)
    out = degrade_frame(card, params=FADE).pixels
    rg, rb = mean_ratios(out)
    assert rg > 1.3 and rb > 1.1  # from 1.0 and 1.0
    assert np.all(out >= card)  # losing dye only lets more light through
    # more cyan lost, redder
    ratios = [mean_ratios(degrade_frame(card, params={"fade_cyan": c}).pixels)[0] for c in (0.2, 0.5, 0.8)]
    assert ratios[0] < ratios[1] < ratios[2]
    # a grey step wedge: every step shifts toward red/magenta
    wedge = np.concatenate([grey(v, 16) for v in (0.01, 0.05, 0.18, 0.5)], axis=1)
    faded = degrade_frame(wedge, params=FADE).pixels
    for i in range(4):
        step = faded[:, i * 16:(i + 1) * 16]
        assert mean_ratios(step)[0] > 1.05 and mean_ratios(step)[1] > 1.02, i


@pytest.mark.parametrize("name", ["chelsea.png", "astronaut.png", "rocket.jpg"])
def test_cyan_fade_shifts_a_photo_toward_red_and_magenta(name):
    photo = linear_sample(name)[::2, ::2]
    before = mean_ratios(photo)
    after = mean_ratios(degrade_frame(photo, preset="faded_16mm", effects=("fade",)).pixels)
    assert after[0] > 1.15 * before[0]
    assert after[1] > 1.15 * before[1]


def test_fade_is_proportional_to_the_dye_present():
    """Fading removes a fraction of each dye: dense (dark) areas lose more density than thin
    (bright) ones, so the red gain grows with red density — not a global colour tint."""
    wedge = np.concatenate([grey(v, 8) for v in (0.9, 0.3, 0.05, 0.005)], axis=1)
    out = degrade_frame(wedge, params={"fade_cyan": 0.5}).pixels
    gains = [out[:, 8 * i:8 * i + 8, 0].mean() / wedge[0, 8 * i, 0] for i in range(4)]
    assert gains == sorted(gains) and gains[0] < 1.05 and gains[-1] > 5.0
    photo = linear_sample("coffee.png")[::2, ::2]
    faded = degrade_frame(photo, params={"fade_cyan": 0.5}).pixels
    red_gain = faded[..., 0] / np.maximum(photo[..., 0], 1e-6)
    assert np.median(red_gain[photo[..., 0] < 0.05]) > 1.5 * np.median(red_gain[photo[..., 0] > 0.5])


def test_dmax_loss_raises_blacks_and_lowers_contrast():
    wedge = np.concatenate([grey(0.0005, 8), grey(0.18, 8), grey(0.9, 8)], axis=1)
    blacks, contrasts = [0.0005], [0.9 / 0.0005]
    for dmax in (3.0, 2.0, 1.2):
        out = degrade_frame(wedge, params={"fade_dmax": dmax}).pixels
        black, white = out[:, :8].mean(), out[:, 16:].mean()
        blacks.append(black)
        contrasts.append(white / black)
        assert white == pytest.approx(0.9, rel=0.01)  # highlights barely move
    assert blacks == sorted(blacks) and blacks[-1] > 20 * blacks[0]
    assert contrasts == sorted(contrasts, reverse=True)


def test_stain_is_yellow():
    out = degrade_frame(grey(0.5, 8), params={"fade_stain": 0.2}).pixels.reshape(-1, 3).mean(axis=0)
    assert out[2] < out[1] < out[0] <= 0.5


# -- gauge loss ---------------------------------------------------------------------------------

def high_frequency_ratio(img: np.ndarray) -> float:
    """Share of the spectral energy (DC excluded) above 0.2 cycles/px, on luminance-like mean."""
    y = img.mean(axis=2).astype(np.float64)
    y = (y - y.mean()) * np.outer(np.hanning(y.shape[0]), np.hanning(y.shape[1]))
    power = np.abs(np.fft.fft2(y)) ** 2
    fy = np.fft.fftfreq(y.shape[0])[:, None]
    fx = np.fft.fftfreq(y.shape[1])[None, :]
    radius = np.hypot(fx, fy)
    return float(power[radius > 0.2].sum() / power[radius > 0].sum())


@pytest.mark.parametrize("name", ["astronaut.png", "rocket.jpg"])
def test_smaller_gauges_lose_more_high_frequencies(name):
    photo = linear_sample(name)[:256, :256]
    ratios = [high_frequency_ratio(photo)]
    for gauge in ("35mm", "16mm", "super8"):
        out = degrade_frame(photo, params={"gauge": gauge}).pixels
        assert out.mean() == pytest.approx(photo.mean(), rel=0.01)  # optics move light, do not lose it
        ratios.append(high_frequency_ratio(out))
    assert ratios[0] > ratios[1] > ratios[2] > ratios[3]
    assert ratios[3] < 0.25 * ratios[0]


def test_extra_blur_and_defocus_soften_further():
    photo = linear_sample("astronaut.png")[:128, :128]
    base = high_frequency_ratio(degrade_frame(photo, params={"gauge": "35mm"}).pixels)
    blurred = high_frequency_ratio(degrade_frame(photo, params={"gauge": "35mm", "blur_sigma": 1.0}).pixels)
    defocused = high_frequency_ratio(degrade_frame(photo, params={"gauge": "35mm", "lens_defocus_px": 2.0}).pixels)
    assert blurred < base and defocused < base


def test_generation_loss_blurs_and_adds_contrast_per_generation():
    photo = linear_sample("chelsea.png")[:128, :128]
    hf, spreads = [], []
    for count in (0, 1, 3):
        out = degrade_frame(photo, params={"generation_count": count, "generation_grain": 0.0}).pixels
        hf.append(high_frequency_ratio(out))
        logs = np.log2(np.maximum(out.mean(axis=2), 1e-4))
        spreads.append(np.percentile(logs, 95) - np.percentile(logs, 5))
    assert hf[0] > hf[1] > hf[2]
    assert spreads[0] < spreads[1] < spreads[2]
    grainy = degrade_frame(grey(0.18, 64), params={"generation_count": 2, "generation_blur": 0.0,
                                                    "generation_contrast": 1.0, "generation_grain": 0.03}).pixels
    assert 0.01 < grainy[..., 1].std() / 0.18 < 0.06


# -- gate weave ---------------------------------------------------------------------------------

def phase_correlation_shift(reference: np.ndarray, moved: np.ndarray) -> tuple[float, float]:
    """(dx, dy) of ``moved`` relative to ``reference`` with cv2.phaseCorrelate.

    OpenCV refines the correlation peak with a 5x5 weighted centroid, which is
    biased by up to ~0.3 px for the sharp peak of full-band images (measured:
    a 0.5 px shift reads as 0.8). Both images are therefore band-limited to
    0.2 cycles/px (an FFT box filter after a Hann window): the peak becomes a
    sinc whose main lobe (first zeros at +-2.5 px) fills the 5x5 window, and
    the centroid is accurate to a few hundredths of a pixel.
    """
    import cv2

    def prepare(img):
        y = img[..., :3].mean(axis=2).astype(np.float64)
        y = y * cv2.createHanningWindow(y.shape[::-1], cv2.CV_64F)
        f = np.fft.fft2(y)
        fy = np.abs(np.fft.fftfreq(y.shape[0]))[:, None]
        fx = np.abs(np.fft.fftfreq(y.shape[1]))[None, :]
        f[(fx > 0.2) | (fy > 0.2)] = 0
        return np.real(np.fft.ifft2(f))

    (dx, dy), _response = cv2.phaseCorrelate(prepare(reference), prepare(moved))
    return dx, dy


def test_weave_offsets_are_recovered_by_phase_correlation():
    photo = linear_sample("coffee.png", (72, 328, 172, 428))
    params = {"weave_amplitude_px": 1.5, "weave_period": 1}
    seen = []
    for frame in range(1001, 1009):
        out = degrade_frame(photo, frame=frame, seed=21, params=params)
        dx, dy = phase_correlation_shift(photo, out.pixels)
        assert (dx, dy) == pytest.approx(out.weave_offset, abs=0.1), frame
        seen.append(out.weave_offset)
    spread = np.ptp(np.array(seen), axis=0)
    assert spread[0] > 1.0 and spread[1] > 0.5  # real, varied subpixel motion was measured


def test_weave_is_ground_truth_under_the_other_damage():
    """With every film-borne effect on, the weave is still the only motion between with/without weave."""
    photo = linear_sample("chelsea.png", (22, 278, 98, 354))
    for frame in (5, 6):
        moved = degrade_frame(photo, frame=frame, seed=3, preset="dusty_35mm", params={"weave_amplitude_px": 2.0})
        still = degrade_frame(photo, frame=frame, seed=3, preset="dusty_35mm", params={"weave_amplitude_px": 0.0})
        assert phase_correlation_shift(still.pixels, moved.pixels) == pytest.approx(moved.weave_offset, abs=0.1)


def blob_image(x0: float, y0: float, size: int = 96, sigma: float = 3.0) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    blob = np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2 * sigma ** 2)).astype(np.float32)
    return np.repeat(blob[..., None], 3, axis=2)


def centroid(img: np.ndarray) -> np.ndarray:
    w = img[..., 0].astype(np.float64)
    yy, xx = np.mgrid[0:w.shape[0], 0:w.shape[1]]
    return np.array([(w * xx).sum() / w.sum(), (w * yy).sum() / w.sum()])


def test_weave_moves_content_by_plus_dx_dy():
    for frame in (7, 8, 9):
        out = degrade_frame(blob_image(40.0, 50.0), frame=frame, seed=1, params={"weave_amplitude_px": 3.0})
        assert tuple(centroid(out.pixels) - (40.0, 50.0)) == pytest.approx(out.weave_offset, abs=0.005)


def test_weave_rotation_follows_the_reported_matrix():
    from core.degrade.weave import weave_matrix

    params = {"weave_amplitude_px": 1.0, "weave_rotation_deg": 2.0, "weave_period": 1}
    for frame in (3, 4):
        out = degrade_frame(blob_image(20.0, 70.0, size=128), frame=frame, seed=2, params=params)
        assert abs(out.record["weave"]["rotation_deg"]) > 0.5
        expected = weave_matrix(out.record["weave"], 128, 128) @ np.array([20.0, 70.0, 1.0])
        assert centroid(out.pixels) == pytest.approx(expected, abs=0.02)
        # counter-clockwise on screen: a point left of and below the centre moves down for a positive angle
        moved_down = expected[1] - out.record["weave"]["dy"] > 70.0
        assert moved_down == (out.record["weave"]["rotation_deg"] > 0)


def test_weave_is_a_smooth_random_walk_with_the_stated_rms():
    frames = range(0, 600)
    slow = np.array([weave_offsets(f, seed=5, params={"weave_amplitude_px": 1.0, "weave_period": 6})["dx"]
                     for f in frames])
    fast = np.array([weave_offsets(f, seed=5, params={"weave_amplitude_px": 1.0, "weave_period": 1})["dx"]
                     for f in frames])
    assert np.corrcoef(slow[:-1], slow[1:])[0, 1] > 0.8
    assert abs(np.corrcoef(fast[:-1], fast[1:])[0, 1]) < 0.15
    assert fast.std() == pytest.approx(1.0, rel=0.15)
    assert slow.std() == pytest.approx(1.0, rel=0.3)
    jump = [weave_offsets(f, seed=5, params={"weave_amplitude_px": 1.0, "weave_jump_ratio": 0.5})["dy"]
            for f in frames]
    assert np.std(jump) == pytest.approx(0.5, rel=0.3)


# -- flicker ------------------------------------------------------------------------------------

def test_flicker_gain_is_the_measured_mean_ratio():
    photo = linear_sample("rocket.jpg")[::2, ::2]
    gains = []
    for frame in range(10, 16):
        out = degrade_frame(photo, frame=frame, seed=6, params={"flicker_amplitude": 0.15})
        ratio = out.pixels.mean(dtype=np.float64) / photo.mean(dtype=np.float64)
        assert ratio == pytest.approx(out.flicker_gain, rel=1e-5)
        gains.append(out.flicker_gain)
    assert np.ptp(gains) > 0.05
    # with the spatial field the frame's mean gain is still the reported gain (the field averages to 1)
    out = degrade_frame(grey(0.18, 64), frame=3, seed=6, params={"flicker_amplitude": 0.15, "flicker_spatial": 0.2})
    assert out.pixels.mean(dtype=np.float64) / 0.18 == pytest.approx(out.flicker_gain, rel=1e-4)
    assert out.pixels.max() / out.pixels.min() > 1.05  # the field is uneven


def test_flicker_rms_in_stops():
    stops = np.log2([flicker_gain(f, seed=1, params={"flicker_amplitude": 0.1}) for f in range(500)])
    assert stops.std() == pytest.approx(0.1, rel=0.15)
    assert abs(stops.mean()) < 0.02


# -- scratches ----------------------------------------------------------------------------------

SCRATCHES = {"scratch_count": 3, "scratch_presence": 1.0, "scratch_lifetime": 10_000, "scratch_opacity": 0.8,
             "scratch_width": 1.5, "scratch_drift_px": 2.0, "scratch_polarity": "bright"}


def measured_scratch_columns(out: np.ndarray, base: float) -> np.ndarray:
    profile = out[..., 1].mean(axis=0) - base
    peaks = [x for x in range(1, len(profile) - 1)
             if profile[x] > 0.02 and profile[x] >= profile[x - 1] and profile[x] >= profile[x + 1]]
    return np.array(peaks, dtype=float)


def test_scratches_persist_across_consecutive_frames_at_nearby_x():
    card = grey(0.18, 160)
    previous = None
    for frame in range(200, 206):
        out = degrade_frame(card, frame=frame, seed=8, params=SCRATCHES)
        reported = np.array(sorted(out.record["scratches"]["x"]))
        assert len(reported) == 3
        found = measured_scratch_columns(out.pixels, 0.18)
        for x in reported:  # the reported position is where the line is
            assert np.min(np.abs(found - x)) <= 1.0, (frame, x, found)
        if previous is not None:
            assert np.all(np.abs(reported - previous) < 0.5)  # slow drift, not a jump
        previous = reported
    # over a long stretch the drift is real
    far = np.array(sorted(scratch_positions(2000, 160, seed=8, params=SCRATCHES)))
    assert np.max(np.abs(far - previous)) > 0.2


def test_scratch_tracks_move_on_after_their_lifetime_and_polarity_holds():
    params = {**SCRATCHES, "scratch_lifetime": 5, "scratch_drift_px": 0.0}
    xs = [tuple(scratch_positions(f, 512, seed=8, params=params)) for f in range(0, 40)]
    assert len(set(xs)) > 5
    dark = degrade_frame(grey(0.18, 64), frame=1, seed=8, params={**SCRATCHES, "scratch_polarity": "dark"})
    assert dark.pixels.min() < 0.18 * 0.6 and dark.pixels.max() <= 0.18 + 1e-6
    bright = degrade_frame(grey(0.18, 64), frame=1, seed=8, params=SCRATCHES)
    assert bright.pixels.max() > 0.5 and bright.pixels.min() >= 0.18 - 1e-6


# -- dust ---------------------------------------------------------------------------------------

DUST = {"dust_count": 25.0, "dust_size": 3.0, "dust_polarity": "dark", "dust_softness": 1.5}


def test_dust_is_different_every_frame_with_poisson_counts():
    p = resolve_params(None, DUST)
    counts = [len(dust_effect.specks(p, seed=1, frame=f, width=256, height=256)) for f in range(300)]
    assert np.mean(counts) == pytest.approx(25.0, rel=0.05)
    assert np.var(counts) == pytest.approx(25.0, rel=0.3)  # Poisson: variance = mean
    a = degrade_frame(grey(0.5, 128), frame=1, seed=1, params=DUST, masks=True).masks["dust"] > 0.5
    b = degrade_frame(grey(0.5, 128), frame=2, seed=1, params=DUST, masks=True).masks["dust"] > 0.5
    assert a.sum() > 30 and b.sum() > 30
    assert (a & b).sum() < 0.2 * min(a.sum(), b.sum())


def test_dust_polarity_and_soft_edges():
    card = grey(0.5, 128)
    dark = degrade_frame(card, frame=4, seed=2, params=DUST, masks=True)
    assert dark.record["dust"]["dark"] == dark.record["dust"]["count"] > 0
    assert dark.pixels.min() < 0.1 and dark.pixels.max() <= 0.5 + 1e-6
    m = dark.masks["dust"]
    assert ((m > 0.05) & (m < 0.5)).sum() > 0.3 * (m >= 0.5).sum()  # soft edges, not a hard cut
    bright = degrade_frame(card, frame=4, seed=2, params={**DUST, "dust_polarity": "bright"})
    assert bright.pixels.max() > 0.9 and bright.pixels.min() >= 0.5 - 1e-6
    mixed = degrade_frame(card, frame=4, seed=2, params={**DUST, "dust_count": 80.0, "dust_polarity": "mixed"})
    assert mixed.record["dust"]["dark"] > 10 and mixed.record["dust"]["bright"] > 10
    for s in mixed.record["dust"]["specks"]:
        assert 0 <= s["x"] < 128 and 0 <= s["y"] < 128
