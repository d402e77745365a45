"""Models shipped in the repository's ``models/`` folder, found by name (``"film_restore"``).

``models/manifest.json`` (format ``"reelkit.models/1"``) lists each model
as a ``reelkit.model/1`` entry (see :mod:`core.infer`) with its ``file``
(the ``.onnx``) and, for models that can be fine-tuned, ``weights``:
``{"file": "<name>.pt", "sha256": ...}``, the torch ``state_dict`` of the
same network (read with ``torch.load(weights_only=True)``).

:func:`resolve_model` turns what a user typed (a path to an ``.onnx``, or
a shipped model's name) into the ``.onnx`` path; :func:`shipped_weights`
gives the checked path of a shipped model's torch weights (training's
``init_from``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.infer.model import INDEX_FORMAT, ModelError

#: The shipped models' folder (the repository root is the Nuke plugin path; ``models/`` sits beside ``core/``).
MODELS_DIR = Path(__file__).resolve().parents[2] / "models"


def _index(folder: Path) -> list[Mapping[str, Any]]:
    path = folder / "manifest.json"
    if not path.is_file():
        return []
    try:
        doc = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: cannot read the model index ({exc})") from None
    if not isinstance(doc, Mapping) or doc.get("format") != INDEX_FORMAT or not isinstance(doc.get("models"), list):
        raise ModelError(f"{path}: not a model index ({INDEX_FORMAT} with a 'models' list)")
    return [m for m in doc["models"] if isinstance(m, Mapping)]


def shipped_models(folder: str | os.PathLike | None = None) -> dict[str, Mapping[str, Any]]:
    """The shipped models' manifest entries, by name."""
    return {str(m.get("name")): m for m in _index(Path(folder) if folder else MODELS_DIR)}


def shipped_entry(name: str, folder: str | os.PathLike | None = None) -> Mapping[str, Any]:
    """The manifest entry of shipped model ``name``; :class:`ModelError` listing the known names if none."""
    models = shipped_models(folder)
    if name not in models:
        where = Path(folder) if folder else MODELS_DIR
        raise ModelError(f"model {name!r}: no such file, and not a model shipped in {where} "
                         f"(shipped: {', '.join(sorted(models)) or 'none'})")
    return models[name]


def resolve_model(model: str | os.PathLike, folder: str | os.PathLike | None = None) -> Path:
    """The ``.onnx`` path for ``model``: an existing file as given, else a shipped model's file by name."""
    p = Path(model)
    if p.is_file() or p.suffix.lower() == ".onnx" or os.sep in str(model):
        return p
    entry = shipped_entry(str(model), folder)
    return (Path(folder) if folder else MODELS_DIR) / str(entry.get("file"))


def shipped_weights(name: str, folder: str | os.PathLike | None = None) -> tuple[Path, str]:
    """``(path, sha256)`` of shipped model ``name``'s torch weights, the file checked against the manifest."""
    entry = shipped_entry(name, folder)
    weights = entry.get("weights")
    if not isinstance(weights, Mapping) or not weights.get("file") or not weights.get("sha256"):
        raise ModelError(f"model {name!r}: ships no torch weights ('weights': {{file, sha256}} in its manifest "
                         "entry), so it cannot be fine-tuned")
    path = (Path(folder) if folder else MODELS_DIR) / str(weights["file"])
    if not path.is_file():
        raise ModelError(f"model {name!r}: weights file {path} is missing")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != weights["sha256"]:
        raise ModelError(f"{path}: sha256 {digest} does not match {weights['sha256']} in the model index")
    return path, digest
