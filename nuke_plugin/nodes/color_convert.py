"""ReelColorConvert: convert the node's input between colour spaces with :func:`core.convert.convert`.

The knobs mirror :data:`core.convert.CONVERT_PARAMS` (less ``bit_depth``:
the node writes EXR) and the job spec. ``From: auto`` means the colour
space Nuke gives the input pixels, i.e. the working space.
"""

from __future__ import annotations

from core.errors import ReelkitError
from nuke_plugin import host, knobs, registry

NODE = "ReelColorConvert"


def run(node) -> host.Task | None:
    """The Convert button: convert the node's input frames and show the result.

    Returns the running :class:`~nuke_plugin.host.Task`, or ``None`` when
    the job could not start (the reason is shown to the user; without a
    GUI it is raised).
    """
    try:
        return _start(node)
    except ReelkitError as exc:
        host.report(exc)
        return None


def _start(node) -> host.Task:
    host.check_idle(node.fullName())
    spec = registry.get(NODE)
    params, job = spec.split(knobs.read_values(node, spec.knob_params()))
    if params["source"] == "auto":
        params["source"] = host.working_space()
    seq = host.gather_input(node, frames=job["frames"], mode=job["input_mode"])
    out_dir = host.output_dir(node, job["output_dir"], {"node": NODE, "params": params, "input": seq.identity})
    name = f"{node.name()}.exr" if seq.still else f"{node.name()}.####.exr"
    # A rendered input is new on every run, so frames made from an earlier render are stale.
    force = job["force"] or seq.origin == "render"
    status = f"{params['source']} -> {params['target']}, frames {seq.first}-{seq.last}"

    def work(progress):
        from core.convert import convert

        return convert(seq.pattern, name, output_dir=out_dir, params=params, frames=seq.frames_text,
                       force=force, progress=progress)

    def done(_manifest) -> None:
        host.set_output(node, out_dir / name, seq.first, seq.last, status)

    return host.run_task(f"{node.name()}: convert", work, on_done=done, cleanup=seq.temp_dir,
                         key=node.fullName())
