"""Palette operator with fixed (locked) entries: ``fit_palette(..., fixed=...)``.

Ground truth: images made of known colours, so which entries a fit should
find, and that a fixed entry is kept exactly, are known in advance.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.errors import ParameterError
from core.palette import encode, fit_palette, fit_shared_palette
from tests.test_palette_operator import KNOWN, match_error, palette_image

#: A colour far from every KNOWN one (saturated cyan).
CYAN = np.array([0.02, 0.55, 0.70], np.float32)


def test_no_fixed_is_the_plain_fit_bit_for_bit():
    img = palette_image(KNOWN, noise=0.02)
    plain = fit_palette(img, k=6, seed=3, sample_size=3000)
    for none in (None, [], np.zeros((0, 3), np.float32)):
        again = fit_palette(img, k=6, seed=3, sample_size=3000, fixed=none)
        for name in ("palette", "palette_acescg", "positions", "counts"):
            assert getattr(again, name).tobytes() == getattr(plain, name).tobytes(), name
        assert again.fixed is None and "fixed" not in again.to_dict() and "fixed" not in again.params


def test_fixed_entries_are_kept_exactly_and_the_rest_is_fitted():
    img = palette_image(KNOWN)
    fixed = np.stack([KNOWN[0] * np.float32(1.1), CYAN])  # one near the data, one far from it
    fit = fit_palette(img, k=7, fixed=fixed)
    assert fit.k == 7 and fit.fixed.dtype == bool and fit.fixed.sum() == 2
    kept = fit.palette_acescg[fit.fixed]
    assert sorted(map(tuple, kept.tolist())) == sorted(map(tuple, fixed.tolist()))  # bit for bit
    # the free entries still find the four known colours the fixed ones do not cover
    assert match_error(fit.palette_acescg[~fit.fixed], KNOWN[1:]).max() < 0.3
    # the cyan entry has no pixels; the red one shares its colour with the data
    cyan = int(np.flatnonzero(fit.fixed)[[np.allclose(c, CYAN) for c in kept]][0])
    assert fit.counts[cyan] == 0
    assert fit.to_dict()["fixed"] == [int(i) for i in np.flatnonzero(fit.fixed)]
    assert fit.params["fixed"] == fixed.astype(np.float64).tolist()
    json.dumps(fit.to_dict())
    enc = encode(img, fit)
    assert not (enc.index == cyan).any()


def test_a_fixed_entry_stays_put_where_a_free_one_would_move():
    img = palette_image(KNOWN[:3])
    off = KNOWN[0] + np.float32(0.05)  # near red, not on it
    free = fit_palette(img, k=3)
    fit = fit_palette(img, k=3, fixed=[off])
    assert match_error(free.palette_acescg, KNOWN[:3]).max() < 0.3
    (row,) = np.flatnonzero(fit.fixed)
    np.testing.assert_array_equal(fit.palette_acescg[row], off)
    # the red pixels are now taken by the fixed entry: no free entry needed there
    assert fit.shares[row] == pytest.approx(1 / 3, abs=0.05)


def test_fixed_fits_are_deterministic_and_order_free():
    img = palette_image(KNOWN, noise=0.02)
    a = fit_palette(img, k=6, seed=5, sample_size=3000, fixed=[KNOWN[2], CYAN])
    b = fit_palette(img.copy(), k=6, seed=5, sample_size=3000, fixed=[KNOWN[2], CYAN])
    assert a.palette.tobytes() == b.palette.tobytes() and a.fixed.tobytes() == b.fixed.tobytes()
    assert a.n_iter == b.n_iter


def test_all_entries_fixed_only_assigns():
    img = palette_image(KNOWN[:3], noise=0.0)
    fit = fit_palette(img, k=3, fixed=KNOWN[:3])
    assert fit.fixed.all()
    assert sorted(map(tuple, fit.palette_acescg.tolist())) == sorted(map(tuple, KNOWN[:3].tolist()))
    np.testing.assert_allclose(fit.shares, 1 / 3, atol=0.05)


def test_shared_palette_takes_fixed_entries():
    frames = [palette_image(KNOWN[:3], seed=s, h=32, w=32) for s in range(3)]
    fit = fit_shared_palette(frames, k=4, fixed=[CYAN])
    assert fit.fixed.sum() == 1 and fit.n_frames == 3
    np.testing.assert_array_equal(fit.palette_acescg[fit.fixed][0], CYAN)
    assert match_error(fit.palette_acescg[~fit.fixed], KNOWN[:3]).max() < 0.3


def test_fewer_distinct_colours_are_needed_with_fixed_entries():
    img = palette_image(KNOWN[:3], noise=0.0)
    with pytest.raises(ParameterError, match=r"4 colours requested.*only 3 distinct"):
        fit_palette(img, k=4)
    fit = fit_palette(img, k=4, fixed=[CYAN])  # 3 free entries for 3 colours
    assert fit.fixed.sum() == 1


@pytest.mark.parametrize("fixed, match", [
    (np.zeros((2, 4), np.float32), r"'fixed'.*shape \(2, 4\)"),
    ([[0.1, float("nan"), 0.2]], r"'fixed'.*finite"),
    ([KNOWN[0], KNOWN[0]], r"'fixed'.*same colour"),
    (np.tile(KNOWN[:1], (4, 1)) + np.arange(4, dtype=np.float32)[:, None] * 0.01, r"'fixed'.*4 fixed colours for k=3"),
    ("red", r"'fixed'"),
])
def test_refuses_bad_fixed(fixed, match):
    with pytest.raises(ParameterError, match=match):
        fit_palette(palette_image(KNOWN, h=8, w=8), k=3, fixed=fixed)


def test_refuses_when_every_colour_is_a_fixed_one():
    img = palette_image(KNOWN[:2], noise=0.0)
    with pytest.raises(ParameterError, match=r"2 colour\(s\) to fit besides the 2 fixed.*only 0 distinct"):
        fit_palette(img, k=4, fixed=KNOWN[:2])
