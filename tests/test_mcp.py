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


async def poll(c: Client, task_id: int, until=lambda status: status["state"] != "running") -> dict:
    """task_status of ``task_id`` once ``until(status)`` holds (by default: the task ended); the task must still
    be running until then."""
    while not until(status := await c.ok("task_status", id=task_id)):
        assert status["state"] == "running", status
        await asyncio.sleep(0.02)
    return status


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
    from core.align import ALIGN_FILE_PARAMS
    from core.convert import CONVERT_PARAMS
    from core.dataset import DATASET_PARAMS
    from core.degrade import DEGRADE_OUTPUT_PARAMS, DEGRADE_PARAMS
    from core.generate import FAMILIES
    from core.generate.files import GENERATE_RUN_PARAMS
    from core.infer import INFER_PARAMS
    from core.palette import ENCODE_PARAMS
    from core.palette.files import STABILITY_PARAMS
    from core.palette.params import REPORT_PARAMS
    from core.pipeline.project import INIT_PARAMS, RUN_PARAMS
    from core.validate import VALIDATE_PARAMS

    async def scenario():
        async with _server(tmp_path) as c:
            return {t.name: t for t in (await c.session.list_tools()).tools}

    tools = run(scenario)
    kinds = {bool: "boolean", int: "integer", float: "number", str: "string"}
    specs = {"convert": [p for p in CONVERT_PARAMS if p.name != "source"], "degrade": [*DEGRADE_OUTPUT_PARAMS, *DEGRADE_PARAMS],
             "infer": list(INFER_PARAMS), "palette_report": [p for p in REPORT_PARAMS if p.name not in ("output", "shared")],
             **{f"generate_{n}": [*GENERATE_RUN_PARAMS, *f.spec] for n, f in FAMILIES.items()},
             "align": list(ALIGN_FILE_PARAMS), "palette_encode": [*(p for p in ENCODE_PARAMS if p.name != "output"),
                                                                  *STABILITY_PARAMS],
             "validate": list(VALIDATE_PARAMS), "restore_init": list(INIT_PARAMS), "restore_run": list(RUN_PARAMS),
             "dataset_run": list(DATASET_PARAMS)}
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
    # and the CLI's terminal-only options; --scheduler too: the server runs every job in its own process, and
    # a tcp:// scheduler named by an assistant would reach beyond this machine, docs/agent.md)
    agent_only = {"plan_only", "confirm", "background"}
    cli_only = {"quiet", "func", "cap_threads", "command", "scheduler"}
    for tool, words, extra_cli in [("convert", ("convert",), set()), ("degrade", ("degrade",), set()),
                                   ("infer", ("infer",), set()), ("palette_report", ("palette", "report"), set()),
                                   ("generate_noise", ("generate", "noise"), {"list", "family"}),
                                   ("align", ("align",), set()), ("palette_encode", ("palette", "encode"), set()),
                                   ("validate", ("validate",), set()), ("restore_init", ("restore", "init"), set()),
                                   ("restore_run", ("restore", "run"), set()), ("dataset_run", ("dataset", "run"), set()),
                                   ("restore_status", ("restore", "status"), {"json"})]:
        props = set(tools[tool].inputSchema["properties"])
        dests = _cli_dests(*words) - cli_only - extra_cli
        assert props - agent_only == dests, (tool, props ^ dests)
    # options the CLI repeats (--candidate, --shot) or takes several of (footage) are JSON arrays
    for tool, name in [("validate", "candidate"), ("validate", "shot"), ("dataset_run", "footage")]:
        assert tools[tool].inputSchema["properties"][name]["type"] == "array", (tool, name)
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
        ("align", {"source": pattern, "reference": pattern, "output_dir": "aligned", "frames": "1002-1003"}, 2),
        ("palette_encode", {"input": pattern, "output_dir": "encoded", "k": 4, "shared": True}, 3),
    ]

    async def scenario():
        async with _server(tmp_path) as c:
            for name, args, frames in calls:
                before = _files(tmp_path)
                plan = (await c.ok(name, **args))["plan"]
                assert _files(tmp_path) == before, f"{name}: planning wrote something"
                assert plan["frames"] == frames and not plan["needs_confirm"] and plan["replaces"] == []
                assert plan["estimate_seconds"] is None  # no run of this tool yet
                done = await c.ok(name, **args, plan_only=False)
                after = _files(tmp_path)
                written = {p for p in after if before.get(p) != after[p]}
                assert written == set(plan["writes"]), (name, written ^ set(plan["writes"]))
                assert done["plan"]["token"] == plan["token"]
            journal = await c.ok("journal")
            assert [a["tool"] for a in journal["actions"]] == [n for n, _, _ in calls]
            assert all(a["unplanned"] == [] and a["state"] == "done" for a in journal["actions"])
            again = (await c.ok("degrade", **calls[0][1]))["plan"]
            assert set(journal["actions"][0]["created"]) == set(again["writes"])
            # the estimate: the plan's frames at the journal's pace for this tool (the run above: 2 frames)
            first = journal["actions"][0]
            assert again["estimate_seconds"] == round(first["seconds"] / first["frames"] * 2, 1)

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
                ("align", {"source": "photo.png", "reference": "link.png", "output_dir": "al"}, "reference"),
                ("validate", {"source": "photo.png", "reference": "photo.png", "output_dir": "v",
                              "candidate": [f"ml={outside / 'secret.png'}"]}, "candidate"),
                ("validate", {"source": "photo.png", "reference": "photo.png", "output_dir": "v",
                              "experiments": "link/notes.md"}, "experiments"),
                ("palette_encode", {"input": "link/secret.png", "output_dir": "p"}, "input"),
                ("restore_init", {"project": "link/proj", "source": "photo.png", "reference": "photo.png"}, "project"),
                ("restore_run", {"project": "../outside"}, "project"),
                ("dataset_run", {"footage": ["photo.png", "../outside/secret.png"], "output_dir": "ds"}, "footage"),
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


