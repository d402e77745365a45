"""Qt widgets derived from core parameter specs, and the look shared by reelkit's panels.

:func:`param_widget` is the one rule from a :class:`core.params.Param` to
an editor widget (the Qt twin of :mod:`nuke_plugin.knobs`):

=====================  =====================================================
parameter              widget
=====================  =====================================================
``bool``               ``QCheckBox``
``int``                ``QSpinBox`` over the parameter's range (clamped to 32 bits)
``float``              ``QDoubleSpinBox`` over the parameter's range
``str`` with choices   ``QComboBox`` with the choices, in order
``str``                ``QLineEdit``
=====================  =====================================================

Tooltips are :func:`nuke_plugin.knobs.tooltip` (help, range, default).
:func:`widget_value` reads a value back, validated by the parameter.

Qt comes from PySide6 (Nuke 16+, the ``ui`` extra), else PySide2 (Nuke 14/15).
"""

from __future__ import annotations

from typing import Any

try:
    from PySide6 import QtCore, QtGui, QtWidgets
except ImportError:  # Nuke 14/15 ship PySide2
    try:
        from PySide2 import QtCore, QtGui, QtWidgets  # type: ignore[no-redef]
    except ImportError:
        raise ImportError("reelkit's panels need Qt: pip install 'reelkit[ui]' (PySide6), or run them in Nuke") \
            from None

from core.params import Param
from nuke_plugin.knobs import tooltip

INT32 = (-(2**31), 2**31 - 1)
_FLOAT_SPAN = 1e9

#: Panel colours (close to Nuke's dark theme, so a docked panel looks at home).
COLOURS = {
    "window": "#262626", "panel": "#2e2e2e", "raised": "#363636", "border": "#3f3f3f", "text": "#d8d8d8",
    "muted": "#8e8e8e", "faint": "#5c5c5c", "accent": "#f2a03d", "accent_dim": "#7a5528", "track": "#3a3a3a",
    "good": "#7fb069", "warn": "#e0b341",
}

STYLE = """
QWidget#{root} {{ background: {window}; color: {text}; font-size: 12px; }}
QWidget#{root} QLabel {{ color: {text}; background: transparent; }}
QWidget#{root} QLabel[role="title"] {{ font-size: 15px; font-weight: 600; }}
QWidget#{root} QLabel[role="muted"] {{ color: {muted}; }}
QWidget#{root} QLabel[role="section"] {{ color: {muted}; font-size: 10px; font-weight: 600; letter-spacing: 1px; }}
QWidget#{root} QLabel[role="status"] {{ color: {muted}; padding: 2px 2px; }}
QWidget#{root} QFrame[role="card"] {{ background: {panel}; border: 1px solid {border}; border-radius: 6px; }}
QWidget#{root} QPushButton, QWidget#{root} QToolButton {{
    background: {raised}; color: {text}; border: 1px solid {border}; border-radius: 4px; padding: 4px 10px; }}
QWidget#{root} QPushButton:hover, QWidget#{root} QToolButton:hover {{ border-color: {accent_dim}; }}
QWidget#{root} QPushButton:pressed {{ background: {track}; }}
QWidget#{root} QPushButton:disabled {{ color: {faint}; }}
QWidget#{root} QPushButton[role="primary"] {{ background: {accent_dim}; border-color: {accent}; }}
QWidget#{root} QPushButton:checked {{ background: {accent_dim}; border-color: {accent}; }}
QWidget#{root} QSpinBox, QWidget#{root} QDoubleSpinBox, QWidget#{root} QComboBox, QWidget#{root} QLineEdit {{
    background: {window}; color: {text}; border: 1px solid {border}; border-radius: 3px; padding: 2px 4px;
    selection-background-color: {accent_dim}; }}
QWidget#{root} QDoubleSpinBox[bare="true"] {{ padding: 2px 6px; }}
QWidget#{root} QDoubleSpinBox[bare="true"]::up-button, QWidget#{root} QDoubleSpinBox[bare="true"]::down-button {{
    width: 0; border: none; }}
QWidget#{root} QCheckBox {{ color: {text}; spacing: 6px; }}
QWidget#{root} QScrollArea {{ background: transparent; border: none; }}
QWidget#{root} QScrollBar:vertical {{ background: {panel}; width: 10px; margin: 0; }}
QWidget#{root} QScrollBar::handle:vertical {{ background: {border}; border-radius: 4px; min-height: 24px; }}
QWidget#{root} QScrollBar::add-line, QWidget#{root} QScrollBar::sub-line {{ height: 0; }}
"""


