"""core.formats: every reelkit format tag in the tree is registered, round-trips, and is refused clearly otherwise."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from core.errors import FormatError, ParameterError, ReelkitError
from core.formats import FORMATS, TAG, UPGRADERS, Format, upgrader
from core.io.jsonfile import read_json_object

ROOT = Path(__file__).resolve().parent.parent
#: Where format tags are written: the library, the Nuke layer, the docs.
SCANNED = ("core", "nuke_plugin", "docs")
LITERAL = re.compile(r"reelkit\.[a-z0-9_.]*[a-z0-9_]/\d+")


def _tags_in_tree() -> dict[str, set[str]]:
    """Every ``reelkit.NAME/N`` literal under :data:`SCANNED` -> the files that write it."""
    found: dict[str, set[str]] = {}
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*")):
            if path.suffix not in (".py", ".md", ".json", ".gizmo") or "__pycache__" in path.parts:
                continue
            for tag in LITERAL.findall(path.read_text("utf-8", errors="replace")):
                found.setdefault(tag, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_format_tag_in_the_tree_is_registered_at_its_current_version():
    found = _tags_in_tree()
    assert "reelkit.pairs/1" in found and "reelkit.palette/1" in found  # the scan sees the tree
    bad = []
    for tag, files in sorted(found.items()):
        name, version = TAG.match(tag).groups()
        fmt = FORMATS.get(name)
        if fmt is None or int(version) != fmt.version:
            bad.append(f"{tag} in {', '.join(sorted(files))}: " + (
                "not in core.formats.FORMATS" if fmt is None else f"current version is {fmt.tag}"))
    assert not bad, "\n".join(bad)


def test_every_registered_format_names_an_owner_that_exists():
    for fmt in FORMATS.values():
        assert TAG.match(fmt.tag), fmt
        assert importlib.util.find_spec(fmt.owner) is not None, f"{fmt.tag}: no module {fmt.owner}"
        assert fmt.what and fmt.version >= 1


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_round_trips_through_a_json_file(tmp_path, name):
    """write -> read -> the same dict, for every registered format (the tag where its owner keeps it)."""
    fmt = FORMATS[name]
    doc = {"format": fmt.tag, "tool": "reelkit", "frames": [{"frame": 1001, "ok": True}], "note": "é"}
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(doc, indent=2), "utf-8")
    assert fmt.read(read_json_object(path, fmt.what), where=str(path)) == doc
    nested = {"metadata": {"format": fmt.tag, "k": 2}, "arrays": {}}
    assert fmt.read(nested, where="x", key=("metadata", "format")) == nested


def test_foreign_newer_and_malformed_tags_are_one_line_naming_the_file():
    pairs = FORMATS["reelkit.pairs"]
    for found, message in [
        ("reelkit.palette/1", "p.json: format 'reelkit.palette/1', expected reelkit.pairs/1 (a pair manifest"),
        (None, "p.json: format None, expected reelkit.pairs/1"),
        ("reelkit.pairs/x", "p.json: format 'reelkit.pairs/x', expected reelkit.pairs/1"),
        ("reelkit.pairs/9", "p.json: format reelkit.pairs/9 is newer than this reelkit reads (reelkit.pairs/1); "
                            "upgrade reelkit"),
        ("reelkit.pairs/0", "p.json: format reelkit.pairs/0 has no upgrade path to reelkit.pairs/1"),
    ]:
        with pytest.raises(FormatError) as info:
            pairs.read({"format": found}, where="p.json")
        assert str(info.value).startswith(message) and "\n" not in str(info.value)
    assert issubclass(FormatError, ReelkitError) and issubclass(FormatError, ValueError)


def test_upgraders_run_in_order_and_must_bump_the_version(monkeypatch):
    fmt = Format("reelkit.pairs", 3, "a pair manifest", "core.pairs")
    monkeypatch.setitem(FORMATS, "reelkit.pairs", fmt)
    monkeypatch.setattr("core.formats.UPGRADERS", {})
    from core import formats

    @upgrader("reelkit.pairs", 1)
    def one_to_two(doc):
        matches = doc.pop("pairs")
        return {**doc, "format": "reelkit.pairs/2", "matches": matches}

    @upgrader("reelkit.pairs", 2)
    def two_to_three(doc):
        return {**doc, "format": "reelkit.pairs/3", "status": "ok"}

    assert formats.UPGRADERS["reelkit.pairs"] == {1: one_to_two, 2: two_to_three}
    old = {"format": "reelkit.pairs/1", "pairs": [1]}
    assert fmt.read(old, where="p") == {"format": "reelkit.pairs/3", "matches": [1], "status": "ok"}
    assert old == {"format": "reelkit.pairs/1", "pairs": [1]}  # the caller's dict is left alone
    with pytest.raises(FormatError, match="p: the upgrade from reelkit.pairs/1 produced reelkit.pairs/1"):
        fmt.read(old, where="p", upgraders={1: dict})
    with pytest.raises(ParameterError, match="an upgrader from version 3"):
        upgrader("reelkit.pairs", 3)
    assert UPGRADERS is not formats.UPGRADERS  # the real table was not touched


def _upgrade_to(monkeypatch, module, attr: str, name: str, note: str) -> None:
    """``module.attr`` becomes version 2 of format ``name``, with an upgrader from 1 that adds ``note``:
    a reader that goes through the registry sees today's (version 1) files upgraded."""
    fmt = FORMATS[name]
    monkeypatch.setattr(module, attr, Format(fmt.name, 2, fmt.what, fmt.owner))
    monkeypatch.setitem(UPGRADERS, name, {1: lambda doc: {**doc, "format": f"{name}/2", "upgraded": note}})


