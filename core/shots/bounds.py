"""Shot starts from candidate cuts (0-based decode index, a minimum length for every shot), and cut scoring.

A *cut* ``c`` is the first frame of a new shot; a sequence of ``frames``
frames with cuts ``c1 < c2 < ...`` has the shots ``[0, c1)``, ``[c1, c2)``,
..., ``[ck, frames)``. Frame numbers are positions in decode order (the
0-based decode index of :mod:`core.io.video`), never frame numbers derived
from timestamps: a video whose first timestamp is not zero, or whose frame
rate varies, numbers its frames like any other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from core.errors import ParameterError


def shot_starts(cuts: Iterable[int] | Mapping[int, float], frames: int, *, min_length: int) -> list[int]:
    """The first frame of every shot, in order, always beginning with 0 (``[]`` when ``frames`` is 0).

    ``cuts`` are candidate cut positions (0-based decode index), or a
    mapping ``{position: strength}`` (a larger strength is a surer cut;
    plain positions all have the same strength). Every shot is kept at least
    ``min_length`` frames long, the first and the last included: candidates
    are taken strongest first (ties: the earlier), and one is dropped when
    it lies closer than ``min_length`` frames to frame 0, to the end or to a
    cut already taken. Candidates outside ``1 .. frames - 1`` are ignored.

    >>> shot_starts([1, 99, 155, 201], 270, min_length=15)
    [0, 99, 155, 201]
    >>> shot_starts({95: 0.7, 98: 1.1, 268: 1.0}, 270, min_length=4)
    [0, 98]
    """
    if min_length < 1:
        raise ParameterError(f"min_length {min_length}: must be at least 1")
    frames = int(frames)
    if frames <= 0:
        return []
    strength = {int(c): float(s) for c, s in cuts.items()} if isinstance(cuts, Mapping) \
        else {int(c): 0.0 for c in cuts}
    taken = [0]
    for c in sorted(strength, key=lambda c: (-strength[c], c)):
        if c < min_length or frames - c < min_length:
            continue
        if all(abs(c - t) >= min_length for t in taken):
            taken.append(c)
    return sorted(taken)


def cut_f1(found: list[int], truth: list[int], *, tolerance: int = 0) -> dict[str, float]:
    """Precision, recall and F1 of detected cut frames against the true ones (frame 0 excluded).

    A found cut matches an unmatched true cut within ``tolerance`` frames.
    """
    f = sorted(c for c in set(found) if c != 0)
    t = sorted(c for c in set(truth) if c != 0)
    unmatched = list(t)
    tp = 0
    for c in f:
        hit = next((u for u in unmatched if abs(u - c) <= tolerance), None)
        if hit is not None:
            unmatched.remove(hit)
            tp += 1
    precision = tp / len(f) if f else 1.0
    recall = tp / len(t) if t else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "found": len(f), "true": len(t)}
