"""The Dataset review panel (offscreen Qt) on a real cluster output, driven with keys and clicks.

The dataset: six crops of each of the four shipped photos (astronaut, chelsea,
coffee, rocket; 320x240, random position and size with a fixed seed) and two
grey, flipped crops, written as PNG frames, embedded with core.dataset.embed's
classical embedder, clustered with core.dataset.cluster (no UMAP,
min_cluster_size 4) and written as the cluster stage writes it
(``clusters_document``, ``reelkit.clusters/1``). HDBSCAN puts the
astronaut and coffee crops in one cluster and the two grey crops with the
rocket: the mistakes a review is for. The test finds clusters by their
frames, never by label numbers.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.dataset import review as rv
from tests.conftest import REPO, SAMPLES

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")


def make_dataset(root: Path, *, per_image: int = 6, size=(320, 240), seed: int = 0) -> Path:
    """Write frames and the cluster stage's ``cluster/clusters.json`` (core.dataset.cluster.clusters_document)."""
    import cv2

    from core.dataset.cluster import cluster_embeddings, clusters_document
    from core.dataset.embed import ClassicalEmbedder

    rng = np.random.default_rng(seed)
    records, images = [], []

    def add(video, frame, shot, bgr):
        fid = f"{video}_f{frame:06d}"
        path = Path("frames") / video / f"{fid}.png"
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(root / path), bgr)
        images.append(np.ascontiguousarray(bgr[..., ::-1]))
        records.append({"id": fid, "path": path.as_posix(), "video": video, "shot": shot, "frame": frame,
                        "time": round(frame / 24, 4), "width": size[0], "height": size[1]})

    for name in PHOTOS:
        img = cv2.imread(str(next(SAMPLES.glob(name + ".*"))), cv2.IMREAD_COLOR)
        h, w = img.shape[:2]
        for k in range(per_image):
            cw = int(w * rng.uniform(0.6, 0.85))
            ch = min(h, int(cw * 0.75))
            x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
            add(name, k * 24, f"{name}_s0000", cv2.resize(img[y0:y0 + ch, x0:x0 + cw], size,
                                                          interpolation=cv2.INTER_AREA))
    for name in ("chelsea", "rocket"):  # odd ones out
        grey = cv2.imread(str(next(SAMPLES.glob(name + ".*"))), cv2.IMREAD_GRAYSCALE)[::-1]
        crop = cv2.resize(grey[: grey.shape[0] // 2, : grey.shape[1] // 2], size)
        add(name, 9999, f"{name}_s0001", cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR))
    params = {"pca_components": 32, "umap_components": 0, "umap_neighbors": 15, "min_cluster_size": 4,
              "min_samples": 2, "seed": seed}
    result = cluster_embeddings(ClassicalEmbedder().embed(images), **params)
    doc = clusters_document(records, result, params=params, config_hash="test")
    (root / "cluster").mkdir(parents=True, exist_ok=True)
    (root / "cluster" / "clusters.json").write_text(json.dumps(doc, indent=1))
    return root


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("review") / "dataset")


@pytest.fixture
def dataset(built, tmp_path):
    return Path(shutil.copytree(built, tmp_path / "dataset"))


@pytest.fixture(scope="module")
def qapp():
    qt = pytest.importorskip("PySide6.QtWidgets", reason="the ui extra (PySide6) is not installed")
    return qt.QApplication.instance() or qt.QApplication([])


@pytest.fixture
def panel(qapp, dataset):
    from nuke_plugin.panels.review.panel import ReviewPanel

    p = ReviewPanel(transient=True)
    p.resize(1180, 780)
    p.show()
    p.activateWindow()  # focus events (a field applies its edit when it loses focus) need an active window
    from PySide6.QtTest import QTest

    assert QTest.qWaitForWindowActive(p)
    assert p.open_path(dataset), p.status.text()
    settle(p)
    yield p
    p.close()
    p.deleteLater()
    qapp.processEvents()