def test_command_manifests_are_read_through_the_registry(tmp_path, monkeypatch):
    """verify_folder re-hashes what reelkit.manifest/N files record; a foreign tag is not a manifest."""
    import core.manifest as manifest
    from core.manifest import fingerprint, verify_folder

    out = tmp_path / "out.txt"
    out.write_text("one")
    record = {"files": {"out": {"out.txt": fingerprint(out)}}}
    out.write_text("two")  # changed after the manifest recorded it
    for tag, problem in [("reelkit.manifest/1", "out.txt: content changed"),
                         ("reelkit.palette/1", "no reelkit manifest found"),
                         ("reelkit.manifest/9", "no reelkit manifest found")]:
        (tmp_path / "manifest.json").write_text(json.dumps({"format": tag, **record}))
        problems = verify_folder(tmp_path)[1]
        assert len(problems) == 1 and problem in problems[0], (tag, problems)
    seen = []
    _upgrade_to(monkeypatch, manifest, "FORMAT", "reelkit.manifest", "yes")
    monkeypatch.setattr(manifest, "_jobs", lambda data: seen.append(data.get("upgraded")) or [])
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "reelkit.manifest/1", **record}))
    verify_folder(tmp_path)
    assert seen == ["yes"]


def test_stage_records_are_read_through_the_registry(tmp_path, monkeypatch):
    """stage.json: the golden records' tag reads as is, an upgrader applies, a foreign tag is a corrupt record."""
    import core.pipeline.project as project
    from core.errors import ImageReadError

    golden = ROOT / "tests" / "data" / "golden_stages" / "project" / "pipeline" / "01_dataset_curation"
    record = json.loads((golden / "stage.json").read_text("utf-8"))
    assert project._read_stage(golden) == record and record["format"] == project.STAGE_FORMAT.tag
    (tmp_path / "stage.json").write_text(json.dumps({**record, "format": "reelkit.pairs/1"}))
    with pytest.raises(ImageReadError) as info:
        project._read_stage(tmp_path)
    assert str(info.value) == (f"{tmp_path / 'stage.json'}: format 'reelkit.pairs/1', expected reelkit.stage/1 "
                               "(a project stage's stage.json (parameters, status, counts)): a corrupt stage record; "
                               "run the stage with --force to redo it")
    _upgrade_to(monkeypatch, project, "STAGE_FORMAT", "reelkit.stage", "stage")
    assert project._read_stage(golden) == {**record, "format": "reelkit.stage/2", "upgraded": "stage"}


