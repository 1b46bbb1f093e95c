"""Scorers for the retrieval gate: the learned logistic model and the rule baseline.

Both map a query (plus optional client context) to a probability-like score in ``[0, 1]``
that retrieval from the project's memory/index will help.  Inference is pure Python (no numpy):
a few dozen CRC-32 hashes and dict lookups.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from codeloci.gate.features import Analysis, analyze, extract_features, hash_feature
from codeloci.identifiers import name_tokens

__all__ = [
    "DEFAULT_MODEL_PATH",
    "MODEL_FORMAT",
    "LogisticModel",
    "RuleModel",
    "Scorer",
    "load_model",
    "rule_logit",
]

DEFAULT_MODEL_PATH: Final = Path(__file__).resolve().parent / "data" / "gate_model.json"
MODEL_FORMAT: Final = "codeloci-gate-model"
MODEL_VERSION: Final = 1


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


class Scorer(Protocol):
    """Anything that scores a query; ``threshold`` is its tuned default."""

    kind: str
    threshold: float

    def score(
        self,
        text: str,
        current_file: str | None = None,
        recent_tools: Sequence[str] = (),
        analysis: Analysis | None = None,
    ) -> float: ...


@dataclass(frozen=True)
class LogisticModel:
    """Logistic regression over hashed binary features (see :mod:`codeloci.gate.features`)."""

    weights: dict[int, float]
    bias: float
    dim: int
    char_ngrams: tuple[int, ...]
    threshold: float
    kind: str = "logreg"

    def logit(
        self,
        text: str,
        current_file: str | None = None,
        recent_tools: Sequence[str] = (),
        analysis: Analysis | None = None,
    ) -> float:
        feats = extract_features(
            text, current_file, recent_tools, char_ngrams=self.char_ngrams, analysis=analysis
        )
        dim = self.dim
        get = self.weights.get
        z = self.bias
        for idx in {hash_feature(f, dim) for f in feats}:
            z += get(idx, 0.0)
        return z

    def score(
        self,
        text: str,
        current_file: str | None = None,
        recent_tools: Sequence[str] = (),
        analysis: Analysis | None = None,
    ) -> float:
        return _sigmoid(self.logit(text, current_file, recent_tools, analysis))


# ------------------------------------------------------------------------------ rule baseline
_REPO_WORDS: Final = {
    "our": 2.0,
    "ours": 2.0,
    "we": 1.5,
    "we've": 1.5,
    "us": 1.0,
    "repo": 1.5,
    "repository": 1.5,
    "codebase": 2.0,
    "project": 1.0,
    "team": 1.0,
    "decided": 2.5,
    "decide": 2.0,
    "agreed": 2.0,
    "agree": 1.5,
    "convention": 2.0,
    "conventions": 2.0,
    "guidelines": 1.5,
    "preference": 2.0,
    "preferences": 2.0,
    "prefer": 1.0,
    "preferred": 2.0,
    "remind": 2.0,
    "remember": 2.0,
    "recall": 2.0,
    "usual": 1.5,
    "usually": 1.0,
    "adr": 2.5,
    "callers": 2.0,
    "calls": 1.0,
    "usages": 2.0,
    "uses": 0.5,
    "defined": 1.0,
    "defines": 1.5,
    "here": 1.0,
    "this": 0.5,
    "tests": 0.5,
    "fix": 0.5,
    "bug": 0.5,
    "style": 0.5,
    "investigate": 1.5,
    "refactor": 1.0,
    "rename": 1.5,
    "wire": 1.0,
    "hook": 1.0,
}
_REPO_STARTS: Final = (
    "where is",
    "where's",
    "where do",
    "where are",
    "where does",
    "where did",
    "which file",
    "which module",
    "which class",
    "which function",
    "which part",
    "which tests",
    "who calls",
    "who uses",
    "what calls",
    "find where",
    "find the",
    "find all",
    "show me the code",
    "what did we",
    "what did i",
    "did we",
    "why did we",
    "have we",
    "do we",
    "how do we",
    "how does our",
    "how is our",
    "how are our",
    "is there already",
    "list the callers",
    "grep for",
    "locate",
)
_GENERAL_STARTS: Final = (
    "what is a",
    "what is an",
    "what is the difference",
    "what's a ",
    "what's an ",
    "what's the difference",
    "explain ",
    "define ",
    "eli5",
    "teach me",
    "how do i ",
    "how to ",
    "how can i",
    "how would you",
    "how does a",
    "how does an",
    "how do you",
    "best way",
    "best practices",
    "what are the pros",
    "what are common",
    "compare ",
    "is there a built-in",
    "recommend a",
    "what's the idiomatic",
    "what's the modern",
    "what's the big o",
    "what's the fastest way",
    "quick way",
    "any tips",
    "write a function",
    "write a ",
    "implement a function",
    "give me a one-liner",
    "give me an example of",
    "why would anyone",
    "what problem does",
    "history of",
    "is it worth",
    "worst case",
)
_GENERAL_WORDS: Final = {
    "python": 1.0,
    "rust": 1.0,
    "javascript": 1.0,
    "typescript": 1.0,
    "java": 1.0,
    "go": 0.5,
    "c++": 1.0,
    "c#": 1.0,
    "ruby": 1.0,
    "kotlin": 1.0,
    "swift": 1.0,
    "bash": 1.0,
    "sql": 0.5,
    "php": 1.0,
    "scala": 1.0,
    "general": 1.5,
    "complexity": 1.5,
    "algorithm": 1.0,
    "difference": 1.0,
    "vs": 1.0,
    "idiomatic": 1.5,
    "example": 0.5,
    "library": 0.5,
    "error": 0.3,
    "mean": 0.5,
}
# prose tokens split on apostrophes: "what's" -> "what s"
_REPO_STARTS_N: Final = tuple(p.replace("'", " ") for p in _REPO_STARTS)
_GENERAL_STARTS_N: Final = tuple(p.replace("'", " ") for p in _GENERAL_STARTS)
_ACKS: Final = frozenset(
    """thanks thank ty thx ok okay k sure yes yep yup yeah no nope nah great good nice cool
    perfect awesome lgtm ship continue proceed go ahead do it alright right exactly agreed
    fine hmm wow lol haha hi hello hey bye wait stop never mind sorry makes sense got""".split()
)


def rule_logit(
    text: str,
    current_file: str | None = None,
    recent_tools: Sequence[str] = (),
    analysis: Analysis | None = None,
) -> float:
    """Hand-written scoring rules (the baseline the learned model is compared with)."""
    a = analysis if analysis is not None else analyze(text)
    low = " ".join(t.lower() for t in name_tokens(text[:300]))
    z = 0.0
    for w in a.words:
        z += _REPO_WORDS.get(w, 0.0)
        z -= _GENERAL_WORDS.get(w, 0.0)
    if low.startswith(_REPO_STARTS_N):
        z += 2.5
    stripped = low
    for p in ("hey ", "so ", "btw ", "q ", "quick question ", "help ", "pls ", "can you tell me "):
        if stripped.startswith(p):
            stripped = stripped[len(p) :]
    if stripped.startswith(_GENERAL_STARTS_N):
        z -= 2.0
    for shape in a.shapes:
        if shape in ("snake", "camel", "path", "file", "dotted"):
            z += 3.0
        elif shape == "libcall":
            z -= 1.5
    if a.fenced or a.code_lines >= 2:
        z -= 3.5
    elif a.backticks and not a.shapes:
        z -= 1.0
    n = len(a.prose)
    if n <= 6 and a.words and sum(w in _ACKS for w in a.words) * 2 >= len(a.words):
        z -= 4.0
    elif n <= 2:
        z -= 1.5
    if (
        current_file
        and any(w in ("this", "here") for w in a.words)
        and not (a.fenced or a.code_lines)
    ):
        z += 1.5
    return z - 0.5


@dataclass(frozen=True)
class RuleModel:
    """The rule baseline as a :class:`Scorer`."""

    threshold: float = 0.5
    kind: str = "rules"

    def score(
        self,
        text: str,
        current_file: str | None = None,
        recent_tools: Sequence[str] = (),
        analysis: Analysis | None = None,
    ) -> float:
        return _sigmoid(rule_logit(text, current_file, recent_tools, analysis))


def model_from_dict(doc: dict[str, object]) -> LogisticModel | RuleModel:
    """Build a scorer from a parsed model file."""
    if doc.get("format") != MODEL_FORMAT or doc.get("version") != MODEL_VERSION:
        raise ValueError("not a codeloci gate model (format/version mismatch)")
    threshold = float(doc["threshold"])  # type: ignore[arg-type]
    kind = doc.get("kind")
    if kind == "rules":
        return RuleModel(threshold=threshold)
    if kind != "logreg":
        raise ValueError(f"unknown gate model kind {kind!r}")
    idx = doc["indices"]
    w = doc["weights"]
    if not isinstance(idx, list) or not isinstance(w, list) or len(idx) != len(w):
        raise ValueError("malformed gate model weights")
    ngrams = doc.get("char_ngrams", [])
    if not isinstance(ngrams, list):
        raise ValueError("malformed char_ngrams")
    return LogisticModel(
        weights={int(i): float(x) for i, x in zip(idx, w, strict=True)},
        bias=float(doc["bias"]),  # type: ignore[arg-type]
        dim=int(doc["dim"]),  # type: ignore[call-overload]
        char_ngrams=tuple(int(n) for n in ngrams),
        threshold=threshold,
    )


def load_model(path: str | os.PathLike[str] | None = None) -> LogisticModel | RuleModel:
    """Load a model file (default: the artefact shipped in ``codeloci/gate/data``)."""
    p = Path(path) if path is not None else DEFAULT_MODEL_PATH
    with p.open(encoding="utf-8") as fh:
        doc = json.load(fh)
    if not isinstance(doc, dict):
        raise ValueError(f"{p}: not a gate model")
    return model_from_dict(doc)
