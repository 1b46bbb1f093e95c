"""Retrieval-quality evaluation of code search: ``python -m devtools.search.evaluate``.

Builds the corpus of :mod:`devtools.search.evalcorpus` (real code, doc comments removed),
indexes it with the real pipeline (Rust ``chunk``, BM25 sparse vectors, MiniLM embeddings in
an embedded Qdrant store in a temporary directory, or a collection of its own on the Qdrant
server `--qdrant-url` names) once per dense-text style, runs every case
through lexical-only, dense-only and fused search, and reports Recall@1, Recall@10 and MRR@10
per query category. A hit is relevant when it is in the right file and its line range holds the
definition line of the function the query is about. The ``def`` columns count per definition,
on the places ``code_search`` returns (:func:`codeloci.indexing.search.places`: pieces of a
split definition merged into the definition they belong to): a place is relevant when the
definition it reports holds that line.

Prints a markdown table on stdout and writes ``--json``.

``--until-hybrid`` measures instead how soon search by meaning pays off while embedding runs:
the corpus is indexed lexically, then its chunks are embedded batch by batch as the background
embedding does, in the product's order and in store order, and after every batch the
natural-language queries are run through fused search. It reports, per order, the seconds
from the start of the index run until their MRR@10 first comes within :data:`REACHED` of its
fully embedded value (the evaluation's own time left out), and how many chunks had vectors
then.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import anyio
from qdrant_client import QdrantClient

from codeloci.bridge import RustBridge
from codeloci.config import find_rust_server
from codeloci.embedder import Embedder, MiniLMEmbedder, default_embedder
from codeloci.indexing.models import CodeSearchInput, SearchMode
from codeloci.indexing.pipeline import EMBED_BATCH, CodeIndex
from codeloci.indexing.progress import IndexProgress
from codeloci.indexing.search import FETCH_FACTOR, RRF_K, CodeSearcher, Place, places
from codeloci.indexing.text import DENSE_TEXT_STYLES
from codeloci.memory import memory_collection_spec
from codeloci.store import Fusion, Hit, MemoryStore, open_store
from devtools.search.evalcorpus import Case, build_corpus

__all__ = ["main", "run", "until_hybrid"]

log = logging.getLogger(__name__)

TOP_K = 10
#: MRR@10 below the fully embedded value that still counts as having reached it
#: (``--until-hybrid``).
REACHED = 0.005
#: Fusion variants compared on the first style, each used for every query (the product picks
#: one per query shape).
FUSION_VARIANTS: tuple[Fusion, ...] = (
    Fusion("rrf", (1.0, 1.0), 60),
    Fusion("rrf", (1.0, 1.0), RRF_K),
    Fusion("rrf", (0.25, 1.0), RRF_K),
    Fusion("rrf", (1.0, 1.5), RRF_K),
    Fusion("dbsf"),
    Fusion("score", (1.0, 1.0)),
    Fusion("score", (1.0, 2.0)),
)


def _label(fusion: Fusion) -> str:
    weights = f"w={fusion.weights[0]:g}:{fusion.weights[1]:g}"
    if fusion.method == "dbsf":
        return "fused dbsf"
    if fusion.method == "score":
        return f"fused score {weights}"
    return f"fused rrf {weights} k={fusion.k}"


def _rank(hits: list[Hit], case: Case) -> int | None:
    for n, hit in enumerate(hits[:TOP_K], start=1):
        p = hit.payload
        if p.get("path") == case.path and p["start_line"] <= case.line <= p["end_line"]:
            return n
    return None


def _place_rank(found: list[Place], case: Case) -> int | None:
    for n, place in enumerate(found[:TOP_K], start=1):
        if place.path == case.path and place.start_line <= case.line <= place.end_line:
            return n
    return None


def _metrics(ranks: list[tuple[int | None, int | None]]) -> dict[str, float]:
    """Recall@1/10 and MRR@10 per chunk (the raw hits) and per definition (``def_``)."""
    n = max(1, len(ranks))
    out: dict[str, float] = {"n": len(ranks)}
    for prefix, column in (("", 0), ("def_", 1)):
        rs = [r[column] for r in ranks]
        out[f"{prefix}recall@1"] = round(sum(r == 1 for r in rs) / n, 3)
        out[f"{prefix}recall@10"] = round(sum(r is not None for r in rs) / n, 3)
        out[f"{prefix}mrr@10"] = round(sum(1.0 / r for r in rs if r is not None) / n, 3)
    return out


#: (label, mode, a fixed fusion or None for the product's per-query choice)
Run = tuple[str, SearchMode, Fusion | None]


def _runs(primary: bool) -> list[Run]:
    runs: list[Run] = [("dense", "dense", None), ("fused", "hybrid", None)]
    if primary:
        runs.insert(0, ("lexical", "lexical", None))
        runs += [(_label(f), "hybrid", f) for f in FUSION_VARIANTS]
    return runs


@dataclass(frozen=True)
class Backend:
    """The store to evaluate on: embedded (``url`` None) or the Qdrant server at ``url``."""

    url: str | None = None
    api_key: str | None = None

    def open(self, embedder: Embedder, data_dir: Path) -> MemoryStore:
        # A collection of its own on a server, dropped afterwards: a user's data is never touched.
        spec = replace(memory_collection_spec(embedder), name=f"eval_{uuid.uuid4().hex[:12]}")
        return open_store(spec, data_dir=data_dir, qdrant_url=self.url, qdrant_api_key=self.api_key)

    def drop(self, store: MemoryStore) -> None:
        if self.url is None:
            return
        client = QdrantClient(url=self.url, api_key=self.api_key, timeout=60)
        try:
            client.delete_collection(f"codeloci_{store.spec.name}")
        finally:
            client.close()


async def _evaluate_style(
    corpus: Path,
    cases: list[Case],
    style: str,
    embedder: Embedder,
    primary: bool,
    backend: Backend,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="codeloci-eval-") as tmp:
        store = backend.open(embedder, Path(tmp))
        try:
            async with RustBridge(find_rust_server(), [corpus]) as bridge:
                index = CodeIndex(store, embedder, bridge, Path(tmp), dense_style=style)
                start = time.monotonic()
                report = await index.index_repository(corpus)
                index_seconds = time.monotonic() - start
            chunks = store.count()
            rows: dict[str, dict[str, dict[str, float]]] = {}
            for label, mode, fusion in _runs(primary):
                searcher = CodeSearcher(store, embedder, fusion=fusion)
                ranks: dict[str, list[tuple[int | None, int | None]]] = defaultdict(list)
                started = time.monotonic()
                for case in cases:
                    inp = CodeSearchInput(query=case.query, k=TOP_K, mode=mode)
                    # Places from code_search's fetch depth (ties at the cut may order
                    # differently from a fetch of TOP_K, which the per-chunk columns keep).
                    deep = searcher.raw(corpus, inp, TOP_K * FETCH_FACTOR)
                    rank = (
                        _rank(searcher.raw(corpus, inp, TOP_K), case),
                        _place_rank(places(deep, TOP_K), case),
                    )
                    for key in ("all", case.category, f"{case.category}/{case.language}"):
                        ranks[key].append(rank)
                per_query_ms = (time.monotonic() - started) * 1000 / max(1, len(cases))
                rows[label] = {k: _metrics(v) for k, v in sorted(ranks.items())}
                rows[label]["_latency"] = {"ms_per_query": round(per_query_ms, 2)}
                log.info("%s %s: %s", style, label, rows[label]["all"])
        finally:
            backend.drop(store)
            store.close()
    return {
        "style": style,
        "backend": store.description,
        "chunks": chunks,
        "index_seconds": round(index_seconds, 1),
        "stage_seconds": report.seconds,
        "rows": rows,
    }


async def run(styles: list[str], backend: Backend | None = None) -> dict[str, Any]:
    embedder = default_embedder()
    with tempfile.TemporaryDirectory(prefix="codeloci-eval-corpus-") as tmp:
        corpus = Path(tmp).resolve() / "corpus"
        cases, files = build_corpus(corpus)
        results = [
            await _evaluate_style(
                corpus, cases, style, embedder, primary=(i == 0), backend=backend or Backend()
            )
            for i, style in enumerate(styles)
        ]
    counts: dict[str, int] = defaultdict(int)
    for case in cases:
        counts[f"{case.category}/{case.language}"] += 1
    return {"files": files, "cases": dict(counts), "results": results}


def _nl_mrr(searcher: CodeSearcher, corpus: Path, cases: list[Case]) -> float:
    """Fused MRR@10 of the natural-language cases (per chunk, as the main table's MRR@10)."""
    ranks = [
        _rank(searcher.raw(corpus, CodeSearchInput(query=c.query, k=TOP_K), TOP_K), c)
        for c in cases
        if c.category == "nl"
    ]
    return round(sum(1.0 / r for r in ranks if r is not None) / max(1, len(ranks)), 3)


async def _curve(
    corpus: Path, cases: list[Case], embedder: Embedder, backend: Backend, *, ordered: bool
) -> dict[str, Any]:
    """Index lexically, then embed batch by batch; NL fused MRR@10 after every batch."""
    with tempfile.TemporaryDirectory(prefix="codeloci-eval-") as tmp:
        store = backend.open(embedder, Path(tmp))
        try:
            async with RustBridge(find_rust_server(), [corpus]) as bridge:
                index = CodeIndex(store, embedder, bridge, Path(tmp))
                start = time.monotonic()
                report = await index.index_repository(corpus, embed=False)
                lexical_s = time.monotonic() - start
            searcher = CodeSearcher(store, embedder)
            curve = [(0, round(lexical_s, 2), _nl_mrr(searcher, corpus, cases))]
            paused = 0.0  # seconds spent evaluating, left out of the clock

            def checkpoint(state: IndexProgress) -> None:
                nonlocal paused
                at = time.monotonic()
                mrr = _nl_mrr(searcher, corpus, cases)
                curve.append((state.embedded, round(at - start - paused, 2), mrr))
                paused += time.monotonic() - at

            await anyio.to_thread.run_sync(
                lambda: index.embed_pending(corpus, checkpoint, ordered=ordered)
            )
        finally:
            backend.drop(store)
            store.close()
    final = curve[-1][2]
    reached = next(point for point in curve if point[2] >= final - REACHED)
    return {
        "order": "definitions first" if ordered else "store order",
        "chunks": report.pending,
        "batch": EMBED_BATCH,
        "lexical_seconds": round(lexical_s, 2),
        "embedded_seconds": curve[-1][1],
        "final_nl_mrr@10": final,
        "lexical_nl_mrr@10": curve[0][2],
        "reached_within": REACHED,
        "reached_after_chunks": reached[0],
        "reached_seconds": reached[1],
        "curve": curve,
    }


async def until_hybrid(backend: Backend | None = None) -> dict[str, Any]:
    """The ``--until-hybrid`` measurement: the product's embedding order against store order,
    on the same corpus, one after the other, each with an embedder of its own (one that
    remembered the first order's texts would not embed them again for the second)."""
    with tempfile.TemporaryDirectory(prefix="codeloci-eval-corpus-") as tmp:
        corpus = Path(tmp).resolve() / "corpus"
        cases, files = build_corpus(corpus)
        runs = [
            await _curve(corpus, cases, MiniLMEmbedder(), backend or Backend(), ordered=ordered)
            for ordered in (True, False)
        ]
    return {"files": files, "nl_cases": sum(c.category == "nl" for c in cases), "runs": runs}


def _until_table(data: dict[str, Any]) -> str:
    out = [
        "| order | chunks | lexical index s | NL fused MRR@10: lexical only → fully embedded "
        "| reached after chunks | reached at s | fully embedded at s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in data["runs"]:
        out.append(
            f"| {r['order']} | {r['chunks']} | {r['lexical_seconds']} | "
            f"{r['lexical_nl_mrr@10']:.3f} → {r['final_nl_mrr@10']:.3f} | "
            f"{r['reached_after_chunks']} | {r['reached_seconds']} | {r['embedded_seconds']} |"
        )
    return "\n".join(out)


def _table(data: dict[str, Any]) -> str:
    out = [
        "| dense text | channel | category | n | Recall@1 | Recall@10 | MRR@10 "
        "| def R@1 | def R@10 | def MRR@10 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for res in data["results"]:
        for label, groups in res["rows"].items():
            for group in ("all", "nl", "identifier"):
                m = groups.get(group)
                if m:
                    out.append(
                        f"| {res['style']} | {label} | {group} | {m['n']:.0f} | "
                        f"{m['recall@1']:.3f} | {m['recall@10']:.3f} | {m['mrr@10']:.3f} | "
                        f"{m['def_recall@1']:.3f} | {m['def_recall@10']:.3f} | "
                        f"{m['def_mrr@10']:.3f} |"
                    )
    lines = ["\n".join(out), "", "Per language (first style, MRR@10):", ""]
    first = data["results"][0]["rows"]
    keys = sorted(k for k in next(iter(first.values())) if "/" in k)
    lines.append("| channel | " + " | ".join(keys) + " |")
    lines.append("|---|" + "---|" * len(keys))
    for label, groups in first.items():
        lines.append(
            f"| {label} | " + " | ".join(f"{groups[k]['mrr@10']:.3f}" for k in keys) + " |"
        )
    lines += [
        "",
        f"Corpus: {data['files']} files; cases {data['cases']}; "
        + "; ".join(
            f"{r['style']}: {r['chunks']} chunks indexed in {r['index_seconds']}s ({r['backend']})"
            for r in data["results"]
        ),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.search.evaluate")
    parser.add_argument("--json", type=Path, help="write the full results here")
    parser.add_argument(
        "--styles",
        default=",".join(DENSE_TEXT_STYLES),
        help=f"dense-text styles to compare (default: {','.join(DENSE_TEXT_STYLES)})",
    )
    parser.add_argument(
        "--qdrant-url",
        help="evaluate on the Qdrant server at this URL (a collection of its own, dropped "
        "after) instead of the embedded store",
    )
    parser.add_argument("--qdrant-api-key", help="the server's API key, if it needs one")
    parser.add_argument(
        "--until-hybrid",
        action="store_true",
        help="measure the time until natural-language queries reach their fully embedded "
        "quality while embedding runs, in the product's order and in store order",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    if find_rust_server() is None:
        print("codeloci-ast not found: build rust-server/ first", file=sys.stderr)
        return 2
    backend = Backend(args.qdrant_url, args.qdrant_api_key)
    if args.until_hybrid:
        until = anyio.run(until_hybrid, backend)
        if args.json:
            args.json.write_text(json.dumps(until, indent=2))
        print(_until_table(until))
        return 0
    data = anyio.run(run, [s for s in args.styles.split(",") if s], backend)
    if args.json:
        args.json.write_text(json.dumps(data, indent=2))
    print(_table(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
