"""One writer per output folder: two real jobs at once, stale locks, frame-range locks (issue 15, item 1).

Before the lock, two identical jobs on one folder both ran: per-frame jobs
raced on every file and manifest, and two ``dataset run`` jobs lost the
training set (one deleting ``dataset/`` while the other wrote it). Now the
second job is refused with one line before it writes anything.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import io
from core.errors import OutputLockedError
from core.manifest import OutputLock, lock_name
from tests.conftest import REPO, srgb_sample

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


def make_plate(folder: Path, n: int) -> str:
    """``n`` float EXR frames 451x300 (1001...) from scikit-image's chelsea, each a little brighter."""
    base = srgb_sample("chelsea.png")
    pattern = str(folder / "plate.####.exr")
    for i in range(n):
        io.write_image(io.sequence_path(pattern, 1001 + i), base * (1.0 + 0.01 * i), colorspace="ACEScg",
                       pixel_type="float")
    return pattern


def reelkit(*argv: str) -> list[str]:
    """The console command as a subprocess argv."""
    return [sys.executable, "-m", "core.cli.main", *argv]


def degrade_argv(pattern: str, out: Path, *extra: str) -> list[str]:
    return reelkit("degrade", pattern, "d.####.exr", "--preset", "faded_16mm", "--seed", "7", "-o", str(out), "-q",
                   *extra)


def folder_bytes(folder: Path) -> dict[str, bytes]:
    """Every frame file of a folder by name (manifests, journals and locks left out)."""
    return {p.name: p.read_bytes() for p in sorted(folder.glob("d.*.exr"))}


