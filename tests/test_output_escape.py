"""No write leaves the output folder (issue 15, item 6).

Before: a symlinked ``packs/`` folder inside ``--output-dir`` was followed
and a pack outside it overwritten; an output name with ``../../`` or an
absolute path wrote outside ``--output-dir``. Now every writing command
resolves its output paths through :func:`core.manifest.refuse_escapes` and
refuses, in one line and even with ``--force``, any that leaves the folder
or goes through a symbolic link; nothing is written.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.cli.main import main
from core.errors import ParameterError
from core.manifest import refuse_escapes
from tests.test_locks import make_plate

PLANTED = b"a file outside the output folder\n"


@pytest.fixture(scope="module")
def plate(tmp_path_factory):
    return make_plate(tmp_path_factory.mktemp("escape") / "in", 2)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _refused(argv: list[str], capsys, *names: str) -> str:
    """Run ``argv`` and ``argv --force``: both exit 1 with one line naming the path."""
    for extra in ([], ["--force"]):
        capsys.readouterr()
        assert main([*argv, *extra]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and all(n in err[0] for n in names), err
    return err[0]


def _linked(tmp_path: Path, name: str, planted: str | None = None) -> tuple[Path, Path]:
    """``(out, outside)``: an output folder whose ``name`` is a link to a folder outside it (holding
    ``planted`` with :data:`PLANTED` bytes, when given)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    if planted:
        (outside / planted).write_bytes(PLANTED)
    out = tmp_path / "out"
    out.mkdir()
    (out / name).symlink_to(outside, target_is_directory=True)
    return out, outside


# -- the rule -------------------------------------------------------------------------------------------


def test_paths_inside_pass_and_outside_are_refused(tmp_path):
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    refuse_escapes(out, [out / "a.exr", out / "sub" / "b.exr", out / "new" / "deeper" / "c.exr",
                         out / "sub" / ".." / "d.exr"])
    for bad in (out / ".." / "x.exr", out / "sub" / ".." / ".." / "x.exr", tmp_path / "x.exr", Path("/x.exr"), out):
        with pytest.raises(ParameterError, match="outside the output folder"):
            refuse_escapes(out, [bad])


def test_a_linked_output_folder_is_fine_a_link_inside_it_is_not(tmp_path):
    disk = tmp_path / "disk"
    (disk / "elsewhere").mkdir(parents=True)
    (tmp_path / "out").symlink_to(disk, target_is_directory=True)  # -o on another disk: allowed
    out = tmp_path / "out"
    refuse_escapes(out, [out / "a.exr"])
    (out / "packs").symlink_to(disk / "elsewhere", target_is_directory=True)
    with pytest.raises(ParameterError, match="packs, a symbolic link"):
        refuse_escapes(out, [out / "packs" / "a.npz"])
    # 'up/..' reads as the output folder, but the system resolves the link first: this lands in far/
    (tmp_path / "far" / "deep").mkdir(parents=True)
    (out / "up").symlink_to(tmp_path / "far" / "deep", target_is_directory=True)
    with pytest.raises(ParameterError, match="up, a symbolic link"):
        refuse_escapes(out, [Path(str(out / "up") + "/../x.exr")])
    (out / "a.exr").symlink_to(tmp_path / "target.exr")
    with pytest.raises(ParameterError, match="is a symbolic link"):
        refuse_escapes(out, [out / "a.exr"])


# -- every writing command ---------------------------------------------------------------------------------


def test_palette_encode_does_not_follow_a_symlinked_packs_folder(plate, tmp_path, capsys):
    """The issue's case: ``packs/`` inside the output folder links to a folder outside holding a file
    of the same name; before, the job followed the link and replaced it."""
    out, outside = _linked(tmp_path, "packs", "plate.1001.npz")
    line = _refused(["palette", "encode", plate, "--k", "4", "-o", str(out), "-q"], capsys, "packs")
    assert "symbolic link" in line
    assert _files(outside) == {"plate.1001.npz": PLANTED}
    assert sorted(os.listdir(out)) == ["packs"]  # nothing written, no lock left


@pytest.mark.parametrize("command", ["convert", "degrade"])
def test_an_output_pattern_with_dot_dot_is_refused(plate, tmp_path, capsys, command):
    out = tmp_path / "a" / "b" / "out"
    argv = [command, plate, "../../esc.####.exr", "-o", str(out), "-q"]
    _refused(argv, capsys, "esc.1001.exr", "outside the output folder")
    assert not list(tmp_path.rglob("esc.*"))


