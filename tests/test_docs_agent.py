"""docs/agent.md cannot drift: its ``reelkit mcp`` commands and assistant config snippets start real servers that
the official MCP client reaches (stdio and HTTP), and its worked conversation is replayed against a real server
on real frames (scikit-image's astronaut as PNG): every tool call it shows, the resource it reads, and the plan
figures (frames, needs_confirm, confirm reasons) and outcomes (action and task ids, refusals) it states.

Paths of the docs (``/shows/reel3``) become a temporary folder, ports a free one; a ``confirm`` value is the token
of the plan shown just before it (tokens hash the real paths).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time

import pytest

pytest.importorskip("mcp")
from mcp import ClientSession, StdioServerParameters  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

from tests.test_mcp import REPO, _files, _free_port, _sequence  # noqa: E402

DOC = REPO / "docs" / "agent.md"
SHOW = "/shows/reel3"


def _blocks(kind: str) -> list[str]:
    """The fenced blocks of docs/agent.md whose fence says ``kind``."""
    return re.findall(rf"^```{kind}\n(.*?)^```", DOC.read_text("utf-8"), flags=re.S | re.M)


def _mcp_commands() -> list[list[str]]:
    return [shlex.split(line)[1:] for block in _blocks("bash") for line in block.splitlines()
            if line.startswith("reelkit mcp")]


def _rooted(args: list[str], root) -> list[str]:
    """The docs' arguments with /shows/reel3 (and folders under it) inside ``root``, made to exist."""
    out = []
    for a in args:
        if a.startswith(SHOW):
            a = str(root) + a[len(SHOW):]
            os.makedirs(a, exist_ok=True)
        out.append(a)
    return out


def _env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


async def _tool_names(session) -> set[str]:
    await session.initialize()
    return {t.name for t in (await session.list_tools()).tools}


