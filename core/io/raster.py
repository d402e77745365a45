"""PNG, TIFF and JPEG read and write (OpenCV for PNG/JPEG, tifffile for TIFF; imported lazily).

Pixels
    Read: ``float32`` ``HWC`` (C = 1, 3 or 4, RGB(A) order). Integer data is
    normalised to 0..1 (``uint8`` / 255, ``uint16`` / 65535); float TIFF
    values are kept as stored. Grey + alpha files become RGBA (R = G = B).
    Alpha (:mod:`core.color.alpha`): PNG colour is straight (the PNG
    specification), TIFF colour straight unless its ExtraSamples tag says
    associated alpha; ``metadata["alpha"]`` records which. Written RGBA
    colour is straight (a premultiplied frame is unpremultiplied first) and
    TIFF says so (unassociated alpha), as Nuke's Write node does.
    PNG palettes are expanded to RGB. JPEG EXIF orientation is not applied.
    Write: 8 or 16 bit (PNG, TIFF), 8 bit (JPEG), 32-bit float (TIFF): integer
    output clips to 0..1 and rounds to the nearest code value (round half to
    even); NaN/Inf refuse with :class:`~core.errors.ImageError`. JPEG has no
    alpha and no 16 bit: asking for either is an error. JPEG quality is 95.

Colour space
    Written into the file with the other attributes as one JSON object
    (``{"reelkit/colorspace": ..., "reelkit/version": ..., **attributes}``):
    a PNG ``tEXt`` chunk with keyword ``reelkit``, a JPEG comment starting
    ``reelkit:``, the TIFF ``ImageDescription``. Read, in order: the
    ``colorspace=`` argument (``"argument"``), that ``reelkit/colorspace``
    value (``"header"``), else ``"srgb"`` for integer data and, for float
    TIFF, ``$OCIO``'s ``scene_linear`` role or ``"lin_rec709"``
    (``"default"``; :func:`core.io._common.default_linear_colorspace`).
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ImageError, ImageReadError, ImageWriteError, ParameterError
from core.frame import Frame, check_finite
from core.io._common import (
    COLORSPACE_ATTRIBUTE,
    DEFAULT_INTEGER_COLORSPACE,
    VERSION_ATTRIBUTE,
    check_colorspace_arg,
    choose_colorspace,
    default_linear_colorspace,
    existing_file,
    fspath,
    image_format,
    logger,
    tool_version,
    validate_attributes,
)

#: Bit depths each format writes, and the default when ``bit_depth=None``.
BIT_DEPTHS = {"png": (8, 16), "tiff": (8, 16, 32), "jpeg": (8,)}
DEFAULT_BIT_DEPTH = {"png": 16, "tiff": 16, "jpeg": 8}
JPEG_QUALITY = 95

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_KEYWORD = b"reelkit"
_JPEG_COMMENT_PREFIX = b"reelkit:"
_FORMAT_TITLE = {"png": "PNG", "tiff": "TIFF", "jpeg": "JPEG"}


# --------------------------------------------------------------------------- embedded metadata


def _png_text_chunk(payload: bytes) -> bytes:
    body = _PNG_KEYWORD + b"\x00" + payload
    return struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(">I", zlib.crc32(b"tEXt" + body) & 0xFFFFFFFF)


def _png_insert_text(png: memoryview, payload: bytes) -> tuple[memoryview | bytes, ...]:
    """The stream's pieces with a ``tEXt`` chunk right after ``IHDR`` (which is 25 bytes after the signature)."""
    if png[:8] != _PNG_SIGNATURE or png[12:16] != b"IHDR":
        raise ImageWriteError("PNG encoder produced an unexpected stream")
    return png[:33], _png_text_chunk(payload), png[33:]


def _png_read_text(path: str, data: bytes) -> dict[str, Any]:
    """The ``reelkit`` tEXt payload of a PNG, checking the chunk structure reaches ``IEND``."""
    pos, found = 8, {}
    while pos + 8 <= len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if len(body) != length or pos + 12 + length > len(data):
            break
        if kind == b"IEND":
            return found
        if kind == b"tEXt" and body.startswith(_PNG_KEYWORD + b"\x00"):
            found = _parse_payload(body[len(_PNG_KEYWORD) + 1:])
        pos += 12 + length
    raise ImageReadError(f"{path}: truncated or corrupt PNG (no IEND chunk)")


