"""codeloci.identifiers: the one definition of identifiers, words and qualified names."""

from __future__ import annotations

import pytest

from codeloci.identifiers import (
    identifier_words,
    identifiers,
    is_camel,
    is_identifier_query,
    is_snake,
    last_name,
    name_tokens,
    normalize_identifier,
    split_qualified,
    split_words,
)


def test_identifiers_and_their_words() -> None:
    assert identifiers("self.parse_file(path, 42) + $x") == [
        "self",
        "parse_file",
        "path",
        "42",
        "x",
    ]
    assert split_words("parseHTTP_header") == ["parse", "HTTP", "header"]
    assert split_words("HTTPServer") == ["HTTP", "Server"]
    assert split_words("utf8Decode") == ["utf8", "Decode"]
    assert split_words("__init__") == ["init"]
    assert (
        identifier_words("parse_header_line / ParseHeaderLine") == ["parse", "header", "line"] * 2
    )
    assert identifier_words("parse_config x", compounds=True) == [
        "parseconfig",
        "parse",
        "config",
        "x",
    ]


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("a.b::C#d", ["a", "b", "C", "d"]),
        ("net/http.Client", ["net", "http", "Client"]),
        ("a\\b", ["a", "b"]),
        ("::a::b", ["a", "b"]),
        ("plain", ["plain"]),
        ("", []),
    ],
)
def test_qualified_names(name: str, parts: list[str]) -> None:
    assert split_qualified(name) == parts
    assert last_name(name) == (parts[-1] if parts else "")


def test_shapes_and_normal_form() -> None:
    assert is_snake("parse_file") and is_snake("MAX_SIZE") and not is_snake("__init")
    assert is_camel("parseFile") and is_camel("HTTPServer") and not is_camel("HTTP")
    assert not is_camel("parse")
    assert {normalize_identifier(n) for n in ("parse_file", "parseFile", "parse-file")} == {
        "parsefile"
    }


def test_name_tokens_keep_paths_and_qualified_names_whole() -> None:
    assert name_tokens("see ./a/b.py, then call parse_file() or mod::Type::new.") == [
        "see",
        "a/b.py",
        "then",
        "call",
        "parse_file",
        "or",
        "mod::Type::new",
    ]
    assert name_tokens("src\\gate\\core.py") == ["src/gate/core.py"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("parse_config", True),
        ("Foo.bar", True),
        ("a::b", True),
        ("Cmd#run", True),
        (" f() ", True),
        ("how does parsing work", False),
        ("gate/core.py", False),
    ],
)
def test_identifier_queries(query: str, expected: bool) -> None:
    assert is_identifier_query(query) is expected
