"""A small parser for the TCL subset Nuke writes in .gizmo/.nk files (tests only).

It knows: commands split by newlines and ``;``, ``#`` comments, brace-quoted
words (literal, nested, ``\\{`` does not count), double-quoted words (with
backslash escapes), bare words with ``[...]`` and ``$var``; Nuke's node
commands (``Read { knob value ... }``), ``addUserKnob {...}``, ``add_layer
{layer layer.chan ...}`` (before the first node), and the node stack (``set N [stack 0]``, ``push $N``, ``push 0``, ``end_group``), where a
node with ``inputs n`` pops ``n`` nodes and the top of the stack becomes its
input 0.

It is strict on purpose: an unbalanced brace or quote, an unescaped ``[``
or ``$`` inside a quoted knob value (TCL would run or substitute it when the
file loads), an unknown ``addUserKnob`` keyword or a malformed node raises
:class:`TclError` with the line number.
"""

from __future__ import annotations

import dataclasses


class TclError(ValueError):
    pass


class Word(str):
    """A TCL word; ``form`` is ``"bare"``, ``"quoted"`` or ``"braced"``."""

    form: str
    line: int

    def __new__(cls, text: str, form: str, line: int):
        self = super().__new__(cls, text)
        self.form = form
        self.line = line
        return self

    @property
    def expression(self) -> str | None:
        """The expression of a ``{{expr}}`` knob value, else ``None``."""
        if self.form == "braced" and self.startswith("{") and self.endswith("}"):
            return self[1:-1]
        return None


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}
_WORD_END = " \t\n;"


def _line(text: str, i: int, base: int) -> int:
    return base + text.count("\n", 0, i)


def _match_brace(text: str, i: int, base: int) -> int:
    depth = 0
    j = i
    while j < len(text):
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return j
        j += 1
    raise TclError(f"line {_line(text, i, base)}: unbalanced '{{' (no matching '}}')")


def _quoted(text: str, i: int, base: int) -> tuple[str, int]:
    out = []
    j = i + 1
    while j < len(text):
        c = text[j]
        if c == "\\":
            nxt = text[j + 1:j + 2]
            if not nxt:
                break
            out.append(_ESCAPES.get(nxt, nxt))
            j += 2
            continue
        if c == '"':
            return "".join(out), j + 1
        if c in "[$":
            raise TclError(f"line {_line(text, j, base)}: unescaped {c!r} in a quoted word "
                           f"(TCL would substitute it when the file loads; write \\{c})")
        out.append(c)
        j += 1
    raise TclError(f"line {_line(text, i, base)}: unbalanced '\"'")


def _bare(text: str, i: int, base: int) -> tuple[str, int]:
    out = []
    depth = 0
    j = i
    while j < len(text):
        c = text[j]
        if c == "\\":
            out.append(text[j:j + 2])
            j += 2
            continue
        if c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
        elif c in _WORD_END and depth == 0:
            break
        elif c in "{}\"" and depth == 0:
            raise TclError(f"line {_line(text, j, base)}: {c!r} inside a bare word")
        out.append(c)
        j += 1
    if depth:
        raise TclError(f"line {_line(text, i, base)}: unbalanced '['")
    return "".join(out), j


def parse(text: str, *, base_line: int = 1) -> list[list[Word]]:
    """Split TCL ``text`` into commands, each a list of :class:`Word`."""
    commands: list[list[Word]] = []
    words: list[Word] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c in " \t\r":
            i += 1
        elif c == "\\" and text[i + 1:i + 2] == "\n":
            i += 2
        elif c in "\n;":
            if words:
                commands.append(words)
                words = []
            i += 1
        elif c == "#" and not words:
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
        elif c == "}":
            raise TclError(f"line {_line(text, i, base_line)}: unbalanced '}}'")
        else:
            line = _line(text, i, base_line)
            if c == "{":
                j = _match_brace(text, i, base_line)
                word, i = Word(text[i + 1:j], "braced", line), j + 1
            elif c == '"':
                value, i = _quoted(text, i, base_line)
                word = Word(value, "quoted", line)
            else:
                value, i = _bare(text, i, base_line)
                word = Word(value, "bare", line)
            if i < len(text) and text[i] not in _WORD_END:
                raise TclError(f"line {_line(text, i, base_line)}: extra characters after a {word.form} word")
            words.append(word)
    if words:
        commands.append(words)
    return commands


@dataclasses.dataclass
class UserKnob:
    """One ``addUserKnob {<type id> <name> l <label> t <tooltip> M {...} R a b T <text> +FLAGS}``."""

    type_id: int
    name: str
    label: str | None = None
    tooltip: str | None = None
    menu: list[str] | None = None
    range: tuple[float, float] | None = None
    text: str | None = None
    flags: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class NodeDef:
    cls: str
    name: str | None
    knobs: dict[str, Word]
    user_knobs: list[UserKnob]
    inputs: list[str | None] = dataclasses.field(default_factory=list)
    line: int = 0


@dataclasses.dataclass
class GizmoFile:
    version: str | None
    top: NodeDef
    children: list[NodeDef]
    layers: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    def child(self, name: str) -> NodeDef:
        for node in self.children:
            if node.name == name:
                return node
        raise KeyError(f"no node {name!r} inside; have {[n.name for n in self.children]}")