def settle(p):
    from PySide6 import QtWidgets

    QtWidgets.QApplication.processEvents()
    p.thumbs.wait()
    QtWidgets.QApplication.processEvents()


def key(widget, k, mods=None, text=None):
    from PySide6 import QtCore
    from PySide6.QtTest import QTest

    key_ = getattr(QtCore.Qt.Key, f"Key_{k}")
    QTest.keyClick(widget, key_, mods if mods is not None else QtCore.Qt.KeyboardModifier.NoModifier)


def type_text(widget, text):
    from PySide6.QtTest import QTest

    QTest.keyClicks(widget, text)


def cluster_with(model, prefix):
    """The cluster holding the most frames whose id starts with ``prefix``."""
    cs = model.clusters
    return max(cs.cluster_ids(), key=lambda c: sum(f.startswith(prefix) for f in cs.members(c)))


def go_to_cluster(p, cid):
    """Arrow keys in the cluster list until ``cid`` is current, then Enter."""
    view = p.cluster_view
    view.setFocus()
    key(view, "Home")
    for _ in range(p.clusters_model.rowCount()):
        if p.clusters_model.ids[view.currentIndex().row()] == cid:
            break
        key(view, "Down")
    assert p.clusters_model.ids[view.currentIndex().row()] == cid
    key(view, "Return")
    assert p.frame_view.hasFocus() or p.focusWidget() is p.frame_view


def click_frames(p, ids, *, extend=False):
    from PySide6 import QtCore
    from PySide6.QtTest import QTest

    view = p.frame_view
    for i, fid in enumerate(ids):
        rect = view.visualRect(p.frames_model.index(p.frames_model.row_of(fid)))
        mods = QtCore.Qt.KeyboardModifier.ControlModifier if (i or extend) else QtCore.Qt.KeyboardModifier.NoModifier
        QTest.mouseClick(view.viewport(), QtCore.Qt.MouseButton.LeftButton, mods, rect.center())
    assert sorted(p.selected_frames()) == sorted(ids)


# ----------------------------------------------------------------------------- what is shown


def test_shows_the_cluster_output(panel, dataset):
    m = panel.model
    cs = m.clusters
    stage = json.loads((dataset / "cluster" / "clusters.json").read_text())
    assert len(cs.frames) == len(stage["frames"]) == 26
    assert panel.clusters_model.ids == cs.cluster_ids() and cs.cluster_ids()[-1] == rv.NOISE
    mixed = cluster_with(m, "astronaut")
    assert mixed == cluster_with(m, "coffee")  # HDBSCAN's mistake, for the review to fix
    go_to_cluster(panel, mixed)
    shown = [panel.frames_model.index(r).data(rv_role()) for r in range(panel.frames_model.rowCount())]
    assert shown == list(cs.members(mixed))
    ex = [f for f in shown if cs.frames[f].exemplar is not None]
    assert ex and shown[: len(ex)] == ex and [cs.frames[f].exemplar for f in ex] == sorted(range(len(ex)))
    assert panel.summary.text().startswith(f"{len(cs.cluster_ids()) - 1} clusters · 26 frames · ")


def rv_role():
    from nuke_plugin.panels.review.items import FRAME_ROLE

    return FRAME_ROLE


