"""ReelDegrade: age the node's input like film with :func:`core.degrade.degrade_files`.

Knobs: the main tab mirrors :data:`core.degrade.DEGRADE_OUTPUT_PARAMS`
(preset, seed, EXR pixel type and compression) and the job spec; one tab
per effect (Gauge, Grain, Generation, Fade, Dust, Scratches, Flicker,
Weave, Digital) mirrors that effect's parameters of :data:`core.degrade.DEGRADE_PARAMS`.

Preset or your own values — the rule, per effect tab:

- **Override preset off** (the default): the preset decides that effect.
  The tab shows the preset's values (refreshed when the preset changes or
  the panel opens), and none of them is passed to core.
- **Override preset on**: every knob of that tab is passed to core and
  wins over the preset (``degrade_files(params=...)`` gets only those).
- Changing a knob on a tab to something other than the preset's value
  ticks its box; unticking it brings the preset's values back.

So the knobs always show what will run, an untouched effect follows the
preset, and setting an effect back to "off" (e.g. grain 0 under a grainy
preset) is as explicit as any other change. ``preset_summary`` on the main
tab lists the effects that will run and where their values come from.

**Match from input** runs :func:`core.inverse.match.match_files` on the
node's input frames (the first 8 of the frame range: one shot of a damaged
scan) and fills the knobs with the look it matched (:func:`fill_matched`):
no preset, and the tabs of the matched effects overridden with their
defaults plus the matched values, so Degrade then runs exactly the preset
file it wrote (``matched.json`` in the node's output folder).
"""

from __future__ import annotations

from typing import Any

from core.errors import ReelkitError
from nuke_plugin import host, knobs, registry

NODE = "ReelDegrade"


def effect_groups() -> dict[str, list[str]]:
    """``{effect: [parameter names]}`` in the order the effects are applied (one tab each)."""
    from core.degrade import EFFECTS

    return {name: [p.name for p in module.PARAMS] for name, module in EFFECTS.items()}


def _groups() -> registry.PresetGroups:
    groups = registry.get(NODE).preset_groups
    if groups is None:
        raise TypeError(f"{NODE}: the registry entry has no preset groups")
    return groups


def overridden(node) -> list[str]:
    """The effects whose 'Override preset' box is on, in order."""
    groups = _groups()
    return [g for g in groups.group_names() if node[groups.override_knob(g)].value()]


def overrides(node) -> dict[str, Any]:
    """The values core gets as ``params``: every knob of the overridden effects, validated; nothing else."""
    spec = registry.get(NODE)
    values = knobs.read_values(node, spec.group_params())
    names = _groups().group_names()
    return {p: values[p] for g in overridden(node) for p in names[g]}


def summary(preset: str, over: list[str], values: dict[str, Any]) -> str:
    """The ``preset_summary`` line: effects that run, each marked when its values are the node's own."""
    from core.degrade import enabled_effects, preset_name

    running = [f"{e} (override)" if e in over else e for e in enabled_effects(values)]
    source = "no preset" if preset_name(preset) is None else preset
    if not running:
        return f"{source}: no effect runs; pick a preset or override an effect on its tab"
    return f"{source}: {', '.join(running)}"


# --------------------------------------------------------------------------- knobChanged


def knob_changed(node, knob) -> None:
    """The gizmo's ``knobChanged``: keep the tabs showing what will run (main thread, Nuke calls it).

    ``showPanel`` or the preset changed: the effects without an override
    show the preset's values. An override box turned off: that effect
    shows the preset's values again. A tab's knob changed to something
    other than the preset's value: its override box turns on.
    """
    from core.degrade import preset_name, resolve_params

    groups = _groups()
    names = groups.group_names()
    name = knob.name()
    owner = {p: g for g, params in names.items() for p in params}
    boxes = {groups.override_knob(g) for g in names}
    if name not in owner and name not in boxes and name not in ("showPanel", groups.preset_param):
        return  # xpos, selected, the result knobs...: nothing to show
    preset_knob = node.knob(groups.preset_param)
    if preset_knob is None:
        return  # a knob made while the gizmo is still being built
    preset = preset_knob.value()
    try:
        preset_values = resolve_params(preset_name(preset))
    except ReelkitError:
        return  # an unknown preset name: read_values reports it when the node runs
    if name in ("showPanel", groups.preset_param):
        for group in names:
            if not node[groups.override_knob(group)].value():
                _show_values(node, names[group], preset_values)
    elif name in boxes:
        group = name[len(groups.override_knob("")):]
        if not knob.value():
            _show_values(node, names[group], preset_values)
    else:
        box = node[groups.override_knob(owner[name])]
        if not box.value() and knob.value() != preset_values[name]:
            box.setValue(True)
    _show_summary(node, preset, preset_values)


