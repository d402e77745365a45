"""Shared helpers of :mod:`core.io`: paths, formats, colour-space bookkeeping, attributes.

Private: the public names are re-exported by :mod:`core.io`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ColorSpaceError, ImageReadError, ImageWriteError, ParameterError
from core.color.alpha import SCENE_LINEAR_COLORSPACES  # noqa: F401 - integer containers never hold them unless asked
from core.params import Param, ParamSet

logger = logging.getLogger("core.io")

#: Colour space given to float data (EXR, float TIFF) whose file names none
#: (no reelkit tag, colorInteropID or known chromaticities) when ``$OCIO`` is
#: not set: linear Rec.709, as most renderers and HDRI libraries write them.
#: With ``$OCIO`` set, the config's ``scene_linear`` role is used instead
#: (:func:`default_linear_colorspace`), as Nuke's Read node does.
DEFAULT_LINEAR_COLORSPACE = "lin_rec709"
#: Colour space given to integer (8/16-bit) images and video whose file names
#: none: display-encoded sRGB.
DEFAULT_INTEGER_COLORSPACE = "srgb"

#: Colour space that 8/16-bit PNG, TIFF and JPEG files are encoded in when a
#: scene-linear frame is written and no output colour space is asked for: the
#: display encoding every viewer assumes for them (Nuke's Write node does the same).
DEFAULT_OUTPUT_COLORSPACE = "srgb"

#: The colour-space options of every command that reads or writes images
#: (``--input-colorspace``, ``--output-colorspace``); ``"auto"`` is ``None``
#: for :func:`core.io.read_image` / :func:`core.io.write_image`. Names are
#: checked by :func:`colorspace_option`.
COLORSPACE_PARAMS = ParamSet("colorspace", [
    Param("input_colorspace", str, "auto",
          "colour space of the input images, like Nuke's Read node: an OCIO or reelkit name (ACEScg, "
          "lin_rec709, srgb, 'sRGB Encoded Rec.709 (sRGB)'...); 'auto' reads the file's header "
          "(reelkit tag, colorInteropID, chromaticities), else 8/16-bit files and video are srgb and float "
          "files take the scene_linear role of the OCIO config in $OCIO, else lin_rec709",
          label="Input colour space"),
    Param("reference_colorspace", str, "auto",
          "colour space of the reference images (commands that take a --reference), named as for "
          "--input-colorspace; 'auto' applies the same header / file-type rule to the reference's own files",
          label="Reference colour space"),
    Param("output_colorspace", str, "auto",
          "colour space to encode the written images in; 'auto': 8/16-bit PNG/TIFF/JPEG are srgb, "
          "EXR and float TIFF stay scene-linear (with chromaticities)", label="Output colour space"),
])

#: Values of ``Frame.metadata["colorspace_source"]``.
COLORSPACE_SOURCES = ("argument", "header", "chromaticities", "default")

#: File extension (lower case) -> format name.
EXTENSIONS = {
    ".exr": "exr",
    ".png": "png",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
}

#: Header attribute holding the colour space name, in every format we write.
COLORSPACE_ATTRIBUTE = "reelkit/colorspace"
VERSION_ATTRIBUTE = "reelkit/version"

_INT32 = (-(2**31), 2**31 - 1)


def fspath(path: Any, *, what: str = "path") -> str:
    """``str`` of a ``str`` / ``os.PathLike``; anything else raises :class:`ParameterError`."""
    try:
        out = os.fspath(path)
    except TypeError:
        raise ParameterError(f"{what}: expected a str or os.PathLike, got {type(path).__name__}") from None
    if isinstance(out, bytes):
        out = os.fsdecode(out)
    if not out:
        raise ParameterError(f"{what}: empty path")
    return out


def image_format(path: str, *, writing: bool = False) -> str:
    """Format name (``"exr"``, ``"png"``, ``"tiff"``, ``"jpeg"``) from the file extension."""
    ext = Path(path).suffix.lower()
    fmt = EXTENSIONS.get(ext)
    if fmt is None:
        known = ", ".join(sorted(EXTENSIONS))
        err = ImageWriteError if writing else ImageReadError
        raise err(f"{path}: unsupported file type {ext or '(no extension)'!r} (supported: {known})")
    return fmt


def existing_file(path: Any) -> str:
    """The path as ``str`` if it is an existing regular file, else :class:`ImageReadError`."""
    p = fspath(path)
    if not os.path.exists(p):
        from core.io.sequence import is_sequence_pattern

        hint = " (a sequence pattern: use iter_frames or sequence_path)" if is_sequence_pattern(p) else ""
        raise ImageReadError(f"{p}: no such file{hint}")
    if not os.path.isfile(p):
        raise ImageReadError(f"{p}: not a regular file")
    return p


def check_colorspace_arg(colorspace: Any) -> str | None:
    """Validate a ``colorspace=`` argument: ``None`` (or ``"auto"``, the same) or a non-empty string."""
    if colorspace is None or (isinstance(colorspace, str) and colorspace.strip().lower() == "auto"):
        return None
    if not isinstance(colorspace, str) or not colorspace.strip():
        raise ColorSpaceError(f"colorspace: expected a colour space name, got {colorspace!r}")
    return colorspace.strip()


def colorspace_option(value: Any, *, name: str = "colorspace") -> str | None:
    """A ``--input-colorspace`` / ``--output-colorspace`` value: ``None`` for ``None``/``"auto"``, else the canonical name.

    Unknown names raise :class:`~core.errors.ColorSpaceError` naming the option
    and the known names.
    """
    if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
        return None
    from core.color.spaces import canonical_colorspace

    try:
        return canonical_colorspace(value)
    except ColorSpaceError as exc:
        raise ColorSpaceError(f"{name}: {exc}") from None


def default_linear_colorspace() -> str:
    """Colour space of a float file that names none: ``$OCIO``'s ``scene_linear`` role, else ``"lin_rec709"``.

    The role's space is returned by its reelkit name when reelkit knows it
    (see :func:`core.color.reference.ocio_scene_linear`). A ``$OCIO`` that
    cannot be loaded raises :class:`~core.errors.ColorSpaceError` naming it.
    """
    config = os.environ.get("OCIO", "").strip()
    if not config:
        return DEFAULT_LINEAR_COLORSPACE
    from core.color.reference import ocio_scene_linear

    try:
        return ocio_scene_linear(config)
    except ColorSpaceError as exc:
        raise ColorSpaceError(f"$OCIO: {exc} (unset OCIO or pass --input-colorspace)") from None


def choose_colorspace(argument: str | None, header: str | None, default: str) -> tuple[str, str]:
    """(colour space, source): the argument wins, then the file's header, then the default."""
    if argument is not None:
        return argument, "argument"
    if header:
        return header, "header"
    return default, "default"


