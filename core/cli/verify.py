"""``reelkit verify DIR``: re-hash every file the manifests under DIR record; one line per mismatch."""

from __future__ import annotations

import sys


def add_parser(sub) -> None:
    p = sub.add_parser(
        "verify",
        help="check that the files a job read and wrote still hold what its manifest records",
        description="Re-hash every input and output recorded by the manifests (manifest*.json) in a folder "
        "and its sub-folders; print one line per missing, truncated or changed file. Exit status 1 when any.",
    )
    p.add_argument("folder", help="an output folder (a command's --output-dir, a dataset or project folder)")
    p.add_argument("--quiet", "-q", action="store_true", help="print mismatches only")
    p.set_defaults(func=run)


def run(args) -> int:
    from core.manifest import verify_folder

    checked, problems = verify_folder(args.folder)
    for line in problems:
        print(line)
    if not args.quiet:
        print(f"{checked} file(s) checked, {len(problems)} mismatch(es)", file=sys.stderr)
    return 1 if problems else 0
