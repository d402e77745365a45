"""init.py and menu.py as Nuke runs them at start-up (no ``__file__``, the folder as context)."""

from __future__ import annotations

import sys
import webbrowser

import pytest

from nuke_plugin import registry
from tests.nuke.conftest import REPO


@pytest.mark.parametrize("gui", [True, False])
def test_init_only_adds_the_gizmo_folder(nuke, gui):
    nuke._set_gui(gui)
    before = list(sys.path)
    nuke._run_startup(str(REPO), "init.py")
    assert nuke.calls == [("pluginAddPath", ("./gizmos",), {"addToSysPath": False})]
    assert nuke.pluginPath() == [str(REPO / "gizmos")]
    assert sys.path == before


NODE_LABELS = ["Color Convert", "Spectrum Encode", "Degrade", "Align", "Validate", "Train", "Restore (model)",
               "Generate", "Vision"]


def test_menu_and_toolbar_entries(started):
    nuke = started
    nuke._run_startup(str(REPO), "menu.py")
    assert nuke._menu_tree(nuke.menu("Nuke")) == [
        ("reelkit", [*NODE_LABELS, "-", "Palette Panel", "Dataset Review Panel", "Assistant Journal Panel",
                     "Open validation report",
                     "Documentation", "About"])]
    assert nuke._menu_tree(nuke.toolbar("Nodes")) == [("reelkit", NODE_LABELS)]
    for top in (nuke.menu("Nuke"), nuke.toolbar("Nodes")):
        for spec in registry.NODES:
            item = top.findItem("reelkit").findItem(spec.label)
            assert item.script() == f"nuke.createNode({spec.name!r})"
            assert item._tooltip == spec.tooltip


def test_palette_panel_is_registered_and_opens(started, monkeypatch):
    """registerWidgetAsPanel gets an expression Nuke can evaluate; opening the panel makes a PalettePanel."""
    pytest.importorskip("PySide6", reason="the ui extra (PySide6) is not installed")
    from PySide6 import QtWidgets

    from nuke_plugin import menus

    nuke = started
    nuke._run_startup(str(REPO), "menu.py")
    (args, _), _review, _journal = nuke._calls("nukescripts.registerWidgetAsPanel")  # the others: below, own test
    assert args == menus.PALETTE_PANEL
    assert "reelkit Palette" in [i.name() for i in nuke.menu("Pane").items()]
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    nuke.menu("Nuke").findItem("reelkit").findItem("Palette Panel").invoke()
    assert nuke._calls("nukescripts.addPanel") == [((menus.PALETTE_PANEL[2],), {})]
    from nuke_plugin.panels.palette_panel import PalettePanel

    panel = menus.show_panel(menus.PALETTE_PANEL[2])
    assert type(panel.widget) is PalettePanel and panel.widget.model.empty
    panel.widget.deleteLater()
    app.processEvents()


def test_journal_panel_is_registered_and_opens_on_the_served_folder(started, tmp_path, monkeypatch):
    """The assistant journal panel docks like the others and watches the folder nuke_plugin.agent serves."""
    pytest.importorskip("PySide6", reason="the ui extra (PySide6) is not installed")
    from PySide6 import QtWidgets

    from nuke_plugin import agent, menus

    nuke = started
    monkeypatch.setattr(agent, "SERVING", [str(tmp_path)])
    nuke._run_startup(str(REPO), "menu.py")
    assert menus.JOURNAL_PANEL in [args for args, _ in nuke._calls("nukescripts.registerWidgetAsPanel")]
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    nuke.menu("Nuke").findItem("reelkit").findItem("Assistant Journal Panel").invoke()
    from nuke_plugin.panels.journal_panel import JournalPanel

    panel = menus.show_panel(menus.JOURNAL_PANEL[2])
    assert type(panel.widget) is JournalPanel and panel.widget.model.root == tmp_path
    assert panel.widget.table.rowCount() == 0
    panel.widget.deleteLater()
    app.processEvents()


def test_menu_without_nukescripts_has_no_panel_entry(started, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "nukescripts", None)  # import fails, as where nukescripts is missing
    nuke = started
    nuke._run_startup(str(REPO), "menu.py")
    assert "Palette Panel" not in nuke._menu_tree(nuke.menu("Nuke"))[0][1]


def test_menu_is_gui_only(headless):
    headless._run_startup(str(REPO), "init.py")
    headless._run_startup(str(REPO), "menu.py")
    assert headless._calls("menu") == [] and headless._calls("toolbar") == []


def test_every_node_entry_creates_its_gizmo(started):
    nuke = started
    nuke._run_startup(str(REPO), "menu.py")
    entries = nuke.toolbar("Nodes").findItem("reelkit").items()
    assert len(entries) == len(registry.NODES)
    for spec, item in zip(registry.NODES, entries):
        item.invoke()
        (args, _kwargs), = nuke._calls("createNode")[-1:]
        assert args == (spec.name,)
        made = nuke._all_nodes[-1]
        assert made.Class() == spec.name
        assert made.knob(spec.buttons[0].name) is not None


def test_about_and_documentation(started, monkeypatch):
    from core import __version__

    nuke = started
    nuke._run_startup(str(REPO), "menu.py")
    menu = nuke.menu("Nuke").findItem("reelkit")
    menu.findItem("About").invoke()
    (text,), _ = nuke._calls("message")[-1]
    assert f"reelkit {__version__}" in text and "ReelColorConvert" in text and "15.1v3" in text
    opened = []
    monkeypatch.setattr(webbrowser, "open", opened.append)
    menu.findItem("Documentation").invoke()
    assert opened == [(REPO / "docs" / "README.md").as_uri()]
    assert (REPO / "docs" / "README.md").is_file()
