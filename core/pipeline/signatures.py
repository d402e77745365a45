"""Per-frame content signatures for frame matching: tiny, tone-invariant, framing-aware.

Two steps, so that a long input is read once and the framing can be
decided after both inputs are known:

1. :func:`read_thumbnails` reads each frame once (lazily, one at a time) and
   keeps a *thumbnail*: the frame's luminance, area-averaged into a box of
   ``thumb_size`` px on its longer side (aspect kept), as ``log2(Y + 2**-10)``
   in float16. ``Y`` is CIE Y (relative luminance) from the frame's own
   colour space through :func:`core.color.convert`, so a scene-linear EXR
   scan and a display-encoded PNG or video land in one representation.
   (Averaging happens in the file's encoding, before decoding: a small bias
   at edges for display-encoded files, invisible after the normalisation
   below.) Memory: ``thumb_size**2 * 9/16 * 2`` bytes per 16:9 frame, 4.6 KB
   at the default 64, about 46 MB per 10,000 frames; the thumbnails are
   cached in an ``.npz`` keyed by the input's fingerprint (file names,
   sizes and modification times) so a re-run does not read the pixels again.
2. :func:`active_box` finds letterbox / pillarbox bars over the whole
   sequence, :func:`framing_boxes` crops source and reference to a common
   picture area (``"fit"``: the active areas as they are, e.g. an anamorphic
   DVD; ``"crop"``: the wider picture's sides cut to the narrower aspect,
   a pan-and-scan reference; ``"matte"``: the taller picture's top and
   bottom cut to the wider aspect, an open-matte reference), and
   :func:`signatures` turns each crop into a unit vector.

The signature of a frame is the concatenation of two unit vectors, scaled
by ``1/sqrt(2)``: the *rank image* (the crop resampled to a
``grid_width`` x ``grid_height`` grid, each cell replaced by its rank among
the cells, centred) — invariant to any monotonic tone change: fade,
grade, gamma, flicker, lift — and its *gradients* (horizontal and vertical
differences of the rank image after a 1-cell Gaussian blur). The
similarity of two frames is the dot product of their signatures, in -1..1:
about 0.9 and above for the same picture under film damage and a grade,
lower for a neighbouring frame in motion, near 0 for unrelated pictures.
Frames with no usable content (black, white, a flat fade: log-luminance
spread under 0.05 stops) get a zero signature and are flagged ``flat``.

Once frames are matched, :func:`pair_damage` compares each pair's
thumbnails cell by cell (after a robust grade of one onto the other): the
fraction of the picture that differs finds the line dropouts and torn
blocks a signature averages away.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ImageError, ImageReadError, ParameterError
from core.jobs import ProgressFn
from core.pipeline.sources import InputSource, check_not_empty

#: Version of the thumbnail computation; part of the cache key.
THUMBNAIL_VERSION = 1
#: Luminance floor added before the log (about -10 stops below diffuse white).
LOG_FLOOR = 2.0 ** -10
#: Frames whose log2-luminance spread (robust std) is below this are flat (no content to match).
FLAT_STOPS = 0.05
#: Values of the ``framing`` parameter (``"auto"`` tries the others).
FRAMINGS = ("auto", "fit", "crop", "matte")


@dataclasses.dataclass
class Thumbnails:
    """Thumbnails of one input (see the module docstring).

    ``numbers`` are the frame numbers read (int64, sorted), ``pixels`` the
    thumbnails (float16 ``(n, h, w)``, log2 relative luminance), ``shape``
    their ``(h, w)``. ``width`` /
    ``height`` / ``colorspace`` describe the first frame; ``resized`` counts
    frames whose size differed from it (squeezed into the same thumbnail).
    """

    numbers: np.ndarray
    pixels: np.ndarray
    width: int
    height: int
    colorspace: str
    colorspace_source: str | None
    resized: int = 0
    cached: bool = False
    shape: tuple[int, int] = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.shape = (int(self.pixels.shape[1]), int(self.pixels.shape[2]))

    def release(self) -> None:
        """Drop the pixels (once the signatures are made); numbers, shape and metadata stay."""
        self.pixels = self.pixels[:0]

    def describe(self) -> dict[str, Any]:
        return {"width": self.width, "height": self.height, "colorspace": self.colorspace,
                "colorspace_source": self.colorspace_source, "resized_frames": self.resized}


def thumbnail_shape(width: int, height: int, size: int) -> tuple[int, int]:
    """``(h, w)`` of the thumbnail of a ``width`` x ``height`` frame: longer side ``size``, aspect kept."""
    if width >= height:
        return max(2, round(size * height / width)), size
    return size, max(2, round(size * width / height))


def frame_thumbnail(frame, shape: tuple[int, int]) -> np.ndarray:
    """The log2-luminance thumbnail (float32 ``(h, w)``) of a :class:`~core.frame.Frame`.

    Pixels (any colour space :mod:`core.color` knows; Y frames are taken as
    grey in that space) are area-averaged to ``shape``, converted to CIE XYZ
    and ``log2(max(Y, 0) + LOG_FLOOR)`` is returned. NaN counts as 0, +Inf as
    float16's largest value.
    """
    import cv2

    from core import color

    h, w = shape
    px = frame.pixels[..., :3] if frame.n_channels >= 3 else frame.pixels[..., :1]
    px = np.nan_to_num(px, nan=0.0, posinf=65504.0, neginf=0.0)
    small = cv2.resize(px, (w, h), interpolation=cv2.INTER_AREA)
    if small.ndim == 2:
        small = small[..., None]
    if small.shape[2] == 1:
        small = np.repeat(small, 3, axis=2)
    y = color.convert(small, frame.colorspace, "XYZ", nonfinite="pass")[..., 1]
    y = np.nan_to_num(y, nan=0.0, posinf=65504.0, neginf=0.0)
    return np.log2(np.maximum(y, 0.0) + LOG_FLOOR).astype(np.float32)


def read_thumbnails(source: InputSource, *, size: int = 64, cache: str | os.PathLike | None = None,
                    force: bool = False, progress: ProgressFn | None = None, what: str = "input") -> Thumbnails:
    """Thumbnails of every frame of ``source``, read one frame at a time (or from ``cache``).

    ``cache`` is an ``.npz`` path: used when its key (the input's
    fingerprint, ``size`` and :data:`THUMBNAIL_VERSION`) matches, unless
    ``force``; (re)written atomically otherwise. ``progress(done, total,
    frame)`` is called after each frame read (``total`` is 0 for a video of
    unknown length). Unreadable files raise
    :class:`~core.errors.ImageReadError` naming the file; an input that
    yields no frame raises :class:`~core.errors.SequenceError`.
    """
    key = _cache_key(source, size)
    if cache is not None and not force:
        found = _load_cache(Path(cache), key)
        if found is not None:
            if progress is not None:
                progress(len(found.numbers), len(found.numbers), int(found.numbers[-1]))
            return found
    total = len(source.numbers) if source.numbers is not None else 0
    numbers: list[int] = []
    chunks: list[np.ndarray] = []
    block: list[np.ndarray] = []
    first = None
    shape = (0, 0)
    resized = 0
    for frame in source.frames():
        if first is None:
            first = frame
            shape = thumbnail_shape(frame.width, frame.height, size)
        elif (frame.width, frame.height) != (first.width, first.height):
            resized += 1
        try:
            block.append(frame_thumbnail(frame, shape).astype(np.float16))
        except ImageError as exc:  # pragma: no cover - frame_thumbnail refuses nothing readable
            raise ImageError(f"{what} {frame.describe()}: {exc}") from None
        numbers.append(int(frame.frame if frame.frame is not None else len(numbers)))
        if len(block) == 256:
            chunks.append(np.stack(block))
            block = []
        if progress is not None:
            progress(len(numbers), total, numbers[-1])
    if block:
        chunks.append(np.stack(block))
    check_not_empty(numbers, source, what)
    thumbs = Thumbnails(np.asarray(numbers, np.int64), np.concatenate(chunks), first.width, first.height,
                        first.colorspace, first.metadata.get("colorspace_source"), resized)
    if cache is not None:
        _save_cache(Path(cache), key, thumbs)
    return thumbs


def _cache_key(source: InputSource, size: int) -> str:
    return json.dumps({"fingerprint": source.fingerprint, "size": int(size), "version": THUMBNAIL_VERSION},
                      sort_keys=True)


def _load_cache(path: Path, key: str) -> Thumbnails | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("key") != key:
                return None
            return Thumbnails(data["numbers"].astype(np.int64), data["pixels"].astype(np.float16),
                              int(meta["width"]), int(meta["height"]), str(meta["colorspace"]),
                              meta.get("colorspace_source"), int(meta.get("resized", 0)), cached=True)
    except (OSError, ValueError, KeyError):  # a damaged cache is rebuilt, never trusted
        return None


def _save_cache(path: Path, key: str, thumbs: Thumbnails) -> None:
    from core.io.atomic import atomic_path

    meta = {"key": key, "width": thumbs.width, "height": thumbs.height, "colorspace": thumbs.colorspace,
            "colorspace_source": thumbs.colorspace_source, "resized": thumbs.resized}
    try:
        with atomic_path(path, overwrite=True) as tmp:
            np.savez_compressed(tmp, numbers=thumbs.numbers, pixels=thumbs.pixels, meta=np.array(json.dumps(meta)))
    except OSError as exc:
        raise ImageReadError(f"{path}: cannot write the signature cache ({exc})") from None


# --------------------------------------------------------------------------- picture area


def active_box(thumbs: np.ndarray, *, max_bar: float = 0.4) -> tuple[int, int, int, int]:
    """The picture area ``(x0, y0, x1, y1)`` in thumbnail pixels (end exclusive), without bars.

    A row (column) is a bar when, over the whole sequence, it never gets
    brighter than one stop above the black level: its 95th percentile along
    the row, at the 90th percentile over frames, stays below the median of
    the frames' 2nd percentiles + 1 stop. Only runs touching an edge count,
    each at most ``max_bar`` of the size. Robust to specks of dust
    (percentiles) and to lifted blacks (relative to the film's own black).
    A picture edge that is black and featureless in every frame looks like
    a bar too; it is then cut from the comparison, which costs little.
    """
    n, h, w = thumbs.shape
    step = max(1, n // 512)  # 512 frames spread over the sequence are plenty for a static matte
    sample = thumbs[::step].astype(np.float32)
    black = float(np.median(np.percentile(sample.reshape(len(sample), -1), 2, axis=1)))
    rows = np.percentile(np.percentile(sample, 95, axis=2), 90, axis=0)
    cols = np.percentile(np.percentile(sample, 95, axis=1), 90, axis=0)
    y0, y1 = _edge_runs(rows < black + 1.0, max_bar)
    x0, x1 = _edge_runs(cols < black + 1.0, max_bar)
    return x0, y0, x1, y1


def _edge_runs(bar: np.ndarray, max_bar: float) -> tuple[int, int]:
    size = len(bar)
    limit = int(size * max_bar)
    lo = 0
    while lo < limit and bar[lo]:
        lo += 1
    hi = size
    while size - hi < limit and bar[hi - 1]:
        hi -= 1
    if hi - lo < 2:  # everything is dark: no bars, no picture either
        return 0, size
    return lo, hi


def box_aspect(box: tuple[float, float, float, float], shape: tuple[int, int], width: int, height: int) -> float:
    """Display aspect (width / height, square pixels) of a thumbnail box of a ``width`` x ``height`` frame."""
    h, w = shape
    x0, y0, x1, y1 = box
    return ((x1 - x0) / w * width) / ((y1 - y0) / h * height)


def crop_to_aspect(box: tuple[float, float, float, float], aspect_now: float, aspect: float,
                   ) -> tuple[float, float, float, float]:
    """Centre-crop a box (thumbnail px) whose display aspect is ``aspect_now`` to ``aspect``."""
    x0, y0, x1, y1 = (float(v) for v in box)
    if aspect < aspect_now:  # narrower: cut the sides
        keep = (x1 - x0) * aspect / aspect_now
        cx = (x0 + x1) / 2
        return cx - keep / 2, y0, cx + keep / 2, y1
    keep = (y1 - y0) * aspect_now / aspect  # wider: cut top and bottom
    cy = (y0 + y1) / 2
    return x0, cy - keep / 2, x1, cy + keep / 2


def framing_boxes(mode: str, src_box, src_aspect: float, ref_box, ref_aspect: float):
    """``(source box, reference box, common aspect)`` for framing ``mode`` (see the module docstring)."""
    if mode == "fit":
        return tuple(map(float, src_box)), tuple(map(float, ref_box)), src_aspect
    if mode == "crop":
        aspect = min(src_aspect, ref_aspect)
    elif mode == "matte":
        aspect = max(src_aspect, ref_aspect)
    else:
        raise ParameterError(f"framing: expected one of {', '.join(FRAMINGS[1:])}, got {mode!r}")
    return crop_to_aspect(src_box, src_aspect, aspect), crop_to_aspect(ref_box, ref_aspect, aspect), aspect


def grid_shape(grid_width: int, aspect: float) -> tuple[int, int]:
    """``(h, w)`` of the signature grid: ``grid_width`` wide, height from the aspect (at least 4)."""
    return max(4, round(grid_width / max(aspect, 1e-3))), int(grid_width)


# --------------------------------------------------------------------------- signatures


def crop_grid(thumbs: np.ndarray, box, grid: tuple[int, int]) -> np.ndarray:
    """Each thumbnail's ``box`` (thumbnail px, fractional) area-resampled to ``grid`` ``(h, w)``.

    Returns float32 ``(n, h, w)``, log2 luminance like the thumbnails.
    """
    import cv2

    n, th, tw = thumbs.shape
    x0, y0, x1, y1 = box
    # whole thumbnail pixels covering the box; the sub-pixel remainder is below a grid cell
    ix0, iy0 = max(0, int(math.floor(x0 + 0.25))), max(0, int(math.floor(y0 + 0.25)))
    ix1, iy1 = min(tw, int(math.ceil(x1 - 0.25))), min(th, int(math.ceil(y1 - 0.25)))
    ix1, iy1 = max(ix1, ix0 + 1), max(iy1, iy0 + 1)
    gh, gw = grid
    out = np.empty((n, gh, gw), np.float32)
    for k in range(n):
        patch = thumbs[k, iy0:iy1, ix0:ix1].astype(np.float32)
        interp = cv2.INTER_AREA if patch.shape[0] >= gh and patch.shape[1] >= gw else cv2.INTER_LINEAR
        out[k] = cv2.resize(patch, (gw, gh), interpolation=interp)
    return out


def signatures(cells: np.ndarray, *, gradients: bool = True, dtype=np.float32,
               block: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Unit-vector signatures of grids ``(n, h, w)`` (log2 luminance); returns ``(sigs (n, d), flat bool (n,))``.

    See the module docstring. ``gradients=False`` keeps only the rank image
    (the coarse signature used for the global search). ``dtype`` is the
    output's (float16 halves the memory of long sequences; similarities are
    then computed in float32 by the callers). Computed ``block`` frames at a
    time: temporaries stay small however long the sequence.
    """
    n, h, w = cells.shape
    d = h * w + ((h * (w - 1) + (h - 1) * w) if gradients else 0)
    out = np.empty((n, d), dtype)
    flat = np.zeros(n, bool)
    for start in range(0, n, block):
        sig, fl = _signature_block(cells[start:start + block].astype(np.float32), gradients)
        out[start:start + len(sig)] = sig
        flat[start:start + len(sig)] = fl
    return out, flat


def _signature_block(cells: np.ndarray, gradients: bool) -> tuple[np.ndarray, np.ndarray]:
    import cv2
    from scipy.stats import rankdata

    n, h, w = cells.shape
    flat_vals = cells.reshape(n, -1)
    q75, q25 = np.percentile(flat_vals, [75, 25], axis=1)
    flat = (q75 - q25) / 1.349 < FLAT_STOPS
    ranks = rankdata(flat_vals, method="average", axis=1).astype(np.float32)
    ranks = (ranks - (h * w + 1) / 2.0) / (h * w / 2.0)  # -1..1, centred
    rank_part = _unit(ranks)
    if not gradients:
        sig = rank_part
    else:
        img = ranks.reshape(n, h, w)
        blurred = np.stack([cv2.GaussianBlur(im, (0, 0), 1.0, borderType=cv2.BORDER_REFLECT) for im in img]) \
            if n else img
        gx = (blurred[:, :, 1:] - blurred[:, :, :-1]).reshape(n, -1)
        gy = (blurred[:, 1:, :] - blurred[:, :-1, :]).reshape(n, -1)
        sig = np.concatenate([rank_part, _unit(np.concatenate([gx, gy], axis=1))], axis=1) / np.float32(math.sqrt(2))
    sig[flat] = 0.0
    return sig, flat


def _unit(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norm, 1e-12)).astype(np.float32)


