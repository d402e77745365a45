"""Where per-frame work runs: in this process (the default) or on a Dask cluster.

Every per-frame job (:func:`core.jobs.run_frame_job`: ``convert``,
``degrade``, ``align``, ``infer``, ``palette encode``, ...) is a list of
frame tasks, each a pure function of (inputs, parameters). Inside
:func:`scheduler` those tasks go to a Dask cluster in chunks of frames; the
client keeps the manifest (resume, locks, journal), so the folder ends as a
local run leaves it, and a killed worker loses only the chunk it held, which
Dask runs again elsewhere (each frame is written atomically, so a chunk done
twice writes the same files twice, never half of one).

Work that is not a per-frame job with a manifest of its own (the dataset
builder's extract, filter, embed and dedup candidate search) goes the same
way through :func:`map_in_order`: units that are pure functions of their
value, results handed back in the local order.

The scheduler is named by a string (:data:`SCALE_PARAMS`, the CLI's ``--scheduler``):

- ``local``: in this process, frame after frame; nothing of Dask is imported.
- ``processes:N``: a Dask ``LocalCluster`` of N worker processes of one thread
  each on this machine, started for the block and closed after it; each worker's
  thread pools (onnxruntime, OpenCV) get ``cores // N`` threads, the cores
  being ``$REELKIT_THREADS`` or else the usable ones (:data:`core.threads.ENV`).
- ``tcp://host:port``: a running Dask scheduler (``dask scheduler`` plus
  ``dask worker`` processes). Its workers must see the job's files under the same
  paths (shared storage) and have reelkit installed.

>>> parse_scheduler("processes:4")
Scheduler(kind='processes', workers=4, address=None)
>>> with scheduler("local") as client:
...     print(client, current())
None None
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import math
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from core.errors import ParameterError, SchedulerError, require
from core.params import Param, ParamSet

#: The job option every per-frame command shares (CLI ``--scheduler``).
SCALE_PARAMS = ParamSet("scale", [
    Param("scheduler", str, "local", "where the frames are made: local (this process), processes:N (N Dask worker "
          "processes on this machine), tcp://host:port (a running Dask scheduler whose workers see the same files)"),
])
#: Seconds to wait for a ``tcp://`` scheduler to answer before giving up.
CONNECT_TIMEOUT_S = 5
#: Most frames in one chunk (one Dask task): what a killed worker can lose, and how often progress comes back.
CHUNK_MAX = 16
#: Chunks per worker thread the work is cut into at least (so the faster workers take more).
CHUNKS_PER_THREAD = 4
#: Seconds a job called off waits for its workers to hand over the frames they were making.
DRAIN_S = 60
#: Seconds between a worker's questions whether the job was called off (one scheduler round trip each).
STOP_CHECK_S = 1.0

_ADDRESS = re.compile(r"^(tcp|tls)://[^\s:/]+(:\d{1,5})?$")
_CLIENT: contextvars.ContextVar[Any] = contextvars.ContextVar("reelkit_scheduler", default=None)


class Scheduler(NamedTuple):
    """A parsed scheduler name: ``kind`` is ``local``, ``processes`` (``workers``) or ``tcp`` (``address``)."""

    kind: str
    workers: int | None = None
    address: str | None = None


def parse_scheduler(value: str | None, *, name: str = "scheduler") -> Scheduler:
    """``local`` (or ``None``), ``processes:N`` (N >= 1) or ``tcp://host:port``; else one
    :class:`~core.errors.ParameterError` line naming ``name``."""
    text = "local" if value is None else str(value).strip()
    if text == "local":
        return Scheduler("local")
    if text.startswith("processes:"):
        count = text.partition(":")[2]
        if count.isdigit() and int(count) >= 1:
            return Scheduler("processes", workers=int(count))
    elif _ADDRESS.match(text):
        return Scheduler("tcp", address=text)
    raise ParameterError(f"{name} {value!r}: expected local, processes:N (N >= 1) or tcp://host:port")


def current() -> Any:
    """The Dask client of the innermost :func:`scheduler` block, or ``None`` (frames are made in this process)."""
    return _CLIENT.get()


@contextlib.contextmanager
def scheduler(value: str | None = None, *, name: str = "scheduler") -> Iterator[Any]:
    """Run the per-frame jobs of the block on ``value``'s scheduler (:func:`parse_scheduler`); yields the
    Dask client (``None`` for ``local``).

    The cluster is reached (or started) on entry, before the block writes
    anything: an address where no scheduler answers, or whose scheduler has
    no worker, raises one :class:`~core.errors.SchedulerError` line within
    :data:`CONNECT_TIMEOUT_S` (each).
    A cluster started here (``processes:N``) is closed on exit.
    """
    spec = parse_scheduler(value, name=name)
    if spec.kind == "local":
        yield None
        return
    require("distributed", "scale")
    import logging

    from distributed import Client, LocalCluster

    from core.threads import ENV, usable_cores

    cluster = None
    if spec.kind == "processes":
        import dask

        threads = max(1, min(int(os.environ.get(ENV) or 0) or usable_cores(), usable_cores()) // spec.workers)
        # no statistical profiler in the workers (it samples the frames' thread every 10 ms for a dashboard
        # nobody watches: 48 infer frames took 1.66 s of worker CPU without it, 2.0 s with it)
        with dask.config.set({"distributed.worker.profile.enabled": False}):
            cluster = LocalCluster(n_workers=spec.workers, threads_per_worker=1, processes=True,
                                   dashboard_address=":0", silence_logs=logging.ERROR, env={ENV: str(threads)})
        client = Client(cluster, set_as_default=False)
    else:
        try:
            client = Client(spec.address, timeout=f"{CONNECT_TIMEOUT_S}s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise SchedulerError(f"{name} {spec.address}: no Dask scheduler answers there within "
                                 f"{CONNECT_TIMEOUT_S} s ({type(exc).__name__})") from None
        try:
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)  # else the chunks would wait for ever
        except TimeoutError:
            client.close()
            raise SchedulerError(f"{name} {spec.address}: the Dask scheduler there has no worker "
                                 f"(none joined within {CONNECT_TIMEOUT_S} s)") from None
    token = _CLIENT.set(client)
    try:
        yield client
    finally:
        _CLIENT.reset(token)
        client.close()
        if cluster is not None:
            cluster.close()


def chunk_size(frames: int, threads: int) -> int:
    """Frames per chunk: at most :data:`CHUNK_MAX`, cut so that every worker thread gets the same number of
    chunks, at least :data:`CHUNKS_PER_THREAD` (no thread idles while another makes the last long chunk).

    >>> chunk_size(200, 2), chunk_size(5, 2), chunk_size(100_000, 16)
    (15, 1, 16)
    """
    threads = max(1, threads)
    per_thread = max(CHUNKS_PER_THREAD, math.ceil(frames / (threads * CHUNK_MAX)))
    return max(1, math.ceil(frames / (threads * per_thread)))


#: In a worker: each job run's frame function, unpickled once per run and thread (an ONNX session is built once).
_UNPICKLED: dict[tuple[str, int], Any] = {}


def _run_chunk(blob: bytes, work: Callable, tasks: Sequence[Any], stop: str) -> Any:
    """In a worker: ``work(tasks, process, stop=...)`` with the job's ``process`` unpickled from ``blob`` (kept
    for the next chunks of the same job on this thread: a job's run, named by ``stop``, never shares it with
    another's); ``stop()`` says whether the client has called the job off (the Dask event ``stop`` is set)."""
    from distributed import Event

    key = (stop, threading.get_ident())
    if key not in _UNPICKLED:
        import cloudpickle

        if len(_UNPICKLED) >= 8:  # earlier jobs' functions: let them go
            _UNPICKLED.clear()
        _UNPICKLED[key] = cloudpickle.loads(blob)
    event, asked = Event(stop), [-math.inf, False]  # (when, answer): the scheduler is asked at most every STOP_CHECK_S

    def stopped() -> bool:
        if time.monotonic() - asked[0] >= STOP_CHECK_S:
            asked[:] = [time.monotonic(), event.is_set()]
        return asked[1]

    return work(tasks, _UNPICKLED[key], stop=stopped)


