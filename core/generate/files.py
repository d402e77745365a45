"""Write generated images: the library behind ``reelkit generate``.

:func:`generate_files` renders ``count`` images of one family into
``output_dir`` as ``NAME.####.exr`` (frames 1..count): OpenEXR half,
scene-linear ACEScg, with the generator's name and version, the params
(JSON) and the seed in the header; beside each a ``NAME.####.json`` with
the family, generator version, seed, size and every parameter as flat keys
(:data:`PARAMS_FORMAT`: the (image, params) data set format of the inverse
model), and with ``preview`` an sRGB-encoded 8-bit ``NAME.####.png``.

One image (``count`` 1) is the given params and seed. A batch (``count`` >
1) gives each frame its own seed (:func:`~core.generate.sampling.variation_seed`)
and, with ``vary`` (the default), draws every parameter the caller did not
fix from the family's sampling ranges (:mod:`core.generate.sampling`).

Frames are a job like every command's (:func:`core.jobs.run_frame_job`):
``manifest.json`` records the config (family, given params, seed, size,
count...), a re-run with the same config skips frames already made
(resume), other existing files are refused unless ``force``. Every input is
checked before anything is written.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.errors import ParameterError
from core.formats import FORMATS
from core.generate.registry import GENERATOR_VERSION, SEED_PARAM, check_seed, family, generate, parse_size
from core.generate.sampling import sample_params, variation_seed
from core.jobs import FrameTask, ProgressFn, run_frame_job
from core.manifest import Manifest
from core.params import Param, ParamSet

#: Format of the per-image params JSON.
PARAMS_FORMAT = FORMATS["reelkit.generate.params"].tag

#: Options of a generate run besides the family's own parameters (CLI options / node knobs).
GENERATE_RUN_PARAMS = ParamSet(
    "generate_run",
    [
        SEED_PARAM,
        Param("image_size", str, "1920x1080", "image size WIDTHxHEIGHT, each side 1..16384", label="Size",
              cli="--size"),
        Param("count", int, 1, "images to make: more than 1 makes a batch of seeded variations", minimum=1,
              maximum=1_000_000),
        Param("name", str, "", "file name stem (NAME.####.exr); default: the family's name"),
        Param("preview", bool, False, "also write an sRGB 8-bit PNG preview beside each EXR"),
        Param("vary", bool, True, "in a batch, draw the parameters not given from the family's sampling ranges "
              "(--no-vary: change only the seed)"),
    ],
)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def output_names(name: str, frame: int, *, preview: bool) -> tuple[str, ...]:
    """The files of one frame, relative to the output folder: EXR, params JSON, then the PNG preview if any.

    >>> output_names("noise", 3, preview=True)
    ('noise.0003.exr', 'noise.0003.json', 'noise.0003.png')
    """
    stem = f"{name}.{frame:04d}"
    return (f"{stem}.exr", f"{stem}.json") + ((f"{stem}.png",) if preview else ())


def frame_params(name: str, given: Mapping[str, Any], *, seed: int, index: int, count: int,
                 vary: bool) -> tuple[dict[str, Any], int]:
    """(resolved params, render seed) of frame ``index`` (0-based) of a run (module docstring)."""
    if count == 1:
        return family(name).spec.resolve(given), seed
    params = sample_params(name, seed, index, given) if vary else family(name).spec.resolve(given)
    return params, variation_seed(seed, index)


def generate_files(family_name: str, params: Mapping[str, Any] | None = None, *, output_dir: str | os.PathLike = ".",
                   seed: Any = 0, image_size: str = "1920x1080", count: int = 1, name: str = "", preview: bool = False,
                   vary: bool = True, force: bool = False, progress: ProgressFn | None = None) -> Manifest:
    """Render ``count`` images of ``family_name`` into ``output_dir``; returns the finished manifest.

    ``params`` are the values the caller gave (checked against the family's
    spec; in a batch the others are drawn). Bad input (unknown family or
    parameter, a value out of range, an ``image_size`` (``"WIDTHxHEIGHT"``)
    outside 1..16384, a seed that
    is not an integer, a bad name) raises :class:`~core.errors.ParameterError`
    before anything is written.
    """
    fam = family(family_name)
    given = dict(params or {})
    fam.spec.resolve(given)  # unknown names and bad values fail here, before any file
    given = {k: fam.spec[k].coerce(v) for k, v in given.items()}
    run = GENERATE_RUN_PARAMS.resolve({"seed": check_seed(seed), "image_size": image_size, "count": count,
                                       "name": name, "preview": preview, "vary": vary})
    width, height = parse_size(run["image_size"])
    stem = run["name"] or fam.name
    if not _NAME.match(stem):
        raise ParameterError(f"parameter 'name': {stem!r} must be a plain file name stem (letters, digits, . _ -)")
    out_dir = Path(output_dir)
    tasks = []
    for frame in range(1, run["count"] + 1):
        files = [out_dir / f for f in output_names(stem, frame, preview=run["preview"])]
        tasks.append(FrameTask(str(frame), frame, None, files[0], extra_targets=tuple(files[1:])))
    config = {"family": fam.name, "params": given, "seed": run["seed"], "size": [width, height],
              "count": run["count"], "vary": run["vary"], "name": stem, "preview": run["preview"],
              "generator": GENERATOR_VERSION, "params_format": PARAMS_FORMAT}
    manifest = Manifest(out_dir, "generate", config, seed=run["seed"])
    manifest.set("family", fam.name)
    manifest.set("parameters", given)

    def make(task: FrameTask) -> dict[str, Any]:
        values, frame_seed = frame_params(fam.name, given, seed=run["seed"], index=task.frame - 1,
                                          count=run["count"], vary=run["vary"])
        return write_generated(task.target, fam.name, values, seed=frame_seed, width=width, height=height,
                               params_json=task.extra_targets[0],
                               preview=task.extra_targets[1] if run["preview"] else None)

    return run_frame_job(manifest, tasks, make, force=force, progress=progress)


def write_generated(exr: Path, family_name: str, params: Mapping[str, Any], *, seed: int, width: int, height: int,
                    params_json: Path, preview: Path | None = None) -> dict[str, Any]:
    """Render one image and write its EXR (half), params JSON and optional PNG preview; returns its record."""
    from core import io
    from core.io.atomic import write_text_atomic

    frame = generate(family_name, params, seed=seed, width=width, height=height)
    values = frame.metadata["params"]
    io.write_image(exr, frame, pixel_type="half", overwrite=True,
                   attributes={"reelkit/generate/generator": GENERATOR_VERSION,
                               "reelkit/generate/family": family_name,
                               "reelkit/generate/params": json.dumps(values, sort_keys=True, separators=(",", ":")),
                               "reelkit/generate/seed": str(seed)})
    record = {"format": PARAMS_FORMAT, "generator": GENERATOR_VERSION, "family": family_name, "seed": seed,
              "width": width, "height": height, "colorspace": frame.colorspace, "image": exr.name, "params": values}
    write_text_atomic(params_json, json.dumps(record, indent=1, sort_keys=False) + "\n", overwrite=True)
    if preview is not None:
        io.write_image(preview, frame, bit_depth=8, overwrite=True)
    return {"output": str(exr), "seed": seed}
