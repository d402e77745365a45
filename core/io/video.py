"""Video files as frames, through OpenCV's FFmpeg backend (imported lazily).

Frame numbers are the **0-based decode index**: the first decoded frame is
frame 0, the next one frame 1, and so on up to the first frame that cannot
be grabbed, as in OpenCV (``CAP_PROP_POS_FRAMES``). They never come from
timestamps or a container timecode: a video whose first timestamp is not
zero (a stream copy cut between key frames, an edit list, a clip that
starts at 01:00:00:00) or whose frame rate varies is numbered the same way,
so ``--frames 0-9`` are its first ten pictures. Every reader of video
frames in reelkit counts like this, through :class:`VideoReader`. Frames
are decoded in order (no seeking, which is unreliable for many codecs);
frames not asked for are grabbed without being converted, and a reader
asked for an earlier frame than the last it decoded starts again from the
first (it keeps the last :data:`KEEP_DECODED` frames, so a frame and its
neighbours cost one decode each). Pixels are ``float32`` ``HWC`` RGB,
0..1, display-encoded: colour space ``"srgb"`` with ``colorspace_source``
``"default"`` unless ``colorspace=`` states it (8-bit video is usually
Rec.709 / BT.1886 encoded, the primaries of sRGB; reelkit reads it as sRGB
unless told: OpenCV does not expose the stream's colour tags).

The frame count a container states can be wrong (a Matroska file whose
first timestamp is 2 s reports 58 frames for 10); :func:`count_video_frames`
counts the frames that decode.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import os
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from core.errors import ImageReadError, SequenceError
from core.frame import Frame
from core.io._common import DEFAULT_INTEGER_COLORSPACE, check_colorspace_arg, choose_colorspace, existing_file, fspath

#: File suffixes taken to be videos (lower case).
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".m4v", ".mxf", ".webm", ".mpg", ".mpeg", ".vob", ".ts", ".m2ts",
                  ".mts", ".dv", ".y4m", ".wmv", ".flv", ".3gp", ".ogv")
#: How video frame numbers are counted (recorded in manifests beside the frames read).
VIDEO_FRAME_NUMBERS = "0-based decode index (the first decoded frame is 0; timestamps and timecode not used)"
#: Decoded frames a :class:`VideoReader` keeps (a frame and its two neighbours).
KEEP_DECODED = 3
#: Readers :func:`read_video_frame` keeps open per thread (a source and a reference video).
KEEP_OPEN = 2


def is_video_file(path: Any) -> bool:
    """Whether ``path`` names a video by its suffix (:data:`VIDEO_SUFFIXES`; the file need not exist)."""
    return os.path.splitext(fspath(path))[1].lower() in VIDEO_SUFFIXES


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video.

    ``frame_count`` comes from the container and can be approximate for
    some formats (variable frame rate, missing index, a first timestamp
    that is not zero); :func:`count_video_frames` counts exactly.
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
    """Frame count (the container's), frames per second, size and codec (FourCC) of a video file."""
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


def count_video_frames(path: str | os.PathLike) -> int:
    """The number of frames that decode (frames ``0 .. n-1``): every frame is grabbed, none converted.

    Remembered per file version (path, size, modification time), so a job
    that plans and then checks pays once.
    """
    p = existing_file(path)
    st = os.stat(p)
    return _count(os.path.abspath(p), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _count(path: str, size: int, mtime_ns: int) -> int:
    cap = open_capture(path)
    try:
        n = 0
        while cap.grab():
            n += 1
    finally:
        cap.release()
    return n


def _missing(path: str, frames: list[int], count: int) -> SequenceError:
    from core.io.sequence import format_frames

    have = f"0-{count - 1}" if count else "none decode"
    return SequenceError(f"{path}: missing frames {format_frames(frames, limit=20)}: "
                         f"the video has {count} frames ({have})")


class VideoReader:
    """Frames of one video by frame number (0-based decode index), decoded forward from where it stands.

    Asking for frames in increasing order decodes each frame once; the
    last :data:`KEEP_DECODED` decoded frames are kept, so frame ``n - 1``
    after ``n`` costs nothing; an earlier frame than those reopens the
    file and grabs from frame 0. ``grabs`` counts the frames grabbed.
    Memory holds one capture and at most :data:`KEEP_DECODED` 8/16-bit frames.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = existing_file(path)
        st = os.stat(self.path)
        self.version = (st.st_size, st.st_mtime_ns)
        self.info = video_info(self.path)
        self.grabs = 0
        self.length: int | None = None  # frames that decode, once a grab has failed
        self._cap = None
        self._next = 0  # decode index of the frame the next grab() returns
        self._kept: collections.OrderedDict[int, np.ndarray] = collections.OrderedDict()

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        self._next = 0

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _grab(self) -> bool:
        if self._cap is None:
            self._cap, self._next = open_capture(self.path), 0
        if not self._cap.grab():
            return False
        self.grabs += 1
        self._next += 1
        return True

    def raw(self, frame: int) -> np.ndarray:
        """Frame ``frame`` as OpenCV decodes it (``uint8``/``uint16`` BGR or grey, ``HW`` or ``HWC``).

        Raises :class:`~core.errors.SequenceError` naming the frame when the
        video has no such frame.
        """
        n = int(frame)
        if n in self._kept:
            self._kept.move_to_end(n)
            return self._kept[n]
        if n < 0:
            raise SequenceError(f"{self.path}: frame {n}: video frames are numbered from 0")
        if n < self._next:
            self.close()
        if self.length is not None and n >= self.length:
            raise _missing(self.path, [n], self.length)
        while self._next <= n:
            if not self._grab():
                self.length = self._next
                self.close()
                raise _missing(self.path, [n], self.length)
        ok, image = self._cap.retrieve()
        if not ok or image is None:
            raise ImageReadError(f"{self.path}: frame {n} could not be decoded")
        self._kept[n] = image
        while len(self._kept) > KEEP_DECODED:
            self._kept.popitem(last=False)
        return image

    def read(self, frame: int, *, colorspace: str | None = None) -> Frame:
        """Frame ``frame`` as a :class:`~core.frame.Frame`: ``float32`` ``HWC`` RGB (or Y), 0..1,
        display-encoded, in ``colorspace`` (``None``/``"auto"``: ``"srgb"``, see the module)."""
        space, source = choose_colorspace(check_colorspace_arg(colorspace), None, DEFAULT_INTEGER_COLORSPACE)
        image = self.raw(frame)
        if image.ndim == 2:
            image = image[..., None]
        rgb = image[..., ::-1] if image.shape[2] == 3 else image
        scale = np.float32(255.0 if image.dtype == np.uint8 else 65535.0)
        return Frame(rgb.astype(np.float32) / scale, space, frame=int(frame), path=self.path,
                     metadata={"format": "video", "colorspace_source": source, "fps": self.info.fps,
                               "codec": self.info.codec, "bit_depth": image.dtype.itemsize * 8,
                               "frame_numbers": VIDEO_FRAME_NUMBERS})


_OPEN = threading.local()


def read_video_frame(path: str | os.PathLike, frame: int, *, colorspace: str | None = None) -> Frame:
    """Frame ``frame`` (0-based decode index) of a video, through a :class:`VideoReader` kept open per thread.

    A job that reads its frames in order decodes each once (the readers of
    the :data:`KEEP_OPEN` videos read last stay open until
    :func:`close_video_readers`); a replaced file is reopened. Pixels and
    colour space as :meth:`VideoReader.read`.
    """
    p = existing_file(path)
    key = os.path.abspath(p)
    st = os.stat(p)
    readers: collections.OrderedDict[str, VideoReader] = getattr(_OPEN, "readers", None) or collections.OrderedDict()
    _OPEN.readers = readers
    reader = readers.pop(key, None)
    if reader is not None and reader.version != (st.st_size, st.st_mtime_ns):
        reader.close()
        reader = None
    if reader is None:
        reader = VideoReader(p)
    readers[key] = reader
    while len(readers) > KEEP_OPEN:
        readers.popitem(last=False)[1].close()
    return reader.read(frame, colorspace=colorspace)


def close_video_readers() -> None:
    """Close the readers :func:`read_video_frame` keeps open in this thread."""
    readers = getattr(_OPEN, "readers", None) or {}
    for reader in readers.values():
        reader.close()
    _OPEN.readers = collections.OrderedDict()


def iter_video_frames(path: str | os.PathLike, frames: Any = None, *, colorspace: str | None = None) -> Iterator[Frame]:
    """Decode a video one frame at a time (0-based frame numbers).

    ``frames``: ``None`` (every frame), a range string (``"0-99x2"``), an
    int, a :class:`~core.io.sequence.FrameRange` or ints. The file is opened
    when this is called (missing or unreadable files raise then); frames are
    decoded as the iterator is consumed and none is kept. If the video ends
    before a requested frame, :class:`~core.errors.SequenceError` names the
    missing frames after the last available one was yielded.
    """
    from core.io.sequence import as_frame_range

    wanted = None if frames is None else list(as_frame_range(frames))
    check_colorspace_arg(colorspace)
    reader = VideoReader(path)

    def generate() -> Iterator[Frame]:
        with reader:
            if wanted is None:
                n = 0
                while True:
                    try:
                        yield reader.read(n, colorspace=colorspace)
                    except SequenceError:
                        return
                    n += 1
            for i, n in enumerate(wanted):
                try:
                    frame = reader.read(n, colorspace=colorspace)
                except SequenceError:
                    raise _missing(reader.path, wanted[i:], reader.length or 0) from None
                yield frame

    return generate()


def resolve_video_frames(path: str | os.PathLike, frames: Any = None) -> list[int]:
    """The frames of a video to process (0-based decode index), all present, or :class:`~core.errors.SequenceError`.

    ``frames`` ``None`` means every frame that decodes
    (:func:`count_video_frames`); otherwise a range string, an int, a
    :class:`~core.io.sequence.FrameRange` or ints, every one of which must
    exist.
    """
    from core.io.sequence import as_frame_range

    count = count_video_frames(path)
    if frames is None:
        if not count:
            raise SequenceError(f"{fspath(path)}: no frame decodes")
        return list(range(count))
    wanted = list(as_frame_range(frames))
    missing = [n for n in wanted if not 0 <= n < count]
    if missing:
        raise _missing(fspath(path), missing, count)
    return wanted