# -- calls that write within folders: validate, restore init / run ---------------------------------------
def test_staged_calls_plan_their_files_and_folders_and_undo_restores_a_stage_redone(tmp_path):
    """validate, restore_init and restore_run: every file the plan names is written, every other file written
    lies within the folders the plan names (stage 2 after stage 1 in one call: its folder); a stage redone
    (force, its folder emptied first: the plan's clears) is undone byte for byte, files it deleted included."""
    scan, ref = _sequence(tmp_path / "scan", name="scan"), _sequence(tmp_path / "ref", name="ref")
    (tmp_path / "proj").mkdir()
    calls = [
        ("validate", {"source": scan, "reference": ref, "candidate": [f"same={scan}"], "output_dir": "val",
                      "baselines": "grade_matrix", "title": "agent check"}),
        ("restore_init", {"project": "proj", "source": scan, "reference": ref, "steps": 2, "seed": 5}),
        ("restore_run", {"project": "proj", "stages": "1-2"}),
    ]

    async def scenario():
        async with _server(tmp_path) as c:
            for name, args in calls:
                before = _files(tmp_path)
                plan = (await c.ok(name, **args))["plan"]
                assert _files(tmp_path) == before and not plan["needs_confirm"], name
                done = await c.ok(name, **args, plan_only=False)
                after = _files(tmp_path)
                written = {p for p in after if before.get(p) != after[p]}
                within = tuple(f + os.sep for f in plan["writes_within"])
                assert set(plan["writes"]) <= written, (name, set(plan["writes"]) - written)
                assert {p for p in written - set(plan["writes"]) if not p.startswith(within)} == set(), name
            assert done["result"]["stages"][1]["state"] == "done"
            assert (await c.ok("restore_status", project="proj"))["stages"][1]["state"] == "done"
            # a frame range of stage 2 alone (a farm task): planned as that range's frames in the stage's folder
            plan = (await c.ok("restore_run", project="proj", stages="2", frames="1001-1002", force=True))["plan"]
            assert plan["frames"] == 2 and plan["writes_within"] == [str(tmp_path / "proj" / "pipeline" / "02_alignment")]
            err = await c.error("restore_run", project="proj", stages="1-2", frames="1001-1002")
            assert err["field"] == "frames" and "one stage of 2 or 4" in err["message"]
            # stage 2 done: the plan of 1-2 runs nothing; with force it redoes both and needs confirming
            assert (await c.ok("restore_run", project="proj", stages="1-2"))["plan"]["writes_within"] == []
            plan = (await c.ok("restore_run", project="proj", stages="2", force=True))["plan"]
            assert plan["writes_within"] == []
            assert plan["clears"] == [str(tmp_path / "proj" / "pipeline" / "02_alignment")]
            assert plan["needs_confirm"] and plan["confirm_reasons"][0].startswith("force replaces")
            # a file of stage 2 that the redo will not write again (its folder is emptied first)
            extra = tmp_path / "proj" / "pipeline" / "02_alignment" / "report" / "report.0001.png"
            assert not extra.exists()
            original = _files(tmp_path)
            err = await c.error("restore_run", project="proj", stages="2", force=True, plan_only=False)
            assert err["code"] == "confirm_required"
            await c.ok("restore_run", project="proj", stages="2", force=True, plan_only=False, confirm=plan["token"])
            redone = _files(tmp_path)
            assert redone != original
            action = (await c.ok("journal"))["actions"][-1]
            assert action["tool"] == "restore_run" and action["unplanned"] == []
            await c.ok("undo")
            assert _files(tmp_path) == original
            await c.ok("redo")
            assert _files(tmp_path) == redone
            # the restore resource: stages, the folders and (no stage 5 yet) no report
            data = json.loads((await c.session.read_resource("reelkit://restore/proj")).contents[0].text)
            assert data["folders"]["alignment"] == str(tmp_path / "proj" / "pipeline" / "02_alignment")
            assert data["metrics"] is None and "report" not in data["reports"]
            # stage 5's files as run_validation writes them (here by the validate tool, into the stage's folder):
            # the resource gives their paths and the summary table and verdict
            stage5 = tmp_path / "proj" / "pipeline" / "05_validation"
            await c.ok("validate", source=scan, reference=ref, output_dir=str(stage5), baselines="grade_matrix",
                       plan_only=False)
            data = json.loads((await c.session.read_resource("reelkit://restore/proj")).contents[0].text)
            assert data["reports"]["report"] == str(stage5 / "report.html")
            assert data["reports"]["metrics_csv"] == str(stage5 / "metrics.csv")
            assert set(data["metrics"]["summary"]) == {"source", "grade_matrix"}
            assert data["metrics"]["verdict"]["winner"] in {"source", "grade_matrix"}
            # restore_init over an existing project: refused naming the field, unless forced
            err = await c.error("restore_init", project="proj", source=scan, reference=ref)
            assert err["field"] == "project" and "already exists" in err["message"]

    run(scenario)
    report = json.loads((tmp_path / "val" / "metrics.json").read_text("utf-8"))
    assert set(report["methods"]) == {"source", "grade_matrix", "same"}


