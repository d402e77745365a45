"""Models found by name (``"film_restore"``) on the model search path.

The search path (:func:`model_path`), first match wins:

1. the folders of ``REELKIT_MODEL_PATH`` (``os.pathsep``-separated: a
   studio's shared model folder), in order;
2. the models shipped with reelkit: the wheel's package data
   (``core/data/models``), else the checkout's ``models/``
   (:func:`core.resources.models_folders`).

Each folder holds a ``manifest.json`` (format ``"reelkit.models/1"``) that
lists each model as a ``reelkit.model/1`` entry (see :mod:`core.infer`)
with its ``file`` (the ``.onnx``) and, for models that can be fine-tuned,
``weights``: ``{"file": "<name>.pt", "sha256": ...}``, the torch
``state_dict`` of the same network (read with ``torch.load(weights_only=True)``).
A folder whose index cannot be read is skipped with a warning when looking
a model up (:func:`verify_models` reports it).

:func:`resolve_model` turns what a user typed (a path to an ``.onnx``, or
a model's name) into the ``.onnx`` path; :func:`shipped_weights` gives the
checked path of a model's torch weights (training's ``init_from``);
:func:`verify_models` re-hashes every file against its manifest
(``reelkit models verify``).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.infer.model import INDEX_FORMAT, ModelError, read_format

logger = logging.getLogger("core.infer")

#: Folders searched before the shipped models, ``os.pathsep``-separated.
MODEL_PATH_ENV = "REELKIT_MODEL_PATH"


def model_path() -> list[Path]:
    """The folders searched for models by name, in order: ``$REELKIT_MODEL_PATH``'s, then the shipped models'."""
    from core.resources import models_folders

    folders = [Path(p).expanduser() for p in os.environ.get(MODEL_PATH_ENV, "").split(os.pathsep) if p.strip()]
    out: list[Path] = []
    for folder in [*folders, *models_folders()]:
        if folder not in out:
            out.append(folder)
    return out


def _read_index(folder: Path) -> Mapping[str, Any] | None:
    path = folder / "manifest.json"
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: cannot read the model index ({exc})") from None
    if not isinstance(doc, Mapping):
        raise ModelError(f"{path}: not a model index ({INDEX_FORMAT} with a 'models' list)")
    doc = read_format(INDEX_FORMAT, doc, str(path))
    if not isinstance(doc.get("models"), list):
        raise ModelError(f"{path}: not a model index ({INDEX_FORMAT} with a 'models' list)")
    if not isinstance(doc.get("vision", []), list):
        raise ModelError(f"{path}: 'vision' must be a list of vision model entries")
    return doc


def _index(folder: Path) -> list[Mapping[str, Any]]:
    doc = _read_index(folder)
    return [] if doc is None else [m for m in doc["models"] if isinstance(m, Mapping)]


def vision_index(folder: str | os.PathLike) -> list[Mapping[str, Any]]:
    """The ``vision`` entries of ``folder``'s model index (:mod:`core.vision.learned` reads them); ``[]`` when
    the folder has no index or the index no such list."""
    doc = _read_index(Path(folder))
    return [] if doc is None else [m for m in doc.get("vision", []) if isinstance(m, Mapping)]


def _found(folder: str | os.PathLike | None) -> list[tuple[Path, Mapping[str, Any]]]:
    """``(folder, entry)`` of every model on the search path (or in ``folder`` alone), first folder first."""
    if folder is not None:
        return [(Path(folder), m) for m in _index(Path(folder))]
    out = []
    for where in model_path():
        try:
            out.extend((where, m) for m in _index(where))
        except ModelError as exc:
            logger.warning("skipped: %s", exc)
    return out


def available_models(folder: str | os.PathLike | None = None) -> dict[str, tuple[Path, Mapping[str, Any]]]:
    """Every model found by name: ``{name: (folder, manifest entry)}``, the first on the search path winning."""
    out: dict[str, tuple[Path, Mapping[str, Any]]] = {}
    for where, entry in _found(folder):
        out.setdefault(str(entry.get("name")), (where, entry))
    return out


def shipped_models(folder: str | os.PathLike | None = None) -> dict[str, Mapping[str, Any]]:
    """The manifest entries of the models found by name (:func:`available_models`), by name."""
    return {name: entry for name, (_, entry) in available_models(folder).items()}


def _locate(name: str, folder: str | os.PathLike | None) -> tuple[Path, Mapping[str, Any]]:
    models = available_models(folder)
    if name not in models:
        where = ", ".join(str(p) for p in ([Path(folder)] if folder is not None else model_path())) or "no folder"
        raise ModelError(f"model {name!r}: no such file, and not a model shipped with reelkit or on "
                         f"${MODEL_PATH_ENV} (looked in {where}; found: {', '.join(sorted(models)) or 'none'})")
    return models[name]


def shipped_entry(name: str, folder: str | os.PathLike | None = None) -> Mapping[str, Any]:
    """The manifest entry of model ``name``; :class:`ModelError` listing the folders and known names if none."""
    return _locate(name, folder)[1]


def resolve_model(model: str | os.PathLike, folder: str | os.PathLike | None = None) -> Path:
    """The ``.onnx`` path for ``model``: an existing file as given, else a model's file found by name."""
    p = Path(model)
    if p.is_file() or p.suffix.lower() == ".onnx" or os.sep in str(model):
        return p
    where, entry = _locate(str(model), folder)
    return where / str(entry.get("file"))


