"""Resume trusts content, not names (issue 15, item 4).

Before: a replaced input frame kept its old output ("converted 0 frame(s),
10 already done") and the manifest its old sha256; an output truncated to
1000 bytes was kept; deleted ``dataset/images`` files were "up to date".
Now each frame records the size, mtime and sha256 of what it read and
wrote, a re-run redoes exactly the frames whose files changed, and
``reelkit verify DIR`` re-hashes everything and names each mismatch.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from core.cli.main import main
from tests.test_locks import make_plate

COMMANDS = {
    "convert": lambda pattern, out: ["convert", pattern, "c.####.png", "--from", "ACEScg", "--to", "srgb",
                                     "-o", str(out)],
    "degrade": lambda pattern, out: ["degrade", pattern, "d.####.exr", "--preset", "faded_16mm", "--seed", "7",
                                     "-o", str(out)],
}


def _outputs(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.name[:2] in ("c.", "d.")}


def _run(argv, capsys) -> str:
    assert main([*argv, "-q"] if "-q" not in argv else argv) == 0
    manifest = json.loads((Path(argv[argv.index("-o") + 1]) / "manifest.json").read_text())
    return ",".join(sorted(k for k, r in manifest["frames"].items() if not r.get("resumed")))


@pytest.fixture
def job(tmp_path, request):
    """A finished 5-frame job of the command named by the test's parameter: (argv, input pattern, out, bytes)."""
    pattern = make_plate(tmp_path / "in", 5)
    out = tmp_path / "out"
    argv = COMMANDS[request.param](pattern, out)
    assert main([*argv, "-q"]) == 0
    return argv, pattern, out, _outputs(out)


@pytest.mark.parametrize("job", list(COMMANDS), indirect=True)
def test_a_replaced_input_frame_is_redone_and_recorded(job, capsys, tmp_path):
    argv, pattern, out, before = job
    src = Path(pattern.replace("####", "1002"))
    shutil.copyfile(pattern.replace("####", "1004"), src)  # same size, other picture
    assert main(["verify", str(out), "-q"]) == 1
    assert str(src) in capsys.readouterr().out
    assert _run(argv, capsys) == "1002"
    after = _outputs(out)
    changed = sorted(k for k in after if after[k] != before[k])
    assert len(changed) == 1 and "1002" in changed[0]
    # the redone frame equals a fresh run on the new input
    fresh = tmp_path / "fresh"
    assert main([*argv[:argv.index("-o")], "-o", str(fresh), *argv[argv.index("-o") + 2:], "-q"]) == 0
    assert _outputs(fresh) == after
    manifest = json.loads((out / "manifest.json").read_text())
    from core.manifest import file_sha256
    assert manifest["frames"]["1002"]["sha256"] == manifest["inputs"][str(src)] == file_sha256(src)
    assert main(["verify", str(out), "-q"]) == 0


@pytest.mark.parametrize("job", list(COMMANDS), indirect=True)
@pytest.mark.parametrize("damage", ["truncate", "delete"])
def test_a_truncated_or_deleted_output_is_redone_byte_identical(job, damage, capsys):
    argv, _, out, before = job
    victim = sorted(p for p in out.iterdir() if p.name in before)[2]
    if damage == "truncate":
        with open(victim, "r+b") as fh:
            fh.truncate(1000)
    else:
        victim.unlink()
    assert main(["verify", str(out)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith(str(victim))
    assert ("size 1000 bytes" if damage == "truncate" else "missing") in lines[0]
    assert _run(argv, capsys) == "1003"
    assert _outputs(out) == before


@pytest.mark.parametrize("job", ["convert"], indirect=True)
def test_a_touched_input_with_the_same_content_is_not_redone(job, capsys):
    argv, pattern, out, before = job
    src = pattern.replace("####", "1001")
    os.utime(src, ns=(1, 1))  # mtime changed, bytes not: hashed and found the same
    assert _run(argv, capsys) == ""
    assert _outputs(out) == before


def test_verify_a_clean_folder_and_refusals(tmp_path, capsys):
    pattern = make_plate(tmp_path / "in", 2)
    out = tmp_path / "out"
    assert main([*COMMANDS["convert"](pattern, out), "-q"]) == 0
    assert main(["verify", str(out)]) == 0
    cap = capsys.readouterr()
    assert cap.out == "" and "4 file(s) checked, 0 mismatch(es)" in cap.err  # 2 inputs, 2 outputs
    assert main(["verify", str(tmp_path / "in")]) == 1
    assert "no reelkit manifest found" in capsys.readouterr().out
    assert main(["verify", str(tmp_path / "nowhere")]) == 1
    assert "nowhere: no such folder" in capsys.readouterr().err


def test_a_deleted_dataset_image_redoes_assemble_only_and_verify_names_it(tmp_path, capsys):
    from core.dataset import STAGES, run_dataset
    from tests.test_dataset_footage import make_footage
    from tests.test_dataset_builder import PARAMS

    footage = make_footage(tmp_path / "footage")
    out = tmp_path / "ds"
    run_dataset(footage.videos, out, PARAMS)
    images = sorted((out / "dataset").rglob("*.png"))
    victim = next(p for p in images if "report" not in p.parts)
    before = {p: p.read_bytes() for p in images}
    victim.unlink()
    assert main(["verify", str(out), "-q"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{victim}: missing")
    summary = run_dataset(footage.videos, out, PARAMS)
    assert {s: v["status"] for s, v in summary.items()} == {**{s: "up to date" for s in STAGES}, "assemble": "done"}
    assert {p: p.read_bytes() for p in sorted((out / "dataset").rglob("*.png"))} == before
    assert main(["verify", str(out), "-q"]) == 0
