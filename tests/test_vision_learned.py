"""core.vision.learned: tiny ONNX models built here (onnx.helper), the pre- and post-processing checked
exactly against numbers worked out by hand (resize, colour space, range, normalisation, channel order,
letterbox and its removal), and the registry's refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.color import convert
from core.errors import ImageError, OutOfMemoryError
from core.infer.model import ModelError, model_sha256
from core.vision.learned import LearnedPass, letterbox, load_vision_model, preprocess, vision_models
from core.vision.session import VisionSession

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper  # noqa: E402


def build(path, nodes, out_shape, size=(64, 64), initializers=()):
    """An opset-17 model ``image`` (1x3xHxW float) -> ``out`` written to ``path``; returns its bytes."""
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, *size])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, out_shape)], initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    path.write_bytes(data)
    return data


def identity(path, size=(64, 64)):
    return build(path, [helper.make_node("Identity", ["image"], ["out"])], [1, 3, *size], size)


def entry(file, data, **over):
    e = {"id": over.pop("id", "tiny"), "task": over.pop("task", "depth"), "file": file,
         "sha256": model_sha256(data), "licence": "CC0-1.0",
         "input": {"size": [64, 64], "resize": "letterbox", "colorspace": "srgb", "range": [0, 1],
                   "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
         "output": {"channels": 1, "meaning": "test"}}
    for k, v in over.items():
        (e["input"] if k in ("size", "resize", "colorspace", "range", "mean", "std", "order", "pad")
         else e["output"])[k] = v
    return e


def index(folder, *entries):
    (folder / "manifest.json").write_text(json.dumps({"format": "reelkit.models/1", "models": [],
                                                      "vision": list(entries)}))


def halves(a, b, h=64, w=128):
    """A ``w x h`` ACEScg frame: left half grey ``a``, right half grey ``b``."""
    px = np.empty((h, w, 3), np.float32)
    px[:, : w // 2], px[:, w // 2:] = a, b
    return px


def normalised(v, channel=0, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)):
    """What the network sees for ACEScg grey ``v``: sRGB-encoded, then ``(x - mean) / std``."""
    srgb = float(convert(np.full(3, v, np.float32), "ACEScg", "srgb")[channel])
    return (srgb - mean[channel]) / std[channel]


def test_letterbox_geometry():
    box = letterbox((64, 128), (64, 64), "letterbox")
    assert (box.top, box.left, box.height, box.width) == (16, 0, 32, 64)
    box = letterbox((1080, 1920), (518, 518), "letterbox")
    assert (box.top, box.left, box.height, box.width) == (113, 0, 291, 518)  # 1080 * 518/1920 = 291.4
    box = letterbox((300, 200), (64, 64), "stretch")
    assert (box.top, box.left, box.height, box.width) == (0, 0, 64, 64)


def test_preprocess_exactly(tmp_path):
    """A 128x64 frame of 2x2 blocks into a 64x64 input: the area resize is each block's mean (in linear
    light), sRGB-encoded, normalised; rows 0-15 and 48-63 are the pad (0 normalised)."""
    data = identity(tmp_path / "id.onnx")
    index(tmp_path, entry("id.onnx", data))
    spec = load_vision_model(tmp_path / "id.onnx").spec
    rng = np.random.default_rng(0)
    px = rng.uniform(0.0, 1.5, (64, 128, 3)).astype(np.float32)
    net, box = preprocess(px, spec)
    means = px.reshape(32, 2, 64, 2, 3).mean(axis=(1, 3), dtype=np.float64).astype(np.float32)
    want = (np.clip(convert(means, "ACEScg", "srgb"), 0, 1) - np.array(spec.mean, np.float32)) / np.array(
        spec.std, np.float32)
    assert net.shape == (1, 3, 64, 64)
    assert np.abs(net[0, :, 16:48, :].transpose(1, 2, 0) - want).max() < 1e-5
    pad = (0.0 - np.array(spec.mean)) / np.array(spec.std)
    assert np.abs(net[0, :, :16, :] - pad[:, None, None]).max() < 1e-6
    assert np.abs(net[0, :, 48:, :] - pad[:, None, None]).max() < 1e-6


def test_postprocess_removes_the_letterbox(tmp_path):
    """Identity model: the pass of a frame (left grey 0.05, right 0.6) is channel 0 of the normalised input
    at every frame pixel, including the top and bottom rows (the pad never leaks in)."""
    data = identity(tmp_path / "id.onnx")
    index(tmp_path, entry("id.onnx", data))
    out = LearnedPass(tmp_path / "id.onnx").run(halves(0.05, 0.6))
    assert out.shape == (64, 128, 1) and out.dtype == np.float32
    assert np.abs(out[:, :60, 0] - normalised(0.05)).max() < 1e-5
    assert np.abs(out[:, 68:, 0] - normalised(0.6)).max() < 1e-5


def test_an_output_at_another_resolution_is_unletterboxed_at_its_scale(tmp_path):
    """A model that averages the channels and pools 2x2 (output 1x1x32x32): content rows 8-23 of the output."""
    data = build(tmp_path / "pool.onnx", [
        helper.make_node("ReduceMean", ["image"], ["m"], axes=[1], keepdims=1),
        helper.make_node("AveragePool", ["m"], ["out"], kernel_shape=[2, 2], strides=[2, 2])], [1, 1, 32, 32])
    index(tmp_path, entry("pool.onnx", data))
    out = LearnedPass(tmp_path / "pool.onnx").run(halves(0.05, 0.6))
    assert out.shape == (64, 128, 1)
    left = np.mean([normalised(0.05, c) for c in range(3)])
    right = np.mean([normalised(0.6, c) for c in range(3)])
    assert np.abs(out[:, :56, 0] - left).max() < 1e-5
    assert np.abs(out[:, 72:, 0] - right).max() < 1e-5


def test_channel_order_range_linear_space_and_sigmoid(tmp_path):
    """BGR order, lin_rec709 input on 0..255, no mean/std, a sigmoid: channel 0 is blue's 255 x value."""
    data = identity(tmp_path / "id.onnx")
    index(tmp_path, entry("id.onnx", data, order="BGR", colorspace="lin_rec709", range=[0, 255], mean=[0, 0, 0],
                          std=[100, 100, 100], activation="sigmoid", resize="stretch"))
    px = np.empty((32, 32, 3), np.float32)
    px[...] = convert(np.array([0.1, 0.2, 0.3], np.float32), "lin_rec709", "ACEScg")
    out = LearnedPass(tmp_path / "id.onnx").run(px)
    assert out.shape == (32, 32, 1)
    assert np.abs(out - 1 / (1 + np.exp(-0.3 * 255 / 100))).max() < 1e-5