#: A restoration project small enough for every stage in a test (as tests/test_pipeline_project.py's TINY; a
#: checkpoint each step, one kept: the plan names the one left).
TINY_PROJECT = {
    "curation": {"pairs_per_shot": 3, "min_spacing": 1},
    "training": {"init_from": "", "model": {"type": "resnet_small", "channels": 8, "blocks": 1}, "steps": 2,
                 "batch_size": 2, "crop_size": 32, "checkpoint_every": 1, "keep_checkpoints": 1, "threads": 1,
                 "preview_crops": 1},
    "inference": {"tile": 0, "threads": 1},
    "validation": {"baselines": "grade_matrix,dust_bust+grade_lut3d", "fit_frames": 2, "compare_frames": 2,
                   "crop_size": 32},
}


async def _run_exactly(c: Client, root: Path, name: str, **args) -> tuple[dict, dict, dict]:
    """Plan and run one call (with its token): the plan's ``writes`` are exactly the files the run creates or
    changes, and every file it deletes was in the plan's ``replaces``. Returns (plan, files before, after)."""
    before = _files(root)
    plan = (await c.ok(name, **args))["plan"]
    assert _files(root) == before, f"{name}: planning wrote something"
    await c.ok(name, **args, plan_only=False, confirm=plan["token"])
    after = _files(root)
    changed = {p for p in after if before.get(p) != after[p]}
    assert changed == set(plan["writes"]), (name, args, changed ^ set(plan["writes"]))
    assert set(before) - set(after) <= set(plan["replaces"]), (name, args)
    return plan, before, after


