"""The fault-injection script's check of one kill, so that it cannot rot (issue 15, closing runs).

``benchmarks/fault_injection.py`` kills each command N times per signal;
here one ``degrade`` of 4 frames (scikit-image's coffee, 360 x 540 ACEScg
EXR) is killed with SIGKILL once its first frame exists, then run again:
exit -9, outputs complete or absent, the re-run makes only what was
missing, final bytes equal an uninterrupted run's, nothing temporary left.
"""

from __future__ import annotations

import signal

from benchmarks import fault_injection as fi


def test_one_sigkill_of_degrade(tmp_path):
    cmd = fi.commands(fi.make_inputs(tmp_path / "in", frames=4))["degrade"]
    reference = fi.run_reference(cmd, tmp_path / "reference")
    assert sorted(reference) == [f"d.{n}.exr" for n in range(1001, 1005)]
    result = fi.inject(cmd, tmp_path / "killed", signal.SIGKILL, after_units=1, delay=0.0, reference=reference)
    assert not result.finished_first and result.code == -signal.SIGKILL, result
    assert result.ok, result.note
    assert fi.outputs(tmp_path / "killed") == reference and not fi.leftovers(tmp_path / "killed")
