"""core.degrade.digital: digital and tape defects on real photos, what each changes and what it leaves alone.

Photos: the shipped coffee and astronaut samples, decoded to linear
(:func:`tests.test_degrade.linear_sample`). Every defect is checked pixel by
pixel against its definition (a roll, a flip, a shift with a black band, a
flat block, a streak), and everything it must not touch is compared bit for
bit with the input.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.degrade import DEGRADE_PARAMS, PRESETS, degrade_frame, degrade_sequence, digital_defects, resolve_params
from core.degrade import digital
from tests.test_degrade import linear_sample

RATE = {"frame_shift": "frame_shift_rate", "mirror": "mirror_rate", "tear": "tear_rate", "patch": "patch_rate",
        "dropout": "dropout_rate", "head_switch": "head_switch_rate"}


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return linear_sample("astronaut.png", (40, 200, 100, 340))  # 160 x 240


def only(defect: str, **extra) -> dict:
    return {RATE[defect]: 1.0, **extra}


def run(photo, defect, frame=7, seed=3, **extra):
    return degrade_frame(photo, frame=frame, seed=seed, params=only(defect, **extra), masks=True)


def untouched(out, photo):
    """Pixels outside the defect mask are the input's, bit for bit."""
    keep = out.masks["digital"] == 0
    np.testing.assert_array_equal(out.pixels[keep], photo[keep])


# -- off by default, frames without a defect pass unchanged ------------------------------------

def test_every_default_leaves_the_picture_untouched(photo):
    names = [p.name for p in digital.PARAMS]
    assert set(names) <= set(DEGRADE_PARAMS.params)
    assert not digital.enabled(DEGRADE_PARAMS.defaults())
    # every non-rate knob at a non-default value: still off while every rate is 0
    tweaked = {"dropout_lines": 40.0, "tear_count": 9.0, "patch_size_px": 80.0, "digital_block_px": 8,
               "frame_shift_px": 50.0, "head_switch_lines": 30}
    out = degrade_frame(photo, frame=3, seed=1, params=tweaked)
    assert out.record["applied"] == []
    np.testing.assert_array_equal(out.pixels, photo)
    for name in ("faded_16mm", "dusty_35mm", "super8_home_movie", "third_generation_dupe"):  # film looks
        assert name in PRESETS and not digital.enabled(resolve_params(name)), name


def test_frames_without_a_defect_are_bit_identical(photo):
    frames = range(60)
    hit = [f for f in frames if digital_defects(f, seed=5, preset="digital_tape")]
    assert 0 < len(hit) < 20
    for f in frames:
        out = degrade_frame(photo, frame=f, seed=5, preset="digital_tape", masks=True)
        assert out.record["digital"]["defects"] == list(digital_defects(f, seed=5, preset="digital_tape"))
        if f in hit:
            assert (out.pixels != photo).any() and out.masks["digital"].any(), f
        else:
            np.testing.assert_array_equal(out.pixels, photo)
            assert not out.masks["digital"].any()


# -- each defect ----------------------------------------------------------------------------------

def test_frame_shift_moves_the_picture_and_leaves_a_black_band(photo):
    h, w = photo.shape[:2]
    seen = set()
    for frame in range(12):
        out = run(photo, "frame_shift", frame=frame, frame_shift_px=20.0)
        dx, dy = out.record["digital"]["frame_shift"]["dx"], out.record["digital"]["frame_shift"]["dy"]
        assert (dx == 0) != (dy == 0) and 5 <= abs(dx) + abs(dy) <= 20
        seen.add("v" if dy else "h")
        expected = np.zeros_like(photo)
        ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
        xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
        expected[yd, xd] = photo[ys, xs]
        np.testing.assert_array_equal(out.pixels, expected)
        band = out.masks["digital"] > 0
        assert band.sum() == (abs(dy) * w if dy else abs(dx) * h)
        assert not out.pixels[band].any()
    assert seen == {"v", "h"}


def test_mirror_flips_left_to_right(photo):
    out = run(photo, "mirror")
    np.testing.assert_array_equal(out.pixels, photo[:, ::-1])
    assert out.masks["digital"].all()


def test_block_tears_roll_bands_and_move_blocks_on_the_block_grid(photo):
    block = 16
    bands = blocks = 0
    for frame in range(8):
        out = run(photo, "tear", frame=frame, tear_count=4.0, tear_shift_px=30.0)
        untouched(out, photo)
        rec = out.record["digital"]["tear"]
        bands, blocks = bands + rec["bands"], blocks + rec["blocks"]
        changed = np.argwhere(out.masks["digital"] > 0)
        assert len(changed)
        # changes start on block rows; a torn band is a whole-width roll of the input rows
        rows = np.unique(changed[:, 0])
        assert rows.min() % block == 0
        if rec["bands"] and not rec["blocks"]:
            y = int(rows[0])
            shifts = [s for s in range(-30, 31) if np.array_equal(out.pixels[y], np.roll(photo[y], s, axis=0))]
            assert shifts and 0 < abs(shifts[0]) <= 30
    assert bands > 0 and blocks > 0


