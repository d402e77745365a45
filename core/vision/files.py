"""Vision passes over files and sequences: the library behind ``reelkit vision PASS INPUT --output-dir DIR``.

Each input frame gives one OpenEXR file: the frame itself (scene-linear
ACEScg RGB, so the file can be used as it is) and the pass in named
channels Nuke reads:

======== ========================================================================================
pass     channels
======== ========================================================================================
flow     ``forward.u forward.v backward.u backward.v`` (Nuke's motion vectors: px to where the pixel
         is on the next / was on the previous frame, ``v`` up: the y-down flow's ``dy`` negated),
         ``consistency.backward consistency.forward`` (1 where the flow checks both ways)
saliency ``saliency.Y`` (0..1)
matte    ``matte.A`` (0..1 straight, 1 = subject)
depth    ``depth.Z`` (Nuke's depth channel; the model's units, its manifest entry's ``meaning``)
======== ========================================================================================

The frames of one run form a shot (:class:`~core.vision.session.VisionSession`):
each frame's task lists its neighbours in the input as inputs (the previous
one for the backward flow and the temporal propagation, the next one for
the forward flow), so a resumed frame is redone when a neighbour changes.
A frame whose previous frame was made by an earlier run starts from that
frame and its pass read back from the output (the matte's propagation
goes on where it stopped). The manifest records the parameters, the model
(id, sha256, licence) and per frame the time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ParameterError
from core.io import EXR_OUTPUT_PARAMS
from core.jobs import ProgressFn, output_path, plan_frame_files, run_frame_job
from core.manifest import Manifest
from core.params import Param, ParamSet
from core.vision.budget import DEFAULT_SHARE
from core.vision.flow import FLOW_METHODS
from core.vision.saliency import SALIENCY_METHODS
from core.vision.session import PASSES, VisionSession

#: Colour space of the frames written beside the pass.
OUTPUT_COLORSPACE = "ACEScg"

#: Parameters of :func:`vision_files` (CLI options / the ReelVision node's knobs).
VISION_PARAMS = ParamSet("vision", [
    Param("flow_method", str, "dis", "optical flow: dis (fast, the alignment stage's) or refined (DIS at full "
          "resolution re-estimated on the warped frame: about half the error, 3x the time)", choices=FLOW_METHODS,
          label="Flow method"),
    Param("saliency_method", str, "spectral_residual", "saliency: spectral_residual (where the objects are) or "
          "fine_grained (edges and details)", choices=SALIENCY_METHODS, label="Saliency method"),
    Param("model", str, None, "a vision model (depth, or a learned matte/saliency): an .onnx with its 'vision' "
          "entry in the manifest.json beside it, or its id on the model path", optional=True, label="Model"),
    Param("box", str, None, "the matte's subject on the first frame: x,y,width,height in pixels (y down)",
          optional=True, label="Box"),
    Param("mask", str, None, "the matte's rough mask of the first frame: an image file, >= 0.5 = subject "
          "(its first channel)", optional=True, label="Rough mask"),
    Param("smoothing", float, 0.5, "temporal blend of mattes and depth along the flow (0 = none): less flicker",
          minimum=0.0, maximum=0.95, label="Temporal smoothing"),
    Param("threshold", float, 0.5, "flow consistency: forward-backward mismatch (px) above which a pixel's flow "
          "is not trusted", minimum=0.01, maximum=50.0, label="Consistency threshold"),
    Param("seed", int, 0, "seed of GrabCut's colour models", minimum=0, maximum=2**31 - 1, label="Seed"),
    Param("memory_share", float, DEFAULT_SHARE, "refuse to start when a frame's work would need more than this "
          "share of the RAM", minimum=0.01, maximum=1.0, label="Memory share"),
    Param("threads", int, 0, "CPU threads for onnxruntime; 0 = the free cores", minimum=0, maximum=256),
    *EXR_OUTPUT_PARAMS,
])
#: :data:`VISION_PARAMS` with the pass first: the ReelVision node's knobs (its pass pulldown).
VISION_NODE_PARAMS = ParamSet("vision_node", [
    Param("pass_name", str, "flow", "the analysis pass: flow (motion vectors), saliency, matte, depth (needs a "
          "model)", choices=PASSES, label="Pass"),
    *VISION_PARAMS,
])
#: Parameters that change how fast, not what: kept out of the resume hash.
RUNTIME_ONLY = ("threads", "memory_share")

#: EXR channel names of each pass's layers (see the module doc).
CHANNELS = {
    "forward": ["forward.u", "forward.v"], "backward": ["backward.u", "backward.v"],
    "consistency": ["consistency.backward", "consistency.forward"], "saliency": ["saliency.Y"],
    "matte": ["matte.A"], "depth": ["depth.Z"],
}


def parse_box(text: str) -> tuple[int, int, int, int]:
    """``"x,y,width,height"`` -> four ints; :class:`~core.errors.ParameterError` naming ``box`` otherwise."""
    try:
        box = tuple(int(v) for v in str(text).split(","))
    except ValueError:
        box = ()
    if len(box) != 4:
        raise ParameterError(f"box {text!r}: expected x,y,width,height in pixels")
    return box  # type: ignore[return-value]


def to_nuke(layers: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A session's result as the layers written: flow's ``dy`` negated into Nuke's y-up ``v``."""
    out = dict(layers)
    for name in ("forward", "backward"):
        if name in out:
            out[name] = out[name] * np.array([1.0, -1.0], np.float32)
    return out


