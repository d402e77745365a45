"""A restoration project's own files, hand-edited or damaged (issue 15, items 6 and 8c/8d).

Before: ``"stages": []`` in ``project.json`` silently dropped every stage
setting and unknown top-level keys were accepted; a corrupt ``stage.json``
showed "not started" and the next run said the folder "holds files this
project did not make"; a stage folder linked to elsewhere was written
through. Footage: the demo's tiny film (three shots of 6 frames, 96x54);
only stage 1 (curation) is run.
"""

from __future__ import annotations

import json

import pytest

from core.demo import make_footage
from core.errors import ImageReadError, ParameterError
from core.pipeline.project import STAGE_FILE, init_project, load_project, project_status, run_project

TINY = {"curation": {"pairs_per_shot": 3, "min_spacing": 1, "contact_sheet": False}}


@pytest.fixture(scope="module")
def footage(tmp_path_factory):
    return make_footage(tmp_path_factory.mktemp("footage"), width=96, shot_length=6, seed=7)


@pytest.fixture
def project(tmp_path, footage):
    src, ref = footage
    path = tmp_path / "p"
    init_project(path, source=src, reference=ref, seed=3, params=TINY)
    return path


def _edit(path, **changes):
    doc = json.loads((path / "project.json").read_text())
    doc.update(changes)
    (path / "project.json").write_text(json.dumps(doc))


def test_stages_must_be_a_mapping(project):
    assert load_project(project).params(1)["pairs_per_shot"] == 3
    for bad in ([], None, "curation"):
        _edit(project, stages=bad)
        with pytest.raises(ParameterError, match=r"project.json: 'stages' must be a mapping .*got "):
            load_project(project)


def test_unknown_top_level_keys_are_named(project):
    _edit(project, stage={"curation": {}})  # a typo of 'stages'
    with pytest.raises(ParameterError, match=r"project.json: unknown key 'stage'; known: format, "):
        load_project(project)


def test_a_corrupt_stage_record_is_reported_as_corrupt(project, capsys):
    run_project(project, "1")
    assert project_status(project)[0].state == "done"
    record = project / "pipeline" / "01_dataset_curation" / STAGE_FILE
    for text in ('{"format": "reelkit.stage/1", "status": "do', "[]"):
        record.write_text(text)
        first = project_status(project)[0]
        assert first.state == "failed" and "corrupt stage record" in first.reason and "--force" in first.reason
        assert str(record) in first.line()
        with pytest.raises(ImageReadError, match="corrupt stage record"):
            run_project(project, "1")
    run_project(project, "1", force=True)
    assert project_status(project)[0].state == "done"


def test_a_stage_folder_linked_elsewhere_is_not_written_through(project, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    folder = project / "pipeline" / "01_dataset_curation"
    folder.rmdir()
    folder.symlink_to(outside, target_is_directory=True)
    for force in (False, True):
        with pytest.raises(ParameterError, match="01_dataset_curation, a symbolic link"):
            run_project(project, "1", force=force)
    assert not list(outside.iterdir())
