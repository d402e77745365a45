"""Real footage for the dataset tests: MJPG videos cut from the shipped photos, with known cuts.

``reel_a.avi`` (256x160, 24 fps): eight shots of 36 frames, two per photo
(a pan and a zoom), photos interleaved so every cut changes the picture;
cuts before frames 36, 72, ..., 252.

``reel_b.avi``: four shots of 24, 24, 36 and 36 frames (cuts before 24, 48, 84):
a heavily blurred pan over coffee (every frame must be rejected as blurred),
a static shot of chelsea with a focus pull (near-duplicates: the sharpest
must be kept), and a copy of reel_a's first shot (exact duplicates of frames
in another video; all but its first frame, which MJPG's rate control, still
adapting after the cut, codes differently), and a slightly softer, brighter copy of reel_a's last shot (the same
shot from another print: near duplicates across shots).

The module also checks the footage itself (written, decodable, frames as
designed), so the other dataset tests stand on known ground.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import srgb_sample

W, H, FPS = 256, 160, 24.0
SHOT_A = 36
PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.png")


@dataclasses.dataclass
class Footage:
    videos: list[Path]
    cuts: dict[str, list[int]]          # video stem -> frames where a shot starts (0 included)
    photo_of_shot: dict[tuple[str, int], str]  # (video stem, shot index) -> photo name
    blur_sigma: dict[tuple[str, int], float]   # reel_b's focus pull: (stem, frame) -> sigma


def _photo(name: str) -> np.ndarray:
    return srgb_sample("rocket.jpg" if name == "rocket.png" else name)


def _crop(photo: np.ndarray, cx: float, cy: float, scale: float) -> np.ndarray:
    """A WxH view of ``photo`` centred on (cx, cy) (fractions), showing W*scale x H*scale photo pixels."""
    import cv2

    ph, pw = photo.shape[:2]
    sw, sh = W * scale, H * scale
    x0 = np.clip(cx * pw - sw / 2, 0, pw - sw)
    y0 = np.clip(cy * ph - sh / 2, 0, ph - sh)
    m = np.float32([[1 / scale, 0, -x0 / scale], [0, 1 / scale, -y0 / scale]])
    return cv2.warpAffine(photo, m, (W, H), flags=cv2.INTER_AREA if scale > 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT)


def pan(photo: np.ndarray, n: int, *, y: float, x0: float, x1: float, scale: float) -> list[np.ndarray]:
    return [_crop(photo, x0 + (x1 - x0) * i / (n - 1), y, scale) for i in range(n)]


def zoom(photo: np.ndarray, n: int, *, cx: float, cy: float, s0: float, s1: float) -> list[np.ndarray]:
    return [_crop(photo, cx, cy, s0 + (s1 - s0) * i / (n - 1)) for i in range(n)]


def _shots_a() -> list[tuple[str, list[np.ndarray]]]:
    specs = {
        "astronaut.png": (dict(y=0.35, x0=0.35, x1=0.6, scale=1.6), dict(cx=0.5, cy=0.4, s0=1.9, s1=1.3)),
        "chelsea.png": (dict(y=0.5, x0=0.4, x1=0.6, scale=1.1), dict(cx=0.5, cy=0.45, s0=1.5, s1=1.05)),
        "coffee.png": (dict(y=0.5, x0=0.4, x1=0.6, scale=1.6), dict(cx=0.5, cy=0.5, s0=2.2, s1=1.5)),
        "rocket.png": (dict(y=0.5, x0=0.35, x1=0.65, scale=1.6), dict(cx=0.5, cy=0.5, s0=2.3, s1=1.6)),
    }
    first = [(name, pan(_photo(name), SHOT_A, **specs[name][0])) for name in PHOTOS]
    second = [(name, zoom(_photo(name), SHOT_A, **specs[name][1])) for name in PHOTOS]
    return first + second


def blurred(img: np.ndarray, sigma: float) -> np.ndarray:
    import cv2

    return img if sigma <= 0 else cv2.GaussianBlur(img, (0, 0), sigma)


def _write(path: Path, frames: list[np.ndarray]) -> None:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (W, H))
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write MJPG video")
    for f in frames:
        writer.write(np.ascontiguousarray(np.rint(np.clip(f, 0, 1) * 255).astype(np.uint8)[..., ::-1]))
    writer.release()


def make_footage(folder: Path) -> Footage:
    """Write reel_a.avi and reel_b.avi into ``folder``; return what they hold."""
    folder.mkdir(parents=True, exist_ok=True)
    shots_a = _shots_a()
    frames_a = [f for _, shot in shots_a for f in shot]
    cuts_a = [i * SHOT_A for i in range(len(shots_a))]
    photo_of_shot = {("reel_a", i): name for i, (name, _) in enumerate(shots_a)}

    coffee, chelsea = _photo("coffee.png"), _photo("chelsea.png")
    blur_shot = [blurred(f, 3.0) for f in pan(coffee, 24, y=0.4, x0=0.3, x1=0.7, scale=1.4)]
    still = _crop(chelsea, 0.5, 0.5, 1.3)
    sigmas = [abs(i - 9.4) * 0.12 for i in range(24)]  # sharpest at frame 24 + 9, all different
    focus_shot = [blurred(still, s) for s in sigmas]
    copy_shot = shots_a[0][1]
    print_shot = [np.clip(blurred(f, 0.5) * 1.04, 0, 1) for f in shots_a[7][1]]
    frames_b = blur_shot + focus_shot + copy_shot + print_shot
    cuts_b = [0, 24, 48, 84]
    photo_of_shot.update({("reel_b", 0): "coffee.png", ("reel_b", 1): "chelsea.png",
                          ("reel_b", 2): shots_a[0][0], ("reel_b", 3): shots_a[7][0]})
    blur_sigma = {("reel_b", 24 + i): s for i, s in enumerate(sigmas)}

    _write(folder / "reel_a.avi", frames_a)
    _write(folder / "reel_b.avi", frames_b)
    return Footage([folder / "reel_a.avi", folder / "reel_b.avi"], {"reel_a": cuts_a, "reel_b": cuts_b},
                   photo_of_shot, blur_sigma)


def shot_of_frame(footage: Footage, stem: str, frame: int) -> int:
    cuts = footage.cuts[stem]
    return int(np.searchsorted(cuts, frame, side="right") - 1)


@pytest.fixture(scope="module")
def footage(tmp_path_factory) -> Footage:
    return make_footage(tmp_path_factory.mktemp("footage"))


def test_footage_decodes_with_the_designed_frames(footage):
    from core import io

    info_a, info_b = (io.video_info(p) for p in footage.videos)
    assert (info_a.frame_count, info_a.width, info_a.height) == (8 * SHOT_A, W, H)
    assert info_b.frame_count == 24 + 24 + 36 + 36
    a = [f.pixels for f in io.iter_video_frames(footage.videos[0], [1, 2, 35, 36])]
    b = [f.pixels for f in io.iter_video_frames(footage.videos[1], [49, 50])]
    # consecutive frames of a shot are close, frames across a cut are not
    assert np.abs(a[0] - a[1]).mean() < 0.03 < 0.08 < np.abs(a[2] - a[3]).mean()
    # reel_b's last shot is an exact copy of reel_a's first (the same pixels decoded), except its first
    # frame: the MJPG encoder's rate control, still adapting after the cut, codes it differently
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
