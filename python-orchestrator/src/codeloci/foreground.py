"""Calls an agent waits on come before background work.

Python runs one thread at a time (the GIL), and the embedded store holds it for the whole of
each write, so an index run or background embedding sharing the process with searches makes
every search wait its turn behind them. :class:`Foreground` counts the calls in flight that an
agent waits on (searches and lookups); background work calls :meth:`Foreground.pause` at its
safe points (between files, store writes and embedding batches) and waits there while any such
call is in flight, at most :data:`MAX_PAUSE_SECONDS` at a time, so a steady stream of searches
slows indexing down but never stops it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import anyio

__all__ = ["MAX_PAUSE_SECONDS", "Foreground"]

#: The longest one pause of background work lasts, however many calls keep arriving.
MAX_PAUSE_SECONDS = 0.25


class Foreground:
    """The calls in flight that background work makes way for (one per process)."""

    def __init__(self, max_pause: float = MAX_PAUSE_SECONDS) -> None:
        self.max_pause = max_pause
        self._active = 0
        self._quiet = threading.Condition()
        #: Seconds background work has spent paused (for tests and logs).
        self.paused_seconds = 0.0

    @property
    def active(self) -> int:
        return self._active

    @contextmanager
    def call(self) -> Iterator[None]:
        """Marks one foreground call for its duration (usable from any thread or the event
        loop: it never blocks)."""
        with self._quiet:
            self._active += 1
        try:
            yield
        finally:
            with self._quiet:
                self._active -= 1
                if self._active == 0:
                    self._quiet.notify_all()

    def pause(self) -> float:
        """In a background thread: wait while a foreground call is in flight, at most
        ``max_pause``; returns the seconds waited."""
        if self._active == 0:
            return 0.0
        start = time.monotonic()
        with self._quiet:
            self._quiet.wait_for(lambda: self._active == 0, timeout=self.max_pause)
        waited = time.monotonic() - start
        self.paused_seconds += waited
        return waited

    async def pause_async(self) -> float:
        """:meth:`pause` for a task on the event loop (it keeps serving meanwhile)."""
        if self._active == 0:
            return 0.0
        start = time.monotonic()
        while self._active and time.monotonic() - start < self.max_pause:
            await anyio.sleep(0.002)
        waited = time.monotonic() - start
        self.paused_seconds += waited
        return waited
