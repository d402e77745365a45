"""Layered segmentation and saliency-weighted crops of extracted frames (issue 23: the vision passes in the builder).

Frames here are the extracted 8-bit sRGB-encoded frames (``uint8`` ``HW3``);
mattes are ``float32`` ``HW`` 0..1 (1 = subject, straight).

**Subject** (:func:`find_subject`): a matte of the frame's subject, or the
reason there is none (failure as a value, :class:`Subject`):

- ``method="grabcut"``: the spectral-residual saliency map
  (:func:`core.vision.saliency.saliency`) gives the box: the central
  ``1 - 2 BOX_QUANTILE`` of the saliency mass along x and along y (quantiles
  of the column and row sums), kept ``MARGIN`` of the short side inside the
  frame so GrabCut has background to learn; :func:`core.vision.matte.matte`
  (GrabCut, then the guided filter) cuts the subject out of it.
- ``method="model"``: a matting network through the vision registry
  (:class:`core.vision.learned.LearnedPass`, ``task: matte``).

There is no subject (reason ``no_subject``, with a ``why``) when the frame is
flat (a zero saliency map), GrabCut keeps nothing, the matte (``>= 0.5``)
covers less than ``MIN_AREA`` of the frame, or the matte's colours are the
background's: the Bhattacharyya coefficient of their 8x8x8-bin RGB histograms
(matte-weighted, 1 = the same colours) is at least ``MAX_COLOUR_OVERLAP``.
Measured on 23 real photos (scikit-image's data and OpenCV's samples), the
subjects' overlap is 0.19-0.79 (chelsea 0.71, coffee 0.68, astronaut 0.45);
scikit-image's brick texture measures 0.99, and its grass and gravel
textures and seeded noise leave GrabCut nothing.

**Layers** (:func:`layer_images`): ``character`` (RGBA, the frame with the
matte as alpha), ``background`` (RGBA, alpha ``1 - matte``) and ``subject``
(the masked crop: ``character`` cut to the matte's bounding box), ``uint8``.

**Saliency crop** (:func:`saliency_window`): the square window of side
``size`` (at most the frame's short side) holding the most saliency mass
(integral image; the first maximum in row-major order), or the centred
window when the map is zero.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from core.errors import EmptyResultError, ParameterError

#: ``layers`` choices of the dataset config: off, GrabCut from a saliency box, a matting model.
LAYER_METHODS = ("off", "grabcut", "model")
#: Saliency mass left out of the subject box on each side, along x and along y.
BOX_QUANTILE = 0.1
#: The box is kept this share of the frame's short side inside the frame (GrabCut's background).
MARGIN = 0.02
#: A matte covering less of the frame than this is no subject.
MIN_AREA = 0.02
#: Bhattacharyya coefficient of subject and background colours at or above which the "subject" is texture.
MAX_COLOUR_OVERLAP = 0.9


@dataclasses.dataclass(frozen=True)
class Subject:
    """A frame's subject: ``matte`` (``float32`` ``HW`` 0..1) and ``box`` (``x, y, width, height`` of the matte
    ``>= 0.5``), or ``matte is None`` and ``why`` (one line)."""

    matte: np.ndarray | None
    box: tuple[int, int, int, int] | None
    area: float
    colour_overlap: float | None
    why: str = ""

    @property
    def found(self) -> bool:
        return self.matte is not None

    def to_dict(self) -> dict[str, Any]:
        """The JSON record (no pixels)."""
        return {"found": self.found, "box": list(self.box) if self.box else None, "area": round(self.area, 4),
                "colour_overlap": None if self.colour_overlap is None else round(self.colour_overlap, 4),
                "why": self.why}


def _frame(image: np.ndarray):
    from core.frame import Frame

    return Frame(np.asarray(image, np.float32) / np.float32(255.0), "srgb")


def _u8(image: np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise ParameterError(f"{what}: expected a uint8 HW3 RGB frame, got {arr.dtype} {arr.shape}")
    return arr


def saliency_box(sal: np.ndarray) -> tuple[int, int, int, int] | None:
    """The subject box of a saliency map (``HW`` or ``HW1`` >= 0): the central mass along x and y, inset
    ``MARGIN`` from the frame's edges; ``None`` for a zero map."""
    s = np.asarray(sal, np.float64).reshape(sal.shape[0], sal.shape[1])
    h, w = s.shape
    if not s.sum() > 0:
        return None
    cx, cy = np.cumsum(s.sum(axis=0)), np.cumsum(s.sum(axis=1))
    cx, cy = cx / cx[-1], cy / cy[-1]
    m = max(1, round(MARGIN * min(h, w)))
    x0 = max(m, int(np.searchsorted(cx, BOX_QUANTILE)))
    x1 = min(w - m, int(np.searchsorted(cx, 1.0 - BOX_QUANTILE)) + 1)
    y0 = max(m, int(np.searchsorted(cy, BOX_QUANTILE)))
    y1 = min(h - m, int(np.searchsorted(cy, 1.0 - BOX_QUANTILE)) + 1)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1 - x0, y1 - y0


