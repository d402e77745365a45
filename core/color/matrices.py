"""Primaries, white points and the 3x3 matrices derived from them.

Every matrix here is *derived* once, at import, in float64 from published
chromaticities; none is copied from another tool. The tests check them
against OpenColorIO's built-in ACES configs and against colour-science.

Sources
-------
- **AP0** (ACES2065-1): SMPTE ST 2065-1:2012, *Academy Color Encoding
  Specification (ACES)*, section 4.1: R (0.7347, 0.2653), G (0.0, 1.0),
  B (0.0001, -0.0770), white (0.32168, 0.33767).
- **AP1** (ACEScg): Academy S-2014-004, *ACEScg — A Working Space for CGI
  Render and Compositing*, section 4.1: R (0.713, 0.293), G (0.165, 0.830),
  B (0.128, 0.044), same white as AP0.
- **Rec.709 / sRGB**: ITU-R BT.709-6, item 1.3 (and IEC 61966-2-1:1999):
  R (0.640, 0.330), G (0.300, 0.600), B (0.150, 0.060), white D65
  (0.3127, 0.3290).
- **Normalised primary matrix**: SMPTE RP 177-1993, *Derivation of Basic
  Television Color Equations*, section 3.3.
- **Chromatic adaptation**: linear Bradford (Lam 1985, as in
  Lindbloom's and CIE 159 texts), cone matrix::

      [[ 0.8951,  0.2664, -0.1614],
       [-0.7502,  1.7135,  0.0367],
       [ 0.0389, -0.0685,  1.0296]]

  This is the adaptation OpenColorIO's built-in ACES configs use between the
  ACES white and D65: their ``ACES2065-1 -> CIE XYZ-D65 - Scene-referred``
  matrix equals ``bradford(ACES white -> D65) @ NPM(AP0)`` to 4e-15, while
  CAT02 differs from it by 4.5e-3 (checked in ``tests/test_color_reference.py``).
- **OKLab** M1 (XYZ D65 -> LMS) and M2 (LMS' -> Lab): Björn Ottosson (2020),
  *A perceptual color space for image processing*,
  https://bottosson.github.io/posts/oklab/ (the same values as
  ``colour.models.oklab``).

Conventions: matrices act on column vectors, ``out = M @ rgb``; arrays of
pixels shaped ``(..., 3)`` are multiplied as ``pixels @ M.T``. "XYZ" means
CIE 1931 XYZ relative to D65 with Y = 1 for the white, D65 being the
chromaticity (0.3127, 0.3290) of BT.709 / sRGB (and colour-science's
``CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["D65"]``).
"""

from __future__ import annotations

import numpy as np

#: Chromaticities ``((xr, yr), (xg, yg), (xb, yb))``.
PRIMARIES_AP0 = ((0.7347, 0.2653), (0.0, 1.0), (0.0001, -0.0770))
PRIMARIES_AP1 = ((0.713, 0.293), (0.165, 0.830), (0.128, 0.044))
PRIMARIES_REC709 = ((0.640, 0.330), (0.300, 0.600), (0.150, 0.060))

#: White points ``(x, y)``.
WHITE_ACES = (0.32168, 0.33767)
WHITE_D65 = (0.3127, 0.3290)

MATRIX_BRADFORD = np.array(
    [
        [0.8951, 0.2664, -0.1614],
        [-0.7502, 1.7135, 0.0367],
        [0.0389, -0.0685, 1.0296],
    ]
)

#: Ottosson (2020) M1: XYZ (D65) -> LMS.
MATRIX_OKLAB_M1 = np.array(
    [
        [0.8189330101, 0.3618667424, -0.1288597137],
        [0.0329845436, 0.9293118715, 0.0361456387],
        [0.0482003018, 0.2643662691, 0.6338517070],
    ]
)
#: Ottosson (2020) M2: LMS' (cube roots) -> L, a, b.
MATRIX_OKLAB_M2 = np.array(
    [
        [0.2104542553, 0.7936177850, -0.0040720468],
        [1.9779984951, -2.4285922050, 0.4505937099],
        [0.0259040371, 0.7827717662, -0.8086757660],
    ]
)


