"""Stage 1 of the restoration pipeline: dataset curation (``pipeline/01_dataset_curation/``).

:func:`build_pairs` takes two sources of the same film — the degraded
*source* (a scan) and the *reference* (DVD, telecine, another print) —
each an image sequence or a video, with their own frame rates, numbering,
resolutions, aspect ratios and colour, and writes into ``output_dir``:

- ``pairs.json``: the pair manifest ``reelkit.pairs/1``
  (:mod:`core.pairs`): per source frame the matching reference
  frame with a confidence and a status, the estimated rate and offset,
  the shots, the selected training pairs and the manual ``overrides``;
- ``manifest.json``: the standard run manifest (:mod:`core.manifest`):
  parameters, input fingerprints, outputs with sha256, timings;
- ``signatures/source.npz``, ``signatures/reference.npz``: the thumbnail
  cache (:mod:`core.pipeline.signatures`); a re-run with unchanged inputs
  reads no pixels;
- ``contact_sheet.png`` (``contact_sheet=True``): the selected pairs side
  by side (source | reference, sRGB previews), at most 48.

How (each step in its module): frames are read once, one at a time, into
log-luminance thumbnails (:mod:`~core.pipeline.signatures`); letterbox
bars are found over each sequence and both pictures are cropped to a
common area (``framing``); tone-invariant signatures are matched
(:mod:`~core.pipeline.matching`: global search for rate and offset, a
monotonic chain, band-limited dynamic programming that follows the shot's
rate first and allows duplicated and dropped frames); each matched pair's
thumbnails are compared for local damage the signatures average away
(:func:`~core.pipeline.signatures.pair_damage`): a frame is *damaged*
when its similarity is well below its neighbours' pairs or part of its
picture differs far more than theirs; cuts split the source into shots
(:func:`core.shots.signature_cuts`); a few diverse, confident pairs per shot are
selected, damaged ones first (:mod:`~core.pipeline.selection`).

Overrides: edit ``overrides`` in ``pairs.json`` (``{"1012": 1043, "1013":
null}``: force a match / exclude a frame) and run :func:`build_pairs`
again: they are read back, applied (status ``override``; a forced match
also pulls the alignment of its neighbours) and written again. They are
kept as long as the inputs are the same paths; pointing an existing output
folder at other inputs raises :class:`~core.errors.OutputExistsError`
unless ``force`` (which then starts without overrides, and also ignores
the thumbnail cache).

Failure is a value: inputs that do not match (another film, a wrong
reel) give ``status: "no_match"`` with low confidences and no selected
pairs, not an exception. Exceptions are for unusable inputs: empty or
missing sequences (:class:`~core.errors.SequenceError`), unreadable files
(:class:`~core.errors.ImageReadError`), bad parameters or overrides
(:class:`~core.errors.ParameterError`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import OutputExistsError, ParameterError
from core.jobs import ProgressFn
from core.pairs import FILE_NAME, FrameMatch, PairManifest, Shot, load_pairs, parse_overrides
from core.params import Param, ParamSet
from core.pipeline import matching, selection
from core.pipeline import signatures as sig
from core.pipeline.sources import InputSource, open_input
from core.shots import signature_cuts

#: Every parameter of :func:`build_pairs`: one spec for CLI options, config keys, Nuke knobs and Qt widgets.
PAIRS_PARAMS = ParamSet(
    "pairs",
    [
        Param("source_frames", str, "", "source frames to use (e.g. 1001-2000); empty: every frame on disk",
              label="Source frames"),
        Param("reference_frames", str, "", "reference frames to use; empty: every frame (a video's are 0-based)",
              label="Reference frames"),
        Param("source_fps", float, 0.0, "source frame rate; 0: unknown (a video's own rate is used)",
              minimum=0.0, maximum=1000.0, label="Source fps"),
        Param("reference_fps", float, 0.0, "reference frame rate; 0: unknown (a video's own rate is used)",
              minimum=0.0, maximum=1000.0, label="Reference fps"),
        Param("rate", float, 0.0, "reference frames per source frame (25/24 = 1.0417 when a 24 fps film was "
              "made 25 fps by repeating frames); 0: estimate from the content", minimum=0.0, maximum=10.0,
              label="Rate"),
        Param("framing", str, "auto", "common picture area: fit (the active areas as they are, e.g. anamorphic), "
              "crop (cut the wider picture's sides: pan and scan), matte (cut the taller picture's top and "
              "bottom: open matte); auto tries each", choices=sig.FRAMINGS, label="Framing"),
        Param("search_window", int, 10, "half-width, in reference frames, of the band searched around the "
              "estimated path", minimum=2, maximum=500, label="Search window"),
        Param("min_confidence", float, 0.5, "pairs below this confidence are low_confidence and never selected",
              minimum=0.0, maximum=1.0, label="Minimum confidence"),
        Param("signature_size", int, 32, "width in cells of the signature grid (height from the aspect)",
              minimum=8, maximum=128, label="Signature size"),
        Param("thumbnail_size", int, 64, "longer side in px of the cached luminance thumbnails "
              "(at least the signature size)", minimum=16, maximum=256, label="Thumbnail size"),
        Param("cut_threshold", float, 0.6, "signature distance (0 same picture .. 1 unrelated) above which "
              "consecutive source frames are a cut", minimum=0.05, maximum=2.0, label="Cut threshold"),
        Param("min_shot_length", int, 4, "cuts closer than this many frames to the previous cut are ignored",
              minimum=1, maximum=100000, label="Minimum shot length"),
        Param("pairs_per_shot", int, 8, "training pairs selected per shot (diverse, confident, spread out)",
              minimum=1, maximum=10000, label="Pairs per shot"),
        Param("min_spacing", int, 2, "selected source frames are at least this many frames apart",
              minimum=1, maximum=10000, label="Minimum spacing"),
        Param("seed", int, 0, "seed of the selection: same seed, same pairs", minimum=0, maximum=2**31 - 1,
              label="Seed"),
        Param("contact_sheet", bool, True, "write contact_sheet.png with the selected pairs", label="Contact sheet"),
    ],
)

#: Status of the whole run when at least this fraction of source frames matched confidently.
OK_FRACTION = 0.5
#: ``partial`` down to this fraction; below it, ``no_match``.
PARTIAL_FRACTION = 0.1
#: Width in cells of the coarse signature used for the global search and the framing choice.
COARSE_SIZE = 16
#: Most pairs drawn on the contact sheet.
CONTACT_SHEET_MAX = 48
#: Aspect ratios closer than this (relative) are the same framing.
SAME_ASPECT = 0.01
#: A damaged frame is a training pair only when its similarity is at least this far from unrelated (0)
#: towards identical (1): most of the picture still shows the reference's.
TRAINING_EVIDENCE = 0.5


#: The thumbnail caches :func:`build_pairs` keeps in its folder, and its contact sheet.
SIGNATURE_CACHES = ("signatures/source.npz", "signatures/reference.npz")
CONTACT_SHEET = "contact_sheet.png"


def pairs_outputs(output_dir: str | os.PathLike, params: Mapping[str, Any] | None = None) -> list[Path]:
    """Every file :func:`build_pairs` writes in ``output_dir`` with ``params`` (:data:`PAIRS_PARAMS` values):
    ``manifest.json``, ``pairs.json``, the thumbnail caches and, with ``contact_sheet``, the contact sheet
    (when any pair is selected)."""
    out = Path(output_dir)
    sheet = [out / CONTACT_SHEET] if PAIRS_PARAMS.resolve(dict(params or {}))["contact_sheet"] else []
    return [out / "manifest.json", out / FILE_NAME, *(out / c for c in SIGNATURE_CACHES), *sheet]


def build_pairs(source: str | os.PathLike, reference: str | os.PathLike, *, output_dir: str | os.PathLike,
                params: Mapping[str, Any] | None = None, overrides: Mapping[Any, Any] | None = None,
                force: bool = False, progress: ProgressFn | None = None, input_colorspace: str | None = None,
                reference_colorspace: str | None = None) -> PairManifest:
    """Match ``source`` to ``reference`` frame by frame and write the pair manifest into ``output_dir``.

    Parameters
    ----------
    source, reference:
        Sequence patterns (``scan/film.####.exr``), one file of a numbered
        sequence, or video files; any format and colour space :mod:`core.io`
        reads.
    output_dir:
        Folder for ``pairs.json``, ``manifest.json``, ``signatures/`` and
        ``contact_sheet.png`` (created).
    params:
        Values over :data:`PAIRS_PARAMS` (unknown names raise).
    overrides:
        ``{source frame: reference frame or None}`` merged over those kept
        in an existing ``pairs.json`` (these win).
    force:
        Replace the outputs of a run on other inputs, and recompute the
        thumbnails even when cached.
    progress:
        ``progress(done, total, frame)`` while frames are read (total is 0
        while a video's length is unknown).
    input_colorspace, reference_colorspace:
        The source's / reference's colour space, OCIO or reelkit names
        (``None`` / ``"auto"``: :mod:`core.io`'s rules), recorded in the
        manifest's ``colorspaces`` (and its config, when set); ``pairs.json``
        holds the space each was read in.

    Returns the :class:`~core.pairs.PairManifest` written.
    """
    from core.io import colorspace_option

    values = PAIRS_PARAMS.resolve(params)
    spaces = {"input_colorspace": colorspace_option(input_colorspace, name="input_colorspace"),
              "reference_colorspace": colorspace_option(reference_colorspace, name="reference_colorspace")}
    if values["thumbnail_size"] < values["signature_size"]:
        raise ParameterError(f"thumbnail_size {values['thumbnail_size']} is smaller than signature_size "
                             f"{values['signature_size']}")
    out = Path(output_dir)
    src = open_input(source, frames=values["source_frames"] or None,
                     colorspace=spaces["input_colorspace"], what="source")
    ref = open_input(reference, frames=values["reference_frames"] or None,
                     colorspace=spaces["reference_colorspace"], what="reference")
    kept = _previous_overrides(out / FILE_NAME, src, ref, force=force)
    if overrides is not None:
        kept.update(parse_overrides(overrides))

    from core.manifest import Manifest

    config = {"source": src.path, "reference": ref.path, "params": values,
              "overrides": {str(k): v for k, v in sorted(kept.items())}}
    config.update({k: v for k, v in spaces.items() if v is not None})  # only when set: earlier jobs resume
    manifest = Manifest(out, "pairs build", config, seed=values["seed"])
    manifest.set("colorspaces", {"input": spaces["input_colorspace"] or "auto",
                                 "reference": spaces["reference_colorspace"] or "auto"})
    manifest.claim()  # a second pairs build into this folder stops here
    try:
        result = _build(src, ref, out, values, kept, force, progress, manifest)
    except BaseException:
        if out.is_dir():
            manifest.finish("failed")
        raise
    return result


def _build(src: InputSource, ref: InputSource, out: Path, values: dict[str, Any], overrides: dict[int, int | None],
           force: bool, progress: ProgressFn | None, manifest) -> PairManifest:
    from core.manifest import file_sha256

    out.mkdir(parents=True, exist_ok=True)
    size = values["thumbnail_size"]
    n_src = len(src.numbers) if src.numbers is not None else 0
    n_ref = len(ref.numbers) if ref.numbers is not None else 0
    total = n_src + n_ref if (src.numbers is not None and ref.numbers is not None) else 0

    def relay(offset: int):
        if progress is None:
            return None
        return lambda done, _total, frame: progress(offset + done, total, frame)

    ts = sig.read_thumbnails(src, size=size, cache=out / SIGNATURE_CACHES[0], force=force, progress=relay(0),
                             what="source")
    tr = sig.read_thumbnails(ref, size=size, cache=out / SIGNATURE_CACHES[1], force=force,
                             progress=relay(len(ts.numbers)), what="reference")
    framing, sbox, rbox, aspect, s_active, r_active = _choose_framing(ts, tr, values["framing"])
    grid = sig.grid_shape(values["signature_size"], aspect)
    coarse_grid = sig.grid_shape(min(COARSE_SIZE, values["signature_size"]), aspect)
    # full signatures in float16: half the memory of a long film; similarities are taken in float32
    s_full, s_flat = sig.signatures(sig.crop_grid(ts.pixels, sbox, grid), dtype=np.float16)
    r_full, _ = sig.signatures(sig.crop_grid(tr.pixels, rbox, grid), dtype=np.float16)
    s_coarse, _ = sig.signatures(sig.crop_grid(ts.pixels, sbox, coarse_grid), gradients=False)
    r_coarse, _ = sig.signatures(sig.crop_grid(tr.pixels, rbox, coarse_grid), gradients=False)

    src_numbers = [int(v) for v in ts.numbers]
    ref_numbers = [int(v) for v in tr.numbers]
    src_pos = {n: i for i, n in enumerate(src_numbers)}
    ref_pos = {n: j for j, n in enumerate(ref_numbers)}
    forced: dict[int, int] = {}
    unused: list[int] = []
    for s_frame, r_frame in sorted(overrides.items()):
        if s_frame not in src_pos:
            unused.append(s_frame)
            continue
        if r_frame is None:
            continue
        if r_frame not in ref_pos:
            raise ParameterError(f"override {s_frame}: reference frame {r_frame} is not in the reference "
                                 f"{ref.path} (frames {ref.describe(ref_numbers)['frames']})")
        forced[src_pos[s_frame]] = ref_pos[r_frame]

    src_fps = values["source_fps"] or src.fps
    ref_fps = values["reference_fps"] or ref.fps
    hint = _snap_rate(ref_fps / src_fps) if src_fps and ref_fps else None
    settings = matching.MatchSettings(window=values["search_window"], rate=values["rate"], rate_hint=hint)
    cut_rows = signature_cuts(s_full, s_flat, threshold=values["cut_threshold"], min_length=values["min_shot_length"])
    labels = np.zeros(len(s_full), np.int64)
    for c in cut_rows[1:]:
        labels[c:] += 1
    res = matching.match_signatures(s_full, r_full, s_coarse, r_coarse, s_flat, settings=settings, forced=forced,
                                    shot_labels=labels)
    # local damage the signatures average away (a line dropout, a torn block): compared on the thumbnails
    on = np.flatnonzero((res.ref_index >= 0) & ~s_flat)
    differing = np.full(len(s_full), np.nan)
    differing[on] = sig.pair_damage(ts.pixels, tr.pixels, sbox, rbox, on, res.ref_index[on],
                                    sig.grid_shape(max(8, round(sbox[2] - sbox[0])), aspect))
    local = matching.locally_damaged(np.nan_to_num(differing), np.isfinite(differing), labels)
    res.damaged = res.damaged | local
    ts.release()
    tr.release()

    matches = _frame_records(res, differing, src_numbers, ref_numbers, s_flat, overrides, src_pos, ref_pos, s_full,
                             r_full, values["min_confidence"])
    timing = _timing(res, matches, src_pos, ref_pos)
    timing["fps"] = {"source": src_fps, "reference": ref_fps}
    fraction = sum(1 for m in matches if m.reference_frame is not None and (
        m.status == "override" or m.status in ("matched", "duplicate") and m.confidence >= values["min_confidence"]
    )) / max(1, len(matches))
    if fraction >= OK_FRACTION:
        status, message = "ok", f"{fraction:.0%} of the source frames matched confidently"
    elif fraction >= PARTIAL_FRACTION:
        status, message = "partial", (f"only {fraction:.0%} of the source frames matched confidently: the reference "
                                      "may cover part of the source, or differ in places")
    else:
        status, message = "no_match", (f"no plausible alignment: {fraction:.0%} of the source frames matched "
                                       "confidently; check that both inputs are the same film, or add overrides")

    evidence = np.clip((np.nan_to_num(res.similarity, nan=res.baseline) - res.baseline)
                       / max(1.0 - res.baseline, 1e-6), 0.0, 1.0)
    shot_list, selected = _select(cut_rows, matches, s_full, evidence, values, select=status != "no_match")

    ref_unmatched = [{"reference_frame": ref_numbers[j], "status": kind,
                      "same_as": ref_numbers[int(res.ref_index[i])] if kind == "duplicate" else None,
                      "near_source_frame": src_numbers[i]} for j, kind, i in res.ref_unmatched]
    counts = {s: sum(1 for m in matches if m.status == s) for s in ("matched", "duplicate", "dropped",
                                                                     "low_confidence", "override")}
    confs = [m.confidence for m in matches if m.reference_frame is not None]
    summary = {**counts, "damaged": sum(1 for m in matches if m.damaged), "source_frames": len(matches),
               "shots": len(shot_list), "selected": len(selected),
               "selected_damaged": sum(1 for p in selected if p["damaged"]),
               "reference_duplicates": sum(1 for r in ref_unmatched if r["status"] == "duplicate"),
               "reference_not_in_source": sum(1 for r in ref_unmatched if r["status"] == "not_in_source"),
               "median_confidence": round(float(np.median(confs)), 4) if confs else 0.0,
               "baseline_similarity": round(res.baseline, 4), "unused_overrides": unused}
    src_desc = {**src.describe(src_numbers), **ts.describe(), "fps": src_fps,
                "active_box": _box_pixels(s_active, ts)}
    ref_desc = {**ref.describe(ref_numbers), **tr.describe(), "fps": ref_fps,
                "active_box": _box_pixels(r_active, tr)}
    framing.update({"source_box": _box_pixels(sbox, ts), "reference_box": _box_pixels(rbox, tr),
                    "grid": [grid[0], grid[1]]})
    pairs = PairManifest(source=src_desc, reference=ref_desc, timing=timing, framing=framing, params=dict(values),
                         matches=matches, shots=shot_list, selected=selected, reference_unmatched=ref_unmatched,
                         overrides=dict(sorted(overrides.items())), status=status, message=message, summary=summary)
    written = {FILE_NAME: pairs.save(out / FILE_NAME)}
    if values["contact_sheet"] and selected:
        written[CONTACT_SHEET] = contact_sheet(pairs, src, ref, out / CONTACT_SHEET)
    manifest.set("inputs", {src.path: src.fingerprint, ref.path: ref.fingerprint})
    manifest.set("input_digest", "sha256 of each input's file names, sizes and modification times")
    manifest.set("outputs", {name: file_sha256(p) for name, p in written.items()})
    manifest.set("signature_cache", {"source": "reused" if ts.cached else "computed",
                                     "reference": "reused" if tr.cached else "computed"})
    manifest.set("result", {"status": status, "summary": summary, "rate": timing["rate"],
                            "offset": timing["offset"]})
    manifest.finish("done")
    return pairs


# --------------------------------------------------------------------------- pieces


def _previous_overrides(path: Path, src: InputSource, ref: InputSource, *, force: bool) -> dict[int, int | None]:
    """Overrides of an existing pairs.json for the same inputs; another run's outputs need ``force``."""
    if not path.exists():
        return {}
    old = load_pairs(path)  # a damaged file raises: the user's overrides are never silently dropped
    same = (os.path.abspath(str(old.source.get("path", ""))) == os.path.abspath(src.path)
            and os.path.abspath(str(old.reference.get("path", ""))) == os.path.abspath(ref.path))
    if same:
        return dict(old.overrides)
    if not force:
        raise OutputExistsError(f"{path}: already holds pairs of {old.source.get('path')} and "
                                f"{old.reference.get('path')} (use --force to replace it)")
    return {}


def _snap_rate(ratio: float) -> float:
    near = min(matching.RATES, key=lambda r: abs(r - ratio))
    return near if abs(near - ratio) / near < 0.005 else float(ratio)


def _choose_framing(ts: sig.Thumbnails, tr: sig.Thumbnails, requested: str):
    sbox = sig.active_box(ts.pixels)
    rbox = sig.active_box(tr.pixels)
    s_aspect = sig.box_aspect(sbox, ts.shape, ts.width, ts.height)
    r_aspect = sig.box_aspect(rbox, tr.shape, tr.width, tr.height)
    info: dict[str, Any] = {"requested": requested, "source_aspect": round(s_aspect, 4),
                            "reference_aspect": round(r_aspect, 4)}
    if requested != "auto":
        mode = requested
    elif abs(s_aspect - r_aspect) / s_aspect < SAME_ASPECT:
        mode = "fit"
        info["reason"] = "same aspect ratio"
    else:
        scores = {m: _framing_score(ts, tr, *sig.framing_boxes(m, sbox, s_aspect, rbox, r_aspect))
                  for m in sig.FRAMINGS[1:]}
        mode = max(sig.FRAMINGS[1:], key=lambda m: scores[m])  # ties: the first (fit)
        info["scores"] = {m: round(v, 4) for m, v in scores.items()}
    b1, b2, aspect = sig.framing_boxes(mode, sbox, s_aspect, rbox, r_aspect)
    info["mode"] = mode
    info["aspect"] = round(aspect, 4)
    return info, b1, b2, aspect, sbox, rbox


def _framing_score(ts, tr, b1, b2, aspect, samples: int = 24) -> float:
    """Mean best similarity of a few spread source frames over the whole reference (coarse signatures)."""
    grid = sig.grid_shape(COARSE_SIZE, aspect)
    rows = np.unique(np.linspace(0, len(ts.numbers) - 1, min(samples, len(ts.numbers))).round().astype(int))
    s, flat = sig.signatures(sig.crop_grid(ts.pixels[rows], b1, grid), gradients=False)
    r, _ = sig.signatures(sig.crop_grid(tr.pixels, b2, grid), gradients=False)
    if (~flat).sum() == 0:
        return 0.0
    best = np.full(int((~flat).sum()), -1.0)
    for start in range(0, len(r), 4096):
        best = np.maximum(best, (s[~flat] @ r[start:start + 4096].T).max(axis=1))
    return float(best.mean())


def _box_pixels(box, thumbs: sig.Thumbnails) -> list[float]:
    h, w = thumbs.shape
    x0, y0, x1, y1 = box
    sx, sy = thumbs.width / w, thumbs.height / h
    return [round(x0 * sx, 1), round(y0 * sy, 1), round(x1 * sx, 1), round(y1 * sy, 1)]


def _r(v: float | None, nd: int = 4) -> float | None:
    if v is None or not math.isfinite(v):
        return None
    return round(float(v), nd)


_DROP_REASONS = {"before_reference": "before the reference starts", "after_reference": "after the reference ends",
                 "not_in_reference": "not in the reference (dropped there)"}


def _frame_records(res: matching.MatchResult, differing: np.ndarray, src_numbers, ref_numbers, flat, overrides,
                   src_pos, ref_pos, s_full, r_full, min_conf: float) -> list[FrameMatch]:
    out = []
    for i, number in enumerate(src_numbers):
        j = int(res.ref_index[i])
        conf = float(res.confidence[i]) if j >= 0 else 0.0
        sim, margin = _r(res.similarity[i]), _r(res.margin[i])
        if number in overrides:
            forced = overrides[number]
            if forced is None:
                out.append(FrameMatch(number, None, "override", 0.0, None, None, "excluded by override"))
                continue
            fj = ref_pos[forced]
            s = float(np.dot(s_full[i].astype(np.float32), r_full[fj].astype(np.float32)))
            measured = min(1.0, max(0.0, (s - res.baseline) / max(1.0 - res.baseline, 1e-6)))
            out.append(FrameMatch(number, forced, "override", round(measured, 4), _r(s), None, "forced by override"))
            continue
        damaged = bool(res.damaged[i])
        note = (f"damaged: similarity {res.similarity[i]:.2f} (its neighbours' pairs {res.typical[i]:.2f}), "
                f"{differing[i]:.1%} of the picture differs; matched by continuity") if damaged else None
        if j < 0:
            out.append(FrameMatch(number, None, "dropped", 0.0, None, None, _DROP_REASONS[res.drop_reason[i]]))
        elif flat[i]:
            out.append(FrameMatch(number, ref_numbers[j], "low_confidence", 0.0, sim, margin,
                                  "flat frame: no picture to match"))
        elif res.kind[i] == "duplicate":
            out.append(FrameMatch(number, ref_numbers[j], "duplicate", round(conf, 4), sim, margin,
                                  f"same reference frame as source frame {src_numbers[i - 1]}", damaged))
        elif conf < min_conf:
            out.append(FrameMatch(number, ref_numbers[j], "low_confidence", round(conf, 4), sim, margin,
                                  f"confidence {conf:.2f} below {min_conf:g}" + (f"; {note}" if note else ""),
                                  damaged))
        else:
            out.append(FrameMatch(number, ref_numbers[j], "matched", round(conf, 4), sim, margin, note, damaged))
    return out


def _timing(res: matching.MatchResult, matches: list[FrameMatch], src_pos, ref_pos) -> dict[str, Any]:
    """Rate, the offset most frames follow, and the segments of constant offset."""
    rate = float(res.rate)
    pts = [(src_pos[m.source_frame], ref_pos[m.reference_frame], m) for m in matches
           if m.reference_frame is not None and m.status in ("matched", "duplicate", "override", "low_confidence")
           and m.reference_frame in ref_pos]
    timing: dict[str, Any] = {"rate": round(rate, 6), "rate_name": matching.rate_name(rate),
                              "rate_from": res.rate_from, "rate_scores": res.rate_scores,
                              "offset": None, "frame_offset": None, "segments": []}
    if not pts:
        return timing
    i = np.array([p[0] for p in pts], np.float64)
    j = np.array([p[1] for p in pts], np.float64)
    _, low, high = matching.offset_window(i, j, np.ones(len(i)), rate)
    centre = (low + high) / 2
    shift = np.round(j - rate * i - centre).astype(np.int64)
    one = abs(rate - 1.0) < 1e-9
    segments = []
    start = 0
    for k in range(1, len(pts) + 1):
        if k == len(pts) or shift[k] != shift[start]:
            seg = pts[start:k]
            offs = [p[2].reference_frame - p[2].source_frame for p in seg]
            segments.append({"first": seg[0][2].source_frame, "last": seg[-1][2].source_frame, "frames": len(seg),
                             "offset": round(centre + float(shift[start]), 3),
                             "frame_offset": int(np.bincount(np.array(offs) - min(offs)).argmax() + min(offs))
                             if one else None})
            start = k
    timing["offset"] = round(centre, 3)
    if one:
        main = [p for p, sft in zip(pts, shift) if sft == 0]
        offs = np.array([p[2].reference_frame - p[2].source_frame for p in main])
        timing["frame_offset"] = int(np.bincount(offs - offs.min()).argmax() + offs.min())
        timing["offset"] = int(round(centre))
    timing["segments"] = segments
    return timing


def _select(cut_rows: list[int], matches: list[FrameMatch], sigs: np.ndarray, evidence: np.ndarray,
            values: dict[str, Any], *, select: bool) -> tuple[list[Shot], list[dict[str, Any]]]:
    """Training pairs per shot: confident matches and overrides, damaged ones first.

    A damaged frame must still show its reference's picture over most of
    the frame (``evidence``, its similarity from unrelated (0) to identical
    (1), at least :data:`TRAINING_EVIDENCE`): a mirrored or rolled frame is
    matched by continuity, but it is no pair to learn from.
    """
    n = len(matches)
    conf = np.array([m.confidence for m in matches], np.float64)
    eligible = np.array([(m.status == "matched" and m.confidence >= values["min_confidence"]
                          and (not m.damaged or evidence[i] >= TRAINING_EVIDENCE))
                         or (m.status == "override" and m.reference_frame is not None)
                         for i, m in enumerate(matches)])
    damaged = np.array([m.damaged for m in matches])
    shot_list: list[Shot] = []
    selected: list[dict[str, Any]] = []
    bounds = list(cut_rows) + [n]
    for index, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        rows = np.arange(a, b)[eligible[a:b]] if select else np.zeros(0, np.int64)
        picks = selection.select_pairs(rows, sigs, conf, count=values["pairs_per_shot"],
                                       min_spacing=values["min_spacing"], seed=values["seed"], shot=index,
                                       prefer=damaged)
        shot_list.append(Shot(index, matches[a].source_frame, matches[b - 1].source_frame, b - a,
                              tuple(matches[p].source_frame for p in picks)))
        for p in picks:
            selected.append({"shot": index, "source_frame": matches[p].source_frame,
                             "reference_frame": matches[p].reference_frame, "confidence": matches[p].confidence,
                             "damaged": matches[p].damaged})
    return shot_list, selected


# --------------------------------------------------------------------------- contact sheet


def contact_sheet(pairs: PairManifest, src: InputSource, ref: InputSource, path: str | os.PathLike, *,
                  height: int = 96, columns: int = 4, limit: int = CONTACT_SHEET_MAX) -> Path:
    """Write a PNG of the selected pairs (source | reference, sRGB previews, frame numbers); returns the path.

    At most ``limit`` pairs, evenly spread over the selection. Frames are
    read again (only those shown) and converted to ACEScg, then shown with
    :func:`core.color.acescg_to_srgb_preview`.
    """
    import cv2

    from core.io.atomic import atomic_path

    chosen = pairs.selected_pairs()
    if len(chosen) > limit:
        keep = np.unique(np.linspace(0, len(chosen) - 1, limit).round().astype(int))
        chosen = [chosen[k] for k in keep]
    s_img = {f.frame: _preview(f, height) for f in src.frames_subset([p[0] for p in chosen])}
    r_img = {f.frame: _preview(f, height) for f in ref.frames_subset([p[1] for p in chosen])}
    gap = 4
    label = 14
    cells = []
    for s_frame, r_frame in chosen:
        a, b = s_img[s_frame], r_img[r_frame]
        cell = np.full((height + label, a.shape[1] + b.shape[1] + gap, 3), 32, np.uint8)
        cell[label:, :a.shape[1]] = a
        cell[label:, a.shape[1] + gap:] = b
        cv2.putText(cell, f"{s_frame} | {r_frame}", (2, label - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    (230, 230, 230), 1, cv2.LINE_AA)
        cells.append(cell)
    width = max(c.shape[1] for c in cells)
    rows = []
    for start in range(0, len(cells), columns):
        row = [np.pad(c, ((0, 0), (0, width - c.shape[1]), (0, 0)), constant_values=32)
               for c in cells[start:start + columns]]
        row += [np.full_like(row[0], 32)] * (columns - len(row))
        rows.append(np.concatenate([np.concatenate([c, np.full((c.shape[0], gap * 2, 3), 16, np.uint8)], axis=1)
                                    for c in row], axis=1))
    sheet = np.concatenate(rows, axis=0)
    target = Path(path)
    with atomic_path(target, overwrite=True) as tmp:
        if not cv2.imwrite(str(tmp), np.ascontiguousarray(sheet[..., ::-1])):
            from core.errors import ImageWriteError

            raise ImageWriteError(f"{target}: OpenCV could not write the contact sheet")
    return target


def _preview(frame, height: int) -> np.ndarray:
    import cv2

    from core import color

    px = frame.pixels[..., :3] if frame.n_channels >= 3 else np.repeat(frame.pixels[..., :1], 3, axis=2)
    w = max(1, round(frame.width * height / frame.height))
    small = cv2.resize(np.nan_to_num(px, nan=0.0, posinf=65504.0, neginf=0.0), (w, height),
                       interpolation=cv2.INTER_AREA)
    aces = color.convert(small, frame.colorspace, "ACEScg", nonfinite="pass")
    return color.acescg_to_srgb_preview(aces, nonfinite="pass")
