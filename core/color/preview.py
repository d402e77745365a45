"""8-bit sRGB display previews of ACEScg images."""

from __future__ import annotations

import math
import numbers

import numpy as np

from core.color import _engine
from core.errors import ParameterError

#: ``view`` values of :func:`acescg_to_srgb_preview`.
PREVIEW_VIEWS = ("clip", "aces")


def acescg_to_srgb_preview(pixels, *, exposure: float = 0.0, view: str = "clip",
                           nonfinite: str = "raise") -> np.ndarray:
    """An 8-bit sRGB-encoded display preview of ACEScg pixels (for PNG contact sheets).

    Parameters
    ----------
    pixels
        ACEScg: AP1 primaries, ACES white (~D60), scene-linear; ``(..., 3)``
        (usually ``HW3``) float16/32/64. Domain: any real.
    exposure
        Stops applied before the view transform (``pixels * 2**exposure``).
    view
        ``"clip"`` (default): un-tone-mapped — ACEScg -> linear Rec.709 ->
        sRGB encoding, clipped to 0..1. Fast (one fused matrix and a table,
        about 0.15 s for a 4K frame on one core), colorimetric below 1.0,
        hard clip above: highlights
        and out-of-Rec.709 colours clip per channel. Matches OCIO's
        ``sRGB - Display`` / ``Un-tone-mapped`` view within 1 code value.
        ``"aces"``: the ACES 2.0 SDR output transform through OpenColorIO
        (``ocio://cg-config-latest``, display ``"sRGB - Display"``, view
        ``"ACES 2.0 - SDR 100 nits (Rec.709)"``): filmic tone scale and gamut
        compression, highlights roll off instead of clipping; much slower
        (about 4.5 s for a 4K frame with OCIO 2.6's CPU processor) and needs
        PyOpenColorIO (imported here only).
    nonfinite
        ``"raise"`` (default): :class:`~core.errors.ImageError` on NaN/Inf,
        with the count and first location; ``"pass"``: no check; after the
        colour matrix NaN and -Inf show as 0, +Inf as 255 (a NaN in one
        channel spreads to all three).

    Returns
    -------
    numpy.ndarray
        uint8 sRGB-encoded code values, ``round(255 * clip(v, 0, 1))``, same
        shape as ``pixels``; BT.709 primaries, D65 white.

    References
    ----------
    IEC 61966-2-1:1999 (sRGB); Academy S-2014-004 (ACEScg); Academy ACES 2.0
    Output Transforms (2024) for ``view="aces"``.

    Examples
    --------
    >>> acescg_to_srgb_preview(np.array([[0.18, 0.18, 0.18], [4.0, 4.0, 4.0]], np.float32))
    array([[118, 118, 118],
           [255, 255, 255]], dtype=uint8)
    >>> acescg_to_srgb_preview(np.array([0.18, 0.18, 0.18], np.float32), exposure=1.0)
    array([162, 162, 162], dtype=uint8)
    """
    check = _engine.check_nonfinite_mode(nonfinite)
    if isinstance(exposure, bool) or not isinstance(exposure, numbers.Real) or not math.isfinite(exposure):
        raise ParameterError(f"exposure: expected a finite number of stops, got {exposure!r}")
    if not -64.0 <= float(exposure) <= 64.0:
        raise ParameterError(f"exposure: {exposure} stops is outside -64..64")
    if view not in PREVIEW_VIEWS:
        raise ParameterError(f"view: expected one of {', '.join(map(repr, PREVIEW_VIEWS))}, got {view!r}")
    name = "pixels (ACEScg -> sRGB preview)"
    arr = _engine.as_pixels(pixels, name=name)
    scale = 2.0 ** float(exposure)
    if view == "clip":
        plan = _engine.exposure_plan(_engine.plan("ACEScg", "srgb"), scale)
        return _engine.run(plan, arr, check=check, name=name, quantize8=True)
    from core.color.reference import ocio_display_view

    if check and not np.isfinite(arr).all():
        raise _engine.nonfinite_error(arr, name)
    lin = np.multiply(arr, np.float32(scale), dtype=np.float32)
    display = ocio_display_view(lin, nonfinite="pass")
    return _engine.run(_engine.plan("XYZ", "XYZ"), display, check=False, quantize8=True)
