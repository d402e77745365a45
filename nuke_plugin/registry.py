"""The one table of reelkit nodes.

Each :class:`NodeSpec` names a node (its gizmo file and Nuke class), its menu
label and tooltip, the core parameter spec its knobs mirror, and its
buttons. ``menu.py`` builds the menu and toolbar from :data:`NODES`;
:mod:`nuke_plugin.build_gizmos` writes ``gizmos/<name>.gizmo`` from it.

Core specs are named by import path (``"core.convert:CONVERT_PARAMS"``) and
imported only when asked for, so building the menu imports nothing heavy.

Two optional parts shape a node beyond "one knob per parameter":

:class:`LayerView`
    The result EXR holds extra layers and a choice knob picks which one the
    node shows, through nodes inside the gizmo (no re-run).
:class:`PresetGroups`
    Parameters a preset sets, on one tab per group, each tab with an
    "Override preset" box: a group's knobs reach core only while its box is
    on (see :mod:`nuke_plugin.nodes.reel_degrade`).
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping
from typing import Any

from core.params import Param, ParamSet
from nuke_plugin.specs import JOB_KNOB_CLASSES, JOB_PARAMS


@dataclasses.dataclass(frozen=True)
class Button:
    """A PyScript button; ``command`` is a dotted path to ``callable(node)``."""

    name: str
    label: str
    command: str
    tooltip: str

    @property
    def script(self) -> str:
        """The Python the knob runs in Nuke (imports its module, then calls it on ``nuke.thisNode()``)."""
        module = self.command.rpartition(".")[0]
        return f"import {module}\n{self.command}(nuke.thisNode())"


def _import(path: str) -> Any:
    """The object at ``"module:ATTRIBUTE"``."""
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclasses.dataclass(frozen=True)
class LayerView:
    """A choice knob (``knob``, a parameter of the node's core spec) that picks what the node shows.

    ``channels`` maps each choice to the one-channel EXR channel of the
    result shown as grey RGB (as Nuke names it: ``palette_index.Y``), or
    ``None`` for the result's own RGB. The generator wires a Copy per
    channel and a Switch driven by the knob inside the gizmo, so changing
    the knob re-runs nothing; the knob's value never reaches core.
    """

    knob: str
    channels: Mapping[str, str | None]

    @property
    def layers(self) -> list[str]:
        """The EXR layers the view reads (``palette_index`` of ``palette_index.Y``), in choice order."""
        return [c.rpartition(".")[0] for c in self.channels.values() if c is not None]


@dataclasses.dataclass(frozen=True)
class PresetGroups:
    """Parameters a preset sets, shown on one tab per group, each with an "Override preset" box.

    ``params``: ``"module:ATTRIBUTE"`` of their :class:`~core.params.ParamSet`;
    ``groups``: ``"module:callable"`` returning ``{group: [parameter names]}``
    (each parameter in exactly one group, groups in tab order); ``presets``:
    ``"module:ATTRIBUTE"`` of ``{preset name: {parameter: value}}``;
    ``preset_param``: the node parameter that names the preset.

    Knobs: a tab ``tab_<group>``, then the box ``override_<group>``, then the
    group's parameters; on the main tab a ``preset_summary`` line says which
    groups the preset and the overrides switch on.
    """

    params: str
    groups: str
    presets: str
    preset_param: str = "preset"

    SUMMARY = "preset_summary"

    def core_params(self) -> ParamSet:
        spec = _import(self.params)
        if not isinstance(spec, ParamSet):
            raise TypeError(f"{self.params} is not a ParamSet")
        return spec

    def group_names(self) -> dict[str, list[str]]:
        """``{group: [parameter names]}``, checked: every parameter of :meth:`core_params` in exactly one group."""
        groups = {str(g): list(names) for g, names in _import(self.groups)().items()}
        spec = self.core_params()
        seen = [n for names in groups.values() for n in names]
        unknown = sorted(set(seen) - set(spec.params))
        twice = sorted({n for n in seen if seen.count(n) > 1})
        missing = [n for n in spec.params if n not in seen]
        if unknown or twice or missing:
            raise TypeError(f"{self.groups}: groups must hold every parameter of {self.params} once "
                            f"(unknown {unknown}, twice {twice}, missing {missing})")
        return groups

    def presets_table(self) -> Mapping[str, Mapping[str, Any]]:
        return _import(self.presets)

    @staticmethod
    def tab_knob(group: str) -> str:
        return f"tab_{group}"

    @staticmethod
    def override_knob(group: str) -> str:
        return f"override_{group}"

    @staticmethod
    def tab_label(group: str) -> str:
        return group.replace("_", " ").capitalize()

    def knob_names(self) -> list[str]:
        """Every knob this part adds (tabs, boxes, the summary, the parameters)."""
        names = [self.SUMMARY]
        for group, params in self.group_names().items():
            names += [self.tab_knob(group), self.override_knob(group), *params]
        return names


@dataclasses.dataclass(frozen=True)
class NodeSpec:
    """One reelkit node.

    ``params`` is the ``"module:ATTRIBUTE"`` path of the core
    :class:`~core.params.ParamSet` the knobs mirror; ``exclude`` names
    parameters of it that the node fixes at their default (with
    ``exclude_reason`` saying why). ``knob_classes`` overrides the knob
    class derived for a parameter (e.g. ``File_Knob`` for a path);
    ``help`` rewords a parameter's help where its meaning in Nuke differs
    from the CLI's (type, default, range and choices never change).
    ``view`` and ``preset_groups``: see :class:`LayerView`,
    :class:`PresetGroups`. ``knob_changed`` is a dotted path to
    ``callable(node, knob)``, the gizmo's ``knobChanged`` script.
    """

    name: str
    label: str
    tooltip: str
    params: str
    buttons: tuple[Button, ...]
    exclude: tuple[str, ...] = ()
    exclude_reason: str = ""
    knob_classes: Mapping[str, str] = dataclasses.field(default_factory=dict)
    help: Mapping[str, str] = dataclasses.field(default_factory=dict)
    view: LayerView | None = None
    preset_groups: PresetGroups | None = None
    knob_changed: str = ""
    color: int = 0x5A7D9AFF

    @property
    def gizmo_file(self) -> str:
        return f"{self.name}.gizmo"

    @property
    def knob_changed_script(self) -> str:
        """The gizmo's ``knobChanged`` Python (empty when the node has none)."""
        if not self.knob_changed:
            return ""
        module = self.knob_changed.rpartition(".")[0]
        return f"import {module}\n{self.knob_changed}(nuke.thisNode(), nuke.thisKnob())"

    def core_params(self) -> ParamSet:
        """The core spec this node mirrors (imported on first use)."""
        spec = _import(self.params)
        if not isinstance(spec, ParamSet):
            raise TypeError(f"{self.name}: {self.params} is not a ParamSet")
        unknown = [name for name in self.exclude if name not in spec]
        if unknown:
            raise TypeError(f"{self.name}: excludes unknown parameter(s) {', '.join(unknown)} of {self.params}")
        if self.view is not None:
            param = spec.params.get(self.view.knob)
            if param is None or self.view.knob in self.exclude:
                raise TypeError(f"{self.name}: view knob {self.view.knob!r} is not a shown parameter of {self.params}")
            if tuple(self.view.channels) != tuple(param.choices or ()):
                raise TypeError(f"{self.name}: view channels {list(self.view.channels)} do not match the choices "
                                f"{list(param.choices or ())} of {self.view.knob!r}")
        return spec

    def exposed(self) -> list[Param]:
        """Core parameters shown as knobs, in spec order."""
        spec = self.core_params()
        unknown = sorted(set(self.help) - set(spec.params))
        if unknown:
            raise TypeError(f"{self.name}: help given for unknown parameter(s) {', '.join(unknown)}")
        return [dataclasses.replace(p, help=self.help.get(p.name, p.help)) for p in spec if p.name not in self.exclude]

    def knob_params(self) -> ParamSet:
        """Every parameter shown as a knob: the exposed core ones, then the job's."""
        return ParamSet(self.name, [*self.exposed(), *JOB_PARAMS])

    def knob_class_overrides(self) -> dict[str, str]:
        return {**JOB_KNOB_CLASSES, **self.knob_classes}

    def group_params(self) -> ParamSet:
        """The parameters on the preset group tabs, in tab order (empty without :attr:`preset_groups`)."""
        if self.preset_groups is None:
            return ParamSet(f"{self.name}_groups", [])
        spec = self.preset_groups.core_params()
        order = [n for names in self.preset_groups.group_names().values() for n in names]
        return ParamSet(spec.name, [spec[n] for n in order])

    def knob_names(self) -> list[str]:
        """Every knob the gizmo adds besides the Result tab, for uniqueness checks."""
        names = [*self.knob_params().params, *(b.name for b in self.buttons)]
        if self.preset_groups is not None:
            names += self.preset_groups.knob_names()
        return names

    def split(self, values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Split knob values into (core values validated by the core spec, job values).

        The view knob (:class:`LayerView`) chooses what the node shows and is
        left out of the core values.
        """
        core = self.core_params()
        core_values = core.resolve({k: v for k, v in values.items() if k in core})
        if self.view is not None:
            core_values.pop(self.view.knob)
        job_values = JOB_PARAMS.resolve({k: v for k, v in values.items() if k in JOB_PARAMS})
        return core_values, job_values


NODES: tuple[NodeSpec, ...] = (
    NodeSpec(
        name="ReelColorConvert",
        label="Color Convert",
        tooltip="Convert the input between colour spaces (ACEScg, ACES2065-1, linear Rec.709, sRGB, XYZ, "
                "Lab, OKLab) with reelkit's core, frame by frame, into EXR files read back by the node.",
        params="core.convert:CONVERT_PARAMS",
        exclude=("bit_depth",),
        exclude_reason="the node always writes EXR, so the PNG/TIFF bit depth does not apply",
        help={"source": "colour space of the input pixels; 'auto': Nuke's working space"},
        buttons=(
            Button("convert", "Convert", "nuke_plugin.nodes.color_convert.run",
                   "Convert the frames now, in the background (cancel from the progress bar)."),
        ),
    ),
    NodeSpec(
        name="SpectrumEncode",
        label="Spectrum Encode",
        tooltip="Fit a palette of the input's dominant colours (K-means in OKLab or CIE Lab) and encode every "
                "pixel as its palette entry: an index map, a 0..1 gradient that keeps hues apart where luma "
                "merges them, a distance (confidence) map and the palette reconstruction, written as EXR layers "
                "and compact palette packs. 'Output' picks what the node shows without running again.",
        params="core.palette:ENCODE_PARAMS",
        view=LayerView("output", {"index": "palette_index.Y", "gradient": "palette_gradient.Y",
                                  "reconstruction": None, "distance": "palette_distance.Y"}),
        help={
            "output": "what the node shows (switching re-runs nothing): index = entry number 0..K-1, "
                      "gradient = 0..1 along the hue path, reconstruction = palette colours (ACEScg), "
                      "distance = ΔE of each pixel to its entry",
            "shared": "fit one palette over the whole sequence on disk (no flicker, and farm splits share it) "
                      "instead of one per frame",
        },
        buttons=(
            Button("encode", "Encode", "nuke_plugin.nodes.spectrum_encode.run",
                   "Fit and encode the frames now, in the background (cancel from the progress bar)."),
        ),
        color=0x8E5AA8FF,
    ),
    NodeSpec(
        name="ReelDegrade",
        label="Degrade",
        tooltip="Age clean footage like film, seeded and repeatable: gauge softness, grain, generation loss, "
                "dye fade, dust, scratches, flicker and gate weave. Pick a preset; to set an effect yourself, "
                "tick 'Override preset' on its tab (changing a knob there ticks it for you).",
        params="core.degrade:DEGRADE_OUTPUT_PARAMS",
        preset_groups=PresetGroups(params="core.degrade:DEGRADE_PARAMS",
                                   groups="nuke_plugin.nodes.reel_degrade:effect_groups",
                                   presets="core.degrade:PRESETS", preset_param="preset"),
        knob_changed="nuke_plugin.nodes.reel_degrade.knob_changed",
        help={"preset": "named look; the effect tabs show its values, and a tab with 'Override preset' on "
                        "uses its own"},
        buttons=(
            Button("degrade", "Degrade", "nuke_plugin.nodes.reel_degrade.run",
                   "Degrade the frames now, in the background (cancel from the progress bar)."),
        ),
        color=0x9A7B4FFF,
    ),
)


def get(name: str) -> NodeSpec:
    """The node called ``name``; ``KeyError`` names the known ones."""
    for spec in NODES:
        if spec.name == name:
            return spec
    raise KeyError(f"no reelkit node {name!r}; known: {', '.join(s.name for s in NODES)}")
