"""OpenEXR read and write (through the ``OpenEXR`` Python bindings, imported lazily).

Pixels
    Read: every channel becomes ``float32`` (``half`` exactly, ``float`` bit
    exact, ``uint`` converted — exact up to 2**24). The main image is
    ``R, G, B`` (+ ``A``) if present, else ``Y``, else the file's only
    undotted channel (e.g. Nuke's single ``R``); anything else is a
    :class:`~core.errors.ImageReadError` naming the channels. All other
    channels become ``Frame.layers``: ``diffuse.R/G/B`` -> ``layers["diffuse"]``
    (``HW3``), ``mask.Y`` -> ``layers["mask"]`` (``HW1``), an undotted ``Z`` ->
    ``layers["Z"]``; channels inside a layer are ordered R, G, B, A, X, Y, Z,
    U, V, W, then by name. ``metadata["layer_channels"]`` keeps each layer's
    full EXR channel names, and :func:`write_exr` reuses them.
    Write: ``pixel_type`` ``"half"`` or ``"float"`` for every channel; main
    channel names are ``Frame.channels``; layer channels are the names recorded
    in ``metadata["layer_channels"]`` when their count matches, else
    ``name.Y`` / ``name.R,G,B`` / ``name.R,G,B,A``.

Windows
    ``window="display"`` (the default): the data window is placed inside the display window: pixels of the display
    window that the data window does not cover are 0, data outside the display
    window is dropped (a warning names the file and the count; a data window
    entirely outside raises :class:`~core.errors.ImageReadError`). ``window="data"``: the pixels are the data
    window itself, overscan (data outside the display window) and a bounding box smaller than the display window
    kept as they are (what Nuke calls bbox and format). ``window=[x_min, y_min, x_max, y_max]``: that box, in the
    file's pixel coordinates, filled from the data window (0 where it has none). Both windows, and the box the
    pixels cover (``"window"``), are recorded in ``metadata`` (``[x_min, y_min, x_max, y_max]``, inclusive).
    Written files have data window = ``metadata["window"]`` and display window = ``metadata["display_window"]``
    when the frame carries both and its size is that of the window (a frame read from an EXR and processed
    pixel for pixel keeps its overscan and bbox), else data window == display window == the frame.

Colour space
    Written as the ``reelkit/colorspace`` string attribute, plus the standard
    ``chromaticities`` and ``colorInteropID`` attributes for ACEScg (AP1),
    ACES2065-1 (AP0) and lin_rec709 so other applications see the primaries.
    Read, in order: the ``colorspace=`` argument (``"argument"``), the
    ``reelkit/colorspace`` or ``colorInteropID`` attribute (``"header"``),
    ``chromaticities`` matching AP1 / AP0 / Rec.709 within 1e-3
    (``"chromaticities"``), else (``"default"``) the ``scene_linear`` role of
    the OCIO config in ``$OCIO`` when set, else ``"lin_rec709"`` — see
    :func:`core.io._common.default_linear_colorspace`; other chromaticities
    are kept in ``metadata["attributes"]`` and logged.

Multi-part files: the first part is read. Deep images and subsampled
channels are refused with :class:`~core.errors.ImageReadError`.
"""

from __future__ import annotations

import os
import struct
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ImageError, ImageReadError, ImageWriteError, ParameterError
from core.frame import Frame
from core.io._common import (
    COLORSPACE_ATTRIBUTE,
    VERSION_ATTRIBUTE,
    check_colorspace_arg,
    default_linear_colorspace,
    existing_file,
    fspath,
    logger,
    native_output_captured,
    plain,
    tool_version,
    validate_attributes,
)
from core.params import Param, ParamSet

