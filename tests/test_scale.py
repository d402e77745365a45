"""Per-frame jobs on a Dask cluster (core.scale): the same files and manifest as a local run.

One real ``LocalCluster`` (2 worker processes x 1 thread) serves the module;
jobs reach it by its ``tcp://`` address, as a farm's scheduler is reached,
and one CLI run starts its own ``processes:2`` cluster. Inputs are real
photos (scikit-image's astronaut and coffee) cut into small numbered PNGs.
The reference for every distributed run is the same job run in process.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.cli.main import main
from core.convert import convert
from core.degrade.files import degrade_files
from core.errors import ParameterError, ReelkitError, SchedulerError
from core.jobs import FrameTask, run_frame_job
from core.manifest import Manifest
from core.scale import Scheduler, chunk_size, parse_scheduler, scheduler

skimage_data = pytest.importorskip("skimage.data")
distributed = pytest.importorskip("distributed")

#: Manifest entries that differ between any two runs (clock, command line) or between two folders' files' mtimes.
RUN_ONLY = ("timings", "argv")


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of 2 processes x 1 thread for the module; yields (address, client)."""
    import logging

    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=logging.ERROR, env={"REELKIT_THREADS": "1", "OMP_NUM_THREADS": "1"}) as lc:
        with Client(lc, set_as_default=False) as client:
            yield lc.scheduler_address, client


@pytest.fixture(scope="module")
def plates(tmp_path_factory) -> Path:
    """24 numbered 8-bit sRGB PNGs, 96x128 crops walking across scikit-image's astronaut and coffee photos."""
    folder = tmp_path_factory.mktemp("plates")
    photos = [skimage_data.astronaut(), skimage_data.coffee()]
    for i in range(24):
        photo = photos[i % 2]
        y, x = 8 * i, 12 * i
        cv2.imwrite(str(folder / f"plate.{1001 + i:04d}.png"), np.ascontiguousarray(photo[y:y + 96, x:x + 128, ::-1]))
    return folder


def _normalised(folder: Path) -> dict:
    """A folder's manifest without what differs between any two runs: clock, argv, the folder's own name in
    records, the outputs' mtimes (the content's size and sha256 stay)."""
    [path] = folder.glob("manifest*.json")  # manifest.json, or manifest.frames-A-B.json for a range
    data = json.loads(path.read_text("utf-8"))
    for key in RUN_ONLY:
        data.pop(key, None)
    for record in data["frames"].values():
        record.pop("seconds", None)
        record.pop("stages", None)  # infer's seconds per stage
        for fp in record["files"]["out"].values():
            fp.pop("mtime_ns")
    return json.loads(json.dumps(data).replace(str(folder), "OUT"))


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.suffix in (".exr", ".png", ".json")
            and not p.name.startswith("manifest")}


def test_scheduler_names():
    assert parse_scheduler(None) == parse_scheduler("local") == Scheduler("local")
    assert parse_scheduler("processes:3") == Scheduler("processes", workers=3)
    assert parse_scheduler("tcp://farm-head:8786") == Scheduler("tcp", address="tcp://farm-head:8786")
    for bad in ("processes:0", "processes:", "threads:2", "farm-head:8786", "tcp://", "http://h:1"):
        with pytest.raises(ParameterError, match="scheduler"):
            parse_scheduler(bad)


def test_chunks_are_small_enough_to_share_and_to_lose():
    assert [chunk_size(n, 2) for n in (1, 8, 9, 64, 200, 10_000)] == [1, 1, 2, 8, 15, 16]
    assert chunk_size(200, 2) * 14 >= 200 > chunk_size(200, 2) * 13  # 14 chunks: 7 for each thread, none idles


def test_bad_scheduler_value_is_one_line_naming_the_option(plates, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["convert", str(plates / "plate.####.png"), "x.####.exr", "--to", "ACEScg", "-o", str(out), "-q",
               "--scheduler", "threads:2"])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1
    assert "--scheduler 'threads:2'" in err and "processes:N" in err
    assert not out.exists()


