"""One exception tree for reelkit.

Every error raised on purpose by reelkit derives from :class:`ReelkitError`.
Leaves also subclass the matching builtin (``ValueError``, ``TypeError``,
``OSError``, ``ImportError``) so callers that only know Python's own tree
still catch them. Messages are one line and name the file, frame, channel or
parameter at fault.
"""

from __future__ import annotations


class ReelkitError(Exception):
    """Root of every reelkit error."""


class ParameterError(ReelkitError, ValueError):
    """A parameter value is out of range, of the wrong kind, or unknown."""


class ImageError(ReelkitError, ValueError):
    """Pixel data is unusable: NaN/Inf, wrong channel count, wrong dtype or shape,
    mismatched resolutions."""


class ColorSpaceError(ReelkitError, ValueError):
    """An unknown colour space name, or a conversion that is not defined."""


class ImageReadError(ReelkitError, OSError):
    """A file is missing, unreadable, corrupt or truncated."""


class ImageWriteError(ReelkitError, OSError):
    """A file could not be written."""


class FormatError(ReelkitError, ValueError):
    """A reelkit document of another format, or of a version this reelkit cannot read (:mod:`core.formats`)."""


class SequenceError(ReelkitError, ValueError):
    """An image sequence is empty, has gaps, or a frame range is malformed."""


class EmptyResultError(ReelkitError, ValueError):
    """A stage left nothing for the next one (every frame rejected, no shot found...)."""


class OutputExistsError(ReelkitError, FileExistsError):
    """An output already exists and ``force``/``overwrite`` was not given."""


class OutputLockedError(ReelkitError, OSError):
    """An output folder is being written by another job (its lock file is held by a live process)."""


class OutOfMemoryError(ReelkitError, MemoryError):
    """The machine ran out of memory for one piece of work; the message names it and the sizes involved."""


class SchedulerError(ReelkitError, ConnectionError):
    """A Dask scheduler cannot be reached, or its workers cannot make the frames (:mod:`core.scale`)."""


class MissingDependencyError(ReelkitError, ImportError):
    """An optional dependency is not installed; the message names the extra."""


def require(module: str, extra: str):
    """Import ``module`` or raise :class:`MissingDependencyError` naming the extra.

    >>> require("json", "dev").__name__
    'json'
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            f"{module} is required for this feature: pip install 'reelkit[{extra}]' ({exc})"
        ) from exc


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def out_of_memory(exc: MemoryError, what: str | None = None, *,
                  frame_shape: tuple[int, ...] | None = None) -> OutOfMemoryError:
    """The one-line :class:`OutOfMemoryError` for ``exc``, raised while working on ``what`` (a file or frame).

    It names the allocation that failed when numpy says which (shape and
    dtype) and, given ``frame_shape`` (height, width, channels), the frame's
    float32 size and the memory a per-frame command needs for it (about 3x:
    the frame read, the result, the file's encoding).

    >>> print(out_of_memory(MemoryError(), "big.exr", frame_shape=(16384, 16384, 3)))
    big.exr: out of memory: the frame is 16384x16384x3, 3.0 GiB as float32: allow about 9.0 GiB free for it
    """
    head, parts = f"{what}: out of memory" if what else "out of memory", []
    shape, dtype = getattr(exc, "shape", None), getattr(exc, "dtype", None)
    if shape is not None and dtype is not None:  # numpy's _ArrayMemoryError
        size = 1
        for n in shape:
            size *= int(n)
        parts.append(f"could not allocate {_gib(size * dtype.itemsize)} (an array of "
                     f"{'x'.join(str(int(n)) for n in shape)} {dtype})")
    if frame_shape:
        size = 4
        for n in frame_shape:
            size *= int(n)
        parts.append(f"the frame is {'x'.join(str(int(n)) for n in frame_shape)}, {_gib(size)} as float32: "
                     f"allow about {_gib(3 * size)} free for it")
    return OutOfMemoryError(head + (": " + "; ".join(parts) if parts else ""))
