"""Every gizmo parses, is what the generator writes, and mirrors its core spec; its commands resolve."""

from __future__ import annotations

import importlib
import re

import pytest

from nuke_plugin import build_gizmos, host, registry
from tests.nuke import tcl
from tests.nuke.conftest import REPO

GIZMO_DIR = REPO / "gizmos"
SPECS = {spec.name: spec for spec in registry.NODES}

# The rule of nuke_plugin.knobs, restated: addUserKnob type id per parameter.
TYPE_IDS = {bool: 6, int: 3, float: 7, str: 1}
ENUMERATION, FILE, TAB, PYSCRIPT, TEXT = 4, 2, 20, 22, 26


def load(name: str) -> tcl.GizmoFile:
    return tcl.parse_gizmo((GIZMO_DIR / f"{name}.gizmo").read_text("utf-8"))


def user_knobs(gizmo: tcl.GizmoFile) -> dict[str, tcl.UserKnob]:
    return {k.name: k for k in gizmo.top.user_knobs if k.name}


def test_one_gizmo_per_registered_node():
    assert sorted(p.stem for p in GIZMO_DIR.glob("*.gizmo")) == sorted(SPECS)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_gizmo_is_up_to_date_with_the_generator(name):
    text = (GIZMO_DIR / f"{name}.gizmo").read_text("utf-8")
    assert text == build_gizmos.render_gizmo(SPECS[name]), "run: python -m nuke_plugin.build_gizmos"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_braces_balance(name):
    text = (GIZMO_DIR / f"{name}.gizmo").read_text("utf-8")
    unescaped = re.sub(r"\\.", "", text)
    depth = 0
    for c in unescaped:
        depth += {"{": 1, "}": -1}.get(c, 0)
        assert depth >= 0
    assert depth == 0


@pytest.mark.parametrize("name", sorted(SPECS))
def test_knobs_mirror_the_spec(name):
    spec = SPECS[name]
    gizmo = load(name)
    assert gizmo.top.cls == "Gizmo" and gizmo.version.startswith("14.")
    knobs = user_knobs(gizmo)
    assert gizmo.top.user_knobs[0].type_id == TAB
    overrides = spec.knob_class_overrides()
    mirrored = list(spec.knob_params()) + list(spec.group_params())
    for p in mirrored:
        k = knobs[p.name]
        expected = ENUMERATION if p.choices else TYPE_IDS[p.kind]
        if overrides.get(p.name) == "File_Knob":
            expected = FILE
        assert k.type_id == expected, p.name
        assert k.label == p.title
        assert k.tooltip.startswith(p.help[:1].upper() + p.help[1:]), p.name
        assert k.menu == (list(p.choices) if p.choices else None), p.name
        if p.kind is float and p.minimum is not None and p.maximum is not None:
            assert k.range == (p.minimum, p.maximum), p.name
        else:
            assert k.range is None, p.name
        if p.kind is int and (p.minimum is not None or p.maximum is not None):
            assert re.search(r"Range|At least|At most", k.tooltip), p.name
        written = gizmo.top.knobs.get(p.name)
        if p.default in (None, ""):
            assert written is None, p.name
        else:
            parse = {bool: lambda w: {"true": True, "false": False}[w], int: int, float: float, str: str}[p.kind]
            assert parse(written) == p.default, p.name
    for excluded in spec.exclude:
        assert excluded not in knobs
    buttons = {b.name for b in spec.buttons}
    result = {host.STATUS, host.OUTPUT_FILE, host.OUTPUT_FIRST, host.OUTPUT_LAST, host.OUTPUT_READY}
    if spec.file_view is not None:
        result |= set(spec.file_view.extra_files().values())
    groups = spec.preset_groups
    boxes = {groups.override_knob(g) for g in groups.group_names()} if groups is not None else set()
    extra = set(knobs) - {p.name for p in mirrored} - buttons - result - boxes
    assert all(knobs[k].type_id in (TAB, TEXT) for k in extra), extra
    assert len(gizmo.top.user_knobs) == len(knobs), "two knobs with one name"