def _forget(stop: str) -> None:
    """In a worker: let go of a finished run's frame function (and what it holds: an ONNX session)."""
    for key in [k for k in _UNPICKLED if k[0] == stop]:
        _UNPICKLED.pop(key, None)


def _identity(value: Any) -> Any:
    return value


class Item(NamedTuple):
    """One task of :func:`map_in_order`: ``key`` names it in errors, ``index`` is its place in the order."""

    key: str
    index: int
    value: Any


def _map_items(items: Sequence[Item], process: Callable[[Any], Any], *,
               stop: Callable[[], bool] | None = None) -> tuple[list[Any], Exception | None]:
    """In a worker (:func:`run_chunks`'s ``work``): ``process(item.value)`` for consecutive items, until one
    fails (its exception returned) or ``stop()``."""
    results = []
    for item in items:
        if stop is not None and stop():
            break
        try:
            results.append(process(item.value))
        except Exception as exc:
            return results, exc
    return results, None


def map_in_order(process: Callable[[Any], Any], items: Sequence[tuple[str, Any]],
                 on_result: Callable[[Any, Any], None], *, what: str) -> None:
    """``on_result(value, process(value))`` for each ``(key, value)`` of ``items``, called here, in the
    items' order: the work is made in this process, or, inside a :func:`scheduler` block that names a Dask
    cluster, by its workers in chunks (:func:`run_chunks`).

    For the work that is not a per-frame job with its own manifest (the
    dataset builder's extract, filter and embed stages, dedup's candidate
    search): the caller records each result as it comes, in the same order
    as a local run, so whatever it writes (manifests, caches) ends the same.
    ``process`` must be a pure function of its value that can travel
    (:func:`pickled`, refused in one line naming ``what``); ``key`` names an
    item in a chunk's error. Results that land before those ahead of them
    wait here (at most the chunks in flight). The first error raised by
    ``process`` is raised here (after the workers stopped, as
    :func:`run_chunks` does); a killed worker's chunk is made again.

    >>> got = []
    >>> map_in_order(abs, [("a", -2), ("b", 3)], lambda v, r: got.append((v, r)), what="demo")
    >>> got
    [(-2, 2), (3, 3)]
    """
    client = current()
    if client is None:
        for _, value in items:
            on_result(value, process(value))
        return
    blob = pickled(process, what=what)
    tasks = [Item(str(key), i, value) for i, (key, value) in enumerate(items)]
    waiting: dict[int, Any] = {}
    ahead = 0  # index of the next result to hand over

    def landed(item: Item, result: Any) -> None:
        nonlocal ahead
        waiting[item.index] = result
        while ahead in waiting:
            on_result(tasks[ahead].value, waiting.pop(ahead))
            ahead += 1

    run_chunks(client, tasks, blob, _map_items, landed)