def colour_overlap(image: np.ndarray, matte: np.ndarray) -> float:
    """Bhattacharyya coefficient (0..1, 1 = the same colours) of the matte-weighted and (1 - matte)-weighted
    8x8x8-bin histograms of ``image`` (``uint8`` ``HW3``)."""
    q = (np.asarray(image) >> 5).astype(np.int32)
    idx = (q[..., 0] * 64 + q[..., 1] * 8 + q[..., 2]).ravel()
    m = np.asarray(matte, np.float64).ravel()
    fg = np.bincount(idx, weights=m, minlength=512)
    bg = np.bincount(idx, weights=1.0 - m, minlength=512)
    if not fg.sum() > 0 or not bg.sum() > 0:
        return 1.0
    return float(np.sqrt(fg / fg.sum() * bg / bg.sum()).sum())


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def judge(image: np.ndarray, matte: np.ndarray) -> Subject:
    """A matte (``HW`` or ``HW1``, 0..1) of ``image`` (``uint8`` ``HW3``) judged: the subject, or why none."""
    mt = np.asarray(matte, np.float32).reshape(image.shape[:2])
    fg = mt >= 0.5
    area = float(fg.mean())
    if area < MIN_AREA:
        return Subject(None, None, area, None, f"the matte covers {area:.1%} of the frame (< {MIN_AREA:.0%})")
    overlap = colour_overlap(image, mt)
    if overlap >= MAX_COLOUR_OVERLAP:
        return Subject(None, None, area, overlap, f"the matte has the background's colours (overlap "
                                                  f"{overlap:.2f} >= {MAX_COLOUR_OVERLAP}): texture, no subject")
    return Subject(mt, _bbox(fg), area, overlap)


def find_subject(image: np.ndarray, *, method: str = "grabcut", model=None, seed: int = 0) -> Subject:
    """The subject of an extracted frame (``uint8`` ``HW3`` sRGB-encoded), or why there is none (module doc).

    ``method``: ``grabcut`` or ``model`` (then ``model`` is a :class:`core.vision.learned.LearnedPass` of a
    ``matte`` model, built once for frames of its size). ``seed``: GrabCut's.
    """
    img = _u8(image, "find_subject")
    frame = _frame(img)
    if method == "model":
        if model is None:
            raise ParameterError("layers 'model': give a matting model (matte_model)")
        from core.vision.image import working_pixels

        return judge(img, model.run(working_pixels(frame, what="matte", colour=True))[..., 0])
    if method != "grabcut":
        raise ParameterError(f"layers {method!r}: expected grabcut or model")
    from core.vision.matte import matte
    from core.vision.saliency import saliency

    box = saliency_box(saliency(frame))
    if box is None:
        return Subject(None, None, 0.0, None, "nothing stands out (a flat frame: zero saliency)")
    try:
        mt = matte(frame, box=box, seed=seed)
    except EmptyResultError:
        return Subject(None, None, 0.0, None, f"GrabCut found no subject in the saliency box {box}")
    return judge(img, mt[..., 0])


def layer_images(image: np.ndarray, subject: Subject) -> dict[str, np.ndarray]:
    """``character``, ``background`` (``uint8`` ``HW4``, straight alpha) and ``subject`` (the character cut to
    the subject's box) of ``image`` (``uint8`` ``HW3``) and a found :class:`Subject`."""
    img = _u8(image, "layer_images")
    if not subject.found:
        raise ParameterError(f"layer_images: no subject ({subject.why})")
    alpha = np.rint(np.clip(subject.matte, 0.0, 1.0) * 255.0).astype(np.uint8)
    character = np.dstack([img, alpha])
    background = np.dstack([img, 255 - alpha])
    x, y, w, h = subject.box
    return {"character": character, "background": background, "subject": character[y:y + h, x:x + w].copy()}


def saliency_window(sal: np.ndarray, size: int) -> tuple[int, int, int, int]:
    """The square window (``x, y, width, height``; side ``size``, at most the frame's short side) with the most
    saliency mass in the map ``sal`` (``HW`` or ``HW1``); the centred window when the map is zero."""
    import cv2

    if size < 1:
        raise ParameterError(f"saliency crop {size}: must be >= 1 pixel")
    s = np.asarray(sal, np.float64).reshape(sal.shape[0], sal.shape[1])
    h, w = s.shape
    cw = ch = min(size, w, h)
    if not s.sum() > 0:
        return (w - cw) // 2, (h - ch) // 2, cw, ch
    ii = cv2.integral(s)
    sums = ii[ch:, cw:] - ii[:-ch, cw:] - ii[ch:, :-cw] + ii[:-ch, :-cw]
    y, x = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return int(x), int(y), cw, ch


