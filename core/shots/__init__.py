"""Shot detection: every cut detector, and what they share.

Methods, by name (:data:`METHODS`: name -> what the method reads):

``signature``
    :func:`~core.shots.signature.signature_cuts`: cuts from per-frame
    content signatures (``(n, d)`` unit vectors and ``flat`` flags); the
    restoration project's curation stage, which computes them anyway for
    frame matching.
``adaptive``, ``content``, ``threshold``, ``transnetv2``
    :func:`~core.shots.video.detect_cuts`: cuts of a video file, through
    PySceneDetect's detectors or TransNetV2 (:data:`~core.shots.video.DETECTORS`);
    :func:`~core.shots.video.detect_shots` turns them into :class:`Shot` s.
    The dataset builder.

Every method ends in :func:`~core.shots.bounds.shot_starts`, which turns
candidate cuts into shots: frame numbers are the 0-based decode index of
:mod:`core.io.video` (frame 0 is the first decoded frame, whatever the
container's timestamps say), and every shot, the first and the last
included, is at least ``min_length`` frames long.
:func:`~core.shots.bounds.cut_f1` scores found cuts against true ones.

Importing this package costs numpy only; PySceneDetect, OpenCV and torch
are imported by the functions that use them.
"""

from core.shots.bounds import cut_f1, shot_starts
from core.shots.signature import signature_cuts
from core.shots.video import DETECTORS, Shot, detect_cuts, detect_shots

#: Every cut detector: name -> what it reads ("signatures" or "video").
METHODS = {"signature": "signatures", **{name: "video" for name in DETECTORS}}

__all__ = ["DETECTORS", "METHODS", "Shot", "cut_f1", "detect_cuts", "detect_shots", "shot_starts", "signature_cuts"]
