"""The pair manifest: ``reelkit.pairs/1``, the output of dataset curation (stage 1).

Written by :mod:`core.pipeline.curation`, read by the project's later
stages and by :mod:`core.train` (training on a manifest's selected pairs);
it sits below both.

One JSON file, ``pairs.json`` in the stage's output folder, written
atomically; small lists one item per line so that it reads and diffs
well. Keys, in file order:

``format``, ``tool``, ``version``
    ``"reelkit.pairs/1"``, ``"reelkit"``, the reelkit version that wrote it.
``overrides``
    Manual corrections, edited by hand and kept by every re-run:
    ``{"1012": 1043, "1013": null}`` forces source frame 1012 to pair with
    reference frame 1043 and excludes source frame 1013. Keys are source
    frame numbers (strings, as JSON wants), values reference frame numbers
    or ``null``.
``status``, ``message``
    ``"ok"``, ``"partial"`` (under half of the source frames matched
    confidently, e.g. a reference covering one reel) or ``"no_match"`` (no
    plausible alignment: nothing is selected), and a sentence saying why.
``source``, ``reference``
    Each input: ``path``, ``kind`` (``sequence``/``video``), ``count``,
    ``frames`` (compact range), ``first``, ``last``, ``missing``, ``fps``,
    ``width``, ``height``, ``colorspace``, ``colorspace_source``,
    ``active_box`` (picture area without bars, ``[x0, y0, x1, y1]`` px).
``timing``
    ``rate`` (reference frames per source frame), ``rate_name``,
    ``rate_from`` (``content``/``parameter``), ``rate_scores``, ``offset``
    (reference position = ``offset + rate * source position``, 0-based
    positions in each frame list, on the line most frames follow),
    ``frame_offset`` (reference frame number - source frame number on that
    line, rate 1 only, else ``null``), and ``segments``: runs of source
    frames on one line (``first``, ``last``, ``offset``, ``frame_offset``,
    ``frames``) — a dropped or repeated frame starts a new segment.
``framing``
    ``requested`` and chosen ``mode`` (``fit``/``crop``/``matte``), the
    common ``aspect``, the compared ``source_box``/``reference_box`` (px),
    the signature ``grid`` and, for ``auto``, each mode's ``scores``.
``params``
    Every parameter of :data:`core.pipeline.curation.PAIRS_PARAMS`.
``summary``
    Counts per status, ``damaged`` (matched frames reported damaged),
    shots, selected pairs (``selected_damaged`` of them damaged), reference
    frames unmatched, ``median_confidence``, ``baseline_similarity``,
    ``unused_overrides``.
``shots``
    ``index``, ``first``, ``last`` (source frame numbers), ``frames``, ``selected``.
``selected``
    The training pairs: ``shot``, ``source_frame``, ``reference_frame``,
    ``confidence``, ``damaged``.
``matches``
    One per source frame: ``source_frame``, ``reference_frame`` (or
    ``null``), ``status`` — ``matched``, ``duplicate`` (the same reference
    frame as the previous source frame), ``dropped`` (no counterpart in the
    reference), ``low_confidence`` (a guess below ``min_confidence``, or a
    flat frame), ``override`` — ``confidence`` (0..1: how sure the
    reference frame is the right one; see :mod:`core.pipeline.matching`),
    ``similarity`` (signature similarity, -1..1), ``margin`` (similarity
    minus that of the better adjacent reference frame: near 0 in a static
    shot, where neighbours show the same picture), ``reason`` and
    ``damaged`` (``true``: matched by continuity with its neighbours
    although its similarity is well below theirs — the source frame is
    damaged there, which is what a restorer must learn; absent in files
    of older reelkit versions, read as ``false``).
``reference_unmatched``
    Reference frames inside the matched range that no source frame uses:
    ``reference_frame``, ``status`` (``duplicate``: the same picture as
    ``same_as``; ``not_in_source``: the source lacks it), ``near_source_frame``.

Versioned (:data:`FORMAT`, :mod:`core.formats`): an older file is brought
to the current version by the format's upgraders; newer or foreign files
are refused with :class:`~core.errors.FormatError` naming them.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.errors import ImageReadError, ParameterError
from core.formats import FORMATS

#: The pair manifest's format, ``reelkit.pairs/1``.
FORMAT = FORMATS["reelkit.pairs"]
#: File name of the pair manifest in the output folder.
FILE_NAME = "pairs.json"
#: Values of ``matches[].status``.
STATUSES = ("matched", "duplicate", "dropped", "low_confidence", "override")
#: Values of ``status``.
RUN_STATUSES = ("ok", "partial", "no_match")


@dataclasses.dataclass(frozen=True)
class FrameMatch:
    """The pairing of one source frame (see ``matches`` in the module docstring)."""

    source_frame: int
    reference_frame: int | None
    status: str
    confidence: float
    similarity: float | None = None
    margin: float | None = None
    reason: str | None = None
    damaged: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "FrameMatch":
        return cls(int(d["source_frame"]), None if d.get("reference_frame") is None else int(d["reference_frame"]),
                   str(d["status"]), float(d.get("confidence", 0.0)), _opt_float(d.get("similarity")),
                   _opt_float(d.get("margin")), d.get("reason"), bool(d.get("damaged", False)))


@dataclasses.dataclass(frozen=True)
class Shot:
    """One shot of the source: first and last source frame numbers, and its selected source frames."""

    index: int
    first: int
    last: int
    frames: int
    selected: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "first": self.first, "last": self.last, "frames": self.frames,
                "selected": list(self.selected)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Shot":
        return cls(int(d["index"]), int(d["first"]), int(d["last"]), int(d["frames"]),
                   tuple(int(v) for v in d.get("selected", ())))


@dataclasses.dataclass
class PairManifest:
    """The content of ``pairs.json`` (see the module docstring for every field)."""

    source: dict[str, Any]
    reference: dict[str, Any]
    timing: dict[str, Any]
    framing: dict[str, Any]
    params: dict[str, Any]
    matches: list[FrameMatch]
    shots: list[Shot]
    selected: list[dict[str, Any]]
    reference_unmatched: list[dict[str, Any]]
    overrides: dict[int, int | None] = dataclasses.field(default_factory=dict)
    status: str = "ok"
    message: str = ""
    summary: dict[str, Any] = dataclasses.field(default_factory=dict)
    version: str = ""

    # -- queries -------------------------------------------------------------------------
    def match(self, source_frame: int) -> FrameMatch:
        """The record of one source frame (``KeyError`` if it is not in the source)."""
        for m in self.matches:
            if m.source_frame == source_frame:
                return m
        raise KeyError(source_frame)

    def mapping(self) -> dict[int, int | None]:
        """Source frame number -> reference frame number (``None`` when it has none)."""
        return {m.source_frame: m.reference_frame for m in self.matches}

    def selected_pairs(self) -> list[tuple[int, int]]:
        """The selected training pairs as ``(source_frame, reference_frame)``, in source order."""
        return [(int(p["source_frame"]), int(p["reference_frame"])) for p in self.selected]

    def by_status(self, status: str) -> list[int]:
        """Source frame numbers with ``status``."""
        if status not in STATUSES:
            raise ParameterError(f"status: expected one of {', '.join(STATUSES)}, got {status!r}")
        return [m.source_frame for m in self.matches if m.status == status]

    # -- serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        from core import __version__

        return {
            "format": FORMAT.tag,
            "tool": "reelkit",
            "version": self.version or __version__,
            "overrides": {str(k): v for k, v in sorted(self.overrides.items())},
            "status": self.status,
            "message": self.message,
            "source": dict(self.source),
            "reference": dict(self.reference),
            "timing": dict(self.timing),
            "framing": dict(self.framing),
            "params": dict(self.params),
            "summary": dict(self.summary),
            "shots": [s.to_dict() for s in self.shots],
            "selected": [dict(p) for p in self.selected],
            "matches": [m.to_dict() for m in self.matches],
            "reference_unmatched": [dict(r) for r in self.reference_unmatched],
        }

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any], *, where: str = "pair manifest") -> "PairManifest":
        """Build from a dict of any supported version (upgraded first); a foreign or newer one raises
        :class:`~core.errors.FormatError`, malformed data :class:`~core.errors.ImageReadError`."""
        d = FORMAT.read(dict(payload), where=where)
        try:
            return cls(
                source=dict(d["source"]), reference=dict(d["reference"]), timing=dict(d["timing"]),
                framing=dict(d.get("framing", {})), params=dict(d.get("params", {})),
                matches=[FrameMatch.from_dict(m) for m in d["matches"]],
                shots=[Shot.from_dict(s) for s in d.get("shots", [])],
                selected=[dict(p) for p in d.get("selected", [])],
                reference_unmatched=[dict(r) for r in d.get("reference_unmatched", [])],
                overrides=parse_overrides(d.get("overrides") or {}, where=where),
                status=str(d.get("status", "ok")), message=str(d.get("message", "")),
                summary=dict(d.get("summary", {})), version=str(d.get("version", "")))
        except ParameterError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise ImageReadError(f"{where}: malformed {FORMAT.tag} data ({type(exc).__name__}: {exc})") from None

    def to_json(self) -> str:
        """The file text (:func:`dumps`): one line per item of ``matches``, ``shots``, ``selected``..."""
        return dumps(self.to_dict())

    def save(self, path: str | os.PathLike, *, overwrite: bool = True) -> Path:
        """Write atomically (a folder means ``FOLDER/pairs.json``); returns the path."""
        from core.io.atomic import write_text_atomic

        p = Path(path)
        if p.is_dir():
            p = p / FILE_NAME
        return write_text_atomic(p, self.to_json(), overwrite=overwrite)


def dumps(data: Mapping[str, Any]) -> str:
    """JSON text of a pair manifest dict, for people as much as programs.

    Dicts are indented, except short ones of plain values (kept on one
    line); lists of dicts or lists have one item per line; lists of plain
    values stay on one line.
    """
    return _fmt(data, 0) + "\n"


def _fmt(value: Any, indent: int) -> str:
    compact = json.dumps(value, separators=(", ", ": "))
    pad = " " * (indent + 2)
    if isinstance(value, Mapping) and value:
        nested = any(isinstance(v, (Mapping, list)) and v for v in value.values())
        if not nested and indent and len(compact) + indent <= 100:
            return compact
        items = [f"{pad}{json.dumps(str(k))}: {_fmt(v, indent + 2)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    if isinstance(value, list) and any(isinstance(v, (Mapping, list)) for v in value):
        items = [pad + json.dumps(v, separators=(", ", ": ")) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"
    return compact


def _opt_float(v: Any) -> float | None:
    return None if v is None else float(v)


def parse_overrides(raw: Any, *, where: str = "overrides") -> dict[int, int | None]:
    """Validate overrides ``{source frame: reference frame or None}`` (keys may be strings, as in JSON)."""
    if not isinstance(raw, Mapping):
        raise ParameterError(f"{where}: overrides must be a mapping of source frame -> reference frame or null, "
                             f"got {type(raw).__name__}")
    out: dict[int, int | None] = {}
    for key, value in raw.items():
        k = _frame_number(key)
        if k is None:
            raise ParameterError(f"{where}: override key {key!r} is not a source frame number")
        if value is None:
            out[k] = None
            continue
        v = _frame_number(value)
        if v is None:
            raise ParameterError(f"{where}: override {key!r}: {value!r} is not a reference frame number or null")
        out[k] = v
    return out


def _frame_number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def load_pairs(path: str | os.PathLike) -> PairManifest:
    """Read a pair manifest (a ``pairs.json`` or the folder holding it), upgrading older versions.

    Missing, unreadable or non-JSON files raise
    :class:`~core.errors.ImageReadError`, foreign or newer ones
    :class:`~core.errors.FormatError`, naming the file (and the line of a
    JSON syntax error, as after a bad hand edit of ``overrides``).
    """
    p = Path(path)
    if p.is_dir():
        p = p / FILE_NAME
    from core.io.jsonfile import read_json_object

    return PairManifest.from_dict(read_json_object(p, "reelkit pair manifest"), where=str(p))
