"""Export a reelkit model as TorchScript for Nuke's Inference node (CatFileCreator makes the ``.cat``).

Nuke runs ML models natively from ``.cat`` files, which its CatFileCreator
node builds from a TorchScript file with **one image input and one
output**, no Python in the graph. A reelkit model (shipped, or a ``reelkit
train`` output folder) is an ONNX graph plus torch weights (``weights`` in
its manifest) and the architecture that made them (``training.architecture``);
:func:`export_cattery` rebuilds the network from those, wraps it in
Nuke's convention and scripts it (``torch.jit.script``, so the frame size
stays free):

input
    ``1 x 3 x H x W`` ``float32`` (``float16`` with Inference's *Optimize
    for Speed and Memory*), scene-linear RGB in the model's colour space
    (ACEScg for film_restore), any ``H`` and ``W`` of at least the model's
    halo (``receptive_field // 2``) plus one.
inside the graph, exactly what :class:`core.infer.Restorer` does for a whole frame
    the whole-frame context thumbnail (:func:`core.infer.context.frame_context`:
    band means in float64, detail ``|x - box3(x)|`` with mirrored edges)
    when the model has one; the model's encoding
    (:mod:`core.infer.encoding`) on frame and thumbnail; reflect padding by
    the halo and up to ``multiple_of``; the network; the crop; the decoding;
    then ``input + mix * (restored - input)`` with ``mix`` an attribute that
    a CatFileCreator *Floating Point Slider* knob named ``mix`` controls.
output
    the input's shape and dtype, scene-linear, same colour space. Values
    above 1.0 and negatives pass unclamped.

The context is computed from the image Nuke hands the module: given the
whole frame, it is the frame's thumbnail, as in :class:`~core.infer.Restorer`
(whose tiles all share the frame's thumbnail); given a region (a Crop
before the node, or tiles), it is that region's, and the result differs
from ``reelkit infer``'s. The sidecar says so (``tile``).

Beside ``NAME.pt`` the export writes ``NAME.cat.json`` (format
``reelkit.cattery/1``): what CatFileCreator's knobs take (channels in and
out, model id, output scale), the colour space, encoding and tile advice,
and the source model's sha256. Both files are byte-identical on a rerun
with the same torch (the archive is written from memory under a fixed
name, never a temporary file's).

Networks that cannot be exported (:func:`cattery_refusal`): a model
without torch weights in its manifest (nothing to script from), an
architecture the registry does not know, and a model with one input
channel (Nuke's ``rgba`` convention is three). torch is imported inside
the functions (the ``train`` extra).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.errors import ParameterError
from core.formats import FORMATS
from core.infer.model import ModelError, ModelSpec

#: Format of the sidecar written beside the TorchScript file.
CATTERY_FORMAT = FORMATS["reelkit.cattery"]
#: Nuke channel names of the model's input and output (CatFileCreator's Channels In / Channels Out).
NUKE_CHANNELS = ("rgba.red", "rgba.green", "rgba.blue")
#: Encodings the scripted module computes (the same as :data:`core.infer.encoding.ENCODINGS`).
_ENCODING_IDS = {"linear": 0, "log2": 1, "acescct": 2}


def cattery_refusal(spec: ModelSpec) -> str | None:
    """Why ``spec``'s model cannot be exported for Nuke (one line), or ``None`` when it can."""
    from core.train.registry import model_config

    if spec.channels != len(NUKE_CHANNELS):
        return (f"model {spec.name}: takes {spec.channels} channel(s); Nuke's Inference export needs an RGB "
                "model (3 channels)")
    if spec.encoding not in _ENCODING_IDS:
        return f"model {spec.name}: encoding {spec.encoding!r} has no TorchScript implementation"
    weights = spec.document.get("weights")
    if not isinstance(weights, Mapping) or not weights.get("file") or not weights.get("sha256"):
        return (f"model {spec.name}: its manifest names no torch weights ('weights': {{file, sha256}}), so there "
                "is no network to script (an ONNX file alone cannot be turned back into TorchScript)")
    arch = spec.training.get("architecture") if isinstance(spec.training, Mapping) else None
    if not isinstance(arch, Mapping):
        return f"model {spec.name}: its manifest records no training.architecture to rebuild the network from"
    try:
        model_config(arch, where="training.architecture")
    except ParameterError as exc:
        return f"model {spec.name}: cannot rebuild the network ({exc})"
    return None


