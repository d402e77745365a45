"""Learning-rate schedules: linear warm-up, then constant, cosine or step decay.

:func:`lr_factor` is a pure function of the step, so a resumed run follows
the same curve as an uninterrupted one (the trainer feeds it to
``torch.optim.lr_scheduler.LambdaLR``).
"""

from __future__ import annotations

import math

#: ``schedule.kind`` values.
SCHEDULES = ("constant", "cosine", "step")


def lr_factor(step: int, *, kind: str, steps: int, warmup_steps: int = 0, min_lr_ratio: float = 0.0,
              step_size: int = 1000, gamma: float = 0.5) -> float:
    """Multiplier of the peak learning rate for optimiser step ``step`` (0-based).

    Warm-up: ``(step + 1) / warmup_steps`` for the first ``warmup_steps``
    steps. Then ``constant``: 1; ``cosine``: from 1 down to
    ``min_lr_ratio`` at the last step (half a cosine period);
    ``step``: ``gamma ** (n // step_size)`` where ``n`` counts steps after
    the warm-up.

    >>> [round(lr_factor(s, kind="cosine", steps=10, warmup_steps=2), 3) for s in (0, 1, 2, 9)]
    [0.5, 1.0, 1.0, 0.0]
    >>> lr_factor(25, kind="step", steps=100, step_size=10, gamma=0.5)
    0.25
    """
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    n = step - warmup_steps
    if kind == "constant":
        return 1.0
    if kind == "cosine":
        span = max(1, steps - warmup_steps - 1)
        p = min(1.0, n / span)
        return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * p))
    if kind == "step":
        return gamma ** (n // max(1, step_size))
    raise ValueError(f"schedule: unknown kind {kind!r}")
