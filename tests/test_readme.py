"""The README's two fresh-machine commands are the ones CI and users run."""

import re

from tests.conftest import REPO


def _readme_commands():
    text = (REPO / "README.md").read_text("utf-8")
    section = text.split("## Fresh machine", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section, flags=re.S)


def test_readme_has_exactly_two_setup_commands():
    commands = _readme_commands()
    assert len(commands) == 2, commands
    assert all("\n" not in c for c in commands)
    assert "reelkit demo" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim():
    ci_lines = (REPO / ".ci" / "run").read_text("utf-8").splitlines()
    assert _readme_commands()[1] in ci_lines
