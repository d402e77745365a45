"""One call for the CLI and the ``SpectrumEncode`` node: fit and encode a shot from user values.

Thin on purpose: the values are validated by
:data:`~core.palette.params.ENCODE_PARAMS`, then either one palette is fitted
over every frame (``shared=True``) or one per frame, and every frame is
encoded with its palette.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from core.errors import ImageError
from core.palette.encode import PaletteEncoding, encode
from core.palette.operator import fit_palette, fit_shared_palette
from core.palette.params import ENCODE_PARAMS, encode_kwargs, fit_kwargs


def encode_shot(images: Iterable[Any], values: Mapping[str, Any] | None = None, *,
                threads: int | None = None) -> list[PaletteEncoding]:
    """Fit (shared or per frame) and encode every frame; returns one encoding per frame, in order.

    ``images``: ACEScg ``HWC`` float32 arrays, :class:`~core.frame.Frame`s
    or paths (as for :func:`~core.palette.fit_palette`). ``values``: user
    values for :data:`ENCODE_PARAMS` (strings from a CLI or a knob are
    fine). The per-frame output image is ``encoding.output(values["output"])``.
    """
    resolved = ENCODE_PARAMS.resolve(values)
    fkw, ekw = fit_kwargs(resolved), encode_kwargs(resolved)
    images = list(images)
    if not images:
        raise ImageError("encode_shot: no frames given")
    if resolved["shared"]:
        fit = fit_shared_palette(images, **fkw)
        return [encode(_load(im), fit, threads=threads, **ekw) for im in images]
    out = []
    for im in images:
        im = _load(im)
        out.append(encode(im, fit_palette(im, **fkw), threads=threads, **ekw))
    return out


def _load(image: Any) -> Any:
    import os

    if isinstance(image, (str, os.PathLike)):
        from core.io import read_image

        return read_image(image)
    return image
