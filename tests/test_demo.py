"""The main job (``reelkit demo``) end to end on a tiny plate, twice (resume)."""

import json

import numpy as np

from core import io
from core.demo import run_demo


def test_demo_end_to_end_and_resume(tmp_path):
    params = {"frames": 3, "width": 96, "k": 4}
    summary = run_demo(tmp_path, params=params)
    assert summary["frames"] == "1001-1003" and summary["previews"] == 3
    plate = io.read_image(tmp_path / "plate" / "plate.1002.exr")
    assert plate.colorspace == "ACEScg" and plate.width == 96 and plate.pixels.min() >= 0
    preview = io.read_image(tmp_path / "preview" / "plate.1002.png")
    assert preview.colorspace == "srgb" and preview.pixels.shape == plate.pixels.shape
    pal = json.loads((tmp_path / "palette" / "manifest.json").read_text())
    assert pal["stability"]["stable"] and len(pal["frames"]) == 3
    for name in ("swatches.png", "luma_vs_palette.png", "metrics.json"):
        assert (tmp_path / "palette_report" / name).exists()
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["status"] == "done" and manifest["config"]["params"]["k"] == 4
    before = (tmp_path / "palette" / "plate.1001.exr").stat().st_mtime_ns
    again = run_demo(tmp_path, params=params)  # no force: everything resumes
    assert again["previews"] == 3
    assert (tmp_path / "palette" / "plate.1001.exr").stat().st_mtime_ns == before
    assert np.array_equal(io.read_image(tmp_path / "plate" / "plate.1002.exr").pixels, plate.pixels)
