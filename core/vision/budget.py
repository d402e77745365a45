"""The memory budget of a pass: refuse to start above a share of the machine's RAM instead of swapping.

A pass's working set is estimated before its first frame from the frame's
size (float32 arrays a frame in flight holds, per pass: :data:`ARRAYS`)
plus, for a learned pass, the model's bytes twice (the file and
onnxruntime's copy) and its input and output tensors. Above ``share`` of
the physical RAM (default :data:`DEFAULT_SHARE`) the pass refuses with one
line naming the frame, the estimate and the budget.
"""

from __future__ import annotations

import os

from core.errors import OutOfMemoryError, ParameterError

#: Default share of the physical RAM a pass may plan to use.
DEFAULT_SHARE = 0.15
#: Frame-sized float32 single-channel arrays a frame in flight holds, per pass (counted from the code: the
#: working image and its flow codes, the 2x2 flows and their checks for the flow; the guide, the 3x3 covariance
#: terms and coefficients for the matte's guided filter).
ARRAYS = {"flow": 24, "saliency": 8, "matte": 40, "depth": 8}


def total_ram() -> int:
    """Physical memory of this machine in bytes."""
    return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))


def estimate(pass_name: str, height: int, width: int, *, extra: int = 0) -> int:
    """Bytes a ``pass_name`` pass plans to hold for one ``width`` x ``height`` frame, plus ``extra``."""
    return ARRAYS[pass_name] * 4 * int(height) * int(width) + int(extra)


def check_budget(need: int, *, share: float = DEFAULT_SHARE, what: str) -> None:
    """Refuse (:class:`~core.errors.OutOfMemoryError`, one line naming ``what``) when ``need`` bytes exceed
    ``share`` of the physical RAM."""
    if not 0.0 < share <= 1.0:
        raise ParameterError(f"memory_share {share!r}: expected a share of the RAM in (0, 1]")
    budget = share * total_ram()
    if need > budget:
        raise OutOfMemoryError(f"{what}: needs about {need / 2**30:.2f} GiB, above the budget of "
                               f"{budget / 2**30:.2f} GiB ({share:.0%} of {total_ram() / 2**30:.1f} GiB RAM): "
                               "raise memory_share or use a smaller frame")
