"""dlib face descriptors for many faces at once, in this process or in a helper process.

dlib's descriptor network holds the GIL for ~75 ms per face on this CPU, so a GUI that computed it on a worker
thread would still freeze its event loop for that long per face. `DescriptorProcess` runs the same function in
a spawned process (started on first use, kept for the session); `describe_in_process` is for the command
line, the tests and any caller without an event loop to keep alive.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from frstudio.core.identity import face_descriptor

# One item: an RGB uint8 image and the 68 landmarks of the face in it.
FaceItem = tuple[np.ndarray, np.ndarray]
Describer = Callable[[Sequence[FaceItem]], list[np.ndarray]]


def describe_in_process(items: Sequence[FaceItem]) -> list[np.ndarray]:
    return [face_descriptor(image, landmarks) for image, landmarks in items]


class DescriptorProcess:
    """A `Describer` that computes in one spawned helper process (spawn, not fork: forking a process that runs
    Qt and torch threads is unsafe)."""

    def __init__(self):
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
            return self._pool

    def warm_up(self) -> None:
        """Start the process and load dlib's network now, so the first real call does not pay for it."""
        self._executor().submit(describe_in_process, []).result()

    def __call__(self, items: Sequence[FaceItem]) -> list[np.ndarray]:
        if not items:
            return []
        # Only small crops travel: callers pass aligned faces, never a whole photo.
        return self._executor().submit(describe_in_process, list(items)).result()

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
