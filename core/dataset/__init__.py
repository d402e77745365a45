"""Dataset builder: footage -> shots -> frames -> quality filter -> embeddings -> dedup -> clusters ->
(review) -> captions -> a training set with a train/val split by shot.

The entry point is :func:`run_dataset` (see :mod:`core.dataset.builder`);
every parameter is in :data:`DATASET_PARAMS`. Heavy dependencies (the
``dataset`` extra) are imported only when a stage runs.
"""

from __future__ import annotations

from core.dataset.params import DATASET_PARAMS, STAGE_PARAMS, STAGES

__all__ = ["DATASET_PARAMS", "STAGE_PARAMS", "STAGES", "dataset_status", "run_dataset"]


def run_dataset(*args, **kwargs):
    """See :func:`core.dataset.builder.run_dataset`."""
    from core.dataset.builder import run_dataset as run

    return run(*args, **kwargs)


def dataset_status(*args, **kwargs):
    """See :func:`core.dataset.builder.dataset_status`."""
    from core.dataset.builder import dataset_status as status

    return status(*args, **kwargs)
