"""core.vision's per-frame passes on real photos: flow on known warps, saliency of a pasted object, mattes of
shapes composited over photos (ground truth known), and the bad-input refusals."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from core.color import convert
from core.errors import EmptyResultError, ImageError, ParameterError
from core.frame import Frame
from core.io.samples import load_sample
from core.vision import grabcut, guided_filter, matte, optical_flow, saliency, warp
from core.vision.flow import flow_pair
from core.vision.image import log_luma


def photo(name: str, size: tuple[int, int] = (320, 240)) -> np.ndarray:
    """A shipped sample photo resized (area) to ``size`` (w, h), as ACEScg ``float32`` ``HW3``."""
    import cv2

    srgb = cv2.resize(load_sample(name).pixels, size, interpolation=cv2.INTER_AREA)
    return convert(np.clip(srgb, 0.0, 1.0), "srgb", "ACEScg").astype(np.float32)


def known_warp(img: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(fixed, truth)``: ``img`` resampled (cubic spline) through a smooth known flow of 1.5-4 px, so that
    ``fixed(p) = img(p + truth(p))`` exactly (the alignment benchmark's kind of map, at this size)."""
    h, w = img.shape[:2]
    rng = np.random.default_rng(seed)
    ph = rng.uniform(0, 2 * np.pi, 2)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    fx = 2.5 + 1.5 * np.sin(2 * np.pi * ys / 300 + ph[0]) * np.cos(2 * np.pi * xs / 350)
    fy = -1.7 + 1.2 * np.cos(2 * np.pi * xs / 280 + ph[1]) * np.sin(2 * np.pi * ys / 330)
    fixed = np.stack([ndimage.map_coordinates(img[..., c], [ys + fy, xs + fx], order=3, mode="mirror")
                      for c in range(3)], axis=-1).astype(np.float32)
    return fixed, np.stack([fx, fy], axis=-1).astype(np.float32)


def epe(flow: np.ndarray, truth: np.ndarray, margin: int = 16) -> float:
    err = np.hypot(*(flow - truth).transpose(2, 0, 1))
    return float(err[margin:-margin, margin:-margin].mean())


@pytest.mark.parametrize("name", ["astronaut", "coffee"])
def test_flow_recovers_a_known_warp_and_refined_beats_dis(name):
    """Measured at 320x240 on the four samples: dis 0.08-0.17 px, refined 0.03-0.09 px mean EPE (OpenCV's
    Farneback with its documented example parameters: 0.52-1.76); refined is the more accurate on every photo."""
    moving = photo(name)
    fixed, truth = known_warp(moving)
    dis = epe(optical_flow(fixed, moving, method="dis"), truth)
    refined = epe(optical_flow(fixed, moving, method="refined"), truth)
    assert dis < 0.35
    assert refined < 0.18
    assert refined < 0.75 * dis


def test_flow_takes_frames_in_their_colour_space():
    """A Frame in sRGB is converted to ACEScg first: the same flow as the ACEScg array."""
    moving = photo("chelsea")
    fixed, _ = known_warp(moving)
    as_frames = optical_flow(Frame(convert(fixed, "ACEScg", "srgb"), "srgb"),
                             Frame(convert(moving, "ACEScg", "srgb"), "srgb"))
    assert np.abs(as_frames - optical_flow(fixed, moving)).max() < 0.05


def test_consistency_marks_an_occluding_patch():
    """A patch pasted on one frame only has no match in the other: the forward-backward check flags it."""
    a = photo("astronaut")
    b, _ = known_warp(a)
    b[100:140, 150:200] = 0.9  # a flat grey card on frame b only
    pair = flow_pair(log_luma(a), log_luma(b))
    inside = pair.b_consistent[105:135, 155:195].mean()
    outside = pair.b_consistent[20:-20, 20:-20].mean()
    assert outside > 0.8 and inside < 0.5


def test_warp_pulls_along_the_flow():
    moving = photo("coffee")
    fixed, truth = known_warp(moving)
    inner = (slice(16, -16), slice(16, -16))
    pulled = np.abs(warp(moving, truth) - fixed)[inner].mean()
    assert pulled < 0.1 * np.abs(moving - fixed)[inner].mean()  # bilinear: measured 0.046x


def test_frames_of_different_sizes_are_refused_naming_both():
    a = Frame(photo("coffee"), "ACEScg", frame=1001, path="plate.1001.exr")
    b = Frame(photo("coffee", (300, 240)), "ACEScg", frame=1002, path="plate.1002.exr")
    with pytest.raises(ImageError, match=r"^plate\.1002\.exr \(frame 1002\): 300x240 does not match "
                       r"plate\.1001\.exr \(frame 1001\) \(320x240\)"):
        optical_flow(a, b)


