"""dlib's 128-d face descriptor: identity faithfulness of a restored face, and the teacher of the project's
own identity network. Two photos of one person are usually within a Euclidean distance of 0.6."""

from __future__ import annotations

import functools
import threading

import numpy as np

from frstudio.core.detect import dlib_models_dir

SAME_PERSON_DISTANCE = 0.6
_lock = threading.Lock()  # one dlib network object: calls are serialised (it holds the GIL anyway)


@functools.cache
def _recogniser():
    import dlib

    return dlib.face_recognition_model_v1(str(dlib_models_dir() / "dlib_face_recognition_resnet_model_v1.dat"))


def _shape(landmarks68: np.ndarray):
    import dlib

    pts = [dlib.point(int(round(x)), int(round(y))) for x, y in np.asarray(landmarks68, np.float64)]
    xs, ys = np.asarray(landmarks68)[:, 0], np.asarray(landmarks68)[:, 1]
    rect = dlib.rectangle(int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))
    return dlib.full_object_detection(rect, pts)


def face_descriptor(rgb8: np.ndarray, landmarks68: np.ndarray) -> np.ndarray:
    """128-d descriptor (float32) of the face with these landmarks in an RGB uint8 image (~0.1 s on a CPU)."""
    image = np.ascontiguousarray(rgb8, dtype=np.uint8)
    with _lock:
        vec = _recogniser().compute_face_descriptor(image, _shape(landmarks68))
    return np.asarray(vec, np.float32)


def descriptor_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64)))