def test_validate_and_each_restore_stage_plan_exactly_the_files_they_write(tmp_path):
    """validate and restore_run are planned file by file (issue 22): the plan's file list is exactly the set of
    files the run creates or changes; a forced redo replaces only files of its plan, undo restores them byte for
    byte (sha256) and redo re-applies them. Each restore stage run on its own (the stages before it on disk) is
    planned file by file, the training's checkpoints included; one call of stages 1-5 from scratch plans stages
    1, 3 and 4 file by file and stages 2 and 5 (which align and validate what the stage before them finds) as
    their folders, and writes nothing outside them."""
    pytest.importorskip("torch")
    from core.pipeline.project import init_project

    scan, ref = _sequence(tmp_path / "scan", name="scan"), _sequence(tmp_path / "ref", name="ref")
    for name in ("proj", "whole"):
        init_project(tmp_path / name, source=str(tmp_path / scan), reference=str(tmp_path / ref),
                     params=TINY_PROJECT, seed=5)
    val = {"source": scan, "reference": ref, "candidate": [f"same={scan}"], "output_dir": "val",
           "baselines": "grade_matrix,dust_bust+grade_lut3d", "compare_frames": 2, "experiments": "notes.md"}
    stage_dir = lambda project, n: str(next((tmp_path / project / "pipeline").glob(f"0{n}_*")))  # noqa: E731

    async def scenario():
        async with _server(tmp_path) as c:
            plan, _, first = await _run_exactly(c, tmp_path, "validate", **val)
            assert plan["replaces"] == [] and plan["writes_within"] == [] and plan["clears"] == []
            names = {Path(p).relative_to(tmp_path / "val").as_posix() for p in plan["writes"] if "/val/" in p}
            assert {"grades/matrix.cube", "grades/lut3d.cube", "baselines/grade_matrix/grade_matrix.1003.exr",
                    "report/crops/1001/dust_bust-grade_lut3d.png", "report/compare.1003.png",
                    "report/plot_flicker.png", "frames/metrics.1002.json", "manifest.json"} <= names
            # forced again: every file it writes exists, so it replaces exactly them; undo, redo
            forced = {**val, "force": True}
            plan = (await c.ok("validate", **forced))["plan"]
            assert set(plan["replaces"]) == set(plan["writes"]) and plan["needs_confirm"]
            await c.ok("validate", **forced, plan_only=False, confirm=plan["token"])
            again = _files(tmp_path)
            assert {p for p in again if again[p] != first[p]} <= set(plan["writes"]) and set(again) == set(first)
            await c.ok("undo")
            assert _files(tmp_path) == first
            await c.ok("redo")
            assert _files(tmp_path) == again

            # each stage alone: planned file by file in its folder
            for n in range(1, 6):
                plan, _, _ = await _run_exactly(c, tmp_path, "restore_run", project="proj", stages=str(n))
                assert plan["writes_within"] == [] and plan["clears"] == [stage_dir("proj", n)], n
                if n == 3:  # 2 steps, a checkpoint each, the last one kept
                    assert [Path(p).name for p in plan["writes"] if "/checkpoints/" in p] == ["step_00000002.pt"]
            # stage 2 redone from scratch (its folder emptied first): undo puts back every byte, redo re-applies
            before = _files(tmp_path)
            plan = (await c.ok("restore_run", project="proj", stages="2", force=True))["plan"]
            assert plan["clears"] == [stage_dir("proj", 2)]
            await c.ok("restore_run", project="proj", stages="2", force=True, plan_only=False, confirm=plan["token"])
            redone = _files(tmp_path)
            assert {p for p in redone if before.get(p) != redone[p]} <= set(plan["writes"])
            assert set(before) - set(redone) <= set(plan["replaces"])
            await c.ok("undo")
            assert _files(tmp_path) == before
            await c.ok("redo")
            assert _files(tmp_path) == redone

            # stages 1-5 in one call
            before = _files(tmp_path)
            plan = (await c.ok("restore_run", project="whole", stages="1-5"))["plan"]
            assert plan["writes_within"] == [stage_dir("whole", n) for n in (2, 5)]
            assert plan["clears"] == [stage_dir("whole", n) for n in (1, 3, 4)]
            await c.ok("restore_run", project="whole", stages="1-5", plan_only=False, confirm=plan["token"])
            after = _files(tmp_path)
            changed = {p for p in after if before.get(p) != after[p]}
            within = tuple(f + os.sep for f in plan["writes_within"])
            assert set(plan["writes"]) <= changed and not {p for p in changed - set(plan["writes"])
                                                           if not p.startswith(within)}
            assert (await c.ok("journal"))["actions"][-1]["unplanned"] == []

    run(scenario)


