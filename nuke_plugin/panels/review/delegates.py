"""How the review panel paints a frame cell (thumbnail, exemplar star, rejected cross, id, tags) and a
cluster row (best exemplar, name, counts, tags)."""

from __future__ import annotations

from nuke_plugin.panels import widgets as w
from nuke_plugin.panels.review.items import CLUSTER_ROLE, FRAME_ROLE
from nuke_plugin.panels.review.thumbnails import THUMB
from nuke_plugin.panels.widgets import QtCore, QtGui, QtWidgets

#: Longer side of a cluster's picture in the list (pixels).
CLUSTER_THUMB = 72


def _draw_pixmap(p: QtGui.QPainter, pm: QtGui.QPixmap | None, box: QtCore.QRect) -> QtCore.QRect:
    """Draw ``pm`` centred in ``box`` keeping its aspect; returns where it went (a dark box while it loads)."""
    if pm is None or pm.isNull():
        p.fillRect(box, w.qcolor("track"))
        return box
    scaled = QtCore.QSize(pm.width(), pm.height()).scaled(box.size(), QtCore.Qt.AspectRatioMode.KeepAspectRatio)
    target = QtCore.QRect(0, 0, scaled.width(), scaled.height())
    target.moveCenter(box.center())
    p.drawPixmap(target, pm)
    return target


class FrameDelegate(QtWidgets.QStyledItemDelegate):
    """A frame cell: thumbnail, exemplar star, rejected cross, id and tags."""

    def __init__(self, panel: "ReviewPanel"):
        super().__init__(panel)
        self.panel = panel

    def sizeHint(self, option, index) -> QtCore.QSize:
        return QtCore.QSize(THUMB + 10, int(THUMB * 0.75) + 40)

    def paint(self, p: QtGui.QPainter, option, index) -> None:
        cs = self.panel.model.clusters
        fid = index.data(FRAME_ROLE)
        f, d = cs.frames[fid], cs.decision(fid)
        r = option.rect.adjusted(3, 3, -3, -3)
        selected = bool(option.state & QtWidgets.QStyle.StateFlag.State_Selected)
        current = bool(option.state & QtWidgets.QStyle.StateFlag.State_HasFocus)
        p.save()
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        p.setPen(QtCore.Qt.PenStyle.NoPen)
        p.setBrush(w.qcolor("raised" if selected else "panel"))
        p.drawRoundedRect(QtCore.QRectF(r), 4, 4)
        box = QtCore.QRect(r.left() + 4, r.top() + 4, r.width() - 8, int(THUMB * 0.75))
        shown = _draw_pixmap(p, index.data(QtCore.Qt.ItemDataRole.DecorationRole), box)
        if d.rejected:
            p.fillRect(shown, QtGui.QColor(20, 20, 20, 170))
            p.setPen(QtGui.QPen(QtGui.QColor("#d9534f"), 3))
            p.drawLine(shown.topLeft() + QtCore.QPoint(8, 8), shown.bottomRight() - QtCore.QPoint(8, 8))
            p.drawLine(shown.topRight() + QtCore.QPoint(-8, 8), shown.bottomLeft() + QtCore.QPoint(8, -8))
        if f.exemplar is not None:
            badge = QtCore.QRectF(shown.left() + 4, shown.top() + 4, 34, 18)
            p.setPen(QtCore.Qt.PenStyle.NoPen)
            p.setBrush(QtGui.QColor(0, 0, 0, 170))
            p.drawRoundedRect(badge, 9, 9)
            p.setPen(w.qcolor("accent"))
            p.drawText(badge, int(QtCore.Qt.AlignmentFlag.AlignCenter), f"★{f.exemplar + 1}")
        font = QtGui.QFont(p.font())
        font.setPointSizeF(max(font.pointSizeF() - 1.5, 7))
        p.setFont(font)
        metrics = QtGui.QFontMetrics(font)
        text_top = box.bottom() + 4
        p.setPen(w.qcolor("muted" if d.rejected else "text"))
        p.drawText(QtCore.QRect(r.left() + 5, text_top, r.width() - 10, 14),
                   int(QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter),
                   metrics.elidedText(fid, QtCore.Qt.TextElideMode.ElideMiddle, r.width() - 10))
        own = cs.frame_tags(fid)
        extra = "rejected" if d.rejected else ("  ".join(f"#{t}" for t in own) if own else "")
        if d.fields and not d.rejected and cs.frame_fields(fid):
            extra = (extra + "  ✎").strip()
        if extra:
            p.setPen(QtGui.QColor("#d9534f") if d.rejected else w.qcolor("accent"))
            p.drawText(QtCore.QRect(r.left() + 5, text_top + 14, r.width() - 10, 14),
                       int(QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter),
                       metrics.elidedText(extra, QtCore.Qt.TextElideMode.ElideRight, r.width() - 10))
        if selected or current:
            p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
            p.setPen(QtGui.QPen(w.qcolor("accent" if selected else "faint"), 2 if selected else 1))
            p.drawRoundedRect(QtCore.QRectF(r).adjusted(1, 1, -1, -1), 4, 4)
        p.restore()


