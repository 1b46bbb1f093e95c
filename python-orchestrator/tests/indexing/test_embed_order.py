"""The order pending chunks get their dense vectors: what was just changed first, definitions
before the code between them, so search by meaning helps before embedding has finished."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from codeloci.config import project_id_for
from codeloci.embedder import Embedder, MiniLMEmbedder
from codeloci.indexing import pipeline
from codeloci.indexing.models import CodeSearchInput
from codeloci.indexing.points import code_filter
from codeloci.indexing.progress import IndexProgress
from codeloci.indexing.service import IndexingService
from codeloci.indexing.text import dense_text
from codeloci.store import DENSE_VECTOR, with_vector

from .conftest import all_points, open_service

pytestmark = pytest.mark.anyio

EDITED = '''
def rotate_log_files(directory, keep):
    """Delete the oldest log files in directory so that only keep of them remain."""
    logs = sorted(p for p in directory.iterdir() if p.suffix == ".log")
    for old in logs[:-keep]:
        old.unlink()
'''


def _embedded(service: IndexingService, repo: Path) -> list[tuple[str, str | None, str]]:
    """(path, symbol, chunk kind) of every chunk that has its dense vector."""
    flt = with_vector(code_filter(project_id_for(repo.resolve())), DENSE_VECTOR, True)
    return [
        (str(h.payload["path"]), h.payload.get("symbol"), str(h.payload["chunk_kind"]))
        for h in service.store.scroll_all(flt)
    ]


def _embed_batches(service: IndexingService, repo: Path, batches: int) -> int:
    """Runs embed_pending for ``batches`` batches (of one chunk each), then stops it."""
    stop = threading.Event()

    def progress(state: IndexProgress) -> None:
        if state.embedded >= batches:
            stop.set()

    return service.index.embed_pending(repo, progress, stop=stop)


@pytest.fixture
def one_chunk_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "EMBED_BATCH", 1)


@pytest.fixture
def no_background_embedding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(IndexingService, "embed_in_background", lambda self, root: None)


@pytest.mark.usefixtures("one_chunk_batches", "no_background_embedding")
async def test_definitions_get_their_vectors_before_the_code_between_them(
    repo: Path, data_dir: Path, rust_server: list[str], embedder: Embedder
) -> None:
    async with open_service(data_dir, [repo], rust_server, embedder) as service:
        await service.index_repository(repo, wait_for_embedding=False)
        points = all_points(service.store, repo)
        gaps = [h for h in points if h.payload["chunk_kind"] == "code"]
        assert gaps and len(gaps) < len(points)
        definitions = len(points) - len(gaps)

        assert _embed_batches(service, repo, definitions) == definitions
        embedded = _embedded(service, repo)
        assert len(embedded) == definitions
        assert all(kind != "code" for _, _, kind in embedded)
        # a question in words already finds the function by meaning alone
        found = service.search(
            repo, CodeSearchInput(query="read the settings file into a dict", mode="dense", k=3)
        )
        assert "parse_config" in [r.symbol for r in found.results]
        assert service.status(repo).pending == len(gaps)

        # the rest follows: every chunk ends with a vector
        assert service.index.embed_pending(repo) == len(gaps)
        assert service.status(repo).pending == 0


@pytest.mark.usefixtures("one_chunk_batches", "no_background_embedding")
async def test_a_file_changed_during_a_backlog_is_embedded_first(
    repo: Path, data_dir: Path, rust_server: list[str], embedder: Embedder
) -> None:
    async with open_service(data_dir, [repo], rust_server, embedder) as service:
        await service.index_repository(repo, wait_for_embedding=False)
        backlog = service.status(repo).pending
        assert backlog > 1
        (repo / "ops").mkdir()
        (repo / "ops/logs.py").write_text(EDITED)
        await service.index_repository(repo, wait_for_embedding=False)
        assert service.status(repo).pending == backlog + 1

        assert _embed_batches(service, repo, 1) == 1
        assert _embedded(service, repo) == [("ops/logs.py", "rotate_log_files", "function")]
        found = service.search(
            repo, CodeSearchInput(query="remove old log files", mode="dense", k=1)
        )
        assert [r.symbol for r in found.results] == ["rotate_log_files"]


@pytest.mark.usefixtures("one_chunk_batches", "no_background_embedding")
async def test_store_order_embeds_the_same_chunks(
    repo: Path, data_dir: Path, rust_server: list[str], embedder: Embedder
) -> None:
    async with open_service(data_dir, [repo], rust_server, embedder) as service:
        await service.index_repository(repo, wait_for_embedding=False)
        chunks = service.status(repo).chunks
        assert service.index.embed_pending(repo, ordered=False) == chunks
        assert service.status(repo).pending == 0


@pytest.mark.usefixtures("no_background_embedding")
async def test_an_edit_reembeds_only_what_changed(
    repo: Path, data_dir: Path, rust_server: list[str]
) -> None:
    embedder = MiniLMEmbedder()
    async with open_service(data_dir, [repo], rust_server, embedder) as service:
        await service.index_repository(repo)
        before = embedder.texts_embedded
        path = repo / "pkg/config.py"
        path.write_text(path.read_text().replace('"~"', '"~/settings"'))
        await service.index_repository(repo)  # every chunk of the file is written again
        assert service.status(repo).pending == 0
        # the file's chunks all have vectors again, but only the edited one ran the model
        assert embedder.texts_embedded - before == 1
        found = service.search(
            repo, CodeSearchInput(query="read the settings file into a dict", mode="dense", k=3)
        )
        assert "parse_config" in [r.symbol for r in found.results]


@pytest.mark.usefixtures("no_background_embedding")
async def test_a_chunk_not_embedded_yet_keeps_its_lexical_place_in_hybrid_search(
    repo: Path, data_dir: Path, rust_server: list[str], embedder: Embedder
) -> None:
    async with open_service(data_dir, [repo], rust_server, embedder) as service:
        await service.index_repository(repo, wait_for_embedding=False)
        points = all_points(service.store, repo)
        # everything embedded but the answer (as while a backlog is embedded)
        rest = [h for h in points if h.payload.get("symbol") != "parse_config"]
        vectors = embedder.embed([dense_text(h.payload) for h in rest])
        service.store.set_dense([h.id for h in rest], list(vectors))
        assert service.status(repo).pending == 1
        query = "read key value pairs from a configuration file"
        lexical = service.search(repo, CodeSearchInput(query=query, mode="lexical", k=5))
        assert lexical.results[0].symbol == "parse_config"
        hybrid = service.search(repo, CodeSearchInput(query=query, k=5))
        assert hybrid.results[0].symbol == "parse_config"
