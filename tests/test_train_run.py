"""core.train with torch (CPU): losses and masks, networks, determinism, resume, outputs, ONNX export.

Tiny networks, crops and step counts (two shared CPU cores). The training
data is a real photo: a 64x64 crop of coffee.png degraded with
core.degrade's ``faded_16mm`` preset (gate weave left out: stage 2 would
have aligned it away).
"""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from core import io  # noqa: E402
from core.degrade import EFFECTS, degrade_frame  # noqa: E402
from core.errors import OutputExistsError, ParameterError  # noqa: E402
from core.train import (  # noqa: E402
    CHECKPOINT_FORMAT,
    LossConfig,
    TrainConfig,
    TrainingError,
    TrainProgress,
    build_model,
    list_checkpoints,
    load_checkpoint,
    model_config,
    train,
)
from core.train.losses import compute_loss  # noqa: E402
from core.train.trainer import resolve_device  # noqa: E402
from tests.test_degrade import linear_sample  # noqa: E402

TINY = {"type": "resnet_small", "channels": 8, "blocks": 1}


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def write_coffee_pair(folder):
    """A 64x64 crop of coffee.png and its faded_16mm degradation as float EXRs in ``folder`` (exact):
    ``(degraded path, reference path, degraded pixels)``."""
    clean = linear_sample("coffee.png", (150, 214, 250, 314))
    effects = tuple(e for e in EFFECTS if e != "weave")
    damaged = degrade_frame(clean, frame=1, seed=5, preset="faded_16mm", effects=effects).pixels
    deg, ref = folder / "degraded.exr", folder / "reference.exr"
    io.write_image(deg, damaged, colorspace="ACEScg", pixel_type="float")
    io.write_image(ref, clean, colorspace="ACEScg", pixel_type="float")
    return str(deg), str(ref), damaged


@pytest.fixture(scope="module")
def coffee_pair(tmp_path_factory):
    """(degraded, reference) EXR paths: :func:`write_coffee_pair`."""
    return write_coffee_pair(tmp_path_factory.mktemp("coffee_pair"))[:2]


def config(pair, **changes):
    """A tiny CPU training on ``pair`` (one thread, see :func:`one_thread`)."""
    base = {"model": TINY, "data": {"degraded": [pair[0]], "reference": [pair[1]]},
            "steps": 12, "batch_size": 2, "crop_size": 16, "checkpoint_every": 4, "preview_every": 0,
            "preview_crops": 2, "device": "cpu", "threads": 1, "optim": {"lr": 1e-3}, "schedule": {"warmup_steps": 3}}
    base.update(changes)
    return base


def weights(path):
    return load_checkpoint(path)["model"]


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.fixture(scope="module")
def trained(coffee_pair, tmp_path_factory):
    """A 100-step training on the coffee pair (the run that several tests inspect)."""
    out = tmp_path_factory.mktemp("trained")
    calls = []
    cfg = config(coffee_pair, steps=100, batch_size=4, crop_size=32, checkpoint_every=50, preview_crops=4,
                 name="coffee_fade", loss={"l1": 1.0, "ssim": 0.1, "frequency": 0.05},
                 schedule={"warmup_steps": 10})
    result = train(cfg, output_dir=out, progress=lambda step, steps, info: calls.append((step, steps, info)))
    return result, calls


# -- losses and masks -----------------------------------------------------------------------------
def _grads(model, x, y, m, weights):
    model.zero_grad(set_to_none=True)
    loss, _ = compute_loss(model(x), y, m, weights)
    loss.backward()
    return float(loss.detach()), [p.grad.clone() for p in model.parameters()]


