"""The restoration pipeline's stages (DESIGN.md, "Restoration pipeline (5 stages)").

A project folder holds one folder per stage: ``pipeline/01_dataset_curation/``
(pair manifest: degraded source + reference, frame matching),
``02_alignment/``, ``03_training/``, ``04_inference_render/``,
``05_validation/``.

Stage 1, dataset curation (:mod:`core.pipeline.curation`):
:func:`build_pairs` matches a degraded source to a reference of the same
film and writes the ``reelkit.pairs/1`` pair manifest
(:mod:`core.pairs`: :class:`~core.pairs.PairManifest`, :func:`~core.pairs.load_pairs`;
it sits below this package so that :mod:`core.train` reads it too).
Its parts: :mod:`~core.pipeline.sources` (inputs),
:mod:`~core.pipeline.signatures` (per-frame signatures),
:mod:`~core.pipeline.matching` (rate, offset, banded alignment),
:func:`core.shots.signature_cuts` (cuts), :mod:`~core.pipeline.selection`
(diverse pairs per shot).

The project (:mod:`core.pipeline.project`): :func:`init_project` creates
the folder and ``project.json``, :func:`run_project` runs the five stages
in order (stage 2 :func:`core.align.align_files` on stage 1's frame table,
stage 3 :func:`core.train.train`, stage 4 :func:`core.infer.infer_files`,
stage 5 :func:`core.validate.run_validation`), resuming and skipping what
is done, and :func:`project_status` says where each stage stands.

Importing this package costs numpy only; OpenCV, scipy and the image
readers are imported by the functions that use them.
"""

from core.pipeline.curation import PAIRS_PARAMS, build_pairs, contact_sheet
from core.pipeline.project import (
    STAGES,
    Project,
    StageError,
    StageStatus,
    init_project,
    load_project,
    project_status,
    run_project,
)

__all__ = [
    "PAIRS_PARAMS", "STAGES", "Project", "StageError", "StageStatus", "build_pairs", "contact_sheet", "init_project",
    "load_project", "project_status", "run_project",
]
