"""Colour space conversions: named ``source_to_target`` functions, ``convert`` and ``convert_frame``.

Conventions shared by every function here
-----------------------------------------
Layout
    Any array shaped ``(..., 3)``: an ``HW3`` frame, an ``N3`` list of
    colours, or one colour ``(3,)``. The output has the input's shape and is
    a new C-contiguous array; the input is never modified.
dtype policy
    float32 in, float32 out. float16 and float64 inputs are converted to
    float32 chunk by chunk (no full-size copy) and the result is float32 —
    computation is always in float32, as in OCIO's CPU path. Lists and
    tuples are read as float32. Integer and bool arrays are refused with
    :class:`~core.errors.ImageError`: scale an 8/16-bit image to 0..1 floats
    first (the :mod:`core.io` readers do, knowing the bit depth).
Non-finite values
    ``nonfinite="raise"`` (default) raises :class:`~core.errors.ImageError`
    naming the number of NaN/Inf values and the first one's location (for
    ``HW3``: ``x``, ``y``, channel). The check costs one BLAS dot product per
    cache-sized chunk. ``nonfinite="pass"`` skips the check and lets IEEE
    arithmetic propagate them (NaN stays NaN; an Inf in one channel becomes
    Inf or NaN in the channels a matrix mixes it into). float64 values
    beyond float32's range become Inf on conversion and count as non-finite;
    finite results too large for float32 become Inf without an error.
Accuracy
    Matrices are derived in float64 (:mod:`core.color.matrices`) and fused
    (consecutive linear steps become one 3x3 matrix) before being applied in
    float32, so linear conversions are within float32 rounding (~1e-7
    relative) of the float64 result. Curves (sRGB, cube root, CIE f) use
    cache-resident piecewise-quadratic tables (:mod:`core.color.curves`),
    within 5e-7 relative or 5e-7 absolute of the float64 curve.
Hub
    Every space is defined by its steps to and from CIE XYZ (D65). ACES
    spaces reach D65 by the linear Bradford adaptation, as OCIO's built-in
    ACES configs do.

References used below
---------------------
- [ST2065-1] SMPTE ST 2065-1:2012, Academy Color Encoding Specification (AP0).
- [S-2014-004] Academy S-2014-004, ACEScg (AP1).
- [BT.709] ITU-R BT.709-6 (2015), primaries and D65 white.
- [IEC61966] IEC 61966-2-1:1999, sRGB (piecewise encoding).
- [CIE15] CIE 15:2004 Colorimetry, 8.2.1 (CIE 1976 L*a*b*).
- [Lam1985] K. M. Lam (1985), linear Bradford chromatic adaptation.
- [Ottosson2020] B. Ottosson (2020), A perceptual color space for image
  processing, https://bottosson.github.io/posts/oklab/
"""

from __future__ import annotations

import numpy as np

from core.color import _engine
from core.color.spaces import canonical_colorspace
from core.errors import ColorSpaceError, ImageError
from core.frame import Frame


def _convert(pixels, source: str, target: str, nonfinite: str, name: str = "pixels") -> np.ndarray:
    check = _engine.check_nonfinite_mode(nonfinite)
    plan = _engine.resolve_plan(source, target)
    arr = _engine.as_pixels(pixels, name=f"{name} ({plan.source} -> {plan.target})")
    return _engine.run(plan, arr, check=check, name=f"{name} ({plan.source} -> {plan.target})")


