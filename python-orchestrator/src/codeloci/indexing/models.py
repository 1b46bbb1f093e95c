"""Pydantic models of the indexing tools (same conventions as :mod:`codeloci.models`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from codeloci.models import (
    DEFAULT_K,
    MAX_K,
    MAX_PATH_CHARS,
    MAX_QUERY_CHARS,
    MAX_TOKEN_BUDGET,
    MIN_TOKEN_BUDGET,
    GatedSearch,
    GateInfo,
    IndexState,
)

__all__ = [
    "DEFAULT_CODE_TOKEN_BUDGET",
    "LANGUAGES",
    "MAX_GLOB_CHARS",
    "MAX_KIND_CHARS",
    "CodeHit",
    "CodeSearchInput",
    "CodeSearchResult",
    "IndexInput",
    "IndexResult",
    "IndexStatusInput",
    "IndexStatusResult",
    "Language",
    "SearchMode",
]

MAX_GLOB_CHARS = 256
#: code_search's default token budget: the default k results at their largest (a whole chunk
#: of the default 1500 characters, led by a signature of up to 300: 491 tokens with the
#: per-result overhead) fit, so a default search is never cut (8 x 491 = 3928).
DEFAULT_CODE_TOKEN_BUDGET = 4000
MAX_KIND_CHARS = 32
MAX_ERRORS_SHOWN = 50

Language = Literal[
    "python",
    "rust",
    "javascript",
    "typescript",
    "tsx",
    "go",
    "java",
    "c",
    "cpp",
    "csharp",
    "ruby",
    "markdown",
    "text",
]
LANGUAGES: tuple[str, ...] = Language.__args__  # type: ignore[attr-defined]
SearchMode = Literal["hybrid", "lexical", "dense"]

PathArg = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PATH_CHARS)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CodeSearchInput(GatedSearch):
    query: Annotated[str, StringConstraints(min_length=1, max_length=MAX_QUERY_CHARS)] = Field(
        description="Words or an identifier."
    )
    k: Annotated[int, Field(ge=1, le=MAX_K)] = DEFAULT_K
    path_glob: Annotated[str, StringConstraints(min_length=1, max_length=MAX_GLOB_CHARS)] | None = (
        Field(
            default=None,
            description="Glob on repository paths ('*' crosses '/').",
        )
    )
    language: Language | None = None
    kind: (
        Annotated[
            str,
            StringConstraints(min_length=1, max_length=MAX_KIND_CHARS, pattern=r"^[a-z_]+$"),
        ]
        | None
    ) = Field(default=None, description="function, method, class, struct, ...")
    token_budget: Annotated[int, Field(ge=MIN_TOKEN_BUDGET, le=MAX_TOKEN_BUDGET)] = (
        DEFAULT_CODE_TOKEN_BUDGET
    )
    mode: SearchMode = Field(default="hybrid", description="lexical: BM25; dense: embeddings.")


class CodeHit(BaseModel):
    path: str = Field(description="Relative to the repository root.")
    start_line: int
    end_line: int
    symbol: str | None = Field(description="Qualified name of the definition, if any.")
    kind: str
    language: str
    signature: str | None
    score: float
    content: str
    shown_lines: tuple[int, int] | None = Field(
        default=None, description="Lines content shows after the definition's signature."
    )
    truncated: bool = Field(
        default=False, description="content is a snippet: the chunk did not fit."
    )
    stale: bool = Field(
        default=False, description="The file changed on disk after it was indexed (re-index it)."
    )


class CodeSearchResult(BaseModel):
    results: list[CodeHit]
    tokens_used: int
    token_budget: int
    omitted: int = Field(description="Matching results left out to fit the token budget.")
    pending: int = Field(
        description="Chunks of this project not yet embedded (found by words only for now)."
    )
    gate: GateInfo | None = Field(
        default=None,
        description="The retrieval gate's decision: with retrieve=false nothing "
        "was searched (pass force=true to search anyway).",
    )
    index: IndexState | None = Field(default=None, description="The index's state.")
    lexical_only: bool = Field(
        default=False,
        description="Ranked by words alone: lexical mode, or no chunk embedded yet.",
    )
    note: str | None = Field(
        default=None, description="Why an answer is empty or partial, and what happens next."
    )


class IndexInput(_Strict):
    path: PathArg | None = Field(default=None, description="Default: the project root.")
    full: bool = Field(default=False, description="Rebuild from scratch.")
    wait_for_embedding: bool = False


class IndexResult(BaseModel):
    root: str
    project: str
    files: int
    added: int
    changed: int
    removed: int
    unchanged: int
    chunks_written: int
    chunks_deleted: int
    embedded: int
    pending: int
    errors: list[dict[str, str]]
    warnings: list[str]
    seconds: dict[str, float]

    @classmethod
    def from_report(cls, data: dict[str, Any]) -> IndexResult:
        data = dict(data)
        data["errors"] = data["errors"][:MAX_ERRORS_SHOWN]
        return cls.model_validate(data)


class IndexStatusInput(_Strict):
    path: PathArg | None = Field(default=None, description="Default: the project root.")


class IndexStatusResult(BaseModel):
    root: str
    project: str
    files: int = Field(description="Files with chunks in the store (counted in the store).")
    chunks: int = Field(description="Code chunks in the store.")
    embedded: int = Field(description="Chunks with a dense embedding.")
    pending: int = Field(description="Chunks still waiting for their embedding.")
    manifest: Literal["ok", "missing", "damaged", "interrupted", "out_of_sync"] = Field(
        description="State of the index manifest against the store."
    )
    embedding_in_progress: bool
    last_run: dict[str, Any] | None = Field(description="Summary of the last completed run.")
    errors: list[dict[str, str]] = Field(description="Files the last run could not index.")
    redacted_chunks: int = Field(
        0, description="Chunks in which secrets were replaced by [REDACTED:kind] (in the store)."
    )
    redactions: dict[str, int] = Field(
        default_factory=dict,
        description="Secrets replaced in the indexed code, by kind (counted in the store).",
    )
    index: IndexState | None = Field(default=None, description="The index's state.")
