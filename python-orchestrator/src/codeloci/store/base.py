"""The engine-neutral vector store interface and its small filter language.

A :class:`MemoryStore` is one collection: points with a UUID id, a dense vector named
``dense`` (which may be filled in after the point is written), optionally a sparse vector named
``bm25`` (for hybrid code search), and a JSON payload. Every caller, memory and code indexing
alike, uses this interface and nothing else.

What is shared lives here, once: the read-only check, write serialisation and the write
counters callers cache against, the choice between one channel, score fusion (computed here on
the candidates a backend returns) and fusion inside the engine, and when BM25's IDF must be
restricted to a scope. A backend supplies the engine calls (``_upsert``, ``_channel``, …) and
translates :class:`Filter` trees and :class:`Channel` requests into its engine's types. The
interface is synchronous; async callers run it in a worker thread.
"""

from __future__ import annotations

import abc
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from codeloci.store.fusion import Fusion, score_fusion

__all__ = [
    "DENSE_VECTOR",
    "SPARSE_VECTOR",
    "Channel",
    "CollectionMissingError",
    "CollectionSpec",
    "Cond",
    "Conds",
    "EmbedderMismatchError",
    "Filter",
    "FilterSyntax",
    "Fusion",
    "HasId",
    "HasVector",
    "Hit",
    "IndexKind",
    "IsNull",
    "Match",
    "MatchAny",
    "MemoryStore",
    "PointIn",
    "Query",
    "Range",
    "ReadOnlyStoreError",
    "SparseVec",
    "StoreDamagedError",
    "StoreError",
    "StoreLockedError",
    "Vector",
    "hit_of",
    "named_vectors",
    "with_vector",
]

log = logging.getLogger(__name__)

DENSE_VECTOR = "dense"
SPARSE_VECTOR = "bm25"


class StoreError(RuntimeError):
    """A store operation failed; the message is meant for the user."""


class CollectionMissingError(StoreError):
    """A read-only open found no collection to read (nothing has been stored yet)."""


class StoreLockedError(StoreError):
    """Another process holds the embedded store."""


class ReadOnlyStoreError(StoreError):
    """A write was attempted on a store opened read-only."""


class EmbedderMismatchError(StoreError):
    """The collection was embedded with another model or dimension."""


class StoreDamagedError(StoreError):
    """The embedded store's files are missing or unreadable; nothing is served from it until
    ``codeloci repair`` moves it aside and rebuilds it (see :mod:`codeloci.store.repair`)."""


#: The payload index types a collection spec asks for.
IndexKind = Literal["keyword", "float", "integer"]


@dataclass(frozen=True)
class CollectionSpec:
    """What a collection holds. ``embedder``/``dim`` are recorded at creation and checked on
    every open; ``keyword_fields``, ``float_fields`` and ``integer_fields`` get payload indexes
    (created on open when an older store lacks one).

    ``packed``: filters name only the indexed keys, so a backend may keep every other key in a
    compact form of its own, which the embedded engine takes in far faster than a wide payload;
    reads give the payload back whole either way. Not packed: every key stays filterable."""

    name: str
    embedder: str
    dim: int
    keyword_fields: tuple[str, ...] = ()
    float_fields: tuple[str, ...] = ()
    sparse: bool = True
    integer_fields: tuple[str, ...] = ()
    packed: bool = False

    def indexes(self) -> list[tuple[str, IndexKind]]:
        """(key, type) of every payload index: ``keyword``, ``float`` or ``integer``."""
        return [
            *((k, "keyword") for k in self.keyword_fields),
            *((k, "float") for k in self.float_fields),
            *((k, "integer") for k in self.integer_fields),
        ]

    def filterable(self) -> frozenset[str] | None:
        """The keys filters may name, or None for any."""
        if not self.packed:
            return None
        return frozenset(k for k, _ in self.indexes())

    def metadata(self) -> dict[str, Any]:
        return {"embedder": self.embedder, "dim": self.dim, "format": 1}

    def check(self, recorded: dict[str, Any], where: str) -> None:
        """Refuse a collection embedded by another model, saying how to re-embed."""
        name, dim = recorded.get("embedder"), recorded.get("dim")
        if name == self.embedder and dim == self.dim:
            return
        raise EmbedderMismatchError(
            f"{where} was embedded with {name!r} (dim {dim}) but this server uses "
            f"{self.embedder!r} (dim {self.dim}); vectors from different models cannot be "
            "mixed. Re-embed: export your memories with `codeloci list --json`, move the old "
            f"collection aside (or delete it), then re-import; or run with the embedder {name!r}."
        )


