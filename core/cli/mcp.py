"""``reelkit mcp --root DIR [--root DIR2]``: serve reelkit's tools to an assistant over MCP (stdio)."""

from __future__ import annotations


def add_parser(sub) -> None:
    from core.agent.service import CONFIRM_FRAMES

    p = sub.add_parser(
        "mcp",
        help="serve reelkit's tools to an AI assistant over the Model Context Protocol (stdio)",
        description="Start an MCP server on stdin/stdout: typed tools generated from the same parameter specs as "
        "the CLI, each call planned before it runs, destructive or long calls confirmed with the plan's token, "
        "every action journaled with exact undo/redo. Nothing outside the --root folders is read or written. "
        "Needs the 'mcp' extra (docs/agent.md).",
    )
    p.add_argument("--root", action="append", required=True, metavar="DIR",
                   help="a folder the server may read and write (repeat for more); relative paths start in the "
                   "first, which also holds the journal (.reelkit/journal.jsonl)")
    p.add_argument("--confirm-frames", type=int, default=CONFIRM_FRAMES, metavar="N",
                   help=f"calls making more than N frames need the plan's token (default {CONFIRM_FRAMES})")
    p.set_defaults(func=run)


def run(args) -> int:
    from core.agent.server import serve

    serve(args.root, confirm_frames=args.confirm_frames)
    return 0
