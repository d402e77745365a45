"""Degrade image files and sequences: the library behind ``reelkit degrade``.

Reads each input frame (any format :mod:`core.io` reads; frames not in
ACEScg are converted with :mod:`core.color`), degrades it with
:func:`core.degrade.degrade_frame` for its frame number and the job seed,
writes it (EXR keeps the scene-linear ACEScg result; 8/16-bit PNG, TIFF and
JPEG are encoded for display, sRGB unless ``output_colorspace`` says
otherwise — see :func:`core.io.encoded_colorspace`) and records it in the
manifest — with the seed, and per frame the damage actually drawn
(weave offsets, flicker gain, speck counts, scratch x). Per-frame work is a
pure function of (frame, parameters, seed): a frame range can run anywhere
and resumes like :func:`core.convert.convert`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.degrade._rng import STREAM_SCHEME
from core.degrade.model import (
    PRESET_PARAM,
    RECORD_FORMAT,
    SEED_PARAM,
    WORKING_COLORSPACE,
    degrade_frame,
    enabled_effects,
    resolve_params,
)
from core.io import EXR_OUTPUT_PARAMS
from core.jobs import ProgressFn, output_path, plan_frame_files, run_frame_job
from core.manifest import Manifest
from core.params import ParamSet

#: Run options of :func:`degrade_files` besides the effect parameters (CLI options / node knobs).
DEGRADE_OUTPUT_PARAMS = ParamSet(
    "degrade_output",
    [
        PRESET_PARAM,
        SEED_PARAM,
        *EXR_OUTPUT_PARAMS,
    ],
)


def degrade_file(src: Path, dst: Path, *, frame: int | None, seed: int, preset: str | None,
                 values: Mapping[str, Any], pixel_type: str = "half", compression: str = "zip",
                 input_colorspace: str | None = None, output_colorspace: str | None = None,
                 overwrite: bool = False) -> dict[str, Any]:
    """Degrade one file into ``dst``; returns the manifest record (paths, colour spaces, damage summary).

    A single file that is not part of a sequence is frame 0; a video's
    ``frame`` is the frame read (:func:`core.io.read_frame`). ``input_colorspace``
    states the input's colour space (``None``: :func:`core.io.read_image`'s
    rule); ``output_colorspace`` the one written (``None``: the container's
    rule). The record's ``from`` / ``colorspace`` are the spaces read / written; for RGBA, ``alpha``
    is the input's association (:func:`core.color.alpha.alpha_of`, as convert records it).
    """
    from core import io
    from core.color.alpha import alpha_of

    number = 0 if frame is None else int(frame)
    img = io.read_frame(src, number, colorspace=input_colorspace, window=io.job_window(dst))  # EXR: overscan, bbox kept
    source_space, alpha = img.colorspace, alpha_of(img)
    if img.colorspace != WORKING_COLORSPACE:
        from core import color

        img = color.convert_frame(img, WORKING_COLORSPACE)
    result = degrade_frame(img, frame=number, seed=seed, preset=preset, params=values, consume=True)
    summary = result.summary()
    out = result.as_frame(img)
    io.write_image(dst, out, pixel_type=pixel_type, compression=compression, overwrite=overwrite,
                   output_colorspace=output_colorspace,
                   attributes={"reelkit/source": os.path.basename(src),
                               "reelkit/degrade": json.dumps(summary, sort_keys=True, separators=(",", ":")),
                               "reelkit/degrade/seed": int(seed),
                               "reelkit/degrade/preset": PRESET_PARAM.coerce(preset)})
    record = {"input": str(src), "output": str(dst), "from": source_space,
              "colorspace": io.encoded_colorspace(str(dst), out.colorspace, output_colorspace=output_colorspace),
              "frame": number, "degrade": summary}
    if alpha is not None:
        record["alpha"] = alpha
    return record


def degrade_files(input_pattern: str, output_pattern: str, *, output_dir: str | os.PathLike = ".",
                  preset: str | None = None, params: Mapping[str, Any] | None = None, seed: int = 0,
                  frames: str | None = None, force: bool = False, progress: ProgressFn | None = None,
                  pixel_type: str = "half", compression: str = "zip", input_colorspace: str | None = None,
                  output_colorspace: str | None = None) -> Manifest:
    """Degrade a file or sequence into ``output_dir``; returns the finished manifest.

    ``params`` override the ``preset``'s values (pass only values the user
    gave). The manifest records the preset, the resolved parameters, the
    seed, and per frame the damage drawn. Frames already done by an earlier
    run with the same configuration (inputs, parameters, seed) are skipped
    (resume) unless ``force``; other existing outputs raise
    :class:`~core.errors.OutputExistsError` unless ``force``.
    ``input_colorspace`` / ``output_colorspace``: OCIO or reelkit names, or
    ``None`` / ``"auto"`` for the file-type rules of :mod:`core.io`; both
    are recorded in the manifest's ``colorspaces`` (and its config, when set).
    """
    import cv2
    import numpy as np

    from core.io import colorspace_option

    values = resolve_params(preset, params)
    input_colorspace = colorspace_option(input_colorspace, name="input_colorspace")
    output_colorspace = colorspace_option(output_colorspace, name="output_colorspace")
    run = DEGRADE_OUTPUT_PARAMS.resolve({"preset": preset, "seed": seed,
                                         "pixel_type": pixel_type, "compression": compression})
    preset_name = PRESET_PARAM.value(run["preset"])
    out_dir = Path(output_dir)
    out_pattern = output_path(out_dir, output_pattern)
    tasks = plan_frame_files(input_pattern, out_pattern, frames=frames)
    config = {"input": str(input_pattern), "output": output_pattern, "preset": run["preset"], "params": values,
              "seed": run["seed"], "pixel_type": run["pixel_type"], "compression": run["compression"],
              "record_format": RECORD_FORMAT, "stream_scheme": STREAM_SCHEME}
    # set spaces only: jobs from before the options existed keep their hash and resume
    config.update({k: v for k, v in (("input_colorspace", input_colorspace),
                                     ("output_colorspace", output_colorspace)) if v is not None})
    manifest = Manifest(out_dir, "degrade", config, frame_range=frames, seed=run["seed"])
    manifest.set("parameters", values)
    manifest.set("preset", run["preset"])
    manifest.set("effects", list(enabled_effects(values)))
    manifest.set("colorspaces", {"input": input_colorspace or "auto", "output": output_colorspace or "auto"})
    manifest.set("libraries", {"numpy": np.__version__, "opencv": cv2.__version__})
    return run_frame_job(
        manifest, tasks,
        lambda t: degrade_file(t.source, t.target, frame=t.frame, seed=run["seed"], preset=preset_name,
                               values=values, pixel_type=run["pixel_type"], compression=run["compression"],
                               input_colorspace=input_colorspace, output_colorspace=output_colorspace,
                               overwrite=True),
        force=force, progress=progress)