@dataclass(frozen=True)
class SparseVec:
    indices: list[int]
    values: list[float]


Vector = npt.NDArray[np.float32] | list[float]


@dataclass(frozen=True)
class PointIn:
    """A point to write. ``vector=None`` writes it without a dense vector (it must then have a
    sparse one); :meth:`MemoryStore.set_dense` adds the dense vector later."""

    id: str
    vector: Vector | None
    payload: dict[str, Any]
    sparse: SparseVec | None = None


@dataclass(frozen=True)
class Hit:
    """A stored point; ``score`` is 0.0 where no query ranked it (get, scroll)."""

    id: str
    payload: dict[str, Any]
    score: float = 0.0


@dataclass(frozen=True)
class Match:
    key: str
    value: str | int | bool


@dataclass(frozen=True)
class MatchAny:
    key: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Range:
    key: str
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None


@dataclass(frozen=True)
class IsNull:
    """The field is missing, null or empty."""

    key: str


@dataclass(frozen=True)
class HasId:
    ids: tuple[str, ...]


@dataclass(frozen=True)
class HasVector:
    """The point has the named vector (:data:`DENSE_VECTOR` or :data:`SPARSE_VECTOR`)."""

    name: str


@dataclass(frozen=True)
class Filter:
    """All of ``must``, at least one of ``should`` (when any), none of ``must_not``."""

    must: tuple[Cond, ...] = field(default=())
    should: tuple[Cond, ...] = field(default=())
    must_not: tuple[Cond, ...] = field(default=())


Cond = Match | MatchAny | Range | IsNull | HasId | HasVector | Filter


def with_vector(flt: Filter | None, name: str, present: bool) -> Filter:
    """``flt`` narrowed to the points that have (``present``) or lack the vector ``name``."""
    base = flt or Filter()
    if present:
        return Filter(
            must=(*base.must, HasVector(name)), should=base.should, must_not=base.must_not
        )
    return Filter(must=base.must, should=base.should, must_not=(*base.must_not, HasVector(name)))


#: HNSW beam width of a dense search that is not exact.
HNSW_EF = 256
#: Seconds a "the IDF scope holds every sparse vector" answer is trusted without a write
#: through this store object (another process writing the same store is not seen sooner).
IDF_SCOPE_CACHE_SECONDS = 300.0


@dataclass(frozen=True)
class Query:
    """One search: a dense channel, a sparse (BM25) channel, or both fused as ``fusion`` says.

    ``prefetch``: candidates per channel before fusion. ``idf_scope``: BM25's IDF statistics
    over these points only (e.g. one project's code), so what else shares the collection does
    not move scores. ``fields``: the payload keys to return (all when ``None``). ``exact``:
    dense search without HNSW (``None``: exact when filtered, as filtered HNSW loses recall).
    ``unembedded``: some points may lack a dense vector yet, so score fusion looks up which
    lexical candidates do and ranks them by their lexical standing (see
    :func:`~codeloci.store.fusion.score_fusion`); the caller knows, and saves the lookup when
    none do.
    """

    dense: Vector | None = None
    sparse: SparseVec | None = None
    flt: Filter | None = None
    limit: int = 10
    prefetch: int = 50
    fusion: Fusion = field(default_factory=Fusion)
    idf_scope: Filter | None = None
    fields: tuple[str, ...] | None = None
    exact: bool | None = None
    unembedded: bool = False


@dataclass(frozen=True)
class Channel:
    """One channel of a :class:`Query` as a backend runs it: nearest points to ``vector`` (a
    dense list or a :class:`SparseVec`) in the vector ``using``."""

    using: str
    vector: list[float] | SparseVec
    limit: int
    exact: bool = False
    #: sparse only: restrict IDF statistics to these points (``None``: the whole collection).
    idf_corpus: Filter | None = None


