"""The assistant's journal as a dockable panel: what the MCP server ran, and undo / redo of file actions.

A plain ``QWidget`` (:class:`JournalPanel`) over a
:class:`~core.agent.journal_model.JournalModel`, usable standalone::

    from PySide6 import QtWidgets
    from nuke_plugin.panels.journal_panel import JournalPanel

    app = QtWidgets.QApplication([])
    panel = JournalPanel("/shows/reel3")   # the server's first --root
    panel.show(); app.exec()

and docked in Nuke (reelkit > Assistant Journal Panel; the folder defaults
to the one :func:`nuke_plugin.agent.start_server` serves, else
``$REELKIT_AGENT_ROOT``). The table lists actions newest first (id, time,
tool, state, files, where it is undone); the text below shows the selected
action's arguments and files. Undo / Redo act on the selected action, as the
server's ``undo`` / ``redo`` (byte-identical, sha256 checked); an action done
in Nuke says which Edit > Undo item reverts it. A timer re-reads the journal
every ``poll_ms`` (0: never; :meth:`JournalPanel.refresh` by hand, as the tests do).
"""

from __future__ import annotations

import os

from core.agent.journal_model import JournalModel
from core.agent.schema import FieldError
from nuke_plugin.panels.widgets import QtCore, QtWidgets

TITLE = "reelkit Assistant journal"
COLUMNS = ("id", "time", "tool", "state", "files", "undo in")


class JournalPanel(QtWidgets.QWidget):
    def __init__(self, root: str | os.PathLike | None = None, parent=None, *, poll_ms: int = 1000):
        super().__init__(parent)
        self.setObjectName("reelkitJournalPanel")
        self.setWindowTitle(TITLE)
        from nuke_plugin.agent import journal_root

        self.model = JournalModel(journal_root() if root is None else root)
        self.folder = QtWidgets.QLineEdit(str(self.model.root or ""))
        self.folder.setPlaceholderText("the server's first --root folder")
        self.folder.editingFinished.connect(self._folder_changed)
        self.table = QtWidgets.QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.detail = QtWidgets.QPlainTextEdit()
        self.detail.setReadOnly(True)
        self.undo_button = QtWidgets.QPushButton("Undo")
        self.redo_button = QtWidgets.QPushButton("Redo")
        self.undo_button.clicked.connect(lambda: self._act("undo"))
        self.redo_button.clicked.connect(lambda: self._act("redo"))
        self.status = QtWidgets.QLabel()
        self.status.setWordWrap(True)

        top = QtWidgets.QHBoxLayout()
        top.addWidget(QtWidgets.QLabel("Folder"))
        top.addWidget(self.folder)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.undo_button)
        buttons.addWidget(self.redo_button)
        buttons.addStretch(1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 3)
        layout.addWidget(self.detail, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        self._fill()
        self.timer = QtCore.QTimer(self)
        self.timer.timeout.connect(self.refresh)
        if poll_ms:
            self.timer.start(poll_ms)

    # -- model -> widgets ---------------------------------------------------------------------------------
    def refresh(self) -> None:
        if self.model.refresh():
            self._fill()

    def _fill(self) -> None:
        selected = self.selected_id()
        self.table.setRowCount(len(self.model.rows))
        for i, row in enumerate(self.model.rows):
            for j, value in enumerate((row.id, row.time, row.tool, row.state, row.files, row.undo_in)):
                item = QtWidgets.QTableWidgetItem(str(value))
                item.setData(QtCore.Qt.ItemDataRole.UserRole, row.id)
                self.table.setItem(i, j, item)
            if row.id == selected:
                self.table.selectRow(i)
        self.table.resizeColumnsToContents()
        self._selection_changed()

    def selected_id(self) -> int | None:
        items = self.table.selectedItems()
        return None if not items else int(items[0].data(QtCore.Qt.ItemDataRole.UserRole))

    def _selection_changed(self) -> None:
        action_id = self.selected_id()
        row = None if action_id is None else self.model.row(action_id)
        self.detail.setPlainText("" if row is None else row.detail)
        self.undo_button.setEnabled(row.undoable if row else any(r.undoable for r in self.model.rows))
        self.redo_button.setEnabled(row.redoable if row else any(r.redoable for r in self.model.rows))
        if row is not None and row.undo_in != "journal":
            self.status.setText(f"action {row.id} was done in Nuke: {row.undo_in}")
        else:
            self.status.setText(self.model.message or ("" if self.model.root else "choose the server's folder"))

    # -- widgets -> model ---------------------------------------------------------------------------------
    def _folder_changed(self) -> None:
        self.model.set_root(self.folder.text().strip() or None)
        self._fill()

    def _act(self, what: str) -> None:
        try:
            getattr(self.model, what)(self.selected_id())
        except FieldError:
            pass  # the model's message says why
        self._fill()
        self.status.setText(self.model.message)
