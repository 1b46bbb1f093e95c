"""The project's symbol vocabulary on disk: every name and path the indexer has seen, so the
retrieval gate never skips a query that names one. Names of deleted code linger until a
``full`` re-index; that only costs a retrieval the gate could have skipped."""

from __future__ import annotations

import logging
from pathlib import Path

from codeloci.gate import SymbolVocabulary

__all__ = ["load_vocabulary", "vocabulary_path"]

log = logging.getLogger(__name__)


def vocabulary_path(data_dir: Path, project: str) -> Path:
    return Path(data_dir) / "code-index" / f"{project}.vocabulary.json"


def load_vocabulary(data_dir: Path, project: str) -> SymbolVocabulary:
    """The saved vocabulary, or an empty one (a damaged file is reported and replaced)."""
    path = vocabulary_path(data_dir, project)
    if not path.exists():
        return SymbolVocabulary()
    try:
        return SymbolVocabulary.load(path)
    except (OSError, ValueError) as exc:
        log.warning(
            "symbol vocabulary %s unreadable (%s); the next index run rebuilds it", path, exc
        )
        return SymbolVocabulary()