# -- streamable HTTP ---------------------------------------------------------------------------------------
def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_streamable_http_on_loopback_serves_the_same_tools_and_refuses_other_hosts(tmp_path):
    """``reelkit mcp --http PORT``: the official client over HTTP lists the same tools, plans and runs a call,
    undoes it; the socket listens on 127.0.0.1 only and a request naming another Host is refused."""
    import socket
    import subprocess
    import time
    import urllib.error
    import urllib.request

    from mcp.client.streamable_http import streamable_http_client

    pattern = _sequence(tmp_path / "shots", count=2)
    port = _free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "core.cli.main", "mcp", "--root", str(tmp_path), "--http", str(port)],
                            cwd=str(REPO), env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert proc.poll() is None and time.monotonic() < deadline, "the HTTP server did not start"
            time.sleep(0.2)
        # listening on the loopback interface only: another of this machine's addresses does not answer
        addresses = {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)} - {"127.0.0.1"}
        for address in addresses - {a for a in addresses if a.startswith("127.")}:
            with socket.socket() as s:
                assert s.connect_ex((address, port)) != 0, address
        # DNS rebinding: a page served from elsewhere that resolves to 127.0.0.1 sends its own Host header
        request = urllib.request.Request(f"http://127.0.0.1:{port}/mcp", method="POST", data=b"{}",
                                         headers={"Host": f"evil.example:{port}", "Content-Type": "application/json",
                                                  "Accept": "application/json, text/event-stream"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code in (400, 403, 421)

        async def scenario():
            async with streamable_http_client(f"http://127.0.0.1:{port}/mcp") as (read, write, _), \
                    ClientSession(read, write) as session:
                await session.initialize()
                c = Client(session)
                names = {t.name for t in (await session.list_tools()).tools}
                assert {"convert", "align", "palette_encode", "validate", "restore_init", "restore_run",
                        "dataset_run", "undo", "task_status"} <= names
                args = {"input": pattern, "output": "prev.####.png", "output_dir": "previews", "target": "srgb"}
                plan = (await c.ok("convert", **args))["plan"]
                await c.ok("convert", **args, plan_only=False)
                assert set(_files(tmp_path / "previews")) == set(plan["writes"])
                err = await c.error("info", input="../elsewhere.png")
                assert (err["code"], err["field"]) == ("outside_roots", "input")
                await c.ok("undo")
                assert not (tmp_path / "previews").exists()

        run(scenario)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# -- a staged background task: dataset run -----------------------------------------------------------------
def _decoded_frames(video: Path) -> int:
    """Frames OpenCV decodes from ``video``, read one by one."""
    import cv2

    cap, n = cv2.VideoCapture(str(video)), 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def test_a_dataset_run_task_reports_its_stage_and_log_and_resumes_after_a_cancel(tmp_path):
    """dataset_run in the background on two real clips (tests.test_dataset_footage): task_status names the
    stage and shows the log's tail; a cancel stops it between units of work, the folder's manifests stay
    valid, and the same call resumes: the stages finished before the cancel are up to date."""
    from tests.test_dataset_footage import make_footage
    from tests.test_dataset_builder import PARAMS

    footage = make_footage(tmp_path / "footage")
    args = {"footage": [str(p.relative_to(tmp_path)) for p in footage.videos], "output_dir": "ds", **PARAMS}
    total = sum(_decoded_frames(p) for p in footage.videos)

    async def scenario():
        async with _server(tmp_path) as c:
            plan = (await c.ok("dataset_run", **args))["plan"]
            assert plan["writes_within"] == [str(tmp_path / "ds" / d) for d in ("frames", "cache", "dataset")]
            assert plan["reads"] == [str(p) for p in footage.videos]
            assert plan["frames"] == total and plan["confirm_reasons"] == [f"{total} frames is more than 100"]
            started = await c.ok("dataset_run", **args, plan_only=False, confirm=plan["token"], background=True)
            status = await poll(c, started["task"], lambda s: s["note"] == "extract" and s["done"] > 0)
            await c.ok("task_cancel", id=started["task"])
            status = await poll(c, started["task"])
            assert status["state"] == "cancelled", status
            assert any(line.split(" ", 1)[1].startswith("shots: ") for line in status["log_tail"])
            assert status["log_tail"][-1].split(" ", 1)[1].startswith("cancelled: task")
            stages = {s["stage"]: s["status"] for s in (await c.ok("dataset_status", folder="ds"))["stages"]}
            assert stages["shots"] == "done" and stages["extract"] == "failed" and stages["assemble"] == "not run"
            # the same call again resumes; a new plan (the folder changed) confirms it
            plan = (await c.ok("dataset_run", **args))["plan"]
            done = await c.ok("dataset_run", **args, plan_only=False, confirm=plan["token"])
            summary = done["result"]["stages"]
            assert summary["shots"]["status"] == "up to date" and summary["assemble"]["status"] == "done"
            data = json.loads((await c.session.read_resource("reelkit://dataset/ds")).contents[0].text)
            assert {s["status"] for s in data["stages"]} == {"done"}
            assert data["report"] == str(tmp_path / "ds" / "dataset" / "report" / "report.md")
            # the journal has both runs, the cancelled one with the files it made
            actions = (await c.ok("journal"))["actions"]
            assert [a["tool"] for a in actions] == ["dataset_run", "dataset_run"]
            return _files(tmp_path / "ds"), actions[0]

    after, first = run(scenario)
    assert set(first["created"]) < set(after)  # the cancelled run's files were kept and built on


def test_each_dataset_stage_plans_exactly_the_files_it_writes(tmp_path):
    """dataset_run one stage a call on two real clips (tests.test_dataset_footage): every stage's plan names
    exactly the files it creates or changes (extract: every frame PNG, its shots being on disk), but the
    embedding cache and the training set, which are planned as their folders; a forced full run empties every
    stage folder first (clears) and is undone byte for byte, and redone."""
    from tests.test_dataset_builder import PARAMS
    from tests.test_dataset_footage import make_footage

    footage = make_footage(tmp_path / "footage")
    args = {"footage": [str(p.relative_to(tmp_path)) for p in footage.videos], "output_dir": "ds", **PARAMS}
    ds = tmp_path / "ds"

    async def scenario():
        async with _server(tmp_path) as c:
            for stage in ("shots", "extract", "filter", "embed", "dedup", "cluster", "caption", "assemble"):
                before = _files(tmp_path)
                plan = (await c.ok("dataset_run", **args, stages=stage))["plan"]
                await c.ok("dataset_run", **args, stages=stage, plan_only=False, confirm=plan["token"])
                after = _files(tmp_path)
                changed = {p for p in after if before.get(p) != after[p]}
                within = tuple(f + os.sep for f in plan["writes_within"])
                assert set(plan["writes"]) <= changed, (stage, set(plan["writes"]) - changed)
                assert {p for p in changed - set(plan["writes"]) if not p.startswith(within)} == set(), stage
                assert plan["writes_within"] == {"embed": [str(ds / "cache")], "assemble": [str(ds / "dataset")]}.get(
                    stage, []), stage
                if stage == "extract":
                    frames = json.loads((ds / "frames" / "frames.json").read_text("utf-8"))["frames"]
                    assert len(frames) > 10 and {str(ds / f["path"]) for f in frames} <= set(plan["writes"])
            journal = (await c.ok("journal"))["actions"]
            assert all(a["unplanned"] == [] for a in journal) and len(journal) == 8
            before = _files(tmp_path)
            plan = (await c.ok("dataset_run", **args, force=True))["plan"]
            assert plan["clears"] == [str(ds / d) for d in ("shots", "frames", "filter", "embed", "dedup", "cluster",
                                                            "caption", "dataset")]
            await c.ok("dataset_run", **args, force=True, plan_only=False, confirm=plan["token"])
            after = _files(tmp_path)
            await c.ok("undo")
            assert _files(tmp_path) == before
            await c.ok("redo")
            assert _files(tmp_path) == after

    run(scenario)


def test_a_restore_run_task_cancelled_in_alignment_resumes_its_frames(tmp_path):
    """restore_run in the background: task_status follows the stages; a cancel during stage 2 stops it between
    frames, the stage reads failed with the cancel as its reason, and the same call resumes the frames aligned."""
    for name in ("scan", "ref"):
        for i in range(16):
            _photo(tmp_path / name / f"{name}.{1001 + i:04d}.png", size=(192, 256), shift=i)
    from core.pipeline.project import init_project

    init_project(tmp_path / "proj", source=str(tmp_path / "scan" / "scan.####.png"),
                 reference=str(tmp_path / "ref" / "ref.####.png"))

    async def scenario():
        async with _server(tmp_path) as c:
            started = await c.ok("restore_run", project="proj", stages="1-2", plan_only=False, background=True)
            await poll(c, started["task"], lambda s: s["note"] == "stage 2 alignment" and s["done"] > 0)
            await c.ok("task_cancel", id=started["task"])
            status = await poll(c, started["task"])
            assert status["state"] == "cancelled", status
            assert [line.split(" ", 1)[1].split(":")[0] for line in status["log_tail"][:2]] == \
                ["stage 1 dataset curation"] * 2
            stages = (await c.ok("restore_status", project="proj"))["stages"]
            assert stages[0]["state"] == "done" and stages[1]["state"] == "failed"
            assert "cancelled" in stages[1]["reason"] and 0 < stages[1]["counts"]["frames_done"] < 16
            done = stages[1]["counts"]["frames_done"]
            result = (await c.ok("restore_run", project="proj", stages="1-2", plan_only=False))["result"]
            assert [s["state"] for s in result["stages"][:2]] == ["done", "done"]
            return done

    done = run(scenario)
    manifest = json.loads((tmp_path / "proj" / "pipeline" / "02_alignment" / "manifest.json").read_text("utf-8"))
    assert sum(1 for r in manifest["frames"].values() if r.get("resumed")) == done
