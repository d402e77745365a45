"""The project's stages 4 and 5: stage 5 says who won, and stage 4 renders the winner when asked.

The footage is the demo's tiny film (:func:`core.demo.make_footage`: three shots of 6 frames at 96x54,
faded_16mm scan, graded telecine); a 6-step model from scratch, rendered without the LUT and the detail
filters that stage 4 finishes the model's output with by default (``grade: none``, ``detail: none``),
cannot beat a fitted grade, so a baseline wins and ``--method winner`` renders it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from core import io  # noqa: E402
from core.demo import make_footage  # noqa: E402
from core.errors import ParameterError  # noqa: E402
from core.pipeline.project import (  # noqa: E402
    StageError,
    init_project,
    load_project,
    project_status,
    render_method_of,
    run_project,
    set_render_method,
)

from tests.test_pipeline_project import TINY  # noqa: E402

SETTINGS = {**TINY, "inference": {**TINY["inference"], "grade": "none", "detail": "none"}, "validation": {"baselines": "grade_matrix,grade_lut3d", "lut_size": 9, "fit_frames": 2,
                                   "compare_frames": 1, "crop_size": 32}}


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    src, ref = make_footage(tmp_path_factory.mktemp("footage"), width=96, shot_length=6, seed=7)
    path = tmp_path_factory.mktemp("projects") / "shot"
    init_project(path, source=src, reference=ref, seed=3, params=SETTINGS)
    run_project(path, "1-5")
    return path


def test_stage_five_says_who_won_first(project):
    status = project_status(project)
    assert [s.state for s in status] == ["done"] * 5
    metrics = json.loads((project / "pipeline/05_validation/metrics.json").read_text())
    verdict = metrics["verdict"]
    assert verdict["winner"] in ("grade_matrix", "grade_lut3d") and verdict["versus"] == "ml"
    assert verdict["margin_db"] == pytest.approx(metrics["summary"][verdict["winner"]]["psnr"]
                                                 - metrics["summary"]["ml"]["psnr"])
    line = status[4].line()
    frames = status[4].counts["frames"]  # the frames stage 2 aligned
    assert line.split(None, 3)[3].startswith(f"all frames ({frames}): baseline {verdict['winner']} wins with")
    assert f"Recommended: {verdict['recommend']}" in line and "--method winner" in line
    assert status[4].to_dict()["headline"] == status[4].record["headline"]
    assert status[3].counts["method"] == "ml"
    # the damaged frames are stage 1's (none in this film: faded_16mm wears every frame alike)
    pairs = json.loads((project / "pipeline/01_dataset_curation/pairs.json").read_text())
    flagged = [m["source_frame"] for m in pairs["matches"] if m.get("damaged")]
    assert metrics["damaged_frames"] == flagged and status[4].counts["damaged"] == len(flagged)


def test_method_winner_renders_the_recommended_baseline(project, tmp_path, capsys, monkeypatch):
    import shutil
    import time

    from core.cli.main import main

    path = tmp_path / "copy"
    shutil.copytree(project, path)
    # the re-render "finishes" in the same second as the first render (the manifest's clock has
    # one-second steps; tiny footage made this happen by chance): stage 5 must still see new pixels
    finished = json.loads((path / "pipeline/04_inference_render/manifest.json").read_text())["timings"]["finished"]
    monkeypatch.setattr(time, "strftime", lambda fmt, *a: finished)
    want = json.loads((path / "pipeline/05_validation/metrics.json").read_text())["verdict"]["recommend"]
    assert main(["restore", "run", str(path), "--stages", "4-5", "--method", "winner"]) == 0
    assert f"stage 4 renders: {want}" in capsys.readouterr().out
    assert json.loads((path / "project.json").read_text())["stages"]["inference"]["method"] == want
    status = project_status(path)
    assert [s.state for s in status] == ["done"] * 5 and status[3].counts["method"] == want
    render = json.loads((path / "pipeline/04_inference_render/manifest.json").read_text())
    assert render["command"] == "render" and render["config"]["method"] == want
    # stage 5 validated the render under the method's name (not as a second copy of the baseline)
    metrics = json.loads((path / "pipeline/05_validation/metrics.json").read_text())
    assert metrics["methods"][want] == "candidate" and "ml" not in metrics["methods"]
    n = 1004
    frame = io.read_image(path / f"pipeline/04_inference_render/restored.{n}.exr")
    baseline = io.read_image(project / "pipeline/05_validation/baselines" / want / f"{want}.{n}.exr")
    np.testing.assert_array_equal(frame.pixels, baseline.pixels)  # what stage 5 measured before
    # back to the model
    assert set_render_method(path, "ml") == "ml" and "method" not in load_project(path).stages["inference"]
    assert [s.state for s in project_status(path)][3:] == ["stale", "stale"]


def test_method_errors(project, tmp_path):
    import shutil

    from core.cli.main import main

    path = tmp_path / "copy"
    shutil.copytree(project, path)
    with pytest.raises(ParameterError, match="stages.inference: baseline 'grade_sharp'"):
        set_render_method(path, "grade_sharp")
    assert render_method_of(load_project(path)) == "ml"  # nothing written
    assert main(["restore", "run", str(path), "--stages", "5", "--method", "grade_lut3d"]) == 1
    shutil.rmtree(path / "pipeline/05_validation")
    with pytest.raises(StageError, match="run stage 5 first"):
        set_render_method(path, "winner")
    doc = json.loads((path / "project.json").read_text())
    doc["stages"]["inference"]["method"] = "dust_bust+unknown"
    (path / "project.json").write_text(json.dumps(doc))
    with pytest.raises(ParameterError, match="stages.inference: baseline 'dust_bust\\+unknown': unknown step"):
        load_project(path)


def test_a_render_recorded_before_the_content_digest_is_still_done(project, tmp_path):
    """Projects rendered by an earlier reelkit (stage 4's digest without the content) are judged by the rule
    they were made with: upgrading does not make a finished render, and the validation after it, stale."""
    import shutil

    from core.pipeline.project import _manifest_digest

    path = tmp_path / "old"
    shutil.copytree(project, path)
    folder = path / "pipeline/04_inference_render"
    rec = json.loads((folder / "stage.json").read_text())
    assert rec.pop("digest") == "content"
    old = _manifest_digest(folder, content=False)
    assert old != rec["outputs_digest"]
    rec["outputs_digest"] = old
    (folder / "stage.json").write_text(json.dumps(rec))
    v = path / "pipeline/05_validation/stage.json"
    (v.write_text(json.dumps({**json.loads(v.read_text()), "upstream": old})))
    assert [s.state for s in project_status(path)] == ["done"] * 5


def test_a_failed_validation_runs_again(project, tmp_path):
    """Found by benchmarks/first_hour.sh: stage 5 failed after writing its grade fits, and every re-run then
    refused them ('already exists and was not made by this job'), so the project could not finish."""
    import shutil

    path = tmp_path / "copy"
    shutil.copytree(project, path)
    folder = path / "pipeline/05_validation"
    rec = json.loads((folder / "stage.json").read_text())
    rec.update(status="failed", error="frame number must be non-negative, got -1")
    (folder / "stage.json").write_text(json.dumps(rec))
    for p in folder.iterdir():  # what the failed run left: the fits, no manifest
        if p.name not in ("stage.json", "grades"):
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    assert project_status(path)[4].state == "failed"
    run_project(path, "5")
    assert [s.state for s in project_status(path)] == ["done"] * 5
