"""The inverse model's files: ``model.onnx`` and its manifest ``model.json`` (``reelkit.inverse_model/1``).

The ONNX graph has one input ``"input"`` (``float32`` ``N x 3 x H x W``,
ACEScg RGB in ``input.encoding``, H and W fixed) and one output
``"output"`` (``float32`` ``N x D``: the heads of
:class:`~core.inverse.nets.InverseNet` in the layout of
:meth:`~core.inverse.space.ParamSpace.output_layout`), dynamic batch.

The manifest, like :mod:`core.infer`'s: ``format``, ``name``, ``file``,
``sha256`` of the ``.onnx``, ``input`` (layout, colorspace, encoding,
channels, height, width), ``output`` (name, size, layout), ``generator``
(the record of what the model inverts), ``space`` (the stored
:class:`~core.inverse.space.ParamSpace`) and ``training`` (provenance:
tool and torch versions, seed, steps, settings, data hashes, metrics).
:func:`load_inverse_model` checks the format, the fields and the sha256 of
the bytes it returns, so a session is built from what was checked.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.formats import FORMATS
from core.infer.model import ModelError, model_sha256, read_format, read_model_bytes
from core.inverse.space import ParamSpace

#: Format of an inverse model's manifest, ``reelkit.inverse_model/1`` (:mod:`core.formats`).
INVERSE_MODEL_FORMAT = FORMATS["reelkit.inverse_model"]
INPUT_NAME = "input"
OUTPUT_NAME = "output"
OPSET = 17


def export_inverse_onnx(net, path: str | os.PathLike, *, height: int, width: int) -> Path:
    """Export ``net`` (an :class:`~core.inverse.nets.InverseNet`) to ``path`` atomically, batch axis dynamic."""
    import copy
    import warnings

    import torch

    from core.io.atomic import atomic_path

    target = Path(path)
    model = copy.deepcopy(net).to("cpu").eval()
    example = torch.zeros(1, 3, height, width, dtype=torch.float32)
    with atomic_path(target, overwrite=True) as tmp, warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (example,), str(tmp), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                          opset_version=OPSET, dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
                          dynamo=False, do_constant_folding=True)
    return target


def write_inverse_manifest(onnx_path: str | os.PathLike, *, name: str, space: ParamSpace, generator: Mapping[str, Any],
                           height: int, width: int, encoding: str, training: Mapping[str, Any]) -> Path:
    """Write ``model.json`` beside ``onnx_path`` (sha256 from the file); returns its path."""
    from core.io.atomic import write_text_atomic

    path = Path(onnx_path)
    doc = {"format": INVERSE_MODEL_FORMAT.tag, "name": name, "file": path.name,
           "sha256": model_sha256(read_model_bytes(path)),
           "input": {"name": INPUT_NAME, "layout": "NCHW", "colorspace": "ACEScg", "encoding": encoding,
                     "channels": 3, "height": height, "width": width},
           "output": {"name": OUTPUT_NAME, "size": space.output_size, "layout": space.output_layout()},
           "generator": dict(generator), "space": space.to_dict(), "training": dict(training)}
    target = path.with_suffix(".json")
    write_text_atomic(target, json.dumps(doc, indent=1, default=str) + "\n", overwrite=True)
    return target


@dataclasses.dataclass(frozen=True)
class InverseModel:
    """A checked inverse model: its ``path``, the ``data`` (the ONNX bytes hashed), the ``space``, the
    ``generator`` record, the input ``height``/``width``/``encoding`` and the whole ``document``."""

    path: Path
    data: bytes
    space: ParamSpace
    generator: Mapping[str, Any]
    height: int
    width: int
    encoding: str
    document: Mapping[str, Any]


def load_inverse_model(path: str | os.PathLike) -> InverseModel:
    """Read ``path`` (``.onnx``) and its ``.json`` manifest; anything missing, foreign or altered raises one
    :class:`~core.infer.model.ModelError` line."""
    from core.infer.encoding import ENCODINGS

    p = Path(path)
    sidecar = p.with_suffix(".json")
    try:
        doc = json.loads(sidecar.read_text("utf-8"))
    except OSError:
        raise ModelError(f"{p}: no inverse model manifest {sidecar.name} beside it") from None
    except ValueError as exc:
        raise ModelError(f"{sidecar}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ModelError(f"{sidecar}: not an inverse model manifest ({INVERSE_MODEL_FORMAT})")
    doc = read_format(INVERSE_MODEL_FORMAT, doc, str(sidecar))
    data = read_model_bytes(p)
    if model_sha256(data) != doc.get("sha256"):
        raise ModelError(f"{p}: sha256 differs from its manifest: the file was changed or replaced")
    try:
        inp = doc["input"]
        space = ParamSpace.from_dict(doc["space"])
        height, width, encoding = int(inp["height"]), int(inp["width"]), str(inp["encoding"])
        size = int(doc["output"]["size"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{sidecar}: incomplete inverse model manifest ({type(exc).__name__}: {exc})") from None
    if encoding not in ENCODINGS or size != space.output_size:
        raise ModelError(f"{sidecar}: encoding {encoding!r} or output size {size} does not fit its space")
    return InverseModel(p, data, space, dict(doc.get("generator", {})), height, width, encoding, doc)
