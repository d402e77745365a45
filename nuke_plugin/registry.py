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
:class:`FileView`
    The result is several file sequences (one per choice of a knob of the
    node itself, not of core), each read by its own Read inside the gizmo,
    and the knob picks which the node shows (no re-run).
:class:`PresetGroups`
    Parameters a preset sets, on one tab per group, each tab with an
    "Override preset" box: a group's knobs reach core only while its box is
    on (see :mod:`nuke_plugin.nodes.reel_degrade`).

A node with several inputs names them (``inputs``): the names label its
input arrows in the node graph.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping
from typing import Any

from core.params import Param, ParamSet
from nuke_plugin import host
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
class FileView:
    """A choice knob of the node (``knob``; not a core parameter, never passed to core) picking which result files it shows.

    ``files`` maps each choice, in order, to the result knob (Result tab)
    that holds its file pattern; the first choice's is
    :data:`nuke_plugin.host.OUTPUT_FILE`, read by ``Read_output``, the others
    get a read-only knob each and a Read ``Read_<choice>``. Choices in
    ``grey`` are one-channel files (EXR channel ``Y``, which Nuke reads into
    red): a Copy ``Grey_<choice>`` spreads red into green and blue. A
    Switch driven by the knob picks one; changing it re-runs nothing.
    """

    knob: str
    label: str
    help: str
    files: Mapping[str, str]
    grey: tuple[str, ...] = ()

    def param(self) -> Param:
        return Param(self.knob, str, next(iter(self.files)), self.help, choices=self.files, label=self.label)

    def extra_files(self) -> dict[str, str]:
        """``{choice: result knob}`` of every choice but the first (those with their own Read)."""
        return dict(list(self.files.items())[1:])

    @staticmethod
    def read_node(choice: str) -> str:
        return f"Read_{choice}"

    @staticmethod
    def grey_node(choice: str) -> str:
        return f"Grey_{choice}"


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
    ``help`` rewords a parameter's help (of the core spec or of the job
    spec) where its meaning in this node differs from the CLI's (type,
    default, range and choices never change). ``view``, ``file_view`` and
    ``preset_groups``: see :class:`LayerView`, :class:`FileView`,
    :class:`PresetGroups`. ``knob_changed`` is a dotted path to
    ``callable(node, knob)``, the gizmo's ``knobChanged`` script.
    ``inputs`` names the node's inputs (arrow labels, input 0 first);
    empty: one unnamed input.
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
    file_view: FileView | None = None
    preset_groups: PresetGroups | None = None
    knob_changed: str = ""
    color: int = 0x5A7D9AFF
    inputs: tuple[str, ...] = ()

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
        if self.file_view is not None and (self.file_view.knob in spec or self.file_view.knob in JOB_PARAMS):
            raise TypeError(f"{self.name}: file view knob {self.file_view.knob!r} is a parameter of core or the job")
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
        unknown = sorted(set(self.help) - set(spec.params) - set(JOB_PARAMS.params))
        if unknown:
            raise TypeError(f"{self.name}: help given for unknown parameter(s) {', '.join(unknown)}")
        return [self._reworded(p) for p in spec if p.name not in self.exclude]

    def _reworded(self, p: Param) -> Param:
        return dataclasses.replace(p, help=self.help.get(p.name, p.help))

    def view_params(self) -> ParamSet:
        """The :class:`FileView` knob as a parameter (empty without one): shown first, never passed to core."""
        return ParamSet(f"{self.name}_view", [] if self.file_view is None else [self.file_view.param()])

    def knob_params(self) -> ParamSet:
        """Every parameter shown as a knob: the view knob (:class:`FileView`), the exposed core ones, the job's."""
        return ParamSet(self.name, [*self.view_params(), *self.exposed(), *(self._reworded(p) for p in JOB_PARAMS)])

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
        if self.file_view is not None:
            names += self.file_view.extra_files().values()
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
        help={"source": "colour space of the input pixels; 'auto': Nuke's working space",
              "target": "colour space to convert to; 'auto': the node writes EXR, so scene-linear: the input's own "
                        "space (sRGB-encoded input is decoded to lin_rec709)"},
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
                "dye fade, dust, scratches, flicker, gate weave, and the digital and tape defects of a video "
                "transfer on a few frames. Pick a preset; to set an effect yourself, "
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
            Button("match", "Match from input", "nuke_plugin.nodes.reel_degrade.match",
                   "Match the look of the input, a damaged scan (the first 8 frames of the range: one shot): "
                   "grain, dye fade, dust, scratches, flicker and softness from their statistics; fills the "
                   "knobs and writes matched.json, a preset file for reelkit degrade / train."),
        ),
        color=0x9A7B4FFF,
    ),
    NodeSpec(
        name="ReelAlign",
        label="Align",
        tooltip="Align another transfer of the same film (input 'reference': DVD, telecine, another print) "
                "onto the degraded scan (input 'source'), frame by frame: a global transform, then a smooth "
                "local field, resampled once onto the source's pixel grid. Reference frames pair with source "
                "frames of the same number (the resolution may differ). Writes the aligned reference, a "
                "validity mask, a residual map and before/after report images; 'Output' picks what the node "
                "shows without running again. A frame that fails to align is listed on the Result tab.",
        params="core.align:ALIGN_FILE_PARAMS",
        inputs=("source", "reference"),
        file_view=FileView(
            "output", "Output",
            "what the node shows (switching re-runs nothing): aligned = the reference on the source's pixel "
            "grid (ACEScg), mask = 1 where the alignment is trusted, residual = what is left after aligning "
            "(robust units); the report PNGs are in the report/ folder beside them",
            {"aligned": host.OUTPUT_FILE, "mask": "output_mask", "residual": "output_residual"},
            grey=("mask", "residual"),
        ),
        help={
            "frames": "source frames to align, e.g. 1001-1100, 1001-1100x2, 1,5,7-9; each pairs with the "
                      "reference frame of the same number, which the reference input must have; empty: the "
                      "source input's whole range",
            "input_mode": "auto: read the files of an upstream Read (per input) that passes them through "
                          "unchanged, otherwise render that input to temporary EXR files; render: always render "
                          "both inputs",
        },
        buttons=(
            Button("align", "Align", "nuke_plugin.nodes.reel_align.run",
                   "Align the reference to the source now, in the background (cancel from the progress bar)."),
        ),
        color=0x4F8A7BFF,
    ),
    NodeSpec(
        name="ReelValidate",
        label="Validate",
        tooltip="Judge a restoration (input 'ml') against the reference (input 'reference', aligned to the "
                "degraded 'source'): fits the classic baselines it must beat (3x3 matrix, root-polynomial and "
                "3D LUT grades, exported as .cube; dust busting, denoise, unsharp), measures PSNR, SSIM, "
                "ΔE2000 and flicker of the source, every baseline and ml, and writes an HTML report. Optional "
                "input 'mask' (ReelAlign's mask: first channel > 0.5 = trusted) limits the metrics to valid "
                "pixels. 'Output' picks what the node shows without running again; 'Open report' opens the report.",
        params="core.validate:VALIDATE_PARAMS",
        exclude=("write_baselines",),
        exclude_reason="the node always writes the baselines: its 'baseline' view reads them",
        inputs=("source", "reference", "ml", "mask"),
        file_view=FileView(
            "output", "Output",
            "what the node shows (switching re-runs nothing): baseline = the best baseline by PSNR "
            "(ACEScg EXRs in the result folder), ml / source / reference = those inputs' frames",
            {"baseline": host.OUTPUT_FILE, "ml": "output_ml", "source": "output_source",
             "reference": "output_reference"},
        ),
        help={
            "frames": "source frames to validate, e.g. 1001-1100; each pairs with the reference and ml frames "
                      "of the same number, which those inputs must have; empty: the source input's whole range",
            "input_mode": "auto: read the files of an upstream Read (per input) that passes them through "
                          "unchanged, otherwise render that input to EXR files kept in the result folder; "
                          "render: always render every input",
        },
        buttons=(
            Button("validate", "Validate", "nuke_plugin.nodes.reel_validate.run",
                   "Fit the baselines, measure everything against the reference and write the report, in the "
                   "background (cancel from the progress bar)."),
            Button("open_report", "Open report", "nuke_plugin.nodes.reel_validate.open_report",
                   "Open the last run's report.html in the system's browser."),
        ),
        color=0x7A8F3CFF,
    ),
    NodeSpec(
        name="ReelTrain",
        label="Train",
        tooltip="Train a restoration model on degraded -> reference pairs (the pair manifest of stage 1 with "
                "stage 2's aligned references), like CopyCat: a config file and the options that most often "
                "change. Train runs in the background and continues from the last checkpoint; Stop ends it "
                "after the current step; Resume continues; Monitor shows the loss and the contact sheet live. "
                "The node shows the latest contact sheet (input / prediction / reference).",
        params="core.train.config:TRAIN_JOB_PARAMS",
        knob_classes={"config": "File_Knob", "pairs": "File_Knob", "init_from": "File_Knob"},
        help={"frames": "not used: training reads its pairs from the pair manifest",
              "input_mode": "not used: training reads its pairs from the pair manifest",
              "force": "start over instead of continuing from the last checkpoint of the same settings"},
        buttons=(
            Button("train", "Train", "nuke_plugin.nodes.reel_train.run",
                   "Train now, in the background, continuing from the last checkpoint of the same settings."),
            Button("stop", "Stop", "nuke_plugin.nodes.reel_train.stop",
                   "Stop after the current step (checkpointed: Resume continues from it)."),
            Button("resume", "Resume", "nuke_plugin.nodes.reel_train.resume",
                   "Continue from the last checkpoint."),
            Button("monitor", "Monitor", "nuke_plugin.nodes.reel_train.monitor",
                   "Open the training monitor: live loss, contact sheet, stop / resume."),
        ),
        color=0xA85A5AFF,
    ),
    NodeSpec(
        name="ReelInfer",
        label="Restore (model)",
        tooltip="Restore the input with a trained ONNX model (a .onnx with its manifest, or a shipped model "
                "such as film_restore): tiled with feathered overlaps, alpha passed through, written as "
                "scene-linear ACEScg EXR and read back. Frames done with the same model and settings are kept.",
        params="core.infer.files:INFER_MODEL_PARAMS",
        knob_classes={"model": "File_Knob"},
        buttons=(
            Button("restore", "Restore", "nuke_plugin.nodes.reel_infer.run",
                   "Restore the frames now, in the background (cancel from the progress bar)."),
        ),
        color=0xA8845AFF,
    ),
    NodeSpec(
        name="ReelGenerate",
        label="Generate",
        tooltip="Render ground truth nobody photographed, seeded and bit-exact: noise (Nuke Noise's knobs plus a "
                "seed, value / gradient / simplex), ramps, signed-distance shapes, repetition scenes and test "
                "charts (ColorChecker 24, SMPTE bars, zone plate, slanted edge, step wedge, Siemens star), in "
                "scene-linear ACEScg. Pick a family: its knobs show. Generate renders one image, the same "
                "bytes as 'reelkit generate' with these values, shown on every frame; the input passes "
                "through until then.",
        params="nuke_plugin.nodes.reel_generate:NODE_PARAMS",
        knob_changed="nuke_plugin.nodes.reel_generate.knob_changed",
        help={"frames": "not used: the node renders one image, shown on every frame of the script",
              "input_mode": "not used: the node renders from its knobs, not from its input",
              "force": "render again even if this folder holds the image for these values"},
        buttons=(
            Button("generate", "Generate", "nuke_plugin.nodes.reel_generate.run",
                   "Render the image now, in the background (cancel from the progress bar)."),
        ),
        color=0x5A8AA8FF,
    ),
    NodeSpec(
        name="ReelVision",
        label="Vision",
        tooltip="Analyse the input shot, one pass at a time (the Pass pulldown): motion vectors both ways in "
                "Nuke's forward/backward channels with a consistency mask, a saliency map, a matte of the subject "
                "(GrabCut from a box on the first frame, refined on the frame's edges and carried along the "
                "flow), or depth from an ONNX model on disk. The node shows the plate with the pass in its "
                "channels (forward.u/v, backward.u/v, matte.A, saliency.Y, depth.Z). Nothing is downloaded.",
        params="core.vision.files:VISION_NODE_PARAMS",
        knob_classes={"model": "File_Knob", "mask": "File_Knob"},
        help={"box": "the matte's subject on the first frame: x,y,width,height in pixels from the top left"},
        buttons=(
            Button("analyse", "Analyse", "nuke_plugin.nodes.reel_vision.run",
                   "Run the pass over the frames now, in the background (cancel from the progress bar)."),
        ),
        color=0x5AA88AFF,
    ),
)


def get(name: str) -> NodeSpec:
    """The node called ``name``; ``KeyError`` names the known ones."""
    for spec in NODES:
        if spec.name == name:
            return spec
    raise KeyError(f"no reelkit node {name!r}; known: {', '.join(s.name for s in NODES)}")
