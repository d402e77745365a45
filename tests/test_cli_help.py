"""One CLI, one set of habits (issue 25 item 10): --output-dir required by every writing command, an unknown
option answered with the subcommand's usage, examples at the end of every --help that parse."""

from __future__ import annotations

import argparse
import shlex

import pytest

from core.cli.examples import EXAMPLES, examples
from core.cli.main import build_parser, main


def _leaves(parser, path=()):
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield " ".join(path), parser
    for action in subs:
        for name, child in action.choices.items():
            yield from _leaves(child, (*path, name))


LEAVES = dict(_leaves(build_parser()))


def test_every_subcommand_has_examples_that_parse(capsys):
    assert all(len(examples(leaf)) >= 2 for leaf in LEAVES), [leaf for leaf in LEAVES if len(examples(leaf)) < 2]
    registered = {leaf.split()[0] for leaf in LEAVES}
    for command, rows in EXAMPLES.items():
        if command.split()[0] not in registered:  # a command not in this build (yet)
            continue
        for example, what in rows:
            assert example.startswith(command + " ") and what, example
            try:
                args = build_parser().parse_args(shlex.split(example))
            except SystemExit:
                pytest.fail(f"`reelkit {example}` does not parse: {capsys.readouterr().err.strip()}")
            assert callable(args.func)


def test_help_ends_with_the_examples(capsys):
    with pytest.raises(SystemExit):
        main(["palette", "encode", "--help"])
    out = capsys.readouterr().out
    assert out.rstrip().endswith("one frame, twelve colours")
    assert "examples:\n  reelkit palette encode shot.####.exr --k 8 --shared-palette --output-dir palette\n" in out


@pytest.mark.parametrize("argv", [["convert", "a.exr", "b.png", "-o", "x", "--nope"],
                                  ["palette", "encode", "a.exr", "-o", "x", "--nope", "1"],
                                  ["dataset", "run", "a.mov", "-o", "x", "--sharpness", "3"]])
def test_an_unknown_option_shows_the_subcommand_usage(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    err = capsys.readouterr().err
    command = " ".join(a for a in argv[:2] if not a.endswith((".exr", ".mov")))
    assert stop.value.code == 2
    assert err.startswith(f"usage: reelkit {command} "), err  # was: the top-level usage, "reelkit [-h] ..."
    assert f"reelkit {command}: error: unrecognized arguments: {' '.join(argv[argv.index('x') + 1:])}" in err


def test_output_dir_is_required_by_every_command_that_writes(capsys):
    optional = sorted(name for name, p in LEAVES.items()
                      if any("--output-dir" in a.option_strings and not a.required for a in p._actions))
    # info writes nothing unless asked (info.json); demo names its own folder (demo_output)
    assert optional == ["demo", "info"]
    for argv in (["convert", "a.exr", "b.png"], ["degrade", "a.exr"], ["palette", "report", "a.exr"]):
        with pytest.raises(SystemExit):
            main(argv)  # was: written into the current folder
        assert "the following arguments are required: --output-dir/-o" in capsys.readouterr().err


def test_info_says_bit_depth_and_describes_a_video_by_a_representative_frame(tmp_path, capsys):
    """A clip that opens on black (a 12-frame fade in before 28 frames of opencv-doc's vtest.avi street scene):
    frame 0's stats said nothing about the picture."""
    import json
    from pathlib import Path

    import cv2
    import numpy as np

    from core import io

    vtest = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
    if not vtest.is_file():
        pytest.skip("opencv-doc's vtest.avi is not installed")
    src = cv2.VideoCapture(str(vtest))
    clip = tmp_path / "fade_in.avi"
    out = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (384, 288))
    means = []
    for i in range(40):
        frame = cv2.resize(src.read()[1], (384, 288), interpolation=cv2.INTER_AREA)
        frame = np.zeros_like(frame) if i < 12 else frame
        out.write(frame)
        means.append(frame.mean() / 255)
    out.release()
    assert main(["info", str(clip), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    # sampled at 10 %, 30 %, 50 %, 70 %, 90 % of 40 frames; 4 of 5 are the street, the median one is shown
    assert info["video"]["sampled"] == [4, 12, 20, 27, 35] and info["video"]["stats_of"] in (12, 20, 27, 35)
    mean = np.mean([info["stats"][c]["mean"] for c in "RGB"])
    assert abs(mean - means[info["video"]["stats_of"]]) < 0.01 and mean > 0.3  # frame 0: 0.0
    assert info["bit_depth"] == "8-bit integer (as decoded)"
    assert main(["info", str(clip)]) == 0
    assert f"stats of    frame {info['video']['stats_of']}, the median brightness of frames 4, 12, 20, 27, 35" in \
        capsys.readouterr().out
    # files: how their samples are stored
    io.write_image(tmp_path / "a.png", np.full((8, 8, 3), 0.5, np.float32), colorspace="srgb", bit_depth=16)
    io.write_image(tmp_path / "a.exr", np.full((8, 8, 3), 0.5, np.float32), colorspace="ACEScg")
    io.write_image(tmp_path / "a.tif", np.full((8, 8, 3), 0.5, np.float32), colorspace="ACEScg", bit_depth=32)
    for name, depth in (("a.png", "16-bit integer"), ("a.exr", "16-bit float (half)"), ("a.tif", "32-bit float")):
        assert main(["info", str(tmp_path / name), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["bit_depth"] == depth, name


def test_info_on_a_sequence_says_which_frame_its_stats_are_of(tmp_path, capsys):
    """A PNG sequence 1001-1010 that fades in from black: ``stats_of`` names the representative frame as a
    video's does (it was ``null``: a single file read from a sequence carries no frame number)."""
    import json

    import numpy as np

    from core import io
    from tests.conftest import srgb_sample

    photo = srgb_sample("coffee.png")[:48, :64]
    for i, n in enumerate(range(1001, 1011)):
        io.write_image(tmp_path / f"fade.{n}.png", photo * min(1.0, i / 4), colorspace="srgb", bit_depth=8)
    assert main(["info", str(tmp_path / "fade.####.png"), "--json"]) == 0
    seq = json.loads(capsys.readouterr().out)
    # sampled at 10 %, 30 %, 50 %, 70 %, 90 % of 10 frames; 1002 and 1004 are darker, the median is a full one
    assert seq["sequence"]["sampled"] == [1002, 1004, 1005, 1007, 1009]
    assert seq["sequence"]["stats_of"] in (1005, 1007, 1009)
    shown = io.read_image(tmp_path / f"fade.{seq['sequence']['stats_of']}.png").pixels
    assert abs(seq["stats"]["R"]["mean"] - float(shown[..., 0].mean())) < 1e-6
    assert main(["info", str(tmp_path / "fade.####.png")]) == 0
    assert (f"stats of    frame {seq['sequence']['stats_of']}, the median brightness of frames "
            "1002, 1004, 1005, 1007, 1009") in capsys.readouterr().out
