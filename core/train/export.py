"""Export a trained network to ONNX with its model manifest (``reelkit.model/1``).

The ONNX graph: one input ``"input"`` and one output ``"output"``, both
``float32`` ``N x 3 x H x W`` (ACEScg RGB in the model's encoding,
:mod:`core.infer.encoding`), with dynamic batch, height and width;
opset :data:`OPSET`. ``H`` and ``W`` must be multiples of the manifest's
``multiple_of``. A network with a context (``input.context = S`` in the
manifest) has a second input ``"context"``, ``float32`` ``N x 3 x S x S``
(``N x 6 x S x S`` with ``input.context_detail``): the whole frame's
thumbnail (:mod:`core.infer.context`), in the same encoding.

The manifest (``model.json`` beside ``model.onnx``, format ``reelkit.model/1``)
is written by :func:`core.infer.model.write_model_manifest`, so inference
reads exactly what training writes: ``name``, ``version``, ``file``,
``sha256`` of the ``.onnx``, ``input`` (``layout`` NCHW, ``colorspace``
ACEScg, ``encoding``, ``channels`` 3, ``multiple_of``,
``receptive_field``) and ``training`` (:func:`training_record`: tool and
torch versions, architecture, opset, output spec, seed, steps, the
resolved config and its hash, sha256 of every data file, metrics,
creation time).
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.errors import ParameterError
from core.train.config import TrainConfig
from core.infer.context import context_channels
from core.train.registry import IMAGE_CHANNELS

#: ONNX opset of exported models.
OPSET = 17
INPUT_NAME = "input"
CONTEXT_NAME = "context"
OUTPUT_NAME = "output"


def export_onnx(model, path: str | os.PathLike, *, multiple_of: int = 1, context: int = 0,
                context_detail: bool = False, opset: int = OPSET) -> Path:
    """Export ``model`` (a ``torch.nn.Module``) to ``path``, atomically; returns the path.

    Traced on a CPU copy in eval mode with a ``1 x 3 x S x S`` example
    (``S`` a multiple of ``multiple_of``); batch, height and width are
    dynamic axes. ``context``: side of the network's second input (0: none;
    its batch axis is dynamic; ``context_detail``: it has the detail channels too). Uses torch's TorchScript-based exporter (the dynamo one
    needs ``onnxscript``, which the ``train`` extra does not install).
    """
    import copy

    import torch

    from core.io.atomic import atomic_path

    if opset < 17:
        raise ParameterError(f"opset: {opset} is below 17, the oldest reelkit exports")
    target = Path(path)
    side = max(32, multiple_of * max(1, -(-32 // multiple_of)))
    net = copy.deepcopy(model).to("cpu").eval()
    axes = {0: "batch", 2: "height", 3: "width"}
    examples = [torch.zeros(1, IMAGE_CHANNELS, side, side, dtype=torch.float32)]
    names, dynamic = [INPUT_NAME], {INPUT_NAME: axes, OUTPUT_NAME: axes}
    if context:
        channels = context_channels(IMAGE_CHANNELS, context_detail)
        examples.append(torch.zeros(1, channels, context, context, dtype=torch.float32))
        names.append(CONTEXT_NAME)
        dynamic[CONTEXT_NAME] = {0: "batch"}
    with atomic_path(target, overwrite=True) as tmp, warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(net, tuple(examples), str(tmp), input_names=names, output_names=[OUTPUT_NAME],
                          opset_version=opset, dynamic_axes=dynamic, dynamo=False, do_constant_folding=True)
    return target


def training_record(config: TrainConfig, *, data: Mapping[str, str], metrics: Mapping[str, Any],
                    steps: int) -> dict[str, Any]:
    """The ``training`` provenance of ``model.json``: tool, torch, seed, steps, config, data hashes, metrics."""
    import torch

    from core import __version__

    return {
        "tool": "reelkit", "tool_version": __version__, "torch": torch.__version__,
        "architecture": config.model.to_dict(), "opset": OPSET,
        "output": {"name": OUTPUT_NAME, "layout": "NCHW", "dtype": "float32", "colorspace": "ACEScg",
                   "encoding": config.encoding, "channels": IMAGE_CHANNELS},
        "seed": config.seed, "steps": steps, "config": config.to_dict(), "config_hash": config.training_hash(),
        "data": dict(data), "metrics": dict(metrics),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def write_model_json(config: TrainConfig, onnx_path: str | os.PathLike, *, data: Mapping[str, str],
                     metrics: Mapping[str, Any], steps: int, weights: str | os.PathLike | None = None) -> Path:
    """Write ``model.json`` beside ``onnx_path`` through :func:`core.infer.model.write_model_manifest`

    (the reader's own rules validate it), replacing an older one; returns its path. ``weights``: the
    torch ``state_dict`` file beside it, recorded with its sha256 (``init_from`` can start from it).
    """
    from core.infer.model import write_model_manifest

    return write_model_manifest(onnx_path, name=config.name, version=config.version, colorspace="ACEScg",
                                encoding=config.encoding, channels=IMAGE_CHANNELS,
                                multiple_of=config.model.multiple_of,
                                receptive_field=config.model.receptive_field, context=config.model.context,
                                context_detail=config.model.context_detail,
                                training=training_record(config, data=data, metrics=metrics, steps=steps),
                                weights=weights, overwrite=True)
