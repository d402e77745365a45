"""``reelkit degrade match SCAN --output-dir DIR``: the damage preset that makes clean footage look like a scan.

``reelkit degrade`` takes a file to damage as its first argument; ``match``
in that place routes the rest of the line to this parser instead
(:func:`install`), so ``reelkit degrade match --help`` is this command's help.
"""

from __future__ import annotations

import argparse


def build_parser(prog: str) -> argparse.ArgumentParser:
    from core.cli.main import add_colorspace_options, add_output_options

    p = argparse.ArgumentParser(
        prog=prog,
        description="Estimate core.degrade's parameters (grain, dye fade, dust, scratches, flicker, softness) from "
        "frames of a damaged scan, on statistics (grain from flat areas, speck sizes, colour densities, frame "
        "exposure, edge width), refined by CMA-ES; writes DIR/NAME.json, a preset that 'reelkit degrade --preset "
        "FILE' and 'reelkit train --degrade-preset FILE' take.",
    )
    p.add_argument("scan", help="the damaged scan: an image, a sequence pattern or a video")
    p.add_argument("--frames", help="frames of one shot to match, e.g. 1001-1012 (default: the first 8)")
    p.add_argument("--name", default="matched", help="preset name; the file is NAME.json (default matched)")
    p.add_argument("--model", help="an inverse model trained on the degrade generator (model.onnx) to start from")
    p.add_argument("--evals", type=int, default=60, help="CMA-ES renders refining the estimate (0: none; default 60)")
    p.add_argument("--seed", type=int, default=0, help="seed of the refinement (default 0)")
    add_colorspace_options(p, writes=False)
    add_output_options(p)
    p.set_defaults(func=run, command="degrade match")
    return p


def install(parser: argparse.ArgumentParser) -> None:
    """Make ``parser`` (``reelkit degrade``'s) hand a line starting with ``match`` to :func:`build_parser`'s."""
    plain = parser.parse_known_args

    def parse_known_args(args=None, namespace=None):
        if args and args[0] == "match":
            match = build_parser(f"{parser.prog} match")
            namespace, extras = match.parse_known_args(args[1:], namespace)
            if extras:
                match.error(f"unrecognized arguments: {' '.join(extras)}")
            return namespace, extras
        return plain(args, namespace)

    parser.parse_known_args = parse_known_args


def run(args) -> int:
    from core.cli.main import colorspace_values
    from core.cli.progress import progress_bar
    from core.inverse.match import match_files

    spaces = colorspace_values(args)
    with progress_bar("degrade match", quiet=args.quiet) as update:
        manifest = match_files(args.scan, output_dir=args.output_dir, frames=args.frames, name=args.name,
                               model=args.model, evals=args.evals, seed=args.seed,
                               input_colorspace=spaces.get("input_colorspace"), force=args.force, progress=update)
    if not args.quiet:
        record = next(iter(manifest.data["frames"].values()))
        print(f"matched the damage of {args.scan} -> {record['output']}")
    return 0
