"""The text block of search answers (codeloci.render) and the compacted input schemas
(codeloci.tools.compact_schema): what a model reads, smaller, with nothing lost."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import serve, text

from codeloci.indexing.models import CodeSearchResult
from codeloci.models import FindResult, ListResult
from codeloci.render import UNTRUSTED_LINE, render_code_search, render_memories
from codeloci.server import build_registry
from codeloci.tools import compact_schema

CODE_HIT = {
    "path": "pkg/util.py",
    "start_line": 1,
    "end_line": 3,
    "symbol": "add",
    "kind": "function",
    "language": "python",
    "signature": "def add(a, b)",
    "score": 0.9,
    "content": 'def add(a, b):\n    """Add two numbers."""\n    return a + b\n\n\n',
    "truncated": False,
    "stale": False,
}
MEMORY_HIT = {
    "id": "0f8fad5b-d9cb-469f-a165-70867728950e",
    "content": "Use ruff, never black.",
    "level": "USER_PREFERENCE",
    "kind": "preference",
    "score": 0.7,
    "tags": ["lint", "python"],
    "source": {"path": "pyproject.toml", "start_line": 4, "end_line": 9, "symbol": None},
    "session_id": None,
    "created_at": "2026-01-01T00:00:00Z",
    "updated_at": "2026-01-01T00:00:00Z",
    "expires_at": None,
    "truncated": False,
}


def _not_json(rendered: str) -> None:
    with pytest.raises(ValueError):
        json.loads(rendered)


def test_code_search_text_is_header_signature_content() -> None:
    piece = {
        **CODE_HIT,
        "path": "src/big.rs",
        "start_line": 10,
        "end_line": 90,
        "symbol": "Server::run",
        "kind": "method",
        "signature": "pub fn run(&self) -> Result<()>",
        "content": "        let x = 1;\n",
        "stale": True,
        "truncated": True,
    }
    data = {
        "results": [CODE_HIT, piece],
        "tokens_used": 120,
        "token_budget": 2000,
        "omitted": 2,
        "pending": 5,
        "gate": {"retrieve": True, "score": 0.9, "threshold": 0.3, "reason": "model"},
    }
    rendered = render_code_search(data)
    _not_json(rendered)
    lines = rendered.splitlines()
    assert lines[0] == (
        "2 results; 120/2000 tokens; 2 omitted (over the token budget); 5 chunks not embedded yet"
    )
    # A signature the content shows already is not repeated; one it lacks leads the code.
    assert "### pkg/util.py:1-3 add (function)\ndef add(a, b):\n" in rendered
    assert rendered.count("def add(a, b)") == 1
    assert (
        "### src/big.rs:10-90 Server::run (method) [stale] [truncated]\n"
        "pub fn run(&self) -> Result<()>\n        let x = 1;\n"
    ) in rendered
    assert "\n\n\n" not in rendered  # a chunk's trailing blank lines are not shown
    assert "score" not in rendered and "retrieve" not in rendered


def test_skipped_search_says_what_the_gate_decided() -> None:
    gate = {"retrieve": False, "score": 0.12, "threshold": 0.4, "reason": "general question"}
    data = {
        "results": [],
        "tokens_used": 0,
        "token_budget": 2000,
        "omitted": 0,
        "pending": 0,
        "gate": gate,
    }
    for rendered in (render_code_search(data), render_memories({**data, "notice": "x"})):
        assert (
            "The retrieval gate skipped this search (score 0.12 < threshold 0.40: general "
            "question); pass force=true to search anyway." in rendered
        )
        assert "0 results" in rendered


def test_index_state_and_note_reach_the_text_when_not_ready() -> None:
    base = {"results": [], "tokens_used": 0, "token_budget": 2000, "omitted": 0, "pending": 0}
    busy = {"state": "indexing", "files": 3, "chunks": 40, "pending": 40}
    rendered = render_code_search({**base, "index": busy, "note": "Indexing has started."})
    assert "index: indexing, 3 files, 40 chunks, 40 pending embedding" in rendered
    assert "Indexing has started." in rendered
    ready = {"state": "ready", "files": 3, "chunks": 40, "pending": 0}
    assert "index:" not in render_code_search({**base, "index": ready})


def test_memory_text_opens_with_the_notice_and_heads_each_memory() -> None:
    data = FindResult.model_validate(
        {"results": [MEMORY_HIT], "tokens_used": 30, "token_budget": 2000, "omitted": 0}
    ).model_dump(mode="json")
    rendered = render_memories(data)
    _not_json(rendered)
    assert rendered.startswith(UNTRUSTED_LINE + "\n1 result; 30/2000 tokens\n")
    assert (
        "### USER_PREFERENCE preference 0f8fad5b-d9cb-469f-a165-70867728950e [lint, python] "
        "pyproject.toml:4-9\nUse ruff, never black.\n"
    ) in rendered
    listed = ListResult.model_validate({"results": [MEMORY_HIT], "next_cursor": "abc"}).model_dump(
        mode="json"
    )
    assert "1 result; next_cursor abc" in render_memories(listed)


# ----------------------------------------------------------------------------- schemas


def _bounds(node: Any, path: str = "") -> set[tuple[str, str]]:
    """Every (property path, bound) of a schema, $refs followed by name."""
    keys = {"maxLength", "minLength", "pattern", "maximum", "minimum", "maxItems", "minItems"}
    keys |= {"enum", "const", "additionalProperties", "required", "type"}
    out: set[tuple[str, str]] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key in keys and not isinstance(value, dict):
                if key == "type" and value == "null":
                    continue
                out.add((path, f"{key}={json.dumps(value, sort_keys=True)}"))
            if key == "properties":
                for name, sub in value.items():
                    out |= _bounds(sub, f"{path}.{name}")
            elif key in ("anyOf", "items", "additionalProperties"):
                out |= _bounds(value, path)
    elif isinstance(node, list):
        for sub in node:
            out |= _bounds(sub, path)
    return out


def _resolved(schema: dict[str, Any]) -> dict[str, Any]:
    defs = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                rest = {k: v for k, v in node.items() if k != "$ref"}
                return {**walk(defs[node["$ref"].rsplit("/", 1)[-1]]), **rest}
            return {k: walk(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    resolved: dict[str, Any] = walk(schema)
    return resolved


@pytest.mark.parametrize("spec", list(build_registry()), ids=lambda s: s.name)
def test_compact_schema_keeps_every_bound(spec: Any) -> None:
    full = spec.input_model.model_json_schema()
    compact = compact_schema(full)
    assert _bounds(_resolved(compact)) == _bounds(_resolved(full))
    assert spec.to_tool().input_schema == compact
    rendered = json.dumps(compact)
    assert '"title"' not in rendered and '{"type": "null"}' not in rendered
    assert len(rendered) < len(json.dumps(full))


def test_compact_schema_inlines_single_use_defs_and_keeps_shared_ones() -> None:
    sub = {"type": "object", "properties": {"a": {"type": "integer"}}, "title": "Sub"}
    schema = {
        "type": "object",
        "title": "Root",
        "description": "a class docstring",
        "properties": {
            "one": {"anyOf": [{"$ref": "#/$defs/Once"}, {"type": "null"}], "default": None},
            "two": {"$ref": "#/$defs/Twice"},
            "three": {"items": {"$ref": "#/$defs/Twice"}, "type": "array"},
            "flag": {"type": "boolean", "default": False, "title": "Flag"},
            "k": {"type": "integer", "default": 8},
        },
        "$defs": {"Once": dict(sub), "Twice": dict(sub)},
    }
    assert compact_schema(schema) == {
        "type": "object",
        "properties": {
            "one": {"type": "object", "properties": {"a": {"type": "integer"}}},
            "two": {"$ref": "#/$defs/Twice"},
            "three": {"items": {"$ref": "#/$defs/Twice"}, "type": "array"},
            "flag": {"type": "boolean"},
            "k": {"type": "integer", "default": 8},
        },
        "$defs": {"Twice": {"type": "object", "properties": {"a": {"type": "integer"}}}},
    }


# ----------------------------------------------------------------------------- over stdio


@pytest.mark.anyio
async def test_search_answers_over_stdio_render_text_and_keep_structured_content(
    tmp_path: Path, rust_server: list[str]
) -> None:
    project = tmp_path / "project"
    (project / "pkg").mkdir(parents=True)
    (project / "pkg" / "util.py").write_text(
        'def add(a, b):\n    """Add two numbers."""\n    return a + b\n\n\n'
        "class Greeter:\n    def hello(self, name):\n        return f'hi {name}'\n"
    )
    async with serve(tmp_path / "data", project, rust_server) as srv:
        await srv.ok("index_repository", {"wait_for_embedding": True})
        result = await srv.call("code_search", {"query": "add two numbers", "k": 10})
        assert not result.is_error, text(result)
        structured = result.structured_content
        assert structured is not None and structured["results"]
        # structuredContent is the whole model, as before: every field, nothing renamed.
        model = CodeSearchResult.model_validate(structured)
        assert model.model_dump(mode="json") == structured
        rendered = text(result)
        _not_json(rendered)
        for hit in structured["results"]:
            assert f"{hit['path']}:{hit['start_line']}-{hit['end_line']}" in rendered
            assert hit["content"].rstrip() in rendered

        await srv.ok("memory_store", {"content": "Prefer tabs", "level": "USER_PREFERENCE"})
        found = await srv.call("memory_find", {"query": "tabs or spaces", "force": True})
        shown = text(found)
        _not_json(shown)
        assert shown.startswith(UNTRUSTED_LINE)
        assert found.structured_content is not None
        for hit in found.structured_content["results"]:
            assert hit["id"] in shown and hit["content"] in shown
