"""The assistant inside Nuke: reelkit nodes made, set and run by MCP tool calls, one undo group each.

Each action is wrapped in one ``nuke.Undo`` group named ``reelkit: ...``,
so one assistant action is one Ctrl+Z in Nuke (an action refused half way
is cancelled: the script is left as it was):

- :func:`create_node`: a reelkit node (a class of :data:`nuke_plugin.registry.NODES`), connected to an
  upstream node, its knobs set and, with ``run``, one of its buttons pressed: the node, its knobs and the
  run's result are one Ctrl+Z (the result lands when the work ends, with undo disabled: it goes with the node);
- :func:`set_knobs`: knob values of a reelkit node;
- :func:`run_node`: press one of the node's buttons (Degrade, Infer...): the work runs as the button runs
  it, off the UI thread (:func:`nuke_plugin.host.run_task`); the result's knobs and Read are set when it
  ends, as one undo item of the action's name (:func:`nuke_plugin.host.result_undo`).

Knob values are checked against the core spec each knob mirrors (the same
check as the server's file tools: JSON types, ranges, choices) before any
is set; a fault names the knob (``knobs.seed``). :func:`host_tools` gives
these as :class:`core.agent.service.HostTool` objects, which call Nuke on
its main thread (``nuke.executeInMainThreadWithResult``); the journal
records them with the name of their undo item. :func:`start_server` serves
them, with every file tool, over streamable HTTP on 127.0.0.1 from a thread
of the Nuke session (docs/agent.md).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from core.agent.schema import FieldError, check_value

#: Label prefix of the undo items of assistant actions.
UNDO_PREFIX = "reelkit: "


def _spec(node_class: str):
    from nuke_plugin import registry

    names = [s.name for s in registry.NODES]
    if node_class not in names:
        raise FieldError("node_class", f"{node_class!r} is not a reelkit node; known: {', '.join(names)}",
                         code="invalid")
    return registry.get(node_class)


def _node(name: str, field: str = "node", *, reelkit: bool = True):
    import nuke

    node = nuke.toNode(name)
    if node is None:
        raise FieldError(field, f"no node named {name!r} in the script", code="not_found")
    if reelkit:
        _spec(node.Class())
    return node


def _knob_params(spec) -> dict[str, Any]:
    """Every knob of ``spec``'s node that mirrors a parameter: the parameter, by knob name."""
    return {p.name: p for p in [*spec.knob_params(), *spec.group_params()]}


def _set(node, spec, knobs: Mapping[str, Any]) -> dict[str, Any]:
    """Check every value against its parameter, then set them all; returns the values set."""
    if not isinstance(knobs, Mapping):
        raise FieldError("knobs", f"expected an object of knob values, got {knobs!r}", code="wrong_type")
    params = _knob_params(spec)
    checked = {}
    for name, value in knobs.items():
        if name not in params:
            raise FieldError(f"knobs.{name}", f"{spec.name} has no knob {name!r}; knobs: {', '.join(params)}",
                             code="unknown_argument")
        try:
            checked[name] = check_value(params[name], value)
        except FieldError as exc:
            raise FieldError(f"knobs.{name}", exc.detail, code=exc.code) from None
    for name, value in checked.items():
        node[name].setValue(value)
    return checked


def _button(node, spec, button: str | None) -> tuple[str, str]:
    """The knob name and label of ``spec``'s button ``button`` (default: its first)."""
    buttons = {b.name: b for b in spec.buttons}
    name = button or next(iter(buttons))
    if name not in buttons:
        raise FieldError("button", f"{node} has no button {name!r}; buttons: {', '.join(buttons)}", code="invalid")
    return name, buttons[name].label


def create_node(node_class: str, knobs: Mapping[str, Any] | None = None, input: str | None = None,
                run: bool = False, button: str | None = None) -> dict[str, Any]:
    """Make a ``node_class`` node (input 0 from the node named ``input``) with ``knobs`` set and, with ``run``,
    press ``button`` (default: its first): one undo item, the run's result included (it lands with undo
    disabled: one Ctrl+Z of the creation removes the node, result and all)."""
    import nuke

    from nuke_plugin import host

    spec = _spec(node_class)
    upstream = None if input is None else _node(input, "input", reelkit=False)
    if not isinstance(run, bool):
        raise FieldError("run", f"expected true or false, got {run!r}", code="wrong_type")
    if button is not None and not run:
        raise FieldError("button", "presses a button with run=true only", code="invalid")
    press = _button(node_class, spec, button) if run else None
    label = f"{UNDO_PREFIX}create {node_class}" + (f" and {press[1]}" if press else "")
    with host.undo_group(label):
        node = nuke.createNode(node_class, inpanel=False)
        if upstream is not None:
            node.setInput(0, upstream)
        values = _set(node, spec, knobs or {})
        if press:
            with host.result_undo(None):
                node[press[0]].execute()
    return {"node": node.name(), "class": node_class, "knobs": values, "undo": label,
            **({"button": press[0]} if press else {})}


