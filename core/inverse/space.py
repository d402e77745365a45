"""The learnable part of a parameter spec: which params vary, over what range, and how they become vectors.

A :class:`ParamSpace` picks, from a :class:`~core.params.ParamSet`, the
parameters an inverse model learns, each of one kind:

- ``continuous``: a ``float`` or ``int`` param drawn in ``[low, high]``
  (a sub-range of the spec's range); the network sees it normalised to
  ``0..1`` (``(v - low) / (high - low)``); ``int`` values are rounded back;
- ``categorical``: a ``str`` param with ``choices`` (a subset of the spec's),
  one class per choice (one-hot, cross-entropy);
- ``boolean``: a ``bool`` param (one logit, binary cross-entropy).

Every other parameter keeps a fixed value (``fixed``, else the spec's
default). Params travel as flat keys (``color_r``); :func:`flatten` and
:func:`unflatten` turn nested mappings (``{"color": {"r": ...}}``) into
``"color.r"`` keys and back. :meth:`ParamSpace.to_dict` /
:meth:`ParamSpace.from_dict` store a space in data and model manifests.

>>> from core.params import Param, ParamSet
>>> spec = ParamSet("demo", [Param("shape", str, "a", "", choices=("a", "b", "c")),
...                          Param("size", float, 1.0, "", minimum=0.0, maximum=10.0),
...                          Param("count", int, 3, "", minimum=1, maximum=9),
...                          Param("on", bool, False, "")])
>>> space = ParamSpace.from_spec(spec, {"shape": ("a", "b"), "size": (0.0, 4.0), "count": None, "on": None})
>>> enc = space.encode({"shape": "b", "size": 1.0, "count": 5, "on": True})
>>> enc.continuous.tolist(), enc.categorical.tolist(), enc.boolean.tolist()
([0.25, 0.5], [1], [1.0])
>>> space.decode([0.25, 0.49], [[0.1, 2.0]], [3.0])
{'size': 1.0, 'count': 5, 'shape': 'b', 'on': True}
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from core.errors import FormatError, ParameterError
from core.formats import FORMATS
from core.params import ParamSet

#: Format of a stored space (:meth:`ParamSpace.to_dict`), ``reelkit.inverse.space/1`` (:mod:`core.formats`).
SPACE_FORMAT = FORMATS["reelkit.inverse.space"]
KINDS = ("continuous", "categorical", "boolean")


@dataclasses.dataclass(frozen=True)
class Dim:
    """One learned parameter: ``name``, ``kind`` (:data:`KINDS`), ``low``/``high`` and ``integer`` for
    continuous params, ``choices`` for categorical ones."""

    name: str
    kind: str
    low: float = 0.0
    high: float = 1.0
    integer: bool = False
    choices: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.kind == "continuous":
            out.update(low=self.low, high=self.high, integer=self.integer)
        elif self.kind == "categorical":
            out["choices"] = list(self.choices)
        return out


class Encoded(NamedTuple):
    """A params dict as network targets: ``continuous`` ``float32`` (C,) in 0..1, ``categorical`` ``int64``
    (K,) class indices, ``boolean`` ``float32`` (B,) 0/1."""

    continuous: np.ndarray
    categorical: np.ndarray
    boolean: np.ndarray


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings -> flat ``"a.b"`` keys (flat mappings pass unchanged).

    >>> flatten({"color": {"r": 1, "g": 2}, "n": 3})
    {'color.r': 1, 'color.g': 2, 'n': 3}
    """
    out: dict[str, Any] = {}
    for k, v in params.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def unflatten(params: Mapping[str, Any]) -> dict[str, Any]:
    """Flat ``"a.b"`` keys -> nested mappings (the inverse of :func:`flatten`).

    >>> unflatten({"color.r": 1, "color.g": 2, "n": 3})
    {'color': {'r': 1, 'g': 2}, 'n': 3}
    """
    out: dict[str, Any] = {}
    for key, v in params.items():
        *path, last = key.split(".")
        node = out
        for part in path:
            node = node.setdefault(part, {})
        node[last] = v
    return out


