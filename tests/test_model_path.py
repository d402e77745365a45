"""Models found by name on a search path (issue 20 item 1): $REELKIT_MODEL_PATH, then the shipped models;
``reelkit models list|info|verify``; ``reelkit nuke install``. The wheel itself: tests/test_wheel_install.py."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from core.cli.main import main
from core.infer.model import ModelError
from core.infer.shipped import MODEL_PATH_ENV, model_path, resolve_model, shipped_entry, shipped_weights
from core.resources import CHECKOUT, NUKE_FILES, install_nuke_plugin
from tests.conftest import REPO


@pytest.fixture
def studio(tmp_path, monkeypatch):
    """A studio model folder on $REELKIT_MODEL_PATH holding a copy of the shipped film_restore (version 9.9.9)."""
    folder = tmp_path / "studio_models"
    folder.mkdir()
    doc = json.loads((REPO / "models" / "manifest.json").read_text("utf-8"))
    entry = next(m for m in doc["models"] if m["name"] == "film_restore")
    for name in (entry["file"], entry["weights"]["file"]):
        shutil.copy2(REPO / "models" / name, folder / name)
    entry["version"] = "9.9.9"
    (folder / "manifest.json").write_text(json.dumps({"format": doc["format"], "models": [entry]}), "utf-8")
    monkeypatch.setenv(MODEL_PATH_ENV, os.pathsep.join([str(tmp_path / "missing"), str(folder)]))
    return folder


def test_the_checkout_models_are_found_without_the_variable(monkeypatch):
    monkeypatch.delenv(MODEL_PATH_ENV, raising=False)
    assert model_path() == [CHECKOUT / "models"]
    assert resolve_model("film_restore") == REPO / "models" / "film_restore.onnx"


def test_the_variable_comes_first_and_the_first_match_wins(studio, tmp_path):
    assert model_path() == [tmp_path / "missing", studio, REPO / "models"]
    assert resolve_model("film_restore") == studio / "film_restore.onnx"
    assert shipped_entry("film_restore")["version"] == "9.9.9"
    assert shipped_weights("film_restore")[0] == studio / "film_restore.pt"  # training's init_from: same path
    from core.infer import load_model

    assert load_model("film_restore").spec.version == "9.9.9"


def test_a_broken_folder_is_skipped_with_a_warning(studio, caplog):
    (studio / "manifest.json").write_text("{not json", "utf-8")
    assert resolve_model("film_restore") == REPO / "models" / "film_restore.onnx"
    assert "studio_models" in caplog.text and "skipped" in caplog.text


def test_models_list_and_info(studio, capsys):
    assert main(["models", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["path"][1:] == [str(studio), str(REPO / "models")]
    assert listed["models"] == [{"name": "film_restore", "version": "9.9.9", "folder": str(studio),
                                 "file": "film_restore.onnx"}]
    assert main(["models", "info", "film_restore"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["folder"] == str(studio) and info["input"]["context"] == 32
    assert main(["models", "info", "nope"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'nope'" in err[0] and str(studio) in err[0] and "film_restore" in err[0]


def test_models_verify_names_the_changed_file(studio, capsys):
    assert main(["models", "verify"]) == 0
    assert "4 file(s) checked, 0 problem(s)" in capsys.readouterr().err  # the studio's two files, the shipped two
    data = bytearray((studio / "film_restore.pt").read_bytes())
    data[-1] ^= 1
    (studio / "film_restore.pt").write_bytes(bytes(data))
    assert main(["models", "verify", "film_restore", "-q"]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith(f"{studio / 'film_restore.pt'}: sha256 ")
    with pytest.raises(ModelError, match="film_restore.pt: sha256"):
        shipped_weights("film_restore")  # fine-tuning refuses it too
    (studio / "film_restore.onnx").unlink()
    assert main(["models", "verify", "-q"]) == 1
    assert f"{studio / 'film_restore.onnx'}: missing" in capsys.readouterr().out
    assert main(["models", "verify", "nope"]) == 1
    assert "'nope'" in capsys.readouterr().err


def test_nuke_install_copies_the_plugin_files_and_refuses_to_overwrite(tmp_path, capsys):
    target = tmp_path / "nuke" / "reelkit"
    assert main(["nuke", "install", "--target", str(target)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == f"nuke.pluginAddPath({str(target)!r})"
    assert sorted(p.name for p in target.iterdir()) == sorted(NUKE_FILES)
    assert sorted(p.name for p in (target / "gizmos").iterdir()) == sorted(p.name for p in (REPO / "gizmos").glob("*"))
    assert (target / "init.py").read_bytes() == (REPO / "init.py").read_bytes()
    (target / "notes.txt").write_text("mine")
    (target / "menu.py").write_text("# edited")
    assert main(["nuke", "install", "--target", str(target)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"reelkit nuke: error: {target} already holds init.py, menu.py, gizmos: use --force to replace them"]
    assert (target / "menu.py").read_text() == "# edited"
    assert install_nuke_plugin(target, force=True) == target
    assert (target / "menu.py").read_bytes() == (REPO / "menu.py").read_bytes()
    assert (target / "notes.txt").read_text() == "mine"  # not ours: left alone
    assert sorted(p.name for p in target.iterdir()) == sorted([*NUKE_FILES, "notes.txt"])  # no staging left
    (tmp_path / "file").write_text("x")
    assert main(["nuke", "install", "--target", str(tmp_path / "file")]) == 1
    assert "not a folder" in capsys.readouterr().err


def test_a_folder_alone(studio, tmp_path, capsys):
    assert main(["models", "list", "--folder", str(studio), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["path"] == [str(studio)] and [m["version"] for m in listed["models"]] == ["9.9.9"]
    assert main(["models", "verify", "--folder", str(studio)]) == 0
    assert "2 file(s) checked, 0 problem(s)" in capsys.readouterr().err
    for verb in ("list", "verify"):
        assert main(["models", verb, "--folder", str(tmp_path)]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"{tmp_path}: no manifest.json" in err[0]
