"""The engine-neutral vector store interface and its small filter language.

A :class:`MemoryStore` is one collection: points with a UUID id, a dense vector named
``dense``, optionally a sparse vector named ``bm25`` (for hybrid code search), and a JSON
payload. Backends translate :class:`Filter` trees into their engine's filters. The interface is
synchronous; async callers run it in a worker thread.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "DENSE_VECTOR",
    "SPARSE_VECTOR",
    "CollectionSpec",
    "Cond",
    "EmbedderMismatchError",
    "Filter",
    "HasId",
    "Hit",
    "IsNull",
    "Match",
    "MatchAny",
    "MemoryStore",
    "PointIn",
    "Range",
    "ReadOnlyStoreError",
    "SparseVec",
    "StoreDamagedError",
    "StoreError",
    "StoreLockedError",
]

DENSE_VECTOR = "dense"
SPARSE_VECTOR = "bm25"


class StoreError(RuntimeError):
    """A store operation failed; the message is meant for the user."""


class StoreLockedError(StoreError):
    """Another process holds the embedded store."""


class ReadOnlyStoreError(StoreError):
    """A write was attempted on a store opened read-only."""


class EmbedderMismatchError(StoreError):
    """The collection was embedded with another model or dimension."""


class StoreDamagedError(StoreError):
    """The embedded store's files are missing or unreadable; nothing is served from it until
    ``codeloci repair`` moves it aside and rebuilds it (see :mod:`codeloci.store.repair`)."""


@dataclass(frozen=True)
class CollectionSpec:
    """What a collection holds. ``embedder``/``dim`` are recorded at creation and checked on
    every open; ``keyword_fields`` and ``float_fields`` get payload indexes."""

    name: str
    embedder: str
    dim: int
    keyword_fields: tuple[str, ...] = ()
    float_fields: tuple[str, ...] = ()
    sparse: bool = True

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


@dataclass(frozen=True)
class PointIn:
    id: str
    vector: npt.NDArray[np.float32] | list[float]
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
class Filter:
    """All of ``must``, at least one of ``should`` (when any), none of ``must_not``."""

    must: tuple[Cond, ...] = field(default=())
    should: tuple[Cond, ...] = field(default=())
    must_not: tuple[Cond, ...] = field(default=())


Cond = Match | MatchAny | Range | IsNull | HasId | Filter


def as_list(vector: npt.NDArray[np.float32] | list[float]) -> list[float]:
    if isinstance(vector, np.ndarray):
        return [float(x) for x in vector.astype(np.float32).ravel()]
    return [float(x) for x in vector]


class MemoryStore(abc.ABC):
    """One collection of points. All methods may raise :class:`StoreError`."""

    def __init__(self, spec: CollectionSpec, *, read_only: bool) -> None:
        self.spec = spec
        self.read_only = read_only

    def _writable(self, action: str) -> None:
        if self.read_only:
            raise ReadOnlyStoreError(f"cannot {action}: the store is open read-only")

    @property
    @abc.abstractmethod
    def description(self) -> str:
        """Where the data lives, for messages (never includes credentials)."""

    @abc.abstractmethod
    def upsert(self, points: Sequence[PointIn]) -> None: ...

    @abc.abstractmethod
    def delete_ids(self, ids: Sequence[str]) -> None: ...

    @abc.abstractmethod
    def delete_where(self, flt: Filter) -> None: ...

    @abc.abstractmethod
    def search(
        self,
        vector: npt.NDArray[np.float32] | list[float],
        *,
        limit: int,
        flt: Filter | None = None,
        exact: bool | None = None,
    ) -> list[Hit]:
        """Nearest points by cosine similarity. ``exact=None`` means exact whenever a filter is
        given (filtered HNSW loses recall) and HNSW otherwise."""

    @abc.abstractmethod
    def search_hybrid(
        self,
        vector: npt.NDArray[np.float32] | list[float],
        sparse: SparseVec,
        *,
        limit: int,
        flt: Filter | None = None,
        prefetch: int = 50,
    ) -> list[Hit]:
        """Reciprocal-rank fusion of dense and ``bm25`` sparse search (needs ``spec.sparse``)."""

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

    @abc.abstractmethod
    def get(self, ids: Sequence[str]) -> list[Hit]:
        """The points with these ids that exist, in the order given."""

    @abc.abstractmethod
    def close(self) -> None: ...
