"""The handshake answered from the cache while the server loads (``codeloci.handshake``):
the client sees exactly one answer per request, the same ones the full server gives, and a
tool call right after the handshake works."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from helpers import INITIALIZE, RawStdio, serve_args


def _session(cmd: list[str], cwd: Path) -> tuple[list[dict[str, Any]], str]:
    """initialize, initialized, tools/list, ping, a parse call; every message the server wrote
    and its stderr."""
    messages = [
        INITIALIZE,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "ping"},
        {
            "jsonrpc": "2.0",
            "id": 4,
            "method": "tools/call",
            "params": {"name": "parse", "arguments": {"path": "a.py"}},
        },
    ]
    session = RawStdio(cmd, cwd, {"CODELOCI_LOG_LEVEL": "INFO"})
    for m in messages:
        session.send(m)
        if "id" in m:
            session.receive(m["id"])
    err = session.close()
    return session.seen, err


def _by_id(replies: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    ids = [r["id"] for r in replies if "id" in r]
    assert sorted(ids) == [1, 2, 3, 4], f"one answer per request, got ids {ids}"
    return {r["id"]: r for r in replies if "id" in r}


def test_cold_then_warm_handshake_answers_the_same(tmp_path: Path, rust_server: list[str]) -> None:
    project = tmp_path / "repo"
    project.mkdir()
    (project / "a.py").write_text("def alpha():\n    return 1\n")
    data = tmp_path / "data"
    cmd = [sys.executable, *serve_args(data, project, rust_server, "--no-index", "--no-watch")]

    cold, cold_log = _session(cmd, project)
    assert "from the handshake cache" not in cold_log
    (cache,) = (data / "handshake").glob("*.json")
    slots = {"initialize:2025-06-18", "tools/list:codeloci-tests"}
    assert set(json.loads(cache.read_text())) == slots

    warm, warm_log = _session(cmd, project)
    assert "answered initialize from the handshake cache" in warm_log
    assert "answered tools/list from the handshake cache" in warm_log
    cold_ids, warm_ids = _by_id(cold), _by_id(warm)
    for i in (1, 2, 3):
        assert warm_ids[i] == cold_ids[i], f"answer {i} differs between cold and warm"
    outline = warm_ids[4]["result"]["structuredContent"]
    assert outline["definitions"][0]["name"] == "alpha", "a tool call after the handshake works"


def test_a_stale_cache_is_refreshed_and_read_only_never_writes(
    tmp_path: Path, rust_server: list[str]
) -> None:
    project = tmp_path / "repo"
    project.mkdir()
    (project / "a.py").write_text("def alpha():\n    return 1\n")
    data = tmp_path / "data"
    cmd = [sys.executable, *serve_args(data, project, rust_server, "--no-index", "--no-watch")]
    _session(cmd, project)
    (cache,) = (data / "handshake").glob("*.json")
    real = json.loads(cache.read_text())
    cache.write_text(json.dumps({**real, "tools/list:codeloci-tests": {"tools": []}}))
    _session(cmd, project)  # answered from the stale entry once, which the server then fixes
    assert json.loads(cache.read_text()) == real

    ro_data = tmp_path / "ro"
    ro = [sys.executable, *serve_args(ro_data, project, rust_server, "--read-only")]
    replies, _ = _session(ro, project)
    assert _by_id(replies)[4]["result"]["structuredContent"]["definitions"]
    assert not ro_data.exists(), "a read-only server wrote its handshake cache"


def test_a_tool_list_missing_tools_never_replaces_a_fuller_one(tmp_path: Path) -> None:
    """Replayed while the Rust child was down, tools/list lacks scan/parse/chunk: not cached."""
    from codeloci.handshake import HandshakeCache

    cache = HandshakeCache(tmp_path, "k", writable=True)
    full = {"tools": [{"name": n} for n in ("scan", "parse", "chunk", "memory_find")]}
    cache.put("tools/list:c", full)
    cache.put("tools/list:c", {"tools": [{"name": "memory_find"}]})
    assert HandshakeCache(tmp_path, "k", writable=True).get("tools/list:c") == full
    more = {"tools": [*full["tools"], {"name": "code_search"}]}
    cache.put("tools/list:c", more)
    assert HandshakeCache(tmp_path, "k", writable=True).get("tools/list:c") == more
