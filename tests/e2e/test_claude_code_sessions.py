"""Three real Claude Code sessions at once, in two repositories, sharing one codeloci service.

Each session is a ``claude -p`` turn against its own scripted fake Messages API (see
test_claude_code_turns.py) that calls codeloci's tools step by step. All three use the same
``codeloci serve --data-dir DATA`` config, as a user's Claude Code windows do; the first one
to need the store starts the per-user service and the others join it. While all three are
still open (their scripts hold the last model reply), ``codeloci index`` and ``codeloci find``
run in a terminal beside them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fake_anthropic import (
    Block,
    FakeAnthropic,
    Script,
    text,
    tool_names,
    tool_results,
    tool_use,
)
from test_claude_code import scratch_env
from test_claude_code_turns import claude, codeloci_bin, git  # noqa: F401 (fixtures)

pytestmark = pytest.mark.timeout(420)

PREFIX = "mcp__codeloci__"
TOOLS = [
    "memory_store",
    "retrieve_preferences",
    "retrieve_session_state",
    "retrieve_project_facts",
    "code_search",
]
#: How often a step is tried while its answer lacks what it expects (the index being built,
#: another session's memory not stored yet), and the pause between tries.
TRIES = 40
PAUSE_S = 1.0
WAIT_FOR_CLI_S = 240.0


@dataclass
class Step:
    tool: str
    arguments: dict[str, Any]
    expect: str | None = None
    reject: tuple[str, ...] = ()


@dataclass
class Session:
    name: str
    project: Path
    steps: list[Step]
    done: threading.Event = field(default_factory=threading.Event)
    answers: list[str] = field(default_factory=list)
    failure: str | None = None


def scripted(session: Session, release: threading.Event) -> Script:
    """Claude Code's model for one session: each step's tool call, repeated while its answer
    lacks ``expect``; once all steps passed it waits for ``release`` and ends the turn."""
    state = {"step": 0, "tries": 0, "sent": False}

    def script(body: dict[str, Any]) -> list[Block]:
        if PREFIX + "memory_store" not in tool_names(body):
            return [text("OK.")]  # a side request (title, summary)
        if state["sent"]:
            step = session.steps[state["step"]]
            results = tool_results(body)
            last = results[-1]["text"] if results else ""
            session.answers.append(last)
            good = (step.expect is None or step.expect in last) and not any(
                r in last for r in step.reject
            )
            if (
                any(r in last for r in step.reject)
                or results
                and results[-1].get("is_error")
            ):
                session.failure = f"step {state['step']} ({step.tool}) answered: {last}"
                session.done.set()
                return [text("FAILED")]
            if good:
                state["step"], state["tries"] = state["step"] + 1, 0
            elif state["tries"] >= TRIES:
                session.failure = (
                    f"step {state['step']} ({step.tool}) never had {step.expect}"
                )
                session.done.set()
                return [text("FAILED")]
            else:
                time.sleep(PAUSE_S)
        if state["step"] == len(session.steps):
            session.done.set()
            release.wait(WAIT_FOR_CLI_S)  # the session stays open meanwhile
            return [text("DONE")]
        step = session.steps[state["step"]]
        state["sent"] = True
        state["tries"] += 1
        return [tool_use(PREFIX + step.tool, step.arguments)]

    return script


def make_repo(root: Path, files: dict[str, str]) -> Path:
    for name, body in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "initial")
    return root.resolve()


def test_three_sessions_two_repositories_one_memory(
    claude: str,  # noqa: F811
    codeloci_bin: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    shop = make_repo(
        tmp_path / "shop",
        {
            "shop/billing.py": "def reconcile_ledger_quarterly(entries):\n"
            '    """Sum a quarter of ledger entries."""\n'
            "    return round(sum(entries), 2)\n",
        },
    )
    post = make_repo(
        tmp_path / "post",
        {
            "post/shipping.py": "def estimate_parcel_zonefare(weight_kg, zone):\n"
            '    """Postage for a parcel."""\n'
            "    return 3.5 + weight_kg * 1.2 * zone\n",
        },
    )
    data = tmp_path / "data"
    config = tmp_path / "mcp.json"
    server = {
        "type": "stdio",
        "command": codeloci_bin,
        "args": ["serve", "--data-dir", str(data)],
    }
    config.write_text(json.dumps({"mcpServers": {"codeloci": server}}))

    pref = "The user prefers tabs over spaces"
    state_a, state_b = (
        "Session A is halfway through billing",
        "Session B migrates shipping",
    )
    search = {"force": True}
    sessions = [
        Session(
            "A",
            shop,
            [
                Step("memory_store", {"content": pref, "level": "USER_PREFERENCE"}),
                Step("memory_store", {"content": state_a, "level": "SESSION_STATE"}),
                Step(
                    "memory_store",
                    {"content": "Shop uses pytest", "level": "PROJECT_CONTEXT"},
                ),
                Step(
                    "code_search",
                    {"query": "reconcile_ledger_quarterly", **search},
                    "shop/billing.py",
                ),
                Step("retrieve_session_state", {}, state_a, reject=(state_b,)),
            ],
        ),
        Session(
            "B",
            post,
            [
                Step("memory_store", {"content": state_b, "level": "SESSION_STATE"}),
                Step(
                    "code_search",
                    {"query": "estimate_parcel_zonefare", **search},
                    "post/shipping.py",
                ),
                Step("retrieve_session_state", {}, state_b, reject=(state_a,)),
                Step(
                    "retrieve_preferences", {"query": "tabs or spaces", **search}, pref
                ),
                Step("retrieve_project_facts", {}, None, reject=("Shop uses pytest",)),
            ],
        ),
        Session(
            "C",
            shop,
            [
                Step(
                    "retrieve_preferences", {"query": "tabs or spaces", **search}, pref
                ),
                Step("retrieve_project_facts", {}, "Shop uses pytest"),
                Step(
                    "code_search",
                    {"query": "reconcile_ledger_quarterly", **search},
                    "shop/billing.py",
                ),
                Step("retrieve_session_state", {}, None, reject=(state_a, state_b)),
            ],
        ),
    ]
    release = threading.Event()
    fakes = [FakeAnthropic(scripted(s, release)) for s in sessions]
    procs: list[subprocess.Popen[str]] = []
    try:
        for fake in fakes:
            fake.__enter__()
        for session, fake in zip(sessions, fakes, strict=True):
            home = tmp_path / f"home-{session.name}"
            home.mkdir()
            env = scratch_env(home)
            env.update(
                ANTHROPIC_BASE_URL=fake.base_url,
                ANTHROPIC_API_KEY="test",
                ENABLE_TOOL_SEARCH="false",
                PATH=os.pathsep.join(
                    [str(Path(sys.executable).parent), env.get("PATH", "")]
                ),
            )
            args = [claude, "-p", f"Session {session.name}: do your steps."]
            args += ["--output-format", "json", "--mcp-config", str(config)]
            args += [
                "--strict-mcp-config",
                "--allowedTools",
                *[PREFIX + t for t in TOOLS],
            ]
            procs.append(
                subprocess.Popen(
                    args,
                    env=env,
                    cwd=session.project,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        for session in sessions:
            assert session.done.wait(WAIT_FOR_CLI_S), (
                f"session {session.name} never finished"
            )
            assert session.failure is None, f"session {session.name}: {session.failure}"

        # All three sessions are still open: the CLI works beside them.
        bin_dir = str(Path(sys.executable).parent)
        cli_env = {**os.environ, "PATH": os.pathsep.join([bin_dir, os.environ["PATH"]])}
        indexed = subprocess.run(
            [codeloci_bin, "index", str(post), "--no-embed", "--data-dir", str(data)],
            capture_output=True,
            text=True,
            timeout=120,
            env=cli_env,
            check=False,
        )
        assert indexed.returncode == 0, indexed.stderr
        assert f"indexed {post}" in indexed.stderr, indexed.stderr
        found = subprocess.run(
            [codeloci_bin, "find", "reconcile_ledger_quarterly", "--path", str(shop)]
            + ["--data-dir", str(data), "--mode", "lexical"],
            capture_output=True,
            text=True,
            timeout=120,
            env=cli_env,
            check=False,
        )
        assert found.returncode == 0, found.stderr
        assert "shop/billing.py:1-3" in found.stdout, found.stdout
    finally:
        release.set()
        outputs = []
        for proc in procs:
            try:
                out, err = proc.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
            outputs.append((proc.returncode, out, err))
        for fake in fakes:
            fake.__exit__(None, None, None)
        pid_file = data / "service" / "embedded" / "service.pid"
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
    for (code, out, err), session in zip(outputs, sessions, strict=True):
        assert code == 0, (
            f"claude -p of session {session.name} exited {code}\n{out}\n{err}"
        )
        assert json.loads(out).get("result") == "DONE", out
