"""The MemoryStore contract, run against both backends (embedded qdrant-edge and qdrant-client
against ``QdrantClient(":memory:")``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import QdrantClient

from codeloci.store import (
    CollectionSpec,
    EmbedderMismatchError,
    Filter,
    HasId,
    IsNull,
    Match,
    MatchAny,
    MemoryStore,
    PointIn,
    Query,
    Range,
    ReadOnlyStoreError,
    SparseVec,
)
from codeloci.store.embedded import EmbeddedStore
from codeloci.store.remote import RemoteStore

DIM = 8
SPEC = CollectionSpec(
    name="t",
    embedder="test-embedder",
    dim=DIM,
    keyword_fields=("kind", "tags", "project"),
    float_fields=("ts",),
)


def unit(i: int) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    v[i % DIM] = 1.0
    v[(i + 1) % DIM] = 0.1 * (i // DIM)
    return v / np.linalg.norm(v)


@pytest.fixture(params=["embedded", "remote"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, object]]:
    if request.param == "embedded":
        yield "embedded", tmp_path
    else:
        client = QdrantClient(":memory:")
        yield "remote", client
        client.close()


def open_backend(
    backend: tuple[str, object], spec: CollectionSpec = SPEC, *, read_only: bool = False
) -> MemoryStore:
    kind, where = backend
    if kind == "embedded":
        assert isinstance(where, Path)
        return EmbeddedStore(where, spec, read_only=read_only)
    assert isinstance(where, QdrantClient)
    return RemoteStore(where, spec, read_only=read_only)


def populate(store: MemoryStore, n: int = 40) -> list[str]:
    ids = [str(uuid.UUID(int=i + 1)) for i in range(n)]
    store.upsert(
        [
            PointIn(
                ids[i],
                unit(i),
                {
                    "kind": "even" if i % 2 == 0 else "odd",
                    "tags": [f"t{i % 3}"],
                    "ts": float(i),
                    "project": None if i % 5 == 0 else "p",
                },
            )
            for i in range(n)
        ]
    )
    return ids


def test_upsert_get_count_search(backend: tuple[str, object]) -> None:
    store = open_backend(backend)
    ids = populate(store)
    assert store.count() == 40
    got = store.get([ids[3], str(uuid.uuid4()), ids[1]])
    assert [h.id for h in got] == [ids[3], ids[1]]
    assert got[0].payload["kind"] == "odd"
    hits = store.search(unit(3), limit=3)
    assert hits[0].id == ids[3] and hits[0].score == pytest.approx(1.0, abs=1e-5)
    store.close()


def test_filtered_search_is_exact(backend: tuple[str, object]) -> None:
    store = open_backend(backend)
    ids = populate(store, 200)
    flt = Filter(must=(Match("kind", "odd"), MatchAny("tags", ("t1",))))
    expected = [i for i in range(200) if i % 2 == 1 and i % 3 == 1]
    hits = store.search(unit(1), limit=200, flt=flt)
    assert sorted(h.id for h in hits) == sorted(ids[i] for i in expected)
    assert all(h.payload["kind"] == "odd" for h in hits)
    store.close()


def test_filter_language(backend: tuple[str, object]) -> None:
    store = open_backend(backend)
    ids = populate(store)
    assert store.count(Filter(must=(Range("ts", gte=10, lt=20),))) == 10
    assert store.count(Filter(must=(IsNull("project"),))) == 8
    assert store.count(Filter(must_not=(IsNull("project"),))) == 32
    either = Filter(should=(Match("kind", "even"), Filter(must=(Range("ts", gt=38),))))
    assert store.count(either) == 21
    assert store.count(Filter(must=(HasId((ids[0], ids[5])),))) == 2
    store.close()


def test_scroll_pages_cover_everything_once(backend: tuple[str, object]) -> None:
    store = open_backend(backend)
    ids = populate(store, 25)
    seen: list[str] = []
    offset = None
    while True:
        page, offset = store.scroll(flt=None, limit=10, offset=offset)
        assert len(page) <= 10
        seen += [h.id for h in page]
        if offset is None:
            break
    assert sorted(seen) == sorted(ids)
    evens, _ = store.scroll(flt=Filter(must=(Match("kind", "even"),)), limit=100)
    assert len(evens) == 13
    store.close()


def test_delete_by_ids_and_filter(backend: tuple[str, object]) -> None:
    store = open_backend(backend)
    ids = populate(store)
    store.delete_ids(ids[:2])
    assert store.get(ids[:2]) == [] and store.count() == 38
    store.delete_where(Filter(must=(Match("kind", "odd"),)))
    assert store.count() == 19
    store.close()


def test_hybrid_search_fuses_dense_and_sparse(backend: tuple[str, object]) -> None:
    store = open_backend(backend)
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    store.upsert(
        [
            PointIn(a, unit(0), {"kind": "x"}, sparse=SparseVec([1, 7], [1.0, 1.0])),
            PointIn(b, unit(4), {"kind": "x"}, sparse=SparseVec([42], [2.0])),
        ]
    )
    hits = store.query(Query(dense=unit(0), sparse=SparseVec([42], [1.0]), limit=2))
    assert {h.id for h in hits} == {a, b}  # a via dense, b via sparse
    store.close()


def test_read_only_refuses_every_write(backend: tuple[str, object]) -> None:
    store = open_backend(backend)
    populate(store)
    if backend[0] == "embedded":
        store.close()
    ro = open_backend(backend, read_only=True)
    attempts: list[Callable[[], None]] = [
        lambda: ro.upsert([PointIn(str(uuid.uuid4()), unit(0), {})]),
        lambda: ro.delete_ids([str(uuid.UUID(int=1))]),
        lambda: ro.delete_where(Filter(must=(Match("kind", "odd"),))),
    ]
    for attempt in attempts:
        with pytest.raises(ReadOnlyStoreError, match="read-only"):
            attempt()
    assert ro.count() == 40
    ro.close()


def test_embedder_mismatch_is_refused_with_advice(backend: tuple[str, object]) -> None:
    store = open_backend(backend)
    if backend[0] == "embedded":
        store.close()
    other = CollectionSpec(name="t", embedder="other-model", dim=16)
    with pytest.raises(EmbedderMismatchError) as err:
        open_backend(backend, other)
    message = str(err.value)
    assert "'test-embedder' (dim 8)" in message and "'other-model' (dim 16)" in message
    assert "Re-embed" in message