def set_knobs(node: str, knobs: Mapping[str, Any]) -> dict[str, Any]:
    """Set knob values of the reelkit node ``node``: one undo item."""
    from nuke_plugin import host

    target = _node(node)
    label = f"{UNDO_PREFIX}set {', '.join(knobs)} on {node}"
    with host.undo_group(label):
        values = _set(target, _spec(target.Class()), knobs)
    return {"node": node, "knobs": values, "undo": label}


def run_node(node: str, button: str | None = None) -> dict[str, Any]:
    """Press ``button`` (default: the node's first) of the reelkit node ``node``, as the artist would: one undo
    item, the run's result (set when the work ends; what the press itself changes and puts back, such as an
    internal Write's file, is not recorded). Without a GUI the work runs inside the press, in that item."""
    import nuke

    from nuke_plugin import host

    target = _node(node)
    name, text = _button(node, _spec(target.Class()), button)
    label = f"{UNDO_PREFIX}{text} {node}"
    with host.undo_disabled() if nuke.GUI else host.undo_group(label), host.result_undo(label):
        target[name].execute()
    return {"node": node, "button": name, "undo": label}


# -- as MCP tools ---------------------------------------------------------------------------------------------
_KNOBS = {"type": "object", "description": "knob name -> value (the node's parameters: same names, types, ranges "
          "and choices as the CLI options)"}


def host_tools() -> list:
    """The actions as :class:`~core.agent.service.HostTool` objects, each run on Nuke's main thread."""
    from core.agent.service import HostTool
    from nuke_plugin import registry

    def on_main(fn, *names: str):
        def run(arguments: dict[str, Any]) -> dict[str, Any]:
            import nuke

            unknown = sorted(set(arguments) - set(names))
            if unknown:
                raise FieldError(unknown[0], f"unknown argument; known: {', '.join(names)}", code="unknown_argument")
            return nuke.executeInMainThreadWithResult(fn, kwargs=arguments)
        return run

    classes = [s.name for s in registry.NODES]
    node = {"type": "string", "description": "the node's name in the script (e.g. ReelDegrade1)"}
    return [
        HostTool("nuke_create_node", "make a reelkit node in the open Nuke script, connected to an upstream node, "
                 "knobs set, and with run=true run it; one Ctrl+Z in Nuke undoes it all",
                 {"type": "object", "additionalProperties": False, "required": ["node_class"], "properties": {
                     "node_class": {"type": "string", "enum": classes, "description": "the reelkit node"},
                     "knobs": _KNOBS, "input": {"type": "string", "description": "node feeding input 0"},
                     "run": {"type": "boolean", "default": False, "description": "then press its button (the "
                             "work runs in the background); the node, its knobs and its result are one Ctrl+Z"},
                     "button": {"type": "string", "description": "with run: the button's knob name (default: "
                                "the node's first)"}}},
                 on_main(create_node, "node_class", "knobs", "input", "run", "button")),
        HostTool("nuke_set_knobs", "set knob values of a reelkit node; one Ctrl+Z in Nuke undoes it",
                 {"type": "object", "additionalProperties": False, "required": ["node", "knobs"],
                  "properties": {"node": node, "knobs": _KNOBS}},
                 on_main(set_knobs, "node", "knobs")),
        HostTool("nuke_run_node", "press a reelkit node's button (its first by default: Degrade, Infer, Align...); "
                 "the work runs in the background as the button runs it; its result is one Ctrl+Z",
                 {"type": "object", "additionalProperties": False, "required": ["node"],
                  "properties": {"node": node, "button": {"type": "string", "description": "the button's knob name"}}},
                 on_main(run_node, "node", "button")),
    ]


#: The roots the server started by :func:`start_server` serves.
SERVING: list[str] = []


def journal_root() -> str:
    """The folder whose journal the session's server writes (its first root), else ``$REELKIT_AGENT_ROOT``
    (may be empty): the journal panel's default folder."""
    return SERVING[0] if SERVING else os.environ.get("REELKIT_AGENT_ROOT", "")


def start_server(roots: Iterable[str | os.PathLike], port: int = 8765) -> threading.Thread:
    """Serve the file tools and the Nuke actions at ``http://127.0.0.1:PORT/mcp`` from a daemon thread of this
    Nuke session; returns the thread."""
    from core.agent.server import serve_http

    roots = [os.fspath(r) for r in roots]
    SERVING[:] = roots
    thread = threading.Thread(target=serve_http, args=(roots, port), kwargs={"host_tools": host_tools()},
                              name="reelkit-mcp", daemon=True)
    thread.start()
    return thread
