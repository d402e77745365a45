"""One job spec (core.jobs.JOB_PARAMS) behind the CLI's --frames/--output-dir/--force, the Nuke nodes' job
knobs and the agent's job arguments; one word for an unset optional choice (the degrade preset's "none")."""

from __future__ import annotations

import argparse

import pytest

from core.jobs import JOB_PARAMS

PER_FRAME = (("convert",), ("degrade",), ("align",), ("infer",), ("palette", "encode"), ("palette", "decode"))


def _subparser(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> argparse.ArgumentParser:
    for name in path:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return parser


@pytest.mark.parametrize("path", PER_FRAME, ids=" ".join)
def test_per_frame_commands_take_their_job_options_from_the_spec(path):
    from core.cli.main import build_parser

    actions = {a.dest: a for a in _subparser(build_parser(), path)._actions}
    for name in ("frames", "output_dir", "force"):
        p = JOB_PARAMS[name]
        assert actions[name].option_strings[0] == p.flag
        assert actions[name].help == p.help
    assert actions["output_dir"].required and actions["frames"].default is None and actions["force"].default is False


def test_nuke_job_knobs_are_the_job_spec_in_nukes_words():
    from nuke_plugin.specs import JOB_PARAMS as KNOBS

    assert list(KNOBS.params) == ["frames", "output_dir", "input_mode", "force"]
    for name in ("frames", "output_dir", "force"):
        core, knob = JOB_PARAMS[name], KNOBS[name]
        assert (knob.kind, knob.label) == (core.kind, core.label)
    # a knob is never unset: an empty one means what the unset value means in core
    assert KNOBS["frames"].default == KNOBS["output_dir"].default == "" and KNOBS["force"].default is False
    assert "empty: the whole frame range" in KNOBS["frames"].help


def test_agent_job_arguments_are_the_job_spec():
    from core.agent.tools import FILE_PARAMS

    for name in ("frames", "output_dir", "force"):
        core, arg = JOB_PARAMS[name], FILE_PARAMS[name]
        assert (arg.kind, arg.default, arg.optional) == (core.kind, core.default, core.optional)
    assert FILE_PARAMS["frames"].help == JOB_PARAMS["frames"].help


def test_the_unset_preset_is_one_word_read_in_one_place():
    from core.degrade import DEGRADE_OUTPUT_PARAMS, PRESET_PARAM, preset_name
    from core.degrade.presets import PRESETS

    assert PRESET_PARAM.choices == ("none", *PRESETS) and PRESET_PARAM.default == "none"
    assert DEGRADE_OUTPUT_PARAMS.resolve({})["preset"] == "none"  # what manifests and config hashes hold
    assert preset_name(None) is preset_name("none") is preset_name("NONE") is None
    name = next(iter(PRESETS))
    assert preset_name(name.upper()) == name
    with pytest.raises(ValueError, match="is not one of none, "):
        preset_name("no_such_look")
