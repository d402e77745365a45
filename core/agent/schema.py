"""JSON Schema from :mod:`core.params` specs, and the strict check of JSON arguments against them.

A tool's input schema is derived from the same :class:`~core.params.Param`
objects that make the CLI options and the Nuke knobs: name, JSON type,
default, ``minimum`` / ``maximum``, ``enum`` (choices), ``title`` (label)
and ``description`` (help). Arguments from an assistant are JSON, so the
check is strict about types (``"16"`` is not an integer here, unlike on a
command line) and then defers to :meth:`Param.coerce` for ranges and
choices. Every failure is a :class:`FieldError` naming the argument.

>>> from core.params import Param
>>> param_schema(Param("k", int, 8, "palette size", minimum=2, maximum=256))["type"]
'integer'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from core.errors import ParameterError
from core.params import Param

#: Param kind -> JSON Schema type.
JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string"}


class FieldError(ParameterError):
    """Bad input for one named argument: ``field`` names it, ``code`` says what kind of fault.

    Codes: ``unknown_argument``, ``missing``, ``wrong_type``, ``invalid`` (range, choice),
    ``outside_roots``, ``confirm_required``, ``token_mismatch``, ``unknown_tool``, ``not_found``.
    """

    def __init__(self, field: str, message: str, *, code: str = "invalid"):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.code = code
        self.detail = message

    def to_dict(self) -> dict[str, Any]:
        return {"type": type(self).__name__, "code": self.code, "field": self.field, "message": str(self)}


class ListParam(Param):
    """A parameter that takes one or more strings: a JSON array here, a repeated option on the CLI
    (``reelkit dataset run A.mov B.mov``, ``--candidate ml=... --candidate lut=...``). Its default is
    ``None`` (no item)."""


def param_schema(p: Param) -> dict[str, Any]:
    """The JSON Schema property of one parameter."""
    if isinstance(p, ListParam):
        return {"type": "array", "items": {"type": "string"}, "minItems": 1, "title": p.title,
                "description": p.help}
    out: dict[str, Any] = {"type": JSON_TYPES[p.kind], "title": p.title, "description": p.help}
    if p.default is not None:
        out["default"] = p.default
    if p.choices:
        out["enum"] = list(p.choices)
    if p.minimum is not None:
        out["minimum"] = p.minimum
    if p.maximum is not None:
        out["maximum"] = p.maximum
    return out


def object_schema(params: Iterable[Param], required: Iterable[str] = ()) -> dict[str, Any]:
    """An object schema over ``params`` (no other properties allowed)."""
    params = list(params)
    schema: dict[str, Any] = {"type": "object", "properties": {p.name: param_schema(p) for p in params},
                              "additionalProperties": False}
    required = [name for name in required]
    if required:
        schema["required"] = required
    return schema


def _json_type_ok(p: Param, value: Any) -> bool:
    if p.kind is bool:
        return isinstance(value, bool)
    if p.kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if p.kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, str)


def check_value(p: Param, value: Any) -> Any:
    """``value`` checked against ``p``: JSON type first, then range and choices (:meth:`Param.coerce`)."""
    if value is None and p.default is None:
        return None
    if isinstance(p, ListParam):
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise FieldError(p.name, f"expected a non-empty array of strings, got {value!r}", code="wrong_type")
        return list(value)
    if not _json_type_ok(p, value):
        raise FieldError(p.name, f"expected {JSON_TYPES[p.kind]}, got {type(value).__name__} {value!r}",
                         code="wrong_type")
    try:
        return p.coerce(value)
    except ParameterError as exc:
        message = str(exc).removeprefix(f"parameter {p.name!r}: ")
        raise FieldError(p.name, message, code="invalid") from None


def check_arguments(params: Mapping[str, Param], arguments: Mapping[str, Any] | None,
                    required: Iterable[str] = ()) -> dict[str, Any]:
    """Every argument checked (unknown ones refused), required ones present, defaults filled in."""
    arguments = dict(arguments or {})
    for name in sorted(arguments):
        if name not in params:
            raise FieldError(name, f"unknown argument; known: {', '.join(params)}", code="unknown_argument")
    for name in required:
        if arguments.get(name) is None:
            raise FieldError(name, "a value is required", code="missing")
    return {name: check_value(p, arguments[name]) if name in arguments else p.default
            for name, p in params.items()}
