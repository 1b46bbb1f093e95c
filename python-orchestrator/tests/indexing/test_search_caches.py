"""The search-side caches: query embeddings, the pending count and the IDF-scope decision."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from codeloci.config import project_id_for
from codeloci.embedder import Embedder
from codeloci.indexing import search as search_mod
from codeloci.indexing.models import CodeSearchInput
from codeloci.indexing.points import code_filter, idf_corpus
from codeloci.indexing.search import CodeSearcher

from .conftest import open_service, write_files


class CountingEmbedder:
    name = "counting"
    dim = 4

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        return np.ones((len(texts), 4), dtype=np.float32) / 2


class CountingStore:
    """Only what the pending-count cache touches: the write generation and count."""

    def __init__(self) -> None:
        self.generation = 0
        self.counts = 0

    def count(self, flt: Any = None) -> int:
        self.counts += 1
        return 7


def test_query_vectors_are_cached_lru() -> None:
    embedder = CountingEmbedder()
    searcher = CodeSearcher(CountingStore(), embedder)  # type: ignore[arg-type]
    first = searcher.query_vector("parse config")
    assert searcher.query_vector("parse config") is first
    assert embedder.calls == 1
    for i in range(search_mod.QUERY_CACHE_SIZE):
        searcher.query_vector(f"q{i}")
    searcher.query_vector("parse config")  # evicted by then: embedded again
    assert embedder.calls == search_mod.QUERY_CACHE_SIZE + 2


def test_pending_count_is_reused_until_a_write(monkeypatch: pytest.MonkeyPatch) -> None:
    ops = CountingStore()
    searcher = CodeSearcher(ops, CountingEmbedder())  # type: ignore[arg-type]
    now = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    assert searcher.pending("p") == 7 and ops.counts == 1
    ops.generation += 1  # a write: still reused within the short TTL
    now[0] += search_mod.PENDING_CACHE_SECONDS / 2
    searcher.pending("p")
    assert ops.counts == 1
    now[0] += search_mod.PENDING_CACHE_SECONDS  # written since and older than the TTL
    searcher.pending("p")
    assert ops.counts == 2
    now[0] += search_mod.PENDING_IDLE_SECONDS - 1  # no write since: still good
    searcher.pending("p")
    assert ops.counts == 2
    now[0] += 2  # idle for too long: recounted anyway
    searcher.pending("p")
    assert ops.counts == 3


@pytest.mark.anyio
async def test_idf_scope_only_when_another_project_shares_the_store(
    tmp_path: Path, data_dir: Path, rust_server: list[str], embedder: Embedder
) -> None:
    a, b = (tmp_path / "a").resolve(), (tmp_path / "b").resolve()
    write_files(a, {"a.py": "def alpha_parse():\n    return 'alpha'\n"})
    write_files(b, {"b.py": "def beta_parse():\n    return 'beta'\n" * 3})
    async with open_service(data_dir, [a, b], rust_server, embedder) as service:
        store = service.store
        scope_a = idf_corpus(project_id_for(a))
        await service.index_repository(a)
        assert store._idf_corpus(scope_a) is None
        one = service.search(a, CodeSearchInput(query="alpha_parse", k=3, mode="lexical"))
        await service.index_repository(b)
        assert store._idf_corpus(scope_a) == scope_a
        two = service.search(a, CodeSearchInput(query="alpha_parse", k=3, mode="lexical"))
        assert [r.path for r in two.results] == [r.path for r in one.results] == ["a.py"]
        # BM25 statistics are the project's own: another project in the store moves no score.
        assert [r.score for r in two.results] == pytest.approx([r.score for r in one.results])
        store.delete_where(code_filter(project_id_for(b)))
        assert store._idf_corpus(scope_a) is None
        # Global IDF still counts deleted points until the segment is vacuumed, so scores may
        # differ from the first search; the ranking does not here.
        three = service.search(a, CodeSearchInput(query="alpha_parse", k=3, mode="lexical"))
        assert [r.path for r in three.results] == ["a.py"]
