"""reelkit generate (issue 18 items 3-4): EXR half with params and seed in the header, params JSON, PNG
previews, batches of seeded variations, resume and --force, bad input as one line with nothing written."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core import io
from core.cli.main import main
from core.generate import generate
from core.generate.sampling import variation_seed


def test_one_image_exr_json_png(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["generate", "chart", "--chart", "step_wedge", "--steps", "4", "--size", "64x16", "--seed", "5",
                 "--preview", "-o", str(out), "-q"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["chart.0001.exr", "chart.0001.json", "chart.0001.png",
                                                    "manifest.json"]
    frame = io.read_image(out / "chart.0001.exr")
    expected = generate("chart", {"chart": "step_wedge", "steps": 4}, seed=5, width=64, height=16)
    assert frame.colorspace == "ACEScg"
    np.testing.assert_array_equal(frame.pixels, expected.pixels.astype(np.float16).astype(np.float32))
    attrs = frame.metadata["attributes"]
    assert attrs["reelkit/generate/family"] == "chart" and attrs["reelkit/generate/generator"] == "reelkit.generate/1"
    assert attrs["reelkit/generate/seed"] == "5"
    assert json.loads(attrs["reelkit/generate/params"]) == expected.metadata["params"]
    record = json.loads((out / "chart.0001.json").read_text())
    assert record["params"] == expected.metadata["params"] and record["seed"] == 5
    assert all(not isinstance(v, (dict, list)) for v in record["params"].values())  # flat keys
    png = io.read_image(out / "chart.0001.png")
    assert png.colorspace == "srgb" and png.pixels.shape == (16, 64, 3)
    # 0.18 ACEScg grey (the 0-stop step: steps at -5, -5/3, 5/3, 5) encodes like core.color's own sRGB preview
    from core.color import convert

    code = convert(expected.pixels[:1, 20:21], "ACEScg", "srgb")[0, 0]
    np.testing.assert_allclose(png.pixels[0, 20], np.clip(code, 0, 1), atol=0.5 / 255 + 1e-6)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"] == "generate" and manifest["seed"] == 5 and manifest["status"] == "done"


def test_batch_of_variations_round_trips_through_its_json(tmp_path):
    out = tmp_path / "set"
    assert main(["generate", "shape", "--count", "3", "--size", "48x32", "--seed", "9", "--shape", "star",
                 "-o", str(out), "-q"]) == 0
    records = [json.loads((out / f"shape.{i:04d}.json").read_text()) for i in (1, 2, 3)]
    assert [r["seed"] for r in records] == [variation_seed(9, i) for i in range(3)]
    assert all(r["params"]["shape"] == "star" for r in records)       # given: fixed
    assert len({r["params"]["radius"] for r in records}) == 3          # not given: drawn
    for i, r in enumerate(records, 1):  # the data set format is enough to make the image again
        again = generate(r["family"], r["params"], seed=r["seed"], width=r["width"], height=r["height"])
        np.testing.assert_array_equal(io.read_image(out / f"shape.{i:04d}.exr").pixels,
                                      again.pixels.astype(np.float16).astype(np.float32))
    fixed = tmp_path / "fixed"
    assert main(["generate", "noise", "--count", "2", "--no-vary", "--size", "32x16", "-o", str(fixed), "-q"]) == 0
    a, b = (json.loads((fixed / f"noise.{i:04d}.json").read_text()) for i in (1, 2))
    assert a["params"] == b["params"] and a["seed"] != b["seed"]


def test_resume_force_and_foreign_files(tmp_path, capsys):
    out = tmp_path / "out"
    args = ["generate", "noise", "--count", "2", "--size", "32x16", "--name", "n", "-o", str(out)]
    assert main(args + ["-q"]) == 0
    stamp = {p.name: p.stat().st_mtime_ns for p in out.glob("n.*")}
    assert main(args) == 0
    assert "0 image(s), 2 already done" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("n.*")} == stamp
    (out / "n.0002.exr").write_bytes(b"truncated")  # a damaged output is made again, nothing else
    assert main(args + ["-q"]) == 0
    assert io.read_image(out / "n.0002.exr").pixels.shape == (16, 32, 3)
    assert (out / "n.0001.exr").stat().st_mtime_ns == stamp["n.0001.exr"]
    other = tmp_path / "other"
    other.mkdir()
    (other / "n.0001.exr").write_bytes(b"someone else's")
    assert main(args[:-1] + [str(other), "-q"]) == 1
    assert "n.0001.exr" in capsys.readouterr().err and (other / "n.0001.exr").read_bytes() == b"someone else's"
    assert main(args[:-1] + [str(other), "-q", "--force"]) == 0
    assert io.read_image(other / "n.0001.exr").pixels.shape == (16, 32, 3)


@pytest.mark.parametrize("args, words", [
    (["noise", "--octaves", "40"], ["octaves", "40"]),
    (["noise", "--size", "0x10"], ["width", "0"]),
    (["noise", "--size", "10x16385"], ["height", "16385"]),
    (["noise", "--seed", "1.5"], ["seed", "1.5"]),
    (["chart", "--edge-angle", "12"], ["edge_angle", "12"]),
    (["shape", "--name", "../x"], ["name", "../x"]),
])
def test_bad_input_one_line_nothing_written(tmp_path, capsys, args, words):
    out = tmp_path / "out"
    assert main(["generate", *args, "-o", str(out), "-q"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and all(w in err for w in words), err
    assert not out.exists()


def test_unknown_family_or_option_is_refused(tmp_path, capsys):
    for args in (["clouds"], ["noise", "--colour", "3"]):
        with pytest.raises(SystemExit) as info:
            main(["generate", *args, "-o", str(tmp_path / "out")])
        assert info.value.code == 2
        assert ("clouds" if args == ["clouds"] else "--colour") in capsys.readouterr().err.splitlines()[-1]
    assert not (tmp_path / "out").exists()


def test_list(capsys):
    assert main(["generate", "--list"]) == 0
    text = capsys.readouterr().out
    for family in ("noise:", "ramp:", "shape:", "repetition:", "chart:"):
        assert family in text
    assert "--octaves" in text and "--edge-angle" in text
