"""Alignment must not invent motion: a damaged copy of a real photo aligns to the photo at identity.

The case of issue 14: a scan and a copy of it with damage, geometrically
identical. Each shipped photo (sRGB decoded to ACEScg) is the reference;
the source is the same pixels with film damage and digital defects from
``core.degrade``: dusty_35mm's grain, dust, scratches and flicker (its gate
weave off, so nothing moves), and on every frame line dropouts, solid
patches and block tears (bands of picture torn sideways). The truth is the
identity map, so the statistic is the displacement ``|coords(p) - p|`` over
the valid pixels: before the fix the default method moved pixels by up to
0.36 px on pairs like these (a local field fitted to the damage, an affine
pulled by it) and the forward-backward check left 65-89 % of pixels valid.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from core.align import align
from tests.test_align import photo

#: The issue's target: within 0.05 px of identity on identical pairs.
MAX_DISPLACEMENT = 0.05
#: core.degrade parameters of the damage: no weave, no scratch drift (nothing moves), every digital defect that
#: keeps the frame in place on every frame.
DAMAGE = {"weave_amplitude_px": 0.0, "scratch_drift_px": 0.0, "dropout_rate": 1.0, "patch_rate": 1.0,
          "tear_rate": 1.0}


def damaged_copy(ref: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(source, defects)``: ``ref`` (``HW3`` ACEScg) with :data:`DAMAGE`; ``defects`` marks the digital ones."""
    from core.degrade import degrade_frame

    out = degrade_frame(ref, preset="dusty_35mm", seed=seed, frame=1, params=DAMAGE, masks=True)
    return out.pixels, out.masks["digital"] > 0


def displacement(res) -> np.ndarray:
    """``|coords(p) - p|`` (px) of every source pixel (the pairs are the same size)."""
    h, w = res.warped.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    c = res.coords().astype(np.float64)
    return np.hypot(c[..., 0] - xs, c[..., 1] - ys)


@pytest.mark.parametrize("name", ["coffee", "chelsea", "astronaut", "rocket"])
@pytest.mark.parametrize("seed", [5, 6])
def test_damaged_copy_aligns_at_identity_with_most_pixels_valid(name, seed):
    ref = photo(name)
    src, defects = damaged_copy(ref, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # spline.py:210 "invalid value encountered in divide" was one
        res = align(src, ref)
    assert res.converged, res.reason
    valid = res.mask[..., 0] > 0
    d = displacement(res)[valid]
    assert d.max() <= MAX_DISPLACEMENT, (d.max(), np.percentile(d, 95), res.stages["flow"])
    assert not res.stages["flow"]["kept"] and res.motion == "translation"  # the affine's extra terms fitted nothing
    assert res.valid_fraction >= 0.95
    # the damage is what training must see: the reference stays valid where the source is damaged
    assert res.mask[..., 0][defects].mean() >= 0.95


def test_identical_images_give_the_identity_without_warnings():
    ref = photo("coffee")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = align(ref, ref)
    assert res.converged, res.reason
    assert np.abs(displacement(res)).max() <= 1e-3
    assert not res.stages["flow"]["kept"] and res.valid_fraction > 0.99
    np.testing.assert_array_equal(res.flow, 0.0)
