"""Pixel value encodings between scene-linear frames and a network's input/output.

A restoration network does not see scene-linear values directly: their
range (0 to 16 and more, negatives for colours outside the gamut) is a
poor fit for a CNN, whose errors should weigh about equally per stop. A
model manifest declares the encoding it was trained in
(``"input": {"encoding": ...}``); inference encodes the frame before the
network and decodes its output after it, and training encodes its data with
the same two functions (numpy only: no torch, no onnxruntime).

Encodings (domain: all finite reals; range: all finite reals; both
directions are strictly increasing, so every encoding is invertible):

``"linear"``
    Identity: the network sees scene-linear values.
``"log2"``
    reelkit's symmetric log: ``y = sign(x) * log2(1 + 64 |x|) / 10``;
    inverse ``x = sign(y) * (2 ** (10 |y|) - 1) / 64``. Linear near 0
    (slope ``64 / (10 ln 2) ~ 9.23``, like a log curve's toe), smooth
    through 0 (negatives mirror positives), logarithmic above: 18 % grey
    -> 0.365, 1.0 -> 0.602, 16.0 (4 stops over 1) -> 1.0001; above ~0.1,
    each stop adds ~0.1.
``"acescct"``
    The ACEScct curve of Academy S-2016-001 (ACEScct, 2016), section 4.3:
    ``y = (log2(x) + 9.72) / 17.52`` for ``x > 2**-7``, and the linear toe
    ``y = 10.5402377416545 x + 0.0729055341958355`` below (extended to
    negatives). The standard's decoder clamps at 65504; this one does not,
    so the inverse is exact for every finite value. The log encoding Nuke
    and ACES users know (18 % grey -> 0.4136).

Values: any shape, float input (float16/32/64); computed in float64,
returned as ``float32`` of the same shape. Round trip through float32:
within 1e-6 relative for ``log2`` up to the half-float maximum; ``acescct``
also within 1e-9 absolute near 0 (its toe has an offset, so a float32
code value near 0.073 resolves ~7e-10 of linear value). NaN and Inf pass through as
NaN/Inf (callers check finiteness where it matters). Integer and boolean
arrays are refused (integers are display code values, not scene-linear).

>>> import numpy as np
>>> encode_pixels(np.array([0.0, 0.18, 1.0, 16.0, -0.01]), "log2").round(4)
array([ 0.    ,  0.3646,  0.6022,  1.0001, -0.0714], dtype=float32)
>>> encode_pixels(np.array([0.18]), "acescct").round(4)
array([0.4136], dtype=float32)
>>> x = np.array([-0.5, 0.0, 0.18, 100.0], np.float32)
>>> bool(np.allclose(decode_pixels(encode_pixels(x, "acescct"), "acescct"), x, rtol=1e-6, atol=1e-9))
True
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from core.errors import ImageError, ParameterError

#: Names of the encodings, in the order they are documented.
ENCODINGS = ("linear", "log2", "acescct")

#: Help line per encoding (docs, manifests, UI).
ENCODING_HELP = {
    "linear": "identity: scene-linear values",
    "log2": "reelkit symmetric log: sign(x) * log2(1 + 64|x|) / 10",
    "acescct": "ACEScct curve (S-2016-001), linear toe extended to negatives",
}

# log2: y = sign(x) * log2(1 + LOG2_GAIN |x|) / LOG2_STOPS
LOG2_GAIN = 64.0
LOG2_STOPS = 10.0

# ACEScct constants, S-2016-001 section 4.3
_CCT_A = 10.5402377416545
_CCT_B = 0.0729055341958355
_CCT_X_BREAK = 0.0078125
_CCT_Y_BREAK = 0.155251141552511
_CCT_OFFSET = 9.72
_CCT_SCALE = 17.52

_CHUNK = 1 << 20  # elements per float64 chunk: bounds the temporary memory on 4K frames


def _log2_encode(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * (np.log1p(LOG2_GAIN * np.abs(x)) / (math.log(2.0) * LOG2_STOPS))


def _log2_decode(y: np.ndarray) -> np.ndarray:
    return np.sign(y) * (np.expm1(np.abs(y) * (LOG2_STOPS * math.log(2.0))) / LOG2_GAIN)


def _acescct_encode(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        log = (np.log2(np.where(x > _CCT_X_BREAK, x, 1.0)) + _CCT_OFFSET) / _CCT_SCALE
    return np.where(x > _CCT_X_BREAK, log, _CCT_A * x + _CCT_B)


def _acescct_decode(y: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        exp = np.exp2(np.where(y > _CCT_Y_BREAK, y, 0.0) * _CCT_SCALE - _CCT_OFFSET)
    return np.where(y > _CCT_Y_BREAK, exp, (y - _CCT_B) / _CCT_A)


_TABLE: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]] | None] = {
    "linear": None,
    "log2": (_log2_encode, _log2_decode),
    "acescct": (_acescct_encode, _acescct_decode),
}


def check_encoding(encoding: str) -> str:
    """Return ``encoding`` if it is one of :data:`ENCODINGS`, else raise :class:`~core.errors.ParameterError`."""
    if not isinstance(encoding, str) or encoding not in _TABLE:
        raise ParameterError(f"encoding {encoding!r}: unknown; known: {', '.join(ENCODINGS)}")
    return encoding


def _apply(values, encoding: str, direction: int) -> np.ndarray:
    fns = _TABLE[check_encoding(encoding)]
    arr = np.asarray(values)
    if not np.issubdtype(arr.dtype, np.floating):
        raise ImageError(f"encoding {encoding!r}: expected float values, got dtype {arr.dtype}")
    if fns is None:
        return arr.astype(np.float32, copy=True)
    fn = fns[direction]
    flat = arr.reshape(-1)
    out = np.empty(flat.shape, dtype=np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        for start in range(0, flat.size, _CHUNK):
            out[start:start + _CHUNK] = fn(flat[start:start + _CHUNK].astype(np.float64))
    return out.reshape(arr.shape)


def encode_pixels(x, encoding: str) -> np.ndarray:
    """Scene-linear values -> the network's encoding (``float32``, same shape).

    ``x``: any shape, float; colour space unchanged (the encoding acts per
    value). ``encoding``: one of :data:`ENCODINGS`.
    """
    return _apply(x, encoding, 0)


def decode_pixels(y, encoding: str) -> np.ndarray:
    """The network's encoding -> scene-linear values (``float32``, same shape); inverse of :func:`encode_pixels`."""
    return _apply(y, encoding, 1)
