"""The two inputs of dataset curation: an image sequence or a video file, read lazily.

An input is given as a sequence pattern (``scan/film.####.exr``,
``dvd/ref.%05d.png``; any format :func:`core.io.read_image` reads), one file
of a numbered sequence (``scan/film.1001.exr`` stands for its whole
sequence), or a video file (a suffix :func:`core.io.is_video_file` names,
decoded by OpenCV/FFmpeg; frame numbers are 0-based, :mod:`core.io.video`).
:func:`open_input` checks it and lists its frames without reading pixels;
:meth:`InputSource.frames` then yields one :class:`~core.frame.Frame` at a
time and keeps none.

A sequence may have holes (a scan with missing files): every frame on disk
is used and the holes are listed in :meth:`InputSource.describe`. A frame
subset (``frames="1001-1200"``) must exist entirely.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.errors import ImageReadError, ParameterError, SequenceError
from core.frame import Frame

@dataclasses.dataclass(frozen=True)
class InputSource:
    """One input, opened but not read.

    Attributes
    ----------
    path:
        The sequence pattern or the video file, as given (a single sequence
        file is replaced by its pattern).
    kind:
        ``"sequence"`` or ``"video"``.
    numbers:
        Frame numbers to read, sorted; for a video without a subset,
        ``None`` until the file has been read (container counts can be wrong).
    fps:
        Frames per second from the video container, ``None`` for a sequence.
    colorspace:
        The ``colorspace=`` override passed to the reader, or ``None`` (the
        files' own / the reader's default).
    fingerprint:
        sha256 of what identifies the input on disk without reading it:
        each file's name, size and modification time (cache key).
    """

    path: str
    kind: str
    numbers: tuple[int, ...] | None
    fps: float | None
    colorspace: str | None
    fingerprint: str

    def frames(self) -> Iterator[Frame]:
        """Decode the frames one at a time, in order (each :class:`Frame` has ``frame`` set)."""
        from core import io

        if self.kind == "video":
            return io.iter_video_frames(self.path, None if self.numbers is None else list(self.numbers),
                                        colorspace=self.colorspace)
        return io.iter_frames(self.path, list(self.numbers), colorspace=self.colorspace)

    def frames_subset(self, numbers: list[int]) -> Iterator[Frame]:
        """Decode only ``numbers`` (sorted, all present), in order."""
        from core import io

        wanted = sorted(set(int(n) for n in numbers))
        if not wanted:
            return iter(())
        if self.kind == "video":
            return io.iter_video_frames(self.path, wanted, colorspace=self.colorspace)
        return io.iter_frames(self.path, wanted, colorspace=self.colorspace)

    def describe(self, numbers: list[int] | None = None) -> dict[str, Any]:
        """JSON-friendly description for the pair manifest (frames as a compact range string)."""
        from core import io

        nums = list(numbers if numbers is not None else (self.numbers or ()))
        out: dict[str, Any] = {"path": self.path, "kind": self.kind, "count": len(nums),
                               "frames": io.format_frames(nums, sep=",") if nums else "",
                               "first": nums[0] if nums else None, "last": nums[-1] if nums else None,
                               "missing": io.format_frames(io.missing_frames(nums), sep=",") if nums else "",
                               "fps": self.fps}
        return out


def open_input(spec: str | os.PathLike, *, frames: Any = None, colorspace: str | None = None,
               what: str = "input") -> InputSource:
    """Check an input and list its frames (no pixels are read).

    ``spec`` is a sequence pattern, one file of a numbered sequence, or a
    video file (:func:`core.io.is_video_file`); ``frames`` an optional subset
    (range string, int or ints).
    Raises :class:`~core.errors.SequenceError` for a pattern with no files
    (naming the pattern and folder) or a subset with missing frames,
    :class:`~core.errors.ImageReadError` for a missing or undecodable file or a
    suffix that is neither an image nor a video,
    :class:`~core.errors.ParameterError` for a folder.
    """
    from core import io
    from core.io._common import EXTENSIONS, fspath

    text = fspath(spec, what=what)
    if os.path.isdir(text):
        raise ParameterError(f"{what} {text}: is a folder; give a sequence pattern (e.g. "
                             f"{os.path.join(text, 'name.####.exr')}) or a video file")
    pattern = None
    if io.is_sequence_pattern(text):
        pattern = text
    elif not io.is_video_file(text):
        if Path(text).suffix.lower() not in EXTENSIONS:
            raise ImageReadError(f"{what} {text}: unsupported file type {Path(text).suffix or '(no extension)'!r}; "
                                 f"give an image sequence ({', '.join(sorted(EXTENSIONS))}) or a video "
                                 f"({', '.join(io.VIDEO_SUFFIXES)})")
        if not os.path.isfile(text):
            raise ImageReadError(f"{what} {text}: no such file")
        pattern = io.sequence_pattern(text)
        if pattern is None:
            raise ParameterError(f"{what} {text}: a single image with no frame number is not a sequence; "
                                 "curation needs two sequences or videos")
    if pattern is not None:
        numbers = io.find_frames(pattern) if frames is None else io.resolve_frames(pattern, frames)
        stats = []
        for n in numbers:
            path = io.sequence_path(pattern, n)
            try:
                st = os.stat(path)
            except OSError as exc:
                raise ImageReadError(f"{what} {path}: cannot stat ({exc.strerror})") from None
            stats.append((os.path.basename(path), st.st_size, st.st_mtime_ns))
        return InputSource(pattern, "sequence", tuple(numbers), None, colorspace,
                           _fingerprint("sequence", pattern, stats, colorspace))
    info = io.video_info(text)  # ImageReadError for missing / unreadable files
    numbers = None if frames is None else tuple(io.as_frame_range(frames))
    st = os.stat(text)
    fps = info.fps if info.fps and info.fps > 0 else None
    return InputSource(text, "video", numbers, fps, colorspace,
                       _fingerprint("video", text, [(os.path.basename(text), st.st_size, st.st_mtime_ns)],
                                    colorspace, numbers))


def _fingerprint(kind: str, path: str, stats: list[tuple[str, int, int]], colorspace: str | None,
                 subset: tuple[int, ...] | None = None) -> str:
    blob = json.dumps({"kind": kind, "path": os.path.abspath(path), "files": stats, "colorspace": colorspace,
                       "subset": list(subset) if subset is not None else None}, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def check_not_empty(numbers: list[int], source: InputSource, what: str) -> None:
    """Raise :class:`~core.errors.SequenceError` when an input produced no frames."""
    if not numbers:
        raise SequenceError(f"{what} {source.path}: no frames could be read")