def encoded_colorspace(path: str, colorspace: str, *, output_colorspace: str | None = None,
                       bit_depth: int | None = None) -> str:
    """The colour space a frame in ``colorspace`` is written in at ``path`` (the one rule every writer follows).

    - ``output_colorspace`` given: that space (canonical name), for every
      container — unless the frame holds data (a name :mod:`core.color` does
      not know, such as ``"raw"``), which is written as is.
    - EXR and 32-bit float TIFF: the frame's own space (scene-linear stays
      scene-linear; EXR adds chromaticities).
    - 8/16-bit PNG, TIFF and JPEG: a scene-linear frame (ACEScg, ACES2065-1,
      lin_rec709, XYZ) is encoded as :data:`DEFAULT_OUTPUT_COLORSPACE`
      (``"srgb"``), so ordinary viewers show it right; display-encoded and
      data frames are written as is.

    ``bit_depth`` is the requested one (``None``: the format's default).
    """
    from core.color.spaces import canonical_colorspace

    try:
        space = canonical_colorspace(colorspace)
    except ColorSpaceError:
        return colorspace  # data (masks, residuals) or a space reelkit cannot convert: never touched
    if output_colorspace is not None:
        return canonical_colorspace(output_colorspace)
    if image_format(path, writing=True) == "exr" or bit_depth == 32:
        return colorspace
    return DEFAULT_OUTPUT_COLORSPACE if space in SCENE_LINEAR_COLORSPACES else colorspace


