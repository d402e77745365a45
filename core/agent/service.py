"""The agent's calls, host-agnostic: check, plan, confirm, run and journal (the MCP server wraps this).

:meth:`Agent.call` does, in order: find the tool (``unknown_tool``),
check every argument against its spec (:mod:`core.agent.schema`), resolve
every path argument inside the allowed roots (:mod:`core.agent.roots`);
for a writing tool, make its :class:`~core.agent.plan.Plan` and check every
file it reads and writes against the roots too. ``plan_only`` (the default)
returns the plan. Otherwise a call the plan says needs confirming runs only
with ``confirm`` equal to the plan's token; the run is journaled
(:class:`~core.agent.journal.Journal`) so ``undo`` / ``redo`` put the files
back exactly.

A host application (Nuke) adds its own tools (:class:`HostTool`): their
actions are journaled too, but undone in the host (one Ctrl+Z each), not by
``undo``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from core.agent.journal import Journal
from core.agent.roots import Roots
from core.agent.schema import FieldError, check_arguments, object_schema
from core.agent.tasks import Tasks
from core.agent.tools import Tool, build_tools, dataset_status, restore_status
from core.params import Param

#: Frames a call may make without a confirmation (``reelkit mcp --confirm-frames``).
CONFIRM_FRAMES = 100

#: The journal tools' one argument.
ACTION_ID = Param("id", int, None, "journal action id (default: the last one done for undo, the last one "
                  "undone for redo)", minimum=1)


#: The task tools' one argument.
TASK_ID = Param("id", int, None, "task id, as the call that started it returned", minimum=1)


@dataclasses.dataclass(frozen=True)
class HostTool:
    """A tool of the application the server runs in: ``run(arguments)`` checks its arguments itself (raising
    :class:`FieldError`) and returns a result whose ``"undo"`` names the host's undo item for the action."""

    name: str
    description: str
    input_schema: dict[str, Any]
    run: Callable[[dict[str, Any]], dict[str, Any]]
    host: str = "nuke"


