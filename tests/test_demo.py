"""The main job (``reelkit demo``) end to end on a tiny film, then again (resume), and its refusals.

Tiny: 96x54 frames, three shots of 5, 2 training steps of one 32 px crop
(whatever model ``init_from: auto`` picks: the shipped one when it ships),
the default baselines. What is checked is the plumbing the full-size demo
relies on: footage, the five stages, the report, the printed table, resume.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from core import io  # noqa: E402
from core.demo import REFERENCE_LEAD, REFERENCE_REPEATED, film_frames, make_footage, metric_table, run_demo  # noqa: E402
from core.errors import OutputExistsError  # noqa: E402

TINY = {"width": 96, "shot_length": 5, "steps": 2, "batch_size": 1, "crop_size": 32}


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_footage_numbering_and_looks(tmp_path):
    src, ref = make_footage(tmp_path, width=96, shot_length=7, seed=7)
    s, r = film_frames(7)
    assert io.find_frames(src) == list(range(1001, 1001 + 21))
    assert io.find_frames(ref) == list(range(1, 1 + len(r)))
    assert len(r) == 21 + REFERENCE_LEAD + len(REFERENCE_REPEATED)
    scan = io.read_image(io.sequence_path(src, 1003))
    tk = io.read_image(io.sequence_path(ref, 3 + REFERENCE_LEAD))  # the same film frame
    assert scan.colorspace == "ACEScg" and scan.pixels.shape == (54, 96, 3)
    assert tk.colorspace == "srgb" and tk.pixels.shape == (54, 96, 3)
    # the telecine is 8-bit; the scan is faded and damaged: the same picture, not the same values
    assert np.allclose(tk.pixels * 255, np.round(tk.pixels * 255), atol=1e-3)
    from core.color import convert

    scan_srgb = np.clip(convert(scan.pixels, "ACEScg", "srgb"), 0, 1)
    corr = np.corrcoef(scan_srgb.mean(axis=2).ravel(), tk.pixels.mean(axis=2).ravel())[0, 1]
    assert corr > 0.6 and np.abs(scan_srgb - tk.pixels).mean() > 0.03
    # made again shorter in the same folder: the old frames do not linger in the sequences
    make_footage(tmp_path, width=64, shot_length=4, seed=7)
    assert io.find_frames(src) == list(range(1001, 1013))
    assert io.find_frames(ref) == list(range(1, 1 + 12 + REFERENCE_LEAD))


def test_demo_end_to_end_and_resume(tmp_path, capsys):
    seen = []
    summary = run_demo(tmp_path, params=TINY, progress=lambda step, d, t, info: seen.append(step))
    assert [line.split()[0] for line in summary["stages"]] == ["1", "2", "3", "4", "5"]
    assert all(" done " in line for line in summary["stages"]), summary["stages"]
    assert seen[0] == "footage" and {f"stage {n}" for n in range(1, 6)} <= {s.split(":")[0] for s in seen}
    metrics = summary["metrics"]
    assert {"source", "ml", "grade_lut3d"} <= set(metrics)
    assert metrics["grade_lut3d"]["delta_e"] < metrics["source"]["delta_e"]  # the fitted grade undoes the fade
    assert summary["report"].endswith("report.html")
    assert (tmp_path / "project/pipeline/05_validation/report.html").is_file()
    assert summary["table"].splitlines()[2].startswith("source ")
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["command"] == "demo" and manifest["status"] == "done"
    model = tmp_path / "project/pipeline/03_training/model.onnx"
    before = model.stat().st_mtime_ns
    again = run_demo(tmp_path, params=TINY)  # no force: everything resumes
    assert again["metrics"] == metrics and model.stat().st_mtime_ns == before
    from core.cli.main import main

    assert main(["demo", "--output-dir", str(tmp_path), "--quiet", "--width", "96", "--shot-length", "5",
                 "--steps", "2", "--batch-size", "1", "--crop-size", "32"]) == 0
    out = capsys.readouterr().out
    assert "PSNR dB" in out and "\nml " in out and "report:" in out
    assert "about" not in out  # --quiet: no estimate either
    assert main(["--threads", "1", "demo", "--output-dir", str(tmp_path), "--width", "96", "--shot-length", "5",
                 "--steps", "2", "--batch-size", "1", "--crop-size", "32"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("reelkit demo: about 5.0 min with 1 free core(s) for the default settings"), first


def test_the_estimate_follows_the_free_cores():
    from core.demo import estimate_seconds

    assert estimate_seconds(2) == 150.0 and estimate_seconds(1) == 300.0 and estimate_seconds(16) == 150.0


def test_demo_refuses_a_foreign_folder(tmp_path):
    (tmp_path / "mine.txt").write_text("not the demo's")
    with pytest.raises(OutputExistsError, match="did not make"):
        run_demo(tmp_path, params=TINY)


def test_metric_table_layout():
    table = metric_table({"source": {"psnr": 20.0, "ssim": 0.5, "delta_e": 9.0, "flicker": 0.01},
                          "ml": {"psnr": 30.123, "ssim": 0.9, "delta_e": None, "flicker": 0.002}},
                         {"source": "source", "ml": "candidate"})
    lines = table.splitlines()
    assert lines[0].split()[:2] == ["method", "kind"] and "30.12" in lines[3] and lines[3].split()[-2] == "-"
