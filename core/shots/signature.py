"""The ``signature`` cut detector: hard cuts in a sequence, from its frame signatures.

A cut is placed before frame ``i`` when three things hold:

1. the signature distance to frame ``i - 1``, ``d = 1 - similarity`` (0 for
   the same picture, about 1 for unrelated pictures,
   :mod:`core.pipeline.signatures`), is at least ``threshold``;
2. ``d`` is at least :data:`LOCAL_RATIO` times the median distance of the
   frames around it (``±8``), so fast motion inside a shot does not cut it;
3. the change lasts: every one of the :data:`SPAN` frames before ``i`` is at
   least ``threshold`` away from every one of the :data:`SPAN` frames from
   ``i`` on (the *across* distance). A damaged frame (a digital dropout, a
   torn or blocky frame, a flash), or two in a row, differs from both
   neighbours while the pictures on either side of it are the same shot: it
   is not a cut, and it no longer hides a real cut a few frames later.

Every shot, the first and the last included, is at least ``min_length``
frames long; of two cuts closer than that, the one with the larger across
distance is kept (:func:`core.shots.bounds.shot_starts`). Two flat frames in a row
(black, white) have distance 0: a fade to black and back is one cut in, one
cut out. Dissolves and wipes are not detected (they are not cuts); the
selection treats them as part of a shot. Frame positions are rows of the
signature array: the 0-based decode index for a video.
"""

from __future__ import annotations

import numpy as np

from core.shots.bounds import shot_starts

#: A cut's distance must also exceed this multiple of the local median distance.
LOCAL_RATIO = 2.5
#: Half-width (frames) of the local window.
LOCAL_HALF_WINDOW = 8
#: Frames on each side of a cut compared by the across distance (damage runs up to SPAN - 1 frames are no cut).
SPAN = 3


def frame_distances(sigs: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """``d[i] = 1 - sigs[i] . sigs[i - 1]`` (``d[0] = 0``); 0 between two flat frames."""
    n = len(sigs)
    d = np.zeros(n)
    for start in range(1, n, 1024):
        end = min(n, start + 1024)
        a = np.asarray(sigs[start:end], np.float32)
        b = np.asarray(sigs[start - 1:end - 1], np.float32)
        d[start:end] = 1.0 - np.einsum("nd,nd->n", a, b)
    if n > 1:
        d[1:][flat[1:] & flat[:-1]] = 0.0
    return np.clip(d, 0.0, 2.0)


def across_distance(sigs: np.ndarray, flat: np.ndarray, i: int, *, span: int = SPAN) -> float:
    """The smallest distance between one of the ``span`` frames before ``i`` and one of the ``span`` from ``i`` on.

    Frames past either end of the sequence are left out; two flat frames
    are at distance 0, as in :func:`frame_distances`.
    """
    lo, hi = max(0, i - span), min(len(sigs), i + span)
    before = np.asarray(sigs[lo:i], np.float32)
    after = np.asarray(sigs[i:hi], np.float32)
    d = 1.0 - before @ after.T
    d[np.outer(flat[lo:i], flat[i:hi])] = 0.0
    return float(np.clip(d, 0.0, 2.0).min())


def signature_cuts(sigs: np.ndarray, flat: np.ndarray, *, threshold: float = 0.6, min_length: int = 4) -> list[int]:
    """Rows ``i`` (0-based positions) where a new shot starts, always beginning with 0 (see the module docstring).

    ``sigs``: ``(n, d)`` unit signatures (:func:`core.pipeline.signatures.signatures`, any float dtype);
    ``flat``: ``(n,)`` bool, frames without content.
    """
    n = len(sigs)
    d = frame_distances(sigs, flat)
    candidates: dict[int, float] = {}
    for i in range(1, n):
        if d[i] < threshold:
            continue
        around = np.concatenate([d[max(1, i - LOCAL_HALF_WINDOW):i], d[i + 1:i + 1 + LOCAL_HALF_WINDOW]])
        local = float(np.median(around)) if len(around) else 0.0
        if d[i] < LOCAL_RATIO * local:
            continue
        across = across_distance(sigs, flat, i)
        if across >= threshold:
            candidates[i] = across
    return shot_starts(candidates, n, min_length=min_length)
