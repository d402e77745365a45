"""``reelkit demo``: the five-stage restoration on footage made from the shipped sample photos."""

from __future__ import annotations


def add_parser(sub) -> None:
    from core.cli.main import add_output_options
    from core.demo import DEMO_PARAMS

    p = sub.add_parser("demo", help="restore a short film made from the sample photos: all five stages on CPU",
                       description="Make a short film from the shipped photos (an aged scan and a graded, "
                       "renumbered telecine of it), then run the whole restoration pipeline on it: frame "
                       "matching, alignment, a short fine-tune, the restored render and the validation report "
                       "(ML against the classic baselines).")
    DEMO_PARAMS.add_arguments(p)
    add_output_options(p, default="demo_output")
    p.set_defaults(func=run)


def run(args) -> int:
    import time

    from tqdm import tqdm

    from core.demo import DEMO_PARAMS, run_demo

    bars: dict[str, tqdm] = {}

    def progress(step: str, done: int, total: int, info: str) -> None:
        if args.quiet:
            return
        bar = bars.get(step)
        if bar is None:
            for other in bars.values():
                other.close()
            bar = bars[step] = tqdm(total=total or None, desc=step, dynamic_ncols=True, mininterval=0.5)
        if total and bar.total != total:
            bar.total = total
        if info:
            bar.set_postfix_str(info, refresh=False)
        bar.update(done - bar.n)

    if not args.quiet:
        from core.demo import estimate_seconds
        from core.threads import job_threads

        free = job_threads()
        default = DEMO_PARAMS.from_namespace(args) == DEMO_PARAMS.defaults()
        print(f"reelkit demo: about {estimate_seconds(free) / 60:.1f} min with {free} free core(s)"
              f"{'' if default else ' for the default settings'} (2.5 min on 2 quiet cores); "
              f"cap the cores it takes with: reelkit --threads N demo")
    t0 = time.perf_counter()
    try:
        summary = run_demo(args.output_dir, params=DEMO_PARAMS.from_namespace(args), force=args.force,
                           progress=progress)
    finally:
        for bar in bars.values():
            bar.close()
    for line in summary["stages"]:
        print(line)
    if summary.get("table"):
        print(summary["table"])
    print(f"demo done in {time.perf_counter() - t0:.0f} s; report: {summary['report']}")
    return 0
