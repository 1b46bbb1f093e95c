"""The bounded stdin of ``codeloci serve``: at the cap read, over it answered with an error."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import serve_args

from codeloci.stdio_limits import MAX_MESSAGE_BYTES, OVERSIZED_TOOL, BoundedLines

pytestmark = pytest.mark.anyio


async def _lines(data: bytes, cap: int) -> list[str]:
    return [line async for line in BoundedLines(io.BytesIO(data), cap)]


async def test_lines_at_the_cap_pass_and_longer_ones_are_replaced() -> None:
    at_cap = b'{"id":1,"x":"' + b"a" * 10 + b'"}'
    over = b'{"id":"r-2","x":"' + b"a" * 40 + b'"}'
    note = b'{"method":"n","x":"' + b"b" * 40 + b'"}'
    lines = await _lines(at_cap + b"\n" + over + b"\n" + note + b"\n" + b'{"id":3}\n', len(at_cap))
    assert lines[0] == at_cap.decode() + "\n"
    replaced = json.loads(lines[1])
    assert replaced["id"] == "r-2" and replaced["params"]["name"] == OVERSIZED_TOOL
    assert replaced["params"]["arguments"] == {"bytes": len(over), "limit": len(at_cap)}
    assert lines[2] == '{"id":3}\n', "an oversized notification has no id to answer and is dropped"
    assert len(lines) == 3


def _request(id_: int, content_len: int) -> bytes:
    head = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": id_,
            "method": "tools/call",
            "params": {
                "name": "memory_store",
                "arguments": {"level": "PROJECT_CONTEXT", "content": ""},
            },
        }
    ).encode()
    cut = head.index(b'"content": ""') + len(b'"content": "')
    return head[:cut] + b"x" * content_len + head[cut:]


def test_real_server_answers_a_message_over_the_cap_and_keeps_serving(
    tmp_path: Path, rust_server: list[str]
) -> None:
    project = tmp_path / "repo"
    project.mkdir()
    cmd = [sys.executable, *serve_args(tmp_path / "data", project, rust_server)]
    proc = subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=project
    )
    assert proc.stdin and proc.stdout

    def send(raw: bytes) -> None:
        assert proc.stdin
        proc.stdin.write(raw + b"\n")
        proc.stdin.flush()

    def answer(id_: int) -> Any:
        assert proc.stdout
        while True:
            message = json.loads(proc.stdout.readline())
            if message.get("id") == id_:
                return message

    try:
        init = {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"},
        }
        send(
            json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": init}).encode()
        )
        answer(0)
        send(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}')
        base = len(_request(1, 0))
        at_cap = _request(1, MAX_MESSAGE_BYTES - base)
        assert len(at_cap) == MAX_MESSAGE_BYTES
        send(at_cap)
        first = answer(1)["result"]
        assert first["isError"] and "content" in first["content"][0]["text"], "read and validated"
        send(_request(2, MAX_MESSAGE_BYTES - base + 1))
        second = answer(2)["result"]
        assert second["isError"]
        assert f"over MAX_MESSAGE_BYTES ({MAX_MESSAGE_BYTES})" in second["content"][0]["text"]
        send(json.dumps({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}).encode())
        assert answer(3)["result"]["tools"], "still serving"
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


def test_stray_prints_go_to_stderr_and_replies_to_the_channel() -> None:
    """After ``stdout_binary()`` only what ``DirectStdout`` writes reaches fd 1."""
    script = (
        "import anyio, os, sys\n"
        "from codeloci.stdio_limits import DirectStdout, stdout_binary\n"
        "out = DirectStdout(stdout_binary())\n"
        "print('stray print'); os.write(1, b'stray write\\n')\n"
        "async def main():\n"
        '    await out.write(\'{"jsonrpc": "2.0"}\\n\'); await out.flush()\n'
        "anyio.run(main)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, timeout=60, check=True
    )
    assert done.stdout == b'{"jsonrpc": "2.0"}\n'
    assert b"stray print" in done.stderr and b"stray write" in done.stderr
