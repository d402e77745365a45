"""Shot boundaries (hard cuts) in a sequence, from its frame signatures.

A cut is placed before frame ``i`` when the signature distance to frame
``i - 1``, ``d = 1 - similarity`` (0 for the same picture, about 1 for
unrelated pictures, :mod:`core.pipeline.signatures`), is at least
``threshold`` *and* at least :data:`LOCAL_RATIO` times the median distance
of the frames around it (``±8``), so fast motion inside a shot does not
cut it. Cuts closer than ``min_length`` frames to the previous one are
ignored (flash frames, single-frame glitches). Two flat frames in a row
(black, white) have distance 0: a fade to black and back is one cut in,
one cut out. Dissolves and wipes are not detected (they are not cuts);
the selection treats them as part of a shot.
"""

from __future__ import annotations

import numpy as np

#: A cut's distance must also exceed this multiple of the local median distance.
LOCAL_RATIO = 2.5
#: Half-width (frames) of the local window.
LOCAL_HALF_WINDOW = 8


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


def detect_cuts(sigs: np.ndarray, flat: np.ndarray, *, threshold: float = 0.6, min_length: int = 4) -> list[int]:
    """Indices ``i`` (0-based positions) where a new shot starts, always beginning with 0."""
    n = len(sigs)
    if n == 0:
        return []
    d = frame_distances(sigs, flat)
    cuts = [0]
    for i in range(1, n):
        if d[i] < threshold:
            continue
        around = np.concatenate([d[max(1, i - LOCAL_HALF_WINDOW):i], d[i + 1:i + 1 + LOCAL_HALF_WINDOW]])
        local = float(np.median(around)) if len(around) else 0.0
        if d[i] < LOCAL_RATIO * local:
            continue
        if i - cuts[-1] < min_length:
            continue
        cuts.append(i)
    return cuts
