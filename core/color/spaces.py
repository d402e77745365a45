"""Colour space names: the canonical reelkit names, their aliases, and OCIO's names.

Names are matched case-insensitively after trimming and collapsing runs of
white space. Aliases include the names and aliases OpenColorIO's built-in ACES
configs (``ocio://cg-config-latest``, ``ocio://studio-config-latest``, OCIO
2.4+) give the same spaces, so a colour space read from an EXR header written
by Nuke or another OCIO application resolves here.
"""

from __future__ import annotations

import types

from core.errors import ColorSpaceError

#: Canonical names, in the order used by documentation and choice lists.
COLORSPACES: tuple[str, ...] = ("ACEScg", "ACES2065-1", "lin_rec709", "srgb", "XYZ", "Lab", "OKLab")

#: One-line description of each canonical space.
DESCRIPTIONS = types.MappingProxyType({
    "ACEScg": "AP1 primaries, ACES white (~D60), scene-linear (S-2014-004); the reelkit working space",
    "ACES2065-1": "AP0 primaries, ACES white (~D60), scene-linear (SMPTE ST 2065-1); archival",
    "lin_rec709": "Rec.709 / sRGB primaries, D65 white, scene-linear (ITU-R BT.709)",
    "srgb": "Rec.709 primaries, D65, sRGB piecewise encoding (IEC 61966-2-1)",
    "XYZ": "CIE 1931 XYZ, D65 white with Y = 1 (ACES white adapted with Bradford)",
    "Lab": "CIE 1976 L*a*b*, D65 reference white, L in 0..100 (CIE 15:2004)",
    "OKLab": "Björn Ottosson's OKLab (2020), from XYZ D65; L = 1 for the white",
})

#: OCIO name of each space in ``ocio://cg-config-latest`` (``None``: no OCIO
#: equivalent). ``XYZ``'s space is inactive in the config but usable by name.
OCIO_NAMES = types.MappingProxyType({
    "ACEScg": "ACEScg",
    "ACES2065-1": "ACES2065-1",
    "lin_rec709": "Linear Rec.709 (sRGB)",
    "srgb": "sRGB Encoded Rec.709 (sRGB)",
    "XYZ": "CIE XYZ-D65 - Scene-referred",
    "Lab": None,
    "OKLab": None,
})

_ALIASES: dict[str, tuple[str, ...]] = {
    "ACEScg": ("ACES - ACEScg", "lin_ap1", "lin_ap1_scene", "AP1", "linear AP1"),
    "ACES2065-1": ("ACES", "aces2065_1", "ACES - ACES2065-1", "lin_ap0", "lin_ap0_scene", "AP0", "linear AP0",
                   "ACES2065"),
    "lin_rec709": ("Linear Rec.709 (sRGB)", "linear rec.709", "linear rec709", "lin_srgb", "linear sRGB",
                   "lin_rec709_srgb", "lin_rec709_scene", "Utility - Linear - sRGB", "Utility - Linear - Rec.709",
                   "scene-linear Rec.709-sRGB", "rec709 linear"),
    "srgb": ("sRGB Encoded Rec.709 (sRGB)", "srgb_encoded_rec709_srgb", "srgb_texture", "srgb_rec709_scene",
             "Utility - sRGB - Texture", "Input - Generic - sRGB - Texture", "sRGB - Texture", "srgb_tx",
             "sRGB encoded", "sRGB Encoded Rec.709"),
    "XYZ": ("CIE XYZ", "CIEXYZ", "XYZ D65", "XYZ_D65", "CIE XYZ-D65", "CIE XYZ-D65 - Scene-referred",
            "cie_xyz_d65_scene", "lin_ciexyzd65_scene"),
    "Lab": ("CIELab", "CIE Lab", "CIE L*a*b*", "L*a*b*", "CIELAB D65"),
    "OKLab": ("ok_lab", "Ottosson OKLab"),
}


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()


_LOOKUP: dict[str, str] = {}
for _canonical, _names in _ALIASES.items():
    for _name in (_canonical,) + _names:
        if _key(_name) in _LOOKUP:  # pragma: no cover - guards the table above
            raise RuntimeError(f"colour space alias {_name!r} is ambiguous")
        _LOOKUP[_key(_name)] = _canonical
del _canonical, _names, _name

#: Every accepted spelling (lower case) -> canonical name.
ALIASES = types.MappingProxyType(dict(sorted(_LOOKUP.items())))


def canonical_colorspace(name: str) -> str:
    """The canonical reelkit name of a colour space name or alias.

    Matching ignores case and repeated white space. Raises
    :class:`~core.errors.ColorSpaceError` listing the known names for
    anything else (including non-strings).

    >>> canonical_colorspace("ACES - ACEScg")
    'ACEScg'
    >>> canonical_colorspace("linear rec.709")
    'lin_rec709'
    >>> canonical_colorspace("sRGB")
    'srgb'
    """
    if isinstance(name, str):
        found = _LOOKUP.get(_key(name))
        if found is not None:
            return found
    known = ", ".join(COLORSPACES)
    raise ColorSpaceError(
        f"unknown colour space {name!r}; known: {known} "
        "(case-insensitive; OCIO names and aliases such as 'ACES - ACEScg', 'lin_srgb', "
        "'sRGB Encoded Rec.709 (sRGB)' are accepted)"
    )
