"""ReelGenerate: render :mod:`core.generate`'s procedural images and test charts into the comp.

Knobs: ``family`` (noise, ramp, shape, repetition, chart), ``seed``, the
image ``width`` / ``height``, then every family's parameters, derived from
that family's spec in :data:`core.generate.FAMILIES` (knob ``<family>_<param>``,
labelled as the parameter: the noise family's "x size", "octaves",
"lacunarity", "gain"... read like Nuke's Noise node). Only the chosen
family's knobs are shown: :func:`knob_changed` hides the others when the
family changes or the panel opens. The job knobs follow (output folder, redo).

The Generate button renders one image with the knobs as they are — the
same bytes as ``reelkit generate`` with the same values — through
:func:`core.generate.files.generate_files` (EXR half, params JSON, manifest;
a second press with the same values reuses the file), and the node shows it
on every frame of the script. The node's input passes through until then.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from core.params import Param, ParamSet
from nuke_plugin import host, knobs, registry

NODE = "ReelGenerate"
FAMILY_KNOB = "family"


def knob_name(family: str, param: str) -> str:
    """The knob of ``family``'s parameter ``param``: ``noise_octaves``."""
    return f"{family}_{param}"


def _node_params() -> ParamSet:
    from core.generate import FAMILIES, SEED_PARAM

    params = [
        Param(FAMILY_KNOB, str, "noise", "what to render: " + "; ".join(f"{f.name}: {f.summary}"
                                                                     for f in FAMILIES.values()),
              choices=FAMILIES, label="Family"),
        # Nuke's integer knobs hold 32 bits: the node takes the seeds an Int_Knob can show
        dataclasses.replace(SEED_PARAM, maximum=2**31 - 1),
        Param("width", int, 1920, "image width in pixels", minimum=1, maximum=16384),
        Param("height", int, 1080, "image height in pixels", minimum=1, maximum=16384),
    ]
    for fam in FAMILIES.values():
        params += [dataclasses.replace(p, name=knob_name(fam.name, p.name), label=p.title, cli=None)
                   for p in fam.spec]
    return ParamSet("generate_node", params)


#: The node's knobs besides the job's: family, seed, size, then each family's parameters (prefixed).
NODE_PARAMS = _node_params()


def family_values(values: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``(family, {parameter: value})`` of the chosen family, from the node's resolved knob values."""
    family = values[FAMILY_KNOB]
    prefix = knob_name(family, "")
    return family, {k[len(prefix):]: v for k, v in values.items() if k.startswith(prefix)}


def family_knobs(family: str) -> list[str]:
    """The knobs of ``family``'s parameters."""
    from core.generate import FAMILIES

    return [knob_name(family, p.name) for p in FAMILIES[family].spec]


def knob_changed(node, knob) -> None:
    """Show only the chosen family's knobs (when the family changes and when the panel opens)."""
    if knob is None or knob.name() not in (FAMILY_KNOB, "showPanel"):
        return
    from core.generate import FAMILIES

    chosen = node[FAMILY_KNOB].value()
    for family in FAMILIES:
        for name in family_knobs(family):
            if node.knob(name) is not None:
                node[name].setVisible(family == chosen)


def _start(node) -> host.Task:
    """The Generate button: render the chosen family with the node's knobs and show it."""
    import nuke

    host.check_idle(node.fullName())
    spec = registry.get(NODE)
    values, job = spec.split(knobs.read_values(node, spec.knob_params()))
    family, params = family_values(values)
    size = f"{values['width']}x{values['height']}"
    out_dir = host.output_dir(node, job["output_dir"], {"node": NODE, "family": family, "params": params,
                                                        "seed": values["seed"], "size": size})
    name = node.name()
    first, last = int(nuke.root()["first_frame"].value()), int(nuke.root()["last_frame"].value())
    status = f"{family}, seed {values['seed']}, {size}"

    def work(progress):
        from core.generate.files import generate_files

        return generate_files(family, params, output_dir=out_dir, seed=values["seed"], image_size=size,
                              name=name, force=bool(job["force"]), progress=progress)

    def done(_manifest) -> None:
        from core.generate.files import output_names

        host.set_output(node, out_dir / output_names(name, 1, preview=False)[0], first, last, status)

    return host.run_task(f"{node.name()}: generate", work, on_done=done, key=node.fullName())


run = host.button(_start)
