"""Frame-by-frame ONNX inference: restore frames and sequences of any size with a trained model.

Model contract
--------------
A model is an ``.onnx`` file and a manifest. The graph has **one input and
one output**, both ``NCHW`` ``float32`` (or ``float16``), batch 1, with
**dynamic H and W** (export with dynamic axes); the output has the input's
shape: same size, same channels (RGB, or one channel). Values are in the
colour space and encoding the manifest declares, on the way in and out. H
and W of the input are multiples of ``multiple_of``; one output pixel
depends on at most a ``receptive_field`` x ``receptive_field`` square of
input pixels around it (the tile overlap must be at least that). The
network must be translation-equivariant (a CNN: convolutions, pointwise
ops, resampling by factors dividing ``multiple_of``) for tiling to be
exact. The graph may pad with zeros inside; inference reflect-pads the
frame, so the network's own padding only touches pixels that are cropped.

A model may also take the **whole frame** as a second input, ``context``:
``N x C x S x S``, the frame (not the tile) area-averaged to ``S x S``
(:func:`core.infer.context.frame_context`) in the same colour space and
encoding, declared by ``"context": S`` in the manifest's ``input``. Every
tile of a frame gets the same context, so tiling stays exact; it lets a
model's colour correction depend on the whole frame (a faded print against
a warm scene).

Manifest (``<model>.json`` beside ``<model>.onnx``, or an entry of the
folder's ``manifest.json``, format ``"reelkit.models/1"``, with the same
keys plus ``"file"``)::

    {
      "format": "reelkit.model/1",
      "name": "film_restore",
      "version": "1.0.0",
      "file": "film_restore.onnx",
      "sha256": "<64 hex digits: sha256 of the .onnx file>",
      "input": {
        "layout": "NCHW",
        "colorspace": "ACEScg",       # any core.color name; frames are converted to it
        "encoding": "log2",           # linear | log2 | acescct (core.infer.encoding)
        "channels": 3,                # 3 (RGB; alpha passes through) or 1
        "multiple_of": 8,             # H and W padding
        "receptive_field": 29,        # px, side of the square one output pixel sees
        "context": 32                 # optional: side of the whole-frame input (absent or 0: none)
      },
      "training": {...}               # provenance: data hashes, config, command, metrics
    }

The output is in the same colour space and encoding as the input.
Inference decodes it and writes scene-linear ACEScg EXR. The sha256 is
checked every time a model is loaded: a model that changed after its
manifest was written is refused.

Pieces
------
- :mod:`core.infer.encoding`: :func:`encode_pixels` / :func:`decode_pixels`,
  the value encodings shared with training (numpy only).
- :mod:`core.infer.context`: :func:`frame_context`, the whole-frame
  thumbnail shared with training (numpy only).
- :mod:`core.infer.model`: :class:`ModelSpec`, :func:`load_model_spec`
  (find, validate, check the sha256), :func:`load_model` (a path or a
  shipped model's name, read and checked once per job: a
  :class:`LoadedModel`), :func:`write_model_manifest`.
- :mod:`core.infer.tiling`: overlapping tiles with raised-cosine feathering
  whose weights sum to 1; tiled equals whole-frame to float rounding.
- :mod:`core.infer.session`: :class:`Restorer`, one onnxruntime session
  (CUDA when present, through an IO binding, else CPU) reused for every frame;
  ``Restorer.run_frame(frame)``: ``HWC`` ``float32`` in, same shape out,
  alpha passed through.
- :mod:`core.infer.torch_engine`: ``provider="torch"``, the model's own torch
  network (attached by :func:`core.train.torch_model.torch_model`) on CUDA
  in float16 with page-locked buffers, or on the CPU in float32.
- :mod:`core.infer.files`: :func:`infer_files` over files and sequences,
  with resume, frame ranges and a manifest; the next frame read and the
  previous one written while the model works (``prefetch``); :data:`INFER_PARAMS`.

Importing this package is cheap: onnxruntime is imported when a
:class:`Restorer` is made, ``onnx`` only for ``precision="fp16"``.
"""

from core.infer.encoding import ENCODINGS, decode_pixels, encode_pixels
from core.infer.files import INFER_MODEL_PARAMS, INFER_PARAMS, OUTPUT_COLORSPACE, default_output, infer_file, infer_files
from core.infer.model import (
    INDEX_FORMAT,
    MODEL_FORMAT,
    LoadedModel,
    ModelError,
    ModelSpec,
    find_model_manifest,
    load_model,
    load_model_spec,
    write_model_manifest,
)
from core.infer.session import PRECISIONS, PROVIDERS, Restorer, available_providers, sessions_created
from core.infer.tiling import resolve_tiling, run_tiled

__all__ = [
    "ENCODINGS",
    "INDEX_FORMAT",
    "INFER_MODEL_PARAMS",
    "INFER_PARAMS",
    "MODEL_FORMAT",
    "OUTPUT_COLORSPACE",
    "PRECISIONS",
    "PROVIDERS",
    "LoadedModel",
    "ModelError",
    "ModelSpec",
    "Restorer",
    "available_providers",
    "decode_pixels",
    "default_output",
    "encode_pixels",
    "find_model_manifest",
    "infer_file",
    "infer_files",
    "load_model",
    "load_model_spec",
    "resolve_tiling",
    "run_tiled",
    "sessions_created",
    "write_model_manifest",
]
