"""reelkit's Nuke layer: a thin shell over :mod:`core`.

A reelkit node is a gizmo (``gizmos/<Name>.gizmo``) whose knobs mirror a core
parameter spec; its buttons gather the knob values, hand the node's input
frames to a core function and bring the result back through a Read inside
the gizmo. Modules:

``registry``      one table of every node: gizmo, menu label, tooltip, the core spec it mirrors
``specs``         parameter specs of the Nuke job itself (frame range, output folder...)
``knobs``         Nuke knobs derived from a :class:`core.params.ParamSet`, and values read back
``host``          the host adapter: input frames, temporary renders, output wiring, background tasks
``menus``         the "reelkit" menu and toolbar (called by the repository's ``menu.py``)
``build_gizmos``  writes ``gizmos/*.gizmo`` from the registry (``python -m nuke_plugin.build_gizmos``)
``nodes.*``       one module per node with its button callbacks
``panels.*``      Qt panels (the palette panel): plain QWidgets, also docked in Nuke

Importing this package (or any module above, except the Qt widget modules
``panels.widgets`` and ``panels.palette_panel``) imports neither ``nuke``
nor Qt: functions that need Nuke import it when called, so the gizmo
generator and the tests run in plain Python.
"""