def test_solid_patches_are_flat_blocks(photo):
    kinds = set()
    for frame in range(10):
        out = run(photo, "patch", frame=frame, patch_count=1.0, patch_size_px=40.0)
        untouched(out, photo)
        m = out.masks["digital"] > 0
        ys, xs = np.nonzero(m)
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        assert y0 % 16 == 0 and x0 % 16 == 0
        fills = out.record["digital"]["patch"]["patches"]
        kinds.update(fills)
        if len(fills) == 1:  # one rectangle of one colour
            assert m[y0:y1, x0:x1].all() and m.sum() == (y1 - y0) * (x1 - x0)
            colour = out.pixels[y0, x0]
            assert (out.pixels[y0:y1, x0:x1] == colour).all()
            if fills[0] == "black":
                assert not colour.any()
            elif fills[0] == "mean":
                np.testing.assert_allclose(colour, photo[y0:y1, x0:x1].reshape(-1, 3).mean(axis=0), rtol=1e-5)
            else:  # green: an all-zero YUV block
                assert colour[1] > 2 * max(colour[0], colour[2])
    assert kinds == set(digital.PATCH_FILLS)


def test_line_dropouts_are_thin_streaks(photo):
    for frame in range(6):
        out = run(photo, "dropout", frame=frame, dropout_lines=5.0, dropout_length=0.3)
        untouched(out, photo)
        m = out.masks["digital"] > 0
        lines = out.record["digital"]["dropout"]["lines"]
        # a streak is one or two rows high: every row run of the mask (per column) is at most 2 x lines tall
        assert m.any(axis=1).sum() <= 2 * lines
        assert m.sum() <= 2 * lines * photo.shape[1]


def test_head_switching_skews_only_the_bottom_lines(photo):
    h, w = photo.shape[:2]
    out = run(photo, "head_switch", head_switch_lines=10, head_switch_shift_px=12.0)
    np.testing.assert_array_equal(out.pixels[:h - 10], photo[:h - 10])
    rows = np.flatnonzero(out.masks["digital"].any(axis=1))
    assert rows.min() >= h - 10 and rows.max() == h - 1
    for y in rows:
        s = next(s for s in range(1, w) if np.array_equal(out.pixels[y, s:], photo[y, :w - s]))
        assert s <= math.ceil(12 * 1.3)
        assert out.pixels[y, :s].max() <= 0.05  # noise where the picture moved away
    assert out.record["digital"]["head_switch"]["shift_px"] >= 8  # the bottom line moves most


# -- rates and determinism ---------------------------------------------------------------------------

def test_each_defect_strikes_its_seeded_fraction_of_frames_independently():
    frames = range(2000)
    base = {"dropout_rate": 0.1, "patch_rate": 0.05}
    hit = {d: [f for f in frames if d in digital_defects(f, seed=11, params=base)] for d in ("dropout", "patch")}
    for d, rate in (("dropout", 0.1), ("patch", 0.05)):
        sd = math.sqrt(len(frames) * rate * (1 - rate))
        assert abs(len(hit[d]) - rate * len(frames)) < 4 * sd, d
    # another defect's rate changes nothing about which frames have dropouts
    more = [f for f in frames if "dropout" in digital_defects(f, seed=11, params={**base, "patch_rate": 0.5})]
    assert more == hit["dropout"]
    # the preset: about one frame in ten, as in the archives it imitates
    tape = [f for f in frames if digital_defects(f, seed=0, preset="digital_tape")]
    p = digital.defect_fraction(resolve_params("digital_tape"))
    assert 0.09 < p < 0.12
    assert abs(len(tape) - p * len(frames)) < 4 * math.sqrt(len(frames) * p * (1 - p))


def test_same_seed_same_bits_and_frames_are_independent(photo):
    everything = {r: 0.5 for r in RATE.values()}
    a = degrade_frame(photo, frame=21, seed=9, params=everything)
    b = degrade_frame(photo, frame=21, seed=9, params=everything)
    np.testing.assert_array_equal(a.pixels, b.pixels)
    assert a.record == b.record
    assert not np.array_equal(a.pixels, degrade_frame(photo, frame=21, seed=10, params=everything).pixels)
    # a frame's damage does not depend on the frames rendered before it
    seq = list(degrade_sequence([photo] * 3, seed=9, params=everything, first_frame=19))
    np.testing.assert_array_equal(seq[2].pixels, a.pixels)
    assert np.isfinite(a.pixels).all() and a.pixels.min() >= 0 and a.pixels.dtype == np.float32
