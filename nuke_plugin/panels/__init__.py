"""reelkit's Qt panels: plain QWidgets usable standalone and docked in Nuke.

Each panel draws a model without Qt that lives in core, beside what it
edits or watches (the rule is in docs/architecture.md), with widgets made
by small factories (``widgets``), after OpenColorIO's ocioview.
``nuke_plugin.menus`` registers the panels with
``nukescripts.panels.registerWidgetAsPanel`` in GUI sessions.

``widgets``        Qt widgets derived from core parameter specs, and the panel style
``palette_panel``  :class:`~nuke_plugin.panels.palette_panel.PalettePanel`: swatches, shares, gradient
                   order; edit, lock, refit, save (its model: :class:`core.palette.editor.PaletteModel`)
``review``         :class:`~nuke_plugin.panels.review.panel.ReviewPanel`: the dataset's clusters; merge, split,
                   move, rename, tag, caption, reject, undo; save ``review/decisions.json``
                   (its model: :class:`core.dataset.review.ReviewModel`)
``train_monitor``  :class:`~nuke_plugin.panels.train_monitor.TrainMonitor`: loss curve, contact sheet, stop and
                   resume (its model: :class:`core.train.monitor.TrainMonitorModel`)
``journal_panel``  :class:`~nuke_plugin.panels.journal_panel.JournalPanel`: what the assistant (``reelkit mcp``)
                   ran; undo / redo of its file actions (its model: :class:`core.agent.journal_model.JournalModel`)

Importing this package imports neither Qt nor Nuke.
"""
