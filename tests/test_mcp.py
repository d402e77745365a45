"""``reelkit mcp`` driven by the official MCP Python client over stdio: a real server process, real tool calls
on small real photos (scikit-image's, written as PNG).

What is checked: the tools' schemas are the CLI's specs (names, types, ranges, choices, help) and cover the
CLI's options; a plan names exactly the files the run then writes; a destructive call without the plan's
token is refused and changes nothing; undo restores byte-identical files (sha256), redo re-applies them, also
after a server restart; paths outside the roots, unknown tools, wrong types and out-of-range values come back
as structured errors naming the field; the status resources read as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mcp")
from mcp import ClientSession, StdioServerParameters  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def _photo(path: Path, name: str = "astronaut", size=(48, 64), shift: int = 0) -> None:
    """A scikit-image photo, downsized, written as an 8-bit sRGB PNG (shift: moved sideways, a new frame)."""
    import cv2
    import skimage.data

    rgb = getattr(skimage.data, name)()
    rgb = cv2.resize(np.roll(rgb, shift * 7, axis=1), size[::-1], interpolation=cv2.INTER_AREA)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1]))


def _sequence(folder: Path, count: int = 3, name: str = "plate") -> str:
    for i in range(count):
        _photo(folder / f"{name}.{1001 + i:04d}.png", shift=i)
    return f"{folder.name}/{name}.####.png"


def _files(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (outside the journal's .reelkit/) -> sha256."""
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))
            if p.is_file() and ".reelkit" not in p.relative_to(folder).parts}


class Client:
    """A session with one server process; :meth:`call` returns (is_error, structured content)."""

    def __init__(self, session: ClientSession):
        self.session = session

    async def call(self, name: str, **arguments):
        result = await self.session.call_tool(name, arguments)
        data = result.structuredContent
        if data is None:  # the text is the same JSON
            data = json.loads(result.content[0].text)
        return result.isError, data

    async def ok(self, name: str, **arguments):
        is_error, data = await self.call(name, **arguments)
        assert not is_error, data
        return data

    async def error(self, name: str, **arguments) -> dict:
        is_error, data = await self.call(name, **arguments)
        assert is_error, data
        return data["error"]


