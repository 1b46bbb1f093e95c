"""The embedded backend: Qdrant's engine in-process via ``qdrant-edge-py`` (pre-1.0).

Layout of one collection under the data directory::

    <data_dir>/<collection>/codeloci.lock     exclusive lock naming the holder's pid
    <data_dir>/<collection>/collection.json   embedder name and dimension
    <data_dir>/<collection>/shard/            the EdgeShard (segments + WAL)

Read-only: every write method raises :class:`ReadOnlyStoreError` before touching the engine,
and the engine only ever sees a private copy of the shard in a temporary directory (an empty
one when the collection does not exist), so the data directory is never created or written.

Writes are durable once the call returns (the shard's write-ahead log); segments are flushed
on :meth:`EmbeddedStore.close`.

Damage is never served silently: a store whose ``collection.json`` or ``shard/`` is missing or
unreadable, or that the engine cannot load, fails to open with :class:`StoreDamagedError`, and
an engine error while reading raises the same; ``codeloci repair`` rebuilds it
(:mod:`codeloci.store.repair`).
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import qdrant_edge as qe

from codeloci.store.base import (
    DENSE_VECTOR,
    HNSW_EF,
    SPARSE_VECTOR,
    Channel,
    CollectionSpec,
    Conds,
    Filter,
    FilterSyntax,
    Hit,
    IndexKind,
    MemoryStore,
    PointIn,
    Query,
    Range,
    SparseVec,
    StoreDamagedError,
    StoreError,
    hit_of,
    named_vectors,
)
from codeloci.store.lock import DirLock

__all__ = ["EmbeddedStore"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

REPAIR_HINT = (
    "stop every codeloci process using it and run `codeloci repair` (same --data-dir): it moves "
    "the damaged store aside, keeps it, and rebuilds a store from everything still readable; "
    "then `codeloci index` restores code chunks"
)


def damaged(root: Path, detail: str) -> StoreDamagedError:
    """The error for a damaged store at ``root``: what is wrong and how to rebuild it."""
    return StoreDamagedError(f"the store at {root} is damaged ({detail}); {REPAIR_HINT}")


class _Syntax(FilterSyntax):
    """qdrant-edge's conditions; a key outside ``filterable`` (a packed one) is refused."""

    def __init__(self, filterable: frozenset[str] | None) -> None:
        self.filterable = filterable

    def _key(self, key: str) -> str:
        if self.filterable is not None and key not in self.filterable:
            raise StoreError(
                f"a filter names the payload key {key!r}, which this collection does not keep "
                f"filterable (it is packed); filterable: {', '.join(sorted(self.filterable))}. "
                "Index it: add it to the collection's indexed fields "
                "(codeloci.memory: KEYWORD_FIELDS, FLOAT_FIELDS, INTEGER_FIELDS)"
            )
        return key

    def match(self, key: str, value: str | int | bool) -> Any:
        return qe.FieldCondition(self._key(key), match=qe.MatchValue(value))

    def match_any(self, key: str, values: list[str]) -> Any:
        return qe.FieldCondition(self._key(key), match=qe.MatchAny(values))

    def range(self, c: Range) -> Any:
        return qe.FieldCondition(
            self._key(c.key), range=qe.RangeFloat(gte=c.gte, gt=c.gt, lte=c.lte, lt=c.lt)
        )

    def is_null(self, key: str) -> Any:
        key = self._key(key)
        return qe.Filter(should=[qe.IsNullCondition(key), qe.IsEmptyCondition(key)])

    def has_id(self, ids: tuple[str, ...]) -> Any:
        return qe.HasIdCondition({uuid.UUID(i) for i in ids})

    def has_vector(self, name: str) -> Any:
        return qe.HasVectorCondition(name)

    def all_of(self, must: Conds, should: Conds, not_: Conds) -> Any:
        return qe.Filter(must=must, should=should, must_not=not_)


#: The payload key holding the packed keys (see :class:`_Packing`).
PACKED = "_packed"


class _Packing:
    """A payload as the engine stores it: the filterable keys as themselves, every other key
    in one JSON string under :data:`PACKED`. qdrant-edge converts a payload from Python key
    by key, trying each value as a number before a string, which made a wide payload cost
    several times the rest of a point's write; one string converts at once. Payloads written
    before packing (no :data:`PACKED` key) read as they are."""

    def __init__(self, filterable: frozenset[str] | None) -> None:
        self.filterable = filterable

    def pack(self, payload: dict[str, Any]) -> dict[str, Any]:
        keep = self.filterable
        if keep is None:
            return payload
        out = {k: v for k, v in payload.items() if k in keep}
        rest = {k: v for k, v in payload.items() if k not in keep}
        if rest:
            out[PACKED] = json.dumps(rest, separators=(",", ":"), ensure_ascii=False)
        return out

    def hit(self, point: Any) -> Hit:
        hit = hit_of(point)
        packed = hit.payload.pop(PACKED, None)
        if isinstance(packed, str):
            try:
                hit.payload.update(json.loads(packed))
            except ValueError as exc:
                raise StoreError(f"point {hit.id} has an unreadable packed payload: {exc}") from exc
        return hit

    def selector(self, fields: tuple[str, ...] | None) -> Any:
        """Which payload keys to read: converting a whole payload to Python costs more than
        the search at 100k points, so searches name the keys they show; a packed key is read
        with the rest of the pack."""
        if fields is None:
            return True
        keys = list(fields)
        if self.filterable is not None and any(k not in self.filterable for k in fields):
            keys.append(PACKED)
        return qe.PayloadSelector.Include(keys)