def from_nuke(layers: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The layers of a written frame back as a session's result (:func:`to_nuke` undone)."""
    return to_nuke(layers)


def default_output(pass_name: str, input_path: str) -> str:
    """``NAME.PASS.####.exr`` (or ``NAME.PASS.exr`` for one file) from the input's name."""
    from core import io

    if io.is_video_file(input_path):
        return f"{Path(input_path).stem}.{pass_name}.####.exr"
    pattern = io.sequence_pattern(input_path) if io.is_sequence_pattern(input_path) else None
    if pattern:
        stem = Path(pattern).name.split("#")[0].split("%")[0].rstrip("._")
        return f"{stem}.{pass_name}.####.exr"
    return f"{Path(input_path).stem}.{pass_name}.exr"


def vision_files(pass_name: str, input_pattern: str, *, output_dir: str | os.PathLike, output: str | None = None,
                 params: Mapping[str, Any] | None = None, frames: str | None = None, force: bool = False,
                 progress: ProgressFn | None = None, input_colorspace: str | None = None) -> Manifest:
    """Run pass ``pass_name`` (:data:`~core.vision.session.PASSES`) over a file, sequence or video into
    ``output_dir`` (EXR, channels as the module doc lists); returns the finished manifest.

    ``params``: values for :data:`VISION_PARAMS`. Frames already made with the same configuration are skipped
    unless ``force``.
    """
    from core import io
    from core.io import colorspace_option

    if pass_name not in PASSES:
        raise ParameterError(f"pass {pass_name!r}: expected one of {', '.join(PASSES)}")
    values = VISION_PARAMS.resolve(params or {})
    input_colorspace = colorspace_option(input_colorspace, name="input_colorspace")
    # unset: None (CLI) or an empty knob (Nuke)
    model, box_text, mask_path = (VISION_PARAMS[k].value(values[k]) or None for k in ("model", "box", "mask"))
    box = parse_box(box_text) if box_text else None
    if pass_name == "matte" and model is None and box is None and mask_path is None:
        raise ParameterError("pass 'matte': give --box x,y,width,height or --mask FILE for the first frame "
                             "(or a matting --model)")
    loaded = None
    record_model = None
    if model is not None:
        from core.vision.learned import check_task, load_vision_model

        loaded = load_vision_model(model)  # read and hashed once for the whole job
        check_task(loaded.spec, pass_name)
        record_model = {"id": loaded.spec.id, "task": loaded.spec.task, "sha256": loaded.spec.sha256,
                        "licence": loaded.spec.licence, "meaning": loaded.spec.meaning}
    elif pass_name == "depth":
        raise ParameterError("pass 'depth': needs --model (an .onnx with its 'vision' manifest entry, or its id)")
    output = output or default_output(pass_name, input_pattern)
    if Path(output).suffix.lower() != ".exr":
        raise ParameterError(f"output {output}: passes are written as OpenEXR (.exr)")
    out_dir = Path(output_dir)
    out_pattern = output_path(out_dir, output)
    tasks = plan_frame_files(input_pattern, out_pattern, frames=frames)
    neighbours = {t.key: (_neighbour(t, -1, out_pattern), _neighbour(t, 1, out_pattern)) for t in tasks}
    wants_prev = pass_name in ("flow", "matte") or (values["smoothing"] > 0 and (pass_name == "depth" or model))
    planned = []
    for t in tasks:
        prev, nxt = neighbours[t.key]
        around = [n for n, want in ((prev, wants_prev), (nxt, pass_name == "flow")) if n is not None and want]
        planned.append(t._replace(extra_sources=tuple(n.source for n in around),
                                  extra_frames=tuple(n.frame for n in around)) if around else t)
    hashed = {k: v for k, v in values.items() if k not in RUNTIME_ONLY}
    mask_digest = None
    if mask_path is not None:
        from core.manifest import file_sha256

        mask_digest = file_sha256(mask_path)
    config = {"pass": pass_name, "input": str(input_pattern), "output": output, "params": hashed,
              "model": record_model, "mask_sha256": mask_digest, "output_colorspace": OUTPUT_COLORSPACE}
    if input_colorspace is not None:
        config["input_colorspace"] = input_colorspace
    job = Manifest(out_dir, "vision", config, frame_range=frames)
    job.set("parameters", values)
    job.set("model", record_model)
    state: dict[str, Any] = {}

    def session() -> VisionSession:
        if "session" not in state:
            mask = None
            if mask_path is not None:
                mask = io.read_image(mask_path).pixels[..., 0]
            state["session"] = VisionSession(
                pass_name, method=values["flow_method"] if pass_name == "flow" else
                values["saliency_method"] if pass_name == "saliency" and loaded is None else None,
                model=loaded, box=box, mask=mask, smoothing=values["smoothing"], threshold=values["threshold"],
                seed=values["seed"], memory_share=values["memory_share"], threads=values["threads"])
        return state["session"]

    def process(task) -> dict[str, Any]:
        t0 = time.perf_counter()
        prev_task, next_task = neighbours[task.key]
        read = lambda t: io.read_frame(t.source, t.frame, colorspace=input_colorspace)  # noqa: E731
        frame = read(task)
        s = session()
        if prev_task is not None and wants_prev and state.get("last") != prev_task.key:
            made = read_pass(prev_task.target) if prev_task.target.is_file() else {}
            s.resume(read(prev_task), made if pass_name != "flow" else {})
        nxt = read(next_task) if next_task is not None and pass_name == "flow" else None
        layers = to_nuke(s.run(frame, next=nxt))
        from core.color import convert_frame

        rgb = convert_frame(frame, OUTPUT_COLORSPACE) if frame.n_channels != 1 else frame
        out = rgb.replace(pixels=rgb.pixels[..., :3] if rgb.n_channels >= 3 else rgb.pixels, layers=layers,
                          metadata={"layer_channels": {k: CHANNELS[k] for k in layers}})
        attributes = {"reelkit/source": os.path.basename(task.source), "reelkit/vision/pass": pass_name}
        if record_model:
            attributes["reelkit/vision/model"] = f"{record_model['id']} {record_model['sha256']}"
        io.write_image(task.target, out, pixel_type=values["pixel_type"], compression=values["compression"],
                       overwrite=True, attributes=attributes)
        state["last"] = task.key
        return {"input": str(task.source), "output": str(task.target), "frame": task.frame, "from": frame.colorspace,
                "seconds": round(time.perf_counter() - t0, 3)}

    return run_frame_job(job, planned, process, force=force, progress=progress)


def _neighbour(task, step: int, out_pattern: str):
    """The task of the input frame ``step`` away from ``task`` (looked up in the input sequence or video, not in
    the requested range: a chunk's first frame still has its neighbour), or ``None`` where there is none."""
    from core import io
    from core.jobs import FrameTask

    if task.frame is None:
        return None
    n = task.frame + step
    if io.is_video_file(task.source):
        if n < 0 or n >= io.count_video_frames(task.source):
            return None
        return FrameTask(str(n), n, task.source, Path(io.sequence_path(out_pattern, n)))
    pattern = io.sequence_pattern(task.source)
    if not pattern or n < 0 or not Path(io.sequence_path(pattern, n)).is_file():
        return None
    return FrameTask(str(n), n, Path(io.sequence_path(pattern, n)), Path(io.sequence_path(out_pattern, n)))


def read_pass(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The pass layers of a file :func:`vision_files` wrote, as a session's result (y down)."""
    from core import io

    frame = io.read_image(path)
    return from_nuke({k: v for k, v in frame.layers.items() if k in CHANNELS})
