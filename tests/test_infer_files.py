"""core.infer.infer_files: sequences on disk, one session per job, provenance, resume, frame ranges, errors."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from core import color, io  # noqa: E402
from core.errors import ImageError, OutputExistsError, ParameterError  # noqa: E402
from core.infer import INFER_PARAMS, ModelError, Restorer, default_output, infer_files, sessions_created  # noqa: E402
from core.io import samples  # noqa: E402
from core.threads import usable_cores  # noqa: E402
from tests.test_infer import make_model, residual_cnn  # noqa: E402

FRAMES = (1001, 1002, 1003)


@pytest.fixture()
def plate(tmp_path):
    """Three RGBA ACEScg half EXR frames 1001-1003 (72 x 100) of a slow pan across the coffee photo."""
    photo = color.convert_frame(samples.load_sample("coffee.png"), "ACEScg").pixels
    folder = tmp_path / "plate"
    for i, n in enumerate(FRAMES):
        rgb = photo[150:222, 200 + 4 * i:300 + 4 * i]
        alpha = np.linspace(0, 1, rgb.shape[1], dtype=np.float32)[None, :, None].repeat(rgb.shape[0], 0)
        io.write_image(folder / f"plate.{n}.exr", np.concatenate([rgb, alpha], axis=2), colorspace="ACEScg")
    return folder / "plate.####.exr"


@pytest.fixture()
def model(tmp_path):
    """A residual CNN (receptive field 7) with its manifest, in its own folder."""
    folder = tmp_path / "models"
    folder.mkdir()
    return make_model(folder, "cnn", convs=3, seed=4, name="restore")


PARAMS = {"tile": 48, "overlap": 0, "threads": 1}


def test_restores_a_sequence_with_one_session_and_records_the_model(plate, model, tmp_path):
    out_dir = tmp_path / "out"
    seen = []
    before = sessions_created()
    manifest = infer_files(model, str(plate), output_dir=out_dir, params=PARAMS,
                           progress=lambda done, total, n: seen.append((done, total, n)))
    assert sessions_created() - before == 1  # one session for the three frames
    assert seen == [(1, 3, 1001), (2, 3, 1002), (3, 3, 1003)]
    data = json.loads((out_dir / "manifest.json").read_text())
    sha = model.with_suffix(".json").read_text()
    assert data["status"] == "done" and data["command"] == "infer"
    assert data["model"]["sha256"] in sha and data["model"]["name"] == "restore"
    assert data["config"]["model"]["sha256"] == data["model"]["sha256"]
    assert data["runtime"]["providers"][-1] == "CPUExecutionProvider" and data["runtime"]["tile"] == 48
    assert data["parameters"]["tile"] == 48 and len(data["inputs"]) == 3
    r = Restorer(model, tile=48, overlap=0)
    for n in FRAMES:
        src = io.read_image(io.sequence_path(str(plate), n))
        written = io.read_image(out_dir / f"plate.{n}.exr")
        assert written.colorspace == "ACEScg" and written.channels == ("R", "G", "B", "A")
        np.testing.assert_array_equal(written.pixels[..., 3], src.pixels[..., 3])  # alpha passes through
        expected = r.run(src.pixels)
        np.testing.assert_allclose(written.pixels, expected, rtol=2e-3, atol=1e-4)  # half-float file
        attrs = written.metadata["attributes"]
        assert attrs["reelkit/infer/model"] == "restore" and attrs["reelkit/infer/version"] == "0.1.0"
        assert attrs["reelkit/infer/sha256"] == data["model"]["sha256"]
        assert data["frames"][str(n)]["tiles"] > 1
    assert manifest.data["frames"]["1002"]["frame"] == 1002


def test_resume_skips_rendered_frames_and_force_redoes_them(plate, model, tmp_path):
    out_dir = tmp_path / "out"
    infer_files(model, str(plate), output_dir=out_dir, params=PARAMS)
    target = out_dir / "plate.1002.exr"
    os.utime(target, ns=(1_000_000_000, 1_000_000_000))
    before = sessions_created()
    again = infer_files(model, str(plate), output_dir=out_dir, params={**PARAMS, "threads": 2})
    assert all(rec.get("resumed") for rec in again.data["frames"].values())
    assert target.stat().st_mtime_ns == 1_000_000_000  # not rewritten
    assert sessions_created() == before  # nothing to render: the model was not even loaded
    # another tiling is another configuration: its outputs would replace these
    with pytest.raises(OutputExistsError, match="plate.1001.exr and 2 more"):
        infer_files(model, str(plate), output_dir=out_dir, params={**PARAMS, "tile": 64})
    forced = infer_files(model, str(plate), output_dir=out_dir, params=PARAMS, force=True)
    assert not any(rec.get("resumed") for rec in forced.data["frames"].values())
    assert target.stat().st_mtime_ns > 1_000_000_000


def test_a_new_model_is_a_new_job(plate, model, tmp_path):
    out_dir = tmp_path / "out"
    infer_files(model, str(plate), output_dir=out_dir, params=PARAMS)
    other = make_model(tmp_path, "cnn", convs=3, seed=5, name="restore")
    with pytest.raises(OutputExistsError):
        infer_files(other, str(plate), output_dir=out_dir, params=PARAMS)


def test_frame_ranges_split_like_one_run(plate, model, tmp_path):
    whole, split = tmp_path / "whole", tmp_path / "split"
    infer_files(model, str(plate), output_dir=whole, params=PARAMS)
    infer_files(model, str(plate), output_dir=split, params=PARAMS, frames="1003")
    infer_files(model, str(plate), output_dir=split, params=PARAMS, frames="1001-1002")
    assert (split / "manifest.frames-1003.json").exists() and (split / "manifest.frames-1001-1002.json").exists()
    for n in FRAMES:
        np.testing.assert_array_equal(io.read_image(whole / f"plate.{n}.exr").pixels,
                                      io.read_image(split / f"plate.{n}.exr").pixels)
    one = tmp_path / "one"
    infer_files(model, io.sequence_path(str(plate), 1002), output_dir=one, params=PARAMS, frames="1002")
    assert sorted(p.name for p in one.glob("*.exr")) == ["plate.1002.exr"]


def test_nan_frame_stops_the_job_naming_it(plate, model, tmp_path):
    bad = io.read_image(io.sequence_path(str(plate), 1002)).pixels.copy()
    bad[10, 20, 0] = np.nan
    io.write_image(io.sequence_path(str(plate), 1002), bad, colorspace="ACEScg", overwrite=True)
    out_dir = tmp_path / "out"
    with pytest.raises(ImageError, match=r"plate\.1002\.exr \(frame 1002\): 1 non-finite"):
        infer_files(model, str(plate), output_dir=out_dir, params=PARAMS)
    data = json.loads((out_dir / "manifest.json").read_text())
    assert data["status"] == "failed" and data["frames"]["1001"]["status"] == "done"
    assert not (out_dir / "plate.1002.exr").exists()


def test_display_referred_input_is_converted_and_written_as_linear_exr(model, tmp_path):
    src = samples.sample_path("coffee.png")
    out_dir = tmp_path / "out"
    infer_files(model, str(src), output_dir=out_dir, params={"tile": 128})
    written = io.read_image(out_dir / "coffee.exr")
    assert written.colorspace == "ACEScg" and written.pixels.shape == (400, 600, 3)
    linear = color.convert_frame(io.read_image(src), "ACEScg").pixels
    expected = Restorer(model, tile=128).run(linear)
    np.testing.assert_allclose(written.pixels, expected, rtol=2e-3, atol=1e-4)


def test_bad_requests(plate, model, tmp_path):
    with pytest.raises(ParameterError, match="write OpenEXR"):
        infer_files(model, str(plate), output_dir=tmp_path / "o", output="x.####.png")
    with pytest.raises(ParameterError, match="overlap 4 is below the model's receptive field"):
        infer_files(model, str(plate), output_dir=tmp_path / "o", params={"overlap": 4})
    with pytest.raises(ParameterError, match="unknown parameter"):
        infer_files(model, str(plate), output_dir=tmp_path / "o", params={"tiles": 4})
    residual_cnn(model, convs=3, seed=9)  # the model changed since its manifest was written
    with pytest.raises(ModelError, match=r"restore\.onnx: sha256 .* in \S*restore\.json"):
        infer_files(model, str(plate), output_dir=tmp_path / "o")
    assert not (tmp_path / "o").exists()  # refused before anything was written


def test_params_and_default_output_names():
    assert INFER_PARAMS.defaults() == {"tile": 512, "overlap": 0, "provider": "auto", "threads": 0,
                                       "prefetch": True, "precision": "auto", "pixel_type": "half",
                                       "compression": "zip", "temporal": False, "mix": 1.0}
    assert default_output("shots/plate.####.exr") == "plate.####.exr"
    assert default_output("scan.%04d.png") == "scan.%04d.exr"
    assert default_output("a/scan.1001.tif", "1001-1010") == "scan.####.exr"
    assert default_output("still.jpg") == "still.exr"


def test_a_shipped_model_by_name_is_resolved_read_and_hashed_once_per_job(plate, tmp_path, monkeypatch):
    """Issue 17 item 7: ``infer_files("film_restore", ...)`` works in the library (was: a path only), and the
    model file is hashed once per job (was twice here, three times from the Nuke node)."""
    from core.infer import LoadedModel, load_model
    from core.infer import model as model_module
    from core.infer.shipped import resolve_model

    hashed = []
    real = model_module.model_sha256
    monkeypatch.setattr(model_module, "model_sha256", lambda data: hashed.append(len(data)) or real(data))
    manifest = infer_files("film_restore", str(plate), output_dir=tmp_path / "out", params={"threads": 1},
                           frames="1001-1002")
    assert len(hashed) == 1
    assert manifest.data["model"]["name"] == "film_restore"
    assert manifest.data["model"]["path"] == str(resolve_model("film_restore"))
    loaded = load_model("film_restore")
    assert isinstance(loaded, LoadedModel) and loaded.spec.sha256 == manifest.data["model"]["sha256"]
    assert load_model(loaded) is loaded and len(hashed) == 2
    with pytest.raises(ParameterError, match="manifest"):
        load_model(loaded, manifest={"format": "x"})
    Restorer(loaded, tile=0, threads=1)
    assert len(hashed) == 2  # the restorer builds its session from the bytes that were hashed
    with pytest.raises(ModelError, match="not a model shipped"):
        load_model("no_such_model")


# -- the overlapped path (params "prefetch"): read ahead, restore ahead, write behind --------------------------


def test_prefetch_writes_the_same_files_bit_for_bit_as_one_stage_after_the_other(plate, model, tmp_path):
    runs = {}
    for prefetch in (False, True):
        out = tmp_path / f"prefetch_{prefetch}"
        infer_files(model, str(plate), output_dir=out, params={**PARAMS, "prefetch": prefetch})
        runs[prefetch] = out
        record = json.loads((out / "manifest.json").read_text())["frames"]["1002"]
        assert set(record["stages"]) == {"read", "infer", "write"}
        assert record["seconds"] == pytest.approx(sum(record["stages"].values()), abs=2e-3)
    for n in FRAMES:
        name = f"plate.{n}.exr"
        assert (runs[True] / name).read_bytes() == (runs[False] / name).read_bytes()
    one, other = (json.loads((runs[p] / "manifest.json").read_text()) for p in (False, True))
    assert one["config_hash"] == other["config_hash"]  # a runtime choice: either run resumes the other


def test_prefetch_restores_only_the_frames_the_job_makes(plate, model, tmp_path):
    """A resumed job restores the missing frame alone: nothing is restored ahead for frames already done."""
    out = tmp_path / "out"
    infer_files(model, str(plate), output_dir=out, params=PARAMS)
    (out / "plate.1002.exr").unlink()
    restored = set()
    infer_files(model, str(plate), output_dir=out, params=PARAMS,
                tile_progress=lambda done, total, frame: restored.add(frame))
    assert restored == {1002}


@pytest.mark.parametrize("prefetch, threads", [(False, 1), (True, 1), (True, 2)])
def test_a_failing_write_stops_the_job_on_that_frame_in_one_line_with_no_partial_file(plate, model, tmp_path,
                                                                                      prefetch, threads):
    """The sequential path stops at the frame; writing behind, the frames already handed to the writers
    (``threads`` of them: here frame 1003) are finished and recorded first, whatever the timing."""
    out = tmp_path / "out"
    (out / "plate.1002.exr").mkdir(parents=True)  # the name of frame 1002's output is taken by a folder
    with pytest.raises(OSError) as failed:
        infer_files(model, str(plate), output_dir=out, params={**PARAMS, "prefetch": prefetch, "threads": threads},
                    force=True)
    message = str(failed.value)
    assert "\n" not in message and "plate.1002.exr" in message
    behind = ["plate.1003.exr"] if prefetch else []
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "plate.1001.exr", "plate.1002.exr", *behind]
    assert (out / "plate.1002.exr").is_dir() and not any((out / "plate.1002.exr").iterdir())
    frames = json.loads((out / "manifest.json").read_text())["frames"]
    assert list(frames) == ["1001", "1002", "1003"][:3 if prefetch else 2]  # the records in frame order
    assert frames["1001"]["status"] == "done" and frames["1002"]["status"] != "done"
    assert frames.get("1003", {}).get("status") == ("done" if prefetch else None)
    (out / "plate.1002.exr").rmdir()  # the next run makes the missing frame only
    again = infer_files(model, str(plate), output_dir=out, params={**PARAMS, "prefetch": prefetch})
    assert [bool(again.data["frames"][str(n)].get("resumed")) for n in FRAMES] == [True, False, prefetch]


@pytest.mark.skipif(usable_cores() < 2, reason="the thread budget is one thread on one core")
def test_several_writers_write_at_once_and_the_same_bytes_in_frame_order(plate, model, tmp_path, monkeypatch):
    """With 2 threads two frames are written at the same time (they meet at a barrier: one writer would wait
    forever), the records and the progress stay in frame order, and the files are the sequential path's."""
    import threading

    from core.infer import files

    write, met = files._write_output, threading.Barrier(2, timeout=30)

    def two_at_once(r, out, src, dst, *args, **kwargs):
        if dst.name != "plate.1003.exr":
            met.wait()
        return write(r, out, src, dst, *args, **kwargs)

    sequential = tmp_path / "sequential"
    infer_files(model, str(plate), output_dir=sequential, params={**PARAMS, "prefetch": False})
    monkeypatch.setattr(files, "_write_output", two_at_once)
    seen = []
    manifest = infer_files(model, str(plate), output_dir=tmp_path / "out", params={**PARAMS, "threads": 2},
                           progress=lambda done, total, n: seen.append((done, n)))
    assert seen == [(1, 1001), (2, 1002), (3, 1003)] and list(manifest.data["frames"]) == ["1001", "1002", "1003"]
    for n in FRAMES:
        assert (tmp_path / "out" / f"plate.{n}.exr").read_bytes() == (sequential / f"plate.{n}.exr").read_bytes()


def test_prefetch_frees_a_frames_input_before_it_is_written(plate, model, tmp_path, monkeypatch):
    """The pipeline holds no input frame once the model is done with it (the sequential path's memory)."""
    import gc
    import weakref

    from core.infer import files

    inputs, alive_at_write = [], []
    restore, write = files._restore, files._write_output

    def watch_restore(r, img, *args, **kwargs):
        inputs.append(weakref.ref(img.pixels))
        return restore(r, img, *args, **kwargs)

    def watch_write(*args, **kwargs):
        gc.collect()
        alive_at_write.append(sum(ref() is not None for ref in inputs[:len(alive_at_write) + 1]))
        return write(*args, **kwargs)

    monkeypatch.setattr(files, "_restore", watch_restore)
    monkeypatch.setattr(files, "_write_output", watch_write)
    infer_files(model, str(plate), output_dir=tmp_path / "out", params=PARAMS)
    assert alive_at_write == [0, 0, 0]
