"""What an inverse model inverts: a generator is a parameter spec and a render function.

:class:`Generator`: ``name``, ``spec`` (a :class:`~core.params.ParamSet`),
``sampling`` (the default range of each param worth learning, as in
:attr:`core.generate.Family.sampling`), ``render(params, seed, width,
height)`` -> ``float32`` ``HW3`` scene-linear ACEScg, and ``record`` (what
identifies it in manifests). Two kinds:

- :func:`generate_generator` (``"generate:FAMILY"``): a :mod:`core.generate`
  family; its images and params JSON are written by
  :func:`core.generate.files.write_generated` (the ``reelkit generate``
  data set format);
- :func:`degrade_generator` (``"degrade"``): :mod:`core.degrade` applied to
  one clean frame, a preset's values under the learned ones.

:func:`generator` looks a name up (``"generate:shape"``; ``"degrade"`` needs
its clean frame and is built with :func:`degrade_generator`).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from core.errors import ParameterError
from core.params import ParamSet

RenderFn = Callable[[dict[str, Any], int, int, int], np.ndarray]

#: Default ranges of the degrade params worth learning (a sub-range of each spec range).
DEGRADE_SAMPLING: Mapping[str, tuple[float, float] | None] = {
    "grain_intensity": (0.0, 0.1), "grain_size": (0.5, 3.0), "fade_cyan": (0.0, 0.6), "fade_magenta": (0.0, 0.6),
    "fade_yellow": (0.0, 0.6), "dust_count": (0.0, 200.0), "dust_size": (1.0, 6.0), "dust_polarity": None,
    "scratch_count": (0, 8), "flicker_amplitude": (0.0, 0.2), "generation_count": (0, 3),
    "blur_sigma": (0.0, 3.0),
}


@dataclasses.dataclass(frozen=True)
class Generator:
    """A parametric renderer an inverse model can learn (module docstring)."""

    name: str
    spec: ParamSet
    sampling: Mapping[str, Any]
    render: RenderFn
    record: Mapping[str, Any]
    #: ``write(exr, params, seed=, width=, height=, params_json=)``: the files of one sample; ``None``:
    #: :func:`core.inverse.data.write_sample`.
    write: Callable[..., dict[str, Any]] | None = None

    def vary(self, names: Any = None) -> dict[str, Any]:
        """``{name: default range}`` of ``names`` (``None``: every sampled param), for
        :meth:`~core.inverse.space.ParamSpace.from_spec`."""
        if names is None:
            return dict(self.sampling)
        unknown = [n for n in names if n not in self.spec]
        if unknown:
            raise ParameterError(f"{self.name}: unknown parameter(s) {', '.join(unknown)}")
        return {n: self.sampling.get(n) for n in names}


def generate_generator(family_name: str) -> Generator:
    """The :mod:`core.generate` family ``family_name`` as a :class:`Generator` (``"generate:FAMILY"``)."""
    from core.generate import GENERATOR_VERSION, family, generate
    from core.generate.files import write_generated

    fam = family(family_name)

    def render(params: dict[str, Any], seed: int, width: int, height: int) -> np.ndarray:
        return generate(fam.name, params, seed=seed, width=width, height=height, threads=1).pixels

    def write(exr, params, *, seed, width, height, params_json):
        return write_generated(exr, fam.name, params, seed=seed, width=width, height=height, params_json=params_json)

    return Generator(f"generate:{fam.name}", fam.spec, fam.sampling, render,
                     {"name": f"generate:{fam.name}", "generator": GENERATOR_VERSION}, write)


def degrade_generator(clean: Any, *, preset: str | None = None, frame: int = 1, clean_name: str = "clean",
                      ) -> Generator:
    """:mod:`core.degrade` over one clean frame (``float32`` ``HW3`` scene-linear ACEScg, or a
    :class:`~core.frame.Frame`) as a :class:`Generator` named ``"degrade"``: params are the degrade spec's
    (the ``preset``'s values under them), the seed is the damage seed, and the render size must be the
    clean frame's (another size is one :class:`ParameterError` line)."""
    from core.degrade import DEGRADE_PARAMS, PRESETS, RECORD_FORMAT, degrade_frame, preset_name
    from core.frame import Frame

    pixels = clean.pixels if isinstance(clean, Frame) else clean
    pixels = np.ascontiguousarray(np.asarray(pixels, np.float32)[..., :3])
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ParameterError(f"degrade generator: the clean frame must be HxWx3, got shape {pixels.shape}")
    name = preset_name(preset)
    base = dict(PRESETS[name]) if name else {}
    height, width = pixels.shape[:2]

    def render(params: dict[str, Any], seed: int, w: int, h: int) -> np.ndarray:
        if (w, h) != (width, height):
            raise ParameterError(f"degrade generator: size {w}x{h} differs from the clean frame's {width}x{height}")
        return degrade_frame(pixels, frame=frame, seed=seed, params={**base, **params}).pixels

    digest = hashlib.sha256(pixels.tobytes()).hexdigest()
    defaults = DEGRADE_PARAMS.resolve(base)  # the preset's values become the defaults of the params not learned
    spec = ParamSet(DEGRADE_PARAMS.name, [dataclasses.replace(p, default=defaults[p.name]) for p in DEGRADE_PARAMS])
    return Generator("degrade", spec, DEGRADE_SAMPLING, render,
                     {"name": "degrade", "format": RECORD_FORMAT, "preset": name, "frame": frame,
                      "clean": clean_name, "clean_sha256": digest, "size": [width, height]})


def generator(name: str) -> Generator:
    """The generator called ``name``: ``"generate:FAMILY"``; anything else is one :class:`ParameterError` line."""
    from core.generate import FAMILIES

    kind, _, rest = str(name).partition(":")
    if kind == "generate" and rest:
        return generate_generator(rest)
    raise ParameterError(f"inverse: unknown generator {name!r}; known: "
                         f"{', '.join('generate:' + f for f in FAMILIES)} (degrade: build it with its clean frame)")
