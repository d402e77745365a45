"""OpenEXR's thread pool (core.io.exr.exr_threads): sized by the job's thread budget, same bytes at any size."""

from __future__ import annotations

import numpy as np
import pytest

from core import color, io
from core.io import exr, samples
from core.threads import usable_cores


@pytest.fixture()
def pool():
    """Give OpenEXR's pool back the size it had (the test resizes it)."""
    import OpenEXR

    before, kept = OpenEXR.global_thread_count(), list(exr._POOL)
    yield OpenEXR
    OpenEXR.set_global_thread_count(before)
    exr._POOL[:] = kept


@pytest.fixture(scope="module")
def photo():
    """The astronaut photo in ACEScg, mirrored into 1024 x 1536 with an HDR highlight and a NaN (64 zip blocks
    of 16 lines: enough for several threads to compress at once)."""
    px = color.convert_frame(samples.load_sample("astronaut.png"), "ACEScg").pixels[..., :3]
    tile = np.concatenate([px, px[:, ::-1], px], axis=1)
    px = np.ascontiguousarray(np.concatenate([tile, tile[::-1]], axis=0))
    px[100:140, 200:260] *= 40.0
    px[5, 7, 1] = np.nan
    return px


def test_the_pool_is_sized_by_the_thread_budget(pool, monkeypatch):
    monkeypatch.setenv("REELKIT_THREADS", "1")
    assert exr.exr_threads() == 1 and pool.global_thread_count() == 1
    assert exr.exr_threads(2) == min(2, usable_cores())
    assert pool.global_thread_count() == exr._POOL[0]


def test_the_first_exr_read_or_written_sizes_the_pool(pool, monkeypatch, tmp_path):
    monkeypatch.setenv("REELKIT_THREADS", "1")
    pool.set_global_thread_count(0)
    exr._POOL.clear()
    io.write_image(tmp_path / "a.exr", np.zeros((4, 4, 3), np.float32), colorspace="ACEScg")
    assert exr._POOL == [1] and pool.global_thread_count() == 1


@pytest.mark.parametrize("compression", ["zip", "piz", "dwaa"])
@pytest.mark.parametrize("pixel_type", ["half", "float"])
def test_the_bytes_written_and_the_pixels_read_do_not_depend_on_the_thread_count(pool, photo, tmp_path,
                                                                                  compression, pixel_type):
    files, pixels = {}, {}
    for threads in (0, 1, 3):  # 0: OpenEXR in the caller's thread alone; 3 on 2 cores: more threads than cores
        pool.set_global_thread_count(threads)
        path = tmp_path / f"t{threads}.exr"
        io.write_image(path, photo, colorspace="ACEScg", pixel_type=pixel_type, compression=compression)
        files[threads] = path.read_bytes()
        pixels[threads] = io.read_image(tmp_path / "t0.exr").pixels
    assert files[1] == files[0] and files[3] == files[0]
    assert all(np.array_equal(p, pixels[0], equal_nan=True) for p in pixels.values())
    if compression != "dwaa":  # lossless: the pixels read are the pixels written (in half: rounded once)
        want = photo if pixel_type == "float" else photo.astype(np.float16).astype(np.float32)
        assert np.array_equal(pixels[0], want, equal_nan=True)
