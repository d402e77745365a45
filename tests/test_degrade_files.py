"""core.degrade.degrade_files: sequences on disk, manifest with the seed, resume, split frame ranges."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core import io
from core.degrade import degrade_files, degrade_frame
from core.errors import OutputExistsError, ParameterError
from tests.test_degrade import linear_sample

PRESET = "faded_16mm"


@pytest.fixture()
def plate(tmp_path):
    """Three ACEScg half-float EXR frames 1001-1003 of a slow pan across a real photo (64 x 96)."""
    photo = linear_sample("chelsea.png")
    folder = tmp_path / "plate"
    for i, n in enumerate((1001, 1002, 1003)):
        io.write_image(folder / f"plate.{n}.exr", photo[100:164, 150 + 3 * i:246 + 3 * i], colorspace="ACEScg")
    return folder / "plate.####.exr"


def test_degrades_a_sequence_and_records_the_seed_and_damage(plate, tmp_path):
    out_dir = tmp_path / "out"
    seen = []
    manifest = degrade_files(str(plate), "deg.####.exr", output_dir=out_dir, preset=PRESET, seed=7,
                             progress=lambda done, total, n: seen.append((done, total, n)))
    assert seen == [(1, 3, 1001), (2, 3, 1002), (3, 3, 1003)]
    data = json.loads((out_dir / "manifest.json").read_text())
    assert data["status"] == "done" and data["command"] == "degrade"
    assert data["seed"] == 7 and data["config"]["seed"] == 7 and data["preset"] == PRESET
    assert data["parameters"]["gauge"] == "16mm"
    assert len(data["inputs"]) == 3 and all(len(v) == 64 for v in data["inputs"].values())
    for n in (1001, 1002, 1003):
        src = io.read_image(io.sequence_path(str(plate), n))
        written = io.read_image(out_dir / f"deg.{n}.exr")
        assert written.colorspace == "ACEScg"
        expected = degrade_frame(src, frame=n, seed=7, preset=PRESET)
        # the file holds the same frame, to half-float precision
        np.testing.assert_allclose(written.pixels, expected.pixels, rtol=2e-3, atol=1e-4)
        record = data["frames"][str(n)]
        assert record["status"] == "done" and record["frame"] == n
        assert record["degrade"]["weave"] == pytest.approx(expected.record["weave"])
        assert record["degrade"]["flicker"]["gain"] == pytest.approx(expected.flicker_gain)
        assert "specks" not in record["degrade"]["dust"]
    assert manifest.data["frames"]["1002"]["degrade"]["seed"] == 7


def test_resume_skips_done_frames_and_force_redoes_them(plate, tmp_path):
    out_dir = tmp_path / "out"
    degrade_files(str(plate), "deg.####.exr", output_dir=out_dir, preset=PRESET, seed=7)
    again = degrade_files(str(plate), "deg.####.exr", output_dir=out_dir, preset=PRESET, seed=7)
    assert all(rec.get("resumed") for rec in again.data["frames"].values())
    # another seed is another job: its outputs would replace these, so it refuses without force
    with pytest.raises(OutputExistsError, match="deg.1001.exr and 2 more"):
        degrade_files(str(plate), "deg.####.exr", output_dir=out_dir, preset=PRESET, seed=8)
    forced = degrade_files(str(plate), "deg.####.exr", output_dir=out_dir, preset=PRESET, seed=8, force=True)
    assert not any(rec.get("resumed") for rec in forced.data["frames"].values())
    src = io.read_image(io.sequence_path(str(plate), 1002))
    written = io.read_image(out_dir / "deg.1002.exr")
    expected = degrade_frame(src, frame=1002, seed=8, preset=PRESET).pixels
    np.testing.assert_allclose(written.pixels, expected, rtol=2e-3, atol=1e-4)


def test_split_frame_ranges_match_one_run(plate, tmp_path):
    whole, split = tmp_path / "whole", tmp_path / "split"
    degrade_files(str(plate), "deg.####.exr", output_dir=whole, preset="super8_home_movie", seed=3)
    degrade_files(str(plate), "deg.####.exr", output_dir=split, preset="super8_home_movie", seed=3, frames="1003")
    degrade_files(str(plate), "deg.####.exr", output_dir=split, preset="super8_home_movie", seed=3,
                  frames="1001-1002")
    assert (split / "manifest.frames-1003.json").exists() and (split / "manifest.frames-1001-1002.json").exists()
    for n in (1001, 1002, 1003):
        a = io.read_image(whole / f"deg.{n}.exr").pixels
        b = io.read_image(split / f"deg.{n}.exr").pixels
        np.testing.assert_array_equal(a, b)


def test_single_file_params_override_and_bad_requests(plate, tmp_path):
    src = io.sequence_path(str(plate), 1001)
    manifest = degrade_files(src, "still.exr", output_dir=tmp_path / "o", preset="dusty_35mm", seed=1,
                             params={"dust_count": 0}, pixel_type="float")
    record = manifest.data["frames"]["plate.1001.exr"]
    assert record["frame"] == 0 and "dust" not in record["degrade"]["applied"]
    written = io.read_image(tmp_path / "o" / "still.exr")
    expected = degrade_frame(io.read_image(src), frame=0, seed=1, preset="dusty_35mm", params={"dust_count": 0})
    np.testing.assert_array_equal(written.pixels, expected.pixels)  # float EXR: exact
    with pytest.raises(ParameterError, match="faded_16mm"):
        degrade_files(src, "x.exr", output_dir=tmp_path / "p", preset="sepia")
    with pytest.raises(ParameterError, match="pattern"):
        degrade_files(str(plate), "x.exr", output_dir=tmp_path / "p", preset=PRESET)
    with pytest.raises(ParameterError, match="is the input file"):
        degrade_files(src, src, output_dir=tmp_path, preset=PRESET)
