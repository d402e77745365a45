"""core.params: one spec gives argparse options, and reads them back given-only or resolved."""

from __future__ import annotations

import argparse

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
