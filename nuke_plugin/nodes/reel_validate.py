"""ReelValidate: run :func:`core.validate.run_validation` on the node's inputs and show a chosen view.

Four inputs: ``source`` (input 0, the degraded scan), ``reference``
(input 1, aligned to the source), ``ml`` (input 2, the restoration to
judge; optional: without it only the baselines are measured) and ``mask``
(input 3, optional: where the aligned reference can be trusted, first
channel > 0.5 — ReelAlign's mask; without it every pixel counts). Frames
pair by number, so the reference, ml and mask inputs must cover the
source's frames. Each input is gathered like any node's
(:func:`nuke_plugin.host.gather_input`): an upstream Read's own files, or a
render through ``Write_input`` / ``Write_reference`` / ``Write_ml`` /
``Write_mask``. Rendered inputs are moved into the
result folder (``inputs/<name>/``) instead of being deleted, so the views
and the report keep working after the run.

The knobs mirror :data:`core.validate.VALIDATE_PARAMS` (less
``write_baselines``: the node always writes them, its ``baseline`` view
reads them) and the job spec. ``Output`` picks what the node shows without
running again (:class:`nuke_plugin.registry.FileView`): ``baseline`` (the
best baseline by PSNR), ``ml``, ``source``, ``reference``. The status line
gives the PSNR and ΔE2000 of ml, the best baseline and the source; "Open
report" (and the menu's "Open validation report") opens ``report.html`` in
the system's browser. The report's path is kept on the node in a
``report_file`` knob, added on the first run (saved with the script).
"""

from __future__ import annotations

import dataclasses
import math
import shutil
import webbrowser
from pathlib import Path

from core.errors import ParameterError
from nuke_plugin import host, knobs, registry

NODE = "ReelValidate"
SOURCE, REFERENCE, ML, MASK = 0, 1, 2, 3
REPORT_KNOB = "report_file"
LABELS = {REFERENCE: "reference", ML: "ml", MASK: "mask"}


def check_range(node, input: int, frames: tuple[int, ...]) -> None:
    """Raise (and say on the node) when input ``input``'s frame range lacks some of the source ``frames``."""
    from core.io import format_frames

    span = node.input(input).frameRange()
    first, last = int(span.first()), int(span.last())
    missing = [n for n in frames if not first <= n <= last]
    if missing:
        text = (f"the {LABELS[input]} input has frames {first}-{last} and lacks source frame(s) "
                f"{format_frames(missing, sep=',', limit=8)}; frames pair by number: set Frames, or give the "
                f"{LABELS[input]} those frames")
        node[host.STATUS].setValue(f"not run: {text}")
        raise ParameterError(f"{node.name()}: {text}")


def keep(seq: host.InputSequence, out_dir: Path, label: str) -> host.InputSequence:
    """A rendered input moved into ``out_dir/inputs/<label>/`` (an upstream Read's files are left alone)."""
    if seq.origin != "render" or seq.temp_dir is None:
        return seq
    dest = out_dir / "inputs" / label
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(seq.temp_dir, dest)
    return dataclasses.replace(seq, pattern=(dest / Path(seq.pattern).name).as_posix(), temp_dir=None)


def describe(result) -> str:
    """The status line: PSNR / ΔE2000 of ml, the best baseline and the source."""
    def part(name: str) -> str:
        s = result.summary[name]
        psnr = "-" if not math.isfinite(s["psnr"]) else f"{s['psnr']:.2f} dB"
        de = "-" if not math.isfinite(s["delta_e"]) else f"{s['delta_e']:.2f}"
        return f"{name} {psnr} ΔE {de}"

    frames = len({r["frame"] for r in result.rows})
    bits = [part(m) for m in ("ml",) if m in result.summary]
    best = result.best("psnr", kind="baseline")
    if best is not None:
        bits.append("best baseline " + part(best))
    bits.append(part("source"))
    return f"validated {frames} frame(s): " + "; ".join(bits)


def baseline_pattern(result, name: str | None, fallback: str) -> str:
    """The EXR pattern of baseline ``name`` in the result folder (``fallback`` without a baseline)."""
    from core.validate.run import safe_name

    if name is None:
        return fallback
    stem = safe_name(name)
    return (result.output_dir / "baselines" / stem / f"{stem}.####.exr").as_posix()


