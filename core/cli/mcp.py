"""``reelkit mcp --root DIR [--root DIR2] [--http PORT]``: serve reelkit's tools to an assistant over MCP (stdio,
or streamable HTTP on 127.0.0.1)."""

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
    p.add_argument("--http", type=int, metavar="PORT",
                   help="serve streamable HTTP at http://127.0.0.1:PORT/mcp (this machine only) instead of stdio")
    p.set_defaults(func=run)


def run(args) -> int:
    from core.agent.server import serve, serve_http
    from core.errors import ParameterError

    if args.http is None:
        serve(args.root, confirm_frames=args.confirm_frames)
    elif not 1 <= args.http <= 65535:
        raise ParameterError(f"--http {args.http}: expected a port number 1..65535")
    else:
        serve_http(args.root, args.http, confirm_frames=args.confirm_frames)
    return 0
