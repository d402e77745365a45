"""Model manifests: what an ONNX restoration model expects, and proof that it is the file described.

A model is an ``.onnx`` file plus a manifest (format ``"reelkit.model/1"``,
see :mod:`core.infer` for the contract), found in this order:

1. an explicit ``manifest=`` (a path to a JSON file, or a mapping);
2. ``<model>.json`` beside ``<model>.onnx`` (a sidecar);
3. ``manifest.json`` in the model's folder (format ``"reelkit.models/1"``, the
   shipped ``models/manifest.json``) with an entry whose ``"file"`` is the
   model's file name.

:func:`load_model_spec` validates the manifest and checks the sha256 of the
``.onnx`` against it; :func:`load_model` does that once per job for what a
user typed (a path, or a shipped model's name, :mod:`core.infer.shipped`)
and keeps the bytes it hashed, so the session is built from them;
:func:`write_model_manifest` writes a sidecar for a freshly exported model
(the training stage calls it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.errors import ColorSpaceError, FormatError, ImageReadError, ParameterError, ReelkitError
from core.formats import FORMATS, Format
from core.infer.context import MAX_CONTEXT
from core.infer.encoding import ENCODINGS

#: Format of one model's manifest (sidecar ``<model>.json``), ``reelkit.model/1`` (:mod:`core.formats`).
MODEL_FORMAT = FORMATS["reelkit.model"]
#: Format of a folder's model index (``models/manifest.json``), ``reelkit.models/1``.
INDEX_FORMAT = FORMATS["reelkit.models"]
#: Channel counts a model may take (RGB, or one channel).
MODEL_CHANNELS = (1, 3)

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ModelError(ReelkitError, ValueError):
    """A model file or its manifest is unusable: missing or invalid manifest, sha256 mismatch,
    inputs/outputs that break the model contract."""


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A validated model manifest.

    Attributes: ``path`` (the ``.onnx``), ``manifest_path`` (where the manifest
    was read, ``None`` for a mapping), ``name``, ``version``, ``sha256`` (of
    the ``.onnx``, checked), ``colorspace`` (canonical, e.g. ``"ACEScg"``),
    ``encoding`` (:data:`~core.infer.encoding.ENCODINGS`), ``channels`` (1 or
    3), ``multiple_of`` (H and W of the network input must be multiples of
    it), ``receptive_field`` (side in pixels of the input square one output
    pixel depends on), ``context`` (side of the whole-frame thumbnail the
    model takes as a second input, :mod:`core.infer.context`; 0 for none),
    ``context_detail`` (the context also carries the detail channels),
    ``training`` (free-form provenance), ``document`` (the manifest as read).
    """

    path: Path
    manifest_path: Path | None
    name: str
    version: str
    sha256: str
    colorspace: str
    encoding: str
    channels: int
    multiple_of: int
    receptive_field: int
    training: Mapping[str, Any]
    document: Mapping[str, Any]
    context: int = 0
    context_detail: bool = False

    @property
    def halo(self) -> int:
        """Pixels at a tile's edge whose output depends on what lies beyond it: ``receptive_field // 2``."""
        return self.receptive_field // 2

    def record(self) -> dict[str, Any]:
        """What outputs depend on, for manifests and config hashes (no paths)."""
        spec = {"colorspace": self.colorspace, "encoding": self.encoding, "channels": self.channels,
                "multiple_of": self.multiple_of, "receptive_field": self.receptive_field}
        if self.context:
            spec["context"] = self.context
        if self.context_detail:
            spec["context_detail"] = True
        return {"format": MODEL_FORMAT.tag, "name": self.name, "version": self.version, "sha256": self.sha256,
                "input": spec}


def model_sha256(data: bytes) -> str:
    """sha256 hex digest of a model's bytes."""
    return hashlib.sha256(data).hexdigest()


def read_model_bytes(path: str | os.PathLike) -> bytes:
    """The bytes of an ``.onnx`` file, or :class:`~core.errors.ImageReadError` naming it."""
    p = Path(path)
    if not p.is_file():
        raise ImageReadError(f"{p}: no such model file")
    try:
        return p.read_bytes()
    except OSError as exc:
        raise ImageReadError(f"{p}: cannot read the model ({exc})") from None


