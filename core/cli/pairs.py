"""``reelkit pairs build --source S --reference R --output-dir DIR``: stage 1 pair curation."""

from __future__ import annotations


def add_parser(sub) -> None:
    from core.cli.main import add_colorspace_options, add_output_options
    from core.pipeline import PAIRS_PARAMS

    p = sub.add_parser("pairs", help="match a degraded scan to a reference transfer and pick training pairs")
    psub = p.add_subparsers(dest="pairs_command", metavar="ACTION", required=True)
    b = psub.add_parser(
        "build",
        help="match frames by content and write pairs.json",
        description="Find which reference frame shows each source frame (offset, frame rate, dropped and "
        "duplicated frames), with a confidence per pair, and select diverse training pairs per shot. "
        "Edit 'overrides' in pairs.json and run again to force or exclude matches.",
    )
    b.add_argument("--source", required=True, help="degraded scan: sequence pattern, one file of it, or a video")
    b.add_argument("--reference", required=True, help="reference: sequence pattern, one file of it, or a video")
    PAIRS_PARAMS.add_arguments(b)
    add_colorspace_options(b, writes=False, reference=True)
    add_output_options(b)
    b.set_defaults(func=run_build)


def run_build(args) -> int:
    import sys

    from core.cli.main import colorspace_values
    from core.cli.progress import progress_bar
    from core.pipeline import PAIRS_PARAMS, build_pairs

    given = PAIRS_PARAMS.given(args)
    with progress_bar("reading frames", quiet=args.quiet) as update:
        pairs = build_pairs(args.source, args.reference, output_dir=args.output_dir, params=given,
                            force=args.force, progress=update, **colorspace_values(args))
    if pairs.status != "ok":
        print(f"reelkit pairs build: warning: {pairs.status}: {pairs.message}", file=sys.stderr)
    if not args.quiet:
        counts = ", ".join(f"{len(pairs.by_status(s))} {s}" for s in ("matched", "duplicate", "dropped",
                                                                        "low_confidence", "override")
                           if pairs.by_status(s))
        damaged = pairs.summary.get("damaged", 0)
        print(f"{counts or 'no frames matched'}{f' ({damaged} damaged)' if damaged else ''}; "
              f"{len(pairs.selected_pairs())} training pairs selected "
              f"({pairs.summary.get('selected_damaged', 0)} damaged) -> {args.output_dir}/pairs.json")
    return 0