@contextlib.contextmanager
def held_by_another_process(folder: Path, command: str, frame_range: str | None = None) -> Iterator[int]:
    """A live process holding ``folder``'s lock (or a frame range's) until the block ends; yields its pid."""
    code = ("import sys; from core.manifest import OutputLock; "
            f"OutputLock({str(folder)!r}, {command!r}, frame_range={frame_range!r}).acquire(); "
            "print('held', flush=True); sys.stdin.read()")
    holder = subprocess.Popen([sys.executable, "-c", code], env=ENV, cwd=REPO, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        yield holder.pid
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(proc.stdout)


def test_two_degrade_jobs_at_once_one_is_refused_and_the_other_is_whole(tmp_path):
    pattern = make_plate(tmp_path / "in", 40)
    ref = tmp_path / "ref"
    assert subprocess.run(degrade_argv(pattern, ref), env=ENV, cwd=REPO).returncode == 0
    out = tmp_path / "out"
    jobs = [subprocess.Popen(degrade_argv(pattern, out), env=ENV, cwd=REPO, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    results = [(job.wait(timeout=300), job.stderr.read()) for job in jobs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 1], results
    refused = next(err for code, err in results if code == 1)
    lines = [line for line in refused.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("reelkit degrade: error: ") and "in use by another job" in lines[0]
    assert "pid" in lines[0] and socket.gethostname() in lines[0]
    assert folder_bytes(out) == folder_bytes(ref) and len(folder_bytes(out)) == 40
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "done" and len(manifest["frames"]) == 40
    assert not (out / lock_name()).exists() and not (out / "manifest.journal").exists()


def test_two_dataset_runs_at_once_one_is_refused_and_the_set_is_whole(tmp_path):
    from tests.test_dataset_footage import make_footage
    from tests.test_dataset_builder import PARAMS

    footage = make_footage(tmp_path / "footage")
    opts = ["--extract-mode", PARAMS["extract_mode"], "--per-shot-budget", str(PARAMS["per_shot_budget"]),
            "--min-cluster-size", str(PARAMS["min_cluster_size"]), "--umap-components", "0"]
    out = tmp_path / "ds"
    argv = reelkit("dataset", "run", *map(str, footage.videos), *opts, "-o", str(out), "-q")
    jobs = [subprocess.Popen(argv, env=ENV, cwd=REPO, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(job.wait(timeout=600), job.stderr.read()) for job in jobs]
    assert sorted(code for code, _ in results) == [0, 1], results
    refused = next(err for code, err in results if code == 1)
    assert "in use by another job" in refused and len(refused.strip().splitlines()) == 1
    listed = (out / "dataset" / "train.txt").read_text().split()
    assert listed and all((out / "dataset" / name).is_file() for name in listed)
    status = subprocess.run(reelkit("dataset", "status", str(out)), env=ENV, cwd=REPO, capture_output=True,
                            text=True, check=True).stdout
    assert [line.split()[1] for line in status.splitlines()] == ["done"] * 8, status


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    pattern = make_plate(tmp_path / "in", 2)
    out = tmp_path / "out"
    out.mkdir()
    (out / lock_name()).write_text(json.dumps({"pid": _dead_pid(), "host": socket.gethostname(),
                                               "command": "degrade", "started": "earlier"}))
    assert subprocess.run(degrade_argv(pattern, out), env=ENV, cwd=REPO).returncode == 0
    assert len(folder_bytes(out)) == 2 and not (out / lock_name()).exists()


def test_a_live_lock_refuses_and_touches_nothing(tmp_path):
    pattern = make_plate(tmp_path / "in", 2)
    out = tmp_path / "out"
    with held_by_another_process(out, "convert") as pid:
        before = sorted(p.name for p in out.iterdir())
        res = subprocess.run(degrade_argv(pattern, out), env=ENV, cwd=REPO, capture_output=True, text=True)
        assert res.returncode == 1
        assert res.stderr.strip() == (
            f"reelkit degrade: error: {out}: this folder in use by another job (convert, pid {pid} on "
            f"{socket.gethostname()}, since {json.loads((out / lock_name()).read_text())['started']}); wait for it "
            f"to finish, or delete {out / lock_name()} if that job is gone")
        assert sorted(p.name for p in out.iterdir()) == before == [lock_name()]
        with pytest.raises(OutputLockedError):
            OutputLock(out, "degrade").acquire()
    lock = OutputLock(out, "degrade")
    lock.acquire()  # the holder is gone: stale, taken over
    assert json.loads((out / lock_name()).read_text())["pid"] == os.getpid()
    lock.release()


def test_another_hosts_lock_is_trusted(tmp_path):
    (tmp_path / lock_name()).write_text(json.dumps({"pid": _dead_pid(), "host": "render-node-7",
                                                    "command": "infer", "started": "t"}))
    with pytest.raises(OutputLockedError, match="pid .* on render-node-7"):
        OutputLock(tmp_path, "convert").acquire()


def test_frame_ranges_share_a_folder_but_not_with_a_whole_job(tmp_path):
    with held_by_another_process(tmp_path, "degrade", "1001-1010"):
        other = OutputLock(tmp_path, "degrade", frame_range="1011-1020")
        other.acquire()  # another range: fine
        with pytest.raises(OutputLockedError, match="frames 1001-1010 in use"):
            OutputLock(tmp_path, "degrade", frame_range="1001-1010").acquire()
        with pytest.raises(OutputLockedError, match="frames 1001-1010 in use"):
            OutputLock(tmp_path, "degrade").acquire()
        other.release()
        assert not (tmp_path / lock_name("1011-1020")).exists()


def test_a_job_inside_another_shares_its_lock_and_only_the_outer_one_gives_it_back(tmp_path):
    outer = OutputLock(tmp_path, "demo")
    outer.acquire()
    inner = OutputLock(tmp_path, "restore run")
    inner.acquire()  # same process: one owner
    inner.release()
    assert json.loads((tmp_path / lock_name()).read_text())["command"] == "demo"
    outer.release()
    assert not (tmp_path / lock_name()).exists()


def test_two_restore_runs_of_one_project(tmp_path):
    """The project folder is locked for a run: a second ``restore run`` stops before judging any stage."""
    from core.pipeline.project import FORMAT, run_project

    (tmp_path / "project.json").write_text(json.dumps({"format": FORMAT.tag, "source": "scan.####.exr",
                                                       "reference": "telecine.####.png"}))
    with held_by_another_process(tmp_path, "restore run"), pytest.raises(OutputLockedError, match="restore run, pid"):
        run_project(tmp_path, "1")


def test_a_stage_folder_is_built_aside_and_swapped_in_whole(tmp_path):
    from core.io.atomic import building_dir

    target = tmp_path / "dataset"
    target.mkdir()
    (target / "old.png").write_bytes(b"old")
    (tmp_path / ".dataset.building").mkdir()  # left by a killed run
    (tmp_path / ".dataset.building" / "half.png").write_bytes(b"half")
    with pytest.raises(RuntimeError), building_dir(target) as dest:
        assert list(dest.iterdir()) == []  # the killed run's half folder is gone
        (dest / "new.png").write_bytes(b"new")
        raise RuntimeError("assembly failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset"] and (target / "old.png").read_bytes() == b"old"
    with building_dir(target) as dest:
        (dest / "new.png").write_bytes(b"new")
        assert (target / "old.png").exists()  # readers see the old set until the swap
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]
    assert [p.name for p in target.iterdir()] == ["new.png"]


def test_no_lock_is_left_behind_by_a_command_that_amends_its_finished_manifest(tmp_path):
    """palette encode saves its manifest again after the frame job finished: the lock is taken for that
    write only."""
    from core import io as rio
    from core.cli.main import main

    rio.write_image(tmp_path / "in.png", srgb_sample("coffee.png")[::4, ::4], colorspace="srgb")
    assert main(["palette", "encode", str(tmp_path / "in.png"), "--k", "8", "-o", str(tmp_path / "out"), "-q"]) == 0
    names = [p.name for p in (tmp_path / "out").iterdir()]
    assert "manifest.json" in names and not [n for n in names if n.startswith(".") or n.endswith(".journal")]
