"""The vision passes in the dataset builder (issue 23 item 4): subject layers, no-subject rejections and
saliency-weighted crops, on scikit-image's real photos and an OpenCV-written clip of them."""

from __future__ import annotations

import json

import numpy as np
import pytest

skdata = pytest.importorskip("skimage.data")


def _photo(name: str, width: int = 256) -> np.ndarray:
    """A scikit-image photo as ``uint8`` ``HW3`` RGB, ``width`` pixels wide (area filter)."""
    import cv2

    im = getattr(skdata, name)()
    im = np.repeat(im[..., None], 3, axis=2) if im.ndim == 2 else im[..., :3]
    h = round(im.shape[0] * width / im.shape[1])
    return np.ascontiguousarray(cv2.resize(im, (width, h), interpolation=cv2.INTER_AREA))


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea"])
def test_a_subject_photo_gets_a_matte_layers_and_a_masked_crop(name):
    from core.dataset.layers import MAX_COLOUR_OVERLAP, MIN_AREA, find_subject, layer_images

    img = _photo(name)
    subject = find_subject(img)
    assert subject.found, subject.why
    assert MIN_AREA <= subject.area < 0.9 and subject.colour_overlap < MAX_COLOUR_OVERLAP
    layers = layer_images(img, subject)
    h, w = img.shape[:2]
    assert layers["character"].shape == (h, w, 4) and layers["background"].shape == (h, w, 4)
    np.testing.assert_array_equal(layers["character"][..., :3], img)
    alpha = layers["character"][..., 3].astype(int)
    np.testing.assert_array_equal(alpha + layers["background"][..., 3], np.full((h, w), 255))
    x, y, bw, bh = subject.box
    np.testing.assert_array_equal(layers["subject"], layers["character"][y:y + bh, x:x + bw])
    # the box is the matte's: every subject pixel is inside, and the box's edges touch the subject
    fg = subject.matte >= 0.5
    assert fg[y:y + bh, x:x + bw].sum() == fg.sum()
    assert fg[y, x:x + bw].any() and fg[y + bh - 1, x:x + bw].any()
    assert find_subject(img).matte.tobytes() == subject.matte.tobytes()  # seeded: the same matte again


@pytest.mark.parametrize("name,why", [("flat", "flat frame"), ("brick", "background's colours"),
                                      ("grass", "GrabCut found no subject")])
def test_a_frame_with_no_subject_gets_the_reason(name, why):
    from core.dataset.layers import find_subject

    img = np.full((160, 256, 3), 118, np.uint8) if name == "flat" else _photo(name)
    subject = find_subject(img)
    assert not subject.found and subject.matte is None and why in subject.why
    record = subject.to_dict()
    assert record["found"] is False and why in record["why"]


def test_saliency_crop_lands_on_the_salient_region():
    """A 96x96 patch of the astronaut's face pasted on a smooth (blurred) real photo at a known place: the
    96-px saliency crop overlaps it with IoU >= 0.7, wherever the patch is put."""
    import cv2

    from core.dataset.layers import crop_window

    face = _photo("astronaut", 512)[40:136, 180:276]
    background = cv2.GaussianBlur(_photo("coffee", 384), (0, 0), 12)
    for x, y in ((30, 40), (250, 150), (150, 20)):
        img = background.copy()
        img[y:y + 96, x:x + 96] = face
        cx, cy, cw, ch = crop_window(img, 96)
        assert (cw, ch) == (96, 96)
        ix = max(0, min(cx + cw, x + 96) - max(cx, x))
        iy = max(0, min(cy + ch, y + 96) - max(cy, y))
        iou = ix * iy / (2 * 96 * 96 - ix * iy)
        assert iou >= 0.7, (x, y, (cx, cy), iou)


def test_saliency_window_is_the_window_of_most_mass_and_centred_when_empty():
    from core.dataset.layers import saliency_window

    sal = np.zeros((50, 80), np.float32)
    sal[30:40, 60:70] = 1.0
    assert saliency_window(sal, 10) == (60, 30, 10, 10)
    assert saliency_window(sal, 200) == (20, 0, 50, 50)  # the frame's short side, the first window of most mass
    assert saliency_window(np.zeros((50, 80), np.float32), 20) == (30, 15, 20, 20)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """An MJPG clip (256x192, 24 fps) of three 24-frame shots, each a slow pan: astronaut, coffee, brick."""
    import cv2

    path = tmp_path_factory.mktemp("layers") / "subjects.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 24.0, (256, 192))
    for name in ("astronaut", "coffee", "brick"):
        photo = _photo(name, 300)
        for i in range(24):
            writer.write(np.ascontiguousarray(photo[4:196, 10 + i: 266 + i][..., ::-1]))
    writer.release()
    return path


PARAMS = {"extract_mode": "scene", "per_shot_budget": 2, "min_cluster_size": 2, "umap_components": 0,
          "embedding_distance": 0.0, "val_fraction": 0.0}


