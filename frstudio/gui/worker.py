"""Running the engine's generators off the GUI thread.

A `Job` is a QThread that calls `make()` (which returns a generator, or a plain value for short tasks),
iterates it, and emits `progressed` for each event it yields and `finished` with its return value; signals
cross to the GUI thread through Qt's queued connections. Between yields it honours pause and cancel; the
engine also checks the same `CancelToken` between faces, so a cancel takes effect within one face.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QThread, Signal

from frstudio.core.errors import Cancelled, FRStudioError
from frstudio.core.jobs import CancelToken, drive

log = logging.getLogger(__name__)


class Job(QThread):
    progressed = Signal(object)
    finished_with = Signal(object)  # the generator's return value
    failed = Signal(str)  # a plain-words message
    cancelled = Signal()

    def __init__(self, make: Callable[[CancelToken], object], name: str = "job", parent=None):
        super().__init__(parent)
        self.setObjectName(name)
        self.cancel_token = CancelToken()
        self._make = make
        self._running = threading.Event()
        self._running.set()

    def cancel(self) -> None:
        self.cancel_token.cancel()
        self._running.set()  # a paused job must wake up to notice

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def _wait_while_paused(self) -> None:
        """Between events: wait while paused, then stop here if cancelled."""
        self._running.wait()
        self.cancel_token.raise_if_cancelled()

    def _emit(self, event) -> None:
        self.progressed.emit(event)
        self._wait_while_paused()

    def run(self) -> None:
        try:
            job = self._make(self.cancel_token)
            if not inspect.isgenerator(job):
                self.finished_with.emit(job)
                return
            self._wait_while_paused()
            self.finished_with.emit(drive(job, self._emit))
        except Cancelled:
            self.cancelled.emit()
        except FRStudioError as exc:
            self.failed.emit(str(exc))
        except MemoryError:
            self.failed.emit("There is not enough memory for this photo. Close other programs and try again.")
        except Exception as exc:  # noqa: BLE001 - a bug must become a message, never a crashed app
            log.exception("%s failed", self.objectName())
            self.failed.emit(f"Something went wrong ({type(exc).__name__}: {exc}). The photo was not changed.")
