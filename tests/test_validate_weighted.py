"""Matte-weighted metrics (issue 23 item 4): weighted_psnr against a hand computation on a real photo, and
run_validation --weight-matte (a matte sequence, or the reference's saliency pass) recorded in metrics.json,
the unweighted outputs unchanged."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from core import io, metrics
from tests.conftest import srgb_sample

FRAMES = range(1, 4)
H, W = 64, 96


def _disc(h: int, w: int, r: float) -> np.ndarray:
    """A soft disc in the middle: 1 inside, a 4-px linear edge, 0 outside (``float32`` ``HW``)."""
    yy, xx = np.mgrid[0:h, 0:w]
    d = np.hypot(yy - h / 2, xx - w / 2)
    return np.clip((r - d) / 4.0 + 0.5, 0.0, 1.0).astype(np.float32)


def test_weighted_psnr_is_the_hand_computation():
    """Encoded (display) values of the coffee photo and a noisier copy, noise only outside the disc: the
    formula by hand, with plain Python sums over the pixels."""
    ref = srgb_sample("coffee.png")[100:164:2, 200:296:2]
    rng = np.random.default_rng(3)
    w = _disc(*ref.shape[:2], 10)
    res = np.clip(ref + rng.normal(0, 0.05, ref.shape).astype(np.float32) * (w[..., None] == 0) + 0.01,
                  0.0, 1.0).astype(np.float32)
    num = den = 0.0
    for y in range(ref.shape[0]):
        for x in range(ref.shape[1]):
            num += float(w[y, x]) * sum((float(res[y, x, c]) - float(ref[y, x, c])) ** 2 for c in range(3))
            den += 3.0 * float(w[y, x])
    hand = 10.0 * math.log10(1.0 / (num / den))
    got = metrics.weighted_psnr(res, ref, w, encoded=True)
    assert got == pytest.approx(hand, abs=1e-6)  # float32 differences, float64 sums
    assert got == pytest.approx(40.0, abs=0.1)  # where the matte is not 0 only the +0.01 offset: 10 log10(1 / 1e-4)
    assert metrics.psnr(res, ref, encoded=True) < got - 10  # the noise outside counts without the matte
    # all-ones weights are plain PSNR; a 0/1 matte is PSNR on its pixels; a mask leaves pixels out of both
    assert metrics.weighted_psnr(res, ref, np.ones(w.shape), encoded=True) == pytest.approx(
        metrics.psnr(res, ref, encoded=True), abs=1e-6)
    hard = (w > 0.5).astype(np.float32)
    assert metrics.weighted_psnr(res, ref, hard, encoded=True) == pytest.approx(
        metrics.psnr(res, ref, hard, encoded=True), abs=1e-6)
    assert math.isnan(metrics.weighted_psnr(res, ref, np.zeros(w.shape), encoded=True))
    with pytest.raises(metrics.image.ImageError, match="weight matte shape"):
        metrics.weighted_psnr(res, ref, w[:-1], encoded=True)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """Reference: a pan over the astronaut photo (ACEScg EXR); source: the reference with noise outside a
    disc; candidate 'ml': noise everywhere; mattes: the disc (8-bit PNG) and a 'reelkit vision matte' EXR."""
    from core.color import convert
    from core.frame import Frame

    root = tmp_path_factory.mktemp("weighted")
    plate = convert(srgb_sample("astronaut.png")[::4, ::4], "srgb", "ACEScg").astype(np.float32)
    rng = np.random.default_rng(0)
    w = _disc(H, W, 18)
    for i, n in enumerate(FRAMES):
        ref = np.ascontiguousarray(plate[10:10 + H, 5 + 3 * i:5 + 3 * i + W])
        src = (ref * np.exp2(rng.normal(0, 0.2, ref.shape) * (1.0 - w[..., None]))).astype(np.float32)
        ml = (ref * np.exp2(rng.normal(0, 0.05, ref.shape))).astype(np.float32)
        for name, img in (("src", src), ("ref", ref), ("ml", ml)):
            io.write_image(root / name / f"{name}.{n:04d}.exr", img, colorspace="ACEScg", pixel_type="float")
        io.write_image(root / "matte" / f"matte.{n:04d}.png", w[..., None], colorspace="raw", bit_depth=8)
        exr = Frame(ref, "ACEScg", layers={"matte": w[..., None]}, metadata={"layer_channels": {"matte": ["matte.A"]}})
        io.write_image(root / "vision" / f"shot.matte.{n:04d}.exr", exr, pixel_type="float")
    return root


def _run(project, out, **params):
    from core.validate import run_validation

    return run_validation(sources=project / "src" / "src.####.exr", references=project / "ref" / "ref.####.exr",
                          candidates={"ml": project / "ml" / "ml.####.exr"}, output_dir=out, baselines=(),
                          params={"compare_frames": 0, **params})


def test_validate_records_matte_weighted_psnr_and_leaves_the_unweighted_run_alone(project, tmp_path):
    plain = _run(project, tmp_path / "plain")
    weighted = _run(project, tmp_path / "weighted", weight_matte=str(project / "matte" / "matte.####.png"))
    doc = json.loads(weighted.metrics_json.read_text())
    base = json.loads(plain.metrics_json.read_text())
    assert "weighted" not in base and "weight_matte" not in json.dumps(base)
    assert not any("psnr_weighted" in p.read_text() for p in (tmp_path / "plain" / "frames").glob("*.json"))
    # the unweighted numbers are the same; the option changes the config hash only when set
    assert {k: v for k, v in doc.items() if k not in ("weighted", "config_hash")} == \
        {k: v for k, v in base.items() if k != "config_hash"}
    assert doc["config_hash"] != base["config_hash"]
    # each frame's weighted PSNR is weighted_psnr of the files as written (the 8-bit matte read back)
    wd = doc["weighted"]
    assert wd["weight_matte"].endswith("matte.####.png") and wd["metric"] == "psnr"
    for n in FRAMES:
        ref = io.read_image(project / "ref" / f"ref.{n:04d}.exr").pixels
        matte = io.read_image(project / "matte" / f"matte.{n:04d}.png").pixels[..., 0]
        for method, folder in (("source", "src"), ("ml", "ml")):
            img = io.read_image(project / folder / f"{folder}.{n:04d}.exr").pixels
            row = next(f for f in wd["frames"] if f["frame"] == n and f["method"] == method)
            assert row["psnr"] == pytest.approx(metrics.weighted_psnr(img, ref, matte), abs=1e-9)
    for method in ("source", "ml"):
        want = np.mean([f["psnr"] for f in wd["frames"] if f["method"] == method])
        assert wd["summary"][method]["psnr"] == pytest.approx(want, abs=1e-12)
    # the source is damaged outside the disc only: weighted by the disc it beats its plain PSNR by far,
    # and beats the candidate (noisy everywhere) there, while the plain PSNR ranks them the other way
    assert wd["summary"]["source"]["psnr"] > doc["summary"]["source"]["psnr"] + 10
    assert wd["summary"]["source"]["psnr"] > wd["summary"]["ml"]["psnr"]
    assert doc["summary"]["source"]["psnr"] < doc["summary"]["ml"]["psnr"]


def test_a_vision_matte_exr_and_the_saliency_pass_weigh_too(project, tmp_path):
    from core.vision.saliency import saliency

    png = _run(project, tmp_path / "png", weight_matte=str(project / "matte" / "matte.####.png"))
    exr = _run(project, tmp_path / "exr", weight_matte=str(project / "vision" / "shot.matte.####.exr"))
    a = json.loads(png.metrics_json.read_text())["weighted"]["summary"]
    b = json.loads(exr.metrics_json.read_text())["weighted"]["summary"]
    for m in a:  # the EXR's matte.A layer (float) against the same matte in 8 bits
        assert b[m]["psnr"] == pytest.approx(a[m]["psnr"], abs=0.05)
    sal = _run(project, tmp_path / "sal", weight_matte="saliency")
    doc = json.loads(sal.metrics_json.read_text())["weighted"]
    assert doc["weight_matte"] == "saliency"
    ref = io.read_image(project / "ref" / "ref.0002.exr").pixels
    src = io.read_image(project / "src" / "src.0002.exr").pixels
    row = next(f for f in doc["frames"] if f["frame"] == 2 and f["method"] == "source")
    assert row["psnr"] == pytest.approx(metrics.weighted_psnr(src, ref, saliency(ref)), abs=1e-9)


def test_a_missing_or_mis_sized_weight_matte_is_one_line(project, tmp_path):
    from core.errors import ImageError, SequenceError

    with pytest.raises(SequenceError, match=r"weight_matte .*missing frames"):
        _run(project, tmp_path / "a", weight_matte=str(project / "nothing" / "m.####.png"))
    io.write_image(tmp_path / "small" / "m.0001.png", np.ones((8, 8, 1), np.float32), colorspace="raw", bit_depth=8)
    for n in (2, 3):
        io.write_image(tmp_path / "small" / f"m.{n:04d}.png", np.ones((8, 8, 1), np.float32), colorspace="raw",
                       bit_depth=8)
    with pytest.raises(ImageError, match=r"m\.0001\.png: weight matte frame 1 is 8x8, the reference 96x64"):
        _run(project, tmp_path / "b", weight_matte=str(tmp_path / "small" / "m.####.png"))


def test_cli_weight_matte(project, tmp_path, capsys):
    from core.cli.main import main

    out = tmp_path / "cli"
    rc = main(["validate", "--source", str(project / "src" / "src.####.exr"), "--reference",
               str(project / "ref" / "ref.####.exr"), "--baselines", "", "--compare-frames", "0",
               "--weight-matte", "saliency", "--output-dir", str(out), "--quiet"])
    assert rc == 0 and json.loads((out / "metrics.json").read_text())["weighted"]["weight_matte"] == "saliency"


def test_the_vision_doc_commands_run(project, tmp_path, monkeypatch):
    """docs/vision.md's weighted validation: a matte of the reference by 'reelkit vision matte', then
    'reelkit validate --weight-matte' with it and with 'saliency', on the project's frames under the doc's
    names."""
    import shlex
    import shutil

    from core.cli.main import main
    from tests.test_docs_commands import doc_commands

    commands = [c for d, c in doc_commands() if d == "vision.md" and ("--weight-matte" in c or "ref.####" in c)]
    assert len(commands) == 3 and commands[0].startswith("vision matte")
    monkeypatch.chdir(tmp_path)
    for n in FRAMES:
        shutil.copy(project / "src" / f"src.{n:04d}.exr", f"scan.{n:04d}.exr")
        shutil.copy(project / "ref" / f"ref.{n:04d}.exr", f"ref.{n:04d}.exr")
    for command in commands:
        assert main([*shlex.split(command), "-q"]) == 0, command
    mattes = sorted((tmp_path / "mattes").glob("ref.matte.*.exr"))
    assert len(mattes) == 3 and "matte" in io.read_image(mattes[0]).layers
    for out, weights in (("val_subject", "mattes/ref.matte.####.exr"), ("val_saliency", "saliency")):
        doc = json.loads((tmp_path / out / "metrics.json").read_text())["weighted"]
        assert doc["weight_matte"].endswith(weights) and np.isfinite(doc["summary"]["source"]["psnr"])


def test_the_agent_reads_weight_mattes_within_its_roots_only(project, tmp_path):
    """The MCP validate tool: a matte outside the roots is refused naming weight_matte; a relative one is read
    from the root (not the server's working folder); 'saliency' is no path."""
    import shutil

    from core.agent.schema import FieldError
    from core.agent.service import Agent

    root = tmp_path / "root"
    shutil.copytree(project, root)
    agent = Agent([root])
    base = {"source": "src/src.####.exr", "reference": "ref/ref.####.exr", "baselines": "", "compare_frames": 0}
    with pytest.raises(FieldError) as err:
        agent.call("validate", {**base, "output_dir": "v0", "weight_matte": str(project / "matte" / "matte.####.png")})
    assert (err.value.code, err.value.field) == ("outside_roots", "weight_matte")
    for out, weights in (("v1", "matte/matte.####.png"), ("v2", "saliency")):
        assert "action" in agent.call("validate", {**base, "output_dir": out, "weight_matte": weights,
                                                   "plan_only": False})
        doc = json.loads((root / out / "metrics.json").read_text())["weighted"]
        assert doc["weight_matte"] == (str(root / weights) if weights != "saliency" else "saliency")
