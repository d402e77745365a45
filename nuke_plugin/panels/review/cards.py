"""The review panel's editor cards: line edits, field labels, the caption fields grid."""

from __future__ import annotations

from core.dataset.review import CAPTION_FIELDS
from nuke_plugin.panels import widgets as w
from nuke_plugin.panels.widgets import QtCore, QtWidgets


def line_edit(parent, placeholder: str = "") -> QtWidgets.QLineEdit:
    e = QtWidgets.QLineEdit(parent)
    e.setPlaceholderText(placeholder)
    e.setClearButtonEnabled(False)
    return e


def field_label(text: str, parent) -> QtWidgets.QLabel:
    label = w.label(text, "muted", parent)
    label.setFixedWidth(78)  # one column width for every field label, so the edits line up
    return label


def split_tags(text: str) -> list[str]:
    """Tags typed comma-separated, stripped, empty ones dropped."""
    return [t.strip() for t in text.split(",") if t.strip()]


class FieldsGrid(QtWidgets.QWidget):
    """The caption fields as line edits in two columns; ``changed(dict)`` with the edited fields only."""

    changed = QtCore.Signal(dict)

    def __init__(self, parent=None):
        super().__init__(parent)
        grid = QtWidgets.QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(4)
        self.edits: dict[str, QtWidgets.QLineEdit] = {}
        self._shown: dict[str, str] = {}
        for i, name in enumerate(CAPTION_FIELDS):
            row, col = (i // 2, (i % 2) * 2) if name != "final_caption" else (3, 0)
            edit = line_edit(self)
            edit.setObjectName(f"field_{name}")
            edit.editingFinished.connect(lambda n=name: self._finished(n))
            self.edits[name] = edit
            text = name.replace("_", " ")
            grid.addWidget(field_label(text, self) if col == 0 else w.label(text, "muted", self), row, col)
            grid.addWidget(edit, row, col + 1, 1, 3 if name == "final_caption" else 1)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)

    def show_values(self, values: dict[str, str | None], placeholders: dict[str, str] | None = None) -> None:
        """``None`` marks a mixed value (several frames that differ)."""
        placeholders = placeholders or {}
        for name, edit in self.edits.items():
            value = values.get(name, "")
            set_text(edit, value or "")
            edit.setPlaceholderText("(mixed)" if value is None else placeholders.get(name, ""))
            self._shown[name] = value if value is not None else ""

    def _finished(self, name: str) -> None:
        text = self.edits[name].text().strip()
        if text != self._shown.get(name, ""):
            self._shown[name] = text
            self.changed.emit({name: text})

    def setEnabled(self, flag: bool) -> None:  # noqa: N802 - Qt's name
        for edit in self.edits.values():
            edit.setEnabled(flag)


def set_text(edit: QtWidgets.QLineEdit, text: str) -> None:
    """Show ``text`` from its start without emitting the edit's signals."""
    blocker = QtCore.QSignalBlocker(edit)
    edit.setText(text)
    edit.setCursorPosition(0)
    del blocker
