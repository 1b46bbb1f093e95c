"""The retrieval gate wired into the searching tools.

``memory_find``, ``retrieve_*`` (and ``code_search``, registered by the indexing package) ask
the gate before touching the store: below the threshold they return no results with
``gate: {retrieve: false, score, threshold, reason}``; above it the same object with
``retrieve: true``. ``force: true`` bypasses. ``gate_stats`` shows every decision counted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from codeloci.gate import Gate, SymbolVocabulary
from codeloci.models import FindResult, GatedSearch, GateInfo, _Strict
from codeloci.tools import ToolRegistry, ToolSpec

if TYPE_CHECKING:
    from codeloci.app import AppContext
    from codeloci.config import Settings

__all__ = [
    "GateStatsInput",
    "GateStatsResult",
    "build_gate",
    "decide",
    "gated",
    "register_gate_tools",
]

InputT = TypeVar("InputT", bound=GatedSearch)
Handler = Callable[["AppContext", InputT, Any], Awaitable[BaseModel]]


def build_gate(settings: Settings, vocabulary: SymbolVocabulary | None = None) -> Gate:
    """The gate configured from environment (``CODELOCI_GATE_THRESHOLD``,
    ``CODELOCI_GATE_ENABLED``), then from flags, which win."""
    gate = Gate.from_env(vocabulary=vocabulary)
    if settings.gate_threshold is not None:
        gate.threshold = settings.gate_threshold
    if settings.gate_enabled is not None:
        gate.enabled = settings.gate_enabled
    return gate


def decide(app: AppContext, query: str | None, args: GatedSearch) -> GateInfo | None:
    """The gate's decision for ``query`` (``None``: no query, nothing to decide)."""
    if query is None:
        return None
    d = app.gate.decide(
        query, current_file=args.current_file, recent_tools=args.recent_tools, force=args.force
    )
    # GateDecision.to_dict is the gate's own wire form ({retrieve, score, threshold, reason}).
    return GateInfo.model_validate(d.to_dict())


def gated(handler: Handler[InputT]) -> Handler[InputT]:
    """Wraps a memory search handler: skipped searches return an empty :class:`FindResult`."""

    async def run(app: AppContext, args: InputT, ctx: Any) -> BaseModel:
        info = decide(app, getattr(args, "query", None), args)
        if info is not None and not info.retrieve:
            budget = int(getattr(args, "token_budget", 0))
            return FindResult(results=[], tokens_used=0, token_budget=budget, omitted=0, gate=info)
        result = await handler(app, args, ctx)
        if isinstance(result, FindResult):
            result.gate = info
        return result

    return run


class GateStatsInput(_Strict):
    """No arguments."""


class GateStatsResult(BaseModel):
    enabled: bool
    threshold: float
    model: str
    vocabulary_size: int
    decisions: int
    retrieved: int
    skipped: int
    skip_rate: float
    by_reason: dict[str, int]


async def _gate_stats(app: AppContext, _args: GateStatsInput, _ctx: Any) -> BaseModel:
    stats = app.gate.stats.as_dict()
    return GateStatsResult(
        enabled=app.gate.enabled,
        threshold=app.gate.threshold,
        model=app.gate.model_kind,
        vocabulary_size=len(app.gate.vocabulary),
        **stats,  # type: ignore[arg-type]
    )


def register_gate_tools(registry: ToolRegistry) -> None:
    registry.add(
        ToolSpec(
            "gate_stats",
            "Counts of the retrieval gate's decisions since the server started: how many "
            "searches ran, how many were skipped and why, with the threshold in force.",
            GateStatsInput,
            GateStatsResult,
            _gate_stats,
        )
    )
