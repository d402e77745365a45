"""Learned passes (depth, mattes, saliency) from ONNX models the user points to: never downloaded.

**Registry.** A model folder's ``manifest.json`` (the ``reelkit.models/1``
index the restoration models use, found on the model search path:
``$REELKIT_MODEL_PATH``, then the shipped folder, :mod:`core.infer.shipped`)
may hold a ``vision`` list; each entry::

    {"id": "depth_anything_v2_small", "task": "depth", "file": "depth_anything_v2_vits.onnx",
     "sha256": "...", "licence": "Apache-2.0",
     "input": {"size": [518, 518], "resize": "letterbox", "colorspace": "srgb", "range": [0, 1],
               "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "order": "RGB", "pad": 0.0},
     "output": {"channels": 1, "meaning": "relative inverse depth, larger is nearer", "activation": "none"}}

A model is named by its ``id`` (looked up on the search path) or by the
path of its ``.onnx`` (the entry with that ``file`` in the ``manifest.json``
beside it, or an entry given as a mapping or a JSON file). Its bytes are
hashed before the session is built: a file whose sha256 is not the entry's
is refused, and so is a graph whose input shape is not the entry's size.

**Pre-processing** (:func:`preprocess`, exactly): the frame (ACEScg
``float32`` ``HW3``) is resized in linear light to fit ``size`` (``h, w``)
— ``letterbox`` keeps its aspect (scale ``min(h/H, w/W)``, content rounded
to whole pixels and centred, the border filled with ``pad``), ``stretch``
fills it — with OpenCV's area filter when shrinking and bilinear when
enlarging; converted to ``colorspace`` (``srgb`` clipped to 0..1); mapped
onto ``range`` (``lo + x (hi - lo)``); normalised ``(x - mean) / std`` per
network channel (``mean`` and ``std`` listed in the network's ``order``); laid out ``1 x 3 x h x w``.

**Post-processing** (:func:`postprocess`): the first output
(``1 x C x h' x w'``, any ``h' x w'``: the letterbox is scaled to it), its
first ``channels`` channels, the letterbox's content cropped out, resized
(bilinear) to the frame, ``sigmoid`` applied when the entry says so:
``float32`` ``HWC`` in the model's units (the entry's ``meaning``).

**One session per shot** (:class:`LearnedPass`): one onnxruntime session
and one input tensor, resize buffer and output tensor (bound through
onnxruntime's I/O binding) reused for every frame of one size.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ImageError, ParameterError, require
from core.infer.model import ModelError, model_sha256, read_model_bytes

logger = logging.getLogger("core.vision")

#: ``task`` values of a vision entry, and the pass each gives.
TASKS = ("depth", "matte", "saliency")
RESIZES = ("letterbox", "stretch")
ACTIVATIONS = ("none", "sigmoid")
COLORSPACES = ("srgb", "lin_rec709", "ACEScg")


@dataclasses.dataclass(frozen=True)
class VisionModelSpec:
    """A ``vision`` entry of a model index, checked (see the module doc for each field)."""

    id: str
    task: str
    file: str
    sha256: str
    licence: str
    size: tuple[int, int]
    resize: str = "letterbox"
    colorspace: str = "srgb"
    range: tuple[float, float] = (0.0, 1.0)
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    order: str = "RGB"
    pad: float = 0.0
    channels: int = 1
    meaning: str = ""
    activation: str = "none"

    @classmethod
    def parse(cls, entry: Mapping[str, Any], *, where: str) -> VisionModelSpec:
        """Check a ``vision`` entry; :class:`~core.infer.model.ModelError` (one line naming ``where`` and the
        field) when a field is missing or out of range."""
        def bad(field: str, want: str) -> ModelError:
            return ModelError(f"{where}: vision model {entry.get('id')!r}: {field} must be {want}")

        for key in ("id", "task", "file", "sha256", "licence"):
            if not isinstance(entry.get(key), str) or not entry[key]:
                raise bad(key, "a non-empty string")
        if entry["task"] not in TASKS:
            raise bad("task", f"one of {', '.join(TASKS)}")
        inp, out = entry.get("input"), entry.get("output", {})
        if not isinstance(inp, Mapping) or not isinstance(out, Mapping):
            raise bad("input/output", "objects")
        size = inp.get("size")
        if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and 1 <= v <= 8192
                                                                  for v in size)):
            raise bad("input.size", "[height, width] in pixels")
        fields: dict[str, Any] = {k: entry[k] for k in ("id", "task", "file", "sha256", "licence")}
        fields["size"] = (size[0], size[1])
        for key, choices in (("resize", RESIZES), ("colorspace", COLORSPACES), ("order", ("RGB", "BGR"))):
            if key in inp:
                if inp[key] not in choices:
                    raise bad(f"input.{key}", f"one of {', '.join(choices)}")
                fields[key] = inp[key]
        for key, n in (("range", 2), ("mean", 3), ("std", 3)):
            if key in inp:
                v = inp[key]
                if not (isinstance(v, list) and len(v) == n and all(isinstance(x, (int, float)) for x in v)):
                    raise bad(f"input.{key}", f"a list of {n} numbers")
                fields[key] = tuple(float(x) for x in v)
        if "pad" in inp:
            fields["pad"] = float(inp["pad"])
        if any(s == 0 for s in fields.get("std", (1.0,))) or fields.get("range", (0, 1))[0] == fields.get(
                "range", (0, 1))[1]:
            raise bad("input.std/range", "non-zero")
        if "channels" in out:
            if not isinstance(out["channels"], int) or not 1 <= out["channels"] <= 4:
                raise bad("output.channels", "1..4")
            fields["channels"] = out["channels"]
        fields["meaning"] = str(out.get("meaning", ""))
        if out.get("activation", "none") not in ACTIVATIONS:
            raise bad("output.activation", f"one of {', '.join(ACTIVATIONS)}")
        fields["activation"] = out.get("activation", "none")
        return cls(**fields)


def vision_models(folder: str | os.PathLike | None = None) -> dict[str, tuple[Path, Mapping[str, Any]]]:
    """Every vision model found by id: ``{id: (folder, entry)}`` on the model search path (or in ``folder``
    alone), the first folder winning."""
    from core.infer.shipped import model_path, vision_index

    out: dict[str, tuple[Path, Mapping[str, Any]]] = {}
    for where in [Path(folder)] if folder is not None else model_path():
        try:
            entries = vision_index(where)
        except ModelError as exc:
            if folder is not None:
                raise
            logger.warning("skipped: %s", exc)  # as the restoration models' lookup does
            continue
        for entry in entries:
            out.setdefault(str(entry.get("id")), (where, entry))
    return out


@dataclasses.dataclass(frozen=True)
class LoadedVisionModel:
    """A vision model's checked entry, its file and its bytes (hashed once)."""

    spec: VisionModelSpec
    path: Path
    data: bytes


