"""Real Claude Code turns (``claude -p``) that call codeloci's tools, offline.

Claude Code talks to a fake Anthropic Messages API on loopback (fake_anthropic.py) whose replies
are scripted per test: it asks for ``mcp__codeloci__code_search`` and, once the tool_result comes
back, ends the turn. The fake records every request, so the test reads what Claude Code sent the
model: the tools it offered and the tool_result blocks carrying codeloci's answers. codeloci is a
real ``codeloci serve`` started by Claude Code from ``--mcp-config`` in a fresh git repository it
has never seen: no index step, it indexes its project root at start.

By default Claude Code (2.1.330) defers MCP tools behind its ToolSearch tool: the model sees only
their names until it loads one (``select:NAME``), then that tool's schema. Most tests turn that
off (``ENABLE_TOOL_SEARCH=false``, as a user can) so every codeloci schema is in the tools array;
one test takes the default path. What Claude Code sent: ``POST /v1/messages?beta=true`` with
``stream: true`` for each model call, nothing else; a tool's answer reaches the model as the JSON
of its ``structuredContent`` when it has one (its text block is dropped), else as its text. So
codeloci answers Claude Code's searches in rendered text alone (``--results auto``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import NODE_BIN, require
from fake_anthropic import (
    Block,
    FakeAnthropic,
    Script,
    text,
    tool_names,
    tool_results,
    tool_use,
    tool_uses,
)
from test_claude_code import scratch_env

pytestmark = pytest.mark.timeout(180)

SEARCH = "mcp__codeloci__code_search"
SYMBOLS = "mcp__codeloci__symbol_find"
PREFIX = "mcp__codeloci__"
TOOL_SEARCH = "ToolSearch"
#: name + description + input schema JSON of codeloci's tools as Claude Code sends them to the
#: model, at most (about 4,000 tokens at 4 chars a token; python-orchestrator's test_server
#: checks the same bound on tools/list itself).
TOOLS_MAX_CHARS = 16_000
#: code_search calls per turn while codeloci's start-up index is still being built.
SEARCH_TRIES = 30
SEARCH_PAUSE_S = 1.0
TURN_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def claude() -> str:
    path = NODE_BIN / "claude"
    if not path.exists():
        message = "node_modules/.bin/claude missing: run ./dev setup (npm ci in tests/e2e)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return str(path)


@pytest.fixture(scope="module")
def codeloci_bin(ast_bin: str) -> str:
    return str(Path(require("codeloci")).absolute())


def git(project: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=project,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A small git repository codeloci has never seen; one distinctive function in billing.py."""
    root = (tmp_path / "project").resolve()
    (root / "shop").mkdir(parents=True)
    (root / "README.md").write_text("# shop\n\nA tiny shop used by the end-to-end tests.\n")
    (root / "shop" / "__init__.py").write_text("")
    (root / "shop" / "billing.py").write_text(
        '"""Invoices."""\n\n\n'
        "def reconcile_ledger_quarterly(entries: list[float]) -> float:\n"
        '    """Sum a quarter of ledger entries, refunds included."""\n'
        "    return round(sum(entries), 2)\n"
    )
    (root / "shop" / "cart.py").write_text(
        "class Cart:\n"
        "    def __init__(self) -> None:\n"
        "        self.items: list[str] = []\n\n"
        "    def add(self, item: str) -> None:\n"
        "        self.items.append(item)\n"
    )
    (root / "web.js").write_text(
        "export function renderBanner(title) {\n  return `<h1>${title}</h1>`;\n}\n"
    )
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "initial")
    return root


@pytest.fixture
def mcp_config(tmp_path: Path, codeloci_bin: str) -> Path:
    data = tmp_path / "data"
    path = tmp_path / "mcp.json"
    server = {"type": "stdio", "command": codeloci_bin, "args": ["serve", "--data-dir", str(data)]}
    path.write_text(json.dumps({"mcpServers": {"codeloci": server}}))
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


