"""core.train.cattery / ``reelkit export-nuke``: TorchScript for Nuke's Inference node (issue 20, item 2).

Reference: the ONNX model through :class:`core.infer.Restorer` (whole
frame, the same reflect padding, context thumbnail and encoding). Tolerance:
1e-3 in the model's encoding and in scene-linear value (issue 20); measured
on the shipped film_restore and a crop of skimage's coffee photo: 2.4e-6
linear, 3.6e-7 encoded (float32 convolutions in two runtimes).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from core import color  # noqa: E402
from core.cli.main import main  # noqa: E402
from core.infer import Restorer, load_model  # noqa: E402
from core.infer.encoding import encode_pixels  # noqa: E402
from core.infer.model import write_model_manifest  # noqa: E402
from core.io.samples import load_sample  # noqa: E402
from core.train.cattery import script_module  # noqa: E402
from core.train.export import export_onnx  # noqa: E402
from core.train.registry import model_config  # noqa: E402

TOLERANCE = 1e-3


def coffee_crop() -> np.ndarray:
    """A real photo (skimage's coffee, sRGB) in ACEScg, cropped to a size that is no multiple of 4: 197 x 271."""
    frame = color.convert_frame(load_sample("coffee"), "ACEScg")
    return np.ascontiguousarray(frame.pixels[40:237, 60:331, :3], dtype=np.float32)


def run_scripted(module, pixels: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        out = module(torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)[None])))
    return out[0].numpy().transpose(1, 2, 0)


def assert_close(out: np.ndarray, ref: np.ndarray, encoding: str = "log2") -> None:
    assert out.shape == ref.shape and out.dtype == np.float32
    assert np.abs(encode_pixels(out, encoding) - encode_pixels(ref, encoding)).max() <= TOLERANCE
    assert np.abs(out - ref).max() <= TOLERANCE * max(1.0, float(np.abs(ref).max()) / 16.0)


