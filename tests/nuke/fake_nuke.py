"""A fake ``nuke`` module: the part of Nuke 14/15's Python API that reelkit uses, nothing more.

``tests/nuke/conftest.py`` loads a fresh copy of this file as
``sys.modules["nuke"]`` for each test. It

- records calls in :data:`calls` as ``(name, args, kwargs)`` so tests can
  assert on them (module functions, menu building, knob writes, renders);
- fails loudly on anything it does not model: ``nuke.X`` raises
  ``AttributeError("fake nuke does not model nuke.X")``, so does
  ``nuke.nodes.X`` for an unmodelled node class, and a script that sets an
  unknown knob raises;
- enforces Nuke's threading rule: with a GUI, touching a knob off the main
  thread raises (Nuke would crash or corrupt the script);
- loads gizmos for ``createNode`` from the plug-in path with the test TCL
  parser (:mod:`tests.nuke.tcl`), building the user knobs and the nodes
  inside, wired as the file's node stack says, and the layers its
  ``add_layer`` lines declare;
- evaluates knob expressions of the one form reelkit's gizmos use
  (``{{parent.knob}}``; an Enumeration counts as its index, a Boolean as
  0/1), and runs a gizmo's ``knobChanged`` script on every ``setValue`` of
  its knobs, as Nuke does while the node's panel is open (``_show_panel``
  plays the panel opening: ``thisKnob()`` is ``showPanel``);
- computes what a node outputs for the modelled classes (:func:`_pixels`:
  Read through :mod:`core.io`, Copy, Switch, Input/Output/Dot, a gizmo),
  so a test can look at the image a gizmo shows.

Signatures follow Nuke's Python API. Names starting with an underscore are
test controls, not Nuke API (e.g. :func:`_pump` plays Nuke's event loop
for ``executeInMainThread``; :data:`_render_hook` stands in for pixels
written by ``nuke.execute``).
"""

from __future__ import annotations

import builtins
import os
import queue
import threading
import time
from pathlib import Path

from tests.nuke import tcl

GUI = True
env = {"gui": True, "NukeVersionMajor": 15, "NukeVersionMinor": 1, "NukeVersionRelease": 3,
       "NukeVersionString": "15.1v3", "nukex": False, "studio": False}

calls: list[tuple[str, tuple, dict]] = []
_plugin_path: list[str] = []
_startup_dir: str | None = None          # folder of the init.py/menu.py being run (see _run_startup)
_main_queue: queue.Queue = queue.Queue()
_this_node = None
_this_knob = None
_render_hook = None                      # called as _render_hook(write_node, frame) by execute()
_cancel_after: int | None = None         # ProgressTask.isCancelled() is True from this call on
_progress_tasks: list["ProgressTask"] = []
_counters: dict[str, int] = {}
# Layers known to the script: the built-in rgba, then those added by add_layer (gizmos).
_layers: dict[str, list[str]] = {"rgba": ["rgba.red", "rgba.green", "rgba.blue", "rgba.alpha"]}


def __getattr__(name):
    raise AttributeError(f"fake nuke does not model nuke.{name}")


def _record(name, *args, **kwargs):
    calls.append((name, args, kwargs))


def _calls(name: str) -> list[tuple[tuple, dict]]:
    """The recorded ``(args, kwargs)`` of every call named ``name``."""
    return [(a, k) for n, a, k in calls if n == name]


def _set_gui(flag: bool) -> None:
    global GUI
    GUI = flag
    env["gui"] = flag


def _check_thread(what: str) -> None:
    if GUI and threading.current_thread() is not threading.main_thread():
        raise RuntimeError(f"fake nuke: {what} touched off the main thread (Nuke allows this only on the main thread)")


# --------------------------------------------------------------------------- knobs


class Knob:
    _default = None

    def __init__(self, name, label=None):
        self._name = name
        self._label = label if label is not None else name
        self._tooltip = ""
        self._value = self._default
        self._expression = None
        self._enabled = True
        self._visible = True
        self._flags: list[str] = []
        self._node = None

    def __repr__(self):
        return f"<{type(self).__name__} {self.fullyQualifiedName()}={self._value!r}>"

    def Class(self):
        return type(self).__name__

    def name(self):
        return self._name

    def label(self):
        return self._label

    def tooltip(self):
        return self._tooltip

    def setTooltip(self, text):
        if not isinstance(text, str):
            raise TypeError("setTooltip() argument must be str")
        self._tooltip = text

    def node(self):
        return self._node

    def fullyQualifiedName(self):
        return f"{self._node.fullName()}.{self._name}" if self._node is not None else self._name

    def enabled(self):
        return self._enabled

    def setEnabled(self, flag):
        self._enabled = bool(flag)

    def visible(self):
        return self._visible

    def setVisible(self, flag):
        self._visible = bool(flag)

    def value(self):
        _check_thread(f"knob {self.fullyQualifiedName()}")
        if self._expression is not None:
            return self._coerce(_evaluate(self._expression, self._node))
        return self._value

    def setValue(self, value):
        _check_thread(f"knob {self.fullyQualifiedName()}")
        before = (self._value, self._expression)
        self._value = self._coerce(value)
        self._expression = None
        _undoable(("knob", self, before, (self._value, None)))
        _record("Knob.setValue", self.fullyQualifiedName(), self._value)
        if self._node is not None:
            self._node._knob_changed(self)
        return True

    def _number(self):
        """The knob's value as an expression sees it."""
        return self.value()

    def hasExpression(self):
        return self._expression is not None

    def _coerce(self, value):
        return value

    def _from_script(self, word):
        """Set from a script word (``{{expr}}`` becomes an expression)."""
        if isinstance(word, tcl.Word) and word.expression is not None:
            self._expression = word.expression
            return
        self._value = self._coerce_script(str(word))

    def _coerce_script(self, text):
        return self._coerce(text)