def test_masked_pixels_do_not_change_the_loss_or_its_gradient():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 32, 32, generator=gen)
    y = torch.rand(2, 3, 32, 32, generator=gen)
    m = torch.ones(2, 1, 32, 32)
    m[:, :, 8:20, 4:30] = 0
    model = build_model(TrainConfig.from_dict({"model": TINY, "data": {"clean": ["a.png"]}}))
    every_term = LossConfig(l1=1.0, ssim=0.5, frequency=0.5)
    loss, grads = _grads(model, x, y, m, every_term)
    garbage = y.clone()
    garbage[:, :, 8:20, 4:30] = torch.rand(2, 3, 12, 26, generator=gen) * 1e4
    garbage[0, 1, 10, 10] = float("nan")
    loss2, grads2 = _grads(model, x, garbage, m, every_term)
    assert loss2 == loss
    for g, g2 in zip(grads, grads2):
        assert torch.equal(g, g2)
    # control: the same garbage where the mask is valid does change the gradient
    valid_garbage = y.clone()
    valid_garbage[:, :, 20:32, 4:30] = 7.0
    _, grads3 = _grads(model, x, valid_garbage, m, every_term)
    assert any(not torch.equal(g, g3) for g, g3 in zip(grads, grads3))


def test_prediction_gets_no_gradient_where_the_mask_is_invalid():
    pred = torch.rand(1, 3, 24, 24, requires_grad=True)
    m = torch.ones(1, 1, 24, 24)
    m[..., :, :6] = 0
    loss, parts = compute_loss(pred, torch.rand(1, 3, 24, 24), m, LossConfig(l1=1.0, ssim=1.0, frequency=1.0))
    loss.backward()
    assert torch.count_nonzero(pred.grad[..., :6]) == 0 and torch.count_nonzero(pred.grad[..., 6:]) > 0
    assert all(v > 0 for v in parts.values())


def test_loss_terms_are_zero_for_a_perfect_prediction_and_l1_is_the_mean_error():
    y = torch.rand(1, 3, 20, 20)
    loss, parts = compute_loss(y.clone(), y, None, LossConfig(l1=1.0, ssim=1.0, frequency=1.0))
    assert float(loss) == pytest.approx(0.0, abs=1e-6)
    _, parts = compute_loss(y + 0.25, y, None, LossConfig(l1=1.0))
    assert parts["l1"] == pytest.approx(0.25) and parts["ssim"] == 0.0


# -- networks ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("spec", [{"type": "resnet_small", "channels": 8, "blocks": 2},
                                  {"type": "unet_small", "channels": 8, "depth": 1},
                                  {"type": "unet_small", "channels": 8, "depth": 2}])
def test_receptive_field_matches_the_gradient_support(spec):
    """The declared receptive field is the widest input footprint of one output pixel (the tiling halo)."""
    cfg = model_config(spec)
    torch.manual_seed(0)
    net = cfg.build().double()
    x = torch.randn(1, 3, 96, 96, dtype=torch.float64, requires_grad=True)
    widest = 0
    for c in range(44, 44 + cfg.multiple_of):  # every alignment against the resampling grid
        (g,) = torch.autograd.grad(net(x)[0, :, c, c].sum(), x)
        support = g.abs().sum(dim=(0, 1))
        for axis in (0, 1):
            idx = torch.nonzero(support.sum(dim=axis)).flatten()
            widest = max(widest, int(idx.max() - idx.min() + 1))
    assert widest == cfg.receptive_field


@pytest.mark.parametrize("type_", ["resnet_small", "unet_small"])
def test_networks_keep_the_shape_and_start_near_the_identity(type_):
    cfg = model_config({"type": type_, "channels": 8})
    torch.manual_seed(0)
    net = cfg.build()
    x = torch.rand(2, 3, 32, 48)
    with torch.no_grad():
        y = net(x)
    assert y.shape == x.shape and float((y - x).abs().mean()) < 0.1


# -- training -------------------------------------------------------------------------------------
def test_short_training_on_a_real_photo_pair_lowers_the_loss(trained):
    result, _ = trained
    m, h = result.metrics, result.history
    l1_end = np.mean([r["l1"] for r in h[-10:]])
    assert l1_end < 0.5 * h[0]["l1"], (h[0], l1_end)  # about 0.038 -> 0.014 in log2 units
    assert np.mean([r["loss"] for r in h[-10:]]) < 0.65 * h[0]["loss"]  # with SSIM and frequency terms
    assert m["loss_last"] < m["loss_first"]
    assert m["preview_l1"] < 0.6 * m["preview_l1_input"], m  # much closer to the reference than the input is
    assert result.steps == 100 and result.resumed_from == 0 and result.device == "cpu"


