"""Detail channels of the whole-frame context: local_detail, frame_context(detail=True), the manifest key,
a detail model in the restorer, the config key, and a short training run that writes a detail model.

References: ``|x - box3(x)|`` recomputed in float64 with ``numpy.pad(mode="reflect")``
(numpy's "reflect" mirrors without repeating the edge sample: OpenCV's
``BORDER_REFLECT_101``), with no blur along an axis of length 1, and a
hand-worked 1 x 3 row; band means of that reference by a float64 double
loop over the band edges (as in tests/test_infer_context.py); exact
invariants (a constant frame has no detail, a power-of-two gain scales
every channel exactly). For the restorer: the torch network the ONNX
graph was exported from (``unshuffle_context``, 8 channels, 1 block, 8x8
context with detail, exported through ``core.train.export``, its
zero-initialised context layers given seeded random weights), run on the
frame reflect-padded with ``numpy.pad``. For configs: film_restore
3.0.0's training config and hash as models/manifest.json recorded them
before the key existed. Frames: the shipped coffee photo in ACEScg.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from core.errors import ParameterError  # noqa: E402
from core.infer import ModelError, Restorer, encode_pixels, load_model_spec, write_model_manifest  # noqa: E402
from core.infer.context import context_channels, context_input, frame_context, local_detail  # noqa: E402
from core.params import config_hash  # noqa: E402
from core.train import AugmentConfig, PairDataset, TrainConfig, model_config  # noqa: E402
from core.train.export import export_onnx  # noqa: E402
from tests.test_degrade import linear_sample  # noqa: E402
from tests.test_infer import identity_model  # noqa: E402
from tests import test_infer_context as plain  # noqa: E402
from tests.test_infer_context import (SIDE, SPEC, band_means, check_tiled_equals_whole_frame,  # noqa: E402
                                      export_context_model, nchw, relabelled, torch_restore)
from tests.test_train_context import shipped_entry, train_tiny  # noqa: E402
from tests.test_train_run import write_coffee_pair  # noqa: E402

#: the coffee photo in ACEScg and a 150 x 230 crop of it (fixtures shared with tests/test_infer_context.py)
photo, frame = plain.photo, plain.frame
DETAIL_SPEC = {**SPEC, "context_detail": True}
EPS32 = float(np.finfo(np.float32).eps)


def reference_detail(px):
    """``|x - box3(x)|`` in float64: numpy's reflect padding (= BORDER_REFLECT_101), no blur along a 1-pixel axis."""
    x = np.asarray(px, np.float64)
    h, w = x.shape[:2]
    py, pxw = (1 if h > 1 else 0), (1 if w > 1 else 0)
    padded = np.pad(x, ((py, py), (pxw, pxw), (0, 0)), mode="reflect")
    total = np.zeros_like(x)
    for dy in range(2 * py + 1):
        for dx in range(2 * pxw + 1):
            total += padded[dy:dy + h, dx:dx + w]
    return np.abs(x - total / ((2 * py + 1) * (2 * pxw + 1)))


def check_detail(px):
    got = local_detail(px)
    assert got.shape == px.shape and got.dtype == np.float32
    # float32 tolerance: x and its 3x3 mean each carry ~1 ulp of the largest value
    scale = max(float(np.abs(px).max()), 1e-30)
    np.testing.assert_allclose(got, reference_detail(px), rtol=0, atol=4 * EPS32 * scale)


# -- local_detail -----------------------------------------------------------------------------------------------


def test_local_detail_of_a_photo_crop_is_the_float64_reference(photo):
    crop = photo[100:161, 250:327]  # 61 x 77, odd sides
    check_detail(crop)
    assert local_detail(crop).max() > 1e-2  # a textured crop: the check is not of zeros
    # float64 input gives the same float32 result
    np.testing.assert_array_equal(local_detail(crop.astype(np.float64)), local_detail(crop))