#: EXR compressions reelkit writes (name -> ``OpenEXR`` constant name). All are
#: readable by OpenEXR 2.x and later (Nuke, Resolve, OIIO). Lossless: none,
#: rle, zips, zip, piz; lossy: pxr24 (float -> 24 bit), b44/b44a (half
#: channels), dwaa/dwab.
COMPRESSIONS = {
    "none": "NO_COMPRESSION",
    "rle": "RLE_COMPRESSION",
    "zips": "ZIPS_COMPRESSION",
    "zip": "ZIP_COMPRESSION",
    "piz": "PIZ_COMPRESSION",
    "pxr24": "PXR24_COMPRESSION",
    "b44": "B44_COMPRESSION",
    "b44a": "B44A_COMPRESSION",
    "dwaa": "DWAA_COMPRESSION",
    "dwab": "DWAB_COMPRESSION",
}
LOSSLESS_COMPRESSIONS = ("none", "rle", "zips", "zip", "piz")
PIXEL_TYPES = ("half", "float")

#: The EXR output options of every command that writes EXRs (CLI options, node knobs, agent arguments).
EXR_OUTPUT_PARAMS = ParamSet("exr_output", [
    Param("pixel_type", str, "half", "EXR output pixel type", choices=PIXEL_TYPES, label="EXR pixel type"),
    Param("compression", str, "zip", "EXR output compression", choices=COMPRESSIONS, label="EXR compression"),
])

#: Primaries and white point, ``(Rx, Ry, Gx, Gy, Bx, By, Wx, Wy)`` CIE 1931 xy.
#: AP1 and AP0: SMPTE ST 2065-1 / Academy S-2014-004; Rec.709: ITU-R BT.709-6.
CHROMATICITIES = {
    "ACEScg": (0.713, 0.293, 0.165, 0.830, 0.128, 0.044, 0.32168, 0.33767),
    "ACES2065-1": (0.7347, 0.2653, 0.0, 1.0, 0.0001, -0.0770, 0.32168, 0.33767),
    "lin_rec709": (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290),
}
#: Color Interop Forum IDs (OpenEXR 3.4+ ``colorInteropID`` attribute).
INTEROP_IDS = {"ACEScg": "lin_ap1_scene", "ACES2065-1": "lin_ap0_scene", "lin_rec709": "lin_rec709_scene"}
_CHROMATICITY_TOLERANCE = 1e-3

# Attributes describing the file's structure: reported apart from ``attributes``
# and never settable by callers.
_STRUCTURAL = frozenset({
    "channels", "compression", "dataWindow", "displayWindow", "lineOrder", "pixelAspectRatio",
    "screenWindowCenter", "screenWindowWidth", "type", "tiles", "name", "chunkCount", "version",
})
_RESERVED_ON_WRITE = _STRUCTURAL | {"chromaticities", "colorInteropID"}
_PIXEL_TYPE_NAMES = {0: "uint", 1: "half", 2: "float"}
_CHANNEL_RANK = {c: i for i, c in enumerate("RGBAXYZUVW")}
_EXR_MAGIC = b"\x76\x2f\x31\x01"


#: The size reelkit gave OpenEXR's process-wide thread pool (empty until the first EXR is read or written).
_POOL: list[int] = []
_POOL_LOCK = threading.Lock()


def exr_threads(threads: int = 0) -> int:
    """Size OpenEXR's process-wide pool of worker threads (zip/piz/... compression and decompression of a file's
    scanline blocks) by the job's thread budget, :func:`core.threads.job_threads` (``threads`` when > 0, else
    ``$REELKIT_THREADS``, else the cores free now); returns the count. Done once, by the first EXR read or
    written; a job that states its budget (``reelkit infer --threads``) calls it again. Every file read or
    written after it shares the pool (several files at once share its threads). The bytes written do not depend
    on the count (blocks are compressed apart and written in order: tests/test_io_exr_threads.py)."""
    from core.threads import job_threads

    count = job_threads(threads)
    with _POOL_LOCK:
        import OpenEXR

        if OpenEXR.global_thread_count() != count:
            OpenEXR.set_global_thread_count(count)
        _POOL[:] = [count]
    return count


def _openexr():
    import OpenEXR

    if not _POOL:
        exr_threads()
    return OpenEXR


# --------------------------------------------------------------------------- header


