"""What a writing call will do, said before it runs, and the token that confirms it.

A :class:`Plan` lists the files a call reads, the files it writes (every
one: outputs and the manifest), those of them that exist now (``replaces``)
and the frame count. Its ``token`` is a hash of the tool, the checked
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

    @property
    def replaces(self) -> list[Path]:
        """The files written that exist now (kept as they are when resumed; moved aside for undo)."""
        return [p for p in self.writes if os.path.lexists(p)]

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

    @property
    def token(self) -> str:
        state = {}
        for p in self.replaces:
            st = os.stat(p)
            state[str(p)] = [st.st_size, st.st_mtime_ns]
        args = {k: v for k, v in self.arguments.items() if k not in CONTROL_ARGUMENTS}
        return config_hash({"tool": self.tool, "arguments": args, "writes": [str(p) for p in self.writes],
                            "replaces": state})[:16]

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "reads": [str(p) for p in self.reads],
            "writes": [str(p) for p in self.writes],
            "replaces": [str(p) for p in self.replaces],
            "frames": self.frames,
            "output_dir": None if self.output_dir is None else str(self.output_dir),
            "needs_confirm": bool(self.confirm_reasons),
            "confirm_reasons": list(self.confirm_reasons),
            "token": self.token,
            "note": self.note,
        }
