"""The parameter spec of palette encoding: what the CLI, the ``SpectrumEncode`` gizmo and the panel derive from.

``ENCODE_PARAMS.resolve(values)`` validates user values into the keyword
arguments of :func:`core.palette.fit_palette` / :func:`core.palette.encode`
(see :func:`fit_kwargs`, :func:`encode_kwargs`). :data:`REPORT_PARAMS` is the
same spec with the report's defaults (:data:`REPORT_DEFAULTS`: energy
weights, hue coverage 1%).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from core.palette.weights import WEIGHTS
from core.params import Param, ParamSet

SPACES = ("oklab", "lab")
OUTPUTS = ("index", "gradient", "reconstruction", "distance")
INDEX_DTYPES = ("auto", "uint8", "uint16")

ENCODE_PARAMS = ParamSet(
    "palette_encode",
    [
        Param("k", int, 8, "number of palette colours", minimum=2, maximum=256, label="Colours"),
        Param("space", str, "oklab", "perceptual space the palette is fitted in", choices=SPACES, label="Fit space"),
        # 2**31 - 1: a Nuke Int_Knob is 32-bit (the same bound as core.degrade's seed)
        Param("seed", int, 0, "random seed of the pixel sample and the k-means++ start", minimum=0,
              maximum=2**31 - 1),
        Param("sample_size", int, 100_000, "pixels sampled (per shot, when shared) to fit the palette",
              minimum=1_000, maximum=50_000_000, label="Sample size"),
        Param("weight", str, "count", "what a pixel counts for in the fit: 'count' (plain k-means, every pixel "
              "alike), 'chroma' (vivid colours count more), 'energy' (OKLab chroma x lightness: small bright hot "
              "colours keep an entry)", choices=WEIGHTS, label="Weight"),
        Param("hue_coverage", float, 0.0, "every OKLab hue family holding at least this share of the frame's "
              "chroma-weighted pixels gets a palette entry (0: off; 0.01 = 1%)", minimum=0.0, maximum=1.0,
              label="Hue coverage"),
        Param("max_iter", int, 100, "Lloyd iterations at most", minimum=1, maximum=10_000, label="Max iterations"),
        Param("tol", float, 0.05, "converged when no palette colour moves more than this (ΔE units: ΔE OK x 100 or ΔE76)",
              minimum=0.0, maximum=100.0, label="Tolerance"),
        Param("alpha_threshold", float, 0.0, "pixels with alpha at or below this are ignored (RGBA input)",
              minimum=0.0, maximum=1.0, label="Alpha threshold"),
        Param("premultiplied", bool, True, "RGBA input is premultiplied: divide colour by alpha before fitting",
              label="Premultiplied"),
        Param("shared", bool, False, "fit one palette over all frames of the shot (no flicker) instead of one per frame",
              label="Shared palette"),
        Param("index_dtype", str, "auto", "index map type: uint8 holds K <= 255, uint16 any K ('auto' picks)",
              choices=INDEX_DTYPES, label="Index type"),
        Param("output", str, "gradient", "image the node outputs", choices=OUTPUTS, label="Output"),
    ],
)

#: ``reelkit palette report`` is a look at an image: energy-aware, every hue family above 1% of the chroma covered.
REPORT_DEFAULTS = {"weight": "energy", "hue_coverage": 0.01}
REPORT_PARAMS = ParamSet("palette_report", [dataclasses.replace(p, default=REPORT_DEFAULTS.get(p.name, p.default))
                                            for p in ENCODE_PARAMS])

_FIT_KEYS = ("k", "space", "seed", "sample_size", "weight", "hue_coverage", "max_iter", "tol", "alpha_threshold",
             "premultiplied")


def fit_kwargs(values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Validated keyword arguments for :func:`~core.palette.fit_palette` from user values."""
    resolved = ENCODE_PARAMS.resolve(values)
    return {key: resolved[key] for key in _FIT_KEYS}


def encode_kwargs(values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Validated keyword arguments for :func:`~core.palette.encode` from user values."""
    resolved = ENCODE_PARAMS.resolve(values)
    return {"index_dtype": resolved["index_dtype"]}