def _start(node) -> host.Task:
    """The Validate button: baselines, metrics and the report of the inputs; show the chosen view."""
    from core.io import format_frames

    host.check_idle(node.fullName())
    spec = registry.get(NODE)
    params, job = spec.split(knobs.read_values(node, spec.knob_params()))
    params["write_baselines"] = True
    for i in (SOURCE, REFERENCE):
        if node.input(i) is None:
            raise ParameterError(f"{node.name()}: connect its {host.input_label(node, i)} input (input {i + 1}) first")
    seq = host.gather_input(node, frames=job["frames"], mode=job["input_mode"], input=SOURCE)
    gathered = [seq]
    try:
        others = {}
        for i in (REFERENCE, ML, MASK):
            if node.input(i) is None:
                continue
            if not seq.still:
                check_range(node, i, seq.frames)
            others[i] = host.gather_input(node, frames=format_frames(seq.frames, sep=","), mode=job["input_mode"],
                                          input=i)
            gathered.append(others[i])
        config = {"node": NODE, "params": params, "input": seq.identity,
                  **{LABELS[i]: s.identity for i, s in others.items()}}
        out_dir = host.output_dir(node, job["output_dir"], config)
        force = host.must_redo(job, *gathered)
        seq = keep(seq, out_dir, "source")
        others = {i: keep(s, out_dir, LABELS[i]) for i, s in others.items()}
    except BaseException:
        for s in gathered:
            if s.temp_dir is not None:
                shutil.rmtree(s.temp_dir, ignore_errors=True)
        raise
    ref = others[REFERENCE]
    ml = others.get(ML)
    mask = others.get(MASK)

    def pattern(s: host.InputSequence) -> str:
        return s.paths()[0] if seq.still else s.pattern

    def work(progress):
        from core.validate import run_validation

        return run_validation(sources=pattern(seq), references=pattern(ref),
                              candidates={"ml": pattern(ml)} if ml is not None else {},
                              masks=pattern(mask) if mask is not None else None, output_dir=out_dir,
                              frames=seq.frames_text, params=params, force=force, progress=progress,
                              title=f"{node.name()}: validation")

    def done(result) -> None:
        best = result.best("psnr", kind="baseline")
        shown = baseline_pattern(result, best, pattern(seq))
        files = {"output_source": (pattern(seq), "Read_source"), "output_reference": (pattern(ref), "Read_reference")}
        if ml is not None:
            files["output_ml"] = (pattern(ml), "Read_ml")
        else:  # no ml input: its view shows nothing rather than an earlier run's files
            node["output_ml"].setValue("")
        host.set_output(node, shown, seq.first, seq.last, describe(result), files=files)
        report_knob(node).setValue(Path(result.report).as_posix())

    def failed(exc: BaseException) -> None:
        node[host.STATUS].setValue(f"failed: {exc}")

    return host.run_task(f"{node.name()}: validate", work, on_done=done, on_error=failed, key=node.fullName())


run = host.button(_start)


def report_knob(node):
    """The node's ``report_file`` knob, added (read-only) on first use."""
    import nuke

    knob = node.knob(REPORT_KNOB)
    if knob is None:
        knob = nuke.String_Knob(REPORT_KNOB, "Report")
        knob.setTooltip("report.html of the last run (Open report shows it)")
        knob.setEnabled(False)
        node.addKnob(knob)
    return knob


def report_path(node) -> Path | None:
    """The node's last report, if it exists on disk."""
    knob = node.knob(REPORT_KNOB)
    path = Path(knob.value()) if knob is not None and knob.value() else None
    return path if path is not None and path.is_file() else None


def open_report(node) -> bool:
    """The Open report button: show the node's report.html in the system's browser; False (said) if none."""
    import nuke

    path = report_path(node)
    if path is None:
        nuke.message(f"{node.name()}: no report yet: press Validate first")
        return False
    webbrowser.open(path.as_uri())
    return True


def open_latest_report() -> bool:
    """The menu's "Open validation report": the selected ReelValidate's report, else the newest of any."""
    import nuke

    for candidates in (nuke.selectedNodes(NODE), nuke.allNodes(NODE)):
        found = [(p.stat().st_mtime, p) for p in (report_path(n) for n in candidates) if p is not None]
        if found:
            webbrowser.open(max(found)[1].as_uri())
            return True
    nuke.message("No ReelValidate node has a report yet: run Validate on one (a pipeline run's report is "
                 "PROJECT/pipeline/05_validation/report.html)")
    return False