def search_until_found(
    query: str, expect: str, tool: str = SEARCH, extra: dict[str, Any] | None = None
) -> Script:
    """The model of a turn that searches for ``query`` until an answer names ``expect``
    (with ``tool``, code_search by default, given ``extra`` arguments besides the query).

    codeloci may answer the first calls with an empty result and a note that its index is being
    built; the model then searches again after a pause, at most SEARCH_TRIES times. With code_search
    deferred (tool search on) it first loads it through ToolSearch, once. Other requests (side
    calls that offer neither) get a short text.
    """

    def script(body: dict[str, Any]) -> list[Block]:
        if tool not in tool_names(body):
            loaded = any(u.get("name") == TOOL_SEARCH for u in tool_uses(body))
            if TOOL_SEARCH in tool_names(body) and not loaded:
                return [tool_use(TOOL_SEARCH, {"query": f"select:{tool}", "max_results": 1})]
            return [text("OK.")]
        calls = [u for u in tool_uses(body) if u.get("name") == tool]
        answers = {r.get("tool_use_id"): r["text"] for r in tool_results(body)}
        if calls:
            last = answers.get(calls[-1]["id"], "")
            if expect in last:
                return [text(f"It is in {expect}.")]
            if len(calls) >= SEARCH_TRIES:
                return [text(f"Not found after {len(calls)} searches.")]
            time.sleep(SEARCH_PAUSE_S)
        return [tool_use(tool, {"query": query, "force": True, **(extra or {})})]

    return script


