"""``reelkit farm export JOB --chunk N --format openjd|deadline|opencue --output-dir DIR`` (core.farm)."""

from __future__ import annotations

import os
from collections.abc import Sequence


def add_parser(sub) -> None:
    from core.farm import FARM_FORMATS

    p = sub.add_parser("farm", help="farm job templates: a job cut into chunks of frames (Open Job Description, "
                       "Deadline, OpenCue)",
                       description="Write a job for a render farm manager. Every task runs the same chunked "
                       "command a person would type (reelkit infer ... --frames 1001-1010), so tasks run on any "
                       "machine that sees the same files, in any order, and a task run twice redoes nothing.")
    psub = p.add_subparsers(dest="farm_command", metavar="ACTION", required=True)
    e = psub.add_parser("export", help="write the job's template files into --output-dir",
                        description="JOB: a reelkit per-frame command line in quotes (\"infer --model film_restore "
                        "plate.####.exr --output-dir restored\") or a restore project folder (stages 2 and 4 in "
                        "chunks, the others one task each). Its inputs must exist; paths that exist here are "
                        "written absolute.")
    e.add_argument("job", help="a reelkit command line (quoted) or a restore project folder")
    e.add_argument("--chunk", type=int, default=10, help="frames per farm task (default 10)")
    e.add_argument("--format", required=True, choices=list(FARM_FORMATS),
                   help="openjd: job.template.json; deadline: job info + plugin info per step and "
                   "submit_deadline.sh; opencue: job.cue.xml")
    e.add_argument("--stages", help="a restore project's stages (default: the command line's, else 1-5)")
    e.add_argument("--output-dir", "-o", required=True, help="folder to write the job's files into (created)")
    e.add_argument("--force", action="store_true", help="replace the job files already in --output-dir")
    e.set_defaults(func=run_export)


def plan_job(job: str | Sequence[str], *, chunk: int, stages: str | None = None,
             cwd: str | os.PathLike | None = None):
    """JOB as ``reelkit farm export`` reads it: a restore project folder, or a reelkit command line (a string or
    its arguments, ``reelkit`` first or not) parsed by the real parser; returns a :class:`core.farm.FarmJob`.
    Nothing is written; a bad command line, chunk or input raises one line."""
    import contextlib
    import io
    import shlex
    from pathlib import Path

    from core.cli.main import build_parser
    from core.errors import ParameterError
    from core.farm import absolute_paths, check_chunk, frame_job, restore_job

    check_chunk(chunk)
    here = Path(cwd or os.getcwd())
    argv = shlex.split(job) if isinstance(job, str) else list(job)
    if argv and Path(argv[0]).name == "reelkit":
        argv = argv[1:]
    if not argv:
        raise ParameterError("farm export: JOB is empty; give a reelkit command line or a restore project folder")
    if len(argv) == 1 and (here / argv[0] / "project.json").is_file():
        argv = ["restore", "run", argv[0]]
    argv = absolute_paths(argv, here)
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said), contextlib.redirect_stdout(said):
            args = build_parser().parse_args(argv)
    except SystemExit:
        why = (said.getvalue().strip().splitlines() or [""])[-1]
        raise ParameterError(f"farm export: `reelkit {shlex.join(argv)}` is not a reelkit command line "
                             f"({why or 'see reelkit --help'})") from None
    if args.command == "restore":
        if getattr(args, "restore_command", None) != "run":
            raise ParameterError("farm export: of the restore actions only `restore run PROJECT` runs on a farm")
        return restore_job(args.project, stages=stages or args.stages, chunk=chunk)
    if stages is not None:
        raise ParameterError("farm export: --stages is for a restore project")
    command = " ".join(argv[:2]) if args.command == "palette" else args.command
    source = getattr(args, "input", None) or getattr(args, "source", None)
    if not hasattr(args, "frames") or not source:
        raise ParameterError(f"farm export: reelkit {command} has no --frames; a farm job is a per-frame command "
                             "(convert, degrade, align, infer, palette encode/decode, ...) or a restore project")
    if "--frames" in argv:
        i = argv.index("--frames")
        del argv[i:i + 2]
    return frame_job(argv, command=command, source=source, frames=args.frames, chunk=chunk)


def run_export(args) -> int:
    from core.farm import export_farm_job

    job = plan_job(args.job, chunk=args.chunk, stages=args.stages)
    files = export_farm_job(job, format=args.format, output_dir=args.output_dir, force=args.force)
    tasks = job.tasks()
    print(f"{job.name}: {len(job.steps)} step(s), {len(tasks)} task(s) of up to {job.chunk} frames -> "
          + ", ".join(str(f) for f in files))
    return 0