@pytest.mark.parametrize("name", sorted(n for n, s in SPECS.items() if s.preset_groups is not None))
def test_preset_groups_are_tabs_each_with_its_override_box(name):
    """After the main tab: per group, its tab, its 'Override preset' box (off), then exactly its parameters."""
    spec = SPECS[name]
    groups = spec.preset_groups
    order = [k.name for k in load(name).top.user_knobs]
    names = groups.group_names()
    start = order.index(groups.tab_knob(next(iter(names))))
    expected = [k for g, params in names.items() for k in (groups.tab_knob(g), groups.override_knob(g), *params)]
    assert order[start:start + len(expected)] == expected
    assert order[start + len(expected)] == "result"
    knobs = user_knobs(load(name))
    for g in names:
        assert knobs[groups.tab_knob(g)].type_id == TAB and knobs[groups.tab_knob(g)].label == groups.tab_label(g)
        box = knobs[groups.override_knob(g)]
        assert box.type_id == 6 and box.label == "Override preset"
        assert load(name).top.knobs[groups.override_knob(g)] == "false"
    # every parameter of the core spec, once, and the summary line on the main tab before the job knobs
    assert sorted(spec.group_params().params) == sorted(groups.core_params().params)
    assert order.index(groups.SUMMARY) < order.index("job_divider") < start


def test_degrade_tabs_are_the_effects_in_film_order():
    from core.degrade import DEGRADE_OUTPUT_PARAMS, DEGRADE_PARAMS, EFFECTS

    spec = SPECS["ReelDegrade"]
    assert list(spec.preset_groups.group_names()) == list(EFFECTS) == [
        "gauge", "grain", "generation", "fade", "dust", "scratches", "flicker", "weave", "digital"]
    assert list(spec.group_params().params) == list(DEGRADE_PARAMS.params)  # effect order = spec order
    assert [p.name for p in spec.exposed()] == list(DEGRADE_OUTPUT_PARAMS.params)
    assert spec.core_params()["seed"].maximum == 2**31 - 1


def test_knob_names_are_unique_per_node():
    for spec in registry.NODES:
        names = spec.knob_names()
        assert len(names) == len(set(names)), spec.name


def test_align_knobs_are_the_core_spec_and_the_output_choice():
    """ReelAlign shows every parameter of core.align.ALIGN_FILE_PARAMS (none left out), after its Output choice."""
    from core.align import ALIGN_FILE_PARAMS

    spec = SPECS["ReelAlign"]
    assert spec.exclude == () and [p.name for p in spec.exposed()] == list(ALIGN_FILE_PARAMS.params)
    order = [k.name for k in load("ReelAlign").top.user_knobs]
    assert order[:3] == ["ReelAlign", "output", *list(ALIGN_FILE_PARAMS.params)[:1]]
    assert order[2:2 + len(ALIGN_FILE_PARAMS.params)] == list(ALIGN_FILE_PARAMS.params)
    output = user_knobs(load("ReelAlign"))["output"]
    assert output.type_id == ENUMERATION and output.menu == ["aligned", "mask", "residual"]
    assert "output" not in ALIGN_FILE_PARAMS  # the view knob never reaches core
    # the frames pairing rule is said on the knobs an artist reads
    knobs = user_knobs(load("ReelAlign"))
    assert "reference frame of the same number" in knobs["frames"].tooltip
    assert "frames of the same number" in str(load("ReelAlign").top.knobs["help"])


@pytest.mark.parametrize("name", sorted(SPECS))
def test_result_knobs_are_read_only(name):
    knobs = user_knobs(load(name))
    types = {host.STATUS: 1, host.OUTPUT_FILE: 1, host.OUTPUT_FIRST: 3, host.OUTPUT_LAST: 3, host.OUTPUT_READY: 6}
    view = SPECS[name].file_view
    types.update({knob: 1 for knob in (view.extra_files().values() if view else ())})
    for knob_name, type_id in types.items():
        assert knobs[knob_name].type_id == type_id
        assert "+DISABLED" in knobs[knob_name].flags


def _resolve(dotted: str):
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_python_commands_resolve_to_callables(name):
    scripts = [k.text for k in load(name).top.user_knobs if k.type_id == PYSCRIPT]
    assert len(scripts) == len(SPECS[name].buttons)
    for script in scripts:
        compile(script, name, "exec")
        calls = 0
        for line in script.splitlines():
            if m := re.fullmatch(r"import ([\w.]+)", line):
                importlib.import_module(m.group(1))
            elif m := re.fullmatch(r"([\w.]+)\(nuke\.thisNode\(\)\)", line):
                assert callable(_resolve(m.group(1))), line
                calls += 1
            else:
                pytest.fail(f"{name}: unexpected line in a button script: {line!r}")
        assert calls == 1


