"""core.align.align_files: sequences on disk, the outputs, the manifest and report, resume, failures."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from core import io
from core.align import align, align_files
from core.color import convert_frame
from core.errors import ImageReadError, OutputExistsError, ParameterError
from core.manifest import file_sha256
from tests.test_align import make_pair, photo, similarity

CROP = (60, 252, 120, 376)  # 192 x 256
FRAMES = (1001, 1002, 1003)


def _srgb(px: np.ndarray) -> np.ndarray:
    from core.color import convert

    return np.clip(convert(px, "ACEScg", "srgb"), 0.0, 1.0)


@pytest.fixture()
def pair(tmp_path):
    """A degraded ACEScg EXR scan sequence and a clean sRGB 16-bit PNG 'DVD' sequence of the same frames.

    Each scan frame is the photo moved by its own small transform (and the
    film's gate weave); the reference frames are the photo itself.
    """
    scans = tmp_path / "scan"
    dvd = tmp_path / "dvd"
    for i, n in enumerate(FRAMES):
        t = similarity((192, 256), 0.7 * i - 0.4, 0.5 - 0.3 * i, 1.0 + 0.004 * i, 0.2 * i)
        src, ref, _ = make_pair("coffee", CROP, t, preset="dusty_35mm", frame=n)
        io.write_image(scans / f"scan.{n}.exr", src, colorspace="ACEScg")
        io.write_image(dvd / f"dvd.{n}.png", _srgb(ref), colorspace="srgb")
    return str(scans / "scan.####.exr"), str(dvd / "dvd.####.png")


def test_sequence_job_writes_aligned_mask_residual_report_and_manifest(pair, tmp_path):
    src, ref = pair
    out = tmp_path / "out"
    seen = []
    manifest = align_files(src, ref, output_dir=out, progress=lambda d, t, n: seen.append((d, t, n)))
    assert seen == [(1, 3, 1001), (2, 3, 1002), (3, 3, 1003)]
    data = json.loads((out / "manifest.json").read_text())
    assert data["status"] == "done" and data["command"] == "align"
    assert data["summary"] == {"frames": 3, "converged": 3, "failed": []}
    for n in FRAMES:
        scan_path, dvd_path = io.sequence_path(src, n), io.sequence_path(ref, n)
        assert data["inputs"][scan_path] == file_sha256(scan_path)
        assert data["inputs"][dvd_path] == file_sha256(dvd_path)
        rec = data["frames"][str(n)]
        assert rec["status"] == "done" and rec["converged"] and rec["frame"] == n
        assert rec["from"] == "ACEScg" and rec["reference_from"] == "srgb"
        aligned = io.read_image(out / "aligned" / f"ref.{n}.exr")
        mask = io.read_image(out / "mask" / f"mask.{n}.exr")
        residual = io.read_image(out / "residual" / f"residual.{n}.exr")
        assert aligned.colorspace == "ACEScg" and aligned.pixels.shape == (192, 256, 3)
        assert mask.channels == ("Y",) and mask.colorspace == "raw" and set(np.unique(mask.pixels)) <= {0.0, 1.0}
        assert residual.channels == ("Y",) and residual.pixels.min() >= 0
        header = aligned.metadata["attributes"]
        assert header["reelkit/align/converged"] == 1 and header["reelkit/reference"] == f"dvd.{n}.png"
        np.testing.assert_allclose(json.loads(header["reelkit/align/transform"]), rec["transform"])
        png = io.read_image(out / "report" / f"report.{n}.png")
        assert png.width == 4 * 256 + 3 * 4 and png.height == 192
        # the file holds the library's answer for the same pair, to half-float precision
        direct = align(io.read_image(scan_path).pixels, convert_frame(io.read_image(dvd_path), "ACEScg").pixels)
        np.testing.assert_allclose(aligned.pixels, direct.warped, rtol=2e-3, atol=2e-4)
        np.testing.assert_array_equal(mask.pixels, direct.mask)
    with open(out / "report.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["frame"] for r in rows] == ["1001", "1002", "1003"]
    assert all(r["converged"] == "True" and float(r["residual_after"]) < float(r["residual_before"]) for r in rows)
    assert float(rows[2]["rotation_deg"]) == pytest.approx(0.4, abs=0.1)  # the transform maps source -> reference
    assert manifest.data["report"] == "report.csv"


def test_resume_skips_done_frames_force_redoes_and_strangers_block(pair, tmp_path):
    src, ref = pair
    out = tmp_path / "out"
    align_files(src, ref, output_dir=out, params={"method": "global"})
    again = align_files(src, ref, output_dir=out, params={"method": "global"})
    assert all(rec.get("resumed") for rec in again.data["frames"].values())
    # another configuration would replace these outputs: refused without force
    with pytest.raises(OutputExistsError, match="ref.1001.exr and"):
        align_files(src, ref, output_dir=out, params={"method": "phase"})
    # a missing mask means the frame is not done
    (out / "mask" / "mask.1002.exr").unlink()
    partial = align_files(src, ref, output_dir=out, params={"method": "global"})
    assert [bool(r.get("resumed")) for r in partial.data["frames"].values()] == [True, False, True]
    forced = align_files(src, ref, output_dir=out, params={"method": "phase"}, force=True)
    assert not any(rec.get("resumed") for rec in forced.data["frames"].values())
    assert all(rec["method"] == "phase" for rec in forced.data["frames"].values())


def test_a_frame_that_fails_to_align_is_recorded_and_the_job_goes_on(pair, tmp_path):
    src, ref = pair
    io.write_image(io.sequence_path(ref, 1002), _srgb(photo("astronaut", CROP)), colorspace="srgb", overwrite=True)
    out = tmp_path / "out"
    manifest = align_files(src, ref, output_dir=out, params={"report": False})
    assert manifest.data["summary"]["failed"] == ["1002"]
    rec = manifest.data["frames"]["1002"]
    assert rec["status"] == "done" and rec["converged"] is False and rec["reason"]
    assert not io.read_image(out / "mask" / "mask.1002.exr").pixels.any()
    assert manifest.data["frames"]["1003"]["converged"]
    assert io.read_image(out / "mask" / "mask.1003.exr").pixels.mean() > 0.5
    assert not (out / "report").exists()
    rows = list(csv.DictReader(open(out / "report.csv", newline="")))
    assert rows[1]["converged"] == "False" and rows[1]["reason"] == rec["reason"]


def test_missing_reference_frame_stops_before_any_work(pair, tmp_path):
    import os

    src, ref = pair
    os.remove(io.sequence_path(ref, 1003))
    out = tmp_path / "out"
    with pytest.raises(ImageReadError, match="dvd.1003.png.*source frame 1003"):
        align_files(src, ref, output_dir=out)
    assert not (out / "aligned").exists()


def test_frame_range_keeps_its_own_manifest_and_report(pair, tmp_path):
    src, ref = pair
    out = tmp_path / "out"
    align_files(src, ref, output_dir=out, frames="1002-1003", params={"report": False})
    data = json.loads((out / "manifest.frames-1002-1003.json").read_text())
    assert set(data["frames"]) == {"1002", "1003"}
    assert (out / "report.frames-1002-1003.csv").is_file() and not (out / "report.csv").exists()
    assert not (out / "aligned" / "ref.1001.exr").exists()


def test_single_files_and_mismatched_inputs(pair, tmp_path):
    src, ref = pair
    one_src, one_ref = io.sequence_path(src, 1001), io.sequence_path(ref, 1001)
    out = tmp_path / "still"
    manifest = align_files(one_src, one_ref, output_dir=out, params={"report": False})
    assert manifest.data["frames"][next(iter(manifest.data["frames"]))]["converged"]
    assert (out / "aligned" / "ref.exr").is_file() and (out / "mask" / "mask.exr").is_file()
    with pytest.raises(ParameterError, match="must be one too"):
        align_files(src, one_ref, output_dir=tmp_path / "x")
    with pytest.raises(ParameterError, match="must be one too"):
        align_files(one_src, ref, output_dir=tmp_path / "y")
    with pytest.raises(ParameterError, match="unknown parameter"):
        align_files(src, ref, output_dir=tmp_path / "z", params={"bogus": 1})
