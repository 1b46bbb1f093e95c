"""The server backend: a Qdrant server through ``qdrant-client`` (``QDRANT_URL``).

Collections are named ``codeloci_<name>`` and carry the embedder name and dimension in the
collection's metadata. Tests run this code path against ``QdrantClient(":memory:")``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from qdrant_client import QdrantClient
from qdrant_client import models as qm

from codeloci.store.base import (
    DENSE_VECTOR,
    SPARSE_VECTOR,
    CollectionSpec,
    Cond,
    Filter,
    HasId,
    Hit,
    IsNull,
    Match,
    MatchAny,
    MemoryStore,
    PointIn,
    Range,
    SparseVec,
    StoreError,
    as_list,
)

__all__ = ["RemoteStore"]

log = logging.getLogger(__name__)

HNSW_EF = 256


def _cond(c: Cond) -> Any:
    if isinstance(c, Match):
        return qm.FieldCondition(key=c.key, match=qm.MatchValue(value=c.value))
    if isinstance(c, MatchAny):
        return qm.FieldCondition(key=c.key, match=qm.MatchAny(any=list(c.values)))
    if isinstance(c, Range):
        return qm.FieldCondition(key=c.key, range=qm.Range(gt=c.gt, gte=c.gte, lt=c.lt, lte=c.lte))
    if isinstance(c, IsNull):
        return qm.Filter(
            should=[
                qm.IsNullCondition(is_null=qm.PayloadField(key=c.key)),
                qm.IsEmptyCondition(is_empty=qm.PayloadField(key=c.key)),
            ]
        )
    if isinstance(c, HasId):
        return qm.HasIdCondition(has_id=list(c.ids))
    return _filter(c)


def _filter(f: Filter | None) -> qm.Filter | None:
    if f is None:
        return None
    return qm.Filter(
        must=[_cond(c) for c in f.must] or None,
        should=[_cond(c) for c in f.should] or None,
        must_not=[_cond(c) for c in f.must_not] or None,
    )


def _hit(point: Any) -> Hit:
    return Hit(
        id=str(point.id),
        payload=dict(point.payload or {}),
        score=float(getattr(point, "score", 0.0) or 0.0),
    )


class RemoteStore(MemoryStore):
    def __init__(
        self,
        client: QdrantClient,
        spec: CollectionSpec,
        *,
        read_only: bool = False,
        location: str = "Qdrant server",
    ) -> None:
        super().__init__(spec, read_only=read_only)
        self._client = client
        self.collection = f"codeloci_{spec.name}"
        self._location = location
        try:
            exists = client.collection_exists(self.collection)
        except Exception as exc:
            raise StoreError(f"cannot reach {location}: {exc}") from exc
        if exists:
            info = client.get_collection(self.collection)
            spec.check(
                dict(info.config.metadata or {}), f"collection {self.collection!r} on {location}"
            )
        elif read_only:
            raise StoreError(
                f"collection {self.collection!r} does not exist on {location} and the server is "
                "read-only; start once without --read-only to create it"
            )
        else:
            client.create_collection(
                self.collection,
                vectors_config={
                    DENSE_VECTOR: qm.VectorParams(size=spec.dim, distance=qm.Distance.COSINE)
                },
                sparse_vectors_config=(
                    {SPARSE_VECTOR: qm.SparseVectorParams(modifier=qm.Modifier.IDF)}
                    if spec.sparse
                    else None
                ),
                metadata=spec.metadata(),
            )
            for name in spec.keyword_fields:
                client.create_payload_index(self.collection, name, qm.PayloadSchemaType.KEYWORD)
            for name in spec.float_fields:
                client.create_payload_index(self.collection, name, qm.PayloadSchemaType.FLOAT)

    @classmethod
    def connect(
        cls, url: str, api_key: str | None, spec: CollectionSpec, *, read_only: bool = False
    ) -> RemoteStore:
        """Connect to ``url``; the value ``:memory:`` selects qdrant-client's in-process local
        mode (no server, nothing persisted; for tests and trials)."""
        if url == ":memory:":
            return cls(
                QdrantClient(":memory:"), spec, read_only=read_only, location="Qdrant :memory:"
            )
        client = QdrantClient(url=url, api_key=api_key, timeout=30)
        return cls(client, spec, read_only=read_only, location=f"Qdrant at {url}")

    @property
    def description(self) -> str:
        return f"{self._location}, collection {self.collection}"

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"{what} failed on {self._location}: {exc}") from exc

    def upsert(self, points: Sequence[PointIn]) -> None:
        self._writable("store points")
        if not points:
            return
        structs = []
        for p in points:
            vector: dict[str, Any] = {DENSE_VECTOR: as_list(p.vector)}
            if p.sparse is not None:
                vector[SPARSE_VECTOR] = qm.SparseVector(
                    indices=p.sparse.indices, values=p.sparse.values
                )
            structs.append(qm.PointStruct(id=p.id, vector=vector, payload=p.payload))
        self._call("upsert", self._client.upsert, self.collection, points=structs, wait=True)

    def delete_ids(self, ids: Sequence[str]) -> None:
        self._writable("delete points")
        if ids:
            selector = qm.PointIdsList(points=list(ids))
            self._call(
                "delete", self._client.delete, self.collection, points_selector=selector, wait=True
            )

    def delete_where(self, flt: Filter) -> None:
        self._writable("delete points")
        selector = qm.FilterSelector(filter=_filter(flt) or qm.Filter())
        self._call(
            "delete", self._client.delete, self.collection, points_selector=selector, wait=True
        )

    def _params(self, flt: Filter | None, exact: bool | None) -> qm.SearchParams:
        if exact is None:
            exact = flt is not None
        return qm.SearchParams(exact=True) if exact else qm.SearchParams(hnsw_ef=HNSW_EF)

    def search(
        self,
        vector: npt.NDArray[np.float32] | list[float],
        *,
        limit: int,
        flt: Filter | None = None,
        exact: bool | None = None,
    ) -> list[Hit]:
        result = self._call(
            "search",
            self._client.query_points,
            self.collection,
            query=as_list(vector),
            using=DENSE_VECTOR,
            query_filter=_filter(flt),
            limit=limit,
            with_payload=True,
            search_params=self._params(flt, exact),
        )
        return [_hit(p) for p in result.points]

    def search_hybrid(
        self,
        vector: npt.NDArray[np.float32] | list[float],
        sparse: SparseVec,
        *,
        limit: int,
        flt: Filter | None = None,
        prefetch: int = 50,
    ) -> list[Hit]:
        if not self.spec.sparse:
            raise StoreError(f"collection {self.spec.name!r} has no sparse vectors")
        qfilter = _filter(flt)
        result = self._call(
            "hybrid search",
            self._client.query_points,
            self.collection,
            prefetch=[
                qm.Prefetch(
                    query=as_list(vector),
                    using=DENSE_VECTOR,
                    filter=qfilter,
                    limit=prefetch,
                    params=self._params(flt, None),
                ),
                qm.Prefetch(
                    query=qm.SparseVector(indices=sparse.indices, values=sparse.values),
                    using=SPARSE_VECTOR,
                    filter=qfilter,
                    limit=prefetch,
                ),
            ],
            query=qm.FusionQuery(fusion=qm.Fusion.RRF),
            limit=limit,
            with_payload=True,
        )
        return [_hit(p) for p in result.points]

    def scroll(
        self, *, flt: Filter | None, limit: int, offset: str | None = None
    ) -> tuple[list[Hit], str | None]:
        records, next_offset = self._call(
            "scroll",
            self._client.scroll,
            self.collection,
            scroll_filter=_filter(flt),
            limit=limit,
            offset=offset,
            with_payload=True,
        )
        return [_hit(r) for r in records], (str(next_offset) if next_offset is not None else None)

    def count(self, flt: Filter | None = None) -> int:
        result = self._call(
            "count", self._client.count, self.collection, count_filter=_filter(flt), exact=True
        )
        return int(result.count)

    def get(self, ids: Sequence[str]) -> list[Hit]:
        if not ids:
            return []
        records = self._call(
            "retrieve", self._client.retrieve, self.collection, ids=list(ids), with_payload=True
        )
        by_id = {str(r.id): _hit(r) for r in records}
        return [by_id[i] for i in ids if i in by_id]

    def close(self) -> None:
        self._client.close()
