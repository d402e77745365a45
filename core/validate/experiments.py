"""``notes/experiments.md``: one appended section per run (parameters, seeds, results table)."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

HEADER = "# Experiments\n\nOne section per run, appended automatically by reelkit (newest last).\n"


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return "–" if not math.isfinite(v) else (f"{v:.4f}" if abs(v) < 100 else f"{v:.2f}")
    return str(v).replace("|", "\\|").replace("\n", " ")


def _results_table(results) -> list[str]:
    """Markdown table of ``{method: {metric: value}}`` or of a list of row dicts."""
    if isinstance(results, Mapping):
        rows = [{"method": m, **dict(v)} for m, v in results.items()] if all(
            isinstance(v, Mapping) for v in results.values()) else [dict(results)]
    else:
        rows = [dict(r) for r in results]
    if not rows:
        return ["(no results)"]
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_cell(r.get(c, "")) for c in cols) + " |" for r in rows]
    return lines


def append_experiment(notes_md_path: str | os.PathLike, *, title: str, params: Mapping[str, Any],
                      results: Mapping[str, Any] | Sequence[Mapping[str, Any]], when: str | None = None) -> Path:
    """Append one run to ``notes_md_path`` (created with a header if missing), atomically; returns the path.

    ``params``: what the run used (seeds included: name them ``seed`` or
    ``*_seed``); ``results``: ``{method: {metric: value}}`` (e.g.
    :attr:`ValidationResult.summary <core.validate.ValidationResult>`) or
    a list of row mappings. ``when``: timestamp text (default: now, local).
    """
    from core.io.atomic import write_text_atomic

    path = Path(notes_md_path)
    old = path.read_text("utf-8") if path.is_file() else HEADER
    stamp = when or time.strftime("%Y-%m-%d %H:%M:%S%z")
    seeds = {k: v for k, v in params.items() if k == "seed" or k.endswith("_seed")}
    lines = ["", f"## {stamp} — {title}", ""]
    if seeds:
        lines += ["Seeds: " + ", ".join(f"`{k}={v}`" for k, v in seeds.items()), ""]
    lines += ["Parameters:", ""] + [f"- `{k}`: `{_cell(v)}`" for k, v in params.items()] + ["", "Results:", ""]
    lines += _results_table(results) + [""]
    text = old.rstrip("\n") + "\n" + "\n".join(lines)
    return write_text_atomic(path, text, overwrite=True)
