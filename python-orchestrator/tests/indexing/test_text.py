"""What is indexed for a chunk (lexical words, dense text) and the query-shape fusion choice."""

from __future__ import annotations

from typing import Any

import pytest

from codeloci.identifiers import is_identifier_query
from codeloci.indexing.search import IDENTIFIER_FUSION, WORDS_FUSION, fusion_for
from codeloci.indexing.text import (
    HEADER_TEXT_CHARS,
    NAME_REPEAT,
    dense_text,
    lexical_text,
    sparse_document,
    sparse_query,
)

PAYLOAD: dict[str, Any] = {
    "path": "src/difflib_util.py",
    "symbol": "SequenceMatcher.set_seq",
    "name": "set_seq",
    "chunk_kind": "method",
    "context": "class SequenceMatcher",
    "content": "    def set_seq(self, b):\n        self.b = b\n" + "        x = 1\n" * 200,
}


@pytest.mark.parametrize(
    "query", ["parse_config", "parseConfig", "Foo.bar", "a::b", "Cmd#run", "f()", " read_dir "]
)
def test_identifier_queries(query: str) -> None:
    assert is_identifier_query(query)
    assert fusion_for(query) == IDENTIFIER_FUSION
    assert IDENTIFIER_FUSION.method == "rrf" and IDENTIFIER_FUSION.weights[0] < 1


@pytest.mark.parametrize(
    "query", ["parse the config", "Returns true if the path exists.", "a.b c", "", "x = 1"]
)
def test_sentence_queries(query: str) -> None:
    assert not is_identifier_query(query)
    assert fusion_for(query) == WORDS_FUSION
    assert WORDS_FUSION.method == "score"


def test_lexical_text_repeats_the_name_and_expands_abbreviations() -> None:
    words = lexical_text(PAYLOAD).split()
    # once in the qualified name, NAME_REPEAT more times as the name, once in the code
    assert words.count("seq") == NAME_REPEAT + 2
    # "seq" gets its full word in the qualified name and the name, not in the body; the
    # qualified name's "SequenceMatcher" gives one more
    assert words.count("sequence") == NAME_REPEAT + 2
    assert "setseq" in words and "sequencematcher" in words
    assert {"src", "difflib", "util"} <= set(words)


def test_lexical_text_without_a_symbol() -> None:
    payload = {"path": "a.py", "content": "x = parse_it(1)"}
    assert lexical_text(payload).split() == ["a", "py", "x", "parseit", "parse", "it", "1"]


def test_name_words_outrank_a_mere_mention() -> None:
    definition = sparse_document(PAYLOAD)
    caller = sparse_document({"path": "b.py", "content": "m.set_seq(b)\n"})
    query = sparse_query("set the second sequence")
    qi = set(query.indices)

    def score(doc: Any) -> float:
        return float(sum(v for i, v in zip(doc.indices, doc.values, strict=True) if i in qi))

    assert score(definition) > score(caller)


def test_dense_header_layout() -> None:
    text = dense_text(PAYLOAD)
    lines = text.splitlines()
    assert lines[:4] == [
        "set seq",
        "method sequence matcher set seq",
        "src difflib util",
        "class SequenceMatcher",
    ]
    assert lines[4] == "    def set_seq(self, b):"
    assert len(text) == HEADER_TEXT_CHARS


def test_dense_header_of_an_anonymous_chunk() -> None:
    text = dense_text({"path": "pkg/mod.rs", "content": "use std::io;\n"})
    assert text.splitlines() == ["pkg mod", "use std::io;"]


def test_other_styles_unchanged() -> None:
    assert dense_text(PAYLOAD, "raw") == PAYLOAD["content"][:1200]
    assert dense_text(PAYLOAD, "summary").splitlines()[:3] == [
        "src difflib util",
        "method SequenceMatcher.set_seq",
        "class SequenceMatcher",
    ]
    with pytest.raises(ValueError):
        dense_text(PAYLOAD, "nope")


def _model_document(payload: dict[str, Any]) -> tuple[list[int], list[float]]:
    """The BM25 model's own document vector of the chunk's lexical text."""
    from codeloci.indexing.text import _bm25

    vector = _bm25().embed_document(lexical_text(payload))
    pairs = sorted(zip(vector.indices, vector.values, strict=True))
    return [int(i) for i, _ in pairs], [float(v) for _, v in pairs]


def test_sparse_document_equals_the_model_on_real_code() -> None:
    """sparse_document works the weights out from remembered per-word term ids; they must be
    the model's own ``embed_document`` of lexical_text, or queries (embedded by the model)
    would score against different vectors. Real code of this repository in two languages,
    cut into 30-line chunks, with names that exercise stop words, abbreviations and camelCase."""
    from pathlib import Path

    repo = Path(__file__).resolve().parents[3]
    files = sorted((repo / "python-orchestrator" / "src" / "codeloci").rglob("*.py"))[:25]
    files += sorted((repo / "rust-server" / "src").rglob("*.rs"))[:25]
    names = [("parse_cfg", "Cfg.parse_cfg"), ("getHTTPServer", "a::b::getHTTPServer"), ("", "")]
    checked = 0
    for n, path in enumerate(files):
        lines = path.read_text(encoding="utf-8").splitlines()
        for start in range(0, len(lines), 30):
            name, symbol = names[(n + start) % len(names)]
            payload = {
                "path": str(path.relative_to(repo)),
                "symbol": symbol,
                "name": name,
                "content": "\n".join(lines[start : start + 30]),
            }
            want_ids, want_values = _model_document(payload)
            got = sparse_document(payload)
            assert got.indices == want_ids, path
            assert got.values == pytest.approx(want_values, rel=1e-6), path
            checked += 1
    assert checked > 200
    assert sparse_document({"content": "the a of"}).indices == []  # stop words only
