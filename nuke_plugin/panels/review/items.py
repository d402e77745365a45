"""The review panel's Qt item models over a :class:`core.dataset.review.ReviewModel`: the cluster list
(frames dropped on a row move there) and the frame grid of one cluster (dragging carries frame ids)."""

from __future__ import annotations

import json

from nuke_plugin.panels.widgets import QtCore

MIME = "application/x-reelkit-frames"
FRAME_ROLE = int(QtCore.Qt.ItemDataRole.UserRole) + 1
CLUSTER_ROLE = int(QtCore.Qt.ItemDataRole.UserRole) + 2


class ClusterListModel(QtCore.QAbstractListModel):
    """One row per cluster (noise last); frames dropped on a row move there."""

    def __init__(self, panel: "ReviewPanel"):
        super().__init__(panel)
        self.panel = panel
        self.ids: list[int] = []

    def refresh(self) -> None:
        self.beginResetModel()
        self.ids = self.panel.model.clusters.cluster_ids() if self.panel.model else []
        self.endResetModel()

    def rowCount(self, parent=QtCore.QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.ids)

    def row_of(self, cid: int) -> int:
        return self.ids.index(cid) if cid in self.ids else -1

    def data(self, index, role=QtCore.Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not self.panel.model:
            return None
        cid = self.ids[index.row()]
        cs = self.panel.model.clusters
        if role == CLUSTER_ROLE:
            return cid
        if role == QtCore.Qt.ItemDataRole.DisplayRole:
            return cs.name(cid)
        if role == QtCore.Qt.ItemDataRole.DecorationRole:
            frames = cs.members(cid)
            return self.panel.cluster_thumbs.get(cs.image_path(frames[0])) if frames else None
        if role == QtCore.Qt.ItemDataRole.ToolTipRole:
            v = cs.cluster(cid)
            bits = [f"{v.name} (id {cid})", f"{v.size} frames, {v.exemplars} exemplars, {v.rejected} rejected"]
            if v.tags:
                bits.append("tags: " + ", ".join(v.tags))
            bits += [f"{k}: {val}" for k, val in sorted(v.fields.items())]
            return "\n".join(bits)
        return None

    def flags(self, index):
        base = super().flags(index)
        return base | QtCore.Qt.ItemFlag.ItemIsDropEnabled if index.isValid() else base

    def mimeTypes(self):
        return [MIME]

    def supportedDropActions(self):
        return QtCore.Qt.DropAction.MoveAction

    def canDropMimeData(self, data, action, row, column, parent) -> bool:
        return data.hasFormat(MIME) and parent.isValid()

    def dropMimeData(self, data, action, row, column, parent) -> bool:
        if not self.canDropMimeData(data, action, row, column, parent):
            return False
        ids = json.loads(bytes(data.data(MIME)).decode("utf-8"))
        cid = self.ids[parent.row()]
        QtCore.QTimer.singleShot(0, lambda: self.panel.move_frames(ids, cid))  # after the drag has finished
        return True


class FrameGridModel(QtCore.QAbstractListModel):
    """The frames of one cluster, exemplars first; dragging carries their ids."""

    def __init__(self, panel: "ReviewPanel"):
        super().__init__(panel)
        self.panel = panel
        self.cid: int | None = None
        self.ids: tuple[str, ...] = ()
        self._rows: dict[str, int] = {}

    def show(self, cid: int | None) -> None:
        self.beginResetModel()
        cs = self.panel.model.clusters if self.panel.model else None
        self.cid = cid if cs is not None and cid is not None and cs.exists(cid) else None
        self.ids = cs.members(self.cid) if self.cid is not None else ()
        self._rows = {f: i for i, f in enumerate(self.ids)}
        self.endResetModel()

    def rowCount(self, parent=QtCore.QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.ids)

    def data(self, index, role=QtCore.Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not self.panel.model:
            return None
        fid = self.ids[index.row()]
        cs = self.panel.model.clusters
        if role == FRAME_ROLE:
            return fid
        if role == QtCore.Qt.ItemDataRole.DisplayRole:
            return fid
        if role == QtCore.Qt.ItemDataRole.DecorationRole:
            return self.panel.thumbs.get(cs.image_path(fid))
        if role == QtCore.Qt.ItemDataRole.ToolTipRole:
            f, d = cs.frames[fid], cs.decision(fid)
            bits = [fid, f.path, f"probability {f.probability:.2f} · outlier score {f.outlier_score:.2f}"]
            if f.shot:
                bits.append(f"shot {f.shot}")
            if f.exemplar is not None:
                bits.append(f"exemplar {f.exemplar + 1}")
            if d.tags:
                bits.append("tags: " + ", ".join(d.tags))
            bits += [f"{k}: {v}" for k, v in sorted(d.fields.items())]
            if d.rejected:
                bits.append(f"REJECTED: {d.reason}")
            return "\n".join(bits)
        return None

    def row_of(self, fid: str) -> int:
        return self._rows.get(fid, -1)

    def flags(self, index):
        base = super().flags(index)
        return base | QtCore.Qt.ItemFlag.ItemIsDragEnabled if index.isValid() else base

    def mimeTypes(self):
        return [MIME]

    def mimeData(self, indexes):
        data = QtCore.QMimeData()
        ids = [self.ids[i.row()] for i in sorted(indexes, key=lambda i: i.row())]
        data.setData(MIME, QtCore.QByteArray(json.dumps(ids).encode("utf-8")))
        return data

    def supportedDragActions(self):
        return QtCore.Qt.DropAction.MoveAction
