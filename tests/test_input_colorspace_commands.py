"""``--input-colorspace`` on every command that reads images (issue #25 item 2), beyond info/degrade/infer/palette report.

Each command reads an untagged float EXR written by OpenEXR itself (no reelkit tag, no chromaticities: the
file-type rule says lin_rec709) with and without the option, records the choice in its manifest, and a name
nobody knows gives one line naming the option.
"""

from __future__ import annotations

import json

import numpy as np

from core import color, io
from core.cli.main import main
from tests.test_io_input_colorspace import _untagged_exr


def _one_line_error(capsys, option="--input-colorspace"):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{option}: unknown colour space 'rec2020'" in err[0], err


def test_convert_reads_the_stated_colorspace_and_records_it(tmp_path, capsys):
    path = _untagged_exr(tmp_path / "hdri.exr")
    linear = io.read_image(path)
    assert main(["convert", str(path), "a.exr", "--to", "ACEScg", "--output-dir", str(tmp_path / "a"), "-q"]) == 0
    auto = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert auto["colorspaces"] == {"input": "auto", "output": "ACEScg"}
    assert auto["frames"]["hdri.exr"]["from"] == "lin_rec709"
    np.testing.assert_allclose(io.read_image(tmp_path / "a" / "a.exr").pixels,
                               color.convert_frame(linear, "ACEScg").pixels, rtol=2e-3, atol=1e-4)
    # stated ACEScg (an OCIO name): the pixels pass unchanged; --from is the same option
    for flag, out in (("--input-colorspace", "b"), ("--from", "c")):
        assert main(["convert", str(path), "b.exr", "--to", "ACEScg", flag, "ACES - ACEScg",
                     "--output-dir", str(tmp_path / out), "-q"]) == 0
        stated = json.loads((tmp_path / out / "manifest.json").read_text())
        assert stated["colorspaces"] == {"input": "ACEScg", "output": "ACEScg"}
        assert stated["frames"]["hdri.exr"]["from"] == "ACEScg"
        np.testing.assert_allclose(io.read_image(tmp_path / out / "b.exr").pixels, linear.pixels, rtol=1e-3)
    assert main(["convert", str(path), "--input-colorspace", "rec2020", "--output-dir", str(tmp_path / "bad")]) == 1
    _one_line_error(capsys)
    assert not (tmp_path / "bad").exists()


def test_palette_encode_reads_the_stated_colorspace_and_records_it(tmp_path, capsys):
    path = _untagged_exr(tmp_path / "hdri.exr")
    runs = {}
    for name, extra in (("auto", []), ("stated", ["--input-colorspace", "acescg"]),
                        ("shared", ["--input-colorspace", "acescg", "--shared-palette"])):
        assert main(["palette", "encode", str(path), "--k", "4", *extra,
                     "--output-dir", str(tmp_path / name), "-q"]) == 0
        runs[name] = json.loads((tmp_path / name / "manifest.json").read_text())
    assert runs["auto"]["colorspaces"] == {"input": "auto", "output": "ACEScg"}
    assert runs["auto"]["frames"]["hdri.exr"]["from"] == "lin_rec709"
    assert runs["stated"]["colorspaces"] == {"input": "ACEScg", "output": "ACEScg"}
    assert runs["stated"]["config"]["input_colorspace"] == "ACEScg"
    assert runs["stated"]["frames"]["hdri.exr"]["from"] == "ACEScg"
    # the same pixels read as another space give another palette; the shared fit reads them the stated way too
    stated = runs["stated"]["frames"]["hdri.exr"]["palette_acescg"]
    assert runs["auto"]["frames"]["hdri.exr"]["palette_acescg"] != stated
    np.testing.assert_allclose(runs["shared"]["shared_palette"]["palette_acescg"], stated, atol=1e-6)
    assert main(["palette", "encode", str(path), "--input-colorspace", "rec2020",
                 "--output-dir", str(tmp_path / "bad"), "-q"]) == 1
    _one_line_error(capsys)
    assert not (tmp_path / "bad").exists()


