"""run_validation end to end on a tiny project of real frames; the report, resume, errors; append_experiment."""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest

from core import io
from core.errors import OutputExistsError, ParameterError, SequenceError
from core import metrics
from core.validate import append_experiment, run_validation
from tests.conftest import srgb_sample

FRAMES = range(1001, 1006)
H, W = 72, 96
MATRIX = np.array([[0.85, 0.10, 0.0], [0.05, 0.80, 0.05], [0.0, 0.12, 0.70]])  # a faded, shifted print


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """Reference: a pan over a real photo. Source: the reference through a known grade plus dust.
    ML candidate: the reference with a little noise (a good restoration)."""
    from core.color import convert

    root = tmp_path_factory.mktemp("proj")
    plate = convert(srgb_sample("coffee.png")[::3, ::3], "srgb", "ACEScg").astype(np.float32)
    rng = np.random.default_rng(0)
    for i, n in enumerate(FRAMES):
        ref = np.ascontiguousarray(plate[20:20 + H, 10 + 2 * i:10 + 2 * i + W])
        src = (ref.reshape(-1, 3) @ MATRIX.T).reshape(ref.shape).astype(np.float32)
        for y, x in rng.integers(4, [H - 4, W - 4], (4, 2)):
            src[y - 1:y + 1, x - 1:x + 1] = 1.5
        ml = (ref * np.exp2(rng.normal(0, 0.02, ref.shape))).astype(np.float32)
        mask = np.ones((H, W, 1), np.float32)
        mask[:, :6] = 0.0
        for name, img in (("src", src), ("ref", ref), ("ml", ml), ("mask", mask)):
            io.write_image(root / name / f"{name}.{n}.exr", img, colorspace="ACEScg", pixel_type="float")
    return root


def _run(project, out, **kw):
    args = dict(sources=project / "src" / "src.####.exr", references=project / "ref" / "ref.####.exr",
                candidates={"ml": project / "ml" / "ml.####.exr"}, masks=project / "mask" / "mask.####.exr",
                output_dir=out, baselines=("grade_matrix", "dust_bust+grade_lut3d"),
                params={"compare_frames": 2, "crop_size": 48, "lut_size": 9})
    args.update(kw)
    return run_validation(**args)


@pytest.fixture(scope="module")
def result(project, tmp_path_factory):
    out = tmp_path_factory.mktemp("val")
    seen = []
    res = _run(project, out, shots={"a": "1001-1002", "b": "1003-1005"},
               stages=[{"stage": "04_inference_render", "status": "done", "summary": "5 frames"}],
               progress=lambda done, total, frame: seen.append((done, total, frame)))
    return res, seen


def test_outputs_and_summary(result, project):
    res, seen = result
    assert seen[-1] == (5, 5, 1005)
    assert list(res.summary) == ["source", "grade_matrix", "dust_bust+grade_lut3d", "ml"]
    assert res.methods["ml"] == "candidate" and res.methods["grade_matrix"] == "baseline"
    # the grade baseline recovers the known matrix, so it beats the source clearly
    np.testing.assert_allclose(res.fits["matrix"].matrix, np.linalg.inv(MATRIX), atol=0.05)
    assert res.summary["grade_matrix"]["delta_e"] < 0.5 * res.summary["source"]["delta_e"]
    assert res.best("psnr") == "ml" and res.best("psnr", kind="baseline") == "dust_bust+grade_lut3d"
    for name in ("metrics.csv", "metrics.json", "report.html", "manifest.json", "grades/matrix.cube",
                 "grades/lut3d.cube", "report/plot_psnr.png", "report/compare.1001.png",
                 "baselines/grade_matrix/grade_matrix.1003.exr",
                 "baselines/dust_bust-grade_lut3d/dust_bust-grade_lut3d.1005.exr"):
        assert (res.output_dir / name).is_file(), name
    assert "source" in res.table() and "ml" in res.table().splitlines()[-1]


