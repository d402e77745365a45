"""The restorer: one onnxruntime session (or the model's torch network), loaded once, run on frame after frame.

:class:`Restorer` reads the ``.onnx`` once, checks it against its manifest
(sha256 of the very bytes the session is built from), checks its inputs and
outputs against the model contract, and keeps the session for every frame
it runs. onnxruntime is imported here, when a restorer is made. When
onnxruntime runs on CUDA, every tile goes through an IO binding: the input
is placed on the GPU and the output bound there, then copied back once.

``provider="torch"`` runs the model's own torch network instead
(:mod:`core.infer.torch_engine`; the model loaded with
:func:`core.train.torch_model.torch_model`), on CUDA in float16 with
page-locked buffers or on the CPU in float32; tiling, context, checks and
mix are the same code.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ImageError, ParameterError, require
from core.frame import Frame, as_hwc_float32, check_finite
from core.infer.context import context_channels, context_input
from core.infer.encoding import decode_pixels, encode_pixels
from core.infer.model import LoadedModel, ModelError, ModelSpec, load_model
from core.infer.tiling import resolve_tiling, run_tiled
from core.jobs import ProgressFn

#: ``provider`` choices: ``auto`` takes CUDA when onnxruntime has it, else the CPU; ``torch`` runs the model's torch
#: network (CUDA when torch has it, else the CPU; :mod:`core.infer.torch_engine`).
PROVIDERS = ("auto", "cpu", "cuda", "torch")
#: ``precision`` choices: ``auto`` runs the model as stored (float32 or float16).
PRECISIONS = ("auto", "fp32", "fp16")

_ORT_PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}
_ORT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}

#: Values per strip of rows when checking and mixing a restored frame.
_STRIP_VALUES = 1 << 20

_created = 0
_created_lock = threading.Lock()


def sessions_created() -> int:
    """How many onnxruntime sessions this process has built (a restorer builds one, once)."""
    return _created


def available_providers() -> list[str]:
    """onnxruntime's execution providers in this environment (e.g. ``["CPUExecutionProvider"]``)."""
    ort = require("onnxruntime", "infer")
    return list(ort.get_available_providers())


def resolve_providers(provider: str) -> list[str]:
    """onnxruntime provider list for ``provider`` (:data:`PROVIDERS` but ``torch``); ``cuda`` without CUDA raises."""
    if provider not in PROVIDERS or provider == "torch":
        raise ParameterError(f"provider {provider!r}: expected one of {', '.join(PROVIDERS)}")
    available = available_providers()
    cuda = _ORT_PROVIDERS["cuda"]
    if provider == "cuda" and cuda not in available:
        raise ParameterError(f"provider 'cuda': this onnxruntime has no {cuda} (available: {', '.join(available)}); "
                             "install onnxruntime-gpu, or use provider auto/cpu")
    if provider in ("cuda", "auto") and cuda in available:
        return [cuda, _ORT_PROVIDERS["cpu"]]
    return [_ORT_PROVIDERS["cpu"]]


def _to_fp16(data: bytes, path: Path) -> bytes:
    """The model converted to float16 inside (inputs and outputs stay float32), with onnxruntime's converter."""
    onnx = require("onnx", "train")
    from onnxruntime.transformers.float16 import convert_float_to_float16

    try:
        model = convert_float_to_float16(onnx.load_from_string(data), keep_io_types=True)
    except Exception as exc:  # the converter raises assorted errors on graphs it cannot handle
        raise ModelError(f"{path}: cannot convert the model to float16 ({type(exc).__name__}: {exc})") from None
    return model.SerializeToString()


