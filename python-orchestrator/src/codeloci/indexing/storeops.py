"""Store operations code indexing needs beyond :class:`codeloci.store.MemoryStore`.

Code chunks live in the memory collection (``context_level=PROJECT_CONTEXT``, ``kind=code``)
so ``memory_find`` covers notes and code together. Indexing needs four things the public
interface does not have yet: points written with their sparse (BM25) vector only, the dense
vector filled in later, counting/scrolling points by "has a dense vector", and sparse-only or
weighted-fusion queries with IDF statistics restricted to one project.

:class:`EdgeCodeOps` does these on the embedded engine (``qdrant-edge``) directly.
:class:`PlainCodeOps` works on any :class:`MemoryStore` through its public methods: it has no
deferred dense vectors (the pipeline embeds before writing) and fuses with the store's own
``search_hybrid``. Once ``MemoryStore`` grows these methods this module can shrink to a shim.
"""

from __future__ import annotations

import abc
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from codeloci.indexing.fusion import Fusion, score_fusion
from codeloci.store import DENSE_VECTOR, SPARSE_VECTOR, Filter, Hit, MemoryStore, PointIn, SparseVec

__all__ = ["CodeOps", "CodePoint", "EdgeCodeOps", "PlainCodeOps", "code_ops_for"]

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True)
class CodePoint:
    id: str
    payload: dict[str, Any]
    sparse: SparseVec
    dense: Vector | None = None


class CodeOps(abc.ABC):
    """Write and query code points; every write is serialised by :attr:`write_lock`."""

    #: Whether points may be written before their dense vector exists.
    deferred_dense: bool = False

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.write_lock = threading.RLock()
        #: Bumped by every write made through these operations: a count cached with the
        #: generation it was taken at is still right while the generation is unchanged.
        self.generation = 0
        #: Bumped only by writes that add or remove points (not by dense vectors filled in).
        self.membership = 0

    def _wrote(self, *, points: bool = True) -> None:
        self.generation += 1
        if points:
            self.membership += 1

    @abc.abstractmethod
    def upsert(self, points: Sequence[CodePoint]) -> None: ...

    @abc.abstractmethod
    def set_dense(self, ids: Sequence[str], vectors: Vector) -> int:
        """Give existing points their dense vector; ids no longer in the store are skipped.
        Returns how many were updated."""

    @abc.abstractmethod
    def count(self, flt: Filter, *, has_dense: bool | None = None) -> int: ...

    @abc.abstractmethod
    def pending(self, flt: Filter, limit: int) -> list[Hit]:
        """Points matching ``flt`` that have no dense vector yet."""

    @abc.abstractmethod
    def query(
        self,
        *,
        dense: Vector | None,
        sparse: SparseVec | None,
        flt: Filter,
        idf_scope: Filter,
        limit: int,
        prefetch: int,
        fusion: Fusion,
        fields: Sequence[str] | None = None,
    ) -> list[Hit]:
        """Dense only, sparse only, or both fused as ``fusion`` says. ``fields``: the payload
        keys to return (all when ``None``); converting a whole payload to Python costs more
        than the search at this size."""

    def optimize(self) -> bool:
        """Build the store's search indexes (HNSW) for what has been written; blocking.
        Returns whether anything was rebuilt. Backends that index on their own do nothing."""
        return False

    def delete_where(self, flt: Filter) -> None:
        with self.write_lock:
            self.store.delete_where(flt)
            self._wrote()

    def delete_ids(self, ids: Sequence[str]) -> None:
        with self.write_lock:
            self.store.delete_ids(list(ids))
            self._wrote()


#: HNSW beam width of the dense channel. Segments the optimizer has not indexed yet (below its
#: size threshold, or before :meth:`EdgeCodeOps.optimize`), and filters matching few points,
#: are searched exactly by Qdrant's planner whatever this says.
DENSE_HNSW_EF = 256
#: Seconds a "the IDF scope holds every sparse vector" answer is trusted even without a write
#: through these operations (writes made around them, e.g. by the memory tools, are rare).
IDF_SCOPE_CACHE_SECONDS = 300.0


