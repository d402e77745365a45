"""The five-stage restoration project end to end on a tiny film made from the shipped photos.

The footage is the demo's (:func:`core.demo.make_footage`), small: three
shots of 6 frames at 96x54, a camera move over one photo each, cut to the
next. Source: the film aged by ``core.degrade`` (``faded_16mm``, seed 7),
EXR from 1001. Reference: the film graded, 8-bit sRGB PNG numbered from 1,
starting 3 film frames earlier, film frame 20 shown twice (the demo's
REFERENCE_LEAD / REFERENCE_REPEATED). Expected frame numbers below follow
from that cut, not from the matcher. Training: a tiny network from
scratch, 6 steps, one thread.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from core import io  # noqa: E402
from core.demo import REFERENCE_LEAD, SOURCE_FIRST, make_footage  # noqa: E402
from core.errors import OutputExistsError, ParameterError, SequenceError  # noqa: E402
from core.pipeline.project import (  # noqa: E402
    FORMAT,
    STAGES,
    StageError,
    init_project,
    load_project,
    parse_stages,
    project_status,
    run_project,
)

TINY = {
    "curation": {"pairs_per_shot": 3, "min_spacing": 1, "contact_sheet": False},
    "alignment": {"method": "global", "report": False},
    "training": {"init_from": "", "model": {"type": "resnet_small", "channels": 8, "blocks": 1}, "steps": 6,
                 "batch_size": 2, "crop_size": 32, "checkpoint_every": 3, "threads": 1, "preview_crops": 1},
    "inference": {"tile": 0, "threads": 1},
    "validation": {"baselines": "grade_matrix", "fit_frames": 2, "compare_frames": 1, "crop_size": 32},
}


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def footage(tmp_path_factory):
    root = tmp_path_factory.mktemp("footage")
    return make_footage(root, width=96, shot_length=6, seed=7)


@pytest.fixture(scope="module")
def finished(tmp_path_factory, footage):
    """A project with all five stages run once (shared; tests copy it before changing anything)."""
    torch.set_num_threads(1)
    src, ref = footage
    path = tmp_path_factory.mktemp("projects") / "tiny"
    init_project(path, source=src, reference=ref, seed=3, params=TINY)
    calls = []
    status = run_project(path, "1-5", progress=lambda n, d, t, info: calls.append((n, d, t)))
    return path, status, calls


def copy_project(finished, tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(finished[0], dst)
    return dst


def states(path) -> list[str]:
    return [s.state for s in project_status(path)]


def test_init_creates_the_layout(tmp_path, footage):
    src, ref = footage
    project = init_project(tmp_path / "p", source=src, reference=ref, seed=5, params=TINY)
    for s in STAGES:
        assert (tmp_path / "p" / "pipeline" / s.folder).is_dir()
    assert (tmp_path / "p" / "notes" / "experiments.md").is_file()
    doc = json.loads((tmp_path / "p" / "project.json").read_text())
    assert doc["format"] == FORMAT.tag == "reelkit.project/1"
    assert doc["source"] == src and doc["reference"] == ref and doc["seed"] == 5
    assert list(doc["stages"]) == ["curation", "alignment", "training", "inference", "validation"]
    assert doc["stages"]["training"]["steps"] == 6 and doc["stages"]["training"]["device"] == "cpu"
    assert load_project(tmp_path / "p").stages == project.stages
    assert states(tmp_path / "p") == ["not started"] * 5


def test_end_to_end(finished, footage):
    path, status, calls = finished
    assert [s.state for s in status] == ["done"] * 5, [s.line() for s in status]
    assert {n for n, _, _ in calls} == {1, 2, 3, 4, 5}
    # stage 1: 18 source frames, all matched; the telecine is numbered from 1 and starts 3 film frames early
    pairs = json.loads((path / "pipeline/01_dataset_curation/pairs.json").read_text())
    mapping = {m["source_frame"]: m["reference_frame"] for m in pairs["matches"]}
    assert len(mapping) == 18 and mapping[SOURCE_FIRST] == 1 + REFERENCE_LEAD
    assert mapping[SOURCE_FIRST + 10] == 1 + REFERENCE_LEAD + 10
    assert status[0].counts["source_frames"] == 18 and status[0].counts["shots"] == 3
    # damaged-but-matched frames are counted (restore status shows them) and flagged in the pair manifest
    assert status[0].counts["damaged"] == sum(1 for m in pairs["matches"] if m["damaged"])
    assert "damaged" in status[0].line()
    # stage 2 used that table: aligned references numbered by source frame, from the right reference file
    align = json.loads((path / "pipeline/02_alignment/manifest.json").read_text())
    rec = align["frames"][str(SOURCE_FIRST + 10)]
    assert rec["reference"].endswith(f"telecine.{1 + REFERENCE_LEAD + 10:04d}.png")
    assert (path / f"pipeline/02_alignment/aligned/ref.{SOURCE_FIRST + 10}.exr").is_file()
    assert status[1].counts["frames"] == 18 and status[1].counts["aligned"] >= 16  # 96x54: one may fail
    # stage 3: a model; stage 4: every source frame restored at the source's size
    assert (path / "pipeline/03_training/model.onnx").is_file() and status[2].counts["steps"] == 6
    restored = io.read_image(path / f"pipeline/04_inference_render/restored.{SOURCE_FIRST + 4}.exr")
    source = io.read_image(io.sequence_path(footage[0], SOURCE_FIRST + 4))
    assert restored.pixels.shape == source.pixels.shape and np.isfinite(restored.pixels).all()
    assert status[3].counts["frames"] == 18
    # stage 4's ml render (the project's defaults): temporal repair, the model, the 3D LUT fitted from the
    # model's output of the training pairs to their references, then the detail filters learned from the same
    # pairs through both (kept only when they lower the error on held-out pixels); the frame is exactly those
    # steps over the model's own render (infer_files with the same parameters and no grade)
    from core.infer import infer_files
    from core.infer.filterbank import FilterBank
    from core.validate.grade import GradeFit

    render = json.loads((path / "pipeline/04_inference_render/manifest.json").read_text())
    assert "grades fitted on 2 training pair(s)" in json.loads(
        (path / "pipeline/04_inference_render/grades/fits.json").read_text())["note"]
    lut = GradeFit.load(path / "pipeline/04_inference_render/grades/lut3d.json")
    assert lut.method == "lut3d" and lut.success
    saved = json.loads((path / "pipeline/04_inference_render/grades/filters.json").read_text())
    bank = FilterBank.from_dict(saved["bank"])
    assert len(saved["frames"]) == 2  # the grade's fit_frames of the training pairs
    assert render["parameters"]["temporal"] is True
    assert render["config"]["grade"]["method"] == ("lut3d+filters" if bank.success else "lut3d")
    frame = SOURCE_FIRST + 4
    alone = infer_files(path / "pipeline/03_training/model.onnx", footage[0], output_dir=path.parent / "model_alone",
                        frames=f"{frame - 2}-{frame + 2}", params={"tile": 0, "threads": 1, "temporal": True, "pixel_type": "float"})
    model_only = io.read_image(alone.data["frames"][str(frame)]["output"]).pixels
    expected = io.read_image(path / f"pipeline/04_inference_render/restored.{frame}.exr").pixels
    finished_frame = bank.apply(lut.apply(model_only))
    np.testing.assert_allclose(expected, finished_frame.astype(np.float16).astype(np.float32), rtol=0, atol=0)
    # stage 5: the report and the metrics of source, baseline and ML
    metrics = json.loads((path / "pipeline/05_validation/metrics.json").read_text())
    assert set(metrics["summary"]) == {"source", "grade_matrix", "ml"}
    assert (path / "pipeline/05_validation/report.html").is_file()
    # every stage logged its parameters, seed and results
    notes = (path / "notes/experiments.md").read_text()
    for s in STAGES:
        assert f"Stage {s.number}: {s.title}" in notes
    assert "`seed=3`" in notes


def test_done_stages_are_skipped(finished, tmp_path):
    path = copy_project(finished, tmp_path)
    assert states(path) == ["done"] * 5
    header = io.read_exr_header(path / f"pipeline/04_inference_render/restored.{SOURCE_FIRST}.exr")
    assert set(header["pixel_types"].values()) == {"half"}
    model = path / "pipeline/03_training/model.onnx"
    before = model.stat().st_mtime_ns
    seen = []
    run_project(path, "1-5", progress=lambda n, d, t, info: seen.append(info))
    assert seen == ["done already, skipped"] * 5
    assert model.stat().st_mtime_ns == before


def test_parameter_change_makes_stages_stale_then_done(finished, tmp_path):
    path = copy_project(finished, tmp_path)
    doc = json.loads((path / "project.json").read_text())
    doc["stages"]["inference"]["pixel_type"] = "float"
    (path / "project.json").write_text(json.dumps(doc))
    status = project_status(path)
    assert [s.state for s in status] == ["done", "done", "done", "stale", "stale"]
    assert "parameters changed" in status[3].reason and "stage 4" in status[4].reason
    before = (path / "pipeline/03_training/model.onnx").stat().st_mtime_ns
    run_project(path, "1-5")
    assert states(path) == ["done"] * 5
    assert (path / "pipeline/03_training/model.onnx").stat().st_mtime_ns == before  # not retrained
    header = io.read_exr_header(path / f"pipeline/04_inference_render/restored.{SOURCE_FIRST}.exr")
    assert set(header["pixel_types"].values()) == {"float"}  # re-rendered with the new parameter


def test_edited_overrides_make_stage_one_stale(finished, tmp_path):
    path = copy_project(finished, tmp_path)
    pairs_path = path / "pipeline/01_dataset_curation/pairs.json"
    doc = json.loads(pairs_path.read_text())
    doc["overrides"] = {str(SOURCE_FIRST + 2): None}
    pairs_path.write_text(json.dumps(doc))
    status = project_status(path)
    assert status[0].state == "stale" and "overrides" in status[0].reason
    assert [s.state for s in status[1:]] == ["stale"] * 4
    run_project(path, "1-2")
    pairs = json.loads(pairs_path.read_text())
    assert pairs["overrides"] == {str(SOURCE_FIRST + 2): None}  # kept by the re-run
    assert not (path / f"pipeline/02_alignment/aligned/ref.{SOURCE_FIRST + 2}.exr").exists()
    assert states(path)[:3] == ["done", "done", "stale"]


def test_interrupted_stage_resumes(finished, tmp_path):
    path = copy_project(finished, tmp_path)
    doc = json.loads((path / "project.json").read_text())
    doc["stages"]["alignment"]["max_shift"] = 0.15
    (path / "project.json").write_text(json.dumps(doc))

    def stop(n, done, total, info):
        if n == 2 and done == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_project(path, "2", progress=stop)
    st = project_status(path)[1]
    assert st.state == "failed" and "interrupted" in st.reason and st.counts["frames_done"] == 5
    run_project(path, "2")
    align = json.loads((path / "pipeline/02_alignment/manifest.json").read_text())
    resumed = [k for k, r in align["frames"].items() if r.get("resumed")]
    assert len(resumed) == 5 and len(align["frames"]) == 18
    assert states(path)[:3] == ["done", "done", "stale"]


def test_failed_stage_is_recorded(finished, tmp_path):
    path = copy_project(finished, tmp_path)
    shutil.rmtree(path / "pipeline/02_alignment")
    (path / "pipeline/02_alignment").mkdir()
    assert states(path)[1:] == ["not started", "stale", "stale", "stale"]
    with pytest.raises(StageError, match=r"stage 3 \(training\) needs stage 2 \(alignment\) done first"):
        run_project(path, "3")


def test_refuses_to_overwrite_without_force(finished, footage, tmp_path):
    src, ref = footage
    with pytest.raises(OutputExistsError, match="project already exists"):
        init_project(finished[0], source=src, reference=ref)
    path = tmp_path / "p"
    init_project(path, source=src, reference=ref, params=TINY)
    (path / "pipeline/01_dataset_curation/notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="did not make"):
        run_project(path, "1")
    run_project(path, "1", force=True)
    assert states(path)[0] == "done"
    init_project(path, source=src, reference=ref, params=TINY, seed=9, force=True)  # settings replaced
    assert states(path)[0] == "stale"


def test_bad_input_is_one_clear_error(tmp_path, footage):
    src, ref = footage
    (tmp_path / "empty").mkdir()
    with pytest.raises(SequenceError, match=r"source .*empty sequence"):
        init_project(tmp_path / "p", source=str(tmp_path / "empty" / "scan.####.exr"), reference=ref)
    # a reference whose last frame has another resolution
    odd = tmp_path / "odd"
    odd.mkdir()
    pattern = str(odd / "ref.####.png")
    for n in (1, 2, 3):
        io.write_image(io.sequence_path(pattern, n), np.full((54 if n < 3 else 60, 96, 3), 0.5, np.float32),
                       colorspace="srgb", bit_depth=8)
    with pytest.raises(SequenceError, match=r"reference .*frames differ in resolution \(frame 1: 96x54, .*96x60"):
        init_project(tmp_path / "p", source=src, reference=pattern)
    with pytest.raises(ParameterError, match="stages.alignment: .*unknown parameter"):
        init_project(tmp_path / "p", source=src, reference=ref, params={"alignment": {"methd": "global"}})
    with pytest.raises(ParameterError, match="stages.training: .*steps"):
        init_project(tmp_path / "p", source=src, reference=ref, params={"training": {"steps": 0}})
    assert not (tmp_path / "p" / "project.json").exists()


def test_parse_stages():
    assert parse_stages("1-5") == [1, 2, 3, 4, 5]
    assert parse_stages("4") == [4] and parse_stages("1,3-4") == [1, 3, 4]
    for bad in ("0-2", "6", "a", "3-1", "1--2"):
        with pytest.raises(ParameterError):
            parse_stages(bad)


def test_cli_init_run_status(tmp_path, footage, capsys):
    from core.cli.main import main

    src, ref = footage
    path = tmp_path / "cli"
    assert main(["restore", "init", str(path), "--source", src, "--reference", ref, "--steps", "4"]) == 0
    doc = json.loads((path / "project.json").read_text())
    assert doc["stages"]["training"]["steps"] == 4
    doc["stages"] = {**doc["stages"], **{k: v for k, v in TINY.items() if k in ("curation", "alignment")}}
    (path / "project.json").write_text(json.dumps(doc))
    assert main(["restore", "run", str(path), "--stages", "1-2", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["restore", "status", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("1 dataset curation") and " done " in lines[0] and "source frames 18" in lines[0]
    assert " done " in lines[1] and "not started" in lines[2]
    assert main(["restore", "init", str(path), "--source", src, "--reference", ref]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("reelkit restore: error:") and "already exists" in err and "\n" not in err
    assert main(["restore", "status", str(tmp_path / "nowhere")]) == 1
    assert "not a reelkit project" in capsys.readouterr().err


def _nuke_batch_script() -> str:
    from tests.conftest import REPO

    text = (REPO / "docs" / "nuke-batch.md").read_text("utf-8")
    return text.split("## The script", 1)[1].split("```python\n", 1)[1].split("\n```", 1)[0]


def test_nuke_batch_script_from_the_docs(finished, footage, tmp_path, monkeypatch, capsys):
    """The `nuke -t` script of docs/nuke-batch.md, run under the fake nuke in terminal mode."""
    import sys

    from tests.nuke.conftest import load_fake_nuke

    fake = load_fake_nuke()
    fake._set_gui(False)
    monkeypatch.setitem(sys.modules, "nuke", fake)
    namespace: dict = {"__name__": "reelkit_restore"}
    exec(compile(_nuke_batch_script(), "reelkit_restore.py", "exec"), namespace)
    path = copy_project(finished, tmp_path)
    assert namespace["main"]([str(path), "--stages", "1-5"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:5] == [f"stage {s.number} {s.title}: 1/1 done already, skipped" for s in STAGES]
    assert len(out) == 10 and all(" done " in line for line in out[5:])
    src, ref = footage
    assert namespace["main"]([str(tmp_path / "new"), "--source", str(tmp_path / "none.####.exr"),
                              "--reference", ref]) == 1
    assert "empty sequence" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        namespace["main"]([str(tmp_path / "new")])  # a new project without inputs: argparse's usage error


@pytest.mark.parametrize("action", ["init", "run", "status"])
def test_restore_help(action, capsys):
    from core.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(["restore", action, "--help"])
    assert exc.value.code == 0
    assert f"usage: reelkit restore {action}" in capsys.readouterr().out
