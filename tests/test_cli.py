"""The ``reelkit`` CLI on real files: convert, info, errors, resume, --force."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from core import io
from core.cli.main import main
from tests.conftest import REPO, srgb_sample


def _plate(tmp_path, n=3, first=1001, nan_frame=None):
    """A tiny ACEScg EXR sequence made from a real photo (sRGB decoded, OCIO-converted)."""
    import PyOpenColorIO as OCIO

    cfg = OCIO.Config.CreateFromFile("ocio://cg-config-latest")
    cpu = cfg.getProcessor("sRGB Encoded Rec.709 (sRGB)", "ACEScg").getDefaultCPUProcessor()
    base = np.ascontiguousarray(srgb_sample("chelsea.png")[::4, ::4])
    cpu.applyRGB(base)
    pattern = str(tmp_path / "in" / "plate.####.exr")
    for i in range(n):
        px = base * (1.0 + 0.1 * i)
        if nan_frame == first + i:
            px = px.copy()
            px[5, 7, 1] = np.nan
        io.write_image(io.sequence_path(pattern, first + i), px, colorspace="ACEScg", pixel_type="float")
    return pattern


def _ocio_srgb(pixels):
    import PyOpenColorIO as OCIO

    cfg = OCIO.Config.CreateFromFile("ocio://cg-config-latest")
    out = np.ascontiguousarray(pixels.copy())
    cfg.getProcessor("ACEScg", "sRGB Encoded Rec.709 (sRGB)").getDefaultCPUProcessor().applyRGB(out)
    return out


def test_convert_sequence_matches_ocio_and_writes_manifest(tmp_path, capsys):
    pattern = _plate(tmp_path)
    out_dir = tmp_path / "out"
    rc = main(["convert", pattern, "view.####.exr", "--to", "srgb", "--pixel-type", "float",
               "--output-dir", str(out_dir), "--quiet"])
    assert rc == 0
    for n in (1001, 1002, 1003):
        src = io.read_image(io.sequence_path(pattern, n))
        got = io.read_image(out_dir / f"view.{n}.exr")
        assert got.colorspace == "srgb"
        np.testing.assert_allclose(got.pixels, _ocio_srgb(src.pixels), atol=2e-4)
    manifest = json.loads((out_dir / "manifest.json").read_text())
    assert manifest["status"] == "done"
    assert manifest["parameters"]["target"] == "srgb"
    assert set(manifest["frames"]) == {"1001", "1002", "1003"}
    from core.manifest import file_sha256

    assert manifest["frames"]["1002"]["sha256"] == file_sha256(io.sequence_path(pattern, 1002))


def test_rerun_resumes_and_force_redoes(tmp_path, capsys):
    pattern = _plate(tmp_path)
    out_dir = tmp_path / "out"
    args = ["convert", pattern, "v.####.png", "--to", "srgb", "--output-dir", str(out_dir), "-q"]
    assert main(args) == 0
    first = out_dir / "v.1001.png"
    os.utime(first, (1, 1))
    assert main(args) == 0  # same config: resume, nothing rewritten
    assert first.stat().st_mtime == 1
    manifest = json.loads((out_dir / "manifest.json").read_text())
    assert all(rec.get("resumed") for rec in manifest["frames"].values())
    assert main(args + ["--force"]) == 0
    assert first.stat().st_mtime > 1


def test_different_parameters_refuse_to_overwrite(tmp_path, capsys):
    pattern = _plate(tmp_path)
    out_dir = tmp_path / "out"
    assert main(["convert", pattern, "v.####.png", "--to", "srgb", "-o", str(out_dir), "-q"]) == 0
    before = (out_dir / "v.1002.png").read_bytes()
    capsys.readouterr()
    rc = main(["convert", pattern, "v.####.png", "--to", "lin_rec709", "-o", str(out_dir), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1
    assert "already exists" in err[0] and "--force" in err[0]
    assert (out_dir / "v.1002.png").read_bytes() == before


def test_nan_pixel_is_named_and_earlier_outputs_kept(tmp_path, capsys):
    pattern = _plate(tmp_path, nan_frame=1002)
    out_dir = tmp_path / "out"
    rc = main(["convert", pattern, "v.####.exr", "--to", "srgb", "-o", str(out_dir), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1
    assert "plate.1002.exr" in err[0] and "NaN" in err[0]
    assert (out_dir / "v.1001.exr").exists() and not (out_dir / "v.1002.exr").exists()
    assert not [p for p in out_dir.iterdir() if ".tmp" in p.name]
    # the same command again resumes frame 1001 and stops at 1002 again
    os.utime(out_dir / "v.1001.exr", (1, 1))
    assert main(["convert", pattern, "v.####.exr", "--to", "srgb", "-o", str(out_dir), "-q"]) == 1
    assert (out_dir / "v.1001.exr").stat().st_mtime == 1
    # other parameters never replace earlier outputs silently; --force with --nonfinite pass goes through
    args = ["convert", pattern, "v.####.exr", "--to", "srgb", "-o", str(out_dir), "-q", "--nonfinite", "pass"]
    assert main(args) == 1
    assert main(args + ["--force"]) == 0
    assert np.isnan(io.read_image(out_dir / "v.1002.exr").pixels[5, 7, 1])


def test_frame_range_and_gap_errors(tmp_path, capsys):
    pattern = _plate(tmp_path, n=4)
    os.remove(io.sequence_path(pattern, 1003))
    out_dir = tmp_path / "out"
    assert main(["convert", pattern, "v.####.png", "--frames", "1001-1002", "-o", str(out_dir), "-q"]) == 0
    assert sorted(p.name for p in out_dir.glob("v.*.png")) == ["v.1001.png", "v.1002.png"]
    assert (out_dir / "manifest.frames-1001-1002.json").exists()
    capsys.readouterr()
    rc = main(["convert", pattern, "w.####.png", "-o", str(out_dir), "-q"])
    err = capsys.readouterr().err
    assert rc == 1 and "1003" in err


@pytest.mark.parametrize("argv, needle", [
    (["convert", "nope.exr", "x.png"], "nope.exr"),
    (["convert", "{plate}", "x.####.png", "--to", "Rec2020"], "Rec2020"),
    (["info", "missing.exr"], "missing.exr"),
])
def test_bad_input_one_clear_line(tmp_path, capsys, argv, needle):
    pattern = _plate(tmp_path, n=1)
    argv = [a.replace("{plate}", pattern) for a in argv] + ["-o", str(tmp_path / "o")] if argv[0] == "convert" else argv
    capsys.readouterr()
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse rejects invalid choices itself (exit 2)
        rc = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0
    assert needle in err[-1]


def test_info_reports_stats_and_nans(tmp_path, capsys):
    px = np.zeros((4, 5, 4), np.float32)
    px[..., 0] = 2.5
    px[1, 1, 1] = np.nan
    px[2, 2, 2] = np.inf
    path = tmp_path / "a.exr"
    io.write_image(path, px, colorspace="ACES2065-1", pixel_type="float")
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["width"], info["height"], info["channels"]) == (5, 4, ["R", "G", "B", "A"])
    assert info["colorspace"] == "ACES2065-1" and info["colorspace_source"] == "header"
    assert info["stats"]["R"]["max"] == 2.5 and info["nan_count"] == 1 and info["inf_count"] == 1
    assert main(["info", str(path)]) == 0
    table = capsys.readouterr().out
    assert "5 x 4" in table and "NaN count   1" in table


def test_console_script_progress_on_stderr(tmp_path):
    pattern = _plate(tmp_path, n=2)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    res = subprocess.run([sys.executable, "-m", "core.cli.main", "convert", pattern, "v.####.png",
                          "-o", str(tmp_path / "o")], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "convert" in res.stderr and "2/2" in res.stderr


@pytest.mark.parametrize("command", ["info", "convert", "degrade", "pairs", "align", "palette", "demo"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert "usage: reelkit " + command in capsys.readouterr().out


def test_degrade_cli_is_seeded_and_records_the_seed(tmp_path):
    pattern = _plate(tmp_path, n=2)
    for name in ("a", "b"):
        assert main(["degrade", pattern, "d.####.exr", "--preset", "faded_16mm", "--seed", "7",
                     "-o", str(tmp_path / name), "-q"]) == 0
    a = io.read_image(tmp_path / "a" / "d.1002.exr").pixels
    b = io.read_image(tmp_path / "b" / "d.1002.exr").pixels
    assert np.array_equal(a, b)
    assert not np.allclose(a, io.read_image(io.sequence_path(pattern, 1002)).pixels, atol=1e-3)
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["seed"] == 7 and manifest["preset"] == "faded_16mm"
    # an explicit effect option overrides the preset and changes the result
    assert main(["degrade", pattern, "d.####.exr", "--preset", "faded_16mm", "--seed", "7", "--grain-intensity", "0",
                 "-o", str(tmp_path / "c"), "-q"]) == 0
    assert not np.array_equal(a, io.read_image(tmp_path / "c" / "d.1002.exr").pixels)


def test_align_cli_recovers_a_known_shift_and_reports_failures(tmp_path, capsys):
    from scipy import ndimage

    from core import color

    src = color.convert(srgb_sample("coffee.png")[::2, ::2], "srgb", "ACEScg")
    ref = ndimage.shift(src, (1.5, -2.25, 0), order=3, mode="nearest").astype(np.float32)
    flat = np.full_like(src, 0.18)
    for n, (s, r) in {1001: (src, ref), 1002: (src, flat)}.items():
        io.write_image(tmp_path / f"src.{n}.exr", s, colorspace="ACEScg", pixel_type="float")
        io.write_image(tmp_path / f"ref.{n}.exr", r, colorspace="ACEScg", pixel_type="float")
    out = tmp_path / "al"
    rc = main(["align", "--source", str(tmp_path / "src.####.exr"), "--reference", str(tmp_path / "ref.####.exr"),
               "--method", "global", "-o", str(out), "-q"])
    assert rc == 0
    err = capsys.readouterr().err
    assert "frame 1002 not aligned" in err
    manifest = json.loads((out / "manifest.json").read_text())
    t = np.asarray(manifest["frames"]["1001"]["transform"])
    # transform maps source pixels to reference pixels: the reference is the source moved by (+1.5 y, -2.25 x)
    assert abs(t[0][2] - (-2.25)) < 0.05 and abs(t[1][2] - 1.5) < 0.05
    aligned = io.read_image(out / "aligned" / "ref.1001.exr").pixels
    inner = (slice(8, -8), slice(8, -8))
    before = np.abs(ref[inner] - src[inner]).mean()
    assert np.abs(aligned[inner] - src[inner]).mean() < 0.25 * before  # what is left is resampling blur
    assert manifest["frames"]["1002"]["converged"] is False


def test_info_on_a_real_video(tmp_path, capsys):
    import cv2

    photo = (srgb_sample("coffee.png")[:96, :128] * 255).astype(np.uint8)[..., ::-1]
    writer = cv2.VideoWriter(str(tmp_path / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 24, (128, 96))
    for i in range(6):
        writer.write(np.ascontiguousarray(np.roll(photo, i, axis=1)))
    writer.release()
    assert main(["info", str(tmp_path / "clip.avi"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["width"], info["height"]) == (128, 96) and info["video"]["frames"] == 6
    assert info["video"]["fps"] == 24 and info["colorspace"] == "srgb"
    assert abs(info["stats"]["R"]["mean"] - photo[..., 2].mean() / 255) < 0.02


def test_ctrl_c_while_the_commands_load_is_one_line(monkeypatch, capsys):
    """build_parser imports every command's module (torch-free but not instant): a Ctrl-C there was a
    traceback and an exit by signal; it is one line and 130 like a Ctrl-C during the work."""
    import core.cli.main as cli

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert cli.main(["info", "x.exr"]) == 130
    assert capsys.readouterr().err == "reelkit: interrupted\n"