class Agent:
    """The tools over ``roots``, with the journal in the first root; ``host_tools``: the host application's."""

    def __init__(self, roots: Iterable[str | os.PathLike], *, confirm_frames: int = CONFIRM_FRAMES,
                 host_tools: Iterable[HostTool] = ()):
        self.roots = Roots(roots)
        self.host_tools = {t.name: t for t in host_tools}
        self.confirm_frames = int(confirm_frames)
        self.tools: dict[str, Tool] = build_tools()
        self.journal = Journal(self.roots.primary)
        self.tasks = Tasks(self.journal.folder / "tasks")
        self._journal_tools = {
            "undo": ("undo the last action done (or the action 'id'): the files it created are removed, the "
                     "ones it replaced restored byte for byte (sha256 checked)", self.journal.undo),
            "redo": ("re-apply the last action undone (or the action 'id') exactly as it was",
                     self.journal.redo),
        }

    # -- what the server lists ------------------------------------------------------------------------------
    def tool_list(self) -> list[dict[str, Any]]:
        """name, description, inputSchema of every tool."""
        out = [{"name": t.name, "description": t.description, "inputSchema": t.input_schema()}
               for t in self.tools.values()]
        out += [{"name": name, "description": text, "inputSchema": object_schema([ACTION_ID])}
                for name, (text, _) in self._journal_tools.items()]
        out += [{"name": "task_status", "description": "a background task's state (running, done, failed, "
                 "cancelled, interrupted), frames done of frames, result or error; without 'id', every task",
                 "inputSchema": object_schema([TASK_ID])},
                {"name": "task_cancel", "description": "stop a running task after its current frame: the frames "
                 "done stay recorded and valid, the same call again resumes them",
                 "inputSchema": object_schema([TASK_ID], ["id"])}]
        out.append({"name": "journal", "description": "every action run through this server, newest last: tool, "
                    "arguments, files created and replaced, state (done / undone)",
                    "inputSchema": object_schema([])})
        out += [{"name": t.name, "description": t.description, "inputSchema": t.input_schema}
                for t in self.host_tools.values()]
        return out

    # -- one call ------------------------------------------------------------------------------------------
    def call(self, name: str, arguments: Mapping[str, Any] | None = None) -> dict[str, Any]:
        if name in self._journal_tools:
            values = check_arguments({"id": ACTION_ID}, arguments)
            return self._journal_tools[name][1](values["id"])
        if name in ("task_status", "task_cancel"):
            values = check_arguments({"id": TASK_ID}, arguments, ["id"] if name == "task_cancel" else [])
            if name == "task_cancel":
                return self.tasks.status(self.tasks.cancel(values["id"]))
            if values["id"] is None:
                return {"tasks": [self.tasks.status(t, lines=0) for t in self.tasks.all()]}
            return self.tasks.status(self.tasks.get(values["id"]))
        if name == "journal":
            check_arguments({}, arguments)
            return {"journal": str(self.journal.path), "actions": self.journal.actions()}
        if name in self.host_tools:
            host_tool = self.host_tools[name]
            result = host_tool.run(dict(arguments or {}))
            action_id = self.journal.record_host(host_tool.host, name, dict(arguments or {}), result.get("undo", ""))
            return {"action": action_id, "result": result}
        tool = self.tools.get(name)
        if tool is None:
            known = ", ".join(t["name"] for t in self.tool_list())
            raise FieldError("name", f"unknown tool {name!r}; known: {known}", code="unknown_tool")
        given = set(arguments or {})
        values = check_arguments(tool.by_name, arguments, tool.required)
        for field, kind in tool.paths.items():
            if kind in ("read", "write") and values.get(field) is not None:
                value = values[field]
                self.roots.check(field, value if isinstance(value, list) else [value])
        if not tool.writes:
            return tool.run(values, given, self.roots)
        plan = tool.plan(values, given, self.roots)
        fields = {kind: next(f for f, k in tool.paths.items() if k == kind) for kind in ("read", "write")
                  if kind in tool.paths.values()}
        self.roots.check(fields.get("read", "input"), plan.reads)
        self.roots.check("output" if values.get("output") else fields.get("write", "output_dir"),
                         [*plan.writes, *plan.folders, *plan.clears])
        plan.judge(confirm_frames=self.confirm_frames)
        if values["plan_only"]:
            return {"plan": self._planned(plan)}
        if plan.confirm_reasons and values["confirm"] != plan.token:
            reasons = "; ".join(plan.confirm_reasons)
            if values["confirm"] is None:
                raise FieldError("confirm", f"this call needs confirming ({reasons}): plan it (plan_only=true) and "
                                 "pass its token as confirm", code="confirm_required")
            raise FieldError("confirm", f"the token does not match this call's plan ({reasons}): the arguments or "
                             "the files it replaces changed since it was planned; plan it again",
                             code="token_mismatch")
        planned = self._planned(plan)  # as it stood before the run
        if values.get("background"):
            task = self.tasks.start(name, lambda progress: self.journal.record(
                plan, lambda: tool.run(values, given, self.roots, progress)))
            return {"task": task.id, "plan": planned}
        action_id, result = self.journal.record(plan, lambda: tool.run(values, given, self.roots))
        return {"action": action_id, "result": result, "plan": planned}

    def _planned(self, plan) -> dict[str, Any]:
        """The plan as JSON, with ``estimate_seconds``: its frames at the median pace of this tool's earlier
        runs in the journal (``None`` before the first)."""
        rate = self.journal.seconds_per_frame(plan.tool)
        return {**plan.to_dict(), "estimate_seconds": None if rate is None else round(rate * plan.frames, 1)}

    # -- resources -----------------------------------------------------------------------------------------
    def resource(self, kind: str, path: str) -> dict[str, Any]:
        """``restore`` (a project's status) or ``dataset`` (a dataset folder's status) of ``path``."""
        if kind == "restore":
            return restore_status(self.roots.path("project", path), self.roots)
        if kind == "dataset":
            return dataset_status(self.roots.path("folder", path))
        raise FieldError("uri", f"unknown resource kind {kind!r}: restore or dataset", code="not_found")
