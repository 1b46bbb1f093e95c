"""``codeloci serve --http``: only who belongs gets in (real server, real HTTP over loopback).

A foreign Origin gets 403 and a foreign Host 421 (the SDK's code for it); with a token file, a
request without the token or with a wrong one gets 401 and the real MCP client initializes with
it; a non-loopback bind without a token and a token file others can read are refused at start.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import anyio
import httpx2
import pytest
from helpers import INITIALIZE, serve_args
from mcp.shared.exceptions import MCPError

from codeloci.http_auth import (
    UNAUTHORIZED_BODY,
    BadOriginError,
    HttpAccess,
    NoTokenError,
    is_loopback_host,
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "a.py").write_text("def f():\n    return 1\n")
    return root


def _env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CODELOCI_", "QDRANT_"))}
    env.update(extra or {})
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _serving(
    tmp_path: Path, project: Path, *extra: str, env: Mapping[str, str] | None = None
) -> Iterator[str]:
    """A real ``codeloci serve --http 127.0.0.1:PORT``; yields its MCP URL once it accepts."""
    port = _free_port()
    # ``--http HOST:PORT`` in ``extra`` gets the free port; otherwise loopback is served.
    http = [] if "--http" in extra else ["--http", f"127.0.0.1:{port}"]
    extra = tuple(a.replace(":PORT", f":{port}") for a in extra)
    proc = subprocess.Popen(
        [sys.executable, *serve_args(tmp_path / "data", project, None, *http, *extra)],
        cwd=project,
        env=_env(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None:
                    err = proc.stderr.read().decode() if proc.stderr else ""
                    pytest.fail(f"codeloci serve exited {proc.returncode}: {err}")
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _post(url: str, headers: Mapping[str, str] | None = None) -> httpx2.Response:
    """POST an ``initialize`` with exactly these extra headers (Host may be overridden)."""
    base = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    with httpx2.Client(timeout=30) as client:
        return client.post(url, content=json.dumps(INITIALIZE), headers={**base, **(headers or {})})


def _token_file(tmp_path: Path, token: str, mode: int) -> Path:
    path = tmp_path / f"token-{mode:o}"
    path.write_text(f"  {token}\n")
    path.chmod(mode)
    return path


def _refused_at_start(tmp_path: Path, project: Path, *extra: str, env: dict[str, str]) -> str:
    proc = subprocess.run(
        [sys.executable, *serve_args(tmp_path / "data", project, None, *extra)],
        cwd=project,
        env=_env(env),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode != 0, proc.stderr
    return proc.stderr


def test_foreign_origins_and_hosts_are_refused(tmp_path: Path, project: Path) -> None:
    with _serving(tmp_path, project, "--allow-origin", "https://app.example") as url:
        port = url.rsplit(":", 1)[1].split("/")[0]
        evil = _post(url, {"Origin": "http://evil.example"})
        assert evil.status_code == 403, evil.text
        assert "Origin" in evil.text
        assert _post(url, {"Origin": "http://localhost.evil.example:8080"}).status_code == 403
        assert _post(url, {"Origin": "https://app.example:8443"}).status_code == 403
        assert _post(url, {"Origin": "null"}).status_code == 403

        rebound = _post(url, {"Host": f"evil.example:{port}"})
        assert rebound.status_code == 421, rebound.text
        assert "Host" in rebound.text

        for origin in (
            None,
            "http://localhost:5173",
            "http://127.0.0.1",
            "https://[::1]:8443",
            "https://app.example",
        ):
            answer = _post(url, {"Origin": origin} if origin else {})
            assert answer.status_code == 200, (origin, answer.text)
            assert "codeloci" in answer.text
        assert _post(url, {"Host": f"localhost:{port}"}).status_code == 200


def test_with_a_token_file_every_request_needs_the_bearer_token(
    tmp_path: Path, project: Path
) -> None:
    token = _token_file(tmp_path, "tok-3f9a", 0o600)
    with _serving(tmp_path, project, "--auth-token-file", str(token)) as url:
        missing = _post(url)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"].startswith("Bearer")
        assert missing.text == UNAUTHORIZED_BODY
        assert "Authorization: Bearer <token>" in missing.text
        wrong = _post(url, {"Authorization": "Bearer tok-3f9b"})
        assert wrong.status_code == 401
        assert 'error="invalid_token"' in wrong.headers["www-authenticate"]
        assert "tok-3f9" not in wrong.text
        assert _post(url, {"Authorization": "Bearer tok-3f9"}).status_code == 401
        assert _post(url, {"Authorization": "Basic dG9rLTNmOWE="}).status_code == 401
        # The Origin is checked first: a foreign page gets 403 even with the token.
        foreign = _post(url, {"Authorization": "Bearer tok-3f9a", "Origin": "http://evil.example"})
        assert foreign.status_code == 403
        assert _post(url, {"Authorization": "Bearer tok-3f9a"}).status_code == 200

        async def initialize(headers: dict[str, str] | None) -> str:
            from mcp import ClientSession
            from mcp.client.streamable_http import streamable_http_client
            from mcp.shared._httpx_utils import create_mcp_http_client

            async with (
                create_mcp_http_client(headers=headers) as http,
                streamable_http_client(url, http_client=http) as (read, write),
                ClientSession(read, write) as session,
            ):
                with anyio.fail_after(60):
                    result = await session.initialize()
                    tools = await session.list_tools()
                assert {"scan", "memory_store"} <= {t.name for t in tools.tools}
                return result.server_info.name

        assert anyio.run(initialize, {"Authorization": "Bearer tok-3f9a"}) == "codeloci"
        # Without the token the client's initialize fails (the SDK reports the 401 as an error).
        with pytest.raises(ExceptionGroup) as refused:
            anyio.run(initialize, None)
        assert refused.group_contains(MCPError, match="error response", depth=None), refused


def test_a_wildcard_bind_with_a_token_from_the_environment_serves(
    tmp_path: Path, project: Path
) -> None:
    token = _token_file(tmp_path, "env-token", 0o400)
    with _serving(
        tmp_path, project, "--http", "0.0.0.0:PORT", env={"CODELOCI_AUTH_TOKEN_FILE": str(token)}
    ) as url:
        port = url.rsplit(":", 1)[1].split("/")[0]
        auth = {"Authorization": "Bearer env-token"}
        assert _post(url).status_code == 401
        # No one name to check on a wildcard bind: the Host passes; the Origin still is checked.
        assert _post(url, {**auth, "Host": f"codeloci.lan:{port}"}).status_code == 200
        assert _post(url, {**auth, "Origin": "http://evil.example"}).status_code == 403


def test_unsafe_http_setups_are_refused_at_start_saying_how_to_fix_them(
    tmp_path: Path, project: Path
) -> None:
    err = _refused_at_start(tmp_path, project, "--http", "0.0.0.0:0", env={})
    assert "without a token" in err and "--auth-token-file" in err, err
    assert "head -c 32 /dev/urandom | base64" in err

    open_file = _token_file(tmp_path, "tok", 0o644)
    err = _refused_at_start(
        tmp_path, project, "--http", "127.0.0.1:0", "--auth-token-file", str(open_file), env={}
    )
    assert str(open_file) in err and "0644" in err, err
    assert f"chmod 600 {open_file}" in err
    err = _refused_at_start(
        tmp_path,
        project,
        "--http",
        "127.0.0.1:0",
        env={"CODELOCI_AUTH_TOKEN_FILE": str(open_file)},
    )
    assert "chmod 600" in err, err

    empty = _token_file(tmp_path, " ", 0o600)
    err = _refused_at_start(
        tmp_path, project, "--http", "127.0.0.1:0", "--auth-token-file", str(empty), env={}
    )
    assert "is empty" in err and str(empty) in err, err

    missing = tmp_path / "missing"
    err = _refused_at_start(
        tmp_path, project, "--http", "127.0.0.1:0", "--auth-token-file", str(missing), env={}
    )
    assert "cannot read the auth token file" in err and "head -c 32" in err, err

    err = _refused_at_start(
        tmp_path, project, "--http", "127.0.0.1:0", "--allow-origin", "evil.example", env={}
    )
    assert "--allow-origin 'evil.example' is not an origin" in err, err


def test_loopback_and_origin_rules() -> None:
    for host in ("localhost", "127.0.0.1", "127.8.0.1", "::1", "[::1]"):
        assert is_loopback_host(host), host
    for host in ("0.0.0.0", "::", "192.168.1.5", "localhost.evil.example", "example.com"):
        assert not is_loopback_host(host), host
    with pytest.raises(NoTokenError, match="--auth-token-file"):
        HttpAccess.for_bind("192.168.1.5", None)
    with pytest.raises(BadOriginError, match="not an origin"):
        HttpAccess.for_bind("127.0.0.1", None, ("http://dev.example/path",))
    access = HttpAccess.for_bind("127.0.0.1", None, ("http://dev.example:*",))
    assert access.origin_allowed(None)
    assert access.origin_allowed("http://dev.example:3000")
    assert not access.origin_allowed("https://dev.example:3000")
    assert not access.origin_allowed("http://evil.example")
    assert not access.origin_allowed("not an origin")
    security = access.transport_security()
    assert security.enable_dns_rebinding_protection
    assert "localhost:*" in security.allowed_hosts