class Restorer:
    """An ONNX restoration model, loaded once and run frame after frame.

    Parameters
    ----------
    model:
        Path of the ``.onnx`` file, or a shipped model's name; its manifest
        is found beside it (see :mod:`core.infer.model`) unless ``manifest``
        gives it. A :class:`~core.infer.model.LoadedModel`
        (:func:`~core.infer.model.load_model`) is used as it is: the file is
        neither read nor hashed again.
    tile, overlap:
        Tile side and overlap in pixels (:mod:`core.infer.tiling`); ``tile=0``
        runs the whole frame at once; ``overlap=0`` picks the receptive field
        plus a 16-pixel feather. An overlap below the receptive field raises
        :class:`~core.errors.ParameterError`.
    provider:
        ``"auto"`` (CUDA when onnxruntime has it, else CPU), ``"cpu"``, ``"cuda"``;
        ``"torch"``: the model's torch network (``model`` a
        :class:`~core.infer.model.LoadedModel` with its ``network``, from
        :func:`core.train.torch_model.torch_model`), see :mod:`core.infer.torch_engine`.
    threads:
        onnxruntime intra-op threads (torch's on the CPU); 0 lets onnxruntime choose (one per core).
    precision:
        ``"auto"`` runs the model as stored (torch: float16 on CUDA, float32 on
        the CPU); ``"fp16"`` converts a float32 model to float16 in memory
        (needs the ``onnx`` package); ``"fp32"`` refuses a float16 model.
    mix:
        How much of the restoration to apply, 0..1: the output is
        ``input + mix * (restored - input)`` in linear light (1 = the model's
        output, 0 = the input unchanged); alpha passes through.

    A model whose manifest declares ``input.context`` also gets the whole
    frame's thumbnail (:func:`core.infer.context.frame_context`, encoded),
    the same for every tile of the frame.

    Raises :class:`~core.infer.model.ModelError` when the manifest is missing
    or invalid, the sha256 differs, or the graph breaks the contract (one
    NCHW float input and output, channels as declared, dynamic H and W; a
    second input ``N x C x S x S`` exactly when the manifest declares a context).
    """

    def __init__(self, model: str | os.PathLike | LoadedModel, *,
                 manifest: str | os.PathLike | Mapping[str, Any] | None = None,
                 tile: int = 512, overlap: int = 0, provider: str = "auto", threads: int = 0,
                 precision: str = "auto", mix: float = 1.0):
        global _created
        loaded = load_model(model, manifest=manifest)
        path, data = loaded.path, loaded.data
        self.spec: ModelSpec = loaded.spec
        self.tile, self.overlap = resolve_tiling(tile=int(tile), overlap=int(overlap), halo=self.spec.halo,
                                                 multiple_of=self.spec.multiple_of)
        if precision not in PRECISIONS:
            raise ParameterError(f"precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
            raise ParameterError(f"threads {threads!r}: expected an integer >= 0 (0 = onnxruntime's choice)")
        if isinstance(mix, bool) or not isinstance(mix, (int, float)) or not 0.0 <= float(mix) <= 1.0:
            raise ParameterError(f"mix {mix!r}: expected a number in 0..1 (0 = the input, 1 = the model's output)")
        self.mix = float(mix)
        self.precision = precision
        self.threads = threads
        self.frames_run = 0
        self.tiles_run = 0
        self.torch = None
        self.context_name = None
        if provider == "torch":
            from core.infer.torch_engine import TorchEngine

            self.torch = TorchEngine(loaded, precision=precision, threads=threads)
            self.session, self.binding, self.input_dtype = None, False, np.float32
            self.providers = [f"torch:{self.torch.device.type}"]
            self.load_seconds = self.torch.load_seconds
            return
        ort = require("onnxruntime", "infer")
        requested = resolve_providers(provider)
        if precision == "fp16":
            data = _to_fp16(data, path)
        from core.threads import onnx_session_options

        options = onnx_session_options(ort, threads)  # 0: the cores free now (core.threads)
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        t0 = time.perf_counter()
        try:
            self.session = ort.InferenceSession(data, sess_options=options, providers=requested)
        except Exception as exc:  # onnxruntime raises its own exception types for invalid graphs
            raise ModelError(f"{path}: onnxruntime cannot load the model ({type(exc).__name__}: {exc})") from None
        with _created_lock:
            _created += 1
        self.load_seconds = time.perf_counter() - t0
        self.providers = list(self.session.get_providers())
        if provider == "cuda" and _ORT_PROVIDERS["cuda"] not in self.providers:
            raise ParameterError(f"provider 'cuda': onnxruntime could not start CUDA for {path} "
                                 f"(running on {', '.join(self.providers)})")
        self._check_graph(path)
        # CUDA: the tile placed on the GPU and the output bound there (IO binding), one copy each way
        self.binding = _ORT_PROVIDERS["cuda"] in self.providers
        self._ort = ort

    # -- contract -------------------------------------------------------------------
    def _check_graph(self, path: Path) -> None:
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        want = 2 if self.spec.context else 1
        if len(inputs) != want or len(outputs) != 1:
            what = (f"two inputs (image, and the {self.spec.context}x{self.spec.context} context its manifest "
                    "declares)" if want == 2 else "one input (its manifest declares no context)")
            raise ModelError(f"{path}: the model must have {what} and one output, it has "
                             f"{len(inputs)} input(s) and {len(outputs)} output(s)")
        inp, out = inputs[0], outputs[0]
        c = self.spec.channels
        self.context_name = None
        if want == 2:
            ctx, s = inputs[1], self.spec.context
            cc = context_channels(c, self.spec.context_detail)
            shape = list(ctx.shape)
            if ctx.type != inp.type or len(shape) != 4 or shape[1:] != [cc, s, s]:
                raise ModelError(f"{path}: context input {ctx.name!r} is {ctx.type} {shape}; its manifest "
                                 f"declares {inp.type} [N, {cc}, {s}, {s}]")
            self.context_name = ctx.name
        for kind, arg in (("input", inp), ("output", out)):
            if arg.type not in _ORT_TYPES:
                raise ModelError(f"{path}: {kind} {arg.name!r} is {arg.type}; the contract is float32 or float16")
            shape = list(arg.shape)
            if len(shape) != 4:
                raise ModelError(f"{path}: {kind} {arg.name!r} has shape {shape}; the contract is NCHW (4 axes)")
            if isinstance(shape[1], int) and shape[1] != c:
                raise ModelError(f"{path}: {kind} {arg.name!r} has {shape[1]} channels (shape {shape}) but its "
                                 f"manifest declares input.channels = {c}")
            if kind == "input" and (isinstance(shape[2], int) or isinstance(shape[3], int)):
                raise ModelError(f"{path}: input {arg.name!r} has a fixed size {shape}; the contract needs dynamic "
                                 "H and W (export with dynamic axes)")
        self.input_name, self.output_name = inp.name, out.name
        self.input_dtype = _ORT_TYPES[inp.type]
        if self.precision == "fp32" and self.input_dtype != np.float32:
            raise ModelError(f"{path}: the model is float16; precision fp32 needs a float32 model (use auto)")

    # -- running --------------------------------------------------------------------
    def _run_tile(self, crop: np.ndarray, context: np.ndarray | None = None) -> np.ndarray:
        if self.torch is not None:  # linear in, linear out: the network encodes and decodes on its device
            return self.torch.run(crop, context)
        # encoded per tile (the encoding acts per value: the same numbers as encoding the whole frame first)
        encoded = encode_pixels(crop, self.spec.encoding)
        x = np.ascontiguousarray(encoded.transpose(2, 0, 1)[None], dtype=self.input_dtype)
        feeds = {self.input_name: x}
        if context is not None:
            feeds[self.context_name] = context
        try:
            y = self._bound_run(feeds) if self.binding else self.session.run([self.output_name], feeds)[0]
        except Exception as exc:  # onnxruntime's own exception types
            raise ModelError(f"{self.spec.path}: onnxruntime failed on a {list(x.shape)} {x.dtype} tile "
                             f"({type(exc).__name__}: {exc})") from None
        if y.shape != x.shape:
            raise ModelError(f"{self.spec.path}: output shape {list(y.shape)} for input {list(x.shape)}; the "
                             "contract is an output of the input's shape")
        # decoded per tile, so tiles blend in linear light (float32 blending of encoded values would be
        # amplified by the decoding: ~6e-6 relative at the top of the log2 range)
        return decode_pixels(y[0].transpose(1, 2, 0), self.spec.encoding)

    def _bound_run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """``session.run`` through an IO binding on CUDA device 0: inputs copied to the GPU, the output bound
        there and copied back."""
        binding = self.session.io_binding()
        for name, value in feeds.items():
            binding.bind_ortvalue_input(name, self._ort.OrtValue.ortvalue_from_numpy(value, "cuda", 0))
        binding.bind_output(self.output_name, "cuda", 0)
        self.session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()[0]

    def context_of(self, pixels: np.ndarray) -> np.ndarray | None:
        """The model's ``context`` input for a whole frame (``HWC`` ``float32``, the model's colour space, alpha
        ignored): :func:`core.infer.context.context_input`, encoded; ``None`` for a model without one. What
        :meth:`run` computes itself unless given it (a reader thread computes it ahead: :mod:`core.infer.files`)."""
        if not self.spec.context:
            return None
        return context_input(pixels[..., :self.spec.channels], self.spec.context, self.spec.encoding,
                             self.input_dtype, detail=self.spec.context_detail)

    def run(self, pixels, *, name: str = "image", progress: ProgressFn | None = None,
            context: np.ndarray | None = None) -> np.ndarray:
        """Restore ``pixels`` (``HWC`` ``float32``, C in {1, 3, 4}, in the model's colour space); same shape out.

        Four channels: the network runs on RGB and alpha passes through
        unchanged. The colour channels must match the model's (1 or 3).
        NaN/Inf in the input, or produced by the model, raise
        :class:`~core.errors.ImageError` naming ``name``. Beyond the input,
        the memory is the output frame plus a tile's worth: tiles are
        encoded one at a time, and the checks and the mix go a strip of
        rows at a time. ``progress(tiles done, tiles)`` follows the tiles.
        ``context``: :meth:`context_of` these pixels when already computed, else computed here.
        """
        px = as_hwc_float32(pixels, name=name)
        check_finite(px, name=name)
        c = self.spec.channels
        n = px.shape[2]
        colour = n - 1 if n == 4 else n
        if colour != c:
            raise ImageError(f"{name}: {n} channel(s) but the model {self.spec.name} takes {c} "
                             f"({'RGB' if c == 3 else 'one channel'}{' + alpha' if c == 3 else ''})")
        if context is None:  # the whole frame's thumbnail, the same for every tile
            context = self.context_of(px)
        result = np.empty(px.shape, np.float32) if n == 4 else None
        restored, tiles = run_tiled(functools.partial(self._run_tile, context=context), px[..., :c], tile=self.tile,
                                    overlap=self.overlap, halo=self.spec.halo, multiple_of=self.spec.multiple_of,
                                    out=None if result is None else result[..., :c], progress=progress)
        h = px.shape[0]
        step = max(1, _STRIP_VALUES // max(1, restored[0].size))
        bad = sum(int(np.count_nonzero(~np.isfinite(restored[y:y + step]))) for y in range(0, h, step))
        if bad:
            raise ImageError(f"{name}: the model {self.spec.name} produced {bad} non-finite values "
                             f"(NaN/Inf){' (float16 overflow?)' if self.input_dtype == np.float16 else ''}")
        if self.mix < 1.0:  # input + mix * (restored - input), in place
            mix = np.float32(self.mix)
            for y in range(0, h, step):
                src = px[y:y + step, :, :c]
                restored[y:y + step] = src + mix * (restored[y:y + step] - src)
        self.frames_run += 1
        self.tiles_run += tiles
        if result is not None:
            result[..., 3] = px[..., 3]
            return result
        return restored

    def prepare(self, frame: Frame) -> tuple[Frame, np.ndarray | None]:
        """``frame`` checked (finite; errors name it) and in the model's colour space, with its context input
        (:meth:`context_of`): the part of :meth:`run_frame` that needs no model, which a reader thread does
        ahead (:mod:`core.infer.files`); pass both to :meth:`run_frame`."""
        from core import color

        check_finite(frame.pixels, name=frame.describe())
        if color.canonical_colorspace(frame.colorspace) != self.spec.colorspace:
            frame = color.convert_frame(frame, self.spec.colorspace)
        return frame, self.context_of(frame.pixels)

    def run_frame(self, frame: Frame | np.ndarray, *,
                  progress: ProgressFn | None = None, context: np.ndarray | None = None) -> Frame | np.ndarray:
        """Restore one frame.

        A :class:`~core.frame.Frame` is converted to the model's colour space
        when it is in another (:func:`core.color.convert_frame`) and comes back
        as a ``Frame`` in the model's colour space (frame number, path, alpha,
        layers and metadata carried over; ``metadata["restored_by"]`` names the
        model). A bare array is taken to be in the model's colour space and
        comes back as an array. Errors name the frame (path and number).
        ``progress(tiles done, tiles)`` follows the tiles (:meth:`run`).
        ``context``: the frame's context input when already computed (:meth:`prepare`).
        """
        if not isinstance(frame, Frame):
            return self.run(frame, progress=progress, context=context)
        from core import color

        check_finite(frame.pixels, name=frame.describe())
        if color.canonical_colorspace(frame.colorspace) != self.spec.colorspace:
            frame = color.convert_frame(frame, self.spec.colorspace)
        pixels = self.run(frame.pixels, name=frame.describe(), progress=progress, context=context)
        metadata = dict(frame.metadata)
        metadata["restored_by"] = f"{self.spec.name} {self.spec.version}"
        return frame.replace(pixels=pixels, metadata=metadata)

    def info(self) -> dict[str, Any]:
        """Runtime facts for manifests: backend, providers (device), threads, precision, tiling, load time,
        library version; the torch engine's own facts (:meth:`~core.infer.torch_engine.TorchEngine.info`)."""
        facts = {"mix": self.mix, "tile": self.tile, "overlap": self.overlap}
        if self.torch is not None:
            return {**self.torch.info(), "providers": self.providers, **facts}
        import onnxruntime

        return {"backend": "onnxruntime", "onnxruntime": onnxruntime.__version__, "providers": self.providers,
                "io_binding": self.binding, "threads": self.threads, "precision": self.precision,
                "input_dtype": np.dtype(self.input_dtype).name, **facts,
                "load_seconds": round(self.load_seconds, 3)}
