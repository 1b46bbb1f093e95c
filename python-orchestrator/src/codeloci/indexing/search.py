"""``code_search``: hybrid dense + BM25 search over one project's code chunks.

Fusion, as chosen with ``python -m devtools.search.evaluate``: a query in words by the
standardised channel scores (:data:`WORDS_FUSION`: both channels' candidates from one Qdrant
batch, summed here); a query that is a single identifier, which BM25 on split identifiers
answers best, by BM25 alone when its best hit spells the name, otherwise by reciprocal rank
with the lexical channel first, inside Qdrant as prefetches of one query
(:data:`IDENTIFIER_FUSION`).
BM25's IDF statistics are computed over the project's own chunks. Chunks still waiting for
their embedding are found by the lexical channel. Results are de-duplicated by content (the
same code in two files is shown once) and are places (:func:`places`): a hit on a piece of a
split definition reports that definition (qualified name, signature, full line range) and
shows its signature, then the piece; later pieces of the same definition add nothing, so k
results are k places. They are trimmed to the token budget (a result that does not fit
becomes a snippet of its first lines, then the rest is omitted) and flagged ``stale`` when
the file's size or modification time on disk no longer matches what was indexed.
"""

from __future__ import annotations

import fnmatch
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from codeloci.budget import fit_to_budget
from codeloci.config import project_id_for
from codeloci.embedder import Embedder
from codeloci.identifiers import is_identifier_query, last_name
from codeloci.indexing.models import CodeHit, CodeSearchInput, CodeSearchResult
from codeloci.indexing.points import code_filter, idf_corpus, kind_tag, language_tag
from codeloci.indexing.text import sparse_query
from codeloci.store import (
    DENSE_VECTOR,
    Cond,
    Fusion,
    Hit,
    Match,
    MemoryStore,
    Query,
    SparseVec,
    with_vector,
)

__all__ = [
    "IDENTIFIER_FUSION",
    "SEARCH_FIELDS",
    "WORDS_FUSION",
    "CodeSearcher",
    "Place",
    "fusion_for",
    "is_stale",
    "places",
]

#: The k of reciprocal-rank fusion: score = sum of weight / (k + rank). A small k trusts
#: each channel's top ranks: k=2 gave MRR@10 0.570 vs 0.543 for the usual k=60 (evaluate).
RRF_K = 2
#: Fusion of a query in words. Score fusion keeps how far ahead a channel's best candidate
#: is, which rank fusion throws away (evaluate: natural-language MRR@10 0.548 against 0.529
#: for equal-weight RRF k=2, the same Recall@10, better on both halves of the evaluation
#: set's files; Qdrant's own DBSF reached 0.542 but lost 2 points of Recall@10).
WORDS_FUSION = Fusion("score", (1.0, 1.0))
#: Fusion of a query that is one identifier (:func:`is_identifier_query`), where BM25 alone
#: beat equal weights (evaluate). Qdrant's weighted RRF scores rank r (0-based) as
#: 1 / (k + (r + 1) / w - 1): a small dense weight keeps the lexical order at the top and lets
#: dense only break ties further down (a large lexical weight would flatten the lexical ranks).
IDENTIFIER_FUSION = Fusion("rrf", (0.25, 1.0), RRF_K)
#: The payload keys a result is built from (the rest of the 30 stay in the store: converting
#: whole payloads cost 0.8 ms of a 155k-chunk query).
SEARCH_FIELDS = (
    "path", "start_line", "end_line", "symbol", "chunk_kind", "language", "signature",
    "content", "content_hash", "file_size", "file_mtime_ns", "definition",
)  # fmt: skip
#: Raw hits fetched per place asked for: pieces of one definition merge into one place.
FETCH_FACTOR = 3
#: Most characters of a definition's signature shown before a piece of it.
SIGNATURE_PREFIX_CHARS = 300
#: The line between a definition's signature and a later piece of it.
ELISION = "⋮"
#: Candidates per channel before fusion, as a multiple of the k asked for (at least
#: PREFETCH_MIN, and at least as many as are fetched after fusion). The evaluation measures
#: this same depth: score fusion normalises over it.
PREFETCH_FACTOR = 5
PREFETCH_MIN = 50
#: With a path glob the store cannot filter on, fetch this many times k and filter here.
GLOB_OVERFETCH = 10
MAX_FETCH = 500
#: Seconds a project's pending-embedding count is reused between searches (it costs a scan:
#: 14 ms at 155k chunks) while the store is being written; with no write through the code
#: operations since it was taken it is reused for up to PENDING_IDLE_SECONDS.
PENDING_CACHE_SECONDS = 2.0
PENDING_IDLE_SECONDS = 60.0
#: Query embeddings kept (384 floats each: 256 take 0.4 MB).
QUERY_CACHE_SIZE = 256


