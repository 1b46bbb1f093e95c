"""Shared helpers of the end-to-end tests: real processes, real clients, nothing mocked."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
E2E = Path(__file__).resolve().parent
NODE_BIN = E2E / "node_modules" / ".bin"
FIXTURES = REPO / "rust-server" / "tests" / "fixtures"

# Every `codeloci serve` and CLI command a test starts shares a per-user service per data
# directory (codeloci.service); the tests' services stop soon after their clients are gone
# instead of after the default 300 s, so hundreds of test data dirs never pile up services.
os.environ.setdefault("CODELOCI_SERVICE_IDLE", "3")


def require(path_or_name: str) -> str:
    """The executable, or a failure that says how to install it (never a silent skip in CI)."""
    found = shutil.which(path_or_name) if os.sep not in path_or_name else path_or_name
    if not found or not Path(found).exists():
        pytest.fail(f"{path_or_name} not found: run ./dev setup (it installs every client locally)")
    return found


@pytest.fixture(scope="session")
def ast_bin() -> str:
    return require("codeloci-ast")


@pytest.fixture(scope="session")
def node_bin() -> Path:
    if not NODE_BIN.exists():
        pytest.fail("tests/e2e/node_modules missing: run ./dev setup (npm ci in tests/e2e)")
    return NODE_BIN
