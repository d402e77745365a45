"""How many threads a job may use: the cores that are free now, not the cores the machine has.

Artists run reelkit beside Nuke and renders. A job that sizes its thread
pools from ``os.cpu_count()`` on a machine where other work already holds
the cores oversubscribes them: the pools spin while they wait and the work
itself grows several-fold, not just the wait (measured: the demo's training
took 100 s quiet and 1007 s on a 2-core machine at load 6-7). So every
thread pool in reelkit (torch, onnxruntime, OpenCV, BLAS/OpenMP, the
per-frame worker pools) is sized by :func:`job_threads`:

1. an explicit request (a command's ``--threads N``, a config's ``threads``);
2. else ``$REELKIT_THREADS`` (a farm or an artist's cap for every command);
3. else the cores this process may run on (its CPU affinity) minus what
   other processes are using right now, at least 1. "Right now" is measured
   over :data:`SAMPLE_SECONDS` from ``/proc/stat`` less this process's own
   CPU time (Linux); elsewhere from the 1-minute load average.

Waiting is passive where it matters: :func:`passive_waiting` (called by the
CLI before torch is imported) sets ``OMP_WAIT_POLICY=PASSIVE`` for OpenMP
runtimes when other processes are using the machine (on a quiet machine
spinning is faster), and the onnxruntime sessions never spin.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator

from core.errors import ParameterError

#: Environment variable that caps every job's threads (an integer >= 1).
ENV = "REELKIT_THREADS"
#: How long the other processes' CPU use is sampled, in seconds.
SAMPLE_SECONDS = 0.25
#: Most threads a job takes without being asked (beyond this, per-frame work gains little).
MOST = 8


def usable_cores() -> int:
    """The CPUs this process may run on (its affinity; the CPU count where there is none)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def _proc_stat_busy() -> tuple[float, float] | None:
    """(busy, total) CPU seconds of the whole machine since boot, from ``/proc/stat``; ``None`` elsewhere."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = fh.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    ticks = [int(v) for v in fields[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    return (sum(ticks) - idle) / hz, sum(ticks) / hz


def busy_elsewhere(seconds: float = SAMPLE_SECONDS) -> float:
    """Cores that other processes keep busy now (a float >= 0).

    Linux: the machine's busy CPU time over ``seconds`` less this process's
    own (``os.times``), divided by the wall time. Elsewhere: the 1-minute
    load average (which counts this process too: an over-estimate, on the
    safe side). 0 where neither is known.
    """
    first = _proc_stat_busy()
    if first is None:
        try:
            return max(0.0, os.getloadavg()[0])
        except (AttributeError, OSError):  # pragma: no cover
            return 0.0
    own0, t0 = _own_cpu(), time.perf_counter()
    time.sleep(seconds)
    second = _proc_stat_busy()
    own1, t1 = _own_cpu(), time.perf_counter()
    if second is None:  # pragma: no cover - /proc vanished
        return 0.0
    others = (second[0] - first[0]) - (own1 - own0)
    return max(0.0, others / max(t1 - t0, 1e-6))


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system


def _from_env() -> int | None:
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return None
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise ParameterError(f"${ENV}={raw!r}: expected an integer >= 1 (the most threads a job may use)")
    return n


def job_threads(requested: int = 0, *, most: int = MOST) -> int:
    """Threads for one job: ``requested`` when > 0, else ``$REELKIT_THREADS``, else the free cores (module doc).

    Never more than the cores this process may use; never less than 1. ``most``
    caps the automatic choice only (an explicit request is the user's call).
    """
    if isinstance(requested, bool) or not isinstance(requested, int) or requested < 0:
        raise ParameterError(f"threads {requested!r}: expected an integer >= 0 (0 = the free cores)")
    cores = usable_cores()
    if requested:
        return min(requested, cores)
    env = _from_env()
    if env is not None:
        return min(env, cores)
    return max(1, min(most, cores, int(cores - _recent_busy() + 0.5)))


#: How long one measurement of the other processes' use stands (per-frame calls do not each sample).
REUSE_SECONDS = 5.0
_last: list[float] = []  # [when (perf_counter), busy cores]


def _recent_busy() -> float:
    now = time.perf_counter()
    if not _last or now - _last[0] > REUSE_SECONDS:
        _last[:] = [now, busy_elsewhere()]
    return _last[1]


def fixed_threads(requested: int = 0) -> int:
    """Threads for work whose bytes depend on the thread count (torch training: the gradients' sums are
    split by thread): ``requested`` when > 0, else ``$REELKIT_THREADS``, else 0 (the library's default,
    fixed per machine). Never the load-dependent count of :func:`job_threads`, so that the same run on the
    same machine gives the same bytes however busy the machine is; waiting stays passive."""
    if isinstance(requested, bool) or not isinstance(requested, int) or requested < 0:
        raise ParameterError(f"threads {requested!r}: expected an integer >= 0 (0 = the library's default)")
    if requested:
        return requested
    env = _from_env()
    return env if env is not None else 0


#: Other processes' use (cores) above which OpenMP runtimes are asked to wait passively.
PASSIVE_ABOVE = 0.5


def passive_waiting(busy: float | None = None) -> bool:
    """On a busy machine, ask OpenMP runtimes (torch's, OpenCV's, BLAS's) to sleep, not spin, while they wait.

    Measured with the demo at 300 training steps on 2 cores: quiet, spinning
    (libgomp's default) takes 42 s and passive 52 s (training 23 s against
    31 s: every small parallel region wakes its threads); with one core held
    by another process, spinning takes 78 s and passive 64 s. So the policy
    is set to ``PASSIVE`` only when other processes keep at least
    :data:`PASSIVE_ABOVE` cores busy when the command starts (``busy``, else
    measured over 0.1 s). A value the user set is kept. Takes effect for
    runtimes loaded after the call (the CLI calls it first). Returns whether
    waiting is passive.
    """
    if "OMP_WAIT_POLICY" in os.environ:
        return os.environ["OMP_WAIT_POLICY"].strip().upper() == "PASSIVE"
    if (busy_elsewhere(0.1) if busy is None else busy) < PASSIVE_ABOVE:
        return False
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return True


@contextlib.contextmanager
def limited(threads: int) -> Iterator[int]:
    """Within the block, torch (when imported), OpenCV and the BLAS/OpenMP pools use at most ``threads``."""
    import sys

    import cv2
    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")
    saved_cv, saved_torch = cv2.getNumThreads(), torch.get_num_threads() if torch is not None else None
    cv2.setNumThreads(threads)
    if torch is not None:
        torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield threads
    finally:
        cv2.setNumThreads(saved_cv)
        if torch is not None:
            torch.set_num_threads(saved_torch)


def onnx_session_options(ort, threads: int = 0, *, most: int = MOST):
    """``onnxruntime.SessionOptions`` for a CPU session: :func:`job_threads` intra-op threads (``threads`` 0 =
    the free cores), one inter-op thread, and no spinning while a thread waits (``ort`` is the module)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = job_threads(threads, most=most)
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options
