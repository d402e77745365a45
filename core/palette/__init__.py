"""Spectrum-based reconstruction: a palette of an asset's dominant colours instead of luma masks.

Rec.709 luma (0.2126 R + 0.7152 G + 0.0722 B) gives fire, plasma and magic
one grey for many hues. This package fits a K-colour palette in a perceptual
space (OKLab or CIE Lab) with deterministic k-means, maps every pixel to its
nearest entry (index map, distance as confidence, a 0..1 gradient along a
hue-coherent path) and decodes back to ACEScg (DESIGN.md, "Spectrum-based
reconstruction").

Operator  :func:`fit_palette`, :func:`fit_shared_palette` -> :class:`PaletteFit`
Encoding  :func:`encode` -> :class:`PaletteEncoding` (a compiled kernel, :mod:`core.palette.compiled`,
          when numba is installed: the same bits); :func:`decode`, :func:`gradient_map`,
          :func:`compare_luma` -> :class:`LumaComparison`
Controller :func:`reconstruction_error`, :func:`encoding_error`, :func:`hue_coverage` ->
          :class:`HueCoverage` (every OKLab hue family of the frame has an entry; :mod:`core.palette.hues`),
          :func:`palette_distance`, :func:`palette_stability`
Weights   ``weight="count" | "chroma" | "energy"`` of the fit (:mod:`core.palette.weights`)
Pack      :func:`pack`, :func:`unpack` (``reelkit.palette/1``, :mod:`core.formats`)
Params    :data:`ENCODE_PARAMS`; :func:`encode_shot` (fit + encode a shot from user values)

Images are ``float32`` ``HWC`` scene-linear ACEScg (RGB or RGBA). Every
random choice takes a seed; the same input and seed give bit-identical
palettes and maps on every run, thread count and machine.

Importing this package loads numpy only.
"""

from core.palette.controller import (
    PaletteMatch,
    PaletteStabilityWarning,
    ReconstructionError,
    StabilityReport,
    encoding_error,
    hue_coverage,
    palette_distance,
    palette_stability,
    reconstruction_error,
)
from core.palette.encode import (
    MASKED_UINT8,
    MASKED_UINT16,
    PaletteEncoding,
    decode,
    encode,
    gradient_map,
    index_dtype_for,
)
from core.palette.hues import HueCoverage
from core.palette.luma import LumaComparison, compare_luma, rec709_luma
from core.palette.operator import PaletteFit, fit_palette, fit_shared_palette
from core.palette.pack import (
    FORMAT,
    PackInfo,
    PalettePack,
    fit_from_pack,
    pack,
    pack_exr,
    unpack,
    unpack_exr,
)
from core.palette.params import ENCODE_PARAMS
from core.palette.shot import encode_shot
from core.palette.spaces import SPACES, acescg_to_fit, fit_to_acescg

__all__ = [
    "ENCODE_PARAMS", "FORMAT", "MASKED_UINT16", "MASKED_UINT8", "SPACES", "HueCoverage", "LumaComparison",
    "PackInfo",
    "PaletteEncoding", "PaletteFit", "PaletteMatch", "PalettePack", "PaletteStabilityWarning",
    "ReconstructionError", "StabilityReport", "acescg_to_fit", "compare_luma", "decode", "encode", "encode_shot", "encoding_error", "fit_from_pack", "fit_palette",
    "fit_shared_palette", "fit_to_acescg", "gradient_map", "hue_coverage", "index_dtype_for", "pack", "pack_exr",
    "palette_distance", "palette_stability", "rec709_luma", "reconstruction_error", "unpack", "unpack_exr",
]