def test_a_file_that_is_not_the_manifests_is_refused(tmp_path):
    data = identity(tmp_path / "id.onnx")
    e = entry("id.onnx", data)
    e["sha256"] = "0" * 64
    index(tmp_path, e)
    with pytest.raises(ModelError, match=rf"^{tmp_path / 'id.onnx'}: sha256 {model_sha256(data)} does not match "
                       rf"0{{64}} in {tmp_path / 'manifest.json'} \(vision model 'tiny'\)$"):
        LearnedPass(tmp_path / "id.onnx")


def test_an_input_shape_that_is_not_the_manifests_is_refused(tmp_path):
    data = identity(tmp_path / "id.onnx")
    index(tmp_path, entry("id.onnx", data, size=[96, 96]))
    with pytest.raises(ModelError, match=r"id\.onnx: input 'image' is tensor\(float\) 1x3x64x64 in the graph; "
                       r"its manifest entry says float 1x3x96x96 \(vision model 'tiny'\)$"):
        LearnedPass(tmp_path / "id.onnx")


def test_models_are_found_by_id_on_the_model_path(tmp_path, monkeypatch):
    data = identity(tmp_path / "id.onnx")
    index(tmp_path, entry("id.onnx", data, id="depth_tiny"))
    monkeypatch.setenv("REELKIT_MODEL_PATH", str(tmp_path))
    assert "depth_tiny" in vision_models()
    assert load_vision_model("depth_tiny").path == tmp_path / "id.onnx"
    with pytest.raises(ModelError, match="vision model 'nothing': not a file"):
        load_vision_model("nothing")


def test_a_colour_model_refuses_a_one_channel_frame_and_a_session_refuses_other_sizes(tmp_path):
    from core.frame import Frame

    data = identity(tmp_path / "id.onnx")
    index(tmp_path, entry("id.onnx", data))
    session = VisionSession("depth", model=tmp_path / "id.onnx")
    with pytest.raises(ImageError, match=r"^mono\.0001\.exr \(frame 1\): the depth pass needs a colour"):
        session.run(Frame(np.zeros((64, 128, 1), np.float32), "ACEScg", frame=1, path="mono.0001.exr"))
    session.run(Frame(halves(0.1, 0.2), "ACEScg", frame=1, path="plate.0001.exr"))
    with pytest.raises(ImageError, match=r"^plate\.0002\.exr \(frame 2\): 100x64 does not match the shot's 128x64"):
        session.run(Frame(halves(0.1, 0.2, w=100), "ACEScg", frame=2, path="plate.0002.exr"))


