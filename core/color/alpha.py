"""Alpha association: premultiplied (associated) or straight (unassociated) colour, as Nuke handles it.

A frame's RGBA colour is either *premultiplied* (colour already multiplied by
alpha: OpenEXR by its specification, TIFF with associated alpha, every
scene-linear frame reelkit works on) or *straight* (colour independent of
alpha: PNG by its specification, TIFF with unassociated alpha, display-encoded
frames). ``frame.metadata["alpha"]`` (:data:`ALPHA_KEY`) says which; readers
set it, :func:`alpha_of` falls back on the colour space (scene-linear:
premultiplied, anything else: straight).

The rule (Nuke's Read and Write nodes follow it): colour transforms that are
not linear (the sRGB curve, Lab, OKLab) act on straight colour; scene-linear
frames are premultiplied. :func:`core.color.convert_frame` keeps it: a
straight frame converted to a scene-linear space is premultiplied after the
conversion; a premultiplied frame converted to an encoded space is
unpremultiplied before it. Writers of straight containers (PNG, TIFF)
unpremultiply, the EXR writer premultiplies (:func:`with_alpha`).

Unpremultiplying divides colour by alpha where alpha > 0 and leaves colour
where alpha <= 0 (0 for premultiplied data), as Nuke's Unpremult does; so
premultiply(unpremultiply(x)) == x wherever alpha > 0 to float32 rounding.
Alpha itself is never changed.
"""

from __future__ import annotations

import numpy as np

from core.errors import ParameterError
from core.frame import Frame

#: The metadata key of a frame's alpha association.
ALPHA_KEY = "alpha"
PREMULTIPLIED, STRAIGHT = "premultiplied", "straight"
ASSOCIATIONS = (PREMULTIPLIED, STRAIGHT)
#: Scene-linear colour spaces (canonical names): their RGBA frames are premultiplied.
SCENE_LINEAR_COLORSPACES = frozenset({"ACEScg", "ACES2065-1", "lin_rec709", "XYZ"})


def is_scene_linear(colorspace: str) -> bool:
    """Whether ``colorspace`` (any reelkit name or alias) is scene-linear; unknown names (data) are not."""
    from core.color.spaces import canonical_colorspace
    from core.errors import ColorSpaceError

    try:
        return canonical_colorspace(colorspace) in SCENE_LINEAR_COLORSPACES
    except ColorSpaceError:
        return False


def alpha_of(frame: Frame) -> str | None:
    """``"premultiplied"`` / ``"straight"`` for an RGBA frame (its metadata, else its colour space's
    rule); ``None`` without alpha."""
    if frame.n_channels != 4:
        return None
    stated = frame.metadata.get(ALPHA_KEY)
    if stated in ASSOCIATIONS:
        return stated
    return PREMULTIPLIED if is_scene_linear(frame.colorspace) else STRAIGHT


def premultiply(pixels: np.ndarray) -> np.ndarray:
    """``float32`` ``HW4`` straight RGBA -> premultiplied (colour x alpha; alpha unchanged)."""
    out = np.array(pixels, dtype=np.float32, copy=True)
    out[..., :3] *= out[..., 3:4]
    return out


def unpremultiply(pixels: np.ndarray) -> np.ndarray:
    """``float32`` ``HW4`` premultiplied RGBA -> straight (colour / alpha where alpha > 0, else unchanged).

    >>> unpremultiply(np.array([[[0.25, 0.1, 0.0, 0.5], [0.0, 0.0, 0.0, 0.0]]], np.float32))[0].tolist()
    [[0.5, 0.20000000298023224, 0.0, 0.5], [0.0, 0.0, 0.0, 0.0]]
    """
    out = np.array(pixels, dtype=np.float32, copy=True)
    a = out[..., 3:4]
    np.divide(out[..., :3], a, out=out[..., :3], where=a > 0)
    return out


def with_alpha(frame: Frame, association: str) -> Frame:
    """``frame`` with its colour ``association`` ("premultiplied" or "straight"), converted if it has the
    other, recorded in ``metadata["alpha"]``; frames without alpha come back unchanged."""
    if association not in ASSOCIATIONS:
        raise ParameterError(f"alpha: expected one of {', '.join(ASSOCIATIONS)}, got {association!r}")
    current = alpha_of(frame)
    if current is None:
        return frame
    if current == association and frame.metadata.get(ALPHA_KEY) == association:
        return frame
    pixels = frame.pixels
    if current != association:
        pixels = premultiply(pixels) if association == PREMULTIPLIED else unpremultiply(pixels)
    return frame.replace(pixels=pixels, metadata={**frame.metadata, ALPHA_KEY: association})
