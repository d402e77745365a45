"""Colour space conversions for reelkit (host-agnostic; numpy only at import).

Colour spaces (canonical names; case-insensitive aliases such as
``"acescg"``, ``"ACES - ACEScg"``, ``"lin_srgb"``, ``"linear rec.709"``,
``"sRGB"`` and OCIO's names are accepted — see :data:`ALIASES`):

==============  ==========================================================
``ACEScg``      AP1 primaries, ACES white (~D60), scene-linear (working space)
``ACES2065-1``  AP0 primaries, ACES white, scene-linear (archival)
``lin_rec709``  Rec.709 / sRGB primaries, D65, scene-linear
``srgb``        Rec.709 primaries, D65, sRGB piecewise encoding (IEC 61966-2-1)
``XYZ``         CIE 1931 XYZ, D65 (Y = 1 for white); ACES white adapted by
                linear Bradford, as in OCIO's built-in ACES configs
``Lab``         CIE 1976 L*a*b*, D65 reference white, L in 0..100
``OKLab``       Björn Ottosson's OKLab (2020), from XYZ D65
==============  ==========================================================

Functions: named ``source_to_target`` conversions (``acescg_to_oklab``...),
:func:`convert` between any pair (through XYZ, with consecutive linear steps
fused into one 3x3 matrix), :func:`convert_frame` for
:class:`~core.frame.Frame` objects (alpha passes through),
:func:`conversion_matrix` for linear pairs, and
:func:`acescg_to_srgb_preview` for 8-bit display previews.

All take ``(..., 3)`` arrays and return float32 (float16/float64 input is
converted; integer arrays are refused); NaN/Inf raise
:class:`~core.errors.ImageError` unless ``nonfinite="pass"``. Details, accuracy
and references: :mod:`core.color.conversions`. OpenColorIO is used only by
:mod:`core.color.reference` (the comparison reference and the ACES output
transform), imported on demand.
"""

from core.color.conversions import (
    aces2065_1_to_acescg,
    acescg_to_aces2065_1,
    acescg_to_lin_rec709,
    acescg_to_oklab,
    acescg_to_xyz,
    conversion_matrix,
    convert,
    convert_frame,
    lab_to_xyz,
    lin_rec709_to_acescg,
    lin_rec709_to_srgb,
    oklab_to_acescg,
    oklab_to_xyz,
    srgb_to_lin_rec709,
    xyz_to_acescg,
    xyz_to_lab,
    xyz_to_oklab,
)
from core.color.curves import build_tables
from core.color.preview import PREVIEW_VIEWS, acescg_to_srgb_preview
from core.color.spaces import ALIASES, COLORSPACES, DESCRIPTIONS, canonical_colorspace

__all__ = [
    "ALIASES",
    "COLORSPACES",
    "DESCRIPTIONS",
    "PREVIEW_VIEWS",
    "aces2065_1_to_acescg",
    "acescg_to_aces2065_1",
    "acescg_to_lin_rec709",
    "acescg_to_oklab",
    "acescg_to_srgb_preview",
    "acescg_to_xyz",
    "build_tables",
    "canonical_colorspace",
    "conversion_matrix",
    "convert",
    "convert_frame",
    "lab_to_xyz",
    "lin_rec709_to_acescg",
    "lin_rec709_to_srgb",
    "oklab_to_acescg",
    "oklab_to_xyz",
    "srgb_to_lin_rec709",
    "xyz_to_acescg",
    "xyz_to_lab",
    "xyz_to_oklab",
]