def trained_network(spec: ModelSpec):
    """The trained ``torch.nn.Module`` of ``spec`` (weights checked against their sha256), in eval mode on the CPU."""
    import torch

    from core.manifest import file_sha256
    from core.train.registry import model_config

    why = cattery_refusal(spec)
    if why is not None:
        raise ModelError(why)
    weights = spec.document["weights"]
    path = spec.path.parent / str(weights["file"])
    if not path.is_file():
        raise ModelError(f"model {spec.name}: weights file {path} is missing")
    digest = file_sha256(path)
    if digest != weights["sha256"]:
        raise ModelError(f"{path}: sha256 {digest} does not match {weights['sha256']} in the model's manifest")
    config = model_config(spec.training["architecture"], where="training.architecture")
    if config.context != spec.context or config.context_detail != spec.context_detail:
        raise ModelError(f"model {spec.name}: training.architecture's context ({config.context}, detail "
                         f"{config.context_detail}) differs from input.context ({spec.context}, detail "
                         f"{spec.context_detail})")
    net = config.build()
    state = torch.load(path, map_location="cpu", weights_only=True)
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelError(f"{path}: the weights do not fit {config.type} ({str(exc).splitlines()[0]})") from None
    return net.eval()


def nuke_module(spec: ModelSpec):
    """``spec``'s network wrapped in Nuke's convention (a ``torch.nn.Module``, not yet scripted)."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    from core.infer import encoding as enc

    class _Plain(nn.Module):
        """A network without a context, called as one with: ``(x, context)``."""

        def __init__(self, net: nn.Module):
            super().__init__()
            self.net = net

        def forward(self, x: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
            return self.net(x)

    class NukeRestore(nn.Module):
        """``1 x 3 x H x W`` scene-linear in, the restored frame out (see :mod:`core.train.cattery`)."""

        def __init__(self, net: nn.Module, encoding: int, context: int, detail: bool, multiple_of: int,
                     halo: int):
            super().__init__()
            self.net = net if context else _Plain(net)
            self.encoding = encoding
            self.context = context
            self.detail = detail
            self.multiple_of = multiple_of
            self.halo = halo
            self.mix = 1.0

        def encode(self, x: torch.Tensor) -> torch.Tensor:
            if self.encoding == 1:
                return torch.sign(x) * (torch.log1p(enc.LOG2_GAIN * torch.abs(x))
                                        / (0.6931471805599453 * enc.LOG2_STOPS))
            if self.encoding == 2:
                log = (torch.log2(torch.where(x > enc._CCT_X_BREAK, x, torch.ones_like(x))) + enc._CCT_OFFSET) \
                    / enc._CCT_SCALE
                return torch.where(x > enc._CCT_X_BREAK, log, enc._CCT_A * x + enc._CCT_B)
            return x

        def decode(self, y: torch.Tensor) -> torch.Tensor:
            if self.encoding == 1:
                return torch.sign(y) * (torch.expm1(torch.abs(y) * (enc.LOG2_STOPS * 0.6931471805599453))
                                        / enc.LOG2_GAIN)
            if self.encoding == 2:
                exp = torch.exp2(torch.where(y > enc._CCT_Y_BREAK, y, torch.zeros_like(y)) * enc._CCT_SCALE
                                 - enc._CCT_OFFSET)
                return torch.where(y > enc._CCT_Y_BREAK, exp, (y - enc._CCT_B) / enc._CCT_A)
            return y

        def bands(self, length: int, device: torch.device) -> torch.Tensor:
            """``S x length`` float64 band membership (core.infer.context.band_edges; a centre pixel when short)."""
            size = self.context
            if length < size:
                centres = ((torch.arange(size, dtype=torch.float64, device=device) + 0.5) * length / size).long()
                centres = torch.clamp(centres, max=length - 1)
                idx = torch.arange(length, device=device)
                return (idx[None, :] == centres[:, None]).to(torch.float64)
            i = torch.arange(size + 1, dtype=torch.int64, device=device)
            edges = torch.div(2 * i * length + size, 2 * size, rounding_mode="floor")
            idx = torch.arange(length, device=device)
            return ((idx[None, :] >= edges[:-1, None]) & (idx[None, :] < edges[1:, None])).to(torch.float64)

        def band_means(self, x: torch.Tensor) -> torch.Tensor:
            rows = self.bands(x.size(2), x.device)
            cols = self.bands(x.size(3), x.device)
            sums = torch.matmul(torch.matmul(rows, x.to(torch.float64)), cols.t())
            area = rows.sum(dim=1)[:, None] * cols.sum(dim=1)[None, :]
            return (sums / area).to(torch.float32)

        def local_detail(self, x: torch.Tensor) -> torch.Tensor:
            h, w = x.size(2), x.size(3)
            ph = 1 if h > 1 else 0
            pw = 1 if w > 1 else 0
            padded = F.pad(x, [pw, pw, ph, ph], mode="reflect") if ph + pw > 0 else x
            box = F.avg_pool2d(padded, [2 * ph + 1, 2 * pw + 1], stride=1)
            return torch.abs(x - box)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.dim() != 4 or x.size(1) != 3:
                raise ValueError("reelkit: expected a 1 x 3 x H x W image (Channels In: rgba.red, rgba.green, "
                                 "rgba.blue)")
            dtype = x.dtype
            lin = x.to(torch.float32)
            h, w = lin.size(2), lin.size(3)
            m, halo = self.multiple_of, self.halo
            after_h = (h + 2 * halo + m - 1) // m * m - h - halo
            after_w = (w + 2 * halo + m - 1) // m * m - w - halo
            if after_h >= h or after_w >= w:
                raise ValueError("reelkit: the image is smaller than the model's receptive field")
            padded = F.pad(lin, [halo, after_w, halo, after_h], mode="reflect")
            context: torch.Tensor | None = None
            if self.context > 0:
                thumb = self.band_means(lin)
                if self.detail:
                    thumb = torch.cat([thumb, self.band_means(self.local_detail(lin))], dim=1)
                context = self.encode(thumb).to(dtype)
            y = self.net(self.encode(padded).to(dtype), context).to(torch.float32)
            restored = self.decode(y[:, :, halo:halo + h, halo:halo + w])
            if self.mix != 1.0:
                restored = lin + self.mix * (restored - lin)
            return restored.to(dtype)

    return NukeRestore(trained_network(spec), _ENCODING_IDS[spec.encoding], int(spec.context), bool(spec.context_detail),
                       int(spec.multiple_of), int(spec.halo))


def script_module(spec: ModelSpec):
    """:func:`nuke_module` scripted (``torch.jit.ScriptModule``; not frozen: ``mix`` stays an attribute a knob sets)."""
    import warnings

    import torch

    with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript; Nuke's Inference node reads nothing else
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.script(nuke_module(spec).eval())


#: What the child Python runs (:func:`scripted_bytes`): the archive's bytes to stdout, a reelkit error as one line.
_CHILD = ("import sys\n"
          "from core.errors import ReelkitError\n"
          "from core.train.cattery import scripted_bytes\n"
          "try:\n"
          "    data = scripted_bytes(sys.argv[1])\n"
          "except ReelkitError as exc:\n"
          "    print(exc, file=sys.stderr)\n"
          "    sys.exit(2)\n"
          "sys.stdout.buffer.write(data)\n")


def scripted_bytes(model: str | os.PathLike) -> bytes:
    """The TorchScript archive of ``model`` (an ``.onnx`` path with its manifest), byte-identical run to run.

    TorchScript writes a module's constants (``Final`` attributes such as a
    convolution's ``stride``) in the order of a Python ``set`` of their
    names, which changes with the string hash seed; so the archive is made
    in a Python whose ``PYTHONHASHSEED`` is 0 (a child process when this one
    has another seed), and saved from memory under the fixed name
    ``archive`` (a file's name would become the archive's inner folder).
    """
    import subprocess
    import sys

    from core.infer.model import load_model

    if os.environ.get("PYTHONHASHSEED") == "0":
        import torch

        buffer = io.BytesIO()
        torch.jit.save(script_module(load_model(model).spec), buffer)
        return buffer.getvalue()
    env = {**os.environ, "PYTHONHASHSEED": "0",
           "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}  # the child imports this very reelkit
    done = subprocess.run([sys.executable, "-c", _CHILD, str(model)], env=env, capture_output=True, check=False)
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines() or ["(no message)"]
        raise ModelError(f"{model}: TorchScript export failed: {lines[-1]}")
    return done.stdout


def cattery_record(spec: ModelSpec, torchscript: str) -> dict[str, Any]:
    """The ``NAME.cat.json`` sidecar: CatFileCreator's knobs and what the module expects."""
    import torch

    return {
        "format": CATTERY_FORMAT.tag, "name": spec.name, "version": spec.version,
        "torchscript": torchscript,
        "catfilecreator": {"channels_in": ", ".join(NUKE_CHANNELS), "channels_out": ", ".join(NUKE_CHANNELS),
                           "model_id": f"reelkit_{spec.name}_{spec.version}", "output_scale": 1,
                           "knobs": [{"name": "mix", "type": "Floating Point Slider", "default": 1.0,
                                      "range": [0.0, 1.0],
                                      "help": "0 = the input, 1 = the model's output (linear light)"}]},
        "colorspace": spec.colorspace, "scene_linear": True, "unclamped": True,
        "encoding_in_graph": spec.encoding,
        "context": {"size": spec.context, "detail": spec.context_detail, "computed_in_graph": bool(spec.context)},
        "multiple_of": spec.multiple_of, "receptive_field": spec.receptive_field,
        "minimum_size": spec.halo + 1,
        "tile": {"recommended": None,
                 "why": "the graph pads itself; a model with a context must see the whole frame (its thumbnail)"
                 if spec.context else "the graph pads itself; tile only for memory, with overscan >= the halo"},
        "overscan": spec.halo,
        "torch": torch.__version__,
        "source": {"file": spec.path.name, "sha256": spec.sha256,
                   "weights_sha256": str(spec.document["weights"]["sha256"])},
    }