def test_thumbnails_are_the_frames_lazy_and_cached(panel, qapp):
    """The picture in a cell is its frame (mean colour within 3 levels); only cells in view load; cached."""
    import cv2

    from nuke_plugin.panels.review.thumbnails import THUMB

    cs = panel.model.clusters
    assert panel.thumbs.loads <= panel.frames_model.rowCount() + panel.clusters_model.rowCount()
    loads = panel.thumbs.loads
    panel.frame_view.viewport().repaint()
    settle(panel)
    assert panel.thumbs.loads == loads  # cached: a repaint reads no file
    image = panel.frame_view.viewport().grab().toImage()
    for row in (0, panel.frames_model.rowCount() - 1):
        fid = panel.frames_model.ids[row]
        rect = panel.frame_view.visualRect(panel.frames_model.index(row))
        frame = cv2.imread(str(cs.image_path(fid)))[..., ::-1]
        fh, fw = frame.shape[:2]
        # the picture box of a cell (FrameDelegate): 3 px margin, 4 px padding, THUMB * 0.75 high
        bw, bh = THUMB + 10 - 6 - 8, int(THUMB * 0.75)
        scale = min(bw / fw, bh / fh)
        sw, sh = fw * scale, fh * scale
        cx, cy = rect.left() + 7 + bw / 2, rect.top() + 7 + bh / 2
        m = 20  # clear of the edges and the star badge
        xs = np.arange(int(cx - sw / 2 + m), int(cx + sw / 2 - m), 3)
        ys = np.arange(int(cy - sh / 2 + m), int(cy + sh / 2 - m), 3)
        got = np.array([[image.pixelColor(int(x), int(y)).getRgb()[:3] for x in xs] for y in ys], float)
        sub = frame[int(m / scale): fh - int(m / scale), int(m / scale): fw - int(m / scale)]
        assert np.abs(got.reshape(-1, 3).mean(0) - sub.reshape(-1, 3).mean(0)).max() < 3, fid


# ----------------------------------------------------------------------------- editing with the keyboard


def test_split_rename_with_keys(panel):
    from PySide6 import QtCore

    m = panel.model
    mixed = cluster_with(m, "astronaut")
    go_to_cluster(panel, mixed)
    astronauts = [f for f in m.clusters.members(mixed) if f.startswith("astronaut")]
    click_frames(panel, astronauts)
    key(panel.frame_view, "S")
    new = m.clusters.cluster_ids()[-2]
    assert new not in (mixed, rv.NOISE) and sorted(m.clusters.members(new)) == sorted(astronauts)
    assert all(f.startswith("coffee") for f in m.clusters.members(mixed))
    assert panel.current_cluster() == new and sorted(panel.selected_frames()) == sorted(astronauts)
    key(panel.frame_view, "R")
    assert panel.focusWidget() is panel.name_edit and panel.name_edit.selectedText() == f"cluster_{new:03d}"
    type_text(panel.name_edit, "astronaut")
    key(panel.name_edit, "Return")
    assert m.clusters.name(new) == "astronaut" and panel.focusWidget() is panel.frame_view
    assert m.undo_text == "rename {} to 'astronaut'".format(new)
    # Ctrl+Z twice: the rename, then the split
    ctrl = QtCore.Qt.KeyboardModifier.ControlModifier
    key(panel.frame_view, "Z", ctrl)
    key(panel.frame_view, "Z", ctrl)
    assert sorted(m.clusters.members(mixed)) == sorted(f for f in m.clusters.frames
                                                      if m.clusters.frames[f].label == mixed)
    assert not m.can_undo and panel.undo_button.isEnabled() is False
    key(panel.frame_view, "Z", ctrl | QtCore.Qt.KeyboardModifier.ShiftModifier)
    key(panel.frame_view, "Y", ctrl)
    assert m.clusters.name(new) == "astronaut" and panel.status.text() == "Redid: rename {} to 'astronaut'".format(new)


def test_merge_with_keys(panel):
    from PySide6 import QtCore
    from PySide6.QtTest import QTest

    m = panel.model
    rocket, chelsea = cluster_with(m, "rocket"), cluster_with(m, "chelsea")
    view = panel.cluster_view
    before = len(m.clusters.members(rocket)) + len(m.clusters.members(chelsea))
    for i, cid in enumerate((chelsea, rocket)):  # click chelsea, Ctrl+click rocket: rocket is current
        rect = view.visualRect(panel.clusters_model.index(panel.clusters_model.row_of(cid)))
        QTest.mouseClick(view.viewport(), QtCore.Qt.MouseButton.LeftButton,
                         QtCore.Qt.KeyboardModifier.ControlModifier if i else QtCore.Qt.KeyboardModifier.NoModifier,
                         rect.center())
    assert panel.current_cluster() == rocket and sorted(panel.selected_clusters()) == sorted((rocket, chelsea))
    key(view, "M")
    assert not m.clusters.exists(chelsea) and len(m.clusters.members(rocket)) == before
    assert panel.clusters_model.ids == m.clusters.cluster_ids() and panel.current_cluster() == rocket
    assert panel.frames_model.rowCount() == before
    assert m.undo_text == f"merge {chelsea} into {rocket}"


