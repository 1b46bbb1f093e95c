"""The retrieval gate: decide, in well under a millisecond, whether retrieval will help."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from codeloci.gate.features import analyze
from codeloci.gate.model import LogisticModel, RuleModel, load_model
from codeloci.gate.vocabulary import SymbolVocabulary

if TYPE_CHECKING:
    from codeloci.config import Settings

__all__ = [
    "Gate",
    "GateDecision",
    "GateStats",
    "default_model",
]

_ACK_WORDS: Final = frozenset(
    """thanks thank ty thx ok okay k sure yes yep yup yeah no nope nah great good nice cool
    perfect awesome lgtm ship continue proceed go alright right exactly agreed fine hmm wow
    lol haha hi hello hey bye wait stop never sorry makes got do let undo try keep""".split()
)
_QUESTION_WORDS: Final = frozenset(
    "what how why where when which who is are does do can could should explain define".split()
)


@dataclass(frozen=True, slots=True)
class GateDecision:
    """Outcome of :meth:`Gate.decide`.

    ``score`` is the model's probability that retrieval helps (1.0 when the decision was an
    override: forced, gate disabled, or an indexed symbol was named).  ``kind`` is a short
    machine-readable reason code (``forced``, ``disabled``, ``symbol``, ``score``,
    ``general``, ``conversational``, ``code_in_prompt``, ``empty``) used for the statistics;
    :meth:`to_dict` gives the wire form ``{retrieve, score, threshold, reason}``.
    """

    retrieve: bool
    score: float
    threshold: float
    reason: str
    kind: str = field(default="score")

    def to_dict(self) -> dict[str, bool | float | str]:
        return {
            "retrieve": self.retrieve,
            "score": round(self.score, 4),
            "threshold": self.threshold,
            "reason": self.reason,
        }


class GateStats:
    """Thread-safe decision counters."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._decisions = 0
        self._retrieved = 0
        self._by_reason: dict[str, int] = {}

    def record(self, decision: GateDecision) -> None:
        with self._lock:
            self._decisions += 1
            if decision.retrieve:
                self._retrieved += 1
            self._by_reason[decision.kind] = self._by_reason.get(decision.kind, 0) + 1

    def reset(self) -> None:
        with self._lock:
            self._decisions = 0
            self._retrieved = 0
            self._by_reason.clear()

    def as_dict(self) -> dict[str, int | float | dict[str, int]]:
        """``{decisions, retrieved, skipped, skip_rate, by_reason}`` (a consistent snapshot)."""
        with self._lock:
            n = self._decisions
            r = self._retrieved
            by = dict(sorted(self._by_reason.items()))
        return {
            "decisions": n,
            "retrieved": r,
            "skipped": n - r,
            "skip_rate": round((n - r) / n, 4) if n else 0.0,
            "by_reason": by,
        }

    snapshot = as_dict


_MODEL_LOCK = threading.Lock()
_DEFAULT_MODEL: LogisticModel | RuleModel | None = None


def default_model() -> LogisticModel | RuleModel:
    """The shipped artefact (``codeloci/gate/data/gate_model.json``), loaded once."""
    global _DEFAULT_MODEL
    if _DEFAULT_MODEL is None:
        with _MODEL_LOCK:
            if _DEFAULT_MODEL is None:
                _DEFAULT_MODEL = load_model()
    return _DEFAULT_MODEL


class Gate:
    """Scores a query for "retrieval from this repository's memory/index will help".

    Order of checks: disabled -> retrieve; ``force`` -> retrieve; the query names an identifier
    present in ``vocabulary`` -> retrieve (never gated out); otherwise the model score is
    compared with ``threshold`` (default: the value tuned on the dev split, stored in the
    artefact).  Every decision is counted in :attr:`stats`.
    """

    def __init__(
        self,
        threshold: float | None = None,
        enabled: bool = True,
        vocabulary: SymbolVocabulary | None = None,
        *,
        model: LogisticModel | RuleModel | str | os.PathLike[str] | None = None,
    ) -> None:
        if model is None:
            self._model = default_model()
        elif isinstance(model, (str, os.PathLike)):
            self._model = load_model(Path(model))
        else:
            self._model = model
        self.threshold = self._model.threshold if threshold is None else threshold
        self.enabled = enabled
        self.vocabulary = vocabulary if vocabulary is not None else SymbolVocabulary()
        self.stats = GateStats()

    @classmethod
    def from_settings(cls, settings: Settings, vocabulary: SymbolVocabulary | None = None) -> Gate:
        """The gate as ``settings`` say (``--gate-threshold``/``CODELOCI_GATE_THRESHOLD``, else
        the trained threshold; ``--no-gate``/``CODELOCI_GATE_ENABLED``)."""
        return cls(settings.gate_threshold, settings.gate_enabled, vocabulary)

    @property
    def threshold(self) -> float:
        return self._threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        t = float(value)
        if not 0.0 <= t <= 1.0:
            raise ValueError(f"gate threshold must be in [0, 1], got {value!r}")
        self._threshold = t

    @property
    def model_kind(self) -> str:
        return self._model.kind

    def score(
        self, query: str, *, current_file: str | None = None, recent_tools: Sequence[str] = ()
    ) -> float:
        """The model score alone (no overrides, not counted)."""
        return self._model.score(query, current_file, recent_tools)

    def decide(
        self,
        query: str,
        *,
        current_file: str | None = None,
        recent_tools: Sequence[str] = (),
        force: bool = False,
    ) -> GateDecision:
        d = self._decide(query, current_file, recent_tools, force)
        self.stats.record(d)
        return d

    def _decide(
        self, query: str, current_file: str | None, recent_tools: Sequence[str], force: bool
    ) -> GateDecision:
        t = self._threshold
        if not self.enabled:
            return GateDecision(True, 1.0, t, "gate disabled", "disabled")
        if force:
            return GateDecision(True, 1.0, t, "forced", "forced")
        if not query or not query.strip():
            return GateDecision(False, 0.0, t, "empty query", "empty")
        mentions = self.vocabulary.find_mentions(query, limit=3)
        if mentions:
            names = ", ".join(f"`{m}`" for m in mentions)
            noun = "symbol" if len(mentions) == 1 else "symbols"
            return GateDecision(True, 1.0, t, f"names indexed {noun} {names}", "symbol")
        a = analyze(query)
        s = self._model.score(query, current_file, recent_tools, a)
        if s >= t:
            return GateDecision(
                True,
                s,
                t,
                f"likely repository-specific: score {s:.2f} >= threshold {t:.2f}",
                "score",
            )
        if a.fenced or a.code_lines >= 2:
            kind, label = "code_in_prompt", "self-contained task (code in prompt)"
        elif len(a.prose) <= 8 and (
            (a.words and a.words[0] in _ACK_WORDS)
            or not (a.question or (a.words and a.words[0] in _QUESTION_WORDS))
        ):
            kind, label = "conversational", "conversational turn"
        else:
            kind, label = "general", "general programming question"
        return GateDecision(False, s, t, f"{label}: score {s:.2f} < threshold {t:.2f}", kind)
