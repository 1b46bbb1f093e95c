"""The typed views of ``scan``/``chunk`` results (``codeloci.ast_types``) name exactly the fields
of the shared JSON Schemas, required where the schemas require them: when the Rust side adds,
renames or drops a field, this fails until the Python side follows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from codeloci import ast_types

SCHEMAS = Path(__file__).resolve().parents[2] / "shared-schemas"

CASES = [
    ("scan.output", None, ast_types.ScanResult),
    ("scan.output", "FileEntry", ast_types.FileEntry),
    ("scan.output", "Skipped", ast_types.Skipped),
    ("scan.output", "ScanStats", ast_types.ScanStats),
    ("chunk.output", None, ast_types.ChunkResult),
    ("chunk.output", "Chunk", ast_types.Chunk),
    ("chunk.output", "ChunkedFile", ast_types.ChunkedFile),
    ("chunk.output", "FileError", ast_types.FileError),
    ("chunk.output", "Redaction", ast_types.Redaction),
    ("chunk.output", "FileSymbols", ast_types.FileSymbols),
    ("chunk.output", "Definition", ast_types.Definition),
    ("chunk.output", "Reference", ast_types.Reference),
    ("chunk.output", "ImportSite", ast_types.ImportSite),
    ("chunk.output", "Binding", ast_types.Binding),
]


@pytest.mark.parametrize(("schema", "part", "typed"), CASES)
def test_typed_results_match_the_shared_schemas(schema: str, part: str | None, typed: Any) -> None:
    doc = json.loads((SCHEMAS / f"{schema}.schema.json").read_text())
    node = doc if part is None else doc["$defs"][part]
    assert set(typed.__annotations__) == set(node["properties"]), typed.__name__
    assert set(typed.__required_keys__) == set(node.get("required", [])), typed.__name__
