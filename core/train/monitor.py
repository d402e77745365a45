"""What the training monitor shows, read from a training folder (no Qt; the panel is
:mod:`nuke_plugin.panels.train_monitor`).

:class:`TrainMonitorModel` reads what :func:`core.train.train` writes while
it runs: ``loss.csv`` (one row per step), ``contact_sheet.png`` (input /
prediction / reference), ``config.json`` (the planned steps) and
``manifest.json`` (status, metrics). :meth:`TrainMonitorModel.refresh`
re-reads only files whose modification time changed and says whether
anything did. Stop and resume are callbacks the owner gives (the ReelTrain
node passes its own); without them the monitor only watches.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any


@dataclasses.dataclass
class TrainMonitorModel:
    """A training folder being watched.

    ``steps``, ``loss``, ``lr``: the rows of ``loss.csv`` so far;
    ``planned_steps``: from ``config.json``; ``status``: the manifest's
    (``running``, ``done``, ``failed``) or ``""``; ``sheet``: the contact
    sheet's path when there is one. ``on_stop``/``on_resume``: callbacks
    (``None``: that action is not offered).
    """

    folder: Path
    on_stop: Callable[[], Any] | None = None
    on_resume: Callable[[], Any] | None = None
    steps: list[int] = dataclasses.field(default_factory=list)
    loss: list[float] = dataclasses.field(default_factory=list)
    lr: list[float] = dataclasses.field(default_factory=list)
    planned_steps: int | None = None
    status: str = ""
    metrics: dict[str, Any] = dataclasses.field(default_factory=dict)
    sheet: Path | None = None
    sheet_mtime: float = 0.0
    _mtimes: dict[str, float] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)

    def _changed(self, name: str) -> bool:
        p = self.folder / name
        try:
            m = p.stat().st_mtime_ns
        except OSError:
            return False
        if self._mtimes.get(name) == m:
            return False
        self._mtimes[name] = m
        return True

    def refresh(self) -> bool:
        """Re-read what changed on disk; ``True`` when anything did."""
        changed = False
        if self._changed("config.json"):
            try:
                self.planned_steps = int(json.loads((self.folder / "config.json").read_text("utf-8"))["steps"])
            except (OSError, ValueError, KeyError, TypeError):
                self.planned_steps = None
            changed = True
        if self._changed("loss.csv"):
            steps, loss, lr = [], [], []
            try:
                with open(self.folder / "loss.csv", newline="", encoding="utf-8") as f:
                    for row in csv.DictReader(f):
                        try:
                            s, v = int(row["step"]), float(row["loss"])
                        except (KeyError, TypeError, ValueError):
                            continue  # a row being written
                        steps.append(s)
                        loss.append(v)
                        lr.append(float(row.get("lr") or "nan"))
            except OSError:
                pass
            self.steps, self.loss, self.lr = steps, loss, lr
            changed = True
        if self._changed("manifest.json"):
            try:
                doc = json.loads((self.folder / "manifest.json").read_text("utf-8"))
                self.status = str(doc.get("status", ""))
                self.metrics = dict(doc.get("metrics") or {})
            except (OSError, ValueError):
                pass
            changed = True
        if self._changed("contact_sheet.png"):
            self.sheet = self.folder / "contact_sheet.png"
            self.sheet_mtime = self._mtimes["contact_sheet.png"]
            changed = True
        return changed

    @property
    def last_step(self) -> int:
        return self.steps[-1] if self.steps else 0

    def summary(self) -> str:
        """One line: step n/N, the latest loss, the status."""
        if not self.steps and not self.status:
            return f"{self.folder}: no training yet"
        total = f"/{self.planned_steps}" if self.planned_steps else ""
        loss = f", loss {self.loss[-1]:.4g}" if self.loss and math.isfinite(self.loss[-1]) else ""
        status = f" ({self.status})" if self.status else ""
        return f"step {self.last_step}{total}{loss}{status}"

    @property
    def can_stop(self) -> bool:
        return self.on_stop is not None and self.status not in ("done", "failed", "stopped")

    @property
    def can_resume(self) -> bool:
        return self.on_resume is not None and self.status != "running"

    def stop(self) -> None:
        if self.on_stop is not None:
            self.on_stop()

    def resume(self) -> None:
        if self.on_resume is not None:
            self.on_resume()
