"""core.jobs.run_frame_job's write-behind: ``process`` returns a future of the frame's record (its file still being
written by a pool of threads); at most ``behind`` frames unfinished, records and progress in task order, a failed
frame fails the job with its own error after the frames started before it are recorded."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.errors import ImageWriteError
from core.io.atomic import write_text_atomic
from core.jobs import FrameTask, run_frame_job
from core.manifest import Manifest

FRAMES = range(1001, 1008)


@pytest.fixture()
def tasks(tmp_path):
    """Seven frames: a text file each in, a text file each out."""
    (tmp_path / "in").mkdir()
    out = []
    for n in FRAMES:
        src = tmp_path / "in" / f"plate.{n}.txt"
        src.write_text(f"frame {n}\n")
        out.append(FrameTask(str(n), n, src, tmp_path / "out" / f"copy.{n}.txt"))
    return out


def copy(task: FrameTask) -> dict:
    write_text_atomic(task.target, task.source.read_text().upper(), overwrite=True)
    return {"copied": task.frame}


def test_frames_finishing_out_of_order_are_recorded_in_order_with_at_most_behind_unfinished(tasks, tmp_path):
    """Frame 1001 is written last (it waits for 1003's write); the records, the progress and the files are
    those of the synchronous run, and no more than 2 frames are ever unfinished when one is handed over."""
    sync = run_frame_job(Manifest(tmp_path / "sync", "copy", {}), [t._replace(target=tmp_path / "sync" / t.target.name)
                                                                    for t in tasks], copy)
    third_written, unfinished, seen = threading.Event(), [], []
    writers = ThreadPoolExecutor(3)
    futures = []

    def write(task):
        if task.frame == 1001:
            assert third_written.wait(30)
        record = copy(task)
        if task.frame == 1003:
            third_written.set()
        return record

    def process(task):
        unfinished.append(sum(not f.done() for f in futures))
        futures.append(writers.submit(write, task))
        return futures[-1]

    with writers:
        job = run_frame_job(Manifest(tmp_path / "out", "copy", {}), tasks, process, behind=2,
                            progress=lambda done, total, n: seen.append((done, n)))
    assert max(unfinished) <= 2
    assert seen == [(i + 1, n) for i, n in enumerate(FRAMES)]
    assert list(job.data["frames"]) == [str(n) for n in FRAMES] and job.data["status"] == "done"
    assert [r["copied"] for r in job.data["frames"].values()] == list(FRAMES)
    for n in FRAMES:
        assert (tmp_path / "out" / f"copy.{n}.txt").read_text() == (tmp_path / "sync" / f"copy.{n}.txt").read_text()
    assert [sorted(r) for r in job.data["frames"].values()] == [sorted(r) for r in sync.data["frames"].values()]


@pytest.mark.parametrize("behind", [0, 1, 3])
def test_a_failed_write_fails_the_job_on_its_frame_after_the_frames_started_are_recorded(tasks, tmp_path, behind):
    """Frame 1003's write fails: its one line is raised; 1001-1002 are done and so are the ``behind`` frames
    handed over after it (whatever the timing), nothing after those is started, and no partial file is left.
    The next run makes the missing frames only."""
    out = tmp_path / "out"
    writers = ThreadPoolExecutor(max(behind, 1))

    def write(task):
        if task.frame == 1003:
            raise ImageWriteError(f"{task.target}: OpenEXR could not write the file (disk full)")
        return copy(task)

    with writers, pytest.raises(ImageWriteError, match=r"^\S+copy\.1003\.txt: OpenEXR could not write"):
        run_frame_job(Manifest(out, "copy", {}), tasks, lambda t: writers.submit(write, t), behind=behind)
    frames = json.loads((out / "manifest.json").read_text())
    made = [n for n in FRAMES if n != 1003 and n <= 1003 + behind]
    assert frames["status"] == "failed" and frames["frames"]["1003"]["status"] == "started"
    assert [int(k) for k, r in frames["frames"].items() if r["status"] == "done"] == made
    assert sorted(p.name for p in out.glob("*.txt")) == [f"copy.{n}.txt" for n in made]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary file left
    again = run_frame_job(Manifest(out, "copy", {}), tasks, copy)
    assert [n for n in FRAMES if not again.data["frames"][str(n)].get("resumed")] == \
        [n for n in FRAMES if n not in made]