def test_training_writes_the_stage_folder(trained, coffee_pair):
    result, _ = trained
    out = result.output_dir
    for name in ("config.json", "loss.csv", "loss.png", "contact_sheet.png", "model.onnx", "model.json",
                 "manifest.json"):
        assert (out / name).is_file(), name
    assert [s for s, _ in list_checkpoints(out)] == [50, 100] and result.checkpoint == out / "checkpoints" / \
        "step_00000100.pt"
    assert TrainConfig.from_dict(json.loads((out / "config.json").read_text())) == result.config
    rows = list(csv.DictReader((out / "loss.csv").open()))
    assert [int(r["step"]) for r in rows] == list(range(1, 101))
    assert float(rows[-1]["loss"]) == pytest.approx(result.history[-1]["loss"], rel=1e-6)
    assert float(rows[0]["lr"]) == pytest.approx(1e-4)  # warm-up: 1/10 of the peak at step 1
    sheet = io.read_image(out / "contact_sheet.png")
    # rows of input / prediction / reference, one per preview crop; 32 px crops shown at 128 px
    assert (sheet.width, sheet.height) == (3 * 128 + 2 * 4, 4 * 128 + 3 * 4)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"] == "train" and manifest["status"] == "done" and manifest["seed"] == 0
    assert set(manifest["inputs"]) == set(coffee_pair) and all(len(h) == 64 for h in manifest["inputs"].values())
    assert manifest["metrics"]["loss_last"] == result.metrics["loss_last"]


def test_progress_reports_every_step_with_an_eta(trained):
    _, calls = trained
    assert [c[0] for c in calls] == list(range(1, 101)) and all(c[1] == 100 for c in calls)
    info = calls[-1][2]
    assert isinstance(info, TrainProgress) and info.eta_s == 0.0 and info.elapsed_s > 0
    assert all(c[2].eta_s >= 0 for c in calls) and "ETA" in str(calls[0][2])


def test_same_seed_same_weights_other_seed_other_weights(coffee_pair, tmp_path):
    runs = {name: train(config(coffee_pair, seed=seed), output_dir=tmp_path / name)
            for name, seed in (("a", 3), ("b", 3), ("c", 4))}
    assert_same_weights(weights(runs["a"].checkpoint), weights(runs["b"].checkpoint))
    assert [h["loss"] for h in runs["a"].history] == [h["loss"] for h in runs["b"].history]
    assert not torch.equal(weights(runs["a"].checkpoint)["head.weight"], weights(runs["c"].checkpoint)["head.weight"])
    assert (tmp_path / "a" / "model.onnx").read_bytes() == (tmp_path / "b" / "model.onnx").read_bytes()
    # model.pt too (issue 15.8f: torch named the archive after the random temporary file)
    assert (tmp_path / "a" / "model.pt").read_bytes() == (tmp_path / "b" / "model.pt").read_bytes()


class Crash(Exception):
    pass


def crash_at(crash_step):
    """A progress callback that stops training at ``crash_step`` (like a killed process, after that step)."""
    def progress(step, steps, info):
        if step == crash_step:
            raise Crash

    return progress


