"""MCP Inspector's CLI (npm @modelcontextprotocol/inspector) against the Rust server alone."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import FIXTURES


def inspector(node_bin: Path, ast_bin: str, *args: str, root: Path = FIXTURES) -> dict:
    proc = subprocess.run(
        [str(node_bin / "mcp-inspector"), "--cli", ast_bin, "--root", str(root), *args],
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


def test_a_large_chunk_result_arrives_whole_with_a_summary_as_its_text(
    node_bin: Path, ast_bin: str, tmp_path: Path
) -> None:
    body = "".join(f"def function_{i}(x):\n    return x + {i}\n\n\n" for i in range(2000))
    (tmp_path / "many.py").write_text(body)
    result = inspector(
        node_bin, ast_bin, "--method", "tools/call", "--tool-name", "chunk",
        "--tool-arg", 'paths=["many.py"]', root=tmp_path,
    )
    chunks = result["structuredContent"]["chunks"]
    assert "".join(c["content"] for c in chunks) == body
    assert {c["qualified_name"] for c in chunks} >= {"function_0", "function_1999"}
    text = result["content"][0]["text"]
    assert f"{len(chunks)} chunks" in text and "structuredContent" in text and len(text) < 400
