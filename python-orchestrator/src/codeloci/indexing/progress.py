"""Progress of an index run, reported to a callback (CLI progress bar, MCP progress)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["IndexProgress", "ProgressFn"]


@dataclass
class IndexProgress:
    stage: str = "scan"
    files_scanned: int = 0
    files_to_chunk: int = 0
    files_chunked: int = 0
    chunks: int = 0
    embedded: int = 0
    to_embed: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def rate(self) -> float:
        """Chunks per second so far (embedded chunks once embedding has started)."""
        done = self.embedded if self.stage == "embed" else self.chunks
        return done / self.elapsed if self.elapsed > 0 else 0.0

    def line(self) -> str:
        return (
            f"{self.stage:<8} files {self.files_scanned} scanned, "
            f"{self.files_chunked}/{self.files_to_chunk} chunked | chunks {self.chunks} | "
            f"embedded {self.embedded}/{self.to_embed} | {self.elapsed:6.1f}s | "
            f"{self.rate:6.1f} chunks/s"
        )


ProgressFn = Callable[[IndexProgress], None]
