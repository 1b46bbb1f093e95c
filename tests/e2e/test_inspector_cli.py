"""MCP Inspector's CLI (npm @modelcontextprotocol/inspector) against the Rust server alone."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import FIXTURES


def inspector(node_bin: Path, ast_bin: str, *args: str) -> dict:
    proc = subprocess.run(
        [str(node_bin / "mcp-inspector"), "--cli", ast_bin, "--root", str(FIXTURES), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out: dict = json.loads(proc.stdout)
    return out


def test_tools_list_shows_scan_parse_chunk_with_schemas(node_bin: Path, ast_bin: str) -> None:
    listed = inspector(node_bin, ast_bin, "--method", "tools/list")
    tools = {t["name"]: t for t in listed["tools"]}
    assert sorted(tools) == ["chunk", "parse", "scan"]
    for tool in tools.values():
        assert tool["inputSchema"]["type"] == "object"
        assert "properties" in tool["outputSchema"]
    assert "paths" in tools["chunk"]["inputSchema"]["required"]


def test_chunk_call_returns_the_expected_functions(node_bin: Path, ast_bin: str) -> None:
    result = inspector(
        node_bin, ast_bin, "--method", "tools/call", "--tool-name", "chunk",
        "--tool-arg", 'paths=["sample.py"]',
    )
    chunks = result["structuredContent"]["chunks"]
    by_name = {c["qualified_name"]: c for c in chunks if c["qualified_name"]}
    assert by_name["add"]["kind"] == "function"
    assert (by_name["add"]["start_line"], by_name["add"]["end_line"]) == (8, 12)
    assert by_name["add"]["docstring"] == "Add two numbers."
    assert by_name["Greeter"]["kind"] == "class"
    text = (FIXTURES / "sample.py").read_text()
    assert "".join(c["content"] for c in chunks) == text
