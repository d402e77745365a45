"""Synthetic (image, params) data sets for an inverse model: seeded, stratified, resumable.

:func:`sample_params` draws sample ``index`` of a data set from a
:class:`~core.inverse.space.ParamSpace`, stratified so that every
categorical value (and both booleans) appears equally: within each block
of ``n`` consecutive samples (``n`` the number of choices) each choice
appears once, in a seeded order; continuous values are stratified the same
way over blocks of :data:`STRATA` samples (one draw per 1/16 of the range,
a Latin hypercube per block). Draws are a pure function of (seed, index,
param name), made with numpy's PCG64 from a ``SeedSequence`` — the same on
every machine.

:func:`make_dataset` renders ``count`` samples into a folder as
``NAME.####.exr`` (OpenEXR half, scene-linear ACEScg) and ``NAME.####.json``
(the seed, size and every param as flat keys: for a :mod:`core.generate`
family exactly ``reelkit generate``'s files), a per-frame job
(:func:`core.jobs.run_frame_job`): ``manifest.json`` records the generator,
the space (:meth:`~core.inverse.space.ParamSpace.to_dict`), seed, size and
count; a re-run resumes, ``force`` redoes. :func:`load_dataset` reads it
back as arrays for training.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import FormatError, ImageReadError, ParameterError
from core.formats import FORMATS
from core.inverse.generators import Generator
from core.inverse.space import Encoded, ParamSpace, flatten
from core.jobs import ProgressFn

#: Formats of a data set's config (in its manifest) and of a non-generate sample's params JSON (:mod:`core.formats`;
#: a ``generate:`` sample's is ``reelkit.generate.params/1``).
DATA_FORMAT = FORMATS["reelkit.inverse.data"]
SAMPLE_FORMAT = FORMATS["reelkit.inverse.sample"]
#: Continuous values are stratified over blocks of this many samples.
STRATA = 16
MAX_COUNT = 1_000_000

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def keyed_rng(seed: int, *key: Any) -> np.random.Generator:
    """numpy's PCG64 seeded from ``seed`` and ``key`` (strings, ints: CRC-32 of their text): the same
    stream on every machine for the same (seed, key)."""
    words = [int(seed) & 0xFFFFFFFF, int(seed) >> 32 & 0xFFFFFFFF]
    words += [zlib.crc32(str(k).encode("utf-8")) for k in key]
    return np.random.default_rng(np.random.SeedSequence(words))


def _stratum(seed: int, name: str, index: int, n: int) -> int:
    """Which of ``n`` strata sample ``index`` falls in: a seeded permutation per block of ``n``."""
    block, pos = divmod(index, n)
    return int(keyed_rng(seed, "stratum", name, block).permutation(n)[pos])


def sample_seed(seed: int, index: int) -> int:
    """The render seed of sample ``index`` of a data set seeded ``seed`` (0..2**31-1)."""
    return int(keyed_rng(seed, "render", index).integers(0, 2**31 - 1))


def sample_params(space: ParamSpace, seed: int, index: int) -> dict[str, Any]:
    """The learned params of sample ``index`` (module docstring): flat keys, floats rounded to 6 decimals.

    >>> from core.inverse.generators import generator
    >>> g = generator("generate:shape")
    >>> space = ParamSpace.from_spec(g.spec, {"shape": ("circle", "box"), "radius": (0.1, 0.3)})
    >>> sorted({sample_params(space, 1, i)["shape"] for i in (0, 1)})
    ['box', 'circle']
    """
    out: dict[str, Any] = {}
    for d in space.dims:
        if d.kind == "categorical":
            out[d.name] = d.choices[_stratum(seed, d.name, index, len(d.choices))]
        elif d.kind == "boolean":
            out[d.name] = bool(_stratum(seed, d.name, index, 2))
        else:
            u = (_stratum(seed, d.name, index, STRATA) + keyed_rng(seed, "jitter", d.name, index).random()) / STRATA
            if d.integer:
                out[d.name] = min(int(np.floor(d.low + (d.high - d.low + 1) * u)), int(d.high))
            else:
                out[d.name] = round(d.low + (d.high - d.low) * u, 6)
    return out


def output_names(name: str, index: int) -> tuple[str, str]:
    """The image and params JSON of sample ``index`` (0-based; files are numbered from 1)."""
    stem = f"{name}.{index + 1:04d}"
    return f"{stem}.exr", f"{stem}.json"


def write_sample(exr: Path, gen: Generator, params: dict[str, Any], *, seed: int, width: int, height: int,
                 params_json: Path) -> dict[str, Any]:
    """Render one sample with ``gen`` and write its EXR (half, ACEScg) and params JSON (flat keys)."""
    from core import io
    from core.frame import Frame
    from core.io.atomic import write_text_atomic

    values = gen.spec.resolve(params)
    frame = Frame(gen.render(values, seed, width, height), "ACEScg")
    io.write_image(exr, frame, pixel_type="half", overwrite=True)
    record = {"format": SAMPLE_FORMAT.tag, "generator": gen.name, "seed": seed, "width": width, "height": height,
              "colorspace": "ACEScg", "image": exr.name, "params": flatten(values)}
    write_text_atomic(params_json, json.dumps(record, indent=1) + "\n", overwrite=True)
    return {"output": str(exr), "seed": seed}


def make_dataset(gen: Generator, space: ParamSpace, output_dir: str | os.PathLike, *, count: int, seed: int = 0,
                 width: int = 64, height: int = 64, name: str = "sample", force: bool = False,
                 progress: ProgressFn | None = None):
    """Render ``count`` samples of ``gen`` over ``space`` into ``output_dir``; returns the finished
    :class:`~core.manifest.Manifest` (module docstring). Bad input raises one
    :class:`~core.errors.ParameterError` line before anything is written."""
    from core.generate import check_seed, check_size
    from core.jobs import FrameTask, run_frame_job
    from core.manifest import Manifest

    if space.spec_name != gen.spec.name or any(n not in gen.spec for n in space.names):
        raise ParameterError(f"inverse data: the space is of {space.spec_name!r}, not of generator {gen.name!r}")
    seed = check_seed(seed)
    width, height = check_size(width, height)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise ParameterError(f"inverse data: count {count!r} must be an integer from 1 to {MAX_COUNT}")
    if not _NAME.match(name):
        raise ParameterError(f"inverse data: name {name!r} must be a plain file name stem (letters, digits, . _ -)")
    gen.spec.resolve({**space.fixed, **sample_params(space, seed, 0)})  # a space the generator refuses fails here
    out = Path(output_dir)
    tasks = []
    for i in range(count):
        exr, js = output_names(name, i)
        tasks.append(FrameTask(str(i + 1), i + 1, None, out / exr, extra_targets=(out / js,)))
    config = {"format": DATA_FORMAT.tag, "generator": dict(gen.record), "space": space.to_dict(), "seed": seed,
              "size": [width, height], "count": count, "name": name}
    manifest = Manifest(out, "inverse-data", config, seed=seed)
    write = gen.write or (lambda exr, params, **kw: write_sample(exr, gen, params, **kw))

    def make(task: FrameTask) -> dict[str, Any]:
        index = task.frame - 1
        params = {**space.fixed, **sample_params(space, seed, index)}
        return write(task.target, params, seed=sample_seed(seed, index), width=width, height=height,
                     params_json=task.extra_targets[0])

    return run_frame_job(manifest, tasks, make, force=force, progress=progress)


@dataclasses.dataclass
class InverseData:
    """A data set in memory: ``images`` ``float32`` ``N x H x W x 3`` scene-linear ACEScg, ``targets``
    (:class:`~core.inverse.space.Encoded` with a leading N axis), ``params`` (flat dicts), ``space``,
    ``generator`` (its manifest record), ``folder``."""

    images: np.ndarray
    targets: Encoded
    params: list[dict[str, Any]]
    space: ParamSpace
    generator: dict[str, Any]
    folder: Path

    def __len__(self) -> int:
        return len(self.images)


def data_config(folder: str | os.PathLike) -> dict[str, Any]:
    """The config of the data set in ``folder`` (its manifest's), or one :class:`ParameterError` line."""
    path = Path(folder) / "manifest.json"
    try:
        doc = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ParameterError(f"{folder}: not an inverse data set (cannot read manifest.json: {exc})") from None
    if doc.get("command") != "inverse-data":
        raise ParameterError(f"{folder}: not an inverse data set (manifest of {doc.get('command')!r})")
    try:
        config = DATA_FORMAT.read(doc.get("config", {}), where=f"{path} (config)")
    except FormatError as exc:
        raise ParameterError(f"{folder}: not an inverse data set ({exc})") from None
    if doc.get("status") != "done":
        raise ParameterError(f"{folder}: the data set is not finished (status {doc.get('status')!r}); make it again "
                             "to resume")
    return config


def load_dataset(folder: str | os.PathLike) -> InverseData:
    """Read a finished data set made by :func:`make_dataset`."""
    from core import io

    config = data_config(folder)
    space = ParamSpace.from_dict(config["space"])
    images, params = [], []
    for i in range(config["count"]):
        exr, js = (Path(folder) / n for n in output_names(config["name"], i))
        try:
            record = json.loads(js.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise ImageReadError(f"{js}: cannot read the sample's params ({exc})") from None
        images.append(io.read_image(exr).pixels[..., :3].astype(np.float32))
        params.append(flatten(record["params"]))
    enc = [space.encode(p) for p in params]
    targets = Encoded(*(np.stack([e[k] for e in enc]) for k in range(3)))
    return InverseData(np.stack(images), targets, params, space, dict(config["generator"]), Path(folder))