def test_resume_after_a_crash_equals_an_uninterrupted_run(coffee_pair, tmp_path):
    cfg = config(coffee_pair, loss={"l1": 1.0, "ssim": 0.2}, augment={"hflip": True, "exposure_stops": 0.5})
    whole = train(cfg, output_dir=tmp_path / "whole")

    with pytest.raises(Crash):
        train(cfg, output_dir=tmp_path / "resumed", progress=crash_at(6))
    # a stop asked through the progress callback keeps the step it stopped at
    assert [s for s, _ in list_checkpoints(tmp_path / "resumed")] == [4, 6]
    assert json.loads((tmp_path / "resumed" / "manifest.json").read_text())["status"] == "stopped"
    # a crash between checkpoints (the process gone): only step 4 is left
    shutil.copytree(tmp_path / "resumed", tmp_path / "crashed")
    list_checkpoints(tmp_path / "crashed")[-1][1].unlink()
    crashed = train(cfg, output_dir=tmp_path / "crashed")
    assert crashed.resumed_from == 4 and crashed.history == whole.history
    assert_same_weights(load_checkpoint(whole.checkpoint)["model"], load_checkpoint(crashed.checkpoint)["model"])
    resumed = train(cfg, output_dir=tmp_path / "resumed")
    assert resumed.resumed_from == 6
    state_whole, state_resumed = load_checkpoint(whole.checkpoint), load_checkpoint(resumed.checkpoint)
    assert_same_weights(state_whole["model"], state_resumed["model"])
    for a, b in zip(state_whole["optimizer"]["state"].values(), state_resumed["optimizer"]["state"].values()):
        assert torch.equal(a["exp_avg"], b["exp_avg"]) and torch.equal(a["exp_avg_sq"], b["exp_avg_sq"])
    assert resumed.history == whole.history
    assert (tmp_path / "whole" / "loss.csv").read_text() == (tmp_path / "resumed" / "loss.csv").read_text()
    # a finished run resumes to nothing to do
    again = train(cfg, output_dir=tmp_path / "resumed")
    assert again.resumed_from == 12 and again.history == whole.history


def test_checkpoints_hold_everything_a_resume_needs(coffee_pair, tmp_path):
    result = train(config(coffee_pair, keep_checkpoints=2), output_dir=tmp_path)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [8, 12]  # only the last two kept
    state = load_checkpoint(result.checkpoint)
    assert state["format"] == CHECKPOINT_FORMAT.tag and state["step"] == 12
    assert {"model", "optimizer", "scheduler", "rng", "history", "config", "training_hash"} <= set(state)
    assert state["scheduler"]["last_epoch"] == 12 and isinstance(state["rng"]["torch"], torch.Tensor)


def test_resume_refuses_another_config_and_resume_false_starts_over(coffee_pair, tmp_path):
    train(config(coffee_pair), output_dir=tmp_path)
    with pytest.raises(OutputExistsError, match="a checkpoint of another training config"):
        train(config(coffee_pair, optim={"lr": 5e-4}), output_dir=tmp_path)
    fresh = train(config(coffee_pair, optim={"lr": 5e-4}, steps=4), output_dir=tmp_path, resume=False)
    assert fresh.resumed_from == 0 and [s for s, _ in list_checkpoints(tmp_path)] == [4]
    # renaming the model is not another training: it resumes (and re-exports under the new name)
    renamed = train(config(coffee_pair, optim={"lr": 5e-4}, steps=4, name="renamed"), output_dir=tmp_path)
    assert renamed.resumed_from == 4 and json.loads((tmp_path / "model.json").read_text())["name"] == "renamed"


def test_a_damaged_checkpoint_falls_back_to_the_one_before(coffee_pair, tmp_path, caplog):
    whole = train(config(coffee_pair), output_dir=tmp_path / "whole")
    cut = tmp_path / "cut"
    with pytest.raises(Crash):
        train(config(coffee_pair), output_dir=cut, progress=crash_at(10))
    for step in (8, 10):  # 10: where the stop was checkpointed
        (cut / "checkpoints" / f"step_{step:08d}.pt").write_bytes(b"truncated by a power cut")
    resumed = train(config(coffee_pair), output_dir=cut)
    assert resumed.resumed_from == 4 and "cannot read checkpoint" in caplog.text
    assert_same_weights(weights(whole.checkpoint), weights(resumed.checkpoint))


def test_a_diverging_loss_stops_training(tmp_path):
    huge = np.full((16, 16, 3), 3e38, np.float32)
    io.write_image(tmp_path / "d.exr", huge, colorspace="ACEScg", pixel_type="float")
    io.write_image(tmp_path / "r.exr", huge * 0, colorspace="ACEScg", pixel_type="float")
    pair = (str(tmp_path / "d.exr"), str(tmp_path / "r.exr"))
    with pytest.raises(TrainingError, match=r"step 1: the loss is (nan|inf); lower optim\.lr"):
        train(config(pair, encoding="linear", crop_size=8), output_dir=tmp_path / "out")
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["status"] == "failed"


