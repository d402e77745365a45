"""core.inverse: spaces, stratified data sets, the CNN (train, ONNX, predict) and CMA-ES refinement.

Real renders of core.generate's ``shape`` family and real core.degrade
damage, real torch training (a few steps) and real onnxruntime sessions.
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from core.errors import ImageError, ParameterError
from core.generate import generate
from core.infer.model import ModelError
from core.inverse.cmaes import cma_minimise
from core.inverse.data import load_dataset, make_dataset, sample_params
from core.inverse.generators import degrade_generator, generator
from core.inverse.refine import refine
from core.inverse.space import ParamSpace, flatten, unflatten

VARY = {"shape": ("circle", "box", "ring"), "center_x": (0.3, 0.7), "center_y": (0.3, 0.7), "radius": (0.1, 0.3)}
SIZE = 32


@pytest.fixture(scope="module")
def shape_space():
    gen = generator("generate:shape")
    return gen, ParamSpace.from_spec(gen.spec, VARY, {"thickness": 0.06})


@pytest.fixture(scope="module")
def shape_data(tmp_path_factory, shape_space):
    gen, space = shape_space
    folder = tmp_path_factory.mktemp("inverse") / "data"
    make_dataset(gen, space, folder, count=24, seed=1, width=SIZE, height=SIZE)
    return folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory, shape_data):
    torch = pytest.importorskip("torch")
    del torch
    from core.inverse.train import train_inverse

    out = tmp_path_factory.mktemp("inverse") / "model"
    return train_inverse(shape_data, out, steps=12, batch_size=12, width=8, lr=3e-3, seed=3)


# -- spaces -------------------------------------------------------------------------------------------
def test_space_encodes_and_decodes_every_kind():
    gen = generator("generate:repetition")
    space = ParamSpace.from_spec(gen.spec, {"element": ("ring", "bar"), "repeats": (1, 9), "radius": (0.1, 0.3),
                                            "filled": None})
    params = {"element": "bar", "repeats": 5, "radius": 0.2, "filled": True}
    enc = space.encode(params)
    assert enc.continuous.tolist() == pytest.approx([0.5, 0.5])
    assert enc.categorical.tolist() == [1] and enc.boolean.tolist() == [1.0]
    back = space.decode([0.52, 0.5], [[0.0, 3.0]], [2.0], fixed=True)
    assert {k: back[k] for k in params} == params  # 1 + 8 * 0.52 = 5.16 rounds to 5
    assert set(back) == set(gen.spec.params)  # the generator's full dict
    assert ParamSpace.from_dict(json.loads(json.dumps(space.to_dict()))) == space
    row = np.zeros(space.output_size, np.float32)
    assert space.decode_output(row)[1].tolist() == [1.0, 1.0]  # log-spread 0


def test_space_refuses_bad_input():
    spec = generator("generate:shape").spec
    with pytest.raises(ParameterError, match="unknown parameter"):
        ParamSpace.from_spec(spec, {"nope": None})
    with pytest.raises(ParameterError, match="radius"):
        ParamSpace.from_spec(spec, {"radius": (0.0, 20.0)})  # beyond the spec's range
    with pytest.raises(ParameterError, match="two distinct"):
        ParamSpace.from_spec(spec, {"shape": ("circle",)})
    with pytest.raises(ParameterError, match="both learned and fixed"):
        ParamSpace.from_spec(spec, {"radius": (0.1, 0.2)}, {"radius": 0.1})
    with pytest.raises(ParameterError, match="not a stored parameter space"):
        ParamSpace.from_dict({"format": "other"})


def test_flatten_round_trip():
    nested = {"color": {"r": 0.1, "g": 0.2}, "shape": "ring"}
    assert unflatten(flatten(nested)) == nested


# -- data ---------------------------------------------------------------------------------------------
def test_sampling_is_stratified_and_seeded(shape_space):
    _, space = shape_space
    draws = [sample_params(space, 5, i) for i in range(48)]
    assert Counter(d["shape"] for d in draws) == {"circle": 16, "box": 16, "ring": 16}
    for i in range(0, 48, 3):  # every block of 3 holds each choice once
        assert {d["shape"] for d in draws[i:i + 3]} == set(VARY["shape"])
    xs = np.array([d["center_x"] for d in draws[:16]])
    assert sorted(((xs - 0.3) / 0.4 * 16).astype(int)) == list(range(16))  # one per stratum
    assert draws == [sample_params(space, 5, i) for i in range(48)]
    assert draws != [sample_params(space, 6, i) for i in range(48)]


def test_dataset_writes_resumes_and_loads(tmp_path, shape_space):
    gen, space = shape_space
    folder = tmp_path / "d"
    make_dataset(gen, space, folder, count=6, seed=2, width=SIZE, height=SIZE)
    before = {p.name: p.read_bytes() for p in folder.glob("sample.*")}
    (folder / "sample.0003.exr").unlink()
    manifest = make_dataset(gen, space, folder, count=6, seed=2, width=SIZE, height=SIZE)  # resume: remakes one
    assert {p.name: p.read_bytes() for p in folder.glob("sample.*")} == before
    assert manifest.data["status"] == "done"
    data = load_dataset(folder)
    assert data.images.shape == (6, SIZE, SIZE, 3) and data.images.dtype == np.float32
    assert data.targets.continuous.shape == (6, 3) and data.targets.categorical.shape == (6, 1)
    record = json.loads((folder / "sample.0001.json").read_text())
    assert record["params"]["thickness"] == 0.06 and "shape" in record["params"]  # flat keys, full dict
    frame = generate("shape", record["params"], seed=record["seed"], width=SIZE, height=SIZE)
    assert np.allclose(frame.pixels, data.images[0], rtol=1e-3, atol=1e-4)  # the EXR is the render (half)


def test_dataset_bad_input_writes_nothing(tmp_path, shape_space):
    gen, space = shape_space
    other = ParamSpace.from_spec(generator("generate:ramp").spec, {"angle": (0.0, 90.0)})
    with pytest.raises(ParameterError, match="space"):
        make_dataset(gen, other, tmp_path / "a", count=2)
    with pytest.raises(ParameterError, match="count"):
        make_dataset(gen, space, tmp_path / "b", count=0)
    with pytest.raises(ParameterError, match="width"):
        make_dataset(gen, space, tmp_path / "c", count=2, width=0)
    assert not any(tmp_path.iterdir())
    with pytest.raises(ParameterError, match="not an inverse data set"):
        load_dataset(tmp_path)


def test_degrade_generator_dataset(tmp_path):
    clean = generate("ramp", {"shape": "four_corner"}, width=SIZE, height=SIZE).pixels
    gen = degrade_generator(clean, preset="dusty_35mm")
    space = ParamSpace.from_spec(gen.spec, gen.vary(["grain_intensity", "dust_polarity"]))
    assert space.fixed["dust_count"] == 40.0  # the preset's values under the learned ones
    make_dataset(gen, space, tmp_path / "d", count=3, seed=4, width=SIZE, height=SIZE)
    data = load_dataset(tmp_path / "d")
    assert sorted(p["dust_polarity"] for p in data.params) == ["bright", "dark", "mixed"]
    assert not np.allclose(data.images[0], clean, atol=1e-3)
    with pytest.raises(ParameterError, match="differs from the clean frame"):
        gen.render(gen.spec.defaults(), 0, SIZE * 2, SIZE)


# -- the CNN ------------------------------------------------------------------------------------------
def test_training_lowers_the_loss_and_exports(trained):
    first = np.mean([h["loss"] for h in trained.history[:3]])
    last = np.mean([h["loss"] for h in trained.history[-3:]])
    assert last < first
    doc = json.loads(trained.files["model_manifest"].read_text())
    assert doc["format"] == "reelkit.inverse_model/1" and doc["input"]["height"] == SIZE
    assert [d["name"] for d in doc["space"]["dims"]] == ["center_x", "center_y", "radius", "shape"]


def test_network_heads_cover_every_kind():
    torch = pytest.importorskip("torch")
    from core.inverse.nets import InverseNet, inverse_loss

    gen = generator("generate:repetition")
    space = ParamSpace.from_spec(gen.spec, {"element": ("ring", "bar", "wave"), "alpha_mode": None,
                                            "repeats": (1, 9), "radius": (0.1, 0.3), "filled": None})
    net = InverseNet(space, height=16, width_px=24, width=4)
    out = net(torch.zeros(2, 3, 16, 24))
    assert out.shape == (2, space.output_size) == (2, 2 * 2 + 3 + 6 + 1)
    targets = (torch.full((2, 2), 0.5), torch.zeros(2, 2, dtype=torch.long), torch.ones(2, 1))
    loss, parts = inverse_loss(out, targets, space, {"continuous": 1.0, "spread": 0.1, "categorical": 1.0,
                                                      "boolean": 1.0})
    loss.backward()
    assert set(parts) == {"continuous", "spread", "categorical", "boolean"} and np.isfinite(float(loss.detach()))
    assert net.boolean.weight.grad is not None and all(h.weight.grad is not None for h in net.categorical)


def test_training_is_deterministic(tmp_path, shape_data, trained):
    torch = pytest.importorskip("torch")
    from core.inverse.train import train_inverse

    again = train_inverse(shape_data, tmp_path / "m", steps=12, batch_size=12, width=8, lr=3e-3, seed=3)
    a, b = torch.load(trained.files["weights"]), torch.load(again.files["weights"])
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_onnx_prediction_matches_torch_and_decodes(trained, shape_data, shape_space):
    torch = pytest.importorskip("torch")
    from core.infer.encoding import encode_pixels
    from core.inverse.nets import InverseNet
    from core.inverse.predict import InversePredictor

    gen, space = shape_space
    data = load_dataset(shape_data)
    predictor = InversePredictor(trained.onnx)
    out = predictor.outputs(data.images[:4])
    net = InverseNet(space, height=SIZE, width_px=SIZE, width=8)
    net.load_state_dict(torch.load(trained.files["weights"]))
    net.eval()
    with torch.no_grad():
        ref = net(torch.from_numpy(encode_pixels(data.images[:4], "log2").transpose(0, 3, 1, 2).copy())).numpy()
    assert np.allclose(out, ref, atol=1e-4)
    pred = predictor.predict(data.images[:2])[0]
    assert set(pred.params) == set(gen.spec.params) and pred.params["thickness"] == 0.06
    assert pred.params["shape"] in VARY["shape"] and 0.3 <= pred.params["center_x"] <= 0.7
    assert pred.sigma.shape == (3,) and sum(pred.probabilities["shape"]) == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ImageError, match="does not fit"):
        predictor.predict([np.zeros((SIZE, SIZE + 1, 3), np.float32)])


def test_altered_model_is_refused(trained, tmp_path):
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(trained.onnx.read_bytes() + b"\0")
    (tmp_path / "model.json").write_text(trained.files["model_manifest"].read_text())
    from core.inverse.model import load_inverse_model

    with pytest.raises(ModelError, match="sha256"):
        load_inverse_model(onnx)
    with pytest.raises(ModelError, match="no inverse model manifest"):
        load_inverse_model(tmp_path / "other.onnx")


# -- refinement ---------------------------------------------------------------------------------------
def test_cma_es_is_seeded_and_budgeted():
    def f(x):
        return float(((x - np.array([0.2, 0.7, 0.5])) ** 2).sum())

    a = cma_minimise(f, [0.5, 0.5, 0.5], 0.2, seed=4, max_evals=300)
    b = cma_minimise(f, [0.5, 0.5, 0.5], 0.2, seed=4, max_evals=300)
    assert a.f < 1e-6 and np.array_equal(a.x, b.x) and a.evaluations <= 300
    assert cma_minimise(f, [0.5, 0.5, 0.5], 0.2, seed=4, max_evals=30).evaluations <= 30


def test_refine_recovers_the_params_of_a_render(shape_space):
    gen, space = shape_space
    truth = gen.spec.resolve({**space.fixed, "shape": "ring", "center_x": 0.45, "center_y": 0.55, "radius": 0.2})
    target = gen.render(truth, 0, 48, 48)
    start = {**truth, "center_x": 0.5, "center_y": 0.5, "radius": 0.17}
    result = refine(gen, target, start, space, sigma=[0.1, 0.1, 0.1], seed=0, max_evals=240)
    assert result.loss_after < result.loss_before / 50
    for k in ("center_x", "center_y", "radius"):
        assert abs(result.params[k] - truth[k]) < 0.004, k
    assert result.params["shape"] == "ring"
    again = refine(gen, target, start, space, sigma=[0.1, 0.1, 0.1], seed=0, max_evals=240)
    assert again == result
    with pytest.raises(ParameterError, match="unknown loss"):
        refine(gen, target, start, space, loss="lpips")
    with pytest.raises(ImageError, match="target"):
        refine(gen, target[..., 0], start, space)
    other = ParamSpace.from_spec(generator("generate:ramp").spec, {"angle": (0.0, 90.0)})
    with pytest.raises(ParameterError, match="not of generator"):
        refine(gen, target, start, other)


# -- CLI ----------------------------------------------------------------------------------------------
def test_cli_data_train_predict(tmp_path, capsys):
    pytest.importorskip("torch")
    from core.cli.main import main

    data, model, out = tmp_path / "data", tmp_path / "model", tmp_path / "pred"
    assert main(["inverse", "data", "generate:shape", "--vary", "shape=circle,ring", "--vary", "radius=0.1:0.3",
                 "--count", "8", "--size", "32x32", "-o", str(data), "-q"]) == 0
    assert main(["inverse", "train", str(data), "--steps", "3", "--width", "4", "--batch-size", "4",
                 "-o", str(model), "-q"]) == 0
    assert main(["inverse", "predict", str(model / "model.onnx"), str(data / "sample.0001.exr"), "--refine", "12",
                 "--refine-seconds", "30", "-o", str(out), "-q"]) == 0
    record = json.loads((out / "sample.0001.params.json").read_text())
    assert record["format"] == "reelkit.inverse.prediction/1" and record["generator"] == "generate:shape"
    assert record["refined"]["loss_after"] <= record["refined"]["loss_before"]
    assert (out / "sample.0001.render.exr").is_file() and (out / "sample.0001.sheet.png").is_file()
    from core import io

    io.write_image(tmp_path / "wide.exr", generate("shape", width=48, height=32), pixel_type="half")
    capsys.readouterr()
    assert main(["inverse", "predict", str(model / "model.onnx"), str(tmp_path / "wide.exr"), "-o",
                 str(tmp_path / "p2"), "-q"]) == 1
    assert "wide.exr: 48x32 does not fit the model's input 32x32" in capsys.readouterr().err
    assert not (tmp_path / "p2").exists()
    assert main(["inverse", "data", "generate:nope", "--vary", "radius", "-o", str(tmp_path / "x")]) == 1
    assert "unknown family 'nope'" in capsys.readouterr().err and not (tmp_path / "x").exists()
    assert main(["inverse", "data", "generate:shape", "--vary", "radius=a:b", "-o", str(tmp_path / "x")]) == 1
    assert "LOW:HIGH must be two numbers" in capsys.readouterr().err and not (tmp_path / "x").exists()