# --------------------------------------------------------------------------- local damage of a matched pair

#: A thumbnail cell differs (damage) when its residual exceeds this many stops...
DAMAGE_STOPS = 0.25
#: ...and this many robust standard deviations of the pair's residuals.
DAMAGE_SIGMAS = 6.0


def pair_damage(src_thumbs: np.ndarray, ref_thumbs: np.ndarray, src_box, ref_box, rows: np.ndarray,
                refs: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Fraction of the picture where each matched pair differs: local damage the signatures average away.

    ``src_thumbs`` / ``ref_thumbs`` are thumbnails (log2 luminance,
    :func:`read_thumbnails`), ``src_box`` / ``ref_box`` the common picture
    area (:func:`framing_boxes`), ``rows[k]`` / ``refs[k]`` the source and
    reference positions of pair ``k``, ``grid`` the ``(h, w)`` both crops
    are resampled to (:func:`crop_grid`). The reference is graded onto the
    source by a robust straight line in log luminance (gain and gamma: any
    fade or grade of the whole frame), and a cell counts as different when
    its residual exceeds both :data:`DAMAGE_STOPS` and
    :data:`DAMAGE_SIGMAS` robust standard deviations of the pair's
    residuals. A line dropout, a torn block or a solid patch covers a few
    percent of the cells; codec noise, grain and a grade cover none.
    Returns float64 ``(len(rows),)`` in 0..1.
    """
    out = np.zeros(len(rows))
    for start in range(0, len(rows), 256):
        r, j = rows[start:start + 256], refs[start:start + 256]
        a = crop_grid(src_thumbs[r], src_box, grid).reshape(len(r), -1).astype(np.float64)
        b = crop_grid(ref_thumbs[j], ref_box, grid).reshape(len(r), -1).astype(np.float64)
        for k in range(len(r)):
            out[start + k] = _differing_fraction(a[k], b[k])
    return out


def _differing_fraction(src: np.ndarray, ref: np.ndarray) -> float:
    design = np.stack([ref, np.ones_like(ref)], axis=1)
    keep = np.ones(len(src), bool)
    for _ in range(2):  # least squares, then again without the outliers of the first fit
        coef, *_ = np.linalg.lstsq(design[keep], src[keep], rcond=None)
        resid = src - design @ coef
        sigma = 1.4826 * float(np.median(np.abs(resid)))
        keep = np.abs(resid) <= 3.0 * max(sigma, 1e-3)
        if keep.sum() < 3:
            return 0.0
    return float(np.mean(np.abs(resid) > max(DAMAGE_STOPS, DAMAGE_SIGMAS * sigma)))