def test_model_manifests_and_indexes_are_read_through_the_registry(tmp_path, monkeypatch):
    """A foreign or newer tag is a ModelError (what model callers catch) with the registry's line."""
    import core.infer.shipped as shipped
    from core.infer.model import ModelError, find_model_manifest, parse_model_manifest

    (tmp_path / "manifest.json").write_text(json.dumps({"format": "reelkit.models/1", "models": []}))
    assert shipped._read_index(tmp_path) == {"format": "reelkit.models/1", "models": []}
    _upgrade_to(monkeypatch, shipped, "INDEX_FORMAT", "reelkit.models", "index")
    assert shipped._read_index(tmp_path)["upgraded"] == "index"
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "reelkit.manifest/1", "models": []}))
    with pytest.raises(ModelError, match=r"manifest\.json: format 'reelkit.manifest/1', expected reelkit.models/2"):
        shipped._read_index(tmp_path)
    # a command's manifest.json beside a model is not an index: the model has no manifest
    with pytest.raises(ModelError, match=r"m\.onnx: no model manifest: expected m\.json"):
        find_model_manifest(tmp_path / "m.onnx")
    with pytest.raises(ModelError, match=r"^m\.json: format 'reelkit.models/1', expected reelkit.model/1 "):
        parse_model_manifest({"format": "reelkit.models/1"}, model="m.onnx", where="m.json")


def test_inverse_documents_are_read_through_the_registry(tmp_path, monkeypatch):
    """core.inverse: a stored space, a data set's config and a model manifest, each through its Format."""
    import core.inverse.data as data
    import core.inverse.space as space
    from core.infer.model import ModelError
    from core.inverse.generators import generator
    from core.inverse.model import load_inverse_model
    from core.inverse.space import ParamSpace

    stored = ParamSpace.from_spec(generator("generate:shape").spec, {"radius": (0.1, 0.2)}).to_dict()
    assert stored["format"] == "reelkit.inverse.space/1" and ParamSpace.from_dict(stored).to_dict() == stored
    with pytest.raises(ParameterError) as info:
        ParamSpace.from_dict({**stored, "format": "reelkit.pairs/1"})
    assert str(info.value).startswith("not a stored parameter space: stored space: format 'reelkit.pairs/1', "
                                      "expected reelkit.inverse.space/1")
    _upgrade_to(monkeypatch, space, "SPACE_FORMAT", "reelkit.inverse.space", "space")
    monkeypatch.setitem(UPGRADERS, "reelkit.inverse.space",
                        {1: lambda doc: {**doc, "format": "reelkit.inverse.space/2", "fixed": {"up": 1}}})
    assert ParamSpace.from_dict(stored).fixed == {"up": 1}

    (tmp_path / "manifest.json").write_text(json.dumps(
        {"format": "reelkit.manifest/1", "command": "inverse-data", "status": "done",
         "config": {"format": "reelkit.inverse.space/1"}}))
    with pytest.raises(ParameterError, match=r"not an inverse data set \(.*manifest\.json \(config\): format "
                                             r"'reelkit.inverse.space/1', expected reelkit.inverse.data/1"):
        data.data_config(tmp_path)
    _upgrade_to(monkeypatch, data, "DATA_FORMAT", "reelkit.inverse.data", "data")
    (tmp_path / "manifest.json").write_text(json.dumps(
        {"format": "reelkit.manifest/1", "command": "inverse-data", "status": "done",
         "config": {"format": "reelkit.inverse.data/1"}}))
    assert data.data_config(tmp_path)["upgraded"] == "data"

    (tmp_path / "m.onnx").write_bytes(b"not a model")
    (tmp_path / "m.json").write_text(json.dumps({"format": "reelkit.model/1"}))
    with pytest.raises(ModelError, match=r"m\.json: format 'reelkit.model/1', expected reelkit.inverse_model/1"):
        load_inverse_model(tmp_path / "m.onnx")


