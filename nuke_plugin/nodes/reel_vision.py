"""ReelVision: analysis passes of the node's input through :func:`core.vision.files.vision_files`.

The knobs mirror :data:`core.vision.files.VISION_NODE_PARAMS`: the ``Pass``
pulldown (flow, saliency, matte, depth), the flow and saliency methods,
the vision model (depth, or a learned matte / saliency: an ``.onnx`` on
disk with its ``vision`` manifest entry beside it), the matte's box or
rough mask on the first frame, temporal smoothing, consistency threshold,
seed, memory share, EXR options, and the job spec. The node shows the
plate (ACEScg RGB) with the pass in its channels: ``forward.u/v`` and
``backward.u/v`` (Nuke's motion vectors: VectorBlur, Kronos and
SmartVector-style tools read them), ``consistency.backward/forward``,
``matte.A``, ``saliency.Y`` or ``depth.Z``. Each pass writes into a
folder of its own (the pass is part of the result folder's key).
"""

from __future__ import annotations

from nuke_plugin import host, knobs, registry

NODE = "ReelVision"


def _start(node) -> host.Task:
    """The Analyse button: run the chosen pass over the node's input frames and show the result."""
    host.check_idle(node.fullName())
    spec = registry.get(NODE)
    values, job = spec.split(knobs.read_values(node, spec.knob_params()))
    pass_name = values.pop("pass_name")
    model = spec.core_params()["model"].value(values["model"]) or None  # an empty knob is unset
    if model is not None:  # refuse a missing or changed model before gathering anything
        from core.vision.learned import check_task, load_vision_model

        check_task(load_vision_model(model).spec, pass_name)
    seq = host.gather_input(node, frames=job["frames"], mode=job["input_mode"])
    config = {"node": NODE, "pass": pass_name, "params": values, "input": seq.identity}
    out_dir = host.output_dir(node, job["output_dir"], config)
    name = f"{node.name()}.{pass_name}.exr" if seq.still else f"{node.name()}.{pass_name}.####.exr"
    force = host.must_redo(job, seq)

    def work(progress):
        from core.vision.files import vision_files

        return vision_files(pass_name, seq.pattern, output_dir=out_dir, output=name, params=values,
                            frames=seq.frames_text, force=force, progress=progress)

    def done(_manifest) -> None:
        host.set_output(node, out_dir / name, seq.first, seq.last, f"{pass_name}, frames {seq.first}-{seq.last}")

    def failed(exc: BaseException) -> None:
        node[host.STATUS].setValue(f"failed: {exc}")

    return host.run_task(f"{node.name()}: {pass_name}", work, on_done=done, on_error=failed, cleanup=seq.temp_dir,
                         key=node.fullName())


run = host.button(_start)