class Array_Knob(Knob):
    _range = None

    def setRange(self, f1, f2):
        self._range = (float(f1), float(f2))

    def range(self):
        return self._range


class Int_Knob(Array_Knob):
    _default = 0

    def _coerce(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{self._name}: an int is required, got {type(value).__name__}")
        return int(value)

    def _coerce_script(self, text):
        return int(text)


class Double_Knob(Array_Knob):
    _default = 0.0

    def _coerce(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{self._name}: a float is required, got {type(value).__name__}")
        return float(value)

    def _coerce_script(self, text):
        return float(text)


class Boolean_Knob(Knob):
    _default = False

    def _number(self):
        return int(self.value())

    def _coerce(self, value):
        if not isinstance(value, (bool, int)):
            raise TypeError(f"{self._name}: a bool is required, got {type(value).__name__}")
        return bool(value)

    def _coerce_script(self, text):
        if text not in ("true", "false", "1", "0"):
            raise ValueError(f"{self._name}: {text!r} is not true or false")
        return text in ("true", "1")


class String_Knob(Knob):
    _default = ""

    def __init__(self, name, label=None, text=None):
        super().__init__(name, label)
        if text is not None:
            self._value = self._coerce(text)

    def _coerce(self, value):
        if not isinstance(value, str):
            raise TypeError(f"{self._name}: a str is required, got {type(value).__name__}")
        return value


class File_Knob(String_Knob):
    pass


class Enumeration_Knob(Knob):
    def __init__(self, name, label, values):
        super().__init__(name, label)
        self._values = [str(v) for v in values]
        self._value = self._values[0] if self._values else ""

    def values(self):
        return list(self._values)

    def _number(self):
        return self._values.index(self.value())

    def setValues(self, items):
        self._values = [str(v) for v in items]

    def _coerce(self, value):
        if isinstance(value, int) and not isinstance(value, bool):
            if not 0 <= value < len(self._values):
                raise ValueError(f"{self._name}: index {value} out of range")
            return self._values[value]
        if value not in self._values:
            raise ValueError(f"{self._name}: {value!r} is not one of {self._values}")
        return value


class PyScript_Knob(Knob):
    _default = ""

    def __init__(self, name, label=None, command=""):
        super().__init__(name, label)
        self._value = command

    def execute(self):
        """Run the knob's Python as Nuke does: in a namespace with ``nuke``, ``thisNode()`` = its node."""
        global _this_node
        _record("PyScript_Knob.execute", self.fullyQualifiedName())
        previous, _this_node = _this_node, self._node
        try:
            exec(compile(self._value, f"<{self.fullyQualifiedName()}>", "exec"), _script_namespace())
        finally:
            _this_node = previous


class Text_Knob(Knob):
    _default = ""

    def __init__(self, name, label=None, text=""):
        super().__init__(name, label)
        self._value = text


class Tab_Knob(Knob):
    pass


class Channel_Knob(Knob):
    """A built-in node's channel choice (Copy's ``from0``...): ``none`` or a channel of a known layer."""

    _default = "none"

    def _coerce(self, value):
        if not isinstance(value, str):
            raise TypeError(f"{self._name}: a channel name is required, got {type(value).__name__}")
        if value != "none" and not any(value in chans for chans in _layers.values()):
            raise ValueError(f"fake nuke: {self._name}: unknown channel {value!r} (declare its layer with add_layer)")
        return value


class _Button(Knob):
    """A built-in node's button (e.g. Read's ``reload``); ``execute()`` is recorded."""

    def execute(self):
        _check_thread(f"knob {self.fullyQualifiedName()}")
        _record("button.execute", self.fullyQualifiedName())


# addUserKnob type ids -> knob classes (Nuke's numbering).
_USER_KNOB_TYPES = {1: String_Knob, 2: File_Knob, 3: Int_Knob, 4: Enumeration_Knob, 6: Boolean_Knob,
                    7: Double_Knob, 20: Tab_Knob, 22: PyScript_Knob, 26: Text_Knob}


# --------------------------------------------------------------------------- nodes


class FrameRange:
    def __init__(self, first, last):
        self._first, self._last = int(first), int(last)

    def first(self):
        return self._first

    def last(self):
        return self._last


def _enum(*values):
    return lambda name: Enumeration_Knob(name, name, list(values))


# Modelled built-in node classes: knob name -> factory; and their input count.
_BUILTIN = {
    "Read": ({"file": File_Knob, "first": Int_Knob, "last": Int_Knob, "raw": Boolean_Knob,
              "colorspace": String_Knob, "frame_mode": _enum("expression", "start at", "offset"),
              "frame": String_Knob, "before": _enum("hold", "loop", "bounce", "black"),
              "after": _enum("hold", "loop", "bounce", "black"), "reload": _Button,
              "disable": Boolean_Knob}, 0),
    "Write": ({"file": File_Knob, "file_type": _enum(" ", "exr", "png", "tiff", "jpeg", "dpx"),
               "datatype": _enum("16 bit half", "32 bit float"), "channels": String_Knob,
               "raw": Boolean_Knob, "disable": Boolean_Knob}, 1),
    "Input": ({"number": Int_Knob}, 0),
    "Output": ({}, 1),
    "Switch": ({"which": Int_Knob, "disable": Boolean_Knob}, 2),
    "Dot": ({}, 1),
    "Grade": ({"white": Double_Knob, "disable": Boolean_Knob}, 1),
    "Copy": ({**{f"{d}{i}": Channel_Knob for i in range(4) for d in ("from", "to")}, "disable": Boolean_Knob}, 2),
}
# Classes that take any number of inputs (the count in the script wins); the others take exactly theirs.
_VARIABLE_INPUTS = {"Switch"}
_BUILTIN_DEFAULTS = {"Read": {"first": 1, "last": 1, "colorspace": "default"},
                     "Write": {"channels": "rgb"},
                     "Copy": {"from0": "rgba.alpha", "to0": "rgba.alpha"}}


class Node:
    def __init__(self, cls, name, max_inputs, parent=None):
        self._class = cls
        self._name = name
        self._knobs: dict[str, Knob] = {}
        self._inputs: list = [None] * max_inputs
        self._parent = parent
        self._frame_range = None

    def __repr__(self):
        return f"<{self._class} {self.fullName()}>"

    def Class(self):
        return self._class

    def name(self):
        return self._name

    def fullName(self):
        return f"{self._parent.fullName()}.{self._name}" if self._parent is not None else self._name

    def knob(self, name):
        _check_thread(f"node {self.fullName()}")
        return self._knobs.get(name)

    def __getitem__(self, name):
        _check_thread(f"node {self.fullName()}")
        try:
            return self._knobs[name]
        except KeyError:
            raise NameError(f"knob {name} does not exist") from None

    def knobs(self):
        return dict(self._knobs)

    def addKnob(self, knob):
        if knob._name in self._knobs:
            raise RuntimeError(f"{self.fullName()}: knob {knob._name} already exists")
        knob._node = self
        self._knobs[knob._name] = knob
        _record("Node.addKnob", self.fullName(), knob._name)

    def input(self, i):
        _check_thread(f"node {self.fullName()}")
        return self._inputs[i] if 0 <= i < len(self._inputs) else None

    def setInput(self, i, node):
        if not 0 <= i < len(self._inputs):
            return False
        _undoable(("input", self, i, self._inputs[i], node))
        self._inputs[i] = node
        return True

    def maxInputs(self):
        return len(self._inputs)

    def setSelected(self, selected):
        self._selected = bool(selected)

    def isSelected(self):
        return getattr(self, "_selected", False)

    def _knob_changed(self, knob):
        """Built-in nodes run no script when a knob changes (see Group)."""

    def frameRange(self):
        """The node's frame range: a Read's first/last, else its input's, else the script's."""
        _check_thread(f"node {self.fullName()}")
        if self._frame_range is not None:
            return FrameRange(*self._frame_range)
        if self._class == "Read":
            return FrameRange(self._knobs["first"].value(), self._knobs["last"].value())
        if self._inputs and self._inputs[0] is not None:
            return self._inputs[0].frameRange()
        r = root()
        return FrameRange(r["first_frame"].value(), r["last_frame"].value())


class Group(Node):
    def __init__(self, cls, name, max_inputs, parent=None):
        super().__init__(cls, name, max_inputs, parent)
        self._children: dict[str, Node] = {}
        self._knob_changed_script = ""

    def _knob_changed(self, knob):
        """Run the ``knobChanged`` script with ``thisNode()`` / ``thisKnob()`` set, as Nuke does."""
        global _this_node, _this_knob
        if not self._knob_changed_script:
            return
        _record("knobChanged", self.fullName(), knob.name())
        previous = (_this_node, _this_knob)
        _this_node, _this_knob = self, knob
        try:
            exec(compile(self._knob_changed_script, f"<{self.fullName()}.knobChanged>", "exec"), _script_namespace())
        finally:
            _this_node, _this_knob = previous

    def node(self, name):
        _check_thread(f"node {self.fullName()}")
        return self._children.get(name)

    def nodes(self):
        return list(self._children.values())


def _unique_name(prefix):
    _counters[prefix] = _counters.get(prefix, 0) + 1
    return f"{prefix}{_counters[prefix]}"


def _make_builtin(cls, name=None, parent=None):
    if cls not in _BUILTIN:
        raise AttributeError(f"fake nuke does not model nuke.nodes.{cls}")
    knobs, n_inputs = _BUILTIN[cls]
    node = Node(cls, name or _unique_name(cls), n_inputs, parent)
    for knob_name, factory in knobs.items():
        node.addKnob(factory(knob_name))
    for knob_name, value in _BUILTIN_DEFAULTS.get(cls, {}).items():
        node._knobs[knob_name]._value = value
    return node


class _Nodes:
    """``nuke.nodes.Read(file=..., first=...)``: make a node with knob values, unconnected."""

    def __getattr__(self, cls):
        if cls.startswith("__") or cls not in _BUILTIN:
            raise AttributeError(f"fake nuke does not model nuke.nodes.{cls}")

        def make(**knob_values):
            with _undo_quiet():  # making a node is one undo item, its knob values included
                node = _make_builtin(cls, knob_values.pop("name", None))
                for key, value in knob_values.items():
                    knob = node.knob(key)
                    if knob is None:
                        raise ValueError(f"{cls}: no knob named {key}")
                    knob.setValue(value)
            _record("nodes." + cls, **knob_values)
            _all_nodes.append(node)
            _undoable(("node", node))
            return node

        return make


nodes = _Nodes()
_all_nodes: list[Node] = []


def _load_gizmo(path: Path) -> Group:
    spec = tcl.parse_gizmo(path.read_text("utf-8"))
    top = spec.top
    group = Group(path.stem if top.cls == "Gizmo" else "Group", _unique_name(path.stem),
                  int(top.knobs.get("inputs", 1)))
    for uk in top.user_knobs:
        cls = _USER_KNOB_TYPES.get(uk.type_id)
        if cls is None:
            raise AttributeError(f"fake nuke does not model addUserKnob type {uk.type_id} ({path.name})")
        if cls is Enumeration_Knob:
            knob = cls(uk.name, uk.label, uk.menu or [])
        elif cls is PyScript_Knob:
            knob = cls(uk.name, uk.label, uk.text or "")
        elif cls is Text_Knob:
            knob = cls(uk.name, uk.label, uk.text or "")
        else:
            knob = cls(uk.name, uk.label)
        if uk.tooltip:
            knob.setTooltip(uk.tooltip)
        if uk.range is not None:
            knob.setRange(*uk.range)
        knob._flags = list(uk.flags)
        if "+DISABLED" in uk.flags:
            knob._enabled = False
        group.addKnob(knob)
    for layer, channels in spec.layers.items():
        known = _layers.setdefault(layer, list(channels))
        if known != list(channels):
            raise AttributeError(f"fake nuke does not model redefining layer {layer} ({path.name})")
    for key, word in top.knobs.items():
        if key in ("inputs", "help", "tile_color", "label", "name"):
            continue
        if key == "knobChanged":
            group._knob_changed_script = str(word)
            continue
        if key not in group._knobs:
            raise ValueError(f"{path.name}: value for unknown knob {key}")
        group._knobs[key]._from_script(word)
    for child in spec.children:
        node = _make_builtin(child.cls, child.name, parent=group)
        if child.user_knobs:
            raise AttributeError(f"fake nuke does not model user knobs on inner nodes ({path.name})")
        n_inputs = int(child.knobs.get("inputs", 1))
        if child.cls in _VARIABLE_INPUTS:
            node._inputs = [None] * max(n_inputs, len(node._inputs))
        elif n_inputs > len(node._inputs):
            raise ValueError(f"{path.name}: {child.cls} {child.name} takes {len(node._inputs)} inputs, not {n_inputs}")
        for key, word in child.knobs.items():
            if key in ("inputs", "name", "xpos", "ypos"):
                continue
            knob = node._knobs.get(key)
            if knob is None:
                raise ValueError(f"{path.name}: {child.cls} {child.name} has no knob {key}")
            knob._from_script(word)
        group._children[node.name()] = node
    for child in spec.children:
        node = group._children[child.name]
        for i, source in enumerate(child.inputs):
            node.setInput(i, group._children[source] if source is not None else None)
    return group


def createNode(node, args=None, inpanel=True):
    """A built-in node, or a gizmo ``<node>.gizmo`` found on the plug-in path."""
    _record("createNode", node, args=args, inpanel=inpanel)
    if args:
        raise AttributeError("fake nuke does not model createNode args")
    with _undo_quiet():  # one undo item: the node as its gizmo makes it
        if node in _BUILTIN:
            made = _make_builtin(node)
        else:
            for folder in _plugin_path:
                path = Path(folder) / f"{node}.gizmo"
                if path.is_file():
                    made = _load_gizmo(path)
                    break
            else:
                raise RuntimeError(f"{node}: unknown command")
    _all_nodes.append(made)
    _undoable(("node", made))
    return made


def toNode(name):
    """The top-level node called ``name``, or ``None``."""
    _check_thread("nuke.toNode")
    return next((n for n in _all_nodes if n.name() == name), None)


# -- undo: the changes the fake models (knob values, inputs, nodes made), as Nuke's undo stack holds them ---
_undo_items: list[tuple[str, list]] = []    # (name, changes) done, newest last
_redo_items: list[tuple[str, list]] = []    # undone, most recently undone last
_undo_group: list | None = None             # the changes of the group begun and not ended
_undo_group_name: str = ""
_undo_quiet_depth = 0
_undo_disabled = 0                          # nuke.Undo.disable() calls not yet matched by enable()


class _undo_quiet:
    """Changes made inside are not recorded one by one (a node being made, an undo being replayed)."""

    def __enter__(self):
        global _undo_quiet_depth
        _undo_quiet_depth += 1

    def __exit__(self, *exc):
        global _undo_quiet_depth
        _undo_quiet_depth -= 1


def _undoable(change):
    """Record one change: into the open undo group, else as an undo item of its own (each edit outside a
    group is its own Ctrl+Z in Nuke)."""
    if _undo_quiet_depth or _undo_disabled:
        return
    if _undo_group is not None:
        _undo_group.append(change)
    else:
        _undo_items.append(("", [change]))
    _redo_items.clear()


def _apply(changes, backwards: bool) -> None:
    with _undo_quiet():
        for change in (reversed(changes) if backwards else changes):
            kind = change[0]
            if kind == "knob":
                knob, before, after = change[1:]
                knob._value, knob._expression = before if backwards else after
            elif kind == "input":
                node, i, before, after = change[1:]
                node._inputs[i] = before if backwards else after
            elif backwards:  # a node made
                _all_nodes.remove(change[1])
            else:
                _all_nodes.append(change[1])


def _step(name: str, source: list, target: list, backwards: bool) -> None:
    _check_thread(f"nuke.{name}")
    _record(name)
    if source:
        item = source.pop()
        _apply(item[1], backwards=backwards)
        target.append(item)


def undo():
    """Ctrl+Z: revert the newest undo item."""
    _step("undo", _undo_items, _redo_items, backwards=True)


def redo():
    """Ctrl+Shift+Z: re-apply the item undone last."""
    _step("redo", _redo_items, _undo_items, backwards=False)


class Undo:
    """``nuke.Undo``: the changes between :meth:`begin` and :meth:`end` are one undo item named ``name``;
    :meth:`cancel` reverts them and records nothing."""

    def begin(self, name=None):
        global _undo_group, _undo_group_name
        _check_thread("nuke.Undo.begin")
        _record("Undo.begin", name)
        if _undo_group is not None:
            raise AttributeError("fake nuke does not model nested Undo.begin")
        _undo_group, _undo_group_name = [], name or ""

    def end(self):
        global _undo_group
        _check_thread("nuke.Undo.end")
        _record("Undo.end")
        if _undo_group:
            _undo_items.append((_undo_group_name, _undo_group))
        _undo_group = None

    def cancel(self):
        global _undo_group
        _check_thread("nuke.Undo.cancel")
        _record("Undo.cancel")
        if _undo_group:
            _apply(_undo_group, backwards=True)
        _undo_group = None

    def name(self):
        return _undo_group_name if _undo_group is not None else ""

    def disable(self):
        """Changes are recorded nowhere until the matching :meth:`enable` (calls nest)."""
        global _undo_disabled
        _check_thread("nuke.Undo.disable")
        _record("Undo.disable")
        _undo_disabled += 1

    def enable(self):
        global _undo_disabled
        _check_thread("nuke.Undo.enable")
        _record("Undo.enable")
        if not _undo_disabled:
            raise AttributeError("fake nuke does not model nuke.Undo.enable without a disable before it")
        _undo_disabled -= 1

    def disabled(self):
        return bool(_undo_disabled)

    def undoSize(self):
        return len(_undo_items)

    def redoSize(self):
        return len(_redo_items)

    def undoDescribe(self, n=0):
        return _undo_items[-1 - n][0] if n < len(_undo_items) else ""

    def undo(self):
        undo()

    def redo(self):
        redo()


def thisNode():
    return _this_node


def thisKnob():
    return _this_knob


def _show_panel(node):
    """Open ``node``'s panel: Nuke runs its knobChanged with ``thisKnob()`` named ``showPanel``."""
    _record("showPanel", node.fullName())
    knob = Knob("showPanel")
    knob._node = node
    node._knob_changed(knob)


# --------------------------------------------------------------------------- expressions, pixels


def _evaluate(expression, node):
    """A knob expression: only ``parent.<knob>`` (the knob of the group holding ``node``) is modelled."""
    import re

    m = re.fullmatch(r"\s*parent\.(\w+)\s*", expression)
    if m is None or node is None or node._parent is None:
        raise AttributeError(f"fake nuke does not model the expression {expression!r}")
    knob = node._parent.knob(m.group(1))
    if knob is None:
        raise NameError(f"{node.fullName()}: expression {expression!r}: no knob {m.group(1)} on the parent")
    return knob._number()


def _file_value(node):
    """A Read's file with TCL ``[value parent.<knob>]`` substituted (the only TCL modelled)."""
    import re

    text = node["file"].value()

    def sub(m):
        return str(node._parent[m.group(1)].value())

    out = re.sub(r"\[value parent\.(\w+)\]", sub, text)
    if "[" in out or "$" in out:
        raise AttributeError(f"fake nuke does not model the file name {text!r}")
    return out


_EXR_TO_NUKE = {"R": "red", "G": "green", "B": "blue", "A": "alpha"}


def _nuke_channel(exr_name):
    """Nuke's name for an EXR channel: ``R`` -> ``rgba.red``, ``layer.R`` -> ``layer.red``, ``layer.Y`` stays.

    A bare ``Y`` (a one-channel, luminance-only EXR) is modelled as ``rgba.red``
    only, the narrower of what Nuke may do (red only, or red, green and blue):
    a gizmo that shows such a file grey must copy red into green and blue itself.
    """
    if exr_name == "Y":
        return "rgba.red"
    layer, _, chan = exr_name.rpartition(".")
    if not layer:
        if exr_name not in _EXR_TO_NUKE:
            raise AttributeError(f"fake nuke does not model the undotted EXR channel {exr_name!r}")
        return f"rgba.{_EXR_TO_NUKE[exr_name]}"
    return f"{layer}.{_EXR_TO_NUKE.get(chan, chan)}"


def _read_pixels(node, frame):
    from core import io

    if not node["raw"].value():
        raise AttributeError("fake nuke does not model a Read's colour conversion (set raw)")
    first, last = node["first"].value(), node["last"].value()
    if not first <= frame <= last:
        raise AttributeError(f"fake nuke does not model frames outside a Read's range ({frame} of {first}-{last})")
    path = _file_value(node)
    img = io.read_image(io.sequence_path(path, frame) if io.is_sequence_pattern(path) else path)
    out = {}
    main = img.channels or ("R", "G", "B", "A")[:img.pixels.shape[2]]
    for i, name in enumerate(main):
        out[_nuke_channel(name)] = img.pixels[..., i]
    names = img.metadata.get("layer_channels", {})
    for layer, arr in img.layers.items():
        for i, name in enumerate(names[layer]):
            out[_nuke_channel(name)] = arr[..., i]
    return out


def _pixels(node, frame):
    """What ``node`` outputs at ``frame``: ``{nuke channel name: HW float32}`` (modelled classes only)."""
    import numpy as np

    cls = node.Class()
    if isinstance(node, Group):
        outputs = [n for n in node.nodes() if n.Class() == "Output"]
        if len(outputs) != 1:
            raise AttributeError(f"fake nuke does not model a group with {len(outputs)} Output nodes")
        return _pixels(outputs[0], frame)
    if "disable" in node._knobs and node["disable"].value() and cls != "Read":
        return _pixels(node.input(0), frame)
    if cls == "Read":
        return _read_pixels(node, frame)
    if cls in ("Output", "Dot", "Write"):
        return _pixels(node.input(0), frame)
    if cls == "Input":
        upstream = node._parent.input(node["number"].value())
        if upstream is None:
            raise AttributeError("fake nuke does not model an unconnected Input (black)")
        return _pixels(upstream, frame)
    if cls == "Switch":
        connected = [i for i in range(node.maxInputs()) if node.input(i) is not None]
        which = min(max(int(node["which"].value()), 0), max(connected))
        return _pixels(node.input(which), frame)
    if cls == "Copy":
        b = dict(_pixels(node.input(0), frame))
        a = _pixels(node.input(1), frame)
        shape = next(iter(b.values())).shape
        for i in range(4):
            src, dst = node[f"from{i}"].value(), node[f"to{i}"].value()
            if src != "none" and dst != "none":
                b[dst] = a.get(src, np.zeros(shape, np.float32))  # Nuke copies black from a missing channel
        return b
    raise AttributeError(f"fake nuke does not model the pixels of a {cls}")


_root = None


def root():
    global _root
    if _root is None:
        _root = Node("Root", "root", 0)
        for name, factory, value in (("name", String_Knob, ""), ("first_frame", Int_Knob, 1),
                                     ("last_frame", Int_Knob, 100), ("workingSpaceLUT", String_Knob, "linear"),
                                     ("proxy", Boolean_Knob, False)):
            knob = factory(name)
            knob._value = value
            _root.addKnob(knob)
    return _root


def _script_namespace():
    import sys

    return {"__builtins__": builtins, "__name__": "__main__", "nuke": sys.modules["nuke"]}


# --------------------------------------------------------------------------- plug-in path, start-up


def pluginAddPath(args, addToSysPath=True):
    """Prepend paths to the plug-in path; a relative path is taken from the running init.py's folder."""
    import sys

    _record("pluginAddPath", args, addToSysPath=addToSysPath)
    for path in args if isinstance(args, (list, tuple)) else [args]:
        if not os.path.isabs(path):
            if _startup_dir is None:
                raise AttributeError("fake nuke does not model relative plug-in paths outside a start-up script")
            path = os.path.normpath(os.path.join(_startup_dir, path))
        if path in _plugin_path:
            _plugin_path.remove(path)
        _plugin_path.insert(0, path)
        if addToSysPath:
            sys.path.insert(0, path)


def pluginPath():
    return list(_plugin_path)


def _run_startup(folder, filename):
    """Run ``folder/filename`` (init.py / menu.py) as Nuke does at start-up: fresh namespace, no ``__file__``."""
    global _startup_dir
    path = os.path.join(folder, filename)
    _startup_dir = os.path.abspath(folder)
    try:
        with open(path, encoding="utf-8") as fh:
            exec(compile(fh.read(), path, "exec"), _script_namespace())
    finally:
        _startup_dir = None


# --------------------------------------------------------------------------- menus


class MenuItem:
    def __init__(self, name, command=None, shortcut=None, icon=None, tooltip=None):
        self._name = name
        self._script = command
        self._shortcut = shortcut
        self._icon = icon
        self._tooltip = tooltip

    def name(self):
        return self._name

    def script(self):
        return self._script if isinstance(self._script, str) else ""

    def invoke(self):
        _record("MenuItem.invoke", self._name)
        if callable(self._script):
            self._script()
        else:
            exec(compile(self._script, f"<menu {self._name}>", "exec"), _script_namespace())


class _Separator(MenuItem):
    def __init__(self):
        super().__init__("")


class Menu(MenuItem):
    def __init__(self, name, icon=None, tooltip=None):
        super().__init__(name, icon=icon, tooltip=tooltip)
        self._items: list[MenuItem] = []

    def _check_name(self, name):
        if not isinstance(name, str) or not name:
            raise TypeError("menu item name must be a non-empty str")
        if "/" in name:
            raise AttributeError("fake nuke does not model menu paths with '/'")

    def addMenu(self, name, icon=None, tooltip=None, index=-1):
        self._check_name(name)
        _record("Menu.addMenu", self._name, name, icon=icon, tooltip=tooltip)
        found = self.findItem(name)
        if isinstance(found, Menu):
            return found
        menu = Menu(name, icon, tooltip)
        self._items.append(menu)
        return menu

    def addCommand(self, name, command=None, shortcut=None, icon=None, tooltip=None, index=-1, readonly=False,
                   shortcutContext=None):
        self._check_name(name)
        _record("Menu.addCommand", self._name, name, command, shortcut=shortcut, icon=icon, tooltip=tooltip)
        item = MenuItem(name, command, shortcut, icon, tooltip)
        for i, old in enumerate(self._items):
            if old._name == name and not isinstance(old, Menu):
                self._items[i] = item
                return item
        self._items.append(item)
        return item

    def addSeparator(self, **kwargs):
        _record("Menu.addSeparator", self._name)
        item = _Separator()
        self._items.append(item)
        return item

    def findItem(self, name):
        for item in self._items:
            if item._name == name and not isinstance(item, _Separator):
                return item
        return None

    def items(self):
        return list(self._items)


class ToolBar(Menu):
    pass


_menus: dict[str, Menu] = {}
_MENU_NAMES = ("Nuke", "Pane", "Nodes", "Properties", "Node Graph", "Viewer", "Animation")


def menu(name):
    _record("menu", name)
    if name not in _MENU_NAMES:
        raise AttributeError(f"fake nuke does not model nuke.menu({name!r})")
    if name not in _menus:
        _menus[name] = ToolBar(name) if name == "Nodes" else Menu(name)
    return _menus[name]


def toolbar(name, create=True):
    _record("toolbar", name, create=create)
    if name != "Nodes":
        raise AttributeError(f"fake nuke does not model nuke.toolbar({name!r})")
    return menu(name)


def _menu_tree(m: Menu):
    """Test helper: a menu as nested lists (``"-"`` for a separator)."""
    out = []
    for item in m.items():
        if isinstance(item, _Separator):
            out.append("-")
        elif isinstance(item, Menu):
            out.append((item.name(), _menu_tree(item)))
        else:
            out.append(item.name())
    return out


# --------------------------------------------------------------------------- execution, threads, messages


def execute(nameOrNode, start=None, end=None, incr=None, views=None, continueOnError=False):
    """Render a Write over ``start..end`` every ``incr`` frames (the pixels come from :data:`_render_hook`)."""
    _check_thread("nuke.execute")
    if views is not None or continueOnError:
        raise AttributeError("fake nuke does not model execute(views=, continueOnError=)")
    node = nameOrNode
    _record("execute", node, start, end, incr, file=node["file"].value())
    if node.Class() != "Write":
        raise RuntimeError(f"{node.name()} cannot be executed")
    if node["disable"].value():
        raise RuntimeError(f"{node.name()} is disabled")
    if not node["file"].value():
        raise RuntimeError(f"{node.name()}: no file name")
    if root()["proxy"].value():  # Nuke renders a Write at the active scale: proxy pixels are not modelled
        raise AttributeError("fake nuke does not model a render in proxy mode (the proxy-scale pixels)")
    for frame in range(int(start), int(end) + 1, int(incr or 1)):
        if _render_hook is not None:
            _render_hook(node, frame)


def allNodes(filter=None, group=None, recurseGroups=False):
    """Top-level nodes (made by createNode / nuke.nodes), optionally of one class; groups are not modelled."""
    if group is not None or recurseGroups:
        raise AttributeError("fake nuke does not model allNodes(group=..., recurseGroups=...)")
    _check_thread("nuke.allNodes")
    return [n for n in _all_nodes if filter is None or n.Class() == filter]


def selectedNodes(filter=None):
    """Selected top-level nodes (``Node.setSelected``), optionally of one class."""
    _check_thread("nuke.selectedNodes")
    return [n for n in allNodes(filter) if n.isSelected()]


def message(prompt):
    _check_thread("nuke.message")
    _record("message", prompt)


def executeInMainThread(call, args=(), kwargs=None):
    """Queue ``call`` for the main thread (run by :func:`_pump`)."""
    _record("executeInMainThread", call, args=args, kwargs=kwargs)
    if not isinstance(args, tuple):
        raise TypeError("executeInMainThread: args must be a tuple")
    _main_queue.put((call, args, kwargs or {}))


def executeInMainThreadWithResult(call, args=(), kwargs=None):
    """Run ``call`` on the main thread and return its result: at once on the main thread, else queued (run
    by :func:`_pump`) while the calling thread waits."""
    _record("executeInMainThreadWithResult", call, args=args, kwargs=kwargs)
    if not isinstance(args, tuple):
        raise TypeError("executeInMainThreadWithResult: args must be a tuple")
    if threading.current_thread() is threading.main_thread():
        return call(*args, **(kwargs or {}))
    done, box = threading.Event(), {}

    def run():
        try:
            box["result"] = call(*args, **(kwargs or {}))
        except BaseException as exc:  # Nuke hands the error back to the caller
            box["error"] = exc
        done.set()

    _main_queue.put((run, (), {}))
    done.wait()
    if "error" in box:
        raise box["error"]
    return box["result"]


def _pump(until=None, timeout=10.0):
    """Play Nuke's event loop: run queued main-thread calls until ``until()`` is true and the queue is empty."""
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("_pump runs on the main thread")
    deadline = time.monotonic() + timeout
    while True:
        while True:
            try:
                call, args, kwargs = _main_queue.get_nowait()
            except queue.Empty:
                break
            call(*args, **kwargs)
        if until is None or until():
            if _main_queue.empty():
                return
            continue
        if time.monotonic() > deadline:
            raise TimeoutError("fake nuke: _pump timed out")
        time.sleep(0.001)


class ProgressTask:
    def __init__(self, title):
        self._title = title
        self._messages: list[str] = []
        self._progress: list[int] = []
        self._cancel_checks = 0
        _progress_tasks.append(self)
        _record("ProgressTask", title)

    def setMessage(self, text):
        if not isinstance(text, str):
            raise TypeError("setMessage() argument must be str")
        self._messages.append(text)

    def setProgress(self, value):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError("setProgress() argument must be int")
        self._progress.append(value)

    def isCancelled(self):
        self._cancel_checks += 1
        return _cancel_after is not None and self._cancel_checks > _cancel_after
