"""ReelColorConvert: convert the node's input between colour spaces with :func:`core.convert.convert`.

The knobs mirror :data:`core.convert.CONVERT_PARAMS` (less ``bit_depth``:
the node writes EXR) and the job spec. ``From: auto`` means the colour
space Nuke gives the input pixels, i.e. the working space.
"""

from __future__ import annotations

from nuke_plugin import host, knobs, registry

NODE = "ReelColorConvert"


def _start(node) -> host.Task:
    """The Convert button: convert the node's input frames and show the result."""
    host.check_idle(node.fullName())
    spec = registry.get(NODE)
    params, job = spec.split(knobs.read_values(node, spec.knob_params()))
    if params["source"] == "auto":
        params["source"] = host.working_space()
    seq = host.gather_input(node, frames=job["frames"], mode=job["input_mode"])
    out_dir = host.output_dir(node, job["output_dir"], {"node": NODE, "params": params, "input": seq.identity})
    name = f"{node.name()}.exr" if seq.still else f"{node.name()}.####.exr"
    force = host.must_redo(job, seq)
    status = f"{params['source']} -> {params['target']}, frames {seq.first}-{seq.last}"

    def work(progress):
        from core.convert import convert

        return convert(seq.pattern, name, output_dir=out_dir, params=params, frames=seq.frames_text,
                       force=force, progress=progress)

    def done(_manifest) -> None:
        host.set_output(node, out_dir / name, seq.first, seq.last, status)

    return host.run_task(f"{node.name()}: convert", work, on_done=done, cleanup=seq.temp_dir,
                         key=node.fullName())


run = host.button(_start)