def validate_attributes(attributes: Mapping[str, Any] | None, *,
                        reserved: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Check caller-supplied header attributes: names are non-empty strings, values str/int/float.

    ``int`` values must fit in 32 bits (an EXR ``int``); numpy scalars are
    converted; ``bool`` and other types are refused (say ``int(flag)``).
    """
    if attributes is None:
        return {}
    if not isinstance(attributes, Mapping):
        raise ParameterError(f"attributes: expected a mapping of name -> value, got {type(attributes).__name__}")
    out: dict[str, Any] = {}
    for name, value in attributes.items():
        if not isinstance(name, str) or not name.strip():
            raise ParameterError(f"attributes: names must be non-empty strings, got {name!r}")
        if name in reserved or name in (COLORSPACE_ATTRIBUTE, VERSION_ATTRIBUTE):
            raise ParameterError(
                f"attributes: {name!r} is written by reelkit itself and cannot be set "
                "(the colour space comes from the frame)"
            )
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ParameterError(
                f"attribute {name!r}: values must be str, int or float, got {type(value).__name__}"
            )
        if isinstance(value, int) and not _INT32[0] <= value <= _INT32[1]:
            raise ParameterError(f"attribute {name!r}: int {value} does not fit in 32 bits; store it as a str")
        if isinstance(value, float) and not np.isfinite(value):
            raise ParameterError(f"attribute {name!r}: non-finite float {value}")
        out[name] = value
    return out


def plain(value: Any) -> Any:
    """A JSON-friendly copy of a header value (numpy arrays, enums, tuples...)."""
    if isinstance(value, (str, bool, int, float)) or value is None:
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.hex()
    name = getattr(value, "name", None)
    if isinstance(name, str):  # pybind11 enums
        return name
    return str(value)


def tool_version() -> str:
    from core import __version__

    return __version__


#: The process-wide redirection of :func:`native_output_captured`, shared by the blocks open at once (threads
#: reading EXR files side by side): the first in redirects, the last out restores. Each block swapping the
#: descriptors on its own left them on a closed temporary file when two overlapped, and every later line of
#: the process (progress, the result table) was lost.
_CAPTURE = {"depth": 0, "saved": None, "sink": None}
_CAPTURE_LOCK = threading.Lock()


def _flush_c() -> None:
    import ctypes

    with contextlib.suppress(Exception):  # C stdio buffers (std::cout shares them)
        ctypes.CDLL(None).fflush(None)


@contextlib.contextmanager
def native_output_captured() -> Iterator[list[str]]:
    """Catch what C/C++ libraries print to file descriptors 1 and 2 inside the block (OpenEXR's
    "Warning: Exception raised reading pixel data..." on stdout and its error line on stderr for a
    truncated file): yields a list that holds those lines once the block ends, for the caller to put
    into its one-line error or a debug log. Python's own ``sys.stdout``/``sys.stderr`` are flushed
    first. The redirection is process-wide, so output other threads print meanwhile is caught too;
    blocks open at once in several threads share one redirection (the first in makes it, the last out
    restores the descriptors), each getting what was written while it was open. Where the descriptors
    cannot be duplicated (no console), nothing is redirected.
    """
    lines: list[str] = []
    start = _capture_enter()
    if start is None:
        yield lines
        return
    try:
        yield lines
    finally:
        said = _capture_leave(start)
        lines.extend(line.strip() for line in said.decode("utf-8", "replace").splitlines() if line.strip())


def _capture_enter() -> int | None:
    """Join the redirection of :func:`native_output_captured` (making it when none is open); the sink's size
    now (where this block's output starts), or ``None`` when the descriptors cannot be duplicated."""
    import sys
    import tempfile

    with _CAPTURE_LOCK:
        if _CAPTURE["depth"] == 0:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            try:
                saved = (os.dup(1), os.dup(2))
            except OSError:
                return None
            sink = tempfile.TemporaryFile()
            _flush_c()
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            _CAPTURE.update(saved=saved, sink=sink)
        _CAPTURE["depth"] += 1
        return os.fstat(_CAPTURE["sink"].fileno()).st_size


def _capture_leave(start: int) -> bytes:
    """Leave the redirection (the last one out restores descriptors 1 and 2); what was written from ``start``."""
    with _CAPTURE_LOCK:
        _flush_c()
        sink = _CAPTURE["sink"]
        fd = sink.fileno()
        said = os.pread(fd, max(0, os.fstat(fd).st_size - start), start)
        _CAPTURE["depth"] -= 1
        if _CAPTURE["depth"] == 0:
            saved = _CAPTURE["saved"]
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for old in saved:
                os.close(old)
            sink.close()
            _CAPTURE.update(saved=None, sink=None)
        return said
