"""The main job on built-in sample data: ``reelkit demo``, the five-stage restoration on CPU.

The demo makes a short "film" from the real photos shipped in
``core/data/samples`` and restores it with the whole pipeline
(:mod:`core.pipeline.project`):

1. **footage** (``footage/``): three shots, each a camera move (pan and
   push-in) over one photo, cut from one photo to the next, rendered
   scene-linear ACEScg (:func:`film_frame`).

   - ``footage/scan/scan.####.exr``: the *source*, the film as an aged
     print scanned: each frame damaged by :func:`core.degrade.degrade_frame`
     (preset ``faded_16mm`` by default: faded dyes, grain, dust, scratches,
     flicker, gate weave) with the demo's seed, numbered from 1001;
   - ``footage/telecine/telecine.####.png``: the *reference*, the same
     film from a clean element, graded differently (warmer, lifted blacks,
     another contrast: :func:`telecine_grade`), 8-bit sRGB, numbered from 1,
     starting a few film frames earlier and with one frame repeated, as a
     telecine transfer would be;

2. **project** (``project/``): :func:`core.pipeline.project.init_project`
   on those two sequences, then :func:`core.pipeline.project.run_project`
   runs stages 1-5 on the CPU: frame matching, alignment, a short
   fine-tune of the shipped ``film_restore`` model (from scratch when none
   ships), the restored render of every source frame, and the validation
   report (``project/pipeline/05_validation/``) comparing the ML result
   with the classic baselines (fitted grade, dust busting, denoise).

``manifest.json`` records the demo's parameters, the footage's config hash
and the stages' results. A second run resumes: footage and stages already
done are skipped. An output folder holding anything else is refused unless
``force`` (which also redoes every stage).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import OutputExistsError
from core.jobs import ProgressFn, StageProgressFn
from core.params import Param, ParamSet, config_hash

DEMO_PARAMS = ParamSet(
    "demo",
    [
        Param("width", int, 256, "frame width in pixels (height: 9/16 of it)", minimum=64, maximum=2048),
        Param("shot_length", int, 14, "frames per shot (three shots)", minimum=4, maximum=240),
        Param("preset", str, "faded_16mm", "core.degrade preset that ages the source",
              choices=("faded_16mm", "dusty_35mm", "super8_home_movie", "third_generation_dupe")),
        Param("seed", int, 7, "seed of the damage, the pair selection and the training", minimum=0,
              maximum=2**31 - 1),
        Param("steps", int, 2000, "fine-tuning steps on the CPU", minimum=1, maximum=100_000),
        Param("crop_size", int, 96, "training crop size (px)", minimum=16, maximum=512),
        Param("batch_size", int, 8, "training crops per step", minimum=1, maximum=64),
    ],
)

#: photo, centre (photo px), pan (photo px per frame), zoom at the shot start, zoom change per frame
SHOTS = (("coffee", (300, 200), (4.0, 1.0), 1.0, 0.012),
         ("chelsea", (240, 150), (-3.5, 0.8), 1.15, 0.0),
         ("astronaut", (250, 300), (2.0, -4.0), 0.9, 0.012))
SOURCE_FIRST = 1001
REFERENCE_FIRST = 1
#: The telecine starts this many film frames before the scan.
REFERENCE_LEAD = 3
#: Film frames (0-based, within the film) the telecine shows twice.
REFERENCE_REPEATED = (20,)

def film_frame(k: int, *, width: int, shot_length: int) -> np.ndarray:
    """Film frame ``k`` (before 0: the first shot's move run backwards): ACEScg ``float32`` ``HW3``, >= 0.

    A crop window moves over one shipped photo per shot (pan + push-in),
    resampled from the photo decoded to scene-linear ACEScg; height is
    ``width * 9 / 16`` rounded to even.
    """
    import cv2

    height = _height(width)
    shot = min(max(k, 0) // shot_length, len(SHOTS) - 1)
    name, (cx, cy), (vx, vy), zoom, dzoom = SHOTS[shot]
    t = k - shot * shot_length
    photo = _photo(name)
    scale = width / 320.0 * zoom * (1 + dzoom * t)  # frame px per photo px
    px, py = cx + vx * t, cy + vy * t
    m = np.array([[scale, 0, width / 2 - scale * px], [0, scale, height / 2 - scale * py]], np.float32)
    out = cv2.warpAffine(photo, m, (width, height), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
    return np.maximum(out, 0.0)


def _height(width: int) -> int:
    return int(round(width * 9 / 16 / 2)) * 2


_PHOTOS: dict[str, np.ndarray] = {}


def _photo(name: str) -> np.ndarray:
    if name not in _PHOTOS:
        from core.color import convert
        from core.io.samples import load_sample

        sample = load_sample(name)
        _PHOTOS[name] = np.ascontiguousarray(convert(sample.pixels[..., :3], sample.colorspace, "ACEScg"))
    return _PHOTOS[name]


def telecine_grade(acescg: np.ndarray) -> np.ndarray:
    """The reference's look: sRGB-encoded, contrast (gamma 0.85), warm, lifted blacks, 8-bit steps; ``HW3`` 0..1."""
    from core.color import convert

    srgb = np.clip(convert(acescg, "ACEScg", "srgb"), 0.0, 1.0)
    graded = np.clip(srgb ** 1.15 * np.array([1.05, 1.0, 0.9], np.float32) + 0.025, 0.0, 1.0)
    return (np.round(graded * 255) / 255).astype(np.float32)


def film_frames(shot_length: int) -> tuple[list[int], list[int]]:
    """Film frame shown by each source frame and by each reference frame, in order."""
    n = shot_length * len(SHOTS)
    source = list(range(n))
    reference = []
    for k in range(-REFERENCE_LEAD, n):
        reference.append(k)
        if k in REFERENCE_REPEATED:
            reference.append(k)
    return source, reference


#: CPU time of the demo with the default settings, in core-seconds: 150 s of wall time on 2 quiet cores
#: (measured on the 2-core CI machine, session 5; the estimate printed up front divides it by the free cores).
QUIET_CORE_SECONDS = 300.0


def estimate_seconds(free_cores: int) -> float:
    """Wall seconds the default demo takes with ``free_cores`` cores free (see :data:`QUIET_CORE_SECONDS`)."""
    return QUIET_CORE_SECONDS / max(1, min(free_cores, 2))  # beyond 2 cores the stages gain little


def make_footage(folder: str | os.PathLike, *, width: int = 256, shot_length: int = 14, preset: str = "faded_16mm",
                 seed: int = 7, progress: ProgressFn | None = None) -> tuple[str, str]:
    """Write the demo's source scan and telecine reference into ``folder``; returns their patterns.

    Source: ``scan/scan.####.exr`` (ACEScg, half, from 1001), each film
    frame degraded with ``preset`` and ``seed``. Reference:
    ``telecine/telecine.####.png`` (8-bit sRGB, from 1), the film graded
    by :func:`telecine_grade`, :data:`REFERENCE_LEAD` frames earlier, with
    :data:`REFERENCE_REPEATED` shown twice. Frames of those two sequences
    already in ``folder`` are replaced (older, longer footage is removed).
    """
    from core import io
    from core.degrade import degrade_frame

    root = Path(folder)
    src = str(root / "scan" / "scan.####.exr")
    ref = str(root / "telecine" / "telecine.####.png")
    src_frames, ref_frames = film_frames(shot_length)
    total = len(src_frames) + len(ref_frames)
    cache: dict[int, np.ndarray] = {}

    def frame(k: int) -> np.ndarray:
        if k not in cache:
            if len(cache) > 4:
                cache.clear()
            cache[k] = film_frame(k, width=width, shot_length=shot_length)
        return cache[k]

    for pattern in (src, ref):  # frames of an earlier, longer footage must not join the sequences
        for n in _frames_on_disk(pattern):
            os.remove(io.sequence_path(pattern, n))
    done = 0
    for i, k in enumerate(src_frames):
        number = SOURCE_FIRST + i
        damaged = degrade_frame(frame(k), frame=number, seed=seed, preset=preset).pixels
        io.write_image(io.sequence_path(src, number), damaged, colorspace="ACEScg", pixel_type="half",
                       overwrite=True, attributes={"reelkit/demo": f"film frame {k}, {preset}, seed {seed}"})
        done += 1
        if progress:
            progress(done, total)
    for i, k in enumerate(ref_frames):
        io.write_image(io.sequence_path(ref, REFERENCE_FIRST + i), telecine_grade(frame(k)), colorspace="srgb",
                       bit_depth=8, overwrite=True)
        done += 1
        if progress:
            progress(done, total)
    return src, ref


def project_params(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The demo project's stage parameters (CPU sized)."""
    return {
        "curation": {"pairs_per_shot": 6, "min_spacing": 2},
        "alignment": {"report": True},
        "training": {"steps": values["steps"], "crop_size": values["crop_size"],
                     "batch_size": values["batch_size"], "checkpoint_every": max(1, values["steps"] // 4)},
        "inference": {"tile": 0},
        "validation": {"fit_frames": 6, "compare_frames": 3, "crop_size": min(256, _height(values["width"]))},
    }


def run_demo(output_dir: str | os.PathLike, *, params: dict | None = None, force: bool = False,
             progress: StageProgressFn | None = None) -> dict[str, Any]:
    """Make the demo footage and run the five stages on it in ``output_dir``; returns a summary dict.

    ``progress(step, done, total, info)``: ``step`` is ``"footage"`` or
    ``"stage N: title"``. The summary holds ``output_dir``, ``project``,
    ``report`` (the validation report's path), ``stages`` (one line each)
    and ``metrics`` (:func:`core.validate.run_validation`'s summary table).
    """
    from core.manifest import Manifest
    from core.pipeline.project import PROJECT_FILE, STAGES, init_project, load_project, run_project

    values = DEMO_PARAMS.resolve(params or {})
    out = Path(output_dir)
    _check_output(out, force)
    footage_cfg = {k: values[k] for k in ("width", "shot_length", "preset", "seed")}
    footage_hash = config_hash(footage_cfg)
    manifest = Manifest(out, "demo", {"params": values}, seed=values["seed"])
    manifest.claim()  # before the footage is made: a second demo in this folder stops here
    old = _previous(out)
    footage = out / "footage"
    src = str(footage / "scan" / "scan.####.exr")
    ref = str(footage / "telecine" / "telecine.####.png")
    if force or old.get("footage_hash") != footage_hash or not _footage_complete(src, ref, values["shot_length"]):
        src, ref = make_footage(footage, **footage_cfg,
                                progress=(lambda d, t, item=None: progress("footage", d, t, "")) if progress else None)
    elif progress:
        progress("footage", 1, 1, "made already")
    manifest.set("footage", {"source": src, "reference": ref, "config_hash": footage_hash, **footage_cfg})
    manifest.set("footage_hash", footage_hash)
    manifest.save()

    proj_dir = out / "project"
    stage_params = project_params(values)
    if force or not (proj_dir / PROJECT_FILE).is_file():
        init_project(proj_dir, source=src, reference=ref, seed=values["seed"], params=stage_params,
                     name="demo", force=True)
    else:
        project = load_project(proj_dir)
        if (project.stages, project.source, project.reference, project.seed) != (
                _stage_params(stage_params), os.path.abspath(src), os.path.abspath(ref), values["seed"]):
            init_project(proj_dir, source=src, reference=ref, seed=values["seed"], params=stage_params,
                         name="demo", force=True)

    titles = {s.number: f"stage {s.number}: {s.title}" for s in STAGES}
    relay = (lambda n, d, t, info: progress(titles[n], d, t, info)) if progress else None
    try:
        status = run_project(proj_dir, "1-5", force=force, progress=relay)
    except BaseException:
        manifest.finish("failed")
        raise
    result = _read_result(proj_dir / "pipeline" / STAGES[4].folder)
    manifest.set("stages", [s.to_dict() for s in status])
    manifest.set("metrics", result.get("metrics"))
    manifest.finish("done")
    return {"output_dir": str(out), "project": str(proj_dir), "report": result.get("report"),
            "stages": [s.line() for s in status], "metrics": result.get("metrics"), "table": result.get("table")}


def _stage_params(stage_params: dict) -> dict:
    """The stage parameters a fresh :func:`init_project` writes (to compare with the project on disk)."""
    from core.pipeline.project import STAGES, TRAINING_DEFAULTS
    from core.train.config import merge

    stages = {s.key: dict(stage_params.get(s.key) or {}) for s in STAGES}
    stages["training"] = merge(TRAINING_DEFAULTS, stages["training"])
    return stages


def _check_output(out: Path, force: bool) -> None:
    if not out.exists():
        return
    if not out.is_dir():
        raise OutputExistsError(f"{out}: exists and is not a folder")
    entries = [p.name for p in out.iterdir()]
    if not entries or force:
        return
    if _previous(out).get("command") != "demo":
        raise OutputExistsError(f"{out}: holds files the demo did not make ({', '.join(sorted(entries)[:3])}); "
                                "choose another --output-dir or use --force")


def _previous(out: Path) -> dict[str, Any]:
    import json

    try:
        d = json.loads((out / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return d if isinstance(d, dict) else {}


def _frames_on_disk(pattern: str) -> list[int]:
    from core import io
    from core.errors import SequenceError

    try:
        return io.find_frames(pattern)
    except SequenceError:  # no such folder, or no frame in it
        return []


def _footage_complete(src: str, ref: str, shot_length: int) -> bool:
    s, r = film_frames(shot_length)
    return _frames_on_disk(src) == list(range(SOURCE_FIRST, SOURCE_FIRST + len(s))) and \
        _frames_on_disk(ref) == list(range(REFERENCE_FIRST, REFERENCE_FIRST + len(r)))


def _read_result(folder: Path) -> dict[str, Any]:
    """The validation stage's summary (``metrics.json``) as the demo prints it: ``metrics``, ``table``, ``report``."""
    import json

    data = json.loads((folder / "metrics.json").read_text("utf-8"))
    summary = data["summary"]
    return {"metrics": summary, "table": metric_table(summary, data.get("methods", {})),
            "report": str(folder / "report.html")}


#: Columns of the printed table: metric, heading, format.
TABLE_COLUMNS = (("psnr", "PSNR dB ↑", "{:.2f}"), ("ssim", "SSIM ↑", "{:.4f}"), ("delta_e", "ΔE2000 ↓", "{:.2f}"),
                 ("flicker", "flicker ↓", "{:.4f}"))


def metric_table(summary: dict[str, dict[str, float]], kinds: dict[str, str] | None = None) -> str:
    """Plain-text table: one row per method (source, baselines, ML), mean over the validated frames."""
    kinds = kinds or {}
    width = max(len("method"), *(len(m) for m in summary))
    head = f"{'method':<{width}}  {'kind':<9}" + "".join(f"  {h:>10}" for _, h, _ in TABLE_COLUMNS)
    lines = [head, "-" * len(head)]
    for method, vals in summary.items():
        cells = "".join(f"  {(fmt.format(vals[k]) if vals.get(k) is not None else '-'):>10}"
                        for k, _, fmt in TABLE_COLUMNS)
        lines.append(f"{method:<{width}}  {kinds.get(method, ''):<9}{cells}")
    return "\n".join(lines)