def test_metrics_match_direct_computation(result, project):
    res, _ = result
    ref = io.read_image(project / "ref" / "ref.1003.exr").pixels
    ml = io.read_image(project / "ml" / "ml.1003.exr").pixels
    mask = io.read_image(project / "mask" / "mask.1003.exr").pixels[..., 0]
    row = next(r for r in res.rows if r["frame"] == 1003 and r["method"] == "ml")
    assert row["psnr"] == pytest.approx(metrics.psnr(ml, ref, mask))
    assert row["ssim"] == pytest.approx(metrics.ssim(ml, ref, mask))
    assert row["delta_e"] == pytest.approx(metrics.delta_e(ml, ref, mask))
    assert row["valid_pixels"] == (W - 6) * H and row["shot"] == "b"
    # the baseline EXR is what was measured
    base = io.read_image(res.output_dir / "baselines/grade_matrix/grade_matrix.1003.exr").pixels
    b_row = next(r for r in res.rows if r["frame"] == 1003 and r["method"] == "grade_matrix")
    assert b_row["psnr"] == pytest.approx(metrics.psnr(base, ref, mask), abs=0.05)  # half-float EXR
    with open(res.metrics_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4 * 5 and rows[0]["method"] == "source"
    # flicker starts at each shot's first frame
    firsts = [r for r in rows if r["frame"] in ("1001", "1003")]
    assert all(r["flicker"] == "nan" for r in firsts)
    data = json.loads(res.metrics_json.read_text())
    assert data["encoding"] == "srgb_clip" and set(data["shots"]) == {"a", "b"}
    assert "validated frames" in data["fit_note"]  # no training pairs given: said so


def test_report_is_self_contained(result):
    res, _ = result
    page = res.report.read_text("utf-8")
    srcs = re.findall(r'src="([^"]*)"', page)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "04_inference_render" in page and "Experiment log" in page and "type=range" in page
    assert res.config_hash[:16] in page


def test_resume_and_force(project, tmp_path):
    first = _run(project, tmp_path, frames="1001-1003")
    again = _run(project, tmp_path, frames="1001-1003")
    man = json.loads(again.manifest.read_text())
    assert all(rec.get("resumed") for rec in man["frames"].values())
    assert again.summary == first.summary
    forced = _run(project, tmp_path, frames="1001-1003", force=True)
    assert not any(rec.get("resumed") for rec in json.loads(forced.manifest.read_text())["frames"].values())
    # other settings over the same outputs: refused, nothing replaced
    with pytest.raises(OutputExistsError):
        _run(project, tmp_path, frames="1001-1003", params={"compare_frames": 2, "crop_size": 48, "lut_size": 5})


def test_training_pairs_fit_and_errors(project, tmp_path):
    res = _run(project, tmp_path / "a", frames="1004-1005", baselines=("grade_root_poly",),
               fit_sources=project / "src" / "src.####.exr", fit_references=project / "ref" / "ref.####.exr",
               fit_frames="1001-1003", candidates={})
    assert res.fits["root_poly"].n_frames == 3
    assert "training pair" in json.loads(res.metrics_json.read_text())["fit_note"]
    import shutil

    for n in (1001, 1002):
        (tmp_path / "ml2").mkdir(exist_ok=True)
        shutil.copy(project / "ml" / f"ml.{n}.exr", tmp_path / "ml2" / f"ml.{n}.exr")
    with pytest.raises(SequenceError, match="candidate 'ml'.*missing frames 1003-1005"):
        _run(project, tmp_path / "b", candidates={"ml": tmp_path / "ml2" / "ml.####.exr"})
    with pytest.raises(ParameterError, match="taken"):
        _run(project, tmp_path / "c", candidates={"source": project / "ml" / "ml.####.exr"})
    with pytest.raises(ParameterError, match="together"):
        _run(project, tmp_path / "d", fit_sources=project / "src" / "src.####.exr")


def test_append_experiment(tmp_path, result):
    res, _ = result
    notes = tmp_path / "notes" / "experiments.md"
    append_experiment(notes, title="validation", params={"seed": 7, "train_seed": 3, "baselines": "grade_matrix"},
                      results=res.summary, when="2026-11-23 09:00")
    append_experiment(notes, title="second", params={"seed": 8}, results=[{"method": "ml", "psnr": 30.5}],
                      when="2026-11-23 10:00")
    text = notes.read_text()
    assert text.startswith("# Experiments")
    assert text.index("## 2026-11-23 09:00 — validation") < text.index("## 2026-11-23 10:00 — second")
    assert "Seeds: `seed=7`, `train_seed=3`" in text
    assert "| method | psnr | ssim | delta_e | flicker | variance_drift |" in text
    assert f"| ml | {res.summary['ml']['psnr']:.4f} |" in text and "| ml | 30.5000 |" in text


def test_cli(project, tmp_path, capsys):
    from core.cli.main import main

    notes = tmp_path / "notes" / "experiments.md"
    args = ["validate", "--source", str(project / "src" / "src.####.exr"),
            "--reference", str(project / "ref" / "ref.####.exr"), "--candidate", f"ml={project / 'ml' / 'ml.####.exr'}",
            "--mask", str(project / "mask" / "mask.####.exr"), "--frames", "1001-1003", "--shot", "a=1001-1002",
            "--baselines", "grade_matrix", "--compare-frames", "1", "--crop-size", "32", "--seed", "5",
            "--experiments", str(notes), "--output-dir", str(tmp_path / "out"), "--quiet"]
    assert main(args) == 0
    data = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert data["seed"] == 5 and set(data["shots"]) == {"a", "other"} and list(data["summary"]) == [
        "source", "grade_matrix", "ml"]
    text = notes.read_text()
    assert "Seeds: `seed=5`" in text and "| grade_matrix |" in text
    assert "Seeds: `seed=5`" in (tmp_path / "out" / "report.html").read_text()  # the report shows the log
    assert main([*args[:-1], "--candidate", "oops"]) == 1
    assert "expected NAME=VALUE" in capsys.readouterr().err
    out = tmp_path / "damaged"
    assert main([*args[:-3], "--damaged", "1002-1003", "--output-dir", str(out)]) == 0
    data = json.loads((out / "metrics.json").read_text())
    assert data["damaged_frames"] == [1002, 1003] and data["damaged_verdict"]["frames"] == 2
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == data["headline"] and printed[0].startswith("all frames (3): ")


WIPE_HARNESS = r"""
const code = require('fs').readFileSync(process.argv[2], 'utf8');
function el(props) { return Object.assign({style: {}}, props); }
const imgs = [['source', 'data:S'], ['ml', 'data:M'], ['reference', 'data:R']].map(([n, s]) => el({name: n, src: s}));
const a = el({value: 'ml'}), b = el({value: 'reference'}), pos = el({value: '30'}), ia = el({}), ib = el({});
const parts = {'select.a': a, 'select.b': b, 'input.pos': pos, 'img.ia': ia, 'img.ib': ib};
const wipe = {querySelector(sel) {
  const m = sel.match(/img\.src\[data-name="(.*)"\]/);
  return m ? (imgs.find(i => i.name === m[1]) || null) : parts[sel];
}};
global.document = {querySelectorAll: () => [wipe]};
eval(code);
a.value = 'source'; pos.value = '75'; pos.oninput();
console.log(JSON.stringify([ia.src, ib.src, ib.style.clipPath]));
"""


def test_report_wipe_script_runs(result, tmp_path):
    """The wipe's script, run by Node.js against a minimal stand-in for the page (skipped without node)."""
    import shutil
    import subprocess

    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed")
    res, _ = result
    script = re.search(r"<script>(.*?)</script>", res.report.read_text("utf-8"), re.S).group(1)
    (tmp_path / "wipe.js").write_text(script)
    (tmp_path / "harness.js").write_text(WIPE_HARNESS)
    out = subprocess.run([node, str(tmp_path / "harness.js"), str(tmp_path / "wipe.js")], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    assert json.loads(out) == ["data:S", "data:R", "inset(0 0 0 75%)"]


def test_single_files_are_a_still(project, tmp_path):
    res = run_validation(sources=project / "src" / "src.1002.exr", references=project / "ref" / "ref.1002.exr",
                         candidates={"ml": project / "ml" / "ml.1002.exr"}, output_dir=tmp_path / "still",
                         baselines=("grade_matrix",), params={"crop_size": 32})
    assert [r["frame"] for r in res.rows] == ["", "", ""] and (tmp_path / "still" / "report.html").is_file()
    assert (tmp_path / "still" / "baselines" / "grade_matrix" / "grade_matrix.still.exr").is_file()
    with pytest.raises(ParameterError, match="sequence pattern but the source is a single file"):
        run_validation(sources=project / "src" / "src.1002.exr", references=project / "ref" / "ref.####.exr",
                       output_dir=tmp_path / "bad")


def test_a_failed_grade_fit_is_reported_not_faked(project, tmp_path):
    flat = np.full((H, W, 3), 0.18, np.float32)
    for n in (1001, 1002):
        io.write_image(tmp_path / "flat" / f"flat.{n}.exr", flat, colorspace="ACEScg")
    res = _run(project, tmp_path / "out", frames="1001-1002", baselines=("grade_root_poly", "dust_bust"),
               fit_sources=tmp_path / "flat" / "flat.####.exr", fit_references=tmp_path / "flat" / "flat.####.exr")
    fit = res.fits["root_poly"]
    assert not fit.success and "rank" in fit.reason
    assert "grade_root_poly" not in res.summary and "dust_bust" in res.summary
    assert not (res.output_dir / "grades" / "root_poly.cube").exists()
    assert not (res.output_dir / "baselines" / "grade_root_poly").exists()  # no frames faked with the source
    page = res.report.read_text("utf-8")
    assert "rank" in page  # the reason is in the grade fits table
    rec = json.loads((res.output_dir / "frames" / "metrics.1001.json").read_text())
    assert "root_poly grade fit failed" in rec["failed"]["grade_root_poly"]


def test_new_shots_reuse_the_frames(project, tmp_path):
    first = _run(project, tmp_path, frames="1001-1004")
    again = _run(project, tmp_path, frames="1001-1004", shots={"x": "1001-1002", "y": "1003-1004"})
    assert all(r.get("resumed") for r in json.loads(again.manifest.read_text())["frames"].values())
    assert set(again.shots) == {"x", "y"} and again.config_hash == first.config_hash
    flick = [r["flicker"] for r in again.rows if r["method"] == "ml"]
    assert np.isnan(flick[0]) and np.isnan(flick[2]) and not np.isnan(flick[1])  # restarts at shot y


def test_damaged_frames_are_scored_apart_and_the_verdict_leads(project, tmp_path):
    from core.validate.run import summarize
    from core.validate.verdict import decide

    first = _run(project, tmp_path, frames="1001-1004")
    assert first.damaged_frames is None and first.damaged_summary is None
    assert {r["damaged"] for r in first.rows} == {""}
    res = _run(project, tmp_path, frames="1001-1004", damaged=[1002, 1004, 1009])  # 1009: not scored
    assert all(r.get("resumed") for r in json.loads(res.manifest.read_text())["frames"].values())  # same frames
    assert res.damaged_frames == [1002, 1004, 1009]
    hurt = [r for r in res.rows if r["damaged"] == 1]
    assert {r["frame"] for r in hurt} == {1002, 1004}
    assert res.damaged_summary == summarize(hurt, list(res.methods))
    assert res.damaged_summary["ml"]["psnr"] == pytest.approx(np.mean([r["psnr"] for r in hurt
                                                                       if r["method"] == "ml"]))
    assert res.verdict == decide(res.summary, res.methods, frames=4)
    assert res.damaged_verdict["line"].startswith("damaged frames (2): ")
    # the ML candidate (the reference plus a little noise) wins, by the margin over the best baseline
    best = res.best("psnr", kind="baseline")
    assert res.verdict["winner"] == "ml" and res.verdict["recommend"] == "ml"
    assert res.verdict["margin_db"] == pytest.approx(res.summary["ml"]["psnr"] - res.summary[best]["psnr"])
    # first in metrics.json, first under the report's title, a column of metrics.csv
    text = res.metrics_json.read_text()
    assert text.splitlines()[1].lstrip().startswith('"headline": ') and json.loads(text)["headline"] == res.headline
    assert res.headline == f"{res.verdict['line']} {res.damaged_verdict['line']}"
    page = res.report.read_text("utf-8")
    import html

    after_title = page[page.index("</h1>") + 5:].lstrip()
    assert after_title.startswith(f"<p class=verdict>{html.escape(res.verdict['line'])}</p>")
    assert "<h2>Damaged frames (2: 1002,1004)</h2>" in page
    with open(res.metrics_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {(r["frame"], r["damaged"]) for r in rows} == {("1001", "0"), ("1002", "1"), ("1003", "0"), ("1004", "1")}


def test_a_sequence_numbered_from_zero_validates_frame_zero(project, tmp_path):
    """Found by benchmarks/first_hour.sh (a scan extracted from a video is numbered from 0): the dust
    buster asked frame 0 for its previous neighbour, frame -1, and stage 5 failed with 'frame number must
    be non-negative'. Frame 0 has no previous frame: it is busted without neighbours, like a first frame."""
    import shutil

    for name in ("src", "ref", "ml", "mask"):
        for i, n in enumerate(FRAMES[:3]):
            (tmp_path / name).mkdir(exist_ok=True)
            shutil.copy(project / name / f"{name}.{n}.exr", tmp_path / name / f"{name}.{i:04d}.exr")
    res = _run(tmp_path, tmp_path / "out", baselines=("dust_bust",))
    frames = {r["frame"] for r in res.rows if r["method"] == "dust_bust"}
    assert frames == {0, 1, 2}


def test_grade_fits_tables_and_report_are_written_under_the_job_lock(project, tmp_path, monkeypatch):
    """Issue 15 item 5 follow-up: the grade fits were written before the frame job took the output lock and
    the tables and report after it gave it back, so a second job could write into the folder meanwhile."""
    import os

    from core.manifest import lock_name
    from core.validate import grade, report, run

    out = tmp_path / "out"
    lock = out / lock_name("1001-1002")
    seen: dict[str, bool] = {}

    def held() -> bool:
        return lock.is_file() and json.loads(lock.read_text())["pid"] == os.getpid()

    def watch(name, fn):
        def wrapped(*a, **k):
            seen[name] = held()
            return fn(*a, **k)
        return wrapped

    monkeypatch.setattr(grade.GradeFit, "save", watch("fit", grade.GradeFit.save))
    monkeypatch.setattr(report, "write_report", watch("report", report.write_report))
    monkeypatch.setattr(run, "_write_csv", watch("csv", run._write_csv))
    _run(project, out, frames="1001-1002", baselines=("grade_matrix",))
    assert seen == {"fit": True, "csv": True, "report": True}
    assert not lock.exists()  # given back at the end
    # a job that fails before writing leaves no folder behind (the lock file is not left either)
    with pytest.raises(SequenceError):
        _run(project, tmp_path / "never", frames="1001-1009")
    assert not (tmp_path / "never").exists()