def pickled(process: Callable, *, what: str) -> bytes:
    """``process`` pickled by value for the workers (cloudpickle); a function that holds something that cannot
    travel (a thread pool, an open file) raises one :class:`~core.errors.SchedulerError` line naming ``what``."""
    import cloudpickle

    try:
        return cloudpickle.dumps(process)
    except Exception as exc:  # pickling raises TypeError, PicklingError, AttributeError... by what it met
        raise SchedulerError(f"{what}: these frames cannot be sent to a Dask cluster ({exc}); "
                             "run it with --scheduler local") from None


def require_resources(client: Any, resources: Mapping[str, float] | None, *, what: str) -> None:
    """One :class:`~core.errors.SchedulerError` line when no worker of ``client``'s cluster offers ``resources``
    (chunks that need them would wait for ever)."""
    if not resources:
        return
    offered = [w.get("resources") or {} for w in client.scheduler_info(n_workers=-1)["workers"].values()]
    if not any(all(have.get(k, 0) >= v for k, v in resources.items()) for have in offered):
        need = " ".join(f"{k}={v:g}" for k, v in resources.items())
        raise SchedulerError(f"{what}: no Dask worker offers {need} (start such workers with "
                             f"'dask worker ... --resources {need}')")


def run_chunks(client: Any, tasks: Sequence[Any], blob: bytes, work: Callable,
               on_done: Callable[[Any, Any], None], *, resources: Mapping[str, float] | None = None) -> None:
    """Make ``tasks`` on ``client``'s cluster, in chunks; ``on_done(task, result)`` is called here, in task
    order within a chunk, as each chunk comes back.

    ``work(chunk, process, stop=...) -> (results, error)`` runs in a worker
    on consecutive tasks (``process`` unpickled from ``blob``, see
    :func:`pickled`), returning the results of the tasks it made and the
    exception that stopped it, or ``None``; it stops early, without error,
    once ``stop()`` is true. The first error (or an interrupt here) calls the
    job off: the workers stop after the frame they are making, what they made
    is handed over (within :data:`DRAIN_S`), then the error is raised. A chunk
    whose workers kept dying raises :class:`~core.errors.SchedulerError`.
    ``resources``: what each chunk needs of a worker (Dask worker resources).
    """
    from distributed import Event, KilledWorker, as_completed

    if not tasks:
        return
    digest = hashlib.sha256(blob).hexdigest()[:16]
    run = uuid.uuid4().hex[:8]  # keys of this run only: the same job run twice in one block never meets itself
    threads = sum(client.nthreads().values()) or 1
    size = chunk_size(len(tasks), threads)
    chunks = [list(tasks[i:i + size]) for i in range(0, len(tasks), size)]
    stop = f"reelkit-stop-{digest}-{run}"
    # the frame function is sent once (redone if the worker holding it dies), the chunks depend on it
    shared = client.submit(_identity, blob, key=f"reelkit-process-{digest}-{run}", pure=False)
    futures = {client.submit(_run_chunk, shared, work, chunk, stop, pure=False, resources=resources,
                             key=f"reelkit-chunk-{digest}-{run}-{i}"): chunk for i, chunk in enumerate(chunks)}
    landed: set[Any] = set()

    def hand_over(future: Any) -> BaseException | None:
        landed.add(future)
        try:
            results, error = future.result()
        except KilledWorker as exc:
            chunk = futures[future]
            return SchedulerError(f"frames {chunk[0].key}..{chunk[-1].key}: the Dask workers running them died "
                                  f"again and again ({exc})")
        for task, result in zip(futures[future], results):
            on_done(task, result)
        return error

    try:
        for future in as_completed(futures, loop=client.loop):
            error = hand_over(future)
            if error is not None:
                raise error
    except BaseException:
        Event(stop, client=client).set()  # queued chunks return at once, running ones after their frame
        with contextlib.suppress(Exception):  # the first error is the one to tell (a drain timeout is not)
            for future in as_completed([f for f in futures if f not in landed], loop=client.loop, timeout=DRAIN_S):
                with contextlib.suppress(Exception):
                    hand_over(future)
        raise
    finally:
        client.cancel([*futures, shared])
        with contextlib.suppress(Exception):
            client.run(_forget, stop, on_error="ignore")
        with contextlib.suppress(Exception):
            Event(stop, client=client).clear()  # the scheduler forgets the event
