"""The reelkit training monitor: live loss curve, latest contact sheet, stop / resume.

A plain ``QWidget`` (:class:`TrainMonitor`) over a
:class:`~core.train.monitor.TrainMonitorModel`, usable standalone::

    from PySide6 import QtWidgets
    from nuke_plugin.panels.train_monitor import TrainMonitor

    app = QtWidgets.QApplication([])
    panel = TrainMonitor("pipeline/03_training")
    panel.show(); app.exec()

and opened by the ReelTrain node's Monitor button (with its Stop and
Resume wired to the node). A timer re-reads the folder every ``poll_ms``
(0: never; call :meth:`TrainMonitor.refresh` yourself, as the tests do).
What it shows: the folder and a status line (step n/N, loss, run status);
the loss per step (faint) with its moving average (bright) on a log scale;
the latest contact sheet (rows of input / prediction / reference crops).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from nuke_plugin.panels import widgets as w
from core.train.monitor import TrainMonitorModel
from nuke_plugin.panels.widgets import QtCore, QtGui, QtWidgets

ROOT = "reelkitTrainMonitor"
TITLE = "reelkit Training monitor"


class LossPlot(QtWidgets.QWidget):
    """Loss per step (log scale), raw and smoothed, drawn from the model's lists."""

    def __init__(self, model: TrainMonitorModel, parent=None):
        super().__init__(parent)
        self.model = model
        self.setMinimumSize(360, 180)

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt)
        from core.train.report import smooth

        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        rect = QtCore.QRectF(self.rect()).adjusted(44, 10, -10, -24)
        p.fillRect(self.rect(), w.qcolor(w.COLOURS["panel"]))
        p.setPen(w.qcolor(w.COLOURS["border"]))
        p.drawRect(rect)
        steps = np.asarray(self.model.steps, dtype=np.float64)
        loss = np.asarray(self.model.loss, dtype=np.float64)
        keep = np.isfinite(loss) & (loss > 0)
        steps, loss = steps[keep], loss[keep]
        p.setPen(w.qcolor(w.COLOURS["muted"]))
        if loss.size < 2:
            p.drawText(rect, QtCore.Qt.AlignmentFlag.AlignCenter, "waiting for loss.csv")
            p.end()
            return
        logs = np.log10(loss)
        lo, hi = float(logs.min()), float(logs.max())
        if hi - lo < 1e-6:
            lo, hi = lo - 0.5, hi + 0.5
        s0, s1 = float(steps[0]), float(max(steps[-1], self.model.planned_steps or 0, steps[0] + 1))

        def pt(s: float, v: float) -> QtCore.QPointF:
            return QtCore.QPointF(rect.left() + (s - s0) / (s1 - s0) * rect.width(),
                                  rect.bottom() - (v - lo) / (hi - lo) * rect.height())

        for decade in range(math.floor(lo), math.ceil(hi) + 1):
            if lo <= decade <= hi:
                y = pt(s0, decade).y()
                p.setPen(w.qcolor(w.COLOURS["track"]))
                p.drawLine(QtCore.QPointF(rect.left(), y), QtCore.QPointF(rect.right(), y))
                p.setPen(w.qcolor(w.COLOURS["muted"]))
                p.drawText(QtCore.QRectF(0, y - 8, 40, 16), QtCore.Qt.AlignmentFlag.AlignRight, f"1e{decade}")
        p.drawText(QtCore.QRectF(rect.left(), rect.bottom() + 4, 80, 16), QtCore.Qt.AlignmentFlag.AlignLeft,
                   f"{int(s0)}")
        p.drawText(QtCore.QRectF(rect.right() - 120, rect.bottom() + 4, 120, 16),
                   QtCore.Qt.AlignmentFlag.AlignRight, f"step {int(s1)}")
        stride = max(1, loss.size // 2000)
        for values, colour, width in ((logs, w.COLOURS["faint"], 1.0),
                                      (np.log10(np.maximum(smooth(loss), 1e-12)), w.COLOURS["accent"], 2.0)):
            # one polyline call: thousands of per-point calls returning None trip a PySide6 refcount bug
            points = [pt(float(s), float(v)) for s, v in zip(steps[::stride], values[::stride])]
            points.append(pt(float(steps[-1]), float(values[-1])))
            p.setPen(QtGui.QPen(w.qcolor(colour), width))
            p.drawPolyline(QtGui.QPolygonF(points))
        p.end()


class TrainMonitor(QtWidgets.QWidget):
    """Training monitor of one folder (see the module docstring)."""

    def __init__(self, folder: str | Path | None = None, *, model: TrainMonitorModel | None = None,
                 poll_ms: int = 2000, parent=None):
        super().__init__(parent)
        self.setObjectName(ROOT)
        self.setWindowTitle(TITLE)
        self.setStyleSheet(w.stylesheet(ROOT))
        self.model = model or TrainMonitorModel(Path(folder or "."))
        self._sheet_shown = 0.0
        layout = QtWidgets.QVBoxLayout(self)
        self.title = w.label(str(self.model.folder), "title")
        self.status = w.label("", "status")
        layout.addWidget(self.title)
        layout.addWidget(self.status)
        layout.addWidget(w.label("LOSS", "section"))
        self.plot = LossPlot(self.model)
        layout.addWidget(self.plot, 2)
        layout.addWidget(w.label("CONTACT SHEET  (input / prediction / reference)", "section"))
        self.sheet = QtWidgets.QLabel()
        self.sheet.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.sheet.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Ignored)
        self.sheet.setMinimumHeight(160)
        layout.addWidget(self.sheet, 3)
        row = QtWidgets.QHBoxLayout()
        self.stop_button = QtWidgets.QPushButton("Stop")
        self.resume_button = QtWidgets.QPushButton("Resume")
        self.resume_button.setProperty("role", "primary")
        self.stop_button.clicked.connect(self._stop)
        self.resume_button.clicked.connect(self._resume)
        row.addStretch(1)
        row.addWidget(self.stop_button)
        row.addWidget(self.resume_button)
        layout.addLayout(row)
        self.timer = QtCore.QTimer(self)
        self.timer.timeout.connect(self.refresh)
        if poll_ms > 0:
            self.timer.start(poll_ms)
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> bool:
        """Re-read the folder; redraw what changed. Returns whether anything did."""
        changed = self.model.refresh()
        if changed or force:
            self.status.setText(self.model.summary())
            if self.model.sheet is not None and self.model.sheet_mtime != self._sheet_shown:
                pix = QtGui.QPixmap(str(self.model.sheet))
                if not pix.isNull():
                    self._sheet_shown = self.model.sheet_mtime
                    self._pixmap = pix
            self._show_sheet()
            self.stop_button.setEnabled(self.model.can_stop)
            self.resume_button.setEnabled(self.model.can_resume)
            self.plot.update()
        return changed

    def _show_sheet(self) -> None:
        pix = getattr(self, "_pixmap", None)
        if pix is None:
            self.sheet.setText("no contact sheet yet")
            return
        size = self.sheet.size()
        self.sheet.setPixmap(pix.scaled(max(size.width(), 64), max(size.height(), 64),
                                        QtCore.Qt.AspectRatioMode.KeepAspectRatio,
                                        QtCore.Qt.TransformationMode.SmoothTransformation))

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt)
        super().resizeEvent(event)
        self._show_sheet()

    def _stop(self) -> None:
        self.model.stop()
        self.refresh(force=True)

    def _resume(self) -> None:
        self.model.resume()
        self.refresh(force=True)