#: Engine conditions of one part of a filter (``None``: the part is empty).
Conds = list[Any] | None


class FilterSyntax(abc.ABC):
    """How one engine spells each condition of the filter language; :meth:`filter` walks a
    :class:`Filter` tree once for every backend."""

    @abc.abstractmethod
    def match(self, key: str, value: str | int | bool) -> Any: ...

    @abc.abstractmethod
    def match_any(self, key: str, values: list[str]) -> Any: ...

    @abc.abstractmethod
    def range(self, c: Range) -> Any: ...

    @abc.abstractmethod
    def is_null(self, key: str) -> Any: ...

    @abc.abstractmethod
    def has_id(self, ids: tuple[str, ...]) -> Any: ...

    @abc.abstractmethod
    def has_vector(self, name: str) -> Any: ...

    @abc.abstractmethod
    def all_of(self, must: Conds, should: Conds, not_: Conds) -> Any:
        """The engine's filter: all of ``must``, one of ``should``, none of ``not_``."""

    def cond(self, c: Cond) -> Any:
        if isinstance(c, Match):
            return self.match(c.key, c.value)
        if isinstance(c, MatchAny):
            return self.match_any(c.key, list(c.values))
        if isinstance(c, Range):
            return self.range(c)
        if isinstance(c, IsNull):
            return self.is_null(c.key)
        if isinstance(c, HasId):
            return self.has_id(c.ids)
        if isinstance(c, HasVector):
            return self.has_vector(c.name)
        return self.filter(c)

    def filter(self, f: Filter | None) -> Any:
        if f is None:
            return None
        return self.all_of(
            [self.cond(c) for c in f.must] or None,
            [self.cond(c) for c in f.should] or None,
            [self.cond(c) for c in f.must_not] or None,
        )


def hit_of(point: Any) -> Hit:
    """A :class:`Hit` from an engine's scored point or record (both backends' shape)."""
    return Hit(
        id=str(point.id),
        payload=dict(point.payload or {}),
        score=float(getattr(point, "score", 0.0) or 0.0),
    )


def named_vectors(point: PointIn, sparse: Callable[[SparseVec], Any]) -> dict[str, Any]:
    """The point's vectors by name, the sparse one built by the engine's ``sparse``."""
    vectors: dict[str, Any] = {}
    if point.vector is not None:
        vectors[DENSE_VECTOR] = as_list(point.vector)
    if point.sparse is not None:
        vectors[SPARSE_VECTOR] = sparse(point.sparse)
    return vectors


def as_list(vector: Vector) -> list[float]:
    if isinstance(vector, np.ndarray):
        return [float(x) for x in vector.astype(np.float32).ravel()]
    return [float(x) for x in vector]


