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
    from core.io.describe import describe

    info = describe(args.input, colorspace_values(args)["input_colorspace"])
    text = json.dumps(info, indent=2, default=str)
    print(text if args.json else format_table(info))
    if args.output_dir:
        from pathlib import Path

        from core.io.atomic import write_text_atomic

        write_text_atomic(Path(args.output_dir) / "info.json", text + "\n", overwrite=args.force)
    return 0