def test_unreachable_scheduler_is_one_line_within_10_s_and_writes_nothing(plates, tmp_path, capsys):
    out = tmp_path / "out"
    t0 = time.perf_counter()
    rc = main(["convert", str(plates / "plate.####.png"), "x.####.exr", "--to", "ACEScg", "-o", str(out), "-q",
               "--scheduler", "tcp://127.0.0.1:1"])
    seconds = time.perf_counter() - t0
    err = capsys.readouterr().err.strip()
    assert rc == 1 and seconds < 10, (rc, seconds)
    assert len(err.splitlines()) == 1 and "tcp://127.0.0.1:1" in err and "no Dask scheduler" in err, err
    assert not out.exists()


def test_a_scheduler_without_workers_is_one_line_before_anything_is_written(plates, tmp_path):
    import logging

    from distributed import LocalCluster

    with LocalCluster(n_workers=0, processes=True, dashboard_address=":0", silence_logs=logging.ERROR) as empty:
        t0 = time.perf_counter()
        with pytest.raises(SchedulerError, match="has no worker"), scheduler(empty.scheduler_address):
            convert(str(plates / "plate.####.png"), "c.####.exr", output_dir=tmp_path / "out")
        assert time.perf_counter() - t0 < 10
    assert not (tmp_path / "out").exists()


def test_degrade_on_the_cluster_equals_the_local_run(cluster, plates, tmp_path):
    """Seeded damage drawn in two worker processes: the same bytes and the same manifest as in process, and
    progress comes back frame by frame up to the total."""
    address, _ = cluster
    job = dict(preset="dusty_35mm", seed=7, frames="1001-1020")
    degrade_files(str(plates / "plate.####.png"), "d.####.exr", output_dir=tmp_path / "local", **job)
    seen = []
    with scheduler(address):
        degrade_files(str(plates / "plate.####.png"), "d.####.exr", output_dir=tmp_path / "dask", **job,
                      progress=lambda done, total, frame: seen.append((done, total)))
    assert _files(tmp_path / "dask") == _files(tmp_path / "local") and len(_files(tmp_path / "local")) == 20
    assert _normalised(tmp_path / "dask") == _normalised(tmp_path / "local")
    assert [d for d, _ in seen] == list(range(1, 21)) and {t for _, t in seen} == {20}


def test_resume_on_the_cluster_adopts_what_a_local_run_did(cluster, plates, tmp_path):
    """Half the frames made in process, the rest on the cluster: one manifest, nothing made twice."""
    address, _ = cluster
    src = str(plates / "plate.####.png")
    convert(src, "c.####.exr", output_dir=tmp_path / "ref", params={"target": "ACEScg"})
    convert(src, "c.####.exr", output_dir=tmp_path / "out", params={"target": "ACEScg"}, frames="1001-1012")
    with scheduler(address):
        manifest = convert(src, "c.####.exr", output_dir=tmp_path / "out", params={"target": "ACEScg"})
    frames = manifest.data["frames"]
    assert sum(bool(r.get("resumed")) for r in frames.values()) == 12 and len(frames) == 24
    assert _files(tmp_path / "out") == _files(tmp_path / "ref")


def test_infer_cli_on_processes_2_equals_the_local_run(plates, tmp_path):
    """``reelkit infer --scheduler processes:2`` starts its own LocalCluster: the shipped model restores the
    same bytes as in process, and the manifest keeps the runtime a worker reported."""
    common = ["infer", "--model", "film_restore", str(plates / "plate.####.png"), "r.####.exr",
              "--frames", "1001-1008", "--threads", "1", "-q"]
    assert main([*common, "-o", str(tmp_path / "local")]) == 0
    assert main([*common, "-o", str(tmp_path / "dask"), "--scheduler", "processes:2"]) == 0
    assert _files(tmp_path / "dask") == _files(tmp_path / "local") and len(_files(tmp_path / "local")) == 8
    local, dask = _normalised(tmp_path / "local"), _normalised(tmp_path / "dask")
    for data in (local, dask):
        assert data["runtime"]["threads"] == 1
        data["runtime"].pop("load_seconds")
    assert dask == local