class MemoryStore(abc.ABC):
    """One collection of points. All methods may raise :class:`StoreError`; a damaged store
    raises :class:`StoreDamagedError` on every path, never an empty answer."""

    def __init__(self, spec: CollectionSpec, *, read_only: bool) -> None:
        self.spec = spec
        self.read_only = read_only
        #: Serialises writes made through this object.
        self.write_lock = threading.RLock()
        #: Bumped by every write through this object: a count cached with the generation it
        #: was taken at is still right while the generation is unchanged.
        self.generation = 0
        #: Bumped only by writes that add or remove points (not by dense vectors filled in).
        self.membership = 0
        #: Bumped only by writes that remove points.
        self.removals = 0
        # repr(idf scope) -> (membership, removals, monotonic time, whether the scope must be
        # applied)
        self._idf_needed: dict[str, tuple[int, int, float, bool]] = {}

    def _create_indexes(self, existing: frozenset[str]) -> None:
        """The spec's payload indexes that ``existing`` lacks: all at creation, and those a
        newer codeloci added when it first opens an older store for writing (once)."""
        for name, kind in self.spec.indexes():
            if name not in existing:
                if existing:
                    log.info("%s: indexing the payload key %r (once)", self.description, name)
                self._create_index(name, kind)

    @abc.abstractmethod
    def _create_index(self, name: str, kind: IndexKind) -> None: ...

    def _writable(self, action: str) -> None:
        if self.read_only:
            raise ReadOnlyStoreError(f"cannot {action}: the store is open read-only")

    def _wrote(self, *, points: bool = True, removed: bool = False) -> None:
        self.generation += 1
        if points:
            self.membership += 1
        if removed:
            self.removals += 1

    @property
    @abc.abstractmethod
    def description(self) -> str:
        """Where the data lives, for messages (never includes credentials)."""

    # ------------------------------------------------------------------ writes

    def upsert(self, points: Sequence[PointIn]) -> None:
        """Write points (replacing any with the same id)."""
        self._writable("store points")
        if not points:
            return
        for p in points:
            if p.vector is None and p.sparse is None:
                raise ValueError(f"point {p.id} has neither a dense nor a sparse vector")
        with self.write_lock:
            self._upsert(points)
            self._wrote()

    def set_dense(self, ids: Sequence[str], vectors: Sequence[Vector]) -> int:
        """Give existing points their dense vector; ids no longer in the store are skipped.
        Returns how many were updated."""
        self._writable("store vectors")
        if not ids:
            return 0
        with self.write_lock:
            alive = {h.id for h in self.get(list(ids))}
            pairs = [(i, as_list(v)) for i, v in zip(ids, vectors, strict=True) if i in alive]
            if pairs:
                self._set_dense(pairs)
                self._wrote(points=False)
        return len(pairs)

    def delete_ids(self, ids: Sequence[str]) -> None:
        self._writable("delete points")
        if ids:
            with self.write_lock:
                self._delete_ids(list(ids))
                self._wrote(removed=True)

    def delete_where(self, flt: Filter) -> None:
        self._writable("delete points")
        with self.write_lock:
            self._delete_where(flt)
            self._wrote(removed=True)

    def optimize(self) -> bool:
        """Build search indexes (HNSW) for what has been written; blocking. Returns whether
        anything was rebuilt. A backend whose engine indexes on its own does nothing."""
        self._writable("optimize")
        with self.write_lock:
            changed = self._optimize()
            self._wrote(points=False)
        return changed

    # ------------------------------------------------------------------ reads

    def search(
        self, vector: Vector, *, limit: int, flt: Filter | None = None, exact: bool | None = None
    ) -> list[Hit]:
        """Nearest points by cosine similarity (see :attr:`Query.exact`)."""
        return self.query(Query(dense=vector, flt=flt, limit=limit, exact=exact))

    def query(self, q: Query) -> list[Hit]:
        """Dense only, sparse only, or both fused as ``q.fusion`` says, best first."""
        channels: list[Channel] = []
        if q.dense is not None:
            exact = q.flt is not None if q.exact is None else q.exact
            channels.append(Channel(DENSE_VECTOR, as_list(q.dense), q.prefetch, exact=exact))
        if q.sparse is not None and q.sparse.indices:
            if not self.spec.sparse:
                raise StoreError(f"collection {self.spec.name!r} has no sparse vectors")
            corpus = self._idf_corpus(q.idf_scope) if q.idf_scope is not None else None
            channels.append(Channel(SPARSE_VECTOR, q.sparse, q.prefetch, idf_corpus=corpus))
        if not channels:
            return []
        if len(channels) == 1:
            (alone,) = channels
            only = Channel(alone.using, alone.vector, q.limit, alone.exact, alone.idf_corpus)
            return self._channel(only, q)
        if q.fusion.method == "score":
            ranked_dense, ranked_lexical = self._channels(channels, q)
            unscored: frozenset[str] = frozenset()
            if q.unembedded and ranked_dense:
                seen = {i for i, _ in ranked_dense}
                lexical_only = tuple(i for i, _ in ranked_lexical if i not in seen)
                if lexical_only:
                    waiting = Filter(
                        must=(HasId(lexical_only),), must_not=(HasVector(DENSE_VECTOR),)
                    )
                    hits, _ = self.scroll(flt=waiting, limit=len(lexical_only))
                    unscored = frozenset(h.id for h in hits)
            fused = score_fusion(ranked_dense, ranked_lexical, q.fusion.weights, q.limit, unscored)
            payloads = {h.id: h.payload for h in self._retrieve([i for i, _ in fused], q.fields)}
            # A point deleted between the search and this read is left out.
            return [Hit(i, payloads[i], s) for i, s in fused if i in payloads]
        return self._fused(channels, q)

    def _idf_corpus(self, scope: Filter) -> Filter | None:
        """``scope`` when BM25's IDF must be restricted to it, ``None`` when global statistics
        give the same scores (every point with a sparse vector is inside the scope, i.e. one
        project is indexed in this collection), which saves the engine a filtered count per
        query term. Global statistics keep counting deleted points until their segment is
        vacuumed, a small drift accepted for the speed. Checked with two counts, cached at most
        IDF_SCOPE_CACHE_SECONDS, and only while no point was added or removed through this
        object; except that "needed" outlives additions, which an index run makes many times a
        second: points added can only keep another project in the collection."""
        key = repr(scope)
        now = time.monotonic()
        cached = self._idf_needed.get(key)
        if (
            cached is not None
            and now - cached[2] < IDF_SCOPE_CACHE_SECONDS
            and (cached[0] == self.membership or (cached[3] and cached[1] == self.removals))
        ):
            needed = cached[3]
        else:
            membership, removals = self.membership, self.removals
            total = self.count(with_vector(None, SPARSE_VECTOR, True))
            inside = self.count(with_vector(scope, SPARSE_VECTOR, True))
            needed = inside != total
            self._idf_needed[key] = (membership, removals, now, needed)
        return scope if needed else None

    @abc.abstractmethod
    def scroll(
        self, *, flt: Filter | None, limit: int, offset: str | None = None
    ) -> tuple[list[Hit], str | None]:
        """A page of points in id order and the offset of the next page (``None`` at the end)."""

    def scroll_all(self, flt: Filter | None, *, page: int = 256) -> Iterator[Hit]:
        """Every point matching ``flt``, in id order, fetched ``page`` at a time (stop early by
        breaking out)."""
        offset: str | None = None
        while True:
            hits, offset = self.scroll(flt=flt, limit=page, offset=offset)
            yield from hits
            if offset is None:
                return

    @abc.abstractmethod
    def count(self, flt: Filter | None = None) -> int: ...

    def get(self, ids: Sequence[str]) -> list[Hit]:
        """The points with these ids that exist, in the order given."""
        if not ids:
            return []
        by_id = {h.id: h for h in self._retrieve(list(ids), None)}
        return [by_id[i] for i in ids if i in by_id]

    @abc.abstractmethod
    def close(self) -> None: ...

    # ------------------------------------------------------------------ engine calls

    @abc.abstractmethod
    def _upsert(self, points: Sequence[PointIn]) -> None: ...

    @abc.abstractmethod
    def _set_dense(self, pairs: Sequence[tuple[str, list[float]]]) -> None: ...

    @abc.abstractmethod
    def _delete_ids(self, ids: list[str]) -> None: ...

    @abc.abstractmethod
    def _delete_where(self, flt: Filter) -> None: ...

    def _optimize(self) -> bool:
        return False

    @abc.abstractmethod
    def _channel(self, channel: Channel, q: Query) -> list[Hit]:
        """One channel's top ``channel.limit`` points matching ``q.flt``, with their payloads
        (``q.fields`` only)."""

    @abc.abstractmethod
    def _channels(self, channels: Sequence[Channel], q: Query) -> list[list[tuple[str, float]]]:
        """Each channel's candidates matching ``q.flt`` as (id, score), best first, in one
        round trip."""

    @abc.abstractmethod
    def _fused(self, channels: Sequence[Channel], q: Query) -> list[Hit]:
        """The channels fused inside the engine as ``q.fusion`` says (``rrf`` with weights and
        k, or ``dbsf``)."""

    @abc.abstractmethod
    def _retrieve(self, ids: list[str], fields: tuple[str, ...] | None) -> list[Hit]:
        """The points with these ids that exist, in any order."""
