"""The assistant's actions on Nuke nodes (nuke_plugin.agent): one undo group each, checked knob values, the
same actions as MCP host tools called from the server's thread and journaled.

The fake ``nuke`` models Nuke's undo stack for what it models (knob values, inputs, nodes made): a change
outside an undo group is an item of its own, as each edit is in Nuke, so "one action, one Ctrl+Z" can fail here.
"""

from __future__ import annotations

import threading

import pytest

from core.agent.schema import FieldError
from nuke_plugin import agent, host
from tests.nuke.conftest import REPO
from tests.nuke.test_reel_degrade import _write_plate


@pytest.fixture
def plate(started, tmp_path):
    return started.nodes.Read(file=_write_plate(tmp_path / "in", [1001, 1002]), first=1001, last=1002, raw=True)


def _state(nuke):
    """Every top-level node with every knob's value: what an undo must bring back."""
    return {n.name(): {k: n[k].value() for k in n.knobs()} for n in nuke.allNodes()}


def test_creating_a_node_with_knobs_is_one_undo_item(started, plate, tmp_path):
    nuke = started
    before, size = _state(nuke), nuke.Undo().undoSize()
    made = agent.create_node("ReelDegrade", {"preset": "dusty_35mm", "seed": 7, "grain_intensity": 0.0,
                                             "output_dir": str(tmp_path / "out")}, input=plate.name())
    node = nuke.toNode(made["node"])
    assert made == {"node": "ReelDegrade1", "class": "ReelDegrade", "undo": "reelkit: create ReelDegrade",
                    "knobs": {"preset": "dusty_35mm", "seed": 7, "grain_intensity": 0.0,
                              "output_dir": str(tmp_path / "out")}}
    assert node.input(0) is plate and node["seed"].value() == 7 and node["preset"].value() == "dusty_35mm"
    assert nuke.Undo().undoSize() == size + 1 and nuke.Undo().undoDescribe() == "reelkit: create ReelDegrade"
    after = _state(nuke)
    nuke.undo()  # one Ctrl+Z
    assert _state(nuke) == before and nuke.toNode("ReelDegrade1") is None
    nuke.redo()
    assert _state(nuke) == after


def test_setting_knobs_is_one_undo_item_and_a_bad_value_changes_nothing(started, plate, tmp_path):
    nuke = started
    agent.create_node("ReelDegrade", {"preset": "faded_16mm", "seed": 3}, input=plate.name())
    before, size = _state(nuke), nuke.Undo().undoSize()
    done = agent.set_knobs("ReelDegrade1", {"seed": 9, "dust_count": 120.0, "pixel_type": "float"})
    assert done["undo"] == "reelkit: set seed, dust_count, pixel_type on ReelDegrade1"
    node = nuke.toNode("ReelDegrade1")
    assert (node["seed"].value(), node["dust_count"].value(), node["pixel_type"].value()) == (9, 120.0, "float")
    assert nuke.Undo().undoSize() == size + 1
    nuke.undo()
    assert _state(nuke) == before
    # refusals name the knob; nothing is set, nothing is left on the undo stack
    for knobs, field, code in [({"seed": 4, "dust_count": 5000.0}, "knobs.dust_count", "invalid"),
                               ({"seed": "4"}, "knobs.seed", "wrong_type"),
                               ({"colour": 1}, "knobs.colour", "unknown_argument"),
                               ({"preset": "brand_new"}, "knobs.preset", "invalid")]:
        with pytest.raises(FieldError) as refused:
            agent.set_knobs("ReelDegrade1", knobs)
        assert (refused.value.field, refused.value.code) == (field, code)
        assert _state(nuke) == before and nuke.Undo().undoSize() == size
    # a node made with a bad knob is not left behind: the group is cancelled
    with pytest.raises(FieldError, match="knobs.seed"):
        agent.create_node("ReelDegrade", {"output_dir": str(tmp_path), "seed": -1})
    assert _state(nuke) == before and nuke.Undo().undoSize() == size
    for call, field in [(lambda: agent.create_node("Blur"), "node_class"), (lambda: agent.set_knobs("Nope1", {}), "node"),
                        (lambda: agent.create_node("ReelDegrade", input="Nope1"), "input"),
                        (lambda: agent.run_node("ReelDegrade1", "explode"), "button"),
                        (lambda: agent.set_knobs(plate.name(), {}), "node_class")]:
        with pytest.raises(FieldError) as refused:
            call()
        assert refused.value.field == field


