"""What every vision pass takes in: a frame's pixels in the working space, checked once.

A pass takes a :class:`~core.frame.Frame` (converted from its colour space
to scene-linear ACEScg) or a ``float32`` ``HWC`` array (taken as ACEScg
already), C in {1, 3, 4}; alpha is ignored. Passes that need colour
(mattes, learned passes with an RGB input) refuse a 1-channel image with
one line naming the image and the pass. Non-finite values are refused.

Two 8-bit views feed OpenCV's estimators: :func:`log_luma` (log2 ACEScg
luminance, a fixed mapping of stops so the same scene value gives the same
code on every frame of a shot: optical flow's brightness constancy) and
:func:`display_u8` (sRGB-encoded RGB, what GrabCut's colour models and the
saliency methods were designed on).
"""

from __future__ import annotations

import numpy as np

from core.errors import ImageError
from core.frame import Frame, as_hwc_float32, check_finite

#: The image colour space passes work in (scene-linear).
WORKING_COLORSPACE = "ACEScg"
#: Stops mapped onto 0..255 by :func:`log_luma_u8` (2^-8 .. 2^2 of scene-linear luminance).
LOG_LO, LOG_HI = -8.0, 2.0


def name_of(image: Frame | np.ndarray, name: str | None = None) -> str:
    """The image's name for messages: ``name`` if given, else the frame's path and number, else ``<memory>``."""
    if name:
        return name
    return image.describe() if isinstance(image, Frame) else "<memory>"


def working_pixels(image: Frame | np.ndarray, *, what: str, colour: bool = False, name: str | None = None,
                   ) -> np.ndarray:
    """``image`` as ``float32`` ``HWC`` scene-linear ACEScg, C in {1, 3} (alpha dropped).

    ``what`` names the pass for messages; ``colour`` refuses a 1-channel
    image (:class:`~core.errors.ImageError`, one line naming ``name`` and
    the pass). A :class:`Frame` is converted from its colour space; an
    array is taken as ACEScg.
    """
    label = name_of(image, name)
    if isinstance(image, Frame):
        from core.color import convert_frame

        px = image.pixels if image.n_channels == 1 else convert_frame(image, WORKING_COLORSPACE).pixels
    else:
        px = as_hwc_float32(image, name=label)
    if colour and px.shape[2] == 1:
        raise ImageError(f"{label}: the {what} pass needs a colour (RGB) image, got 1 channel")
    px = px[..., :3] if px.shape[2] >= 3 else px
    check_finite(px, name=label)
    return px


def log_luma(pixels: np.ndarray) -> np.ndarray:
    """``float32`` ``HW`` codes 0..255 (not rounded): log2 ACEScg luminance of ``HWC`` scene-linear ``pixels``
    (C 1 or 3), stops :data:`LOG_LO`..:data:`LOG_HI` onto 0..255 (25.5 codes a stop), clipped."""
    from core.color.luminance import acescg_log2_luminance

    stops = acescg_log2_luminance(pixels, 2.0 ** LOG_LO)
    return np.clip((stops - LOG_LO) * np.float32(255.0 / (LOG_HI - LOG_LO)), 0.0, 255.0)


def to_u8(codes: np.ndarray) -> np.ndarray:
    """``float32`` codes 0..255 rounded to ``uint8`` (OpenCV's DIS takes 8-bit images)."""
    return np.clip(np.rint(codes), 0, 255).astype(np.uint8)


def display_u8(pixels: np.ndarray) -> np.ndarray:
    """``uint8`` ``HW3`` sRGB-encoded (0..255) of ``HW3`` scene-linear ACEScg ``pixels`` (clipped to the display
    range); a 1-channel image is repeated to grey RGB."""
    from core.color import convert

    rgb = np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels
    srgb = convert(np.clip(rgb, 0.0, None), WORKING_COLORSPACE, "srgb")
    return np.clip(np.rint(srgb * 255.0), 0, 255).astype(np.uint8)


def same_size(a: np.ndarray, b: np.ndarray, *, names: tuple[str, str]) -> None:
    """Refuse two images of different height and width (one line naming both and their sizes)."""
    if a.shape[:2] != b.shape[:2]:
        raise ImageError(f"{names[1]}: {b.shape[1]}x{b.shape[0]} does not match {names[0]} "
                         f"({a.shape[1]}x{a.shape[0]}): the frames of one shot must share a size")
