"""The compiled nearest-entry kernel (issue 24 item 3) gives the numpy encoder's bits, everywhere.

Reference: :func:`core.palette.encode` with ``kernel="numpy"`` (the exact,
machine-independent path of :mod:`core.palette.assign`). The compiled
kernel must give the same index and the same distance map (so the same
``u``) bit for bit: on real photos, in both fit spaces, for K from 2 to
256, for HDR values (the coarse grid beyond ``|u| > 2``, the clip at
``|u| = 32``), negatives, zeros and float32 denormals, RGBA and threads.
"""

from __future__ import annotations

import numpy as np
import pytest

from core import color
from core.errors import ParameterError
from core.io.samples import load_sample
from core.palette import compiled, encode, fit_palette
from tests.test_palette_operator import exact_random

pytestmark = pytest.mark.skipif(not compiled.available(), reason="numba is not installed")


def same(image, fit, **kw):
    a = encode(image, fit, kernel="numba", **kw)
    b = encode(image, fit, kernel="numpy", **kw)
    assert a.index.dtype == b.index.dtype and np.array_equal(a.index, b.index)
    assert np.array_equal(a.distance.view(np.uint32), b.distance.view(np.uint32))
    assert np.array_equal(a.counts, b.counts)
    c = encode(image, fit, kernel="numba", distance=False, **kw)  # the index-only pass (index and counts written
    assert np.array_equal(c.index, b.index) and np.array_equal(c.counts, b.counts)  # by the kernel itself)
    return a


@pytest.fixture(scope="module")
def photos():
    return {name: color.convert(load_sample(name).pixels, "srgb", "ACEScg")
            for name in ("coffee.png", "rocket.jpg", "astronaut.png")}


@pytest.mark.parametrize("space", ["oklab", "lab"])
@pytest.mark.parametrize("k", [2, 8, 37, 256])
def test_photos_bit_identical(photos, space, k):
    for image in photos.values():
        fit = fit_palette(image, k=k, space=space, sample_size=20_000, max_iter=10)
        same(image, fit)


@pytest.mark.parametrize("k", [3, 4, 5, 6, 7, 9])
def test_every_remainder_of_the_four_entry_passes(photos, k):
    """The keys run four entries per pass, the key matrix padded with its last row to a multiple of 4
    (compiled._by_fours): every remainder of K mod 4, and K below and at 4, gives the numpy path's bits."""
    image = photos["coffee.png"][::2, ::2]
    for space in ("oklab", "lab"):
        same(image, fit_palette(image, k=k, space=space, sample_size=5_000, max_iter=10))


@pytest.mark.parametrize("space", ["oklab", "lab"])
def test_hdr_negative_zero_denormal_bit_identical(space):
    rgb = exact_random((96, 96, 3), seed=11)
    img = np.empty_like(rgb)
    img[:32] = rgb[:32] * np.float32(4.0) - np.float32(1.0)  # negatives and SDR
    img[32:64] = rgb[32:64] ** np.float32(8.0) * np.float32(1e6)  # HDR up to 1e6: coarse grid and clip
    img[64:] = rgb[64:] * np.float32(1e-3)
    img[64:72, :8] = 0.0
    img[72:80, :8] = np.float32(1e-40)  # float32 denormals
    for part in (img, img[:32], img[32:64]):  # a palette of everything, of the SDR rows, of the HDR rows
        fit = fit_palette(part, k=16, space=space, sample_size=5_000)
        same(img, fit)


def test_rgba_threads_and_chunks(photos):
    image = photos["rocket.jpg"]
    alpha = exact_random(image.shape[:2] + (1,), seed=3)
    rgba = np.concatenate([image * alpha, alpha], axis=2)
    fit = fit_palette(rgba, k=12, alpha_threshold=0.1, sample_size=20_000)
    one = same(rgba, fit, threads=1)
    many = encode(rgba, fit, kernel="numba", threads=2, chunk=4097)
    assert np.array_equal(one.index, many.index) and np.array_equal(one.distance, many.distance)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_refused_by_the_kernel_pass(bad):
    """The compiled encoder checks RGB as it reads it (no pass of its own over the frame first): a NaN/Inf
    is refused with the same line as the numpy path's up-front check, naming the pixel and channel, with and
    without the distance map, on several threads and chunks; a non-finite alpha (not read by the kernel) too."""
    from core.errors import ImageError

    img = exact_random((50, 60, 3), seed=4)
    fit = fit_palette(img, k=5)
    img[7, 9, 2] = bad
    lines = set()
    for kernel in ("numba", "numpy"):
        for distance in (False, True):
            with pytest.raises(ImageError, match=r"non-finite.*x=9 y=7 channel=2") as err:
                encode(img, fit, kernel=kernel, distance=distance, threads=2, chunk=500)
            lines.add(str(err.value))
    assert len(lines) == 1
    rgba = np.concatenate([exact_random((50, 60, 3), seed=4), np.ones((50, 60, 1), np.float32)], axis=2)
    rgba[3, 4, 3] = bad
    with pytest.raises(ImageError, match=r"non-finite.*x=4 y=3 channel=3"):
        encode(rgba, fit, kernel="numba")


def test_kernel_choice():
    assert compiled.choose("auto") == "numba" and compiled.choose("numpy") == "numpy"
    img = exact_random((8, 8, 3), seed=1)
    fit = fit_palette(img, k=3)
    with pytest.raises(ParameterError, match="'kernel'.*auto, numpy, numba"):
        encode(img, fit, kernel="cuda")
