"""Versioned file formats: every reelkit JSON / NPZ document, its current version and its upgrade path.

A reelkit document says what it is in a format tag ``"reelkit.NAME/N"``
(``"reelkit.pairs/1"``): the format's name and the version that wrote it,
usually under the document's ``"format"`` key (a palette pack's under
``"metadata"``; a cluster model file's on its first line). :data:`FORMATS`
lists every format reelkit writes (:class:`Format`: name, current version,
what the document holds and the module that owns it); the owner reads the
tag back through :meth:`Format.read`, which brings an older document to the
current version through the format's upgraders and refuses anything else
with :class:`~core.errors.FormatError` — one line naming the file, the
format found and the one expected.

Upgraders: ``UPGRADERS[name][n](payload)`` turns a version-``n`` document
into a version ``n + 1`` one (its tag included); the owner registers them
with :func:`upgrader`. No format has needed one yet.

>>> from core.formats import FORMATS
>>> FORMATS["reelkit.pairs"].tag
'reelkit.pairs/1'
>>> FORMATS["reelkit.pairs"].read({"format": "reelkit.pairs/1", "status": "ok"}, where="pairs.json")
{'format': 'reelkit.pairs/1', 'status': 'ok'}
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from core.errors import FormatError, ParameterError

Upgrader = Callable[[dict[str, Any]], dict[str, Any]]

#: A format tag: ``reelkit.NAME/N`` (``NAME``: lower case, digits, ``_`` and ``.``).
TAG = re.compile(r"^(reelkit\.[a-z0-9_.]*[a-z0-9_])/(\d+)$")


@dataclasses.dataclass(frozen=True)
class Format:
    """One versioned format: ``name`` (``"reelkit.pairs"``), current ``version``, what it holds, its owner."""

    name: str
    version: int
    what: str
    owner: str

    @property
    def tag(self) -> str:
        """The current tag, ``"reelkit.pairs/1"``: what writers put in the document."""
        return f"{self.name}/{self.version}"

    def __str__(self) -> str:
        return self.tag

    def version_of(self, found: Any, *, where: str) -> int:
        """The version number in tag ``found``; :class:`FormatError` when it is not a tag of this format."""
        m = TAG.match(found) if isinstance(found, str) else None
        if m is None or m.group(1) != self.name:
            raise FormatError(f"{where}: format {found!r}, expected {self.tag} ({self.what})")
        return int(m.group(2))

    def read(self, payload: Mapping[str, Any], *, where: str, key: Sequence[str] = ("format",),
             upgraders: Mapping[int, Upgrader] | None = None) -> dict[str, Any]:
        """``payload`` at the current version (upgraded when older; a new dict only then).

        ``key``: where the tag sits (``("metadata", "format")`` for a palette
        pack). ``upgraders``: instead of the registered ones (:data:`UPGRADERS`).
        A foreign tag, a newer version or one without an upgrade path
        raises :class:`~core.errors.FormatError` naming ``where``.
        """
        version = self.version_of(_at(payload, key), where=where)
        if version > self.version:
            raise FormatError(f"{where}: format {self.name}/{version} is newer than this reelkit reads "
                              f"({self.tag}); upgrade reelkit")
        out = payload if isinstance(payload, dict) else dict(payload)
        steps = UPGRADERS.get(self.name, {}) if upgraders is None else upgraders
        while version < self.version:
            step = steps.get(version)
            if step is None:
                raise FormatError(f"{where}: format {self.name}/{version} has no upgrade path to {self.tag}")
            out = step(dict(out))
            new = self.version_of(_at(out, key), where=where)
            if new != version + 1:
                raise FormatError(f"{where}: the upgrade from {self.name}/{version} produced {self.name}/{new}")
            version = new
        return out


def _at(payload: Any, key: Sequence[str]) -> Any:
    for k in key:
        if not isinstance(payload, Mapping):
            return None
        payload = payload.get(k)
    return payload


#: Every reelkit format, by name.
FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("reelkit.manifest", 1, "a command's manifest.json: inputs, parameters, per-frame records",
           "core.manifest"),
    Format("reelkit.pairs", 1, "a pair manifest (stage 1's pairs.json)", "core.pairs"),
    Format("reelkit.project", 1, "a restoration project's project.json", "core.pipeline.project"),
    Format("reelkit.stage", 1, "a project stage's stage.json (parameters, status, counts)", "core.pipeline.project"),
    Format("reelkit.palette", 1, "a palette pack (.npz and its .json sidecar)", "core.palette.pack"),
    Format("reelkit.align", 1, "a frame's alignment record", "core.align.files"),
    Format("reelkit.degrade", 1, "a frame's damage record", "core.degrade.model"),
    Format("reelkit.degrade_preset", 1, "a damage look in a file (reelkit degrade --preset FILE)",
           "core.degrade.presets"),
    Format("reelkit.generate", 1, "the procedural generators' version", "core.generate.registry"),
    Format("reelkit.generate.params", 1, "a generated image's parameters (.json beside it)", "core.generate.files"),
    Format("reelkit.model", 1, "a model's description (model.json)", "core.infer.model"),
    Format("reelkit.models", 1, "an index of models (models/manifest.json)", "core.infer.model"),
    Format("reelkit.train_config", 1, "a training config", "core.train.config"),
    Format("reelkit.train_checkpoint", 1, "a training checkpoint (.pt)", "core.train.trainer"),
    Format("reelkit.cattery", 1, "a Nuke Inference export's sidecar (NAME.cat.json)", "core.train.cattery"),
    Format("reelkit.grade", 1, "a fitted grade: a validation baseline", "core.validate.grade"),
    Format("reelkit.filter_bank", 1, "learned detail filters (stage 4's grades/filters.json)",
           "core.infer.filterbank"),
    Format("reelkit.render", 1, "a baseline render's record", "core.validate.render"),
    Format("reelkit.validation", 1, "a validation report's metrics.json", "core.validate.run"),
    Format("reelkit.dataset", 1, "an assembled data set's dataset.json", "core.dataset.assemble"),
    Format("reelkit.clusters", 1, "the cluster stage's clusters.json", "core.dataset.cluster"),
    Format("reelkit.dataset_clusters", 2, "a fitted cluster model file", "core.dataset.cluster"),
    Format("reelkit.review", 1, "review decisions (review/decisions.json)", "core.dataset.review"),
    Format("reelkit.dataset_shots", 1, "the dataset builder's shots.json", "core.dataset.builder"),
    Format("reelkit.dataset_frames", 1, "the dataset builder's frames.json", "core.dataset.builder"),
    Format("reelkit.dataset_run", 1, "the dataset builder's run record", "core.dataset.builder"),
    Format("reelkit.agent.journal", 1, "the MCP server's journal entries", "core.agent.journal"),
    Format("reelkit.agent.task", 1, "an MCP task's record", "core.agent.tasks"),
    Format("reelkit.inverse_model", 1, "an inverse model's description", "core.inverse.model"),
    Format("reelkit.inverse.data", 1, "an (image, params) data set's index", "core.inverse.data"),
    Format("reelkit.inverse.sample", 1, "one (image, params) sample's parameters", "core.inverse.data"),
    Format("reelkit.inverse.space", 1, "a learned parameter space", "core.inverse.space"),
    Format("reelkit.inverse.prediction", 1, "an inverse model's prediction for an image", "core.inverse.files"),
)}

#: Upgrade functions per format: ``UPGRADERS[name][n](payload)`` -> the version ``n + 1`` payload.
UPGRADERS: dict[str, dict[int, Upgrader]] = {}


def upgrader(name: str, version: int) -> Callable[[Upgrader], Upgrader]:
    """Decorator registering ``fn`` as the upgrade of format ``name`` from ``version`` to ``version + 1``."""
    fmt = FORMATS[name]
    if not 0 <= version < fmt.version:
        raise ParameterError(f"{name}: an upgrader from version {version} (current {fmt.version})")

    def register(fn: Upgrader) -> Upgrader:
        UPGRADERS.setdefault(name, {})[version] = fn
        return fn

    return register
