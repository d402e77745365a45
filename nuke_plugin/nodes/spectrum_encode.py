"""SpectrumEncode: fit and encode the node's input with :func:`core.palette.files.encode_files`.

The knobs mirror :data:`core.palette.ENCODE_PARAMS` and the job spec. Per
frame core writes ``<stem>.####.exr`` (RGB = the palette reconstruction in
ACEScg; one-channel layers ``palette_index``, ``palette_gradient``,
``palette_distance``, which Nuke shows as ``palette_index.Y`` ...) and a
pack ``packs/<stem>.####.npz`` (open it in the reelkit Palette panel).

``Output`` (index / gradient / reconstruction / distance) only picks what
the node shows from those files, through a Switch of Copy nodes inside the
gizmo (:class:`nuke_plugin.registry.LayerView`): changing it re-runs
nothing and does not reach core, so every choice shares one result folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nuke_plugin import host, knobs, registry

NODE = "SpectrumEncode"


def output_pattern(manifest_data: dict[str, Any], still: bool) -> str:
    """The EXR sequence pattern (or the still's file) that a finished encode manifest lists."""
    from core.io import sequence_pattern

    output = Path(next(iter(manifest_data["frames"].values()))["output"]).as_posix()
    return output if still else (sequence_pattern(output) or output)


def describe(manifest_data: dict[str, Any], params: dict[str, Any], first: int, last: int) -> str:
    """The status line: palette size and space, frames, mean reconstruction error, stability."""
    records = [r for r in manifest_data["frames"].values() if r.get("error")]
    bits = [f"{params['k']} colours ({params['space']}{', shared' if params['shared'] else ''}), "
            f"frames {first}-{last}"]
    if records:
        mean = sum(r["error"]["de2000_mean"] for r in records) / len(records)
        bits.append(f"mean ΔE00 {mean:.2f}")
    stability = manifest_data.get("stability") or {}
    if stability.get("warning"):
        unstable = ", ".join(map(str, stability.get("unstable_frames", [])[:5]))
        bits.append(f"palette jumps at {unstable}" if unstable else "palette unstable")
    return "; ".join(bits)


def _start(node) -> host.Task:
    """The Encode button: fit and encode the node's input frames and show the result."""
    host.check_idle(node.fullName())
    spec = registry.get(NODE)
    params, job = spec.split(knobs.read_values(node, spec.knob_params()))
    seq = host.gather_input(node, frames=job["frames"], mode=job["input_mode"])
    out_dir = host.output_dir(node, job["output_dir"], {"node": NODE, "params": params, "input": seq.identity})
    force = host.must_redo(job, seq)

    def work(progress):
        from core.palette.files import encode_files

        return encode_files(seq.pattern, output_dir=out_dir, params=params, frames=seq.frames_text, force=force,
                            progress=progress)

    def done(manifest) -> None:
        pattern = output_pattern(manifest.data, seq.still)
        host.set_output(node, pattern, seq.first, seq.last, describe(manifest.data, params, seq.first, seq.last))

    return host.run_task(f"{node.name()}: encode", work, on_done=done, cleanup=seq.temp_dir,
                         key=node.fullName())


run = host.button(_start)
