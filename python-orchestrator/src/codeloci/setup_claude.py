"""``codeloci setup claude``: wire Claude Code to this codeloci in one command.

* ``codeloci setup claude`` runs ``claude mcp remove`` (an older registration, if any) then
  ``claude mcp add --scope user codeloci -- ABS serve``, with ``ABS`` the absolute path of the
  ``codeloci`` being run. User scope: every repository Claude Code is started in gets its own
  memory (the server serves the git top level of the directory Claude Code starts in).
  ``--scope local`` registers it for this repository only (private to you).
* ``--project`` writes the repository's ``.mcp.json`` instead (to commit and share), merging
  ``codeloci`` into the servers already there; other servers are kept as they are.
* When ``claude`` is not on ``PATH`` it says so and prints the command and the JSON to use;
  nothing is written, and the exit status is 1.

Common options given to ``setup`` (``--data-dir``, ``--read-only``, ``--rust-server``,
``--no-gate``, ...) are passed on to ``serve`` (paths made absolute); ``--project-root`` only
chooses the repository (where ``.mcp.json`` goes, where ``claude`` runs).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from codeloci.config import resolve_project_root

__all__ = [
    "SERVER_NAME",
    "add_setup_args",
    "cmd_setup",
    "codeloci_command",
    "merge_mcp_json",
    "serve_args",
]

#: The name codeloci is registered under.
SERVER_NAME = "codeloci"
#: Seconds one ``claude mcp`` command may take.
CLAUDE_TIMEOUT_SECONDS = 60


def codeloci_command() -> list[str]:
    """The absolute command that starts this codeloci: the ``codeloci`` script being run, else
    the one installed beside this Python, else on ``PATH``, else ``python -m codeloci.cli``."""
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.name == "codeloci" and argv0.is_file():
        return [str(argv0.absolute())]
    beside = Path(sys.executable).parent / "codeloci"
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside.absolute())]
    on_path = shutil.which("codeloci")
    if on_path:
        return [str(Path(on_path).absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "codeloci.cli"]


def serve_args(args: argparse.Namespace) -> list[str]:
    """``serve`` and the common options given to ``setup``, paths absolute."""
    out = ["serve"]
    if getattr(args, "data_dir", None):
        out += ["--data-dir", str(Path(args.data_dir).expanduser().absolute())]
    if getattr(args, "rust_server", None):
        out += ["--rust-server", args.rust_server]
    if getattr(args, "read_only", False):
        out.append("--read-only")
    if getattr(args, "session_id", None):
        out += ["--session-id", args.session_id]
    if getattr(args, "session_ttl", None) is not None:
        out += ["--session-ttl", str(args.session_ttl)]
    if getattr(args, "gate_threshold", None) is not None:
        out += ["--gate-threshold", str(args.gate_threshold)]
    if getattr(args, "gate_enabled", None) is False:
        out.append("--no-gate")
    if getattr(args, "call_timeout", None) is not None:
        out += ["--call-timeout", str(args.call_timeout)]
    if getattr(args, "log_level", None):
        out += ["--log-level", args.log_level]
    return out


def server_entry(command: list[str]) -> dict[str, Any]:
    """The ``.mcp.json`` entry of a stdio server started by ``command``."""
    return {"command": command[0], "args": command[1:]}


def merge_mcp_json(path: Path, entry: dict[str, Any]) -> str:
    """Put ``entry`` under ``mcpServers.codeloci`` in ``path`` (created if missing), keeping
    every other key and server; returns what happened. Refuses a file that is not a JSON
    object with an object ``mcpServers`` rather than overwrite it."""
    config: dict[str, Any] = {}
    if path.exists():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8") or "{}")
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path} is not valid JSON ({exc}); fix or remove it first") from None
        if not isinstance(loaded, dict) or not isinstance(loaded.get("mcpServers", {}), dict):
            raise ValueError(f"{path}: expected an object with an object mcpServers; left as is")
        config = loaded
    servers: dict[str, Any] = config.setdefault("mcpServers", {})
    before = servers.get(SERVER_NAME)
    servers[SERVER_NAME] = entry
    tmp = path.with_name(path.name + ".codeloci-tmp")
    tmp.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    if before == entry:
        return f"{path}: {SERVER_NAME} already set up, unchanged"
    return f"{path}: {SERVER_NAME} {'updated' if before else 'added'}"


def _claude(claude: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [claude, *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=CLAUDE_TIMEOUT_SECONDS,
        check=False,
    )


def cmd_setup(args: argparse.Namespace) -> int:
    root = resolve_project_root(getattr(args, "project_root", None))
    command = [*codeloci_command(), *serve_args(args)]
    entry = server_entry(command)
    if args.project:
        print(merge_mcp_json(root / ".mcp.json", entry))
        print(
            "Claude Code asks once to approve a project's servers; then `claude mcp list` "
            f"shows {SERVER_NAME}."
        )
        return 0
    add = ["mcp", "add", "--scope", args.scope, SERVER_NAME, "--", *command]
    claude = shutil.which("claude")
    if claude is None:
        print(
            "claude (Claude Code) is not on PATH, so nothing was set up. Once it is, run:\n"
            f"  claude {shlex.join(add)}\n"
            f"or put this in the repository's .mcp.json (codeloci setup claude --project):\n"
            + json.dumps({"mcpServers": {SERVER_NAME: entry}}, indent=2)
        )
        return 1
    # An older registration in the same scope (another checkout, other options) is replaced.
    _claude(claude, root, "mcp", "remove", "--scope", args.scope, SERVER_NAME)
    added = _claude(claude, root, *add)
    output = (added.stdout + added.stderr).strip()
    if added.returncode != 0:
        print(f"claude {shlex.join(add)} failed ({added.returncode}):\n{output}", file=sys.stderr)
        return 1
    print(output)
    print(f"Check it with: claude mcp list   ({SERVER_NAME}: ... Connected)")
    return 0


def add_setup_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("client", choices=["claude"], help="the MCP client to set up")
    parser.add_argument(
        "--project",
        action="store_true",
        help="write the repository's .mcp.json instead of running `claude mcp add`",
    )
    parser.add_argument(
        "--scope",
        choices=["user", "local"],
        default="user",
        help="`claude mcp add` scope: user (every repository, the default) or local (this one)",
    )
