"""Retrieval gating: skip retrieval that will not help.

``Gate.decide(query, current_file=..., recent_tools=..., force=...)`` returns a
:class:`GateDecision` ``{retrieve, score, threshold, reason}`` in well under a millisecond, with
no network and no numpy at inference time.  A query that names a symbol, path or identifier in
the project's :class:`SymbolVocabulary` is never gated out.

The model is ``data/gate_model.json``; its dataset, trainer and evaluation are developer tools
outside the package, in ``python-orchestrator/devtools/gate/`` (``just train-gate``).
"""

from codeloci.gate.core import Gate, GateDecision, GateStats
from codeloci.gate.model import LogisticModel, RuleModel, load_model
from codeloci.gate.vocabulary import SymbolVocabulary

__all__ = [
    "Gate",
    "GateDecision",
    "GateStats",
    "LogisticModel",
    "RuleModel",
    "SymbolVocabulary",
    "load_model",
]