def find_model_manifest(model: str | os.PathLike) -> tuple[Path, dict[str, Any]]:
    """Locate the manifest of ``model``: its sidecar ``<model>.json``, else its entry in ``manifest.json``.

    Returns ``(manifest path, manifest document)``; raises :class:`ModelError`
    naming the places looked at when there is none.
    """
    p = Path(model)
    sidecar = p.with_suffix(".json")
    if sidecar.is_file():
        return sidecar, _read_json(sidecar)
    index = p.parent / "manifest.json"
    if index.is_file():
        try:
            doc = INDEX_FORMAT.read(_read_json(index), where=str(index))
        except FormatError:
            doc = None  # another document (a command's manifest.json): not an index
        if doc is not None:
            models = doc.get("models")
            if not isinstance(models, list):
                raise ModelError(f"{index}: 'models' must be a list of model manifests")
            for entry in models:
                if isinstance(entry, Mapping) and entry.get("file") == p.name:
                    return index, {"format": MODEL_FORMAT.tag, **entry}  # entries may leave the format to the index
    raise ModelError(f"{p}: no model manifest: expected {sidecar.name} beside it, or an entry with "
                     f"\"file\": \"{p.name}\" in {index} (format {INDEX_FORMAT})")


def read_format(fmt: Format, doc: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``doc`` read as ``fmt`` (:meth:`core.formats.Format.read`, upgraded when older); a foreign or newer
    tag raises :class:`ModelError` (what callers of model files catch) with the registry's line naming ``where``."""
    try:
        return fmt.read(doc, where=where)
    except FormatError as exc:
        raise ModelError(str(exc)) from None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise ImageReadError(f"{path}: cannot read the model manifest ({exc})") from None
    except ValueError as exc:
        raise ModelError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ModelError(f"{path}: a model manifest must be a JSON object")
    return doc


def _int_field(doc: Mapping[str, Any], key: str, where: str, *, minimum: int, maximum: int) -> int:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise ModelError(f"{where}: input.{key} must be an integer in {minimum}..{maximum}, got {value!r}")
    return value


def parse_model_manifest(doc: Mapping[str, Any], *, model: str | os.PathLike,
                         where: str | os.PathLike | None = None) -> ModelSpec:
    """Validate a ``reelkit.model/1`` document (without the sha256 check) into a :class:`ModelSpec`."""
    from core.color import canonical_colorspace

    label = str(where) if where is not None else f"manifest of {model}"
    if not isinstance(doc, Mapping):
        raise ModelError(f"{label}: a model manifest must be a mapping, got {type(doc).__name__}")
    doc = read_format(MODEL_FORMAT, doc, label)
    for key in ("name", "version"):
        if not isinstance(doc.get(key), str) or not doc[key]:
            raise ModelError(f"{label}: {key!r} must be a non-empty string")
    sha = doc.get("sha256")
    if not isinstance(sha, str) or not _SHA256.match(sha.lower()):
        raise ModelError(f"{label}: 'sha256' must be the 64-digit hex sha256 of the .onnx file, got {sha!r}")
    spec = doc.get("input")
    if not isinstance(spec, Mapping):
        raise ModelError(f"{label}: 'input' must be an object (colorspace, encoding, channels, multiple_of, "
                         "receptive_field)")
    layout = spec.get("layout", "NCHW")
    if layout != "NCHW":
        raise ModelError(f"{label}: input.layout {layout!r}: only 'NCHW' is supported")
    try:
        colorspace = canonical_colorspace(spec.get("colorspace"))
    except (ColorSpaceError, TypeError, AttributeError):
        raise ModelError(f"{label}: input.colorspace {spec.get('colorspace')!r} is not a colour space reelkit "
                         "knows (see core.color)") from None
    encoding = spec.get("encoding")
    if encoding not in ENCODINGS:
        raise ModelError(f"{label}: input.encoding {encoding!r} is not one of {', '.join(ENCODINGS)}")
    channels = spec.get("channels")
    if channels not in MODEL_CHANNELS or isinstance(channels, bool):
        raise ModelError(f"{label}: input.channels must be 1 or 3, got {channels!r}")
    training = doc.get("training", {})
    if not isinstance(training, Mapping):
        raise ModelError(f"{label}: 'training' must be an object")
    context = _int_field(spec, "context", label, minimum=0, maximum=MAX_CONTEXT) if "context" in spec else 0
    detail = spec.get("context_detail", False)
    if not isinstance(detail, bool):
        raise ModelError(f"{label}: 'input.context_detail' must be true or false, got {detail!r}")
    if detail and not context:
        raise ModelError(f"{label}: 'input.context_detail' needs 'input.context' (the thumbnail's side)")
    return ModelSpec(
        path=Path(model), manifest_path=Path(where) if where is not None else None,
        name=doc["name"], version=doc["version"], sha256=sha.lower(), colorspace=colorspace, encoding=encoding,
        channels=int(channels),
        multiple_of=_int_field(spec, "multiple_of", label, minimum=1, maximum=1024),
        receptive_field=_int_field(spec, "receptive_field", label, minimum=1, maximum=4096),
        context=context, context_detail=detail, training=dict(training), document=dict(doc))


def load_model_spec(model: str | os.PathLike, *, manifest: str | os.PathLike | Mapping[str, Any] | None = None,
                    data: bytes | None = None) -> ModelSpec:
    """Find and validate the manifest of ``model`` and check the ``.onnx`` file's sha256 against it.

    ``data``: the model's bytes when already read (the session is built from
    the very bytes that were hashed). Raises :class:`ModelError` (no or
    invalid manifest, sha256 mismatch — naming the model file and the
    manifest) or :class:`~core.errors.ImageReadError` (missing file).
    """
    path = Path(model)
    if data is None:
        data = read_model_bytes(path)
    if manifest is None:
        where, doc = find_model_manifest(path)
    elif isinstance(manifest, Mapping):
        where, doc = None, dict(manifest)
    else:
        where = Path(manifest)
        doc = _read_json(where)
    spec = parse_model_manifest(doc, model=path, where=where)
    actual = model_sha256(data)
    if actual != spec.sha256:
        src = where if where is not None else "the manifest given"
        raise ModelError(f"{path}: sha256 {actual} does not match {spec.sha256} in {src}: the model file "
                         "changed after its manifest was written (re-export it, or fix the manifest)")
    return spec


@dataclasses.dataclass(frozen=True)
class LoadedModel:
    """A model resolved, read and checked once (:func:`load_model`): its spec and the very bytes that were hashed.

    Pass it to :class:`~core.infer.session.Restorer` and
    :func:`~core.infer.files.infer_files` instead of a path: neither reads
    nor hashes the file again.
    """

    spec: ModelSpec
    data: bytes = dataclasses.field(repr=False)
    #: The same model as a ``torch.nn.Module`` for ``provider="torch"``: linear ``N x C x H x W`` ``float32``
    #: (and the encoded context) in, linear out (:func:`core.train.torch_model.torch_model` attaches it);
    #: ``None``: ONNX only.
    network: Any = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def path(self) -> Path:
        """The ``.onnx`` file the bytes came from."""
        return self.spec.path


def load_model(model: "str | os.PathLike | LoadedModel", *,
               manifest: str | os.PathLike | Mapping[str, Any] | None = None) -> LoadedModel:
    """``model`` (a path to an ``.onnx``, or a shipped model's name such as ``"film_restore"``) read and checked once.

    The name is resolved by :func:`core.infer.shipped.resolve_model`, the
    file read once and its sha256 checked against its manifest
    (:func:`load_model_spec`; ``manifest`` as there). A :class:`LoadedModel`
    is returned as it is (``manifest`` must then be ``None``). Raises what
    :func:`load_model_spec` and :func:`~core.infer.shipped.resolve_model` raise.
    """
    if isinstance(model, LoadedModel):
        if manifest is not None:
            raise ParameterError("manifest: give it with a model path or name, not with a loaded model")
        return model
    from core.infer.shipped import resolve_model

    path = resolve_model(model)
    data = read_model_bytes(path)
    return LoadedModel(load_model_spec(path, manifest=manifest, data=data), data)


def write_model_manifest(model: str | os.PathLike, *, name: str, version: str, colorspace: str = "ACEScg",
                         encoding: str = "log2", channels: int = 3, multiple_of: int = 1,
                         receptive_field: int, context: int = 0, context_detail: bool = False,
                         training: Mapping[str, Any] | None = None,
                         weights: str | os.PathLike | None = None, overwrite: bool = False) -> Path:
    """Write ``<model>.json`` beside ``model`` (sha256 computed from the file); returns its path.

    The document is validated with the same rules as when it is read, so a
    model that writes is a model that loads. Refuses to replace an existing
    sidecar unless ``overwrite``. ``context``: side of the model's whole-frame
    input (0: none; written only when set); ``context_detail``: it carries the
    detail channels (written only when set). ``weights``: the torch ``state_dict`` file of the same network
    (recorded as ``{"file", "sha256"}``, for fine-tuning).
    """
    from core.io.atomic import write_text_atomic

    path = Path(model)
    doc = {
        "format": MODEL_FORMAT.tag,
        "name": name,
        "version": version,
        "file": path.name,
        "sha256": model_sha256(read_model_bytes(path)),
        "input": {"layout": "NCHW", "colorspace": colorspace, "encoding": encoding, "channels": channels,
                  "multiple_of": multiple_of, "receptive_field": receptive_field},
        "training": dict(training or {}),
    }
    if context:
        doc["input"]["context"] = context
    if context_detail:
        doc["input"]["context_detail"] = True
    if weights is not None:
        w = Path(weights)
        doc["weights"] = {"file": w.name, "sha256": model_sha256(read_model_bytes(w))}
    try:
        parse_model_manifest(doc, model=path, where=path.with_suffix(".json"))
    except ModelError as exc:
        raise ParameterError(str(exc)) from None
    return write_text_atomic(path.with_suffix(".json"), json.dumps(doc, indent=2, default=str) + "\n",
                             overwrite=overwrite)
