"""The fake ``nuke`` must fail loudly where it does not model Nuke, or the other tests prove nothing."""

from __future__ import annotations

import threading

import pytest


def test_unmodelled_attribute_raises_naming_it(nuke):
    with pytest.raises(AttributeError, match=r"fake nuke does not model nuke\.allNodes"):
        nuke.allNodes()
    with pytest.raises(AttributeError, match=r"fake nuke does not model nuke\.nodes\.Blur"):
        nuke.nodes.Blur()
    with pytest.raises(AttributeError, match=r"nuke\.toolbar\('Custom'\)"):
        nuke.toolbar("Custom")


def test_missing_knob_is_none_by_knob_and_nameerror_by_index(nuke):
    read = nuke.nodes.Read(file="/x/a.####.exr")
    assert read.knob("nope") is None
    with pytest.raises(NameError, match="knob nope does not exist"):
        read["nope"]
    with pytest.raises(ValueError, match="no knob named size"):
        nuke.nodes.Read(size=3)


def test_knob_types_are_checked(nuke):
    read = nuke.nodes.Read()
    with pytest.raises(TypeError):
        read["first"].setValue("1001")
    with pytest.raises(ValueError):
        read["before"].setValue("freeze")
    read["before"].setValue("black")
    assert read["before"].value() == "black"


def test_knobs_off_the_main_thread_raise_with_a_gui_only(nuke):
    read = nuke.nodes.Read(file="/x/a.exr")
    errors = []

    def touch():
        try:
            read["file"].value()
        except RuntimeError as exc:
            errors.append(str(exc))

    t = threading.Thread(target=touch)
    t.start()
    t.join()
    assert errors and "off the main thread" in errors[0]
    nuke._set_gui(False)
    errors.clear()
    t = threading.Thread(target=touch)
    t.start()
    t.join()
    assert errors == []


def test_execute_refuses_a_disabled_write(nuke):
    write = nuke.nodes.Write(file="/tmp/x.####.exr", disable=True)
    with pytest.raises(RuntimeError, match="disabled"):
        nuke.execute(write, 1, 2, 1)


def test_main_thread_queue_runs_only_when_pumped(nuke):
    seen = []
    nuke.executeInMainThread(seen.append, args=(1,))
    assert seen == []
    nuke._pump()
    assert seen == [1]
    with pytest.raises(TypeError):
        nuke.executeInMainThread(seen.append, args=1)