def test_dataset_builder_documents_are_read_through_the_registry(tmp_path, monkeypatch):
    """shots.json / frames.json through their Format; a run folder is ours when its dataset_format reads."""
    import core.dataset.builder as builder
    from core.errors import OutputExistsError

    shots = tmp_path / "shots.json"
    shots.write_text(json.dumps({"format": "reelkit.dataset_shots/1", "videos": [], "shots": []}))
    assert builder._read_doc(shots, builder.SHOTS_FORMAT)["shots"] == []
    with pytest.raises(FormatError, match=r"shots\.json: format 'reelkit.dataset_shots/1', expected "
                                          r"reelkit.dataset_frames/1"):
        builder._read_doc(shots, builder.FRAMES_FORMAT)
    shots.write_text("[]")
    with pytest.raises(FormatError, match=r"shots\.json: not a reelkit.dataset_shots/1 document \(a JSON list\)"):
        builder._read_doc(shots, builder.SHOTS_FORMAT)

    run = tmp_path / "manifest.json"
    for tag, ours in [("reelkit.dataset_run/1", True), ("reelkit.dataset_run/2", False), (None, False)]:
        run.write_text(json.dumps({"format": "reelkit.manifest/1", "dataset_format": tag, "inputs": {"a": "1"}}))
        if ours:
            builder._check_folder(tmp_path, {"a": "1"}, False, None)
        else:
            with pytest.raises(OutputExistsError, match="not a dataset run's manifest"):
                builder._check_folder(tmp_path, {"a": "1"}, False, None)
    _upgrade_to(monkeypatch, builder, "RUN_FORMAT", "reelkit.dataset_run", "run")
    monkeypatch.setitem(UPGRADERS, "reelkit.dataset_run",
                        {1: lambda doc: {**doc, "dataset_format": "reelkit.dataset_run/2", "inputs": {}}})
    run.write_text(json.dumps({"format": "reelkit.manifest/1", "dataset_format": "reelkit.dataset_run/1",
                               "inputs": {"other": "2"}}))
    builder._check_folder(tmp_path, {"a": "1"}, False, None)  # the upgraded run's inputs are the ones judged


def test_agent_journal_and_tasks_are_read_through_the_registry(tmp_path, monkeypatch):
    """Each journal line and each task record is read with its Format: upgraded when older, refused when foreign."""
    import core.agent.journal as journal
    import core.agent.tasks as tasks

    log = journal.Journal(tmp_path)
    log._append({"op": "undo", "id": 3})
    assert log.events() == [{"format": "reelkit.agent.journal/1", "op": "undo", "id": 3}]
    _upgrade_to(monkeypatch, journal, "FORMAT", "reelkit.agent.journal", "line")
    assert log.events()[0]["upgraded"] == "line"
    with open(log.path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"format": "reelkit.agent.task/1", "op": "redo", "id": 3}) + "\n")
    with pytest.raises(FormatError, match=r"journal\.jsonl:2: format 'reelkit.agent.task/1', expected "
                                          r"reelkit.agent.journal/2"):
        log.events()

    board = tasks.Tasks(tmp_path / "tasks")
    board._save(tasks.Task(7, "restore", state="done"))
    loaded = board._load(board._path(7))
    assert (loaded.id, loaded.tool, loaded.state) == (7, "restore", "done")
    board._path(8).write_text(json.dumps({**tasks.Task(8, "x").to_dict(), "format": "reelkit.agent.task/9"}))
    with pytest.raises(FormatError, match=r"8\.json: format reelkit.agent.task/9 is newer"):
        board._load(board._path(8))


def test_validation_reports_are_read_through_the_registry(tmp_path, monkeypatch):
    """metrics.json (read by `restore --method winner` and the agent's project tool) through its Format."""
    import core.validate.run as run

    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"headline": "h", "format": "reelkit.validation/1", "verdict": {"winner": "ml"}}))
    assert run.read_metrics(metrics)["verdict"] == {"winner": "ml"}
    _upgrade_to(monkeypatch, run, "FORMAT", "reelkit.validation", "metrics")
    assert run.read_metrics(metrics)["upgraded"] == "metrics"
    metrics.write_text(json.dumps({"format": "reelkit.grade/1", "verdict": {}}))
    with pytest.raises(FormatError, match=r"metrics\.json: format 'reelkit.grade/1', expected reelkit.validation/2"):
        run.read_metrics(metrics)
