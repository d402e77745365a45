"""ReelDegrade: presets, per-effect 'Override preset' tabs, and the Degrade button running core.degrade.degrade_files.

The rule under test: an effect's knobs reach core only while its tab's
'Override preset' box is on; otherwise the preset decides, and the tab
shows the preset's values.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.degrade import DEGRADE_PARAMS, PRESETS, degrade_frame, resolve_params
from core.errors import ParameterError
from nuke_plugin import host, registry
from nuke_plugin.nodes import reel_degrade

GROUPS = registry.get("ReelDegrade").preset_groups
EFFECTS = GROUPS.group_names()


@pytest.fixture
def node(started):
    return started.createNode("ReelDegrade")


def shown_values(node) -> dict:
    return {p: node[p].value() for p in DEGRADE_PARAMS.params}


def test_a_new_node_shows_the_defaults_and_no_override(node):
    assert shown_values(node) == DEGRADE_PARAMS.defaults()
    assert reel_degrade.overridden(node) == [] and reel_degrade.overrides(node) == {}


def test_choosing_a_preset_shows_its_values_and_overrides_nothing(node):
    node["preset"].setValue("dusty_35mm")
    assert shown_values(node) == resolve_params("dusty_35mm")
    assert node["dust_count"].value() == PRESETS["dusty_35mm"]["dust_count"]
    assert reel_degrade.overrides(node) == {}
    assert node[GROUPS.SUMMARY].value() == "dusty_35mm: gauge, grain, dust, scratches, flicker, weave"
    node["preset"].setValue("none")
    assert shown_values(node) == DEGRADE_PARAMS.defaults()
    assert node[GROUPS.SUMMARY].value().startswith("no preset: no effect runs")


def test_changing_a_knob_overrides_its_effect_only(node):
    node["preset"].setValue("dusty_35mm")
    node["grain_intensity"].setValue(0.0)          # grain off under a grainy preset: explicit, and kept
    assert node[GROUPS.override_knob("grain")].value() is True
    assert reel_degrade.overridden(node) == ["grain"]
    expected = {p: resolve_params("dusty_35mm")[p] for p in EFFECTS["grain"]}
    expected["grain_intensity"] = 0.0
    assert reel_degrade.overrides(node) == expected
    assert node[GROUPS.SUMMARY].value() == "dusty_35mm: gauge, dust, scratches, flicker, weave"
    # another preset refreshes the other effects, never the overridden one
    node["preset"].setValue("super8_home_movie")
    assert node["grain_intensity"].value() == 0.0
    assert node["weave_amplitude_px"].value() == PRESETS["super8_home_movie"]["weave_amplitude_px"]


def test_setting_the_preset_value_does_not_override(node):
    node["preset"].setValue("faded_16mm")
    node["fade_cyan"].setValue(PRESETS["faded_16mm"]["fade_cyan"])
    assert reel_degrade.overridden(node) == []


def test_unticking_an_override_brings_the_preset_back(node):
    node["preset"].setValue("faded_16mm")
    node["dust_count"].setValue(500.0)
    node["dust_polarity"].setValue("bright")
    assert reel_degrade.overridden(node) == ["dust"]
    node[GROUPS.override_knob("dust")].setValue(False)
    preset = resolve_params("faded_16mm")
    assert {p: node[p].value() for p in EFFECTS["dust"]} == {p: preset[p] for p in EFFECTS["dust"]}
    assert reel_degrade.overrides(node) == {}


def test_opening_the_panel_shows_the_preset(node):
    """A script load sets knobs without knobChanged; opening the panel (showPanel) catches the tabs up."""
    import nuke

    node["preset"]._value = "third_generation_dupe"  # as a loaded script sets it: no knobChanged
    node[GROUPS.override_knob("scratches")]._value = True
    node["scratch_count"]._value = 9
    nuke._show_panel(node)
    assert node["generation_count"].value() == PRESETS["third_generation_dupe"]["generation_count"]
    assert node["scratch_count"].value() == 9                # overridden: kept
    assert "scratches (override)" in node[GROUPS.SUMMARY].value()


def test_knobs_of_an_effect_without_override_never_reach_core(node):
    node["preset"].setValue("dusty_35mm")
    node["dust_count"]._value = 999.0  # a value set with the panel closed (no knobChanged): box still off
    assert reel_degrade.overrides(node) == {}


def _write_plate(folder: Path, frames) -> str:
    from core import io
    from core.frame import Frame

    folder.mkdir(parents=True, exist_ok=True)
    pattern = (folder / "plate.####.exr").as_posix()
    for n in frames:
        rng = np.random.default_rng(n)
        px = (0.05 + 0.5 * rng.random((24, 32, 3))).astype(np.float32)
        io.write_image(io.sequence_path(pattern, n), Frame(px, "ACEScg"), pixel_type="float")
    return pattern


def _run(nuke, node):
    task = reel_degrade.run(node)
    assert task is not None, nuke._calls("message")
    nuke._pump(until=lambda: task.done, timeout=60)
    assert task.error is None and nuke._calls("message") == []
    return task


@pytest.mark.parametrize("gui", [True, False])
def test_end_to_end_preset_with_an_override(started, tmp_path, gui):
    from core import io

    nuke = started
    nuke._set_gui(gui)
    pattern = _write_plate(tmp_path / "in", [1001, 1002])
    node = nuke.createNode("ReelDegrade")
    node.setInput(0, nuke.nodes.Read(file=pattern, first=1001, last=1002, raw=True))
    node["preset"].setValue("dusty_35mm")
    node["seed"].setValue(7)
    node["pixel_type"].setValue("float")
    node["grain_intensity"].setValue(0.0)
    node["output_dir"].setValue(str(tmp_path / "out"))
    _run(nuke, node)
    out = node[host.OUTPUT_FILE].value()
    assert out.endswith("/ReelDegrade1.####.exr")
    assert node[host.STATUS].value() == ("dusty_35mm + grain overridden: gauge, dust, scratches, flicker, weave; "
                                         "seed 7, frames 1001-1002")
    overrides = {p: resolve_params("dusty_35mm")[p] for p in EFFECTS["grain"]} | {"grain_intensity": 0.0}
    for n in (1001, 1002):
        expected = degrade_frame(io.read_image(io.sequence_path(pattern, n)), frame=n, seed=7,
                                 preset="dusty_35mm", params=overrides).pixels
        np.testing.assert_array_equal(io.read_image(io.sequence_path(out, n)).pixels, expected)
        np.testing.assert_array_equal(np.stack([nuke._pixels(node, n)[f"rgba.{c}"] for c in ("red", "green", "blue")],
                                               axis=-1), expected)
    (manifest_path,) = Path(out).parent.glob("manifest*.json")
    manifest = json.loads(manifest_path.read_text("utf-8"))
    assert manifest["preset"] == "dusty_35mm" and manifest["seed"] == 7
    assert manifest["parameters"]["grain_intensity"] == 0.0 and manifest["parameters"]["dust_count"] == 40.0
    assert "grain" not in manifest["effects"]


def test_same_settings_resume_other_settings_get_their_own_folder(started, tmp_path):
    nuke = started
    pattern = _write_plate(tmp_path / "in", [1, 2])
    node = nuke.createNode("ReelDegrade")
    node.setInput(0, nuke.nodes.Read(file=pattern, first=1, last=2, raw=True))
    node["preset"].setValue("faded_16mm")
    node["output_dir"].setValue(str(tmp_path / "out"))
    _run(nuke, node)
    first = node[host.OUTPUT_FILE].value()
    _run(nuke, node)
    assert node[host.OUTPUT_FILE].value() == first
    (path,) = Path(first).parent.glob("manifest*.json")
    assert all(r.get("resumed") for r in json.loads(path.read_text("utf-8"))["frames"].values())
    node["seed"].setValue(1)
    _run(nuke, node)
    assert node[host.OUTPUT_FILE].value() != first


def test_no_preset_and_no_override_copies_the_frames(started, tmp_path):
    from core import io

    nuke = started
    pattern = _write_plate(tmp_path / "in", [5])
    node = nuke.createNode("ReelDegrade")
    node.setInput(0, nuke.nodes.Read(file=pattern, first=5, last=5, raw=True))
    node["pixel_type"].setValue("float")
    node["output_dir"].setValue(str(tmp_path / "out"))
    _run(nuke, node)
    assert node[host.STATUS].value() == "no preset: no effect; seed 0, frames 5-5"
    out = node[host.OUTPUT_FILE].value()
    np.testing.assert_array_equal(io.read_image(io.sequence_path(out, 5)).pixels,
                                  io.read_image(io.sequence_path(pattern, 5)).pixels)


def test_bad_values_are_reported(started, tmp_path):
    nuke = started
    node = nuke.createNode("ReelDegrade")
    node.setInput(0, nuke.nodes.Read(file=(tmp_path / "p.####.exr").as_posix(), first=1, last=2, raw=True))
    node["dust_count"].setValue(5000.0)   # above the maximum 2000; ticks the Dust override
    assert reel_degrade.run(node) is None
    ((text,), _), = nuke._calls("message")
    assert "ReelDegrade1: parameter 'dust_count': 5000.0 is above the maximum 2000" in text
    assert "is above the maximum" in node[GROUPS.SUMMARY].value()


def test_headless_raises(headless, tmp_path):
    nuke = headless
    nuke._run_startup(str(Path(__file__).resolve().parents[2]), "init.py")
    node = nuke.createNode("ReelDegrade")
    node.setInput(0, nuke.nodes.Read(file=(tmp_path / "p.####.exr").as_posix(), first=1, last=2, raw=True))
    node[GROUPS.override_knob("weave")].setValue(True)
    node["weave_period"]._value = 0  # out of range (a script edited by hand)
    with pytest.raises(ParameterError, match="weave_period"):
        reel_degrade.run(node)
