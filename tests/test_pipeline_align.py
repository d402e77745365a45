"""Stage 2 with stage 1's frame table: ``align_files(..., pairs=...)`` pairs source and reference by the table.

The film: film frame k is a 128x192 crop of coffee.png whose window moves
6 px right per frame (scene-linear ACEScg). The scan holds film frames
0..2 as 1001..1003, each shifted 2 px left of the film (so scan pixel x
shows film x + 2: ``align`` recovers tx = +2 against the right reference).
The reference, numbered from 1 like a telecine, starts one film frame
early: reference frame j shows film frame j - 2. With equal frame numbers
there would be no reference at all; with the wrong frame the shift would
be off by a multiple of 6 px.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from core import io
from core.align import align_files
from core.color import convert
from core.errors import ImageReadError, ParameterError
from core.io.samples import load_sample

STEP = 6


def film(k: int) -> np.ndarray:
    photo = convert(load_sample("coffee").pixels, "srgb", "ACEScg")
    x0 = 150 + STEP * k
    return np.ascontiguousarray(photo[120:248, x0:x0 + 196])


@pytest.fixture()
def footage(tmp_path):
    for k in range(3):
        io.write_image(tmp_path / "scan" / f"scan.{1001 + k}.exr", film(k)[:, 2:194], colorspace="ACEScg")
    for j in range(1, 6):
        io.write_image(tmp_path / "tk" / f"tk.{j:04d}.exr", film(j - 2)[:, :192], colorspace="ACEScg")
    return str(tmp_path / "scan" / "scan.####.exr"), str(tmp_path / "tk" / "tk.####.exr")


def test_pairs_table_picks_the_reference_frame(footage, tmp_path):
    src, ref = footage
    table = {1001: 2, 1002: None, 1003: 4}  # 1002: no counterpart (left out)
    manifest = align_files(src, ref, output_dir=tmp_path / "out", params={"method": "phase", "report": False},
                           pairs=table)
    data = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert sorted(data["frames"]) == ["1001", "1003"] and manifest.data["summary"]["converged"] == 2
    assert data["config"]["pairs"] == {"1001": 2, "1003": 4}
    for s, r in ((1001, 2), (1003, 4)):
        rec = data["frames"][str(s)]
        assert rec["reference"].endswith(f"tk.{r:04d}.exr") and rec["converged"]
        assert rec["transform"][0][2] == pytest.approx(2.0, abs=0.05)
        assert rec["transform"][1][2] == pytest.approx(0.0, abs=0.05)
        aligned = io.read_image(tmp_path / "out" / "aligned" / f"ref.{s}.exr")  # numbered by source frame
        scan = io.read_image(io.sequence_path(src, s))
        inner = (slice(8, -8), slice(8, -8))
        assert np.abs(aligned.pixels[inner] - scan.pixels[inner]).mean() < 0.01
    assert not (tmp_path / "out" / "aligned" / "ref.1002.exr").exists()


def test_wrong_table_entry_shows_in_the_shift(footage, tmp_path):
    src, ref = footage
    align_files(src, ref, output_dir=tmp_path / "out", params={"method": "phase", "report": False},
                pairs={1001: 3})  # one film frame late: the reference window is 6 px further right
    rec = json.loads((tmp_path / "out" / "manifest.json").read_text())["frames"]["1001"]
    assert rec["transform"][0][2] == pytest.approx(2.0 - STEP, abs=0.05)


def test_pairs_table_errors(footage, tmp_path):
    src, ref = footage
    with pytest.raises(ParameterError, match="no source frame .* has a reference frame"):
        align_files(src, ref, output_dir=tmp_path / "a", pairs={1001: None, 2000: 3})
    with pytest.raises(ImageReadError, match=r"tk\.0009\.exr: no such file \(the reference of source frame 1001\)"):
        align_files(src, ref, output_dir=tmp_path / "b", pairs={1001: 9})
    single = io.sequence_path(src, 1001)
    with pytest.raises(ParameterError, match="needs sequences"):
        align_files(single, io.sequence_path(ref, 2), output_dir=tmp_path / "c", pairs={1001: 2})