def test_move_reject_tags_captions_with_keys(panel):
    from PySide6 import QtCore
    from PySide6.QtTest import QTest

    m = panel.model
    rocket = cluster_with(m, "rocket")
    go_to_cluster(panel, rocket)
    greys = ["chelsea_f009999", "rocket_f009999"]
    assert set(greys) <= set(m.clusters.members(rocket))  # the grey crops landed with the rocket
    click_frames(panel, greys)
    key(panel.frame_view, "M")  # the move menu: every other cluster, noise last
    menu = panel.move_menu
    assert menu is not None and menu.isVisible()
    assert [a.data() for a in menu.actions()] == [c for c in m.clusters.cluster_ids() if c != rocket]
    for _ in range(len(menu.actions()) - 1):
        key(menu, "Down")
    key(menu, "Return")
    QtCore.QCoreApplication.processEvents()
    assert [m.clusters.cluster_of(f) for f in greys] == [rv.NOISE, rv.NOISE]
    panel.activateWindow()  # the offscreen platform does not give activation back after a popup
    assert QTest.qWaitForWindowActive(panel)
    # X rejects the selection, X again restores it
    frames = list(m.clusters.members(rocket))[:2]
    click_frames(panel, frames)
    key(panel.frame_view, "X")
    assert all(m.clusters.is_rejected(f) for f in frames) and panel.reject_button.text() == "Restore"
    assert panel.selection_info.text() == f"{frames[0]}, {frames[1]} · 2 rejected"
    key(panel.frame_view, "Delete")
    assert not any(m.clusters.is_rejected(f) for f in frames)
    key(panel.frame_view, "X")
    # T: the selection's tags; C: its caption fields (Enter applies and goes back to the grid)
    key(panel.frame_view, "T")
    assert panel.focusWidget() is panel.frame_tags_edit
    type_text(panel.frame_tags_edit, "launch pad, night")
    key(panel.frame_tags_edit, "Return")
    assert [m.clusters.frame_tags(f) for f in frames] == [("launch pad", "night")] * 2
    assert panel.focusWidget() is panel.frame_view
    key(panel.frame_view, "C")
    assert panel.focusWidget() is panel.frame_fields.edits["character"]
    type_text(panel.focusWidget(), "Falcon 9")
    key(panel.focusWidget(), "Return")
    assert [m.clusters.frame_fields(f) for f in frames] == [{"character": "Falcon 9"}] * 2
    # a tag removed from one of the two frames shows the rest as common, the field as mixed
    m.untag_frames([frames[0]], "night")
    click_frames(panel, frames)
    assert panel.frame_tags_edit.text() == "launch pad" and panel.frame_tags_edit.placeholderText() == "(mixed)"
    # the cluster's own tags and fields from the list: Esc back, then T and C
    key(panel.frame_view, "Escape")
    assert panel.focusWidget() is panel.cluster_view
    key(panel.cluster_view, "T")
    type_text(panel.cluster_tags_edit, "rocket, exterior")
    key(panel.cluster_tags_edit, "Return")
    key(panel.cluster_view, "C")
    type_text(panel.focusWidget(), "rocket")
    QTest.keyClick(panel.focusWidget(), QtCore.Qt.Key.Key_Tab)  # leaving the field applies it too
    assert m.clusters.cluster(rocket).tags == ("rocket", "exterior")
    assert m.clusters.cluster(rocket).fields == {"character": "rocket"}
    d = m.clusters.decision(frames[0])
    assert d.tags == ("rocket", "exterior", "launch pad") and d.fields == {"character": "Falcon 9"} and d.rejected
    # Esc in a field leaves it without applying
    undo = m.undo_text
    key(panel.cluster_view, "R")
    type_text(panel.name_edit, "zzz")
    key(panel.name_edit, "Escape")
    assert panel.focusWidget() is panel.cluster_view
    assert m.clusters.name(rocket) == panel.name_edit.text() != "zzz" and m.undo_text == undo


