"""Captions: schema-guided fields, a template, a pluggable captioner and a token-length check.

Schema (:data:`FIELDS`): ``character``, ``outfit``, ``materials``,
``lighting``, ``camera`` and ``final_caption``, which is made from the
others by the caption template (``{prefix}`` and the field names; empty
fields and the separators around them are dropped).

A captioner (:class:`Captioner`) fills the fields of one frame from its
record in the reviewed ``reelkit.clusters/1`` document (see
:mod:`core.dataset.cluster`) and its cluster. No vision-language model is
available offline, so the default, :class:`SchemaCaptioner`, fills them
from what the pipeline knows:

- tags of the form ``field:value`` (``outfit:red coat``) on the frame or
  its cluster go to that field; other tags go to ``character``;
- ``character`` also gets the cluster's name unless it is a default name
  (``cluster_007``, ``cluster 9`` for a cluster split in review, ``noise``);
- ``lighting`` gets a measured description when no tag gives one (low-key
  below a mean display luma of 0.3, high-key above 0.65, else even);
- ``camera`` gets the frame's orientation (wide / portrait / square frame);
- caption fields set in review (``frame["caption"]``) win over all of it.

Token counting (:func:`count_tokens`): CLIP's tokenizer is not installed
here, so tokens are counted as words and punctuation marks (the regex
``\\w+|[^\\w\\s]``). CLIP's byte-pair encoding never makes fewer tokens than
that (every word is at least one token, every punctuation mark one), so the
count is a lower bound; the limit of 77 is CLIP's context length. Captions
with fewer than ``min_tokens`` are flagged ``short``; longer than
``max_tokens`` are cut at a token boundary and flagged ``truncated``.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from core.errors import ParameterError

FIELDS = ("character", "outfit", "materials", "lighting", "camera", "final_caption")
INPUT_FIELDS = FIELDS[:-1]
_TOKEN = re.compile(r"\w+|[^\w\s]")
_DEFAULT_NAME = re.compile(r"^(cluster[ _]\d+|noise)$")


def count_tokens(text: str) -> int:
    """Words and punctuation marks of ``text`` (a lower bound of CLIP BPE tokens; see the module doc).

    >>> count_tokens("rkfilm, a woman in a red coat.")
    9
    """
    return len(_TOKEN.findall(text))


def truncate_tokens(text: str, limit: int) -> str:
    """``text`` cut after its ``limit``-th token (trailing separators removed)."""
    matches = list(_TOKEN.finditer(text))
    if len(matches) <= limit:
        return text
    return text[: matches[limit - 1].end()].rstrip(" ,;:")


def check_template(template: str) -> None:
    """Raise :class:`ParameterError` if ``template`` names anything but ``prefix`` and the fields."""
    allowed = {"prefix", *INPUT_FIELDS}
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ParameterError(f"caption_template {template!r}: {exc}") from None
    bad = sorted(names - allowed)
    if bad:
        raise ParameterError(f"caption_template: unknown field(s) {', '.join(bad)}; "
                             f"known: prefix, {', '.join(INPUT_FIELDS)}")


def render(template: str, fields: Mapping[str, str], prefix: str = "") -> str:
    """Fill ``template``; empty fields and the ``", "`` separators around them are dropped.

    ``{prefix}`` puts ``prefix`` (its trailing comma and spaces normalised to
    ``", "``) before the rest of the caption.

    >>> render("{prefix}{character}, {outfit}, {lighting}", {"character": "", "outfit": "red coat"}, "rkfilm,")
    'rkfilm, red coat'
    """
    check_template(template)
    body = template.replace("{prefix}", "").format(
        **{k: (fields.get(k) or "").strip() or "\x00" for k in INPUT_FIELDS})
    parts = [p.replace("\x00", "").strip() for p in re.split(r"\s*,\s*", body)]
    text = re.sub(r"\s+", " ", ", ".join(p for p in parts if p)).strip()
    lead = prefix.strip().rstrip(",").strip()
    if "{prefix}" in template and lead:
        text = f"{lead}, {text}" if text else lead
    return text


@runtime_checkable
class Captioner(Protocol):
    """Fills the schema fields (not ``final_caption``) of one frame."""

    key: str

    def fields(self, frame: Mapping[str, Any], cluster: Mapping[str, Any]) -> dict[str, str]:
        ...


def _orientation(frame: Mapping[str, Any]) -> str:
    w, h = frame.get("width") or 0, frame.get("height") or 0
    if not w or not h:
        return ""
    ratio = w / h
    return "wide frame" if ratio > 1.2 else "portrait frame" if ratio < 0.83 else "square frame"


def _lighting(frame: Mapping[str, Any]) -> str:
    luma = (frame.get("quality") or {}).get("mean_luma")
    if luma is None:
        return ""
    return "low-key lighting" if luma < 0.3 else "high-key lighting" if luma > 0.65 else "even lighting"


class SchemaCaptioner:
    """The default captioner: cluster names, tags and measures (see the module doc)."""

    key = "schema/1"

    def fields(self, frame: Mapping[str, Any], cluster: Mapping[str, Any]) -> dict[str, str]:
        out: dict[str, list[str]] = {k: [] for k in INPUT_FIELDS}
        name = str(cluster.get("name") or "")
        if name and not _DEFAULT_NAME.match(name):
            out["character"].append(name.replace("_", " "))
        for tag in [*(cluster.get("tags") or []), *(frame.get("tags") or [])]:
            key, sep, value = str(tag).partition(":")
            if sep and key.strip() in out:
                out[key.strip()].append(value.strip())
            elif str(tag).strip():
                out["character"].append(str(tag).strip())
        if not out["lighting"]:
            out["lighting"].append(_lighting(frame))
        if not out["camera"]:
            out["camera"].append(_orientation(frame))
        fields = {k: ", ".join(dict.fromkeys(v for v in vals if v)) for k, vals in out.items()}
        for k, v in (frame.get("caption") or {}).items():
            if k in INPUT_FIELDS and v is not None:
                fields[k] = str(v)
        return fields


CAPTIONERS = {"schema": SchemaCaptioner}


def make_captioner(name: str = "schema") -> Captioner:
    if name not in CAPTIONERS:
        raise ParameterError(f"captioner {name!r}: expected one of {', '.join(CAPTIONERS)}")
    return CAPTIONERS[name]()


def caption_frame(frame: Mapping[str, Any], cluster: Mapping[str, Any], captioner: Captioner, *,
                  template: str, prefix: str = "", min_tokens: int = 40, max_tokens: int = 77) -> dict[str, Any]:
    """All schema fields of one frame, ``final_caption`` rendered and checked: plus ``tokens`` and ``flags``."""
    fields = {k: str(v) for k, v in captioner.fields(frame, cluster).items() if k in INPUT_FIELDS}
    final = (frame.get("caption") or {}).get("final_caption") or render(template, fields, prefix)
    flags = []
    if count_tokens(final) > max_tokens:
        final = truncate_tokens(final, max_tokens)
        flags.append("truncated")
    tokens = count_tokens(final)
    if tokens < min_tokens:
        flags.append("short")
    return {**{k: fields.get(k, "") for k in INPUT_FIELDS}, "final_caption": final, "tokens": tokens,
            "flags": flags}