def crop_window(image: np.ndarray, size: int) -> tuple[int, int, int, int]:
    """:func:`saliency_window` of an extracted frame (``uint8`` ``HW3``), on its spectral-residual saliency."""
    from core.vision.saliency import saliency

    return saliency_window(saliency(_frame(_u8(image, "saliency crop"))), size)


class FrameAnalyser:
    """The filter stage's per-frame layers and crop for the dataset options ``layers``, ``matte_model`` and
    ``saliency_crop`` (:data:`core.dataset.params.DATASET_PARAMS`): the matting model is read and hashed once,
    and one onnxruntime session is built per frame size."""

    def __init__(self, params: dict[str, Any]):
        self.method, self.crop = params["layers"], params["saliency_crop"]
        self.loaded = None
        self.sessions: dict[tuple[int, int], Any] = {}
        if self.method == "model":
            if not params["matte_model"]:
                raise ParameterError("layers 'model': give matte_model (a vision matte model's .onnx or id)")
            from core.vision.learned import check_task, load_vision_model

            self.loaded = load_vision_model(params["matte_model"])
            check_task(self.loaded.spec, "matte")

    @property
    def active(self) -> bool:
        return self.method != "off" or self.crop > 0

    def _model(self, hw: tuple[int, int]):
        if self.loaded is None:
            return None
        if hw not in self.sessions:
            from core.vision.learned import LearnedPass

            self.sessions[hw] = LearnedPass(self.loaded)
        return self.sessions[hw]

    def frame(self, image: np.ndarray, matte_path, *, root) -> tuple[list[str], dict[str, Any]]:
        """Rejection reasons (``["no_subject"]`` or none) and the record fields (``subject``: its
        :meth:`Subject.to_dict` plus ``matte``, the 8-bit matte PNG written to ``matte_path``, relative to
        ``root``; ``crop``: ``[x, y, width, height]``) of one extracted frame (``uint8`` ``HW3``)."""
        import os

        from core import io

        record: dict[str, Any] = {}
        if self.method != "off":
            subject = find_subject(image, method=self.method, model=self._model(image.shape[:2]))
            record["subject"] = subject.to_dict()
            if not subject.found:
                return ["no_subject"], record
            io.write_image(matte_path, subject.matte[..., None], colorspace="raw", bit_depth=8, overwrite=True)
            record["subject"]["matte"] = os.path.relpath(matte_path, root).replace(os.sep, "/")
        if self.crop > 0:
            record["crop"] = list(crop_window(image, self.crop))
        return [], record


def write_frame_layers(out, dest, image: str, source: str, quality: dict[str, Any]) -> dict[str, Any]:
    """Write a frame of the training set (``dest/image``) cut to its saliency crop, and its layers
    (``dest/layers/<stem>.{character,background,subject}.png``, 8-bit sRGB RGBA, and ``.matte.png``) when the
    filter found a subject; ``source``: the extracted frame, relative to the run folder ``out``. Returns the
    frame's metadata fields (``crop``, ``layers``)."""
    from pathlib import Path

    from core import io
    from core.dataset.extract import read_uint8

    out, dest = Path(out), Path(dest)
    img = read_uint8(out / source)
    fields: dict[str, Any] = {}
    subject = quality.get("subject") or {}
    if subject.get("matte"):
        matte = np.asarray(io.read_image(out / subject["matte"], colorspace="raw").pixels[..., 0], np.float32)
        found = Subject(matte, tuple(subject["box"]), subject["area"], subject["colour_overlap"])
        stem = Path(image).stem
        fields["layers"] = {}
        for name, px in {**layer_images(img, found), "matte": np.rint(matte * 255.0).astype(np.uint8)}.items():
            rel = f"layers/{stem}.{name}.png"
            io.write_image(dest / rel, px.astype(np.float32) / np.float32(255.0),
                           colorspace="raw" if name == "matte" else "srgb", bit_depth=8, overwrite=True)
            fields["layers"][name] = rel
    if quality.get("crop"):
        x, y, w, h = quality["crop"]
        img = img[y:y + h, x:x + w]
        fields["crop"] = [x, y, w, h]
    io.write_image(dest / image, img.astype(np.float32) / np.float32(255.0), colorspace="srgb", bit_depth=8,
                   overwrite=True)
    return fields