def convert(pixels, source: str, target: str, *, nonfinite: str = "raise") -> np.ndarray:
    """Convert pixels from colour space ``source`` to ``target``.

    Parameters
    ----------
    pixels
        Values in ``source``, shaped ``(..., 3)`` (``HW3``, ``N3`` or ``3``),
        float16/float32/float64. Domain: any real in the source's encoding
        (see the named functions for each space's range).
    source, target
        Colour space names, canonical (``"ACEScg"``, ``"ACES2065-1"``,
        ``"lin_rec709"``, ``"srgb"``, ``"XYZ"``, ``"Lab"``, ``"OKLab"``) or
        aliases, case-insensitive (``"ACES - ACEScg"``, ``"lin_srgb"``,
        ``"linear rec.709"``, ``"sRGB"``...). Unknown names raise
        :class:`~core.errors.ColorSpaceError` listing the known ones.
    nonfinite
        ``"raise"`` (default) or ``"pass"``; see the module docstring.

    Returns
    -------
    numpy.ndarray
        float32 values in ``target``, same shape. ``source == target``
        returns a float32 copy.

    Notes
    -----
    The conversion goes through CIE XYZ (D65) with consecutive linear steps
    fused: ACEScg -> sRGB is one 3x3 matrix and the sRGB encoding; ACEScg ->
    OKLab is matrix, cube root, matrix.

    References
    ----------
    [ST2065-1], [S-2014-004], [BT.709], [IEC61966], [CIE15], [Lam1985],
    [Ottosson2020] (module docstring).

    Examples
    --------
    >>> convert(np.array([0.18, 0.18, 0.18], np.float32), "ACES - ACEScg", "sRGB").round(4)
    array([0.4614, 0.4614, 0.4614], dtype=float32)
    """
    return _convert(pixels, source, target, nonfinite)


def conversion_matrix(source: str, target: str) -> np.ndarray:
    """The float64 3x3 matrix ``M`` of a linear conversion (``target = M @ source``).

    Defined between ``"ACEScg"``, ``"ACES2065-1"``, ``"lin_rec709"`` and
    ``"XYZ"`` (for example to fill a Nuke ColorMatrix node); any other pair
    raises :class:`~core.errors.ColorSpaceError`. Applying it to ``(..., 3)``
    pixels is ``pixels @ M.T``.

    References: [ST2065-1], [S-2014-004], [BT.709], [Lam1985].

    >>> conversion_matrix("ACEScg", "lin_rec709").round(4)
    array([[ 1.7051, -0.6218, -0.0833],
           [-0.1303,  1.1408, -0.0105],
           [-0.024 , -0.129 ,  1.153 ]])
    """
    return _engine.linear_matrix(source, target)


def convert_frame(frame: Frame, target: str, *, nonfinite: str = "raise") -> Frame:
    """Convert a :class:`~core.frame.Frame` to colour space ``target``.

    Parameters
    ----------
    frame
        A frame whose ``colorspace`` is a reelkit name or alias; pixels are
        float32 ``HWC`` with C in {1, 3, 4}.
    target
        Colour space name or alias.
    nonfinite
        ``"raise"`` (default) or ``"pass"``; only the colour channels are
        checked.

    Returns
    -------
    Frame
        A new frame: float32 ``HWC`` pixels in ``target`` (canonical name in
        ``colorspace``), ``metadata["converted_from"]`` set to the source's
        canonical name; frame number, path, other metadata, channel names and
        extra ``layers`` are carried over unchanged.

    Notes
    -----
    - RGBA: the alpha channel passes through bit-for-bit. Colour is
      premultiplied in scene-linear spaces and straight in the others
      (:mod:`core.color.alpha`): a premultiplied frame is unpremultiplied
      before a conversion to ``srgb``, ``Lab`` or ``OKLab``, a straight one
      (a PNG) premultiplied after a conversion to a scene-linear space (also
      to its own), as Nuke's Read and Write do; ``metadata["alpha"]`` says
      which the result holds.
    - 1-channel frames: only conversions that act on each channel alone
      (the same space, or ``srgb`` <-> ``lin_rec709``) are defined; any
      conversion that mixes channels raises :class:`~core.errors.ImageError`.

    >>> from core.frame import Frame
    >>> f = Frame(np.full((2, 2, 4), 0.18, np.float32), "ACEScg")
    >>> out = convert_frame(f, "srgb")
    >>> out.colorspace, out.pixels[0, 0].round(4), out.metadata["alpha"]  # 0.18 / 0.18 = 1.0, straight
    ('srgb', array([1.  , 1.  , 1.  , 0.18], dtype=float32), 'straight')
    """
    if not isinstance(frame, Frame):
        raise ImageError(
            f"convert_frame: expected a core.frame.Frame, got {type(frame).__name__} (use convert for arrays)"
        )
    check = _engine.check_nonfinite_mode(nonfinite)
    try:
        source = canonical_colorspace(frame.colorspace)
    except ColorSpaceError as exc:
        raise ColorSpaceError(f"{frame.describe()}: {exc}") from None
    plan = _engine.resolve_plan(source, target)
    name = f"{frame.describe()} ({plan.source} -> {plan.target})"
    px = frame.pixels
    if px.shape[2] == 1:
        if not plan.per_channel:
            raise ImageError(
                f"{name}: a 1-channel frame cannot be converted: {plan.source} -> {plan.target} mixes "
                "colour channels and needs RGB. Only per-channel conversions (the same space, "
                "srgb <-> lin_rec709) work on one channel; repeat it to RGB first "
                "(np.repeat(pixels, 3, axis=2)) if it holds an achromatic value"
            )
        out = _engine.run(plan, _engine.as_pixels(px, channels=(1,), name=name), check=check, name=name)
    elif px.shape[2] == 3:
        out = _engine.run(plan, px, check=check, name=name)
    else:
        from core.color import alpha

        wanted = alpha.PREMULTIPLIED if alpha.is_scene_linear(plan.target) else alpha.STRAIGHT
        if wanted == alpha.STRAIGHT:  # the curve acts on straight colour
            px = alpha.with_alpha(frame, alpha.STRAIGHT).pixels
        rgb = _engine.run(plan, px[..., :3], check=check, name=name)
        out = np.empty(px.shape, dtype=np.float32)
        out[..., :3] = rgb
        out[..., 3] = px[..., 3]
        if wanted == alpha.PREMULTIPLIED and alpha.alpha_of(frame) == alpha.STRAIGHT:
            out = alpha.premultiply(out)
        frame = frame.replace(metadata={**frame.metadata, alpha.ALPHA_KEY: wanted})
    metadata = dict(frame.metadata)
    metadata["converted_from"] = plan.source
    return frame.replace(pixels=out, colorspace=plan.target, metadata=metadata)


