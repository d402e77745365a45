"""What a writing call will do, said before it runs, and the token that confirms it.

A :class:`Plan` lists the files a call reads, the files it writes (every
one: outputs and the manifest), those of them that exist now (``replaces``)
and the frame count. A call that may empty a folder before it writes there
(a restoration stage redone from scratch) names it in ``clears``: every
file now in it is in ``replaces`` (kept aside for undo), and every file the
call writes there is still in ``writes``. A call whose files depend on what
an earlier step of the same call finds (a restoration stage after one that
runs first, a dataset's kept frames) names the ``folders`` it writes within
instead: every file in them may be written, replaced or removed, so every
one that exists now is in ``replaces``. Its ``token`` is a hash of the tool, the checked
arguments, the files written and the size and modification time of the
files replaced: the same call on an unchanged folder gives the same token
(after a server restart too), and a token stops confirming as soon as the
arguments or the files it would replace change.

A call needs ``confirm=<token>`` when it is destructive (``force`` over
existing files) or long (more frames than the server's ``confirm_frames``).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from core.params import config_hash

#: The agent's own folder (journal, tasks, undo copies) wherever it lies: never part of a call's files.
FOLDER = ".reelkit"


def _bookkeeping(rel: Path) -> bool:
    """A path (relative to a folder a call writes within) that is the agent's own or a job's lock."""
    return FOLDER in rel.parts or rel.suffix == ".lock"

#: Arguments that steer the call, not the work: left out of the token.
CONTROL_ARGUMENTS = ("plan_only", "confirm", "background")


@dataclasses.dataclass
class Plan:
    """The files a call reads and writes, the frames it makes, and why it needs confirming (if it does)."""

    tool: str
    arguments: dict[str, Any]
    reads: list[Path]
    writes: list[Path]
    frames: int
    output_dir: Path | None = None
    note: str = ""
    confirm_reasons: list[str] = dataclasses.field(default_factory=list)
    #: Folders the call writes within, beyond the files in ``writes`` (see the module).
    folders: list[Path] = dataclasses.field(default_factory=list)
    #: Why the call needs confirming besides force and frames (training...), given by the tool.
    long_reasons: list[str] = dataclasses.field(default_factory=list)
    #: Folders the call may empty before writing its files in them (see the module).
    clears: list[Path] = dataclasses.field(default_factory=list)

    @property
    def replaces(self) -> list[Path]:
        """The files written that exist now, and every file now in :attr:`folders` and :attr:`clears` (kept as
        they are when resumed; copied aside for undo)."""
        out = [p for p in self.writes if os.path.lexists(p)]
        listed = set(out)
        for folder in [*self.folders, *self.clears]:
            found = [p for p in sorted(folder.rglob("*")) if p not in listed and p.is_file()
                     and not _bookkeeping(p.relative_to(folder))]
            out += found
            listed.update(found)
        return out

    @property
    def creates(self) -> list[Path]:
        return [p for p in self.writes if not os.path.lexists(p)]

    def judge(self, *, confirm_frames: int) -> None:
        """Fill :attr:`confirm_reasons`: force over existing files; more than ``confirm_frames`` frames."""
        self.confirm_reasons = []
        replaced = self.replaces
        if self.arguments.get("force") and replaced:
            self.confirm_reasons.append(f"force replaces {len(replaced)} existing file(s)")
        if self.frames > confirm_frames:
            self.confirm_reasons.append(f"{self.frames} frames is more than {confirm_frames}")
        self.confirm_reasons += self.long_reasons

    @property
    def token(self) -> str:
        state = {}
        for p in self.replaces:
            st = os.stat(p)
            state[str(p)] = [st.st_size, st.st_mtime_ns]
        args = {k: v for k, v in self.arguments.items() if k not in CONTROL_ARGUMENTS}
        return config_hash({"tool": self.tool, "arguments": args, "writes": [str(p) for p in self.writes],
                            "within": [str(p) for p in self.folders], "clears": [str(p) for p in self.clears],
                            "replaces": state})[:16]

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "reads": [str(p) for p in self.reads],
            "writes": [str(p) for p in self.writes],
            "writes_within": [str(p) for p in self.folders],
            "clears": [str(p) for p in self.clears],
            "replaces": [str(p) for p in self.replaces],
            "frames": self.frames,
            "output_dir": None if self.output_dir is None else str(self.output_dir),
            "needs_confirm": bool(self.confirm_reasons),
            "confirm_reasons": list(self.confirm_reasons),
            "token": self.token,
            "note": self.note,
        }
