"""The memory service: store, find, update, delete and list memories by context level.

Scopes, enforced on every read and write by a mandatory store filter:

* ``USER_PREFERENCE`` — global: visible from every project, no project or session.
* ``PROJECT_CONTEXT`` — bound to the project id (a hash of the repository root), so two
  repositories never see each other's memories.
* ``SESSION_STATE`` — bound to the project and a session id (default: this server process's),
  with an expiry (default: the session TTL). Expired memories never match (the filter requires
  ``expires_at_ts > now``) and are purged at start-up and on every write.

Indexed code chunks are PROJECT_CONTEXT memories of kind ``code``
(:mod:`codeloci.indexing.points`). Every read and delete by filter leaves them out in the store
query itself unless the filter's ``kinds`` names ``code``: the level tools, ``memory_find`` and
``memory_list`` return facts, preferences and state, and ``code_search`` is the tool for code.

Results are trimmed to a token budget as every searching tool's are
(:func:`codeloci.budget.fit_to_budget`): whole while they fit, then the first that does not
becomes a snippet marked ``truncated`` and the rest are counted in ``omitted``. The service is
synchronous; the server runs it in a worker thread.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from codeloci import secrets
from codeloci.budget import fit_to_budget
from codeloci.embedder import Embedder
from codeloci.models import (
    CONTEXT_LEVELS,
    MAX_CONTENT_CHARS,
    MAX_PATH_CHARS,
    MAX_SYMBOL_CHARS,
    ContextLevel,
    DeleteFilter,
    DeleteResult,
    FindResult,
    ListResult,
    MemoryDeleteInput,
    MemoryFilter,
    MemoryFindInput,
    MemoryHit,
    MemoryListInput,
    MemoryStoreInput,
    MemoryUpdateInput,
    RetrieveInput,
    RetrieveSessionInput,
    Source,
    StoreResult,
)
from codeloci.store import (
    CollectionSpec,
    Cond,
    Filter,
    Hit,
    Match,
    MatchAny,
    MemoryStore,
    PointIn,
    Range,
    StoreError,
)

__all__ = [
    "MEMORY_COLLECTION",
    "MemoryRequestError",
    "MemoryService",
    "memory_collection_spec",
]

log = logging.getLogger(__name__)

MEMORY_COLLECTION = "memory"
#: Most memories fetched to sort by recency when a retrieve_* call has no query.
RECENT_SCAN_LIMIT = 2000
#: The kind of indexed code chunks (:data:`codeloci.indexing.points.CODE_KIND`): reads and
#: deletes by filter leave them out unless the filter's ``kinds`` names it.
CODE_KIND = "code"
#: Most memories a single delete-by-filter may remove.
MAX_DELETE = 10_000

KEYWORD_FIELDS = ("context_level", "project", "kind", "path", "session_id", "tags")
FLOAT_FIELDS = ("expires_at_ts", "updated_at_ts")
#: Code chunks' integer keys that filters name: ``chunk_index`` 0 counts a project's files on
#: every search's index state, ``redaction_count`` finds chunks with secrets. Filters name only
#: indexed keys: the embedded store packs every other key (see :class:`CollectionSpec`).
INTEGER_FIELDS = ("chunk_index", "redaction_count")


class MemoryRequestError(ValueError):
    """A request the service refuses; the message is shown to the caller."""


def memory_collection_spec(embedder: Embedder) -> CollectionSpec:
    return CollectionSpec(
        name=MEMORY_COLLECTION,
        embedder=embedder.name,
        dim=embedder.dim,
        keyword_fields=KEYWORD_FIELDS,
        float_fields=FLOAT_FIELDS,
        sparse=True,
        integer_fields=INTEGER_FIELDS,
        packed=True,
    )


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat()


def _hit_models(hits: list[Hit], *, ranked: bool) -> list[MemoryHit]:
    """Hits as result models; points whose payload is not a memory are skipped (logged)."""
    models = []
    for hit in hits:
        try:
            models.append(_hit_model(hit, ranked=ranked))
        except (KeyError, ValueError) as exc:
            log.warning("skipping point %s: its payload is not a memory (%s)", hit.id, exc)
    return models


def _redact_tag(tag: str) -> tuple[str, list[secrets.Redaction]]:
    """A tag holding a secret becomes ``redacted:KIND`` (a marker inside a tag is noise)."""
    found = secrets.find(tag)
    return (f"redacted:{found[0].kind}" if found else tag), found


def _hit_model(hit: Hit, *, ranked: bool) -> MemoryHit:
    p = hit.payload
    # Redacted again on the way out: a memory written before redaction existed (or by another
    # tool into the same collection) never shows a secret either.
    return MemoryHit(
        id=hit.id,
        content=secrets.redact(p["content"])[0],
        level=p["context_level"],
        kind=p["kind"],
        score=round(hit.score, 6) if ranked else None,
        tags=[_redact_tag(str(t))[0] for t in p.get("tags") or []],
        source=Source.model_validate(p["source"]) if p.get("source") else None,
        session_id=p.get("session_id"),
        created_at=p["created_at"],
        updated_at=p["updated_at"],
        expires_at=p.get("expires_at"),
    )


class _Scrubber:
    """Redacts secrets (:mod:`codeloci.secrets`) from a memory's text fields before anything is
    embedded or stored, counting them per kind. A tag holding a secret becomes
    ``redacted:KIND``; a field that the markers push over its limit is refused."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def text(self, field: str, value: str, limit: int) -> str:
        out, found = secrets.redact(value)
        if found:
            secrets.count_kinds(found, self.counts)
            if len(out) > limit:
                raise MemoryRequestError(
                    f"{field}: {len(found)} secret(s) replaced by [REDACTED:kind] markers make "
                    f"it {len(out)} characters, over the limit {limit}; shorten it"
                )
        return out

    def tags(self, tags: Sequence[str]) -> list[str]:
        out: list[str] = []
        for raw in tags:
            tag, found = _redact_tag(raw)
            secrets.count_kinds(found, self.counts)
            if tag not in out:
                out.append(tag)
        return out

    def source(self, source: Source | None) -> dict[str, Any] | None:
        if source is None:
            return None
        data = source.model_dump(exclude_none=True)
        data["path"] = self.text("source.path", data["path"], MAX_PATH_CHARS)
        if "symbol" in data:
            data["symbol"] = self.text("source.symbol", data["symbol"], MAX_SYMBOL_CHARS)
        return data

    def log(self, memory_id: str) -> None:
        if self.counts:
            log.info("memory %s: redacted secrets %s", memory_id, self.counts)