# --------------------------------------------------------------------------- ACES

def acescg_to_aces2065_1(pixels, *, nonfinite: str = "raise") -> np.ndarray:
    """Convert ACEScg (AP1) to ACES2065-1 (AP0).

    Parameters
    ----------
    pixels
        ACEScg: AP1 primaries, ACES white (~D60), scene-linear; ``(..., 3)``
        float16/32/64. Domain: any real (0.18 mid grey, 1.0 diffuse white,
        highlights above 1, negatives outside AP1).
    nonfinite
        ``"raise"`` (default) or ``"pass"`` (module docstring).

    Returns
    -------
    numpy.ndarray
        ACES2065-1: AP0 primaries, ACES white, scene-linear; ``(..., 3)``
        float32. Range: any real; colours inside AP1 have non-negative AP0
        values.

    Notes
    -----
    One 3x3 matrix, ``NPM(AP0)^-1 @ NPM(AP1)`` (both at the ACES white; the
    Bradford steps to and from D65 cancel). Same matrix as OCIO's
    ``ACEScg -> ACES2065-1`` to 1e-10.

    References
    ----------
    [S-2014-004] 4.1, [ST2065-1] 4.1 (module docstring).

    Examples
    --------
    >>> acescg_to_aces2065_1(np.array([1.0, 0.0, 0.0], np.float32)).round(4)
    array([ 0.6955,  0.0448, -0.0055], dtype=float32)
    """
    return _convert(pixels, "ACEScg", "ACES2065-1", nonfinite)


def aces2065_1_to_acescg(pixels, *, nonfinite: str = "raise") -> np.ndarray:
    """Convert ACES2065-1 (AP0) to ACEScg (AP1).

    Parameters
    ----------
    pixels
        ACES2065-1: AP0 primaries, ACES white (~D60), scene-linear;
        ``(..., 3)`` float16/32/64. Domain: any real.
    nonfinite
        ``"raise"`` (default) or ``"pass"`` (module docstring).

    Returns
    -------
    numpy.ndarray
        ACEScg: AP1 primaries, ACES white, scene-linear; ``(..., 3)``
        float32. Range: any real; AP0 colours outside AP1 become negative.

    Notes
    -----
    One 3x3 matrix, the inverse of :func:`acescg_to_aces2065_1`'s.

    References
    ----------
    [ST2065-1] 4.1, [S-2014-004] 4.1 (module docstring).

    Examples
    --------
    >>> aces2065_1_to_acescg(np.array([0.0, 1.0, 0.0], np.float32)).round(4)
    array([-0.2365,  1.1762, -0.006 ], dtype=float32)
    """
    return _convert(pixels, "ACES2065-1", "ACEScg", nonfinite)


