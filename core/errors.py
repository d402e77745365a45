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


class SequenceError(ReelkitError, ValueError):
    """An image sequence is empty, has gaps, or a frame range is malformed."""


class EmptyResultError(ReelkitError, ValueError):
    """A stage left nothing for the next one (every frame rejected, no shot found...)."""


class OutputExistsError(ReelkitError, FileExistsError):
    """An output already exists and ``force``/``overwrite`` was not given."""


class OutputLockedError(ReelkitError, OSError):
    """An output folder is being written by another job (its lock file is held by a live process)."""


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
