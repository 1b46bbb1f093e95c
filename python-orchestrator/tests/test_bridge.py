"""The bridge against a scripted child (tests/fake_ast.py) and the real codeloci-ast."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import anyio
import pytest

from codeloci.bridge import RustBridge, RustServerDied, RustServerUnavailable

pytestmark = pytest.mark.anyio

FAKE = [sys.executable, str(Path(__file__).with_name("fake_ast.py"))]


async def test_forwards_arguments_roots_and_structured_results(tmp_path: Path) -> None:
    async with RustBridge(FAKE, [tmp_path]) as bridge:
        assert {t.name for t in bridge.tools} == {"echo", "slow", "crash"}
        result = await bridge.call_tool("echo", {"x": 1})
        assert result.structured_content is not None
        assert result.structured_content["args"] == {"x": 1}
        assert result.structured_content["argv"] == ["--root", str(tmp_path)]


async def test_progress_and_cancellation_reach_the_child(tmp_path: Path) -> None:
    marker = tmp_path / "cancelled"
    seen: list[tuple[float, float | None, str | None]] = []
    got_progress = anyio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))
        got_progress.set()

    async with RustBridge([*FAKE, "--marker", str(marker)], [tmp_path]) as bridge:
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: bridge.call_tool("slow", {}, progress_callback=on_progress))
            with anyio.fail_after(10):
                await got_progress.wait()
            tg.cancel_scope.cancel()
        with anyio.fail_after(10):
            while not marker.exists():
                await anyio.sleep(0.05)
        assert seen == [(1.0, 10.0, "started")]
        assert marker.read_text() == "cancelled"
        assert (await bridge.call_tool("echo", {})).structured_content is not None


async def test_child_death_fails_call_then_restarts(tmp_path: Path) -> None:
    async with RustBridge(FAKE, [tmp_path], backoff_base=0.01) as bridge:
        first_pid = (await bridge.call_tool("echo", {})).structured_content["pid"]
        with pytest.raises(RustServerDied, match="exited while running 'crash'"):
            await bridge.call_tool("crash", {})
        assert not bridge.alive
        second_pid = (await bridge.call_tool("echo", {})).structured_content["pid"]
        assert second_pid != first_pid and bridge.starts == 2


async def test_restarts_are_bounded(tmp_path: Path) -> None:
    async with RustBridge(
        FAKE, [tmp_path], max_restarts=2, restart_window=60, backoff_base=0.01
    ) as bridge:
        for _ in range(3):  # the initial child and two restarts all die
            with pytest.raises(RustServerDied):
                await bridge.call_tool("crash", {})
        started = time.monotonic()
        with pytest.raises(
            RustServerUnavailable, match=r"Rust server unavailable: .* failed 2 times"
        ):
            await bridge.call_tool("echo", {})
        assert time.monotonic() - started < 1, "an unavailable server must fail fast"


async def test_backoff_between_restarts(tmp_path: Path) -> None:
    async with RustBridge(FAKE, [tmp_path], backoff_base=0.4, backoff_max=5) as bridge:
        with pytest.raises(RustServerDied):
            await bridge.call_tool("crash", {})
        started = time.monotonic()
        await bridge.call_tool("echo", {})
        assert time.monotonic() - started >= 0.35


async def test_missing_binary_is_a_clear_error(tmp_path: Path) -> None:
    async with RustBridge(None, [tmp_path]) as bridge:
        with pytest.raises(RustServerUnavailable, match="codeloci-ast binary was not found"):
            await bridge.call_tool("scan", {})
    async with RustBridge(["/nonexistent/codeloci-ast"], [tmp_path]) as bridge:
        with pytest.raises(RustServerUnavailable, match="could not start /nonexistent"):
            await bridge.call_tool("scan", {})


async def test_real_rust_server(tmp_path: Path, rust_server: list[str]) -> None:
    (tmp_path / "a.py").write_text("def f():\n    return 1\n")
    async with RustBridge(rust_server, [tmp_path]) as bridge:
        assert {"scan", "parse", "chunk"} <= {t.name for t in bridge.tools}
        for tool in bridge.tools:
            assert tool.input_schema.get("type") == "object"
        result = await bridge.call_tool("scan", {"root": str(tmp_path)})
        assert not result.is_error
        assert [f["path"] for f in result.structured_content["files"]] == ["a.py"]