# --------------------------------------------------------------------------- Rec.709 / sRGB

def acescg_to_lin_rec709(pixels, *, nonfinite: str = "raise") -> np.ndarray:
    """Convert ACEScg to linear Rec.709 (sRGB primaries, D65).

    Parameters
    ----------
    pixels
        ACEScg: AP1 primaries, ACES white (~D60), scene-linear; ``(..., 3)``
        float16/32/64. Domain: any real.
    nonfinite
        ``"raise"`` (default) or ``"pass"`` (module docstring).

    Returns
    -------
    numpy.ndarray
        lin_rec709: BT.709 primaries, D65 white, scene-linear; ``(..., 3)``
        float32. Range: any real; AP1 colours outside the Rec.709 gamut have
        negative components (nothing is clipped).

    Notes
    -----
    One 3x3 matrix: ``NPM(709)^-1 @ Bradford(ACES white -> D65) @ NPM(AP1)``,
    equal to the product of OCIO's two matrices for
    ``ACEScg -> Linear Rec.709 (sRGB)`` to 1e-9.

    References
    ----------
    [S-2014-004], [BT.709], [Lam1985] (module docstring).

    Examples
    --------
    >>> acescg_to_lin_rec709(np.array([1.0, 1.0, 1.0], np.float32)).round(4)
    array([1., 1., 1.], dtype=float32)
    """
    return _convert(pixels, "ACEScg", "lin_rec709", nonfinite)


def lin_rec709_to_acescg(pixels, *, nonfinite: str = "raise") -> np.ndarray:
    """Convert linear Rec.709 (sRGB primaries, D65) to ACEScg.

    Parameters
    ----------
    pixels
        lin_rec709: BT.709 primaries, D65 white, scene-linear; ``(..., 3)``
        float16/32/64. Domain: any real.
    nonfinite
        ``"raise"`` (default) or ``"pass"`` (module docstring).

    Returns
    -------
    numpy.ndarray
        ACEScg: AP1 primaries, ACES white, scene-linear; ``(..., 3)`` float32.
        Range: any real; non-negative Rec.709 values stay non-negative
        (Rec.709 lies inside AP1).

    Notes
    -----
    One 3x3 matrix, the inverse of :func:`acescg_to_lin_rec709`'s.

    References
    ----------
    [BT.709], [S-2014-004], [Lam1985] (module docstring).

    Examples
    --------
    >>> lin_rec709_to_acescg(np.array([1.0, 0.0, 0.0], np.float32)).round(4)
    array([0.6131, 0.0702, 0.0206], dtype=float32)
    """
    return _convert(pixels, "lin_rec709", "ACEScg", nonfinite)


def lin_rec709_to_srgb(pixels, *, nonfinite: str = "raise") -> np.ndarray:
    """Encode linear Rec.709 with the sRGB curve (IEC 61966-2-1 inverse EOTF).

    Parameters
    ----------
    pixels
        lin_rec709: BT.709 primaries, D65, scene-linear; ``(..., 3)``
        float16/32/64. Domain: any real; 0..1 is the display range.
    nonfinite
        ``"raise"`` (default) or ``"pass"`` (module docstring).

    Returns
    -------
    numpy.ndarray
        srgb: the same primaries, sRGB-encoded; ``(..., 3)`` float32. Range:
        0..1 for linear 0..1; not clipped: values above 1 continue the power
        segment (linear 100 -> 7.13), negatives continue the linear segment.

    Notes
    -----
    Per channel: ``12.92 x`` for ``x <= 0.0031308``, else
    ``1.055 x^(1/2.4) - 0.055`` — the IEC constants. OCIO's built-in configs
    use a variant whose linear segment has slope 12.9232 and joins at
    0.0030399 (C1-continuous): the two agree to 1.1e-5 on 0..1 and differ by
    0.025 % of the value below 0 (``tests/test_color_reference.py``).
    Evaluated with a 65536-bucket quadratic table (:mod:`core.color.curves`):
    within 5e-7 relative or 5e-7 absolute.

    References
    ----------
    [IEC61966] 5.2 (module docstring).

    Examples
    --------
    >>> lin_rec709_to_srgb(np.array([0.0, 0.18, 1.0], np.float32)).round(4)
    array([0.    , 0.4614, 1.    ], dtype=float32)
    """
    return _convert(pixels, "lin_rec709", "srgb", nonfinite)


