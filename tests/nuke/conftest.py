"""Fixtures for the Nuke layer: a fresh fake ``nuke`` module per test.

``nuke``           the fake module, installed as ``sys.modules["nuke"]`` (GUI session), with a fake
                   ``nukescripts`` (panel registration only)
``headless``       the same, as in ``nuke -t`` (``nuke.GUI`` is False)
``started``        after Nuke's start-up ran the repository's ``init.py`` (gizmos on the plug-in path)
``node``           a ReelColorConvert created from its gizmo in a started session
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FAKE = Path(__file__).with_name("fake_nuke.py")
FAKE_SCRIPTS = Path(__file__).with_name("fake_nukescripts.py")


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_fake_nuke():
    return _load("nuke", FAKE)


@pytest.fixture
def nuke(monkeypatch):
    module = load_fake_nuke()
    monkeypatch.setitem(sys.modules, "nuke", module)
    scripts = _load("nukescripts", FAKE_SCRIPTS)
    monkeypatch.setitem(sys.modules, "nukescripts", scripts)
    monkeypatch.setitem(sys.modules, "nukescripts.panels", scripts.panels)
    saved = list(sys.path)
    yield module
    sys.path[:] = saved
    leftover = module._main_queue.qsize()
    assert leftover == 0, f"{leftover} main-thread call(s) queued but never run"


@pytest.fixture
def headless(nuke):
    nuke._set_gui(False)
    return nuke


@pytest.fixture
def started(nuke):
    nuke._run_startup(str(REPO), "init.py")
    return nuke


@pytest.fixture
def node(started):
    return started.createNode("ReelColorConvert")
