"""Shared fixtures. Tests that need the real ``codeloci-ast`` fail when it is missing and the
environment says CI (``CI=true``), and are skipped otherwise."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from codeloci.config import find_rust_server
from codeloci.embedder import MiniLMEmbedder

IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


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