def _jpeg_insert_comment(jpeg: memoryview, payload: bytes) -> tuple[memoryview | bytes, ...]:
    """The stream's pieces with a comment (``COM`` segment) right after the start-of-image marker."""
    body = _JPEG_COMMENT_PREFIX + payload
    if len(body) > 65533:
        raise ParameterError("attributes: too large for a JPEG comment (64 KiB)")
    if jpeg[:2] != b"\xff\xd8":
        raise ImageWriteError("JPEG encoder produced an unexpected stream")
    return jpeg[:2], b"\xff\xfe" + struct.pack(">H", len(body) + 2) + body, jpeg[2:]


def _jpeg_read_comment(data: bytes) -> dict[str, Any]:
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xDA or marker == 0xD9:  # start of scan / end of image
            break
        if marker == 0x01 or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            pos += 1 if marker == 0xFF else 2
            continue
        (length,) = struct.unpack_from(">H", data, pos + 2)
        if marker == 0xFE:
            body = data[pos + 4:pos + 2 + length]
            if body.startswith(_JPEG_COMMENT_PREFIX):
                return _parse_payload(body[len(_JPEG_COMMENT_PREFIX):])
        pos += 2 + length
    return {}


def _parse_payload(raw: bytes | str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def _payload(colorspace: str, attributes: Mapping[str, Any]) -> bytes:
    data = {COLORSPACE_ATTRIBUTE: colorspace, VERSION_ATTRIBUTE: tool_version(), **attributes}
    return json.dumps(data, sort_keys=True, ensure_ascii=True).encode("ascii")


# --------------------------------------------------------------------------- read


def _to_float(arr: np.ndarray, path: str) -> tuple[np.ndarray, int, bool]:
    """(float32 pixels, bit depth, is_integer) with integers normalised to 0..1."""
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / np.float32(255.0), 8, True
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / np.float32(65535.0), 16, True
    if arr.dtype in (np.float16, np.float32, np.float64):
        return arr.astype(np.float32), arr.dtype.itemsize * 8, False
    raise ImageReadError(f"{path}: unsupported sample type {arr.dtype} (8/16-bit unsigned or float only)")


def _to_hwc_rgb(arr: np.ndarray, path: str, *, bgr: bool) -> np.ndarray:
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3:
        raise ImageReadError(f"{path}: unexpected image shape {arr.shape}")
    c = arr.shape[2]
    if c == 2:  # grey + alpha -> RGBA
        arr = arr[..., [0, 0, 0, 1]]
    elif c == 3 and bgr:
        arr = arr[..., ::-1]
    elif c == 4 and bgr:
        arr = arr[..., [2, 1, 0, 3]]
    elif c not in (1, 3, 4):
        raise ImageReadError(f"{path}: {c} channels; expected 1 (grey), 2 (grey+alpha), 3 (RGB) or 4 (RGBA)")
    return np.ascontiguousarray(arr)


def _read_tiff(path: str) -> tuple[np.ndarray, dict[str, Any]]:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            size = os.path.getsize(path)
            for off, count in zip(page.dataoffsets, page.databytecounts):
                if off + count > size:
                    raise ImageReadError(f"{path}: truncated TIFF (image data ends past the end of the file)")
            photometric = getattr(page.photometric, "name", str(page.photometric))
            if photometric not in ("MINISBLACK", "RGB"):
                raise ImageReadError(f"{path}: TIFF photometric {photometric} not supported (greyscale or RGB only)")
            arr = page.asarray()
            axes = page.axes
            associated = 1 in tuple(int(v) for v in np.atleast_1d(page.extrasamples))  # EXTRASAMPLE.ASSOCALPHA
            description = page.description or ""
            n_pages = len(tif.pages)
    except ImageReadError:
        raise
    except Exception as exc:
        raise ImageReadError(f"{path}: not a readable TIFF file ({exc})") from None
    if axes.startswith("S") and arr.ndim == 3:  # planar (separate) samples
        arr = np.moveaxis(arr, 0, -1)
    info = {"attributes": _parse_payload(description) if description.startswith("{") else {}, "pages": n_pages,
            "alpha": "premultiplied" if associated else "straight"}
    if COLORSPACE_ATTRIBUTE not in info["attributes"]:
        info["attributes"] = {}
    return arr, info


def read_raster(path: str | os.PathLike, *, colorspace: str | None = None) -> Frame:
    """Read a PNG, TIFF or JPEG file into a :class:`~core.frame.Frame`.

    Returns ``float32`` ``HWC`` RGB(A) or Y pixels; integer files are 0..1
    and display-encoded ``"srgb"`` unless the file or ``colorspace`` says
    otherwise (see the module docstring). ``metadata`` holds ``format``,
    ``bit_depth``, ``colorspace_source``, ``attributes`` and, for RGBA, ``alpha``
    (``"straight"``, or ``"premultiplied"`` for a TIFF with associated alpha).
    """
    p = existing_file(path)
    fmt = image_format(p)
    colorspace = check_colorspace_arg(colorspace)
    if fmt == "tiff":
        arr, info = _read_tiff(p)
        attributes = info["attributes"]
        extra = {"pages": info["pages"]}
        association = info["alpha"]
        bgr = False
    else:
        import cv2

        data = Path(p).read_bytes()
        if fmt == "png":
            if data[:8] != _PNG_SIGNATURE:
                raise ImageReadError(f"{p}: not a PNG file (bad signature)")
            attributes = _png_read_text(p, data)
        else:
            if data[:2] != b"\xff\xd8":
                raise ImageReadError(f"{p}: not a JPEG file (bad signature)")
            attributes = _jpeg_read_comment(data)
        arr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
        if arr is None:
            raise ImageReadError(f"{p}: not a readable {_FORMAT_TITLE[fmt]} file (corrupt or truncated)")
        extra, bgr, association = {}, True, "straight"
    arr = _to_hwc_rgb(arr, p, bgr=bgr)
    if arr.shape[2] == 4:
        extra["alpha"] = association
    pixels, bits, is_int = _to_float(arr, p)
    header_space = attributes.get(COLORSPACE_ATTRIBUTE)
    header_space = header_space if isinstance(header_space, str) else None
    if colorspace is None and not header_space:
        default = DEFAULT_INTEGER_COLORSPACE if is_int else default_linear_colorspace()
    else:
        default = DEFAULT_INTEGER_COLORSPACE  # unused: the argument or the header decides
    space, source = choose_colorspace(colorspace, header_space, default)
    metadata = {"format": fmt, "bit_depth": bits, "colorspace_source": source, "attributes": attributes, **extra}
    return Frame(pixels, space, path=p, metadata=metadata)


# --------------------------------------------------------------------------- write


def check_bit_depth(fmt: str, bit_depth: Any, n_channels: int | None = None) -> int:
    """Validate ``bit_depth`` for ``fmt`` (``None`` = the format's default) and JPEG limits."""
    if bit_depth is None:
        bits = DEFAULT_BIT_DEPTH[fmt]
    elif isinstance(bit_depth, bool) or not isinstance(bit_depth, (int, np.integer)):
        raise ParameterError(f"bit_depth: expected an int, got {bit_depth!r}")
    else:
        bits = int(bit_depth)
    if bits not in BIT_DEPTHS[fmt]:
        allowed = ", ".join(map(str, BIT_DEPTHS[fmt]))
        raise ParameterError(f"bit_depth: {_FORMAT_TITLE[fmt]} supports {allowed} bit, not {bits}")
    if fmt == "jpeg" and n_channels == 4:
        raise ImageError("JPEG has no alpha channel: write PNG, TIFF or EXR, or drop the alpha")
    return bits


#: Values quantised per strip of rows: the float64 work buffer is 2 MiB whatever the frame's size.
QUANTIZE_STRIP_VALUES = 1 << 18


def quantize(pixels: np.ndarray, bits: int, *, name: str = "image",
             channels: Sequence[int] | None = None) -> np.ndarray:
    """0..1 float ``HWC`` -> ``uint8``/``uint16`` code values: clip, scale, round to nearest (half to even).

    ``channels``: output channel ``i`` is input channel ``channels[i]``
    (e.g. ``(2, 1, 0)`` for OpenCV's BGR); default the input's order.
    Computed a strip of rows at a time (:data:`QUANTIZE_STRIP_VALUES`), in
    float64 inside the strip (``x * 65535`` is exact there), so the only
    frame-sized allocation is the integer result. Raises
    :class:`~core.errors.ImageError` for NaN/Inf (they have no code value).
    The number of clipped values is logged at INFO level.
    """
    order = list(range(pixels.shape[2])) if channels is None else list(channels)
    top = 255.0 if bits == 8 else 65535.0
    h, w = pixels.shape[:2]
    out = np.empty((h, w, len(order)), dtype=np.uint8 if bits == 8 else np.uint16)
    rows = max(1, QUANTIZE_STRIP_VALUES // max(1, w * len(order)))
    outside = 0
    for y0 in range(0, h, rows):
        strip = pixels[y0:y0 + rows]
        strip = strip[..., order] if channels is not None else strip
        if not np.isfinite(strip).all():
            check_finite(pixels, name=name)  # raises, naming the count and the first pixel
        outside += int(np.count_nonzero((strip < 0.0) | (strip > 1.0)))
        scaled = np.clip(strip, 0.0, 1.0).astype(np.float64)
        np.multiply(scaled, top, out=scaled)
        np.rint(scaled, out=scaled)
        np.copyto(out[y0:y0 + rows], scaled, casting="unsafe")
    if outside:
        logger.info("%s: %d values outside 0..1 clipped for %d-bit output", name, outside, bits)
    return out


def write_raster(path: str | os.PathLike, frame: Frame, *, bit_depth: int | None = None,
                 attributes: Mapping[str, Any] | None = None, overwrite: bool = False) -> Path:
    """Write ``frame`` as PNG, TIFF or JPEG (from the extension), atomically.

    ``bit_depth``: 8 or 16 (PNG, default 16), 8, 16 or 32 float (TIFF, default
    16), 8 (JPEG). The frame's colour space and ``attributes`` are embedded
    (see the module docstring); layers are not written (logged); RGBA colour
    is written straight (unpremultiplied when the frame is premultiplied). Raises
    :class:`~core.errors.OutputExistsError` if ``path`` exists and not
    ``overwrite``.
    """
    from core.color.alpha import STRAIGHT, with_alpha
    from core.io.atomic import atomic_path

    target = fspath(path)
    fmt = image_format(target, writing=True)
    if fmt == "exr":
        raise ParameterError(f"{target}: use write_exr for OpenEXR")
    frame = with_alpha(frame, STRAIGHT)
    bits = check_bit_depth(fmt, bit_depth, frame.n_channels)
    extra = validate_attributes(attributes)
    payload = _payload(frame.colorspace, extra)
    if frame.layers:
        logger.info("%s: %s cannot hold layers; %s not written", target, _FORMAT_TITLE[fmt], ", ".join(frame.layers))
    px = frame.pixels
    name = f"{frame.describe()} -> {target}"
    c = px.shape[2]

    if fmt == "tiff":
        data = px.astype(np.float32, copy=False) if bits == 32 else quantize(px, bits, name=name)
        import tifffile

        kwargs: dict[str, Any] = {"photometric": "minisblack" if c == 1 else "rgb"}
        if c == 4:
            kwargs["extrasamples"] = ["unassalpha"]
        with atomic_path(target, overwrite=overwrite) as tmp:
            try:
                tifffile.imwrite(tmp, data[..., 0] if c == 1 else data, compression="zlib",
                                 description=payload.decode("ascii"), metadata=None,
                                 software=f"reelkit {tool_version()}", **kwargs)
            except Exception as exc:
                raise ImageWriteError(f"{target}: could not write TIFF ({exc})") from exc
        return Path(target)

    import cv2

    bgr = quantize(px, bits, name=name, channels=(2, 1, 0, 3)[:c] if c > 1 else None)  # OpenCV's channel order
    params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY] if fmt == "jpeg" else []
    ok, buf = cv2.imencode(".png" if fmt == "png" else ".jpg", bgr[..., 0] if c == 1 else bgr, params)
    del bgr
    if not ok:
        raise ImageWriteError(f"{target}: OpenCV could not encode {_FORMAT_TITLE[fmt]}")
    encoded = memoryview(buf).cast("B")
    parts = _png_insert_text(encoded, payload) if fmt == "png" else _jpeg_insert_comment(encoded, payload)
    with atomic_path(target, overwrite=overwrite) as tmp, open(tmp, "wb") as fh:
        for part in parts:  # written in pieces: the encoded stream is never copied
            fh.write(part)
    return Path(target)