def xy_to_XYZ(xy: tuple[float, float]) -> np.ndarray:
    """CIE XYZ (Y = 1) of a chromaticity ``(x, y)``.

    >>> xy_to_XYZ(WHITE_D65).round(6)
    array([0.950456, 1.      , 1.089058])
    """
    x, y = xy
    return np.array([x / y, 1.0, (1.0 - x - y) / y])


def normalised_primary_matrix(primaries, white) -> np.ndarray:
    """RGB -> XYZ matrix of an RGB space (SMPTE RP 177-1993, 3.3), float64.

    The white ``(1, 1, 1)`` maps to the XYZ of ``white`` with Y = 1.

    >>> m = normalised_primary_matrix(PRIMARIES_REC709, WHITE_D65)
    >>> m[1].round(6)  # the BT.709 luma weights
    array([0.212639, 0.715169, 0.072192])
    """
    p = np.array([[x / y, 1.0, (1.0 - x - y) / y] for x, y in primaries]).T
    scale = np.linalg.solve(p, xy_to_XYZ(white))
    return p * scale


def bradford_matrix(source_white, target_white) -> np.ndarray:
    """Linear Bradford chromatic adaptation matrix (XYZ -> XYZ), float64.

    >>> m = bradford_matrix(WHITE_ACES, WHITE_D65)
    >>> np.allclose(m @ xy_to_XYZ(WHITE_ACES), xy_to_XYZ(WHITE_D65))
    True
    """
    src = MATRIX_BRADFORD @ xy_to_XYZ(source_white)
    dst = MATRIX_BRADFORD @ xy_to_XYZ(target_white)
    return np.linalg.inv(MATRIX_BRADFORD) @ np.diag(dst / src) @ MATRIX_BRADFORD


#: Luminance weights of ACEScg (AP1 primaries, ACES white, not adapted): the middle row of its RGB -> XYZ
#: (``normalised_primary_matrix(PRIMARIES_AP1, WHITE_ACES)[1]``; checked against colour-science in the tests).
AP1_LUMINANCE = (0.2722287168, 0.6740817658, 0.0536895174)

#: Rec.709 / sRGB luminance weights (ITU-R BT.709, D65): Y of linear Rec.709, or luma Y' when applied to
#: sRGB-encoded values.
REC709_LUMINANCE = (0.2126, 0.7152, 0.0722)

#: XYZ of the D65 white (Y = 1): the reference white of "XYZ", Lab and OKLab.
XYZ_D65 = xy_to_XYZ(WHITE_D65)

#: ACES white -> D65, Bradford.
MATRIX_ACES_TO_D65 = bradford_matrix(WHITE_ACES, WHITE_D65)

#: RGB -> XYZ (D65), white-adapted where the space's white is not D65.
MATRIX_AP0_TO_XYZ = MATRIX_ACES_TO_D65 @ normalised_primary_matrix(PRIMARIES_AP0, WHITE_ACES)
MATRIX_AP1_TO_XYZ = MATRIX_ACES_TO_D65 @ normalised_primary_matrix(PRIMARIES_AP1, WHITE_ACES)
MATRIX_REC709_TO_XYZ = normalised_primary_matrix(PRIMARIES_REC709, WHITE_D65)

MATRIX_XYZ_TO_AP0 = np.linalg.inv(MATRIX_AP0_TO_XYZ)
MATRIX_XYZ_TO_AP1 = np.linalg.inv(MATRIX_AP1_TO_XYZ)
MATRIX_XYZ_TO_REC709 = np.linalg.inv(MATRIX_REC709_TO_XYZ)

for _m in (MATRIX_AP0_TO_XYZ, MATRIX_AP1_TO_XYZ, MATRIX_REC709_TO_XYZ, MATRIX_XYZ_TO_AP0,
           MATRIX_XYZ_TO_AP1, MATRIX_XYZ_TO_REC709, MATRIX_OKLAB_M1, MATRIX_OKLAB_M2):
    _m.flags.writeable = False
del _m
