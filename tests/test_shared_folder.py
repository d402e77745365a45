"""A folder several jobs write into (issue 25 item 5), and a failed job's debris (item 8).

Before: converting ``a.exr`` then ``b.exr`` into ``previews/`` and running the ``a.exr`` command again failed
with "already exists (use --force)": the folder's one manifest only remembered the last job. A convert that
failed on a truncated EXR left ``manifest.json`` marked "failed" in a folder it wrote nothing to.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli.main import main
from tests.test_locks import make_plate


@pytest.fixture
def two_exrs(tmp_path):
    """a.exr and b.exr: two float EXRs of scikit-image's chelsea (ACEScg), from test_locks.make_plate."""
    pattern = make_plate(tmp_path / "in", 2)
    a, b = tmp_path / "in" / "a.exr", tmp_path / "in" / "b.exr"
    Path(pattern.replace("####", "1001")).rename(a)
    Path(pattern.replace("####", "1002")).rename(b)
    return a, b


def _convert(src: Path, out: Path, *extra: str) -> int:
    return main(["convert", str(src), src.stem + ".png", "--output-dir", str(out), "-q", *extra])


def test_an_earlier_identical_command_resumes_in_a_shared_folder(two_exrs, tmp_path, capsys):
    a, b = two_exrs
    out = tmp_path / "previews"
    assert _convert(a, out) == 0 and _convert(b, out) == 0
    made = (out / "a.png").stat().st_mtime_ns
    assert _convert(a, out) == 0, capsys.readouterr().err  # was: a.png already exists (use --force)
    data = json.loads((out / "manifest.json").read_text())
    assert data["frames"]["a.exr"].get("resumed") and (out / "a.png").stat().st_mtime_ns == made
    # the folder's manifest holds both jobs: a's (current) and b's (earlier), each once
    assert [j["config"]["input"] for j in data["jobs"]] == [str(b)]
    assert _convert(b, out) == 0 and _convert(a, out) == 0
    data = json.loads((out / "manifest.json").read_text())
    assert data["config"]["input"] == str(a) and [j["config"]["input"] for j in data["jobs"]] == [str(b)]
    # both jobs' files are verified, and still owned: another setting over b.png is refused, not b's job
    assert main(["verify", str(out), "-q"]) == 0
    assert _convert(b, out, "--bit-depth", "8") == 1
    assert "b.png" in capsys.readouterr().err
    (out / "b.png").write_bytes(b"x")  # damage b's output: verify names it from the earlier job's record
    assert main(["verify", str(out), "-q"]) == 1
    assert f"{out / 'b.png'}: size 1 bytes" in capsys.readouterr().out


def test_a_failed_convert_that_wrote_nothing_leaves_no_manifest(two_exrs, tmp_path, capsys):
    a, b = two_exrs
    bad = tmp_path / "in" / "cut.exr"
    bad.write_bytes(a.read_bytes()[: a.stat().st_size // 2])  # a truncated EXR
    fresh = tmp_path / "fresh"
    assert _convert(bad, fresh) == 1
    assert "cut.exr" in capsys.readouterr().err
    assert not fresh.exists()  # was: fresh/manifest.json marked "failed"
    # in a folder with earlier jobs, their manifest is put back as it was
    shared = tmp_path / "shared"
    assert _convert(a, shared) == 0
    before = (shared / "manifest.json").read_bytes()
    assert _convert(bad, shared) == 1
    assert (shared / "manifest.json").read_bytes() == before
    assert sorted(p.name for p in shared.iterdir()) == ["a.png", "manifest.json"]
    assert _convert(a, shared) == 0


def test_palette_report_writes_a_manifest_resumes_and_replaces_only_reports(two_exrs, tmp_path, capsys):
    a, b = two_exrs
    out = tmp_path / "report"
    argv = ["palette", "report", str(a), "--k", "4", "--output-dir", str(out)]
    assert main(argv) == 0
    data = json.loads((out / "manifest.json").read_text())  # was: no manifest
    assert data["command"] == "palette report" and data["status"] == "done" and str(a) in data["inputs"]
    assert sorted(data["frames"]["report"]["files"]["out"]) == ["luma_vs_palette.png", "metrics.json",
                                                                "swatches.png"]
    assert main(["verify", str(out), "-q"]) == 0
    made = (out / "metrics.json").stat().st_mtime_ns
    assert main(argv) == 0  # the same command resumes (was: "already exists (use --force)")
    assert (out / "metrics.json").stat().st_mtime_ns == made
    assert json.loads((out / "manifest.json").read_text())["frames"]["report"]["resumed"]
    assert main([*argv[:2], str(b), *argv[3:]]) == 0  # another report's files too: the same command owns them
    data = json.loads((out / "manifest.json").read_text())
    assert data["config"]["input"] == str(b) and [j["config"]["input"] for j in data["jobs"]] == [str(a)]
    foreign = tmp_path / "other"
    foreign.mkdir()
    (foreign / "metrics.json").write_text("{}")
    assert main(["palette", "report", str(a), "--k", "4", "--output-dir", str(foreign)]) == 1
    assert "metrics.json: already exists and was not made by this job" in capsys.readouterr().err
    assert sorted(p.name for p in foreign.iterdir()) == ["metrics.json"]  # no manifest left by the refusal
