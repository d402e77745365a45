"""The sample photos shipped in ``core/data/samples`` (see the README there).

Real 8-bit sRGB photographs (public domain / CC0) for the demo, tests and
benchmarks. :func:`load_sample` returns them as ``float32`` ``HWC`` RGB,
0..1, colour space ``"srgb"`` (stated from the README, so
``colorspace_source`` is ``"argument"``).
"""

from __future__ import annotations

import contextlib
import importlib.resources
from pathlib import Path

from core.errors import ParameterError
from core.frame import Frame
from core.io._common import EXTENSIONS


def _folder():
    return importlib.resources.files("core") / "data" / "samples"


def sample_names() -> list[str]:
    """File names of the shipped samples, sorted (``["astronaut.png", "chelsea.png", ...]``)."""
    return sorted(e.name for e in _folder().iterdir()
                  if e.is_file() and Path(e.name).suffix.lower() in EXTENSIONS)


def _resolve(name: str) -> str:
    names = sample_names()
    if isinstance(name, str):
        if name in names:
            return name
        stems = {Path(n).stem: n for n in names}
        if name in stems:
            return stems[name]
    raise ParameterError(f"sample {name!r}: unknown; shipped samples: {', '.join(names)}")


def sample_path(name: str) -> Path:
    """Path of a shipped sample on disk (``"coffee"`` or ``"coffee.png"``)."""
    resource = _folder() / _resolve(name)
    if isinstance(resource, Path):
        return resource
    raise ParameterError(f"sample {name!r}: the package is not installed as files; use load_sample")


def load_sample(name: str) -> Frame:
    """A shipped sample as a :class:`~core.frame.Frame`: ``float32`` ``HWC`` RGB, 0..1, ``"srgb"``.

    ``name`` is a file name from :func:`sample_names` or its stem (``"coffee"``).
    """
    from core.io import read_image

    resource = _folder() / _resolve(name)
    with contextlib.ExitStack() as stack:
        path = stack.enter_context(importlib.resources.as_file(resource))
        frame = read_image(path, colorspace="srgb")
    return frame
