"""core.degrade: API, parameters and presets, determinism, errors, alpha, previews.

Physical behaviour of each effect is in test_degrade_physics.py; files and
manifests in test_degrade_files.py. Images are real photos shipped in
core/data/samples, read with OpenCV (independent of core.io) and decoded from
sRGB to linear with the IEC 61966-2-1 formula.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from core.degrade import (
    DEGRADE_PARAMS,
    EFFECTS,
    PRESETS,
    DegradeResult,
    degrade_frame,
    degrade_sequence,
    digital_defects,
    enabled_effects,
    flicker_gain,
    preview,
    resolve_params,
    scratch_positions,
    weave_offsets,
)
from core.errors import ColorSpaceError, ImageError, ParameterError, ReelkitError
from core.frame import Frame
from tests.conftest import srgb_sample

#: Every effect switched on, generation loss, spatial flicker and rotation included.
EVERYTHING = {
    "gauge": "16mm", "blur_sigma": 0.3, "lens_defocus_px": 0.5,
    "grain_intensity": 0.05, "grain_size": 1.2,
    "generation_count": 2, "generation_grain": 0.02,
    "fade_cyan": 0.5, "fade_magenta": 0.1, "fade_yellow": 0.3, "fade_dmax": 2.0, "fade_stain": 0.05,
    "dust_count": 20.0, "dust_polarity": "mixed",
    "scratch_count": 3, "scratch_polarity": "mixed",
    "flicker_amplitude": 0.1, "flicker_spatial": 0.1,
    "weave_amplitude_px": 1.0, "weave_rotation_deg": 0.1,
}


def srgb_to_linear(encoded: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 sRGB decoding (0..1 encoded -> linear), float32."""
    e = encoded.astype(np.float64)
    return np.where(e <= 0.04045, e / 12.92, ((e + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_sample(name: str = "coffee.png", crop: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """A shipped photo as float32 HWC linear RGB; ``crop`` is (y0, y1, x0, x1)."""
    lin = srgb_to_linear(srgb_sample(name))
    if crop is not None:
        y0, y1, x0, x1 = crop
        lin = lin[y0:y1, x0:x1]
    return np.ascontiguousarray(lin)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return linear_sample("coffee.png", (100, 228, 200, 392))  # 128 x 192


def digest(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


# -- parameters and presets ---------------------------------------------------------------

def test_every_effect_parameter_has_one_spec_with_range_and_help():
    for p in DEGRADE_PARAMS:
        assert p.help, p.name
        if p.kind in (int, float):
            assert p.minimum is not None and p.maximum is not None, p.name
            assert p.minimum <= p.default <= p.maximum, p.name
        if p.kind is str:
            assert p.choices and p.default in p.choices, p.name
    # effects run in the order damage happens to film; weave last of the film's (film-borne damage moves with
    # the picture), then the video transfer's digital defects
    assert list(EFFECTS) == ["gauge", "grain", "generation", "fade", "dust", "scratches", "flicker", "weave",
                             "digital"]


def test_presets_are_valid_and_cover_the_named_looks():
    assert {"faded_16mm", "dusty_35mm", "super8_home_movie"} <= set(PRESETS)
    assert len(PRESETS) >= 3
    for name, values in PRESETS.items():
        assert set(values) <= set(DEGRADE_PARAMS.params), name
        resolved = resolve_params(name)
        for key, value in values.items():
            assert resolved[key] == DEGRADE_PARAMS[key].coerce(value), (name, key)


def test_defaults_switch_every_effect_off(photo):
    out = degrade_frame(photo, frame=12, seed=3)
    assert out.record["applied"] == []
    np.testing.assert_array_equal(out.pixels, photo)
    assert out.pixels is not photo


def test_every_preset_changes_the_picture_and_records_its_effects(photo):
    for name in PRESETS:
        # digital defects strike some frames: a look made of them alone is shown on its first damaged frame
        alone = enabled_effects(resolve_params(name)) == ("digital",)
        frame = next(f for f in range(5, 100) if digital_defects(f, seed=1, preset=name) or not alone)
        out = degrade_frame(photo, frame=frame, seed=1, preset=name)
        assert out.record["preset"] == name
        assert out.record["applied"], name
        for effect in out.record["applied"]:
            assert effect in out.record, (name, effect)
        assert np.abs(out.pixels - photo).mean() > 1e-3, name
        assert json.loads(json.dumps(out.record)) == out.record  # plain JSON types only


def test_params_override_the_preset(photo):
    out = degrade_frame(photo, frame=5, seed=1, preset="dusty_35mm", params={"dust_count": 0, "weave_amplitude_px": 0})
    assert "dust" not in out.record["applied"]
    assert "weave" not in out.record["applied"]
    assert "scratches" in out.record["applied"]


def test_unknown_preset_lists_the_valid_ones(photo):
    with pytest.raises(ParameterError) as err:
        degrade_frame(photo, preset="faded_8mm")
    for name in PRESETS:
        assert name in str(err.value)
    assert isinstance(err.value, ValueError) and isinstance(err.value, ReelkitError)


def test_unknown_parameter_lists_the_known_ones(photo):
    with pytest.raises(ParameterError) as err:
        degrade_frame(photo, params={"grain_amount": 0.1})
    message = str(err.value)
    assert "grain_amount" in message
    for name in ("grain_intensity", "fade_cyan", "weave_amplitude_px", "scratch_count", "dust_count"):
        assert name in message


@pytest.mark.parametrize("params", [
    {"fade_cyan": 1.5}, {"grain_intensity": -0.1}, {"gauge": "70mm"}, {"scratch_count": 2.5},
    {"dust_polarity": "grey"}, {"weave_period": 0},
])
def test_out_of_range_or_wrong_kind_values_raise(photo, params):
    with pytest.raises(ParameterError):
        degrade_frame(photo, params=params)


def test_unknown_effect_and_bad_seed_raise(photo):
    with pytest.raises(ParameterError) as err:
        degrade_frame(photo, preset="dusty_35mm", effects=("dust", "mold"))
    assert "mold" in str(err.value) and "scratches" in str(err.value)
    for seed in (-1, 2**40, 1.5):
        with pytest.raises(ParameterError):
            degrade_frame(photo, seed=seed)


# -- determinism ---------------------------------------------------------------------------

def test_same_seed_is_bit_identical_and_another_seed_differs(photo):
    a = degrade_frame(photo, frame=1001, seed=7, params=EVERYTHING)
    b = degrade_frame(photo.copy(), frame=1001, seed=7, params=dict(EVERYTHING))
    assert digest(a.pixels) == digest(b.pixels)
    assert a.record == b.record
    c = degrade_frame(photo, frame=1001, seed=8, params=EVERYTHING)
    assert digest(a.pixels) != digest(c.pixels)
    assert a.record["weave"] != c.record["weave"]
    assert a.record["flicker"]["gain"] != c.record["flicker"]["gain"]


def test_every_random_effect_depends_on_the_frame_number(photo):
    a = degrade_frame(photo, frame=10, seed=7, params=EVERYTHING)
    b = degrade_frame(photo, frame=11, seed=7, params=EVERYTHING)
    for effect in ("grain", "generation", "dust", "scratches", "flicker", "weave"):
        alone_a = degrade_frame(photo, frame=10, seed=7, params=EVERYTHING, effects=(effect,))
        alone_b = degrade_frame(photo, frame=11, seed=7, params=EVERYTHING, effects=(effect,))
        assert not np.array_equal(alone_a.pixels, alone_b.pixels), effect
    assert not np.array_equal(a.pixels, b.pixels)
    # deterministic effects do not
    for effect in ("gauge", "fade"):
        alone_a = degrade_frame(photo, frame=10, seed=7, params=EVERYTHING, effects=(effect,))
        alone_b = degrade_frame(photo, frame=11, seed=9, params=EVERYTHING, effects=(effect,))
        np.testing.assert_array_equal(alone_a.pixels, alone_b.pixels)


def test_frame_alone_equals_frame_in_sequence(photo):
    clips = [photo * np.float32(1.0 + 0.01 * i) for i in range(5)]
    results = list(degrade_sequence(iter(clips), seed=3, params=EVERYTHING, first_frame=1000))
    assert [r.frame for r in results] == [1000, 1001, 1002, 1003, 1004]
    for i in (4, 1):  # out of order, alone
        alone = degrade_frame(clips[i], frame=1000 + i, seed=3, params=EVERYTHING)
        assert digest(alone.pixels) == digest(results[i].pixels)
        assert alone.record == results[i].record
    # persistent damage without pixels agrees with the frames
    for r in results:
        assert weave_offsets(r.frame, seed=3, params=EVERYTHING) == r.record["weave"]
        assert flicker_gain(r.frame, seed=3, params=EVERYTHING) == r.flicker_gain
        assert scratch_positions(r.frame, photo.shape[1], seed=3, params=EVERYTHING) == pytest.approx(
            r.record["scratches"]["x"], abs=1e-3)


def _digest_in_worker(args):
    pixels, frame, seed, params = args
    from core.degrade import degrade_frame as worker_degrade

    return hashlib.sha256(worker_degrade(pixels, frame=frame, seed=seed, params=params).pixels.tobytes()).hexdigest()


def test_another_process_gives_bit_identical_frames(photo):
    """Frame ranges split over processes (fresh interpreters: no shared state, salted str hashes)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    small = photo[:64, :96].copy()
    jobs = [(small, n, 11, EVERYTHING) for n in (7, 2001)]
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        remote = list(pool.map(_digest_in_worker, jobs))
    local = [digest(degrade_frame(small, frame=n, seed=11, params=EVERYTHING).pixels) for _s, n, _e, _p in jobs]
    assert remote == local


def test_sequence_is_lazy_and_validates_before_reading():
    pulled = []

    def frames():
        for i in range(1000):
            pulled.append(i)
            yield np.full((16, 16, 3), 0.18, np.float32)

    it = degrade_sequence(frames(), preset="dusty_35mm")
    assert pulled == []
    first = next(it)
    assert isinstance(first, DegradeResult) and pulled == [0]
    next(it)
    assert pulled == [0, 1]
    with pytest.raises(ParameterError):
        degrade_sequence(frames(), preset="nope")
    assert pulled == [0, 1]


def test_sequence_takes_frame_numbers_from_frames(photo):
    frames = [Frame(photo, "ACEScg", frame=n) for n in (1010, 1020)]
    results = list(degrade_sequence(frames, seed=2, preset="faded_16mm"))
    assert [r.frame for r in results] == [1010, 1020]
    alone = degrade_frame(photo, frame=1020, seed=2, preset="faded_16mm")
    np.testing.assert_array_equal(results[1].pixels, alone.pixels)


# -- pixels in, pixels out ------------------------------------------------------------------

def test_output_is_float32_same_shape_finite_and_non_negative(photo):
    harsh = photo.copy()
    harsh[:8] = 0.0  # true black
    harsh[8:16, :20] = 40.0  # a highlight far above diffuse white
    harsh[16:20, :20] = -0.02  # slightly negative (out of gamut)
    for name in list(PRESETS) + [None]:
        params = None if name else EVERYTHING
        out = degrade_frame(harsh.astype(np.float16), frame=3, seed=4, preset=name, params=params).pixels
        assert out.dtype == np.float32 and out.shape == harsh.shape
        assert np.isfinite(out).all(), name
        assert out.min() >= 0.0, name


def test_alpha_passes_through_untouched(photo):
    rng = np.random.default_rng(0)
    alpha = rng.random(photo.shape[:2] + (1,), dtype=np.float32)
    rgba = np.concatenate([photo, alpha], axis=2)
    out = degrade_frame(rgba, frame=9, seed=1, params=EVERYTHING)
    assert out.pixels.shape == rgba.shape
    np.testing.assert_array_equal(out.pixels[..., 3:], alpha)
    rgb_only = degrade_frame(photo, frame=9, seed=1, params=EVERYTHING)
    np.testing.assert_array_equal(out.pixels[..., :3], rgb_only.pixels)


def test_nan_input_raises_image_error_naming_the_frame(photo):
    bad = photo.copy()
    bad[5, 7, 1] = np.nan
    with pytest.raises(ImageError, match=r"frame 1042.*x=7 y=5 channel=1"):
        degrade_frame(bad, frame=1042, preset="faded_16mm")
    bad[5, 7, 1] = np.inf
    named = Frame(bad, "ACEScg", frame=12, path="/shots/a.0012.exr")
    with pytest.raises(ImageError, match=r"/shots/a\.0012\.exr \(frame 12\)"):
        degrade_frame(named)
    frames = [photo, bad]
    it = degrade_sequence(frames, first_frame=500, preset="dusty_35mm")
    next(it)
    with pytest.raises(ImageError, match="frame 501"):
        next(it)


def test_bad_images_raise():
    with pytest.raises(ImageError, match="RGB or RGBA"):
        degrade_frame(np.zeros((8, 8), np.float32), frame=3)
    with pytest.raises(ImageError):
        degrade_frame(np.zeros((8, 8, 2), np.float32))
    with pytest.raises(ImageError):
        degrade_frame(np.zeros((0, 8, 3), np.float32))
    with pytest.raises(ColorSpaceError, match="srgb"):
        degrade_frame(Frame(np.zeros((8, 8, 3), np.float32), "srgb"))


def test_frame_in_frame_out(photo):
    src = Frame(photo, "ACEScg", frame=77, path="/plates/x.0077.exr", metadata={"camera": "A"})
    result = degrade_frame(src, seed=5, preset="super8_home_movie")
    assert result.frame == 77
    np.testing.assert_array_equal(result.pixels, degrade_frame(photo, frame=77, seed=5,
                                                                preset="super8_home_movie").pixels)
    out = result.as_frame(src)
    assert out.colorspace == "ACEScg" and out.frame == 77 and out.metadata["camera"] == "A"
    summary = out.metadata["reelkit/degrade"]
    assert summary["seed"] == 5 and "specks" not in summary.get("dust", {})
    assert summary["weave"] == result.record["weave"]


def test_masks_mark_dust_and_scratches(photo):
    out = degrade_frame(photo, frame=4, seed=2, params={"dust_count": 30, "scratch_count": 2,
                                                        "scratch_presence": 1.0}, masks=True)
    assert set(out.masks) == {"dust", "scratches"}
    for m in out.masks.values():
        assert m.shape == photo.shape[:2] and m.dtype == np.float32
        assert 0.0 <= m.min() and m.max() <= 1.0 and m.max() > 0.2
    changed = np.abs(out.pixels - photo).max(axis=2) > 1e-6
    damaged = (out.masks["dust"] > 0) | (out.masks["scratches"] > 0)
    np.testing.assert_array_equal(changed & ~damaged, np.zeros_like(changed))
    assert degrade_frame(photo, frame=4, seed=2, preset="dusty_35mm").masks == {}


# -- previews -----------------------------------------------------------------------------

def test_side_by_side_preview_shows_clean_and_degraded(photo):
    h, w = photo.shape[:2]
    sheet = preview(photo, "faded_16mm", seed=1, labels=False, max_width=None)
    assert sheet.dtype == np.uint8 and sheet.shape == (h, 2 * w + 4, 3)
    # left: the clean frame, right: the degraded one, sRGB-encoded. Independent encode: ACEScg -> linear
    # sRGB matrix from colour-science 0.4 matrix_RGB_to_RGB(ACEScg, sRGB, "Bradford"), IEC 61966-2-1 curve
    acescg_to_srgb = np.array([[1.7048586763, -0.6217160219, -0.0832993717],
                               [-0.1300768242, 1.1407357748, -0.0105598017],
                               [-0.0239640729, -0.1289755083, 1.1530140189]])

    def encode(acescg):
        lin = np.clip(acescg @ acescg_to_srgb.T, 0, 1)
        return np.round(np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055) * 255).astype(int)

    degraded = degrade_frame(photo, seed=1, preset="faded_16mm").pixels
    assert np.abs(sheet[:, :w].astype(int) - encode(photo)).max() <= 1
    assert np.abs(sheet[:, w + 4:].astype(int) - encode(degraded)).max() <= 1
    assert (sheet[:, w:w + 4] == 40).all()


def test_grid_preview_has_a_tile_per_effect(photo):
    h, w = photo.shape[:2]
    sheet = preview(photo, "dusty_35mm", layout="grid", max_width=None)
    n_tiles = 2 + len(degrade_frame(photo, preset="dusty_35mm").record["applied"])  # clean + effects + all
    cols = int(np.ceil(np.sqrt(n_tiles)))
    rows = int(np.ceil(n_tiles / cols))
    assert sheet.shape == (rows * h + (rows - 1) * 4, cols * w + (cols - 1) * 4, 3)
    small = preview(photo, "dusty_35mm", layout="grid", max_width=200)
    assert small.shape[1] == 200
    with pytest.raises(ParameterError, match="side_by_side"):
        preview(photo, "dusty_35mm", layout="mosaic")
    with pytest.raises(ParameterError, match="clip"):
        preview(photo, "dusty_35mm", view="filmic")
