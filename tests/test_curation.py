"""Dataset curation end to end on a real "film" made from the shipped photos.

The film: three shots of 20 frames (160x96), each a slow pan and zoom over
one photo (coffee, chelsea, astronaut) with ``cv2.warpAffine``, scene-linear
ACEScg. The *source* is the film damaged like a 16mm print
(:func:`core.degrade.degrade_frame`, ``faded_16mm``), written as EXR
frames 1001... with one frame scanned twice. The *reference* is the film
graded (gamma, warm tint, lifted blacks), letterboxed into 128x96, as
8-bit sRGB PNG numbered from 1, starting 5 film frames earlier, with two
film frames dropped and two repeated. Every expected number below comes
from how the film was cut, not from the matcher.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from core import io
from core.color import convert
from core.degrade import degrade_frame
from core.errors import ImageReadError, OutputExistsError, ParameterError, SequenceError
from core.pipeline import PAIRS_PARAMS, build_pairs, load_pairs

W, H = 160, 96
SHOT_LENGTH = 20
# photo, centre (photo px), pan (photo px per frame), zoom at the shot start, zoom change per frame
SHOTS = [("coffee", (280, 200), (3.5, 1.0), 1.0, 0.01),
         ("chelsea", (250, 150), (-3.5, 1.0), 0.9, 0.0),
         ("astronaut", (256, 330), (2.0, -5.0), 0.8, 0.01)]
SOURCE_FIRST = 1001
REF_LEAD = 5              # the reference starts this many film frames before the source
REF_DROPPED = (17, 44)    # film frames missing from the reference
REF_REPEATED = (30, 52)   # film frames the reference shows twice
SOURCE_REPEATED = (56,)   # film frames the scan holds twice
N_FILM = 3 * SHOT_LENGTH


def film_frame(k: int) -> np.ndarray:
    """Film frame ``k`` (negative: before the first shot starts), ACEScg ``HW3`` float32."""
    import cv2

    from core.io.samples import load_sample

    shot = min(max(k, 0) // SHOT_LENGTH, len(SHOTS) - 1)
    name, (cx, cy), (vx, vy), zoom, dzoom = SHOTS[shot]
    t = k - shot * SHOT_LENGTH
    photo = _photo(name, load_sample)
    scale = 0.5 * zoom * (1 + dzoom * t)  # film px per photo px
    px, py = cx + 2 * vx * t, cy + 2 * vy * t
    m = np.array([[scale, 0, W / 2 - scale * px], [0, scale, H / 2 - scale * py]], np.float32)
    out = cv2.warpAffine(photo, m, (W, H), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
    return convert(out, "srgb", "ACEScg")


_PHOTOS: dict[str, np.ndarray] = {}


def _photo(name, load):
    if name not in _PHOTOS:
        _PHOTOS[name] = load(name).pixels
    return _PHOTOS[name]


def grade(acescg: np.ndarray, size=(128, 96), *, letterbox: bool = True) -> np.ndarray:
    """The reference look: sRGB, gamma 0.8, warm, lifted blacks; letterboxed (or squeezed) into ``size``; 8-bit steps."""
    import cv2

    srgb = np.clip(convert(acescg, "ACEScg", "srgb"), 0, 1)
    graded = np.clip(srgb ** 0.8 * np.array([1.06, 1.0, 0.88], np.float32) + 0.03, 0, 1)
    w2, h2 = size
    if letterbox:
        h = round(w2 * H / W)
        out = np.zeros((h2, w2, 3), np.float32)
        y0 = (h2 - h) // 2
        out[y0:y0 + h] = cv2.resize(graded, (w2, h), interpolation=cv2.INTER_AREA)
    else:
        out = cv2.resize(graded, (w2, h2), interpolation=cv2.INTER_AREA)
    return (np.round(out * 255) / 255).astype(np.float32)


def source_film_frames() -> list[int]:
    """Film frame shown by each source frame, in order (the scan repeats SOURCE_REPEATED)."""
    out = []
    for k in range(N_FILM):
        out.append(k)
        if k in SOURCE_REPEATED:
            out.append(k)
    return out


def reference_film_frames(first: int = -REF_LEAD, last: int = N_FILM + 4) -> list[int]:
    """Film frame shown by each reference frame, in order (drops and repeats applied)."""
    out = []
    for k in range(first, last + 1):
        if k in REF_DROPPED:
            continue
        out.append(k)
        if k in REF_REPEATED:
            out.append(k)
    return out


def write_source(folder, film, *, preset="faded_16mm", seed=3) -> str:
    pattern = str(folder / "scan.####.exr")
    for n, k in enumerate(source_film_frames()):
        number = SOURCE_FIRST + n
        damaged = degrade_frame(film[k], frame=number, seed=seed, preset=preset).pixels
        io.write_image(io.sequence_path(pattern, number), damaged, colorspace="ACEScg")
    return pattern


def write_reference(folder, film, frames, *, first_number=1, letterbox=True) -> str:
    pattern = str(folder / "dvd.####.png")
    for n, k in enumerate(frames):
        io.write_image(io.sequence_path(pattern, first_number + n), grade(film[k], letterbox=letterbox),
                       colorspace="srgb", bit_depth=8)
    return pattern


@pytest.fixture(scope="module")
def film():
    return {k: film_frame(k) for k in range(-REF_LEAD - 2, N_FILM + 8)}


@pytest.fixture(scope="module")
def footage(tmp_path_factory, film):
    """(source pattern, reference pattern, source film frames, reference film frames)."""
    root = tmp_path_factory.mktemp("footage")
    (root / "scan").mkdir()
    (root / "dvd").mkdir()
    ref_frames = reference_film_frames()
    return (write_source(root / "scan", film), write_reference(root / "dvd", film, ref_frames),
            source_film_frames(), ref_frames)


@pytest.fixture(scope="module")
def built(footage, tmp_path_factory):
    src, ref, _, _ = footage
    out = tmp_path_factory.mktemp("pairs")
    return build_pairs(src, ref, output_dir=out, params={"pairs_per_shot": 4}), out


def truth(src_film, ref_film, *, first_ref_number=1):
    """Source frame number -> the reference frame numbers showing the same film frame (empty: dropped)."""
    where: dict[int, list[int]] = {}
    for n, k in enumerate(ref_film):
        where.setdefault(k, []).append(first_ref_number + n)
    return {SOURCE_FIRST + n: where.get(k, []) for n, k in enumerate(src_film)}
