"""Farm jobs (core.farm) and restore stages in frame ranges (core.pipeline.project.run_project(frames=...)).

Real work throughout: a 5-frame EXR sequence made from the shipped chelsea
photo, converted by an Open Job Description template run with ``openjd run``
(openjd-cli) in chunks, then compared byte for byte with one local run; the
restoration project of tests/test_pipeline_project.py (the demo's tiny film)
with stages 2 and 4 redone in frame ranges and compared with the whole run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from core.cli.main import main
from core.errors import ParameterError
from core.cli.farm import plan_job
from core.farm import FARM_FORMATS, export_farm_job, openjd_template

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@pytest.fixture()
def plate(tmp_path, monkeypatch):
    """Frames 1001-1005 of ``plate.####.exr`` (ACEScg crops of chelsea.png, shifted 2 px a frame), cwd there."""
    from core import color, io
    from core.io import samples

    photo = color.convert_frame(samples.load_sample("chelsea.png"), "ACEScg").pixels[100:132, 150:198]
    for i, n in enumerate(range(1001, 1006)):
        io.write_image(tmp_path / f"plate.{n:04d}.exr", np.roll(photo, 2 * i, axis=1), colorspace="ACEScg")
    monkeypatch.chdir(tmp_path)
    return tmp_path


CONVERT = "convert plate.####.exr out.####.exr --pixel-type float --output-dir conv"


def test_a_command_line_becomes_chunks_of_the_same_command(plate):
    job = plan_job(f"reelkit {CONVERT}", chunk=2)
    tasks = job.tasks()
    assert [t[1][-1] for t in tasks] == ["1001-1002", "1003-1004", "1005"]
    args = tasks[0][1]
    assert args[:2] == ["convert", str(plate / "plate.####.exr")]  # an input that exists is written absolute
    assert args[2] == "out.####.exr"  # an output name inside --output-dir stays as given
    assert args[args.index("--output-dir") + 1] == str(plate / "conv")
    # --frames given: only those frames are cut
    assert [t[1][-1] for t in plan_job(CONVERT + " --frames 1002-1004", chunk=10).tasks()] == ["1002-1004"]


