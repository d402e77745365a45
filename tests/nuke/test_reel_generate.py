"""ReelGenerate: knobs from core.generate's family specs, only the chosen family's shown, Generate renders the
same bytes as core.generate and the node shows them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.generate import FAMILIES, generate
from nuke_plugin import host, registry
from nuke_plugin.nodes import reel_generate


@pytest.fixture
def node(started):
    return started.createNode("ReelGenerate")


def visible_family_knobs(node) -> set[str]:
    return {name for family in FAMILIES for name in reel_generate.family_knobs(family) if node[name].visible()}


def test_knobs_are_every_family_spec_prefixed_and_labelled_as_the_parameter(node):
    for family, fam in FAMILIES.items():
        for param in fam.spec:
            knob = node[reel_generate.knob_name(family, param.name)]
            assert knob.label() == param.title and knob.value() == param.default
    assert node["noise_size"].label() == "x size" and node["noise_octaves"].value() == 10  # Nuke Noise's
    assert node["family"].value() == "noise"


def test_only_the_chosen_family_is_shown(started, node):
    started._show_panel(node)
    assert visible_family_knobs(node) == set(reel_generate.family_knobs("noise"))
    node["family"].setValue("chart")
    assert visible_family_knobs(node) == set(reel_generate.family_knobs("chart"))


def test_values_reach_core_as_the_family_s_params(node):
    node["family"].setValue("shape")
    node["shape_shape"].setValue("star")
    node["shape_sides"].setValue(7)
    spec = registry.get("ReelGenerate")
    values, _ = spec.split({k.name(): k.value() for k in node.knobs().values()
                            if k.name() in spec.knob_params().params})
    family, params = reel_generate.family_values(values)
    assert family == "shape" and params == FAMILIES["shape"].spec.resolve({"shape": "star", "sides": 7})


def test_generate_renders_core_s_bytes_and_shows_them(started, node, tmp_path):
    from core import io

    node["family"].setValue("chart")
    node["chart_chart"].setValue("zone_plate")
    node["width"].setValue(64)
    node["height"].setValue(48)
    node["seed"].setValue(3)
    node["output_dir"].setValue(str(tmp_path / "out"))
    task = reel_generate.run(node)
    assert task is not None, started._calls("message")
    started._pump(until=lambda: task.done, timeout=60)
    assert task.error is None
    path = node[host.OUTPUT_FILE].value()
    assert path.endswith("ReelGenerate1.0001.exr") and node[host.OUTPUT_READY].value() is True
    root = started.root()
    assert (node[host.OUTPUT_FIRST].value(), node[host.OUTPUT_LAST].value()) == (
        root["first_frame"].value(), root["last_frame"].value())
    expected = generate("chart", {"chart": "zone_plate"}, seed=3, width=64, height=48).pixels
    np.testing.assert_array_equal(io.read_image(path).pixels, expected.astype(np.float16).astype(np.float32))
    record = json.loads(open(path[:-4] + ".json").read())
    assert record["params"]["chart"] == "zone_plate" and record["seed"] == 3
    assert node[host.STATUS].value() == "chart, seed 3, 64x48"
