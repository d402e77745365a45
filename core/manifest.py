"""Output manifests: what a command did, with what, so it can be trusted and resumed.

Every command writes ``manifest.json`` into its ``--output-dir`` beside its
files: tool and version, the command, inputs with sha256, parameters, seed,
a config hash, timings and a per-frame status. A re-run with the same config
hash skips frames already done (resume); ``force`` redoes them.

When a job is split by frame range (``--frames 1001-1100`` on several farm
machines writing into one folder), each range keeps its own manifest file
(``manifest.frames-1001-1100.json``) so concurrent jobs never write the same
file.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.io.atomic import write_text_atomic
from core.params import config_hash

FORMAT = "reelkit.manifest/1"
_SAVE_INTERVAL_S = 2.0


def file_sha256(path: str | os.PathLike, *, chunk: int = 1 << 20) -> str:
    """sha256 hex digest of a file, read in chunks (flat memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def manifest_name(frame_range: str | None = None) -> str:
    """``manifest.json``, or ``manifest.frames-A-B.json`` for a partial frame range."""
    if not frame_range:
        return "manifest.json"
    safe = "".join(c if c.isalnum() or c in "-x" else "_" for c in frame_range)
    return f"manifest.frames-{safe}.json"


class Manifest:
    """A command's manifest, saved atomically and throttled during long runs.

    ``config`` is everything that determines the outputs (inputs pattern,
    parameters, seed, tool version); its hash decides whether existing
    outputs may be resumed.
    """

    def __init__(self, output_dir: str | os.PathLike, command: str, config: Mapping[str, Any], *,
                 frame_range: str | None = None, seed: int | None = None):
        from core import __version__

        self.output_dir = Path(output_dir)
        self.path = self.output_dir / manifest_name(frame_range)
        self.config_hash = config_hash({**config, "tool_version": __version__, "command": command})
        self.data: dict[str, Any] = {
            "format": FORMAT,
            "tool": "reelkit",
            "version": __version__,
            "command": command,
            "argv": list(sys.argv),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "config": dict(config),
            "config_hash": self.config_hash,
            "seed": seed,
            "frame_range": frame_range,
            "inputs": {},
            "outputs": {},
            "frames": {},
            "timings": {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
            "status": "running",
        }
        self._last_save = 0.0
        self._t0 = time.perf_counter()

    # -- resume -----------------------------------------------------------------
    def previous_done(self) -> dict[str, dict[str, Any]]:
        """Per-frame records marked done by earlier runs with the same config hash.

        Looks at every manifest in the output folder, so work done by another
        frame-range job of the same config counts too.
        """
        done: dict[str, dict[str, Any]] = {}
        if not self.output_dir.is_dir():
            return done
        for path in sorted(self.output_dir.glob("manifest*.json")):
            try:
                old = json.loads(path.read_text("utf-8"))
            except (OSError, ValueError):
                continue
            if old.get("format") != FORMAT or old.get("config_hash") != self.config_hash:
                continue
            for key, rec in old.get("frames", {}).items():
                if rec.get("status") == "done":
                    done[key] = rec
        return done

    def adopt(self, key: str, record: Mapping[str, Any]) -> None:
        """Carry a frame record from an earlier run into this manifest (resume)."""
        self.data["frames"][key] = {**record, "resumed": True}

    # -- recording ------------------------------------------------------------------
    def add_input(self, path: str | os.PathLike, sha256: str | None = None) -> str:
        digest = sha256 or file_sha256(path)
        self.data["inputs"][str(path)] = digest
        return digest

    def frame_done(self, key: str, **info: Any) -> None:
        self.data["frames"][key] = {"status": "done", **info}
        self.save(throttle=True)

    def frame_failed(self, key: str, error: str, **info: Any) -> None:
        self.data["frames"][key] = {"status": "failed", "error": error, **info}
        self.save(throttle=True)

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value

    def finish(self, status: str = "done") -> Path:
        self.data["status"] = status
        self.data["timings"]["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self.data["timings"]["seconds"] = round(time.perf_counter() - self._t0, 3)
        return self.save()

    def save(self, *, throttle: bool = False) -> Path:
        """Write the manifest atomically; with ``throttle``, at most every 2 s."""
        now = time.perf_counter()
        if throttle and now - self._last_save < _SAVE_INTERVAL_S:
            return self.path
        self._last_save = now
        text = json.dumps(self.data, indent=2, sort_keys=False, default=str)
        return write_text_atomic(self.path, text + "\n", overwrite=True)