@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 9, 3), (9, 1, 3), (2, 2, 3), (2, 7, 1), (5, 3, 4), (3, 2, 5),
                                   (13, 17, 3)])
def test_local_detail_on_odd_shapes(shape):
    px = np.random.default_rng(sum(shape)).uniform(0.0, 4.0, shape).astype(np.float32)
    check_detail(px)


def test_local_detail_hand_worked_row_and_column():
    # [1, 2, 4] mirrored without repeating the edge: [2, 1, 2, 4, 2] -> means 5/3, 7/3, 8/3 -> |x - mean| 2/3, 1/3, 4/3
    row = np.array([[[1.0], [2.0], [4.0]]], np.float32)  # 1 x 3 x 1: no blur along the 1-pixel axis
    np.testing.assert_allclose(local_detail(row)[0, :, 0], [2 / 3, 1 / 3, 4 / 3], rtol=1e-6)
    np.testing.assert_allclose(local_detail(row.transpose(1, 0, 2))[:, 0, 0], [2 / 3, 1 / 3, 4 / 3], rtol=1e-6)
    # a single pixel has no neighbours: no detail
    np.testing.assert_array_equal(local_detail(np.full((1, 1, 3), 5.0, np.float32)), 0.0)


# -- frame_context(detail=True) ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shape,size", [((37, 53), 8), ((150, 230), 8), ((61, 29), 14), ((17, 17), 17)])
def test_detail_context_is_the_means_then_the_band_means_of_the_detail(photo, shape, size):
    px = photo[50:50 + shape[0], 70:70 + shape[1]]
    out = frame_context(px, size, detail=True)
    assert out.shape == (size, size, 6) and out.dtype == np.float32 and context_channels(3, True) == 6
    np.testing.assert_array_equal(out[..., :3], frame_context(px, size))
    np.testing.assert_allclose(out[..., 3:], band_means(reference_detail(px), size), rtol=1e-5, atol=1e-7)
    assert out[..., 3:].min() > 0  # photo texture everywhere


def test_a_constant_frame_has_no_detail():
    for shape, size in (((37, 53, 3), 8), ((64, 64, 3), 32), ((5, 300, 1), 16), ((1, 40, 3), 8)):
        out = frame_context(np.full(shape, 0.37, np.float32), size, detail=True)
        assert out.shape == (size, size, 2 * shape[2])
        np.testing.assert_array_equal(out[..., :shape[2]], np.float32(0.37))
        np.testing.assert_allclose(out[..., shape[2]:], 0.0, rtol=0, atol=4 * EPS32 * 0.37)


def test_a_gain_on_the_frame_is_the_same_gain_on_every_channel(frame):
    base = frame_context(frame, SIDE, detail=True)
    np.testing.assert_allclose(frame_context(frame * np.float32(2.5), SIDE, detail=True), base * np.float32(2.5),
                               rtol=1e-5, atol=0)
    # a power of two is exact through every step (mean, 3x3 mean, difference, band sums)
    np.testing.assert_array_equal(frame_context(frame * np.float32(4.0), SIDE, detail=True), base * np.float32(4.0))