def export_cattery(model: str | os.PathLike, output_dir: str | os.PathLike, *,
                   overwrite: bool = False) -> tuple[Path, Path]:
    """Write ``NAME.pt`` (TorchScript for CatFileCreator) and ``NAME.cat.json`` for ``model`` into ``output_dir``.

    ``model``: a model found by name (``film_restore``), a path to its
    ``.onnx``, or a ``reelkit train`` output folder (its ``model.onnx``).
    The ONNX file's sha256 is checked against its manifest, the weights'
    against theirs. Returns the two paths. Raises
    :class:`~core.infer.model.ModelError` (one line) for a model that
    cannot be exported (:func:`cattery_refusal`) and
    :class:`~core.errors.ParameterError` when a file exists and
    ``overwrite`` is false.
    """
    from core.errors import require
    from core.infer.model import load_model
    from core.io.atomic import atomic_path

    require("torch", "train")
    source = Path(model)
    if source.is_dir():
        source = source / "model.onnx"
        if not source.is_file():
            raise ModelError(f"{model}: a folder without model.onnx (a reelkit train output folder has one)")
    spec = load_model(source if source.suffix or os.sep in str(model) else model).spec
    why = cattery_refusal(spec)
    if why is not None:
        raise ModelError(why)
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    pt, sidecar = folder / f"{spec.name}.pt", folder / f"{spec.name}.cat.json"
    for path in (pt, sidecar):
        if path.exists() and not overwrite:
            raise ParameterError(f"{path}: exists; --force (overwrite=True) replaces it")
    data = scripted_bytes(spec.path)
    with atomic_path(pt, overwrite=True) as tmp:
        tmp.write_bytes(data)
    text = json.dumps(cattery_record(spec, pt.name), indent=1, sort_keys=True) + "\n"
    with atomic_path(sidecar, overwrite=True) as tmp:
        tmp.write_text(text, "utf-8")
    return pt, sidecar