def test_the_docs_commands_and_config_snippets_start_servers_the_client_reaches(tmp_path):
    commands = _mcp_commands()
    assert len(commands) >= 3 and any("--http" in c for c in commands)
    configs = [json.loads(b)["mcpServers"]["reelkit"] for b in _blocks("json") if "mcpServers" in b]
    local = next(c for c in configs if "command" in c)
    remote = next(c for c in configs if "url" in c)
    assert local["command"] == "reelkit" and local["args"][0] == "mcp"

    async def over_stdio(args, env):
        params = StdioServerParameters(command=sys.executable, args=["-m", "core.cli.main", *args], env=env,
                                       cwd=str(REPO))
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            return await _tool_names(session)

    for args in [c for c in commands if "--http" not in c] + [local["args"]]:
        env = {**_env(), **(local["env"] if args is local["args"] else {})}
        assert {"degrade", "restore_run", "undo"} <= asyncio.run(over_stdio(_rooted(args, tmp_path), env)), args

    (http,) = [c for c in commands if "--http" in c]
    port = _free_port()
    args = _rooted(http, tmp_path)
    args[args.index("--http") + 1] = str(port)
    proc = subprocess.Popen([sys.executable, "-m", "core.cli.main", *args], cwd=str(REPO), env=_env(),
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            assert proc.poll() is None and time.monotonic() < deadline, "the HTTP server did not start"
            time.sleep(0.2)
        url = remote["url"].replace(":8765/", f":{port}/")

        async def over_http():
            async with streamable_http_client(url) as (read, write, _), ClientSession(read, write) as session:
                return await _tool_names(session)

        assert "degrade" in asyncio.run(over_http())
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# -- the worked conversation -------------------------------------------------------------------------------
def _conversation() -> list[tuple[str, str]]:
    """(call, what the doc says came back) for each ``[...]`` of the worked conversation, in order."""
    (text,) = [b for b in _blocks("text") if b.lstrip().startswith("Artist:")]
    steps, i = [], 0
    while (start := text.find("[", i)) >= 0:
        depth, j = 0, start
        while True:
            depth += {"[": 1, "]": -1}.get(text[j], 0)
            if depth == 0:
                break
            j += 1
        call = " ".join(text[start + 1:j].split())
        rest = text[j + 1:]
        said = []
        for line in rest.splitlines()[1:]:
            stripped = line.strip()
            if stripped.startswith("[") or re.match(r"^\w+:", line) or (said and not line.startswith(" " * 14)):
                break
            if stripped.startswith("->") or said:
                said.append(stripped)
        steps.append((call, " ".join(said)))
        i = j + 1
    return steps


def _arguments(words: list[str]) -> dict:
    out = {}
    for word in words:
        key, _, value = word.partition("=")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def test_the_worked_conversation_runs_as_shown(tmp_path):
    _sequence(tmp_path / "shots", name="sh010")
    _sequence(tmp_path / "dvd", name="sh010")
    steps = _conversation()
    assert len(steps) == 14

    async def replay():
        params = StdioServerParameters(command=sys.executable, args=["-m", "core.cli.main", "mcp", "--root",
                                                                     str(tmp_path)], env=_env(), cwd=str(REPO))
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            tokens, states = {}, []
            for call, said in steps:
                name, *words = shlex.split(call, posix=False)  # a quoted value stays a JSON string
                assert said.startswith("->"), (call, said)
                if name == "read":
                    data = json.loads((await session.read_resource(words[0])).contents[0].text)
                    stages = {s["stage"]: s for s in data["stages"]}
                    for n, state, count, what in re.findall(r"stage (\d) (done|not started)(?: \((\d+) (\w+)\))?", said):
                        assert stages[int(n)]["state"] == state, (call, stages[int(n)])
                        if count:
                            assert stages[int(n)]["counts"][what] == int(count), (call, stages[int(n)]["counts"])
                    continue
                args = _arguments(words)
                if "confirm" in args:
                    args["confirm"] = tokens[name]
                while True:
                    result = await session.call_tool(name, args)
                    data = result.structuredContent or json.loads(result.content[0].text)
                    if name != "task_status" or data.get("state") != "running":
                        break
                    await asyncio.sleep(0.1)
                if said.startswith("-> refused"):
                    code, field = re.match(r"-> refused: (\w+) \((\w+)\)", said).groups()
                    assert result.isError and (data["error"]["code"], data["error"]["field"]) == (code, field)
                    continue
                assert not result.isError, (call, data)
                if "plan" in data and args.get("plan_only", True):
                    plan = data["plan"]
                    tokens[name] = plan["token"]
                    frames = re.search(r"(\d+) frames?\b", said)
                    assert frames and plan["frames"] == int(frames.group(1)), (call, plan)
                    assert f"needs_confirm {str(plan['needs_confirm']).lower()}" in said, (call, plan)
                    for reason in re.findall(r'\("([^"]+)"\)', said):
                        assert reason in plan["confirm_reasons"], (call, plan)
                    assert ("replaces nothing" in said) <= (plan["replaces"] == [])
                    assert ("writes within" in said) == bool(plan["writes_within"]), (call, plan)
                    written = [w.rsplit("/", 1)[-1] for w in plan["writes"]]
                    for named in re.findall(r"\b([\w.]+\.(?:json|csv|png|onnx|pt))\b", said):
                        assert named in written, (call, named, written)  # a file the doc names is planned
                    if m := re.search(r"(\w+) checkpoints?\b", said):
                        kept = sum(w.startswith("step_") for w in written)
                        assert kept == {"one": 1, "two": 2, "three": 3}.get(m.group(1), -1), (call, written)
                for key in ("action", "task"):
                    if m := re.match(rf"-> {key} (\d+)", said):
                        assert data[key] == int(m.group(1)), (call, data)
                if m := re.match(r"-> undone (\d+)", said):
                    assert data["undone"] == int(m.group(1))
                    assert _files(tmp_path) == states[-2]  # byte for byte as before the action undone
                if name == "task_status":
                    assert data["state"] == said.split()[1].rstrip(":"), data
                    assert any("stage 1 dataset curation" in line for line in data["log_tail"])
                if name == "info":
                    w, h, n = map(int, re.match(r"-> (\d+) x (\d+), (\d+) frames", said).groups())
                    assert (data["width"], data["height"], data["sequence"]["count"]) == (w, h, n)
                if "action" in data:
                    states.append(_files(tmp_path))

    asyncio.run(replay())