def test_keys_are_claimed_from_the_host(panel):
    """In Nuke, M or Ctrl+Z are also Nuke's shortcuts: the panel accepts ShortcutOverride for its keys,
    so the key reaches the panel; keys it does not use are left to the host."""
    from PySide6 import QtCore, QtGui, QtWidgets

    def override(widget, k, mods=QtCore.Qt.KeyboardModifier.NoModifier):
        ev = QtGui.QKeyEvent(QtCore.QEvent.Type.ShortcutOverride, k, mods)
        ev.ignore()
        QtWidgets.QApplication.sendEvent(widget, ev)
        return ev.isAccepted()

    K = QtCore.Qt.Key
    assert override(panel.cluster_view, K.Key_M) and override(panel.frame_view, K.Key_S)
    assert override(panel.frame_view, K.Key_Z, QtCore.Qt.KeyboardModifier.ControlModifier)
    assert not override(panel.cluster_view, K.Key_Q) and not override(panel.frame_view, K.Key_F)


def test_drop_frames_on_a_cluster_moves_them(panel):
    from PySide6 import QtCore

    m = panel.model
    mixed, chelsea = cluster_with(m, "coffee"), cluster_with(m, "chelsea")
    go_to_cluster(panel, mixed)
    coffee = [f for f in m.clusters.members(mixed) if f.startswith("coffee")][:3]
    rows = [panel.frames_model.index(panel.frames_model.row_of(f)) for f in coffee]
    data = panel.frames_model.mimeData(rows)
    target = panel.clusters_model.index(panel.clusters_model.row_of(chelsea))
    assert panel.clusters_model.dropMimeData(data, QtCore.Qt.DropAction.MoveAction, -1, -1, target)
    QtCore.QCoreApplication.processEvents()
    assert [m.clusters.cluster_of(f) for f in coffee] == [chelsea] * 3
    assert m.undo_text == "move 3 frames to {}".format(chelsea)


