"""Foreground calls and the background work that makes way for them."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from pydantic import BaseModel, ConfigDict

from codeloci.embedder import Embedder
from codeloci.foreground import Foreground


def test_pause_returns_at_once_when_no_call_is_in_flight() -> None:
    fg = Foreground(max_pause=30.0)
    assert fg.pause() == 0.0 and fg.paused_seconds == 0.0


def test_pause_waits_for_the_calls_in_flight_to_end() -> None:
    fg = Foreground(max_pause=30.0)
    inside = threading.Event()

    def search() -> None:
        with fg.call(), fg.call():  # two overlapping calls: both must end
            inside.set()
            time.sleep(0.2)

    caller = threading.Thread(target=search)
    caller.start()
    assert inside.wait(10)
    waited = fg.pause()
    caller.join()
    assert fg.active == 0
    assert 0.1 < waited < 30.0, "waited for the calls, not for max_pause"


def test_a_call_that_never_ends_delays_background_work_at_most_max_pause() -> None:
    fg = Foreground(max_pause=0.05)
    with fg.call():
        waits = [fg.pause() for _ in range(3)]
    assert all(0.04 < w < 5.0 for w in waits)
    assert fg.pause() == 0.0


class _Empty(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Seen(BaseModel):
    active: int


@pytest.mark.anyio
async def test_calls_that_do_not_write_are_foreground(tmp_path: Path, embedder: Embedder) -> None:
    """The server marks every call of a tool that does not write (searches, lookups) as a
    foreground call for its whole length; a writing tool's (index_repository, memory_store)
    are background work's own kind and are not."""
    from codeloci.config import Settings
    from codeloci.server import build_registry, build_server
    from codeloci.tools import ToolSpec

    async def seen(app: Any, _args: _Empty, _ctx: Any) -> _Seen:
        return _Seen(active=app.core.foreground.active)

    registry = build_registry()
    registry.add(ToolSpec("probe_read", "reads", _Empty, _Seen, seen))
    registry.add(ToolSpec("probe_write", "writes", _Empty, _Seen, seen, writes=True))
    settings = Settings(data_dir=tmp_path / "data", project_root=tmp_path, rust_server=None)
    server = build_server(settings, registry=registry, embedder=embedder)
    async with Client(server) as client:
        read = await client.call_tool("probe_read", {})
        write = await client.call_tool("probe_write", {})
    assert read.structured_content == {"active": 1}
    assert write.structured_content == {"active": 0}
    reading = {t.name for t in build_registry().listed(read_only=True)}
    assert {"code_search", "symbol_find", "memory_find"} <= reading
    assert "index_repository" not in reading and "memory_store" not in reading
