"""Convert images and sequences between colour spaces and file formats.

The library behind ``reelkit convert`` and the ``ReelColorConvert`` node:
read each input frame, convert it with :mod:`core.color`, write it with
:mod:`core.io`, record it in the manifest. Per-frame work is a pure function
of (frame, parameters), so a frame range can run anywhere.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.errors import ParameterError
from core.manifest import Manifest, file_sha256
from core.io.exr import COMPRESSIONS as EXR_COMPRESSIONS
from core.io.exr import PIXEL_TYPES
from core.params import Param, ParamSet

COLORSPACES = ("ACEScg", "ACES2065-1", "lin_rec709", "srgb", "XYZ", "Lab", "OKLab")

CONVERT_PARAMS = ParamSet(
    "convert",
    [
        Param("source", str, "auto", "colour space of the input; 'auto' takes it from the file",
              choices=("auto",) + COLORSPACES, cli="--from", label="From"),
        Param("target", str, "srgb", "colour space to convert to", choices=COLORSPACES, cli="--to", label="To"),
        Param("nonfinite", str, "raise", "NaN/Inf pixels: 'raise' stops with the frame and pixel, 'pass' lets them through",
              choices=("raise", "pass"), label="NaN/Inf"),
        Param("pixel_type", str, "half", "EXR output pixel type", choices=PIXEL_TYPES, label="EXR pixel type"),
        Param("compression", str, "zip", "EXR output compression", choices=tuple(EXR_COMPRESSIONS), label="EXR compression"),
        Param("bit_depth", str, "auto", "PNG/TIFF output bit depth ('auto': 16 for PNG/TIFF, 8 for JPEG)",
              choices=("auto", "8", "16"), label="Bit depth"),
    ],
)

ProgressFn = Callable[[int, int, "int | None"], None]


def plan_convert(input_path: str, output: str, *, frames: str | None = None) -> list[tuple[str, int | None, Path, Path]]:
    """List the work: ``(key, frame number, input file, output file)`` per frame.

    ``input_path`` is a file or a sequence pattern (``plate.####.exr``,
    ``plate.%04d.exr``, or one file of a numbered sequence when ``frames`` is
    given); ``output`` is a file name or, for a sequence, a pattern.
    """
    from core import io

    pattern = io.sequence_pattern(input_path) if (frames or io.is_sequence_pattern(input_path)) else None
    if pattern is None:
        if frames:
            raise ParameterError(f"--frames given but {input_path} is not part of a numbered sequence")
        src = Path(input_path)
        if not src.is_file():
            from core.errors import ImageReadError

            raise ImageReadError(f"{input_path}: no such file")
        if io.is_sequence_pattern(output):
            raise ParameterError(f"output {output} is a sequence pattern but the input {input_path} is a single file")
        return [(src.name, None, src, Path(output))]
    if not io.is_sequence_pattern(output):
        raise ParameterError(f"input {input_path} is a sequence: the output must be a pattern too (e.g. out.####.exr), got {output}")
    numbers = io.resolve_frames(pattern, frames)
    return [(str(n), n, Path(io.sequence_path(pattern, n)), Path(io.sequence_path(output, n))) for n in numbers]


def convert_frame_file(src: Path, dst: Path, params: dict[str, Any], *, frame: int | None = None,
                       overwrite: bool = False) -> dict[str, Any]:
    """Convert one file; returns a record for the manifest (colour spaces, output path)."""
    from core import color, io

    source = None if params["source"] == "auto" else params["source"]
    img = io.read_image(src, colorspace=source)
    if frame is not None:
        img = img.replace(frame=frame)
    out = color.convert_frame(img, params["target"], nonfinite=params["nonfinite"])
    bit_depth = None if params["bit_depth"] == "auto" else int(params["bit_depth"])
    io.write_image(dst, out, pixel_type=params["pixel_type"], compression=params["compression"],
                   bit_depth=bit_depth, overwrite=overwrite,
                   attributes={"reelkit/source": os.path.basename(src)})
    return {"input": str(src), "output": str(dst), "from": img.colorspace, "to": out.colorspace}


def convert(input_path: str, output: str, *, output_dir: str | os.PathLike = ".", params: dict[str, Any] | None = None,
            frames: str | None = None, force: bool = False, progress: ProgressFn | None = None) -> Manifest:
    """Convert a file or sequence into ``output_dir``; returns the finished manifest.

    Frames already converted by an earlier run with the same configuration
    are skipped (resume) unless ``force``. Outputs that exist but were not
    made by such a run raise :class:`~core.errors.OutputExistsError` unless
    ``force``; they are never silently replaced.
    """
    from core.errors import OutputExistsError

    values = CONVERT_PARAMS.resolve(params or {})
    out_dir = Path(output_dir)
    out_pattern = output if os.path.isabs(output) else str(out_dir / output)
    work = plan_convert(input_path, out_pattern, frames=frames)
    for _key, _n, src, dst in work:
        if src.resolve() == dst.resolve():
            raise ParameterError(f"output {dst} is the input file: choose another name or --output-dir")
    manifest = Manifest(out_dir, "convert", {"input": str(input_path), "output": output, "params": values},
                        frame_range=frames)
    manifest.set("parameters", values)
    done = {} if force else manifest.previous_done()
    blocked = [str(dst) for key, _n, _s, dst in work if dst.exists() and key not in done and not force]
    if blocked:
        more = f" and {len(blocked) - 1} more" if len(blocked) > 1 else ""
        raise OutputExistsError(f"{blocked[0]}{more}: already exists (use --force to replace)")
    out_dir.mkdir(parents=True, exist_ok=True)
    total = len(work)
    try:
        for i, (key, n, src, dst) in enumerate(work):
            if key in done and dst.exists():
                manifest.adopt(key, done[key])
            else:
                digest = file_sha256(src)
                record = convert_frame_file(src, dst, values, frame=n, overwrite=True)
                manifest.frame_done(key, sha256=digest, **record)
            if progress is not None:
                progress(i + 1, total, n)
    except BaseException:
        manifest.finish("failed")
        raise
    manifest.data["inputs"] = {rec["input"]: rec.get("sha256") for rec in manifest.data["frames"].values()}
    manifest.finish("done")
    return manifest