def test_the_memory_budget_refuses_before_the_first_frame(tmp_path):
    data = identity(tmp_path / "id.onnx")
    index(tmp_path, entry("id.onnx", data))
    session = VisionSession("depth", model=tmp_path / "id.onnx", memory_share=1e-9)
    with pytest.raises(OutOfMemoryError, match=r"^<memory>: the depth pass on 128x64 frames: needs about .* GiB, "
                       r"above the budget of 0\.00 GiB \(0% of .* GiB RAM\)"):
        session.run(halves(0.1, 0.2))
    assert session.learned.frames_run == 0


def test_one_session_and_no_frame_sized_allocation_after_the_first_frame(tmp_path):
    """tracemalloc (numpy reports its buffers to it) over frames 2-5 of a 512x256 shot through a 64x64 model:
    the peak beyond the frame's own pass (0.5 MiB) was 0.7-1.3 KB a frame (onnxruntime runs into the bound
    output tensor; the input tensor and the resize buffer are the session's)."""
    import tracemalloc

    data = identity(tmp_path / "id.onnx")
    index(tmp_path, entry("id.onnx", data))
    session = VisionSession("depth", model=tmp_path / "id.onnx", smoothing=0.0)
    frames = [halves(0.05 * k, 0.5, h=256, w=512) for k in range(1, 6)]
    session.run(frames[0])
    learned = session.learned
    tracemalloc.start()
    peaks = []
    for px in frames[1:]:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        out = session.run(px)
        peaks.append(tracemalloc.get_traced_memory()[1] - before - out["depth"].nbytes)
        del out
    tracemalloc.stop()
    assert session.learned is learned and learned.frames_run == 5
    frame_bytes = 256 * 512 * 4
    assert max(peaks) < 0.05 * frame_bytes


def test_reelkit_models_lists_and_verifies_vision_models(tmp_path, monkeypatch, capsys):
    """`reelkit models list` shows the vision entries by id; `models verify` re-hashes their files and names a
    changed one; `models verify ID` checks that model alone."""
    from core.cli.main import main

    data = identity(tmp_path / "id.onnx")
    index(tmp_path, entry("id.onnx", data, id="depth_tiny"))
    monkeypatch.setenv("REELKIT_MODEL_PATH", str(tmp_path))
    assert main(["models", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["vision"] == [{"id": "depth_tiny", "task": "depth", "licence": "CC0-1.0", "folder": str(tmp_path),
                                 "file": "id.onnx"}]
    assert main(["models", "list"]) == 0
    assert f"depth_tiny\tvision depth\t{tmp_path / 'id.onnx'}" in capsys.readouterr().out
    assert main(["models", "verify", "depth_tiny"]) == 0
    assert "1 file(s) checked, 0 problem(s)" in capsys.readouterr().err
    identity(tmp_path / "id.onnx", size=(32, 32))  # another graph under the same name
    assert main(["models", "verify", "depth_tiny", "-q"]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith(f"{tmp_path / 'id.onnx'}: sha256 ") and "does not match" in out[0]


def test_depth_smoothing_along_the_flow_reduces_flicker_on_a_static_shot(tmp_path):
    """A static photo with fresh grain each frame (seeded, sigma 0.01) through an identity 'depth' model (channel
    0 of the normalised input carries the grain): mean |depth_t - depth_t-1| over 7 frame pairs, smoothing 0.5
    against 0: measured 0.064 and 0.029 (0.45x)."""
    from tests.test_vision import photo

    data = identity(tmp_path / "id.onnx")
    index(tmp_path, entry("id.onnx", data, resize="stretch"))
    img = photo("coffee", (128, 64))
    rng = np.random.default_rng(7)
    frames = [np.clip(img + rng.normal(0, 0.01, img.shape).astype(np.float32), 0, None) for _ in range(8)]

    def flicker(smoothing):
        session = VisionSession("depth", model=tmp_path / "id.onnx", smoothing=smoothing)
        depth = [session.run(f)["depth"] for f in frames]
        return float(np.mean([np.abs(a - b).mean() for a, b in zip(depth[1:], depth[:-1])]))

    off, on = flicker(0.0), flicker(0.5)
    assert on < 0.75 * off, (on, off)
