"""``reelkit restore init|run|status PROJECT``: the five-stage restoration project (core.pipeline.project)."""

from __future__ import annotations


def add_parser(sub) -> None:
    from core.cli.main import add_colorspace_options
    from core.pipeline.project import INIT_PARAMS, RUN_PARAMS

    p = sub.add_parser("restore", help="the five-stage restoration project: init, run, status",
                       description="Create a restoration project (degraded source + reference), run its five "
                       "stages (curation, alignment, training, inference, validation) and see where it stands.")
    psub = p.add_subparsers(dest="restore_command", metavar="ACTION", required=True)

    i = psub.add_parser("init", help="create PROJECT/project.json and the stage folders",
                        description="Create a project folder: project.json (inputs, seed, every stage's "
                        "parameters; edit it to change them), pipeline/01_dataset_curation ... 05_validation "
                        "and notes/experiments.md.")
    i.add_argument("project", help="project folder (created)")
    i.add_argument("--source", required=True, help="degraded scan: sequence pattern (scan.####.exr), one file of it, "
                   "or a video (frames numbered from 0)")
    i.add_argument("--reference", required=True, help="reference transfer: sequence pattern, one file of it, or a video")
    INIT_PARAMS.add_arguments(i)
    i.add_argument("--force", action="store_true", help="replace an existing project.json (stage folders stay)")
    add_colorspace_options(i, writes=False, reference=True)
    i.set_defaults(func=run_init)

    r = psub.add_parser("run", help="run the stages in order, skipping those done",
                        description="Run stages in order. Done stages are skipped, failed or interrupted ones "
                        "resume, stale ones (parameters or inputs changed) are redone.")
    r.add_argument("project", help="project folder")
    RUN_PARAMS.add_arguments(r)
    r.add_argument("--force", action="store_true", help="redo the chosen stages even when done")
    r.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    r.set_defaults(func=run_run)

    s = psub.add_parser("status", help="per stage: not started, done, stale or failed, with counts")
    s.add_argument("project", help="project folder")
    s.add_argument("--json", action="store_true", help="print JSON instead of one line per stage")
    s.set_defaults(func=run_status)


def run_init(args) -> int:
    from core.cli.main import colorspace_values
    from core.pipeline.project import INIT_PARAMS, init_project

    values = INIT_PARAMS.from_namespace(args)
    params = {"training": {"steps": values["steps"]}} if values["steps"] is not None else None
    project = init_project(args.project, source=args.source, reference=args.reference, seed=values["seed"],
                           params=params, force=args.force, **colorspace_values(args))
    print(f"project {project.path}: source {project.source}, reference {project.reference}; "
          f"next: reelkit restore run {args.project}")
    return 0


class _Bars:
    """One tqdm bar per stage on stderr."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.bar = None
        self.stage = None

    def __call__(self, stage: int, done: int, total: int, info: str) -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        from core.pipeline.project import STAGES

        if stage != self.stage:
            self.close()
            self.stage = stage
            s = STAGES[stage - 1]
            self.bar = tqdm(total=total or None, desc=f"{stage} {s.title}", dynamic_ncols=True, mininterval=0.5)
        if total and self.bar.total != total:
            self.bar.total = total
        if info:
            self.bar.set_postfix_str(info, refresh=False)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def run_run(args) -> int:
    from core.errors import ParameterError
    from core.pipeline.project import RUN_PARAMS, parse_stages, run_project, set_render_method

    values = RUN_PARAMS.from_namespace(args)
    if values["method"] is not None:
        if 4 not in parse_stages(values["stages"]):
            raise ParameterError(f"--method sets what stage 4 renders: include stage 4 in --stages "
                                 f"(got {values['stages']})")
        method = set_render_method(args.project, values["method"])
        if not args.quiet:
            print(f"stage 4 renders: {method}")
    bars = _Bars(args.quiet)
    try:
        status = run_project(args.project, values["stages"], force=args.force, frames=values["frames"],
                             progress=bars)
    finally:
        bars.close()
    if not args.quiet:
        for st in status:
            print(st.line())
    return 0


def run_status(args) -> int:
    import json

    from core.pipeline.project import project_status

    status = project_status(args.project)
    if args.json:
        print(json.dumps([s.to_dict() for s in status], indent=2))
    else:
        for st in status:
            print(st.line())
    return 0
