"""The reelkit Palette panel: look at a palette, edit and lock entries, refit, save.

A plain ``QWidget`` (:class:`PalettePanel`), usable standalone::

    from PySide6 import QtWidgets
    from nuke_plugin.panels.palette_panel import PalettePanel

    app = QtWidgets.QApplication([])
    panel = PalettePanel()
    panel.open_path("shot/packs/plate.1001.npz")
    panel.show(); app.exec()

and docked in Nuke (``nuke_plugin.menus`` registers it as the "reelkit
Palette" pane). What it shows, top to bottom:

- the source and a one-line summary (colours, fit space, mean ΔE, edits, locks);
- the **gradient order**: the palette as a ramp along its hue path, a tick
  per entry at its gradient position;
- the **swatches**, one row per entry: number, colour (sRGB display of the
  ACEScg entry), its share of the pixels as a bar and a percentage, and a
  padlock; an edited entry has a dot by its colour;
- the **selected entry**: before/after colour, ACEScg and OKLab fields,
  Lock, Pick (a colour dialog, display-referred), Reset;
- **hue coverage** for a palette fitted from an image: pass/fail with
  the hue families found and missed, and a *Pin* button per missed family
  (the family's mean colour becomes a locked entry and the image is
  refitted around it; :meth:`PaletteModel.pin_family`);
- **refit** (K, fit space, seed, weight, hue coverage) for a palette fitted
  from an image: locked entries are kept (``fit_palette(fixed=...)``).

Clicking a swatch (or a tick) selects it; clicking its padlock locks or
unlocks it. Editing a colour locks the entry. The data lives in a
:class:`~core.palette.editor.PaletteModel`; widgets observe it.

Dialogs never block: they open with ``QDialog.open()`` and report through
signals; the last one opened is :attr:`PalettePanel.dialog`. With
``transient=True`` (tests, scripted use) they are Qt's own dialogs, not the
platform's, and no setting (last folder) is read or written.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from core.errors import ReelkitError
from nuke_plugin.panels import widgets as w
from core.palette.editor import REFIT_PARAMS, PaletteModel
from nuke_plugin.panels.widgets import QtCore, QtGui, QtWidgets

ROOT = "reelkitPalettePanel"
TITLE = "reelkit Palette"
OPEN_FILTER = "Palettes and images (*.npz *.json *.exr *.png *.jpg *.jpeg *.tif *.tiff);;All files (*)"
SAVE_FILTER = "Palette pack (*.npz);;Palette EXR (*.exr)"
SETTINGS = ("reelkit", "palette_panel")


# --------------------------------------------------------------------------- painted parts


def _lock_path(rect: QtCore.QRectF, closed: bool) -> tuple[QtGui.QPainterPath, QtGui.QPainterPath]:
    """A small padlock in ``rect``: body and shackle (open: the shackle lifted to one side)."""
    path = QtGui.QPainterPath()
    bw, bh = rect.width() * 0.72, rect.height() * 0.46
    body = QtCore.QRectF(rect.center().x() - bw / 2, rect.bottom() - bh, bw, bh)
    path.addRoundedRect(body, 1.5, 1.5)
    sw = bw * 0.62
    lift = 0 if closed else rect.height() * 0.14
    shift = 0 if closed else bw * 0.28
    shackle = QtCore.QRectF(rect.center().x() - sw / 2 + shift, rect.top() - lift, sw, bh * 1.5)
    arc = QtGui.QPainterPath()
    arc.moveTo(shackle.left(), body.top() - (0 if closed else lift))
    arc.arcTo(shackle, 180, -180)
    arc.lineTo(shackle.right(), body.top())
    return path, arc


class SwatchList(QtWidgets.QWidget):
    """One painted row per entry: number, colour, share bar and percentage, padlock."""

    ROW = 30
    clicked = QtCore.Signal(int)
    lockClicked = QtCore.Signal(int)

    def __init__(self, model: PaletteModel, parent=None):
        super().__init__(parent)
        self.model = model
        self._hover: int | None = None
        self._colours = np.zeros((0, 3), np.uint8)
        self.setMouseTracking(True)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Fixed)
        self.refresh()

    def refresh(self) -> None:
        self._colours = self.model.display_colours()
        self.setFixedHeight(max(self.model.k * self.ROW, 96))
        self.update()

    # geometry, public so tests and tools can click what a user clicks
    def row_rect(self, i: int) -> QtCore.QRect:
        return QtCore.QRect(0, i * self.ROW, self.width(), self.ROW)

    def chip_rect(self, i: int) -> QtCore.QRect:
        return QtCore.QRect(36, i * self.ROW + 5, 46, self.ROW - 10)

    def lock_rect(self, i: int) -> QtCore.QRect:
        return QtCore.QRect(self.width() - 30, i * self.ROW + 6, 18, self.ROW - 12)

    SHARE_W = 54

    def track_rect(self, i: int) -> QtCore.QRectF:
        """The share bar's track of row ``i`` (the full width = the largest share)."""
        left, right = 96, self.width() - 40 - self.SHARE_W
        return QtCore.QRectF(left, i * self.ROW + self.ROW / 2 - 4, max(right - left, 10), 8)

    def bar_rect(self, i: int) -> QtCore.QRectF:
        """The filled part of row ``i``'s share bar: its share over the largest share."""
        shares = self.model.shares
        top = float(shares.max()) if len(shares) and shares.max() > 0 else 1.0
        bar = self.track_rect(i)
        share = float(shares[i])
        bar.setWidth(max(bar.width() * share / top, 2.0) if share > 0 else 0.0)
        return bar

    def share_text(self, i: int) -> str:
        """The percentage shown at the end of row ``i``."""
        return _percent(float(self.model.shares[i]))

    def row_at(self, pos: QtCore.QPoint) -> int | None:
        i = pos.y() // self.ROW
        return i if 0 <= i < self.model.k else None

    def mousePressEvent(self, event) -> None:
        pos = event.position().toPoint() if hasattr(event, "position") else event.pos()
        i = self.row_at(pos)
        if i is None or event.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        if self.lock_rect(i).adjusted(-6, -4, 6, 4).contains(pos):
            self.lockClicked.emit(i)
        else:
            self.clicked.emit(i)

    def mouseMoveEvent(self, event) -> None:
        pos = event.position().toPoint() if hasattr(event, "position") else event.pos()
        i = self.row_at(pos)
        if i != self._hover:
            self._hover = i
            self.update()

    def leaveEvent(self, event) -> None:
        self._hover = None
        self.update()

    def paintEvent(self, event) -> None:
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        model = self.model
        if model.k == 0:
            p.setPen(w.qcolor("muted"))
            p.drawText(self.rect().adjusted(16, 0, -16, 0),
                       int(QtCore.Qt.AlignmentFlag.AlignCenter) | int(QtCore.Qt.TextFlag.TextWordWrap),
                       "Open a palette pack (.npz), a palette EXR, or an image to fit.")
            return
        font = p.font()
        small = QtGui.QFont(font)
        small.setPointSizeF(max(font.pointSizeF() - 1, 7))
        mono = QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont)
        mono.setPointSizeF(small.pointSizeF())
        for i in range(model.k):
            row = self.row_rect(i)
            if i == model.selected:
                p.fillRect(row, w.qcolor("raised"))
                p.fillRect(QtCore.QRect(row.left(), row.top(), 3, row.height()), w.qcolor("accent"))
            elif i == self._hover:
                p.fillRect(row, QtGui.QColor(255, 255, 255, 10))
            p.setFont(mono)
            p.setPen(w.qcolor("text" if i == model.selected else "muted"))
            p.drawText(QtCore.QRect(4, row.top(), 26, row.height()),
                       int(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter), str(i))
            chip = QtCore.QRectF(self.chip_rect(i))
            p.setPen(QtGui.QPen(QtGui.QColor(0, 0, 0, 120), 1))
            p.setBrush(w.qcolor(self._colours[i]))
            p.drawRoundedRect(chip, 3, 3)
            if not np.array_equal(model.colours[i], model.original[i]):
                p.setPen(QtCore.Qt.PenStyle.NoPen)
                p.setBrush(w.qcolor("accent"))
                p.drawEllipse(QtCore.QPointF(chip.right() + 7, chip.center().y()), 3, 3)
            # share bar: the entry's colour over a track, longest bar = the largest share
            track = self.track_rect(i)
            p.setPen(QtCore.Qt.PenStyle.NoPen)
            p.setBrush(w.qcolor("track"))
            p.drawRoundedRect(track, 4, 4)
            fill = self.bar_rect(i)
            bar = w.qcolor(self._colours[i])
            if bar.lightness() < 70:  # keep very dark entries visible on the dark track
                bar = bar.lighter(180)
            p.setBrush(bar)
            p.drawRoundedRect(fill, 4, 4)
            p.setFont(small)
            p.setPen(w.qcolor("text"))
            p.drawText(QtCore.QRect(int(track.right()) + 6, row.top(), self.SHARE_W, row.height()),
                       int(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter),
                       self.share_text(i))
            locked = bool(model.locked[i])
            body, shackle = _lock_path(QtCore.QRectF(self.lock_rect(i)), locked)
            colour = w.qcolor("accent" if locked else "faint")
            p.setBrush(colour if locked else QtCore.Qt.BrushStyle.NoBrush)
            p.setPen(QtGui.QPen(colour, 1.4))
            p.drawPath(body)
            p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
            p.drawPath(shackle)
        p.end()