def parse_user_knob(word: Word) -> UserKnob:
    cmds = parse(word, base_line=word.line)
    if len(cmds) != 1 or len(cmds[0]) < 2:
        raise TclError(f"line {word.line}: addUserKnob needs a type id and a name")
    words = cmds[0]
    try:
        knob = UserKnob(int(words[0]), str(words[1]))
    except ValueError:
        raise TclError(f"line {word.line}: addUserKnob type id {words[0]!r} is not a number") from None
    k = 2
    while k < len(words):
        key = words[k]
        if key[:1] in "+-" and len(key) > 1:
            knob.flags.append(str(key))
            k += 1
            continue
        need = 3 if key == "R" else 2
        if k + need > len(words):
            raise TclError(f"line {word.line}: addUserKnob {knob.name}: {key!r} lacks its value")
        value = words[k + 1]
        if key == "l":
            knob.label = str(value)
        elif key == "t":
            knob.tooltip = str(value)
        elif key == "T":
            knob.text = str(value)
        elif key == "M":
            items = parse(value, base_line=value.line)
            knob.menu = [str(w) for w in items[0]] if items else []
        elif key == "R":
            knob.range = (float(words[k + 1]), float(words[k + 2]))
        else:
            raise TclError(f"line {word.line}: addUserKnob {knob.name}: unknown keyword {key!r}")
        k += need
    return knob


def parse_node(cls: str, body: Word) -> NodeDef:
    knobs: dict[str, Word] = {}
    user: list[UserKnob] = []
    for cmd in parse(body, base_line=body.line):
        if cmd[0] == "addUserKnob":
            if len(cmd) != 2 or cmd[1].form != "braced":
                raise TclError(f"line {cmd[0].line}: addUserKnob takes one braced list")
            user.append(parse_user_knob(cmd[1]))
            continue
        if len(cmd) != 2:
            raise TclError(f"line {cmd[0].line}: {cls}: expected 'knob value', got {len(cmd)} words: {list(cmd)}")
        if cmd[0] in knobs:
            raise TclError(f"line {cmd[0].line}: {cls}: knob {cmd[0]!r} set twice")
        knobs[str(cmd[0])] = cmd[1]
    name = knobs.get("name")
    return NodeDef(cls, str(name) if name is not None else None, knobs, user, line=body.line)


def parse_gizmo(text: str) -> GizmoFile:
    """Parse a .gizmo file: the ``Gizmo``/``Group`` node, then its children wired through the stack."""
    version = None
    top: NodeDef | None = None
    children: list[NodeDef] = []
    stack: list[NodeDef | None] = []
    variables: dict[str, NodeDef | None] = {}
    layers: dict[str, list[str]] = {}
    ended = False
    for cmd in parse(text):
        head = cmd[0]
        if ended:
            raise TclError(f"line {head.line}: {head!r} after end_group")
        if head == "version":
            version = " ".join(cmd[1:])
        elif head == "add_layer":
            if len(cmd) != 2 or cmd[1].form != "braced":
                raise TclError(f"line {head.line}: add_layer takes one braced list")
            if top is not None:
                raise TclError(f"line {head.line}: add_layer after the first node")
            words = [str(w) for w in parse(cmd[1], base_line=cmd[1].line)[0]]
            layer, channels = words[0], words[1:]
            if not channels or any(c.partition(".")[0] != layer or not c.partition(".")[2] for c in channels):
                raise TclError(f"line {head.line}: add_layer {layer}: channels must be named {layer}.<name>")
            if layer in layers:
                raise TclError(f"line {head.line}: add_layer {layer} twice")
            layers[layer] = channels
        elif head == "set":
            if len(cmd) != 3 or cmd[2] != "[stack 0]":
                raise TclError(f"line {head.line}: expected 'set NAME [stack 0]'")
            if not stack:
                raise TclError(f"line {head.line}: 'set' on an empty stack")
            variables[str(cmd[1])] = stack[-1]
        elif head == "push":
            if len(cmd) != 2:
                raise TclError(f"line {head.line}: expected 'push $NAME' or 'push 0'")
            if cmd[1] == "0":
                stack.append(None)
            elif cmd[1].startswith("$") and cmd[1][1:] in variables:
                stack.append(variables[cmd[1][1:]])
            else:
                raise TclError(f"line {head.line}: push of unknown {cmd[1]!r}")
        elif head == "end_group":
            ended = True
        elif head[:1].isupper() and len(cmd) == 2 and cmd[1].form == "braced":
            node = parse_node(str(head), cmd[1])
            if top is None:
                if head not in ("Gizmo", "Group"):
                    raise TclError(f"line {head.line}: the first node must be a Gizmo or Group, got {head}")
                top = node
                continue
            if node.name is None:
                raise TclError(f"line {head.line}: {head} node without a name")
            if any(n.name == node.name for n in children):
                raise TclError(f"line {head.line}: two nodes named {node.name}")
            n_inputs = int(node.knobs.get("inputs", 1))
            if n_inputs > len(stack):
                raise TclError(f"line {head.line}: {node.name} takes {n_inputs} inputs, the stack holds {len(stack)}")
            popped = [stack.pop() for _ in range(n_inputs)]
            node.inputs = [p.name if p is not None else None for p in popped]
            stack.append(node)
            children.append(node)
        else:
            raise TclError(f"line {head.line}: unknown command {head!r}")
    if top is None:
        raise TclError("no Gizmo or Group node")
    if not ended:
        raise TclError("missing end_group")
    return GizmoFile(version, top, children, layers)