def test_an_absolute_output_name_elsewhere_is_refused(plate, tmp_path, capsys):
    out = tmp_path / "out"
    _refused(["convert", plate, str(tmp_path / "abs.####.png"), "--to", "srgb", "-o", str(out), "-q"], capsys,
             "abs.1001.png")
    assert not list(tmp_path.glob("abs.*"))
    # an absolute name inside the output folder is still an output name
    assert main(["convert", plate, str(out / "in.####.png"), "--to", "srgb", "-o", str(out), "-q"]) == 0
    assert sorted(p.name for p in out.glob("in.*.png")) == ["in.1001.png", "in.1002.png"]


def test_palette_decode_and_infer_names_too(plate, tmp_path, capsys):
    _refused(["palette", "decode", plate, "../x.####.exr", "-o", str(tmp_path / "dec"), "-q"], capsys,
             "outside the output folder")
    pytest.importorskip("onnxruntime")
    from tests.test_infer import make_model

    (tmp_path / "models").mkdir()
    model = make_model(tmp_path / "models", "identity")
    _refused(["infer", "--model", str(model), plate, "../x.####.exr", "-o", str(tmp_path / "inf"), "-q"],
             capsys, "outside the output folder")


def test_align_into_a_symlinked_subfolder(plate, tmp_path, capsys):
    probe = tmp_path / "probe"
    argv = lambda o: ["align", "--source", plate, "--reference", plate, "--method", "global", "-o", str(o), "-q"]
    assert main(argv(probe)) == 0
    subs = sorted({p.relative_to(probe).parts[0] for p in probe.rglob("*") if p.is_file()
                   and len(p.relative_to(probe).parts) > 1})
    assert subs, "align writes into sub-folders"
    out, outside = _linked(tmp_path, subs[0])
    _refused(argv(out), capsys, subs[0], "symbolic link")
    assert not list(outside.iterdir())


def test_palette_report_into_a_symlinked_file(plate, tmp_path, capsys):
    outside = tmp_path / "outside.json"
    outside.write_bytes(PLANTED)
    out = tmp_path / "out"
    out.mkdir()
    (out / "metrics.json").symlink_to(outside)
    one = plate.replace("####", "1001")
    _refused(["palette", "report", one, "--k", "4", "-o", str(out)], capsys, "metrics.json", "symbolic link")
    assert outside.read_bytes() == PLANTED


def test_validate_report_folder_linked_elsewhere(tmp_path, capsys):
    from tests.test_no_overwrite import _Factory
    from tests.test_validate_run import project

    proj = project.__wrapped__(_Factory(tmp_path))  # the module fixture's recipe: a graded pan over a photo
    out, outside = _linked(tmp_path, "report")
    _refused(["validate", "--source", str(proj / "src" / "src.####.exr"), "--reference",
              str(proj / "ref" / "ref.####.exr"), "--candidate", f"ml={proj / 'ml' / 'ml.####.exr'}",
              "--baselines", "grade_matrix", "--output-dir", str(out), "-q"], capsys, "report", "symbolic link")
    assert not list(outside.iterdir())


def test_train_checkpoints_folder_linked_elsewhere(tmp_path, capsys):
    pytest.importorskip("torch")
    from tests.test_cli_train_infer import _config, pair as _pair
    from tests.test_no_overwrite import _Factory

    cfg = _config(tmp_path, _pair.__wrapped__(_Factory(tmp_path)))
    out, outside = _linked(tmp_path, "checkpoints")
    _refused(["train", "--config", str(cfg), "--output-dir", str(out), "-q"], capsys, "checkpoints", "symbolic link")
    assert not list(outside.iterdir())


def test_dataset_run_stage_folder_linked_elsewhere(tmp_path):
    from core.dataset import run_dataset
    from tests.test_dataset_footage import make_footage
    from tests.test_dataset_builder import PARAMS

    footage = make_footage(tmp_path / "footage")
    out, outside = _linked(tmp_path, "frames", "keep.png")
    for force in (False, True):
        with pytest.raises(ParameterError, match="frames, a symbolic link"):
            run_dataset(footage.videos, out, PARAMS, force=force)
    assert _files(outside) == {"keep.png": PLANTED} and sorted(os.listdir(out)) == ["frames"]
