"""core.params: one spec gives argparse options, and reads them back given-only or resolved."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from core.errors import ParameterError
from core.params import Param, ParamSet

SPEC = ParamSet("t", [
    Param("k", int, 8, "palette size", minimum=2, maximum=256),
    Param("space", str, "oklab", "fit space", choices=("oklab", "lab")),
    Param("alpha", bool, True, "use alpha"),
])


def parse(argv):
    parser = argparse.ArgumentParser()
    SPEC.add_arguments(parser)
    return parser.parse_args(argv)


def test_given_keeps_only_the_options_on_the_command_line():
    assert SPEC.given(parse([])) == {}
    assert SPEC.given(parse(["--k", "12", "--no-alpha"])) == {"k": "12", "alpha": False}


def test_from_namespace_resolves_defaults_and_types():
    assert SPEC.from_namespace(parse(["--k", "12"])) == {"k": 12, "space": "oklab", "alpha": True}
    with pytest.raises(ParameterError, match="k"):
        SPEC.from_namespace(parse(["--k", "1"]))


def test_choices_from_a_table_are_its_keys_in_order():
    from core.degrade.presets import PRESETS
    from core.io.exr import COMPRESSIONS

    p = Param("compression", str, "zip", "EXR compression", choices=COMPRESSIONS)
    assert p.choices == tuple(COMPRESSIONS) and p.coerce("PIZ") == "piz"
    with pytest.raises(ParameterError, match="'lzw' is not one of none, rle"):
        p.coerce("lzw")
    assert Param("preset", str, None, "look", choices=PRESETS, optional=True).choices[1:] == tuple(PRESETS)


def test_optional_choice_is_unset_as_none_on_every_surface():
    p = Param("union", str, None, "second shape", choices={"circle": 0, "box": 1}, optional=True)
    # every surface shows and records the word; code reads None through value()
    assert p.choices == ("none", "circle", "box") and p.default == "none"
    assert [p.coerce(v) for v in (None, "none", "None", "box")] == ["none", "none", "none", "box"]
    assert [p.value(p.coerce(v)) for v in (None, "none", "box")] == [None, None, "box"]
    spec = ParamSet("t", [p])
    assert spec.resolve({}) == spec.resolve({"union": None}) == {"union": "none"}
    parser = argparse.ArgumentParser()
    spec.add_arguments(parser)
    assert spec.from_namespace(parser.parse_args(["--union", "none"])) == {"union": "none"}
    assert Param("mode", str, "a", "not optional", choices=("a", "b")).value("a") == "a"
    renamed = dataclasses.replace(p, name="shape_union")  # as the Nuke layer prefixes a generator's knobs
    assert (renamed.choices, renamed.default) == (p.choices, p.default)


def test_optional_without_choices_is_none():
    p = Param("box", str, None, "a box", optional=True)
    assert p.coerce(None) is None and p.value(None) is None and p.value("1,2,3,4") == "1,2,3,4"


@pytest.mark.parametrize("kwargs, message", [
    ({"choices": ("a", "none"), "optional": True}, "'none' is how an optional parameter is unset"),
    ({"default": "x", "optional": True}, "an optional parameter without choices has the default None"),
])
def test_optional_refuses_a_spec_it_cannot_express(kwargs, message):
    with pytest.raises(TypeError, match=message):
        Param("p", str, kwargs.pop("default", None), "help", **kwargs)
