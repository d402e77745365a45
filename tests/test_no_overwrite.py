"""A file this job's manifest does not own is never replaced without --force (issue 15, item 5).

Before: ``validate`` overwrote a ``report.html`` and ``metrics.csv`` it did
not make, ``train`` a ``model.onnx`` and ``loss.csv``, ``palette encode``
packs made with another K. Now every writing command goes through one rule,
:meth:`core.manifest.Manifest.refuse_foreign`: each command below is run
once into a folder to learn its outputs, then into a second folder where
some of those names already hold files it did not make. The second run
fails with one line naming the file, leaves it untouched, and ``--force``
replaces it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.cli.main import main
from tests.test_locks import make_plate

FOREIGN = b"not made by reelkit\n"


def _plant(folder: Path, names) -> list[Path]:
    paths = []
    for name in names:
        p = folder / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(FOREIGN)
        paths.append(p)
    return paths


def _refused_then_forced(argv: list[str], planted: list[Path], capsys) -> None:
    capsys.readouterr()
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and any(str(p) in err[0] for p in planted) and "--force" in err[0], err
    assert all(p.read_bytes() == FOREIGN for p in planted)  # untouched
    assert main([*argv, "--force"]) == 0
    assert all(p.read_bytes() != FOREIGN for p in planted)


def _check(argv_for, outputs, tmp_path, capsys) -> None:
    """Run ``argv_for(folder)`` in a fresh folder, then with ``outputs`` (names) planted in another."""
    first, second = tmp_path / "first", tmp_path / "second"
    assert main(argv_for(first)) == 0
    assert all((first / n).is_file() for n in outputs), [n for n in outputs if not (first / n).is_file()]
    _refused_then_forced(argv_for(second), _plant(second, outputs), capsys)


@pytest.fixture
def plate(tmp_path):
    return make_plate(tmp_path / "in", 2)


def test_convert(plate, tmp_path, capsys):
    _check(lambda o: ["convert", plate, "c.####.png", "--to", "srgb", "-o", str(o), "-q"], ["c.1002.png"],
           tmp_path, capsys)


def test_degrade(plate, tmp_path, capsys):
    _check(lambda o: ["degrade", plate, "d.####.exr", "--preset", "faded_16mm", "--seed", "7", "-o", str(o), "-q"],
           ["d.1001.exr"], tmp_path, capsys)


def test_align(plate, tmp_path, capsys):
    first = tmp_path / "probe"
    argv = lambda o: ["align", "--source", plate, "--reference", plate, "--method", "global", "-o", str(o), "-q"]
    assert main(argv(first)) == 0
    made = sorted(str(p.relative_to(first)) for p in first.rglob("*") if p.is_file()
                  and not p.name.startswith(("manifest", ".")))
    assert made
    _check(argv, made[:1], tmp_path, capsys)


def test_palette_encode_packs_made_with_another_k(plate, tmp_path, capsys):
    other, out = tmp_path / "k4", tmp_path / "k8"
    assert main(["palette", "encode", plate, "--k", "4", "-o", str(other), "-q"]) == 0
    shutil.copytree(other / "packs", out / "packs")  # packs of another K, without their manifest
    planted = sorted((out / "packs").iterdir())
    before = {p: p.read_bytes() for p in planted}
    assert main(["palette", "encode", plate, "--k", "8", "-o", str(out), "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "packs" in err[0] and "--force" in err[0]
    assert {p: p.read_bytes() for p in planted} == before
    assert main(["palette", "encode", plate, "--k", "8", "-o", str(out), "-q", "--force"]) == 0
    assert all(p.read_bytes() != before[p] for p in planted if p.suffix == ".npz")  # K=8 packs now


def test_validate_report_and_table(tmp_path, capsys):
    from tests.test_validate_run import project

    proj = project.__wrapped__(_Factory(tmp_path))  # the module fixture's recipe: a graded pan over a photo
    argv = lambda o: ["validate", "--source", str(proj / "src" / "src.####.exr"),
                      "--reference", str(proj / "ref" / "ref.####.exr"),
                      "--candidate", f"ml={proj / 'ml' / 'ml.####.exr'}", "--baselines", "grade_matrix",
                      "--output-dir", str(o), "-q"]
    _check(argv, ["report.html", "metrics.csv"], tmp_path, capsys)


class _Factory:
    """Stands in for pytest's tmp_path_factory when a module fixture's recipe is called directly."""

    def __init__(self, root: Path):
        self.root = root

    def mktemp(self, name: str) -> Path:
        path = self.root / name
        path.mkdir()
        return path


def test_train_model_and_loss_then_infer(tmp_path, capsys):
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from tests.test_cli_train_infer import _config, pair as _pair

    pair = _pair.__wrapped__(_Factory(tmp_path))  # the module fixture's recipe: a real degraded crop
    cfg = _config(tmp_path, pair)
    argv = lambda o: ["train", "--config", str(cfg), "--output-dir", str(o), "-q"]
    _check(argv, ["model.onnx", "loss.csv"], tmp_path, capsys)
    model = tmp_path / "first" / "model.onnx"
    infer = tmp_path / "infer"
    _check(lambda o: ["infer", "--model", str(model), pair[0], "--output-dir", str(o), "--tile", "0",
                      "--threads", "1", "-q"], ["degraded.exr"], infer, capsys)


def test_dataset_run(tmp_path):
    from core.dataset import run_dataset
    from core.errors import OutputExistsError
    from tests.test_dataset_footage import make_footage
    from tests.test_dataset_builder import PARAMS

    footage = make_footage(tmp_path / "footage")
    out = tmp_path / "ds"
    (planted,) = _plant(out, ["train.txt"])
    with pytest.raises(OutputExistsError, match="train.txt"):
        run_dataset(footage.videos, out, PARAMS)
    assert planted.read_bytes() == FOREIGN and sorted(p.name for p in out.iterdir()) == ["train.txt"]
