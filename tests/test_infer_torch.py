"""GPU-ready inference outside Nuke (issue 20 item 3): the torch engine and onnxruntime's IO binding.

The shipped film_restore model (models/: its ONNX graph, and the torch
``state_dict`` of the same network with its sha256 in the manifest) runs
on real photos (the shipped astronaut and chelsea samples, ACEScg): the
torch engine on the CPU in float32 must give the ONNX session's output
within 1e-3 (max abs), whole frame and tiled, through the restorer and
through ``infer_files`` / ``reelkit infer``. The CUDA paths (torch fp16
with pinned buffers, onnxruntime IO binding) are run here only when the
machine has CUDA.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

from core import color, io  # noqa: E402
from core.errors import ParameterError  # noqa: E402
from core.infer import ModelError, Restorer, infer_files, load_model  # noqa: E402
from core.io import samples  # noqa: E402
from core.train.torch_model import torch_model  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
#: Max abs difference allowed between the torch network and its ONNX export (float32, the brief's bound).
TOLERANCE = 1e-3
#: provider torch takes CUDA when torch has it: then float16, with a float16 network's bound.
CUDA = torch.cuda.is_available()
BOUND = 0.05 if CUDA else TOLERANCE
DEVICE, PRECISION = ("cuda", "fp16") if CUDA else ("cpu", "fp32")


def photo(name: str, rows: slice, cols: slice) -> np.ndarray:
    """A crop of a shipped sample photo in ACEScg (HWC float32)."""
    return np.ascontiguousarray(color.convert_frame(samples.load_sample(name), "ACEScg").pixels[rows, cols])


@pytest.fixture(scope="module")
def shipped():
    """film_restore loaded once with its torch network attached."""
    return torch_model("film_restore")


@pytest.mark.skipif(CUDA, reason="the CPU's float32 path: torch here would take CUDA (float16)")
@pytest.mark.parametrize("tile", [0, 160])
def test_torch_on_cpu_equals_the_onnx_session_whole_and_tiled(shipped, tile):
    px = photo("astronaut.png", slice(40, 240), slice(120, 376))  # 200 x 256, face and suit: edges, skin, white
    onnx = Restorer(shipped, provider="cpu", tile=tile, threads=1)
    ran = Restorer(shipped, provider="torch", tile=tile, threads=1)
    a, b = onnx.run(px), ran.run(px)
    assert np.abs(b - px).max() > 0.01  # the model does change the frame: the comparison means something
    assert np.abs(a - b).max() <= TOLERANCE
    assert ran.tiles_run == onnx.tiles_run and (ran.tiles_run > 1) == (tile > 0)
    info = ran.info()
    assert (info["backend"], info["device"], info["precision"]) == ("torch", "cpu (cpu)", "fp32")
    # the context computed ahead (a reader thread's Restorer.prepare / context_of) gives the same bits
    np.testing.assert_array_equal(onnx.run(px, context=onnx.context_of(px)), a)


def test_torch_keeps_alpha_hdr_and_the_mix(shipped):
    rgb = photo("chelsea.png", slice(0, 120), slice(0, 160)) * np.float32(8.0)  # up to ~8: above 1.0, unclamped
    alpha = np.linspace(0, 1, rgb.shape[1], dtype=np.float32)[None, :, None].repeat(rgb.shape[0], 0)
    px = np.concatenate([rgb, alpha], axis=2)
    a = Restorer(shipped, provider="cpu", tile=0, mix=0.5, threads=1).run(px)
    b = Restorer(shipped, provider="torch", tile=0, mix=0.5, threads=1).run(px)
    np.testing.assert_array_equal(b[..., 3], alpha[..., 0])
    assert b[..., :3].max() > 1.0 and np.abs(a - b).max() <= BOUND * 8  # relative to the 8x scale


def test_torch_model_refuses_changed_weights(tmp_path):
    """A copy of the shipped folder whose .pt was altered after its manifest: refused, naming the file."""
    folder = tmp_path / "models"
    folder.mkdir()
    for name in ("manifest.json", "film_restore.onnx", "film_restore.pt"):
        (folder / name).write_bytes((ROOT / "models" / name).read_bytes())
    with open(folder / "film_restore.pt", "ab") as f:
        f.write(b"\0")
    with pytest.raises(ModelError, match=r"film_restore\.pt: sha256 .* does not match"):
        torch_model(folder / "film_restore.onnx")


def test_provider_torch_needs_the_torch_network(tmp_path):
    with pytest.raises(ParameterError, match="provider 'torch'.*torch_model"):
        Restorer("film_restore", provider="torch")
    with pytest.raises(ParameterError, match="provider 'torch'.*torch_model"):
        infer_files("film_restore", str(ROOT / "core/data/samples/chelsea.png"), output_dir=tmp_path / "o",
                    params={"provider": "torch"})
    assert not (tmp_path / "o").exists()  # refused before anything was written


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA present: fp16 is allowed")
def test_provider_torch_fp16_needs_cuda(shipped):
    with pytest.raises(ParameterError, match="fp16 with provider torch needs CUDA"):
        Restorer(shipped, provider="torch", precision="fp16")


@pytest.fixture(scope="module")
def plate(tmp_path_factory):
    """Two ACEScg float EXR frames 1-2 (120 x 160) of the chelsea photo, the second shifted by 6 pixels."""
    folder = tmp_path_factory.mktemp("plate")
    pattern = folder / "cat.####.exr"
    for n in (1, 2):
        io.write_image(io.sequence_path(str(pattern), n), photo("chelsea.png", slice(60, 180),
                                                                 slice(6 * n, 160 + 6 * n)),
                       colorspace="ACEScg", pixel_type="float")
    return pattern


def test_reelkit_infer_provider_torch_matches_onnx_and_records_the_backend(plate, tmp_path):
    cmd = [sys.executable, "-m", "core.cli.main", "infer", "--model", "film_restore", str(plate),
           "--tile", "0", "--threads", "1", "--pixel-type", "float", "--quiet"]
    for provider in ("cpu", "torch"):
        done = subprocess.run([*cmd, "--provider", provider, "--output-dir", str(tmp_path / provider)], cwd=ROOT,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
    data = json.loads((tmp_path / "torch" / "manifest.json").read_text())
    runtime = data["runtime"]
    assert (runtime["backend"], runtime["device"].split()[0], runtime["precision"]) == ("torch", DEVICE, PRECISION)
    assert json.loads((tmp_path / "cpu" / "manifest.json").read_text())["runtime"]["backend"] == "onnxruntime"
    assert data["model"]["name"] == "film_restore"
    for n in (1, 2):
        a = io.read_image(io.sequence_path(str(tmp_path / "cpu" / plate.name), n)).pixels
        b = io.read_image(io.sequence_path(str(tmp_path / "torch" / plate.name), n)).pixels
        assert np.abs(a - b).max() <= BOUND


def test_reelkit_infer_provider_torch_without_torch_is_one_line(tmp_path):
    code = ("import sys; sys.modules['torch'] = None\n"  # as if torch were not installed
            "from core.cli.main import main\n"
            f"sys.exit(main(['infer', '--model', 'film_restore', '--provider', 'torch', {str(plate_png())!r}, "
            f"'--output-dir', {str(tmp_path / 'o')!r}]))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert "torch is required" in done.stderr and "reelkit[train]" in done.stderr
    assert not (tmp_path / "o").exists()


def plate_png() -> Path:
    return ROOT / "core" / "data" / "samples" / "chelsea.png"


@pytest.mark.skipif(not CUDA, reason="needs CUDA (torch)")
@pytest.mark.parametrize("tile", [0, 160])
def test_torch_on_cuda_fp16_pinned_is_close_to_onnx(shipped, tile):
    px = photo("astronaut.png", slice(0, 512), slice(0, 512))
    a = Restorer(shipped, provider="cpu", tile=tile).run(px)
    ran = Restorer(shipped, provider="torch", tile=tile)
    b = ran.run(px)
    info = ran.info()
    assert info["precision"] == "fp16" and info["pinned_buffers"] and info["channels_last"]
    assert np.abs(a - b).max() <= BOUND  # float16 network
    np.testing.assert_array_equal(ran.run(px), b)  # the pinned buffers reused: the same bits again


def _ort_has_cuda() -> bool:
    import onnxruntime

    return "CUDAExecutionProvider" in onnxruntime.get_available_providers()


@pytest.mark.skipif(not _ort_has_cuda(), reason="needs onnxruntime with CUDA")
def test_onnxruntime_cuda_runs_through_io_binding():
    model = load_model("film_restore")
    px = photo("astronaut.png", slice(0, 256), slice(0, 256))
    cpu = Restorer(model, provider="cpu", tile=160).run(px)
    gpu = Restorer(model, provider="cuda", tile=160)
    assert gpu.info()["io_binding"] is True
    assert np.abs(gpu.run(px) - cpu).max() <= 1e-2  # CUDA convolutions may run in TF32
