"""Staged runs (core.stages): records written before core.stages existed still read as done.

tests/data/golden_stages/project is a restore project all five stages of
which were run by reelkit at 727f173 (tests/data/golden_stages/make_golden.py:
the tiny demo film of test_pipeline_project, inputs given relative to the
project folder so that the stage-1 parameter hash does not depend on where
the test runs). The files its status reads whole (project.json, every
stage.json, pairs.json, the stage 2 and 4 job manifests, model.onnx,
metrics.json) are kept byte for byte; every other file is recreated from
placeholders.json with its recorded size and modification time (the input
digest reads names, sizes and times; the output digests check that files
exist). tests/data/golden_stages/dataset holds a dataset run's stage
manifests of that time (see the test that reads them).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "data" / "golden_stages" / "project"


@pytest.fixture
def golden_project(tmp_path, monkeypatch):
    dst = tmp_path / "golden"
    shutil.copytree(GOLDEN, dst, ignore=shutil.ignore_patterns("placeholders.json"))
    for rel, (size, mtime_ns) in json.loads((GOLDEN / "placeholders.json").read_text("utf-8")).items():
        path = dst / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            f.truncate(size)
        os.utime(path, ns=(mtime_ns, mtime_ns))
    monkeypatch.chdir(dst)  # project.json names its inputs relative to the project folder
    return dst


def test_stage_records_written_before_core_stages_are_still_done(golden_project):
    from core.pipeline.project import project_status, run_project

    status = project_status(".")
    assert [s.state for s in status] == ["done"] * 5, [s.line() for s in status]
    assert status[1].counts == {"frames": 18, "aligned": 18, "failed": 0}
    before = {p: p.read_bytes() for p in golden_project.glob("pipeline/*/stage.json")}
    calls = []
    run_project(".", "1-5", progress=lambda n, d, t, info: calls.append((n, info)))
    assert calls == [(n, "done already, skipped") for n in range(1, 6)]
    assert {p: p.read_bytes() for p in golden_project.glob("pipeline/*/stage.json")} == before


def test_a_changed_input_makes_the_golden_project_stale(golden_project):
    from core.pipeline.project import project_status

    frame = golden_project / "inputs" / "scan" / "scan.1001.exr"
    st = frame.stat()
    os.utime(frame, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    status = project_status(".")
    assert status[0].state == "stale" and status[0].reason == "the source or reference files changed"
    assert [s.reason for s in status[1:]] == [f"stage {n} is stale" for n in range(1, 5)]


def test_judge_takes_the_first_failing_check_and_evaluates_no_later_one():
    from core.stages import DONE, STALE, Judgement, judge

    called = []
    late = lambda: called.append(1) or True  # noqa: E731
    assert judge(None) == Judgement("not run")
    assert judge(None, missing="not started") == Judgement("not started")
    assert judge("failed", [(False, "never asked")], error="boom") == Judgement("failed", "boom")
    assert judge("running") == Judgement("running")
    assert judge(DONE, [(True, "a"), (False, "b"), (late, "c")]) == Judgement(STALE, "b") and not called
    assert judge(DONE, [(True, "a"), (late, "c")]).done and called == [1]


def test_upstream_checks_and_the_resume_rule():
    from core.stages import FAILED, RUNNING, fresh_run, failure, judge, same_setup, upstream_checks

    stale = judge("done", upstream_checks("cluster", "stale", "h1", "h1", changed="x"))
    assert stale.reason == "stage cluster is stale"
    changed = judge("done", upstream_checks("2", "done", "h1", "h2", changed="stage 2 changed"))
    assert changed.reason == "stage 2 changed"
    assert judge("done", upstream_checks(None, None, "h1", "h1", changed="x")).done
    setup = {"params_hash": "p", "upstream": "u"}
    assert same_setup({**setup, "status": "failed"}, setup) and not same_setup(None, setup)
    assert not same_setup({"params_hash": "p", "upstream": "v"}, setup)
    assert not fresh_run({**setup}, setup, force=False) and fresh_run({**setup}, setup, force=True)
    assert fresh_run({"params_hash": "q", "upstream": "u"}, setup, force=False) and fresh_run(None, setup, force=False)
    assert failure(ValueError("bad frame 3")) == (FAILED, "bad frame 3")
    assert failure(RuntimeError()) == (FAILED, "RuntimeError")
    assert failure(KeyboardInterrupt()) == (RUNNING, "interrupted")


def test_dataset_stage_manifests_written_before_core_stages_read_the_same(tmp_path):
    """tests/data/golden_stages/dataset: a dataset run's manifests at 1f84424 (make_dataset_golden.py, the
    footage and PARAMS of test_dataset_builder) and dataset_status's rows for them then: all done, and with
    the cluster stage redone since (another config hash) caption and assemble stale, with the same reasons."""
    from core.dataset import dataset_status

    golden = GOLDEN.parent / "dataset"
    expected = json.loads((golden / "status.json").read_text("utf-8"))
    assert dataset_status(golden) == expected and {r["status"] for r in expected} == {"done"}
    redone = tmp_path / "redone"
    shutil.copytree(golden, redone)
    m = json.loads((redone / "cluster" / "manifest.json").read_text("utf-8"))
    m["config_hash"] = "0" * 64
    (redone / "cluster" / "manifest.json").write_text(json.dumps(m, indent=1) + "\n")
    assert dataset_status(redone) == json.loads((golden / "status_cluster_redone.json").read_text("utf-8"))