def _vector(channel: Channel) -> Any:
    v = channel.vector
    return qe.SparseVector(v.indices, v.values) if isinstance(v, SparseVec) else v


def _request(channel: Channel, flt: Filter | None, with_payload: Any, syntax: _Syntax) -> Any:
    """The engine request of one channel."""
    if isinstance(channel.vector, SparseVec):
        corpus = channel.idf_corpus
        params = qe.SearchParams(idf=qe.IdfParams(corpus=syntax.filter(corpus))) if corpus else None
    else:
        params = qe.SearchParams(exact=True) if channel.exact else qe.SearchParams(hnsw_ef=HNSW_EF)
    return qe.QueryRequest(
        limit=channel.limit,
        query=qe.Query.Nearest(_vector(channel), using=channel.using),
        filter=syntax.filter(flt),
        params=params,
        with_payload=with_payload,
    )


def read_metadata(root: Path) -> dict[str, Any]:
    """``collection.json`` of the store at ``root``; unreadable is damage."""
    try:
        meta = json.loads((root / "collection.json").read_text())
    except (OSError, ValueError) as exc:
        raise damaged(root, f"collection.json is unreadable: {exc}") from exc
    if not isinstance(meta, dict):
        raise damaged(root, "collection.json is not an object")
    return meta


class EmbeddedStore(MemoryStore):
    def __init__(self, data_dir: Path, spec: CollectionSpec, *, read_only: bool = False) -> None:
        super().__init__(spec, read_only=read_only)
        self.root = data_dir / spec.name
        self._syntax = _Syntax(spec.filterable())
        self._packing = _Packing(spec.filterable())
        self._tmp: Path | None = None
        self._lock: DirLock | None = None
        self._shard: Any = None
        meta_path = self.root / "collection.json"
        shard_path = self.root / "shard"
        exists = meta_path.is_file() and shard_path.is_dir()
        try:
            if meta_path.is_file() != shard_path.is_dir():
                # Half a store: opening would serve an empty one over lost data.
                missing = "shard/" if meta_path.is_file() else "collection.json"
                raise damaged(self.root, f"{missing} is missing")
            if read_only:
                shard_path = self._read_only_copy(meta_path, shard_path, exists)
            else:
                self._lock = DirLock(self.root)
                self._lock.acquire()
            if exists:
                if not read_only:
                    spec.check(read_metadata(self.root), f"the store at {self.root}")
                try:
                    self._shard = qe.EdgeShard.load(str(shard_path))
                    existing = frozenset(self._shard.info().payload_schema)
                except Exception as exc:
                    raise damaged(self.root, f"the engine cannot load it: {exc}") from exc
                if not read_only:
                    self._create_indexes(existing)
            else:
                self._shard = qe.EdgeShard.create(str(shard_path), self._config())
                self._create_indexes(frozenset())
                if not read_only:
                    meta_path.write_text(json.dumps(spec.metadata()))
        except StoreError:
            self._release()
            raise
        except Exception as exc:
            self._release()
            raise StoreError(f"cannot open the store at {self.root}: {exc}") from exc

    def _read_only_copy(self, meta_path: Path, shard_path: Path, exists: bool) -> Path:
        """Read-only opens a private copy: the engine writes to files it loads (segment
        trackers, WAL), so the real data directory is never handed to it. The copy is taken
        under the lock, which is released at once: the view is the store as it was at start."""
        self._tmp = Path(tempfile.mkdtemp(prefix="codeloci-ro-"))
        target = self._tmp / "shard"
        if not exists:
            log.info("%s does not exist yet; serving an empty read-only store", self.root)
            return target
        lock = DirLock(self.root)
        lock.acquire(record_holder=False)
        try:
            self.spec.check(read_metadata(self.root), f"the store at {self.root}")
            shutil.copytree(shard_path, target)
        finally:
            lock.release()
        return target

    def _config(self) -> Any:
        sparse = (
            {SPARSE_VECTOR: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)}
            if self.spec.sparse
            else None
        )
        # Payloads memory-mapped and warmed into the page cache when the store opens, as the
        # vectors already are: left cold, every search's first read of a result's payload
        # page-faulted (20 results: 2.5 ms of a 155k-chunk query against 0.4 ms warm). The OS
        # can still evict them under memory pressure. Applies to stores created from now on.
        return qe.EdgeConfig(
            vectors={DENSE_VECTOR: qe.EdgeVectorParams(self.spec.dim, qe.Distance.Cosine)},
            sparse_vectors=sparse,
            payload_memory=qe.Memory.Cached,
        )

    def _create_index(self, name: str, kind: IndexKind) -> None:
        schema = {
            "keyword": qe.PayloadSchemaType.Keyword,
            "float": qe.PayloadSchemaType.Float,
            "integer": qe.PayloadSchemaType.Integer,
        }[kind]
        self._shard.update(qe.UpdateOperation.create_field_index(name, schema))

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    @property
    def description(self) -> str:
        return f"embedded Qdrant (qdrant-edge) at {self.root}"

    def _read(self, what: str, read: Callable[[], _T]) -> _T:
        """Run an engine read; an engine error there means damaged files, never an empty answer."""
        self._open_or_raise()
        try:
            return read()
        except Exception as exc:
            raise damaged(self.root, f"{what} failed: {exc}") from exc

    def _open_or_raise(self) -> None:
        if self._shard is None:
            raise StoreError(f"the store at {self.root} is closed")

    def _run(self, op: Any) -> None:
        self._open_or_raise()
        try:
            self._shard.update(op)
        except Exception as exc:
            raise StoreError(f"store update failed: {exc}") from exc

    def _upsert(self, points: Sequence[PointIn]) -> None:
        def sparse(v: SparseVec) -> Any:
            return qe.SparseVector(v.indices, v.values)

        pack = self._packing.pack
        built = [
            qe.Point(uuid.UUID(p.id), named_vectors(p, sparse), pack(p.payload)) for p in points
        ]
        self._run(qe.UpdateOperation.upsert_points(built))

    def _set_dense(self, pairs: Sequence[tuple[str, list[float]]]) -> None:
        updates = [qe.PointVectors(uuid.UUID(i), {DENSE_VECTOR: v}) for i, v in pairs]
        self._run(qe.UpdateOperation.update_vectors(updates))

    def _delete_ids(self, ids: list[str]) -> None:
        self._run(qe.UpdateOperation.delete_points([uuid.UUID(i) for i in ids]))

    def _delete_where(self, flt: Filter) -> None:
        self._run(qe.UpdateOperation.delete_points_by_filter(self._syntax.filter(flt)))

    def _optimize(self) -> bool:
        """qdrant-edge's optimizers: segments above its indexing threshold (about 10 MB of
        vectors) get their HNSW graph; until then dense search scans them. Holds the GIL for
        the whole build, so only a command-line run calls it, never a server that must keep
        answering."""
        try:
            self._open_or_raise()
            return bool(self._shard.optimize())
        except Exception as exc:
            raise StoreError(f"optimizing the store failed: {exc}") from exc

    def _channel(self, channel: Channel, q: Query) -> list[Hit]:
        request = _request(channel, q.flt, self._packing.selector(q.fields), self._syntax)
        points = self._read("a search", lambda: self._shard.query(request))
        return [self._packing.hit(p) for p in points]

    def _channels(self, channels: Sequence[Channel], q: Query) -> list[list[tuple[str, float]]]:
        batch = qe.QueryBatchRequest([_request(c, q.flt, False, self._syntax) for c in channels])
        answers = self._read("a search", lambda: self._shard.query_batch(batch))
        return [[(str(p.id), float(p.score)) for p in points] for points in answers]

    def _fused(self, channels: Sequence[Channel], q: Query) -> list[Hit]:
        prefetches = []
        for c in channels:
            r = _request(c, q.flt, False, self._syntax)
            prefetches.append(
                qe.Prefetch(limit=c.limit, query=r.query, filter=r.filter, params=r.params)
            )
        method: Any = (  # the stub types Fusion's variants apart from Fusion
            qe.Fusion.Dbsf()
            if q.fusion.method == "dbsf"
            else qe.Fusion.Rrf(k=q.fusion.k, weights=list(q.fusion.weights))
        )
        request = qe.QueryRequest(
            limit=q.limit,
            prefetches=prefetches,
            query=method,
            with_payload=self._packing.selector(q.fields),
        )
        points = self._read("a search", lambda: self._shard.query(request))
        return [self._packing.hit(p) for p in points]

    def _retrieve(self, ids: list[str], fields: tuple[str, ...] | None) -> list[Hit]:
        keys = [uuid.UUID(i) for i in ids]
        selector = self._packing.selector(fields)
        records = self._read(
            "a lookup by id",
            lambda: self._shard.retrieve(keys, with_payload=selector, with_vector=False),
        )
        return [self._packing.hit(r) for r in records]

    def scroll(
        self, *, flt: Filter | None, limit: int, offset: str | None = None
    ) -> tuple[list[Hit], str | None]:
        request = qe.ScrollRequest(
            offset=uuid.UUID(offset) if offset else None,
            limit=limit,
            filter=self._syntax.filter(flt),
            with_payload=True,
        )
        records, next_offset = self._read("a scroll", lambda: self._shard.scroll(request))
        after = str(next_offset) if next_offset is not None else None
        return [self._packing.hit(r) for r in records], after

    def count(self, flt: Filter | None = None) -> int:
        request = qe.CountRequest(exact=True, filter=self._syntax.filter(flt))
        return int(self._read("a count", lambda: self._shard.count(request)))

    def close(self) -> None:
        shard = getattr(self, "_shard", None)
        if shard is not None:
            if not self.read_only:
                shard.flush()
            shard.close()
            self._shard = None
        self._release()
