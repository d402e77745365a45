"""Nuke knobs derived from a core parameter spec, and knob values read back.

One rule maps a :class:`core.params.Param` to a knob, used both by the gizmo
generator (:mod:`nuke_plugin.build_gizmos`, which writes the knobs as TCL)
and by :func:`make_knob` (which makes live knobs through Nuke's API):

=====================  =====================================================
parameter              knob
=====================  =====================================================
``bool``               ``Boolean_Knob``
``int``                ``Int_Knob`` (range stated in the tooltip; Nuke shows no slider)
``float``              ``Double_Knob``, slider range = the parameter's range when both ends are set
``str`` with choices   ``Enumeration_Knob`` with the choices, in order
``str``                ``String_Knob`` (or ``File_Knob`` where the node asks for one)
=====================  =====================================================

Labels are :attr:`Param.title`; tooltips are the help line plus range and
default. Values read back go through :meth:`ParamSet.resolve`, so a knob
holding a bad value fails with the same one-line message as the CLI.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from core.errors import ParameterError
from core.params import Param, ParamSet

KNOB_CLASSES = {bool: "Boolean_Knob", int: "Int_Knob", float: "Double_Knob", str: "String_Knob"}
CHOICE_KNOB = "Enumeration_Knob"
# Knob classes a node may ask for instead of the derived one, per derived class.
ALTERNATIVES = {"String_Knob": ("File_Knob",)}


@dataclasses.dataclass(frozen=True)
class KnobSpec:
    """Everything needed to make one knob, in plain data."""

    knob_class: str
    name: str
    label: str
    tooltip: str
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None

    @property
    def slider_range(self) -> tuple[float, float] | None:
        """The ``Double_Knob`` slider range, when the parameter bounds both ends."""
        if self.knob_class == "Double_Knob" and self.minimum is not None and self.maximum is not None:
            return (float(self.minimum), float(self.maximum))
        return None


def knob_class(param: Param, override: str | None = None) -> str:
    """The Nuke knob class for ``param`` (``override`` must be an allowed alternative)."""
    derived = CHOICE_KNOB if param.choices else KNOB_CLASSES[param.kind]
    if override is None or override == derived:
        return derived
    if override not in ALTERNATIVES.get(derived, ()):
        raise TypeError(f"parameter {param.name!r} ({derived}) cannot be shown as a {override}")
    return override


def tooltip(param: Param) -> str:
    """Help line, then range and default: ``"Palette size. Range 2 to 256. Default 8."``."""
    text = param.help[:1].upper() + param.help[1:]
    bits = [text if text.endswith(".") else text + "."]
    low, high = param.minimum, param.maximum
    if low is not None and high is not None:
        bits.append(f"Range {_num(low)} to {_num(high)}.")
    elif low is not None:
        bits.append(f"At least {_num(low)}.")
    elif high is not None:
        bits.append(f"At most {_num(high)}.")
    if param.default not in (None, ""):
        default = {True: "on", False: "off"}.get(param.default, param.default) if param.kind is bool else param.default
        bits.append(f"Default {default}.")
    return " ".join(bits)


def knob_spec(param: Param, override: str | None = None) -> KnobSpec:
    return KnobSpec(
        knob_class=knob_class(param, override),
        name=param.name,
        label=param.title,
        tooltip=tooltip(param),
        default=param.default,
        minimum=param.minimum,
        maximum=param.maximum,
        choices=tuple(param.choices) if param.choices else None,
    )


def knob_specs(params: ParamSet, overrides: Mapping[str, str] | None = None) -> list[KnobSpec]:
    """One :class:`KnobSpec` per parameter, in spec order."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(params.params))
    if unknown:
        raise TypeError(f"{params.name}: knob class given for unknown parameter(s) {', '.join(unknown)}")
    return [knob_spec(p, overrides.get(p.name)) for p in params]


def make_knob(spec: KnobSpec):
    """A live Nuke knob for ``spec`` (needs Nuke)."""
    import nuke

    cls = getattr(nuke, spec.knob_class)
    if spec.knob_class == CHOICE_KNOB:
        knob = cls(spec.name, spec.label, list(spec.choices or ()))
    else:
        knob = cls(spec.name, spec.label)
    knob.setTooltip(spec.tooltip)
    if spec.slider_range is not None:
        knob.setRange(*spec.slider_range)
    if spec.default is not None:
        knob.setValue(spec.default)
    return knob


def add_knobs(node, params: ParamSet, overrides: Mapping[str, str] | None = None) -> list:
    """Add a knob per parameter to ``node`` (e.g. a panel or a NoOp); returns the knobs."""
    knobs = [make_knob(spec) for spec in knob_specs(params, overrides)]
    for knob in knobs:
        node.addKnob(knob)
    return knobs


def read_values(node, params: ParamSet) -> dict[str, Any]:
    """The values of ``node``'s knobs for ``params``, validated by :meth:`ParamSet.resolve`.

    Raises :class:`~core.errors.ParameterError` naming the node when a knob
    is missing (a node made by an older reelkit) or holds a bad value.
    """
    values = {}
    for p in params:
        knob = node.knob(p.name)
        if knob is None:
            raise ParameterError(
                f"{node.name()}: no knob {p.name!r}; the node was made by another reelkit version, create it again"
            )
        values[p.name] = knob.value()
    try:
        return params.resolve(values)
    except ParameterError as exc:
        raise ParameterError(f"{node.name()}: {exc}") from None


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))
