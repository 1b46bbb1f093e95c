"""The per-call deadline (CALL_TIMEOUT_SECONDS): reads are stopped, index runs get
INDEX_TIMEOUT_FACTOR times as long, writes always finish; the server keeps serving."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from helpers import serve, text
from mcp import Client
from pydantic import BaseModel, ConfigDict

from codeloci.config import Settings
from codeloci.embedder import MiniLMEmbedder
from codeloci.server import build_registry, build_server
from codeloci.tools import INDEX_TIMEOUT_FACTOR, Deadline, ToolSpec

pytestmark = pytest.mark.anyio


class SleepInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float


class SleepResult(BaseModel):
    slept: float


def _sleeper(name: str, deadline: Deadline, finished: list[str]) -> ToolSpec:
    async def handler(_app: Any, args: SleepInput, _ctx: Any) -> SleepResult:
        if deadline == "index":
            await anyio.sleep(args.seconds)  # an index run awaits between its steps
        else:
            # A blocking worker, like the store calls; reads let the deadline abandon it.
            await anyio.to_thread.run_sync(
                time.sleep, args.seconds, abandon_on_cancel=deadline == "call"
            )
        finished.append(name)
        return SleepResult(slept=args.seconds)

    description = f"sleep ({deadline})"
    return ToolSpec(name, description, SleepInput, SleepResult, handler, deadline=deadline)


async def test_each_kind_of_deadline_holds_and_the_server_keeps_serving(
    tmp_path: Path, embedder: MiniLMEmbedder
) -> None:
    finished: list[str] = []
    registry = build_registry()
    kinds: list[tuple[str, Deadline]] = [("read", "call"), ("index", "index"), ("write", "none")]
    for name, deadline in kinds:
        registry.add(_sleeper(f"sleep_{name}", deadline, finished))
    settings = Settings(
        data_dir=tmp_path / "data",
        project_root=tmp_path,
        rust_server=None,
        call_timeout_seconds=0.2,
    )
    server = build_server(settings, registry=registry, embedder=embedder)
    async with Client(server) as client:
        # Under the deadline: answered.
        ok = await client.call_tool("sleep_read", {"seconds": 0.01})
        assert not ok.is_error and ok.structured_content == {"slept": 0.01}, text(ok)
        # Over it: stopped, with the limit, its name and how to change it.
        started = time.monotonic()
        late = await client.call_tool("sleep_read", {"seconds": 3})
        assert time.monotonic() - started < 2.5
        assert late.is_error
        message = text(late)
        assert "sleep_read did not finish within 0.2 s (CALL_TIMEOUT_SECONDS" in message
        assert "--call-timeout" in message and "CODELOCI_CALL_TIMEOUT" in message
        # An index run may take INDEX_TIMEOUT_FACTOR x the call deadline (6 s here).
        ok = await client.call_tool("sleep_index", {"seconds": 1.0})
        assert not ok.is_error, text(ok)
        late = await client.call_tool("sleep_index", {"seconds": 0.2 * INDEX_TIMEOUT_FACTOR + 2})
        assert late.is_error
        assert f"within 6 s ({INDEX_TIMEOUT_FACTOR} x CALL_TIMEOUT_SECONDS" in text(late)
        assert "run it again to continue" in text(late)
        # A write is never stopped halfway: its answer is true.
        ok = await client.call_tool("sleep_write", {"seconds": 0.6})
        assert not ok.is_error and ok.structured_content == {"slept": 0.6}
        assert finished == ["sleep_read", "sleep_index", "sleep_write"]
        # Still serving real tools afterwards.
        stored = await client.call_tool(
            "memory_store", {"content": "deadline test", "level": "PROJECT_CONTEXT"}
        )
        assert not stored.is_error, text(stored)


async def test_proxied_calls_get_the_childs_deadline_error(
    tmp_path: Path, rust_server: list[str]
) -> None:
    project = tmp_path / "repo"
    project.mkdir()
    body = "".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(40_000))
    (project / "huge.py").write_text(body)
    (project / "small.py").write_text("def small():\n    return 1\n")
    async with serve(tmp_path / "data", project, rust_server, "--call-timeout", "0.3") as s:
        message = await s.err("chunk", {"paths": ["huge.py"] * 200})
        assert "longer than 300 ms" in message and "CALL_TIMEOUT_MS" in message, message
        outline = await s.ok("parse", {"path": "small.py"})
        assert outline["definitions"][0]["name"] == "small"
