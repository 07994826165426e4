"""Long jobs: generators that yield `Progress` events and return their result.

Every long step of the engine (restoring a photo or a batch, indexing reference photos, a session's detect
and restore) is such a generator, so the command line can draw a progress bar from the events and the GUI can
turn them into signals and cancel between them. A `CancelToken` is checked between faces and photos; it
raises `frstudio.core.errors.Cancelled`. `drive` runs a job to its end and returns its value; `relay` passes
a job's events on, changed, from inside another job. No Qt here, and nothing else of the engine imported, so
any module can use these without an import cycle.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from frstudio.core.errors import Cancelled

E = TypeVar("E")
F = TypeVar("F")
R = TypeVar("R")


@dataclass
class Progress:
    stage: str  # "load", "detect", "identity", "index", "restore", "blend", "save", "done"
    fraction: float  # of this photo (or job), 0..1
    face: int = 0  # faces (or photos, for "index") done so far
    faces: int = 0
    path: Path | None = None
    message: str = ""


class CancelToken:
    """Set from any thread; the pipeline checks it between faces and photos."""

    def __init__(self):
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self.cancelled:
            raise Cancelled("cancelled")


def drive(job: Generator[E, object, R], on_event: Callable[[E], object] | None = None) -> R:
    """Run `job` to its end, handing each event it yields to `on_event`, and return the job's return value.
    An exception raised by the job or by `on_event` goes to the caller."""
    while True:
        try:
            event = next(job)
        except StopIteration as stop:
            return stop.value
        if on_event is not None:
            on_event(event)


def relay(job: Generator[E, object, R], change: Callable[[E], F]) -> Generator[F, None, R]:
    """Yield `change(event)` for each event of `job`; return the job's return value
    (`value = yield from relay(job, change)`)."""
    while True:
        try:
            event = next(job)
        except StopIteration as stop:
            return stop.value
        yield change(event)
