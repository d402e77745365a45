"""Where the eye goes: saliency maps that need no trained weights.

Methods (:data:`SALIENCY_METHODS`), both on the display-encoded luminance
(sRGB-encoded grey, 0..1: what the methods were designed and tuned on):

- ``"spectral_residual"`` (Hou & Zhang, "Saliency detection: a spectral
  residual approach", CVPR 2007): on a 64-pixel-wide thumbnail, the log
  amplitude spectrum minus its 3x3 local mean is the "unexpected" part of
  the image; transformed back with the original phase, squared and blurred
  (Gaussian, sigma 2.5 thumbnail px, as in their code), resized to the frame. Coarse
  blobs: where the objects are.
- ``"fine_grained"`` (after Montabone & Soto, "Human detection using a
  mobile platform and novel features derived from a visual saliency
  mechanism", Image and Vision Computing 2010): centre-surround contrast of
  the intensity at several scales, the on-centre (brighter than the
  surround) and off-centre (darker) differences summed over scales, from
  box means (integral images). Full resolution: edges and small details.

Output: ``float32`` ``HW1``, 0..1, each map divided by its own maximum (a
frame of one grey gives zeros). Per frame, pure: a session adds nothing to them.
"""

from __future__ import annotations

import numpy as np

from core.errors import ParameterError
from core.frame import Frame
from core.vision.image import display_u8, working_pixels

SALIENCY_METHODS = ("spectral_residual", "fine_grained")
#: Thumbnail width of the spectral residual (Hou & Zhang's 64 px).
SR_WIDTH = 64
#: Centre and surround box sides of the fine-grained map, per scale (px).
#: Blur of the squared map, thumbnail px (Hou & Zhang's 10x10 Gaussian, sigma 2.5).
SR_SIGMA = 2.5
FG_SCALES = ((1, 7), (3, 15), (7, 31), (15, 63))


def _grey(image: Frame | np.ndarray, what: str) -> np.ndarray:
    import cv2

    rgb = display_u8(working_pixels(image, what=what))
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0


def _unit(m: np.ndarray) -> np.ndarray:
    top = float(m.max())
    return (m / top if top > 0 else np.zeros_like(m)).astype(np.float32)[..., None]


def spectral_residual(grey: np.ndarray) -> np.ndarray:
    """Spectral-residual saliency of a ``float32`` ``HW`` display-encoded grey image (0..1): ``HW1`` 0..1."""
    import cv2

    h, w = grey.shape
    th = max(1, round(SR_WIDTH * h / w))
    small = cv2.resize(grey, (SR_WIDTH, th), interpolation=cv2.INTER_AREA).astype(np.float64)
    spec = np.fft.fft2(small)
    log_amp = np.log(np.abs(spec) + 1e-9)
    residual = log_amp - cv2.blur(log_amp, (3, 3), borderType=cv2.BORDER_REPLICATE)
    sal = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spec)))) ** 2
    sal = cv2.GaussianBlur(sal, (0, 0), SR_SIGMA, borderType=cv2.BORDER_REPLICATE)
    return _unit(cv2.resize(sal.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR))


def fine_grained(grey: np.ndarray) -> np.ndarray:
    """Fine-grained centre-surround saliency of a ``float32`` ``HW`` display-encoded grey image (0..1):
    ``HW1`` 0..1."""
    import cv2

    total = np.zeros(grey.shape, np.float32)
    for centre, surround in FG_SCALES:
        c = cv2.blur(grey, (centre, centre), borderType=cv2.BORDER_REFLECT) if centre > 1 else grey
        s = cv2.blur(grey, (surround, surround), borderType=cv2.BORDER_REFLECT)
        total += np.abs(c - s)  # on-centre max(c - s, 0) plus off-centre max(s - c, 0)
    return _unit(total)


_METHODS = {"spectral_residual": spectral_residual, "fine_grained": fine_grained}


def saliency(image: Frame | np.ndarray, *, method: str = "spectral_residual") -> np.ndarray:
    """Saliency map of ``image`` (a Frame, or ACEScg ``float32`` ``HWC``; 1 or 3 channels): ``float32`` ``HW1``
    0..1 by ``method`` (:data:`SALIENCY_METHODS`)."""
    if method not in _METHODS:
        raise ParameterError(f"method {method!r}: expected one of {', '.join(SALIENCY_METHODS)}")
    grey = _grey(image, "saliency")
    if float(np.ptp(grey)) == 0.0:  # nothing stands out (the spectrum would be all rounding noise)
        return np.zeros((*grey.shape, 1), np.float32)
    return _METHODS[method](grey)
