"""The one table of reelkit nodes.

Each :class:`NodeSpec` names a node (its gizmo file and Nuke class), its menu
label and tooltip, the core parameter spec its knobs mirror, and its
buttons. ``menu.py`` builds the menu and toolbar from :data:`NODES`;
:mod:`nuke_plugin.build_gizmos` writes ``gizmos/<name>.gizmo`` from it.

Core specs are named by import path (``"core.convert:CONVERT_PARAMS"``) and
imported only when asked for, so building the menu imports nothing heavy.
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
    color: int = 0x5A7D9AFF

    @property
    def gizmo_file(self) -> str:
        return f"{self.name}.gizmo"

    def core_params(self) -> ParamSet:
        """The core spec this node mirrors (imported on first use)."""
        module, _, attr = self.params.partition(":")
        spec = getattr(importlib.import_module(module), attr)
        if not isinstance(spec, ParamSet):
            raise TypeError(f"{self.name}: {self.params} is not a ParamSet")
        unknown = [name for name in self.exclude if name not in spec]
        if unknown:
            raise TypeError(f"{self.name}: excludes unknown parameter(s) {', '.join(unknown)} of {self.params}")
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

    def split(self, values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Split knob values into (core values validated by the core spec, job values)."""
        core = self.core_params()
        core_values = core.resolve({k: v for k, v in values.items() if k in core})
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
)


def get(name: str) -> NodeSpec:
    """The node called ``name``; ``KeyError`` names the known ones."""
    for spec in NODES:
        if spec.name == name:
            return spec
    raise KeyError(f"no reelkit node {name!r}; known: {', '.join(s.name for s in NODES)}")
