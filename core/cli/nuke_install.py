"""``reelkit nuke install [--target DIR] [--force]``: put the Nuke plug-in folder where Nuke finds it."""

from __future__ import annotations

import sys


def add_parser(sub) -> None:
    from core.resources import DEFAULT_NUKE_TARGET

    p = sub.add_parser(
        "nuke",
        help="install the Nuke plug-in files (init.py, menu.py, gizmos) for Nuke 15 (Python 3.10) / 16 (3.11)",
        description="Copy reelkit's Nuke plug-in files into a folder and print the line that puts it on "
        "Nuke's plug-in path. Nuke's own Python must also import reelkit: install this wheel into it.",
    )
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    v = verbs.add_parser("install", help="copy init.py, menu.py and gizmos/ into a folder Nuke reads",
                         description="Copy init.py, menu.py and gizmos/ into --target (other files there are "
                         "left alone); refuses to replace them without --force.")
    v.add_argument("--target", default=str(DEFAULT_NUKE_TARGET),
                   help=f"folder to install into (created if missing; default {DEFAULT_NUKE_TARGET})")
    v.add_argument("--force", action="store_true", help="replace init.py, menu.py and gizmos/ already there")
    v.set_defaults(func=run_install)


def run_install(args) -> int:
    from core.resources import install_nuke_plugin, nuke_path_line, python_note

    folder = install_nuke_plugin(args.target, force=args.force)
    print(f"installed the reelkit Nuke plug-in in {folder}")
    print(f"add this line to ~/.nuke/init.py (or put {folder} on NUKE_PATH):")
    print(nuke_path_line(folder))
    print(f"Nuke's Python must import reelkit too: this one runs in {python_note()}; Nuke 15 runs Python 3.10, "
          "Nuke 16 Python 3.11", file=sys.stderr)
    return 0
