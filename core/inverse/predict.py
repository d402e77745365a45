"""Prediction on onnxruntime: images -> params dicts, with the spread of each continuous value.

:class:`InversePredictor` loads a model once (:func:`~core.inverse.model.load_inverse_model`:
manifest, sha256 of the bytes the session is built from) and turns each
image (``float32`` ``HW3``, or ``HW4`` whose alpha is dropped, scene-linear
ACEScg, the model's input size) into a :class:`Prediction`: the params
(argmax of each categorical head, booleans where the logit is positive,
continuous means mapped back from 0..1 to their range, integers rounded,
the fixed params added: the generator's full dict), the normalised spread
of each continuous value (what CMA-ES starts from), and the class
probabilities of each categorical head.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from typing import Any

import numpy as np

from core.errors import ImageError, require
from core.inverse.model import INPUT_NAME, InverseModel, load_inverse_model


@dataclasses.dataclass(frozen=True)
class Prediction:
    """``params`` (flat keys, the generator's full dict), ``unit`` (continuous values normalised 0..1, in the
    space's order), ``sigma`` (their spreads, same units) and ``probabilities`` (name -> per-choice)."""

    params: dict[str, Any]
    unit: np.ndarray
    sigma: np.ndarray
    probabilities: dict[str, list[float]]


class InversePredictor:
    """An inverse model on onnxruntime (CPU), loaded once; ``threads`` 0 lets onnxruntime choose."""

    def __init__(self, model: str | os.PathLike | InverseModel, *, threads: int = 1):
        ort = require("onnxruntime", "infer")
        self.model = model if isinstance(model, InverseModel) else load_inverse_model(model)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(self.model.data, opts, providers=["CPUExecutionProvider"])
        self.space = self.model.space

    def _check(self, image: Any, i: int) -> np.ndarray:
        a = np.asarray(getattr(image, "pixels", image))
        m = self.model
        if a.ndim != 3 or a.shape[2] not in (3, 4) or a.shape[:2] != (m.height, m.width):
            raise ImageError(f"image {i}: shape {a.shape} does not fit the model's input "
                             f"{m.height}x{m.width}x3 (height x width x RGB)")
        if not np.issubdtype(a.dtype, np.floating) or not np.isfinite(a[..., :3]).all():
            raise ImageError(f"image {i}: expected finite float scene-linear values, got {a.dtype}")
        return a[..., :3].astype(np.float32)

    def outputs(self, images: Iterable[Any]) -> np.ndarray:
        """The raw head outputs, ``float32`` ``N x D``."""
        from core.infer.encoding import encode_pixels

        batch = np.stack([self._check(im, i) for i, im in enumerate(images)])
        x = np.ascontiguousarray(encode_pixels(batch, self.model.encoding).transpose(0, 3, 1, 2))
        return self.session.run(None, {INPUT_NAME: x})[0]

    def predict(self, images: Iterable[Any]) -> list[Prediction]:
        """One :class:`Prediction` per image (``float32`` ``HW3`` ACEScg of the model's size, or a Frame)."""
        space = self.space
        lay = space.output_layout()
        out = []
        for row in self.outputs(images):
            params, sigma = space.decode_output(row, fixed=True)
            probs = {}
            for d in space.categorical:
                z = row[slice(*lay["categorical"][d.name])].astype(np.float64)
                e = np.exp(z - z.max())
                probs[d.name] = (e / e.sum()).round(6).tolist()
            unit = np.clip(row[slice(*lay["mean"])].astype(np.float64), 0.0, 1.0)
            out.append(Prediction(params, unit, sigma, probs))
        return out