def is_stale(root: Path, payload: dict[str, Any]) -> bool:
    try:
        st = os.stat(root / str(payload["path"]))
    except OSError:
        return True
    return bool(
        st.st_size != payload.get("file_size") or st.st_mtime_ns != payload.get("file_mtime_ns")
    )


def fusion_for(query: str) -> Fusion:
    """How ``query``'s two channels are fused, chosen from the query's shape alone."""
    return IDENTIFIER_FUSION if is_identifier_query(query) else WORDS_FUSION


def _names(hit: Hit, query: str) -> bool:
    """Whether ``hit`` spells the name ``query`` ends with (case aside): an identifier query
    whose best lexical hit does is answered by BM25 alone, which matched fused search on such
    queries (evaluate: MRR@10 0.917 vs 0.914) and skips embedding the query. One that does not
    (a misspelt or described name) gets the dense channel too."""
    name = last_name(query.strip().removesuffix("()").strip()).lower()
    p = hit.payload
    return bool(name) and any(
        name in str(p.get(key) or "").lower() for key in ("symbol", "signature", "content")
    )


@dataclass
class Place:
    """One result: a chunk that is a place of its own, or the split definition its best piece
    belongs to (``pieces``: the matching pieces, best first)."""

    pieces: list[Hit] = field(default_factory=list)

    @property
    def best(self) -> Hit:
        return self.pieces[0]

    @property
    def definition(self) -> dict[str, Any] | None:
        found = self.best.payload.get("definition")
        return found if isinstance(found, dict) else None

    @property
    def path(self) -> str:
        return str(self.best.payload["path"])

    @property
    def start_line(self) -> int:
        d = self.definition
        return int((d or self.best.payload)["start_line"])

    @property
    def end_line(self) -> int:
        d = self.definition
        return int((d or self.best.payload)["end_line"])

    @property
    def symbol(self) -> str | None:
        d = self.definition
        return d.get("symbol") if d else self.best.payload.get("symbol")

    @property
    def kind(self) -> str:
        d = self.definition
        kind = d.get("kind") if d else None
        return str(kind or self.best.payload.get("chunk_kind") or "code")

    @property
    def signature(self) -> str | None:
        d = self.definition
        return d.get("signature") if d else self.best.payload.get("signature")

    @property
    def shown_lines(self) -> tuple[int, int] | None:
        """The lines of the definition :attr:`content` shows after the signature, when the
        place is a split definition and its best piece is not its start."""
        p = self.best.payload
        if self.definition is None or int(p["start_line"]) <= self.start_line:
            return None
        return int(p["start_line"]), int(p["end_line"])

    @property
    def content(self) -> str:
        """The best piece, led by the definition's signature when the piece is a later one."""
        body = str(self.best.payload.get("content") or "")
        signature = self.signature
        if self.shown_lines is None or not signature:
            return body
        return f"{signature[:SIGNATURE_PREFIX_CHARS]}\n{ELISION}\n{body}"


def _place_key(hit: Hit) -> tuple[str, ...]:
    d = hit.payload.get("definition")
    if isinstance(d, dict):
        return ("def", str(hit.payload.get("path")), str(d.get("symbol")), str(d.get("start_line")))
    return ("hit", hit.id)


def places(hits: Iterable[Hit], k: int, path_glob: str | None = None) -> list[Place]:
    """The first ``k`` places of ranked ``hits``: the same content is shown once (the first
    file wins), pieces of one split definition are one place at the rank of its best piece."""
    out: list[Place] = []
    by_key: dict[tuple[str, ...], Place] = {}
    seen: set[str] = set()
    for hit in hits:
        p = hit.payload
        if path_glob and not fnmatch.fnmatchcase(str(p["path"]), path_glob):
            continue
        content_key = str(p.get("content_hash") or hit.id)
        if content_key in seen:
            continue
        seen.add(content_key)
        key = _place_key(hit)
        place = by_key.get(key)
        if place is not None:
            place.pieces.append(hit)
            continue
        if len(out) >= k:
            break
        place = by_key[key] = Place([hit])
        out.append(place)
    return out


