"""``provider: torch`` through the shells other than the CLI: the agent's infer tool and the restore project's
stage 4 load the model's own torch network (core.train.torch_model.load_for) and give the ONNX run's frames to
within what float32 on the CPU allows (the CLI's bound, tests/test_cli_train_infer.py: 1e-3)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("mcp")

from core import io  # noqa: E402
from core.pipeline.project import init_project, run_project  # noqa: E402
from tests.test_mcp import _photo, _server, run  # noqa: E402
from tests.test_pipeline_project import TINY  # noqa: E402
from tests.test_pipeline_project import footage  # noqa: E402, F401  (the fixture)

pytestmark = [pytest.mark.usefixtures("torch_one_thread"),
              pytest.mark.skipif(torch.cuda.is_available(), reason="provider torch takes CUDA (float16) there")]


def test_the_agents_infer_tool_runs_the_shipped_models_torch_network(tmp_path):
    _photo(tmp_path / "photo.png", "coffee")
    common = {"input": "photo.png", "tile": 0, "threads": 1, "pixel_type": "float", "plan_only": False}

    async def scenario():
        async with _server(tmp_path) as c:
            for provider in ("torch", "cpu"):
                await c.ok("infer", **common, output_dir=provider, provider=provider)

    run(scenario)
    runtime = {p: json.loads((tmp_path / p / "manifest.json").read_text())["runtime"] for p in ("torch", "cpu")}
    assert (runtime["torch"]["backend"], runtime["torch"]["precision"]) == ("torch", "fp32")
    assert runtime["cpu"]["backend"] == "onnxruntime"
    got, want = (io.read_image(tmp_path / p / "photo.exr").pixels for p in ("torch", "cpu"))
    assert np.abs(got - want).max() <= 1e-3


def test_stage_4_renders_with_the_trained_runs_torch_network(tmp_path, footage):  # noqa: F811
    src, ref = footage
    params = {**TINY, "inference": {**TINY["inference"], "provider": "torch"}}
    path = tmp_path / "torch"
    init_project(path, source=src, reference=ref, seed=3, params=params)
    run_project(path, "1-4")
    stage4 = path / "pipeline/04_inference_render"
    assert json.loads((stage4 / "manifest.json").read_text())["runtime"]["backend"] == "torch"
    onnx = tmp_path / "onnx"
    shutil.copytree(path, onnx)
    doc = json.loads((onnx / "project.json").read_text())
    doc["stages"]["inference"]["provider"] = "cpu"
    (onnx / "project.json").write_text(json.dumps(doc))
    run_project(onnx, "4", force=True)
    assert json.loads((onnx / stage4.relative_to(path) / "manifest.json").read_text())["runtime"]["backend"] == \
        "onnxruntime"
    frames = sorted(stage4.glob("*.exr"))
    apart = np.concatenate([np.abs(io.read_image(f).pixels - io.read_image(onnx / f.relative_to(path)).pixels).ravel()
                            for f in frames])
    # half-float EXRs of network outputs 1e-3 apart, then the finishing steps fitted on those outputs (LUT, detail
    # filters) move a few pixels further (measured: 5 values of 280k beyond 2e-3, the most 0.0125; all others
    # within 1e-3)
    assert len(frames) == 18 and np.mean(apart <= 2e-3) >= 0.9999 and apart.max() <= 0.05
