"""Do no harm: the gated network, clean and part-strength training pairs, and the restorer's mix.

References: the gated ``unshuffle_context`` recomputed by hand from its own
layers in torch (colour transform ``I + c (A - I)``, ``x' + m * r``), the
ONNX export run by onnxruntime against torch, the synthetic pair loader
against :func:`core.degrade.degrade_frame` called directly (a clean
variant is the graded clean frame twice, bit for bit; a part-strength one is
the linear-light mix of the two), and the restorer's mix against the
``mix=1`` output mixed with numpy. Frames: the shipped coffee photo.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from core.errors import ParameterError  # noqa: E402
from core.infer import Restorer, infer_files  # noqa: E402
from core.params import config_hash  # noqa: E402
from core.train import PairDataset, TrainConfig, model_config  # noqa: E402
from core.train.config import SyntheticConfig, synthetic_config  # noqa: E402
from core.train.data import scene_grade  # noqa: E402
from tests.test_infer_context import (SIDE, check_tiled_equals_whole_frame, export_context_model,  # noqa: E402
                                      frame, photo, torch_restore)

GATED = {"type": "unshuffle_context", "channels": 8, "blocks": 1, "context": SIDE, "context_detail": True,
         "gate": True}


# -- the gated network ----------------------------------------------------------------------------------------


def test_gate_needs_a_context_and_a_residual():
    with pytest.raises(ParameterError, match=r"model\.gate: needs a whole-frame context"):
        model_config({"type": "unshuffle_context", "context": 0, "gate": True})
    with pytest.raises(ParameterError, match=r"model\.gate: gates a correction"):
        model_config({**GATED, "residual": False})
    with pytest.raises(ParameterError, match=r"unknown key\(s\) gate"):
        model_config({"type": "resnet_small", "gate": True})


def test_configs_without_a_gate_keep_their_dict_and_hash():
    plain = {k: v for k, v in GATED.items() if k != "gate"}
    before = model_config(plain).to_dict()
    assert "gate" not in before
    assert model_config({**plain, "gate": False}).to_dict() == before
    gated = model_config(GATED).to_dict()
    assert gated == {**before, "gate": True} and config_hash(gated) != config_hash(before)


def test_gated_forward_is_the_confidence_scaled_transform_plus_the_masked_correction():
    torch.manual_seed(0)
    net = model_config(GATED).build().eval()
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():  # weights that matter everywhere (the colour and confidence layers start at zero)
        for p in net.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.05)
    x = torch.randn(2, 3, 32, 40, generator=gen) * 0.5
    ctx = torch.randn(2, 6, SIDE, SIDE, generator=gen)
    with torch.no_grad():
        y = net(x, ctx)
        enc = net.context
        g = enc.convs(ctx).mean(dim=(2, 3))
        c = torch.sigmoid(enc.confidence(g))                      # N x 1
        a = enc.colour(g).view(-1, 3, 4) * c[:, :, None]
        xt = torch.einsum("nij,njhw->nihw", torch.eye(3) + a[:, :, :3], x) + a[:, :, 3, None, None]
        scale, shift = enc.film(g).chunk(2, dim=1)
        h = net.head(net.down(xt)) * (1 + scale)[:, :, None, None] + shift[:, :, None, None]
        h = h + net.body(h)
        m = torch.sigmoid(net.up(net.mask(h)))
        expected = xt + m * net.up(net.tail(h))
    assert m.shape == (2, 1, 32, 40) and 0 < float(m.min()) and float(m.max()) < 1
    torch.testing.assert_close(y, expected, rtol=1e-5, atol=1e-6)


def test_a_closed_mask_and_no_confidence_give_the_input_back():
    torch.manual_seed(0)
    net = model_config(GATED).build().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn(p.shape) * 0.05)
        net.mask.bias.fill_(-60.0)                 # mask closed: sigmoid(-60) ~ 1e-26
        net.context.confidence.bias.fill_(-60.0)   # no confidence in the grade
    x = torch.randn(1, 3, 24, 24)
    with torch.no_grad():
        y = net(x, torch.randn(1, 6, SIDE, SIDE))
    torch.testing.assert_close(y, x, rtol=0, atol=1e-6)


def test_a_new_gated_network_starts_close_to_the_identity():
    torch.manual_seed(0)
    net = model_config(GATED).build().eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        y = net(x, torch.randn(1, 6, SIDE, SIDE))
    assert float((y - x).abs().max()) < 0.05  # mask ~ sigmoid(-2), tail at a tenth of its scale


@pytest.fixture(scope="module")
def gated_model(tmp_path_factory):
    return export_context_model(tmp_path_factory.mktemp("gated"), GATED, "gated")


def test_gated_onnx_matches_torch_and_tiles_exactly(gated_model, photo, frame):
    from core.infer.context import frame_context

    path, net, cfg = gated_model
    out = Restorer(path, tile=0, threads=1).run(frame)
    ref = torch_restore(net, cfg, frame, frame_context(frame, SIDE, True))
    np.testing.assert_allclose(out, ref, rtol=2e-4, atol=2e-5)
    check_tiled_equals_whole_frame(path, frame)


# -- clean and part-strength training pairs ---------------------------------------------------------------------


def test_strength_defaults_keep_every_variant_at_full_strength_and_the_config_hash():
    cfg = SyntheticConfig()
    assert {cfg.strength_for(v, 0, "coffee.png") for v in range(50)} == {1.0}
    assert "clean_share" not in cfg.to_dict() and "strength_min" not in cfg.to_dict()
    assert synthetic_config({"clean_share": 0.0, "strength_min": 1.0}).to_dict() == cfg.to_dict()


def test_strength_draws_are_seeded_and_cover_clean_to_full():
    cfg = synthetic_config({"clean_share": 0.25, "strength_min": 0.0})
    draws = [cfg.strength_for(v, 0, "coffee.png") for v in range(2000)]
    assert draws == [cfg.strength_for(v, 0, "coffee.png") for v in range(2000)]        # pure function
    assert draws != [cfg.strength_for(v, 1, "coffee.png") for v in range(2000)]        # the seed matters
    assert draws != [cfg.strength_for(v, 0, "astronaut.png") for v in range(2000)]     # so does the frame
    clean = sum(d == 0.0 for d in draws) / len(draws)
    assert 0.22 < clean < 0.28
    damaged = np.array([d for d in draws if d > 0])
    assert damaged.min() < 0.02 and damaged.max() > 0.98 and abs(damaged.mean() - 0.5) < 0.03
    assert cfg.to_dict()["clean_share"] == 0.25 and cfg.to_dict()["strength_min"] == 0.0
    with pytest.raises(ParameterError, match="clean_share"):
        synthetic_config({"clean_share": 1.5})
    with pytest.raises(ParameterError, match="strength_min"):
        synthetic_config({"strength_min": -0.1})


def test_clean_variants_are_identity_pairs_and_partial_ones_a_linear_light_mix(tmp_path, photo):
    from core import io
    from core.degrade import degrade_frame

    path = tmp_path / "coffee.exr"
    io.write_image(path, np.ascontiguousarray(photo[:128, :160]), colorspace="ACEScg")
    degrade = synthetic_config({"preset": "faded_16mm", "variants": 40, "clean_share": 0.3, "strength_min": 0.0,
                                "scene_grade": 1.0})
    data = PairDataset.synthetic([str(path)], degrade=degrade, seed=4, crop_size=64, encoding="log2")
    clean_seen = partial_seen = 0
    for v in range(40):
        inp, ref, _ = data.frames(v)
        graded = scene_grade(io.read_image(path).pixels, strength=1.0, seed=4, variant=v, name="coffee.exr")
        np.testing.assert_array_equal(ref, graded)
        s = degrade.strength_for(v, 4, "coffee.exr")
        full = degrade_frame(graded, frame=v, seed=4, preset="faded_16mm", effects=degrade.effects()).pixels
        if s == 0.0:
            clean_seen += 1
            np.testing.assert_array_equal(inp, ref)
        else:
            partial_seen += s < 1.0
            np.testing.assert_allclose(inp, graded + np.float32(s) * (full - graded), rtol=1e-6, atol=1e-7)
    assert clean_seen >= 6 and partial_seen >= 20


def test_train_config_round_trip_keeps_gate_and_strength():
    raw = {"model": GATED, "crop_size": 32,
           "data": {"clean": ["sample:coffee"], "degrade": {"clean_share": 0.2, "strength_min": 0.1}}}
    cfg = TrainConfig.from_dict(raw)
    again = TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg and again.model.gate and again.data.degrade.clean_share == 0.2
    plain = {**raw, "data": {"clean": ["sample:coffee"]}}
    assert cfg.training_hash() != TrainConfig.from_dict(plain).training_hash()


# -- the restorer's mix ---------------------------------------------------------------------------------------


def test_mix_blends_the_restoration_with_the_input_in_linear_light(gated_model, frame):
    path = gated_model[0]
    full = Restorer(path, tile=0, threads=1).run(frame)
    assert np.abs(full - frame).mean() > 1e-3
    np.testing.assert_array_equal(Restorer(path, tile=0, threads=1, mix=0.0).run(frame), frame)
    half = Restorer(path, tile=0, threads=1, mix=0.5).run(frame)
    np.testing.assert_allclose(half, frame + np.float32(0.5) * (full - frame), rtol=1e-6, atol=1e-7)
    rgba = np.concatenate([frame, np.full(frame.shape[:2] + (1,), 0.25, np.float32)], axis=2)
    out = Restorer(path, tile=0, threads=1, mix=0.5).run(rgba)
    np.testing.assert_array_equal(out[..., 3], rgba[..., 3])
    for bad in (-0.1, 1.5, "half", True):
        with pytest.raises(ParameterError, match="mix"):
            Restorer(path, tile=0, threads=1, mix=bad)


def test_mix_is_a_job_parameter_recorded_in_the_manifest_and_the_hash(gated_model, frame, tmp_path):
    from core import io

    src = tmp_path / "plate.exr"
    io.write_image(src, frame, colorspace="ACEScg")
    path = gated_model[0]
    full = infer_files(path, str(src), output_dir=tmp_path / "full", params={"threads": 1})
    half = infer_files(path, str(src), output_dir=tmp_path / "half", params={"threads": 1, "mix": 0.5})
    a = io.read_image(tmp_path / "full" / "plate.exr")
    b = io.read_image(tmp_path / "half" / "plate.exr")
    assert b.metadata["attributes"]["reelkit/infer/mix"] == "0.5" and a.metadata["attributes"]["reelkit/infer/mix"] == "1"
    np.testing.assert_allclose(b.pixels, frame + 0.5 * (a.pixels - frame), atol=2e-3)  # EXR half
    assert half.data["parameters"]["mix"] == 0.5 and full.data["parameters"]["mix"] == 1.0
    assert "mix" not in full.data["config"]["params"] and half.data["config"]["params"]["mix"] == 0.5


def test_a_gated_network_starts_from_the_weights_of_the_same_network_without_a_gate(tmp_path):
    from core.train import train

    plain = {k: v for k, v in GATED.items() if k != "gate"}
    torch.manual_seed(1)
    weights = model_config(plain).build().state_dict()
    torch.save(weights, tmp_path / "plain.pt")
    cfg = {"model": GATED, "name": "g", "init_from": str(tmp_path / "plain.pt"), "steps": 1, "batch_size": 1,
           "crop_size": 32, "checkpoint_every": 1, "preview_every": 0, "preview_crops": 1, "device": "cpu",
           "threads": 1, "seed": 3, "optim": {"lr": 1e-9}, "schedule": {"warmup_steps": 0},
           "data": {"clean": ["sample:coffee"], "degrade": {"variants": 1}}}
    result = train(TrainConfig.from_dict(cfg), output_dir=tmp_path / "run")
    record = json.loads((tmp_path / "run" / "manifest.json").read_text())["init_from"]
    assert record["fresh_layers"] == ["context.confidence.weight", "context.confidence.bias", "mask.weight",
                                      "mask.bias"]
    state = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    state = state.get("model", state)
    for k, v in weights.items():  # lr 1e-9: the plain weights come through (one Adam step moves them by ~1e-9)
        torch.testing.assert_close(state[k], v)
    assert float(state["mask.bias"].mean()) == pytest.approx(-2.0, abs=1e-6)
    assert result is not None
