"""Who won a validation, and what to recommend: the rule, applied to a summary table.

The rule (:func:`decide`), on the mean metrics of the scored frames
(``{method: {metric: mean}}``, as :func:`core.validate.run_validation`
aggregates them, with ``kinds`` saying which method is the ``source``, a
``baseline`` or a ``candidate``):

1. **Contenders** are the baselines and candidates with a finite mean PSNR.
2. **Flicker flag**: a contender whose mean flicker exceeds the source's
   by more than :data:`FLICKER_RATIO` *and* by more than
   :data:`FLICKER_FLOOR` stops (``flicker > max(FLICKER_RATIO * f_source,
   f_source + FLICKER_FLOOR)``) is flagged: it makes the picture pump more
   than the damaged source does. Without a finite source flicker (a still,
   one frame per shot) nothing is flagged.
3. **Winner**: the contender with the highest mean PSNR (ties: the first
   in table order). **Margin**: its PSNR minus that of the best contender
   of the other kind (a candidate against the best baseline, a baseline
   against the best candidate); with only one kind, against the runner-up.
4. **Recommended**: the winner; but a flagged winner gives way to the
   best contender that is not flagged when that one is within
   :data:`FLICKER_TRADE_DB` dB PSNR of it (a small gain is not worth
   pumping; a large one is, and the line says to check the flicker). If
   the method so chosen does not beat the source's PSNR: ``source`` (leave
   the footage as it is).

SSIM, ΔE2000 and flicker are reported beside PSNR for the winner and the
method it is compared with; they do not change the ranking.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

#: A contender is flagged when its mean flicker exceeds the source's by more than this factor ...
FLICKER_RATIO = 1.25
#: ... and by more than this many stops (a floor for nearly steady sources).
FLICKER_FLOOR = 0.002
#: A flagged winner is recommended only when it beats every method not flagged by more than this (dB PSNR).
FLICKER_TRADE_DB = 1.0
RULE = (f"winner: the baseline or candidate with the best mean PSNR over the scored frames; flagged: mean "
        f"flicker above max({FLICKER_RATIO:g} x the source's, the source's + {FLICKER_FLOOR:g} stops); "
        f"recommended: the winner, or if it is flagged the best method not flagged when within "
        f"{FLICKER_TRADE_DB:g} dB of it, provided it beats the source")


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def flicker_limit(source_flicker: float) -> float:
    """The mean flicker (stops) above which a method is flagged, for a source with ``source_flicker``."""
    return max(FLICKER_RATIO * source_flicker, source_flicker + FLICKER_FLOOR)


def decide(summary: Mapping[str, Mapping[str, float]], kinds: Mapping[str, str], *,
           frames: int | None = None, scope: str = "all frames") -> dict[str, Any]:
    """Apply the rule (module docstring) to ``summary``; returns a JSON-friendly verdict.

    Keys: ``rule``, ``scope`` (what was scored, e.g. ``"all frames"``,
    ``"damaged frames"``), ``frames`` (how many, when given), ``winner``,
    ``winner_kind``, ``versus`` (the method the margin is measured
    against) and ``margin_db``, ``flagged`` (method -> reason),
    ``recommend`` and ``line``: one sentence for people. ``winner`` is
    ``None`` when no baseline or candidate was scored.
    """
    src = summary.get("source", {})
    src_psnr, src_flicker = src.get("psnr"), src.get("flicker")
    contenders = [m for m in summary if kinds.get(m) in ("baseline", "candidate") and _finite(summary[m].get("psnr"))]
    flagged: dict[str, str] = {}
    if _finite(src_flicker):
        limit = flicker_limit(src_flicker)
        for m in contenders:
            f = summary[m].get("flicker")
            if _finite(f) and f > limit:
                ratio = f"{f / src_flicker:.1f}x" if src_flicker > 0 else "above"
                flagged[m] = f"flicker {f:.4f} stops, {ratio} the source's {src_flicker:.4f}"
    out: dict[str, Any] = {"rule": RULE, "scope": scope, "frames": frames, "winner": None, "winner_kind": None,
                           "versus": None, "margin_db": None, "flagged": flagged, "recommend": "source"}
    if not contenders:
        out["line"] = f"{_scope(scope, frames)}: no baseline or candidate was scored."
        return out
    ranked = sorted(contenders, key=lambda m: -summary[m]["psnr"])  # stable: ties keep table order
    winner = ranked[0]
    kind = kinds[winner]
    other = [m for m in ranked if kinds[m] != kind]
    versus = other[0] if other else (ranked[1] if len(ranked) > 1 else None)
    margin = None if versus is None else summary[winner]["psnr"] - summary[versus]["psnr"]
    steady = [m for m in ranked if m not in flagged]
    pick = winner
    if winner in flagged and steady and summary[winner]["psnr"] - summary[steady[0]]["psnr"] <= FLICKER_TRADE_DB:
        pick = steady[0]
    recommend = pick if not _finite(src_psnr) or summary[pick]["psnr"] > src_psnr else "source"
    out.update(winner=winner, winner_kind=kind, versus=versus, margin_db=margin, recommend=recommend)
    out["line"] = _line(summary, kinds, out, scope, frames)
    return out


def _scope(scope: str, frames: int | None) -> str:
    return scope if frames is None else f"{scope} ({frames})"


def _psnr(summary, m) -> str:
    return f"{summary[m]['psnr']:.2f} dB"


def _others(summary, a: str, b: str) -> str:
    """SSIM, ΔE2000 and flicker of ``a`` against ``b`` (those finite in both)."""
    parts = []
    for metric, label, fmt in (("ssim", "SSIM", "{:.4f}"), ("delta_e", "ΔE2000", "{:.3f}"),
                               ("flicker", "flicker", "{:.4f}")):
        va, vb = summary[a].get(metric), summary[b].get(metric)
        if _finite(va) and _finite(vb):
            parts.append(f"{label} {fmt.format(va)} vs {fmt.format(vb)}")
    return ", ".join(parts)


def _line(summary, kinds, v, scope: str, frames: int | None) -> str:
    w, versus, margin = v["winner"], v["versus"], v["margin_db"]
    head = f"{_scope(scope, frames)}: "
    if versus is not None and kinds[w] != kinds[versus]:
        head += (f"{kinds[w]} {w} wins with {_psnr(summary, w)} PSNR, {margin:+.2f} dB over {kinds[versus]} "
                 f"{versus} ({_psnr(summary, versus)})")
    elif versus is not None:
        head += f"{w} wins with {_psnr(summary, w)} PSNR, {margin:+.2f} dB over {versus} ({_psnr(summary, versus)})"
    else:
        head += f"{w} is the only method scored ({_psnr(summary, w)} PSNR)"
    if "source" in summary and _finite(summary["source"].get("psnr")):
        head += f"; the source has {_psnr(summary, 'source')}"
    detail = _others(summary, w, versus) if versus is not None else ""
    text = head + (f" [{detail}]" if detail else "") + "."
    flagged = v["flagged"]
    if flagged:
        text += " Flagged for flicker: " + "; ".join(f"{m} ({why})" for m, why in flagged.items()) + "."
    rec = v["recommend"]
    if rec == "source":
        text += " Recommended: keep the source (no method beats it)."
    elif rec in flagged:
        text += (f" Recommended: {rec} (more than {FLICKER_TRADE_DB:g} dB ahead of any steadier method; "
                 "check its flicker).")
    elif rec != w:
        text += (f" Recommended: {rec} ({_psnr(summary, rec)}: {w} gains {FLICKER_TRADE_DB:g} dB or less over it "
                 "and flickers).")
    else:
        text += f" Recommended: {rec}."
    return text