def test_align_reads_the_stated_colorspaces_and_records_them(tmp_path, capsys):
    src = _untagged_exr(tmp_path / "scan.exr")
    ref = _untagged_exr(tmp_path / "dvd.exr")
    linear = io.read_image(ref).pixels
    for name, extra, expected in (
            ("auto", [], color.convert_frame(io.read_image(ref), "ACEScg").pixels),
            ("stated", ["--input-colorspace", "ACEScg", "--reference-colorspace", "acescg"], linear)):
        assert main(["align", "--source", str(src), "--reference", str(ref), *extra,
                     "--output-dir", str(tmp_path / name), "-q"]) == 0
        data = json.loads((tmp_path / name / "manifest.json").read_text())
        record = data["frames"]["scan.exr"]
        space = "ACEScg" if extra else "lin_rec709"
        assert data["colorspaces"] == {"input": "ACEScg" if extra else "auto",
                                       "reference": "ACEScg" if extra else "auto", "output": "ACEScg"}
        assert (record["from"], record["reference_from"], record["converged"]) == (space, space, True)
        # the same picture: the aligned reference is the reference itself, in ACEScg, read as stated
        aligned = io.read_image(record["output"])
        np.testing.assert_allclose(aligned.pixels[4:-4, 4:-4], expected[4:-4, 4:-4], rtol=5e-3, atol=2e-3)
    assert main(["align", "--source", str(src), "--reference", str(ref), "--reference-colorspace", "rec2020",
                 "--output-dir", str(tmp_path / "bad"), "-q"]) == 1
    _one_line_error(capsys, "--reference-colorspace")
    assert not (tmp_path / "bad").exists()


def test_validate_reads_the_stated_colorspaces_and_records_them(tmp_path, capsys):
    path = _untagged_exr(tmp_path / "hdri.exr")
    psnr = {}
    for name, extra in (("auto", []), ("source", ["--input-colorspace", "ACEScg"]),
                        ("both", ["--input-colorspace", "ACEScg", "--reference-colorspace", "ACES - ACEScg"])):
        assert main(["validate", "--source", str(path), "--reference", str(path), "--baselines", "", *extra,
                     "--output-dir", str(tmp_path / name), "-q"]) == 0
        data = json.loads((tmp_path / name / "manifest.json").read_text())
        assert data["colorspaces"] == {"input": "ACEScg" if extra else "auto",
                                       "reference": "ACEScg" if name == "both" else "auto"}
        psnr[name] = data["summary"]["source"]["psnr"]
    # the same file read the same way is a perfect match; the source read as ACEScg against the reference read
    # as linear Rec.709 (converted to ACEScg) is not: the option reaches the pixels the metrics see
    assert psnr["auto"] == psnr["both"] and psnr["auto"] > 60
    assert psnr["source"] < 40
    assert main(["validate", "--source", str(path), "--reference", str(path), "--input-colorspace", "rec2020",
                 "--output-dir", str(tmp_path / "bad"), "-q"]) == 1
    _one_line_error(capsys)
    assert not (tmp_path / "bad").exists()


def _untagged_sequence(folder, n=6):
    """``n`` untagged OpenEXR frames (``shot.1001.exr``...): crops of a real photo moving down, linearised."""
    import OpenEXR

    from core.io import samples

    folder.mkdir()
    photo = color.srgb_to_lin_rec709(samples.load_sample("astronaut.png").pixels)
    for i in range(n):
        lin = photo[40 * i:40 * i + 96, 100:228]
        OpenEXR.File({}, {c: lin[..., k].astype(np.float16) for k, c in enumerate("RGB")}).write(
            str(folder / f"shot.{1001 + i}.exr"))
    return str(folder / "shot.####.exr")