class GradientStrip(QtWidgets.QWidget):
    """The palette along its hue path: a ramp through the entries at their gradient positions, a tick each."""

    clicked = QtCore.Signal(int)
    MARGIN = 10

    def __init__(self, model: PaletteModel, parent=None):
        super().__init__(parent)
        self.model = model
        self.setFixedHeight(50)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Fixed)

    def x_of(self, position: float) -> float:
        return self.MARGIN + float(position) * (self.width() - 2 * self.MARGIN)

    def mousePressEvent(self, event) -> None:
        if self.model.k == 0:
            return
        x = (event.position().x() if hasattr(event, "position") else event.pos().x())
        xs = [self.x_of(pos) for pos in self.model.fit.positions]
        self.clicked.emit(int(np.argmin(np.abs(np.asarray(xs) - x))))

    def paintEvent(self, event) -> None:
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        ramp = QtCore.QRectF(self.MARGIN, 4, self.width() - 2 * self.MARGIN, 20)
        model = self.model
        if model.k == 0:
            p.setPen(QtGui.QPen(w.qcolor("border"), 1, QtCore.Qt.PenStyle.DashLine))
            p.drawRoundedRect(ramp, 4, 4)
            return
        colours = model.display_colours()
        positions = np.asarray(model.fit.positions, np.float64)
        grad = QtGui.QLinearGradient(ramp.topLeft(), ramp.topRight())
        for i in np.argsort(positions, kind="stable"):
            grad.setColorAt(float(np.clip(positions[i], 0, 1)), w.qcolor(colours[i]))
        p.setPen(QtGui.QPen(QtGui.QColor(0, 0, 0, 140), 1))
        p.setBrush(QtGui.QBrush(grad))
        p.drawRoundedRect(ramp, 4, 4)
        spacing = (self.width() - 2 * self.MARGIN) / max(model.k, 1)
        font = p.font()
        font.setPointSizeF(max(font.pointSizeF() - 2, 7))
        p.setFont(font)
        for i in np.argsort(positions, kind="stable"):
            x = self.x_of(positions[i])
            selected = i == model.selected
            size = 6 if selected else 4
            tip, base = ramp.bottom() + 2, ramp.bottom() + 2 + size * 1.4
            tri = QtGui.QPolygonF([QtCore.QPointF(x, tip), QtCore.QPointF(x - size, base),
                                   QtCore.QPointF(x + size, base)])
            colour = w.qcolor("accent" if selected else ("text" if model.locked[i] else "muted"))
            p.setPen(QtCore.Qt.PenStyle.NoPen)
            p.setBrush(colour)
            p.drawPolygon(tri)
            if spacing >= 16 or selected:
                p.setPen(colour)
                p.drawText(QtCore.QRectF(x - 14, ramp.bottom() + 12, 28, 12),
                           int(QtCore.Qt.AlignmentFlag.AlignCenter), str(int(i)))
        p.end()


