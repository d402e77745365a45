"""Temporary files a killed writer left are removed by the next run of the same job (issue 15, item 8a).

:func:`core.io.atomic.atomic_path` writes ``.STEM.XXXXXXXX.tmpSUFFIX`` beside
its target; SIGKILL mid-write leaves it. The next run (with or without
``--force``), once it holds the output's lock, removes those of its own
output names, and leaves any other file alone. Before: a temp file left by a
kill (``.plate.1020.nrhmox1x.tmp.exr``) stayed for good, even after ``--force``.
"""

from __future__ import annotations

import os
import tempfile

import pytest

from core.cli.main import main
from tests.test_locks import make_plate


def _temp_of(target, tag: str) -> str:
    """A temporary file named exactly as atomic_path names it for ``target`` (the same mkstemp call)."""
    fd, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}", dir=target.parent)
    os.write(fd, tag.encode())
    os.close(fd)
    return os.path.basename(name)


@pytest.mark.parametrize("force", [False, True])
def test_a_frame_jobs_own_temps_go_others_stay(tmp_path, force):
    pattern = make_plate(tmp_path / "in", 2)
    out = tmp_path / "out"
    out.mkdir()
    own = [_temp_of(out / "d.1001.exr", "killed"), _temp_of(out / "manifest.json", "killed")]
    other = [_temp_of(out / "e.1001.exr", "another job"), _temp_of(out / "d.1001.png", "another format")]
    argv = ["degrade", pattern, "d.####.exr", "--preset", "faded_16mm", "--seed", "7", "-o", str(out), "-q"]
    assert main(argv + (["--force"] if force else [])) == 0
    names = {p.name for p in out.iterdir()}
    assert not names & set(own) and set(other) <= names
    assert {"d.1001.exr", "d.1002.exr", "manifest.json"} <= names


def test_train_removes_its_own_temps(tmp_path):
    pytest.importorskip("torch")
    from tests.test_cli_train_infer import _config, pair as _pair
    from tests.test_no_overwrite import _Factory

    cfg = _config(tmp_path, _pair.__wrapped__(_Factory(tmp_path)))
    out = tmp_path / "out"
    (out / "checkpoints").mkdir(parents=True)
    own = [_temp_of(out / "model.onnx", "killed"), _temp_of(out / "model.pt", "killed")]
    ckpt = _temp_of(out / "checkpoints" / "step_00000002.pt", "killed")
    other = _temp_of(out / "notes.txt", "mine")
    assert main(["train", "--config", str(cfg), "--output-dir", str(out), "-q"]) == 0
    names = {p.name for p in out.iterdir()}
    assert not names & set(own) and other in names and (out / "model.pt").is_file()
    assert ckpt not in {p.name for p in (out / "checkpoints").iterdir()}
