"""The retrieval gate wired into the searching tools.

A searching tool is registered with ``ToolSpec(..., gated=...)`` (``memory_find``,
``retrieve_*``: :func:`skipped_find`; ``code_search``: its own); the server asks the gate
(:func:`decide`) before running it: below the threshold it returns no results with
``gate: {retrieve: false, score, threshold, reason}``; above it the search's results with
``retrieve: true``. ``force: true`` bypasses. ``gate_stats`` shows every decision counted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from codeloci.models import FindResult, GatedSearch, GateInfo, _Strict
from codeloci.tools import ToolRegistry, ToolSpec

if TYPE_CHECKING:
    from codeloci.app import AppContext

__all__ = [
    "GateStatsInput",
    "GateStatsResult",
    "decide",
    "register_gate_tools",
    "skipped_find",
]


def decide(app: AppContext, args: GatedSearch) -> GateInfo | None:
    """The gate's decision for a search's arguments (``None``: no query, nothing to decide)."""
    query: str | None = getattr(args, "query", None)
    if query is None:
        return None
    d = app.gate.decide(
        query, current_file=args.current_file, recent_tools=args.recent_tools, force=args.force
    )
    # GateDecision.to_dict is the gate's own wire form ({retrieve, score, threshold, reason}).
    return GateInfo.model_validate(d.to_dict())


def skipped_find(args: GatedSearch) -> FindResult:
    """A memory search's answer when the gate skips it: no results."""
    budget = int(getattr(args, "token_budget", 0))
    return FindResult(results=[], tokens_used=0, token_budget=budget, omitted=0)


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
            "The retrieval gate's decisions since start: searches run, skipped and why.",
            GateStatsInput,
            GateStatsResult,
            _gate_stats,
        )
    )
