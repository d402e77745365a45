"""core.generate: bit-exact procedural ground truth (issue 18 items 1-2).

Golden sha256 digests (first 32 hex digits of the float32 pixel bytes, 96x64) pin every family's bytes; a
subprocess on 1 and on 2 threads (OMP_NUM_THREADS and generate(threads=)) gives the same digests. Reference
values: ColorChecker 24 from colour-science through OpenColorIO; sRGB code values of the SMPTE bars through
core.color; the exact-operation transcendental functions against numpy's libm.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from core.errors import ParameterError
from core.generate import FAMILIES, generate, parse_size
from core.generate import _math as xm
from tests.conftest import REPO

#: (family, params, seed, sha256[:32] of generate(..., width=96, height=64).pixels.tobytes())
GOLDEN = [
    ("noise", {}, 7, "da4929a22895bd3d7bc89333f1a2797c"),
    ("noise", {"noise": "value", "type": "turbulence", "size": 20, "size_y": 30}, 1,
     "c88ba9ebef6041b8a5cd4cbd68f6f164"),
    ("noise", {"noise": "simplex", "rotate": 30, "zoffset": 0.4, "size": 25, "size_y": 25, "gamma": 1.0}, 2**40 + 3,
     "b8057a4df55f3411dd28c5ebe661512c"),
    ("noise", {"translate_x": 12345.5, "scale": 0.1, "octaves": 16, "nyquist": False, "lacunarity": 2.5}, 0,
     "2319054a474a41f84bee74b5a38d683b"),
    ("ramp", {"shape": "linear", "angle": 30, "exposure": 1.5}, 0, "d2a5434a03ec1242d806a3c0a4d0ee51"),
    ("ramp", {"shape": "radial", "falloff": "smooth"}, 0, "93b7ea98c6a38e2bdb42cd273a2f2179"),
    ("ramp", {"shape": "angular", "angle": 45}, 0, "23f89bcad2fe00a035a5f23a22609530"),
    ("ramp", {"shape": "four_corner"}, 0, "61762ea297605a46be2057eff70e0a7f"),
    ("shape", {"shape": "circle"}, 0, "f5b2e57998797a655661289ab6560a6f"),
    ("shape", {"shape": "box", "rotate": 15, "aspect": 1.5}, 0, "eec239b1e37424c5db768503320dfca5"),
    ("shape", {"shape": "rounded_box", "repeat_x": 3, "repeat_y": 2, "radius": 0.1}, 0,
     "277e1040098dc2f1a9ed8d8177b2a6b7"),
    ("shape", {"shape": "ring", "union": "line"}, 0, "03fe137cf77e20fa684d090133856f94"),
    ("shape", {"shape": "polygon", "sides": 7}, 0, "66489d6bf8d76e803a5c7d0c5a19a4f2"),
    ("shape", {"shape": "star", "rotate": 10}, 0, "ff32c5fa215ab0ad2a102212be7784cd"),
    ("repetition", {}, 0, "63c7f39c914b8b9a252c683298692e95"),
    ("repetition", {"element": "spiral", "repeats": 3, "step_x": 0.4, "origin_x": 0.2}, 0,
     "6c80ece463dbe9858b9f2a2f210d2fdd"),
    ("repetition", {"element": "square", "repeats": 20, "rotation_mode": "golden_angle", "rotation_step": 1,
                    "alpha_step": -0.04, "scene_rotate": 20}, 0, "21ea1c0046ed7d641e9a415f8283a362"),
    ("repetition", {"element": "wave", "repeats": 4, "step_y": 0.15, "origin_y": 0.25, "position_mode": "sine"}, 0,
     "ea127c729b57d8924daef5432d1f6d3d"),
    ("repetition", {"element": "u", "repeats": 5, "scale_mode": "fibonacci", "step_x": 0.1, "origin_x": 0.2}, 0,
     "70ece0cba007fe9a3c4ee8edd13bef72"),
    ("repetition", {"element": "infinity", "repeats": 6, "scale_mode": "golden"}, 0,
     "4e0b19133787b25cdea79bb8a366a6bb"),
    ("chart", {"chart": "colorchecker"}, 0, "9b411c0dc994307112dc98a086dc5f8d"),
    ("chart", {"chart": "smpte_bars"}, 0, "00d5dd3814d16867d9bd278f4ea952cb"),
    ("chart", {"chart": "zone_plate"}, 0, "4f47115e4737985195ff8a05b0ff8386"),
    ("chart", {"chart": "slanted_edge", "edge_angle": 5}, 0, "d2e81796289f13ddca7e4dfd0e525653"),
    ("chart", {"chart": "step_wedge"}, 0, "305c0e2c14285d485d13f3421c7b7b1a"),
    ("chart", {"chart": "star_chart"}, 0, "312ddc1454a17cc9ceeb29d9e4adef10"),
]


def digest(pixels: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(pixels).tobytes()).hexdigest()[:32]


@pytest.mark.parametrize("family, params, seed, expected", GOLDEN, ids=[f"{g[0]}-{i}" for i, g in enumerate(GOLDEN)])
def test_golden_digest(family, params, seed, expected):
    frame = generate(family, params, seed=seed, width=96, height=64, threads=1)
    assert frame.pixels.dtype == np.float32 and frame.pixels.shape == (64, 96, 3)
    assert frame.colorspace == "ACEScg" and np.isfinite(frame.pixels).all()
    assert digest(frame.pixels) == expected


_SUBPROCESS = """
import hashlib, json, sys
from core.generate import generate
cases, threads = json.loads(sys.argv[1]), int(sys.argv[2])
out = [hashlib.sha256(generate(f, p, seed=s, width=w, height=h, threads=threads).pixels.tobytes()).hexdigest()[:32]
       for f, p, s, w, h in cases]
