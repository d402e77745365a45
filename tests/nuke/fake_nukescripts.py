"""A fake ``nukescripts``: the panel registration reelkit uses, nothing more.

``tests/nuke/conftest.py`` installs a fresh copy as ``sys.modules["nukescripts"]``
(and its ``panels`` as ``nukescripts.panels``) with the fake ``nuke``.
Modelled from Nuke's ``nukescripts/panels.py``:

- ``panels.registerWidgetAsPanel(widget, name, id, create=False)``: ``widget``
  is a Python expression naming a QWidget class; Nuke adds ``name`` to the
  Pane menu and registers ``id`` so layouts can restore the panel. Making
  the panel evaluates the expression and creates the widget with no
  arguments (as Nuke's ``WidgetKnob`` does when the panel is shown).
- ``panels.restorePanel(id)``: makes the registered panel.

Anything else raises ``AttributeError("fake nukescripts does not model ...")``.
"""

from __future__ import annotations

import builtins
import sys
import types

panels = types.ModuleType("nukescripts.panels")
_registered: dict[str, object] = {}


def __getattr__(name):
    raise AttributeError(f"fake nukescripts does not model nukescripts.{name}")


def _panels_getattr(name):
    raise AttributeError(f"fake nukescripts does not model nukescripts.panels.{name}")


class _Panel:
    """What Nuke's PythonPanel shows: here, just the widget made from the expression."""

    def __init__(self, widget_expression: str, name: str, panel_id: str):
        cls = eval(widget_expression, {"__builtins__": builtins})  # Nuke evaluates it the same way
        self.name = name
        self.id = panel_id
        self.widget = cls()


def registerWidgetAsPanel(widget, name, id, create=False):  # noqa: A002 - Nuke's signature
    nuke = sys.modules["nuke"]
    nuke._record("nukescripts.registerWidgetAsPanel", widget, name, id, create=create)
    if not isinstance(widget, str):
        raise TypeError("registerWidgetAsPanel: widget must be a str (a Python expression naming the class)")
    if create:
        raise AttributeError("fake nukescripts does not model registerWidgetAsPanel(create=True)")

    def add_panel():
        panel = _Panel(widget, name, id)
        nuke._record("nukescripts.addPanel", id)
        return panel

    nuke.menu("Pane").addCommand(name, add_panel)
    _registered[id] = add_panel
    return None


def restorePanel(id):  # noqa: A002 - Nuke's signature
    if id not in _registered:
        raise KeyError(f"fake nukescripts: no panel registered as {id!r}")
    return _registered[id]()


panels.__getattr__ = _panels_getattr
panels.registerWidgetAsPanel = registerWidgetAsPanel
panels.restorePanel = restorePanel
panels._registered = _registered
