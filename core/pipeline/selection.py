"""Choosing a few diverse training pairs per shot: damaged frames first, then seeded farthest-point sampling.

Within one shot, among the *eligible* pairs (the caller's choice: matched
or overridden, confident enough), the *preferred* ones (the caller's
choice: damaged frames, whose damage is what a restorer must learn) are
picked first, then the others fill what is left. Within each group the
first pick (of the first group that has any) is drawn with the seeded
generator among its most confident half; each next pick is the pair
farthest from everything picked so far, by

``distance = (1 - similarity of source signatures) + 0.5 * |frame gap| / shot length``

— different content first, then spread in time — among pairs at least
``min_spacing`` frames from every pick (so never adjacent frames with the
default 2). Ties go to the earlier frame. A shot with fewer eligible pairs
than asked gives what the spacing allows; nothing is ever padded.
Deterministic: the same inputs and seed give the same picks.
"""

from __future__ import annotations

import numpy as np

#: Weight of the temporal spread against content difference.
TIME_WEIGHT = 0.5


def select_pairs(rows: np.ndarray, sigs: np.ndarray, confidence: np.ndarray, *, count: int, min_spacing: int = 2,
                 seed: int = 0, shot: int = 0, prefer: np.ndarray | None = None) -> list[int]:
    """Pick up to ``count`` of the eligible ``rows`` (positions within a shot, sorted); returns them sorted.

    ``sigs`` / ``confidence`` / ``prefer`` (bool, optional) are indexed by
    position (whole sequence); ``shot`` decorrelates the seeded draw
    between shots.
    """
    rows = np.asarray(sorted(int(r) for r in rows), np.int64)
    if len(rows) == 0 or count <= 0:
        return []
    rng = np.random.default_rng([int(seed), int(shot)])
    span = max(1, int(rows[-1] - rows[0]) + 1)
    picks: list[int] = []
    groups = [rows] if prefer is None else [rows[prefer[rows]], rows]
    for group in groups:
        if len(group) and len(picks) < count:
            picks = _farthest(group, picks, sigs, confidence, count=count, min_spacing=min_spacing, span=span,
                              rng=rng)
    return sorted(picks)


def _farthest(rows: np.ndarray, picks: list[int], sigs: np.ndarray, confidence: np.ndarray, *, count: int,
              min_spacing: int, span: int, rng: np.random.Generator) -> list[int]:
    """Farthest-point picks from ``rows`` added to ``picks`` (the first drawn when there is none yet)."""
    picks = list(picks)
    if not picks:
        conf = np.nan_to_num(confidence[rows], nan=0.0)
        strong = rows[conf >= np.median(conf)]
        picks.append(int(strong[rng.integers(len(strong))]))
    feats = np.asarray(sigs[rows], np.float32)
    mind = np.full(len(rows), np.inf)
    for p in picks:
        mind = np.minimum(mind, _distance(feats, sigs, rows, p, span))
    while len(picks) < count:
        allowed = np.ones(len(rows), bool)
        for p in picks:
            allowed &= np.abs(rows - p) >= max(1, min_spacing)
        if not allowed.any():
            break
        score = np.where(allowed, mind, -np.inf)
        picks.append(int(rows[int(np.argmax(score))]))
        mind = np.minimum(mind, _distance(feats, sigs, rows, picks[-1], span))
    return picks


def _distance(feats: np.ndarray, sigs: np.ndarray, rows: np.ndarray, pick: int, span: int) -> np.ndarray:
    return (1.0 - feats @ np.asarray(sigs[pick], np.float32)) + TIME_WEIGHT * np.abs(rows - pick) / span