def srgb_to_lin_rec709(pixels, *, nonfinite: str = "raise") -> np.ndarray:
    """Decode sRGB-encoded values to linear Rec.709 (IEC 61966-2-1 EOTF).

    Parameters
    ----------
    pixels
        srgb: BT.709 primaries, D65, sRGB-encoded; ``(..., 3)``
        float16/32/64. Domain: any real; 0..1 is the display range (8-bit
        code values divided by 255).
    nonfinite
        ``"raise"`` (default) or ``"pass"`` (module docstring).

    Returns
    -------
    numpy.ndarray
        lin_rec709: scene-linear; ``(..., 3)`` float32. Range: 0..1 for
        encoded 0..1; the curve is extended beyond (see
        :func:`lin_rec709_to_srgb`).

    Notes
    -----
    Per channel: ``V / 12.92`` for ``V <= 0.04045``, else
    ``((V + 0.055) / 1.055)^2.4``. Evaluated with a 65536-bucket quadratic
    table (:mod:`core.color.curves`): within 5e-7 relative or 5e-7
    absolute.

    References
    ----------
    [IEC61966] 5.2 (module docstring).

    Examples
    --------
    >>> srgb_to_lin_rec709(np.array([0.0, 0.5, 1.0], np.float32)).round(4)
    array([0.   , 0.214, 1.   ], dtype=float32)
    """
    return _convert(pixels, "srgb", "lin_rec709", nonfinite)


# --------------------------------------------------------------------------- XYZ and Lab

def acescg_to_xyz(pixels, *, nonfinite: str = "raise") -> np.ndarray:
    """Convert ACEScg to CIE 1931 XYZ (D65).

    Parameters
    ----------
    pixels
        ACEScg: AP1 primaries, ACES white (~D60), scene-linear; ``(..., 3)``
        float16/32/64. Domain: any real.
    nonfinite
        ``"raise"`` (default) or ``"pass"`` (module docstring).

    Returns
    -------
    numpy.ndarray
        XYZ: CIE 1931 2° tristimulus values relative to D65; ``(..., 3)``
        float32. Range: any real; Y = 1 for the ACEScg white ``(1, 1, 1)``,
        which maps to the D65 white ``(0.9505, 1, 1.0891)``.

    Notes
    -----
    One 3x3 matrix: ``Bradford(ACES white -> D65) @ NPM(AP1)``, the
    adaptation OCIO's built-in ACES configs use (their
    ``CIE XYZ-D65 - Scene-referred`` space; CAT02 would differ by 5e-3).

    References
    ----------
    [S-2014-004], [Lam1985], [CIE15] (module docstring).

    Examples
    --------
    >>> acescg_to_xyz(np.array([1.0, 1.0, 1.0], np.float32)).round(4)
    array([0.9505, 1.    , 1.0891], dtype=float32)
    """
    return _convert(pixels, "ACEScg", "XYZ", nonfinite)


def xyz_to_acescg(pixels, *, nonfinite: str = "raise") -> np.ndarray:
    """Convert CIE 1931 XYZ (D65) to ACEScg.

    Parameters
    ----------
    pixels
        XYZ relative to D65 (Y = 1 for diffuse white); ``(..., 3)``
        float16/32/64. Domain: any real.
    nonfinite
        ``"raise"`` (default) or ``"pass"`` (module docstring).

    Returns
    -------
    numpy.ndarray
        ACEScg: AP1 primaries, ACES white, scene-linear; ``(..., 3)`` float32.
        Range: any real (colours outside AP1 have negative components).

    Notes
    -----
    One 3x3 matrix, the inverse of :func:`acescg_to_xyz`'s.

    References
    ----------
    [S-2014-004], [Lam1985] (module docstring).

    Examples
    --------
    >>> xyz_to_acescg(np.array([0.95045593, 1.0, 1.08905775], np.float32)).round(4)
    array([1., 1., 1.], dtype=float32)
    """
    return _convert(pixels, "XYZ", "ACEScg", nonfinite)