def load_vision_model(model: str | os.PathLike, *, manifest: str | os.PathLike | Mapping[str, Any] | None = None,
                      ) -> LoadedVisionModel:
    """Find, read and check a vision model: ``model`` an id on the search path or a path to an ``.onnx``;
    ``manifest`` its entry (a mapping or a JSON file) when not in the ``manifest.json`` beside it.

    Raises :class:`~core.infer.model.ModelError` (one line naming the file) when no entry is found or the
    file's sha256 is not the entry's.
    """
    p = Path(model)
    if isinstance(manifest, Mapping):
        entry, where = manifest, "the given manifest entry"
    elif manifest is not None:
        entry, where = json.loads(Path(manifest).read_text("utf-8")), str(manifest)
    elif p.suffix.lower() == ".onnx" or os.sep in str(model):
        from core.infer.shipped import vision_index

        index = p.parent / "manifest.json"
        found = [e for e in vision_index(p.parent) if e.get("file") == p.name]
        if not found:
            raise ModelError(f"{p}: no vision entry with \"file\": \"{p.name}\" in {index}")
        entry, where = found[0], str(index)
    else:
        models = vision_models()
        if str(model) not in models:
            raise ModelError(f"vision model {str(model)!r}: not a file, and no such id on the model search path "
                             f"(found: {', '.join(sorted(models)) or 'none'})")
        folder, entry = models[str(model)]
        where, p = str(folder / "manifest.json"), folder / str(entry.get("file"))
    spec = VisionModelSpec.parse(entry, where=where)
    data = read_model_bytes(p)
    digest = model_sha256(data)
    if digest != spec.sha256:
        raise ModelError(f"{p}: sha256 {digest} does not match {spec.sha256} in {where} "
                         f"(vision model {spec.id!r})")
    return LoadedVisionModel(spec, p, data)