def test_each_run_on_warm_workers_builds_and_reports_its_own_session(cluster, plates, tmp_path):
    """The same infer job twice on the same workers: each run's manifest says what its workers ran (a worker
    keeps a run's frame function only for that run)."""
    from core.infer import infer_files

    address, _ = cluster
    with scheduler(address):
        for name in ("first", "second"):
            manifest = infer_files("film_restore", str(plates / "plate.####.png"), output_dir=tmp_path / name,
                                   output="r.####.exr", frames="1001-1004", params={"threads": 1})
            assert manifest.data["runtime"]["threads"] == 1 and "_job" not in manifest.data["frames"]["1001"]
    assert _files(tmp_path / "first") == _files(tmp_path / "second")


def test_validate_per_frame_metrics_on_the_cluster_equal_the_local_run(cluster, tmp_path):
    """validate's per-frame step (baselines, metrics, crops) made in the workers: the same metric files,
    baseline EXRs and frame records as in process."""
    from core import io
    from core.color import convert as convert_pixels
    from core.validate import run_validation

    plate = convert_pixels(skimage_data.coffee()[::3, ::3].astype(np.float32) / 255, "srgb", "ACEScg")
    matrix = np.array([[0.85, 0.10, 0.0], [0.05, 0.80, 0.05], [0.0, 0.12, 0.70]], np.float32)  # a faded print
    for i, n in enumerate(range(1001, 1007)):
        ref = np.ascontiguousarray(plate[20:92, 10 + 2 * i:106 + 2 * i], np.float32)
        io.write_image(tmp_path / "ref" / f"ref.{n}.exr", ref, colorspace="ACEScg", pixel_type="float")
        io.write_image(tmp_path / "src" / f"src.{n}.exr", (ref @ matrix.T).astype(np.float32), colorspace="ACEScg",
                       pixel_type="float")
    address, _ = cluster
    job = dict(sources=tmp_path / "src" / "src.####.exr", references=tmp_path / "ref" / "ref.####.exr",
               baselines=("grade_matrix",), params={"compare_frames": 2, "crop_size": 32})
    run_validation(output_dir=tmp_path / "local", **job)
    with scheduler(address):
        run_validation(output_dir=tmp_path / "dask", **job)
    for sub in ("frames", "baselines/grade_matrix"):
        local, dask = _files(tmp_path / "local" / sub), _files(tmp_path / "dask" / sub)
        assert dask == local and len(local) == 6, sub
    local, dask = _normalised(tmp_path / "local"), _normalised(tmp_path / "dask")
    assert dask["frames"] == local["frames"] and dask["config_hash"] == local["config_hash"]


def test_chunks_that_need_a_gpu_go_to_the_gpu_worker_only(cluster, plates, tmp_path):
    """A third worker started the farm's way (``dask worker --resources GPU=1``) joins the module's cluster;
    a job whose chunks need ``GPU=1`` (infer with provider cuda) is made by it alone. A resource no worker
    offers is one line before anything is written."""
    import subprocess
    import sys

    address, client = cluster
    tasks = [FrameTask(str(n), n, plates / f"plate.{n}.png", tmp_path / "out" / f"pid.{n}.txt")
             for n in range(1001, 1009)]

    def process(task):
        task.target.parent.mkdir(parents=True, exist_ok=True)
        task.target.write_text(str(os.getpid()))
        return {}

    with scheduler(address), pytest.raises(SchedulerError, match="no Dask worker offers TPU=1"):
        run_frame_job(Manifest(tmp_path / "none", "probe", {}), tasks, process, resources={"TPU": 1})
    assert not (tmp_path / "none").exists()
    worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                               "--resources", "GPU=1", "--no-dashboard"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env={**os.environ, "REELKIT_THREADS": "1"})
    try:
        client.wait_for_workers(3, timeout=60)
        gpu = [a for a, w in client.scheduler_info(n_workers=-1)["workers"].items() if w.get("resources")]
        gpu_pid = client.run(os.getpid, workers=gpu)[gpu[0]]
        with scheduler(address):
            run_frame_job(Manifest(tmp_path / "out", "probe", {}), tasks, process, resources={"GPU": 1})
        assert {t.target.read_text() for t in tasks} == {str(gpu_pid)}
    finally:
        worker.terminate()
        worker.wait(timeout=60)