def stylesheet(root: str) -> str:
    """The panel style sheet, scoped to the widget named ``root`` (it never restyles Nuke itself)."""
    return STYLE.format(root=root, **COLOURS)


def qcolor(name_or_rgb: Any) -> QtGui.QColor:
    """A QColor from a :data:`COLOURS` key, ``#rrggbb`` or an 8-bit ``(r, g, b)``."""
    if isinstance(name_or_rgb, str):
        return QtGui.QColor(COLOURS.get(name_or_rgb, name_or_rgb))
    r, g, b = (int(v) for v in name_or_rgb)
    return QtGui.QColor(r, g, b)


def param_widget(param: Param, value: Any = None, parent: QtWidgets.QWidget | None = None) -> QtWidgets.QWidget:
    """An editor for ``param`` holding ``value`` (default: the parameter's default)."""
    value = param.default if value is None else param.coerce(value)
    if param.kind is bool:
        w = QtWidgets.QCheckBox(parent)
    elif param.choices:
        w = QtWidgets.QComboBox(parent)
        w.addItems(list(param.choices))
    elif param.kind is int:
        w = QtWidgets.QSpinBox(parent)
        low = INT32[0] if param.minimum is None else max(int(param.minimum), INT32[0])
        high = INT32[1] if param.maximum is None else min(int(param.maximum), INT32[1])
        w.setRange(low, high)
    elif param.kind is float:
        w = QtWidgets.QDoubleSpinBox(parent)
        w.setDecimals(4)
        w.setRange(-_FLOAT_SPAN if param.minimum is None else float(param.minimum),
                   _FLOAT_SPAN if param.maximum is None else float(param.maximum))
    else:
        w = QtWidgets.QLineEdit(parent)
    w.setObjectName(param.name)
    w.setProperty("param", param.name)
    w.setToolTip(tooltip(param))
    set_widget_value(w, value)
    return w


def set_widget_value(w: QtWidgets.QWidget, value: Any) -> None:
    blocker = QtCore.QSignalBlocker(w)
    if isinstance(w, QtWidgets.QCheckBox):
        w.setChecked(bool(value))
    elif isinstance(w, QtWidgets.QComboBox):
        w.setCurrentText(str(value))
    elif isinstance(w, (QtWidgets.QSpinBox, QtWidgets.QDoubleSpinBox)):
        w.setValue(value)
    else:
        w.setText(str(value))
    del blocker


def widget_value(w: QtWidgets.QWidget, param: Param) -> Any:
    """The value ``w`` holds, validated by ``param`` (raises :class:`~core.errors.ParameterError`)."""
    if isinstance(w, QtWidgets.QCheckBox):
        raw: Any = w.isChecked()
    elif isinstance(w, QtWidgets.QComboBox):
        raw = w.currentText()
    elif isinstance(w, (QtWidgets.QSpinBox, QtWidgets.QDoubleSpinBox)):
        raw = w.value()
    else:
        raw = w.text()
    return param.coerce(raw)


def on_change(w: QtWidgets.QWidget, callback) -> None:
    """Call ``callback()`` when the user changes ``w`` (the widget's own change signal)."""
    if isinstance(w, QtWidgets.QCheckBox):
        w.toggled.connect(lambda _=None: callback())
    elif isinstance(w, QtWidgets.QComboBox):
        w.currentIndexChanged.connect(lambda _=None: callback())
    elif isinstance(w, (QtWidgets.QSpinBox, QtWidgets.QDoubleSpinBox)):
        w.valueChanged.connect(lambda _=None: callback())
    else:
        w.editingFinished.connect(callback)


def label(text: str, role: str | None = None, parent: QtWidgets.QWidget | None = None) -> QtWidgets.QLabel:
    """A QLabel with a style role (``title``, ``muted``, ``section``, ``status``)."""
    w = QtWidgets.QLabel(text, parent)
    if role:
        w.setProperty("role", role)
    return w


def card(parent: QtWidgets.QWidget | None = None) -> QtWidgets.QFrame:
    """A rounded panel section."""
    f = QtWidgets.QFrame(parent)
    f.setProperty("role", "card")
    return f
