"""``reelkit align --source S --reference R --output-dir DIR [--frames A-B]``."""

from __future__ import annotations


def add_parser(sub) -> None:
    from core.align import ALIGN_FILE_PARAMS
    from core.cli.main import add_colorspace_options, add_output_options

    p = sub.add_parser(
        "align",
        help="align a reference (DVD, telecine, other print) to a degraded source, pixel by pixel",
        description="Global (phase correlation + ECC) then local (optical flow) alignment of each reference "
        "frame onto the source frame of the same number. Writes aligned/ref.####.exr, mask/, residual/, "
        "report/ PNGs and report.csv. A frame that cannot be aligned is reported, not guessed.",
    )
    p.add_argument("--source", required=True, help="degraded source: file, sequence pattern or video (frames numbered from 0)")
    p.add_argument("--reference", required=True, help="reference: file, sequence pattern or video (frames numbered from 0)")
    ALIGN_FILE_PARAMS.add_arguments(p)
    add_colorspace_options(p, writes=False, reference=True)
    add_output_options(p, scheduler=True, frames=True)
    p.set_defaults(func=run)


def run(args) -> int:
    import sys

    from core.align import ALIGN_FILE_PARAMS, align_files
    from core.cli.main import colorspace_values
    from core.cli.progress import progress_bar

    given = ALIGN_FILE_PARAMS.given(args)
    with progress_bar("align", quiet=args.quiet) as update:
        manifest = align_files(args.source, args.reference, output_dir=args.output_dir, params=given,
                               frames=args.frames, force=args.force, progress=update, **colorspace_values(args))
    frames = manifest.data["frames"]
    failed = {k: r.get("reason") for k, r in frames.items() if r.get("converged") is False}
    for key, reason in sorted(failed.items()):
        print(f"reelkit align: warning: frame {key} not aligned: {reason}", file=sys.stderr)
    if not args.quiet:
        print(f"aligned {len(frames) - len(failed)} of {len(frames)} frame(s) -> {manifest.output_dir}")
    return 0
