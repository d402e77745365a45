"""Real clips with known cuts for the shot tests and ``benchmarks/shots_bench.py``.

Pictures are the shipped photos (:func:`tests.conftest.srgb_sample`) under
a camera move (the pans and zooms of :mod:`tests.test_dataset_footage`).
Videos are H.264, written with PyAV (the ``av`` package, dev extra) so that
their timestamps are under our control:

- ``times_ms=None``: constant rate, first timestamp 0;
- ``times_ms=[...]``: one presentation time per frame (variable frame rate;
  :func:`vfr_times`);
- ``late_start=True``: the file starts like a stream copy cut between two
  key frames: one undecodable P frame comes before the first key frame,
  so the first *decoded* frame carries the timestamp of the second frame
  (41.7 ms at 24 fps). Every frame given is decoded, in order.

:func:`damaged_copy` gives frames the defects of a digital transfer
(:mod:`core.degrade`'s ``digital_tape`` look).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from tests.conftest import srgb_sample
from tests.test_dataset_footage import pan, zoom

W, H, FPS = 256, 160, 24

#: Shots of the ``reel`` clip: (photo, move, frames). Cuts before 8, 48, 80, 116 and 146 (154 frames).
REEL = (("chelsea.png", "pan", 8), ("astronaut.png", "pan", 40), ("coffee.png", "zoom", 32),
        ("rocket.jpg", "pan", 36), ("chelsea.png", "zoom", 30), ("astronaut.png", "zoom", 8))
#: Shots of the ``four_shots`` clip, as in the restore project's report: cuts before 98, 154 and 200 (270 frames).
FOUR_SHOTS = (("astronaut.png", "pan", 98), ("chelsea.png", "zoom", 56), ("coffee.png", "pan", 46),
              ("rocket.jpg", "zoom", 70))


def cuts_of(plan) -> list[int]:
    """First frame of every shot of a plan (0 included)."""
    return [int(c) for c in np.cumsum([0] + [n for _, _, n in plan[:-1]])]


def shot_frames(plan) -> list[np.ndarray]:
    """The frames of a plan: float32 HWC sRGB 0..1, W x H, a steady camera move per shot.

    ``pan``: 2.5 px a frame, across the middle of the photo (left to right
    in even shots, right to left in odd ones), never past its edges;
    ``zoom``: 1.5 % a frame, in (even shots) or out (odd ones), about the centre.
    """
    frames: list[np.ndarray] = []
    for k, (name, move, n) in enumerate(plan):
        photo = srgb_sample(name)
        if move == "pan":
            scale = 1.25
            half_room = 0.5 - W * scale / 2 / photo.shape[1]  # how far the centre may move from 0.5
            half = min(half_room, 2.5 * scale * (n - 1) / 2 / photo.shape[1])
            x0, x1 = (0.5 - half, 0.5 + half) if k % 2 == 0 else (0.5 + half, 0.5 - half)
            frames += pan(photo, n, y=0.5, x0=x0, x1=x1, scale=scale)
        else:
            s0, s1 = 1.9, 1.9 * 0.985 ** (n - 1)
            frames += zoom(photo, n, cx=0.5, cy=0.5, s0=s0 if k % 2 == 0 else s1, s1=s1 if k % 2 == 0 else s0)
    return [np.asarray(f, np.float32) for f in frames]


def fade_frames() -> tuple[list[np.ndarray], range]:
    """A pan over chelsea fading to black (last 8 of 30 frames), 8 black frames, coffee fading in (8 of 30).

    Returns the 68 frames and the range of the black ones (30..37).
    """
    a = pan(srgb_sample("chelsea.png"), 30, y=0.5, x0=0.3, x1=0.7, scale=1.5)
    b = zoom(srgb_sample("coffee.png"), 30, cx=0.5, cy=0.5, s0=2.0, s1=1.3)
    ramp = np.linspace(1.0, 0.0, 9)[1:]  # 7/8 .. 0
    a = a[:22] + [f * g for f, g in zip(a[22:], ramp)]
    b = [f * g for f, g in zip(b[:8], ramp[::-1])] + b[8:]
    black = [np.zeros_like(a[0])] * 8
    return [np.asarray(f, np.float32) for f in a + black + b], range(30, 38)


def vfr_times(n: int) -> list[int]:
    """Presentation times (ms) of ``n`` frames: runs of 10 frames at 48 fps and 10 at 24 fps (21 / 42 ms)."""
    durations = [21 if (i // 10) % 2 == 0 else 42 for i in range(n)]
    return [0] + [int(t) for t in np.cumsum(durations[:-1])]


def to_u8(frame: np.ndarray) -> np.ndarray:
    """8-bit RGB of a float frame (0..1); uint8 frames as they are."""
    if frame.dtype == np.uint8:
        return frame
    return np.rint(np.clip(frame, 0.0, 1.0) * 255).astype(np.uint8)


def write_clip(path: str | Path, frames: list[np.ndarray], *, times_ms: list[int] | None = None,
               late_start: bool = False, fps: int = FPS) -> Path:
    """Write RGB frames (HWC, float 0..1 or uint8) as H.264 (``.mp4`` or ``.mkv``); see the module docstring."""
    import av

    path = Path(path)
    if times_ms is not None and late_start:
        raise ValueError("write_clip: times_ms or late_start, not both")
    lead = [np.roll(frames[0], 9 * k, axis=1) for k in (2, 1)] if late_start else []
    time_base = Fraction(1, 1000) if times_ms is not None else Fraction(1, fps)
    pts = times_ms if times_ms is not None else list(range(len(lead) + len(frames)))
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps, options={"crf": "16", "threads": "1"})
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
        stream.codec_context.gop_size = 1000  # one key frame, or two with late_start
        packets = []
        for i, f in enumerate(lead + list(frames)):
            vf = av.VideoFrame.from_ndarray(to_u8(f), format="rgb24")
            vf.pts, vf.time_base = int(pts[i]), time_base
            if lead and i == len(lead):
                vf.pict_type = av.video.frame.PictureType.I
            packets += stream.encode(vf)
        packets += stream.encode()
        if lead:  # drop the first key frame: the P frame after it can no longer be decoded
            packets.remove(next(p for p in packets if p.is_keyframe))
        for p in packets:
            out.mux(p)
    return path


def decoded_times_ms(path: str | Path) -> list[float]:
    """OpenCV's ``CAP_PROP_POS_MSEC`` of every decoded frame (what PySceneDetect's own backend numbers frames by)."""
    import cv2

    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    times = []
    while cap.grab():
        times.append(float(cap.get(cv2.CAP_PROP_POS_MSEC)))
    cap.release()
    return times


#: Frames of ``four_shots`` that get a mirrored frame (one of the ``digital_tape`` look's defects), as in the
#: restore project's report: three frames before the first cut (its cut at 95 for 98), the two before the last.
FORCED_DAMAGE = (95, 198, 199)


def damaged_copy(frames: list[np.ndarray], *, seed: int = 3,
                 forced: tuple[int, ...] = FORCED_DAMAGE) -> tuple[list[np.ndarray], list[int]]:
    """``frames`` (float HWC sRGB 0..1) through :mod:`core.degrade`'s ``digital_tape`` look, and the damaged frames.

    The look gives about one frame in ten a digital or tape defect (line
    dropouts, torn blocks, solid patches, a rolled or mirrored frame,
    head-switching noise), drawn per frame from ``seed``; the frames in
    ``forced`` are mirrored besides. Frames go to ACEScg and back.
    """
    from core import color
    from core.degrade import degrade_frame, digital_defects

    out, damaged = [], []
    for i, f in enumerate(frames):
        params = {"mirror_rate": 1.0} if i in forced else None
        if i in forced or digital_defects(i, seed=seed, preset="digital_tape", params=params):
            damaged.append(i)
        lin = degrade_frame(color.convert(f, "srgb", "ACEScg"), frame=i, seed=seed, preset="digital_tape",
                            params=params).pixels
        out.append(np.clip(color.convert(lin, "ACEScg", "srgb"), 0.0, 1.0).astype(np.float32))
    return out, damaged
