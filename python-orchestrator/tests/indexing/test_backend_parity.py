"""The same repository indexed on the embedded store and on the server backend answers every
search mode with the same ranking: the backends share the fusion code and the query plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeloci.embedder import Embedder
from codeloci.indexing.models import CodeSearchInput
from codeloci.indexing.service import IndexingService

from . import conftest
from .conftest import current_backend, open_service, write_files

pytestmark = pytest.mark.anyio

FILES = {
    "pkg/config.py": conftest.PARSER_PY,
    "src/math.rs": conftest.MATH_RS,
    "web/server.js": conftest.SERVER_JS,
    "pkg/paths.py": '''
        import os


        def config_path(name):
            """Where the configuration file called name lives."""
            return os.path.join(os.path.expanduser("~"), ".config", name)


        def read_lines(path):
            with open(path) as fh:
                return fh.read().splitlines()
        ''',
}
QUERIES = [
    ("read the configuration file into a dict", "hybrid"),
    ("parse_config", "hybrid"),
    ("parse_confg", "hybrid"),
    ("greatest common divisor", "hybrid"),
    ("start an http server on a port", "dense"),
    ("config path home directory", "lexical"),
    ("Matrix.transpose", "hybrid"),
]


async def _answers(service: IndexingService, repo: Path) -> list[list[tuple[str, int, float]]]:
    await service.index_repository(repo)
    out = []
    for query, mode in QUERIES:
        result = service.search(repo, CodeSearchInput(query=query, mode=mode, k=5, force=True))
        out.append([(r.path, r.start_line, r.score) for r in result.results])
    return out


async def test_embedded_and_server_rank_alike(
    tmp_path: Path, rust_server: list[str], embedder: Embedder
) -> None:
    backend, _ = current_backend()
    if backend == "embedded":
        pytest.skip("compares both backends once, from the server run")
    repo = (tmp_path / "repo").resolve()
    write_files(repo, FILES)
    async with open_service(tmp_path / "server", [repo], rust_server, embedder) as service:
        on_server = await _answers(service, repo)
    conftest._BACKEND = ("embedded", conftest.current_backend()[1])
    async with open_service(tmp_path / "embedded", [repo], rust_server, embedder) as service:
        on_embedded = await _answers(service, repo)
    for (query, mode), got, want in zip(QUERIES, on_server, on_embedded, strict=True):
        assert got, f"{query!r} ({mode}) found nothing on the server backend"
        assert [g[:2] for g in got] == [w[:2] for w in want], f"{query!r} ({mode})"
        assert [g[2] for g in got] == pytest.approx([w[2] for w in want], abs=1e-4), query
