"""ReelAlign: align the reference input onto the source input with :func:`core.align.align_files`.

Two inputs: ``source`` (input 0, the degraded scan; its pixel grid is the
result's) and ``reference`` (input 1: a DVD, telecine or another print of the
same frames). The knobs mirror :data:`core.align.ALIGN_FILE_PARAMS` and the
job spec. Both inputs are gathered like any node's input
(:func:`nuke_plugin.host.gather_input`, input 1 rendering through
``Write_reference``); the reference over the source's frames, because core
pairs frames by number: the reference must have every source frame (its
resolution may differ). A reference input whose frame range lacks source
frames stops the node before it runs; a reference file missing inside that
range is reported by core (``ImageReadError`` naming the frame) and the
node puts the reason on its Result tab.

Per frame core writes ``aligned/ref.####.exr``, ``mask/mask.####.exr``,
``residual/residual.####.exr`` and ``report/report.####.png``. ``Output``
(aligned / mask / residual) picks the Read the node shows
(:class:`nuke_plugin.registry.FileView`): it re-runs nothing and never
reaches core. A frame that fails to align is a result, not an error: the
status line lists it with the reason ("aligned 2 of 3 frames; failed: 1003
(too little texture ...)").
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from core.errors import ParameterError
from nuke_plugin import host, knobs, registry

NODE = "ReelAlign"
SOURCE, REFERENCE = 0, 1
#: Failed frames named in the status line at most (the rest are counted).
SHOWN_FAILURES = 5


def output_patterns(manifest_data: dict[str, Any], still: bool) -> dict[str, str]:
    """``{"aligned"|"mask"|"residual": pattern}`` of a finished align manifest (the file itself for a still)."""
    from core.io import sequence_pattern

    record = next(iter(manifest_data["frames"].values()))
    out = {}
    for choice, key in (("aligned", "output"), ("mask", "mask"), ("residual", "residual")):
        path = Path(record[key]).as_posix()
        out[choice] = path if still else (sequence_pattern(path) or path)
    return out


def describe(manifest_data: dict[str, Any]) -> str:
    """The status line: ``aligned N of M frames`` and each failed frame with its reason."""
    records = manifest_data["frames"]
    failed = [(key, rec.get("reason") or "no reason given") for key, rec in records.items()
              if not rec.get("converged")]
    text = f"aligned {len(records) - len(failed)} of {len(records)} frames"
    if failed:
        shown = "; ".join(f"{key} ({reason})" for key, reason in failed[:SHOWN_FAILURES])
        more = f"; and {len(failed) - SHOWN_FAILURES} more" if len(failed) > SHOWN_FAILURES else ""
        text += f"; failed: {shown}{more}"
    return text


def check_reference_range(node, frames: tuple[int, ...]) -> None:
    """Raise (and say on the node) when the reference input's frame range lacks some of ``frames``.

    Frames pair by number, so the reference must cover every source frame.
    """
    from core.io import format_frames

    span = node.input(REFERENCE).frameRange()
    first, last = int(span.first()), int(span.last())
    missing = [n for n in frames if not first <= n <= last]
    if missing:
        text = (f"the reference input has frames {first}-{last} and lacks source frame(s) "
                f"{format_frames(missing, sep=',', limit=8)}; reference frames pair with source frames of "
                "the same number: set Frames, or give the reference those frames")
        node[host.STATUS].setValue(f"not run: {text}")
        raise ParameterError(f"{node.name()}: {text}")


def _start(node) -> host.Task:
    """The Align button: align the reference input's frames to the source input's and show the result."""
    from core.io import format_frames

    host.check_idle(node.fullName())
    spec = registry.get(NODE)
    params, job = spec.split(knobs.read_values(node, spec.knob_params()))
    for i in (SOURCE, REFERENCE):  # both, before rendering either
        if node.input(i) is None:
            raise ParameterError(f"{node.name()}: connect its {host.input_label(node, i)} input (input {i + 1}) first")
    seq = host.gather_input(node, frames=job["frames"], mode=job["input_mode"], input=SOURCE)
    try:
        if not seq.still:
            check_reference_range(node, seq.frames)
        ref = host.gather_input(node, frames=format_frames(seq.frames, sep=","), mode=job["input_mode"],
                                input=REFERENCE)
    except BaseException:
        if seq.temp_dir is not None:
            shutil.rmtree(seq.temp_dir, ignore_errors=True)
        raise
    # a still source pairs with one reference file: the reference's first (for a still, only) frame
    reference = ref.paths()[0] if seq.still else ref.pattern
    config = {"node": NODE, "params": params, "input": seq.identity, "reference": ref.identity}
    out_dir = host.output_dir(node, job["output_dir"], config)
    force = host.must_redo(job, seq, ref)

    def work(progress):
        from core.align import align_files

        return align_files(seq.pattern, reference, output_dir=out_dir, params=params, frames=seq.frames_text,
                           force=force, progress=progress)

    def done(manifest) -> None:
        patterns = output_patterns(manifest.data, seq.still)
        view = spec.file_view
        files = {knob: (patterns[choice], view.read_node(choice)) for choice, knob in view.extra_files().items()}
        host.set_output(node, patterns["aligned"], seq.first, seq.last, describe(manifest.data), files=files)

    def failed(exc: BaseException) -> None:
        node[host.STATUS].setValue(f"failed: {exc}")

    return host.run_task(f"{node.name()}: align", work, on_done=done, on_error=failed,
                         cleanup=(seq.temp_dir, ref.temp_dir), key=node.fullName())


run = host.button(_start)
