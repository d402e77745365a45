"""Quality filters: measure a frame, then say every reason it is rejected.

Measures on the 8-bit sRGB-encoded frame (``uint8`` ``HW3``), converted to
grey with Rec.709 weights on the encoded values (a display luma, 0..255):

``laplacian_var``  variance of the 3x3 Laplacian of the grey image (OpenCV ``CV_64F``), the usual
                   focus measure (Pech-Pacheco et al., "Diatom autofocusing in brightfield
                   microscopy", ICPR 2000). It depends on resolution, content, grain and the
                   transfer's own softness: OpenCV's vtest.avi (768x576) measures ~770 as shot and
                   ~55 after a Gaussian blur of sigma 1 px, so no fixed number fits all footage.
``mean_luma``      mean grey / 255.
``crushed``        fraction of pixels with grey < 2 (crushed blacks, letterbox included).
``clipped``        fraction of pixels with grey > 253.
``entropy``        Shannon entropy (bits, 0..8) of the 256-bin grey histogram; title cards, flat
                   frames and black frames are low.

Rejection reasons (all that apply are recorded, in this order):
``too_small``, ``blur``, ``underexposed``, ``overexposed``, ``crushed``,
``clipped``, ``low_information``.

The blur rule is relative to the footage (:func:`blur_limit`): a frame is
blurred when its ``laplacian_var`` is below ``blur_relative`` times the
*sharpness reference* of its video, the median ``laplacian_var`` of that
video's frames that no other reason rejects (:func:`sharpness_reference`;
all its frames when every one is rejected otherwise). A soft transfer keeps
its frames; a frame much softer than its neighbours (defocus, motion blur, a
dissolve) goes. Every frame of a video shares its resolution, so the rule
needs no resolution normalisation. ``blur_threshold`` (> 0) adds an explicit
absolute floor in ``laplacian_var`` units; ``blur_relative`` 0 leaves that
floor alone (the fixed rule).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from core.color.luminance import luminance
from core.color.matrices import REC709_LUMINANCE
from core.errors import ImageError

REASONS = ("too_small", "blur", "underexposed", "overexposed", "crushed", "clipped", "low_information")


def grey(image: np.ndarray) -> np.ndarray:
    """``uint8`` ``HW3`` RGB (or ``HW``) -> ``uint8`` ``HW`` display luma."""
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise ImageError(f"quality: expected a uint8 image, got {arr.dtype}")
    if arr.ndim == 2:
        return arr
    if arr.ndim != 3 or arr.shape[2] < 3:
        raise ImageError(f"quality: expected an HW3 RGB image, got shape {arr.shape}")
    return np.rint(luminance(arr[..., :3].astype(np.float32), REC709_LUMINANCE)).astype(np.uint8)


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


def blur_limit(params: Mapping[str, Any], reference: float | None) -> float:
    """The ``laplacian_var`` below which a frame is blurred: the larger of ``blur_threshold`` and
    ``blur_relative`` x ``reference`` (the video's :func:`sharpness_reference`; ``None``: no relative part).

    >>> blur_limit({"blur_threshold": 0.0, "blur_relative": 0.25}, 400.0)
    100.0
    >>> blur_limit({"blur_threshold": 80.0, "blur_relative": 0.0}, 400.0)
    80.0
    """
    relative = params["blur_relative"] * reference if reference is not None else 0.0
    return float(max(params["blur_threshold"], relative))


def sharpness_reference(frames: Sequence[Mapping[str, Any]], params: Mapping[str, Any]) -> float | None:
    """The median ``laplacian_var`` of the ``frames`` (measures of one video) that no reason other
    than blur rejects; of all of them when every one is rejected otherwise; ``None`` for no frames."""
    if not frames:
        return None
    clean = [m for m in frames if not _other_reasons(m, params)]
    return float(np.median([m["laplacian_var"] for m in (clean or frames)]))


def _other_reasons(metrics: Mapping[str, Any], params: Mapping[str, Any]) -> list[str]:
    return reasons(metrics, {**params, "blur_threshold": 0.0}, None)  # limit 0: never "blur"


def reasons(metrics: Mapping[str, Any], params: Mapping[str, Any], reference: float | None) -> list[str]:
    """Every rejection reason for ``metrics`` under ``params`` (the filter values of DATASET_PARAMS),
    blur judged against ``reference``, the video's :func:`sharpness_reference` (see :func:`blur_limit`)."""
    out = []
    if min(metrics["width"], metrics["height"]) < params["min_size"]:
        out.append("too_small")
    if metrics["laplacian_var"] < blur_limit(params, reference):
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