class CompareChip(QtWidgets.QWidget):
    """Before (left) and after (right) colour of the selected entry."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.before = QtGui.QColor(0, 0, 0, 0)
        self.after = QtGui.QColor(0, 0, 0, 0)
        self.setFixedSize(84, 56)

    def set_colours(self, before, after) -> None:
        self.before, self.after = before, after
        self.update()

    def paintEvent(self, event) -> None:
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        r = QtCore.QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        clip = QtGui.QPainterPath()
        clip.addRoundedRect(r, 5, 5)
        p.setClipPath(clip)
        half = QtCore.QRectF(r.left(), r.top(), r.width() / 2, r.height())
        p.fillRect(half, self.before)
        p.fillRect(half.translated(r.width() / 2, 0), self.after)
        p.setClipping(False)
        p.setPen(QtGui.QPen(QtGui.QColor(0, 0, 0, 150), 1))
        p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
        p.drawRoundedRect(r, 5, 5)
        p.end()


def _percent(share: float) -> str:
    if share <= 0:
        return "0%"
    if share < 0.001:
        return "<0.1%"
    return f"{share * 100:.1f}%"


# --------------------------------------------------------------------------- the panel


class EntryEditor(QtWidgets.QFrame):
    """The selected entry: before/after, ACEScg and OKLab fields, Lock, Pick, Reset."""

    def __init__(self, panel: "PalettePanel"):
        super().__init__(panel)
        self.panel = panel
        self.model = panel.model
        self.setProperty("role", "card")
        grid = QtWidgets.QGridLayout(self)
        grid.setContentsMargins(12, 10, 12, 10)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(6)
        self.chip = CompareChip(self)
        grid.addWidget(self.chip, 0, 0, 2, 1)
        self.title = w.label("No entry selected", "title", self)
        self.title.setStyleSheet("font-size: 13px;")
        self.info = w.label("Click a swatch to edit or lock it.", "muted", self)
        grid.addWidget(self.title, 0, 1, 1, 4)
        grid.addWidget(self.info, 1, 1, 1, 4)
        self.acescg = [self._spin(-65504.0, 65504.0, 0.01) for _ in range(3)]
        self.oklab = [self._spin(lo, hi, 0.005) for lo, hi in ((0.0, 2.0), (-1.0, 1.0), (-1.0, 1.0))]
        for row, (name, spins, tips) in enumerate((
                ("ACEScg", self.acescg, ("R", "G", "B")), ("OKLab", self.oklab, ("L", "a", "b"))), start=2):
            grid.addWidget(w.label(name, "muted", self), row, 0)
            for col, (spin, tip) in enumerate(zip(spins, tips), start=1):
                spin.setToolTip(f"{name} {tip}" + (" (scene-linear)" if name == "ACEScg" else ""))
                spin.setPrefix(f"{tip}  ")
                grid.addWidget(spin, row, col)
        for spin in self.acescg:
            spin.editingFinished.connect(self._acescg_edited)
        for spin in self.oklab:
            spin.editingFinished.connect(self._oklab_edited)
        buttons = QtWidgets.QHBoxLayout()
        self.lock = QtWidgets.QPushButton("Lock", self)
        self.lock.setCheckable(True)
        self.lock.setToolTip("Keep this colour when refitting (editing a colour locks it)")
        self.lock.toggled.connect(self._lock_toggled)
        self.pick = QtWidgets.QPushButton("Pick…", self)
        self.pick.setToolTip("Choose a display colour (sRGB, up to 1.0); type ACEScg values for HDR colours")
        self.pick.clicked.connect(panel.pick_colour)
        self.reset = QtWidgets.QPushButton("Reset", self)
        self.reset.setToolTip("Back to the fitted colour")
        self.reset.clicked.connect(self._reset)
        buttons.addWidget(self.lock)
        buttons.addWidget(self.pick)
        buttons.addStretch(1)
        buttons.addWidget(self.reset)
        grid.addLayout(buttons, 4, 0, 1, 4)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(2, 1)
        grid.setColumnStretch(3, 1)
        self.refresh()

    def _spin(self, low: float, high: float, step: float) -> QtWidgets.QDoubleSpinBox:
        spin = QtWidgets.QDoubleSpinBox(self)
        spin.setDecimals(4)
        spin.setRange(low, high)
        spin.setSingleStep(step)
        spin.setKeyboardTracking(False)
        spin.setProperty("bare", True)  # arrows hidden by the style sheet (NoButtons hides the text offscreen)
        spin.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight)
        return spin

    def refresh(self) -> None:
        i = self.model.selected
        enabled = i is not None
        for widget in (*self.acescg, *self.oklab, self.lock, self.pick, self.reset):
            widget.setEnabled(enabled)
        if not enabled:
            self.title.setText("No entry selected")
            self.info.setText("Click a swatch to edit or lock it." if self.model.k else "")
            self.chip.set_colours(QtGui.QColor(0, 0, 0, 0), QtGui.QColor(0, 0, 0, 0))
            for spin in (*self.acescg, *self.oklab):
                _set_spin(spin, 0.0)
            _set_checked(self.lock, False)
            return
        e = self.model.entry(i)
        from core.color import acescg_to_srgb_preview

        before = acescg_to_srgb_preview(e.original[None, :])[0]
        self.chip.set_colours(w.qcolor(before), w.qcolor(e.srgb))
        state = "edited" if e.edited else ("locked" if e.locked else "fitted")
        self.title.setText(f"Entry {i}  ·  {e.hex}")
        self.info.setText(f"{_percent(e.share)} of pixels · gradient {e.position:.3f} · {state}")
        for spin, v in zip(self.acescg, e.acescg):
            _set_spin(spin, float(v))
        for spin, v in zip(self.oklab, e.oklab):
            _set_spin(spin, float(v))
        _set_checked(self.lock, e.locked)
        self.reset.setEnabled(e.edited)

    def _acescg_edited(self) -> None:
        i = self.model.selected
        if i is None:
            return
        values = np.array([s.value() for s in self.acescg], np.float32)
        if not np.allclose(values, self.model.colours[i], rtol=0, atol=5e-5):
            self.panel.guard(self.model.set_colour, i, values)

    def _oklab_edited(self) -> None:
        i = self.model.selected
        if i is None:
            return
        values = np.array([s.value() for s in self.oklab], np.float32)
        if not np.allclose(values, self.model.entry(i).oklab, rtol=0, atol=5e-5):
            self.panel.guard(self.model.set_oklab, i, values)

    def _lock_toggled(self, flag: bool) -> None:
        if self.model.selected is not None:
            self.model.set_locked(self.model.selected, flag)

    def _reset(self) -> None:
        if self.model.selected is not None:
            self.model.reset(self.model.selected)


def _set_spin(spin, value: float) -> None:
    blocker = QtCore.QSignalBlocker(spin)
    spin.setValue(value)
    del blocker


def _set_checked(button, flag: bool) -> None:
    blocker = QtCore.QSignalBlocker(button)
    button.setChecked(bool(flag))
    del blocker


class PalettePanel(QtWidgets.QWidget):
    """The palette panel; see the module docstring. ``model`` defaults to an empty :class:`PaletteModel`."""

    def __init__(self, model: PaletteModel | None = None, *, transient: bool = False, parent=None):
        super().__init__(parent)
        self.model = model if model is not None else PaletteModel()
        self.transient = transient
        self.dialog: QtWidgets.QDialog | None = None
        self.setObjectName(ROOT)
        self.setWindowTitle(TITLE)
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(w.stylesheet(ROOT))
        self.setMinimumWidth(400)
        self._build()
        self.model.subscribe(self._on_model)
        self._on_model("reset", None)

    # -- layout ------------------------------------------------------------------------------

    def _build(self) -> None:
        from core.palette import ENCODE_PARAMS

        outer = QtWidgets.QVBoxLayout(self)
        outer.setContentsMargins(12, 12, 12, 10)
        outer.setSpacing(10)

        head = QtWidgets.QHBoxLayout()
        self.title = w.label("Palette", "title", self)
        self.title.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
        head.addWidget(self.title, 1)
        self.open_button = QtWidgets.QPushButton("Open…", self)
        self.open_button.setToolTip("Open a palette pack (.npz/.json), a palette EXR, or an image to fit")
        self.open_button.clicked.connect(self.open_dialog)
        self.save_button = QtWidgets.QPushButton("Save…", self)
        self.save_button.setToolTip("Save the palette with its edits and locks as a pack (.npz) or palette EXR")
        self.save_button.clicked.connect(self.save_dialog)
        head.addWidget(self.open_button)
        head.addWidget(self.save_button)
        outer.addLayout(head)
        info = QtWidgets.QVBoxLayout()
        info.setSpacing(2)
        self.summary = w.label("", None, self)
        self.summary.setWordWrap(True)
        self.source = w.label("", "muted", self)
        self.source.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        info.addWidget(self.summary)
        info.addWidget(self.source)
        outer.addLayout(info)

        outer.addWidget(w.label("GRADIENT ORDER", "section", self))
        self.gradient = GradientStrip(self.model, self)
        self.gradient.clicked.connect(self.model.select)
        outer.addWidget(self.gradient)

        header = QtWidgets.QHBoxLayout()
        header.addWidget(w.label("SWATCHES", "section", self))
        header.addStretch(1)
        header.addWidget(w.label("SHARE   LOCK", "section", self))
        outer.addLayout(header)
        swatch_card = w.card(self)
        card_layout = QtWidgets.QVBoxLayout(swatch_card)
        card_layout.setContentsMargins(2, 4, 2, 4)
        self.swatches = SwatchList(self.model, swatch_card)
        self.swatches.clicked.connect(self.model.select)
        self.swatches.lockClicked.connect(lambda i: self.model.set_locked(i, not self.model.locked[i]))
        self.scroll = QtWidgets.QScrollArea(swatch_card)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setWidget(self.swatches)
        self.scroll.viewport().setAutoFillBackground(False)
        self.swatches.setAutoFillBackground(False)
        card_layout.addWidget(self.scroll)
        outer.addWidget(swatch_card, 100)
        self.swatch_card = swatch_card

        outer.addWidget(w.label("SELECTED ENTRY", "section", self))
        self.editor = EntryEditor(self)
        outer.addWidget(self.editor)

        outer.addWidget(w.label("HUE COVERAGE", "section", self))
        coverage_card = w.card(self)
        coverage_layout = QtWidgets.QVBoxLayout(coverage_card)
        coverage_layout.setContentsMargins(12, 8, 12, 8)
        self.coverage = w.label("", None, coverage_card)
        self.coverage.setWordWrap(True)
        coverage_layout.addWidget(self.coverage)
        self.pin_row = QtWidgets.QHBoxLayout()
        coverage_layout.addLayout(self.pin_row)
        self.pin_buttons: dict[str, QtWidgets.QPushButton] = {}
        outer.addWidget(coverage_card)

        outer.addWidget(w.label("REFIT", "section", self))
        refit_card = w.card(self)
        rows = QtWidgets.QVBoxLayout(refit_card)
        rows.setContentsMargins(12, 8, 12, 8)
        self.param_widgets: dict[str, QtWidgets.QWidget] = {}
        row = QtWidgets.QHBoxLayout()
        rows.addLayout(row)
        for name in REFIT_PARAMS:
            if name == "weight":  # fit options on a second row
                row = QtWidgets.QHBoxLayout()
                rows.addLayout(row)
            param = ENCODE_PARAMS[name]
            widget = w.param_widget(param, parent=refit_card)
            self.param_widgets[name] = widget
            row.addWidget(w.label(param.title, "muted", refit_card))
            row.addWidget(widget, 1)
            w.on_change(widget, lambda n=name: self._param_changed(n))
        self.refit_button = QtWidgets.QPushButton("Refit", refit_card)
        self.refit_button.setProperty("role", "primary")
        self.refit_button.clicked.connect(self.refit)
        row.addWidget(self.refit_button)
        outer.addWidget(refit_card)

        self.status = w.label("", "status", self)
        self.status.setWordWrap(True)
        outer.addWidget(self.status)
        self.spacer = QtWidgets.QWidget(self)  # takes the height the swatches do not need
        outer.addWidget(self.spacer, 0)
        self._outer = outer

    # -- model -> widgets -------------------------------------------------------------------------

    def _on_model(self, event: str, index: int | None) -> None:
        model = self.model
        if event in ("reset", "params"):
            for name, widget in self.param_widgets.items():
                w.set_widget_value(widget, model.params[name])
        if event in ("reset", "saved"):
            name = Path(model.source).name if model.source else ""
            self.source.setText(_elide(model.source, 70) if model.source else "")
            self.source.setToolTip(model.source)
            self.title.setText(f"Palette — {name}" if name else "Palette")
        self.summary.setText(model.summary() if not model.empty else "Nothing loaded")
        self.swatches.refresh()
        # the swatch card grows to show every row, then scrolls; spare height goes below the panel's parts
        self.swatch_card.setMaximumHeight(self.swatches.height() + 10)
        self._outer.setStretchFactor(self.spacer, 1)
        self.gradient.update()
        self.editor.refresh()
        self.save_button.setEnabled(not model.empty)
        self.refit_button.setEnabled(model.can_refit)
        self.refit_button.setToolTip("Fit the image again, keeping locked entries" if model.can_refit else
                                     "Refit needs the source pixels: open the image (a pack holds none)")
        if event != "selection":
            self._show_coverage()
        if event == "selection" and index is not None:
            self.scroll.ensureVisible(0, self.swatches.row_rect(index).center().y(), 0, SwatchList.ROW)

    def _show_coverage(self) -> None:
        """The coverage line and one Pin button per missed family (rebuilt from the model)."""
        cov = None
        try:
            cov = self.model.coverage()
        except (ReelkitError, OSError) as exc:
            self.show_status(str(exc), error=True)
        if cov is None:
            text = "Needs the source pixels: open the image (a pack holds none)" if not self.model.empty else "—"
        else:
            text = cov.message
        self.coverage.setText(text)
        self.coverage.setStyleSheet(f"color: {w.COLOURS['warn']};" if cov is not None and not cov.passed else "")
        missed = () if cov is None else cov.missed
        if tuple(self.pin_buttons) != missed:
            for button in self.pin_buttons.values():
                self.pin_row.removeWidget(button)
                button.deleteLater()
            self.pin_buttons = {}
            for family in missed:
                button = QtWidgets.QPushButton(f"Pin {family}", self)
                button.setToolTip(f"Lock the image's mean {family} as an entry and refit around it")
                button.clicked.connect(lambda _=False, f=family: self.pin(f))
                self.pin_row.addWidget(button)
                self.pin_buttons[family] = button

    def pin(self, family: str) -> bool:
        """Pin hue ``family``: a locked entry of its mean colour, then a refit (see :meth:`PaletteModel.pin_family`)."""
        if self.guard(self.model.pin_family, family):
            cov = self.model.coverage()
            self.show_status(f"Pinned {family}; " + (cov.message if cov is not None else self.model.fit.message))
            return True
        return False

    def _param_changed(self, name: str) -> None:
        from core.palette import ENCODE_PARAMS

        self.guard(self.model.set_param, name, w.widget_value(self.param_widgets[name], ENCODE_PARAMS[name]))

    # -- actions ------------------------------------------------------------------------------------

    def guard(self, action, *args) -> bool:
        """Run a model action; a reelkit error goes to the status line instead of raising. True on success."""
        try:
            action(*args)
        except (ReelkitError, OSError) as exc:
            self.show_status(str(exc), error=True)
            return False
        return True

    def show_status(self, text: str, *, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {w.COLOURS['warn' if error else 'muted']};")

    def open_path(self, path: str | os.PathLike) -> bool:
        """Open a pack, a palette EXR or an image (fitted with the refit parameters)."""
        if self.guard(self.model.open, path):
            self.show_status(f"Opened {Path(path).name}")
            return True
        return False

    def save_path(self, path: str | os.PathLike) -> bool:
        """Save the edited palette as a pack (``.npz`` + ``.json``) or a palette EXR (``.exr``)."""
        if self.guard(self.model.save, path):
            self.show_status(f"Saved {Path(path).name}")
            return True
        return False

    def refit(self) -> bool:
        locked = int(self.model.locked.sum())
        if self.guard(self.model.refit):
            self.show_status(f"Refitted: {self.model.fit.message}" + (f"; kept {locked} locked" if locked else ""))
            return True
        return False

    # -- dialogs (non-blocking) -----------------------------------------------------------------------

    def _settings(self):
        return None if self.transient else QtCore.QSettings(*SETTINGS)

    def _folder(self) -> str:
        settings = self._settings()
        return str(settings.value("folder", "")) if settings is not None else ""

    def _remember(self, path: str) -> None:
        settings = self._settings()
        if settings is not None:
            settings.setValue("folder", str(Path(path).parent))

    def _file_dialog(self, title: str, filters: str, save: bool) -> QtWidgets.QFileDialog:
        dialog = QtWidgets.QFileDialog(self, title, self._folder(), filters)
        dialog.setAcceptMode(QtWidgets.QFileDialog.AcceptMode.AcceptSave if save else
                             QtWidgets.QFileDialog.AcceptMode.AcceptOpen)
        dialog.setFileMode(QtWidgets.QFileDialog.FileMode.AnyFile if save else
                           QtWidgets.QFileDialog.FileMode.ExistingFile)
        if save:
            dialog.setDefaultSuffix("npz")
        if self.transient:
            dialog.setOption(QtWidgets.QFileDialog.Option.DontUseNativeDialog, True)
        dialog.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.dialog = dialog
        return dialog

    def open_dialog(self) -> QtWidgets.QFileDialog:
        dialog = self._file_dialog("Open a palette or an image", OPEN_FILTER, save=False)
        dialog.fileSelected.connect(lambda path: (self._remember(path), self.open_path(path)))
        dialog.open()
        return dialog

    def save_dialog(self) -> QtWidgets.QFileDialog:
        dialog = self._file_dialog("Save the palette", SAVE_FILTER, save=True)
        if self.model.source:
            dialog.selectFile(Path(self.model.source).stem + ".edited.npz")
        dialog.fileSelected.connect(lambda path: (self._remember(path), self.save_path(path)))
        dialog.open()
        return dialog

    def pick_colour(self) -> QtWidgets.QColorDialog | None:
        """A colour dialog for the selected entry; choosing a colour sets it (display-referred sRGB)."""
        i = self.model.selected
        if i is None:
            return None
        dialog = QtWidgets.QColorDialog(w.qcolor(self.model.entry(i).srgb), self)
        dialog.setWindowTitle(f"Entry {i}")
        if self.transient:
            dialog.setOption(QtWidgets.QColorDialog.ColorDialogOption.DontUseNativeDialog, True)
        dialog.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.colorSelected.connect(
            lambda c, i=i: self.guard(self.model.set_srgb, i, (c.red(), c.green(), c.blue())))
        self.dialog = dialog
        dialog.open()
        return dialog

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(440, 720)


def _elide(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit // 2 - 1] + "…" + text[-(limit // 2 - 1):]
