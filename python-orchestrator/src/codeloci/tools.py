"""Tool registration: a :class:`ToolSpec` per tool, collected in a :class:`ToolRegistry`.

A module adds a tool with one line::

    registry.add(ToolSpec("code_search", "Search indexed code …", CodeSearchInput,
                          CodeSearchResult, code_search_handler))

The server validates arguments with ``input_model`` (violations become tool errors naming the
field), hides ``writes=True`` tools in read-only mode and refuses calls to them, publishes
``output_model``'s schema as the tool's ``outputSchema`` and returns the handler's model as
``structuredContent`` (plus the same JSON as a text block).

A searching tool sets ``gated`` to a function building its answer to a skipped search: the
server then asks the retrieval gate before calling the handler (:mod:`codeloci.gating`), answers
a skipped search with that function's result, and puts the decision in the result's ``gate``
field either way (``force: true`` in the arguments bypasses the gate; every decision is counted
for ``gate_stats``).

Every call runs under a deadline chosen by ``ToolSpec.deadline`` (:func:`deadline_seconds`):

* ``"call"`` (reads, the default): ``CALL_TIMEOUT_SECONDS`` (``--call-timeout``, default 120 s).
  Work in a thread is abandoned when the deadline passes; it only reads, so nothing is lost.
* ``"index"`` (``index_repository``): ``INDEX_TIMEOUT_FACTOR`` x the call timeout (default 1 h).
  An index run is crash-safe at every step, so stopping it leaves a store the next run
  converges from.
* ``"none"`` (memory writes): never stopped halfway, so the answer (stored or not) is always
  true; their inputs are capped, which bounds their time.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import mcp_types as types
from pydantic import BaseModel, ValidationError

if TYPE_CHECKING:
    from mcp.server.context import ServerRequestContext

    from codeloci.app import AppContext

__all__ = [
    "INDEX_TIMEOUT_FACTOR",
    "Deadline",
    "SkippedResult",
    "ToolError",
    "ToolHandler",
    "ToolRegistry",
    "ToolSpec",
    "deadline_seconds",
    "error_result",
    "format_validation_error",
    "model_result",
    "timeout_message",
]

#: ``index_repository`` may run this many times the per-call deadline.
INDEX_TIMEOUT_FACTOR = 30

Deadline = Literal["call", "index", "none"]


class ToolError(Exception):
    """Raised by a handler to return ``isError: true`` with this message."""


ToolHandler = Callable[["AppContext", Any, "ServerRequestContext[Any, Any]"], Awaitable[BaseModel]]
#: A gated tool's answer when the retrieval gate skips its search, built from its arguments.
SkippedResult = Callable[[Any], BaseModel]


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    input_model: type[BaseModel]
    output_model: type[BaseModel] | None
    handler: ToolHandler
    writes: bool = False
    title: str | None = None
    deadline: Deadline = "call"
    gated: SkippedResult | None = None
    extra_annotations: dict[str, Any] = field(default_factory=dict)

    def to_tool(self) -> types.Tool:
        annotations = types.ToolAnnotations(
            title=self.title,
            read_only_hint=not self.writes,
            destructive_hint=self.writes and self.name.endswith("delete"),
            idempotent_hint=not self.writes,
            open_world_hint=False,
            **self.extra_annotations,
        )
        return types.Tool(
            name=self.name,
            title=self.title,
            description=self.description,
            input_schema=self.input_model.model_json_schema(),
            output_schema=self.output_model.model_json_schema() if self.output_model else None,
            annotations=annotations,
        )


class ToolRegistry:
    def __init__(self) -> None:
        self._specs: dict[str, ToolSpec] = {}

    def add(self, spec: ToolSpec) -> None:
        if spec.name in self._specs:
            raise ValueError(f"tool {spec.name!r} is registered twice")
        self._specs[spec.name] = spec

    def get(self, name: str) -> ToolSpec | None:
        return self._specs.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[ToolSpec]:
        return iter(self._specs.values())

    def listed(self, *, read_only: bool) -> list[types.Tool]:
        return [s.to_tool() for s in self._specs.values() if not (read_only and s.writes)]


def deadline_seconds(spec: ToolSpec, call_timeout: float) -> float | None:
    """How long a call to ``spec`` may run (``None``: not stopped)."""
    if spec.deadline == "none":
        return None
    return call_timeout * (INDEX_TIMEOUT_FACTOR if spec.deadline == "index" else 1)


def timeout_message(spec: ToolSpec, call_timeout: float) -> str:
    """The error of a call stopped by its deadline: the limit, its name and the way out."""
    if spec.deadline == "index":
        limit = f"{INDEX_TIMEOUT_FACTOR} x CALL_TIMEOUT_SECONDS"
        after = "The index stays consistent: run it again to continue from the files already done."
    else:
        limit = "CALL_TIMEOUT_SECONDS"
        after = "Nothing was changed. Narrow the request (smaller k, a path or fewer paths)."
    seconds = deadline_seconds(spec, call_timeout)
    return (
        f"{spec.name} did not finish within {seconds:g} s ({limit}; set with --call-timeout or "
        f"CODELOCI_CALL_TIMEOUT) and was stopped. {after}"
    )


def format_validation_error(tool: str, err: ValidationError) -> str:
    """``invalid arguments for TOOL: field.path: message; …`` (input values are not echoed)."""
    parts = []
    for e in err.errors(include_url=False, include_input=False):
        loc = ".".join(str(x) for x in e["loc"]) or "arguments"
        msg = str(e["msg"]).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}")
    return f"invalid arguments for {tool}: " + "; ".join(parts)


def error_result(message: str) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=message)], is_error=True
    )


def model_result(model: BaseModel) -> types.CallToolResult:
    data = model.model_dump(mode="json")
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=json.dumps(data, ensure_ascii=False))],
        structured_content=data,
    )
