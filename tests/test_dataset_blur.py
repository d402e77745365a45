"""The dataset filter on a real soft clip (issue 25 item 6): blur judged against the footage, frames counted,
a stage that leaves nothing ends the run with one line and exit 1.

The clip: OpenCV's vtest.avi (opencv-doc, 768x576 street scene, 10 fps), frames 0-79 cropped to 384x288
and blurred by a Gaussian of sigma 1 px, as a soft telecine transfer is; frames 40-49 blurred by sigma 3
(a defocus), frames 60-79 also darkened to 4 % (a second shot, underexposed *and* blurred). Every frame measures a
Laplacian variance under 80, the fixed threshold that rejected a whole real clip before.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
# every 5th frame (interval 0.5 s at 10 fps) of each shot: 5, 10, ..., 55 (shot 0-59), 65, 70, 75 (60-79)
ARGS = ["--stages", "shots,extract,filter", "--extract-mode", "interval", "--interval", "0.5",
        "--per-shot-budget", "100", "--quiet"]


@pytest.fixture(scope="module")
def soft_clip(tmp_path_factory) -> Path:
    import cv2

    if not VTEST.is_file():
        pytest.skip("opencv-doc's vtest.avi is not installed")
    path = tmp_path_factory.mktemp("clip") / "soft.avi"
    src = cv2.VideoCapture(str(VTEST))
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (384, 288))
    if not out.isOpened():
        pytest.skip("this OpenCV build cannot write MJPG video")
    for i in range(80):
        ok, frame = src.read()
        assert ok, f"vtest.avi frame {i}"
        frame = cv2.GaussianBlur(frame[144:432, 192:576], (0, 0), 3.0 if 40 <= i < 50 else 1.0)
        if i >= 60:
            frame = np.rint(frame * 0.04).astype(np.uint8)
        out.write(frame)
    out.release()
    return path


def _quality(ds: Path) -> dict[int, dict]:
    doc = json.loads((ds / "filter" / "quality.json").read_text("utf-8"))
    return {int(f["id"][-6:]): f for f in doc["frames"]}


def test_a_fixed_threshold_that_rejects_every_frame_fails_with_one_line(soft_clip, tmp_path, capsys):
    from core.cli.main import main

    ds = tmp_path / "ds"
    rc = main(["dataset", "run", str(soft_clip), "--output-dir", str(ds), *ARGS,
               "--blur-threshold", "80", "--blur-relative", "0"])
    err = capsys.readouterr().err.strip().splitlines()
    frames = _quality(ds)
    assert sorted(frames) == [*range(5, 60, 5), 65, 70, 75]
    assert all(f["quality"]["laplacian_var"] < 80 for f in frames.values())  # the failure as reported
    assert rc == 1 and len(err) == 1
    # frames are counted once however many reasons: 14 frames, 14 blurred, 3 of them also dark and flat
    assert err[0].startswith("reelkit dataset: error: filter: all 14 frames rejected (blur 14, underexposed 3, "
                             "low_information 3);")
    assert "embed, dedup, cluster, caption, assemble not run" in err[0] and "quality.json" in err[0]
    # the stage's own work is recorded: the same command fails again at once, from the manifests
    assert json.loads((ds / "filter" / "manifest.json").read_text())["counts"]["rejected"] == 14
    assert main(["dataset", "run", str(soft_clip), "--output-dir", str(ds), *ARGS,
                 "--blur-threshold", "80", "--blur-relative", "0"]) == 1


def test_blur_relative_to_the_clip_keeps_the_soft_frames_and_rejects_the_defocused(soft_clip, tmp_path, capsys):
    from core.cli.main import main

    ds = tmp_path / "ds"
    assert main(["dataset", "run", str(soft_clip), "--output-dir", str(ds), *ARGS[:-1]]) == 0
    out = capsys.readouterr().out
    frames = _quality(ds)
    rejected = {n: f["reasons"] for n, f in frames.items() if f["status"] == "rejected"}
    # the defocused frames 40, 45 (sigma 3) and the dark 65, 70, 75: 5 frames, 11 reasons
    dark = ["blur", "underexposed", "low_information"]
    assert rejected == {40: ["blur"], 45: ["blur"], 65: dark, 70: dark, 75: dark}
    assert "frames 14, kept 9, rejected 5, reasons (blur 5, underexposed 3, low_information 3)" in out
    # the reference: the median Laplacian variance of the frames no other reason rejects (the dark ones out)
    doc = json.loads((ds / "filter" / "quality.json").read_text("utf-8"))
    clean = [f["quality"]["laplacian_var"] for n, f in frames.items() if n < 60]
    assert doc["sharpness"]["soft"]["reference"] == pytest.approx(float(np.median(clean)))
    assert doc["sharpness"]["soft"]["blur_limit"] == pytest.approx(0.25 * float(np.median(clean)))
    kept = [f["quality"]["laplacian_var"] for f in frames.values() if f["status"] == "kept"]
    assert max(kept) < 80 and min(kept) > 2 * max(frames[40]["quality"]["laplacian_var"],
                                                  frames[45]["quality"]["laplacian_var"])
