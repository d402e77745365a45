"""core.threads: jobs size their thread pools from the cores free now, a cap the user sets, and wait passively.

Reference: a real busy process (a Python spin loop in a subprocess) that
takes one core; ``/proc/stat`` must see it, and not this test's own work.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from core import threads
from core.errors import ParameterError


def test_an_explicit_request_and_the_environment_cap_come_first(monkeypatch):
    monkeypatch.delenv(threads.ENV, raising=False)
    cores = threads.usable_cores()
    assert threads.job_threads(1) == 1
    assert threads.job_threads(10_000) == cores  # never more than the cores this process may use
    monkeypatch.setenv(threads.ENV, "1")
    assert threads.job_threads() == 1
    monkeypatch.setenv(threads.ENV, "zero")
    with pytest.raises(ParameterError, match=r"\$REELKIT_THREADS='zero': expected an integer >= 1"):
        threads.job_threads()
    with pytest.raises(ParameterError, match="threads -1"):
        threads.job_threads(-1)


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="measures with /proc/stat (Linux)")
def test_another_process_on_a_core_is_seen_and_our_own_work_is_not():
    quiet = threads.busy_elsewhere(0.5)
    if quiet > threads.usable_cores() - 1.3:
        pytest.skip(f"the machine is busy ({quiet:.1f} cores in use): one more process would not show")
    spin = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        busy = threads.busy_elsewhere(0.5)
    finally:
        spin.kill()
        spin.wait()
    assert busy > quiet + 0.6  # one core's worth, give or take the machine's own noise
    # this process spinning is not "elsewhere"
    t0 = time.perf_counter()
    first = threads._proc_stat_busy()
    while time.perf_counter() - t0 < 0.4:
        pass
    assert first is not None and threads.busy_elsewhere(0.3) < quiet + 0.6


def test_the_free_cores_shrink_when_another_process_holds_one(monkeypatch):
    monkeypatch.delenv(threads.ENV, raising=False)
    monkeypatch.setattr(threads, "usable_cores", lambda: 4)
    monkeypatch.setattr(threads, "_last", [])
    monkeypatch.setattr(threads, "busy_elsewhere", lambda seconds=0.25: 1.2)
    assert threads.job_threads() == 3
    monkeypatch.setattr(threads, "_last", [])
    monkeypatch.setattr(threads, "busy_elsewhere", lambda seconds=0.25: 7.0)
    assert threads.job_threads() == 1  # never less than one
    assert threads.job_threads(4) == 4  # an explicit request is the user's call


def test_onnxruntime_sessions_do_not_spin():
    ort = pytest.importorskip("onnxruntime")
    options = threads.onnx_session_options(ort, 1)
    assert options.intra_op_num_threads == 1 and options.inter_op_num_threads == 1
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_waiting_is_passive_only_on_a_busy_machine(monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert threads.passive_waiting(busy=0.1) is False and "OMP_WAIT_POLICY" not in os.environ
    assert threads.passive_waiting(busy=1.0) is True and os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "active")  # the user's choice stands
    assert threads.passive_waiting(busy=5.0) is False and os.environ["OMP_WAIT_POLICY"] == "active"


def test_the_cli_takes_one_threads_cap(tmp_path):
    code = ("import os, sys; from core.cli.main import main; "
            "import core.cli.info as info; "
            "info.run = lambda args: print(os.environ.get('OMP_WAIT_POLICY'), os.environ.get('REELKIT_THREADS')) or 0; "
            "sys.exit(main(sys.argv[1:]))")
    env = {k: v for k, v in os.environ.items() if k != threads.ENV}
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    out = subprocess.run([sys.executable, "-c", code, "--threads", "1", "info", "x.exr"], env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["PASSIVE", "1"]
    bad = subprocess.run([sys.executable, "-c", code, "--threads", "0", "info", "x.exr"], env=env,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "--threads 0: expected an integer >= 1" in bad.stderr


def test_training_threads_do_not_follow_the_load(monkeypatch):
    """torch's gradients change with the thread count (the sums are split by thread), so training takes a
    fixed count: the request, the cap, or the library's default, never the load-dependent one."""
    monkeypatch.delenv(threads.ENV, raising=False)
    monkeypatch.setattr(threads, "busy_elsewhere", lambda seconds=0.25: 100.0)
    assert threads.fixed_threads() == 0 and threads.fixed_threads(3) == 3
    monkeypatch.setenv(threads.ENV, "2")
    assert threads.fixed_threads() == 2
