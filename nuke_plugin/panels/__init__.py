"""reelkit's Qt panels: plain QWidgets usable standalone and docked in Nuke.

Each panel keeps its data in a model without Qt (``palette_model``) and
draws it with widgets made by small factories (``widgets``), after
OpenColorIO's ocioview. ``nuke_plugin.menus`` registers the panels with
``nukescripts.panels.registerWidgetAsPanel`` in GUI sessions.

``palette_model``  :class:`~nuke_plugin.panels.palette_model.PaletteModel`: a palette, its edits and locks (no Qt)
``widgets``        Qt widgets derived from core parameter specs, and the panel style
``palette_panel``  :class:`~nuke_plugin.panels.palette_panel.PalettePanel`: swatches, shares, gradient
                   order; edit, lock, refit, save
``review_panel``   :class:`~nuke_plugin.panels.review_panel.ReviewPanel`: the dataset's clusters; merge, split,
                   move, rename, tag, caption, reject, undo; save ``review/decisions.json``
                   (its model, :mod:`core.dataset.review`, is in core: the pipeline reads it)

Importing this package imports neither Qt nor Nuke.
"""