def xyz_to_lab(pixels, *, nonfinite: str = "raise") -> np.ndarray:
    """Convert CIE 1931 XYZ (D65) to CIE 1976 L*a*b* (D65 reference white).

    Parameters
    ----------
    pixels
        XYZ relative to D65, Y = 1 for the reference white; ``(..., 3)``
        float16/32/64. Domain: any real (Y = 1 is L* = 100).
    nonfinite
        ``"raise"`` (default) or ``"pass"`` (module docstring).

    Returns
    -------
    numpy.ndarray
        Lab; ``(..., 3)`` float32. Range: ``L*`` 0..100 for Y 0..1 (above
        100 for HDR values, negative for negative Y), ``a*``, ``b*`` about
        -128..127 for surface colours.

    Notes
    -----
    Reference white: D65 ``(0.3127, 0.3290)`` at Y = 1, i.e.
    ``(0.95046, 1, 1.08906)`` — the white ``XYZ`` uses, so the D65 white is
    exactly ``(100, 0, 0)``. ``f(t) = t^(1/3)`` above ``(6/29)^3``, linear
    below (also for negatives).

    References
    ----------
    [CIE15] 8.2.1 (module docstring).

    Examples
    --------
    >>> xyz_to_lab(np.array([0.95045593, 1.0, 1.08905775], np.float32)).round(3) + 0
    array([100.,   0.,   0.], dtype=float32)
    """
    return _convert(pixels, "XYZ", "Lab", nonfinite)


def lab_to_xyz(pixels, *, nonfinite: str = "raise") -> np.ndarray:
    """Convert CIE 1976 L*a*b* (D65 reference white) to CIE 1931 XYZ (D65).

    Parameters
    ----------
    pixels
        Lab: ``L*`` 0..100 (Y 0..1), ``a*``, ``b*``; ``(..., 3)``
        float16/32/64. Domain: any real.
    nonfinite
        ``"raise"`` (default) or ``"pass"`` (module docstring).

    Returns
    -------
    numpy.ndarray
        XYZ relative to D65; ``(..., 3)`` float32. Range: any real; Y = 1 at
        ``L* = 100``.

    Notes
    -----
    Inverse of :func:`xyz_to_lab`.

    References
    ----------
    [CIE15] 8.2.1 (module docstring).

    Examples
    --------
    >>> lab_to_xyz(np.array([50.0, 0.0, 0.0], np.float32)).round(4)
    array([0.1751, 0.1842, 0.2006], dtype=float32)
    """
    return _convert(pixels, "Lab", "XYZ", nonfinite)


# --------------------------------------------------------------------------- OKLab

def xyz_to_oklab(pixels, *, nonfinite: str = "raise") -> np.ndarray:
    """Convert CIE 1931 XYZ (D65) to OKLab.

    Parameters
    ----------
    pixels
        XYZ relative to D65, Y = 1 for diffuse white; ``(..., 3)``
        float16/32/64. Domain: any real.
    nonfinite
        ``"raise"`` (default) or ``"pass"`` (module docstring).

    Returns
    -------
    numpy.ndarray
        OKLab; ``(..., 3)`` float32. Range: ``L`` 0..1 for Y 0..1 (above 1
        for HDR values), ``a``, ``b`` about -0.4..0.4 for display colours.

    Notes
    -----
    ``M2 @ cbrt(M1 @ XYZ)`` with Ottosson's M1 and M2 (as in
    ``colour.XYZ_to_Oklab``); the cube root is odd (negative LMS allowed).

    References
    ----------
    [Ottosson2020] (module docstring).

    Examples
    --------
    Ottosson's published table (XYZ -> OKLab, 3 decimals):

    >>> xyz_to_oklab(np.array([[0.950, 1.000, 1.089], [1.0, 0.0, 0.0]], np.float32)).round(3) + 0
    array([[ 1.   ,  0.   ,  0.   ],
           [ 0.45 ,  1.236, -0.019]], dtype=float32)
    """
    return _convert(pixels, "XYZ", "OKLab", nonfinite)


