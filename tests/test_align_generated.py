"""Alignment on generated ground truth (issue 18 item 5): core.generate's noise is a continuous function of the
pixel position, so a source rendered with another translate / rotate is the reference moved by exactly that
transform — sub-pixel and turned, with no resampling of any image. align must recover it.

Noise lattice coordinate of pixel centre p (core.generate.noise): M (p - C - T), M = [[cos, sin], [-sin, cos]]
of the rotate knob, C the image centre, T the translate knobs. The reference has rotate 0, T 0, so source pixel p
shows reference point q = M p + C - M C - M T; core.align puts pixel centres at integers (p - 0.5).
"""

from __future__ import annotations

import numpy as np
import pytest

from core.align import align
from core.generate import generate

NOISE = {"size": 40, "size_y": 40, "octaves": 5, "gamma": 1.0}
W, H = 256, 192


def expected_transform(tx: float, ty: float, degrees: float) -> np.ndarray:
    """The 2x3 source -> reference transform (pixel centres at integers) of a source rendered with these knobs."""
    a = np.radians(degrees)
    m = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
    c, t, half = np.array([W / 2, H / 2]), np.array([tx, ty]), np.array([0.5, 0.5])
    offset = c - m @ c - m @ t + m @ half - half
    return np.hstack([m, offset[:, None]])


@pytest.mark.parametrize("tx, ty, degrees, method", [
    (-3.25, 1.5, 0.0, "phase"), (-3.25, 1.5, 0.0, "ecc"), (-0.4, -0.7, 0.0, "ecc"), (2.0, -1.0, 1.5, "ecc"),
])
def test_align_recovers_the_transform_the_generator_rendered(tx, ty, degrees, method):
    ref = generate("noise", NOISE, seed=4, width=W, height=H).pixels
    src = generate("noise", {**NOISE, "translate_x": tx, "translate_y": ty, "rotate": degrees}, seed=4,
                   width=W, height=H).pixels
    result = align(src, ref, method=method)
    assert result.converged, result.reason
    want = expected_transform(tx, ty, degrees)
    np.testing.assert_allclose(result.transform[:2, :2], want[:, :2], atol=1e-3)
    np.testing.assert_allclose(result.transform[:2, 2], want[:, 2], atol=0.05)
