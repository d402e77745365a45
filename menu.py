"""reelkit menu and toolbar; Nuke runs this file in GUI sessions only (see nuke_plugin.menus)."""

import nuke

if nuke.GUI:
    import nuke_plugin.menus

    nuke_plugin.menus.install()
