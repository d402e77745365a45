"""Image embeddings behind one small interface, cached by content hash.

An embedder turns ``uint8`` ``HW3`` RGB frames (sRGB-encoded, as
extracted) into ``float32`` vectors, one row per frame; rows are compared
after L2 normalisation (cosine distance). Its :attr:`~Embedder.key` names
the method, version and settings: two embedders with the same key give the
same vectors, which is what the cache relies on.

Built in (``make_embedder(name, ...)``):

``classical``  :class:`ClassicalEmbedder`, no model: colour statistics in OKLab (the perceptual
               space of :mod:`core.palette`: mean/std overall and per quadrant, a chroma (a, b)
               histogram, a lightness histogram), gradient statistics (magnitude-weighted
               orientation histograms per quadrant) and a coarse lightness layout. 154 values.
``onnx``       :class:`OnnxEmbedder`, any ONNX vision encoder the user points to: one NCHW float
               input (3 channels; fixed or dynamic size), first output flattened per image.
               Needs ``onnxruntime`` (the ``infer`` extra).
``face``       :class:`FaceEmbedder`: dlib face identity (the models shipped in the
               ``face_recognition_models`` package) joined to the classical embedding. Needs
               the ``dataset-faces`` extra.

The cache (:class:`EmbeddingCache`) keeps vectors per embedder key in
``.npz`` shards keyed by each frame's content hash, so a frame seen by any
earlier run, of this dataset or another sharing the cache folder, is not
embedded again.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from core.errors import ImageError, ParameterError, require
from core.jobs import ProgressFn

#: Vectors per cache shard file.
SHARD_SIZE = 4096
#: Longer side of the image the classical embedding is computed on.
CLASSICAL_SIZE = 128


@runtime_checkable
class Embedder(Protocol):
    """What the dataset builder needs from an embedding method."""

    #: Method, version and settings; equal keys give equal vectors.
    key: str

    def embed(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """``uint8`` ``HW3`` sRGB-encoded RGB images -> ``float32`` ``(len(images), dim)``."""
        ...


def _check(image: np.ndarray) -> np.ndarray:
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise ImageError(f"embed: expected a uint8 HW3 RGB image, got {arr.dtype} {arr.shape}")
    return arr


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


class ClassicalEmbedder:
    """Colour and gradient statistics; needs no model (see the module doc).

    Blocks (each scaled to unit length, then weighted, then the whole
    vector to unit length): OKLab mean/std overall and per 2x2 quadrant
    (30 values, weight 1.0); square-rooted (a, b) chroma histogram, 6x6
    over -0.2..0.2 (36, weight 1.0); square-rooted lightness histogram, 8
    bins (8, weight 0.6); orientation histograms of the lightness gradient,
    8 bins per quadrant, magnitude-weighted (32, weight 0.8); a 8x6
    lightness layout, mean removed (48, weight 0.8).
    """

    key = "classical/1"
    WEIGHTS = (1.0, 1.0, 0.6, 0.8, 0.8)

    def embed(self, images: Sequence[np.ndarray]) -> np.ndarray:
        return np.stack([self.embed_one(im) for im in images]) if len(images) else np.zeros((0, 154), np.float32)

    def embed_one(self, image: np.ndarray) -> np.ndarray:
        import cv2

        from core.color import convert

        arr = _check(image)
        h, w = arr.shape[:2]
        scale = CLASSICAL_SIZE / max(h, w)
        if scale < 1:
            arr = cv2.resize(arr, (max(2, round(w * scale)), max(2, round(h * scale))), interpolation=cv2.INTER_AREA)
        lab = convert(arr.astype(np.float32) / 255.0, "srgb", "OKLab")
        h, w = lab.shape[:2]
        quads = [lab[:h // 2, :w // 2], lab[:h // 2, w // 2:], lab[h // 2:, :w // 2], lab[h // 2:, w // 2:]]
        stats = [lab.reshape(-1, 3).mean(0), lab.reshape(-1, 3).std(0)]
        for q in quads:
            q = q.reshape(-1, 3)
            stats += [q.mean(0), q.std(0)]
        colour = np.concatenate(stats)
        ab, _, _ = np.histogram2d(lab[..., 1].ravel(), lab[..., 2].ravel(), bins=6,
                                  range=[[-0.2, 0.2], [-0.2, 0.2]])
        chroma = np.sqrt(ab.ravel() / lab[..., 0].size)
        light = np.sqrt(np.histogram(lab[..., 0], bins=8, range=(0.0, 1.0))[0] / lab[..., 0].size)
        L = np.ascontiguousarray(lab[..., 0])
        gx = cv2.Sobel(L, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(L, cv2.CV_32F, 0, 1, ksize=3)
        mag = np.hypot(gx, gy)
        ang = np.mod(np.arctan2(gy, gx), np.pi)  # orientation, not direction
        grads = []
        for ys, xs in ((slice(0, h // 2), slice(0, w // 2)), (slice(0, h // 2), slice(w // 2, w)),
                       (slice(h // 2, h), slice(0, w // 2)), (slice(h // 2, h), slice(w // 2, w))):
            hist, _ = np.histogram(ang[ys, xs], bins=8, range=(0.0, np.pi), weights=mag[ys, xs])
            grads.append(hist)
        grad = np.sqrt(np.concatenate(grads))
        layout = cv2.resize(L, (8, 6), interpolation=cv2.INTER_AREA).ravel()
        layout = layout - layout.mean()
        blocks = (colour, chroma, light, grad, layout)
        vec = np.concatenate([wt * _unit(np.asarray(b, np.float64)) for wt, b in zip(self.WEIGHTS, blocks)])
        return _unit(vec).astype(np.float32)


def _floats(text: str | Sequence[float], name: str) -> tuple[float, float, float]:
    vals = [float(v) for v in re.split(r"[,\s]+", text.strip())] if isinstance(text, str) else list(text)
    if len(vals) != 3:
        raise ParameterError(f"{name}: expected 3 values (R, G, B), got {text!r}")
    return tuple(vals)  # type: ignore[return-value]


class OnnxEmbedder:
    """Any ONNX vision encoder: NCHW float input with 3 channels, first output flattened.

    Images are resized (area) to the model's input size (``size`` when the
    model's height/width are dynamic, default 224x224), scaled to 0..1,
    normalised with ``mean``/``std`` per channel (ImageNet's by default)
    and run in batches of ``batch`` (one at a time if the model's batch
    dimension is fixed).
    """

    def __init__(self, model: str | os.PathLike, *, mean: Any = (0.485, 0.456, 0.406),
                 std: Any = (0.229, 0.224, 0.225), size: tuple[int, int] = (224, 224), batch: int = 32):
        ort = require("onnxruntime", "infer")
        self._recipe = (os.fspath(model), {"mean": mean, "std": std, "size": tuple(size), "batch": batch})
        path = Path(model)
        if not path.is_file():
            raise ParameterError(f"onnx_model {str(model)!r}: no such file")
        self.mean = np.asarray(_floats(mean, "onnx_mean"), np.float32).reshape(1, 3, 1, 1)
        self.std = np.asarray(_floats(std, "onnx_std"), np.float32).reshape(1, 3, 1, 1)
        if np.any(self.std == 0):
            raise ParameterError("onnx_std: values must not be 0")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        from core.threads import onnx_session_options

        options = onnx_session_options(ort, most=4)
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ParameterError(f"onnx_model {path}: onnxruntime cannot load it ({exc})") from exc
        inp = self.session.get_inputs()[0]
        shape = list(inp.shape)
        if len(shape) != 4 or shape[1] not in (3, "3"):
            raise ParameterError(f"onnx_model {path}: expected one NCHW input with 3 channels, got {shape}")
        if "float" not in inp.type:
            raise ParameterError(f"onnx_model {path}: expected a float input, got {inp.type}")
        self.input_name = inp.name
        self.fixed_batch = shape[0] if isinstance(shape[0], int) else None
        self.height = shape[2] if isinstance(shape[2], int) else int(size[0])
        self.width = shape[3] if isinstance(shape[3], int) else int(size[1])
        self.batch = 1 if self.fixed_batch == 1 else max(1, int(batch))
        self.key = (f"onnx/{digest[:16]}/{self.height}x{self.width}/"
                    f"{','.join(f'{v:g}' for v in self.mean.ravel())}/{','.join(f'{v:g}' for v in self.std.ravel())}")

    def __reduce__(self):
        """Pickled as its recipe (model path and settings): a Dask worker loads its own session."""
        model, settings = self._recipe
        return functools.partial(OnnxEmbedder, **settings), (model,)

    def _prepare(self, image: np.ndarray) -> np.ndarray:
        import cv2

        arr = _check(image)
        interp = cv2.INTER_AREA if arr.shape[0] > self.height else cv2.INTER_LINEAR
        arr = cv2.resize(arr, (self.width, self.height), interpolation=interp)
        return arr.astype(np.float32).transpose(2, 0, 1) / 255.0

    def embed(self, images: Sequence[np.ndarray]) -> np.ndarray:
        rows = []
        for start in range(0, len(images), self.batch):
            x = np.stack([self._prepare(im) for im in images[start:start + self.batch]])
            x = ((x - self.mean) / self.std).astype(np.float32)
            out = self.session.run(None, {self.input_name: x})[0]
            rows.append(np.asarray(out, np.float32).reshape(len(x), -1))
        if not rows:
            return np.zeros((0, 0), np.float32)
        return np.concatenate(rows)


def face_model_files() -> dict[str, Path]:
    """The dlib model files shipped in the ``face_recognition_models`` package (found without importing
    it: its ``__init__`` needs ``pkg_resources``)."""
    import importlib.util

    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise require("face_recognition_models", "dataset-faces")  # raises MissingDependencyError
    folder = Path(list(spec.submodule_search_locations)[0]) / "models"
    files = {"landmarks": folder / "shape_predictor_5_face_landmarks.dat",
             "encoder": folder / "dlib_face_recognition_resnet_model_v1.dat"}
    for f in files.values():
        if not f.is_file():
            raise ParameterError(f"face_recognition_models: {f} is missing (reinstall the package)")
    return files


class FaceEmbedder:
    """Face identity (dlib) joined to the classical embedding, so frames without a face still differ.

    dlib's HOG frontal face detector finds faces (upsampled once); the
    largest gets dlib's ResNet face descriptor (128 values; faces of one
    person are usually closer than 0.6 Euclidean, King, dlib 19.3 release
    notes / LFW 99.38%) from 5-point landmarks, models from the
    ``face_recognition_models`` package. The vector is the unit-length
    descriptor (zeros without a face) times ``face_weight`` followed by
    the classical vector times ``1 - face_weight``, then scaled to unit
    length. Needs the ``dataset-faces`` extra (``dlib-bin``,
    ``face_recognition_models``).
    """

    def __init__(self, *, face_weight: float = 0.8, upsample: int = 1):
        dlib = require("dlib", "dataset-faces")
        files = face_model_files()
        self.detector = dlib.get_frontal_face_detector()
        self.landmarks = dlib.shape_predictor(str(files["landmarks"]))
        self.encoder = dlib.face_recognition_model_v1(str(files["encoder"]))
        self.face_weight, self.upsample = float(face_weight), int(upsample)
        self.classical = ClassicalEmbedder()
        self.key = f"face/1/w{self.face_weight:g}/u{self.upsample}+{self.classical.key}"

    def __reduce__(self):
        """Pickled as its settings (dlib's models cannot travel): a Dask worker loads its own."""
        return functools.partial(FaceEmbedder, face_weight=self.face_weight, upsample=self.upsample), ()

    def faces(self, image: np.ndarray) -> list[tuple[tuple[int, int, int, int], np.ndarray]]:
        """Every face of a ``uint8`` ``HW3`` RGB image: ``((left, top, right, bottom), 128 descriptor)``."""
        arr = np.ascontiguousarray(_check(image))
        out = []
        for rect in self.detector(arr, self.upsample):
            shape = self.landmarks(arr, rect)
            desc = np.asarray(self.encoder.compute_face_descriptor(arr, shape), np.float32)
            out.append(((rect.left(), rect.top(), rect.right(), rect.bottom()), desc))
        return out

    def embed(self, images: Sequence[np.ndarray]) -> np.ndarray:
        rows = []
        for im in images:
            found = self.faces(im)
            face = np.zeros(128, np.float32)
            if found:
                _, face = max(found, key=lambda f: (f[0][2] - f[0][0]) * (f[0][3] - f[0][1]))
            vec = np.concatenate([self.face_weight * _unit(face.astype(np.float64)),
                                  (1.0 - self.face_weight) * self.classical.embed_one(im)])
            rows.append(_unit(vec).astype(np.float32))
        return np.stack(rows) if rows else np.zeros((0, 128 + 154), np.float32)


#: Embedders by name (``embedder`` parameter).
EMBEDDERS = ("classical", "onnx", "face")


def make_embedder(name: str = "classical", *, onnx_model: str = "", onnx_mean: Any = "0.485,0.456,0.406",
                  onnx_std: Any = "0.229,0.224,0.225") -> Embedder:
    """An embedder from its parameter values (``embedder``, ``onnx_model``, ``onnx_mean``, ``onnx_std``)."""
    if name == "classical":
        return ClassicalEmbedder()
    if name == "onnx":
        if not onnx_model:
            raise ParameterError("embedder onnx: onnx_model (the path of the .onnx file) is required")
        return OnnxEmbedder(onnx_model, mean=onnx_mean, std=onnx_std)
    if name == "face":
        return FaceEmbedder()
    raise ParameterError(f"embedder {name!r}: expected one of {', '.join(EMBEDDERS)}")


class EmbeddingCache:
    """Vectors of one embedder, keyed by frame content hash, in ``.npz`` shards under ``folder``.

    ``folder/<embedder key, made file-safe>/shard-<n>.npz`` with arrays
    ``keys`` (the hashes) and ``vectors`` (``float32``). Shards are
    written atomically and never changed; a lookup loads them all once.
    """

    def __init__(self, folder: str | os.PathLike, embedder_key: str):
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", embedder_key)
        self.folder = Path(folder) / safe
        self._data: dict[str, np.ndarray] | None = None

    def _load(self) -> dict[str, np.ndarray]:
        if self._data is None:
            self._data = {}
            for shard in sorted(self.folder.glob("shard-*.npz")):
                try:
                    with np.load(shard, allow_pickle=False) as z:
                        for k, v in zip(z["keys"].tolist(), z["vectors"]):
                            self._data[str(k)] = v
                except (OSError, ValueError, KeyError):
                    continue  # a damaged shard is recomputed, not trusted
        return self._data

    def get(self, key: str) -> np.ndarray | None:
        return self._load().get(key)

    def __len__(self) -> int:
        return len(self._load())

    def put(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        import io as _io

        from core.io.atomic import write_bytes_atomic

        if not len(keys):
            return
        data = self._load()
        self.folder.mkdir(parents=True, exist_ok=True)
        n = len(list(self.folder.glob("shard-*.npz")))
        while (self.folder / f"shard-{n:05d}.npz").exists():
            n += 1
        buf = _io.BytesIO()
        np.savez(buf, keys=np.asarray(list(keys)), vectors=np.asarray(vectors, np.float32))
        write_bytes_atomic(self.folder / f"shard-{n:05d}.npz", buf.getvalue())
        for k, v in zip(keys, np.asarray(vectors, np.float32)):
            data[k] = v


def _embed_batch(embedder: Embedder, load: Callable[[dict], np.ndarray],
                 chunk: Sequence[tuple[str, dict[str, Any]]]) -> np.ndarray:
    """The vectors of one batch of ``(content hash, record)``: :func:`embed_records`'s unit of work."""
    return np.asarray(embedder.embed([load(r) for _, r in chunk]), np.float32)


def embed_records(records: Sequence[dict[str, Any]], embedder: Embedder, *, load: Callable[[dict], np.ndarray],
                  cache: EmbeddingCache | None = None, batch: int = 64,
                  progress: ProgressFn | None = None) -> tuple[np.ndarray, int]:
    """Embed every record (``sha256`` and what ``load`` needs); returns ``(vectors, computed)``.

    Vectors found in ``cache`` under the record's ``sha256`` are reused;
    the others are computed in batches (frames with equal content once)
    and added to the cache. ``computed`` counts the frames embedded now.
    """
    n = len(records)
    found: dict[str, np.ndarray] = {}
    if cache is not None:
        for r in records:
            v = cache.get(r["sha256"])
            if v is not None:
                found[r["sha256"]] = v
    todo: dict[str, dict] = {}
    for r in records:
        if r["sha256"] not in found and r["sha256"] not in todo:
            todo[r["sha256"]] = r
    items = list(todo.items())
    batches = [items[start:start + batch] for start in range(0, len(items), batch)]
    pending_keys: list[str] = []
    pending: list[np.ndarray] = []
    made = 0

    def landed(chunk: list[tuple[str, dict]], vecs: np.ndarray) -> None:
        nonlocal pending_keys, pending, made
        if vecs.ndim != 2 or len(vecs) != len(chunk):
            raise ParameterError(f"embedder {embedder.key}: returned shape {vecs.shape} for {len(chunk)} images")
        if not np.isfinite(vecs).all():
            raise ImageError(f"embedder {embedder.key}: returned non-finite values")
        for (h, _), v in zip(chunk, vecs):
            found[h] = v
        made += len(chunk)
        if cache is not None:
            pending_keys += [h for h, _ in chunk]
            pending.append(vecs)
            if len(pending_keys) >= SHARD_SIZE or made == len(items):
                cache.put(pending_keys, np.concatenate(pending))
                pending_keys, pending = [], []
        if progress is not None:
            progress(made, len(items))

    from core.scale import map_in_order

    # a batch is one unit (the same batches on Dask as here: a model's batch is part of its arithmetic)
    map_in_order(functools.partial(_embed_batch, embedder, load), [(c[0][1].get("id", c[0][0]), c) for c in batches],
                 landed, what=f"embed ({embedder.key})")
    if n == 0:
        return np.zeros((0, 0), np.float32), 0
    dims = {found[r["sha256"]].shape for r in records}
    if len(dims) != 1:
        raise ParameterError(f"embedder {embedder.key}: vectors of different sizes {sorted(dims)} "
                             "(a stale cache?)")
    return np.stack([found[r["sha256"]] for r in records]).astype(np.float32), len(items)
