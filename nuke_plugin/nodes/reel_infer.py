"""ReelInfer: restore the node's input with an ONNX model through :func:`core.infer.infer_files`.

The knobs mirror :data:`core.infer.INFER_MODEL_PARAMS` (the model file or a
shipped model's name, tile, overlap, provider, threads, precision, EXR
options) and the job spec (frames, output folder, input mode, redo). The
input is gathered like any node's (:func:`nuke_plugin.host.gather_input`),
restored tile by tile with feathered overlaps, written as scene-linear
ACEScg EXR and read back by the node. Frames already restored with the same
model (sha256) and settings are skipped.
"""

from __future__ import annotations

from nuke_plugin import host, knobs, registry

NODE = "ReelInfer"


def _start(node) -> host.Task:
    """The Restore button: run the model over the node's input frames and show the result."""
    from core.train.torch_model import load_for

    host.check_idle(node.fullName())
    spec = registry.get(NODE)
    values, job = spec.split(knobs.read_values(node, spec.knob_params()))
    # refuse a missing or changed model before rendering anything (provider torch: its torch network too)
    model = load_for(values.pop("model"), values["provider"])
    model_spec = model.spec
    seq = host.gather_input(node, frames=job["frames"], mode=job["input_mode"])
    config = {"node": NODE, "params": values, "model": model_spec.sha256, "input": seq.identity}
    out_dir = host.output_dir(node, job["output_dir"], config)
    name = f"{node.name()}.exr" if seq.still else f"{node.name()}.####.exr"
    force = host.must_redo(job, seq)
    status = f"restored with {model_spec.name} {model_spec.version}, frames {seq.first}-{seq.last}"

    def work(progress):
        from core.infer import infer_files

        return infer_files(model, seq.pattern, output_dir=out_dir, output=name, params=values,
                           frames=seq.frames_text, force=force, progress=progress)

    def done(_manifest) -> None:
        host.set_output(node, out_dir / name, seq.first, seq.last, status)

    def failed(exc: BaseException) -> None:
        node[host.STATUS].setValue(f"failed: {exc}")

    return host.run_task(f"{node.name()}: restore", work, on_done=done, on_error=failed, cleanup=seq.temp_dir,
                         key=node.fullName())


run = host.button(_start)
