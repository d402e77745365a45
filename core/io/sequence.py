"""Numbered image sequences and frame ranges.

Patterns
    The file name (not the folder) holds one frame-number token:
    ``####`` (one ``#`` per digit: ``####`` = at least 4 digits, zero-padded),
    ``@@@@`` (same as ``#``), ``%04d`` (printf: padded to 4) or ``%d``
    (unpadded). Frame numbers are non-negative. A file belongs to the
    sequence only if its number is written exactly as the pattern writes it
    (``plate.01001.exr`` is not frame 1001 of ``plate.####.exr``; frame 12345
    is ``plate.12345.exr``).

Frame ranges (:class:`FrameRange`)
    Comma-separated items, each ``N``, ``A-B`` (inclusive) or ``A-BxS``
    (every S-th frame from A to B): ``"1001"``, ``"1001-1100"``,
    ``"1001-1100x2"``, ``"1,5,7-9"``. The frames are sorted and unique.
    Malformed ranges raise :class:`~core.errors.SequenceError`.

Reading (:func:`iter_frames`) yields one :class:`~core.frame.Frame` at a
time and keeps none: memory stays flat however long the sequence. Missing
frames are found before the first frame is read, and named compactly
(``missing frames 1003-1005, 1009``).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable, Iterator
from typing import Any

from core.errors import SequenceError
from core.frame import Frame
from core.io._common import fspath

MAX_FRAMES = 1_000_000
_TOKEN = re.compile(r"#+|@+|%(0\d+)?d")
_ITEM = re.compile(r"^(\d+)(?:-(\d+)(?:x(\d+))?)?$")


# --------------------------------------------------------------------------- frame ranges


@dataclasses.dataclass(frozen=True)
class FrameRange:
    """A sorted set of unique, non-negative frame numbers.

    >>> list(FrameRange.parse("1,5,7-9"))
    [1, 5, 7, 8, 9]
    >>> str(FrameRange.parse("1001-1007x2"))
    '1001-1007x2'
    """

    frames: tuple[int, ...]

    def __post_init__(self) -> None:
        frames = tuple(self.frames)
        if not frames:
            raise SequenceError("frame range: no frames")
        if any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in frames):
            raise SequenceError(f"frame range: frame numbers must be non-negative ints, got {frames[:10]}")
        if any(a >= b for a, b in zip(frames, frames[1:])):
            frames = tuple(sorted(set(frames)))
        object.__setattr__(self, "frames", frames)

    @classmethod
    def parse(cls, text: str) -> "FrameRange":
        """Parse ``"1001"``, ``"1001-1100"``, ``"1001-1100x2"``, ``"1,5,7-9"`` (spaces allowed)."""
        if not isinstance(text, str):
            raise SequenceError(f"frame range: expected a string like '1001-1100', got {type(text).__name__}")
        if not text.strip():
            raise SequenceError("frame range: empty")
        parts: list[range] = []
        total = 0
        for item in text.split(","):
            compact = re.sub(r"\s+", "", item)
            m = _ITEM.match(compact)
            if not m:
                raise SequenceError(
                    f"frame range {text!r}: item {item.strip()!r} is not N, A-B or A-BxS "
                    "(e.g. 1001, 1001-1100, 1001-1100x2)"
                )
            start = int(m.group(1))
            stop = int(m.group(2)) if m.group(2) is not None else start
            step = int(m.group(3)) if m.group(3) is not None else 1
            if stop < start:
                raise SequenceError(f"frame range {text!r}: {start}-{stop} ends before it starts")
            if step < 1:
                raise SequenceError(f"frame range {text!r}: step must be at least 1, got {step}")
            r = range(start, stop + 1, step)
            total += len(r)
            if total > MAX_FRAMES:
                raise SequenceError(f"frame range {text!r}: more than {MAX_FRAMES} frames")
            parts.append(r)
        return cls(tuple(sorted({n for r in parts for n in r})))

    @classmethod
    def from_frames(cls, frames: Iterable[int]) -> "FrameRange":
        """From frame numbers (any order, duplicates allowed)."""
        out = set()
        for n in frames:
            if isinstance(n, bool) or not isinstance(n, int) and not hasattr(n, "__index__"):
                raise SequenceError(f"frame numbers must be integers, got {n!r}")
            n = int(n)
            if n < 0:
                raise SequenceError(f"frame numbers must be non-negative, got {n}")
            out.add(n)
            if len(out) > MAX_FRAMES:
                raise SequenceError(f"more than {MAX_FRAMES} frames")
        return cls(tuple(sorted(out)))

    @property
    def first(self) -> int:
        return self.frames[0]

    @property
    def last(self) -> int:
        return self.frames[-1]

    def __iter__(self) -> Iterator[int]:
        return iter(self.frames)

    def __len__(self) -> int:
        return len(self.frames)

    def __contains__(self, n: object) -> bool:
        import bisect

        if not isinstance(n, int):
            return False
        i = bisect.bisect_left(self.frames, n)
        return i < len(self.frames) and self.frames[i] == n

    def __str__(self) -> str:
        return format_frames(self.frames, sep=",")


def as_frame_range(frames: Any) -> FrameRange:
    """A :class:`FrameRange` from a range string, an int, a ``FrameRange`` or an iterable of ints."""
    if isinstance(frames, FrameRange):
        return frames
    if isinstance(frames, str):
        return FrameRange.parse(frames)
    if isinstance(frames, int) and not isinstance(frames, bool):
        return FrameRange.from_frames([frames])
    if isinstance(frames, Iterable):
        return FrameRange.from_frames(frames)
    raise SequenceError(f"frames: expected a range string like '1001-1100', an int or ints, got {frames!r}")


def format_frames(frames: Iterable[int], *, sep: str = ", ", limit: int | None = None) -> str:
    """Compact text for frame numbers: ``[1003, 1004, 1005, 1009]`` -> ``"1003-1005, 1009"``.

    Runs of 2+ consecutive frames become ``A-B``; runs of 3+ with a constant
    step S > 1 become ``A-BxS``. The result parses back with
    :meth:`FrameRange.parse`. ``limit`` caps the number of items shown
    (``"..., and 12 more"``).
    """
    nums = sorted(set(int(n) for n in frames))
    items: list[str] = []
    i = 0
    while i < len(nums):
        j = i
        if i + 1 < len(nums):
            step = nums[i + 1] - nums[i]
            while j + 1 < len(nums) and nums[j + 1] - nums[j] == step:
                j += 1
            if step > 1 and j - i < 2:
                j = i  # two frames with a gap: not worth "AxS"
        else:
            step = 1
        if j == i:
            items.append(str(nums[i]))
        elif step == 1:
            items.append(f"{nums[i]}-{nums[j]}")
        else:
            items.append(f"{nums[i]}-{nums[j]}x{step}")
        i = j + 1
    if limit is not None and len(items) > limit:
        rest = len(items) - limit
        return sep.join(items[:limit]) + f"{sep}... and {rest} more"
    return sep.join(items)


def missing_frames(frames: Iterable[int]) -> list[int]:
    """Frame numbers absent between the smallest and largest of ``frames`` (sorted).

    >>> missing_frames([1001, 1002, 1006, 1008])
    [1003, 1004, 1005, 1007]
    """
    present = sorted(set(int(n) for n in frames))
    if not present:
        return []
    have = set(present)
    return [n for n in range(present[0], present[-1] + 1) if n not in have]


# --------------------------------------------------------------------------- patterns


@dataclasses.dataclass(frozen=True)
class _Pattern:
    directory: str
    prefix: str
    suffix: str
    padding: int  # 0 or 1: unpadded
    token: str

    def name(self, frame: int) -> str:
        return f"{self.prefix}{frame:0{max(self.padding, 1)}d}{self.suffix}"

    def number(self, filename: str) -> int | None:
        if not (filename.startswith(self.prefix) and filename.endswith(self.suffix)):
            return None
        digits = filename[len(self.prefix):len(filename) - len(self.suffix)]
        if not digits.isdigit() or not digits.isascii():
            return None
        n = int(digits)
        return n if self.name(n) == filename else None


def _parse_pattern(pattern: Any) -> _Pattern:
    text = fspath(pattern, what="sequence pattern")
    directory, base = os.path.split(text)
    tokens = list(_TOKEN.finditer(base))
    if not tokens:
        raise SequenceError(f"{text}: not a sequence pattern (use ####, @@@@ or %04d for the frame number)")
    if len(tokens) > 1:
        raise SequenceError(f"{text}: more than one frame-number token in the file name")
    tok = tokens[0]
    raw = tok.group(0)
    padding = int(tok.group(1)) if raw.startswith("%") and tok.group(1) else (0 if raw.startswith("%") else len(raw))
    return _Pattern(directory, base[:tok.start()], base[tok.end():], padding, raw)


def is_sequence_pattern(path: Any) -> bool:
    """True if the file name holds exactly one frame token (``####``, ``@@@@``, ``%04d``, ``%d``)."""
    try:
        base = os.path.basename(fspath(path))
    except Exception:
        return False
    return len(_TOKEN.findall(base)) == 1


def sequence_path(pattern: str | os.PathLike, frame: int) -> str:
    """The file name of ``frame`` in ``pattern``: ``sequence_path("a/plate.####.exr", 1001) == "a/plate.1001.exr"``."""
    p = _parse_pattern(pattern)
    if isinstance(frame, bool) or not hasattr(frame, "__index__"):
        raise SequenceError(f"frame number must be an int, got {frame!r}")
    frame = int(frame)
    if frame < 0:
        raise SequenceError(f"frame number must be non-negative, got {frame}")
    return os.path.join(p.directory, p.name(frame)) if p.directory else p.name(frame)


def sequence_pattern(path: str | os.PathLike) -> str | None:
    """The sequence pattern a path belongs to, or ``None`` if its name has no number.

    A pattern is returned unchanged; a file name's last run of digits
    becomes ``#`` tokens of the same width (``plate.1001.exr`` ->
    ``plate.####.exr``). Purely lexical: the disk is not consulted (use
    :func:`find_frames` on the result).
    """
    text = fspath(path)
    if is_sequence_pattern(text):
        return text
    directory, base = os.path.split(text)
    runs = list(re.finditer(r"\d+", base))
    if not runs:
        return None
    m = runs[-1]
    name = base[:m.start()] + "#" * len(m.group(0)) + base[m.end():]
    if len(_TOKEN.findall(name)) != 1:  # the name already had '#' or '@' elsewhere
        return None
    return os.path.join(directory, name) if directory else name


def find_frames(pattern: str | os.PathLike) -> list[int]:
    """Frame numbers of ``pattern`` present on disk, sorted.

    Raises :class:`~core.errors.SequenceError` if there are none (naming the
    pattern and folder).
    """
    p = _parse_pattern(pattern)
    folder = p.directory or "."
    try:
        with os.scandir(folder) as entries:
            found = sorted(n for e in entries if (n := p.number(e.name)) is not None and e.is_file())
    except FileNotFoundError:
        raise SequenceError(f"no files match {p.prefix}{p.token}{p.suffix}: "
                            f"folder {os.path.abspath(folder)} does not exist") from None
    except NotADirectoryError:
        raise SequenceError(f"{os.path.abspath(folder)} is not a folder") from None
    if not found:
        raise SequenceError(f"no files match {p.prefix}{p.token}{p.suffix} in {os.path.abspath(folder)}")
    return found


def resolve_frames(pattern: str | os.PathLike, frames: Any = None) -> list[int]:
    """The frames to process, all present on disk, or :class:`~core.errors.SequenceError`.

    ``frames`` ``None`` means every frame from the first to the last on disk:
    a gap in between is an error (pass ``frames`` to choose a subset).
    Otherwise ``frames`` is a range string, an int, a :class:`FrameRange` or
    ints, and every one of them must exist.
    """
    present = find_frames(pattern)
    name = os.path.basename(fspath(pattern))
    if frames is None:
        gaps = missing_frames(present)
        if gaps:
            raise SequenceError(
                f"{name}: missing frames {format_frames(gaps, limit=20)} "
                f"(on disk: {format_frames(present, limit=20)}); choose the frames to use explicitly"
            )
        return present
    wanted = as_frame_range(frames)
    have = set(present)
    missing = [n for n in wanted if n not in have]
    if missing:
        raise SequenceError(
            f"{name}: missing frames {format_frames(missing, limit=20)} of the requested {wanted} "
            f"(on disk: {format_frames(present, limit=20)})"
        )
    return list(wanted)


def iter_frames(pattern: str | os.PathLike, frames: Any = None, *, colorspace: str | None = None) -> Iterator[Frame]:
    """Read a sequence one frame at a time.

    The frame list is resolved (and gaps raised) when this is called, before
    any pixels are read; the returned iterator then reads each file only when
    asked and keeps no reference to earlier frames. Each :class:`Frame` has
    its ``frame`` number set; pixels, colour space and metadata are as
    :func:`core.io.read_image` gives them (``colorspace`` overrides the
    files').
    """
    numbers = resolve_frames(pattern, frames)
    pattern_text = fspath(pattern)

    def generate() -> Iterator[Frame]:
        from core.io import read_image

        for n in numbers:
            frame = read_image(sequence_path(pattern_text, n), colorspace=colorspace)
            frame.frame = n
            yield frame

    return generate()