def test_a_mirrored_frame_gives_the_mirrored_thumbnail(frame):
    px = frame[:144, :224]  # 144 = 8 x 18, 224 = 8 x 28: the bands of the mirrored frame are the mirrored bands
    out = frame_context(px, SIDE, detail=True)
    np.testing.assert_allclose(frame_context(px[:, ::-1], SIDE, detail=True), out[:, ::-1], rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(frame_context(px[::-1], SIDE, detail=True), out[::-1], rtol=1e-5, atol=1e-8)
    assert np.abs(out[..., 3:] - out[:, ::-1, 3:]).max() > 1e-3  # the photo is not symmetric: the check can fail


def test_context_input_with_detail_is_the_encoded_thumbnail_nchw(frame):
    got = context_input(frame, SIDE, "log2", detail=True)
    assert got.shape == (1, 6, SIDE, SIDE) and got.dtype == np.float32
    np.testing.assert_array_equal(got[0], encode_pixels(frame_context(frame, SIDE, detail=True),
                                                        "log2").transpose(2, 0, 1))
    np.testing.assert_array_equal(got[:, :3], context_input(frame, SIDE, "log2"))
    assert context_input(frame, SIDE, "log2", np.float16, detail=True).dtype == np.float16


# -- the manifest key -------------------------------------------------------------------------------------------


def test_manifest_round_trip(tmp_path):
    path = identity_model(tmp_path / "detail.onnx")
    write_model_manifest(path, name="detail", version="1", receptive_field=1, context=SIDE, context_detail=True)
    assert json.loads(path.with_suffix(".json").read_text())["input"]["context_detail"] is True
    spec = load_model_spec(path)
    assert spec.context == SIDE and spec.context_detail is True
    assert spec.record()["input"]["context_detail"] is True and spec.record()["input"]["context"] == SIDE
    # a context without detail writes no key and records none (old context models keep their records)
    plain = identity_model(tmp_path / "plain.onnx")
    write_model_manifest(plain, name="plain", version="1", receptive_field=1, context=SIDE)
    assert "context_detail" not in json.loads(plain.with_suffix(".json").read_text())["input"]
    old = load_model_spec(plain)
    assert old.context_detail is False and "context_detail" not in old.record()["input"]
    # an explicit false reads as no detail
    doc = json.loads(plain.with_suffix(".json").read_text())
    doc["input"]["context_detail"] = False
    assert load_model_spec(plain, manifest=doc).context_detail is False


def test_manifest_detail_needs_a_context_and_a_bool(tmp_path):
    path = identity_model(tmp_path / "m.onnx")
    # refused when written (the writer's errors are ParameterErrors) and when read
    with pytest.raises(ParameterError, match=r"m\.json: 'input\.context_detail' needs 'input\.context'"):
        write_model_manifest(path, name="m", version="1", receptive_field=1, context_detail=True)
    assert not path.with_suffix(".json").exists()
    write_model_manifest(path, name="m", version="1", receptive_field=1, context=SIDE, context_detail=True)
    doc = json.loads(path.with_suffix(".json").read_text())
    no_context = json.loads(json.dumps(doc))
    del no_context["input"]["context"]
    with pytest.raises(ModelError, match=r"'input\.context_detail' needs 'input\.context'"):
        load_model_spec(path, manifest=no_context)
    no_context["input"]["context"] = 0
    with pytest.raises(ModelError, match=r"'input\.context_detail' needs 'input\.context'"):
        load_model_spec(path, manifest=no_context)
    for bad in (1, 0, "true", None, [True]):
        broken = json.loads(json.dumps(doc))
        broken["input"]["context_detail"] = bad
        with pytest.raises(ModelError, match=r"'input\.context_detail' must be true or false"):
            load_model_spec(path, manifest=broken)


# -- a detail model in the restorer -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def detail_model(tmp_path_factory):
    """(onnx path, torch net, model config): a random detail-context net through the real export path."""
    path, net, cfg = export_context_model(tmp_path_factory.mktemp("detail_model"), DETAIL_SPEC, "detail")
    assert cfg.context_detail is True
    return path, net, cfg


def test_the_exported_context_input_has_six_channels(detail_model):
    path, net, _ = detail_model
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input", "context"]
    assert session.get_inputs()[1].shape[1:] == [6, SIDE, SIDE]
    assert net.context.convs[0].weight.shape[1] == 6
    # the model without detail keeps its 3-channel encoder
    assert model_config(SPEC).build().context.convs[0].weight.shape[1] == 3


def test_onnxruntime_matches_torch_and_the_detail_channels_matter(detail_model, photo):
    path, net, _ = detail_model
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    c = context_input(photo, SIDE, "log2", detail=True)
    flat = c.copy()
    flat[:, 3:] = 0.0  # the same means, no detail
    for y0, x0, h, w in ((0, 0, 40, 56), (100, 300, 72, 48)):
        x = nchw(encode_pixels(photo[y0:y0 + h, x0:x0 + w], "log2"))
        (y_onnx,) = session.run(["output"], {"input": x, "context": c})
        with torch.no_grad():
            y_torch = net(torch.from_numpy(x), torch.from_numpy(c)).numpy()
        assert y_onnx.shape == x.shape
        np.testing.assert_allclose(y_onnx, y_torch, rtol=0, atol=1e-4)
        (y_flat,) = session.run(["output"], {"input": x, "context": flat})
        assert np.abs(y_flat - y_onnx).max() > 5e-3  # ~1e-2 here; onnxruntime vs torch differ by ~1e-7


def test_tiled_equals_whole_frame(detail_model, frame):
    check_tiled_equals_whole_frame(detail_model[0], frame)


def test_grain_far_away_changes_the_output_through_the_detail_channels(detail_model, frame):
    """Grain added to the left third changes the right third, beyond any tile's reach, as the torch net says;
    the net given the grainy frame's means but the clean frame's detail would not give that result."""
    path, net, cfg = detail_model
    h, w = frame.shape[:2]
    grainy = frame.copy()
    sign = np.random.default_rng(3).choice(np.float32([-1.0, 1.0]), size=(h, w // 3, 1))
    grainy[:, :w // 3] *= np.float32(1.0) + np.float32(0.6) * sign  # strong grain, mean gain ~1
    r = Restorer(path, tile=64, overlap=40, threads=1)
    before, after = r.run(frame), r.run(grainy)
    right = slice(2 * w // 3, w)
    assert 2 * w // 3 - w // 3 > cfg.receptive_field  # no output pixel of the right third sees the left third
    assert np.abs(after[:, right] - before[:, right]).max() > 1e-2
    thumb = frame_context(grainy, SIDE, detail=True)
    np.testing.assert_allclose(after, torch_restore(net, cfg, grainy, thumb), rtol=1e-4, atol=1e-5)
    # control: the grainy frame's means with the clean frame's detail
    mixed = np.concatenate([thumb[..., :3], frame_context(frame, SIDE, detail=True)[..., 3:]], axis=2)
    assert np.abs(after - torch_restore(net, cfg, grainy, mixed))[:, right].max() > 1e-2


def test_a_detail_manifest_needs_a_six_channel_context_and_back(detail_model, tmp_path, tmp_path_factory):
    path, _, cfg = detail_model
    common = {"version": "1", "encoding": "log2", "multiple_of": cfg.multiple_of,
              "receptive_field": cfg.receptive_field, "context": SIDE}
    # the 6-channel graph under a manifest without detail
    six = relabelled(path, tmp_path / "six.onnx", cfg, context=SIDE)
    with pytest.raises(ModelError, match=r"six\.onnx: context input 'context' is tensor\(float\) \[.*, 6, 8, 8\]; "
                                         r"its manifest declares tensor\(float\) \[N, 3, 8, 8\]"):
        Restorer(six)
    # a 3-channel-context graph under a manifest that declares detail
    torch.manual_seed(0)
    three = tmp_path / "three.onnx"
    export_onnx(model_config(SPEC).build().eval(), three, multiple_of=cfg.multiple_of, context=SIDE)
    write_model_manifest(three, name="three", context_detail=True, **common)
    with pytest.raises(ModelError, match=r"three\.onnx: context input 'context' is tensor\(float\) \[.*, 3, 8, 8\]; "
                                         r"its manifest declares tensor\(float\) \[N, 6, 8, 8\]"):
        Restorer(three)
    # and each under its own manifest loads
    write_model_manifest(three, name="three", overwrite=True, **common)
    assert Restorer(three, threads=1).context_name == "context"


# -- the config key ---------------------------------------------------------------------------------------------


#: film_restore 3.0.0's training config and config hash as models/manifest.json recorded them (commit 5bc366d)
#: before ``context_detail`` existed: a context model whose dict and hash must not change.
FILM_RESTORE_3 = json.loads("""{"format": "reelkit.train_config/1", "preset": null, "name": "film_restore",
 "version": "3.0.0", "seed": 0, "device": "cuda", "steps": 6000, "batch_size": 32, "crop_size": 128,
 "encoding": "log2", "init_from": null, "threads": 0, "checkpoint_every": 500, "keep_checkpoints": 100,
 "preview_every": 1000, "preview_crops": 6,
 "model": {"type": "unshuffle_context", "scale": 4, "channels": 64, "blocks": 3, "residual": true, "context": 32},
 "data": {"pairs": null, "aligned": null, "degraded": [], "reference": [], "mask": [],
  "clean": ["sample:astronaut", "sample:rocket", "sample:chelsea", "skimage:hubble_deep_field", "skimage:retina",
            "skimage:ihc", "skimage:camera", "skimage:brick", "skimage:grass", "skimage:gravel", "skimage:moon",
            "skimage:coins", "skimage:page", "skimage:cell", "skimage:text", "sklearn:china", "sklearn:flower"],
  "cache_frames": 300, "min_valid": 0.5,
  "degrade": {"presets": ["faded_16mm", "dusty_35mm", "super8_home_movie", "third_generation_dupe"], "params": {},
              "exclude": ["weave"], "variants": 16, "scene_grade": 1.0}},
 "optim": {"optimizer": "adam", "lr": 0.0005, "weight_decay": 0.0, "beta1": 0.9, "beta2": 0.99, "grad_clip": 0.0},
 "schedule": {"kind": "cosine", "warmup_steps": 200, "min_lr_ratio": 0.01, "step_size": 1000, "gamma": 0.5},
 "loss": {"l1": 1.0, "ssim": 0.0, "frequency": 0.0},
 "augment": {"hflip": true, "vflip": false, "rot90": false, "exposure_stops": 0.0}}""")
FILM_RESTORE_3_HASH = "1ccaaac8d29052b345f034f22100d183044c01d49261eddcbe50db32c8dbdaa3"


def test_context_detail_needs_a_context():
    with pytest.raises(ParameterError, match=r"model\.context_detail: needs a whole-frame context"):
        model_config({"type": "unshuffle_context", "context": 0, "context_detail": True})
    with pytest.raises(ParameterError, match=r"model\.context_detail"):
        model_config({"type": "unshuffle_small", "context_detail": True})
    with pytest.raises(ParameterError, match=r"unknown key\(s\) context_detail"):
        model_config({"type": "resnet_small", "context_detail": True})
    with pytest.raises(ParameterError, match=r"model\.context_detail"):
        TrainConfig.from_dict({"model": {"type": "unshuffle_small", "context_detail": True},
                               "data": {"clean": ["sample:coffee"]}})
    with pytest.raises(ParameterError, match="context_detail"):
        model_config({**SPEC, "context_detail": "yes please"})


def test_configs_without_detail_keep_their_dict_and_hash():
    before = {"type": "unshuffle_context", "scale": 4, "channels": 8, "blocks": 1, "residual": True, "context": SIDE}
    for spec in (SPEC, {**SPEC, "context_detail": False}):
        cfg = model_config(spec)
        assert cfg.context_detail is False
        assert cfg.to_dict() == before and config_hash(cfg.to_dict()) == config_hash(before)
    assert "context_detail" not in model_config({"type": "unshuffle_medium"}).to_dict()
    # a config recorded before the key existed reads back to the same dict and hash
    old = TrainConfig.from_dict(FILM_RESTORE_3)
    assert old.model.context_detail is False and "context_detail" not in old.to_dict()["model"]
    assert old.to_dict() == FILM_RESTORE_3 and old.training_hash() == FILM_RESTORE_3_HASH
    # the shipped model (4.0.0 and later: with detail) round-trips to its recorded architecture and hash
    entry = shipped_entry()
    cfg = TrainConfig.from_dict(entry["training"]["config"])
    assert cfg.model.to_dict() == entry["training"]["architecture"]
    assert cfg.training_hash() == entry["training"]["config_hash"]
    # with detail: the key is written, and it changes the hash
    detail = model_config(DETAIL_SPEC)
    assert detail.to_dict() == {**before, "context_detail": True}
    assert config_hash(detail.to_dict()) != config_hash(before)


def test_train_config_round_trip_keeps_detail():
    raw = {"model": DETAIL_SPEC, "crop_size": 32, "data": {"clean": ["sample:coffee"]}}
    cfg = TrainConfig.from_dict(raw)
    assert cfg.model.context_detail is True and cfg.model.context == SIDE
    again = TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg and again.to_dict()["model"]["context_detail"] is True
    assert cfg.training_hash() != TrainConfig.from_dict({**raw, "model": SPEC}).training_hash()


# -- training data and a short training run ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def detail_pair(tmp_path_factory):
    """(folder, degraded, reference, degraded pixels): a 64 x 64 coffee crop and its faded_16mm damage."""
    folder = tmp_path_factory.mktemp("detail_pair")
    return (folder, *write_coffee_pair(folder))


def test_crops_carry_the_whole_degraded_frames_detail_context(detail_pair):
    _, deg, ref, damaged = detail_pair
    aug = AugmentConfig(hflip=True, exposure_stops=0.5)
    ds = PairDataset.from_files([deg], [ref], crop_size=16, context_size=SIDE, context_detail=True, seed=2,
                                encoding="log2", augment=aug)
    flips = set()
    for step in range(1, 6):
        b = ds.batch(step, 3)
        assert b.context.shape == (3, 6, SIDE, SIDE)
        for i, c in enumerate(b.crops):
            flips.add(c.flip_h)
            # 64 = 8 x 8: the mirrored frame's thumbnail is the mirrored thumbnail
            want = frame_context(damaged[:, ::-1] if c.flip_h else damaged, SIDE, detail=True) * np.float32(c.gain)
            np.testing.assert_allclose(c.context, want, rtol=1e-5, atol=1e-8)
            np.testing.assert_array_equal(b.context[i], encode_pixels(c.context, "log2").transpose(2, 0, 1))
    assert flips == {False, True}
    # without detail, the same pairs carry 3 channels
    plain = PairDataset.from_files([deg], [ref], crop_size=16, context_size=SIDE, seed=2, encoding="log2")
    assert plain.batch(1, 2).context.shape == (2, 3, SIDE, SIDE)


@pytest.fixture(scope="module")
def detail_run(detail_pair):
    """A 2-step CPU training of a tiny unshuffle_context net with detail, on one coffee pair."""
    folder, deg, ref, _ = detail_pair
    return train_tiny(DETAIL_SPEC, deg, ref, [folder / "run"], name="detail_run", steps=2)[0]


def test_a_detail_training_writes_a_detail_model(detail_run):
    from core.train import load_checkpoint

    onnx_path = detail_run.files["onnx"]
    doc = json.loads(onnx_path.with_suffix(".json").read_text())
    assert doc["input"]["context"] == SIDE and doc["input"]["context_detail"] is True
    assert doc["training"]["architecture"]["context_detail"] is True
    spec = load_model_spec(onnx_path)
    assert spec.context_detail is True and spec.record()["input"]["context_detail"] is True
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[1].shape[1:] == [6, SIDE, SIDE]
    state = load_checkpoint(detail_run.checkpoint)["model"]
    assert state["context.convs.0.weight"].shape[1] == 6
    # the exported model runs in the restorer
    px = linear_sample("coffee.png", (10, 50, 20, 72))
    out = Restorer(onnx_path, tile=0, threads=1).run(px)
    assert out.shape == px.shape and np.isfinite(out).all()