def test_rejected_frames_are_drawn_crossed(panel):
    m = panel.model
    cid = cluster_with(m, "chelsea")
    go_to_cluster(panel, cid)
    fid = panel.frames_model.ids[1]
    m.reject([fid], "soft")
    settle(panel)
    image = panel.frame_view.viewport().grab().toImage()
    rect = panel.frame_view.visualRect(panel.frames_model.index(panel.frames_model.row_of(fid)))
    from nuke_plugin.panels.review.thumbnails import THUMB

    centre = image.pixelColor(rect.left() + rect.width() // 2, rect.top() + 7 + int(THUMB * 0.75) // 2)
    assert (centre.red(), centre.green(), centre.blue()) == (0xd9, 0x53, 0x4f)  # the cross meets in the middle


# ----------------------------------------------------------------------------- files


def test_save_and_reopen(panel, dataset, qapp):
    from PySide6 import QtCore

    from nuke_plugin.panels.review.panel import ReviewPanel

    m = panel.model
    mixed = cluster_with(m, "astronaut")
    m.split([f for f in m.clusters.members(mixed) if f.startswith("astronaut")], name="astronaut")
    m.rename(mixed, "coffee cup")
    m.reject(["rocket_f009999"], "grey")
    assert "unsaved changes" in panel.summary.text()
    panel.frame_view.setFocus()
    key(panel.frame_view, "S", QtCore.Qt.KeyboardModifier.ControlModifier)
    path = dataset / "review" / "decisions.json"
    assert path.is_file() and panel.status.text() == f"Saved {path}"
    assert panel.summary.text().endswith("· saved")
    saved = rv.load_decisions(path)
    assert saved == m.decisions() and saved["base"]["hash"] == m.clusters.base_hash()
    other = ReviewPanel(transient=True)
    assert other.open_path(dataset)
    assert other.model.decisions() == m.decisions() and other.status.text().endswith("with its saved decisions")
    assert other.model.clusters.name(mixed) == "coffee cup"
    other.deleteLater()
    qapp.processEvents()


def test_stale_decisions_and_bad_folders_go_to_the_status_line(panel, dataset, qapp):
    from nuke_plugin.panels.review.panel import ReviewPanel

    m = panel.model
    m.reject(["rocket_f009999"], "grey")
    m.tag_frames(["chelsea_f000000"], "cat")
    m.save_decisions()
    stage = json.loads((dataset / "cluster" / "clusters.json").read_text())
    stage["frames"] = [f for f in stage["frames"] if f["id"] != "rocket_f009999"]  # the stage ran again
    (dataset / "cluster" / "clusters.json").write_text(json.dumps(stage))
    other = ReviewPanel(transient=True)
    assert other.open_path(dataset)
    text = other.status.text()
    assert text.startswith("Decisions partly applied: made for cluster output ")
    assert "1 frame(s) no longer in the cluster output: rocket_f009999" in text
    assert other.model.clusters.frame_tags("chelsea_f000000") == ("cat",)
    assert not other.open_path(dataset / "nowhere") and "no such file or folder" in other.status.text()
    assert other.model is not None  # the review shown is kept
    other.deleteLater()
    qapp.processEvents()


def test_standalone_entry_point(dataset, qapp):
    from nuke_plugin.panels.review import panel as review_panel

    assert review_panel.launch(dataset, exec_=False) == 0
    p = review_panel.launch.panel
    assert p.isVisible() and p.model is not None and len(p.model.clusters.frames) == 26
    p.close()
    p.deleteLater()
    qapp.processEvents()
    out = subprocess.run([sys.executable, "-m", "nuke_plugin.panels.review.panel", str(dataset / "nowhere")],
                         cwd=REPO, capture_output=True, text=True, env={"QT_QPA_PLATFORM": "offscreen",
                                                                         "PATH": "/usr/bin:/bin"})
    assert out.returncode == 2 and "nowhere: no such file or folder" in out.stderr


def test_screenshot(panel, qapp):
    """The panel as an artist sees it, saved for a look (``/tmp/reelkit_review_panel.png``)."""
    m = panel.model
    mixed = cluster_with(m, "astronaut")
    astronauts = [f for f in m.clusters.members(mixed) if f.startswith("astronaut")]
    new = m.split(astronauts, name="astronaut")
    m.rename(mixed, "coffee cup")
    m.set_cluster_fields(mixed, {"character": "espresso cup", "materials": "porcelain, crema",
                                 "lighting": "warm window light"})
    m.tag_cluster(mixed, "still life")
    m.rename(cluster_with(m, "chelsea"), "chelsea the cat")
    m.move(["chelsea_f009999", "rocket_f009999"], rv.NOISE)
    m.rename(cluster_with(m, "rocket"), "rocket on the pad")
    go_to_cluster(panel, mixed)
    coffee = list(m.clusters.members(mixed))
    m.reject([coffee[-1]], "cup cut off")
    m.tag_frames(coffee[1:3], "closeup")
    click_frames(panel, coffee[1:3])
    settle(panel)
    assert new in m.clusters.cluster_ids()
    image = panel.grab().toImage()
    assert (image.width(), image.height()) == (1180, 780)
    out = Path("/tmp/reelkit_review_panel.png")
    assert image.save(str(out)) and out.stat().st_size > 50_000



def test_thumbnails_use_no_worker_threads(panel):
    """Closing the panel must never wait on a thread that needs the Python lock the closing thread holds:
    a QThreadPool child running Python QRunnables deadlocked when the panel was deleted mid-load."""
    from PySide6 import QtCore

    assert panel.findChildren(QtCore.QThreadPool) == []
    assert panel.thumbs.loads > 0  # thumbnails did load, on the GUI thread
