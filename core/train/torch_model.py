"""A model's torch network, attached to the loaded model so inference can run it (``provider="torch"``).

``reelkit infer --provider torch`` runs the very network a model was
trained as (its ``weights`` file, a torch ``state_dict``, rebuilt from
``training.architecture``, :func:`core.train.cattery.trained_network`)
instead of its ONNX graph: on CUDA in float16 with page-locked host
buffers, on the CPU in float32 (:mod:`core.infer.torch_engine`). The
model is found the same way as for ONNX (a path, or a name on the model
search path, :func:`core.infer.load_model`), its ``.onnx`` checked against
its manifest's sha256 as always, and the weights against theirs.

The network is wrapped to take what a tile of :class:`core.infer.Restorer`
gives an engine: ``N x C x H x W`` ``float32`` **scene-linear** values in
the model's colour space (and the frame's encoded context thumbnail, or
``None``), returning the restored values, scene-linear ``float32``, same
shape. The model's encoding (:mod:`core.infer.encoding`) is applied inside,
in float32 on the network's device, by the same TorchScript-ready code the
Nuke export scripts (:func:`core.train.cattery.nuke_module`), so a 4K frame
is not encoded and decoded by the CPU. torch is imported on use (the
``train`` extra).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from core.errors import require
from core.infer.model import LoadedModel, load_model


def tile_network(spec):
    """``spec``'s trained network as a tile engine runs it: linear in, linear out (see the module doc).

    The weights are checked against the sha256 in the manifest
    (:func:`core.train.cattery.trained_network`). The returned module is
    in eval mode on the CPU, float32; its network's parameters may be cast
    (``.half()``): the encoding and decoding stay float32.
    """
    from torch import nn

    from core.train.cattery import nuke_module

    class TileNetwork(nn.Module):
        """Encode, the network (in its parameters' dtype), decode: ``(x, context) -> restored``."""

        def __init__(self, wrapped: nn.Module):
            super().__init__()
            self.wrapped = wrapped  # core.train.cattery's module: encode, decode, and the net called as (x, context)

        def forward(self, x, context=None):
            dtype = next(self.wrapped.net.parameters()).dtype
            ctx = None if context is None else context.to(dtype)
            y = self.wrapped.net(self.wrapped.encode(x).to(dtype), ctx)
            return self.wrapped.decode(y.float())

    return TileNetwork(nuke_module(spec)).eval()


def torch_model(model: str | os.PathLike | LoadedModel, *,
                manifest: str | os.PathLike | Mapping[str, Any] | None = None) -> LoadedModel:
    """``model`` (an ``.onnx`` path, a model's name, or a :class:`~core.infer.LoadedModel`) loaded and checked
    (:func:`core.infer.load_model`), with its torch network attached (:func:`tile_network`) for
    ``Restorer(..., provider="torch")`` and ``infer_files(..., params={"provider": "torch"})``.

    Raises :class:`~core.errors.MissingDependencyError` without torch (naming the ``train`` extra), and
    :class:`~core.infer.ModelError` for a model with no torch weights in its manifest, weights whose sha256
    differs, or an architecture that cannot be rebuilt (one line each).
    """
    require("torch", "train")
    loaded = load_model(model, manifest=manifest)
    if loaded.network is not None:
        return loaded
    return dataclasses.replace(loaded, network=tile_network(loaded.spec))


def load_for(model: str | os.PathLike | LoadedModel, provider: str, *,
             manifest: str | os.PathLike | Mapping[str, Any] | None = None) -> LoadedModel:
    """``model`` loaded and checked for ``provider`` (:data:`core.infer.PROVIDERS`): with its torch network for
    ``"torch"`` (:func:`torch_model`), else as :func:`core.infer.load_model` loads it — what a shell (the CLI,
    the ReelInfer node) hands :func:`core.infer.infer_files`."""
    if provider == "torch":
        return torch_model(model, manifest=manifest)
    return load_model(model, manifest=manifest)
