"""``reelkit demo``: the main job on built-in sample data."""

from __future__ import annotations


def add_parser(sub) -> None:
    from core.cli.main import add_output_options
    from core.demo import DEMO_PARAMS

    p = sub.add_parser("demo", help="run the main job on built-in sample data",
                       description="Build a short ACEScg plate from a shipped photo and run reelkit on it.")
    DEMO_PARAMS.add_arguments(p)
    add_output_options(p, default="demo_output")
    p.set_defaults(func=run)


def run(args) -> int:
    from tqdm import tqdm

    from core.demo import DEMO_PARAMS, run_demo

    bars: dict[str, tqdm] = {}

    def progress(step: str, done: int, total: int) -> None:
        if args.quiet:
            return
        bar = bars.get(step)
        if bar is None:
            bar = bars[step] = tqdm(total=total, desc=step, unit="frame", mininterval=0.5)
        bar.update(done - bar.n)
        if done == total:
            bar.close()

    summary = run_demo(args.output_dir, params=DEMO_PARAMS.from_namespace(args), force=args.force, progress=progress)
    print(f"demo done: {summary['previews']} frames {summary['frames']} -> {summary['output_dir']}")
    print(f"palette: mean ΔE00 {summary['palette_de2000']:.2f}; {summary['palette_luma']}")
    return 0