def test_export_nuke_film_restore_equals_onnx_and_reruns_byte_identical(tmp_path, capsys):
    first, second = tmp_path / "a", tmp_path / "b"
    assert main(["export-nuke", "film_restore", "--output-dir", str(first), "-q"]) == 0
    assert main(["export-nuke", "film_restore", "--output-dir", str(second), "-q"]) == 0
    for name in ("film_restore.pt", "film_restore.cat.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    # a rerun into the same folder refuses without --force, in one line
    assert main(["export-nuke", "film_restore", "--output-dir", str(first)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "exists" in err and "--force" in err

    sidecar = json.loads((first / "film_restore.cat.json").read_text())
    assert sidecar["format"] == "reelkit.cattery/1"
    assert sidecar["catfilecreator"]["channels_in"] == "rgba.red, rgba.green, rgba.blue"
    assert sidecar["catfilecreator"]["channels_out"] == sidecar["catfilecreator"]["channels_in"]
    assert sidecar["catfilecreator"]["output_scale"] == 1
    assert sidecar["catfilecreator"]["model_id"] == "reelkit_film_restore_5.0.0"
    assert sidecar["colorspace"] == "ACEScg" and sidecar["context"] == {"size": 32, "detail": True,
                                                                         "computed_in_graph": True}
    assert sidecar["overscan"] == 35 and sidecar["source"]["sha256"] == load_model("film_restore").spec.sha256

    module = torch.jit.load(str(first / "film_restore.pt"))
    pixels = coffee_crop()
    ref = Restorer("film_restore", tile=0, threads=1).run(pixels)
    assert np.abs(ref - pixels).max() > 0.05  # the model does change this frame: the comparison means something
    assert_close(run_scripted(module, pixels), ref)
    # HDR: 4 stops over, values up to ~16, unclamped on both sides
    bright = pixels * np.float32(16.0)
    out = run_scripted(module, bright)
    assert out.max() > 4.0
    assert_close(out, Restorer("film_restore", tile=0, threads=1).run(bright))
    # the mix attribute (a CatFileCreator Floating Point Slider knob named "mix")
    module.mix = 0.25
    assert_close(run_scripted(module, pixels), Restorer("film_restore", tile=0, threads=1, mix=0.25).run(pixels))


def _trained_folder(folder, raw: dict) -> None:
    """A model folder as ``reelkit train`` writes it (model.onnx, model.pt, model.json) for the config ``raw``,
    with seeded weights moved off their identity start so every layer matters."""
    cfg = model_config(raw)
    torch.manual_seed(0)
    net = cfg.build().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.01 * torch.randn_like(p))
    folder.mkdir()
    export_onnx(net, folder / "model.onnx", multiple_of=cfg.multiple_of, context=cfg.context,
                context_detail=cfg.context_detail)
    torch.save(net.state_dict(), folder / "model.pt")
    write_model_manifest(folder / "model.onnx", name="trained", version="1", encoding="log2", channels=3,
                         multiple_of=cfg.multiple_of, receptive_field=cfg.receptive_field, context=cfg.context,
                         context_detail=cfg.context_detail, training={"architecture": cfg.to_dict()},
                         weights=folder / "model.pt")


@pytest.mark.parametrize("raw", [
    {"type": "resnet_small", "blocks": 1},
    {"type": "unet_small", "channels": 4},
    {"type": "unshuffle_small", "channels": 8, "blocks": 1},
    {"type": "unshuffle_small", "channels": 8, "blocks": 1, "context": 8, "context_detail": True, "gate": True},
], ids=["resnet", "unet", "unshuffle", "unshuffle_context_gate"])
def test_every_architecture_family_scripts_to_the_onnx_output(tmp_path, raw):
    _trained_folder(tmp_path / "run", raw)
    spec = load_model(tmp_path / "run" / "model.onnx").spec
    rng = np.random.default_rng(3)
    pixels = rng.uniform(-0.05, 3.0, (46, 70, 3)).astype(np.float32)  # 46 x 70: no multiple of 4 (U-Net, unshuffle)
    ref = Restorer(spec.path, tile=0, threads=1).run(pixels)
    assert np.abs(ref - pixels).max() > 1e-3
    assert_close(run_scripted(script_module(spec), pixels), ref)


def test_export_nuke_from_a_train_output_folder(tmp_path):
    _trained_folder(tmp_path / "run", {"type": "unshuffle_small", "channels": 8, "blocks": 1, "context": 8})
    assert main(["export-nuke", str(tmp_path / "run"), "--output-dir", str(tmp_path / "nuke"), "-q"]) == 0
    module = torch.jit.load(str(tmp_path / "nuke" / "trained.pt"))
    pixels = coffee_crop()[:64, :90]
    assert_close(run_scripted(module, pixels), Restorer(tmp_path / "run" / "model.onnx", tile=0, threads=1).run(pixels))
    sidecar = json.loads((tmp_path / "nuke" / "trained.cat.json").read_text())
    assert sidecar["tile"]["recommended"] is None and sidecar["context"]["computed_in_graph"] is True


@pytest.mark.parametrize("change, why", [
    ({"weights": None}, "names no torch weights"),
    ({"architecture": {"type": "swinir"}}, "unknown architecture 'swinir'"),
    ({"channels": 1}, "needs an RGB model"),
], ids=["no_weights", "unknown_type", "one_channel"])
def test_a_model_that_cannot_be_exported_is_refused_in_one_line(tmp_path, capsys, change, why):
    spec = load_model("film_restore").spec
    shutil.copy(spec.path, tmp_path / "m.onnx")
    shutil.copy(spec.path.parent / spec.document["weights"]["file"], tmp_path / "m.pt")
    arch = change.get("architecture", dict(spec.training["architecture"]))
    write_model_manifest(tmp_path / "m.onnx", name="m", version="1", encoding="log2",
                         channels=change.get("channels", 3), multiple_of=4, receptive_field=71, context=32,
                         context_detail=True, training={"architecture": arch},
                         weights=None if "weights" in change else tmp_path / "m.pt")
    assert main(["export-nuke", str(tmp_path / "m.onnx"), "--output-dir", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and why in err, err
    assert not (tmp_path / "out" / "m.pt").exists()

