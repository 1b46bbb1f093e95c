"""The per-user service, driven as users drive it: ``codeloci serve`` sessions over real stdio,
CLI commands, several at once, with the real service process, store, embedder and
``codeloci-ast``; kill -9 where a crash would hurt."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from helpers import INITIALIZE, RawStdio, serve_args

from codeloci.config import Settings
from codeloci.service.client import service_running
from codeloci.service.paths import ServicePaths

pytestmark = pytest.mark.timeout(300)

#: Idle seconds of the services these tests start (short, so the idle stop is seen quickly).
IDLE = "2"


def env(**extra: str) -> dict[str, str]:
    return {"CODELOCI_SERVICE_IDLE": IDLE, "CODELOCI_GATE_ENABLED": "0", **extra}


def paths_of(data: Path) -> ServicePaths:
    settings = Settings(data_dir=data, project_root=data, rust_server=None)
    return ServicePaths.for_settings(settings)


def service_pid(data: Path) -> int | None:
    paths = paths_of(data)
    return paths.read_pid() if service_running(paths) else None


def wait_until(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"not true within {timeout} s: {predicate}")


def codeloci(
    data: Path, cwd: Path, rust: list[str], *args: str
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "codeloci", *args[:1], "--data-dir", str(data)]
    command += ["--rust-server", shlex.join(rust), *args[1:]]
    return subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, **env()},
    )


class Session:
    """A ``codeloci serve`` session spoken to by hand."""

    def __init__(
        self, data: Path, project: Path, rust: list[str], session_id: str, *, quiet: bool = True
    ) -> None:
        extra = ("--no-index", "--no-watch") if quiet else ()
        command = [sys.executable, *serve_args(data, project, rust, *extra)]
        command += ["--session-id", session_id]
        self.raw = RawStdio(command, project, env())
        self._ids = iter(range(100, 10**6))
        self.raw.send(INITIALIZE)
        assert "result" in self.raw.receive(1)
        self.raw.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def call(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        ident = next(self._ids)
        params = {"name": name, "arguments": arguments}
        self.raw.send({"jsonrpc": "2.0", "id": ident, "method": "tools/call", "params": params})
        answer = self.raw.receive(ident)
        assert "result" in answer, answer
        result: dict[str, Any] = answer["result"]
        return result

    def ok(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = self.call(name, arguments)
        assert not result.get("isError"), result
        structured: dict[str, Any] = result["structuredContent"]
        return structured

    def close(self) -> str:
        return self.raw.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


@pytest.fixture
def data(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "data"
    yield path
    pid = service_pid(path)
    if pid is not None:
        os.kill(pid, signal.SIGKILL)


def repo(tmp_path: Path, name: str, body: str) -> Path:
    root = tmp_path / name
    (root / ".git").mkdir(parents=True)
    (root / "main.py").write_text(body)
    return root.resolve()


def test_sessions_in_two_repositories_share_one_service_and_their_memories(
    tmp_path: Path, data: Path, rust_server: list[str]
) -> None:
    one = repo(tmp_path, "one", "def alpha_reconciler():\n    return 1\n")
    two = repo(tmp_path, "two", "def beta_dispatcher():\n    return 2\n")
    with (
        Session(data, one, rust_server, "session-a") as a,
        Session(data, two, rust_server, "session-b") as b,
        Session(data, one, rust_server, "session-c") as c,
    ):
        pid = service_pid(data)
        assert pid is not None
        a.ok("memory_store", {"content": "Prefers tabs over spaces", "level": "USER_PREFERENCE"})
        a.ok("memory_store", {"content": "A is halfway through billing", "level": "SESSION_STATE"})
        b.ok("memory_store", {"content": "B is migrating the dispatcher", "level": "SESSION_STATE"})
        a.ok("memory_store", {"content": "Project one uses pytest", "level": "PROJECT_CONTEXT"})
        # a preference stored in one session is seen by the others at once, in any repository
        for s in (b, c):
            found = s.ok("retrieve_preferences", {"query": "tabs or spaces"})
            assert [r["content"] for r in found["results"]] == ["Prefers tabs over spaces"]
        # session state stays with its session
        assert [r["content"] for r in a.ok("retrieve_session_state", {})["results"]] == [
            "A is halfway through billing"
        ]
        assert [r["content"] for r in b.ok("retrieve_session_state", {})["results"]] == [
            "B is migrating the dispatcher"
        ]
        assert c.ok("retrieve_session_state", {})["results"] == []
        # project facts stay with their repository
        assert [r["content"] for r in c.ok("retrieve_project_facts", {})["results"]] == [
            "Project one uses pytest"
        ]
        assert b.ok("retrieve_project_facts", {})["results"] == []
        # code search and the proxied Rust tools work per repository
        a.ok("index_repository", {"wait_for_embedding": False})
        b.ok("index_repository", {"wait_for_embedding": False})
        hits = c.ok("code_search", {"query": "alpha_reconciler", "mode": "lexical"})["results"]
        assert hits and hits[0]["path"] == "main.py" and "alpha_reconciler" in hits[0]["content"]
        hits = b.ok("code_search", {"query": "beta_dispatcher", "mode": "lexical"})["results"]
        assert hits and "beta_dispatcher" in hits[0]["content"]
        parsed = b.ok("parse", {"path": "main.py"})
        assert "beta_dispatcher" in json.dumps(parsed)
        # one service served all three
        assert service_pid(data) == pid


def test_cli_index_and_find_work_while_a_session_runs(
    tmp_path: Path, data: Path, rust_server: list[str]
) -> None:
    one = repo(tmp_path, "one", "def gamma_ledger_sum(xs):\n    return sum(xs)\n")
    with Session(data, one, rust_server, "s") as session:
        session.ok("memory_store", {"content": "noted", "level": "PROJECT_CONTEXT"})
        done = codeloci(data, one, rust_server, "index", ".", "--no-embed")
        assert done.returncode == 0, done.stderr
        assert "1 files (1 added" in done.stderr, done.stderr
        found = codeloci(data, one, rust_server, "find", "gamma_ledger_sum", "--mode", "lexical")
        assert found.returncode == 0, found.stderr
        assert "main.py:1-2" in found.stdout and "gamma_ledger_sum" in found.stdout, found.stdout
        # the session sees what the CLI indexed
        hits = session.ok("code_search", {"query": "gamma_ledger_sum", "mode": "lexical"})
        assert hits["results"][0]["path"] == "main.py"


def test_five_concurrent_first_starts_leave_one_service(
    tmp_path: Path, data: Path, rust_server: list[str]
) -> None:
    one = repo(tmp_path, "one", "x = 1\n")
    with ThreadPoolExecutor(5) as pool:
        runs = list(
            pool.map(
                lambda _: codeloci(data, one, rust_server, "find", "x", "--mode", "lexical"),
                range(5),
            )
        )
    assert [r.returncode for r in runs] == [0] * 5, [r.stderr for r in runs]
    log = paths_of(data).log.read_text()
    assert log.count("codeloci service 0.") == 1, log  # one service started, once
    assert log.count("another codeloci service holds") == 0, log


def test_idle_service_stops_and_the_next_use_starts_it_again(
    tmp_path: Path, data: Path, rust_server: list[str]
) -> None:
    one = repo(tmp_path, "one", "def delta():\n    pass\n")
    first = codeloci(data, one, rust_server, "index", ".", "--no-embed")
    assert first.returncode == 0, first.stderr
    pid = service_pid(data)
    assert pid is not None
    # no client lives any more: it stops after IDLE seconds
    wait_until(lambda: service_pid(data) is None, timeout=30)
    status = codeloci(data, one, rust_server, "service", "status")
    assert status.returncode == 3 and "not running" in status.stdout
    again = codeloci(data, one, rust_server, "find", "delta", "--mode", "lexical")
    assert again.returncode == 0 and "delta" in again.stdout, again.stderr
    new = service_pid(data)
    assert new is not None and new != pid


def test_a_session_keeps_the_service_up_while_it_lives(
    tmp_path: Path, data: Path, rust_server: list[str]
) -> None:
    one = repo(tmp_path, "one", "x = 1\n")
    with Session(data, one, rust_server, "s") as session:
        session.ok("memory_list", {})
        pid = service_pid(data)
        time.sleep(float(IDLE) * 3)
        assert service_pid(data) == pid
    wait_until(lambda: service_pid(data) is None, timeout=30)


def test_service_stop_then_a_session_continues_after_a_restart(
    tmp_path: Path, data: Path, rust_server: list[str]
) -> None:
    one = repo(tmp_path, "one", "x = 1\n")
    with Session(data, one, rust_server, "s") as session:
        session.ok("memory_store", {"content": "kept across restarts", "level": "SESSION_STATE"})
        stop = codeloci(data, one, rust_server, "service", "stop")
        assert stop.returncode == 0 and "stopped" in stop.stdout, stop
        assert service_pid(data) is None
        # the session's next call starts the service again; its SESSION_STATE is still its own
        found = session.ok("retrieve_session_state", {})
        assert [r["content"] for r in found["results"]] == ["kept across restarts"]


def test_kill_9_of_the_service_mid_store_loses_no_acknowledged_write(
    tmp_path: Path, data: Path, rust_server: list[str]
) -> None:
    one = repo(tmp_path, "one", "x = 1\n")
    acknowledged: list[str] = []
    failed: list[str] = []
    with Session(data, one, rust_server, "s") as session:
        for n in range(40):
            if n == 15:
                pid = service_pid(data)
                assert pid is not None
                os.kill(pid, signal.SIGKILL)
                wait_until(lambda: service_pid(data) is None)  # dead between two stores
            if n == 30:  # and once while a store may be running
                pid = service_pid(data)
                assert pid is not None
                killer = threading.Timer(0.001, os.kill, (pid, signal.SIGKILL))
                killer.start()
            result = session.call(
                "memory_store", {"content": f"fact number {n}", "level": "PROJECT_CONTEXT"}
            )
            if result.get("isError"):
                text = result["content"][0]["text"]
                failed.append(f"{n}: {text}")
                assert "stopped while handling this request" in text or "unavailable" in text
            else:
                acknowledged.append(result["structuredContent"]["id"])
        listed = session.ok("memory_list", {"levels": ["PROJECT_CONTEXT"], "limit": 100})
    ids = [m["id"] for m in listed["results"]]
    assert len(ids) == len(set(ids)), "a memory is stored twice"
    assert set(acknowledged) <= set(ids), "an acknowledged write was lost"
    # a kill costs at most the store it caught in flight (which says so): two kills, two
    assert len(failed) <= 2 and len(acknowledged) + len(failed) == 40, failed


def test_kill_9_of_the_service_mid_index_then_index_again_converges(
    tmp_path: Path, data: Path, rust_server: list[str]
) -> None:
    root = tmp_path / "big"
    (root / ".git").mkdir(parents=True)
    for i in range(400):
        body = "".join(f"def f{i}_{j}(x):\n    return x + {j}\n\n\n" for j in range(20))
        (root / f"m{i}.py").write_text(body)
    command = [sys.executable, "-m", "codeloci", "index", str(root), "--no-embed"]
    command += ["--data-dir", str(data), "--rust-server", shlex.join(rust_server)]
    proc = subprocess.Popen(
        command, stderr=subprocess.PIPE, text=True, env={**os.environ, **env()}, cwd=root
    )
    assert proc.stderr is not None
    for line in proc.stderr:  # progress arrives from the service: kill it mid-run
        if "chunked" in line and "/400 chunked" in line and " 0/400" not in line:
            break
    pid = service_pid(data)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert proc.wait(timeout=120) != 0
    again = codeloci(data, root, rust_server, "index", str(root), "--no-embed", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["files"] == 400
    # the same repository indexed once, uninterrupted, elsewhere: what the index must hold
    clean = tmp_path / "clean"
    reference = codeloci(clean, root, rust_server, "index", str(root), "--no-embed", "--json")
    assert reference.returncode == 0, reference.stderr
    expected = json.loads(reference.stdout)["chunks_written"]
    with Session(data, root.resolve(), rust_server, "s") as session:
        status = session.ok("index_status", {})
    # every chunk once: no duplicates, no orphans of the killed run
    assert (status["files"], status["chunks"]) == (400, expected), status
    assert session_search_count(data, root, rust_server, "f399_19") == 1
    other = service_pid(clean)
    if other is not None:
        os.kill(other, signal.SIGKILL)


def session_search_count(data: Path, root: Path, rust: list[str], name: str) -> int:
    found = codeloci(data, root, rust, "find", name, "--mode", "lexical", "--json", "-k", "50")
    assert found.returncode == 0, found.stderr
    results = json.loads(found.stdout)["results"]
    return sum(1 for r in results if f"def {name}(" in r["content"])


def test_another_user_cannot_reach_the_service(
    tmp_path: Path, data: Path, rust_server: list[str]
) -> None:
    if os.getuid() != 0:
        pytest.skip("needs root to act as another user")
    one = repo(tmp_path, "one", "x = 1\n")
    with Session(data, one, rust_server, "s") as session:
        session.ok("memory_list", {})
        sock = str(paths_of(data).socket)
        nobody = 65534
        child = os.fork()
        if child == 0:  # as another user: connecting must be refused
            code = 3
            try:
                os.setgroups([])
                os.setgid(nobody)
                os.setuid(nobody)
                probe = socket.socket(socket.AF_UNIX)
                try:
                    probe.connect(sock)
                    code = 1
                except PermissionError:
                    code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0, "another user reached the service"
        mode = paths_of(data).directory.stat().st_mode & 0o777
        assert mode == 0o700


def test_a_service_directory_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    if os.getuid() != 0:
        pytest.skip("needs root to make a directory another user owns")
    data = tmp_path / "data"
    directory = paths_of(data).directory
    directory.mkdir(parents=True)
    os.chown(directory, 65534, 65534)
    from codeloci.service.paths import UnsafeServiceDir

    with pytest.raises(UnsafeServiceDir, match="belongs to uid 65534"):
        paths_of(data).prepare()


def test_a_thin_session_holds_no_store_and_no_model(
    tmp_path: Path, data: Path, rust_server: list[str]
) -> None:
    one = repo(tmp_path, "one", "x = 1\n")
    with Session(data, one, rust_server, "s") as session:
        session.ok("memory_store", {"content": "loaded the model", "level": "PROJECT_CONTEXT"})
        status = Path(f"/proc/{session.raw.proc.pid}/status").read_text()
        rss = next(line for line in status.splitlines() if line.startswith("VmRSS"))
        rss_kb = int(rss.split()[1])
        assert rss_kb < 80 * 1024, f"codeloci serve uses {rss_kb // 1024} MB"
        maps = Path(f"/proc/{session.raw.proc.pid}/maps").read_text()
        assert "onnxruntime" not in maps and "qdrant" not in maps


def test_one_index_run_at_a_time_per_repository(
    tmp_path: Path, data: Path, rust_server: list[str]
) -> None:
    one = repo(tmp_path, "one", "def epsilon_rate():\n    return 5\n")
    for i in range(150):
        (one / f"mod{i}.py").write_text(
            "".join(f"def f{i}_{j}():\n    return {j}\n\n\n" for j in range(30))
        )
    arguments = {"wait_for_embedding": False}
    with Session(data, one, rust_server, "a") as a, Session(data, one, rust_server, "b") as b:
        # two index calls at once from two sessions: one run, both answered with its report
        with ThreadPoolExecutor(2) as pool:
            reports = list(pool.map(lambda s: s.ok("index_repository", arguments), (a, b)))
    assert reports[0]["seconds"] == reports[1]["seconds"], reports
    assert reports[0]["added"] == 151


def test_one_watcher_per_root_however_many_sessions_watch_it(
    tmp_path: Path, data: Path, rust_server: list[str]
) -> None:
    one = repo(tmp_path, "one", "def epsilon_rate():\n    return 5\n")
    with (
        Session(data, one, rust_server, "a", quiet=False) as a,
        Session(data, one, rust_server, "b", quiet=False) as b,
    ):
        a.ok("memory_list", {})
        b.ok("memory_list", {})
        # an edit is picked up by the root's watcher
        (one / "late.py").write_text("def zeta_late_arrival():\n    pass\n")
        wait_until(
            lambda: bool(
                b.ok("code_search", {"query": "zeta_late_arrival", "mode": "lexical"})["results"]
            ),
            timeout=60,
        )
    log = paths_of(data).log.read_text()
    assert log.count(f"watching {one}") == 1, log


def test_a_service_running_other_code_is_replaced_by_the_next_start(
    tmp_path: Path, data: Path, rust_server: list[str]
) -> None:
    one = repo(tmp_path, "one", "def eta():\n    pass\n")
    first = codeloci(data, one, rust_server, "find", "eta", "--mode", "lexical")
    assert first.returncode == 0, first.stderr
    old = service_pid(data)
    assert old is not None
    pid_file = paths_of(data).pid_file
    pid, version, _key = pid_file.read_text().split()
    pid_file.write_text(f"{pid} {version} built-from-other-code\n")  # as after an upgrade
    again = codeloci(data, one, rust_server, "find", "eta", "--mode", "lexical")
    assert again.returncode == 0, again.stderr
    assert "runs other code: replacing it" in again.stderr
    new = service_pid(data)
    assert new is not None and new != old


def test_doctor_beside_a_session_reports_the_service_and_its_store(
    tmp_path: Path, data: Path, rust_server: list[str]
) -> None:
    one = repo(tmp_path, "one", "x = 1\n")
    with Session(data, one, rust_server, "s") as session:
        session.ok("memory_list", {})
        pid = service_pid(data)
        doctor = codeloci(data, one, rust_server, "doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert f"[ok] service: running, pid {pid}" in doctor.stdout, doctor.stdout
    assert f"[ok] store: open in the codeloci service (pid {pid})" in doctor.stdout, doctor.stdout