def run_turn(
    claude: str,
    home: Path,
    project: Path,
    mcp_config: Path,
    fake: FakeAnthropic,
    prompt: str,
    *,
    tool_search: bool = False,
    allowed: str = SEARCH,
) -> dict[str, Any]:
    """One ``claude -p`` turn against the fake; Claude Code's JSON result."""
    env = scratch_env(home)
    env.update(
        ANTHROPIC_BASE_URL=fake.base_url,
        ANTHROPIC_API_KEY="test",
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    if not tool_search:
        env["ENABLE_TOOL_SEARCH"] = "false"
    args = [
        claude,
        "-p",
        prompt,
        "--output-format",
        "json",
        "--mcp-config",
        str(mcp_config),
        "--strict-mcp-config",
        "--allowedTools",
        allowed,
    ]
    started = time.monotonic()
    proc = subprocess.run(
        args,
        env=env,
        cwd=project,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TURN_TIMEOUT_S,
    )
    took = time.monotonic() - started
    out = f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert not fake.errors, f"the fake's script failed: {fake.errors}\n{out}"
    assert proc.returncode == 0, f"claude -p exited {proc.returncode} after {took:.1f}s\n{out}"
    result: dict[str, Any] = json.loads(proc.stdout)
    assert result.get("is_error") is False, out
    return result


def search_answers(fake: FakeAnthropic, tool: str = SEARCH) -> list[str]:
    """The text of every ``tool`` (code_search) tool_result Claude Code sent back, in order."""
    bodies = [b for b in fake.messages() if tool in tool_names(b)]
    assert bodies, f"Claude Code never offered the model codeloci's {tool}"
    last = bodies[-1]  # the whole conversation so far
    calls = {u["id"] for u in tool_uses(last) if u.get("name") == tool}
    return [r["text"] for r in tool_results(last) if r.get("tool_use_id") in calls]


def assert_found(fake: FakeAnthropic, result: dict[str, Any], expect: str) -> list[str]:
    answers = search_answers(fake)
    assert answers, f"no code_search tool_result reached the model; result: {result}"
    assert expect in answers[-1], (
        f"code_search never named {expect} in {len(answers)} calls; last answer:\n{answers[-1]}"
    )
    assert not any(r.get("is_error") for r in tool_results(fake.messages()[-1])), answers
    assert result.get("result") == f"It is in {expect}.", result
    return answers


def test_zero_config_first_search_finds_the_file(
    claude: str, home: Path, project: Path, mcp_config: Path
) -> None:
    with FakeAnthropic(search_until_found("reconcile_ledger_quarterly", "shop/billing.py")) as fake:
        result = run_turn(
            claude, home, project, mcp_config, fake, "Where is reconcile_ledger_quarterly?"
        )
    answers = assert_found(fake, result, "shop/billing.py")
    assert "reconcile_ledger_quarterly" in answers[-1]
    # The model reads codeloci's rendered text, not the structured JSON.
    assert "### shop/billing.py:" in answers[-1], answers[-1]
    assert not answers[-1].lstrip().startswith("{"), answers[-1]


def test_edit_then_search_in_a_second_turn_finds_the_new_identifier(
    claude: str, home: Path, project: Path, mcp_config: Path
) -> None:
    with FakeAnthropic(search_until_found("reconcile_ledger_quarterly", "shop/billing.py")) as fake:
        result = run_turn(claude, home, project, mcp_config, fake, "Find the ledger code.")
    assert_found(fake, result, "shop/billing.py")

    # Between the turns the user adds a file; the next turn's codeloci (a new process on the
    # same data dir) reindexes incrementally at start.
    (project / "shop" / "shipping.py").write_text(
        "def estimate_parcel_zonefare(weight_kg: float, zone: int) -> float:\n"
        '    """Postage for a parcel by weight and zone."""\n'
        "    return 3.5 + weight_kg * 1.2 * zone\n"
    )
    with FakeAnthropic(search_until_found("estimate_parcel_zonefare", "shop/shipping.py")) as fake:
        result = run_turn(
            claude, home, project, mcp_config, fake, "Where is estimate_parcel_zonefare?"
        )
    answers = assert_found(fake, result, "shop/shipping.py")
    assert "estimate_parcel_zonefare" in answers[-1]


def model_facing_chars(tool: dict[str, Any]) -> int:
    """What one tool costs the model: name, description and input schema JSON, in characters."""
    return (
        len(tool["name"])
        + len(tool.get("description") or "")
        + len(json.dumps(tool["input_schema"]))
    )


def test_codeloci_tools_sent_to_the_model_fit_the_token_budget(
    claude: str, home: Path, project: Path, mcp_config: Path
) -> None:
    with FakeAnthropic() as fake:  # every request answered "OK.": one model call
        run_turn(claude, home, project, mcp_config, fake, "Hello.")
    offered = [b["tools"] for b in fake.messages() if SEARCH in tool_names(b)]
    assert offered, "Claude Code never offered the model codeloci's tools"
    ours = [t for t in offered[0] if t["name"].startswith(PREFIX)]
    sizes = sorted(((model_facing_chars(t), t["name"]) for t in ours), reverse=True)
    total = sum(size for size, _ in sizes)
    breakdown = "\n".join(f"  {size:6d} {name}" for size, name in sizes)
    assert total <= TOOLS_MAX_CHARS, (
        f"codeloci's {len(ours)} tools cost the model {total} chars (~{total // 4} tokens), "
        f"over {TOOLS_MAX_CHARS}:\n{breakdown}"
    )


def test_default_tool_search_loads_code_search_then_finds_the_file(
    claude: str, home: Path, project: Path, mcp_config: Path
) -> None:
    """Claude Code's default: codeloci's tools are deferred, the model loads code_search by name
    through ToolSearch and calls it; only that one schema is ever sent."""
    with FakeAnthropic(search_until_found("reconcile_ledger_quarterly", "shop/billing.py")) as fake:
        result = run_turn(
            claude,
            home,
            project,
            mcp_config,
            fake,
            "Where is reconcile_ledger_quarterly?",
            tool_search=True,
        )
    first = fake.messages()[0]
    assert TOOL_SEARCH in tool_names(first), tool_names(first)
    assert not [n for n in tool_names(first) if n.startswith(PREFIX)], tool_names(first)
    assert SEARCH in json.dumps(first["messages"]), (
        "the deferred tool's name never reached the model"
    )
    sent = {n for b in fake.messages() for n in tool_names(b) if n.startswith(PREFIX)}
    assert sent == {SEARCH}, sent
    answers = assert_found(fake, result, "shop/billing.py")
    assert "reconcile_ledger_quarterly" in answers[-1]
    # The model reads codeloci's rendered text, not the structured JSON.
    assert "### shop/billing.py:" in answers[-1], answers[-1]
    assert not answers[-1].lstrip().startswith("{"), answers[-1]


def test_symbol_find_gives_the_callers_of_a_function(
    claude: str, home: Path, project: Path, mcp_config: Path
) -> None:
    """The model asks symbol_find for the callers of a function; the caller, in another file
    and behind an import alias, comes back as ``path:line caller -> callee``."""
    (project / "shop" / "checkout.py").write_text(
        "from shop.billing import reconcile_ledger_quarterly as reconcile\n\n\n"
        "def close_quarter(entries: list[float]) -> float:\n"
        "    return reconcile(entries)\n"
    )
    expect = "shop/checkout.py:5 close_quarter -> reconcile_ledger_quarterly"
    script = search_until_found(
        "reconcile_ledger_quarterly", expect, tool=SYMBOLS, extra={"refs": "callers"}
    )
    with FakeAnthropic(script) as fake:
        result = run_turn(
            claude,
            home,
            project,
            mcp_config,
            fake,
            "Who calls reconcile_ledger_quarterly?",
            allowed=SYMBOLS,
        )
    answers = search_answers(fake, SYMBOLS)
    assert answers, f"no symbol_find tool_result reached the model; result: {result}"
    assert expect in answers[-1], (len(answers), answers[0], answers[-1])
    # The definition itself heads the answer, as text the model reads.
    assert "shop/billing.py:4-6 reconcile_ledger_quarterly (function)" in answers[-1]
    assert not answers[-1].lstrip().startswith("{"), answers[-1]
    assert result.get("result") == f"It is in {expect}.", result
