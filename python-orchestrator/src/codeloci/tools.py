"""Tool registration: a :class:`ToolSpec` per tool, collected in a :class:`ToolRegistry`.

A module adds a tool with one line::

    registry.add(ToolSpec("code_search", "Search indexed code …", CodeSearchInput,
                          CodeSearchResult, code_search_handler))

The server validates arguments with ``input_model`` (violations become tool errors naming the
field), hides ``writes=True`` tools in read-only mode and refuses calls to them, publishes
``output_model``'s schema as the tool's ``outputSchema`` and returns the handler's model as
``structuredContent``, plus a text block: ``render`` (a renderer of :mod:`codeloci.render`)
writes it for a reader, otherwise it is the same JSON.

The published ``inputSchema`` is the input model's own, compacted (:func:`compact_schema`): a
client sends it to the model on every turn, so what costs tokens and says nothing goes, and
every bound stays.

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
    "Renderer",
    "SkippedResult",
    "ToolError",
    "ToolHandler",
    "ToolRegistry",
    "ToolSpec",
    "compact_schema",
    "deadline_seconds",
    "error_result",
    "format_validation_error",
    "model_result",
    "progress_token",
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
#: The text block of a tool's answer, written from its structured content.
Renderer = Callable[[dict[str, Any]], str]

_SCHEMA_MAPS = ("properties", "$defs", "patternProperties")
_SCHEMA_LISTS = ("anyOf", "allOf", "oneOf", "prefixItems")
_SCHEMA_VALUES = ("items", "additionalProperties", "not", "contains")
_NULL = {"type": "null"}


def compact_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """An input model's JSON Schema as published: what the model reading it needs, nothing more.

    Dropped: every ``title`` (Pydantic's field names again), ``default: false`` (what leaving
    a flag out means anyway), the root's and each ``$defs`` entry's ``description`` (class
    docstrings, written for developers), and the ``null``
    alternative of an optional field whose default is null (``anyOf: [X, null], default: null``
    becomes ``X``: leaving the field out says null; the server still accepts an explicit null).
    A ``$defs`` entry referenced once is written in place (the ``$ref`` and the entry's name
    cost more than they share); one referenced more than once stays shared. Every bound
    (``maxLength``, ``pattern``, ``minimum``, ``enum``, ``additionalProperties``,
    ``required``...) stays, so the published schema accepts nothing the model would refuse.
    """
    out = _compact(schema)
    out.pop("description", None)
    defs: dict[str, Any] = out.pop("$defs", {})
    for sub in defs.values():
        sub.pop("description", None)
    text = json.dumps(out) + json.dumps(defs)
    once = {
        name
        for name, sub in defs.items()
        if text.count(f'"#/$defs/{name}"') == 1 and f'"#/$defs/{name}"' not in json.dumps(sub)
    }
    inline = {name: defs[name] for name in once}
    published: dict[str, Any] = _inline(out, inline)
    shared = {name: _inline(sub, inline) for name, sub in defs.items() if name not in once}
    if shared:
        published["$defs"] = shared
    return published


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """``node`` with each ``$ref`` to an entry of ``defs`` replaced by the entry."""
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/") and ref[8:] in defs:
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return {**_inline(defs[ref[8:]], defs), **rest}
    return {key: _inline(value, defs) for key, value in node.items()}


def _compact(node: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title" or (key == "default" and value is False):
            continue
        if key in _SCHEMA_MAPS:
            out[key] = {name: _compact(sub) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS:
            out[key] = [_compact(sub) for sub in value]
        elif key in _SCHEMA_VALUES and isinstance(value, dict):
            out[key] = _compact(value)
        else:
            out[key] = value
    alternatives = out.get("anyOf")
    if (
        isinstance(alternatives, list)
        and len(alternatives) == 2
        and _NULL in alternatives
        and "default" in out
        and out["default"] is None
    ):
        (kept,) = (alt for alt in alternatives if alt != _NULL)
        rest = {k: v for k, v in out.items() if k not in ("anyOf", "default")}
        out = {**kept, **rest}
    return out


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
    render: Renderer | None = None
    extra_annotations: dict[str, Any] = field(default_factory=dict)

    def to_tool(self, *, text_results: bool = False) -> types.Tool:
        """The tool as listed. With ``text_results`` a tool with a renderer is listed without
        its ``outputSchema`` (its answers are then the rendered text alone)."""
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
            input_schema=compact_schema(self.input_model.model_json_schema()),
            output_schema=(
                self.output_model.model_json_schema()
                if self.output_model and not (text_results and self.render is not None)
                else None
            ),
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

    def listed(self, *, read_only: bool, text_results: bool = False) -> list[types.Tool]:
        return [
            s.to_tool(text_results=text_results)
            for s in self._specs.values()
            if not (read_only and s.writes)
        ]


def progress_token(ctx: Any) -> Any:
    """The progress token a tool call's request carries (``None``: the caller wants no
    progress notifications)."""
    meta: Any = getattr(ctx, "meta", None) or {}
    return meta.get("progress_token", meta.get("progressToken"))


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


def model_result(
    model: BaseModel, render: Renderer | None = None, *, text_only: bool = False
) -> types.CallToolResult:
    """``structuredContent``: the model, whole; the text block: ``render``'s reading of it, or
    the same JSON when the tool has no renderer. ``text_only`` (a tool with a renderer, for a
    client that would hand the model the structured JSON instead of the text): the text
    block alone, the tool then being listed without its output schema."""
    data = model.model_dump(mode="json")
    text = render(data) if render is not None else json.dumps(data, ensure_ascii=False)
    block = types.TextContent(type="text", text=text)
    if text_only and render is not None:
        return types.CallToolResult(content=[block])
    return types.CallToolResult(content=[block], structured_content=data)
