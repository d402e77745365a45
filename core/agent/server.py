"""``reelkit mcp``: the :class:`~core.agent.service.Agent` served over the Model Context Protocol (stdio, or
streamable HTTP on 127.0.0.1 with ``--http PORT``).

Written against the MCP Python SDK 1.x low-level server (``mcp>=1.30,<2``,
the ``mcp`` extra): tools are listed with the input schemas the agent
derives from the parameter specs; the SDK's own schema check is off, so
every fault comes back from the agent as a tool error whose structured
content is ``{"error": {"type", "code", "field", "message"}}``. Resources:
``reelkit://restore/<project>`` and ``reelkit://dataset/<folder>`` (paths
relative to the first root, or absolute inside a root) read as JSON.

stdout carries the protocol only: the process's own stdout (Python's and
the C libraries') is pointed at stderr while the server runs.

Over HTTP (:func:`serve_http`) the endpoint is ``http://127.0.0.1:PORT/mcp``
(the SDK's streamable HTTP session manager): the socket is bound to the
loopback interface only, and requests whose ``Host`` or ``Origin`` header
names another host are refused (DNS rebinding), so only programs on this
machine reach it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

from core import __version__
from core.agent.schema import FieldError
from core.agent.service import CONFIRM_FRAMES, Agent, HostTool
from core.errors import ReelkitError, require

RESOURCE_KINDS = {"restore": "a restoration project's five stages (state, reason, counts, headline)",
                  "dataset": "a dataset folder's stages (status, staleness, counts)"}


def error_dict(exc: BaseException) -> dict[str, Any]:
    """The structured error of a failed call: a :class:`FieldError` names its field; other reelkit and OS
    errors have ``field`` ``None``."""
    if isinstance(exc, FieldError):
        return exc.to_dict()
    return {"type": type(exc).__name__, "code": "failed", "field": None, "message": str(exc)}


def build_server(agent: Agent):
    """An MCP low-level ``Server`` over ``agent``."""
    require("mcp", "mcp")
    import anyio
    import mcp.types as types
    from mcp.server.lowlevel import Server

    server = Server("reelkit", version=__version__,
                    instructions="reelkit tools: every writing tool returns a plan first (plan_only defaults to "
                    "true); run it with plan_only=false, and confirm=<the plan's token> when the plan says "
                    "needs_confirm. undo/redo revert or re-apply journaled actions.")

    @server.list_tools()
    async def list_tools() -> list[types.Tool]:
        return [types.Tool(**t) for t in agent.tool_list()]

    @server.call_tool(validate_input=False)
    async def call_tool(name: str, arguments: dict[str, Any]):
        try:
            result = await anyio.to_thread.run_sync(agent.call, name, arguments)
        except (ReelkitError, OSError) as exc:
            err = {"error": error_dict(exc)}
            return types.CallToolResult(content=[types.TextContent(type="text", text=json.dumps(err))],
                                        structuredContent=err, isError=True)
        return json.loads(json.dumps(result, default=str))

    @server.list_resource_templates()
    async def list_templates() -> list[types.ResourceTemplate]:
        return [types.ResourceTemplate(uriTemplate=f"reelkit://{kind}/{{path}}", name=f"{kind} status",
                                       description=text, mimeType="application/json")
                for kind, text in RESOURCE_KINDS.items()]

    @server.read_resource()
    async def read_resource(uri) -> str:
        kind = uri.host or ""
        path = unquote((uri.path or "").lstrip("/")) or "."
        data = await anyio.to_thread.run_sync(agent.resource, kind, path)
        return json.dumps(data, indent=2, default=str)

    return server


#: The one address the HTTP transport listens on, and its endpoint's path.
HOST = "127.0.0.1"
ENDPOINT = "/mcp"


def serve_http(roots: Iterable[str | os.PathLike], port: int, *, confirm_frames: int = CONFIRM_FRAMES,
               host_tools: Iterable[HostTool] = ()) -> None:
    """Serve over streamable HTTP at ``http://127.0.0.1:PORT/mcp`` until interrupted (Ctrl-C, SIGTERM); in
    a host application (Nuke: :mod:`nuke_plugin.agent`) with its ``host_tools`` too."""
    import contextlib

    agent = Agent(roots, confirm_frames=confirm_frames, host_tools=host_tools)
    server = build_server(agent)
    import uvicorn
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
    from mcp.server.transport_security import TransportSecuritySettings
    from starlette.applications import Starlette
    from starlette.routing import Route

    local = [f"{h}:{port}" for h in (HOST, "localhost")]
    manager = StreamableHTTPSessionManager(server, security_settings=TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=local, allowed_origins=[f"http://{h}" for h in local]))

    class Endpoint:
        """The session manager as an ASGI app (a class: Starlette takes a plain function for a request handler)."""

        async def __call__(self, scope, receive, send) -> None:
            await manager.handle_request(scope, receive, send)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        async with manager.run():
            print(f"reelkit mcp: serving {', '.join(map(str, agent.roots.roots))} on http://{HOST}:{port}{ENDPOINT}",
                  file=sys.stderr, flush=True)
            yield

    app = Starlette(routes=[Route(ENDPOINT, Endpoint(), methods=["GET", "POST", "DELETE"])], lifespan=lifespan)
    uvicorn.run(app, host=HOST, port=int(port), log_level="warning", lifespan="on")


def serve(roots: Iterable[str | os.PathLike], *, confirm_frames: int = CONFIRM_FRAMES) -> None:
    """Serve over stdio until the client closes the stream."""
    agent = Agent(roots, confirm_frames=confirm_frames)
    server = build_server(agent)
    import io

    import anyio
    from mcp.server.stdio import stdio_server

    protocol = io.TextIOWrapper(os.fdopen(os.dup(sys.stdout.fileno()), "wb"), encoding="utf-8")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a print or a C library's output cannot break the protocol
    sys.stdout = sys.stderr

    async def main() -> None:
        async with stdio_server(stdout=anyio.wrap_file(protocol)) as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(main)
