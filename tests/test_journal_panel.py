"""The assistant journal panel: its model (no Qt) and its widget (offscreen Qt), over a journal written by real
agent calls on real photos (scikit-image's astronaut, as PNG frames)."""

from __future__ import annotations

import os

import pytest

from core.agent.journal_model import JournalModel
from core.agent.schema import FieldError
from core.agent.service import Agent
from tests.test_mcp import _files, _sequence


#: root -> its files after the first convert
FIRST: dict = {}


@pytest.fixture
def root(tmp_path):
    """Two convert actions (the second forced over the first's files) and one action done in Nuke."""
    pattern = _sequence(tmp_path / "shots", count=2)
    agent = Agent([tmp_path])
    args = {"input": pattern, "output": "prev.####.png", "output_dir": "previews", "plan_only": False}
    agent.call("convert", {**args, "target": "srgb"})
    FIRST[tmp_path] = _files(tmp_path)
    forced = {**args, "target": "lin_rec709", "force": True}
    token = agent.call("convert", {**forced, "plan_only": True})["plan"]["token"]
    agent.call("convert", {**forced, "confirm": token})
    agent.journal.record_host("nuke", "nuke_create_node", {"node_class": "ReelDegrade"}, "reelkit: create ReelDegrade")
    return tmp_path


def test_model_lists_newest_first_and_undoes_like_the_server(root):
    model = JournalModel(root)
    assert [(r.id, r.tool, r.state) for r in model.rows] == [(3, "nuke_create_node", "done"), (2, "convert", "done"),
                                                             (1, "convert", "done")]
    assert [r.files for r in model.rows] == ["none", "3 replaced", "3 created"]
    assert model.rows[0].undo_in == "Nuke: Edit > Undo 'reelkit: create ReelDegrade'" and not model.rows[0].undoable
    assert model.refresh() is False  # unchanged file: not re-read
    with pytest.raises(FieldError, match="done in Nuke"):
        model.undo()  # the newest action is Nuke's
    before_second = _files(root)
    model.undo(2)
    assert model.row(2).state == "undone" and model.row(2).redoable and "undo 2 (convert)" in model.message
    model.redo(2)
    assert _files(root) == before_second


def test_panel_shows_the_journal_and_its_buttons_undo_and_redo(root):
    pytest.importorskip("PySide6", reason="the ui extra (PySide6) is not installed")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtWidgets

    from nuke_plugin.panels.journal_panel import JournalPanel

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    panel = JournalPanel(root, poll_ms=0)
    panel.show()
    app.processEvents()
    table = panel.table
    assert table.rowCount() == 3
    assert [table.item(i, 2).text() for i in range(3)] == ["nuke_create_node", "convert", "convert"]
    # the Nuke action: no undo here, the panel says where
    table.selectRow(0)
    assert not panel.undo_button.isEnabled() and "Edit > Undo 'reelkit: create ReelDegrade'" in panel.status.text()
    # the forced convert: Undo puts the first convert's files back, byte for byte (sha256)
    table.selectRow(1)
    assert panel.undo_button.isEnabled() and '"target": "lin_rec709"' in panel.detail.toPlainText()
    changed = _files(root)
    assert changed != FIRST[root]
    panel.undo_button.click()
    app.processEvents()
    assert table.item(1, 3).text() == "undone" and panel.redo_button.isEnabled()
    assert _files(root) == FIRST[root]
    panel.redo_button.click()
    assert _files(root) == changed and table.item(1, 3).text() == "done"
    # a change by the server shows on the next refresh
    Agent([root]).call("undo", {"id": 2})
    panel.refresh()
    assert table.item(1, 3).text() == "undone"
    panel.deleteLater()
    app.processEvents()