def test_a_job_that_cannot_travel_is_one_line_and_writes_nothing(cluster, plates, tmp_path):
    address, _ = cluster
    lock = threading.Lock()
    task = FrameTask("1001", 1001, plates / "plate.1001.png", tmp_path / "out" / "x.txt")
    manifest = Manifest(tmp_path / "out", "probe", {})

    def process(t):
        with lock:
            t.target.write_text("x")
        return {}

    with scheduler(address), pytest.raises(SchedulerError, match="probe: these frames cannot be sent"):
        run_frame_job(manifest, [task], process)
    assert not (tmp_path / "out").exists()


def test_a_frame_that_fails_on_a_worker_fails_the_job_with_its_own_error(cluster, plates, tmp_path):
    """A frame whose input is unreadable raises its one-line error here; the job is called off, and every file
    the workers wrote is recorded (done or started), so the run after the input is fixed resumes and replaces."""
    address, _ = cluster
    bad = tmp_path / "plates"
    bad.mkdir()
    for n in range(1001, 1009):
        (bad / f"plate.{n:04d}.png").write_bytes((plates / f"plate.{n:04d}.png").read_bytes())
    (bad / "plate.1004.png").write_bytes(b"not a png")
    src, out = str(bad / "plate.####.png"), tmp_path / "out"
    with scheduler(address), pytest.raises(ReelkitError, match="plate.1004.png"):
        convert(src, "c.####.exr", output_dir=out, params={"target": "ACEScg"})
    written = {p.name for p in out.glob("*.exr")} if out.exists() else set()
    if (out / "manifest.json").exists():
        data = json.loads((out / "manifest.json").read_text("utf-8"))
        assert data["status"] == "failed" and data["frames"]["1004"]["status"] == "started"
        assert written <= {f"c.{k}.exr" for k in data["frames"]}
    else:  # the bad frame came back first and nothing was made: the folder is left as it was
        assert not written
    (bad / "plate.1004.png").write_bytes((plates / "plate.1004.png").read_bytes())
    with scheduler(address):
        manifest = convert(src, "c.####.exr", output_dir=out, params={"target": "ACEScg"})
    assert manifest.data["status"] == "done" and len(manifest.data["frames"]) == 8


def kill_a_busy_worker(client) -> list[int]:
    """SIGKILL the process of a worker of ``client``'s cluster that holds work; its pid, or none when none does."""
    busy = [w for w, keys in client.processing().items() if keys]
    if not busy:
        return []
    pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
    os.kill(pid, signal.SIGKILL)
    return [pid]


def test_a_worker_killed_mid_job_loses_only_its_chunk(cluster, plates, tmp_path):
    """SIGKILL one worker process while it holds frames: Dask runs its chunk again on the other, the job
    completes with the local run's bytes, and no frame is reported or recorded twice."""
    address, client = cluster
    job = dict(preset="super8_home_movie", seed=3)
    degrade_files(str(plates / "plate.####.png"), "k.####.exr", output_dir=tmp_path / "local", **job)
    killed = []
    seen = []

    def progress(done, total, frame):
        seen.append(frame)
        if not killed:  # the first chunk is back: kill a worker that still holds work
            killed.extend(kill_a_busy_worker(client))

    with scheduler(address):
        manifest = degrade_files(str(plates / "plate.####.png"), "k.####.exr", output_dir=tmp_path / "dask", **job,
                                 progress=progress)
    assert killed, "no worker held work when the first chunk came back"
    assert sorted(seen) == list(range(1001, 1025))  # every frame reported once
    assert manifest.data["status"] == "done" and len(manifest.data["frames"]) == 24
    assert _files(tmp_path / "dask") == _files(tmp_path / "local")
    assert _normalised(tmp_path / "dask") == _normalised(tmp_path / "local")
    client.wait_for_workers(2, timeout=60)  # the nanny restarts the killed one