def oklab_to_xyz(pixels, *, nonfinite: str = "raise") -> np.ndarray:
    """Convert OKLab to CIE 1931 XYZ (D65).

    Parameters
    ----------
    pixels
        OKLab: ``L`` (1 for white), ``a``, ``b``; ``(..., 3)``
        float16/32/64. Domain: any real.
    nonfinite
        ``"raise"`` (default) or ``"pass"`` (module docstring).

    Returns
    -------
    numpy.ndarray
        XYZ relative to D65; ``(..., 3)`` float32. Range: any real; Y = 1
        for the neutral ``L = 1``.

    Notes
    -----
    ``M1^-1 @ (M2^-1 @ Lab)^3``.

    References
    ----------
    [Ottosson2020] (module docstring).

    Examples
    --------
    >>> oklab_to_xyz(np.array([0.922, -0.671, 0.263], np.float32)).round(2) + 0
    array([0., 1., 0.], dtype=float32)
    """
    return _convert(pixels, "OKLab", "XYZ", nonfinite)


def acescg_to_oklab(pixels, *, nonfinite: str = "raise") -> np.ndarray:
    """Convert ACEScg to OKLab (the palette's perceptual space).

    Parameters
    ----------
    pixels
        ACEScg: AP1 primaries, ACES white (~D60), scene-linear; ``(..., 3)``
        (``N3`` colour lists and ``HW3`` frames alike) float16/32/64.
        Domain: any real.
    nonfinite
        ``"raise"`` (default) or ``"pass"`` (module docstring).

    Returns
    -------
    numpy.ndarray
        OKLab; ``(..., 3)`` float32. Range: ``L`` 0..1 for Y 0..1 (the
        ACEScg white ``(1, 1, 1)`` gives ``L = 1``), ``a``, ``b`` about
        -0.4..0.4 for display colours, larger for AP1 primaries.

    Notes
    -----
    Two fused matrices around one cube root:
    ``M2 @ cbrt((M1 @ Bradford(ACES white -> D65) @ NPM(AP1)) @ rgb)``.
    About 0.17 s for a 3840x2160 frame on one core; the cube root is a
    quadratic table (within 5e-7 relative), not ``np.cbrt``.

    References
    ----------
    [S-2014-004], [Lam1985], [Ottosson2020] (module docstring).

    Examples
    --------
    >>> acescg_to_oklab(np.array([[1.0, 1.0, 1.0], [0.18, 0.18, 0.18]], np.float32)).round(3) + 0
    array([[1.   , 0.   , 0.   ],
           [0.565, 0.   , 0.   ]], dtype=float32)
    """
    return _convert(pixels, "ACEScg", "OKLab", nonfinite)


def oklab_to_acescg(pixels, *, nonfinite: str = "raise") -> np.ndarray:
    """Convert OKLab to ACEScg (the palette's way back).

    Parameters
    ----------
    pixels
        OKLab ``(..., 3)`` float16/32/64. Domain: any real.
    nonfinite
        ``"raise"`` (default) or ``"pass"`` (module docstring).

    Returns
    -------
    numpy.ndarray
        ACEScg: AP1 primaries, ACES white, scene-linear; ``(..., 3)`` float32.
        Range: any real.

    Notes
    -----
    ``(NPM(AP1)^-1 @ Bradford(D65 -> ACES white) @ M1^-1) @ (M2^-1 @ Lab)^3``:
    two matrices and two multiplies.

    References
    ----------
    [Ottosson2020], [Lam1985], [S-2014-004] (module docstring).

    Examples
    --------
    >>> oklab_to_acescg(np.array([0.5646, 0.0, 0.0], np.float32)).round(3)
    array([0.18, 0.18, 0.18], dtype=float32)
    """
    return _convert(pixels, "OKLab", "ACEScg", nonfinite)
