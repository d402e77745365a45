"""``reelkit dataset run FOOTAGE... --output-dir DIR`` and ``reelkit dataset status DIR``."""

from __future__ import annotations


def add_parser(sub) -> None:
    from core.cli.main import add_output_options
    from core.dataset.params import DATASET_PARAMS, STAGES

    p = sub.add_parser("dataset", help="build a training set from footage: shots, frames, dedup, clusters, captions")
    dsub = p.add_subparsers(dest="dataset_command", metavar="ACTION", required=True)
    r = dsub.add_parser(
        "run",
        help="run the dataset stages (each skipped when up to date)",
        description="Detect shots, extract frames, reject bad ones, embed, deduplicate, cluster, caption and "
        "assemble a training set with a train/val split by shot. Each stage resumes; changing one "
        "stage's options redoes that stage and the ones after it only. Review decisions in "
        "DIR/review/decisions.json are applied to the captions and the assembly.",
    )
    r.add_argument("footage", nargs="+", help="video files (anything OpenCV reads: mp4, mov, avi, mkv...)")
    r.add_argument("--stages", help=f"comma-separated stages to run (default all): {','.join(STAGES)}")
    DATASET_PARAMS.add_arguments(r)
    add_output_options(r, scheduler=True)
    r.set_defaults(func=run)
    s = dsub.add_parser("status", help="what each stage of a dataset folder did, and whether it is stale")
    s.add_argument("output_dir", metavar="DIR", help="a folder written by 'reelkit dataset run'")
    s.set_defaults(func=status)


def run(args) -> int:
    import contextlib

    from core.cli.main import colorspace_values
    from core.cli.progress import progress_bar
    from core.dataset import DATASET_PARAMS, run_dataset

    colorspace_values(args)  # a bad --input-colorspace is named as the option, before anything runs
    given = DATASET_PARAMS.given(args)
    stages = args.stages.split(",") if args.stages else None
    with contextlib.ExitStack() as stack:
        bars: dict[str, object] = {}

        def update(stage: str, done: int, total: int, item=None) -> None:  # core.jobs.StageProgressFn
            if stage not in bars:
                for old in list(bars):
                    bars.pop(old)
                    stack.close()
                bars[stage] = stack.enter_context(progress_bar(stage, quiet=args.quiet))
            bars[stage](done, total)  # type: ignore[operator]

        summary = run_dataset(args.footage, args.output_dir, given, stages=stages, force=args.force,
                              progress=update)
    if not args.quiet:
        for stage, info in summary.items():
            counts = _counts({k: v for k, v in info.items() if k not in ("status", "config_hash")})
            print(f"{stage:9s} {info['status']:10s} {counts}")
        if "assemble" in summary:
            print(f"-> {args.output_dir}/dataset (report: {args.output_dir}/dataset/report/report.md)")
    return 0


def status(args) -> int:
    from core.dataset import dataset_status

    for row in dataset_status(args.output_dir):
        extra = _counts({k: v for k, v in row.items()
                         if k not in ("stage", "status", "reason", "config_hash", "finished")})
        why = f" ({row['reason']})" if row.get("reason") else ""
        print(f"{row['stage']:9s} {row['status']:8s} {row.get('config_hash', ''):12s} {extra}{why}".rstrip())
    return 0


def _counts(counts: dict) -> str:
    """``frames 15, kept 11, rejected 4, reasons (blur 4, underexposed 2)``: a stage's counts on one line."""
    return ", ".join((f"{k} ({_counts(v)})" if v else f"{k} none") if isinstance(v, dict) else f"{k} {v}"
                     for k, v in counts.items())
