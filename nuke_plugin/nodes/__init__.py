"""One module per reelkit node: its button callbacks.

A callback gathers the node's knob values (:func:`nuke_plugin.knobs.read_values`),
finds its input frames (:func:`nuke_plugin.host.gather_input`), calls one
core function in a task (:func:`nuke_plugin.host.run_task`) and shows the
result (:func:`nuke_plugin.host.set_output`). No image work happens here.
"""
