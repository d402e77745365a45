"""Shots: what every shot detector shares.

:func:`~core.shots.bounds.shot_starts` turns a detector's candidate cuts
into shots: frame numbers are the 0-based decode index of
:mod:`core.io.video` (frame 0 is the first decoded frame, whatever the
container's timestamps say), every shot, the first and the last included,
is at least ``min_length`` frames long. The detectors are
:func:`core.pipeline.shots.detect_cuts` (frame signatures, the restoration
project's curation stage) and :func:`core.dataset.shots.detect_cuts`
(PySceneDetect and TransNetV2, the dataset builder).
"""

from core.shots.bounds import shot_starts

__all__ = ["shot_starts"]