@contextlib.asynccontextmanager
async def _server(*roots: Path, confirm_frames: int | None = None):
    args = ["-m", "core.cli.main", "mcp"]
    for root in roots:
        args += ["--root", str(root)]
    if confirm_frames is not None:
        args += ["--confirm-frames", str(confirm_frames)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    params = StdioServerParameters(command=sys.executable, args=args, env=env, cwd=str(REPO))
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield Client(session)


def run(scenario):
    """Run an async scenario (the client is asyncio; pytest here is synchronous)."""
    return asyncio.run(scenario())


# -- schemas ---------------------------------------------------------------------------------------------
def _cli_dests(*words: str) -> set[str]:
    """The option destinations of ``reelkit WORDS...`` (the real CLI parser)."""
    from core.cli.main import build_parser

    parser = build_parser()
    for word in words:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[word]
    return {a.dest for a in parser._actions if a.dest not in ("help",) and not isinstance(a, argparse._SubParsersAction)}


def test_tool_schemas_are_the_cli_specs(tmp_path):
    from core.convert import CONVERT_PARAMS
    from core.degrade import DEGRADE_OUTPUT_PARAMS, DEGRADE_PARAMS
    from core.generate import FAMILIES
    from core.generate.files import GENERATE_RUN_PARAMS
    from core.infer import INFER_PARAMS
    from core.palette.params import REPORT_PARAMS

    async def scenario():
        async with _server(tmp_path) as c:
            return {t.name: t for t in (await c.session.list_tools()).tools}

    tools = run(scenario)
    kinds = {bool: "boolean", int: "integer", float: "number", str: "string"}
    specs = {"convert": [p for p in CONVERT_PARAMS if p.name != "source"], "degrade": [*DEGRADE_OUTPUT_PARAMS, *DEGRADE_PARAMS],
             "infer": list(INFER_PARAMS), "palette_report": [p for p in REPORT_PARAMS if p.name not in ("output", "shared")],
             **{f"generate_{n}": [*GENERATE_RUN_PARAMS, *f.spec] for n, f in FAMILIES.items()}}
    for tool, params in specs.items():
        props = tools[tool].inputSchema["properties"]
        assert tools[tool].inputSchema["additionalProperties"] is False
        for p in params:
            got = props[p.name]
            assert got["type"] == kinds[p.kind] and got["description"] == p.help, (tool, p.name)
            assert got.get("minimum") == p.minimum and got.get("maximum") == p.maximum, (tool, p.name)
            assert got.get("enum") == (list(p.choices) if p.choices else None), (tool, p.name)
            assert got.get("default") == p.default, (tool, p.name)
    # every CLI option of the command is a tool argument, and the reverse (but for the agent's plan/confirm
    # and the CLI's terminal-only options)
    agent_only, cli_only = {"plan_only", "confirm", "background"}, {"quiet", "func", "cap_threads", "command"}
    for tool, words, extra_cli in [("convert", ("convert",), set()), ("degrade", ("degrade",), set()),
                                   ("infer", ("infer",), set()), ("palette_report", ("palette", "report"), set()),
                                   ("generate_noise", ("generate", "noise"), {"list", "family"})]:
        props = set(tools[tool].inputSchema["properties"])
        dests = _cli_dests(*words) - cli_only - extra_cli
        assert props - agent_only == dests, (tool, props ^ dests)
    assert {"info", "restore_status", "dataset_status", "undo", "redo", "journal"} <= set(tools)
    assert tools["degrade"].inputSchema["required"] == ["input", "output_dir"]


# -- plans -----------------------------------------------------------------------------------------------
def test_a_plan_predicts_exactly_the_files_each_run_writes(tmp_path):
    pattern = _sequence(tmp_path / "shots")
    _photo(tmp_path / "photo.png", "coffee")

    calls = [
        ("degrade", {"input": pattern, "output": "dmg.####.exr", "output_dir": "damaged", "preset": "faded_16mm",
                     "seed": 7, "frames": "1001-1002"}, 2),
        ("convert", {"input": pattern, "output": "prev.####.png", "output_dir": "previews", "target": "srgb"}, 3),
        ("palette_report", {"input": "photo.png", "output_dir": "palette", "k": 4, "sample_size": 1000}, 1),
        ("generate_chart", {"output_dir": "charts", "image_size": "64x32", "count": 2, "preview": True}, 2),
        ("infer", {"input": "photo.png", "output_dir": "restored", "tile": 0}, 1),
    ]

    async def scenario():
        async with _server(tmp_path) as c:
            for name, args, frames in calls:
                before = _files(tmp_path)
                plan = (await c.ok(name, **args))["plan"]
                assert _files(tmp_path) == before, f"{name}: planning wrote something"
                assert plan["frames"] == frames and not plan["needs_confirm"] and plan["replaces"] == []
                done = await c.ok(name, **args, plan_only=False)
                after = _files(tmp_path)
                written = {p for p in after if before.get(p) != after[p]}
                assert written == set(plan["writes"]), (name, written ^ set(plan["writes"]))
                assert done["plan"]["token"] == plan["token"]
            journal = await c.ok("journal")
            assert [a["tool"] for a in journal["actions"]] == [n for n, _, _ in calls]
            assert all(a["unplanned"] == [] and a["state"] == "done" for a in journal["actions"])
            assert set(journal["actions"][0]["created"]) == set((await c.ok("degrade", **calls[0][1]))["plan"]["writes"])

    run(scenario)
    assert (tmp_path / ".reelkit" / "journal.jsonl").is_file()
    assert sorted(p.name for p in (tmp_path / "damaged").iterdir()) == ["dmg.1001.exr", "dmg.1002.exr",
                                                                      "manifest.frames-1001-1002.json"]


def test_a_destructive_or_long_call_needs_the_plans_token(tmp_path):
    pattern = _sequence(tmp_path / "shots")
    args = {"input": pattern, "output": "prev.####.png", "output_dir": "previews", "target": "srgb"}

    async def scenario():
        async with _server(tmp_path, confirm_frames=2) as c:
            # three frames is more than 2: refused without the token, run with it
            plan = (await c.ok("convert", **args))["plan"]
            assert plan["needs_confirm"] and "3 frames is more than 2" in plan["confirm_reasons"][0]
            err = await c.error("convert", **args, plan_only=False)
            assert err["code"] == "confirm_required" and err["field"] == "confirm"
            assert not (tmp_path / "previews").exists()
            await c.ok("convert", **args, plan_only=False, confirm=plan["token"])
            # force over existing outputs: refused without the token, and with a stale one
            before = _files(tmp_path)
            forced = {**args, "frames": "1001-1002", "target": "lin_rec709", "force": True}
            plan = (await c.ok("convert", **forced))["plan"]
            assert plan["replaces"] == [str(tmp_path / "previews" / f"prev.{n}.png") for n in (1001, 1002)]
            assert plan["confirm_reasons"] == ["force replaces 2 existing file(s)"]
            err = await c.error("convert", **forced, plan_only=False)
            assert err["code"] == "confirm_required" and err["field"] == "confirm"
            err = await c.error("convert", **forced, plan_only=False, confirm="0123456789abcdef")
            assert err["code"] == "token_mismatch" and err["field"] == "confirm"
            other = (await c.ok("convert", **{**forced, "target": "ACEScg"}))["plan"]["token"]
            err = await c.error("convert", **forced, plan_only=False, confirm=other)  # another call's token
            assert err["code"] == "token_mismatch"
            assert _files(tmp_path) == before  # nothing was touched by the refused calls
            await c.ok("convert", **forced, plan_only=False, confirm=plan["token"])
            assert _files(tmp_path) != before

    run(scenario)


# -- journal, undo, redo -----------------------------------------------------------------------------------
def test_undo_restores_byte_identical_files_and_redo_reapplies_across_restarts(tmp_path):
    pattern = _sequence(tmp_path / "shots", count=2)
    args = {"input": pattern, "output": "prev.####.png", "output_dir": "previews"}

    async def first():
        async with _server(tmp_path) as c:
            await c.ok("convert", **args, target="srgb", plan_only=False)
            original = _files(tmp_path)
            forced = {**args, "target": "lin_rec709", "force": True}
            plan = (await c.ok("convert", **forced))["plan"]
            done = await c.ok("convert", **forced, plan_only=False, confirm=plan["token"])
            changed = _files(tmp_path)
            assert set(plan["replaces"]) <= set(original) and all(changed[p] != original[p] for p in plan["replaces"])
            undone = await c.ok("undo")
            assert undone["undone"] == done["action"] and set(undone["restored"]) == set(plan["replaces"])
            assert _files(tmp_path) == original  # byte-identical (sha256), nothing left over
            await c.ok("redo")
            assert _files(tmp_path) == changed
            return original, changed

    original, changed = run(first)

    async def after_restart():
        async with _server(tmp_path) as c:  # a new server process reads the same journal
            assert [a["state"] for a in (await c.ok("journal"))["actions"]] == ["done", "done"]
            await c.ok("undo")
            assert _files(tmp_path) == original
            await c.ok("undo")  # the first action: its files removed, its folder too
            assert _files(tmp_path) == _files(tmp_path / "shots") and not (tmp_path / "previews").exists()
            err = await c.error("undo")
            assert err["code"] == "not_found" and err["field"] == "id"
            await c.ok("redo")
            await c.ok("redo")
            assert _files(tmp_path) == changed
            # a file changed behind the journal's back: undo refuses, naming it, and changes nothing
            victim = tmp_path / "previews" / "prev.1001.png"
            victim.write_bytes(b"edited by hand")
            err = await c.error("undo")
            assert err["field"] == "id" and str(victim) in err["message"]
            assert victim.read_bytes() == b"edited by hand"

    run(after_restart)


# -- bad input -------------------------------------------------------------------------------------------
def test_paths_outside_the_roots_are_refused_naming_the_field(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    _photo(outside / "secret.png")
    _photo(root / "photo.png")
    (root / "link").symlink_to(outside, target_is_directory=True)
    (root / "link.png").symlink_to(outside / "secret.png")

    async def scenario():
        async with _server(root) as c:
            for name, args, field in [
                ("info", {"input": str(outside / "secret.png")}, "input"),
                ("info", {"input": "../outside/secret.png"}, "input"),
                ("info", {"input": "link.png"}, "input"),  # a symlink out of the root
                ("info", {"input": "link/secret.png"}, "input"),
                ("convert", {"input": "photo.png", "output_dir": "../outside/x"}, "output_dir"),
                ("convert", {"input": "photo.png", "output_dir": "link"}, "output_dir"),
                ("convert", {"input": "photo.png", "output_dir": "out", "output": str(outside / "o.png")}, "output"),
                ("palette_report", {"input": "photo.png", "output_dir": str(outside)}, "output_dir"),
                ("infer", {"input": "photo.png", "output_dir": "out", "model": str(outside / "m.onnx")}, "model"),
                ("restore_status", {"project": str(outside)}, "project"),
            ]:
                for plan_only in (True, False):
                    extra = {} if name in ("info", "restore_status") else {"plan_only": plan_only}
                    err = await c.error(name, **args, **extra)
                    assert err["code"] == "outside_roots" and err["field"] == field, (name, args, err)
            info = await c.ok("info", input="photo.png")
            assert (info["width"], info["height"]) == (64, 48)

    run(scenario)
    assert sorted(p.name for p in outside.rglob("*")) == ["secret.png"]


def test_unknown_tools_wrong_types_and_bad_values_name_the_field(tmp_path):
    _photo(tmp_path / "photo.png")

    async def scenario():
        async with _server(tmp_path) as c:
            cases = [
                ("no_such_tool", {}, "unknown_tool", "name"),
                ("degrade", {"input": "photo.png", "output_dir": "o", "seed": "7"}, "wrong_type", "seed"),
                ("degrade", {"input": "photo.png", "output_dir": "o", "grain_intensity": True}, "wrong_type", "grain_intensity"),
                ("degrade", {"input": "photo.png", "output_dir": "o", "seed": -1}, "invalid", "seed"),
                ("degrade", {"input": "photo.png", "output_dir": "o", "preset": "brand_new"}, "invalid", "preset"),
                ("palette_report", {"input": "photo.png", "output_dir": "o", "k": 1000}, "invalid", "k"),
                ("palette_report", {"input": "photo.png", "output_dir": "o", "colours": 8}, "unknown_argument", "colours"),
                ("convert", {"output_dir": "o"}, "missing", "input"),
                ("palette_report", {"input": "nope.png", "output_dir": "o"}, "not_found", "input"),
                ("undo", {"id": "one"}, "wrong_type", "id"),
            ]
            for name, args, code, field in cases:
                err = await c.error(name, **args)
                assert (err["code"], err["field"]) == (code, field), (name, args, err)
                assert field in err["message"] or field == "name"
            # a library refusal (a sequence input with a single-file output) is an error too, with its message
            err = await c.error("convert", input="photo.png", output="x.####.png", output_dir="o")
            assert err["type"] == "ParameterError" and "sequence pattern" in err["message"]

    run(scenario)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]


# -- resources -------------------------------------------------------------------------------------------
def test_status_resources_read_as_json(tmp_path):
    from core.pipeline.project import init_project

    root, outside = tmp_path / "root", tmp_path / "outside"
    source = root / _sequence(root / "scan", count=2, name="scan")
    reference = root / _sequence(root / "ref", count=2, name="ref")
    init_project(root / "proj", source=str(source), reference=str(reference))
    elsewhere = outside / _sequence(outside / "ref", count=2, name="ref")
    init_project(root / "leaky", source=str(source), reference=str(elsewhere))

    async def scenario():
        async with _server(root) as c:
            templates = (await c.session.list_resource_templates()).resourceTemplates
            assert {t.uriTemplate for t in templates} == {"reelkit://restore/{path}", "reelkit://dataset/{path}"}
            res = await c.session.read_resource("reelkit://restore/proj")
            data = json.loads(res.contents[0].text)
            assert [s["stage"] for s in data["stages"]] == [1, 2, 3, 4, 5]
            assert {s["state"] for s in data["stages"]} == {"not started"}
            assert data == await c.ok("restore_status", project="proj")
            # a project whose reference lies outside the roots: its status would list those files
            err = await c.error("restore_status", project="leaky")
            assert (err["code"], err["field"]) == ("outside_roots", "project") and str(outside) in err["message"]
            err = await c.error("dataset_status", folder="proj")
            assert "not a dataset folder" in err["message"]

    run(scenario)


# -- background tasks ------------------------------------------------------------------------------------
def test_a_background_task_reports_progress_and_a_cancelled_one_leaves_valid_resumable_outputs(tmp_path):
    from core.manifest import verify_folder

    for i in range(24):
        _photo(tmp_path / "shots" / f"plate.{1001 + i:04d}.png", size=(192, 256), shift=i)
    args = {"input": "shots/plate.####.png", "output": "dmg.####.exr", "preset": "dusty_35mm", "seed": 3}

    async def poll(c, task_id):
        while (status := await c.ok("task_status", id=task_id))["state"] == "running":
            await asyncio.sleep(0.05)
        return status

    async def scenario():
        async with _server(tmp_path) as c:
            small = await c.ok("degrade", **args, frames="1001-1003", output_dir="small", plan_only=False,
                               background=True)
            status = await poll(c, small["task"])
            assert status["state"] == "done" and (status["done"], status["total"]) == (3, 3)
            assert status["result"]["frames"] == 3 and status["action"] == 1
            assert sorted(p.name for p in (tmp_path / "small").glob("*.exr")) == [f"dmg.{n}.exr" for n in (1001, 1002, 1003)]

            started = await c.ok("degrade", **args, output_dir="big", plan_only=False, background=True)
            await c.ok("task_cancel", id=started["task"])
            status = await poll(c, started["task"])
            assert status["state"] == "cancelled", status
            assert 0 < status["done"] < 24
            err = await c.error("task_cancel", id=started["task"])
            assert err["field"] == "id" and "cancelled" in err["message"]
            return status["done"]

    done = run(scenario)
    big = tmp_path / "big"
    manifest = json.loads((big / "manifest.json").read_text("utf-8"))
    assert manifest["status"] == "failed" and sum(r["status"] == "done" for r in manifest["frames"].values()) == done
    checked, problems = verify_folder(big)
    assert problems == [] and checked > done  # every frame recorded is intact

    async def resume():
        async with _server(tmp_path) as c:
            result = (await c.ok("degrade", **args, output_dir="big", plan_only=False))["result"]
            assert (result["frames"], result["resumed"], result["status"]) == (24, done, "done")
            tasks = (await c.ok("task_status"))["tasks"]
            assert [t["state"] for t in tasks] == ["done", "cancelled"]

    run(resume)
