"""Claude Code (npm @anthropic-ai/claude-code) registers codeloci and reports it connected.

Offline: a scratch HOME per test, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1, no model call.
``claude mcp list`` starts every configured server (initialize + tools/list) and prints one line
per server, ``✔ Connected`` or ``✘ Failed to connect``; its exit code is 0 either way, so the
tests read the text.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from conftest import require

pytestmark = pytest.mark.timeout(300)

CONNECTED = "✔ Connected"
FAILED = "✘ Failed to connect"
PENDING = "Pending approval"


@pytest.fixture(scope="module")
def claude(node_bin: Path) -> str:
    path = node_bin / "claude"
    if not path.exists():
        pytest.fail("node_modules/.bin/claude missing: run ./dev setup (npm ci in tests/e2e)")
    return str(path)


@pytest.fixture(scope="module")
def codeloci_bin(ast_bin: str) -> str:
    # ast_bin: codeloci-ast must be reachable (PATH, the venv, or the checkout) for
    # `codeloci serve` to publish the Rust tools; fail here with the fix rather than later.
    return str(Path(require("codeloci")).absolute())


def scratch_env(home: Path) -> dict[str, str]:
    """The user's environment with a fresh HOME: nothing of a real Claude Code set-up leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE", "ANTHROPIC"))}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_AUTOUPDATER="1",
        MCP_TIMEOUT="60000",  # server start-up budget in ms; codeloci loads its embedder first
        NO_COLOR="1",
    )
    return env


def run_claude(claude: str, env: dict[str, str], cwd: Path, *args: str) -> str:
    proc = subprocess.run(
        [claude, *args],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=150,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"claude {' '.join(args)} exited {proc.returncode}:\n{out}"
    return out


def status_line(listing: str, name: str) -> str:
    """The line `claude mcp list` printed for server ``name``."""
    lines = [ln for ln in listing.splitlines() if ln.startswith(f"{name}: ")]
    assert len(lines) == 1, f"expected one line for {name!r} in:\n{listing}"
    return lines[0]


def test_mcp_add_then_list_shows_codeloci_connected(
    claude: str, codeloci_bin: str, tmp_path: Path
) -> None:
    home, project, data = tmp_path / "home", tmp_path / "project", tmp_path / "data"
    for d in (home, project):
        d.mkdir()
    env = scratch_env(home)

    added = run_claude(
        claude,
        env,
        project,
        "mcp",
        "add",
        "codeloci",
        "--",
        codeloci_bin,
        "serve",
        "--data-dir",
        str(data),
    )
    assert "Added stdio MCP server codeloci" in added, added
    # A deliberately broken registration next to it: proves the check can fail.
    run_claude(claude, env, project, "mcp", "add", "broken", "--", codeloci_bin, "no-such-command")

    listing = run_claude(claude, env, project, "mcp", "list")
    line = status_line(listing, "codeloci")
    assert f"{codeloci_bin} serve --data-dir {data}" in line
    assert line.endswith(CONNECTED), listing
    assert FAILED in status_line(listing, "broken"), listing
    # The server really ran with the given data dir (it created its store there).
    assert data.is_dir() and any(data.iterdir()), "codeloci did not create its data dir"


def test_codeloci_setup_claude_then_list_shows_it_connected(
    claude: str, codeloci_bin: str, tmp_path: Path
) -> None:
    """`codeloci setup claude` (the README's one command) registers codeloci with the real
    Claude Code CLI, by absolute path, at user scope; run twice it replaces itself."""
    home, project, data = tmp_path / "home", tmp_path / "project", tmp_path / "data"
    for d in (home, project):
        d.mkdir()
    env = scratch_env(home)
    env["PATH"] = f"{Path(claude).parent}{os.pathsep}{env.get('PATH', '')}"
    for _ in range(2):
        setup = subprocess.run(
            [codeloci_bin, "setup", "claude", "--data-dir", str(data)],
            env=env,
            cwd=project,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=150,
        )
        assert setup.returncode == 0, setup.stdout + setup.stderr
        assert "Added stdio MCP server codeloci" in setup.stdout, setup.stdout
    assert "codeloci" in json.loads((home / ".claude.json").read_text())["mcpServers"]

    listing = run_claude(claude, env, project, "mcp", "list")
    line = status_line(listing, "codeloci")
    assert f"{codeloci_bin} serve --data-dir {data}" in line
    assert line.endswith(CONNECTED), listing


def write_mcp_json(project: Path, servers: dict[str, dict[str, object]]) -> None:
    (project / ".mcp.json").write_text(json.dumps({"mcpServers": servers}, indent=2))


def trust_project(home: Path, project: Path) -> None:
    """What accepting Claude Code's trust dialog for ``project`` writes to ~/.claude.json."""
    config_path = home / ".claude.json"
    config = json.loads(config_path.read_text()) if config_path.exists() else {}
    config.setdefault("projects", {}).setdefault(str(project), {})["hasTrustDialogAccepted"] = True
    config_path.write_text(json.dumps(config, indent=2))


def enable_project_servers(project: Path, settings: dict[str, object]) -> None:
    (project / ".claude").mkdir(exist_ok=True)
    (project / ".claude" / "settings.local.json").write_text(json.dumps(settings))


def test_project_mcp_json_with_trust_settings_is_connected(
    claude: str, codeloci_bin: str, tmp_path: Path
) -> None:
    home, project, data = tmp_path / "home", (tmp_path / "project").resolve(), tmp_path / "data"
    for d in (home, project):
        d.mkdir()
    env = scratch_env(home)
    write_mcp_json(
        project,
        {
            "codeloci": {
                "type": "stdio",
                "command": codeloci_bin,
                "args": ["serve", "--data-dir", str(data)],
            }
        },
    )

    # Untrusted project: Claude Code does not start it.
    listing = run_claude(claude, env, project, "mcp", "list")
    assert PENDING in status_line(listing, "codeloci"), listing

    # Trusted but not enabled: still pending (both settings are needed).
    trust_project(home, project)
    listing = run_claude(claude, env, project, "mcp", "list")
    assert PENDING in status_line(listing, "codeloci"), listing

    # Enabled by name.
    enable_project_servers(project, {"enabledMcpjsonServers": ["codeloci"]})
    listing = run_claude(claude, env, project, "mcp", "list")
    assert status_line(listing, "codeloci").endswith(CONNECTED), listing


def test_project_mcp_json_enable_all_and_a_broken_server_fails(
    claude: str, codeloci_bin: str, tmp_path: Path
) -> None:
    home, project, data = tmp_path / "home", (tmp_path / "project").resolve(), tmp_path / "data"
    for d in (home, project):
        d.mkdir()
    env = scratch_env(home)
    write_mcp_json(
        project,
        {
            "codeloci": {"command": codeloci_bin, "args": ["serve", "--data-dir", str(data)]},
            "broken": {"command": str(tmp_path / "no-such-binary"), "args": ["serve"]},
        },
    )
    trust_project(home, project)
    enable_project_servers(project, {"enableAllProjectMcpServers": True})

    listing = run_claude(claude, env, project, "mcp", "list")
    assert status_line(listing, "codeloci").endswith(CONNECTED), listing
    broken = status_line(listing, "broken")
    assert FAILED in broken, listing
    assert re.search(r"ENOENT|no such file", broken), broken
