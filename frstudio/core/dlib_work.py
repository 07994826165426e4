"""dlib's work for an interactive app (detection, landmarks, descriptors), in this process or a helper process.

dlib holds the GIL in several slow calls: building the HOG detector (~0.4 s) and loading the landmark model
(~1 s) the first time, and the descriptor network for ~75 ms per face every time. On a worker thread those
still freeze a GUI's event loop. `DlibProcess` runs the same functions in one spawned helper process (started
on first use, kept for the session); `DlibInProcess` is for the command line, the tests and any caller
without an event loop to keep alive. Both offer the same three methods.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import shared_memory

import numpy as np

from frstudio.core.detect import DetectionSettings, Face, detect_faces, manual_face
from frstudio.core.errors import FRStudioError
from frstudio.core.identity import face_descriptor

log = logging.getLogger(__name__)

# One item: an RGB uint8 image and the 68 landmarks of the face in it.
FaceItem = tuple[np.ndarray, np.ndarray]


def describe_in_process(items: Sequence[FaceItem]) -> list[np.ndarray]:
    return [face_descriptor(image, landmarks) for image, landmarks in items]


def _warm() -> None:
    """Load every dlib model once (in the helper process, so the GUI process never pays for it)."""
    from frstudio.core.detect import _shape_predictor
    from frstudio.core.identity import _recogniser

    detect_faces(np.zeros((64, 64, 3), np.uint8))
    _shape_predictor()
    _recogniser()


def _detect_shared(name: str, shape: tuple, settings: DetectionSettings | None) -> list[Face]:
    shm = shared_memory.SharedMemory(name=name)
    try:
        return detect_faces(np.ndarray(shape, np.uint8, buffer=shm.buf), settings)
    finally:
        shm.close()


class DlibInProcess:
    def describe(self, items: Sequence[FaceItem]) -> list[np.ndarray]:
        return describe_in_process(items)

    def detect(self, rgb8: np.ndarray, settings: DetectionSettings | None = None) -> list[Face]:
        return detect_faces(rgb8, settings)

    def manual_face(self, rgb8: np.ndarray, box, index: int) -> Face:
        return manual_face(rgb8, box, index)


class DlibProcess(DlibInProcess):
    """The same calls in one spawned helper process (spawn, not fork: forking a process that runs Qt and torch
    threads is unsafe). Arrays travel by pickling: callers send crops or regions, a whole photo only to detect."""

    def __init__(self):
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._in_process = False  # set when the helper cannot run: slower to respond, but the work still gets done
        self._closed = False

    def _call(self, fn, *args):
        if self._closed:
            raise FRStudioError("the app is closing")
        with self._lock:
            if self._pool is None and not self._in_process:
                self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
            pool = self._pool
        if pool is not None:
            try:
                return pool.submit(fn, *args).result()
            except BrokenProcessPool:
                if self._closed:
                    raise FRStudioError("the app is closing") from None
                log.warning("dlib's helper process stopped; doing its work in this process from now on")
                with self._lock:
                    self._in_process, self._pool = True, None
                pool.shutdown(wait=False, cancel_futures=True)
        return fn(*args)

    @property
    def fell_back(self) -> bool:
        """True once the helper process could not run and the work is done in this process instead."""
        return self._in_process

    def warm_up(self) -> None:
        """Start the process and load dlib's models now, so the first photo does not wait for them."""
        self._call(_warm)

    def describe(self, items: Sequence[FaceItem]) -> list[np.ndarray]:
        return self._call(describe_in_process, list(items)) if items else []

    def detect(self, rgb8: np.ndarray, settings: DetectionSettings | None = None) -> list[Face]:
        # The photo goes through shared memory: pickling 36 MB (12 MP) holds the GIL for ~50 ms, while numpy's
        # copy into shared memory releases it.
        shm = shared_memory.SharedMemory(create=True, size=max(1, rgb8.nbytes))
        try:
            np.copyto(np.ndarray(rgb8.shape, np.uint8, buffer=shm.buf), rgb8)
            return self._call(_detect_shared, shm.name, rgb8.shape, settings)
        finally:
            shm.close()
            shm.unlink()

    def manual_face(self, rgb8: np.ndarray, box, index: int) -> Face:
        return self._call(manual_face, rgb8, box, index)

    def close(self) -> None:
        """Stop the helper now, even mid-call (quitting must not wait for a detection to finish)."""
        with self._lock:
            pool, self._pool, self._closed = self._pool, None, True
        if pool is not None:
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
            pool.shutdown(wait=True, cancel_futures=True)