def apply_budget(hits: list[MemoryHit], budget: int) -> tuple[list[MemoryHit], int, int]:
    """``hits`` trimmed to ``budget`` (:func:`codeloci.budget.fit_to_budget`); returns (kept,
    tokens used, omitted)."""
    trimmed = fit_to_budget(hits, budget, lambda hit: hit.content)
    kept = [
        f.item.model_copy(update={"content": f.content, "truncated": True})
        if f.truncated
        else f.item
        for f in trimmed.kept
    ]
    return kept, trimmed.used, trimmed.omitted


class MemoryService:
    def __init__(
        self,
        store: MemoryStore,
        embedder: Embedder,
        *,
        project_id: str,
        session_id: str,
        session_ttl_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.project_id = project_id
        self.session_id = session_id
        self.session_ttl_seconds = session_ttl_seconds
        self._clock = clock

    @property
    def read_only(self) -> bool:
        return self.store.read_only

    # ------------------------------------------------------------------ scopes

    def _scope(self, level: ContextLevel, session_id: str | None, now: float) -> Filter:
        conds: list[Cond] = [Match("context_level", level)]
        if level in ("PROJECT_CONTEXT", "SESSION_STATE"):
            conds.append(Match("project", self.project_id))
        if level == "SESSION_STATE":
            conds.append(Match("session_id", session_id or self.session_id))
            conds.append(Range("expires_at_ts", gt=now))
        return Filter(must=tuple(conds))

    def _filter(
        self,
        levels: Sequence[ContextLevel] | None,
        filters: MemoryFilter | None,
        session_id: str | None,
        now: float,
    ) -> Filter:
        scopes = [self._scope(level, session_id, now) for level in (levels or CONTEXT_LEVELS)]
        must: list[Cond] = [scopes[0] if len(scopes) == 1 else Filter(should=tuple(scopes))]
        must_not: list[Cond] = []
        if filters is not None and filters.kinds:
            must.append(MatchAny("kind", tuple(filters.kinds)))
        else:
            # Indexed code chunks are memories of kind `code` (thousands of them): left out by
            # the store query itself, so k results are k memories, unless `kinds` asks for code.
            must_not.append(Match("kind", CODE_KIND))
        if filters is not None:
            if filters.tags:
                must.append(MatchAny("tags", tuple(filters.tags)))
            if filters.path:
                must.append(Match("path", filters.path))
        return Filter(must=tuple(must), must_not=tuple(must_not))

    def _visible(self, hit: Hit, now: float) -> bool:
        p = hit.payload
        level = p.get("context_level")
        if level == "USER_PREFERENCE":
            return True
        if p.get("project") != self.project_id:
            return False
        if level == "SESSION_STATE":
            return float(p.get("expires_at_ts") or 0) > now
        return level == "PROJECT_CONTEXT"

    # ------------------------------------------------------------------ writes

    def purge_expired(self) -> None:
        """Delete expired SESSION_STATE memories (of every project)."""
        if self.read_only:
            return
        now = self._clock()
        self.store.delete_where(
            Filter(must=(Match("context_level", "SESSION_STATE"), Range("expires_at_ts", lte=now)))
        )

    def _vector(self, text: str) -> Any:
        return self.embedder.embed([text])[0]

    def _purge_before_write(self) -> None:
        """Expired session state goes before a write, best effort: when the store is down the
        write that follows fails with its own error, which is the one the caller should see."""
        try:
            self.purge_expired()
        except StoreError as exc:
            log.warning("purging expired session state failed: %s", exc)

    def store_memory(self, inp: MemoryStoreInput) -> StoreResult:
        self._purge_before_write()
        now = self._clock()
        level = inp.level
        scrub = _Scrubber()
        source = scrub.source(inp.source)
        payload: dict[str, Any] = {
            "content": scrub.text("content", inp.content, MAX_CONTENT_CHARS),
            "context_level": level,
            "kind": inp.kind,
            "project": None if level == "USER_PREFERENCE" else self.project_id,
            "session_id": None,
            "tags": scrub.tags(inp.tags),
            "source": source,
            "path": source["path"] if source else None,
            "created_at": _iso(now),
            "updated_at": _iso(now),
            "created_at_ts": now,
            "updated_at_ts": now,
            "expires_at": None,
            "expires_at_ts": None,
        }
        if level == "SESSION_STATE":
            expires = now + (inp.ttl_seconds or self.session_ttl_seconds)
            payload["session_id"] = inp.session_id or self.session_id
            payload["expires_at"] = _iso(expires)
            payload["expires_at_ts"] = expires
        memory_id = str(uuid.uuid4())
        self.store.upsert([PointIn(memory_id, self._vector(payload["content"]), payload)])
        scrub.log(memory_id)
        return self._store_result(memory_id, payload, scrub.counts)

    @staticmethod
    def _store_result(
        memory_id: str, payload: dict[str, Any], redactions: dict[str, int]
    ) -> StoreResult:
        return StoreResult(
            id=memory_id,
            level=payload["context_level"],
            kind=payload["kind"],
            project=payload.get("project"),
            session_id=payload.get("session_id"),
            created_at=payload["created_at"],
            updated_at=payload["updated_at"],
            expires_at=payload.get("expires_at"),
            redactions=redactions,
        )

    def update_memory(self, inp: MemoryUpdateInput) -> StoreResult:
        self._purge_before_write()
        now = self._clock()
        found = self.store.get([inp.id])
        if not found or not self._visible(found[0], now):
            raise MemoryRequestError(f"no memory with id {inp.id} is visible from this project")
        hit = found[0]
        payload = dict(hit.payload)
        if inp.ttl_seconds is not None and payload["context_level"] != "SESSION_STATE":
            raise MemoryRequestError("ttl_seconds: only SESSION_STATE memories expire")
        fields = inp.model_fields_set
        scrub = _Scrubber()
        if "content" in fields and inp.content is not None:
            payload["content"] = scrub.text("content", inp.content, MAX_CONTENT_CHARS)
        if "kind" in fields and inp.kind is not None:
            payload["kind"] = inp.kind
        if "tags" in fields and inp.tags is not None:
            payload["tags"] = scrub.tags(inp.tags)
        if "source" in fields:
            payload["source"] = scrub.source(inp.source)
            payload["path"] = payload["source"]["path"] if payload["source"] else None
        if inp.ttl_seconds is not None:
            payload["expires_at_ts"] = now + inp.ttl_seconds
            payload["expires_at"] = _iso(now + inp.ttl_seconds)
        payload["updated_at"] = _iso(now)
        payload["updated_at_ts"] = now
        self.store.upsert([PointIn(hit.id, self._vector(payload["content"]), payload)])
        scrub.log(hit.id)
        return self._store_result(hit.id, payload, scrub.counts)

    def delete_memories(self, inp: MemoryDeleteInput) -> DeleteResult:
        self._purge_before_write()
        now = self._clock()
        if inp.ids is not None:
            ids = [h.id for h in self.store.get(inp.ids) if self._visible(h, now)]
        else:
            assert inp.filter is not None
            ids = self._ids_matching(inp.filter, now)
        if len(ids) != inp.confirm:
            raise MemoryRequestError(
                f"confirm: {len(ids)} memories match but confirm is {inp.confirm}; nothing was "
                f"deleted. Call again with confirm={len(ids)} to delete them."
            )
        self.store.delete_ids(ids)
        return DeleteResult(deleted=len(ids), ids=ids)

    def _ids_matching(self, flt: DeleteFilter, now: float) -> list[str]:
        store_filter = self._filter(flt.levels, flt, flt.session_id, now)
        ids: list[str] = []
        for hit in self.store.scroll_all(store_filter):
            ids.append(hit.id)
            if len(ids) > MAX_DELETE:
                raise MemoryRequestError(
                    f"filter: more than {MAX_DELETE} memories match; narrow it"
                )
        return ids

    # ------------------------------------------------------------------ reads

    def find(self, inp: MemoryFindInput) -> FindResult:
        return self._search(inp.query, inp.levels, inp, inp.session_id)

    def retrieve(
        self, level: ContextLevel, inp: RetrieveInput | RetrieveSessionInput
    ) -> FindResult:
        """Search or list one level; ``level`` comes from the tool, never from the arguments."""
        session_id = inp.session_id if isinstance(inp, RetrieveSessionInput) else None
        if inp.query is not None:
            return self._search(inp.query, [level], inp, session_id)
        now = self._clock()
        flt = self._filter([level], inp.filters, session_id, now)
        hits: list[Hit] = []
        offset: str | None = None
        while len(hits) < RECENT_SCAN_LIMIT:
            page, offset = self.store.scroll(flt=flt, limit=256, offset=offset)
            hits.extend(page)
            if offset is None:
                break
        hits.sort(key=lambda h: float(h.payload.get("updated_at_ts") or 0), reverse=True)
        models = _hit_models(hits[: inp.k], ranked=False)
        kept, used, omitted = apply_budget(models, inp.token_budget)
        return FindResult(
            results=kept, tokens_used=used, token_budget=inp.token_budget, omitted=omitted
        )

    def _search(
        self,
        query: str,
        levels: Sequence[ContextLevel] | None,
        inp: MemoryFindInput | RetrieveInput,
        session_id: str | None,
    ) -> FindResult:
        now = self._clock()
        flt = self._filter(levels, inp.filters, session_id, now)
        hits = self.store.search(self._vector(query), limit=inp.k, flt=flt, exact=True)
        models = _hit_models(hits, ranked=True)
        kept, used, omitted = apply_budget(models, inp.token_budget)
        return FindResult(
            results=kept, tokens_used=used, token_budget=inp.token_budget, omitted=omitted
        )

    def list_memories(self, inp: MemoryListInput) -> ListResult:
        now = self._clock()
        if inp.cursor is not None:
            try:
                cursor = str(uuid.UUID(inp.cursor))
            except ValueError:
                raise MemoryRequestError("cursor: not a cursor returned by memory_list") from None
        else:
            cursor = None
        flt = self._filter(inp.levels, inp.filters, inp.session_id, now)
        page, next_offset = self.store.scroll(flt=flt, limit=inp.limit, offset=cursor)
        return ListResult(results=_hit_models(page, ranked=False), next_cursor=next_offset)