def test_the_builder_writes_layers_and_crops_and_rejects_frames_with_no_subject(clip, tmp_path):
    from core.dataset import run_dataset
    from core.dataset.extract import read_uint8

    plain = run_dataset(clip, tmp_path / "plain", PARAMS, stages=["shots", "extract", "filter"])
    out = tmp_path / "layered"
    summary = run_dataset(clip, out, {**PARAMS, "layers": "grabcut", "saliency_crop": 128})
    # off by default: the earlier stages' hashes are the plain run's, the filter's changes with the options
    assert summary["extract"]["config_hash"] == plain["extract"]["config_hash"]
    assert summary["filter"]["config_hash"] != plain["filter"]["config_hash"]
    quality = {q["id"]: q for q in json.loads((out / "filter" / "quality.json").read_text())["frames"]}
    shots = {r["id"]: r["shot"] for r in json.loads((out / "frames" / "frames.json").read_text())["frames"]}
    brick = [q for fid, q in quality.items() if shots[fid].endswith("_s0002")]
    assert len(brick) == 2 and all(q["reasons"] == ["no_subject"] and not q["subject"]["found"] for q in brick)
    kept = [q for q in quality.values() if q["status"] == "kept"]
    assert len(kept) == 4 and all(q["subject"]["found"] and q["subject"]["matte"] for q in kept)
    meta = json.loads((out / "dataset" / "metadata.json").read_text())["frames"]
    assert {m["id"] for m in meta} <= {q["id"] for q in kept} and meta
    for m in meta:
        image = read_uint8(out / "dataset" / m["image"])
        x, y, w, h = m["crop"]
        assert image.shape == (128, 128, 3) and (w, h) == (128, 128)
        np.testing.assert_array_equal(image, read_uint8(out / m["source"])[y:y + h, x:x + w])
        assert set(m["layers"]) == {"character", "background", "subject", "matte"}
        assert all((out / "dataset" / p).is_file() for p in m["layers"].values())
    rejections = (out / "dataset" / "report" / "rejections.csv").read_text()
    assert rejections.count(",filter,no_subject,") == 2
    assert all(q["subject"]["why"] in rejections for q in brick)  # the report says why


def test_a_matting_model_from_the_vision_registry_drives_the_layers(tmp_path):
    """A tiny ONNX 'matte' model built here (a fixed disc: 1 inside, 0 outside, sigmoid in the entry) through
    layers=model: the subject is the disc."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    from core.dataset.layers import FrameAnalyser
    from core.infer.model import model_sha256

    yy, xx = np.mgrid[0:64, 0:64]
    disc = np.where((yy - 32) ** 2 + (xx - 32) ** 2 <= 16 ** 2, 20.0, -20.0).astype(np.float32)[None, None]
    zero = np.zeros((1, 1, 1, 1), np.float32)
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["x"], ["m"], keepdims=1, axes=[1, 2, 3]),
         helper.make_node("Mul", ["m", "zero"], ["z"]), helper.make_node("Add", ["z", "disc"], ["y"])],
        "disc", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 64, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 64, 64])],
        [numpy_helper.from_array(disc, "disc"), numpy_helper.from_array(zero, "zero")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    data = model.SerializeToString()
    (tmp_path / "disc.onnx").write_bytes(data)
    entry = {"id": "disc", "task": "matte", "file": "disc.onnx", "sha256": model_sha256(data), "licence": "MIT",
             "input": {"size": [64, 64], "resize": "stretch"}, "output": {"channels": 1, "activation": "sigmoid"}}
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "reelkit.models/1", "models": [],
                                                        "vision": [entry]}))
    analyser = FrameAnalyser({"layers": "model", "matte_model": str(tmp_path / "disc.onnx"), "saliency_crop": 0})
    img = np.ascontiguousarray(_photo("coffee", 192)[:128, 32:160])  # 128x128: a disc 64 px across the middle
    reasons, record = analyser.frame(img, tmp_path / "m" / "f.png", root=tmp_path)
    assert reasons == [] and record["subject"]["found"] and record["subject"]["matte"] == "m/f.png"
    x, y, w, h = record["subject"]["box"]
    assert abs(x + w / 2 - 64) <= 1.5 and abs(y + h / 2 - 64) <= 1.5 and 60 <= w <= 68 and 60 <= h <= 68
    assert abs(record["subject"]["area"] - np.pi * 32 ** 2 / 128 ** 2) < 0.02


def test_the_quickstart_command_runs(clip, tmp_path, monkeypatch):
    """docs/quickstart-dataset.md's layers command, on reel1.mov (the clip's frames in a .mov), with the
    options that keep the run short appended (fewer frames, no UMAP)."""
    import shlex

    import cv2

    from core.cli.main import main
    from core.dataset.extract import read_uint8
    from tests.test_docs_commands import doc_commands

    [command] = [c for d, c in doc_commands() if d == "quickstart-dataset.md" and "--layers" in c]
    monkeypatch.chdir(tmp_path)
    cap, writer = cv2.VideoCapture(str(clip)), None
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        if writer is None:
            writer = cv2.VideoWriter("reel1.mov", cv2.VideoWriter_fourcc(*"MJPG"), 24.0, bgr.shape[1::-1])
        writer.write(bgr)
    cap.release()
    writer.release()
    argv = [*shlex.split(command), "--extract-mode", "scene", "--per-shot-budget", "2", "--umap-components", "0",
            "--min-cluster-size", "2", "--embedding-distance", "0", "--val-fraction", "0", "-q"]
    assert main(argv) == 0
    out = tmp_path / argv[argv.index("--output-dir") + 1]
    meta = json.loads((out / "dataset" / "metadata.json").read_text())["frames"]
    assert meta and all(m["crop"][2:] == [192, 192] and m["layers"] for m in meta)  # 512 > the 192-px short side
    assert all(read_uint8(out / "dataset" / m["image"]).shape == (192, 192, 3) for m in meta)
    assert "no_subject" in (out / "dataset" / "report" / "rejections.csv").read_text()
