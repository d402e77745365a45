"""Which frames to take from each shot, and writing them out.

Modes (``mode=``):

``scene``     ``budget`` frames spread evenly over every shot (a 10-frame shot and a 2-minute shot
              both give up to ``budget``).
``interval``  one frame every ``interval`` seconds of the video's own clock, at most ``budget`` per
              shot (thinned evenly); a shot shorter than the interval may give none.
``hybrid``    the middle frame of every shot plus the interval frames, at most ``budget`` per shot:
              long shots are sampled by time and no shot is lost.

``margin`` frames next to each cut are skipped (dissolves, the cut's motion
blur, the encoder settling) unless the shot is too short to have any left.

Frames are written as 8-bit sRGB-encoded PNGs (display images, as the
video holds them): ``<frames_dir>/<video id>/<video id>_f<frame:06d>.png``.
Each written frame gets a record with its content hash (sha256 of the
decoded 8-bit pixels and their shape), the key of the embedding cache and
of exact deduplication.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from core.dataset.params import EXTRACT_MODES
from core.shots import Shot
from core.errors import ParameterError
from core.jobs import ProgressFn


def thin(frames: list[int], budget: int) -> list[int]:
    """At most ``budget`` of the sorted ``frames``, spread evenly (first and last kept)."""
    if len(frames) <= budget:
        return list(frames)
    if budget == 1:
        return [frames[len(frames) // 2]]
    idx = np.rint(np.linspace(0, len(frames) - 1, budget)).astype(int)
    return [frames[i] for i in sorted(set(idx.tolist()))]


def plan_shot(shot: Shot, *, mode: str = "hybrid", interval: float = 1.0, budget: int = 8,
              margin: int = 2) -> list[int]:
    """Frame numbers (0-based, sorted, unique) to take from ``shot``; never more than ``budget``."""
    if mode not in EXTRACT_MODES:
        raise ParameterError(f"extract mode {mode!r}: expected one of {', '.join(EXTRACT_MODES)}")
    if budget < 1:
        raise ParameterError(f"per-shot budget {budget}: must be at least 1")
    start, end = shot.start, shot.end
    if end - start > 2 * margin:
        start, end = start + margin, end - margin
    length = end - start
    if length <= 0:
        return []
    middle = start + length // 2
    if mode == "scene":
        k = min(budget, length)
        return sorted({start + int((i + 0.5) * length / k) for i in range(k)})
    step = max(1, int(round(interval * (shot.fps if shot.fps > 0 else 24.0))))
    first = -(-start // step) * step  # the first multiple of step at or after start
    timed = list(range(first, end, step))
    if mode == "interval":
        return thin(timed, budget)
    if budget == 1 or not timed:
        return [middle]
    others = thin([f for f in timed if f != middle], budget - 1)
    return sorted({middle, *others})


def content_hash(pixels: np.ndarray) -> str:
    """sha256 of an 8-bit image's shape and bytes: equal for identical pictures, whatever the file."""
    arr = np.ascontiguousarray(pixels)
    h = hashlib.sha256(f"{arr.shape}|{arr.dtype}".encode())
    h.update(arr.tobytes())
    return h.hexdigest()


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    """``float32`` 0..1 display values -> ``uint8`` ``HW3`` (grey becomes RGB, alpha is dropped)."""
    px = np.asarray(pixels)
    if px.ndim == 2:
        px = px[..., None]
    if px.shape[2] == 1:
        px = np.repeat(px, 3, axis=2)
    return np.rint(np.clip(px[..., :3], 0.0, 1.0) * 255.0).astype(np.uint8)


def frame_id(video_id: str, frame: int) -> str:
    return f"{video_id}_f{frame:06d}"


def frame_file(frames_dir: str | os.PathLike, video_id: str, frame: int) -> Path:
    """Where :func:`extract_frames` writes frame ``frame`` of video ``video_id``: ``FRAMES_DIR/<video>/<id>.png``."""
    return Path(frames_dir) / video_id / f"{frame_id(video_id, frame)}.png"


def extract_frames(video: str | os.PathLike, shots: Iterable[Shot], plan: dict[str, list[int]], *,
                   frames_dir: str | os.PathLike, root: str | os.PathLike | None = None,
                   progress: ProgressFn | None = None,
                   colorspace: str | None = None) -> list[dict[str, Any]]:
    """Decode ``video`` once and write the planned frames; returns one record per frame.

    ``plan`` maps shot ids to frame numbers (:func:`plan_shot`). Record
    fields: ``id``, ``video``, ``shot``, ``frame``, ``time`` (s), ``path``
    (relative to ``root``, default ``frames_dir``'s parent), ``width``,
    ``height``, ``sha256`` (:func:`content_hash`), ``from`` (the colour
    space the video was read in: ``colorspace`` when given, else
    :mod:`core.io`'s rule, srgb). Frames are written as 8-bit sRGB PNGs,
    converted when read in another space. Existing files are replaced (the
    stage runner decides whether that is allowed).
    """
    from core import color, io

    shots = list(shots)
    by_frame = {f: s for s in shots for f in plan.get(s.shot_id, [])}
    wanted = sorted(by_frame)
    if not wanted:
        return []
    folder = Path(frames_dir)
    base = Path(root) if root is not None else folder.parent
    records = []
    for i, frame in enumerate(io.iter_video_frames(video, wanted, colorspace=colorspace)):
        shot = by_frame[frame.frame]
        source_space = frame.colorspace
        if source_space != "srgb":
            frame = color.convert_frame(frame, "srgb")
        pixels = to_uint8(frame.pixels)
        fid = frame_id(shot.video, frame.frame)
        path = frame_file(folder, shot.video, frame.frame)
        io.write_image(path, pixels.astype(np.float32) / 255.0, colorspace="srgb", bit_depth=8, overwrite=True)
        records.append({
            "id": fid, "video": shot.video, "shot": shot.shot_id, "frame": int(frame.frame),
            "time": round(frame.frame / shot.fps, 4) if shot.fps > 0 else None,
            "path": os.path.relpath(path, base).replace(os.sep, "/"),
            "width": int(pixels.shape[1]), "height": int(pixels.shape[0]), "sha256": content_hash(pixels),
            "from": source_space,
        })
        if progress is not None:
            progress(i + 1, len(wanted))
    return records


def read_uint8(path: str | os.PathLike) -> np.ndarray:
    """An extracted frame as ``uint8`` ``HW3`` RGB (sRGB-encoded)."""
    import cv2

    from core.errors import ImageReadError

    bgr = cv2.imread(os.fspath(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ImageReadError(f"{path}: cannot read the extracted frame")
    return np.ascontiguousarray(bgr[..., ::-1])
