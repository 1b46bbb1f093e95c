"""The memory service on both store backends, with a controllable clock."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from backends import QdrantTarget, open_test_store

from codeloci.embedder import MiniLMEmbedder
from codeloci.memory import MemoryRequestError, MemoryService, apply_budget, memory_collection_spec
from codeloci.models import (
    MemoryDeleteInput,
    MemoryFilter,
    MemoryFindInput,
    MemoryHit,
    MemoryListInput,
    MemoryStoreInput,
    MemoryUpdateInput,
    RetrieveInput,
    RetrieveSessionInput,
)
from codeloci.store import MemoryStore, PointIn, StoreError

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PROJECT_A = "p-aaaaaaaaaaaaaaaa"
PROJECT_B = "p-bbbbbbbbbbbbbbbb"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(
    store_backend: str, qdrant: QdrantTarget, tmp_path: Path, embedder: MiniLMEmbedder
) -> Iterator[MemoryStore]:
    """The memory suite runs on the embedded store and on the server backend."""
    spec = memory_collection_spec(embedder)
    with open_test_store(store_backend, qdrant, tmp_path, spec) as s:
        yield s


def service(
    store: MemoryStore,
    embedder: MiniLMEmbedder,
    clock: Clock,
    project: str = PROJECT_A,
    session: str = "s1",
) -> MemoryService:
    return MemoryService(
        store,
        embedder,
        project_id=project,
        session_id=session,
        session_ttl_seconds=100,
        clock=clock,
    )


def put(svc: MemoryService, content: str, level: str, **kw: object) -> str:
    return svc.store_memory(
        MemoryStoreInput.model_validate({"content": content, "level": level, **kw})
    ).id


def test_levels_projects_and_sessions_are_isolated(
    store: MemoryStore, embedder: MiniLMEmbedder
) -> None:
    clock = Clock()
    a1 = service(store, embedder, clock, PROJECT_A, "s1")
    a2 = service(store, embedder, clock, PROJECT_A, "s2")
    b = service(store, embedder, clock, PROJECT_B, "s1")
    pref = put(a1, "prefer pytest over unittest", "USER_PREFERENCE")
    fact_a = put(a1, "project A tests live in tests/", "PROJECT_CONTEXT")
    fact_b = put(b, "project B tests live in spec/", "PROJECT_CONTEXT")
    sess_a1 = put(a1, "running the tests now", "SESSION_STATE")

    def ids(result: object) -> set[str]:
        return {h.id for h in result.results}  # type: ignore[attr-defined]

    query = MemoryFindInput(query="where are the tests", k=20)
    assert ids(a1.find(query)) == {pref, fact_a, sess_a1}
    assert ids(a2.find(query)) == {pref, fact_a}  # another session of the same project
    assert ids(b.find(query)) == {pref, fact_b}
    assert ids(a1.retrieve("PROJECT_CONTEXT", RetrieveInput(query="prefer pytest"))) == {fact_a}
    assert ids(a1.retrieve("USER_PREFERENCE", RetrieveInput())) == {pref}
    assert ids(a2.retrieve("SESSION_STATE", RetrieveSessionInput(session_id="s1"))) == {sess_a1}
    assert ids(b.retrieve("SESSION_STATE", RetrieveSessionInput(session_id="s1"))) == set()
    with pytest.raises(MemoryRequestError, match="no memory with id"):
        b.update_memory(MemoryUpdateInput(id=fact_a, content="overwritten"))
    with pytest.raises(MemoryRequestError, match="0 memories match"):
        b.delete_memories(MemoryDeleteInput(ids=[fact_a], confirm=1))


def test_ttl_expiry_and_purge(store: MemoryStore, embedder: MiniLMEmbedder) -> None:
    clock = Clock()
    svc = service(store, embedder, clock)
    short = put(svc, "short", "SESSION_STATE")  # default TTL 100 s
    long = put(svc, "long", "SESSION_STATE", ttl_seconds=1000)
    clock.now += 99
    assert {h.id for h in svc.list_memories(MemoryListInput()).results} == {short, long}
    clock.now += 2
    assert {h.id for h in svc.list_memories(MemoryListInput()).results} == {long}
    assert [h.id for h in svc.find(MemoryFindInput(query="short")).results] == [long]
    assert len(store.get([short])) == 1  # hidden, not yet purged
    svc.purge_expired()
    assert store.get([short]) == []
    svc.update_memory(MemoryUpdateInput(id=long, ttl_seconds=60))
    clock.now += 61
    assert svc.list_memories(MemoryListInput()).results == []


def test_update_reembeds_content(store: MemoryStore, embedder: MiniLMEmbedder) -> None:
    svc = service(store, embedder, Clock())
    mid = put(svc, "the cache uses redis", "PROJECT_CONTEXT", tags=["infra"])
    svc.update_memory(MemoryUpdateInput(id=mid, content="the web server is nginx"))
    hit = svc.find(MemoryFindInput(query="nginx web server", k=1)).results[0]
    assert hit.id == mid and hit.content == "the web server is nginx"
    assert hit.tags == ["infra"] and hit.score is not None and hit.score > 0.5
    with pytest.raises(MemoryRequestError, match="ttl_seconds: only SESSION_STATE"):
        svc.update_memory(MemoryUpdateInput(id=mid, ttl_seconds=100))


def test_delete_by_filter_requires_exact_confirm(
    store: MemoryStore, embedder: MiniLMEmbedder
) -> None:
    svc = service(store, embedder, Clock())
    keep = put(svc, "global", "USER_PREFERENCE")
    for i in range(3):
        put(svc, f"todo {i}", "PROJECT_CONTEXT", kind="todo")
    put(svc, "a decision", "PROJECT_CONTEXT", kind="decision")
    request = {"filter": {"levels": ["PROJECT_CONTEXT"], "kinds": ["todo"]}}
    with pytest.raises(MemoryRequestError, match="3 memories match but confirm is 2"):
        svc.delete_memories(MemoryDeleteInput.model_validate({**request, "confirm": 2}))
    assert (
        svc.delete_memories(MemoryDeleteInput.model_validate({**request, "confirm": 3})).deleted
        == 3
    )
    remaining = {h.content for h in svc.list_memories(MemoryListInput()).results}
    assert remaining == {"global", "a decision"}
    assert keep in {h.id for h in svc.list_memories(MemoryListInput()).results}


def test_list_pagination_and_bad_cursor(store: MemoryStore, embedder: MiniLMEmbedder) -> None:
    svc = service(store, embedder, Clock())
    made = {put(svc, f"fact {i}", "PROJECT_CONTEXT") for i in range(7)}
    seen: list[str] = []
    cursor = None
    while True:
        page = svc.list_memories(MemoryListInput(limit=3, cursor=cursor))
        seen += [h.id for h in page.results]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(made)
    with pytest.raises(MemoryRequestError, match="cursor"):
        svc.list_memories(MemoryListInput(cursor="nonsense"))


def test_retrieve_without_query_is_newest_first(
    store: MemoryStore, embedder: MiniLMEmbedder
) -> None:
    clock = Clock()
    svc = service(store, embedder, clock)
    order = []
    for i in range(4):
        clock.now += 1
        order.append(put(svc, f"pref {i}", "USER_PREFERENCE"))
    got = svc.retrieve("USER_PREFERENCE", RetrieveInput(k=3)).results
    assert [h.id for h in got] == order[::-1][:3]
    assert all(h.score is None for h in got)


def _index_code(store: MemoryStore, embedder: MiniLMEmbedder, project: str, n: int) -> set[str]:
    """``n`` code chunks of ``project`` as the indexing pipeline writes them (dense vectors
    included, so every search can reach them)."""
    from codeloci.indexing.points import point_id, point_payload

    points = []
    for i in range(n):
        content = f"def where_tests_live_{i}():\n    return 'tests/' + prefer_pytest({i})\n"
        chunk = {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"chunk-{i}")),
            "path": f"src/mod_{i}.py",
            "language": "python",
            "kind": "function",
            "qualified_name": f"where_tests_live_{i}",
            "name": f"where_tests_live_{i}",
            "symbols": [f"where_tests_live_{i}"],
            "start_line": 1,
            "end_line": 2,
            "content": content,
            "content_hash": f"{i:064x}",
        }
        payload = point_payload(
            chunk,  # type: ignore[arg-type]
            project=project,
            file={"hash": f"{i:064x}", "size": len(content), "mtime_ns": 0},
            index=0,
            file_chunks=1,
            now=1_800_000_000.0,
        )
        vector = embedder.embed([content])[0]
        points.append(PointIn(point_id(chunk["id"], project), vector, payload))
    store.upsert(points)
    return {p.id for p in points}


def test_memory_tools_leave_out_code_chunks_unless_asked(
    store: MemoryStore, embedder: MiniLMEmbedder
) -> None:
    """In an indexed repository, the level tools, memory_find, memory_list and delete by filter
    answer with memories, not code chunks (filtered in the store query, so k results are k
    memories); kinds containing "code" asks for them."""
    svc = service(store, embedder, Clock())
    code = _index_code(store, embedder, PROJECT_A, 30)
    fact = put(svc, "the tests live in tests/ and use pytest", "PROJECT_CONTEXT", kind="fact")
    pref = put(svc, "prefer pytest over unittest", "USER_PREFERENCE", kind="preference")
    query = "where do the tests live, pytest"

    def ids(result: object) -> list[str]:
        return [h.id for h in result.results]  # type: ignore[attr-defined]

    assert ids(svc.retrieve("PROJECT_CONTEXT", RetrieveInput(query=query, k=5))) == [fact]
    assert ids(svc.retrieve("PROJECT_CONTEXT", RetrieveInput(k=5))) == [fact]
    assert ids(svc.retrieve("USER_PREFERENCE", RetrieveInput(query=query))) == [pref]
    assert set(ids(svc.find(MemoryFindInput(query=query, k=5)))) == {fact, pref}
    assert set(ids(svc.list_memories(MemoryListInput(limit=5)))) == {fact, pref}
    listed = svc.list_memories(MemoryListInput(levels=["PROJECT_CONTEXT"], limit=5))
    assert ids(listed) == [fact] and listed.next_cursor is None

    kinds = MemoryFilter(kinds=["code"])
    asked = svc.retrieve("PROJECT_CONTEXT", RetrieveInput(query=query, k=5, filters=kinds))
    assert len(asked.results) == 5 and set(ids(asked)) <= code
    assert {h.kind for h in asked.results} == {"code"}
    assert set(ids(svc.find(MemoryFindInput(query=query, k=5, filters=kinds)))) <= code
    page = svc.list_memories(MemoryListInput(filters=kinds, limit=50))
    assert set(ids(page)) == code
    mixed = MemoryFilter(kinds=["code", "fact"])
    assert fact in ids(svc.retrieve("PROJECT_CONTEXT", RetrieveInput(k=50, filters=mixed)))

    # Deleting PROJECT_CONTEXT by filter leaves the index alone unless kinds names code.
    done = svc.delete_memories(
        MemoryDeleteInput.model_validate({"filter": {"levels": ["PROJECT_CONTEXT"]}, "confirm": 1})
    )
    assert done.ids == [fact] and len(store.get(sorted(code))) == len(code)


def _hit(i: int, chars: int) -> MemoryHit:
    return MemoryHit(
        id=str(i),
        content="x" * chars,
        level="PROJECT_CONTEXT",
        kind="note",
        score=1.0,
        tags=[],
        source=None,
        created_at=T0,
        updated_at=T0,
    )


def test_apply_budget() -> None:
    hits = [_hit(0, 400), _hit(1, 4000), _hit(2, 40)]  # 140, 1040, 50 tokens with overhead
    kept, used, omitted = apply_budget(hits, 200)
    # the first that does not fit becomes a snippet (20 tokens are left); the rest is omitted
    assert [h.id for h in kept] == ["0", "1"] and used == 200 and omitted == 1
    assert not kept[0].truncated and kept[1].truncated and len(kept[1].content) == 80
    kept, used, omitted = apply_budget(hits, 150)  # 10 - 40 tokens left: no snippet
    assert [h.id for h in kept] == ["0"] and used == 140 and omitted == 2
    kept, used, omitted = apply_budget([_hit(0, 4000)], 100)
    assert kept[0].truncated and len(kept[0].content) == 240 and used == 100


def test_a_write_during_an_outage_names_the_write(
    store_backend: str, qdrant: QdrantTarget, tmp_path: Path, embedder: MiniLMEmbedder
) -> None:
    """The expiry purge before a write is best effort: the error the caller gets is the
    write's own (an outage used to surface as "delete failed")."""
    if store_backend != "server":
        pytest.skip("an outage of the Qdrant server")
    spec = memory_collection_spec(embedder)
    with open_test_store(store_backend, qdrant, tmp_path, spec) as s:
        svc = service(s, embedder, Clock())
        s._client.close()  # type: ignore[attr-defined]  # the server is gone from here on
        with pytest.raises(StoreError, match="cannot store points") as err:
            put(svc, "remember me", "PROJECT_CONTEXT")
        assert "delete" not in str(err.value)