class EdgeCodeOps(CodeOps):
    deferred_dense = True

    def __init__(self, store: MemoryStore) -> None:
        super().__init__(store)
        import qdrant_edge as qe

        from codeloci.store.embedded import _filter  # the backend's own translation

        self._qe = qe
        self._filter = _filter
        # repr(idf_scope) -> (membership, monotonic time, whether the scope is needed)
        self._idf_needed: dict[str, tuple[int, float, bool]] = {}

    def _idf_params(self, idf_scope: Filter) -> Any:
        """IDF restricted to ``idf_scope``, or global IDF when that is the same thing.

        Restricting IDF costs a filtered count per query term (9 ms of a 155k-chunk query
        against 0.7 ms global). Global IDF counts the points that have a sparse vector (notes
        have none), so when every such point is inside the scope, i.e. one project is
        indexed in this store, the two give identical scores (until points are deleted: global
        statistics keep counting deleted points until their segment is vacuumed, which moved
        0.2-0.4% of top-10 results after rewriting 20% of a store 1-3 times). Checked with two
        counts, cached until points are added or removed through these operations (at most
        IDF_SCOPE_CACHE_SECONDS)."""
        qe = self._qe
        key = repr(idf_scope)
        now = time.monotonic()
        cached = self._idf_needed.get(key)
        if (
            cached is not None
            and cached[0] == self.membership
            and now - cached[1] < IDF_SCOPE_CACHE_SECONDS
        ):
            needed = cached[2]
        else:
            membership = self.membership
            has_sparse = qe.HasVectorCondition(SPARSE_VECTOR)
            scope = self._filter(idf_scope)
            total = self._shard.count(
                qe.CountRequest(exact=True, filter=qe.Filter(must=[has_sparse]))
            )
            inside = self._shard.count(
                qe.CountRequest(
                    exact=True,
                    filter=qe.Filter(must=[c for c in (scope, has_sparse) if c is not None]),
                )
            )
            needed = int(inside) != int(total)
            self._idf_needed[key] = (membership, now, needed)
        if not needed:
            return None
        return qe.SearchParams(idf=qe.IdfParams(corpus=self._filter(idf_scope)))

    @property
    def _shard(self) -> Any:
        shard = getattr(self.store, "_shard", None)
        if shard is None:
            raise RuntimeError("the embedded store is closed")
        return shard

    def _qfilter(self, flt: Filter | None, has_dense: bool | None = None) -> Any:
        qe = self._qe
        base = self._filter(flt)
        if has_dense is None:
            return base
        cond = qe.HasVectorCondition(DENSE_VECTOR)
        if has_dense:
            return qe.Filter(must=[c for c in (base, cond) if c is not None])
        return qe.Filter(must=[base] if base is not None else None, must_not=[cond])

    def upsert(self, points: Sequence[CodePoint]) -> None:
        if not points:
            return
        self.store._writable("index code")
        qe = self._qe
        built = []
        for p in points:
            vector: dict[str, Any] = {
                SPARSE_VECTOR: qe.SparseVector(p.sparse.indices, p.sparse.values)
            }
            if p.dense is not None:
                vector[DENSE_VECTOR] = [float(x) for x in p.dense]
            built.append(qe.Point(uuid.UUID(p.id), vector, p.payload))
        with self.write_lock:
            self._shard.update(qe.UpdateOperation.upsert_points(built))
            self._wrote()

    def set_dense(self, ids: Sequence[str], vectors: Vector) -> int:
        if not ids:
            return 0
        qe = self._qe
        with self.write_lock:
            alive = {h.id for h in self.store.get(list(ids))}
            updates = [
                qe.PointVectors(uuid.UUID(i), {DENSE_VECTOR: [float(x) for x in v]})
                for i, v in zip(ids, vectors, strict=True)
                if i in alive
            ]
            if updates:
                self._shard.update(qe.UpdateOperation.update_vectors(updates))
                self._wrote(points=False)
        return len(updates)

    def optimize(self) -> bool:
        """Runs qdrant-edge's optimizers: segments above its indexing threshold (about 10 MB
        of vectors, ~6.5k chunks) get their HNSW graph. Until then dense search is a brute
        force scan (20-30 ms at 155k chunks against 1-2 ms). Holds the GIL for the whole
        build (5 s at 9k chunks, minutes at 155k), so call it from a command-line run, not
        from a server that must keep answering."""
        with self.write_lock:
            changed = bool(self._shard.optimize())
            self._wrote(points=False)
        return changed

    def count(self, flt: Filter, *, has_dense: bool | None = None) -> int:
        request = self._qe.CountRequest(exact=True, filter=self._qfilter(flt, has_dense))
        return int(self._shard.count(request))

    def pending(self, flt: Filter, limit: int) -> list[Hit]:
        request = self._qe.ScrollRequest(
            limit=limit, filter=self._qfilter(flt, has_dense=False), with_payload=True
        )
        records, _ = self._shard.scroll(request)
        return [Hit(id=str(r.id), payload=dict(r.payload or {})) for r in records]

    def query(
        self,
        *,
        dense: Vector | None,
        sparse: SparseVec | None,
        flt: Filter,
        idf_scope: Filter,
        limit: int,
        prefetch: int,
        fusion: Fusion,
        fields: Sequence[str] | None = None,
    ) -> list[Hit]:
        qe = self._qe
        qfilter = self._qfilter(flt)
        stages = []
        if dense is not None:
            stages.append(
                qe.Prefetch(
                    limit=prefetch,
                    query=qe.Query.Nearest([float(x) for x in dense], using=DENSE_VECTOR),
                    filter=qfilter,
                    params=qe.SearchParams(hnsw_ef=DENSE_HNSW_EF),
                )
            )
        if sparse is not None and sparse.indices:
            stages.append(
                qe.Prefetch(
                    limit=prefetch,
                    query=qe.Query.Nearest(
                        qe.SparseVector(sparse.indices, sparse.values), using=SPARSE_VECTOR
                    ),
                    filter=qfilter,
                    params=self._idf_params(idf_scope),
                )
            )
        if not stages:
            return []
        payload: Any = True if fields is None else qe.PayloadSelector.Include(list(fields))

        def alone(stage: Any, n: int, with_payload: Any) -> Any:
            """One channel's request, unfused."""
            return qe.QueryRequest(
                limit=n,
                query=stage.query,
                filter=qfilter,
                params=stage.params,
                with_payload=with_payload,
            )

        if len(stages) == 1:
            return self._hits(self._shard.query(alone(stages[0], limit, payload)))
        if fusion.method == "score":
            batch = qe.QueryBatchRequest([alone(stage, stage.limit, False) for stage in stages])
            ranked_dense, ranked_lexical = self._shard.query_batch(batch)
            return self._fetch(
                score_fusion(
                    [(str(p.id), float(p.score)) for p in ranked_dense],
                    [(str(p.id), float(p.score)) for p in ranked_lexical],
                    fusion.weights,
                    limit,
                ),
                payload,
            )
        request = qe.QueryRequest(
            limit=limit,
            prefetches=stages,
            query=(
                qe.Fusion.Dbsf()
                if fusion.method == "dbsf"
                else qe.Fusion.Rrf(k=fusion.k, weights=list(fusion.weights))
            ),
            with_payload=payload,
        )
        return self._hits(self._shard.query(request))

    @staticmethod
    def _hits(points: Sequence[Any]) -> list[Hit]:
        return [
            Hit(id=str(p.id), payload=dict(p.payload or {}), score=float(p.score)) for p in points
        ]

    def _fetch(self, ranked: Sequence[tuple[str, float]], payload: Any) -> list[Hit]:
        """Hits for ranked (id, score) pairs, in that order, with their payloads. A point
        deleted between the search and this read is left out."""
        records = self._shard.retrieve(
            [uuid.UUID(i) for i, _ in ranked], with_payload=payload, with_vector=False
        )
        payloads = {str(r.id): dict(r.payload or {}) for r in records}
        return [Hit(id=i, payload=payloads[i], score=s) for i, s in ranked if i in payloads]


