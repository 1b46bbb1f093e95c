"""How a hybrid query's dense and lexical candidate lists become one ranking.

Three methods, compared by ``just eval`` (see BENCHMARKS.md); every backend runs the same
three, so a query ranks the same on the embedded engine and on a Qdrant server:

- ``rrf``: weighted reciprocal rank, each channel adds ``weight / (k + rank)``; run inside
  Qdrant (Query API prefetches + weighted RRF).
- ``dbsf``: Qdrant's distribution-based score fusion (scores rescaled by their mean ± 3
  standard deviations, then summed; a candidate one channel did not return gets nothing from
  it); run inside Qdrant, which takes no weights for it.
- ``score``: :func:`score_fusion` here (shared by the backends), on the two candidate lists
  Qdrant returns in one batch. Unlike ``dbsf`` a candidate missing from one channel gets that
  channel's lowest score rather than nothing, so a strong match in one channel is not buried
  under weak matches in both. A candidate that has no dense vector yet (embedding still
  running) is not missing from the dense channel but unscored by it: its lexical standing
  stands in for its dense one, so while embedding runs the chunks not yet embedded keep the
  place BM25 gives them instead of sinking below every embedded chunk.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["Fusion", "score_fusion"]


@dataclass(frozen=True)
class Fusion:
    """A fusion method and its parameters."""

    method: Literal["rrf", "dbsf", "score"] = "rrf"
    #: (dense, lexical); ``rrf`` and ``score`` only.
    weights: tuple[float, float] = (1.0, 1.0)
    #: ``rrf`` only.
    k: int = 60


def _standardised(scores: Sequence[tuple[str, float]]) -> dict[str, float]:
    """z-scores over one channel's candidates (all 0 when they do not vary)."""
    if not scores:
        return {}
    values = [s for _, s in scores]
    mean = sum(values) / len(values)
    spread = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    if spread == 0.0:
        return {i: 0.0 for i, _ in scores}
    return {i: (s - mean) / spread for i, s in scores}


def score_fusion(
    dense: Sequence[tuple[str, float]],
    lexical: Sequence[tuple[str, float]],
    weights: tuple[float, float],
    limit: int,
    unscored: frozenset[str] = frozenset(),
) -> list[tuple[str, float]]:
    """The ``limit`` best ids by weighted sum of z-scored channel scores, best first.

    ``dense`` and ``lexical`` are (id, score) candidates of each channel, higher is better. A
    candidate absent from a channel takes that channel's lowest z-score, except a lexical
    candidate in ``unscored`` (it has no dense vector), which takes its lexical z-score as its
    dense one; an empty channel adds nothing. Ties keep the dense channel's order, then the
    lexical one's."""
    (dz, dw), (lz, lw) = channels = [
        (_standardised(dense), weights[0]),
        (_standardised(lexical), weights[1]),
    ]
    floors = [min(z.values(), default=0.0) for z, _ in channels]
    fused: dict[str, float] = {}
    for ident, _ in [*dense, *lexical]:
        if ident in fused:
            continue
        if dz and ident not in dz and ident in unscored and ident in lz:
            fused[ident] = dw * lz[ident] + lw * lz[ident]
        else:
            fused[ident] = sum(
                w * z.get(ident, floor) for (z, w), floor in zip(channels, floors, strict=True)
            )
    ranked = sorted(fused.items(), key=lambda item: -item[1])  # stable: keeps first-seen order
    return ranked[:limit]
