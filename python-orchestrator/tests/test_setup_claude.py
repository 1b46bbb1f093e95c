"""``codeloci setup claude``: the project's .mcp.json written and merged, the command printed
when ``claude`` is missing. (With the real Claude Code CLI: tests/e2e/test_claude_code.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from codeloci.setup_claude import merge_mcp_json

SETUP = [sys.executable, "-m", "codeloci.cli", "setup", "claude"]


def _run(cwd: Path, *args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODELOCI_")}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [*SETUP, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def _entry(config: dict[str, object]) -> dict[str, object]:
    servers = config["mcpServers"]
    assert isinstance(servers, dict)
    entry = servers["codeloci"]
    assert isinstance(entry, dict)
    return entry


def test_project_writes_mcp_json_with_absolute_command(tmp_path: Path) -> None:
    done = _run(tmp_path, "--project", "--project-root", str(tmp_path), "--data-dir", "d")
    assert done.returncode == 0, done.stderr
    assert "codeloci added" in done.stdout
    entry = _entry(json.loads((tmp_path / ".mcp.json").read_text()))
    command = str(entry["command"])
    assert Path(command).is_absolute() and Path(command).exists()
    args = entry["args"]
    assert isinstance(args, list) and "serve" in args
    assert args[args.index("--data-dir") + 1] == str(tmp_path / "d")  # made absolute
    # Running it again changes nothing.
    again = _run(tmp_path, "--project", "--project-root", str(tmp_path), "--data-dir", "d")
    assert "already set up, unchanged" in again.stdout


def test_project_merges_into_existing_servers(tmp_path: Path) -> None:
    path = tmp_path / ".mcp.json"
    other = {"command": "npx", "args": ["-y", "other-server"], "env": {"K": "v"}}
    path.write_text(
        json.dumps(
            {"mcpServers": {"other": other, "codeloci": {"command": "/old/codeloci"}}, "x": 1}
        )
    )
    assert merge_mcp_json(path, {"command": "/new/codeloci", "args": ["serve"]}).endswith(
        "codeloci updated"
    )
    config = json.loads(path.read_text())
    assert config["x"] == 1
    assert config["mcpServers"]["other"] == other
    assert _entry(config) == {"command": "/new/codeloci", "args": ["serve"]}


@pytest.mark.parametrize("content", ["{not json", '["a list"]', '{"mcpServers": []}'])
def test_project_refuses_to_clobber_a_file_it_cannot_read(tmp_path: Path, content: str) -> None:
    path = tmp_path / ".mcp.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=r"\.mcp\.json"):
        merge_mcp_json(path, {"command": "/c", "args": ["serve"]})
    assert path.read_text() == content


def test_without_claude_on_path_it_prints_what_to_run(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    done = _run(tmp_path, "--project-root", str(tmp_path), path=str(empty))
    assert done.returncode == 1
    out = done.stdout
    assert "claude (Claude Code) is not on PATH" in out
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("claude mcp add"))
    assert "--scope user codeloci -- /" in line and line.rstrip().endswith(" serve")
    assert '"mcpServers"' in out and not (tmp_path / ".mcp.json").exists()
