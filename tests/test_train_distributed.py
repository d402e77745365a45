"""Multi-process training (core.train.distributed): ``torchrun`` + DistributedDataParallel on the CPU (gloo).

The data is the real photo pair of tests/test_train_run.py (a 64x64 crop of
coffee.png and its faded_16mm degradation); the network, crops and step
counts are tiny (two shared CPU cores). Each torchrun launch costs a few
seconds of imports per process.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from core.errors import ParameterError  # noqa: E402
from core.train import train  # noqa: E402
from core.train.data import PairDataset  # noqa: E402
from core.train.distributed import Ranks, rank_batch, ranks_from_env  # noqa: E402
from tests.test_train_run import config, write_coffee_pair  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_one_thread")

REPO = Path(__file__).resolve().parent.parent
TORCHRUN = Path(sys.executable).with_name("torchrun")

#: sha256 of model.pt from ``train(config(pair, seed=7), ...)`` with the single-process trainer before DDP
#: (a checkout of commit 5bf08c9, torch 2.13.0+cpu, one thread): a 1-process run must still write exactly these bytes.
SINGLE_PROCESS_SHA256 = {"2.13.0+cpu": "adc0e854b9ce53082d6ec62c101c9244a07153152dee6fd50bb048f4e6c05f60"}


@pytest.fixture(scope="module")
def pair_config(tmp_path_factory):
    """A tiny training config (JSON file) on the coffee pair, and the mapping itself."""
    folder = tmp_path_factory.mktemp("ddp_pair")
    cfg = config(write_coffee_pair(folder)[:2], seed=7)
    path = folder / "cfg.json"
    path.write_text(json.dumps(cfg), "utf-8")
    return path, cfg


def torchrun(nproc: int, cfg: Path, out: Path) -> subprocess.CompletedProcess:
    if not TORCHRUN.is_file():
        pytest.skip(f"no torchrun beside {sys.executable}")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [str(TORCHRUN), "--standalone", f"--nproc_per_node={nproc}", "-m", "core.cli.main", "train",
           "--config", str(cfg), "--output-dir", str(out), "--quiet"]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_one_process_is_the_single_process_trainer_bit_for_bit(pair_config, tmp_path):
    path, cfg = pair_config
    train(cfg, output_dir=tmp_path / "inproc")
    torchrun(1, path, tmp_path / "torchrun1")
    assert sha256(tmp_path / "torchrun1" / "model.pt") == sha256(tmp_path / "inproc" / "model.pt")
    manifest = json.loads((tmp_path / "torchrun1" / "manifest.json").read_text("utf-8"))
    assert "distributed" not in manifest  # one process: nothing distributed, nothing recorded
    expected = SINGLE_PROCESS_SHA256.get(torch.__version__)
    if expected is None:
        pytest.skip(f"the pre-DDP reference bytes were measured with torch {list(SINGLE_PROCESS_SHA256)}")
    assert sha256(tmp_path / "inproc" / "model.pt") == expected


@pytest.fixture(scope="module")
def ddp_run(pair_config, tmp_path_factory):
    """The output folder of a 2-process gloo run of the tiny config (12 steps, checkpoints every 4)."""
    out = tmp_path_factory.mktemp("ddp_run") / "ddp"
    torchrun(2, pair_config[0], out)
    return out


def test_two_gloo_processes_train_one_model_and_resume(pair_config, ddp_run, tmp_path):
    path, cfg = pair_config
    out = ddp_run
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert manifest["status"] == "done"
    assert manifest["distributed"] == {"world_size": 2, "backend": "gloo", "batch_size_per_rank": 2, "batch_size": 4,
                                       "max_weight_difference": 0.0}
    for name in ("model.onnx", "model.pt", "model.json", "loss.csv", "config.json"):
        assert (out / name).is_file(), name
    steps = [int(p.stem.split("_")[1]) for p in (out / "checkpoints").glob("step_*.pt")]
    assert sorted(steps) == [4, 8, 12]
    # the mean loss over both ranks differs from one process's (rank 1 draws other crops)
    single = train(cfg, output_dir=tmp_path / "single")
    rows = (out / "loss.csv").read_text("utf-8").splitlines()
    assert len(rows) == 13
    assert float(rows[1].split(",")[1]) != pytest.approx(single.history[0]["loss"], rel=1e-9)
    assert sha256(out / "model.pt") != sha256(tmp_path / "single" / "model.pt")

    # a run stopped after step 4 resumes on both ranks and ends with the same bytes
    first = sha256(out / "model.pt")
    resumed = tmp_path / "resumed"
    shutil.copytree(out, resumed)
    for step in (8, 12):
        (resumed / "checkpoints" / f"step_{step:08d}.pt").unlink()
    torchrun(2, path, resumed)
    manifest = json.loads((resumed / "manifest.json").read_text("utf-8"))
    assert manifest["resumed_from"] == 4 and manifest["distributed"]["max_weight_difference"] == 0.0
    assert sha256(resumed / "model.pt") == first


def test_a_two_process_checkpoint_is_not_resumed_by_one_process(pair_config, ddp_run, tmp_path):
    out = tmp_path / "ddp"
    shutil.copytree(ddp_run, out)
    from core.errors import OutputExistsError

    with pytest.raises(OutputExistsError, match="another training config"):
        train(pair_config[1], output_dir=out)


def test_rank_zero_draws_the_single_process_crops_and_other_ranks_their_own(pair_config):
    _, cfg = pair_config
    from core.train.config import TrainConfig

    c = TrainConfig.from_dict(cfg)
    data = PairDataset.from_config(c.data, crop_size=c.crop_size, encoding=c.encoding, augment=c.augment, seed=c.seed)
    for step in (1, 5):
        single = data.batch(step, 3)
        assert (rank_batch(data, step, 3, 0).input == single.input).all()
        other = rank_batch(data, step, 3, 1)
        assert other.input.shape == single.input.shape and not (other.input == single.input).all()
        assert (rank_batch(data, step, 3, 1).input == other.input).all()  # a pure function of (seed, step, rank)


@pytest.mark.parametrize("env, match", [
    ({"WORLD_SIZE": "2", "RANK": "2", "LOCAL_RANK": "0"}, r"\$RANK=2, \$WORLD_SIZE=2"),
    ({"WORLD_SIZE": "two", "RANK": "0"}, r"\$WORLD_SIZE='two': expected an integer"),
    ({"WORLD_SIZE": "2"}, r"\$RANK='': expected an integer"),
])
def test_inconsistent_torchrun_variables_are_one_line(env, match):
    with pytest.raises(ParameterError, match=match):
        ranks_from_env(env)


def test_without_torchrun_one_process_writes():
    assert ranks_from_env({}) == Ranks() and Ranks().main and not Ranks().active
    assert ranks_from_env({"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1"}) == Ranks(3, 4, 1)