def parse_vary(items: Sequence[str]) -> dict[str, Any]:
    """``--vary`` texts -> a ``vary`` mapping of :meth:`ParamSpace.from_spec`: ``NAME`` (its default
    range), ``NAME=LOW:HIGH`` (a number range) or ``NAME=A,B,C`` (choices); a malformed one is one
    :class:`ParameterError` line.

    >>> parse_vary(["shape=circle,box", "radius=0.1:0.3", "filled"])
    {'shape': ('circle', 'box'), 'radius': (0.1, 0.3), 'filled': None}
    """
    out: dict[str, Any] = {}
    for text in items:
        name, eq, rest = str(text).partition("=")
        name = name.strip()
        if not name or (eq and not rest.strip()):
            raise ParameterError(f"--vary {text!r}: expected NAME, NAME=LOW:HIGH or NAME=A,B,C")
        if not eq:
            out[name] = None
        elif ":" in rest:
            low, _, high = rest.partition(":")
            try:
                out[name] = (float(low), float(high))
            except ValueError:
                raise ParameterError(f"--vary {text!r}: LOW:HIGH must be two numbers") from None
        else:
            out[name] = tuple(c.strip() for c in rest.split(","))
    return out


@dataclasses.dataclass(frozen=True)
class ParamSpace:
    """The learned dims of a spec (continuous, then categorical, then boolean, each in spec order) and the
    fixed values of the others (``fixed``: every other spec param, resolved)."""

    spec_name: str
    dims: tuple[Dim, ...]
    fixed: Mapping[str, Any]

    # -- building -------------------------------------------------------------------------------------
    @classmethod
    def from_spec(cls, spec: ParamSet, vary: Mapping[str, Any], fixed: Mapping[str, Any] | None = None,
                  ) -> ParamSpace:
        """The space of ``spec`` learning the params named in ``vary``.

        ``vary[name]``: ``(low, high)`` for a number (within the spec's range),
        a tuple of choices for a ``str``, or ``None`` (a number needs a range
        in the spec then; all choices; both booleans). ``fixed`` gives values
        to params not learned (others keep their defaults). Unknown names,
        ranges outside the spec and empty choices raise one
        :class:`~core.errors.ParameterError` line.
        """
        fixed = dict(fixed or {})
        unknown = sorted(k for k in (*vary, *fixed) if k not in spec)
        if unknown:
            raise ParameterError(f"{spec.name}: unknown parameter(s) {', '.join(unknown)}; "
                                 f"known: {', '.join(p.name for p in spec)}")
        both = sorted(set(vary) & set(fixed))
        if both:
            raise ParameterError(f"{spec.name}: {', '.join(both)} both learned and fixed")
        dims: dict[str, list[Dim]] = {k: [] for k in KINDS}
        for p in spec:
            if p.name not in vary:
                continue
            span = vary[p.name]
            if p.kind is bool:
                dims["boolean"].append(Dim(p.name, "boolean"))
            elif p.kind is str:
                if not p.choices:
                    raise ParameterError(f"parameter {p.name!r}: a free string cannot be learned (no choices)")
                choices = tuple(p.coerce(c) for c in span) if span is not None else p.choices
                if len(choices) < 2 or len(set(choices)) != len(choices):
                    raise ParameterError(f"parameter {p.name!r}: give at least two distinct choices, got {choices}")
                dims["categorical"].append(Dim(p.name, "categorical", choices=choices))
            else:
                if span is None:
                    span = (p.minimum, p.maximum)
                if (not isinstance(span, Sequence) or len(span) != 2 or any(v is None for v in span)):
                    raise ParameterError(f"parameter {p.name!r}: give its range as (low, high)")
                low, high = float(p.coerce(span[0])), float(p.coerce(span[1]))
                if not low < high:
                    raise ParameterError(f"parameter {p.name!r}: range ({low}, {high}) is empty")
                dims["continuous"].append(Dim(p.name, "continuous", low, high, integer=p.kind is int))
        values = spec.resolve(fixed)
        learned = set(vary)
        return cls(spec.name, tuple(d for k in KINDS for d in dims[k]),
                   {k: v for k, v in values.items() if k not in learned})

    # -- views ----------------------------------------------------------------------------------------
    def of_kind(self, kind: str) -> tuple[Dim, ...]:
        return tuple(d for d in self.dims if d.kind == kind)

    @property
    def continuous(self) -> tuple[Dim, ...]:
        return self.of_kind("continuous")

    @property
    def categorical(self) -> tuple[Dim, ...]:
        return self.of_kind("categorical")

    @property
    def boolean(self) -> tuple[Dim, ...]:
        return self.of_kind("boolean")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.dims)

    @property
    def output_size(self) -> int:
        """Network outputs: mean and log-spread per continuous dim, logits per choice, one per boolean."""
        return 2 * len(self.continuous) + sum(len(d.choices) for d in self.categorical) + len(self.boolean)

    def output_layout(self) -> dict[str, Any]:
        """Where each head's values lie in the network's flat output (``[start, stop)`` columns)."""
        c = len(self.continuous)
        at = 2 * c
        cats = {}
        for d in self.categorical:
            cats[d.name] = [at, at + len(d.choices)]
            at += len(d.choices)
        return {"mean": [0, c], "log_sigma": [c, 2 * c], "categorical": cats,
                "boolean": [at, at + len(self.boolean)]}

    # -- encoding -------------------------------------------------------------------------------------
    def encode(self, params: Mapping[str, Any]) -> Encoded:
        """Targets of ``params`` (flat keys; must hold every learned param)."""
        missing = [d.name for d in self.dims if d.name not in params]
        if missing:
            raise ParameterError(f"params lack the learned parameter(s) {', '.join(missing)}")
        cont = [(float(params[d.name]) - d.low) / (d.high - d.low) for d in self.continuous]
        cats = []
        for d in self.categorical:
            if params[d.name] not in d.choices:
                raise ParameterError(f"parameter {d.name!r}: {params[d.name]!r} is not one of {', '.join(d.choices)}")
            cats.append(d.choices.index(params[d.name]))
        bools = [1.0 if params[d.name] else 0.0 for d in self.boolean]
        return Encoded(np.asarray(cont, np.float32), np.asarray(cats, np.int64), np.asarray(bools, np.float32))

    def continuous_values(self, unit: Sequence[float] | np.ndarray) -> dict[str, Any]:
        """Normalised continuous values (0..1, clipped) -> ``{name: value}`` (ints rounded)."""
        out: dict[str, Any] = {}
        for d, u in zip(self.continuous, np.asarray(unit, np.float64).reshape(-1)):
            v = d.low + (d.high - d.low) * min(max(float(u), 0.0), 1.0)
            out[d.name] = int(round(v)) if d.integer else round(v, 6)
        return out

    def decode(self, mean: Sequence[float] | np.ndarray, logits: Sequence[Sequence[float]] = (),
               bool_logits: Sequence[float] | np.ndarray = (), *, fixed: bool = False) -> dict[str, Any]:
        """Head outputs -> a params dict of the learned params (``fixed``: with the fixed ones too, the
        generator's full dict): continuous means clipped to their range (ints rounded), the argmax
        choice of each categorical, booleans where the logit is positive."""
        out = dict(self.fixed) if fixed else {}
        learned = self.continuous_values(mean)
        for d, row in zip(self.categorical, logits):
            learned[d.name] = d.choices[int(np.argmax(np.asarray(row)))]
        for d, z in zip(self.boolean, np.asarray(bool_logits, np.float64).reshape(-1)):
            learned[d.name] = bool(z > 0)
        return {**out, **{n: learned[n] for n in self.names}}

    def decode_output(self, row: np.ndarray, *, fixed: bool = False) -> tuple[dict[str, Any], np.ndarray]:
        """One row of the network's flat output -> (params, spread of each continuous value, normalised)."""
        lay = self.output_layout()
        row = np.asarray(row, np.float64)
        mean = row[slice(*lay["mean"])]
        sigma = np.exp(row[slice(*lay["log_sigma"])])
        logits = [row[slice(*lay["categorical"][d.name])] for d in self.categorical]
        params = self.decode(mean, logits, row[slice(*lay["boolean"])], fixed=fixed)
        return params, sigma

    # -- storage --------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"format": SPACE_FORMAT.tag, "spec": self.spec_name, "dims": [d.to_dict() for d in self.dims],
                "fixed": dict(self.fixed)}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> ParamSpace:
        """A space stored by :meth:`to_dict`; another format raises one :class:`ParameterError` line."""
        if not isinstance(doc, Mapping):
            raise ParameterError(f"not a stored parameter space ({SPACE_FORMAT}: a {type(doc).__name__})")
        try:
            doc = SPACE_FORMAT.read(doc, where="stored space")
        except FormatError as exc:
            raise ParameterError(f"not a stored parameter space: {exc}") from None
        dims = []
        for d in doc["dims"]:
            if d.get("kind") not in KINDS:
                raise ParameterError(f"stored space: unknown kind {d.get('kind')!r} of {d.get('name')!r}")
            dims.append(Dim(d["name"], d["kind"], float(d.get("low", 0.0)), float(d.get("high", 1.0)),
                            bool(d.get("integer", False)), tuple(d.get("choices", ()))))
        return cls(str(doc["spec"]), tuple(dims), dict(doc.get("fixed", {})))
