"""The torch engine of :class:`core.infer.Restorer` (``provider="torch"``): a model's own network, run by torch.

The network comes attached to the loaded model
(:attr:`core.infer.LoadedModel.network`, made by
:func:`core.train.torch_model.torch_model`): a ``torch.nn.Module`` taking
``N x C x H x W`` ``float32`` scene-linear values (and the frame's encoded
context) and returning the restored values, the encoding done inside.

Device and precision: CUDA when torch has it, else the CPU. ``precision``
``auto`` is float16 on CUDA (the network's parameters cast; encoding and
decoding stay float32) and float32 on the CPU; ``fp16`` on the CPU is
refused (one line). On CUDA the network and its input are
``channels_last`` and every tile goes through **page-locked host buffers**
(one input and one output buffer per tile shape, kept for the job): the
``HWC`` tile is copied into the pinned buffer, which *is* an ``NHWC``
(channels-last ``NCHW``) tensor, sent to the GPU asynchronously, and the
output comes back the same way — no transpose on the CPU, copies at full
PCIe speed (benchmarks/restore_bench.py measured 8.9 ms against 82 ms
from pageable memory for a 4K frame).

The engine runs one tile at a time (the restorer is shared by the frames of
a job, one frame at a time). torch is imported when an engine is made.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import numpy as np

from core.errors import ParameterError, require


class TorchEngine:
    """Run a loaded model's torch network on tiles: ``run(tile HWC float32 linear, context) -> HWC float32 linear``.

    ``loaded``: a :class:`~core.infer.LoadedModel` with its ``network``;
    ``precision``: ``auto`` | ``fp32`` | ``fp16`` (see the module doc);
    ``threads``: torch's CPU threads (``torch.set_num_threads``, process-wide) by
    :func:`core.threads.fixed_threads`: ``threads`` when > 0, else ``$REELKIT_THREADS``, else torch's
    default — never the load-dependent count, so a frame's bytes do not depend on how busy the machine is.
    """

    def __init__(self, loaded, *, precision: str = "auto", threads: int = 0):
        torch = require("torch", "train")
        if loaded.network is None:
            raise ParameterError(f"provider 'torch': no torch network is loaded for {loaded.path}; load the model "
                                 "with core.train.torch_model.torch_model() (reelkit infer --provider torch does)")
        t0 = time.perf_counter()
        cuda = torch.cuda.is_available()
        if precision == "auto":
            precision = "fp16" if cuda else "fp32"
        if precision == "fp16" and not cuda:
            raise ParameterError("precision fp16 with provider torch needs CUDA (torch sees no GPU); use auto or "
                                 "fp32 on the CPU")
        if not cuda:
            from core.threads import fixed_threads

            if fixed_threads(threads):
                torch.set_num_threads(fixed_threads(threads))
        self.torch = torch
        self.device = torch.device("cuda" if cuda else "cpu")
        self.precision = precision
        net = copy.deepcopy(loaded.network).eval()  # the loaded model's network stays float32 on the CPU
        if precision == "fp16":
            net = net.half()
        if cuda:
            net = net.to(self.device, memory_format=torch.channels_last)
        self.net = net
        self._buffers: dict[tuple[int, ...], tuple[Any, Any]] = {}
        self._stream = torch.cuda.current_stream(self.device) if cuda else None
        self.load_seconds = time.perf_counter() - t0

    def _pinned(self, shape: tuple[int, ...]):
        """Page-locked ``float32`` host buffers (input, output) of ``shape``, made once per tile shape."""
        if shape not in self._buffers:
            if len(self._buffers) >= 4:  # every tile of a frame has one shape: only frame sizes add shapes
                self._buffers.clear()
            torch = self.torch
            self._buffers[shape] = (torch.empty(shape, dtype=torch.float32).pin_memory(),
                                    torch.empty(shape, dtype=torch.float32).pin_memory())
        return self._buffers[shape]

    def run(self, tile: np.ndarray, context: np.ndarray | None = None) -> np.ndarray:
        """Restore one tile: ``HWC`` ``float32`` scene-linear in (any strides), the same shape out.

        On CUDA the array returned is a view of the engine's pinned output
        buffer: valid until the next call (the restorer blends it at once).
        """
        torch = self.torch
        with torch.inference_mode():
            ctx = None if context is None else torch.from_numpy(np.ascontiguousarray(context)).to(self.device)
            if self._stream is None:
                x = torch.from_numpy(np.ascontiguousarray(tile, dtype=np.float32)).permute(2, 0, 1)[None]
                y = self.net(x, ctx)
                return y[0].permute(1, 2, 0).contiguous().numpy()
            host_in, host_out = self._pinned(tuple(tile.shape))
            np.copyto(host_in.numpy(), tile, casting="same_kind")
            # HWC on the host is NHWC: on the device, permuted, it is NCHW in channels_last memory
            x = host_in.to(self.device, non_blocking=True).permute(2, 0, 1)[None]
            y = self.net(x, ctx)
            host_out.copy_(y[0].permute(1, 2, 0), non_blocking=True)
            self._stream.synchronize()
            return host_out.numpy()

    def info(self) -> dict[str, Any]:
        """Runtime facts for manifests: backend, torch version, device, precision, pinned buffers, load time."""
        torch = self.torch
        name = torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else "cpu"
        return {"backend": "torch", "torch": torch.__version__, "device": f"{self.device.type} ({name})",
                "precision": self.precision, "channels_last": self.device.type == "cuda",
                "pinned_buffers": self.device.type == "cuda", "threads": torch.get_num_threads(),
                "load_seconds": round(self.load_seconds, 3)}