def test_training_leaves_the_callers_torch_state_alone(coffee_pair, tmp_path):
    torch.manual_seed(123)
    before = torch.get_rng_state()
    deterministic = torch.are_deterministic_algorithms_enabled()
    threads = torch.get_num_threads()
    train(config(coffee_pair, steps=2, threads=1), output_dir=tmp_path)
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.are_deterministic_algorithms_enabled() == deterministic and torch.get_num_threads() == threads


def test_device_choice():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ParameterError, match="device: cuda was asked for but torch .* sees no GPU"):
            resolve_device("cuda")


# -- ONNX export -----------------------------------------------------------------------------------
def _onnx_vs_torch(onnx_path, net, sizes):
    import onnx
    import onnxruntime as ort

    proto = onnx.load(str(onnx_path))
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 17
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    assert (inp.name, out.name, inp.type) == ("input", "output", "tensor(float)")
    assert inp.shape[1] == 3 and isinstance(inp.shape[2], str) and isinstance(inp.shape[3], str)
    rng = np.random.default_rng(0)
    net = net.eval()
    for h, w in sizes:
        x = rng.uniform(-0.1, 1.2, (1, 3, h, w)).astype(np.float32)
        (y_onnx,) = session.run(["output"], {"input": x})
        with torch.no_grad():
            y_torch = net(torch.from_numpy(x)).numpy()
        assert y_onnx.shape == (1, 3, h, w)
        np.testing.assert_allclose(y_onnx, y_torch, atol=1e-4, rtol=0)
        assert float(np.abs(y_torch - x).max()) > 1e-3  # the network does something: the comparison can fail


def test_exported_onnx_matches_torch_at_two_sizes(trained):
    result, _ = trained
    net = result.config.model.build()
    net.load_state_dict(weights(result.checkpoint))
    _onnx_vs_torch(result.files["onnx"], net, [(40, 56), (72, 48)])


def test_unet_export_matches_torch(tmp_path):
    from core.train.export import export_onnx

    cfg = model_config({"type": "unet_small", "channels": 8})
    torch.manual_seed(1)
    net = cfg.build()
    with torch.no_grad():
        net.tail.weight.mul_(20)  # make the (near-identity) start matter
    export_onnx(net, tmp_path / "unet.onnx", multiple_of=cfg.multiple_of)
    _onnx_vs_torch(tmp_path / "unet.onnx", net, [(32, 48), (44, 60)])


def test_model_manifest_is_what_inference_reads(trained, coffee_pair):
    from core.infer.model import load_model_spec

    result, _ = trained
    spec = load_model_spec(result.files["onnx"])  # finds model.json, checks the sha256
    assert (spec.name, spec.version, spec.colorspace, spec.encoding, spec.channels) == \
        ("coffee_fade", "1", "ACEScg", "log2", 3)
    assert spec.multiple_of == 1 and spec.receptive_field == result.config.model.receptive_field == 9
    t = spec.training
    assert t["seed"] == 0 and t["steps"] == 100 and t["config"] == result.config.to_dict()
    assert set(t["data"]) == set(coffee_pair) and t["metrics"]["loss_last"] == result.metrics["loss_last"]
    assert t["architecture"] == {"type": "resnet_small", "channels": 8, "blocks": 1, "residual": True}


def test_unshuffle_receptive_field_covers_every_alignment():
    """Pixel-unshuffle nets see a cell-aligned span of s*(2L+1) px; the declared field adds s-1 so that a
    square centred on any output pixel holds its whole footprint (the tiling halo)."""
    cfg = model_config({"type": "unshuffle_small", "channels": 8, "blocks": 1})
    torch.manual_seed(0)
    net = cfg.build().double()
    x = torch.randn(1, 3, 96, 96, dtype=torch.float64, requires_grad=True)
    reach = 0
    for c in range(44, 48):
        (g,) = torch.autograd.grad(net(x)[0, :, c, c].sum(), x)
        idx = torch.nonzero(g.abs().sum(dim=(0, 1)).sum(dim=0)).flatten()
        assert int(idx.max() - idx.min() + 1) == cfg.scale * (2 * (2 + 2 * cfg.blocks) + 1)
        reach = max(reach, c - int(idx.min()), int(idx.max()) - c)
    assert reach == cfg.receptive_field // 2