def pasted(name: str, centre: tuple[int, int], radius: int = 12) -> tuple[np.ndarray, np.ndarray]:
    img = photo(name)
    yy, xx = np.mgrid[0:img.shape[0], 0:img.shape[1]]
    disc = (xx - centre[0]) ** 2 + (yy - centre[1]) ** 2 <= radius ** 2
    out = img.copy()
    out[disc] = 1.0 if img[disc].mean() < 0.25 else 0.0  # white on dark, black on light
    return out, disc


@pytest.mark.parametrize("method", ["spectral_residual", "fine_grained"])
@pytest.mark.parametrize("name", ["coffee", "astronaut", "chelsea", "rocket"])
def test_a_pasted_object_is_salient(method, name):
    """A 25-px disc pasted on each photo: its mean saliency over the rest's, measured 1.5-12 (spectral
    residual) and 2.7-14 (fine grained) over the four photos and two places."""
    for centre in [(60, 60), (260, 180)]:
        img, disc = pasted(name, centre)
        s = saliency(img, method=method)
        assert s.shape == (240, 320, 1) and s.dtype == np.float32
        assert 0.0 <= s.min() and s.max() == pytest.approx(1.0)
        assert s[disc].mean() > 1.3 * s[~disc].mean()


def test_saliency_of_a_flat_frame_is_zero_and_methods_are_checked():
    assert not saliency(np.full((32, 48, 3), 0.18, np.float32)).any()
    with pytest.raises(ParameterError, match="method 'itti'"):
        saliency(photo("coffee"), method="itti")


def test_guided_filter_keeps_edges_of_its_guide_and_flat_stays_flat():
    guide = np.zeros((64, 64, 3), np.float32)
    guide[:, 32:] = 1.0
    step = guide[..., 0].copy()
    noisy = step + np.random.default_rng(0).normal(0, 0.05, step.shape).astype(np.float32)
    out = guided_filter(guide, noisy, radius=4, eps=1e-3)
    assert np.abs(out - step).mean() < 0.5 * np.abs(noisy - step).mean()
    assert np.abs(out[:, 30] - 0).max() < 0.1 and np.abs(out[:, 33] - 1).max() < 0.1
    flat = guided_filter(load_sample("coffee").pixels[:64, :64], np.full((64, 64), 0.3, np.float32),
                         radius=3, eps=1e-2)
    assert np.abs(flat - 0.3).max() < 1e-5


def composite() -> tuple[np.ndarray, np.ndarray]:
    """An ellipse of chelsea's photo over coffee's (the ground truth matte is the ellipse)."""
    bg, fg = photo("coffee"), photo("chelsea")
    yy, xx = np.mgrid[0:240, 0:320]
    ellipse = (xx - 170) ** 2 / 70 ** 2 + (yy - 120) ** 2 / 55 ** 2 <= 1
    return np.where(ellipse[..., None], fg, bg), ellipse


def iou(m: np.ndarray, truth: np.ndarray) -> float:
    hard = m[..., 0] >= 0.5
    return float((hard & truth).sum() / (hard | truth).sum())


def test_matte_from_a_box_and_from_a_rough_mask():
    """Measured IoU 0.984 from the box and from the mask dilated by 4 px."""
    import cv2

    img, truth = composite()
    from_box = matte(img, box=(90, 55, 160, 130))
    assert from_box.shape == (240, 320, 1) and from_box.dtype == np.float32
    assert from_box.min() >= 0.0 and from_box.max() <= 1.0
    assert iou(from_box, truth) > 0.95
    rough = cv2.dilate(truth.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(np.float32)
    assert iou(matte(img, mask=rough), truth) > 0.95


def test_matte_is_deterministic_for_a_seed():
    img, _ = composite()
    a = grabcut(img, box=(90, 55, 160, 130), seed=3)
    assert np.array_equal(a, grabcut(img, box=(90, 55, 160, 130), seed=3))


def test_matte_refuses_a_one_channel_image_and_bad_boxes():
    grey = Frame(photo("coffee")[..., :1], "ACEScg", frame=7, path="scan.0007.exr")
    with pytest.raises(ImageError, match=r"^scan\.0007\.exr \(frame 7\): the matte pass needs a colour \(RGB\) "
                       r"image, got 1 channel$"):
        matte(grey, box=(10, 10, 50, 50))
    with pytest.raises(ParameterError, match=r"box \(300, 10, 50, 50\) is not inside the 320x240 frame"):
        matte(photo("coffee"), box=(300, 10, 50, 50))
    with pytest.raises(ParameterError, match="exactly one"):
        matte(photo("coffee"))
    # a box of the whole frame leaves GrabCut no background (OpenCV's assertion before: a cv2.error)
    with pytest.raises(EmptyResultError, match=r"box \(0, 0, 320, 240\) covers the whole 320x240 frame"):
        matte(photo("coffee"), box=(0, 0, 320, 240))