@pytest.mark.parametrize("name", sorted(n for n, s in SPECS.items() if s.knob_changed))
def test_knob_changed_script_resolves(name):
    """The gizmo's knobChanged imports its module and calls one callable with (thisNode, thisKnob)."""
    script = str(load(name).top.knobs["knobChanged"])
    (imp, call) = script.split("\n")
    module = re.fullmatch(r"import ([\w.]+)", imp).group(1)
    importlib.import_module(module)
    m = re.fullmatch(r"([\w.]+)\(nuke\.thisNode\(\), nuke\.thisKnob\(\)\)", call)
    assert m and m.group(1).startswith(module + ".") and callable(_resolve(m.group(1)))


def test_only_nodes_that_ask_have_a_knob_changed():
    for name, spec in SPECS.items():
        assert ("knobChanged" in load(name).top.knobs) == bool(spec.knob_changed), name


@pytest.mark.parametrize("name", sorted(SPECS))
def test_inside_the_gizmo(name):
    gizmo = load(name)
    spec = SPECS[name]
    view, file_view = spec.view, spec.file_view
    inputs = list(spec.inputs) or [host.INPUT_NODE]
    assert gizmo.top.knobs["inputs"] == str(len(inputs))
    views = [] if view is None else [build_gizmos.view_node(c) for c, ch in reversed(view.channels.items()) if ch]
    if file_view is not None:
        for choice in reversed(list(file_view.extra_files())):
            views.append(file_view.read_node(choice))
            views += [file_view.grey_node(choice)] if choice in file_view.grey else []
    views += [build_gizmos.VIEW_SWITCH] if (view or file_view) is not None else []
    writes = [host.write_node(i, label) for i, label in enumerate(inputs)]
    assert [n.name for n in gizmo.children] == [*(n for pair in zip(inputs, writes) for n in pair), host.READ_NODE,
                                                *views, host.SWITCH_NODE, host.OUTPUT_NODE]
    for i, (label, write_name) in enumerate(zip(inputs, writes)):
        assert gizmo.child(label).cls == "Input" and int(gizmo.child(label).knobs.get("number", 0)) == i
        write = gizmo.child(write_name)
        assert write.inputs == [label]
        assert write.knobs["disable"] == "true" and write.knobs["file_type"] == "exr"
        assert write.knobs["datatype"] == "32 bit float" and write.knobs["raw"] == "true"
    read = gizmo.child(host.READ_NODE)
    assert read.inputs == []
    assert read.knobs["file"] == f"[value parent.{host.OUTPUT_FILE}]"
    assert read.knobs["first"].expression == f"parent.{host.OUTPUT_FIRST}"
    assert read.knobs["last"].expression == f"parent.{host.OUTPUT_LAST}"
    assert read.knobs["raw"] == "true"
    switch = gizmo.child(host.SWITCH_NODE)
    result = host.READ_NODE if (view or file_view) is None else build_gizmos.VIEW_SWITCH
    assert switch.inputs == [inputs[0], result]  # 0: pass-through (of input 0), 1: result
    assert switch.knobs["which"].expression == f"parent.{host.OUTPUT_READY}"
    assert gizmo.child(host.OUTPUT_NODE).inputs == [host.SWITCH_NODE]


def test_align_file_view_reads_one_file_per_output_choice():
    """Switch_view input i shows Output choice i: Read_output (aligned), else that choice's Read (grey for Y files)."""
    gizmo = load("ReelAlign")
    view = SPECS["ReelAlign"].file_view
    switch = gizmo.child(build_gizmos.VIEW_SWITCH)
    assert switch.knobs["which"].expression == "parent.output" and switch.knobs["inputs"] == "3"
    assert switch.inputs == [host.READ_NODE, "Grey_mask", "Grey_residual"]
    for choice in ("mask", "residual"):
        read = gizmo.child(f"Read_{choice}")
        assert read.knobs["file"] == f"[value parent.output_{choice}]"
        assert read.knobs["first"].expression == f"parent.{host.OUTPUT_FIRST}" and read.knobs["raw"] == "true"
        copy = gizmo.child(f"Grey_{choice}")
        assert copy.cls == "Copy" and copy.inputs == [f"Read_{choice}", f"Read_{choice}"]
        assert [(copy.knobs[f"from{i}"], copy.knobs[f"to{i}"]) for i in range(2)] == [
            ("rgba.red", "rgba.green"), ("rgba.red", "rgba.blue")]
    assert list(view.files.values()) == [host.OUTPUT_FILE, "output_mask", "output_residual"]


