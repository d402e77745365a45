"""Choosing a few diverse training pairs per shot: seeded farthest-point sampling.

Within one shot, among the *eligible* pairs (the caller's choice: matched
or overridden, confident enough), the first pick is drawn with the seeded
generator among the most confident half; each next pick is the eligible
pair farthest from everything picked so far, by

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
                 seed: int = 0, shot: int = 0) -> list[int]:
    """Pick up to ``count`` of the eligible ``rows`` (positions within a shot, sorted); returns them sorted.

    ``sigs`` / ``confidence`` are indexed by position (whole sequence);
    ``shot`` decorrelates the seeded draw between shots.
    """
    rows = np.asarray(sorted(int(r) for r in rows), np.int64)
    if len(rows) == 0 or count <= 0:
        return []
    rng = np.random.default_rng([int(seed), int(shot)])
    conf = np.nan_to_num(confidence[rows], nan=0.0)
    strong = rows[conf >= np.median(conf)]
    picks = [int(strong[rng.integers(len(strong))])]
    span = max(1, int(rows[-1] - rows[0]) + 1)
    feats = np.asarray(sigs[rows], np.float32)
    mind = np.full(len(rows), np.inf)
    while len(picks) < count:
        last = picks[-1]
        d = (1.0 - feats @ np.asarray(sigs[last], np.float32)) + TIME_WEIGHT * np.abs(rows - last) / span
        mind = np.minimum(mind, d)
        allowed = np.ones(len(rows), bool)
        for p in picks:
            allowed &= np.abs(rows - p) >= max(1, min_spacing)
        if not allowed.any():
            break
        score = np.where(allowed, mind, -np.inf)
        picks.append(int(rows[int(np.argmax(score))]))
    return sorted(picks)
