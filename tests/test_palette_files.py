"""Palette file jobs and the ``reelkit palette`` CLI on real files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core import color, io
from core.cli.main import main
from core.palette import unpack, unpack_exr
from core.palette.files import decode_files, encode_files, report
from tests.conftest import SAMPLES, srgb_sample


def _shot(tmp_path, n=3, first=1001):
    """A short ACEScg EXR shot: a real photo drifting and brightening."""
    base = color.convert(srgb_sample("rocket.jpg")[::4, ::4], "srgb", "ACEScg")
    pattern = str(tmp_path / "shot" / "shot.####.exr")
    for i in range(n):
        px = np.roll(base, 3 * i, axis=1) * (1.0 + 0.05 * i)
        io.write_image(io.sequence_path(pattern, first + i), px, colorspace="ACEScg", pixel_type="float")
    return pattern


def test_encode_writes_layers_and_packs_that_agree(tmp_path):
    pattern = _shot(tmp_path)
    out = tmp_path / "enc"
    manifest = encode_files(pattern, output_dir=out, params={"k": 6, "seed": 3})
    for n in (1001, 1002, 1003):
        exr = io.read_image(out / f"shot.{n}.exr")
        assert set(exr.layers) >= {"palette_index", "palette_gradient", "palette_distance"}
        from_exr = unpack_exr(out / f"shot.{n}.exr")
        from_pack = unpack(out / "packs" / f"shot.{n}.npz")
        assert np.array_equal(from_exr.index, from_pack.index)
        np.testing.assert_allclose(exr.pixels, from_pack.decode(), rtol=1e-3, atol=1e-4)  # half EXR
        g = exr.layers["palette_gradient"][..., 0]
        assert 0.0 <= g.min() and g.max() <= 1.0
        rec = manifest.data["frames"][str(n)]
        assert len(rec["palette_acescg"]) == 6 and abs(sum(rec["shares"]) - 1) < 1e-4
        assert rec["error"]["de2000_mean"] > 0 and rec["pack_bytes"] < rec["source_bytes"]
    stab = manifest.data["stability"]
    assert stab["frames"] == ["1001", "1002", "1003"] and len(stab["distances"]) == 2
    assert json.loads((out / "manifest.json").read_text())["seed"] == 3


def test_shared_palette_is_identical_across_frames_and_frame_range_jobs(tmp_path):
    pattern = _shot(tmp_path)
    full = encode_files(pattern, output_dir=tmp_path / "full", params={"k": 5, "shared": True})
    palettes = [r["palette_acescg"] for r in full.data["frames"].values()]
    assert palettes[0] == palettes[1] == palettes[2]
    assert full.data["stability"]["max"] == 0.0 and full.data["stability"]["stable"]
    # a farm split: two range jobs into one folder give the same palette and the same bits
    split = tmp_path / "split"
    encode_files(pattern, output_dir=split, params={"k": 5, "shared": True}, frames="1001-1002")
    encode_files(pattern, output_dir=split, params={"k": 5, "shared": True}, frames="1003")
    for n in (1001, 1002, 1003):
        a = io.read_image(tmp_path / "full" / f"shot.{n}.exr")
        b = io.read_image(split / f"shot.{n}.exr")
        assert np.array_equal(a.layers["palette_index"], b.layers["palette_index"])
        assert np.array_equal(a.pixels, b.pixels)


def test_decode_restores_the_reconstruction(tmp_path):
    pattern = _shot(tmp_path, n=2)
    out = tmp_path / "enc"
    encode_files(pattern, output_dir=out, params={"k": 4})
    decode_files(str(out / "packs" / "shot.####.npz"), "dec.####.exr", output_dir=tmp_path / "dec",
                 pixel_type="float")
    for n in (1001, 1002):
        pack = unpack(out / "packs" / f"shot.{n}.npz")
        dec = io.read_image(tmp_path / "dec" / f"dec.{n}.exr")
        assert dec.colorspace == "ACEScg"
        assert np.array_equal(dec.pixels, pack.decode())


def test_report_pictures_and_metrics(tmp_path):
    metrics = report(str(SAMPLES / "coffee.png"),
                     output_dir=tmp_path / "rep", params={"k": 8})
    for name in ("swatches.png", "luma_vs_palette.png", "metrics.json"):
        assert (tmp_path / "rep" / name).stat().st_size > 0
    swatches = io.read_image(tmp_path / "rep" / "swatches.png")
    assert swatches.width == 8 * 96
    assert metrics["palette"]["k"] == 8 and 0 < metrics["error"]["de2000_mean"] < 10
    assert metrics["pack_ratio_to_source"] < 1.0
    made = (tmp_path / "rep" / "metrics.json").stat().st_mtime_ns
    assert report(str(SAMPLES / "coffee.png"), output_dir=tmp_path / "rep", params={"k": 8}) == metrics  # resumed
    assert (tmp_path / "rep" / "metrics.json").stat().st_mtime_ns == made
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "swatches.png").write_bytes(b"not ours")
    with pytest.raises(FileExistsError):
        report(str(SAMPLES / "coffee.png"), output_dir=tmp_path / "other", params={"k": 8})


def test_cli_encode_and_refusals(tmp_path, capsys):
    pattern = _shot(tmp_path, n=2)
    assert main(["palette", "encode", pattern, "--k", "4", "--shared-palette", "-o", str(tmp_path / "o"), "-q"]) == 0
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["parameters"]["shared"] is True and manifest["parameters"]["k"] == 4
    capsys.readouterr()
    assert main(["palette", "encode", pattern, "--k", "300", "-o", str(tmp_path / "p"), "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'k'" in err[0] and "256" in err[0]
    flat = tmp_path / "flat.exr"
    io.write_image(flat, np.full((16, 16, 3), 0.18, np.float32), colorspace="ACEScg")
    assert main(["palette", "encode", str(flat), "--k", "8", "-o", str(tmp_path / "q"), "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "distinct" in err[0]
