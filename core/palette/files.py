"""Palette jobs on files: the library behind ``reelkit palette`` and the ``SpectrumEncode`` node.

- :func:`encode_files`: fit and encode a file or sequence. Per frame it
  writes ``<stem>.####.exr`` (RGB = reconstruction in ACEScg; layers
  ``palette_index``, ``palette_gradient``, ``palette_distance``) and the
  compact pack ``packs/<stem>.####.npz`` (+ ``.json`` sidecar), and records
  the palette, its error and the pack size in the manifest; at the end it
  measures palette stability across frames.
- :func:`decode_files`: packs (or palette EXRs) back to ACEScg images.
- :func:`report`: one image's swatches, a luma-vs-palette comparison and
  JSON metrics, for a look before committing to K.

Per-frame work is a pure function of (frame, parameters): with a shared
palette, the palette is fitted from frames sampled over the *whole*
sequence on disk, not just the requested range, so farm jobs that split a
shot by ``--frames`` encode with the identical palette.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from core.jobs import FrameTask, ProgressFn, output_path, plan_frame_files, run_frame_job
from core.manifest import Manifest
from core.params import Param, ParamSet

#: Frames sampled (evenly over the shot) to fit a shared palette.
SHARED_MAX_FRAMES = 24
#: Pixels per frame measured for the reconstruction error in the manifest (seeded subsample).
ERROR_SAMPLE = 200_000

STABILITY_PARAMS = ParamSet(
    "palette_stability",
    [Param("stability_threshold", float, 2.0, "warn when matched palette entries move more than this "
           "between frames (ΔE OK x 100)", minimum=0.0, maximum=100.0, label="Stability threshold")],
)


def _stem_pattern(input_path: str) -> str:
    """Output name pattern for an input: same stem and frame pattern, ``.exr``."""
    from core import io

    if io.is_video_file(input_path):
        return Path(input_path).stem + ".####.exr"
    name = os.path.basename(io.sequence_pattern(input_path) or input_path) if io.is_sequence_pattern(input_path) \
        else os.path.basename(input_path)
    return os.path.splitext(name)[0] + ".exr"


def _shared_sources(input_path: str) -> list[str] | list[tuple[str, int]]:
    """Files (or ``(video, frame)`` pairs) a shared palette is fitted from: up to :data:`SHARED_MAX_FRAMES`
    spread over the shot."""
    from core import io

    video = io.is_video_file(input_path)
    if not video and not io.is_sequence_pattern(input_path):
        return [input_path]
    numbers = io.resolve_video_frames(input_path) if video else io.find_frames(input_path)
    if len(numbers) > SHARED_MAX_FRAMES:
        picks = np.linspace(0, len(numbers) - 1, SHARED_MAX_FRAMES).round().astype(int)
        numbers = [numbers[i] for i in picks]
    return [(input_path, n) if video else io.sequence_path(input_path, n) for n in numbers]


def encode_files(input_path: str, *, output_dir: str | os.PathLike = ".", params: dict[str, Any] | None = None,
                 frames: str | None = None, force: bool = False, progress: ProgressFn | None = None,
                 stability_threshold: float = 2.0, input_colorspace: str | None = None) -> Manifest:
    """Fit and encode a file, sequence or video into ``output_dir``; returns the finished manifest.

    ``params``: user values for :data:`~core.palette.ENCODE_PARAMS` (``shared``
    fits one palette for the whole shot). Inputs in any colour space are
    converted to ACEScg first. The manifest holds per frame the palette
    (ACEScg), pixel shares, convergence, ΔE00 / ΔE OK reconstruction error
    and pack size, and a ``stability`` section (matched palette distance
    between consecutive frames; ``warning`` set above ``stability_threshold``).
    ``input_colorspace``: the inputs' colour space, an OCIO or reelkit name
    (``None`` / ``"auto"``: :mod:`core.io`'s rules), recorded in the
    manifest's ``colorspaces`` (and its config, when set).
    """
    from core import io
    from core.palette.params import ENCODE_PARAMS, fit_kwargs

    values = ENCODE_PARAMS.resolve(params or {})
    input_colorspace = io.colorspace_option(input_colorspace, name="input_colorspace")
    threshold = STABILITY_PARAMS.resolve({"stability_threshold": stability_threshold})["stability_threshold"]
    out_dir = Path(output_dir)
    source = _source(input_path, frames)
    tasks = encode_tasks(input_path, out_dir, frames)
    config = {"input": str(input_path), "params": values, "stability_threshold": threshold}
    if input_colorspace is not None:  # only when set: earlier jobs keep their hash and resume
        config["input_colorspace"] = input_colorspace
    manifest = Manifest(out_dir, "palette encode", config, frame_range=frames, seed=values["seed"])
    manifest.set("parameters", values)
    manifest.set("colorspaces", {"input": input_colorspace or "auto", "output": "ACEScg"})
    shared_fit = None
    if values["shared"]:
        from core.palette.operator import fit_shared_palette

        shared_fit = fit_shared_palette(_shared_sources(source), colorspace=input_colorspace, **fit_kwargs(values))
        manifest.set("shared_palette", shared_fit.to_dict())

    def process(task: FrameTask) -> dict[str, Any]:
        return encode_file(task, values, shared_fit, input_colorspace=input_colorspace)

    run_frame_job(manifest, tasks, process, force=force, progress=progress)
    manifest.set("stability", _stability(manifest.data["frames"], threshold))
    manifest.save()
    return manifest


def _source(input_path: str, frames: str | None) -> str:
    """The input as a sequence pattern when it is one (or one file of one, with ``frames``), else as given."""
    from core import io

    pattern = io.sequence_pattern(input_path) if not io.is_video_file(input_path) and (
        frames or io.is_sequence_pattern(input_path)) else None
    return pattern or input_path


def encode_tasks(input_path: str, output_dir: str | os.PathLike, frames: str | None = None) -> list[FrameTask]:
    """The frames :func:`encode_files` encodes, one :class:`~core.jobs.FrameTask` each: the palette EXR
    ``<stem>.####.exr`` plus its pack and the pack's sidecar (:func:`pack_path`) as the frame's outputs."""
    # the pack and its sidecar are the frame's outputs too: resumed, checked and never replaced unowned like it
    return [t._replace(extra_targets=(pack_path(t.target), pack_path(t.target).with_suffix(".json")))
            for t in plan_frame_files(input_path, str(Path(output_dir) / _stem_pattern(_source(input_path, frames))),
                                      frames=frames)]


def pack_path(target: str | os.PathLike) -> Path:
    """Where the pack of a palette EXR goes: ``packs/<stem>.npz`` beside it (sidecar ``.json`` next to that)."""
    target = Path(target)
    return target.parent / "packs" / (target.stem + ".npz")


def encode_file(task: FrameTask, values: dict[str, Any], shared_fit=None, *,
                input_colorspace: str | None = None) -> dict[str, Any]:
    """Encode one frame: palette EXR at ``task.target`` and a pack beside it; returns the manifest record.

    ``input_colorspace``: the input's colour space (``None``: what
    :func:`core.io.read_frame` finds); the record's ``from`` is the one used.
    """
    from core import io
    from core.palette.controller import encoding_error
    from core.palette.encode import encode
    from core.palette.operator import fit_palette
    from core.palette.pack import pack, pack_exr
    from core.palette.params import fit_kwargs

    frame = io.read_frame(task.source, task.frame, colorspace=input_colorspace)
    fit = shared_fit if shared_fit is not None else fit_palette(frame, **fit_kwargs(values))
    enc = encode(frame, fit, distance=True, index_dtype=values["index_dtype"])
    packed = pack_path(task.target)
    info = pack(packed, enc, source=task.source, overwrite=True)
    pack_exr(task.target, enc, overwrite=True)
    err = encoding_error(frame, enc, sample_size=ERROR_SAMPLE, seed=values["seed"])
    return {
        "input": str(task.source),
        "output": str(task.target),
        "pack": str(packed),
        "from": frame.colorspace,
        "k": fit.k,
        "converged": bool(fit.converged),
        "message": fit.message,
        "palette_acescg": fit.palette_acescg.astype(np.float64).round(7).tolist(),
        "shares": [round(float(s), 6) for s in (enc.counts / max(int(enc.counts.sum()), 1))],
        "error": err.to_dict(),
        "hue_coverage": {key: fit.coverage.to_dict()[key] for key in ("passed", "enforced", "min_share", "found",
                                                                     "missed")} if fit.coverage else None,
        "pack_bytes": info.data_bytes + info.sidecar_bytes,
        "source_bytes": info.source_bytes,
    }


def _stability(records: dict[str, dict[str, Any]], threshold: float) -> dict[str, Any]:
    """Matched palette distance between consecutive frames (in frame order)."""
    from core.palette.controller import palette_stability

    keyed = sorted(records.items(), key=lambda kv: (len(kv[0]), kv[0]))
    keyed = [(k, r) for k, r in keyed if r.get("palette_acescg")]
    if len(keyed) < 2:
        return {"frames": [k for k, _ in keyed], "threshold": threshold, "distances": [], "max": 0.0,
                "stable": True, "unstable_frames": [], "warning": None}
    palettes = [np.asarray(r["palette_acescg"], np.float32) for _, r in keyed]
    rep = palette_stability(palettes, threshold=threshold, warn=False)
    return {
        "frames": [k for k, _ in keyed],
        "threshold": threshold,
        "distances": [round(float(m.weighted_mean), 4) for m in rep.matches],
        "max": float(rep.worst),
        "stable": bool(rep.stable),
        "unstable_frames": [keyed[i + 1][0] for i in rep.unstable],
        "warning": None if rep.stable else rep.message,
    }


def decode_files(input_path: str, output: str | None = None, *, output_dir: str | os.PathLike = ".",
                 frames: str | None = None, force: bool = False, progress: ProgressFn | None = None,
                 pixel_type: str = "half") -> Manifest:
    """Decode packs (``.npz``/``.json``) or palette EXRs to ACEScg images in ``output_dir``.

    The index is restored exactly; colours are the palette entries (ACEScg).
    """
    from core import io

    out_dir = Path(output_dir)
    name = output or (os.path.splitext(os.path.basename(input_path))[0] + ".decoded.exr")
    tasks = plan_frame_files(input_path, output_path(out_dir, name), frames=frames)
    manifest = Manifest(out_dir, "palette decode", {"input": str(input_path), "output": name,
                                                   "pixel_type": pixel_type}, frame_range=frames)

    def process(task: FrameTask) -> dict[str, Any]:
        from core.palette.pack import unpack, unpack_exr

        loaded = unpack_exr(task.source) if task.source.suffix.lower() == ".exr" else unpack(task.source)
        io.write_image(task.target, loaded.decode(), colorspace="ACEScg", pixel_type=pixel_type, overwrite=True,
                       attributes={"reelkit/source": os.path.basename(task.source)})
        return {"input": str(task.source), "output": str(task.target), "k": loaded.k}

    return run_frame_job(manifest, tasks, process, force=force, progress=progress)


def report(input_path: str, *, output_dir: str | os.PathLike = ".", params: dict[str, Any] | None = None,
           force: bool = False, input_colorspace: str | None = None) -> dict[str, Any]:
    """Fit and encode one image; write ``swatches.png``, ``luma_vs_palette.png`` and ``metrics.json``.

    ``params``: user values for :data:`~core.palette.params.REPORT_PARAMS`
    (the encode spec with energy weights and 1% hue coverage as defaults).
    Returns the metrics: palette (ACEScg, shares, gradient positions), ΔE00 /
    ΔE OK reconstruction error, ``hue_coverage`` (pass/fail, every OKLab hue
    family's chroma share, the families found and missed; see
    :mod:`core.palette.hues`), the luma comparison (how many visually
    distinct palette colours Rec.709 luma merges), the pack size against
    the source file, and ``colorspace``: the ``input_colorspace`` asked
    (an OCIO or reelkit name; ``None`` / ``"auto"``: :mod:`core.io`'s rules)
    and the one used, with where it came from. ``manifest.json`` beside
    them records the input (sha256), parameters and the three files; the
    same command again resumes (nothing redone while the input and the files
    hold what was recorded), another report replaces an earlier report's
    files, anything else there needs ``force``.
    """
    from core import io
    from core.manifest import Manifest
    from core.palette.params import REPORT_PARAMS

    values = REPORT_PARAMS.resolve(params or {})
    input_colorspace = io.colorspace_option(input_colorspace, name="input_colorspace")
    out = Path(output_dir)
    targets = [out / "swatches.png", out / "luma_vs_palette.png", out / "metrics.json"]
    manifest = Manifest(out, "palette report", {"input": str(input_path), "parameters": values,
                                                "input_colorspace": input_colorspace or "auto"},
                        seed=values["seed"])
    manifest.claim()
    try:
        manifest.keep_earlier_jobs()
        manifest.add_input(input_path)
        done = None if force else manifest.previous_done().get("report")
        if done and not manifest.changed_files(done.get("files")):  # the same report, intact: resume
            manifest.adopt("report", done)
            manifest.finish()
            return json.loads(targets[2].read_text("utf-8"))
        manifest.refuse_foreign(targets, force=force)  # an earlier report's files are its own to replace
        metrics = _report(input_path, values, input_colorspace, targets)
    except BaseException:
        manifest.discard()  # nothing is written before the three files, all at the end
        raise
    manifest.set("parameters", values)
    manifest.set("colorspaces", {"input": input_colorspace or "auto", "from": metrics["colorspace"]["from"]})
    manifest.frame_done("report", files=manifest.files_record([input_path], targets))
    manifest.finish()
    return metrics


def _report(input_path: str, values: dict[str, Any], input_colorspace: str | None,
            targets: list[Path]) -> dict[str, Any]:
    """:func:`report`'s work: fit, encode, measure, then write the three ``targets``; returns the metrics."""
    import tempfile

    from core import io
    from core.io.atomic import write_text_atomic
    from core.palette.controller import encoding_error
    from core.palette.encode import encode
    from core.palette.luma import compare_luma
    from core.palette.operator import fit_palette
    from core.palette.pack import pack
    from core.palette.params import fit_kwargs

    frame = io.read_image(input_path, colorspace=input_colorspace)
    fit = fit_palette(frame, **fit_kwargs(values))
    enc = encode(frame, fit, distance=True, index_dtype=values["index_dtype"])
    from core.palette.controller import check_image

    acescg, _ = check_image(frame)
    read_as = {"from": frame.colorspace, "source": frame.metadata.get("colorspace_source")}
    del frame  # the ACEScg copy is what the rest reads: one frame-sized array less at the peak
    luma = compare_luma(acescg, enc)
    err = encoding_error(acescg, enc)
    with tempfile.TemporaryDirectory() as tmp:
        info = pack(Path(tmp) / "probe.npz", enc, source=input_path)
    metrics = {
        "input": str(input_path),
        "colorspace": {"input": input_colorspace or "auto", **read_as},
        "parameters": values,
        "palette": fit.to_dict(),
        "error": err.to_dict(),
        "hue_coverage": fit.coverage.to_dict(),
        "luma": {"summary": luma.summary(), "distinct_pairs": luma.distinct_pairs,
                 "collapses": [{"a": int(c.a), "b": int(c.b), "luma_difference": c.luma_difference,
                                "delta_e_ok": c.delta_e_ok, "hue_difference": c.hue_difference,
                                "pixel_luma_overlap": c.pixel_luma_overlap} for c in luma.collapses],
                 "collapsed_entries": [int(e) for e in luma.collapsed_entries],
                 "merged_share": luma.merged_share, "luma_groups": luma.luma_groups,
                 "entry_luma": luma.entry_luma.astype(float).tolist()},
        "pack_bytes": info.data_bytes + info.sidecar_bytes,
        "source_bytes": info.source_bytes,
        "pack_ratio_to_source": info.ratio_to_source,
    }
    io.write_image(targets[0], swatch_image(fit, enc.counts), colorspace="srgb", bit_depth=8, overwrite=True)
    io.write_image(targets[1], luma_comparison_image(acescg, enc, luma.summary()), colorspace="srgb",
                   bit_depth=8, overwrite=True)
    write_text_atomic(targets[2], json.dumps(metrics, indent=2) + "\n", overwrite=True)
    return metrics


# -- pictures ---------------------------------------------------------------------------------------


def swatch_image(fit, counts: np.ndarray, *, swatch: int = 96) -> np.ndarray:
    """Palette swatches in gradient order with their pixel share: float32 HWC sRGB-encoded 0..1."""
    import cv2

    from core.color import acescg_to_srgb_preview

    k = fit.k
    colours = acescg_to_srgb_preview(fit.palette_acescg[None, :, :])[0]
    shares = counts / max(int(counts.sum()), 1)
    bar_h, text_h = 40, 36
    h, w = swatch + bar_h + text_h, swatch * k
    img = np.full((h, w, 3), 32, np.uint8)
    for i in range(k):
        x0 = i * swatch
        img[:swatch, x0 + 2:x0 + swatch - 2] = colours[i]
        bar = int(round(shares[i] / max(shares.max(), 1e-9) * (bar_h - 6)))
        img[swatch + bar_h - bar - 2:swatch + bar_h - 2, x0 + 8:x0 + swatch - 8] = (200, 200, 200)
        cv2.putText(img, f"{i}", (x0 + 6, swatch + bar_h + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (230, 230, 230), 1,
                    cv2.LINE_AA)
        cv2.putText(img, f"{shares[i]:.1%}", (x0 + 6, swatch + bar_h + 30), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    (230, 230, 230), 1, cv2.LINE_AA)
    return img.astype(np.float32) / 255.0


def luma_comparison_image(acescg: np.ndarray, enc, caption: str, *, width: int = 480) -> np.ndarray:
    """Source | Rec.709 luma | palette gradient | reconstruction, with a caption: float32 sRGB 0..1."""
    import cv2

    from core.color import acescg_to_srgb_preview
    from core.palette.luma import rec709_luma
    from core.sheets import contact_sheet

    h, w = acescg.shape[:2]
    size = (width, max(1, int(round(h * width / w))))

    def fit_panel(u8: np.ndarray) -> np.ndarray:
        return cv2.resize(u8, size, interpolation=cv2.INTER_AREA)

    rgb = acescg[..., :3]
    source = acescg_to_srgb_preview(rgb)
    luma = (np.clip(rec709_luma(rgb), 0, 1) * 255 + 0.5).astype(np.uint8)
    grad = (np.clip(enc.gradient(), 0, 1) * 255 + 0.5).astype(np.uint8)
    recon = acescg_to_srgb_preview(enc.reconstruction())
    panels = [fit_panel(p) for p in (source, luma, grad, recon)]
    titles = ["source", "Rec.709 luma", "palette gradient", "palette reconstruction"]
    grid = contact_sheet(list(zip(titles, panels)), cols=2)
    strip = np.full((40, grid.shape[1], 3), 24, np.uint8)
    text = caption if len(caption) < 150 else caption[:147] + "..."
    cv2.putText(strip, text, (8, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (235, 235, 235), 1, cv2.LINE_AA)
    return np.concatenate([grid, strip], axis=0).astype(np.float32) / 255.0
