"""The "reelkit" menu (Nuke menu bar) and toolbar (Nodes toolbar), built from the registry; the panels.

Both list one entry per node of :data:`nuke_plugin.registry.NODES`, creating
its gizmo; the menu bar's menu adds the Palette and Dataset review panels,
Documentation and About. Commands are Python strings, as Nuke shows them in its menu editor.

Panels are registered with ``nukescripts.panels.registerWidgetAsPanel``
(they appear under the Pane menu, Windows > Custom, and restore with a saved
layout). The widget is named by an expression that imports its module when
the panel is first made, so building the menu imports no Qt.
"""

from __future__ import annotations

import logging
import webbrowser
from pathlib import Path

from nuke_plugin import registry

logger = logging.getLogger("nuke_plugin.menus")

MENU = "reelkit"
DOCS = Path(__file__).resolve().parent.parent / "docs" / "README.md"
TOOLTIP = "reelkit: ML film restoration and clean dataset building"

#: (widget expression, title, id) of each dockable panel.
PALETTE_PANEL = ("__import__('nuke_plugin.panels.palette_panel', fromlist=['PalettePanel']).PalettePanel",
                 "reelkit Palette", "uk.reelkit.PalettePanel")
REVIEW_PANEL = ("__import__('nuke_plugin.panels.review.panel', fromlist=['ReviewPanel']).ReviewPanel",
                "reelkit Dataset review", "uk.reelkit.ReviewPanel")
JOURNAL_PANEL = ("__import__('nuke_plugin.panels.journal_panel', fromlist=['JournalPanel']).JournalPanel",
                 "reelkit Assistant journal", "uk.reelkit.JournalPanel")
PANELS = (PALETTE_PANEL, REVIEW_PANEL, JOURNAL_PANEL)


def node_command(spec: registry.NodeSpec) -> str:
    return f"nuke.createNode({spec.name!r})"


def install() -> None:
    """Add the reelkit menu and toolbar (GUI sessions; called by ``menu.py``)."""
    import nuke

    menubar = nuke.menu("Nuke").addMenu(MENU, tooltip=TOOLTIP)
    toolbar = nuke.toolbar("Nodes").addMenu(MENU, tooltip=TOOLTIP)
    for spec in registry.NODES:
        menubar.addCommand(spec.label, node_command(spec), tooltip=spec.tooltip)
        toolbar.addCommand(spec.label, node_command(spec), tooltip=spec.tooltip)
    menubar.addSeparator()
    if register_panels():
        menubar.addCommand("Palette Panel", "import nuke_plugin.menus; nuke_plugin.menus.show_panel("
                           f"{PALETTE_PANEL[2]!r})",
                           tooltip="swatches, shares and gradient order of a palette pack; edit, lock, refit")
        menubar.addCommand("Dataset Review Panel", "import nuke_plugin.menus; nuke_plugin.menus.show_panel("
                           f"{REVIEW_PANEL[2]!r})",
                           tooltip="clusters of a dataset: merge, split, rename, tag, caption; save decisions")
        menubar.addCommand("Assistant Journal Panel", "import nuke_plugin.menus; nuke_plugin.menus.show_panel("
                           f"{JOURNAL_PANEL[2]!r})",
                           tooltip="what the assistant (reelkit mcp) ran; undo / redo its file actions")
    menubar.addCommand("Open validation report",
                       "import nuke_plugin.nodes.reel_validate; nuke_plugin.nodes.reel_validate.open_latest_report()",
                       tooltip="open the selected ReelValidate node's report.html (else the newest) in a browser")
    menubar.addCommand("Documentation", "import nuke_plugin.menus; nuke_plugin.menus.open_documentation()",
                       tooltip="open reelkit's documentation")
    menubar.addCommand("About", "import nuke_plugin.menus; nuke_plugin.menus.show_about()",
                       tooltip="reelkit version and nodes")


def register_panels() -> bool:
    """Register the dockable panels with Nuke; False (logged) where ``nukescripts`` is missing."""
    try:
        from nukescripts import panels
    except ImportError:
        logger.info("nukescripts is not available: reelkit panels are not registered")
        return False
    for widget, title, panel_id in PANELS:
        panels.registerWidgetAsPanel(widget, title, panel_id)
    return True


def show_panel(panel_id: str):
    """Open (or bring back) a registered panel in the current pane; returns Nuke's panel object."""
    from nukescripts import panels

    return panels.restorePanel(panel_id)


def open_documentation() -> None:
    """Open ``docs/README.md`` of this reelkit in the system's browser."""
    import nuke

    if not DOCS.is_file():
        nuke.message(f"reelkit documentation not found: {DOCS}")
        return
    webbrowser.open(DOCS.as_uri())


def show_about() -> None:
    import nuke

    from core import __version__

    nodes = ", ".join(spec.name for spec in registry.NODES)
    nuke.message(f"reelkit {__version__}\nNodes: {nodes}\nNuke {nuke.env['NukeVersionString']}\n{DOCS.parent}")
