"""The fake ``nuke`` must fail loudly where it does not model Nuke, or the other tests prove nothing."""

from __future__ import annotations

import threading

import pytest


def test_unmodelled_attribute_raises_naming_it(nuke):
    with pytest.raises(AttributeError, match=r"fake nuke does not model nuke\.getFilename"):
        nuke.getFilename("Open")
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


def test_expressions_of_one_form_only(started):
    nuke = started
    node = nuke.createNode("SpectrumEncode")
    switch = node.node("Switch_result")
    assert switch["which"].value() == 0
    node["output_ready"].setValue(True)
    assert switch["which"].value() == 1 and switch["which"].hasExpression()
    switch["which"]._expression = "parent.output_ready + 1"
    with pytest.raises(AttributeError, match="does not model the expression"):
        switch["which"].value()


def test_knob_changed_runs_with_this_knob(started):
    nuke = started
    node = nuke.createNode("ReelDegrade")
    node["seed"].setValue(3)
    assert nuke._calls("knobChanged")[-1] == (("ReelDegrade1", "seed"), {})
    assert nuke.thisNode() is None and nuke.thisKnob() is None
    before = len(nuke._calls("knobChanged"))
    nuke._show_panel(node)
    assert nuke._calls("knobChanged")[before] == (("ReelDegrade1", "showPanel"), {})


def test_copy_channels_must_be_declared(nuke):
    copy = nuke.nodes.Copy()
    assert (copy["from0"].value(), copy["to0"].value(), copy["from1"].value()) == ("rgba.alpha", "rgba.alpha", "none")
    with pytest.raises(ValueError, match="unknown channel 'palette_index.Y'"):
        copy["from1"].setValue("palette_index.Y")


def test_pixels_of_unmodelled_nodes_raise(nuke):
    with pytest.raises(AttributeError, match="does not model the pixels of a Grade"):
        nuke._pixels(nuke.nodes.Grade(), 1)
    read = nuke.nodes.Read(file="/x/a.####.exr", first=1, last=2)
    with pytest.raises(AttributeError, match="colour conversion"):
        nuke._pixels(read, 1)


def test_fake_nukescripts_models_only_panels(nuke):
    import nukescripts

    with pytest.raises(AttributeError, match="does not model nukescripts.PythonPanel"):
        nukescripts.PythonPanel
    with pytest.raises(AttributeError, match=r"does not model nukescripts\.panels\.WidgetKnob"):
        nukescripts.panels.WidgetKnob
    with pytest.raises(KeyError):
        nukescripts.panels.restorePanel("nobody")
