"""Generated ground truth through core.degrade (issue 18 item 5): the gauge blur measured on a slanted edge.

core.generate's ISO 12233-style slanted edge is a 1-pixel box-filtered step across a known line, so its
edge-spread function before blurring is known exactly: MTF(f) = sinc(f). core.degrade's lens blur
(``blur_sigma``) is a Gaussian, MTF(f) = exp(-2 pi^2 sigma^2 f^2). The slanted-edge method (pixels binned by
their distance to the known edge, 4x oversampled, differentiated, Fourier transformed, corrected for the
finite difference) must find the MTF50 of their product, for the sigma that was asked.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.degrade import degrade_frame
from core.generate import generate
from core.generate._math import sin_cos_degrees


def slanted_edge_mtf50(img: np.ndarray, angle: float, *, half_width: int = 24, oversample: int = 4) -> float:
    """MTF50 (cycles per pixel) of a single-channel image of core.generate's slanted edge at ``angle`` degrees."""
    h, w = img.shape
    s, c = sin_cos_degrees(angle)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    d = (x - w / 2) * c - (y - h / 2) * s  # signed distance to the edge, px (the chart's own definition)
    keep = (np.abs(d) < half_width) & (y > 16) & (y < h - 16) & (x > 16) & (x < w - 16)  # away from the borders
    n = 2 * half_width * oversample
    bins = np.floor((d[keep] + half_width) * oversample).astype(int)
    esf = np.bincount(bins, img[keep], n) / np.maximum(np.bincount(bins, None, n), 1)
    spectrum = np.abs(np.fft.rfft(np.diff(esf), 8 * n))
    freq = np.fft.rfftfreq(8 * n, 1 / oversample)
    spectrum = spectrum / spectrum[0] / np.sinc(freq / oversample)  # the one-bin difference is a sinc
    i = int(np.argmax(spectrum < 0.5))
    return float(freq[i - 1] + (spectrum[i - 1] - 0.5) / (spectrum[i - 1] - spectrum[i]) * (freq[i] - freq[i - 1]))


def predicted_mtf50(sigma: float) -> float:
    """Where sinc(f) * exp(-2 pi^2 sigma^2 f^2) falls to 0.5."""
    f = np.linspace(0.0, 0.5, 500_001)
    return float(f[np.argmax(np.sinc(f) * np.exp(-2 * np.pi**2 * sigma**2 * f**2) < 0.5)])


@pytest.mark.parametrize("sigma, angle", [(0.8, 5.0), (1.5, 3.0), (1.5, 8.0), (3.0, 5.0)])
def test_blur_sigma_gives_the_mtf50_asked_for(sigma, angle):
    edge = generate("chart", {"chart": "slanted_edge", "edge_angle": angle}, width=256, height=256).pixels
    out = degrade_frame(edge, params={"blur_sigma": sigma}, seed=0).pixels
    measured = slanted_edge_mtf50(out[..., 1], angle)
    assert measured == pytest.approx(predicted_mtf50(sigma), rel=0.02)


def test_smaller_gauges_have_lower_mtf50():
    edge = generate("chart", {"chart": "slanted_edge", "edge_angle": 5.0}, width=256, height=256).pixels
    mtf50 = [slanted_edge_mtf50(degrade_frame(edge, params={"gauge": g}, seed=0).pixels[..., 1], 5.0)
             for g in ("35mm", "16mm", "super8")]
    assert mtf50[0] > mtf50[1] > mtf50[2]
    # 16mm resamples through a frame 2.14x smaller: its MTF50 is at most half of 35mm's
    assert mtf50[1] < 0.5 * mtf50[0]
