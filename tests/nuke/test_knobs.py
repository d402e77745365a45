"""Knobs derived from a ParamSet, and knob values read back through ParamSet.resolve."""

from __future__ import annotations

import pytest

from core.errors import ParameterError
from core.params import Param, ParamSet
from nuke_plugin import knobs

SPEC = ParamSet("demo", [
    Param("count", int, 8, "palette size", minimum=2, maximum=256),
    Param("strength", float, 0.5, "blend with the input", minimum=0.0, maximum=1.0),
    Param("gain", float, 1.0, "gain", minimum=0.0),
    Param("flip", bool, False, "flip it"),
    Param("mode", str, "fast", "how to search", choices=("fast", "exact")),
    Param("note", str, "", "a note"),
    Param("folder", str, "", "where to write"),
])


def test_knob_classes_follow_the_param_types():
    specs = {s.name: s for s in knobs.knob_specs(SPEC, {"folder": "File_Knob"})}
    assert {n: s.knob_class for n, s in specs.items()} == {
        "count": "Int_Knob", "strength": "Double_Knob", "gain": "Double_Knob", "flip": "Boolean_Knob",
        "mode": "Enumeration_Knob", "note": "String_Knob", "folder": "File_Knob"}
    assert specs["strength"].slider_range == (0.0, 1.0)
    assert specs["gain"].slider_range is None          # one open end: no slider range
    assert specs["count"].slider_range is None         # Int_Knob: range in the tooltip
    assert specs["count"].tooltip == "Palette size. Range 2 to 256. Default 8."
    assert specs["gain"].tooltip == "Gain. At least 0. Default 1.0."
    assert specs["flip"].tooltip == "Flip it. Default off."
    assert specs["mode"].choices == ("fast", "exact") and specs["mode"].label == "Mode"


@pytest.mark.parametrize("overrides, message", [
    ({"count": "File_Knob"}, r"\(Int_Knob\) cannot be shown as a File_Knob"),
    ({"mode": "String_Knob"}, r"\(Enumeration_Knob\) cannot be shown as a String_Knob"),
    ({"missing": "File_Knob"}, "unknown parameter"),
])
def test_bad_overrides(overrides, message):
    with pytest.raises(TypeError, match=message):
        knobs.knob_specs(SPEC, overrides)


def test_add_knobs_makes_live_knobs(nuke):
    node = nuke.nodes.Grade()
    made = knobs.add_knobs(node, SPEC, {"folder": "File_Knob"})
    assert [k.Class() for k in made] == ["Int_Knob", "Double_Knob", "Double_Knob", "Boolean_Knob",
                                         "Enumeration_Knob", "String_Knob", "File_Knob"]
    assert node["strength"].range() == (0.0, 1.0) and node["count"].range() is None
    assert node["mode"].values() == ["fast", "exact"]
    assert {k.name(): k.value() for k in made} == SPEC.defaults()
    assert node["count"].tooltip().startswith("Palette size.")
    assert [a[1] for a, _ in nuke._calls("Node.addKnob")][-7:] == list(SPEC.params)


def test_read_values_round_trip(nuke):
    node = nuke.nodes.Grade()
    knobs.add_knobs(node, SPEC)
    node["count"].setValue(16)
    node["strength"].setValue(1)
    node["mode"].setValue("exact")
    node["flip"].setValue(True)
    values = knobs.read_values(node, SPEC)
    assert values == {"count": 16, "strength": 1.0, "gain": 1.0, "flip": True, "mode": "exact", "note": "",
                      "folder": ""}
    assert type(values["strength"]) is float


def test_read_values_names_node_and_parameter(nuke):
    node = nuke.nodes.Grade(name="Grade7")
    knobs.add_knobs(node, SPEC)
    node["count"].setValue(1000)
    with pytest.raises(ParameterError, match=r"Grade7: parameter 'count': 1000 is above the maximum 256"):
        knobs.read_values(node, SPEC)
    bare = nuke.nodes.Grade(name="Grade8")
    with pytest.raises(ParameterError, match=r"Grade8: no knob 'count'"):
        knobs.read_values(bare, SPEC)