def test_spectrum_encode_view_switch_follows_the_output_choices():
    """Switch_view input i shows choice i of 'output': a Copy of its layer into RGB, or the result's own RGB."""
    from core.palette import ENCODE_PARAMS

    gizmo = load("SpectrumEncode")
    view = SPECS["SpectrumEncode"].view
    assert view.knob == "output" and tuple(view.channels) == ENCODE_PARAMS["output"].choices
    switch = gizmo.child(build_gizmos.VIEW_SWITCH)
    assert switch.knobs["which"].expression == "parent.output"
    assert switch.knobs["inputs"] == str(len(view.channels))
    for (choice, channel), source in zip(view.channels.items(), switch.inputs):
        if channel is None:
            assert source == host.READ_NODE
            continue
        copy = gizmo.child(source)
        assert copy.cls == "Copy" and source == build_gizmos.view_node(choice)
        assert copy.inputs == [host.READ_NODE, host.READ_NODE]  # B and A: the result
        assert [(copy.knobs[f"from{i}"], copy.knobs[f"to{i}"]) for i in range(3)] == [
            (channel, "rgba.red"), (channel, "rgba.green"), (channel, "rgba.blue")]
        layer = channel.partition(".")[0]
        assert gizmo.layers[layer] == [channel]
    # core.io names a one-channel EXR layer's channel <layer>.Y (what Nuke reads as that channel)
    assert set(gizmo.layers) == {"palette_index", "palette_gradient", "palette_distance"}
    assert all(ch.endswith(".Y") for ch in view.channels.values() if ch)


# ----------------------------------------------------------------------------- the parser is strict


@pytest.mark.parametrize("text, message", [
    ("Gizmo {\n inputs 1\n", "unbalanced '{'"),
    ("Gizmo {\n}\n}\nend_group\n", "unbalanced '}'"),
    ('Gizmo {\n label "[value x]"\n}\nend_group\n', "unescaped '\\['"),
    ("Gizmo {\n addUserKnob {4 a l A Q x}\n}\nend_group\n", "unknown keyword 'Q'"),
    ("Gizmo {\n}\n Switch {\n  inputs 2\n  name S\n }\nend_group\n", "takes 2 inputs, the stack holds 0"),
    ("Gizmo {\n}\n", "missing end_group"),
    ("add_layer {a b.Y}\nGizmo {\n}\nend_group\n", "channels must be named a.<name>"),
    ("Gizmo {\n}\nadd_layer {a a.Y}\nend_group\n", "add_layer after the first node"),
])
def test_parser_rejects(text, message):
    with pytest.raises(tcl.TclError, match=message):
        tcl.parse_gizmo(text)


def test_parser_stack_order():
    text = ("Gizmo {\n}\n Input {\n  inputs 0\n  name A\n }\nset NA [stack 0]\n Read {\n  inputs 0\n  name B\n }\n"
            "push $NA\n Switch {\n  inputs 2\n  name S\n }\n Output {\n  name O\n }\nend_group\n")
    gizmo = tcl.parse_gizmo(text)
    assert gizmo.child("S").inputs == ["A", "B"]
    assert gizmo.child("O").inputs == ["S"]


# ----------------------------------------------------------------------------- the generator's --check


def test_check_and_write(tmp_path, capsys):
    assert build_gizmos.main(["--check", "--dir", str(tmp_path)]) == 1
    assert "missing" in capsys.readouterr().err
    assert build_gizmos.main(["--dir", str(tmp_path)]) == 0
    assert build_gizmos.main(["--check", "--dir", str(tmp_path)]) == 0
    path = tmp_path / "ReelColorConvert.gizmo"
    path.write_text(path.read_text("utf-8").replace("target auto", "target Lab"), "utf-8")
    assert build_gizmos.main(["--check", "--dir", str(tmp_path)]) == 1
    assert "out of date" in capsys.readouterr().err
    stale = tmp_path / "ReelGone.gizmo"
    stale.write_text(build_gizmos.HEADER + "\n", "utf-8")
    handmade = tmp_path / "Handmade.gizmo"
    handmade.write_text("Gizmo {\n}\nend_group\n", "utf-8")
    assert build_gizmos.problems(tmp_path) == [f"{path}: out of date",
                                               f"{stale}: generated for a node that is no longer in the registry"]
    build_gizmos.main(["--dir", str(tmp_path)])
    assert not stale.exists() and handmade.exists()
    assert build_gizmos.problems(tmp_path) == []


def test_repository_gizmos_pass_check():
    assert build_gizmos.problems() == []


def test_tcl_words_round_trip():
    for text in ["plain", "", "two words", 'quote " and \\ backslash', "[value x] $HOME {a} }b{", "line\nbreak\ttab"]:
        word = build_gizmos.tcl_word(text)
        (parsed,), = tcl.parse(word)
        assert parsed == text