def test_openjd_template_is_valid_and_runs_locally_as_the_local_run_does(plate, tmp_path):
    model = pytest.importorskip("openjd.model")
    job = plan_job(CONVERT, chunk=2)
    files = export_farm_job(job, format="openjd", output_dir="farm")
    template = json.loads(files[0].read_text("utf-8"))
    model.decode_job_template(template=template)  # openjd-model's own validation (raises when invalid)
    openjd = BIN / "openjd"
    if not openjd.is_file():
        pytest.skip(f"no openjd beside {sys.executable} (pip install openjd-cli)")
    done = subprocess.run([str(openjd), "run", str(files[0]), "--step", "convert", "-p",
                           f"Reelkit={BIN / 'reelkit'}"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    ranged = sorted(p.name for p in (plate / "conv").glob("manifest*.json"))
    assert ranged == ["manifest.frames-1001-1002.json", "manifest.frames-1003-1004.json", "manifest.frames-1005.json"]
    assert main(CONVERT.replace("--output-dir conv", "--output-dir whole").split() + ["-q"]) == 0
    for n in range(1001, 1006):
        assert (plate / f"conv/out.{n}.exr").read_bytes() == (plate / f"whole/out.{n}.exr").read_bytes()
    # the farm's command without a range after its chunks: every frame adopted, nothing made again
    assert job.steps[0].args[-2:] == ("--frames", "{frames}")
    assert main(list(job.steps[0].args[:-2])) == 0
    whole = json.loads((plate / "conv/manifest.json").read_text("utf-8"))
    assert all(r.get("resumed") for r in whole["frames"].values()) and len(whole["frames"]) == 5


def test_deadline_pairs_and_opencue_spec(plate):
    files = export_farm_job(plan_job(CONVERT, chunk=2), format="deadline", output_dir="dl")
    names = sorted(f.name for f in files)
    assert names == ["01_convert.job_info.job", "01_convert.plugin_info.job", "submit_deadline.sh"]
    info = dict(line.split("=", 1) for line in (plate / "dl/01_convert.job_info.job").read_text().splitlines())
    plugin = dict(line.split("=", 1) for line in (plate / "dl/01_convert.plugin_info.job").read_text().splitlines())
    assert (info["Plugin"], info["Frames"], info["ChunkSize"]) == ("CommandLine", "1001-1005", "2")
    assert plugin["Arguments"].endswith("--frames '<STARTFRAME>-<ENDFRAME>'") and plugin["Executable"] == "reelkit"
    assert "-dependent -job 01_convert.job_info.job 01_convert.plugin_info.job" in (plate / "dl/submit_deadline.sh").read_text()

    files = export_farm_job(plan_job(CONVERT, chunk=2), format="opencue", output_dir="cue")
    check_opencue(files[0], layers={"convert": ("1001-1005", "2")})


def check_opencue(path: Path, layers: dict[str, tuple[str, str]], depends: tuple[tuple[str, str], ...] = ()) -> None:
    """The structure OpenCue's job spec (cjsl-1.13) asks for: spec's children in order (show, shot, user, job,
    depends), names that are XML NMTOKENs, each layer's cmd/range/chunk first and a type of Render/Util/Post,
    dependencies between layers that exist."""
    text = path.read_text("utf-8")
    assert 'DOCTYPE spec PUBLIC "SPI Cue Specification Language"' in text and "cjsl-1.13.dtd" in text
    spec = ET.fromstring(text.split("\n", 2)[2])
    order = [c.tag for c in spec]
    assert order[:3] == ["show", "shot", "user"] and order[3] == "job" and set(order[4:]) <= {"depends"}
    job = spec.find("job")
    nmtoken = lambda s: bool(s) and all(c.isalnum() or c in "._-:" for c in s)  # noqa: E731
    assert nmtoken(job.get("name"))
    assert [c.tag for c in job] == ["paused", "maxretries", "layers"]
    found = {}
    for layer in job.find("layers"):
        assert nmtoken(layer.get("name")) and layer.get("type") in ("Render", "Util", "Post")
        assert [c.tag for c in layer][:3] == ["cmd", "range", "chunk"]
        assert layer.find("cmd").text.startswith("reelkit ")
        found[layer.get("name")] = (layer.find("range").text, layer.find("chunk").text)
    assert found == layers
    got = tuple((d.find("deplayer").text, d.find("onlayer").text) for d in spec.findall("depends/depend"))
    assert got == depends
    for d in spec.findall("depends/depend"):
        assert d.get("type") == "LAYER_ON_LAYER" and [c.tag for c in d] == ["depjob", "deplayer", "onjob", "onlayer"]


@pytest.mark.parametrize("fmt", list(FARM_FORMATS))
def test_bad_jobs_are_one_line_and_write_nothing(plate, fmt, capsys):
    cases = [
        (["farm", "export", "convert missing.####.exr o.####.exr --output-dir c", "--format", fmt, "-o", "job"],
         "missing.####.exr"),
        (["farm", "export", CONVERT, "--chunk", "0", "--format", fmt, "-o", "job"], "--chunk 0: expected an integer >= 1"),
        (["farm", "export", "train --steps 3 --output-dir t", "--format", fmt, "-o", "job"], "has no --frames"),
        (["farm", "export", "nosuchcommand x", "--format", fmt, "-o", "job"], "not a reelkit command line"),
        (["farm", "export", "restore run nowhere", "--format", fmt, "-o", "job"], "not a reelkit project"),
    ]
    for argv, words in cases:
        assert main(argv) == 1
        err = capsys.readouterr().err.strip()
        assert words in err and len(err.splitlines()) == 1, err
        assert not (plate / "job").exists()
    # an existing job file is not replaced without --force
    assert main(["farm", "export", CONVERT, "--format", fmt, "-o", "job"]) == 0
    capsys.readouterr()
    assert main(["farm", "export", CONVERT, "--format", fmt, "-o", "job"]) == 1
    assert "use --force" in capsys.readouterr().err
    assert main(["farm", "export", CONVERT, "--format", fmt, "-o", "job", "--force"]) == 0


def test_chunks_with_gaps_only_in_openjd(plate):
    job = CONVERT + " --frames 1001,1003,1005"
    assert plan_job(job, chunk=2).tasks()[0][1][-1] == "1001,1003"
    export_farm_job(plan_job(job, chunk=2), format="openjd", output_dir="ok")
    with pytest.raises(ParameterError, match="has gaps"):
        export_farm_job(plan_job(job, chunk=2), format="deadline", output_dir="gaps")
    assert not (plate / "gaps").exists()


# --------------------------------------------------------------------------- a restore project on the farm

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from core.demo import SOURCE_FIRST  # noqa: E402
from core.pipeline.project import StageError, project_status, run_project  # noqa: E402
from tests.test_pipeline_project import copy_project, finished, footage, states  # noqa: E402,F401

RANGES = [f"{SOURCE_FIRST}-{SOURCE_FIRST + 6}", f"{SOURCE_FIRST + 7}-{SOURCE_FIRST + 12}",
          f"{SOURCE_FIRST + 13}-{SOURCE_FIRST + 17}"]


def frame_bytes(folder: Path, sub: str) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((folder / sub).glob("*.exr"))}


@pytest.mark.usefixtures("torch_one_thread")
@pytest.mark.parametrize("n, sub", [(2, "02_alignment/aligned"), (4, "04_inference_render")])
def test_a_stage_in_frame_ranges_writes_what_the_whole_run_writes(finished, tmp_path, n, sub):
    whole = finished[0]
    path = copy_project(finished, tmp_path)
    folder = path / "pipeline" / ("02_alignment" if n == 2 else "04_inference_render")
    shutil.rmtree(folder)
    folder.mkdir()
    for i, frames in enumerate(RANGES):
        run_project(path, str(n), frames=frames)
        if i < len(RANGES) - 1:
            assert project_status(path)[n - 1].state != "done"  # frames left: not done yet
    st = project_status(path)
    assert st[n - 1].state == "done", st[n - 1].line()  # the last range completed the stage
    assert frame_bytes(path / "pipeline", sub) == frame_bytes(whole / "pipeline", sub)
    ranged = [json.loads(p.read_text()) for p in folder.glob("manifest.frames-*.json")]
    complete = json.loads((folder / "manifest.json").read_text())
    reference = json.loads((whole / "pipeline" / folder.name / "manifest.json").read_text())
    assert len(ranged) == 3 and {m["config_hash"] for m in ranged} == {complete["config_hash"]}
    assert complete["config_hash"] == reference["config_hash"]  # the whole run's job, unchanged
    assert set(complete["frames"]) == set(reference["frames"]) and all(
        r.get("resumed") for r in complete["frames"].values())
    # a done stage: its ranges are skipped
    seen = []
    run_project(path, str(n), frames=RANGES[0], progress=lambda s, d, t, info: seen.append(info))
    assert seen == ["done already, skipped"]


def test_frame_ranges_are_refused_where_they_mean_nothing(finished, tmp_path):
    path = copy_project(finished, tmp_path)
    with pytest.raises(ParameterError, match="one stage of 2 or 4"):
        run_project(path, "3", frames=RANGES[0])
    with pytest.raises(ParameterError, match="one stage of 2 or 4"):
        run_project(path, "2-4", frames=RANGES[0])
    shutil.rmtree(path / "pipeline/01_dataset_curation")
    with pytest.raises(StageError, match="needs stage 1"):
        run_project(path, "2", frames=RANGES[0])
    with pytest.raises(StageError, match="needs stage 3"):
        run_project(path, "4", frames="1-3")  # stage 3 is stale now: refused before any frame is read
    assert not any((path / "pipeline/02_alignment").glob("manifest.frames-*"))


def test_restore_project_farm_job(finished, tmp_path):
    path = copy_project(finished, tmp_path)
    job = plan_job(str(path), chunk=7, stages="2-5")
    names = [s.name for s in job.steps]
    assert names == ["stage2_alignment", "stage3_training", "stage4_inference", "stage5_validation"]
    tasks = job.tasks()
    assert [a[a.index("--stages") + 1:] for _, a in tasks] == (
        [["2", "--frames", r] for r in ("1001-1007", "1008-1014", "1015-1018")] + [["2-3"]]
        + [["4", "--frames", r] for r in ("1001-1007", "1008-1014", "1015-1018")] + [["4-5"]])
    template = openjd_template(job)
    assert [s.get("dependencies") for s in template["steps"]] == [None] + [[{"dependsOn": n}] for n in names[:-1]]
    pytest.importorskip("openjd.model").decode_job_template(template=template)
    # the last stage chunked: one task completes it
    assert [s.name for s in plan_job(f"restore run {path} --stages 4", chunk=7).steps] == [
        "stage4_inference", "stage4_complete"]
    files = export_farm_job(plan_job(str(path), chunk=7, stages="2-5"), format="opencue", output_dir=tmp_path / "cue")
    check_opencue(files[0], layers={"stage2_alignment": ("1001-1018", "7"), "stage3_training": ("1", "1"),
                                    "stage4_inference": ("1001-1018", "7"), "stage5_validation": ("1", "1")},
                  depends=(("stage3_training", "stage2_alignment"), ("stage4_inference", "stage3_training"),
                           ("stage5_validation", "stage4_inference")))


# --------------------------------------------------------------------------- docs/scale.md, run


def fenced_lines(doc: Path) -> list[str]:
    """Every line of the fenced code blocks of ``doc``."""
    lines, inside = [], False
    for line in doc.read_text("utf-8").splitlines():
        if line.strip().startswith("```"):
            inside = not inside
        elif inside:
            lines.append(line.strip())
    return lines


@pytest.mark.usefixtures("torch_one_thread")
def test_the_scale_page_commands_run(finished, plate, capsys):
    """Every reelkit, openjd and torchrun command of docs/scale.md, in a folder holding files of the names the
    page uses (plate frames 1001-1005, the tiny project as shot010, a tiny training config for the recipe)."""
    import shlex

    shutil.copytree(finished[0], plate / "shot010")
    lines = fenced_lines(REPO / "docs" / "scale.md")
    ran = []
    for line in lines:
        if not line.startswith(("reelkit ", "openjd ", "torchrun ")):
            continue  # another tool's command (dask), a comment, Python
        argv = shlex.split(line.split(" #", 1)[0])
        if "--scheduler" in argv:  # the Dask section's commands: its own tests run them (tests/test_scale.py)
            continue
        kind = argv[1] if argv[0] == "reelkit" else argv[0]
        if argv[0] == "reelkit":
            argv = argv[1:]
            if argv[0] == "convert" and "--frames" in argv:  # the page's range is longer than the test plate
                argv[argv.index("--frames") + 1] = "1001-1003"
            assert main(argv + (["-q"] if argv[0] != "farm" else [])) == 0, f"{line}: {capsys.readouterr().err}"
        elif argv[0] == "openjd":
            done = subprocess.run([str(BIN / "openjd"), *argv[1:], "-p", f"Reelkit={BIN / 'reelkit'}"],
                                  capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        elif argv[0] == "torchrun":
            cfg = plate / "tiny.train.json"
            cfg.write_text(json.dumps({"model": {"type": "resnet_small", "channels": 4, "blocks": 1}, "steps": 2,
                                       "data": {"clean": ["sample:chelsea"]}, "batch_size": 1, "crop_size": 16,
                                       "checkpoint_every": 2, "preview_every": 0, "preview_crops": 1,
                                       "device": "cpu", "threads": 1}))
            argv = [str(BIN / "torchrun"), *[str(BIN / "reelkit") if a == "$(which reelkit)" else a for a in argv[1:]]]
            argv[argv.index("--nproc_per_node") + 1] = "2"
            argv[argv.index("--config") + 1] = str(cfg)
            done = subprocess.run(argv, capture_output=True, text=True, timeout=300,
                                  env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
            assert done.returncode == 0, done.stderr[-3000:]
            manifest = json.loads((plate / "runs/film_restore/manifest.json").read_text())
            assert manifest["distributed"]["world_size"] == 2 and manifest["distributed"]["max_weight_difference"] == 0
        else:
            continue
        ran.append(kind)
    assert (plate / "by_hand/manifest.frames-1001-1003.json").is_file()
    assert (plate / "farm_openjd/job.template.json").is_file() and (plate / "farm_deadline/submit_deadline.sh").is_file()
    assert (plate / "converted/plate_acescg.1005.exr").is_file()  # openjd ran the page's job: every chunk
    assert sorted(set(ran)) == ["convert", "farm", "openjd", "restore", "torchrun"]
