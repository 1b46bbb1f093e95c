"""kill -9 of ``codeloci serve`` in the middle of memory writes: after a restart every
acknowledged write is there exactly once, and an update is either fully there or not at all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import child_pids, serve, serve_args

pytestmark = pytest.mark.anyio

BASE = 10  # memories stored (and acknowledged) before the crash run
PIPELINED = 300  # stores and updates sent at once in the crash run
KILL_AFTER = 5  # acknowledgements received before kill -9


class RawServer:
    """``codeloci serve`` over stdio with requests pipelined by hand (an SDK client waits)."""

    def __init__(self, data: Path, project: Path, rust: list[str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, *serve_args(data, project, rust)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=project,
            env={**os.environ, "CODELOCI_GATE_ENABLED": "0"},
        )
        self.send(
            {
                "id": 0,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "crash-test", "version": "0"},
                },
            }
        )
        assert "result" in self.answer()
        self.send({"method": "notifications/initialized"})

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin
        self.proc.stdin.write(json.dumps({"jsonrpc": "2.0", **message}).encode() + b"\n")
        self.proc.stdin.flush()

    def call(self, id_: int, tool: str, arguments: dict[str, Any]) -> None:
        self.send(
            {"id": id_, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
        )

    def answer(self) -> dict[str, Any]:
        assert self.proc.stdout
        while True:
            line = self.proc.stdout.readline()
            assert line, "the server closed stdout"
            message: dict[str, Any] = json.loads(line)
            if "id" in message:
                return message


def _ack(message: dict[str, Any]) -> dict[str, Any]:
    result = message["result"]
    assert not result.get("isError"), result
    content: dict[str, Any] = result["structuredContent"]
    return content


async def test_kill_9_mid_store_keeps_every_acknowledged_write_once(
    tmp_path: Path, rust_server: list[str]
) -> None:
    project = tmp_path / "repo"
    project.mkdir()
    data = tmp_path / "data"
    server = RawServer(data, project, rust_server)
    try:
        base_ids: list[str] = []
        for i in range(BASE):
            server.call(
                i + 1, "memory_store", {"content": f"base {i} v1", "level": "PROJECT_CONTEXT"}
            )
            base_ids.append(_ack(server.answer())["id"])
        # Pipeline stores and updates of the base memories, then kill -9 mid-stream.
        sent: dict[int, tuple[str, int]] = {}
        for n in range(PIPELINED):
            id_ = 100 + n
            if n % 4 == 3:
                target = (n // 4) % BASE
                server.call(
                    id_, "memory_update", {"id": base_ids[target], "content": f"base {target} v2"}
                )
                sent[id_] = ("update", target)
            else:
                server.call(
                    id_, "memory_store", {"content": f"crash {n}", "level": "PROJECT_CONTEXT"}
                )
                sent[id_] = ("store", n)
        acked_stores: dict[str, str] = {}
        acked_updates: set[int] = set()
        for _ in range(KILL_AFTER):
            message = server.answer()
            what, n = sent[message["id"]]
            result = _ack(message)
            if what == "store":
                acked_stores[result["id"]] = f"crash {n}"
            else:
                acked_updates.add(n)
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait(timeout=30)
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
        for pid in child_pids(str(project)):
            os.kill(pid, signal.SIGKILL)
    assert len(acked_stores) + len(acked_updates) == KILL_AFTER

    async with serve(data, project, rust_server) as s:
        contents: dict[str, str] = {}
        seen: list[str] = []
        cursor = None
        while True:
            args: dict[str, Any] = {"levels": ["PROJECT_CONTEXT"], "limit": 100}
            if cursor:
                args["cursor"] = cursor
            page = await s.ok("memory_list", args)
            for hit in page["results"]:
                contents[hit["id"]] = hit["content"]
                seen.append(hit["content"])
            cursor = page["next_cursor"]
            if not cursor:
                break
    # No duplicates: every content at most once (an id maps to one content by construction).
    assert len(seen) == len(set(seen)), sorted(seen)
    # Every acknowledged store is there, with its content.
    for memory_id, content in acked_stores.items():
        assert contents.get(memory_id) == content, f"acknowledged {content!r} lost"
    # Every base memory is there once: v2 if its update was acknowledged, else v1 or v2
    # (an update in flight at the kill may or may not have landed, but never half).
    for target, memory_id in enumerate(base_ids):
        allowed = (
            {f"base {target} v2"}
            if target in acked_updates
            else {f"base {target} v1", f"base {target} v2"}
        )
        assert contents.get(memory_id) in allowed, (target, contents.get(memory_id))
    # Nothing that was never sent: only base and crash-run memories exist.
    assert all(c.startswith(("base ", "crash ")) for c in seen)
    assert len(seen) <= BASE + PIPELINED
