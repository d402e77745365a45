"""``reelkit convert IN [OUT] --from ACEScg --to srgb``: files and sequences."""

from __future__ import annotations

import os


def add_parser(sub) -> None:
    from core.cli.main import add_colorspace_options, add_output_options
    from core.convert import CONVERT_PARAMS

    p = sub.add_parser(
        "convert",
        help="convert images or sequences between colour spaces and formats",
        description="Convert a file, an image sequence (plate.####.exr, plate.%%04d.exr) or a video's frames "
        "(clip.mov frames.####.exr --to ACEScg extracts them, numbered from 0) "
        "between colour spaces; the output format follows the output extension.",
    )
    p.add_argument("input", help="input file, sequence pattern or video (frames numbered from 0)")
    p.add_argument("output", nargs="?", help="output file name or pattern inside --output-dir "
                   "(default: the input's name)")
    CONVERT_PARAMS.add_arguments(p, skip=("source",))  # the input's space is --input-colorspace (alias --from)
    add_colorspace_options(p, writes=False)
    p.add_argument("--from", dest="input_colorspace", default=None, help="same as --input-colorspace")
    add_output_options(p, scheduler=True, frames=True)
    p.set_defaults(func=run)


def run(args) -> int:
    from core.cli.main import colorspace_values
    from core.cli.progress import progress_bar
    from core.convert import CONVERT_PARAMS, convert

    params = CONVERT_PARAMS.from_namespace(args)
    params["source"] = colorspace_values(args)["input_colorspace"] or "auto"
    output = args.output or os.path.basename(args.input)
    with progress_bar("convert", quiet=args.quiet) as update:
        manifest = convert(args.input, output, output_dir=args.output_dir, params=params,
                           frames=args.frames, force=args.force, progress=update)
    frames = manifest.data["frames"]
    resumed = sum(1 for r in frames.values() if r.get("resumed"))
    if not args.quiet:
        print(f"converted {len(frames) - resumed} frame(s), {resumed} already done -> {manifest.output_dir}")
    return 0
