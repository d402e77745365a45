"""``reelkit validate --source S --reference R --candidate ml=ML --output-dir DIR``: baselines, metrics, report."""

from __future__ import annotations


def add_parser(sub) -> None:
    from core.cli.main import add_colorspace_options, add_output_options
    from core.validate import VALIDATE_PARAMS

    p = sub.add_parser(
        "validate",
        help="compare restorations with the reference: classic baselines, PSNR/SSIM/ΔE2000/flicker, HTML report",
        description="Fit the grade baselines (3x3 matrix, root-polynomial, 3D LUT exported as .cube), run the "
        "classic filters (dust busting, denoise, unsharp), measure the source, every baseline and every "
        "candidate against the reference on valid pixels, per frame and per shot, and write metrics.csv, "
        "metrics.json, report.html and manifest.json. Frames pair by number.",
    )
    p.add_argument("--source", required=True, help="degraded source: file or sequence pattern")
    p.add_argument("--reference", required=True, help="reference aligned to the source: file or sequence pattern")
    p.add_argument("--candidate", action="append", metavar="NAME=PATTERN",
                   help="a result to validate, e.g. ml=render/ml.####.exr (repeat for several)")
    p.add_argument("--mask", help="validity masks (first channel > 0.5 = valid): file or sequence pattern")
    p.add_argument("--frames", help="frame range of the source, e.g. 1001-1100")
    p.add_argument("--shot", action="append", metavar="NAME=RANGE",
                   help="a shot for per-shot tables, e.g. opening=1001-1048 (repeat; default: one shot)")
    p.add_argument("--damaged", help="damaged source frames, also scored on their own (e.g. 1012,1040-1042)")
    p.add_argument("--fit-source", help="training pairs' sources to fit the grades on (default: the validated "
                   "frames, which the report flags as optimistic)")
    p.add_argument("--fit-reference", help="training pairs' references (with --fit-source)")
    p.add_argument("--fit-mask", help="training pairs' validity masks")
    p.add_argument("--fit-range", help="frame range of the training pairs to draw --fit-frames from")
    p.add_argument("--experiments", metavar="NOTES_MD",
                   help="append this run to a notes/experiments.md and show its entries in the report")
    p.add_argument("--title", default="reelkit validation", help="report title")
    VALIDATE_PARAMS.add_arguments(p.add_argument_group("validation"))
    add_colorspace_options(p, writes=False, reference=True)
    add_output_options(p, scheduler=True)
    p.set_defaults(func=run)


def run(args) -> int:
    from core.cli.main import colorspace_values
    from core.cli.progress import progress_bar
    from core.validate import VALIDATE_PARAMS, run_validation
    from core.validate.params import named_values

    params = VALIDATE_PARAMS.from_namespace(args)
    shots = named_values(args.shot, "--shot") or None
    with progress_bar("validate", quiet=args.quiet) as update:
        result = run_validation(sources=args.source, references=args.reference,
                                candidates=named_values(args.candidate, "--candidate"), masks=args.mask,
                                output_dir=args.output_dir, frames=args.frames, shots=shots,
                                damaged=args.damaged, params=params,
                                fit_sources=args.fit_source, fit_references=args.fit_reference,
                                fit_masks=args.fit_mask, fit_frames=args.fit_range, title=args.title,
                                experiments=args.experiments,
                                log_experiment=bool(args.experiments), force=args.force, progress=update,
                                **colorspace_values(args))
    if not args.quiet:
        print(result.headline)
        print(result.table())
        print(f"report: {result.report}")
    return 0