def shipped_weights(name: str, folder: str | os.PathLike | None = None) -> tuple[Path, str]:
    """``(path, sha256)`` of model ``name``'s torch weights, the file checked against the manifest."""
    from core.manifest import file_sha256

    where, entry = _locate(name, folder)
    weights = entry.get("weights")
    if not isinstance(weights, Mapping) or not weights.get("file") or not weights.get("sha256"):
        raise ModelError(f"model {name!r}: ships no torch weights ('weights': {{file, sha256}} in its manifest "
                         "entry), so it cannot be fine-tuned")
    path = where / str(weights["file"])
    if not path.is_file():
        raise ModelError(f"model {name!r}: weights file {path} is missing")
    digest = file_sha256(path)
    if digest != weights["sha256"]:
        raise ModelError(f"{path}: sha256 {digest} does not match {weights['sha256']} in the model index")
    return path, digest


def _vision_or_none(folder: Path) -> list[Mapping[str, Any]]:
    try:
        return vision_index(folder)
    except ModelError:
        return []


def verify_models(name: str | None = None, folder: str | os.PathLike | None = None) -> tuple[int, list[str]]:
    """Re-hash the files of every model on the search path (or in ``folder`` alone; or of ``name``) against its
    manifest entry.

    Returns ``(files checked, problems)``: one line per unreadable index, missing file or sha256 mismatch,
    naming the file. The index's ``vision`` entries (:mod:`core.vision.learned`) are checked too, ``name``
    matching their ``id``. Every folder is checked, including models a folder earlier on the path hides.
    """
    from core.manifest import file_sha256

    if folder is not None and not (Path(folder) / "manifest.json").is_file():
        raise ModelError(f"{folder}: no manifest.json (a model folder lists its models in one)")
    folders = [Path(folder)] if folder is not None else model_path()
    if name is not None and not any(e.get("id") == name for f in folders for e in _vision_or_none(f)):
        _locate(name, folder)  # an unknown name is an error, not "0 checked"
    checked, problems = 0, []
    for where in folders:
        try:
            entries = [*_index(where), *vision_index(where)]  # restoration models, then vision models (by id)
        except ModelError as exc:
            problems.append(str(exc))
            continue
        for entry in entries:
            if name is not None and entry.get("name", entry.get("id")) != name:
                continue
            files = [(entry.get("file"), entry.get("sha256"))]
            if isinstance(entry.get("weights"), Mapping):
                files.append((entry["weights"].get("file"), entry["weights"].get("sha256")))
            for file, want in files:
                path = where / str(file)
                if not path.is_file():
                    problems.append(f"{path}: missing (model {entry.get('name', entry.get('id'))!r} in "
                                    f"{where / 'manifest.json'})")
                    continue
                checked += 1
                got = file_sha256(path)
                if got != want:
                    problems.append(f"{path}: sha256 {got} does not match {want} in {where / 'manifest.json'}")
    return checked, problems