def _show_values(node, params: list[str], values: dict[str, Any]) -> None:
    for p in params:
        knob = node[p]
        if knob.value() != values[p]:
            knob.setValue(values[p])


def _show_summary(node, preset: str, preset_values: dict[str, Any]) -> None:
    from core.degrade import preset_name, resolve_params

    over = overridden(node)
    try:
        values = resolve_params(preset_name(preset), overrides(node)) if over else preset_values
    except ReelkitError as exc:
        text = str(exc)
    else:
        text = summary(preset, over, values)
    node[registry.PresetGroups.SUMMARY].setValue(text)


# --------------------------------------------------------------------------- the Degrade button


def _start(node) -> host.Task:
    """The Degrade button: degrade the node's input frames and show the result."""
    from core.degrade import enabled_effects, preset_name, resolve_params

    host.check_idle(node.fullName())
    spec = registry.get(NODE)
    run_values, job = spec.split(knobs.read_values(node, spec.knob_params()))
    params = overrides(node)
    over = overridden(node)
    preset = preset_name(run_values["preset"])
    resolved = resolve_params(preset, params)
    seq = host.gather_input(node, frames=job["frames"], mode=job["input_mode"])
    config = {"node": NODE, "run": run_values, "params": resolved, "input": seq.identity}
    out_dir = host.output_dir(node, job["output_dir"], config)
    name = f"{node.name()}.exr" if seq.still else f"{node.name()}.####.exr"
    force = host.must_redo(job, seq)
    effects = ", ".join(enabled_effects(resolved)) or "no effect"
    origin = run_values["preset"] if preset else "no preset"
    if over:
        origin += f" + {', '.join(over)} overridden"
    status = f"{origin}: {effects}; seed {run_values['seed']}, frames {seq.first}-{seq.last}"

    def work(progress):
        from core.degrade import degrade_files

        return degrade_files(seq.pattern, name, output_dir=out_dir, preset=preset, params=params,
                             seed=run_values["seed"], frames=seq.frames_text, force=force, progress=progress,
                             pixel_type=run_values["pixel_type"], compression=run_values["compression"])

    def done(_manifest) -> None:
        host.set_output(node, out_dir / name, seq.first, seq.last, status)

    return host.run_task(f"{node.name()}: degrade", work, on_done=done, cleanup=seq.temp_dir,
                         key=node.fullName())


run = host.button(_start)


# --------------------------------------------------------------------------- the Match from input button


def fill_matched(node, values: dict[str, Any]) -> None:
    """Show a matched look (parameter values over the defaults, a preset file's ``params``) on the knobs: no
    preset; every tab holding a matched value overridden with its defaults plus those values; the others
    showing their defaults without override. Main thread."""
    from core.degrade import DEGRADE_PARAMS, PRESET_PARAM

    groups = _groups()
    defaults = DEGRADE_PARAMS.defaults()
    node[groups.preset_param].setValue(PRESET_PARAM.default)  # no preset
    for group, params in groups.group_names().items():
        matched = any(p in values for p in params)
        node[groups.override_knob(group)].setValue(matched)
        for p in params:
            value = values.get(p, defaults[p]) if matched else defaults[p]
            if node[p].value() != value:
                node[p].setValue(value)
    _show_summary(node, PRESET_PARAM.default, defaults)


def _start_match(node) -> host.Task:
    """The Match from input button: match the damage of the node's input frames and fill the knobs."""
    from core.inverse.match import DEFAULT_FRAMES

    host.check_idle(node.fullName())
    spec = registry.get(NODE)
    run_values, job = spec.split(knobs.read_values(node, spec.knob_params()))
    seq = host.gather_input(node, frames=job["frames"], mode=job["input_mode"])
    frames = None if seq.still else seq.frames[:DEFAULT_FRAMES]
    config = {"node": NODE, "match": "degrade", "seed": run_values["seed"], "input": seq.identity,
              "frames": frames}
    out_dir = host.output_dir(node, job["output_dir"], config)
    preset_file = out_dir / "matched.json"
    force = host.must_redo(job, seq)

    def work(progress):
        from core.inverse.match import match_files

        return match_files(seq.pattern, output_dir=out_dir, frames=None if frames is None else list(frames),
                           name="matched", seed=run_values["seed"], force=force, progress=progress)

    def done(_manifest) -> None:
        from core.degrade.presets import read_preset_file

        fill_matched(node, read_preset_file(preset_file))
        node[host.STATUS].setValue(f"matched from input frames {seq.first}-{frames[-1] if frames else seq.first}: "
                                   f"{preset_file}")

    return host.run_task(f"{node.name()}: match damage", work, on_done=done, cleanup=seq.temp_dir,
                         key=node.fullName())


match = host.button(_start_match)
