"""render_method: a baseline rendered over a sequence is what stage 5 measured for it; the source unchanged; errors.

The clip is test_validate_run's: a pan over a real photo through a known grade, with dust."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core import io
from core.errors import OutputExistsError, ParameterError
from core.validate import render_method, run_validation
from tests.test_validate_run import FRAMES
from tests.test_validate_run import project as clip  # noqa: F401  (the fixture: a faded, dusty pan over a photo)


def fit_args(clip):
    return dict(fit_sources=str(clip / "src" / "src.####.exr"), fit_references=str(clip / "ref" / "ref.####.exr"),
                fit_frames="1001,1003")


def test_a_rendered_baseline_is_what_validation_measured(clip, tmp_path):
    params = {"lut_size": 9, "compare_frames": 0, "seed": 4}
    val = run_validation(sources=clip / "src" / "src.####.exr", references=clip / "ref" / "ref.####.exr",
                         output_dir=tmp_path / "val", baselines=("dust_bust+grade_lut3d",), params=params,
                         **fit_args(clip))
    seen = []
    man = render_method("dust_bust + grade_lut3d", str(clip / "src" / "src.####.exr"), output_dir=tmp_path / "r",
                        params=params, progress=lambda d, t, f: seen.append(f), **fit_args(clip))
    assert seen == list(FRAMES)
    assert man.data["config"]["method"] == "dust_bust+grade_lut3d" and man.data["method"] == "dust_bust+grade_lut3d"
    assert (tmp_path / "r" / "grades" / "lut3d.cube").is_file() and "training pair" in man.data["fit_note"]
    for n in FRAMES:  # both half-float EXRs of the same float32 frame
        got = io.read_image(tmp_path / "r" / f"restored.{n}.exr")
        want = io.read_image(val.output_dir / "baselines" / "dust_bust-grade_lut3d" / f"dust_bust-grade_lut3d.{n}.exr")
        assert got.colorspace == "ACEScg" and np.array_equal(got.pixels, want.pixels)
    again = render_method("dust_bust+grade_lut3d", str(clip / "src" / "src.####.exr"), output_dir=tmp_path / "r",
                          params=params, **fit_args(clip))
    assert all(r.get("resumed") for r in again.data["frames"].values())
    with pytest.raises(OutputExistsError):  # another method over the same frames: refused
        render_method("grade_lut3d", str(clip / "src" / "src.####.exr"), output_dir=tmp_path / "r", params=params,
                      **fit_args(clip))


def test_source_renders_unchanged_and_errors_name_the_method(clip, tmp_path):
    man = render_method("source", str(clip / "src" / "src.####.exr"), output_dir=tmp_path / "s", frames="1002-1003")
    assert json.loads(man.path.read_text())["config"]["method"] == "source"
    src = io.read_image(clip / "src" / "src.1002.exr").pixels
    got = io.read_image(tmp_path / "s" / "restored.1002.exr").pixels
    np.testing.assert_array_equal(got, src.astype(np.float16).astype(np.float32))
    assert not (tmp_path / "s" / "restored.1001.exr").exists()
    with pytest.raises(ParameterError, match="'grade_matrix' has a grade step: give the training pairs"):
        render_method("grade_matrix", str(clip / "src" / "src.####.exr"), output_dir=tmp_path / "m")
    with pytest.raises(ParameterError, match="unknown step 'sharpen'"):
        render_method("dust_bust+sharpen", str(clip / "src" / "src.####.exr"), output_dir=tmp_path / "m")
    with pytest.raises(ParameterError, match="one baseline name"):
        render_method("grade_matrix,dust_bust", str(clip / "src" / "src.####.exr"), output_dir=tmp_path / "m")
    with pytest.raises(ParameterError, match="EXR"):
        render_method("source", str(clip / "src" / "src.####.exr"), output_dir=tmp_path / "m", output="r.####.png")
