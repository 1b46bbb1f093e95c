"""The Pydantic models and ``shared-schemas/memory_unit.schema.json`` agree; inputs are bounded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from pydantic import BaseModel, ValidationError

from codeloci import models
from codeloci.models import MemoryUnit, memory_unit_json_schema
from codeloci.server import build_registry

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "shared-schemas" / "memory_unit.schema.json"

NOW = "2026-01-02T03:04:05Z"
ID = "123e4567-e89b-42d3-a456-426614174000"
VALID: list[dict[str, Any]] = [
    {
        "id": ID,
        "content": "tabs",
        "context_level": "USER_PREFERENCE",
        "kind": "preference",
        "created_at": NOW,
        "updated_at": NOW,
    },
    {
        "id": ID,
        "content": "uses just",
        "context_level": "PROJECT_CONTEXT",
        "kind": "fact",
        "project": "p-0123456789abcdef",
        "tags": ["build"],
        "created_at": NOW,
        "updated_at": NOW,
        "source": {"path": "justfile", "start_line": 1, "end_line": 3, "content_hash": "ab12"},
    },
    {
        "id": ID,
        "content": "doing x",
        "context_level": "SESSION_STATE",
        "kind": "task",
        "project": "p-0123456789abcdef",
        "session_id": "s1",
        "created_at": NOW,
        "updated_at": NOW,
        "expires_at": NOW,
    },
]
INVALID: list[dict[str, Any]] = [
    {**VALID[0], "project": "p-0123456789abcdef"},  # preferences are global
    {**VALID[1], "project": None},  # project memories need a project
    {**VALID[2], "expires_at": None},  # session memories expire
    {**VALID[1], "session_id": "s1"},
    {**VALID[0], "context_level": "GLOBAL"},
    {**VALID[0], "kind": "essay"},
    {**VALID[0], "surprise": 1},
    {**VALID[0], "content": ""},
    {**VALID[0], "content": "x" * (models.MAX_CONTENT_CHARS + 1)},
    {**VALID[0], "tags": ["t"] * (models.MAX_TAGS + 1)},
    {**VALID[0], "id": "not-a-uuid"},
]


def test_schema_file_is_generated_from_the_model() -> None:
    assert json.loads(SCHEMA_FILE.read_text()) == memory_unit_json_schema(), (
        "shared-schemas/memory_unit.schema.json is stale: regenerate it from "
        "codeloci.models.memory_unit_json_schema()"
    )


def test_schema_is_valid_2020_12() -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("doc", VALID)
def test_valid_units_pass_both(doc: dict[str, Any]) -> None:
    MemoryUnit.model_validate(doc)
    jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text())).validate(doc)


@pytest.mark.parametrize("doc", INVALID)
def test_invalid_units_fail_both(doc: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        MemoryUnit.model_validate(doc)
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))
    assert not validator.is_valid(doc)


def _walk(node: Any, path: str, problems: list[str]) -> None:
    if isinstance(node, dict):
        kind = node.get("type")
        if (
            kind == "string"
            and "maxLength" not in node
            and "enum" not in node
            and "const" not in node
        ):
            problems.append(f"{path}: string without maxLength")
        if kind == "array" and "maxItems" not in node:
            problems.append(f"{path}: array without maxItems")
        if (
            kind == "object"
            and "properties" in node
            and node.get("additionalProperties") is not False
        ):
            problems.append(f"{path}: object allows extra fields")
        for key, value in node.items():
            _walk(value, f"{path}.{key}", problems)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _walk(value, f"{path}[{i}]", problems)


def test_every_tool_input_is_bounded_and_closed() -> None:
    problems: list[str] = []
    for spec in build_registry():
        _walk(spec.input_model.model_json_schema(), spec.name, problems)
        _walk(spec.to_tool().input_schema, f"{spec.name} (published)", problems)
    assert problems == []


def test_walk_detects_unbounded_models() -> None:
    class Loose(BaseModel):
        text: str
        items: list[int]

    problems: list[str] = []
    _walk(Loose.model_json_schema(), "Loose", problems)
    assert len(problems) == 3
