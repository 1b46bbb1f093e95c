"""codeloci.secrets: the shared pattern set, the shared vectors, and agreement with Rust."""

from __future__ import annotations

import itertools
import json
import random
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp import ClientSession, StdioServerParameters, stdio_client

from codeloci import secrets
from codeloci.secrets import Redaction, find, redact

SHARED = Path(__file__).resolve().parents[2] / "shared-schemas"
VECTORS: list[dict[str, Any]] = json.loads((SHARED / "secret-vectors.json").read_text())["vectors"]


def test_packaged_patterns_are_byte_identical_to_shared_schemas() -> None:
    packaged = resources.files("codeloci.data").joinpath("secret-patterns.json").read_bytes()
    assert packaged == (SHARED / "secret-patterns.json").read_bytes(), (
        "python-orchestrator/src/codeloci/data/secret-patterns.json is stale: copy "
        "shared-schemas/secret-patterns.json over it"
    )


def test_packaged_copy_is_used_without_a_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(secrets, "_SHARED", Path("/nonexistent/secret-patterns.json"))
    where, raw = secrets.patterns_source()
    assert where == "codeloci.data/secret-patterns.json"
    assert raw == (SHARED / "secret-patterns.json").read_bytes()


def test_every_pattern_compiles_and_has_its_group() -> None:
    compiled = secrets.patterns()
    spec = json.loads((SHARED / "secret-patterns.json").read_text())["patterns"]
    assert [p.kind for p in compiled] == [s["kind"] for s in spec]
    for p in compiled:
        assert p.group <= p.regex.groups, p.kind


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["text"][:40])
def test_shared_vectors_hold(vector: dict[str, Any]) -> None:
    text: str = vector["text"]
    found = [[r.kind, text[r.start : r.end]] for r in find(text)]
    assert found == vector["secrets"]
    redacted, hits = redact(text)
    for kind, secret in vector["secrets"]:
        assert secret not in redacted
        assert f"[REDACTED:{kind}]" in redacted
    assert len(hits) == len(vector["secrets"])
    if not vector["secrets"]:
        assert redacted == text


def test_markers_and_overlap_rules() -> None:
    text = "a AKIAIOSFODNN7EXAMPLE b"
    assert redact(text) == (
        "a [REDACTED:aws_access_key_id] b",
        [Redaction("aws_access_key_id", 2, 22)],
    )
    # An OpenAI-style key that is also a secret assignment: the same span, found once, under
    # the kind of the pattern listed first.
    text = "api_key = 'sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789'"
    (only,) = find(text)
    assert (only.kind, only.start) == ("openai_key", 11)
    assert text[only.start : only.end] == "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
    # Overlapping spans: the earliest wins (the whole assigned URL, not the password inside).
    text = 'token="postgres://u:S3cr3tP4ss@h"'
    assert [(r.kind, r.start) for r in find(text)] == [("secret_assignment", 7)]
    # Two secrets in one text, in order.
    text = "x=AKIAIOSFODNN7EXAMPLE y=ghp_abcdefghijklmnopqrstuvwxyz0123456789"
    assert [r.kind for r in find(text)] == ["aws_access_key_id", "github_token"]
    assert secrets.count_kinds(find(text + " AKIAIOSFODNN7EXAMPLF")) == {
        "aws_access_key_id": 2,
        "github_token": 1,
    }


def test_entropy() -> None:
    assert secrets.entropy("") == 0.0
    assert secrets.entropy("aaaa") == 0.0
    assert secrets.entropy("ab") == 1.0
    assert secrets.entropy("abcd") == 2.0


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_find_is_sorted_non_overlapping_and_redact_replaces_exactly(text: str) -> None:
    found = find(text)
    for a, b in itertools.pairwise(found):
        assert a.end <= b.start
    redacted, hits = redact(text)
    assert hits == found
    expected = text
    for r in reversed(found):
        expected = expected[: r.start] + secrets.marker(r.kind) + expected[r.end :]
    assert redacted == expected


# ----------------------------------------------------------------------------- Rust agreement

_FRAGMENTS = [v["text"] for v in VECTORS] + [
    "é日本 ",
    "🦀 ",
    "\n",
    "\t",
    "'",
    '"',
    "=",
    ": ",
    "token = ",
    "password: 'Xy7#kQ2$mP9!'",
    'secret_key="aB3dE5gH7jK9"',
    "mysql://root:hunter22@localhost/db",
    "ghp_short",
    "AKIA" + "Z" * 16,
    "xoxp-1234-abcd-efgh",
    "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX",
    "rk_test_" + "a1B2" * 5,
    "eyJhbGciOiJ9.eyJzdWIiOjF9.c2lnbmF0dXJl",
    "-----BEGIN PRIVATE KEY-----\nabc\n",
    "-----END PRIVATE KEY-----",
]


def _texts() -> list[str]:
    rng = random.Random(8)
    texts = [v["text"] for v in VECTORS]
    for _ in range(150):
        texts.append("".join(rng.choice(_FRAGMENTS) for _ in range(rng.randint(1, 6))))
    return texts


@pytest.mark.anyio
async def test_python_and_rust_redact_the_same_spans(
    tmp_path: Path, rust_server: list[str]
) -> None:
    """The real codeloci-ast's ``chunk`` finds exactly the spans codeloci.secrets finds."""
    texts = _texts()
    paths = []
    for i, text in enumerate(texts):
        (tmp_path / f"t{i}.txt").write_text(text, encoding="utf-8")
        paths.append(f"t{i}.txt")
    params = StdioServerParameters(
        command=rust_server[0], args=[*rust_server[1:], "--root", str(tmp_path)]
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        result = await session.call_tool("chunk", {"paths": paths, "max_chunk_chars": 20000})
    assert not result.is_error
    out = result.structured_content
    assert out is not None and out["errors"] == []
    rust: dict[str, set[tuple[str, int, int]]] = {p: set() for p in paths}
    for chunk in out["chunks"]:
        for r in chunk["redactions"]:
            rust[chunk["path"]].add((r["kind"], r["start_byte"], r["end_byte"]))
    for path, text in zip(paths, texts, strict=True):
        ours = set()
        for r in find(text):
            start = len(text[: r.start].encode())
            ours.add((r.kind, start, start + len(text[r.start : r.end].encode())))
        assert ours == rust[path], repr(text)