def test_the_same_actions_as_host_tools_from_the_servers_thread_journaled_and_undone_in_nuke(started, plate, tmp_path):
    from core.agent.service import Agent

    nuke = started
    server = Agent([tmp_path], host_tools=agent.host_tools())
    names = {t["name"]: t for t in server.tool_list()}
    assert {"nuke_create_node", "nuke_set_knobs", "nuke_run_node", "degrade", "undo"} <= set(names)
    assert "ReelDegrade" in names["nuke_create_node"]["inputSchema"]["properties"]["node_class"]["enum"]
    results, errors = [], []

    def assistant():  # the MCP server's thread: every Nuke call goes through the main thread
        try:
            results.append(server.call("nuke_create_node", {"node_class": "ReelDegrade", "input": plate.name(),
                                                            "knobs": {"preset": "dusty_35mm", "seed": 7,
                                                                      "output_dir": str(tmp_path / "out")}}))
            results.append(server.call("nuke_run_node", {"node": "ReelDegrade1"}))
            server.call("nuke_set_knobs", {"node": "ReelDegrade1", "knobs": {"seed": 8}, "frames": "1"})
        except FieldError as exc:
            errors.append(exc)

    thread = threading.Thread(target=assistant)
    thread.start()
    node_out = lambda: (n := nuke.toNode("ReelDegrade1")) is not None and n[host.OUTPUT_FILE].value()  # noqa: E731
    nuke._pump(until=lambda: not thread.is_alive() and node_out(), timeout=120)
    thread.join()
    assert [r["result"]["undo"] for r in results] == ["reelkit: create ReelDegrade", "reelkit: Degrade ReelDegrade1"]
    assert [(e.field, e.code) for e in errors] == [("frames", "unknown_argument")]
    out = nuke.toNode("ReelDegrade1")[host.OUTPUT_FILE].value()
    assert out.endswith("/ReelDegrade1.####.exr")
    assert [a["tool"] for a in server.journal.actions()] == ["nuke_create_node", "nuke_run_node"]
    assert all(a["host"] == "nuke" for a in server.journal.actions())
    with pytest.raises(FieldError, match=r"done in Nuke: undo it there \(Edit > Undo 'reelkit: Degrade ReelDegrade1'"):
        server.call("undo")


def _result(nuke, name: str = "ReelDegrade1"):
    node = nuke.toNode(name)
    return node is not None and node[host.OUTPUT_FILE].value()


def test_creating_setting_and_running_a_node_is_one_undo_item_result_included(started, plate, tmp_path):
    """One assistant action (nuke_create_node with run=true, from the server's thread): the node, its knobs and
    the run's result (set on the main thread when the work ends, seconds later) are one Ctrl+Z; the result's
    files stay on disk (the journal says to undo the action in Nuke)."""
    from core.agent.service import Agent

    nuke = started
    server = Agent([tmp_path], host_tools=agent.host_tools())
    before, size = _state(nuke), nuke.Undo().undoSize()
    results = []
    thread = threading.Thread(target=lambda: results.append(server.call("nuke_create_node", {
        "node_class": "ReelDegrade", "input": plate.name(), "run": True,
        "knobs": {"preset": "dusty_35mm", "seed": 7, "output_dir": str(tmp_path / "out")}})))
    thread.start()
    nuke._pump(until=lambda: not thread.is_alive() and _result(nuke), timeout=120)
    thread.join()
    nuke._pump(until=lambda: nuke._main_queue.empty(), timeout=10)
    assert results[0]["result"]["undo"] == "reelkit: create ReelDegrade and Degrade"
    assert results[0]["result"]["button"] == "degrade"
    node = nuke.toNode("ReelDegrade1")
    assert node[host.OUTPUT_FILE].value().endswith("/ReelDegrade1.####.exr") and node[host.OUTPUT_READY].value()
    assert nuke.Undo().undoSize() == size + 1 and nuke.Undo().undoDescribe() == "reelkit: create ReelDegrade and Degrade"
    done = _state(nuke)
    nuke.undo()  # one Ctrl+Z: the node and its result gone
    assert _state(nuke) == before and nuke.Undo().undoSize() == size
    nuke.redo()
    assert _state(nuke) == done
    assert [(a["tool"], a["host_undo"]) for a in server.journal.actions()] == [
        ("nuke_create_node", "reelkit: create ReelDegrade and Degrade")]
    # refused: a button without run, an unknown button (nothing made, nothing on the undo stack)
    nuke.undo()
    for args, field in [({"button": "run"}, "button"), ({"run": True, "button": "explode"}, "button"),
                        ({"run": "yes"}, "run")]:
        with pytest.raises(FieldError) as refused:
            agent.create_node("ReelDegrade", input=plate.name(), **args)
        assert refused.value.field == field
        assert _state(nuke) == before and nuke.Undo().undoSize() == size


