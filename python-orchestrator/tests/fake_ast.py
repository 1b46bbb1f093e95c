"""A stand-in for codeloci-ast used by the bridge tests: tools ``echo``, ``slow``, ``crash``.

``slow`` reports progress then sleeps until cancelled (writing ``cancelled`` to the file named
by ``--marker PATH`` when it is); ``crash`` exits the process at once. Runs on the SDK's
low-level server over stdio.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import anyio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

OBJ: dict[str, Any] = {"type": "object", "properties": {"x": {"type": "integer"}}}


def _arg(flag: str) -> str | None:
    argv = sys.argv[1:]
    return argv[argv.index(flag) + 1] if flag in argv else None


async def list_tools(ctx: ServerRequestContext[Any, Any], params: Any) -> types.ListToolsResult:
    names = ["echo", "slow", "crash"]
    return types.ListToolsResult(
        tools=[types.Tool(name=n, description=f"fake {n}", input_schema=OBJ) for n in names]
    )


async def call_tool(
    ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
) -> types.CallToolResult:
    args = params.arguments or {}
    if params.name == "echo":
        return types.CallToolResult(
            content=[types.TextContent(type="text", text="echo")],
            structured_content={"args": args, "argv": sys.argv[1:], "pid": os.getpid()},
        )
    if params.name == "crash":
        os._exit(3)
    if params.name == "slow":
        await ctx.session.report_progress(1, 10, "started")
        try:
            await anyio.sleep(3600)
        except anyio.get_cancelled_exc_class():
            marker = _arg("--marker")
            if marker:
                with open(marker, "w") as fh:
                    fh.write("cancelled")
            raise
    raise ValueError(f"unknown tool {params.name}")


async def main() -> None:
    server = Server("fake-ast", version="0.0.1", on_list_tools=list_tools, on_call_tool=call_tool)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


if __name__ == "__main__":
    anyio.run(main)
