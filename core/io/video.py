"""Video files as frames, through OpenCV's FFmpeg backend (imported lazily).

Frame numbers are the **0-based decode index**: the first decoded frame is
frame 0, the next one frame 1, and so on up to the first frame that cannot
be grabbed, as in OpenCV (``CAP_PROP_POS_FRAMES``). They never come from
timestamps: a video whose first timestamp is not zero (a stream copy cut
between key frames, an edit list) or whose frame rate varies is numbered
the same way. Every reader of video frames in reelkit counts like this,
through :func:`open_capture`. Frames are decoded in order (no seeking,
which is unreliable for many codecs); frames not asked for are grabbed
without being converted. Pixels are ``float32`` ``HWC`` RGB, 0..1,
display-encoded: colour space ``"srgb"`` with ``colorspace_source``
``"default"`` unless ``colorspace=`` states it (video is usually Rec.709 /
BT.1886 encoded; reelkit treats it as sRGB unless told).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from core.errors import ImageReadError, SequenceError
from core.frame import Frame
from core.io._common import DEFAULT_INTEGER_COLORSPACE, check_colorspace_arg, choose_colorspace, existing_file

#: File suffixes taken to be videos (lower case).
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".m4v", ".mxf", ".webm", ".mpg", ".mpeg", ".vob")


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video.

    ``frame_count`` comes from the container and can be approximate for
    some formats (variable frame rate, missing index); :func:`iter_video_frames`
    reports frames that turn out not to exist.
    """

    path: str
    frame_count: int
    fps: float
    width: int
    height: int
    codec: str


def open_capture(path: str | os.PathLike):
    """An OpenCV ``VideoCapture`` (FFmpeg backend) on ``path``, before frame 0 of the decode index.

    Its ``grab()`` calls number the frames: the k-th successful grab is
    frame ``k - 1``; the first failed grab ends the video.
    """
    import cv2

    path = os.fspath(path)
    cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    if not cap.isOpened():
        cap.release()
        raise ImageReadError(f"{path}: not a readable video (OpenCV/FFmpeg cannot open it)")
    return cap


def _fourcc(value: float) -> str:
    code = int(value)
    text = "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4))
    return text if text.isprintable() and text.strip() else str(code)


def video_info(path: str | os.PathLike) -> VideoInfo:
    """Frame count, frames per second, size and codec (FourCC) of a video file."""
    import cv2

    p = existing_file(path)
    cap = open_capture(p)
    try:
        info = VideoInfo(
            path=p,
            frame_count=max(int(round(cap.get(cv2.CAP_PROP_FRAME_COUNT))), 0),
            fps=float(cap.get(cv2.CAP_PROP_FPS)),
            width=int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            codec=_fourcc(cap.get(cv2.CAP_PROP_FOURCC)),
        )
    finally:
        cap.release()
    if info.width <= 0 or info.height <= 0:
        raise ImageReadError(f"{p}: video reports no frame size")
    return info


def iter_video_frames(path: str | os.PathLike, frames: Any = None, *, colorspace: str | None = None) -> Iterator[Frame]:
    """Decode a video one frame at a time (0-based frame numbers).

    ``frames``: ``None`` (every frame), a range string (``"0-99x2"``), an
    int, a :class:`~core.io.sequence.FrameRange` or ints. The file is opened
    when this is called (missing or unreadable files raise then); frames are
    decoded as the iterator is consumed and none is kept. If the video ends
    before a requested frame, :class:`~core.errors.SequenceError` names the
    missing frames after the last available one was yielded.
    """
    from core.io.sequence import as_frame_range, format_frames

    p = existing_file(path)
    wanted = None if frames is None else as_frame_range(frames)
    space, source = choose_colorspace(check_colorspace_arg(colorspace), None, DEFAULT_INTEGER_COLORSPACE)
    info = video_info(p)
    cap = open_capture(p)

    def generate() -> Iterator[Frame]:
        try:
            index = 0
            targets = None if wanted is None else iter(wanted)
            nxt = None if targets is None else next(targets)
            while True:
                if targets is not None and nxt is None:
                    return
                if not cap.grab():
                    break
                if targets is None or index == nxt:
                    ok, bgr = cap.retrieve()
                    if not ok or bgr is None:
                        raise ImageReadError(f"{p}: frame {index} could not be decoded")
                    if bgr.ndim == 2:
                        bgr = bgr[..., None]
                    rgb = bgr[..., ::-1] if bgr.shape[2] == 3 else bgr
                    scale = np.float32(255.0 if bgr.dtype == np.uint8 else 65535.0)
                    yield Frame(rgb.astype(np.float32) / scale, space, frame=index, path=p,
                                metadata={"format": "video", "colorspace_source": source, "fps": info.fps,
                                          "codec": info.codec, "bit_depth": bgr.dtype.itemsize * 8})
                    if targets is not None:
                        nxt = next(targets, None)
                index += 1
            if targets is not None and nxt is not None:
                missing = [nxt, *targets]
                raise SequenceError(
                    f"{p}: missing frames {format_frames(missing, limit=20)}: "
                    f"the video has {index} frames (0-{index - 1})"
                )
        finally:
            cap.release()

    return generate()