def test_running_a_node_is_one_undo_item_its_result(started, plate, tmp_path):
    """nuke_run_node on an existing node: the result, set when the work ends, is one undo item of the action's
    name (not one per result knob), and the press itself adds none."""
    nuke = started
    agent.create_node("ReelDegrade", {"seed": 7, "output_dir": str(tmp_path / "out")}, input=plate.name())
    before, size = _state(nuke), nuke.Undo().undoSize()
    done = agent.run_node("ReelDegrade1")
    assert nuke.Undo().undoSize() == size  # the work runs; nothing to undo yet
    nuke._pump(until=lambda: _result(nuke), timeout=120)
    nuke._pump(until=lambda: nuke._main_queue.empty(), timeout=10)
    assert nuke.Undo().undoSize() == size + 1 and nuke.Undo().undoDescribe() == done["undo"] == \
        "reelkit: Degrade ReelDegrade1"
    after = _state(nuke)
    nuke.undo()
    assert _state(nuke) == before
    nuke.redo()
    assert _state(nuke) == after


def test_headless_create_and_run_is_one_undo_item(headless, tmp_path):
    """Without a GUI (nuke -t) the work runs inside the press: the result joins the action's own group."""
    nuke = headless
    nuke._run_startup(str(REPO), "init.py")
    plate = nuke.nodes.Read(file=_write_plate(tmp_path / "in", [1001, 1002]), first=1001, last=1002, raw=True)
    before, size = _state(nuke), nuke.Undo().undoSize()
    agent.create_node("ReelDegrade", {"seed": 7, "output_dir": str(tmp_path / "out")}, input=plate.name(), run=True)
    assert _result(nuke) and nuke.Undo().undoSize() == size + 1
    nuke.undo()
    assert _state(nuke) == before
    made = agent.create_node("ReelDegrade", {"seed": 7, "output_dir": str(tmp_path / "out")}, input=plate.name())
    size = nuke.Undo().undoSize()
    agent.run_node(made["node"])
    assert _result(nuke, made["node"]) and nuke.Undo().undoSize() == size + 1
    nuke.undo()
    assert not _result(nuke, made["node"])


def test_the_docs_start_server_snippet_serves_nuke_actions_over_http(started, plate, tmp_path, monkeypatch):
    """docs/agent.md's Script Editor lines, run in the (fake) Nuke session: the official client over HTTP makes a
    node there (on Nuke's main thread) and reads the journal; the journal panel's default folder is the served one."""
    import asyncio
    import re
    import socket
    import time

    pytest.importorskip("mcp")
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    from tests.test_mcp import REPO, _free_port

    nuke = started
    (snippet,) = [b for b in re.findall(r"^```python\n(.*?)^```", (REPO / "docs" / "agent.md").read_text("utf-8"),
                                        flags=re.S | re.M) if "start_server" in b]
    port = _free_port()
    monkeypatch.setattr(agent, "SERVING", [])
    exec(snippet.replace("/shows/reel3", str(tmp_path)).replace("8765", str(port)), {})
    assert agent.SERVING == [str(tmp_path)]
    deadline = time.monotonic() + 60
    while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.1)
    outcome = {}

    async def assistant():
        async with streamable_http_client(f"http://127.0.0.1:{port}/mcp") as (read, write, _), \
                ClientSession(read, write) as session:
            await session.initialize()
            made = await session.call_tool("nuke_create_node", {"node_class": "ReelDegrade", "input": plate.name(),
                                                                "knobs": {"seed": 11}})
            outcome["made"] = made.structuredContent or made.content[0].text
            journal = await session.call_tool("journal", {})
            outcome["journal"] = journal.structuredContent

    thread = threading.Thread(target=lambda: asyncio.run(assistant()))
    thread.start()
    nuke._pump(until=lambda: not thread.is_alive(), timeout=120)
    thread.join()
    assert outcome["made"]["result"]["node"] == "ReelDegrade1", outcome
    assert nuke.toNode("ReelDegrade1")["seed"].value() == 11
    assert nuke.Undo().undoDescribe() == "reelkit: create ReelDegrade"
    assert [a["tool"] for a in outcome["journal"]["actions"]] == ["nuke_create_node"]
    from core.agent.journal_model import JournalModel

    assert agent.journal_root() == str(tmp_path)
    assert [r.tool for r in JournalModel(agent.journal_root()).rows] == ["nuke_create_node"]
