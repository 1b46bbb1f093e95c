"""A bounded stdin for ``codeloci serve``: no JSON-RPC message (one line) over
:data:`MAX_MESSAGE_BYTES` is ever buffered whole.

The SDK's stdio reader accepts lines of any size. Here an oversized line is discarded as it
streams in and replaced by a call of the unlisted tool :data:`OVERSIZED_TOOL` under the original
request id, which the server answers with an error naming the cap, so the client gets an answer
and the server keeps serving. The Rust server does the same (``rust-server/src/transport.rs``).

Replies go out through :class:`DirectStdout` (written from the event loop, no worker-thread
hops) on a duplicate of fd 1, with fd 1 itself pointed at stderr so stray prints cannot
corrupt the channel.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import AsyncIterator
from typing import BinaryIO

import anyio
import anyio.to_thread

__all__ = [
    "MAX_MESSAGE_BYTES",
    "OVERSIZED_TOOL",
    "BoundedLines",
    "DirectStdout",
    "oversized_call",
    "oversized_message",
    "stdin_binary",
    "stdout_binary",
]

#: Largest JSON-RPC message (one line) ``codeloci serve`` reads over stdio: 32 MiB.
MAX_MESSAGE_BYTES = 32 * 1024 * 1024
#: The reserved tool name an oversized request is turned into.
OVERSIZED_TOOL = "codeloci.oversized"

_ID_WINDOW = 4096
_ID = re.compile(rb'"id"\s*:\s*("(?:[^"\\]|\\.){0,200}"|-?\d{1,20})')
_READ = 64 * 1024


def oversized_message(arguments: dict[str, object]) -> str:
    return (
        f"the message was {arguments.get('bytes')} bytes, over MAX_MESSAGE_BYTES "
        f"({arguments.get('limit')}); it was discarded: send smaller requests"
    )


class BoundedLines:
    """Async iterator over the text lines of ``raw`` (a binary stream), each at most
    ``max_bytes`` long; longer ones become an :data:`OVERSIZED_TOOL` call (or vanish when they
    carry no id: notifications need no answer)."""

    def __init__(self, raw: BinaryIO, max_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self._raw = raw
        self._max = max_bytes

    async def _chunks(self) -> AsyncIterator[bytes]:
        while True:
            data = await anyio.to_thread.run_sync(self._raw.read, _READ, abandon_on_cancel=True)
            if not data:
                return
            yield data

    async def __aiter__(self) -> AsyncIterator[str]:
        line = bytearray()
        skipping: tuple[int, bytes] | None = None  # bytes seen, head kept for the id
        async for data in self._chunks():
            rest = memoryview(data)
            while len(rest):
                newline = bytes(rest).find(b"\n")
                piece = bytes(rest[: newline + 1]) if newline >= 0 else bytes(rest)
                rest = rest[len(piece) :]
                if skipping is not None:
                    seen, head = skipping
                    skipping = (seen + len(piece), head)
                else:
                    line += piece
                    if len(line) - line.endswith(b"\n") > self._max:
                        skipping = (len(line), bytes(line[:_ID_WINDOW]))
                        line.clear()
                if newline >= 0:
                    if skipping is not None:
                        replacement = oversized_call(skipping[1], skipping[0] - 1, self._max)
                        skipping = None
                        if replacement is not None:
                            yield replacement
                    else:
                        yield line.decode("utf-8", errors="replace")
                        line.clear()
        if line and skipping is None:
            yield line.decode("utf-8", errors="replace")


def oversized_call(head: bytes, size: int, limit: int) -> str | None:
    """What an oversized message of ``size`` bytes becomes: an :data:`OVERSIZED_TOOL` call with
    the id found in its first bytes ``head`` (``None`` when it has none: a notification needs
    no answer)."""
    match = _ID.search(head[:_ID_WINDOW])
    if match is None:
        return None
    request = {
        "jsonrpc": "2.0",
        "id": json.loads(match.group(1)),
        "method": "tools/call",
        "params": {"name": OVERSIZED_TOOL, "arguments": {"bytes": size, "limit": limit}},
    }
    return json.dumps(request) + "\n"


def stdin_binary() -> BinaryIO:
    """An unbuffered duplicate of fd 0 (the SDK's own claim of stdin is skipped when a stream
    is passed explicitly)."""
    return os.fdopen(os.dup(0), "rb", buffering=0)


class DirectStdout:
    """The stdout the SDK's stdio server writes to, written from the event loop itself.

    The SDK's default wraps stdout in a worker thread and hops to it twice per message (write,
    then flush): ~0.5 ms of a 2 ms round trip on an idle 2-core machine, more under load. A
    response is written whole while the client waits for it, so a blocking write is short."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw

    async def write(self, text: str) -> None:
        self._raw.write(text.encode("utf-8"))

    async def flush(self) -> None:
        self._raw.flush()


def stdout_binary() -> BinaryIO:
    """The MCP channel: a duplicate of fd 1. fd 1 itself then points at stderr, so a stray
    print from any library cannot corrupt the channel."""
    channel = os.fdopen(os.dup(1), "wb", buffering=1 << 16)
    sys.stdout.flush()
    os.dup2(2, 1)
    return channel
