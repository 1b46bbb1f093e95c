"""Python-side chunkers the Rust chunker is compared with, timed in-process on the same texts.

Each adapter turns one text into chunks and returns how many it made plus their total
characters (to describe granularity); construction (grammar loading) happens once, untimed.
Everything runs offline: the tree-sitter grammars come from the `tree-sitter-python` and
`tree-sitter-rust` wheels, never from a download.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .machine import package_version

ChunkFn = Callable[[str], tuple[int, int]]


@dataclass(frozen=True)
class Anchor:
    key: str
    label: str
    packages: tuple[str, ...]
    returns: str  # what the anchor hands back per chunk (metadata honesty)
    target_ratio: float | None  # speed-up we must reach over it (None: reference only)
    target_text: str
    languages: tuple[str, ...]
    make: Callable[[str, int], ChunkFn]

    def versions(self) -> str:
        return ", ".join(f"`{p}` {package_version(p)}" for p in self.packages)


def _grammar(language: str) -> Any:
    module = importlib.import_module({"python": "tree_sitter_python", "rust": "tree_sitter_rust"}[language])
    return module.language()


def _parser(language: str) -> Any:
    ts = importlib.import_module("tree_sitter")
    return ts.Parser(ts.Language(_grammar(language)))


def _sts(language: str, cap: int) -> ChunkFn:
    sts = importlib.import_module("semantic_text_splitter")
    splitter = sts.CodeSplitter(_grammar(language), cap)

    def run(text: str) -> tuple[int, int]:
        chunks: list[str] = splitter.chunks(text)
        return len(chunks), sum(len(c) for c in chunks)

    return run


def _llama(language: str, cap: int) -> ChunkFn:
    code = importlib.import_module("llama_index.core.node_parser")
    # `tokenizer=len` keeps LlamaIndex from fetching a tiktoken encoding (char mode never uses it).
    splitter = code.CodeSplitter(language=language, max_chars=cap, parser=_parser(language), tokenizer=len)

    def run(text: str) -> tuple[int, int]:
        chunks: list[str] = splitter.split_text(text)
        return len(chunks), sum(len(c) for c in chunks)

    return run


def _astchunk(language: str, cap: int) -> ChunkFn:
    astchunk = importlib.import_module("astchunk")
    builder = astchunk.ASTChunkBuilder(max_chunk_size=cap, language=language, metadata_template="default")

    def run(text: str) -> tuple[int, int]:
        windows: list[dict[str, Any]] = builder.chunkify(text)
        return len(windows), sum(len(w["content"]) for w in windows)

    return run


def _raw_parse(language: str, cap: int) -> ChunkFn:
    parser = _parser(language)

    def run(text: str) -> tuple[int, int]:
        parser.parse(text.encode("utf-8"))
        return 0, 0

    return run


ANCHORS: tuple[Anchor, ...] = (
    Anchor(
        "sts",
        "semantic-text-splitter CodeSplitter",
        ("semantic-text-splitter",),
        "chunk text only (no kind, name, lines or ids)",
        1.0,
        "≥ 1× (with full metadata)",
        ("python", "rust"),
        _sts,
    ),
    Anchor(
        "llama",
        "LlamaIndex CodeSplitter (`split_text`)",
        ("llama-index-core", "tree-sitter"),
        "chunk text only via `split_text` (the cheapest path; nodes with metadata cost more)",
        10.0,
        "≥ 10×",
        ("python", "rust"),
        _llama,
    ),
    Anchor(
        "astchunk",
        "astchunk ASTChunkBuilder",
        ("astchunk", "tree-sitter"),
        "text + line range, size, path metadata; its cap counts non-whitespace characters, so its "
        "chunks are larger at the same number; no Rust support",
        10.0,
        "≥ 10×",
        ("python",),
        _astchunk,
    ),
    Anchor(
        "parse",
        "tree-sitter parse only (py-tree-sitter, same grammar)",
        ("tree-sitter",),
        "a parse tree, no chunks: the ceiling any tree-sitter chunker on one core can reach",
        None,
        "",
        ("python", "rust"),
        _raw_parse,
    ),
)