def test_pairs_build_reads_the_stated_colorspaces_and_records_them(tmp_path, capsys):
    seq = _untagged_sequence(tmp_path / "scan")
    for name, extra in (("auto", []), ("stated", ["--input-colorspace", "ACEScg", "--reference-colorspace", "srgb"])):
        assert main(["pairs", "build", "--source", seq, "--reference", seq, *extra,
                     "--output-dir", str(tmp_path / name), "-q"]) == 0
        data = json.loads((tmp_path / name / "manifest.json").read_text())
        pairs = json.loads((tmp_path / name / "pairs.json").read_text())
        assert data["colorspaces"] == ({"input": "auto", "reference": "auto"} if not extra
                                       else {"input": "ACEScg", "reference": "srgb"})
        read = (pairs["source"]["colorspace"], pairs["reference"]["colorspace"])
        assert read == (("lin_rec709", "lin_rec709") if not extra else ("ACEScg", "srgb"))
    assert main(["pairs", "build", "--source", seq, "--reference", seq, "--input-colorspace", "rec2020",
                 "--output-dir", str(tmp_path / "bad"), "-q"]) == 1
    _one_line_error(capsys)
    assert not (tmp_path / "bad").exists()


def test_restore_init_stores_each_input_colorspace_and_stage_1_reads_them(tmp_path, capsys):
    from core.pipeline.project import load_project, project_status

    seq = _untagged_sequence(tmp_path / "scan")
    project = tmp_path / "proj"
    assert main(["restore", "init", str(project), "--source", seq, "--reference", seq]) == 0
    assert json.loads((project / "project.json").read_text())["colorspaces"] == {"source": "auto",
                                                                                  "reference": "auto"}
    assert main(["restore", "init", str(project), "--source", seq, "--reference", seq, "--force",
                 "--input-colorspace", "ACES - ACEScg", "--reference-colorspace", "srgb"]) == 0
    stored = json.loads((project / "project.json").read_text())["colorspaces"]
    assert stored == {"source": "ACEScg", "reference": "srgb"}
    assert load_project(project).colorspaces == stored
    # stage 1 reads each input in its own stated space
    assert main(["restore", "run", str(project), "--stages", "1", "-q"]) == 0
    pairs = json.loads((project / "pipeline" / "01_dataset_curation" / "pairs.json").read_text())
    assert (pairs["source"]["colorspace"], pairs["reference"]["colorspace"]) == ("ACEScg", "srgb")
    # an edited colour space makes stage 1 stale
    edited = json.loads((project / "project.json").read_text())
    edited["colorspaces"]["reference"] = "auto"
    (project / "project.json").write_text(json.dumps(edited))
    assert project_status(project)[0].state == "stale"
    edited["colorspaces"]["reference"] = "rec2020"
    (project / "project.json").write_text(json.dumps(edited))
    assert main(["restore", "status", str(project)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "colorspaces.reference: unknown colour space 'rec2020'" in err[0], err
    assert main(["restore", "init", str(tmp_path / "bad"), "--source", seq, "--reference", seq,
                 "--input-colorspace", "rec2020"]) == 1
    _one_line_error(capsys)
    assert not (tmp_path / "bad").exists()


def test_restore_stage_4_baseline_render_reads_the_source_as_stated(tmp_path):
    from core.validate.render import render_method

    seq = _untagged_sequence(tmp_path / "scan", n=2)
    raw = io.read_image(io.sequence_path(seq, 1001))
    for name, space, expected in (("auto", None, color.convert_frame(raw, "ACEScg").pixels),
                                  ("stated", "ACEScg", raw.pixels)):
        render_method("source", seq, output_dir=tmp_path / name, input_colorspace=space)
        np.testing.assert_allclose(io.read_image(tmp_path / name / "restored.1001.exr").pixels, expected,
                                   rtol=2e-3, atol=1e-4)


def test_train_file_pairs_read_the_stated_colorspaces_and_record_them(tmp_path, capsys):
    import pytest

    pytest.importorskip("torch")
    from core.errors import ParameterError
    from core.train.config import DataConfig
    from core.train.data import PairDataset

    deg = _untagged_exr(tmp_path / "deg.exr")
    ref = _untagged_exr(tmp_path / "ref.exr")
    raw = io.read_image(deg).pixels
    data = DataConfig(degraded=(str(deg),), reference=(str(ref),))
    auto = PairDataset.from_config(data, crop_size=16, encoding="linear").frames(0)
    stated = PairDataset.from_config(data, crop_size=16, encoding="linear", input_colorspace="ACEScg").frames(0)
    np.testing.assert_allclose(auto[0], color.convert_frame(io.read_image(deg), "ACEScg").pixels, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stated[0], raw, rtol=1e-6)  # stated ACEScg: unconverted
    np.testing.assert_array_equal(stated[1], auto[1])  # the reference is still read by the rule
    with pytest.raises(ParameterError, match="only file pairs"):
        PairDataset.from_config(DataConfig(clean=("sample:chelsea",)), crop_size=16, encoding="linear",
                                reference_colorspace="srgb")
    cfg = tmp_path / "train.json"
    cfg.write_text(json.dumps({"data": {"degraded": [str(deg)], "reference": [str(ref)]}, "steps": 2,
                               "batch_size": 1, "crop_size": 16, "device": "cpu", "model": {"type": "resnet_small", "blocks": 2},
                               "checkpoint_every": 2, "preview_every": 0}))
    out = tmp_path / "run"
    assert main(["train", "--config", str(cfg), "--input-colorspace", "acescg", "--output-dir", str(out), "-q"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["colorspaces"] == {"input": "ACEScg", "reference": "auto"}
    assert manifest["config"]["input_colorspace"] == "ACEScg"
    # the checkpoints are this run's: another colour space does not resume them
    assert main(["train", "--config", str(cfg), "--output-dir", str(out), "-q"]) == 1
    assert "a checkpoint of another training config" in capsys.readouterr().err
    assert main(["train", "--config", str(cfg), "--reference-colorspace", "rec2020",
                 "--output-dir", str(tmp_path / "bad"), "-q"]) == 1
    _one_line_error(capsys, "--reference-colorspace")
    assert not (tmp_path / "bad").exists()


def test_dataset_run_reads_the_video_in_the_stated_colorspace_and_records_it(tmp_path, capsys):
    """dataset run reads video only (8-bit, srgb by the rule): stated linear, its frames are sRGB-encoded on extraction."""
    import cv2
    import pytest

    from core.dataset.extract import read_uint8
    from core.io import samples

    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 24, (96, 64))
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write MJPG video")
    photo = samples.load_sample("astronaut.png").pixels
    for i in range(24):
        writer.write(np.ascontiguousarray(np.rint(photo[100 + 2 * i:164 + 2 * i, 150:246] * 255).astype(np.uint8)[..., ::-1]))
    writer.release()
    runs = {}
    for name, extra in (("auto", []), ("stated", ["--input-colorspace", "Linear Rec.709 (sRGB)"])):
        assert main(["dataset", "run", str(clip), "--stages", "shots,extract", *extra,
                     "--output-dir", str(tmp_path / name), "-q"]) == 0
        top = json.loads((tmp_path / name / "manifest.json").read_text())
        assert top["colorspaces"] == {"input": "lin_rec709" if extra else "auto", "output": "srgb"}
        frames = json.loads((tmp_path / name / "frames" / "frames.json").read_text())["frames"]
        assert {f["from"] for f in frames} == {"lin_rec709" if extra else "srgb"}
        runs[name] = {f["id"]: read_uint8(tmp_path / name / f["path"]) for f in frames}
    assert runs["auto"].keys() == runs["stated"].keys() and runs["auto"]
    for fid, decoded in runs["auto"].items():  # auto: the decoded video as it is
        expected = np.rint(color.lin_rec709_to_srgb(decoded / 255.0) * 255.0)
        assert np.abs(runs["stated"][fid] - expected).max() <= 1
    assert main(["dataset", "run", str(clip), "--input-colorspace", "rec2020",
                 "--output-dir", str(tmp_path / "bad"), "-q"]) == 1
    _one_line_error(capsys)
    assert not (tmp_path / "bad").exists()
