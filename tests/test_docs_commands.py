"""Docs that cannot drift (issue #25 item 9): every ``reelkit ...`` command in docs/*.md and README.md.

Every command shown in a code block is parsed by the real ``reelkit`` parser (a renamed flag or choice fails
here); every option named in backticks in the prose exists on some subcommand; and the commands that read
only a file or sequence (or nothing: generate) run for real in a temporary folder holding files of the names
the docs use, made from the shipped photos. Commands that need trained models, video pairs or a demo project
are parsed, not run (they have their own tests: test_demo, test_pipeline_project, test_cli_train_infer, test_dataset_*).
"""

from __future__ import annotations

import re
import shlex

import pytest

from core.cli.main import build_parser, main
from tests.conftest import REPO

DOCS = sorted(REPO.glob("docs/*.md")) + [REPO / "README.md"]


def doc_commands() -> list[tuple[str, str]]:
    """(doc name, argument string) of every ``reelkit`` command in a fenced non-Python code block."""
    found = []
    for path in DOCS:
        fence, lines = None, []
        for line in path.read_text("utf-8").splitlines():
            stripped = line.strip()
            if stripped.startswith("```"):
                if fence is None:
                    fence, lines = stripped[3:].strip(), []
                    continue
                if fence not in ("python", "py"):
                    text = re.sub(r"\\\n\s*", " ", "\n".join(lines))
                    for command in text.splitlines():
                        for part in command.split("&&"):
                            m = re.match(r"^(?:\S*/)?reelkit\s+(.*)$", part.strip())
                            if m:
                                found.append((path.name, m.group(1).split(" #", 1)[0].strip()))
                fence = None
            elif fence is not None:
                lines.append(line)
    return found


COMMANDS = doc_commands()


def _subparsers(parser):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield sub
                yield from _subparsers(sub)


def all_options() -> set[str]:
    return {flag for sub in _subparsers(build_parser()) for a in sub._actions for flag in a.option_strings}


def test_the_docs_show_commands():
    assert len(COMMANDS) >= 30
    assert {c.split()[0] for _, c in COMMANDS} >= {"info", "convert", "degrade", "pairs", "align", "palette",
                                                   "train", "infer", "validate", "restore", "dataset", "demo"}


@pytest.mark.parametrize("doc,command", COMMANDS, ids=[f"{d}:{c[:40]}" for d, c in COMMANDS])
def test_doc_command_parses(doc, command, capsys):
    try:
        args = build_parser().parse_args(shlex.split(command))
    except SystemExit:
        pytest.fail(f"{doc}: `reelkit {command}` does not parse: {capsys.readouterr().err.strip()}")
    assert callable(args.func)


#: A span in backticks that is another tool's command line (its options are not reelkit's).
FOREIGN_COMMAND = re.compile(r"^(?:\S*/)?(?:pip|python\d?(?:\.\d+)?|pytest|nuke|torchrun)\b")


def test_every_option_named_in_the_docs_exists():
    known = all_options()
    missing = []
    for path in DOCS:
        for span in re.findall(r"`([^`\n]+)`", path.read_text("utf-8")):
            if FOREIGN_COMMAND.match(span):
                continue
            for flag in re.findall(r"(?:^|\s)(--[a-z][a-z0-9-]*)", span):
                if flag not in known:
                    missing.append(f"{path.name}: {flag}")
    assert not missing, "options the CLI does not have: " + ", ".join(missing)


# --------------------------------------------------------------------------- run the commands that need only images


def _make_inputs(folder, command: str) -> None:
    """Files of the names ``command`` reads, from the shipped photos: a file, frames 1001-1003 of a sequence, or
    a 3-frame video (MJPG, written by OpenCV)."""
    import cv2
    import numpy as np

    from core import color, io
    from core.frame import Frame
    from core.io import samples

    photo = color.convert_frame(samples.load_sample("chelsea.png"), "ACEScg").pixels[100:164, 150:246]
    for token in shlex.split(command)[1:]:
        if token.startswith("-") or "." not in token or token.startswith("demo_output"):
            continue
        if io.is_video_file(token):
            bgr = np.rint(np.clip(color.convert_frame(Frame(photo, "ACEScg"), "srgb").pixels, 0, 1) * 255)
            writer = cv2.VideoWriter(str(folder / token), cv2.VideoWriter_fourcc(*"MJPG"), 24.0,
                                     (bgr.shape[1], bgr.shape[0]))
            for i in range(3):
                writer.write(np.ascontiguousarray(np.roll(bgr, 2 * i, axis=1).astype(np.uint8)[..., ::-1]))
            writer.release()
            break
        names = ([io.sequence_path(token, n) for n in (1001, 1002, 1003)] if io.is_sequence_pattern(token)
                 else [token])
        for i, name in enumerate(names):
            target = folder / name
            if target.suffix == ".exr" and not target.exists():
                io.write_image(target, np.roll(photo, 2 * i, axis=1), colorspace="ACEScg")
        break  # the first path is the input; later ones are outputs


RUNNABLE = [(d, c) for d, c in COMMANDS
            if c.split()[0] in ("info", "convert", "degrade", "generate") and "demo_output" not in c]


@pytest.mark.parametrize("doc,command", RUNNABLE, ids=[f"{d}:{c[:40]}" for d, c in RUNNABLE])
def test_doc_command_runs(doc, command, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    # absolute paths of the docs (/shots/x/...) go inside the temporary folder: nothing is written outside it
    command = re.sub(r"(?<=\s)/", "./", command)
    _make_inputs(tmp_path, command)
    argv = shlex.split(command)
    if "--frames" in argv:  # the docs' ranges are long shots; three frames show the command works
        argv[argv.index("--frames") + 1] = "1001-1003"
    if argv[0] != "info":
        argv.append("-q")
    assert main(argv) == 0, f"{doc}: `reelkit {command}` failed: {capsys.readouterr().err.strip()}"
    if "--output-dir" in argv:  # the job finished and recorded its frames
        out = tmp_path / argv[argv.index("--output-dir") + 1]
        made = [p for p in out.glob("*.*") if not p.name.startswith("manifest")]  # images, or a preset file
        assert any(out.glob("manifest*.json")) and any(p.suffix in (".exr", ".png", ".json") for p in made)
