"""Shared fixtures. Tests that need the real ``codeloci-ast`` fail when it is missing and the
environment says CI (``CI=true``), and are skipped otherwise."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from backends import BACKENDS, QdrantTarget, qdrant_target

from codeloci.config import find_rust_server
from codeloci.embedder import MiniLMEmbedder

IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}

# Every `codeloci serve` and CLI command a test starts shares a per-user service per data
# directory (codeloci.service); the tests' services stop soon after their clients are gone
# instead of after the default 300 s, so hundreds of test data dirs never pile up services.
os.environ.setdefault("CODELOCI_SERVICE_IDLE", "3")


_TARGET: QdrantTarget | None = None


def _target() -> QdrantTarget:
    global _TARGET
    if _TARGET is None:
        _TARGET = qdrant_target()
    return _TARGET


def pytest_report_header() -> str:
    return f"store backends: embedded (qdrant-edge) and server = {_target().how}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.write_line(f"server store backend ran against: {_target().how}")


def pytest_sessionfinish() -> None:
    if _TARGET is not None:
        _TARGET.stop()


@pytest.fixture(scope="session")
def qdrant() -> QdrantTarget:
    """Where the ``server`` store backend points (see ``tests/backends.py``)."""
    return _target()


@pytest.fixture(params=BACKENDS)
def store_backend(request: pytest.FixtureRequest, qdrant: QdrantTarget) -> str:
    """Each test using it runs once per store backend; a real server starts each test empty."""
    backend = str(request.param)
    if backend == "server":
        qdrant.drop_collections()
    return backend


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture(scope="session")
def rust_server() -> list[str]:
    command = find_rust_server()
    if command is None:
        message = "codeloci-ast not found: build rust-server/ or set CODELOCI_RUST_SERVER"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return command


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(("CODELOCI_", "QDRANT_")):
            monkeypatch.delenv(name)
    yield
