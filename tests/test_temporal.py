"""core.infer.temporal: one-frame defects repaired from the flow-aligned neighbours, and infer's temporal option.

References: a real photo (the shipped coffee sample, ACEScg) moved by a
known whole-pixel pan between frames, so frames n-1, n, n+1 are exact crops
of one picture; defects painted on frame n only (bright and dark specks, a
dropout line) with their pixels known; the clean frame n is the ground
truth. Untouched pixels must come back bit for bit.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from core import color, io  # noqa: E402
from core.errors import ImageError, ParameterError  # noqa: E402
from core.infer import infer_files  # noqa: E402
from core.infer.temporal import temporal_repair  # noqa: E402
from core.io import samples  # noqa: E402
from tests.test_infer import make_model  # noqa: E402

PAN = 3  # px per frame, to the right


@pytest.fixture(scope="module")
def photo():
    return color.convert_frame(samples.load_sample("coffee.png"), "ACEScg").pixels


def pan_frames(photo, count, *, h=160, w=220, y=120, x=150):
    """``count`` crops of the photo, the camera panning ``PAN`` px right per frame."""
    return [np.ascontiguousarray(photo[y:y + h, x + PAN * i:x + PAN * i + w]) for i in range(count)]


def damage(frame):
    """Frame with two specks (bright, dark) and a dropout line; returns (damaged, bool mask of painted pixels)."""
    out = frame.copy()
    mask = np.zeros(frame.shape[:2], bool)
    out[40:44, 60:64] = 4.0 * frame[40:44, 60:64].max() + 1.0      # a bright speck (dirt on the negative)
    mask[40:44, 60:64] = True
    out[100:103, 150:153] = 0.0                                    # a dark speck
    mask[100:103, 150:153] = True
    out[70, 20:120] = 0.0                                          # a line dropout
    mask[70, 20:120] = True
    return out, mask


def display_psnr(a, b):
    da = np.clip(color.convert(a, "ACEScg", "srgb"), 0, 1)
    db = np.clip(color.convert(b, "ACEScg", "srgb"), 0, 1)
    mse = float(np.mean((da - db) ** 2))
    return 100.0 if mse == 0 else -10 * np.log10(mse)


def test_a_clean_frame_comes_back_unchanged(photo):
    prev, cur, nxt = pan_frames(photo, 3)
    result = temporal_repair(cur, prev, nxt)
    assert result.mask.sum() <= 4  # a few pixels at most on a real picture
    np.testing.assert_array_equal(result.image[~result.mask], cur[~result.mask])
    assert display_psnr(result.image, cur) > 45.0


def test_one_frame_defects_are_repaired_and_nothing_else_changes(photo):
    prev, clean, nxt = pan_frames(photo, 3)
    bad, painted = damage(clean)
    result = temporal_repair(bad, prev, nxt)
    found = result.mask & painted
    assert found.sum() >= 0.9 * painted.sum()                      # the defects are found ...
    from scipy.ndimage import binary_dilation

    assert not (result.mask & ~binary_dilation(painted, np.ones((3, 3)))).any()  # ... and nothing but them + 1 px
    np.testing.assert_array_equal(result.image[~result.mask], bad[~result.mask])
    before = np.abs(bad[painted] - clean[painted]).mean()
    after = np.abs(result.image[painted] - clean[painted]).mean()
    assert after < 0.05 * before
    assert display_psnr(result.image, clean) > display_psnr(bad, clean) + 10.0


def test_a_defect_on_the_neighbours_too_is_not_one_frame_damage(photo):
    """A blemish at the same place on all three frames (on the scanner glass, not the film) stays."""
    frames = pan_frames(photo, 3)
    for f in frames:
        f[40:44, 60:64] = 5.0
    result = temporal_repair(frames[1], frames[0], frames[2])
    assert not result.mask[40:44, 60:64].any()


@pytest.mark.parametrize("which", ["next neighbour", "frame itself"])
def test_nothing_is_repaired_when_a_frame_is_displaced_as_a_whole(photo, which):
    """Reproduces the harm measured on benchmarks/project_bench.py's bikes pair: a tape transfer shifted
    one frame by several pixels; the clean frames beside it lost 5-8 dB to a 'repair' from a halfway warp
    that put every edge in the wrong place, and so did the shifted frame (repaired to its neighbours'
    geometry). Now the neighbours must predict the frame as a whole first."""
    prev, cur, nxt = pan_frames(photo, 3)
    if which == "next neighbour":
        nxt = pan_frames(photo, 3, y=128)[2]   # the next frame shown 8 px too high
    else:
        cur = pan_frames(photo, 3, y=128)[1]
    cur, painted = damage(cur)
    result = temporal_repair(cur, prev, nxt)
    assert "shifted by" in result.skipped and not result.mask.any()
    np.testing.assert_array_equal(result.image, cur)
    # with the neighbours in place, the same defects are repaired (the guard is what stopped it)
    assert temporal_repair(damage(pan_frames(photo, 3)[1])[0], *pan_frames(photo, 3)[::2]).mask[painted].mean() > 0.9


def test_solid_patches_are_repaired_whole(photo):
    """Reproduces what benchmarks/project_bench.py measured on its bikes pair: solid patches of a broken
    decode (black, the green of an all-zero YUV frame) are flat inside, so a test of 'stands out from its
    own 5x5 neighbourhood' found only their rims and the frames kept the patches (frame 52: +0.09 dB). A
    patch is a region that differs from both warped neighbours. A patch of the region's own mean colour
    differs only where the picture's texture does: it is found in part (the module docstring's limits)."""
    prev, clean, nxt = pan_frames(photo, 3)
    bad = clean.copy()
    solid = np.zeros(clean.shape[:2], bool)
    for (y, x), fill in (((20, 30), 0.0), ((90, 120), (0.0, 0.45, 0.0))):
        bad[y:y + 32, x:x + 32] = fill
        solid[y:y + 32, x:x + 32] = True
    mean = np.zeros_like(solid)
    bad[60:92, 170:202] = clean[60:92, 170:202].mean(axis=(0, 1))
    mean[60:92, 170:202] = True
    result = temporal_repair(bad, prev, nxt)
    assert result.mask[solid].mean() > 0.95
    assert result.mask[mean].mean() > 0.3
    assert display_psnr(result.image, clean) > display_psnr(bad, clean) + 10.0
    from scipy.ndimage import binary_dilation

    assert not (result.mask & ~binary_dilation(solid | mean, np.ones((3, 3)))).any()  # nothing but them + 1 px


def test_a_neighbour_damaged_as_a_whole_is_replaced_by_the_next_one_out(photo):
    """Frame n-1 rolled by a tape transfer (shifted 12 px): the pair (n-1, n+1) does not predict frame n,
    so frames n-2 and n+1 do (frame n one third of the way), and the defects are still repaired."""
    frames = pan_frames(photo, 5)
    frames[1] = pan_frames(photo, 5, y=132)[1]
    bad, painted = damage(frames[2])
    alone = temporal_repair(bad, frames[1], frames[3])
    assert "shifted by" in alone.skipped and not alone.mask.any()
    result = temporal_repair(bad, frames[1], frames[3], prev2=frames[0], next2=frames[4])
    assert result.neighbours == (-2, 1) and not result.skipped
    assert result.mask[painted].mean() > 0.9
    assert display_psnr(result.image, frames[2]) > display_psnr(bad, frames[2]) + 10.0


def test_nothing_is_repaired_across_a_cut(photo):
    prev, cur, _ = pan_frames(photo, 3)
    other = pan_frames(photo, 3, y=10, x=20)[2]  # the next frame is another shot
    result = temporal_repair(cur, prev, other)
    assert result.skipped and not result.mask.any()


def test_deterministic_and_alpha_passes_through(photo):
    prev, clean, nxt = pan_frames(photo, 3)
    bad, _ = damage(clean)
    alpha = np.full(bad.shape[:2] + (1,), 0.5, np.float32)
    rgba = [np.concatenate([f, alpha], axis=2) for f in (bad, prev, nxt)]
    a, b = temporal_repair(*rgba), temporal_repair(*rgba)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.image[..., 3], rgba[0][..., 3])
    np.testing.assert_array_equal(a.image[..., :3], temporal_repair(bad, prev, nxt).image)


def test_bad_input_is_one_clear_error(photo):
    prev, cur, nxt = pan_frames(photo, 3)
    with pytest.raises(ImageError, match="previous frame"):
        temporal_repair(cur, prev[:-1], nxt)
    with pytest.raises(ImageError, match="float32 HWC"):
        temporal_repair(cur.astype(np.float64), prev, nxt)
    with pytest.raises(ParameterError, match="threshold"):
        temporal_repair(cur, prev, nxt, threshold=0)


def write_sequence(folder, frames, first=1001):
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        io.write_image(folder / f"plate.{first + i}.exr", f, colorspace="ACEScg", pixel_type="float")
    return str(folder / "plate.####.exr")


def test_infer_repairs_frames_with_both_neighbours_and_a_farm_chunk_gives_the_same_bytes(photo, tmp_path):
    frames = pan_frames(photo, 5)
    frames[2], painted = damage(frames[2])
    pattern = write_sequence(tmp_path / "in", frames)
    model = make_model(tmp_path, "identity", encoding="linear")
    whole = infer_files(model, pattern, output_dir=tmp_path / "whole", params={"threads": 1, "temporal": True})
    rec = {r["frame"]: r for r in whole.data["frames"].values()}
    assert "temporal_repaired_pixels" not in rec[1001] and "temporal_repaired_pixels" not in rec[1005]
    assert rec[1003]["temporal_repaired_pixels"] >= 0.9 * painted.sum()
    out = io.read_image(tmp_path / "whole" / "plate.1003.exr").pixels
    clean = pan_frames(photo, 5)[2]
    assert np.abs(out[painted] - clean[painted]).mean() < 0.05 * np.abs(frames[2][painted] - clean[painted]).mean()
    # the first and last frames (one neighbour) pass through the identity model unchanged
    half = {"rtol": 1e-3, "atol": 1e-5}  # the output EXRs are half float
    np.testing.assert_allclose(io.read_image(tmp_path / "whole" / "plate.1001.exr").pixels, frames[0], **half)
    # a farm chunk of frame 1003 alone still reads frames 1002 and 1004: the same bytes
    chunk = infer_files(model, pattern, output_dir=tmp_path / "chunk", frames="1003",
                        params={"threads": 1, "temporal": True})
    assert (tmp_path / "chunk" / "plate.1003.exr").read_bytes() == (tmp_path / "whole" / "plate.1003.exr").read_bytes()
    assert chunk.data["config"]["params"]["temporal"] is True
    plain = infer_files(model, pattern, output_dir=tmp_path / "plain", params={"threads": 1})
    assert "temporal" not in plain.data["config"]["params"]
    np.testing.assert_allclose(io.read_image(tmp_path / "plain" / "plate.1003.exr").pixels, frames[2], **half)
    assert json.loads((tmp_path / "whole" / "manifest.json").read_text())["parameters"]["temporal"] is True
