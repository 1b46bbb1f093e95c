"""The MemoryStore contract, run against both backends (embedded qdrant-edge and the server
backend: a real Qdrant server or qdrant-client's local mode, see ``tests/backends.py``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from backends import QdrantTarget, make_test_store

from codeloci.store import (
    DENSE_VECTOR,
    CollectionSpec,
    EmbedderMismatchError,
    Filter,
    Fusion,
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
    StoreError,
    with_vector,
)
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


Backend = tuple[str, QdrantTarget, Path]


@pytest.fixture
def backend(store_backend: str, qdrant: QdrantTarget, tmp_path: Path) -> Backend:
    return store_backend, qdrant, tmp_path


def open_backend(
    backend: Backend, spec: CollectionSpec = SPEC, *, read_only: bool = False
) -> MemoryStore:
    kind, target, where = backend
    return make_test_store(kind, target, where, spec, read_only=read_only)


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


def test_upsert_get_count_search(backend: Backend) -> None:
    store = open_backend(backend)
    ids = populate(store)
    assert store.count() == 40
    got = store.get([ids[3], str(uuid.uuid4()), ids[1]])
    assert [h.id for h in got] == [ids[3], ids[1]]
    assert got[0].payload["kind"] == "odd"
    hits = store.search(unit(3), limit=3)
    assert hits[0].id == ids[3] and hits[0].score == pytest.approx(1.0, abs=1e-5)
    store.close()


def test_filtered_search_is_exact(backend: Backend) -> None:
    store = open_backend(backend)
    ids = populate(store, 200)
    flt = Filter(must=(Match("kind", "odd"), MatchAny("tags", ("t1",))))
    expected = [i for i in range(200) if i % 2 == 1 and i % 3 == 1]
    hits = store.search(unit(1), limit=200, flt=flt)
    assert sorted(h.id for h in hits) == sorted(ids[i] for i in expected)
    assert all(h.payload["kind"] == "odd" for h in hits)
    store.close()


def test_filter_language(backend: Backend) -> None:
    store = open_backend(backend)
    ids = populate(store)
    assert store.count(Filter(must=(Range("ts", gte=10, lt=20),))) == 10
    assert store.count(Filter(must=(IsNull("project"),))) == 8
    assert store.count(Filter(must_not=(IsNull("project"),))) == 32
    either = Filter(should=(Match("kind", "even"), Filter(must=(Range("ts", gt=38),))))
    assert store.count(either) == 21
    assert store.count(Filter(must=(HasId((ids[0], ids[5])),))) == 2
    store.close()


def test_scroll_pages_cover_everything_once(backend: Backend) -> None:
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


def test_delete_by_ids_and_filter(backend: Backend) -> None:
    store = open_backend(backend)
    ids = populate(store)
    store.delete_ids(ids[:2])
    assert store.get(ids[:2]) == [] and store.count() == 38
    store.delete_where(Filter(must=(Match("kind", "odd"),)))
    assert store.count() == 19
    store.close()


def test_hybrid_search_fuses_dense_and_sparse(backend: Backend) -> None:
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


def test_read_only_refuses_every_write(backend: Backend) -> None:
    store = open_backend(backend)
    populate(store)
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


def test_embedder_mismatch_is_refused_with_advice(backend: Backend) -> None:
    store = open_backend(backend)
    store.close()
    other = CollectionSpec(name="t", embedder="other-model", dim=16)
    with pytest.raises(EmbedderMismatchError) as err:
        open_backend(backend, other)
    message = str(err.value)
    assert "'test-embedder' (dim 8)" in message and "'other-model' (dim 16)" in message
    assert "Re-embed" in message


def test_points_written_sparse_first_get_their_dense_vector_later(backend: Backend) -> None:
    store = open_backend(backend)
    ids = [str(uuid.UUID(int=i + 1)) for i in range(6)]
    store.upsert(
        [
            PointIn(i, None, {"kind": "code", "n": n}, sparse=SparseVec([n + 1, 100], [1.0, 0.5]))
            for n, i in enumerate(ids)
        ]
    )
    waiting = with_vector(Filter(must=(Match("kind", "code"),)), DENSE_VECTOR, False)
    assert store.count(waiting) == 6 and store.count(with_vector(None, DENSE_VECTOR, True)) == 0
    # Lexical search works before any dense vector exists; dense finds nothing yet.
    (top,) = store.query(Query(sparse=SparseVec([3], [1.0]), limit=1))
    assert top.id == ids[2] and top.score > 0
    assert store.search(unit(0), limit=3) == []
    generation = store.generation
    gone = str(uuid.UUID(int=99))
    assert store.set_dense([ids[0], gone, ids[1]], [unit(0), unit(1), unit(1)]) == 2
    assert store.generation > generation
    assert store.count(waiting) == 4
    (best,) = store.search(unit(1), limit=1)
    assert best.id == ids[1]
    with pytest.raises(ValueError, match="neither a dense nor a sparse"):
        store.upsert([PointIn(gone, None, {})])
    store.close()


@pytest.mark.parametrize("fusion", [Fusion("score"), Fusion("rrf", (0.25, 1.0), 2), Fusion("dbsf")])
def test_query_fuses_channels_and_selects_fields(backend: Backend, fusion: Fusion) -> None:
    store = open_backend(backend)
    a, b, c = (str(uuid.UUID(int=i)) for i in (1, 2, 3))
    store.upsert(
        [
            PointIn(a, unit(0), {"kind": "x", "big": "a" * 100}, sparse=SparseVec([1], [1.0])),
            PointIn(b, unit(4), {"kind": "x", "big": "b"}, sparse=SparseVec([42], [2.0])),
            PointIn(c, unit(2), {"kind": "y", "big": "c"}, sparse=SparseVec([42], [1.0])),
        ]
    )
    q = Query(
        dense=unit(0), sparse=SparseVec([42], [1.0]), limit=3, fusion=fusion, fields=("kind",)
    )
    hits = store.query(q)
    assert {h.id for h in hits} == {a, b, c}
    assert all(set(h.payload) == {"kind"} for h in hits)
    assert hits[0].id in (a, b)  # each is first in one channel
    narrowed = store.query(Query(**{**q.__dict__, "flt": Filter(must=(Match("kind", "x"),))}))
    assert {h.id for h in narrowed} == {a, b}
    store.close()


def test_idf_restricted_to_a_scope_only_when_it_differs(backend: Backend) -> None:
    store = open_backend(backend)
    mine = Filter(must=(Match("project", "a"),))
    store.upsert([PointIn(str(uuid.UUID(int=1)), None, {"project": "a"}, SparseVec([5], [1.0]))])
    assert store._idf_corpus(mine) is None  # every sparse point is in the scope: global IDF
    store.upsert([PointIn(str(uuid.UUID(int=2)), None, {"project": "b"}, SparseVec([5], [1.0]))])
    assert store._idf_corpus(mine) == mine
    store.close()


def test_a_server_api_key_is_sent_and_a_missing_one_is_named(qdrant: QdrantTarget) -> None:
    """The key reaches the server (every server-backed test uses it); without it the error
    says what to check."""
    if not (qdrant.real and qdrant.api_key and qdrant.url):
        pytest.skip("needs a Qdrant server with an API key (QDRANT_BIN starts one)")
    with pytest.raises(StoreError, match="QDRANT_API_KEY"):
        RemoteStore.connect(qdrant.url, None, SPEC)
    store = RemoteStore.connect(qdrant.url, qdrant.api_key, SPEC)
    try:
        assert store.count() >= 0
    finally:
        store.close()


PACKED_SPEC = CollectionSpec(
    name="t",
    embedder="test-embedder",
    dim=DIM,
    keyword_fields=("kind", "tags", "project"),
    float_fields=("ts",),
    integer_fields=("n",),
    packed=True,
)
WIDE = {
    "kind": "note",
    "tags": ["a", "b"],
    "project": "p",
    "ts": 1.5,
    "n": 3,
    "content": 'déjà vu \u2603 "quoted"\n' * 20,
    "source": {"path": "a/b.py", "start_line": 3, "symbol": None},
    "list": [1, "two", None, 3.25],
    "flag": True,
    "nothing": None,
    "big_int": 2**53 + 1,
}


def test_packed_payloads_keep_filters_working_and_read_whole(backend: Backend) -> None:
    """A ``packed`` spec lets a backend pack the unindexed keys (the embedded store does): every
    read still gives the payload back whole, field selection reaches packed keys, filters on
    the filterable keys work, and a filter on a packed key is refused with the fix."""
    store = open_backend(backend, PACKED_SPEC)
    a, b = str(uuid.UUID(int=1)), str(uuid.UUID(int=2))
    store.upsert(
        [
            PointIn(a, unit(0), dict(WIDE), sparse=SparseVec([7], [1.0])),
            PointIn(b, unit(1), {**WIDE, "kind": "other", "n": 4}, sparse=SparseVec([7], [0.5])),
        ]
    )
    (got,) = store.get([a])
    assert got.payload == WIDE
    hits, _ = store.scroll(flt=Filter(must=(Match("n", 4),)), limit=10)
    assert [h.id for h in hits] == [b] and hits[0].payload == {**WIDE, "kind": "other", "n": 4}
    picked = store.query(Query(dense=unit(0), limit=1, fields=("kind", "content")))
    assert picked[0].id == a
    assert picked[0].payload["kind"] == "note" and picked[0].payload["content"] == WIDE["content"]
    lexical = store.query(
        Query(sparse=SparseVec([7], [1.0]), limit=2, flt=Filter(must=(Match("kind", "note"),)))
    )
    assert [h.id for h in lexical] == [a] and lexical[0].payload == WIDE
    assert store.count(Filter(must=(Range("ts", gte=1.0), MatchAny("tags", ("b",))))) == 2
    if backend[0] == "embedded":
        (raw,) = store._shard.retrieve([uuid.UUID(a)], with_payload=True, with_vector=False)  # type: ignore[attr-defined]
        assert set(raw.payload) == {"kind", "tags", "project", "ts", "n", "_packed"}
        with pytest.raises(StoreError, match=r"'content'.*INTEGER_FIELDS"):
            store.count(Filter(must=(Match("content", "x"),)))
    store.close()


def test_payloads_written_before_packing_read_whole(tmp_path: Path) -> None:
    """A store written before packing (and before the ``n`` index) and opened with a packed
    spec gains the index and serves its old points unchanged, beside packed new ones."""
    from codeloci.store.embedded import EmbeddedStore

    old = EmbeddedStore(tmp_path, SPEC)
    a, b = str(uuid.UUID(int=1)), str(uuid.UUID(int=2))
    old.upsert([PointIn(a, unit(0), {**WIDE, "n": 1})])
    old.close()
    store = EmbeddedStore(tmp_path, PACKED_SPEC)
    try:
        assert "n" in store._shard.info().payload_schema
        store.upsert([PointIn(b, unit(1), {**WIDE, "n": 2})])
        got = {h.id: h.payload for h in store.get([a, b])}
        assert got == {a: {**WIDE, "n": 1}, b: {**WIDE, "n": 2}}
        first = store.search(unit(0), limit=1, flt=Filter(must=(Match("n", 1),)))
        assert [h.id for h in first] == [a]
    finally:
        store.close()
