"""The reelkit Dataset review panel: look through the clusters, fix them, tag and caption, save decisions.

A plain ``QWidget`` (:class:`ReviewPanel`) over a
:class:`core.dataset.review.ReviewModel` (no Qt in the model). Standalone::

    reelkit-review DATASET_DIR      (or: python -m nuke_plugin.panels.review.panel DATASET_DIR)

(:func:`launch` is the same as a function), and docked in Nuke:
``nuke_plugin.menus`` registers it as the "reelkit Dataset review" pane.

Left, the **clusters**: one row per cluster (its best exemplar, name,
frame count, tags), noise last. Right, the **frames** of the current
cluster as a thumbnail grid, exemplars first (a star and their rank);
rejected frames are dimmed and crossed. Below, two cards: the **cluster**
(name, tags, caption fields) and the **selection** (its tags, caption
fields that override the cluster's, move, reject). Thumbnails load lazily
a few per event-loop turn on the GUI thread (only the rows in view) and are kept in a cache.

Keys (when a list has focus; in a text field, keys type text):

========================  ============================================================
clusters list             Up/Down move, Enter opens the cluster (focus to its frames),
                          M merges the selected clusters into the current one,
                          R renames, T edits the cluster's tags, C its caption fields
frames grid               arrows move, Shift+arrows / Ctrl+A select, Esc or Backspace
                          goes back to the clusters, S splits the selection into a new
                          cluster, M moves it (a menu of clusters), X or Delete
                          rejects / restores it, T edits its tags, C its caption fields
anywhere in the panel     Ctrl+Z undo, Ctrl+Shift+Z (or Ctrl+Y) redo, Ctrl+S save
========================  ============================================================

In a text field, Enter applies the edit and goes back to the list. Frames
can also be dragged onto a cluster in the list (a move).

Dialogs never block (``QDialog.open()``); with ``transient=True`` (tests,
scripted use) they are Qt's own dialogs and no setting is read or written.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from core.dataset.review import CAPTION_FIELDS, NOISE, ReviewModel
from core.errors import ReelkitError
from nuke_plugin.panels import widgets as w
from nuke_plugin.panels.review.cards import FieldsGrid, field_label, line_edit, set_text, split_tags
from nuke_plugin.panels.review.delegates import ClusterDelegate, FrameDelegate
from nuke_plugin.panels.review.items import CLUSTER_ROLE, FRAME_ROLE, ClusterListModel, FrameGridModel
from nuke_plugin.panels.review.thumbnails import THUMB, ThumbnailCache
from nuke_plugin.panels.widgets import QtCore, QtWidgets

ROOT = "reelkitReviewPanel"
TITLE = "reelkit Dataset review"
SETTINGS = ("reelkit", "review_panel")

#: (key, where, what): the keyboard map shown in the docs and the panel's tooltips.
SHORTCUTS = (
    ("Enter", "clusters", "open the cluster (focus its frames)"),
    ("M", "clusters", "merge the selected clusters into the current one"),
    ("R", "clusters, frames", "rename the current cluster"),
    ("T", "clusters, frames", "edit tags (the cluster's, or the selected frames')"),
    ("C", "clusters, frames", "edit caption fields (the cluster's, or the selected frames')"),
    ("Esc / Backspace", "frames", "back to the clusters"),
    ("S", "frames", "split the selected frames into a new cluster"),
    ("M", "frames", "move the selected frames to another cluster (menu)"),
    ("X / Delete", "frames", "reject the selected frames (restore if all are rejected)"),
    ("Ctrl+Z", "panel", "undo"),
    ("Ctrl+Shift+Z / Ctrl+Y", "panel", "redo"),
    ("Ctrl+S", "panel", "save decisions"),
)

_K = QtCore.Qt.Key
_MOD = QtCore.Qt.KeyboardModifier


class _Keys(QtCore.QObject):
    """Routes the panel's keys from the two lists (and claims them from host shortcuts, as Nuke's)."""

    def __init__(self, panel: "ReviewPanel"):
        super().__init__(panel)
        self.panel = panel

    def eventFilter(self, obj, event) -> bool:
        kind = event.type()
        if kind not in (QtCore.QEvent.Type.ShortcutOverride, QtCore.QEvent.Type.KeyPress):
            return False
        action = self.panel.key_action(obj, event.key(), event.modifiers())
        if action is None:
            return False
        event.accept()
        if kind == QtCore.QEvent.Type.KeyPress:
            action()
        return True


class ReviewPanel(QtWidgets.QWidget):
    """The review panel; see the module docstring. ``model``: a :class:`ReviewModel`, or open one later."""

    def __init__(self, model: ReviewModel | None = None, *, transient: bool = False, parent=None):
        super().__init__(parent)
        self.model: ReviewModel | None = None
        self.transient = transient
        self.dialog: QtWidgets.QDialog | None = None
        self.move_menu: QtWidgets.QMenu | None = None
        self._back_to: QtWidgets.QWidget | None = None
        self.setObjectName(ROOT)
        self.setWindowTitle(TITLE)
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(w.stylesheet(ROOT) + _EXTRA_STYLE.format(root=ROOT, **w.COLOURS))
        self.thumbs = ThumbnailCache(THUMB, parent=self)
        self.cluster_thumbs = self.thumbs  # the same cache: the list shows a cluster's first frame
        self.thumbs.ready.connect(self._thumb_ready)
        self._build()
        self.set_model(model)

    # -- layout ------------------------------------------------------------------------------

    def _build(self) -> None:
        outer = QtWidgets.QVBoxLayout(self)
        outer.setContentsMargins(12, 12, 12, 10)
        outer.setSpacing(8)

        head = QtWidgets.QHBoxLayout()
        self.title = w.label("Dataset review", "title", self)
        self.title.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
        head.addWidget(self.title, 1)
        self.open_button = self._button("Open…", "Open a dataset folder (its cluster stage output)", self.open_dialog)
        self.undo_button = self._button("Undo", "Undo (Ctrl+Z)", self.undo)
        self.redo_button = self._button("Redo", "Redo (Ctrl+Shift+Z)", self.redo)
        self.save_button = self._button("Save decisions", "Write review/decisions.json (Ctrl+S)", self.save)
        self.save_button.setProperty("role", "primary")
        for b in (self.open_button, self.undo_button, self.redo_button, self.save_button):
            head.addWidget(b)
        outer.addLayout(head)
        self.summary = w.label("", "muted", self)
        outer.addWidget(self.summary)

        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal, self)
        split.setChildrenCollapsible(False)
        split.setHandleWidth(12)
        self.splitter = split
        # left: clusters
        left = QtWidgets.QWidget(split)
        lv = QtWidgets.QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.setSpacing(6)
        lhead = QtWidgets.QHBoxLayout()
        lhead.addWidget(w.label("CLUSTERS", "section", left))
        lhead.addStretch(1)
        self.merge_button = self._button("Merge", "Merge the selected clusters into the current one (M)",
                                         self.merge_selected, left)
        lhead.addWidget(self.merge_button)
        lv.addLayout(lhead)
        self.clusters_model = ClusterListModel(self)
        self.cluster_view = QtWidgets.QListView(left)
        self.cluster_view.setObjectName("clusters")
        self.cluster_view.setModel(self.clusters_model)
        self.cluster_view.setItemDelegate(ClusterDelegate(self))
        self.cluster_view.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.ExtendedSelection)
        self.cluster_view.setUniformItemSizes(True)
        self.cluster_view.setAcceptDrops(True)
        self.cluster_view.setDropIndicatorShown(True)
        self.cluster_view.setDragDropMode(QtWidgets.QAbstractItemView.DragDropMode.DropOnly)
        self.cluster_view.setToolTip("Enter: open · M: merge selected into current · R: rename · T: tags · "
                                     "C: caption fields")
        self.cluster_view.selectionModel().currentChanged.connect(self._cluster_current_changed)
        lv.addWidget(self.cluster_view, 1)
        split.addWidget(left)
        # right: frames + editors
        right = QtWidgets.QWidget(split)
        rv = QtWidgets.QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.setSpacing(6)
        rhead = QtWidgets.QHBoxLayout()
        self.frames_title = w.label("FRAMES", "section", right)
        rhead.addWidget(self.frames_title)
        rhead.addStretch(1)
        self.split_button = self._button("Split", "Move the selected frames to a new cluster (S)",
                                         self.split_selected, right)
        self.move_button = self._button("Move to…", "Move the selected frames to another cluster (M); "
                                        "or drag them onto a cluster", self.show_move_menu, right)
        self.reject_button = self._button("Reject", "Reject / restore the selected frames (X)",
                                          self.toggle_reject, right)
        for b in (self.split_button, self.move_button, self.reject_button):
            rhead.addWidget(b)
        rv.addLayout(rhead)
        self.frames_model = FrameGridModel(self)
        view = QtWidgets.QListView(right)
        view.setObjectName("frames")
        view.setViewMode(QtWidgets.QListView.ViewMode.IconMode)
        view.setResizeMode(QtWidgets.QListView.ResizeMode.Adjust)
        view.setMovement(QtWidgets.QListView.Movement.Static)
        view.setUniformItemSizes(True)
        view.setSpacing(2)
        view.setWrapping(True)
        view.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.ExtendedSelection)
        view.setDragEnabled(True)
        view.setDragDropMode(QtWidgets.QAbstractItemView.DragDropMode.DragOnly)
        view.setModel(self.frames_model)
        view.setItemDelegate(FrameDelegate(self))
        view.setIconSize(QtCore.QSize(THUMB, THUMB))
        view.setToolTip("Esc: back to clusters · S: split · M: move · X: reject · T: tags · C: caption fields")
        view.selectionModel().selectionChanged.connect(lambda *_: self._refresh_selection())
        self.frame_view = view
        rv.addWidget(view, 1)

        cards = QtWidgets.QHBoxLayout()
        cards.setSpacing(8)
        # cluster card
        self.cluster_card = w.card(right)
        cg = QtWidgets.QGridLayout(self.cluster_card)
        cg.setContentsMargins(10, 8, 10, 8)
        cg.setVerticalSpacing(4)
        self.cluster_heading = w.label("CLUSTER", "section", self.cluster_card)
        cg.addWidget(self.cluster_heading, 0, 0, 1, 2)
        self.name_edit = line_edit(self.cluster_card, "cluster name")
        self.name_edit.setObjectName("cluster_name")
        self.name_edit.editingFinished.connect(self._name_edited)
        self.cluster_tags_edit = line_edit(self.cluster_card, "tags, comma separated")
        self.cluster_tags_edit.setObjectName("cluster_tags")
        self.cluster_tags_edit.editingFinished.connect(self._cluster_tags_edited)
        cg.setHorizontalSpacing(8)
        cg.addWidget(field_label("name", self.cluster_card), 1, 0)
        cg.addWidget(self.name_edit, 1, 1)
        cg.addWidget(field_label("tags", self.cluster_card), 2, 0)
        cg.addWidget(self.cluster_tags_edit, 2, 1)
        self.cluster_fields = FieldsGrid(self.cluster_card)
        self.cluster_fields.changed.connect(self._cluster_fields_edited)
        cg.addWidget(self.cluster_fields, 3, 0, 1, 2)
        cg.setColumnStretch(1, 1)
        cards.addWidget(self.cluster_card, 1)
        # selection card
        self.selection_card = w.card(right)
        sg = QtWidgets.QGridLayout(self.selection_card)
        sg.setContentsMargins(10, 8, 10, 8)
        sg.setVerticalSpacing(4)
        self.selection_heading = w.label("SELECTION", "section", self.selection_card)
        sg.addWidget(self.selection_heading, 0, 0, 1, 2)
        self.selection_info = w.label("", "muted", self.selection_card)
        self.selection_info.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored,
                                          QtWidgets.QSizePolicy.Policy.Preferred)
        sg.addWidget(self.selection_info, 1, 0, 1, 2)
        self.frame_tags_edit = line_edit(self.selection_card, "tags, comma separated")
        self.frame_tags_edit.setObjectName("frame_tags")
        self.frame_tags_edit.editingFinished.connect(self._frame_tags_edited)
        sg.setHorizontalSpacing(8)
        sg.addWidget(field_label("tags", self.selection_card), 2, 0)
        sg.addWidget(self.frame_tags_edit, 2, 1)
        self.frame_fields = FieldsGrid(self.selection_card)
        self.frame_fields.changed.connect(self._frame_fields_edited)
        sg.addWidget(self.frame_fields, 3, 0, 1, 2)
        sg.setColumnStretch(1, 1)
        cards.addWidget(self.selection_card, 1)
        rv.addLayout(cards)
        split.addWidget(right)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([250, 900])
        outer.addWidget(split, 1)

        self.status = w.label("", "status", self)
        self.status.setWordWrap(True)
        outer.addWidget(self.status)

        self._keys = _Keys(self)
        for target in (self.cluster_view, self.frame_view, self):
            target.installEventFilter(self._keys)
        for edit in (self.name_edit, self.cluster_tags_edit, self.frame_tags_edit,
                     *self.cluster_fields.edits.values(), *self.frame_fields.edits.values()):
            edit.returnPressed.connect(self._return_to_list)
            edit.installEventFilter(self._keys)  # Esc in a field goes back too

    def _button(self, text, tip, slot, parent=None) -> QtWidgets.QPushButton:
        b = QtWidgets.QPushButton(text, parent or self)
        b.setToolTip(tip)
        b.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)  # keys stay with the lists
        b.clicked.connect(lambda _=False: slot())
        return b

    # -- keys -------------------------------------------------------------------------------------

    def key_action(self, obj, key: int, mods) -> object | None:
        """The action a key press on ``obj`` runs (``None``: not ours; the widget or host handles it)."""
        ctrl = bool(mods & _MOD.ControlModifier)
        shift = bool(mods & _MOD.ShiftModifier)
        plain = not (mods & (_MOD.ControlModifier | _MOD.AltModifier | _MOD.MetaModifier))
        if isinstance(obj, QtWidgets.QLineEdit):
            if key == _K.Key_Escape:
                return self._cancel_field
            return None  # typing, and the field's own Ctrl+Z
        if ctrl and key == _K.Key_Z:
            return self.redo if shift else self.undo
        if ctrl and key == _K.Key_Y:
            return self.redo
        if ctrl and key == _K.Key_S:
            return self.save
        if obj is self.cluster_view and plain:
            return {_K.Key_Return: self.open_current_cluster, _K.Key_Enter: self.open_current_cluster,
                    _K.Key_M: self.merge_selected, _K.Key_R: self.focus_rename,
                    _K.Key_T: lambda: self._focus(self.cluster_tags_edit),
                    _K.Key_C: lambda: self._focus(self.cluster_fields.edits[CAPTION_FIELDS[0]])}.get(key)
        if obj is self.frame_view and plain:
            return {_K.Key_Escape: self.back_to_clusters, _K.Key_Backspace: self.back_to_clusters,
                    _K.Key_S: self.split_selected, _K.Key_M: self.show_move_menu,
                    _K.Key_X: self.toggle_reject, _K.Key_Delete: self.toggle_reject,
                    _K.Key_R: self.focus_rename, _K.Key_T: lambda: self._focus(self.frame_tags_edit),
                    _K.Key_C: lambda: self._focus(self.frame_fields.edits[CAPTION_FIELDS[0]])}.get(key)
        return None

    def _focus(self, edit: QtWidgets.QLineEdit) -> None:
        if not edit.isEnabled():
            return
        self._back_to = self.focusWidget() if self.focusWidget() in (self.cluster_view, self.frame_view) else None
        edit.setFocus(QtCore.Qt.FocusReason.ShortcutFocusReason)
        edit.selectAll()

    def _cancel_field(self) -> None:
        """Esc in a field: put back what the model says (so leaving applies nothing), return to the list."""
        self._refresh_cluster_card()
        self._refresh_selection()
        self._return_to_list()

    def _return_to_list(self) -> None:
        target = self._back_to or self.cluster_view
        target.setFocus(QtCore.Qt.FocusReason.ShortcutFocusReason)

    def focus_rename(self) -> None:
        self._focus(self.name_edit)

    # -- model ------------------------------------------------------------------------------------

    def set_model(self, model: ReviewModel | None) -> None:
        self.model = model
        if model is not None:
            model.subscribe(self._on_model)
        self._on_model("reset", None)

    def _on_model(self, event: str, payload) -> None:
        keep_cluster = self.current_cluster()
        keep_frames = self.selected_frames()
        keep_current = self.frame_view.currentIndex().data(FRAME_ROLE)
        self.clusters_model.refresh()
        if self.model is None:
            self.frames_model.show(None)
        else:
            cs = self.model.clusters
            if event == "reset" or keep_cluster is None or not cs.exists(keep_cluster):
                ids = cs.cluster_ids()
                keep_cluster = ids[0] if ids else None
            self.select_cluster(keep_cluster, keep_selection=False)
            if event != "reset":
                self._select_frames([f for f in keep_frames if cs.cluster_of(f) == keep_cluster], keep_current)
        self._refresh_header(event, payload)
        self._refresh_cluster_card()
        self._refresh_selection()

    def _thumb_ready(self, path: str) -> None:
        self.cluster_view.viewport().update()
        self.frame_view.viewport().update()

    def _refresh_header(self, event: str, payload) -> None:
        m = self.model
        has = m is not None
        for b in (self.save_button, self.merge_button, self.split_button, self.move_button, self.reject_button):
            b.setEnabled(has)
        self.undo_button.setEnabled(has and m.can_undo)
        self.redo_button.setEnabled(has and m.can_redo)
        self.undo_button.setToolTip(f"Undo {m.undo_text} (Ctrl+Z)" if has and m.can_undo else "Undo (Ctrl+Z)")
        self.redo_button.setToolTip(f"Redo {m.redo_text} (Ctrl+Shift+Z)" if has and m.can_redo else
                                    "Redo (Ctrl+Shift+Z)")
        if not has:
            self.title.setText("Dataset review")
            self.summary.setText("Open a dataset folder that has been through the cluster stage.")
            return
        cs = m.clusters
        folder = cs.root.name if cs.root is not None else ""
        self.title.setText(f"Dataset review — {folder}" if folder else "Dataset review")
        s = cs.summary()
        bits = [f"{s['clusters']} clusters", f"{s['frames']} frames", f"{s['noise']} noise",
                f"{s['rejected']} rejected"]
        bits.append("unsaved changes" if m.dirty else ("saved" if m.decisions_file and m.decisions_file.exists()
                                                        else "no decisions yet"))
        self.summary.setText(" · ".join(bits))
        if event in ("edit", "undo", "redo"):
            self.show_status({"edit": "", "undo": "Undid: ", "redo": "Redid: "}[event] + str(payload))
        elif event == "saved":
            self.show_status(f"Saved {payload}")
        elif event == "reset" and cs.problems:
            self.show_status("Decisions partly applied: " + "; ".join(cs.problems), error=True)

    def _refresh_cluster_card(self) -> None:
        cid = self.frames_model.cid
        enabled = self.model is not None and cid is not None
        for e in (self.name_edit, self.cluster_tags_edit):
            e.setEnabled(enabled)
        self.cluster_fields.setEnabled(enabled)
        if not enabled:
            self.cluster_heading.setText("CLUSTER")
            for e in (self.name_edit, self.cluster_tags_edit):
                e.clear()
            self.cluster_fields.show_values({})
            self.frames_title.setText("FRAMES")
            return
        v = self.model.clusters.cluster(cid)
        self.frames_title.setText(f"FRAMES — {v.name.upper()} · {v.size}")
        self.cluster_heading.setText(f"CLUSTER #{cid}" if cid != NOISE else "NOISE BUCKET")
        set_text(self.name_edit, v.name)
        self.name_edit.setEnabled(cid != NOISE)
        set_text(self.cluster_tags_edit, ", ".join(v.tags))
        self.cluster_fields.show_values(dict(v.fields))

    def _refresh_selection(self) -> None:
        ids = self.selected_frames()
        has = self.model is not None and bool(ids)
        for b in (self.split_button, self.move_button, self.reject_button):
            b.setEnabled(has)
        self.frame_tags_edit.setEnabled(has)
        self.frame_fields.setEnabled(has)
        if not has:
            self.selection_heading.setText("SELECTION")
            self.selection_info.setText("No frames selected.")
            set_text(self.frame_tags_edit, "")
            self.frame_fields.show_values({})
            self.reject_button.setText("Reject")
            return
        cs = self.model.clusters
        self.selection_heading.setText(f"SELECTION · {len(ids)} FRAME{'S' * (len(ids) != 1)}")
        if len(ids) == 1:
            f = cs.frames[ids[0]]
            info = f"{f.id} · p {f.probability:.2f}" + (f" · shot {f.shot}" if f.shot else "")
            if cs.is_rejected(f.id):
                info += f" · rejected: {cs.decision(f.id).reason}"
        else:
            rejected = sum(cs.is_rejected(f) for f in ids)
            info = ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
            info += f" · {rejected} rejected" if rejected else ""
        self.selection_info.setText(info)
        tag_sets = [set(cs.frame_tags(f)) for f in ids]
        common = set.intersection(*tag_sets)
        ordered = [t for t in cs.frame_tags(ids[0]) if t in common]
        set_text(self.frame_tags_edit, ", ".join(ordered))
        self._shown_frame_tags = ordered
        mixed = len(set.union(*tag_sets)) > len(common)
        self.frame_tags_edit.setPlaceholderText("(mixed)" if mixed else "tags, comma separated")
        values: dict[str, str | None] = {}
        field_sets = [cs.frame_fields(f) for f in ids]
        for name in CAPTION_FIELDS:
            got = {fs.get(name, "") for fs in field_sets}
            values[name] = got.pop() if len(got) == 1 else None
        cluster_fields = cs.cluster(cs.cluster_of(ids[0])).fields
        self.frame_fields.show_values(values, {k: f"cluster: {v}" for k, v in cluster_fields.items()})
        all_rejected = all(cs.is_rejected(f) for f in ids)
        self.reject_button.setText("Restore" if all_rejected else "Reject")

    # -- selection ----------------------------------------------------------------------------------

    def current_cluster(self) -> int | None:
        return self.frames_model.cid

    def selected_clusters(self) -> list[int]:
        rows = sorted(i.row() for i in self.cluster_view.selectionModel().selectedRows())
        return [self.clusters_model.ids[r] for r in rows if r < len(self.clusters_model.ids)]

    def selected_frames(self) -> list[str]:
        rows = sorted(i.row() for i in self.frame_view.selectionModel().selectedIndexes())
        return [self.frames_model.ids[r] for r in rows if r < len(self.frames_model.ids)]

    def select_cluster(self, cid: int | None, *, keep_selection: bool = False) -> None:
        """Show cluster ``cid``'s frames (and make it the current row of the list)."""
        row = self.clusters_model.row_of(cid) if cid is not None else -1
        sel = self.cluster_view.selectionModel()
        if row >= 0:
            index = self.clusters_model.index(row)
            flags = QtCore.QItemSelectionModel.SelectionFlag.Current
            if not keep_selection:
                flags |= QtCore.QItemSelectionModel.SelectionFlag.ClearAndSelect
            sel.setCurrentIndex(index, flags)
        if self.frames_model.cid != cid or row < 0:
            self.frames_model.show(cid if row >= 0 else None)
        else:
            self.frames_model.show(cid)  # members may have changed
        self.cluster_view.viewport().update()
        self._refresh_cluster_card()

    def _cluster_current_changed(self, current, previous) -> None:
        if current.isValid():
            cid = current.data(CLUSTER_ROLE)
            if cid != self.frames_model.cid:
                self.frames_model.show(cid)
                self._refresh_cluster_card()
                self._refresh_selection()
                self.cluster_view.viewport().update()

    def _select_frames(self, ids: list[str], current: str | None = None) -> None:
        sel = self.frame_view.selectionModel()
        selection = QtCore.QItemSelection()
        for fid in ids:
            row = self.frames_model.row_of(fid)
            if row >= 0:
                index = self.frames_model.index(row)
                selection.select(index, index)
        sel.select(selection, QtCore.QItemSelectionModel.SelectionFlag.ClearAndSelect)
        row = self.frames_model.row_of(current) if current else -1
        if row >= 0:
            sel.setCurrentIndex(self.frames_model.index(row), QtCore.QItemSelectionModel.SelectionFlag.NoUpdate)

    def open_current_cluster(self) -> None:
        """Focus the frames of the current cluster, the first one current (Enter in the list)."""
        index = self.cluster_view.currentIndex()
        if index.isValid():
            self.select_cluster(index.data(CLUSTER_ROLE), keep_selection=True)
        self.frame_view.setFocus(QtCore.Qt.FocusReason.ShortcutFocusReason)
        if self.frames_model.rowCount() and not self.selected_frames():
            current = self.frame_view.currentIndex()
            self.frame_view.selectionModel().setCurrentIndex(
                current if current.isValid() else self.frames_model.index(0),
                QtCore.QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def back_to_clusters(self) -> None:
        self.cluster_view.setFocus(QtCore.Qt.FocusReason.ShortcutFocusReason)

    # -- actions ------------------------------------------------------------------------------------

    def guard(self, action, *args, **kwargs):
        """Run a model action; a reelkit error goes to the status line instead of raising. Its result,
        or ``None`` after an error."""
        if self.model is None:
            self.show_status("Open a dataset first.", error=True)
            return None
        try:
            return action(*args, **kwargs)
        except (ReelkitError, OSError) as exc:
            self.show_status(str(exc), error=True)
            return None

    def show_status(self, text: str, *, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {w.COLOURS['warn' if error else 'muted']};")

    def undo(self) -> None:
        if self.model is not None and self.model.can_undo:
            self.model.undo()

    def redo(self) -> None:
        if self.model is not None and self.model.can_redo:
            self.model.redo()

    def merge_selected(self) -> None:
        target = self.current_cluster()
        sources = [c for c in self.selected_clusters() if c != target]
        if target is None or not sources:
            self.show_status("Select the clusters to merge (Shift/Ctrl+click); they merge into the current one.",
                             error=True)
            return
        self.guard(self.model.merge, sources, target)

    def split_selected(self) -> None:
        ids = self.selected_frames()
        if not ids:
            self.show_status("Select frames to split off.", error=True)
            return
        cid = self.guard(self.model.split, ids)
        if cid is not None:
            self.select_cluster(cid)
            self._select_frames(ids, ids[0])
            self.frame_view.setFocus()

    def move_frames(self, ids: list[str], cid: int) -> None:
        self.guard(self.model.move, ids, cid)

    def show_move_menu(self) -> QtWidgets.QMenu | None:
        """A menu of the other clusters; choosing one moves the selected frames there."""
        ids = self.selected_frames()
        if not ids or self.model is None:
            self.show_status("Select frames to move.", error=True)
            return None
        menu = QtWidgets.QMenu(self)
        menu.setObjectName("move_menu")
        menu.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose, True)
        cs = self.model.clusters
        for cid in cs.cluster_ids():
            if cid == self.current_cluster():
                continue
            action = menu.addAction(f"{cs.name(cid)}  ({len(cs.members(cid))})")
            action.setData(cid)
            action.triggered.connect(lambda _=False, c=cid: self._moved_by_menu(ids, c))
        self.move_menu = menu
        rect = self.frame_view.visualRect(self.frame_view.currentIndex())
        pos = self.frame_view.viewport().mapToGlobal(rect.bottomLeft() if rect.isValid() else QtCore.QPoint(20, 20))
        menu.popup(pos)
        menu.setActiveAction(menu.actions()[0] if menu.actions() else None)
        return menu

    def _moved_by_menu(self, ids, cid) -> None:
        self.move_frames(ids, cid)
        self.frame_view.setFocus()

    def toggle_reject(self) -> None:
        ids = self.selected_frames()
        if not ids:
            self.show_status("Select frames to reject.", error=True)
            return
        if all(self.model.clusters.is_rejected(f) for f in ids):
            self.guard(self.model.restore, ids)
        else:
            self.guard(self.model.reject, ids)

    def _name_edited(self) -> None:
        cid = self.current_cluster()
        if cid is None or cid == NOISE or self.model is None:
            return
        text = self.name_edit.text().strip()
        if text and text != self.model.clusters.name(cid):
            self.guard(self.model.rename, cid, text)
        elif not text:
            set_text(self.name_edit, self.model.clusters.name(cid))

    def _cluster_tags_edited(self) -> None:
        cid = self.current_cluster()
        if cid is None or self.model is None:
            return
        tags = split_tags(self.cluster_tags_edit.text())
        if tuple(tags) != self.model.clusters.cluster(cid).tags:
            self.guard(self.model.set_cluster_tags, cid, tags)

    def _cluster_fields_edited(self, fields: dict) -> None:
        cid = self.current_cluster()
        if cid is not None:
            self.guard(self.model.set_cluster_fields, cid, fields)

    def _frame_tags_edited(self) -> None:
        ids = self.selected_frames()
        if not ids or self.model is None:
            return
        shown = getattr(self, "_shown_frame_tags", [])
        new = split_tags(self.frame_tags_edit.text())
        add = [t for t in new if t not in shown]
        remove = [t for t in shown if t not in new]
        if add or remove:
            self.guard(self.model.retag_frames, ids, add, remove)

    def _frame_fields_edited(self, fields: dict) -> None:
        ids = self.selected_frames()
        if ids:
            self.guard(self.model.set_frame_fields, ids, fields)

    # -- files ----------------------------------------------------------------------------------------

    def open_path(self, path: str | os.PathLike) -> bool:
        """Open a dataset folder (or its cluster JSON); its saved decisions are applied."""
        try:
            model = ReviewModel.open(path)
        except (ReelkitError, OSError) as exc:
            self.show_status(str(exc), error=True)
            return False
        self.set_model(model)
        if not model.clusters.problems:
            self.show_status(f"Opened {Path(path)}" + (" with its saved decisions" if model.clusters.history else ""))
        self.cluster_view.setFocus()
        return True

    def save(self) -> bool:
        if self.model is None:
            return False
        if self.model.decisions_file is None:
            self.save_dialog()
            return False
        return self.guard(self.model.save_decisions) is not None

    def _settings(self):
        return None if self.transient else QtCore.QSettings(*SETTINGS)

    def _file_dialog(self, title: str, *, folder: bool) -> QtWidgets.QFileDialog:
        settings = self._settings()
        start = str(settings.value("folder", "")) if settings is not None else ""
        dialog = QtWidgets.QFileDialog(self, title, start)
        if folder:
            dialog.setFileMode(QtWidgets.QFileDialog.FileMode.Directory)
            dialog.setOption(QtWidgets.QFileDialog.Option.ShowDirsOnly, True)
        else:
            dialog.setAcceptMode(QtWidgets.QFileDialog.AcceptMode.AcceptSave)
            dialog.setNameFilter("Review decisions (*.json)")
            dialog.setDefaultSuffix("json")
            dialog.selectFile("decisions.json")
        if self.transient:
            dialog.setOption(QtWidgets.QFileDialog.Option.DontUseNativeDialog, True)
        dialog.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.dialog = dialog
        return dialog

    def _remember(self, path: str) -> None:
        settings = self._settings()
        if settings is not None:
            settings.setValue("folder", str(Path(path).parent))

    def open_dialog(self) -> QtWidgets.QFileDialog:
        dialog = self._file_dialog("Open a dataset folder", folder=True)
        dialog.fileSelected.connect(lambda path: (self._remember(path), self.open_path(path)))
        dialog.open()
        return dialog

    def save_dialog(self) -> QtWidgets.QFileDialog:
        dialog = self._file_dialog("Save review decisions", folder=False)
        dialog.fileSelected.connect(lambda path: self.guard(self.model.save_decisions, path))
        dialog.open()
        return dialog

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(1180, 780)


_EXTRA_STYLE = """
QWidget#{root} QListView {{ background: {window}; border: 1px solid {border}; border-radius: 6px;
    color: {text}; outline: none; }}
QWidget#{root} QListView#clusters {{ background: {panel}; }}
QWidget#{root} QSplitter::handle {{ background: {window}; width: 8px; }}
QWidget#{root} QLineEdit:disabled {{ color: {faint}; }}
QWidget#{root} QPushButton[role="primary"]:disabled {{ background: {raised}; border-color: {border}; }}
QMenu#move_menu {{ background: {panel}; color: {text}; border: 1px solid {border}; }}
QMenu#move_menu::item:selected {{ background: {accent_dim}; }}
"""

# --------------------------------------------------------------------------- standalone


def launch(path: str | os.PathLike | None = None, *, exec_: bool = True) -> int:
    """Open the panel in its own window on a dataset folder; returns the Qt exit status (the
    ``reelkit-review DIR`` command calls this). With ``exec_=False`` the window is shown and 0 returned."""
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    panel = ReviewPanel()
    if path is not None and not panel.open_path(path):
        sys.stderr.write(panel.status.text() + "\n")
        return 2
    panel.resize(panel.sizeHint())
    panel.show()
    launch.panel = panel  # keep a reference (and let scripts reach it)
    return app.exec() if exec_ else 0


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="reelkit-review",
                                     description="Review the clusters of a reelkit dataset.")
    parser.add_argument("dataset", nargs="?", help="dataset folder (after the cluster stage)")
    args = parser.parse_args(argv)
    return launch(args.dataset)


if __name__ == "__main__":
    sys.exit(main())