def _window(value: Any) -> list[int]:
    lo, hi = value
    return [int(lo[0]), int(lo[1]), int(hi[0]), int(hi[1])]


def _compression_name(value: Any) -> str:
    raw = getattr(value, "name", str(value))
    for name, const in COMPRESSIONS.items():
        if raw == const:
            return name
    return raw.replace("_COMPRESSION", "").lower()


def _colorspace_from_header(header: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(colour space, source) stated by the header, or (None, None)."""
    named = header.get(COLORSPACE_ATTRIBUTE)
    if isinstance(named, str) and named.strip():
        return named.strip(), "header"
    interop = header.get("colorInteropID")
    for space, ident in INTEROP_IDS.items():
        if interop == ident:
            return space, "header"
    chroma = header.get("chromaticities")
    if chroma is not None:
        values = np.asarray(plain(chroma), dtype=np.float64).ravel()
        if values.size == 8:
            for space, ref in CHROMATICITIES.items():
                if np.all(np.abs(values - np.asarray(ref)) <= _CHROMATICITY_TOLERANCE):
                    return space, "chromaticities"
    return None, None


def _resolve_colorspace(path: str, header: Mapping[str, Any], colorspace: str | None) -> tuple[str, str]:
    colorspace = check_colorspace_arg(colorspace)
    if colorspace is not None:
        return colorspace, "argument"
    space, source = _colorspace_from_header(header)
    if space is not None:
        return space, source
    default = default_linear_colorspace()
    if header.get("chromaticities") is not None:
        logger.warning(
            "%s: chromaticities %s match none of AP1, AP0, Rec.709; assuming %s "
            "(state it with --input-colorspace, or colorspace= in Python)",
            path, plain(header["chromaticities"]), default,
        )
    return default, "default"


def _channel_pixel_types(path: str) -> dict[str, str]:
    """Channel name -> ``"half"``/``"float"``/``"uint"`` from the first header's ``chlist``.

    Parsed directly from the file (OpenEXR's ``header_only`` read does not
    report pixel types); reads the header only.
    """
    try:
        return _parse_channel_list(path)
    except (ValueError, struct.error) as exc:
        raise ImageReadError(f"{path}: corrupt OpenEXR header ({exc})") from None


def _parse_channel_list(path: str) -> dict[str, str]:
    with open(path, "rb") as fh:
        if fh.read(4) != _EXR_MAGIC:
            raise ImageReadError(f"{path}: not an OpenEXR file (bad magic number)")
        fh.read(4)  # version and flags

        def cstring() -> str:
            out = bytearray()
            while (b := fh.read(1)) not in (b"\x00", b""):
                out += b
            if b == b"":
                raise ImageReadError(f"{path}: truncated OpenEXR header")
            return out.decode("latin-1")

        while name := cstring():
            kind = cstring()
            (size,) = struct.unpack("<i", fh.read(4) or b"\xff\xff\xff\xff")
            data = fh.read(max(size, 0))
            if size < 0 or len(data) != size:
                raise ImageReadError(f"{path}: truncated OpenEXR header (attribute {name!r})")
            if name == "channels" and kind == "chlist":
                types, pos = {}, 0
                while pos < len(data) and data[pos] != 0:
                    end = data.index(b"\x00", pos)
                    cname = data[pos:end].decode("latin-1")
                    (ptype,) = struct.unpack_from("<i", data, end + 1)
                    types[cname] = _PIXEL_TYPE_NAMES.get(ptype, f"unknown({ptype})")
                    pos = end + 1 + 16
                return types
    raise ImageReadError(f"{path}: OpenEXR header has no channel list")


def _open(path: str, *, header_only: bool):
    exr = _openexr()
    # the library prints its own lines for a bad file (a warning on stdout, the error on stderr):
    # caught, so the user reads our one line, which quotes the library's reason
    with native_output_captured() as said:
        try:
            f = exr.File(path, separate_channels=True, header_only=header_only)
        except Exception as exc:  # the bindings raise RuntimeError/ValueError with C messages
            f, failure = None, exc
    reason = _library_reason(path, said)
    if f is None:
        raise ImageReadError(f"{path}: not a readable OpenEXR file ({reason or failure})") from None
    try:
        n_parts = len(f.parts)
    except Exception:
        n_parts = 0
    # OpenEXR catches a failed pixel read (truncated or corrupt chunk), prints a
    # warning and drops the part: never hand back partial or zero pixels.
    if n_parts == 0 or (not header_only and n_parts < _declared_parts(path)):
        raise ImageReadError(f"{path}: truncated or corrupt OpenEXR file (its pixel data cannot be read"
                             + (f": {reason})" if reason else ")"))
    if said:
        logger.debug("%s: OpenEXR said: %s", path, " | ".join(said))
    return f


def _library_reason(path: str, said: list[str]) -> str:
    """The library's error line about ``path`` without the path, or its last line ('' for none)."""
    for line in reversed(said):
        if line.startswith(f"{path}: "):
            return line[len(path) + 2:]
    return said[-1] if said else ""


def _declared_parts(path: str) -> int:
    """Number of parts the headers declare (1 unless the multi-part flag is set)."""
    with open(path, "rb") as fh:
        start = fh.read(8)
    if len(start) < 8 or not struct.unpack_from("<I", start, 4)[0] & 0x1000:
        return 1
    try:
        with native_output_captured():
            return len(_openexr().File(path, header_only=True).parts)
    except Exception:
        return 1


def read_exr_header(path: str | os.PathLike, *, colorspace: str | None = None) -> dict[str, Any]:
    """Describe an EXR file without reading its pixels.

    Returns a JSON-friendly dict: ``path``, ``format`` (``"exr"``), ``parts``,
    ``type`` (``"scanlineimage"``, ``"tiledimage"``...), ``width`` and
    ``height`` (of the display window, the size :func:`read_exr` returns),
    ``data_window`` / ``display_window`` (``[x_min, y_min, x_max, y_max]``),
    ``channels`` (names, file order), ``pixel_types`` (name -> ``"half"`` /
    ``"float"`` / ``"uint"``), ``compression`` (a :data:`COMPRESSIONS` name),
    ``attributes`` (every other header attribute, plain values) and the
    ``colorspace`` / ``colorspace_source`` that :func:`read_exr` would assign
    with the same ``colorspace`` argument (given, nothing is guessed or warned).
    """
    p = existing_file(path)
    f = _open(p, header_only=True)
    header = f.header()
    pixel_types = _channel_pixel_types(p)
    display = _window(header["displayWindow"])
    space, source = _resolve_colorspace(p, header, colorspace)
    return {
        "path": p,
        "format": "exr",
        "parts": len(f.parts),
        "type": plain(header.get("type")),
        "width": display[2] - display[0] + 1,
        "height": display[3] - display[1] + 1,
        "data_window": _window(header["dataWindow"]),
        "display_window": display,
        "channels": list(pixel_types),
        "pixel_types": pixel_types,
        "compression": _compression_name(header.get("compression")),
        "attributes": {k: plain(v) for k, v in sorted(header.items()) if k not in _STRUCTURAL},
        "colorspace": space,
        "colorspace_source": source,
    }


# --------------------------------------------------------------------------- read


def _layer_key(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name else name


def _channel_sort_key(name: str) -> tuple[int, str]:
    last = name.rsplit(".", 1)[-1]
    return (_CHANNEL_RANK.get(last, len(_CHANNEL_RANK)), name)


def _main_channels(path: str, names: list[str]) -> list[str]:
    top = [n for n in names if "." not in n]
    if {"R", "G", "B"} <= set(top):
        return ["R", "G", "B"] + (["A"] if "A" in top else [])
    if "Y" in top:
        return ["Y"]
    if len(top) == 1:
        return top
    shown = ", ".join(sorted(names)[:12]) + (" ..." if len(names) > 12 else "")
    raise ImageReadError(
        f"{path}: no main image: expected channels R,G,B(,A) or Y or a single undotted channel, found {shown}"
    )


#: What :func:`read_exr` can return besides an explicit box: the display window, or the data window.
WINDOWS = ("display", "data")


def check_window(window: Any) -> str | list[int]:
    """Validate ``window``: ``"display"``, ``"data"`` or ``[x_min, y_min, x_max, y_max]`` (inclusive, non-empty)."""
    if isinstance(window, str) and window in WINDOWS:
        return window
    if (isinstance(window, (list, tuple)) and len(window) == 4
            and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in window)
            and window[2] >= window[0] and window[3] >= window[1]):
        return [int(v) for v in window]
    raise ParameterError(f"window: {window!r} is not 'display', 'data' or a non-empty [x_min, y_min, x_max, y_max]")


def read_exr(path: str | os.PathLike, *, colorspace: str | None = None,
             window: str | list[int] = "display") -> Frame:
    """Read an OpenEXR file into a :class:`~core.frame.Frame`.

    Returns ``float32`` ``HWC`` pixels (C = 1, 3 or 4), values as stored
    (scene-linear, unbounded, NaN/Inf kept), covering ``window`` (the display
    window by default; ``"data"``: the data window, overscan and bbox kept;
    or a box — see the module docstring); the
    colour space and its source are decided as the module docstring says.
    ``metadata`` holds ``format``, ``colorspace_source``, ``attributes``,
    ``compression``, ``pixel_types``, ``data_window``, ``display_window``,
    ``window`` (the box the pixels cover), ``layer_channels``, ``parts`` and, for RGBA,
    ``alpha``: ``"premultiplied"`` (OpenEXR's rule; :mod:`core.color.alpha`).
    """
    window = check_window(window)
    p = existing_file(path)
    f = _open(p, header_only=False)
    header = f.header()
    if "deep" in str(plain(header.get("type", ""))):
        raise ImageReadError(f"{p}: deep OpenEXR images are not supported")
    channels = f.channels()
    names = list(channels)
    if not names:
        raise ImageReadError(f"{p}: OpenEXR file has no channels")
    data_window = _window(header["dataWindow"])
    display = _window(header["displayWindow"])
    dh, dw = data_window[3] - data_window[1] + 1, data_window[2] - data_window[0] + 1
    pixel_types: dict[str, str] = {}
    planes: dict[str, np.ndarray] = {}
    for name, ch in channels.items():
        if (ch.xSampling, ch.ySampling) != (1, 1):
            raise ImageReadError(f"{p}: channel {name!r} is subsampled ({ch.xSampling}x{ch.ySampling}); not supported")
        px = ch.pixels
        if px is None or tuple(px.shape) != (max(dh, 0), max(dw, 0)):
            shape = None if px is None else tuple(px.shape)
            raise ImageReadError(
                f"{p}: channel {name!r} has {shape} pixels, expected {(dh, dw)} (truncated or corrupt)"
            )
        planes[name] = px
        pixel_types[name] = {np.dtype(np.float16): "half", np.dtype(np.float32): "float",
                             np.dtype(np.uint32): "uint"}.get(px.dtype, str(px.dtype))

    main = _main_channels(p, names)
    groups: dict[str, list[str]] = {}
    for name in names:
        if name not in main:
            groups.setdefault(_layer_key(name), []).append(name)
    layer_channels = {k: sorted(v, key=_channel_sort_key) for k, v in groups.items()}

    box = display if window == "display" else data_window if window == "data" else window
    height, width = box[3] - box[1] + 1, box[2] - box[0] + 1
    if height <= 0 or width <= 0:
        raise ImageReadError(f"{p}: empty {'display' if box is display else 'data'} window {box}")
    # overlap of the data window with the box read, in both frames' coordinates
    x0, y0 = max(data_window[0], box[0]), max(data_window[1], box[1])
    x1, y1 = min(data_window[2], box[2]), min(data_window[3], box[3])
    if data_window != box and window == "display":
        covered = max(0, x1 - x0 + 1) * max(0, y1 - y0 + 1)
        if covered == 0 and dh * dw > 0:
            raise ImageReadError(f"{p}: data window {data_window} lies entirely outside the display window "
                                 f"{display}: no pixel to read (overscan is not kept)")
        if covered < dh * dw:
            logger.warning("%s: %d data-window pixels outside the display window %s dropped (overscan is not kept)",
                           p, dh * dw - covered, display)

    def assemble(chan_names: list[str]) -> np.ndarray:
        # each plane is cast into its place: no float32 copy of every plane before the frame is built
        if data_window == box:
            out = np.empty((height, width, len(chan_names)), dtype=np.float32)
            for i, n in enumerate(chan_names):
                out[..., i] = planes[n]
            return out
        out = np.zeros((height, width, len(chan_names)), dtype=np.float32)
        if x0 <= x1 and y0 <= y1:
            for i, n in enumerate(chan_names):
                out[y0 - box[1]:y1 - box[1] + 1, x0 - box[0]:x1 - box[0] + 1, i] = \
                    planes[n][y0 - data_window[1]:y1 - data_window[1] + 1, x0 - data_window[0]:x1 - data_window[0] + 1]
        return out

    space, source = _resolve_colorspace(p, header, colorspace)
    metadata = {
        "format": "exr",
        "colorspace_source": source,
        "attributes": {k: plain(v) for k, v in sorted(header.items()) if k not in _STRUCTURAL},
        "compression": _compression_name(header.get("compression")),
        "pixel_types": pixel_types,
        "data_window": data_window,
        "display_window": display,
        "window": list(box),
        "layer_channels": layer_channels,
        "parts": len(f.parts),
    }
    if len(main) == 4:
        metadata["alpha"] = "premultiplied"  # OpenEXR colour is associated with alpha by specification
    pixels = assemble(main)
    layers = {k: assemble(v) for k, v in layer_channels.items()}
    return Frame(pixels, space, path=p, metadata=metadata, layers=layers, channels=tuple(main))


# --------------------------------------------------------------------------- write


def check_exr_options(pixel_type: Any, compression: Any) -> tuple[str, str]:
    """Validate and normalise (``pixel_type``, ``compression``) names (case-insensitive)."""
    pt = str(pixel_type).lower() if isinstance(pixel_type, str) else pixel_type
    if pt not in PIXEL_TYPES:
        raise ParameterError(f"pixel_type: {pixel_type!r} is not one of {', '.join(PIXEL_TYPES)}")
    comp = str(compression).lower() if isinstance(compression, str) else compression
    if comp not in COMPRESSIONS:
        raise ParameterError(f"compression: {compression!r} is not one of {', '.join(COMPRESSIONS)}")
    return pt, comp


def _layer_channel_names(frame: Frame) -> dict[str, list[str]]:
    recorded = frame.metadata.get("layer_channels") or {}
    defaults = {1: ("Y",), 3: ("R", "G", "B"), 4: ("R", "G", "B", "A")}
    out = {}
    for name, layer in frame.layers.items():
        n = layer.shape[2]
        names = recorded.get(name)
        if names is not None and len(names) == n and all(isinstance(c, str) and c for c in names):
            out[name] = list(names)
        elif n in defaults:
            out[name] = [f"{name}.{c}" for c in defaults[n]]
        else:
            raise ImageError(
                f"{frame.describe()}: layer {name!r} has {n} channels; name them in "
                f"metadata['layer_channels'][{name!r}] (only 1, 3 or 4 channels get default names)"
            )
    return out


def _windows_header(frame: Frame) -> dict[str, Any]:
    """``dataWindow`` / ``displayWindow`` from ``metadata["window"]`` / ``["display_window"]`` when both are
    there and the window is the frame's size (see the module docstring); else none (both = the frame)."""
    box, display = frame.metadata.get("window"), frame.metadata.get("display_window")
    try:
        box, display = check_window(box), check_window(display)
    except ParameterError:
        return {}
    if isinstance(box, str) or isinstance(display, str) or \
            (box[3] - box[1] + 1, box[2] - box[0] + 1) != (frame.height, frame.width):
        return {}

    def pair(w: list[int]) -> tuple[np.ndarray, np.ndarray]:
        return np.array(w[:2], np.int32), np.array(w[2:], np.int32)

    return {"dataWindow": pair(box), "displayWindow": pair(display)}


def write_exr(path: str | os.PathLike, frame: Frame, *, pixel_type: str = "half", compression: str = "zip",
              attributes: Mapping[str, Any] | None = None, overwrite: bool = False) -> Path:
    """Write ``frame`` (and its layers) as a single-part scanline OpenEXR file, atomically.

    ``pixel_type`` ``"half"`` (values that round beyond ±65504 become ±Inf, logged) or
    ``"float"`` (bit exact); ``compression`` one of :data:`COMPRESSIONS`.
    Attributes written: ``reelkit/colorspace`` (``frame.colorspace``),
    ``reelkit/version``, ``chromaticities`` and ``colorInteropID`` for the
    spaces in :data:`CHROMATICITIES`, then ``attributes`` (str, int or float
    values; structural and colour names are refused). Header attributes of
    the file the frame was read from are not copied. NaN/Inf pixels are
    written as they are. RGBA colour is written premultiplied, as OpenEXR
    specifies: a straight frame (``metadata["alpha"]``, :mod:`core.color.alpha`)
    is premultiplied first. Raises :class:`~core.errors.OutputExistsError` if
    ``path`` exists and not ``overwrite``.
    """
    from core.color.alpha import PREMULTIPLIED, with_alpha
    from core.io.atomic import atomic_path

    frame = with_alpha(frame, PREMULTIPLIED)
    target = fspath(path)
    pt, comp = check_exr_options(pixel_type, compression)
    extra = validate_attributes(attributes, reserved=_RESERVED_ON_WRITE)
    exr = _openexr()

    main = list(frame.channels)
    layer_names = _layer_channel_names(frame)
    all_names = main + [n for names in layer_names.values() for n in names]
    dupes = sorted({n for n in all_names if all_names.count(n) > 1})
    if dupes:
        raise ImageError(f"{frame.describe()}: channel name(s) {', '.join(dupes)} used twice (pixels and layers)")
    if any(not isinstance(n, str) or not n for n in all_names):
        raise ImageError(f"{frame.describe()}: channel names must be non-empty strings, got {all_names}")

    dtype = np.float16 if pt == "half" else np.float32
    planes: dict[str, np.ndarray] = {}
    overflow = 0
    sources = [(frame.pixels, main)] + [(frame.layers[k], v) for k, v in layer_names.items()]
    for arr, names in sources:
        for i, name in enumerate(names):
            plane = arr[..., i]
            with np.errstate(over="ignore"):
                planes[name] = np.ascontiguousarray(plane, dtype=dtype)
            if pt == "half":
                overflow += int(np.count_nonzero(np.isinf(planes[name]) & np.isfinite(plane)))
    if overflow:
        logger.warning("%s: %d values beyond the half range (±65504) written as ±Inf; use pixel_type='float'",
                       target, overflow)

    header: dict[str, Any] = {
        "compression": getattr(exr, COMPRESSIONS[comp]),
        "type": exr.scanlineimage,
        **_windows_header(frame),
        COLORSPACE_ATTRIBUTE: frame.colorspace,
        VERSION_ATTRIBUTE: tool_version(),
    }
    if frame.colorspace in CHROMATICITIES:
        header["chromaticities"] = tuple(float(v) for v in CHROMATICITIES[frame.colorspace])
        header["colorInteropID"] = INTEROP_IDS[frame.colorspace]
    header.update(extra)

    with atomic_path(target, overwrite=overwrite) as tmp:
        try:
            exr.File(header, planes).write(str(tmp))
        except Exception as exc:
            raise ImageWriteError(f"{target}: OpenEXR could not write the file ({exc})") from exc
    return Path(target)