@dataclasses.dataclass(frozen=True)
class Letterbox:
    """Where a frame sits in the network input: content ``height x width`` at ``top, left``."""

    top: int
    left: int
    height: int
    width: int


def letterbox(frame_hw: tuple[int, int], size: tuple[int, int], resize: str) -> Letterbox:
    """The content rectangle of a ``frame_hw`` frame in a ``size`` network input (``(h, w)`` each)."""
    (fh, fw), (h, w) = frame_hw, size
    if resize == "stretch":
        return Letterbox(0, 0, h, w)
    s = min(h / fh, w / fw)
    ch, cw = min(h, max(1, round(fh * s))), min(w, max(1, round(fw * s)))
    return Letterbox((h - ch) // 2, (w - cw) // 2, ch, cw)


def _normalise(x: np.ndarray, spec: VisionModelSpec) -> np.ndarray:
    lo, hi = spec.range
    mean = np.asarray(spec.mean, np.float32)
    std = np.asarray(spec.std, np.float32)
    return ((x * np.float32(hi - lo) + np.float32(lo)) - mean) / std


def preprocess(pixels: np.ndarray, spec: VisionModelSpec, *, out: np.ndarray | None = None,
               resized: np.ndarray | None = None) -> tuple[np.ndarray, Letterbox]:
    """The network input for ``pixels`` (ACEScg ``float32`` ``HW3``): ``float32`` ``1x3xhxw`` (into ``out``
    when given; ``resized``: a ``float32`` content-sized ``HW3`` buffer to resize into) and its letterbox."""
    import cv2

    from core.color import convert

    h, w = spec.size
    box = letterbox(pixels.shape[:2], spec.size, spec.resize)
    shrink = box.height < pixels.shape[0] or box.width < pixels.shape[1]
    small = cv2.resize(pixels, (box.width, box.height), dst=resized,
                       interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    if spec.colorspace != "ACEScg":
        small = convert(small, "ACEScg", spec.colorspace)
    if spec.colorspace == "srgb":
        np.clip(small, 0.0, 1.0, out=small)
    if spec.order == "BGR":
        small = small[..., ::-1]
    net = np.empty((1, 3, h, w), np.float32) if out is None else out
    pad = _normalise(np.full(3, spec.pad, np.float32), spec)
    net[0] = pad[:, None, None]
    net[0, :, box.top:box.top + box.height, box.left:box.left + box.width] = \
        _normalise(small, spec).transpose(2, 0, 1)
    return net, box


def postprocess(output: np.ndarray, box: Letterbox, spec: VisionModelSpec, frame_hw: tuple[int, int]) -> np.ndarray:
    """The pass of a network ``output`` (``1xCxh'xw'``) for the frame: ``float32`` ``HWC`` (C = the entry's
    channels) of ``frame_hw``, the letterbox scaled to ``h' x w'``, cropped, resized bilinear, activated."""
    import cv2

    oh, ow = output.shape[2:]
    sy, sx = oh / spec.size[0], ow / spec.size[1]
    top, left = round(box.top * sy), round(box.left * sx)
    bh, bw = max(1, round(box.height * sy)), max(1, round(box.width * sx))
    crop = np.ascontiguousarray(output[0, :spec.channels, top:top + bh, left:left + bw].transpose(1, 2, 0),
                                dtype=np.float32)
    full = cv2.resize(crop, (frame_hw[1], frame_hw[0]), interpolation=cv2.INTER_LINEAR)
    full = full.reshape(frame_hw[0], frame_hw[1], spec.channels)
    if spec.activation == "sigmoid":
        full = 1.0 / (1.0 + np.exp(-full))
    return full.astype(np.float32, copy=False)


class LearnedPass:
    """A vision model's onnxruntime session, built once, with its buffers; :meth:`run` per frame.

    ``provider``: ``auto``/``cpu``/``cuda`` (:func:`core.infer.session.resolve_providers`); ``threads``:
    onnxruntime intra-op threads (0 = the free cores). The graph must have one input ``1x3xhxw`` (or
    dynamic axes) for the entry's ``size`` and an output of at least the entry's channels.
    """

    def __init__(self, model: str | os.PathLike | LoadedVisionModel, *,
                 manifest: str | os.PathLike | Mapping[str, Any] | None = None, provider: str = "cpu",
                 threads: int = 0):
        from core.infer.session import resolve_providers
        from core.threads import onnx_session_options

        ort = require("onnxruntime", "infer")
        loaded = model if isinstance(model, LoadedVisionModel) else load_vision_model(model, manifest=manifest)
        self.spec, self.path, self.model_bytes = loaded.spec, loaded.path, len(loaded.data)
        options = onnx_session_options(ort, threads)
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(loaded.data, sess_options=options,
                                                providers=resolve_providers(provider))
        except Exception as exc:  # onnxruntime raises its own exception types for invalid graphs
            raise ModelError(f"{self.path}: onnxruntime cannot load the model ({type(exc).__name__}: {exc})") \
                from None
        self._check_graph()
        self._hw: tuple[int, int] | None = None
        self.frames_run = 0

    def _check_graph(self) -> None:
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        h, w = self.spec.size
        if len(inputs) != 1 or not outputs:
            raise ModelError(f"{self.path}: a vision model has one input and at least one output, this one has "
                             f"{len(inputs)} input(s) and {len(outputs)} output(s)")
        shape = list(inputs[0].shape)
        want = [1, 3, h, w]
        if inputs[0].type != "tensor(float)" or len(shape) != 4 or any(
                isinstance(g, int) and g != e for g, e in zip(shape, want)):
            got = "x".join(str(v) for v in shape)
            raise ModelError(f"{self.path}: input {inputs[0].name!r} is {inputs[0].type} {got} in the graph; its "
                             f"manifest entry says float 1x3x{h}x{w} (vision model {self.spec.id!r})")
        out = list(outputs[0].shape)
        if len(out) != 4 or (isinstance(out[1], int) and out[1] < self.spec.channels):
            raise ModelError(f"{self.path}: output {outputs[0].name!r} is {out}; its manifest entry needs "
                             f"1x{self.spec.channels}xHxW (vision model {self.spec.id!r})")
        self.input_name, self.output_name = inputs[0].name, outputs[0].name

    def _buffers(self, hw: tuple[int, int]) -> None:
        h, w = self.spec.size
        self._box = letterbox(hw, self.spec.size, self.spec.resize)
        self._net = np.empty((1, 3, h, w), np.float32)
        self._resized = np.empty((self._box.height, self._box.width, 3), np.float32)
        self._binding = self.session.io_binding()
        self._binding.bind_cpu_input(self.input_name, self._net)
        probe = self.session.run([self.output_name], {self.input_name: self._net})[0]
        self._out = np.empty(probe.shape, np.float32)
        self._binding.bind_output(self.output_name, "cpu", 0, np.float32, list(self._out.shape),
                                  self._out.ctypes.data)
        self._hw = hw

    def buffer_bytes(self, hw: tuple[int, int]) -> int:
        """Bytes of the model and its per-shot buffers for frames of ``hw`` (the memory budget's ``extra``)."""
        h, w = self.spec.size
        return 2 * self.model_bytes + 3 * 4 * 3 * h * w

    def run(self, pixels: np.ndarray, *, name: str = "<memory>") -> np.ndarray:
        """The pass of one frame (ACEScg ``float32`` ``HW3``): ``float32`` ``HWC`` of the frame's size."""
        hw = pixels.shape[:2]
        if pixels.ndim != 3 or pixels.shape[2] != 3:
            raise ImageError(f"{name}: the {self.spec.task} model {self.spec.id!r} needs a colour (RGB) image, "
                             f"got {pixels.shape[2] if pixels.ndim == 3 else 1} channel(s)")
        if self._hw != hw:
            if self._hw is not None:
                raise ImageError(f"{name}: {hw[1]}x{hw[0]} does not match the shot's {self._hw[1]}x{self._hw[0]}")
            self._buffers(hw)
        preprocess(pixels, self.spec, out=self._net, resized=self._resized)
        self.session.run_with_iobinding(self._binding)
        self.frames_run += 1
        return postprocess(self._out, self._box, self.spec, hw)


def check_task(spec: VisionModelSpec, task: str) -> None:
    """Refuse a model of another task (one line naming the model)."""
    if spec.task != task:
        raise ParameterError(f"vision model {spec.id!r} is a {spec.task} model, not a {task} model")
