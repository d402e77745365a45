"""``render_method``: a baseline (or the source unchanged) rendered over a whole sequence.

When stage 5 finds that a classic baseline beats the ML result, stage 4 of
the project renders that baseline instead of the model
(:func:`core.pipeline.project.set_render_method`). The frames are exactly
what :func:`core.validate.run_validation` computes for that baseline: the
same grade fits (on the training pairs, with the same parameters and seed:
written to ``grades/`` beside the frames, ``.cube`` included), the same
filters with the same options, frames n-1 and n+1 for dust busting.
``method="source"`` writes the source unchanged (in ACEScg).

Outputs: ``output`` (a pattern inside ``output_dir``, EXR: the frames are
scene-linear ACEScg) and ``manifest.json`` (:class:`core.manifest.Manifest`,
command ``render``, its config naming the ``method``). Resumable and
refusing foreign outputs like every per-frame job (:func:`core.jobs.run_frame_job`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.errors import ParameterError
from core.formats import FORMATS
from core.jobs import ProgressFn

COMMAND = "render"
FORMAT = FORMATS["reelkit.render"].tag
#: The method name that renders the source unchanged.
SOURCE_METHOD = "source"


def check_method(method: str) -> str:
    """``method`` normalised (``"a + b"`` -> ``"a+b"``): a baseline name or ``"source"``; else ParameterError."""
    from core.validate.baselines import parse_baselines

    if method == SOURCE_METHOD:
        return method
    if not isinstance(method, str) or "," in method:
        raise ParameterError(f"render method {method!r}: expected one baseline name (e.g. grade_lut3d) or source")
    return parse_baselines([method])[0]


def render_method(method: str, sources, *, output_dir, output: str = "restored.####.exr", frames=None,
                  fit_sources=None, fit_references=None, fit_masks=None, fit_frames=None,
                  params: Mapping[str, Any] | None = None, pixel_type: str = "half", compression: str = "zip",
                  force: bool = False, progress: ProgressFn | None = None,
                  input_colorspace: str | None = None):
    """Render ``method`` over the ``sources`` sequence into ``output_dir``; returns the finished manifest.

    ``sources``: a sequence pattern (or one numbered file with ``frames``);
    ``frames``: a range of it (default: all on disk); ``fit_*``: the training
    pairs the grade steps are fitted on (required when ``method`` has one);
    ``params``: :data:`~core.validate.VALIDATE_PARAMS` values (grade fit
    and filter options, seed); ``pixel_type``/``compression``: of the EXRs;
    ``input_colorspace``: the sources' (and fit sources') colour space, an
    OCIO or reelkit name (``None`` / ``"auto"``: :mod:`core.io`'s rules),
    in the manifest's config when set.
    """
    from core import io
    from core.jobs import FrameTask, run_frame_job
    from core.manifest import Manifest
    from core.validate.baselines import grade_methods, parse_baseline, run_baseline
    from core.validate.params import VALIDATE_PARAMS
    from core.validate.run import _fits, _Seq, _SourceWindow, safe_name

    method = check_method(method)
    opts = VALIDATE_PARAMS.resolve(dict(params or {}))
    if Path(output).suffix.lower() != ".exr" or not io.is_sequence_pattern(output):
        raise ParameterError(f"output {output}: a sequence pattern of EXR files (the frames are scene-linear)")
    input_colorspace = io.colorspace_option(input_colorspace, name="input_colorspace")
    src = _Seq.of(sources, "sources", sequence=True, colorspace=input_colorspace)
    numbers = src.numbers(frames)
    out = Path(output_dir)
    needs = grade_methods([method]) if method != SOURCE_METHOD else ()
    fit_src = fit_ref = None
    if needs:
        if fit_sources is None or fit_references is None:
            raise ParameterError(f"render method {method!r} has a grade step: give the training pairs "
                                 "(fit_sources and fit_references) to fit it on")
        fit_seq = (io.is_sequence_pattern(os.fspath(fit_sources)) or fit_frames is not None
                   or io.is_video_file(fit_sources))
        fit_src = _Seq.of(fit_sources, "fit_sources", sequence=fit_seq, colorspace=input_colorspace)
        fit_ref = _Seq.of(fit_references, "fit_references", sequence=fit_seq)
    temporal = method != SOURCE_METHOD and any(s.temporal for s in parse_baseline(method))
    config = {"format": FORMAT, "method": method, "sources": src.spec, "output": output,
              "pixel_type": pixel_type, "compression": compression,
              "params": {k: opts[k] for k in _used_params(method)} | {"seed": opts["seed"]},
              "fit": None if not needs else {"sources": fit_src.spec, "references": fit_ref.spec,
                                             "masks": None if fit_masks is None else os.fspath(fit_masks),
                                             "frames": None if fit_frames is None else str(fit_frames)}}
    if input_colorspace is not None:  # only when set: earlier jobs keep their hash and resume
        config["input_colorspace"] = input_colorspace
    manifest = Manifest(out, COMMAND, config, frame_range=None if frames is None else str(frames),
                        seed=opts["seed"])
    fits, fit_note = _fits(needs, opts, out, manifest.config_hash, force, src=src, ref=None, msk=None,
                           numbers=numbers, fit_src=fit_src, fit_ref=fit_ref, fit_masks=fit_masks,
                           fit_frames=fit_frames)
    failed = [f"the {f.method} grade fit failed: {f.reason}" for f in fits.values() if not f.success]
    if failed:
        raise ParameterError(f"render method {method!r}: {failed[0]}")
    pattern = str(out / output)
    tasks = []
    for n in numbers:
        extra = tuple(src.path(k) for k in (n - 1, n + 1) if temporal and src.has(n - 1) and src.has(n + 1))
        tasks.append(FrameTask(str(n), n, src.path(n), Path(io.sequence_path(pattern, n)), extra))
    window = _SourceWindow(src)

    def process(task: FrameTask) -> dict[str, Any]:
        s, prev, nxt = window.window(task.frame, temporal)
        img = s if method == SOURCE_METHOD else run_baseline(method, s, prev=prev, next=nxt, grades=fits,
                                                             options=opts)
        io.write_image(task.target, img, colorspace="ACEScg", pixel_type=pixel_type, compression=compression,
                       overwrite=True)
        return {"input": str(task.source), "output": str(task.target)}

    manifest.set("method", method)
    manifest.set("fit_note", fit_note)
    manifest.data["outputs"] = {"frames": pattern,
                                "cubes": {m: str(out / "grades" / f"{m}.cube") for m in fits},
                                "name": safe_name(method)}
    run_frame_job(manifest, tasks, process, force=force, progress=progress)
    return manifest


def _used_params(method: str) -> list[str]:
    """The :data:`~core.validate.VALIDATE_PARAMS` that change ``method``'s frames (its filters' options and,
    with a grade step, the fit's)."""
    from core.validate.baselines import parse_baseline

    if method == SOURCE_METHOD:
        return []
    keys: list[str] = []
    for step in parse_baseline(method):
        if step.kind == "grade":
            keys += ["fit_frames", "max_samples", "root_poly_degree", "lut_size", "cube_size"]
        keys += list(step.options)
    return list(dict.fromkeys(keys))
