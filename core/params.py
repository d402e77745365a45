"""One parameter spec drives CLI options, config keys, Nuke knobs and Qt widgets.

A :class:`Param` states a name, a type, a default, an allowed range or set of
choices and a help line. A :class:`ParamSet` is an ordered collection of them
for one operation; it validates user values (from the CLI, a config file, a
Nuke knob or a widget) into a plain ``dict`` and hashes it for manifests.

>>> spec = ParamSet("demo", [Param("k", int, 8, "palette size", minimum=2, maximum=256)])
>>> spec.resolve({"k": "16"})
{'k': 16}
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from core.errors import ParameterError

_TYPES = (bool, int, float, str)

#: How an optional parameter with choices is left unset, on every surface (CLI, config file, Nuke
#: enumeration, widget, manifest); :meth:`Param.value` reads it back as ``None``.
NONE = "none"


@dataclasses.dataclass(frozen=True)
class Param:
    """One parameter of an operation.

    ``kind`` is one of ``bool``, ``int``, ``float``, ``str``. ``choices`` makes a
    ``str`` an enumeration: names, or a table (a mapping such as the degrade
    presets or the EXR compressions) whose keys are the names, so the choices
    are never a copy of the table; ``minimum``/``maximum`` bound numbers
    (inclusive). ``cli`` is the CLI flag (default ``--name-with-dashes``);
    ``positional`` turns it into a positional argument.

    ``optional``: the parameter may be left unset. With ``choices``, unset is
    the choice :data:`NONE` (listed first; the default when ``default`` is
    ``None``), so every surface can show and record it; :meth:`value` gives
    ``None`` for it, the one place the word is translated. Without choices,
    unset is ``None``, which must then be the default.

    >>> p = Param("preset", str, None, "a named look", choices={"faded": 1, "dusty": 2}, optional=True)
    >>> p.choices, p.default, p.value(p.coerce("dusty")), p.value(p.coerce(None))
    (('none', 'faded', 'dusty'), 'none', 'dusty', None)
    """

    name: str
    kind: type
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    label: str | None = None
    positional: bool = False
    cli: str | None = None
    optional: bool = False

    def __post_init__(self) -> None:
        if self.kind not in _TYPES:
            raise TypeError(f"Param {self.name}: unsupported kind {self.kind!r}")
        if self.choices is not None:  # names, or a table's keys
            object.__setattr__(self, "choices", tuple(str(c) for c in self.choices))
        if self.optional and self.choices is not None:
            if NONE in self.choices[1:]:
                raise TypeError(f"Param {self.name}: {NONE!r} is how an optional parameter is unset, not a choice")
            if self.choices[:1] != (NONE,):  # (a copy made by dataclasses.replace has it already)
                object.__setattr__(self, "choices", (NONE, *self.choices))
            if self.default is None:
                object.__setattr__(self, "default", NONE)
        elif self.optional and self.default is not None:
            raise TypeError(f"Param {self.name}: an optional parameter without choices has the default None")
        if self.default is not None:
            object.__setattr__(self, "default", self.coerce(self.default))

    @property
    def flag(self) -> str:
        return self.cli or "--" + self.name.replace("_", "-")

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    def coerce(self, value: Any) -> Any:
        """Convert ``value`` to this parameter's type and check its range/choices."""
        if value is None:
            if self.optional and self.choices is not None:
                return NONE
            if self.default is None:
                return None
            raise ParameterError(f"parameter {self.name!r}: a value is required")
        try:
            if self.kind is bool:
                if isinstance(value, str):
                    low = value.strip().lower()
                    if low in ("1", "true", "yes", "on"):
                        value = True
                    elif low in ("0", "false", "no", "off"):
                        value = False
                    else:
                        raise ValueError(value)
                elif not isinstance(value, (bool, int)) or value not in (0, 1):
                    raise ValueError(value)
                value = bool(value)
            elif self.kind is int:
                if isinstance(value, bool):
                    raise ValueError(value)
                as_float = float(value)
                if not as_float.is_integer():
                    raise ValueError(value)
                value = int(as_float)
            elif self.kind is float:
                if isinstance(value, bool):
                    raise ValueError(value)
                value = float(value)
                if value != value or value in (float("inf"), float("-inf")):
                    raise ValueError(value)
            else:
                if not isinstance(value, str):
                    raise ValueError(value)
        except (TypeError, ValueError):
            raise ParameterError(
                f"parameter {self.name!r}: expected {self.kind.__name__}, got {value!r}"
            ) from None
        if self.choices is not None:
            match = {c.lower(): c for c in self.choices}.get(str(value).lower())
            if match is None:
                raise ParameterError(
                    f"parameter {self.name!r}: {value!r} is not one of {', '.join(self.choices)}"
                )
            value = match
        if self.minimum is not None and value < self.minimum:
            raise ParameterError(f"parameter {self.name!r}: {value} is below the minimum {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise ParameterError(f"parameter {self.name!r}: {value} is above the maximum {self.maximum}")
        return value

    def value(self, value: Any) -> Any:
        """A resolved value as code uses it: ``None`` for an unset optional parameter (:data:`NONE`), else ``value``."""
        return None if self.optional and value in (None, NONE) else value

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly description (used by docs, gizmo generation and panels)."""
        return {
            "name": self.name,
            "type": self.kind.__name__,
            "default": self.default,
            "help": self.help,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "choices": list(self.choices) if self.choices else None,
            "label": self.title,
        }


class ParamSet:
    """An ordered, named collection of :class:`Param` for one operation."""

    def __init__(self, name: str, params: Iterable[Param]):
        self.name = name
        self.params: dict[str, Param] = {}
        for p in params:
            if p.name in self.params:
                raise TypeError(f"ParamSet {name}: duplicate parameter {p.name!r}")
            self.params[p.name] = p

    def __iter__(self):
        return iter(self.params.values())

    def __getitem__(self, name: str) -> Param:
        return self.params[name]

    def __contains__(self, name: object) -> bool:
        return name in self.params

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self}

    def resolve(self, values: Mapping[str, Any] | None = None, *, strict: bool = True) -> dict[str, Any]:
        """Validate ``values`` over the defaults; unknown keys raise unless ``strict=False``."""
        values = dict(values or {})
        unknown = sorted(k for k in values if k not in self.params)
        if unknown and strict:
            raise ParameterError(
                f"{self.name}: unknown parameter(s) {', '.join(unknown)}; "
                f"known: {', '.join(self.params)}"
            )
        out = {}
        for p in self:
            out[p.name] = p.coerce(values[p.name]) if p.name in values else p.default
        return out

    def add_arguments(self, parser, *, skip: Sequence[str] = ()) -> None:
        """Add one argparse option per parameter (values are validated by :meth:`resolve`)."""
        for p in self:
            if p.name in skip:
                continue
            kwargs: dict[str, Any] = {"help": _cli_help(p), "default": None}
            if p.choices:
                kwargs["metavar"] = "{" + ",".join(p.choices) + "}"
            if p.kind is bool:
                import argparse

                kwargs["action"] = argparse.BooleanOptionalAction
            if p.positional:
                kwargs.pop("default")
                parser.add_argument(p.name, **kwargs)
            else:
                parser.add_argument(p.flag, dest=p.name, **kwargs)

    def given(self, namespace) -> dict[str, Any]:
        """The values of this set an argparse namespace holds, unresolved; options left out (``None``) are absent.

        For callees that tell given values from defaults (a preset's values
        yield to given ones; manifests record what the user asked for).
        """
        return {p.name: v for p in self if (v := getattr(namespace, p.name, None)) is not None}

    def from_namespace(self, namespace) -> dict[str, Any]:
        """Resolve the values an argparse namespace holds for this set (``None`` = default)."""
        return self.resolve(self.given(namespace))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "params": [p.to_dict() for p in self]}


def config_hash(values: Mapping[str, Any]) -> str:
    """Stable sha256 of a JSON-serialisable mapping (sorted keys), for manifests."""
    blob = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _cli_help(p: Param) -> str:
    bits = [p.help.replace("%", "%%")]  # argparse %-formats help strings
    if p.minimum is not None or p.maximum is not None:
        bits.append(f"range {p.minimum if p.minimum is not None else '-inf'}..{p.maximum if p.maximum is not None else 'inf'}")
    bits.append(f"default {p.default!r}")
    return " (".join([bits[0], "; ".join(bits[1:]) + ")"]) if len(bits) > 1 else bits[0]