print(json.dumps(out))
"""


def test_thread_count_does_not_change_the_bytes():
    # every golden case, plus renders of several row bands (a band is 64k pixels) so threads really split them
    cases = [[f, p, s, 96, 64] for f, p, s, _ in GOLDEN]
    cases += [["noise", {"rotate": 20, "zoffset": 1.5}, 3, 700, 400], ["repetition", {"repeats": 30}, 0, 640, 360],
              ["chart", {"chart": "star_chart"}, 0, 640, 360]]
    runs = {}
    for threads in (1, 2):
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads),
               "MKL_NUM_THREADS": str(threads)}
        done = subprocess.run([sys.executable, "-c", _SUBPROCESS, json.dumps(cases), str(threads)], cwd=REPO, env=env,
                              capture_output=True, text=True, check=True)
        runs[threads] = json.loads(done.stdout)
    assert runs[1] == runs[2]
    assert runs[1][:len(GOLDEN)] == [g[3] for g in GOLDEN]


def test_bands_do_not_change_the_bytes(monkeypatch):
    from core.generate import _tiles

    whole = generate("noise", {"rotate": 10, "noise": "simplex"}, seed=5, width=200, height=90, threads=1).pixels
    monkeypatch.setattr(_tiles, "BAND_PIXELS", 200 * 7)  # 13 bands of 7 rows
    banded = generate("noise", {"rotate": 10, "noise": "simplex"}, seed=5, width=200, height=90, threads=3).pixels
    assert digest(whole) == digest(banded)


def test_seed_changes_noise_and_nothing_else():
    a = generate("noise", {}, seed=1, width=64, height=32).pixels
    b = generate("noise", {}, seed=2, width=64, height=32).pixels
    assert not np.array_equal(a, b)
    big = [generate("noise", {}, seed=s, width=64, height=32).pixels for s in (5, 5 + 2**32)]
    assert not np.array_equal(*big)  # every bit of the seed counts
    ramps = [generate("ramp", {"shape": "radial"}, seed=s, width=64, height=32).pixels for s in (1, 2)]
    assert np.array_equal(*ramps)


def test_metadata_names_generator_params_and_seed():
    frame = generate("shape", {"shape": "star"}, seed=3, width=16, height=16)
    assert frame.metadata["generator"] == "reelkit.generate/1"
    assert frame.metadata["family"] == "shape" and frame.metadata["seed"] == 3
    assert frame.metadata["params"] == FAMILIES["shape"].spec.resolve({"shape": "star"})


# -- noise -------------------------------------------------------------------------------------------------------

def test_noise_statistics_and_ranges():
    p = {"gamma": 1.0, "size": 16, "size_y": 16, "octaves": 1}
    for kind in ("value", "gradient", "simplex"):
        fbm = generate("noise", {**p, "noise": kind}, seed=9, width=512, height=256).pixels[..., 0]
        assert 0.0 <= fbm.min() and fbm.max() <= 1.0
        assert abs(float(fbm.mean()) - 0.5) < 0.03, kind  # zero-mean lattice noise
        assert fbm.std() > 0.05, kind
        turb = generate("noise", {**p, "noise": kind, "type": "turbulence"}, seed=9, width=512, height=256).pixels
        assert turb.min() >= 0.0 and turb.max() <= 1.0


def test_noise_colour_ramp_gamma_and_zoffset():
    base = {"size": 30, "size_y": 30, "octaves": 3}
    v = generate("noise", {**base, "gamma": 1.0}, seed=4, width=64, height=48).pixels[..., 0]
    g = generate("noise", {**base, "gamma": 0.5}, seed=4, width=64, height=48).pixels[..., 0]
    np.testing.assert_allclose(g, np.sqrt(v), rtol=2e-6, atol=1e-7)
    col = generate("noise", {**base, "gamma": 1.0, "color0_r": 0.2, "color1_r": 0.6, "color1_g": 0.0, "color1_b": 2.0},
                   seed=4, width=64, height=48).pixels
    np.testing.assert_allclose(col[..., 0], 0.2 + 0.4 * v, atol=1e-6)
    assert not col[..., 1].any()
    np.testing.assert_allclose(col[..., 2], 2.0 * v, atol=1e-6)
    # zoffset moves continuously: a small step changes the image a little, an integer step completely
    z0, z1, z2 = (generate("noise", {**base, "zoffset": z}, seed=4, width=64, height=48).pixels
                  for z in (2.0, 2.001, 3.0))
    assert 0 < np.abs(z1 - z0).max() < 0.01 < np.abs(z2 - z0).max()


def test_nyquist_drops_octaves_finer_than_two_pixels():
    # size 8: octave k has frequency 2**k / 8 cycles per pixel; k >= 3 is above 0.5 and dropped
    few = generate("noise", {"size": 8, "size_y": 8, "octaves": 3, "gamma": 1}, seed=2, width=64, height=64).pixels
    many = generate("noise", {"size": 8, "size_y": 8, "octaves": 12, "gamma": 1}, seed=2, width=64, height=64).pixels
    raw = generate("noise", {"size": 8, "size_y": 8, "octaves": 12, "gamma": 1, "nyquist": False}, seed=2, width=64,
                   height=64).pixels
    assert np.array_equal(few, many) and not np.array_equal(many, raw)


# -- ramps, shapes, repetition --------------------------------------------------------------------------------------

def test_ramps_exposure_and_endpoints():
    lin = generate("ramp", {"shape": "linear"}, width=100, height=10).pixels
    np.testing.assert_allclose(lin[0, :, 0], (np.arange(100) + 0.5) / 100, atol=1e-6)  # left to right, 0..1
    up = generate("ramp", {"shape": "linear", "exposure": 2.0}, width=100, height=10).pixels
    np.testing.assert_array_equal(up, lin * np.float32(4.0))
    four = generate("ramp", {"shape": "four_corner"}, width=2, height=2).pixels
    # pixel (0, 0) is at u = v = 1/4: 9/16 top left (0, 0, 0), 3/16 top right (1, 1, 1), 3/16 bottom left (1, 0, 0),
    # 1/16 bottom right (0, 0, 1)
    np.testing.assert_array_equal(four[0, 0], np.float32([3 / 16 + 3 / 16, 3 / 16, 3 / 16 + 1 / 16]))
    ang = generate("ramp", {"shape": "angular"}, width=64, height=64).pixels[..., 0]
    assert ang[31, 63] < 0.01 and abs(ang[0, 31] - 0.25) < 0.01  # 0 along +x, a quarter turn straight up


def test_shapes_area_matches_geometry():
    h = 400
    for shape, area in (("circle", np.pi * 0.3 ** 2), ("box", 4 * 0.3 * 0.3),
                        ("polygon", 0.5 * 6 * 0.3 ** 2 * np.sin(2 * np.pi / 6))):
        params = {"shape": shape, "sides": 6, "foreground_r": 1, "foreground_g": 1, "foreground_b": 1,
                  "background_r": 0, "background_g": 0, "background_b": 0}
        cov = generate("shape", params, width=h, height=h).pixels[..., 0]
        assert abs(float(cov.sum()) / h**2 - area) < 2e-3 * area + 2 / h, shape


def test_repetition_progressions():
    from core.generate.repetition import progression

    assert [progression("linear", i, 4) for i in range(4)] == [0, 1, 2, 3]
    assert [progression("additive", i, 4) for i in range(4)] == [0, 1, 3, 6]
    assert [progression("exponential", i, 4) for i in range(3)] == [0, 0.5, 1.25]
    assert progression("golden", 2, 4) == pytest.approx(1.618033988749895**2 - 1)
    assert progression("golden_angle", 2, 4) == pytest.approx(2 * 137.50776405)
    assert progression("sine", 1, 4) == pytest.approx(1.0)
    # alpha 0 draws nothing; one element in the scene's colour where fully covered
    empty = generate("repetition", {"alpha_start": 0.0}, width=64, height=64).pixels
    assert np.all(empty == np.float32(0.02))
    one = generate("repetition", {"repeats": 1, "filled": True, "radius": 0.3}, width=64, height=64).pixels
    np.testing.assert_array_equal(one[32, 32], np.float32([0.9, 0.6, 0.2]))


# -- charts ------------------------------------------------------------------------------------------------------

def test_colorchecker_matches_colour_science_through_ocio():
    from core.generate.charts import COLORCHECKER_ACESCG, colorchecker_acescg_reference

    reference = colorchecker_acescg_reference()
    table = np.array([rgb for _, rgb in COLORCHECKER_ACESCG])
    assert np.abs(table - reference).max() < 1e-5
    img = generate("chart", {"chart": "colorchecker"}, width=600, height=400).pixels
    cell = min(600 / 6, 400 / 4) * 0.94
    ox, oy = (600 - 6 * cell) / 2, (400 - 4 * cell) / 2
    centres = [img[int(oy + (k // 6 + 0.5) * cell), int(ox + (k % 6 + 0.5) * cell)] for k in range(24)]
    assert np.abs(np.array(centres) - reference).max() < 1e-5


def test_rec709_matrix_is_core_color_s():
    from core.color import conversion_matrix
    from core.generate.charts import REC709_TO_ACESCG

    np.testing.assert_allclose(np.array(REC709_TO_ACESCG), conversion_matrix("lin_rec709", "ACEScg"), atol=1e-9)


def test_smpte_bars_encode_to_their_code_values():
    from core.color import convert

    img = generate("chart", {"chart": "smpte_bars"}, width=1920, height=1080).pixels
    srgb = convert(img[[300, 660, 760], :][:, [100, 240 + 103, 240 + 3 * 206 + 103, 1800]].reshape(-1, 3),
                   "ACEScg", "srgb").reshape(3, 4, 3)
    np.testing.assert_allclose(srgb[0, 0], [0.4] * 3, atol=1e-4)        # 40% grey side panel
    np.testing.assert_allclose(srgb[0, 1], [0.75] * 3, atol=1e-4)       # 75% white bar
    np.testing.assert_allclose(srgb[0, 2], [0.0, 0.75, 0.0], atol=1e-4)  # 75% green bar
    np.testing.assert_allclose(srgb[1, 0], [0.0, 1.0, 1.0], atol=1e-4)   # 100% cyan
    np.testing.assert_allclose(srgb[1, 3], [0.0, 0.0, 1.0], atol=1e-4)   # 100% blue
    np.testing.assert_allclose(srgb[2, 3], [1.0, 0.0, 0.0], atol=1e-4)   # 100% red
    pluge = img[1000, 240 + int(4.5 * 1440 / 7)]                         # the -2% PLUGE bar: below black
    assert (pluge < 0).all()


def test_step_wedge_and_slanted_edge_geometry():
    wedge = generate("chart", {"chart": "step_wedge", "steps": 5, "stop_min": -2, "stop_max": 2}, width=50,
                     height=4).pixels[0, ::10, 1]
    np.testing.assert_array_equal(wedge, np.float32([0.045, 0.09, 0.18, 0.36, 0.72]))
    edge = generate("chart", {"chart": "slanted_edge", "edge_angle": 5.0}, width=200, height=200).pixels[..., 0]
    # the 50% crossing of each row moves by tan(5 deg) px per row, to the left going up
    t = (edge - 0.05) / 0.75
    xs = np.array([np.interp(0.5, t[y], np.arange(200) + 0.5) for y in range(20, 180)])
    slope = np.polyfit(np.arange(20, 180), xs, 1)[0]
    assert slope == pytest.approx(np.tan(np.radians(5.0)), abs=1e-3)


def test_zone_plate_and_star_chart():
    zp = generate("chart", {"chart": "zone_plate"}, width=128, height=128).pixels[..., 0]
    assert zp[64, 64] == pytest.approx(0.8, abs=1e-3) and zp.min() == pytest.approx(0.05, abs=1e-3)
    star = generate("chart", {"chart": "star_chart", "spokes": 8}, width=200, height=200).pixels[..., 0]
    # the middle of each of the 16 half-cycles, 60 px out: bright and dark alternate, starting bright along +x
    ring = [star[int(round(99.5 - 60 * np.sin(a))), int(round(99.5 + 60 * np.cos(a)))]
            for a in np.radians((np.arange(16) + 0.5) * 22.5)]
    assert [bool(v > 0.7) for v in ring] == [True, False] * 8 and all(v > 0.7 or v < 0.15 for v in ring)


# -- exact maths --------------------------------------------------------------------------------------------------

def test_exact_math_matches_libm():
    rng = np.random.default_rng(0)
    t = rng.uniform(-100, 100, 10000)
    s, c = xm.sin_cos_turns(t)
    assert np.abs(s - np.sin(2 * np.pi * t)).max() < 1e-12 and np.abs(c - np.cos(2 * np.pi * t)).max() < 1e-12
    y, x = rng.normal(size=(2, 10000))
    assert np.abs(xm.atan2_turns(y, x) - np.arctan2(y, x) / (2 * np.pi)).max() < 1e-15
    z = rng.uniform(-60, 60, 10000)
    assert np.abs(xm.exp2(z) / np.exp2(z) - 1).max() < 1e-14
    w = rng.uniform(1e-9, 1e9, 10000)
    assert np.abs(xm.log2(w) - np.log2(w)).max() < 1e-13
    assert np.abs(xm.power(w / 1e9, 2.4) - (w / 1e9) ** 2.4).max() < 1e-13


# -- bad input -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, words", [
    (lambda: generate("clouds"), ["unknown family", "clouds", "noise"]),
    (lambda: generate("noise", {"octaves": 40}), ["octaves", "40"]),
    (lambda: generate("noise", {"colour": 1}), ["unknown parameter", "colour"]),
    (lambda: generate("chart", {"chart": "bars"}), ["chart", "bars"]),
    (lambda: generate("chart", {"edge_angle": 12}), ["edge_angle", "12"]),
    (lambda: generate("noise", width=0, height=10), ["width", "0"]),
    (lambda: generate("noise", width=10, height=16385), ["height", "16385"]),
    (lambda: generate("noise", seed=1.5), ["seed", "1.5"]),
    (lambda: generate("noise", seed="seven"), ["seed", "seven"]),
    (lambda: generate("noise", seed=-1), ["seed", "-1"]),
    (lambda: parse_size("1920*1080"), ["size", "1920*1080"]),
    (lambda: parse_size("0x100"), ["width", "0"]),
])
def test_bad_input_is_one_line_naming_it(call, words):
    with pytest.raises(ParameterError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message and all(w in message for w in words), message


def test_sampled_variations_are_seeded_and_in_range():
    from core.generate.sampling import sample_params, variation_seed

    for name, fam in FAMILIES.items():
        a = [sample_params(name, 11, i) for i in range(6)]
        assert a == [sample_params(name, 11, i) for i in range(6)]
        assert a != [sample_params(name, 12, i) for i in range(6)]
        for values in a:
            for key, span in fam.sampling.items():
                if span is not None:
                    assert span[0] <= values[key] <= span[1], (name, key)
    fixed = sample_params("shape", 3, 0, {"shape": "ring"})
    assert fixed["shape"] == "ring"
    assert len({variation_seed(3, i) for i in range(100)}) == 100
