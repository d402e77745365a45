"""Quality filters: measure a frame, then say every reason it is rejected.

Measures on the 8-bit sRGB-encoded frame (``uint8`` ``HW3``), converted to
grey with Rec.709 weights on the encoded values (a display luma, 0..255):

``laplacian_var``  variance of the 3x3 Laplacian of the grey image (OpenCV ``CV_64F``), the usual
                   focus measure (Pech-Pacheco et al., "Diatom autofocusing in brightfield
                   microscopy", ICPR 2000). It depends on resolution and content: 80 is a common
                   threshold for frames around 0.1-1 megapixel.
``mean_luma``      mean grey / 255.
``crushed``        fraction of pixels with grey < 2 (crushed blacks, letterbox included).
``clipped``        fraction of pixels with grey > 253.
``entropy``        Shannon entropy (bits, 0..8) of the 256-bin grey histogram; title cards, flat
                   frames and black frames are low.

Rejection reasons (all that apply are recorded, in this order):
``too_small``, ``blur``, ``underexposed``, ``overexposed``, ``crushed``,
``clipped``, ``low_information``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from core.errors import ImageError

REASONS = ("too_small", "blur", "underexposed", "overexposed", "crushed", "clipped", "low_information")
_LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)


def grey(image: np.ndarray) -> np.ndarray:
    """``uint8`` ``HW3`` RGB (or ``HW``) -> ``uint8`` ``HW`` display luma."""
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise ImageError(f"quality: expected a uint8 image, got {arr.dtype}")
    if arr.ndim == 2:
        return arr
    if arr.ndim != 3 or arr.shape[2] < 3:
        raise ImageError(f"quality: expected an HW3 RGB image, got shape {arr.shape}")
    return np.rint(arr[..., :3].astype(np.float32) @ _LUMA).astype(np.uint8)


def laplacian_variance(image: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image (8-bit scale)."""
    import cv2

    return float(cv2.Laplacian(grey(image), cv2.CV_64F).var())


def measure(image: np.ndarray) -> dict[str, Any]:
    """The quality measures of one ``uint8`` ``HW3`` sRGB-encoded frame (see the module doc)."""
    g = grey(image)
    hist = np.bincount(g.ravel(), minlength=256).astype(np.float64)
    p = hist[hist > 0] / g.size
    return {
        "width": int(g.shape[1]),
        "height": int(g.shape[0]),
        "laplacian_var": round(laplacian_variance(g), 3),
        "mean_luma": round(float(g.mean()) / 255.0, 5),
        "crushed": round(float(hist[:2].sum()) / g.size, 5),
        "clipped": round(float(hist[254:].sum()) / g.size, 5),
        "entropy": round(float(-(p * np.log2(p)).sum()), 4),
    }


def reasons(metrics: Mapping[str, Any], params: Mapping[str, Any]) -> list[str]:
    """Every rejection reason for ``metrics`` under ``params`` (the filter values of DATASET_PARAMS)."""
    out = []
    if min(metrics["width"], metrics["height"]) < params["min_size"]:
        out.append("too_small")
    if metrics["laplacian_var"] < params["blur_threshold"]:
        out.append("blur")
    if metrics["mean_luma"] < params["dark_threshold"]:
        out.append("underexposed")
    if metrics["mean_luma"] > params["bright_threshold"]:
        out.append("overexposed")
    if metrics["crushed"] > params["clip_fraction"]:
        out.append("crushed")
    if metrics["clipped"] > params["clip_fraction"]:
        out.append("clipped")
    if metrics["entropy"] < params["min_entropy"]:
        out.append("low_information")
    return out


def sharpness_rank(metrics: Mapping[str, Any]) -> tuple[float, float]:
    """Sort key of 'the best frame' in a duplicate group: sharpest first, then most informative."""
    return (float(metrics["laplacian_var"]), float(metrics["entropy"]))