class PlainCodeOps(CodeOps):
    """Any backend, through the public interface: dense vectors are written with the point."""

    def upsert(self, points: Sequence[CodePoint]) -> None:
        missing = [p.id for p in points if p.dense is None]
        if missing:
            raise ValueError(
                f"{len(missing)} points lack a dense vector on {self.store.description}"
            )
        with self.write_lock:
            self.store.upsert(
                [PointIn(p.id, p.dense, p.payload, p.sparse) for p in points if p.dense is not None]
            )
            self._wrote()

    def set_dense(self, ids: Sequence[str], vectors: Vector) -> int:
        return 0

    def count(self, flt: Filter, *, has_dense: bool | None = None) -> int:
        return 0 if has_dense is False else self.store.count(flt)

    def pending(self, flt: Filter, limit: int) -> list[Hit]:
        return []

    def query(
        self,
        *,
        dense: Vector | None,
        sparse: SparseVec | None,
        flt: Filter,
        idf_scope: Filter,
        limit: int,
        prefetch: int,
        fusion: Fusion,
        fields: Sequence[str] | None = None,
    ) -> list[Hit]:
        if dense is None:
            return []
        if sparse is None or not sparse.indices:
            return self.store.search(dense, limit=limit, flt=flt, exact=True)
        return self.store.search_hybrid(dense, sparse, limit=limit, flt=flt, prefetch=prefetch)


def code_ops_for(store: MemoryStore) -> CodeOps:
    from codeloci.store.embedded import EmbeddedStore

    if isinstance(store, EmbeddedStore):
        return EdgeCodeOps(store)
    return PlainCodeOps(store)
