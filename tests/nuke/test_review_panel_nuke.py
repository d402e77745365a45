"""The Dataset review panel in Nuke: registered by menu.py as a dockable pane, opened empty from the menu
(as Nuke's WidgetKnob makes it: no arguments), then pointed at a dataset."""

from __future__ import annotations

import json

import pytest

from tests.nuke.conftest import REPO


def test_review_panel_is_registered_and_opens(started, tmp_path):
    pytest.importorskip("PySide6", reason="the ui extra (PySide6) is not installed")
    from PySide6 import QtWidgets

    from nuke_plugin import menus

    nuke = started
    nuke._run_startup(str(REPO), "menu.py")
    registered = [args for args, _ in nuke._calls("nukescripts.registerWidgetAsPanel")]
    assert menus.REVIEW_PANEL in registered
    assert "reelkit Dataset review" in [i.name() for i in nuke.menu("Pane").items()]
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    nuke.menu("Nuke").findItem("reelkit").findItem("Dataset Review Panel").invoke()
    assert nuke._calls("nukescripts.addPanel") == [((menus.REVIEW_PANEL[2],), {})]
    from nuke_plugin.panels.review.panel import ReviewPanel

    panel = menus.show_panel(menus.REVIEW_PANEL[2])
    widget = panel.widget
    assert type(widget) is ReviewPanel and widget.model is None
    assert not widget.save_button.isEnabled() and widget.summary.text().startswith("Open a dataset folder")
    # a dataset with one cluster of two frames (the images need not exist: thumbnails show "missing")
    (tmp_path / "cluster").mkdir()
    frames = [{"id": f"f{i}", "path": f"frames/f{i}.png", "label": 0} for i in range(2)]
    (tmp_path / "cluster" / "clusters.json").write_text(json.dumps({"frames": frames}))
    assert widget.open_path(tmp_path)
    assert widget.model.clusters.cluster_ids() == [0, -1] and widget.save_button.isEnabled()
    widget.deleteLater()
    app.processEvents()