class ClusterDelegate(QtWidgets.QStyledItemDelegate):
    """A cluster row: its best exemplar, name, counts, tags."""

    ROW = CLUSTER_THUMB * 3 // 4 + 12

    def __init__(self, panel: "ReviewPanel"):
        super().__init__(panel)
        self.panel = panel

    def sizeHint(self, option, index) -> QtCore.QSize:
        return QtCore.QSize(220, self.ROW)

    def paint(self, p: QtGui.QPainter, option, index) -> None:
        cs = self.panel.model.clusters
        cid = index.data(CLUSTER_ROLE)
        v = cs.cluster(cid)
        r = option.rect
        selected = bool(option.state & QtWidgets.QStyle.StateFlag.State_Selected)
        shown_here = cid == self.panel.frames_model.cid
        p.save()
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        if selected:
            p.fillRect(r, w.qcolor("raised"))
        if shown_here:
            p.fillRect(QtCore.QRect(r.left(), r.top(), 3, r.height()), w.qcolor("accent"))
        box = QtCore.QRect(r.left() + 8, r.top() + 6, CLUSTER_THUMB, r.height() - 12)
        _draw_pixmap(p, index.data(QtCore.Qt.ItemDataRole.DecorationRole) if v.size else None, box)
        x = box.right() + 10
        name_font = QtGui.QFont(p.font())
        name_font.setBold(True)
        name_font.setItalic(v.is_noise)
        p.setFont(name_font)
        p.setPen(w.qcolor("muted" if v.is_noise else "text"))
        width = r.right() - x - 6
        fm = QtGui.QFontMetrics(name_font)
        p.drawText(QtCore.QRect(x, r.top() + 6, width, 18),
                   int(QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter),
                   fm.elidedText(v.name, QtCore.Qt.TextElideMode.ElideRight, width))
        small = QtGui.QFont(p.font())
        small.setBold(False)
        small.setItalic(False)
        small.setPointSizeF(max(small.pointSizeF() - 1.5, 7))
        p.setFont(small)
        sm = QtGui.QFontMetrics(small)
        counts = f"{v.size} frame{'s' * (v.size != 1)}"
        if v.rejected:
            counts += f" · {v.rejected} rejected"
        if not v.is_noise:
            counts += f" · #{cid}"
        p.setPen(w.qcolor("muted"))
        p.drawText(QtCore.QRect(x, r.top() + 24, width, 16),
                   int(QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter), counts)
        if v.tags:
            p.setPen(w.qcolor("accent"))
            p.drawText(QtCore.QRect(x, r.top() + 40, width, 16),
                       int(QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter),
                       sm.elidedText("  ".join(f"#{t}" for t in v.tags), QtCore.Qt.TextElideMode.ElideRight, width))
        p.setPen(w.qcolor("border"))
        p.drawLine(r.left() + 8, r.bottom(), r.right() - 8, r.bottom())
        p.restore()
