"""reelkit start-up for every Nuke session (GUI, ``nuke -t``, render farm).

Nuke runs this file because the repository root is on NUKE_PATH. It only
puts ``gizmos/`` on the plug-in path (a relative path, which Nuke resolves
against this file's folder); the menu is built by ``menu.py`` in GUI
sessions. The repository root itself is already on ``sys.path``, so
``nuke_plugin`` and ``core`` import when a node needs them.
"""

import nuke

nuke.pluginAddPath("./gizmos", addToSysPath=False)
