"""``reelkit info FILE``: channels, size, bit depth, colour space, min/max, NaN count."""

from __future__ import annotations

import json


def add_parser(sub) -> None:
    from core.cli.main import add_colorspace_options

    p = sub.add_parser("info", help="describe an image or sequence: channels, size, colour space, min/max, NaN/Inf",
                       description="Describe an image file or a sequence pattern.")
    p.add_argument("input", help="image file or sequence pattern")
    add_colorspace_options(p, writes=False)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--output-dir", "-o", help="also write info.json into this folder")
    p.add_argument("--force", action="store_true", help="replace an existing info.json")
    p.set_defaults(func=run)


#: Frames sampled (evenly, 10 % to 90 % of the way through) to pick a representative one.
SAMPLED_FRAMES = 5


def describe(path: str, colorspace: str | None = None) -> dict:
    """Statistics of a file, or of a sequence's or video's representative frame plus its summary.

    The representative frame of a sequence or a video is the one of median brightness (mean of its
    colour channels) among :data:`SAMPLED_FRAMES` frames spread from 10 % to 90 % of the way
    through: frame 0 is black in many clips (a fade in, a leader). ``bit_depth`` says how the
    samples are stored (``8-bit integer``, ``16-bit float (half)``...).
    """
    from core import io
    from core.frame import frame_stats

    if io.is_sequence_pattern(path):
        numbers = io.find_frames(path)
        frame, sampled = _representative(numbers, lambda n: io.read_image(io.sequence_path(path, n),
                                                                           colorspace=colorspace))
        info = {**frame_stats(frame), "bit_depth": _bit_depth(frame)}
        info["sequence"] = {"pattern": path, "first": numbers[0], "last": numbers[-1], "count": len(numbers),
                            "missing": io.format_frames(io.missing_frames(numbers)), "stats_of": frame.frame,
                            "sampled": sampled}
        return info
    from pathlib import Path

    from core.io._common import EXTENSIONS

    if Path(path).suffix.lower() not in EXTENSIONS and Path(path).is_file():  # a video: what OpenCV decodes
        video = io.video_info(path)
        numbers = list(range(max(1, video.frame_count)))
        frame, sampled = _representative(numbers, lambda n: next(io.iter_video_frames(path, [n],
                                                                                      colorspace=colorspace)))
        info = {**frame_stats(frame), "bit_depth": "8-bit integer (as decoded)"}
        info["video"] = {"frames": video.frame_count, "fps": video.fps, "codec": video.codec,
                         "stats_of": frame.frame, "sampled": sampled}
        return info
    frame = io.read_image(path, colorspace=colorspace)
    info = {**frame_stats(frame), "bit_depth": _bit_depth(frame)}
    if str(path).lower().endswith(".exr"):
        header = io.read_exr_header(path, colorspace=colorspace)
        info["exr"] = {k: header[k] for k in ("compression", "pixel_types", "attributes") if k in header}
    return info


def _representative(numbers: list[int], read) -> tuple:
    """(the frame of median brightness among up to SAMPLED_FRAMES of ``numbers``, the numbers sampled)."""
    import numpy as np

    if len(numbers) <= SAMPLED_FRAMES:
        picks = list(numbers)
    else:
        last = len(numbers) - 1
        picks = sorted({numbers[round(last * (0.1 + 0.8 * i / (SAMPLED_FRAMES - 1)))] for i in range(SAMPLED_FRAMES)})
    brightness = []
    for n in picks:  # one frame in memory at a time; the chosen one is read again
        px = read(n).pixels
        colour = px[..., :3] if px.shape[2] >= 3 else px[..., :1]
        brightness.append(float(np.nanmean(np.where(np.isfinite(colour), colour, np.nan))))
    chosen = picks[int(np.argsort(brightness, kind="stable")[(len(picks) - 1) // 2])]
    return read(chosen), picks


def _bit_depth(frame) -> str:
    """How a read frame's file stores its samples."""
    meta = frame.metadata
    if meta.get("format") == "exr":
        kinds = {"half": "16-bit float (half)", "float": "32-bit float", "uint": "32-bit integer"}
        return ", ".join(sorted({kinds.get(t, t) for t in (meta.get("pixel_types") or {}).values()}))
    bits = meta.get("bit_depth")
    if bits is None:
        return "unknown"
    if meta.get("format") == "tiff":
        import tifffile

        with tifffile.TiffFile(frame.path) as tif:
            kind = "float" if tif.pages[0].dtype.kind == "f" else "integer"
        return f"{bits}-bit {kind}"
    return f"{bits}-bit integer"


def format_table(info: dict) -> str:
    lines = [
        f"file        {info['path']}",
        f"size        {info['width']} x {info['height']}",
        f"channels    {' '.join(info['channels'])}",
        f"bit depth   {info['bit_depth']}",
        f"colorspace  {info['colorspace']} ({info.get('colorspace_source') or 'given'})",
    ]
    if info.get("layers"):
        lines.append("layers      " + ", ".join(f"{k} ({v} ch)" for k, v in info["layers"].items()))
    if "exr" in info:
        exr = info["exr"]
        if "compression" in exr:
            lines.append(f"compression {exr['compression']}")
        if "pixel_types" in exr:
            types = exr["pixel_types"]
            lines.append("pixel type  " + (", ".join(sorted(set(types.values()))) if isinstance(types, dict) else str(types)))
    if "video" in info:
        v = info["video"]
        lines.append(f"video       {v['frames']} frames at {v['fps']:g} fps, codec {v['codec']}")
        lines.append(_stats_of(v))
    if "sequence" in info:
        seq = info["sequence"]
        gaps = f", missing {seq['missing']}" if seq["missing"] else ""
        lines.append(f"sequence    {seq['count']} frames {seq['first']}-{seq['last']}{gaps}")
        lines.append(_stats_of(seq))
    lines.append(f"{'channel':<10}{'min':>14}{'max':>14}{'mean':>14}{'NaN':>10}{'Inf':>10}")
    for name, s in info["stats"].items():
        fmt = lambda v: "-" if v is None else f"{v:.6g}"  # noqa: E731
        lines.append(f"{name:<10}{fmt(s['min']):>14}{fmt(s['max']):>14}{fmt(s['mean']):>14}{s['nan']:>10}{s['inf']:>10}")
    lines.append(f"NaN count   {info['nan_count']}    Inf count {info['inf_count']}")
    return "\n".join(lines)


def _stats_of(summary: dict) -> str:
    sampled = summary["sampled"]
    if len(sampled) == 1:
        return f"stats of    frame {summary['stats_of']}"
    return (f"stats of    frame {summary['stats_of']}, the median brightness of frames "
            f"{', '.join(map(str, sampled))}")


def run(args) -> int:
    from core.cli.main import colorspace_values

    info = describe(args.input, colorspace_values(args)["input_colorspace"])
    text = json.dumps(info, indent=2, default=str)
    print(text if args.json else format_table(info))
    if args.output_dir:
        from pathlib import Path

        from core.io.atomic import write_text_atomic

        write_text_atomic(Path(args.output_dir) / "info.json", text + "\n", overwrite=args.force)
    return 0
