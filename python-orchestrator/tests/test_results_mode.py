"""Search answers for a client that shows the model only ``structuredContent`` (Claude Code):
with ``--results auto`` (the default) such a client gets the rendered text alone and the search
tools are listed without an output schema; other clients keep structured results;
``--results`` forces either."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import INITIALIZE, RawStdio, serve_args

SEARCH_TOOLS = {
    "code_search",
    "memory_find",
    "memory_list",
    "retrieve_preferences",
    "retrieve_project_facts",
    "retrieve_session_state",
}


def _exchange(cmd: list[str], cwd: Path, client: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """tools/list and a memory_find answer, as a client called ``client``."""
    init = {
        **INITIALIZE,
        "params": {**INITIALIZE["params"], "clientInfo": {"name": client, "version": "1"}},
    }
    session = RawStdio(cmd, cwd)
    try:
        session.send(init)
        session.receive(1)
        session.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        session.send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        tools = {t["name"]: t for t in session.receive(2)["result"]["tools"]}
        call = {"name": "memory_find", "arguments": {"query": "deploy day", "force": True}}
        session.send({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": call})
        return tools, session.receive(3)["result"]
    finally:
        session.close()


@pytest.mark.parametrize(
    ("client", "flags", "text"),
    [
        ("claude-code", (), True),
        ("some-ide", (), False),
        ("claude-code", ("--results", "structured"), False),
        ("some-ide", ("--results", "text"), True),
    ],
)
def test_results_mode(
    tmp_path: Path, rust_server: list[str], client: str, flags: tuple[str, ...], text: bool
) -> None:
    project = tmp_path / "repo"
    project.mkdir()
    args = serve_args(tmp_path / "data", project, rust_server, "--no-index", "--no-watch", *flags)
    tools, answer = _exchange([sys.executable, *args], project, client)
    for name in SEARCH_TOOLS:
        assert ("outputSchema" in tools[name]) is not text, name
    assert "outputSchema" in tools["memory_store"], "tools without a renderer keep their schema"
    assert answer["content"][0]["type"] == "text"
    assert ("structuredContent" in answer) is not text
    if text:
        assert not answer["content"][0]["text"].lstrip().startswith("{"), "text, not JSON"
