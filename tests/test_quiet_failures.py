"""A failing command says one line and leaves nothing behind (issue 25 item 8).

Before: a truncated EXR printed OpenEXR's own two lines ("Warning: Exception raised reading pixel data..."
on stdout, "(EXR_ERR_BAD_CHUNK_LEADER) ..." on stderr) before reelkit's one-line error; a failed ``align``
left ``manifest.json`` in the folder it made.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.test_locks import make_plate, reelkit


def _truncated(tmp_path: Path) -> Path:
    pattern = make_plate(tmp_path / "in", 1)
    full = Path(pattern.replace("####", "1001"))
    cut = tmp_path / "in" / "cut.exr"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    return cut


def test_a_truncated_exr_is_one_line_with_the_library_reason(tmp_path):
    cut = _truncated(tmp_path)
    run = subprocess.run(reelkit("convert", str(cut), "x.png", "-o", str(tmp_path / "out"), "-q"),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith(f"reelkit convert: error: {cut}: truncated or corrupt OpenEXR file (its pixel data "
                               "cannot be read: (EXR_ERR_")  # the library's reason, quoted
    assert not (tmp_path / "out").exists()


def test_a_failed_align_leaves_no_folder(tmp_path, capsys):
    from core.cli.main import main

    cut = _truncated(tmp_path)
    source = tmp_path / "in" / "plate.1001.exr"
    out = tmp_path / "aligned"
    assert main(["align", "--source", str(source), "--reference", str(cut), "--output-dir", str(out), "-q"]) == 1
    assert "cut.exr: truncated or corrupt OpenEXR file" in capsys.readouterr().err
    assert not out.exists()  # was: aligned/manifest.json


def test_a_large_frame_shows_its_tiles_and_the_frame_bar_its_real_time(tmp_path):
    """Before: one large frame showed only 'infer: 1/1 [00:00<00:00, 123.96frame/s]' once it was done."""
    import json
    import re

    import cv2

    from core import io
    from tests.conftest import srgb_sample

    io.write_image(tmp_path / "big.exr", cv2.resize(srgb_sample("chelsea.png"), (902, 600)), colorspace="srgb")
    run = subprocess.run(reelkit("infer", "--model", "film_restore", str(tmp_path / "big.exr"), "--tile", "128",
                                 "-o", str(tmp_path / "out")), capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    tiles = json.loads((tmp_path / "out" / "manifest.json").read_text())["frames"]["big.exr"]["tiles"]
    shown = run.stderr.replace("\r", "\n")
    assert tiles > 100 and f"tiles:   0%|          | 0/{tiles}" in shown
    assert re.search(rf"tiles: +\d+%.*\| (\d+)/{tiles} ", shown)  # the bar moved inside the frame
    # the frames bar's clock started with the work: its rate is the frame's real time, not the instant after it
    last = [line for line in shown.splitlines() if line.startswith("infer: 100%")][-1]
    seconds = json.loads((tmp_path / "out" / "manifest.json").read_text())["frames"]["big.exr"]["seconds"]
    rate = re.search(r"([\d.]+)(s/frame|frame/s)\]", last)
    per_frame = float(rate.group(1)) if rate.group(2) == "s/frame" else 1 / float(rate.group(1))
    assert per_frame >= 0.9 * seconds, last


def test_captures_overlapping_in_two_threads_give_the_descriptors_back(capfd):
    """Found by README step 1 on a fresh clone: with EXR files read by several threads at once, two
    captures overlapped, the second one out put descriptors 1 and 2 back on the first one's (closed)
    temporary file, and nothing the process printed afterwards reached the terminal (the demo's stages 4-5
    and its result table)."""
    import threading

    from core.io._common import native_output_captured

    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    said: dict[str, list[str]] = {}

    def first():
        with native_output_captured() as lines:
            os.write(1, b"first block\n")
            a_in.set()
            assert b_in.wait(10)
        said["first"] = lines
        a_out.set()

    def second():
        assert a_in.wait(10)
        with native_output_captured() as lines:
            b_in.set()
            assert a_out.wait(10)  # the first block ends while this one is open
            os.write(2, b"second block\n")
        said["second"] = lines

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    os.write(1, b"after on stdout\n")
    os.write(2, b"after on stderr\n")
    out, err = capfd.readouterr()
    assert "after on stdout" in out and "after on stderr" in err
    assert "block" not in out + err
    assert said["first"] == ["first block"] and said["second"] == ["second block"]
