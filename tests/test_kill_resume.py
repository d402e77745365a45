"""A killed job resumes; SIGTERM stops like Ctrl-C (issue 15, items 2 and 3).

Real ``reelkit degrade`` subprocesses on real EXR frames (scikit-image's
chelsea), killed while they write. Before the journal, the manifest was
saved at most every 2 s, so frames written just before a SIGKILL were on
disk but unrecorded and the re-run refused them ("already exists (use
--force ...)"). Before the SIGTERM handler, SIGTERM ended the job with no
message, exit -15 and the manifest still saying "running".
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from core.manifest import Manifest
from tests.test_locks import ENV, REPO, degrade_argv, folder_bytes, make_plate, reelkit

N = 30


@pytest.fixture(scope="module")
def plate(tmp_path_factory):
    """N frames and the bytes of an uninterrupted degrade of them."""
    folder = tmp_path_factory.mktemp("kill")
    pattern = make_plate(folder / "in", N)
    ref = folder / "ref"
    subprocess.run(degrade_argv(pattern, ref), env=ENV, cwd=REPO, check=True)
    return pattern, folder_bytes(ref)


def _start_and_signal(pattern: str, out: Path, sig: int, after_frames: int) -> tuple[int, str, int]:
    """Start a degrade job, send ``sig`` once ``after_frames`` output frames exist; (exit status, stderr,
    frames on disk just after the signal)."""
    job = subprocess.Popen(degrade_argv(pattern, out), env=ENV, cwd=REPO, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(list(out.glob("d.*.exr"))) < after_frames and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    job.send_signal(sig)
    code = job.wait(timeout=120)
    return code, job.stderr.read(), len(list(out.glob("d.*.exr")))


def _rerun(pattern: str, out: Path) -> str:
    res = subprocess.run(degrade_argv(pattern, out)[:-1], env=ENV, cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return res.stdout


@pytest.mark.parametrize("after_frames", [1, 4, 9])
def test_sigkill_at_any_moment_then_the_rerun_finishes_only_the_missing_frames(plate, tmp_path, after_frames):
    pattern, reference = plate
    out = tmp_path / "out"
    code, _, on_disk = _start_and_signal(pattern, out, signal.SIGKILL, after_frames)
    assert code == -signal.SIGKILL and after_frames <= on_disk < N  # killed mid-job, frames unrecorded by the manifest
    said = _rerun(pattern, out)
    made, resumed = map(int, re.match(r"degraded (\d+) frame\(s\), (\d+) already done", said).groups())
    assert made + resumed == N and resumed >= on_disk - 1  # at most the frame in flight is made again
    assert folder_bytes(out) == reference
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "done" and all(r["status"] == "done" for r in manifest["frames"].values())
    # the dead job's lock, journal and temporary files are gone
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith("d.")) == ["manifest.json"]


def test_a_frame_written_but_never_recorded_is_made_again_not_refused(plate, tmp_path):
    """The state a SIGKILL leaves between a frame's rename and its record, built with the job's own
    calls: 1001 and 1002 journalled done, 1003 journalled started with its file on disk. The re-run
    adopts the first two and makes 1003 again (it is the job's own file) instead of refusing it."""
    pattern, reference = plate
    out = tmp_path / "out"
    subprocess.run(degrade_argv(pattern, out), env=ENV, cwd=REPO, check=True)
    finished = json.loads((out / "manifest.json").read_text())
    for p in [out / "manifest.json", *(out / f"d.{n}.exr" for n in range(1004, 1001 + N))]:
        p.unlink()
    killed = Manifest(out, "degrade", finished["config"], seed=finished["seed"])
    assert killed.config_hash == finished["config_hash"]
    for key in ("1001", "1002"):
        killed.frame_done(key, **{k: v for k, v in finished["frames"][key].items() if k != "status"})
    killed.frame_started("1003", input=finished["frames"]["1003"]["input"])
    killed.release()  # (a killed job's lock is stale; this process is alive, so give it back by hand)
    os.utime(out / "d.1003.exr", (0, 0))
    said = _rerun(pattern, out)
    assert said.startswith(f"degraded {N - 2} frame(s), 2 already done")
    assert (out / "d.1003.exr").stat().st_mtime > 0 and (out / "d.1001.exr").stat().st_mtime > 0
    assert folder_bytes(out) == reference


def test_sigterm_stops_like_ctrl_c_and_the_rerun_resumes(plate, tmp_path):
    pattern, reference = plate
    out = tmp_path / "out"
    code, err, on_disk = _start_and_signal(pattern, out, signal.SIGTERM, 3)
    assert code == 143 and err.strip() == "reelkit degrade: terminated"
    assert on_disk < N
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    done = [k for k, r in manifest["frames"].items() if r["status"] == "done"]
    assert len(done) >= on_disk - 1
    assert not [p.name for p in out.iterdir() if ".tmp" in p.name or p.suffix in (".journal", ".lock")]
    said = _rerun(pattern, out)
    assert f"{len(done)} already done" in said
    assert folder_bytes(out) == reference


def test_ctrl_c_exits_130_with_one_line(plate, tmp_path):
    pattern, _ = plate
    code, err, _ = _start_and_signal(pattern, tmp_path / "out", signal.SIGINT, 2)
    assert code == 130 and err.strip() == "reelkit degrade: interrupted"


PROBE = '''"""python -m probe ARGS: python -m core.cli.main ARGS, except that info first runs generated source
(exec of a string, as every dataclass and namedtuple definition does while a lazy import loads) in which SIGINT
arrives."""
import runpy

import core.cli.info as info

_run = info.run


def run(args):
    exec("import os, signal\\nos.kill(os.getpid(), signal.SIGINT)\\nfor _ in range(10 ** 6): pass")
    return _run(args)


info.run = run
runpy.run_module("core.cli.main", run_name="__main__", alter_sys=True)
'''


def test_ctrl_c_inside_generated_source_still_exits_130(tmp_path):
    """CPython 3.11 flags a KeyboardInterrupt that ends an exec/eval of a string as unhandled even when it
    is caught (an exact-type test in pythonrun.c's run_eval_code_obj; gh-128130), and ``python -m`` then
    kills itself with SIGINT at exit (the ``reelkit`` script, run as a file, exits through Py_Exit and never
    did): 2 of 30 Ctrl-Cs at random moments of a real ``python -m core.cli.main dataset run`` printed
    "interrupted" and ended by signal 2 (-2 to the parent), not 130; 0 of 30 with the handler raising
    core.cli.main.Interrupted. Here the SIGINT lands in such source every time."""
    (tmp_path / "probe.py").write_text(PROBE)
    png = tmp_path / "a.png"
    from core import io

    io.write_image(png, np.zeros((4, 4, 3), np.float32), colorspace="srgb", bit_depth=8)
    env = {**ENV, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    res = subprocess.run([sys.executable, "-m", "probe", "info", str(png)], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert (res.returncode, res.stderr.strip()) == (130, "reelkit info: interrupted")


def _palette_files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "manifest.json"}


@pytest.mark.parametrize(("sig", "after_frames"), [(signal.SIGINT, 1), (signal.SIGTERM, 2), (signal.SIGKILL, 3)])
def test_palette_encode_stopped_says_one_line_and_resumes_byte_identical(tmp_path, sig, after_frames):
    """palette encode writes a zip pack beside each frame: a signal mid-pack once gave a 'Can't close
    the ZIP file' traceback. Any signal: one line (or none for SIGKILL), then the re-run finishes."""
    pattern = make_plate(tmp_path / "in", 8)
    argv = reelkit("palette", "encode", pattern, "--k", "6", "-q")
    subprocess.run([*argv, "-o", str(tmp_path / "ref")], env=ENV, cwd=REPO, check=True, capture_output=True)
    out = tmp_path / "out"
    job = subprocess.Popen([*argv, "-o", str(out)], env=ENV, cwd=REPO, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(list(out.glob("plate.*.exr"))) < after_frames and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    job.send_signal(sig)
    code, err = job.wait(timeout=120), job.stderr.read()
    assert len(list(out.glob("plate.*.exr"))) < 8
    if sig == signal.SIGKILL:
        assert code == -sig
    else:
        word = "terminated" if sig == signal.SIGTERM else "interrupted"
        assert code == 128 + sig and err.strip() == f"reelkit palette: {word}", err
    res = subprocess.run([*argv, "-o", str(out)], env=ENV, cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert _palette_files(out) == _palette_files(tmp_path / "ref")
