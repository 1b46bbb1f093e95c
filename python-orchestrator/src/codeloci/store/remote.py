"""The server backend: a Qdrant server through ``qdrant-client`` (``QDRANT_URL``).

Collections are named ``codeloci_<name>`` and carry the embedder name and dimension in the
collection's metadata. Everything the embedded backend does, this one does too, through the
shared :class:`~codeloci.store.base.MemoryStore` logic: points written lexical-first and their
dense vector set later, score fusion, field selection, BM25 IDF restricted to one project. The
test suite runs it against a real Qdrant server when ``QDRANT_BIN`` or ``QDRANT_URL`` is set,
else against qdrant-client's in-process local mode (``QDRANT_URL=:memory:``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from qdrant_client import QdrantClient
from qdrant_client import models as qm

from codeloci.store.base import (
    DENSE_VECTOR,
    HNSW_EF,
    SPARSE_VECTOR,
    Channel,
    CollectionMissingError,
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
    StoreError,
    hit_of,
    named_vectors,
)

__all__ = ["RemoteStore"]

log = logging.getLogger(__name__)


class _Syntax(FilterSyntax):
    def match(self, key: str, value: str | int | bool) -> Any:
        return qm.FieldCondition(key=key, match=qm.MatchValue(value=value))

    def match_any(self, key: str, values: list[str]) -> Any:
        return qm.FieldCondition(key=key, match=qm.MatchAny(any=values))

    def range(self, c: Range) -> Any:
        return qm.FieldCondition(key=c.key, range=qm.Range(gt=c.gt, gte=c.gte, lt=c.lt, lte=c.lte))

    def is_null(self, key: str) -> Any:
        field = qm.PayloadField(key=key)
        return qm.Filter(
            should=[qm.IsNullCondition(is_null=field), qm.IsEmptyCondition(is_empty=field)]
        )

    def has_id(self, ids: tuple[str, ...]) -> Any:
        return qm.HasIdCondition(has_id=list(ids))

    def has_vector(self, name: str) -> Any:
        return qm.HasVectorCondition(has_vector=name)

    def all_of(self, must: Conds, should: Conds, not_: Conds) -> Any:
        return qm.Filter(must=must, should=should, must_not=not_)


_filter = _Syntax().filter


def _payload(fields: tuple[str, ...] | None) -> Any:
    return True if fields is None else list(fields)


def _search(channel: Channel, flt: Filter | None) -> qm.Prefetch:
    """One channel as a Query API stage (a prefetch, or the fields of a request)."""
    v = channel.vector
    if isinstance(v, SparseVec):
        query: Any = qm.SparseVector(indices=v.indices, values=v.values)
        corpus = _filter(channel.idf_corpus)
        params = qm.SearchParams(idf=qm.IdfCorpusParams(corpus=corpus)) if corpus else None
    else:
        query = v
        params = qm.SearchParams(exact=True) if channel.exact else qm.SearchParams(hnsw_ef=HNSW_EF)
    return qm.Prefetch(
        query=query,
        using=channel.using,
        filter=_filter(flt),
        params=params,
        limit=channel.limit,
    )


def _request(stage: qm.Prefetch, with_payload: Any) -> qm.QueryRequest:
    return qm.QueryRequest(
        query=stage.query,
        using=stage.using,
        filter=stage.filter,
        params=stage.params,
        limit=stage.limit,
        with_payload=with_payload,
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
        exists = self._call("reach the server", client.collection_exists, self.collection)
        if not exists and read_only:
            raise CollectionMissingError(
                f"collection {self.collection!r} does not exist on {location} and this codeloci "
                "is read-only; run codeloci once without --read-only to create it"
            )
        if not exists:
            try:
                self._create()
            except StoreError:
                # Another codeloci may have created it at the same moment: use theirs.
                if not self._call("reach the server", client.collection_exists, self.collection):
                    raise
        info = self._call("read the collection", client.get_collection, self.collection)
        spec.check(
            dict(info.config.metadata or {}), f"collection {self.collection!r} on {location}"
        )
        if not read_only:
            self._create_indexes(frozenset(info.payload_schema or {}))

    def _create(self) -> None:
        spec, client = self.spec, self._client
        self._call(
            "create the collection",
            client.create_collection,
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

    def _create_index(self, name: str, kind: IndexKind) -> None:
        schema = {
            "keyword": qm.PayloadSchemaType.KEYWORD,
            "float": qm.PayloadSchemaType.FLOAT,
            "integer": qm.PayloadSchemaType.INTEGER,
        }[kind]
        self._call(
            "index a payload field",
            self._client.create_payload_index,
            self.collection,
            name,
            schema,
            wait=True,
        )

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
            raise StoreError(
                f"cannot {what}: {self._location} answered {type(exc).__name__}: {exc}; check "
                "that the server is up and that QDRANT_URL and QDRANT_API_KEY are right"
            ) from exc

    def _upsert(self, points: Sequence[PointIn]) -> None:
        def sparse(v: SparseVec) -> Any:
            return qm.SparseVector(indices=v.indices, values=v.values)

        structs = [
            qm.PointStruct(id=p.id, vector=named_vectors(p, sparse), payload=p.payload)
            for p in points
        ]
        self._call("store points", self._client.upsert, self.collection, points=structs, wait=True)

    def _set_dense(self, pairs: Sequence[tuple[str, list[float]]]) -> None:
        vectors = [qm.PointVectors(id=i, vector={DENSE_VECTOR: v}) for i, v in pairs]
        self._call(
            "store vectors", self._client.update_vectors, self.collection, vectors, wait=True
        )

    def _delete(self, selector: Any) -> None:
        client = self._client
        self._call("delete points", client.delete, self.collection, selector, wait=True)

    def _delete_ids(self, ids: list[str]) -> None:
        self._delete(qm.PointIdsList(points=list(ids)))

    def _delete_where(self, flt: Filter) -> None:
        self._delete(qm.FilterSelector(filter=_filter(flt) or qm.Filter()))

    def _channel(self, channel: Channel, q: Query) -> list[Hit]:
        stage = _search(channel, q.flt)
        result = self._call(
            "search",
            self._client.query_points,
            self.collection,
            query=stage.query,
            using=stage.using,
            query_filter=stage.filter,
            search_params=stage.params,
            limit=stage.limit,
            with_payload=_payload(q.fields),
        )
        return [hit_of(p) for p in result.points]

    def _channels(self, channels: Sequence[Channel], q: Query) -> list[list[tuple[str, float]]]:
        requests = [_request(_search(c, q.flt), False) for c in channels]
        answers = self._call(
            "search", self._client.query_batch_points, self.collection, requests=requests
        )
        return [[(str(p.id), float(p.score)) for p in a.points] for a in answers]

    def _fused(self, channels: Sequence[Channel], q: Query) -> list[Hit]:
        method: Any = (
            qm.FusionQuery(fusion=qm.Fusion.DBSF)
            if q.fusion.method == "dbsf"
            else qm.RrfQuery(rrf=qm.Rrf(k=q.fusion.k, weights=list(q.fusion.weights)))
        )
        result = self._call(
            "search",
            self._client.query_points,
            self.collection,
            prefetch=[_search(c, q.flt) for c in channels],
            query=method,
            limit=q.limit,
            with_payload=_payload(q.fields),
        )
        return [hit_of(p) for p in result.points]

    def _retrieve(self, ids: list[str], fields: tuple[str, ...] | None) -> list[Hit]:
        records = self._call(
            "read points",
            self._client.retrieve,
            self.collection,
            ids=ids,
            with_payload=_payload(fields),
        )
        return [hit_of(r) for r in records]

    def scroll(
        self, *, flt: Filter | None, limit: int, offset: str | None = None
    ) -> tuple[list[Hit], str | None]:
        records, next_offset = self._call(
            "read points",
            self._client.scroll,
            self.collection,
            scroll_filter=_filter(flt),
            limit=limit,
            offset=offset,
            with_payload=True,
        )
        return [hit_of(r) for r in records], (str(next_offset) if next_offset is not None else None)

    def count(self, flt: Filter | None = None) -> int:
        result = self._call(
            "count points",
            self._client.count,
            self.collection,
            count_filter=_filter(flt),
            exact=True,
        )
        return int(result.count)

    def close(self) -> None:
        self._client.close()
