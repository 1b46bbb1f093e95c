"""Metrics and threshold selection for the gate (pure Python)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

__all__ = ["GateMetrics", "choose_threshold", "compute_metrics"]


@dataclass(frozen=True)
class GateMetrics:
    """Binary metrics with "retrieve" as the positive class."""

    n: int
    n_retrieve: int
    n_skip: int
    precision: float  # of "retrieve" decisions, fraction that needed retrieval
    recall: float  # of need-retrieval queries, fraction retrieved
    skip_rate: float  # of no-need queries, fraction skipped
    overall_skip_rate: float  # of all queries, fraction skipped
    accuracy: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def compute_metrics(decisions: Sequence[bool], labels: Sequence[bool]) -> GateMetrics:
    """``decisions[i]`` = retrieved, ``labels[i]`` = needs retrieval."""
    tp = sum(1 for d, y in zip(decisions, labels, strict=True) if d and y)
    fp = sum(1 for d, y in zip(decisions, labels, strict=True) if d and not y)
    fn = sum(1 for d, y in zip(decisions, labels, strict=True) if not d and y)
    tn = sum(1 for d, y in zip(decisions, labels, strict=True) if not d and not y)
    n = tp + fp + fn + tn
    return GateMetrics(
        n=n,
        n_retrieve=tp + fn,
        n_skip=tn + fp,
        precision=tp / (tp + fp) if tp + fp else 1.0,
        recall=tp / (tp + fn) if tp + fn else 1.0,
        skip_rate=tn / (tn + fp) if tn + fp else 0.0,
        overall_skip_rate=(tn + fn) / n if n else 0.0,
        accuracy=(tp + tn) / n if n else 0.0,
    )


def choose_threshold(scores: Sequence[float], labels: Sequence[bool], min_recall: float) -> float:
    """Highest threshold (retrieve iff ``score >= threshold``) whose recall on these examples is
    at least ``min_recall``; placed half-way to the next lower score and rounded *down* to four
    decimals so it is stable when written to a file."""
    pos = sorted((s for s, y in zip(scores, labels, strict=True) if y), reverse=True)
    if not pos:
        return 0.5
    k = max(1, math.ceil(min_recall * len(pos)))
    t_star = pos[k - 1]
    lower = [s for s in scores if s < t_star]
    mid = (t_star + max(lower)) / 2 if lower else t_star
    return math.floor(mid * 10_000) / 10_000
