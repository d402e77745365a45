"""The Dataset review panel, one module a concern (its model, :class:`core.dataset.review.ReviewModel`, is in core).

``panel``       :class:`~nuke_plugin.panels.review.panel.ReviewPanel`: the layout, keys, actions and files;
                :func:`~nuke_plugin.panels.review.panel.launch` / ``main`` (``reelkit-review DATASET_DIR``)
``items``       the Qt item models: the cluster list and one cluster's frame grid (drag and drop)
``delegates``   how a frame cell and a cluster row are painted
``cards``       the editor cards' widgets: line edits, field labels, the caption fields grid
``thumbnails``  thumbnails read scaled, loaded lazily on the GUI thread, cached

Importing this package imports no Qt; its modules do.
"""
