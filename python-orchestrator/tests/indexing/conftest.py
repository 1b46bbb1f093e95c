"""Fixtures for the indexing tests: real codeloci-ast, real MiniLM, and each test once on the
embedded Qdrant engine and once on the server backend (see ``tests/backends.py``)."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from backends import QdrantTarget, make_test_store, open_test_store

from codeloci.bridge import RustBridge
from codeloci.config import Settings, project_id_for
from codeloci.embedder import Embedder
from codeloci.indexing.manifest import ManifestPaths
from codeloci.indexing.points import code_filter
from codeloci.indexing.service import IndexingService
from codeloci.memory import memory_collection_spec
from codeloci.store import Hit, MemoryStore

PARSER_PY = '''
"""Configuration helpers."""
import os


def parse_config(path):
    """Read the configuration file at path and return its key/value pairs as a dict."""
    result = {}
    with open(path) as fh:
        for line in fh:
            key, _, value = line.partition("=")
            result[key.strip()] = value.strip()
    return result


def home_directory():
    return os.path.expanduser("~")
'''

MATH_RS = """
/// Greatest common divisor of two numbers by Euclid's algorithm.
pub fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        let t = b;
        b = a % b;
        a = t;
    }
    a
}

pub struct Matrix {
    rows: usize,
    cols: usize,
}

impl Matrix {
    pub fn transpose(&self) -> Matrix {
        Matrix { rows: self.cols, cols: self.rows }
    }
}
"""

SERVER_JS = """
function startHttpServer(port) {
  const http = require("http");
  const server = http.createServer((req, res) => res.end("ok"));
  server.listen(port);
  return server;
}

module.exports = { startHttpServer };
"""

BASIC_REPO = {"pkg/config.py": PARSER_PY, "src/math.rs": MATH_RS, "web/server.js": SERVER_JS}


def write_files(root: Path, files: Mapping[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = (tmp_path / "repo").resolve()
    root.mkdir()
    write_files(root, BASIC_REPO)
    return root


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


#: The store backend of the test running now (set by the autouse fixture below).
_BACKEND: tuple[str, QdrantTarget] | None = None


@pytest.fixture(autouse=True)
def _every_backend(store_backend: str, qdrant: QdrantTarget) -> Iterator[None]:
    """Every code-indexing test runs on the embedded store and on the server backend."""
    global _BACKEND
    _BACKEND = (store_backend, qdrant)
    yield
    _BACKEND = None


def current_backend() -> tuple[str, QdrantTarget]:
    assert _BACKEND is not None, "only inside a test"
    return _BACKEND


def needs_shared_store() -> None:
    """Skip on the server backend in local mode, whose data one process holds alone."""
    backend, target = current_backend()
    if backend == "server" and not target.real:
        pytest.skip("needs a Qdrant server shared by several processes (set QDRANT_BIN)")


def store_env(data_dir: Path) -> dict[str, str]:
    """Environment for a codeloci process using this test's store."""
    backend, target = current_backend()
    env = {"CODELOCI_DATA_DIR": str(data_dir)}
    if backend == "server":
        env.update(target.env())
    return env


def store_opener(data_dir: Path) -> Callable[[Settings, Embedder], MemoryStore]:
    """An ``app_context`` store opener for this test's backend, with its data at ``data_dir``."""
    backend, target = current_backend()

    def open_(settings: Settings, embedder: Embedder) -> MemoryStore:
        spec = memory_collection_spec(embedder)
        return make_test_store(backend, target, data_dir, spec)

    return open_


@contextmanager
def open_test_store_now(data_dir: Path, embedder: Embedder) -> Iterator[MemoryStore]:
    backend, target = current_backend()
    with open_test_store(backend, target, data_dir, memory_collection_spec(embedder)) as store:
        yield store


@asynccontextmanager
async def open_service(
    data_dir: Path, roots: list[Path], rust_server: list[str], embedder: Embedder
) -> AsyncIterator[IndexingService]:
    with open_test_store_now(data_dir, embedder) as store:
        async with RustBridge(rust_server, roots) as bridge:
            service = IndexingService(store, embedder, bridge, data_dir)
            try:
                yield service
            finally:
                service.close()


def all_points(store: MemoryStore, root: Path) -> list[Hit]:
    hits: list[Hit] = []
    offset: str | None = None
    while True:
        page, offset = store.scroll(flt=code_filter(project_id_for(root)), limit=256, offset=offset)
        hits.extend(page)
        if offset is None:
            return hits


def symbols_by_path(store: MemoryStore, root: Path) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for hit in all_points(store, root):
        out.setdefault(hit.payload["path"], set()).add(hit.payload.get("symbol") or "")
    return out


def assert_consistent(store: MemoryStore, data_dir: Path, root: Path) -> None:
    """No orphan, no duplicate: the store holds exactly the manifest's points, every point's
    file exists with the indexed content, and every indexed file on disk has its points."""
    points = all_points(store, root)
    manifest = ManifestPaths.under(data_dir, project_id_for(root)).load()
    assert manifest is not None
    ids = [h.id for h in points]
    assert len(ids) == len(set(ids))
    manifest_ids = {i for r in manifest.files.values() for i in r.chunks}
    assert set(ids) == manifest_ids
    per_file: dict[str, list[dict[str, Any]]] = {}
    for hit in points:
        per_file.setdefault(hit.payload["path"], []).append(hit.payload)
    assert set(per_file) == set(manifest.files)
    for path, payloads in per_file.items():
        text = (root / path).read_text()
        payloads.sort(key=lambda p: p["chunk_index"])
        assert "".join(p["content"] for p in payloads) == text, path
    assert not ManifestPaths.under(data_dir, project_id_for(root)).dirty
