"""The "reelkit" menu (Nuke menu bar) and toolbar (Nodes toolbar), built from the registry.

Both list one entry per node of :data:`nuke_plugin.registry.NODES`, creating
its gizmo; the menu bar's menu adds Documentation and About. Commands are
Python strings, as Nuke shows them in its menu editor.
"""

from __future__ import annotations

import webbrowser
from pathlib import Path

from nuke_plugin import registry

MENU = "reelkit"
DOCS = Path(__file__).resolve().parent.parent / "docs" / "README.md"
TOOLTIP = "reelkit: ML film restoration and clean dataset building"


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
    menubar.addCommand("Documentation", "import nuke_plugin.menus; nuke_plugin.menus.open_documentation()",
                       tooltip="open reelkit's documentation")
    menubar.addCommand("About", "import nuke_plugin.menus; nuke_plugin.menus.show_about()",
                       tooltip="reelkit version and nodes")


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
