"""Convert images and sequences between colour spaces and file formats.

The library behind ``reelkit convert`` and the ``ReelColorConvert`` node:
read each input frame, convert it with :mod:`core.color`, write it with
:mod:`core.io`, record it in the manifest. Per-frame work is a pure function
of (frame, parameters), so a frame range can run anywhere.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from core.jobs import ProgressFn, output_path, plan_frame_files, run_frame_job
from core.manifest import Manifest
from core.io.exr import EXR_OUTPUT_PARAMS
from core.params import Param, ParamSet

COLORSPACES = ("ACEScg", "ACES2065-1", "lin_rec709", "srgb", "XYZ", "Lab", "OKLab")

CONVERT_PARAMS = ParamSet(
    "convert",
    [
        Param("source", str, "auto", "colour space of the input; 'auto' takes it from the file, else "
              "core.io's file-type rule (8/16-bit srgb; float $OCIO's scene_linear, else lin_rec709)",
              choices=("auto",) + COLORSPACES, cli="--from", label="From"),
        Param("target", str, "auto", "colour space to convert to; 'auto' gives the output container's own: EXR "
              "scene-linear (a display-encoded input such as sRGB video or JPEG is decoded to lin_rec709, a "
              "scene-linear one is kept), PNG/TIFF/JPEG sRGB-encoded", choices=("auto",) + COLORSPACES, cli="--to",
              label="To"),
        Param("nonfinite", str, "raise", "NaN/Inf pixels: 'raise' stops with the frame and pixel, 'pass' lets them through",
              choices=("raise", "pass"), label="NaN/Inf"),
        *EXR_OUTPUT_PARAMS,
        Param("bit_depth", str, "auto", "PNG/TIFF output bit depth ('auto': 16 for PNG/TIFF, 8 for JPEG)",
              choices=("auto", "8", "16"), label="Bit depth"),
    ],
)

def auto_target(path: str | os.PathLike, colorspace: str, bit_depth: int | None = None) -> str:
    """What ``--to auto`` converts a frame in ``colorspace`` to for the file ``path``: the container's rule
    (:func:`core.io.encoded_colorspace`: EXR keeps the frame's space, 8/16-bit files get scene-linear frames
    sRGB-encoded), except that a display-encoded sRGB frame written to EXR is decoded to linear Rec.709
    (same primaries and white, linear light), so an EXR holds scene-linear values.

    >>> auto_target("f.0001.exr", "srgb"), auto_target("f.0001.exr", "ACEScg"), auto_target("f.png", "ACEScg")
    ('lin_rec709', 'ACEScg', 'srgb')
    """
    from core import io

    space = io.encoded_colorspace(os.fspath(path), colorspace, bit_depth=bit_depth)
    return "lin_rec709" if space == "srgb" and io.image_format(os.fspath(path), writing=True) == "exr" else space


def convert_frame_file(src: Path, dst: Path, params: dict[str, Any], *, frame: int | None = None,
                       overwrite: bool = False) -> dict[str, Any]:
    """Convert one file (or frame ``frame`` of a video); returns a record for the manifest (colour spaces,
    input, frame, output path; for RGBA, ``alpha``: the input's association, :mod:`core.color.alpha`)."""
    from core import color, io
    from core.color.alpha import alpha_of

    source = None if params["source"] == "auto" else params["source"]
    img = io.read_frame(src, frame, colorspace=source, window=io.job_window(dst))  # EXR out keeps overscan and bbox
    bit_depth = None if params["bit_depth"] == "auto" else int(params["bit_depth"])
    target = params["target"] if params["target"] != "auto" else auto_target(dst, img.colorspace, bit_depth)
    out = color.convert_frame(img, target, nonfinite=params["nonfinite"])
    record = {"input": str(src), "frame": frame, "output": str(dst), "from": img.colorspace, "to": out.colorspace}
    if img.n_channels == 4:
        record["alpha"] = alpha_of(img)
    del img  # not needed to write: on a huge frame, one frame-sized array less while the file is encoded
    # the target is what the user asked the file to hold, whatever the container
    io.write_image(dst, out, pixel_type=params["pixel_type"], compression=params["compression"],
                   bit_depth=bit_depth, output_colorspace=out.colorspace, overwrite=overwrite,
                   attributes={"reelkit/source": os.path.basename(src)})
    return record


def convert(input_path: str, output: str, *, output_dir: str | os.PathLike = ".", params: dict[str, Any] | None = None,
            frames: str | None = None, force: bool = False, progress: ProgressFn | None = None) -> Manifest:
    """Convert a file or sequence into ``output_dir``; returns the finished manifest.

    Frames already converted by an earlier run with the same configuration
    are skipped (resume) unless ``force``. Outputs that exist but were not
    made by such a run raise :class:`~core.errors.OutputExistsError` unless
    ``force``; they are never silently replaced.
    """
    values = CONVERT_PARAMS.resolve(params or {})
    out_dir = Path(output_dir)
    out_pattern = output_path(out_dir, output)
    tasks = plan_frame_files(input_path, out_pattern, frames=frames)
    manifest = Manifest(out_dir, "convert", {"input": str(input_path), "output": output, "params": values},
                        frame_range=frames)
    manifest.set("parameters", values)
    manifest.set("colorspaces", {"input": values["source"], "output": values["target"]})
    return run_frame_job(
        manifest, tasks,
        lambda t: convert_frame_file(t.source, t.target, values, frame=t.frame, overwrite=True),
        force=force, progress=progress)