class CodeSearcher:
    def __init__(
        self,
        store: MemoryStore,
        embedder: Embedder,
        *,
        fusion: Fusion | None = None,
    ) -> None:
        """``fusion`` fixes how channels are fused; ``None`` picks it per query
        (:func:`fusion_for`)."""
        self.store = store
        self.embedder = embedder
        self.fusion = fusion
        self._pending: dict[str, tuple[float, int, int]] = {}
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._vectors_lock = threading.Lock()

    def pending(self, project: str) -> int:
        now = time.monotonic()
        cached = self._pending.get(project)
        if cached is not None:
            at, generation, count = cached
            unchanged = generation == self.store.generation
            # A cached 0 is not reused after a write: "nothing pending" must not outlive the
            # write that added chunks to embed.
            if (now - at < PENDING_CACHE_SECONDS and (count or unchanged)) or (
                unchanged and now - at < PENDING_IDLE_SECONDS
            ):
                return count
        generation = self.store.generation
        count = self.store.count(with_vector(code_filter(project), DENSE_VECTOR, False))
        self._pending[project] = (now, generation, count)
        return count

    def query_vector(self, query: str) -> np.ndarray:
        """The query's embedding, from a small LRU cache (agents repeat queries)."""
        with self._vectors_lock:
            vector = self._vectors.get(query)
            if vector is not None:
                self._vectors.move_to_end(query)
                return vector
        vector = np.array(self.embedder.embed([query])[0], dtype=np.float32)
        vector.flags.writeable = False  # shared by every search with this query
        with self._vectors_lock:
            self._vectors[query] = vector
            while len(self._vectors) > QUERY_CACHE_SIZE:
                self._vectors.popitem(last=False)
        return vector

    def raw(self, root: Path, inp: CodeSearchInput, limit: int) -> list[Hit]:
        """Ranked hits before de-duplication and budget (the evaluation uses this)."""
        project = project_id_for(root)
        extra: list[Cond] = []
        if inp.language:
            extra.append(Match("tags", language_tag(inp.language)))
        if inp.kind:
            extra.append(Match("tags", kind_tag(inp.kind)))
        flt = code_filter(project, *extra)
        sparse = sparse_query(inp.query) if inp.mode in ("hybrid", "lexical") else None
        # while embedding runs, chunks without a vector keep their lexical place in fusion
        unembedded = inp.mode == "hybrid" and self.pending(project) > 0

        def run(dense: np.ndarray | None, sparse: SparseVec | None) -> list[Hit]:
            return self.store.query(
                Query(
                    dense=dense,
                    sparse=sparse,
                    flt=flt,
                    limit=limit,
                    prefetch=max(PREFETCH_MIN, inp.k * PREFETCH_FACTOR, limit),
                    fusion=self.fusion or fusion_for(inp.query),
                    idf_scope=idf_corpus(project),
                    fields=SEARCH_FIELDS,
                    exact=False,
                    unembedded=unembedded,
                )
            )

        if inp.mode == "hybrid" and self.fusion is None and is_identifier_query(inp.query):
            hits = run(None, sparse)
            if hits and _names(hits[0], inp.query):
                return hits
        dense = self.query_vector(inp.query) if inp.mode in ("hybrid", "dense") else None
        return run(dense, sparse)

    def search(self, root: Path, inp: CodeSearchInput) -> CodeSearchResult:
        root = Path(root).resolve()
        limit = inp.k * (GLOB_OVERFETCH if inp.path_glob else FETCH_FACTOR)
        ranked = places(self.raw(root, inp, min(MAX_FETCH, limit)), inp.k, inp.path_glob)
        trimmed = fit_to_budget(ranked, inp.token_budget, lambda place: place.content)
        results = [
            CodeHit(
                path=place.path,
                start_line=place.start_line,
                end_line=place.end_line,
                symbol=place.symbol,
                kind=place.kind,
                language=str(place.best.payload.get("language") or "text"),
                signature=place.signature,
                score=round(place.best.score, 6),
                content=f.content,
                shown_lines=place.shown_lines,
                truncated=f.truncated,
                stale=is_stale(root, place.best.payload),
            )
            for f in trimmed.kept
            for place in (f.item,)
        ]
        pending = self.pending(project_id_for(root))
        return CodeSearchResult(
            results=results,
            tokens_used=trimmed.used,
            token_budget=inp.token_budget,
            omitted=trimmed.omitted,
            pending=pending,
        )
