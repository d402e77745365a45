"""Image I/O: OpenEXR, PNG, TIFF, JPEG, numbered sequences, video, shipped samples.

Every reader returns a :class:`~core.frame.Frame`: ``float32`` pixels,
layout ``HWC`` with C in {1, 3, 4} (Y, RGB, RGBA), the colour space and
where it came from (``metadata["colorspace_source"]``: ``"argument"``,
``"header"``, ``"chromaticities"`` or ``"default"``). Defaults when a file
names no colour space (like Nuke's Read node): ``"srgb"`` (display-encoded,
0..1) for 8/16-bit images and video; for float files (EXR without a known
tag or chromaticities, float TIFF) the ``scene_linear`` role of the OCIO
config in ``$OCIO`` when set, else ``"lin_rec709"``
(:func:`default_linear_colorspace`). ``colorspace="auto"`` is ``None``. Every
writer encodes for its container (:func:`encoded_colorspace`): 8/16-bit
PNG, TIFF and JPEG get scene-linear frames sRGB-encoded (or in an asked
``output_colorspace``), EXR stays scene-linear with chromaticities. Every
writer is atomic (temporary file + rename, :mod:`core.io.atomic`) and
refuses to replace an existing file unless ``overwrite=True``. Paths may be
``str`` or ``os.PathLike``.

Importing this package is cheap: OpenEXR, OpenCV and tifffile are imported
by the functions that use them. See :mod:`core.io.exr`,
:mod:`core.io.raster`, :mod:`core.io.sequence`, :mod:`core.io.video`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ColorSpaceError, OutputExistsError, ParameterError
from core.frame import Frame
from core.io import samples
from core.io._common import (
    COLORSPACE_PARAMS,
    COLORSPACE_SOURCES,
    DEFAULT_INTEGER_COLORSPACE,
    DEFAULT_LINEAR_COLORSPACE,
    DEFAULT_OUTPUT_COLORSPACE,
    EXTENSIONS,
    SCENE_LINEAR_COLORSPACES,
    check_colorspace_arg,
    colorspace_option,
    default_linear_colorspace,
    encoded_colorspace,
    fspath,
    image_format,
)
from core.io.exr import COMPRESSIONS, EXR_OUTPUT_PARAMS, PIXEL_TYPES, check_exr_options, read_exr_header
from core.io.raster import BIT_DEPTHS, DEFAULT_BIT_DEPTH, check_bit_depth
from core.io.sequence import (
    FrameRange,
    as_frame_range,
    find_frames,
    format_frames,
    is_sequence_pattern,
    iter_frames,
    missing_frames,
    resolve_frames,
    sequence_path,
    sequence_pattern,
)
from core.io.video import (
    VIDEO_FRAME_NUMBERS,
    VIDEO_SUFFIXES,
    VideoInfo,
    VideoReader,
    close_video_readers,
    count_video_frames,
    is_video_file,
    iter_video_frames,
    read_video_frame,
    resolve_video_frames,
    video_info,
)

__all__ = [
    "BIT_DEPTHS", "COLORSPACE_PARAMS", "COLORSPACE_SOURCES", "COMPRESSIONS", "DEFAULT_BIT_DEPTH", "EXR_OUTPUT_PARAMS",
    "DEFAULT_INTEGER_COLORSPACE", "DEFAULT_LINEAR_COLORSPACE", "DEFAULT_OUTPUT_COLORSPACE", "EXTENSIONS",
    "PIXEL_TYPES", "SCENE_LINEAR_COLORSPACES", "VIDEO_FRAME_NUMBERS", "VIDEO_SUFFIXES", "FrameRange", "VideoInfo", "VideoReader",
    "as_frame_range", "close_video_readers", "colorspace_option", "count_video_frames", "default_linear_colorspace",
    "encoded_colorspace", "find_frames", "format_frames", "is_sequence_pattern", "is_video_file", "iter_frames",
    "iter_video_frames", "job_window", "missing_frames", "read_exr_header", "read_frame", "read_image", "read_video_frame",
    "resolve_frames", "resolve_video_frames", "samples", "sequence_path", "sequence_pattern", "video_info", "write_image",
]


def read_image(path: str | os.PathLike, *, colorspace: str | None = None,
               window: str | list[int] = "display") -> Frame:
    """Read one image file (``.exr``, ``.png``, ``.tif``/``.tiff``, ``.jpg``/``.jpeg``).

    Returns a :class:`~core.frame.Frame` with ``float32`` ``HWC`` pixels:
    EXR and float TIFF values as stored (scene-linear, unbounded); 8/16-bit
    files normalised to 0..1 (display-encoded). ``colorspace`` states the
    colour space and overrides what the file says (``None`` or ``"auto"``:
    the header, else the file-type rule in the module docstring). Missing, corrupt or
    truncated files raise :class:`~core.errors.ImageReadError` naming the
    path; unsupported extensions too. ``window``: the part of an EXR read
    (``"display"``, ``"data"`` or a box, :func:`core.io.exr.read_exr`);
    other files have no windows and are always read whole.
    """
    from core.io._common import existing_file
    from core.io.exr import check_window

    window = check_window(window)
    p = existing_file(path)
    if image_format(p) == "exr":
        from core.io.exr import read_exr

        return read_exr(p, colorspace=colorspace, window=window)
    from core.io.raster import read_raster

    return read_raster(p, colorspace=colorspace)


def read_frame(path: str | os.PathLike, frame: int | None = None, *, colorspace: str | None = None,
               window: str | list[int] = "display") -> Frame:
    """One frame of a job's input: an image file, or frame ``frame`` of a video file (:func:`is_video_file`).

    An image file is the frame: it is read with :func:`read_image` and
    labelled ``frame`` (when given). A video's ``frame`` is its 0-based
    decode index (required; :func:`read_video_frame`, which decodes a job's
    frames in order once each). ``float32`` ``HWC`` pixels in the colour
    space ``colorspace`` states, else the file-type rule of this package
    (video: ``"srgb"``, display-encoded 0..1). ``window``: as :func:`read_image` (a video is read whole).
    """
    if is_video_file(path):
        if frame is None:
            raise ParameterError(f"{fspath(path)}: a video; say which frame to read (0-based)")
        return read_video_frame(path, frame, colorspace=colorspace)
    image = read_image(path, colorspace=colorspace, window=window)
    return image if frame is None else image.replace(frame=int(frame))


def job_window(output: str | os.PathLike) -> str:
    """The window a per-frame job reads its input in to write ``output``: ``"data"`` for EXR, which keeps
    the data window (overscan, a bbox smaller than the format) and the display window through
    read -> process -> write; ``"display"`` for containers without windows (PNG, TIFF, JPEG: overscan is
    dropped, and said, by :func:`core.io.exr.read_exr`).

    >>> job_window("out.####.exr"), job_window("out.png")
    ('data', 'display')
    """
    return "data" if image_format(fspath(output), writing=True) == "exr" else "display"


def write_image(path: str | os.PathLike, frame_or_array: Frame | np.ndarray, *, colorspace: str | None = None,
                pixel_type: str = "half", compression: str = "zip", bit_depth: int | None = None,
                attributes: Mapping[str, Any] | None = None, output_colorspace: str | None = None,
                overwrite: bool = False) -> Path:
    """Write a frame (or a ``float32``-convertible ``HWC`` array) atomically; returns the path.

    The format follows the extension. ``colorspace`` is required for a bare
    array and, for a :class:`Frame`, may only repeat the frame's own colour
    space (it labels, it does not convert). The pixels are then encoded for
    the container by :func:`encoded_colorspace`: a scene-linear frame
    written to 8/16-bit PNG, TIFF or JPEG is converted to
    ``output_colorspace`` (``None``: ``"srgb"``, what viewers assume), EXR
    and float TIFF keep the frame's space unless ``output_colorspace`` asks
    for another; data (``"raw"``, unknown names) is never converted. The
    header names the colour space actually written. EXR:
    ``pixel_type`` ``"half"``/``"float"``, ``compression`` from
    :data:`COMPRESSIONS`, ``bit_depth`` must be ``None``. PNG/TIFF/JPEG:
    ``bit_depth`` from :data:`BIT_DEPTHS` (``None``: 16 for PNG/TIFF, 8 for
    JPEG); integer output clips to 0..1, rounds, and refuses NaN/Inf;
    ``pixel_type`` and ``compression`` are validated but unused.
    ``attributes`` (str/int/float values) are stored in the file header
    beside ``reelkit/colorspace`` and ``reelkit/version``. Raises
    :class:`~core.errors.OutputExistsError` if the file exists and not
    ``overwrite``; the existing file is then untouched.
    """
    target = fspath(path)
    fmt = image_format(target, writing=True)
    colorspace = check_colorspace_arg(colorspace)
    if isinstance(frame_or_array, Frame):
        frame = frame_or_array
        if colorspace is not None and colorspace != frame.colorspace:
            raise ColorSpaceError(
                f"{target}: the frame is {frame.colorspace}, colorspace={colorspace!r} asks to label it otherwise; "
                "writing does not convert (use core.color first)"
            )
    else:
        if colorspace is None:
            raise ParameterError(f"{target}: colorspace= is required to write a bare array (it is never guessed)")
        frame = Frame(frame_or_array, colorspace)
    check_colorspace_arg(frame.colorspace)
    check_exr_options(pixel_type, compression)
    if not overwrite and os.path.exists(target):
        raise OutputExistsError(f"{target}: already exists (use --force / overwrite=True to replace it)")
    if fmt != "exr":
        check_bit_depth(fmt, bit_depth, frame.n_channels)
    space = encoded_colorspace(target, frame.colorspace, output_colorspace=check_colorspace_arg(output_colorspace),
                               bit_depth=bit_depth)
    if space != frame.colorspace:
        frame = _encode(frame, space)
    if fmt == "exr":
        from core.io.exr import write_exr

        if bit_depth is not None:
            raise ParameterError(
                f"{target}: bit_depth applies to PNG/TIFF/JPEG; for EXR choose pixel_type half or float"
            )
        return write_exr(target, frame, pixel_type=pixel_type, compression=compression,
                         attributes=attributes, overwrite=overwrite)
    from core.io.raster import write_raster

    return write_raster(target, frame, bit_depth=bit_depth, attributes=attributes, overwrite=overwrite)


def _encode(frame: Frame, space: str) -> Frame:
    """``frame`` converted to ``space`` for writing; a 1-channel (grey) frame takes the sRGB curve alone.

    A grey channel of any scene-linear RGB space is achromatic, and the same
    value in linear Rec.709, so only per-channel targets (``srgb``,
    ``lin_rec709``) are defined for it.
    """
    from core import color

    linear = color.canonical_colorspace(frame.colorspace) in SCENE_LINEAR_COLORSPACES
    if frame.n_channels == 1 and linear and space in ("srgb", "lin_rec709"):
        frame = frame.replace(colorspace="lin_rec709")
    return color.convert_frame(frame, space)
