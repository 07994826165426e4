"""Face detection and 68-point landmarks with dlib.

The HOG detector scans a resized copy of the photo: scaled so a face with `min_eye_distance` px between the
eyes becomes big enough for dlib's 80 px window, but never more than `max_scan_megapixels` in all (a 12 MP
scan must not become a 40 MP search). The scan is split into overlapping horizontal bands run in threads
(dlib's HOG releases the GIL); a second, coarse pass finds the large faces that a band boundary could cut.
Landmarks are then fitted on the full-resolution photo, on a small region around each face.

dlib's CNN (mmod) detector is more robust to pose and blur but slow and holds the GIL: it runs on a
downscaled copy in a separate process.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import math
import os
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from frstudio.core.align import eye_distance
from frstudio.core.errors import FRStudioError
from frstudio.core.paths import bundle_dir

# Measured on dlib's frontal detector: a face is found once its eye distance reaches ~30 px in the scanned
# image (box ~2.05 x eye distance); 32 keeps a margin.
DETECTABLE_EYE_DISTANCE = 32.0
EYE_DISTANCE_PER_BOX = 0.49
BAND_OVERLAP_PX = 320  # at scan scale: bigger faces are the coarse pass's job
COARSE_SCAN_MEGAPIXELS = 1.5
# min_eye_distance of the app's "Find Small Faces" option (off by default; the CLI's `--min-face 10`): the tiny
# faces of group photos, which Auto routes to the 16 -> 128 model (core/routing.py). Measured on a 3000 x 2000
# group photo: at the default 20, none of its 30 faces at 10 px are found, in 1.26 s; at 10-12, 9 of 30 in ~2.1 s
# (a 6 MP photo hits the 32 MP scan budget at 2.3x either way, so 10 and 12 scan the same). On small photos the
# budget does not cap it and false faces appear (the 512 x 512 sample gains one from 16 px down): hence off by
# default.
SMALL_FACES_MIN_EYE_DISTANCE = 10.0


class DetectorUnavailableError(FRStudioError):
    """dlib's model files cannot be found."""


@dataclass
class Face:
    """One detected face, in the original photo's pixel coordinates."""

    index: int
    box: tuple[float, float, float, float]  # x0, y0, x1, y1
    landmarks: np.ndarray  # 68 x 2 float32
    score: float
    detector: str = "hog"  # "hog", "cnn" or "manual"

    @property
    def eye_distance(self) -> float:
        return eye_distance(self.landmarks)

    @property
    def centre(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.box
        return (x0 + x1) / 2, (y0 + y1) / 2

    def to_json(self) -> dict:
        return {
            "index": self.index,
            "box": [round(float(v), 2) for v in self.box],
            "score": round(float(self.score), 4),
            "detector": self.detector,
            "eye_distance": round(self.eye_distance, 2),
            "landmarks": np.round(self.landmarks, 2).tolist(),
        }


@dataclass
class DetectionSettings:
    min_eye_distance: float = 20.0  # px in the original photo
    max_scan_megapixels: float = 32.0
    threshold: float = 0.0  # dlib's adjust_threshold: lower finds more (and more false) faces
    detector: str = "hog"  # or "cnn"
    cnn_max_side: int = 1024
    threads: int = field(default_factory=lambda: max(1, min(4, os.cpu_count() or 1)))


def dlib_models_dir() -> Path:
    """The model files shipped by the `face_recognition_models` package (found without importing it:
    its __init__ needs pkg_resources, which newer setuptools dropped). A frozen app carries the files in the
    same layout inside its bundle (installers/frstudio.spec), without the package."""
    bundle = bundle_dir()
    if bundle is not None:
        return bundle / "face_recognition_models" / "models"
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise DetectorUnavailableError(
            "dlib's face models are missing: install the 'face_recognition_models' package"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "models"


def _model_file(name: str) -> str:
    path = dlib_models_dir() / name
    if not path.is_file():
        raise DetectorUnavailableError(f"dlib's model file {path} is missing")
    return str(path)


_idle_detectors: list = []
_idle_lock = threading.Lock()


@contextlib.contextmanager
def _hog_detector():
    """Lend a detector to one thread at a time: a dlib detector keeps scratch buffers, so two threads sharing
    one corrupt each other's results, and building one takes ~0.4 s, so they are kept for reuse."""
    with _idle_lock:
        detector = _idle_detectors.pop() if _idle_detectors else None
    if detector is None:
        import dlib

        detector = dlib.get_frontal_face_detector()
    try:
        yield detector
    finally:
        with _idle_lock:
            _idle_detectors.append(detector)


@functools.cache
def _shape_predictor():
    import dlib

    return dlib.shape_predictor(_model_file("shape_predictor_68_face_landmarks.dat"))


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _non_max_suppression(boxes: list[np.ndarray], scores: list[float], iou: float = 0.35) -> list[int]:
    order = np.argsort(scores)[::-1]
    keep: list[int] = []
    for i in order:
        if all(_iou(boxes[i], boxes[j]) < iou for j in keep):
            keep.append(int(i))
    return keep


def _scan(image: np.ndarray, scale: float, threshold: float, y_offset: int = 0):
    """HOG detections in `image` (already resized by `scale`), as boxes in original-photo pixels."""
    with _hog_detector() as detector:
        rects, scores, _ = detector.run(image, 0, threshold)
    out = []
    for r, s in zip(rects, scores):
        box = np.array([r.left(), r.top() + y_offset, r.right() + 1, r.bottom() + 1 + y_offset], np.float64)
        out.append((box / scale, float(s)))
    return out


def _resize(image: np.ndarray, scale: float) -> np.ndarray:
    if abs(scale - 1.0) < 1e-6:
        return image
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=interp)


def scan_scale(width: int, height: int, settings: DetectionSettings) -> float:
    wanted = DETECTABLE_EYE_DISTANCE / settings.min_eye_distance
    budget = math.sqrt(settings.max_scan_megapixels * 1e6 / (width * height))
    return min(wanted, budget)


def smallest_detectable_eye_distance(width: int, height: int, settings: DetectionSettings) -> float:
    """The eye distance (px in the photo) below which faces may be missed, given the scan budget."""
    return DETECTABLE_EYE_DISTANCE / scan_scale(width, height, settings)


def _hog_boxes(rgb8: np.ndarray, settings: DetectionSettings):
    h, w = rgb8.shape[:2]
    scale = scan_scale(w, h, settings)
    # Greyscale: dlib's HOG on one channel costs ~2/3 of colour (it takes the strongest channel's gradient),
    # finds the same faces in our tests, and old photos are often grey anyway.
    grey = cv2.cvtColor(rgb8, cv2.COLOR_RGB2GRAY)
    scanned = _resize(grey, scale)
    sh = scanned.shape[0]
    bands = max(1, min(settings.threads, sh // (2 * BAND_OVERLAP_PX)))
    step = math.ceil(sh / bands)
    jobs = [(max(0, i * step - BAND_OVERLAP_PX // 2), min(sh, (i + 1) * step + BAND_OVERLAP_PX // 2)) for i in range(bands)]
    coarse = min(1.0, math.sqrt(COARSE_SCAN_MEGAPIXELS * 1e6 / (w * h)))
    with ThreadPoolExecutor(max_workers=settings.threads) as pool:
        futures = [pool.submit(_scan, scanned[y0:y1], scale, settings.threshold, y0) for y0, y1 in jobs]
        if bands > 1 and coarse < scale:
            futures.append(pool.submit(_scan, _resize(grey, coarse), coarse, settings.threshold))
        found = [d for f in futures for d in f.result()]
    return found


def _cnn_worker(image: np.ndarray, model_path: str, threshold: float):
    import dlib

    detector = dlib.cnn_face_detection_model_v1(model_path)
    dets = detector(image, 0)
    return [([d.rect.left(), d.rect.top(), d.rect.right() + 1, d.rect.bottom() + 1], float(d.confidence)) for d in dets if d.confidence >= threshold]


def _cnn_boxes(rgb8: np.ndarray, settings: DetectionSettings):
    h, w = rgb8.shape[:2]
    scale = min(1.0, settings.cnn_max_side / max(h, w))
    small = np.ascontiguousarray(_resize(rgb8, scale))
    import multiprocessing

    # A separate process: the mmod detector holds the GIL for tens of seconds, which would freeze a GUI.
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        dets = pool.submit(_cnn_worker, small, _model_file("mmod_human_face_detector.dat"), settings.threshold).result()
    return [(np.array(b, np.float64) / scale, s) for b, s in dets]


def landmarks_in_box(rgb8: np.ndarray, box) -> np.ndarray:
    """68 landmarks (x, y) for the face inside `box` (x0, y0, x1, y1), fitted at full resolution.

    Only a region around the box is handed to dlib, so a 50 MP photo is not copied once per face.
    """
    import dlib

    h, w = rgb8.shape[:2]
    x0, y0, x1, y1 = (float(v) for v in box)
    pad = 0.5 * max(x1 - x0, y1 - y0)
    rx0, ry0 = int(max(0, x0 - pad)), int(max(0, y0 - pad))
    rx1, ry1 = int(min(w, x1 + pad)), int(min(h, y1 + pad))
    roi = np.ascontiguousarray(rgb8[ry0:ry1, rx0:rx1])
    rect = dlib.rectangle(int(round(x0 - rx0)), int(round(y0 - ry0)), int(round(x1 - rx0)) - 1, int(round(y1 - ry0)) - 1)
    shape = _shape_predictor()(roi, rect)
    pts = np.array([[p.x + rx0, p.y + ry0] for p in shape.parts()], np.float32)
    return pts


def reading_order(faces: list[Face]) -> list[Face]:
    """Index faces left to right within rows, rows top to bottom, so numbers are stable and predictable."""
    if not faces:
        return []
    heights = np.median([f.box[3] - f.box[1] for f in faces])
    rows: list[list[Face]] = []
    for f in sorted(faces, key=lambda f: f.centre[1]):
        if rows and abs(f.centre[1] - rows[-1][0].centre[1]) < 0.5 * heights:
            rows[-1].append(f)
        else:
            rows.append([f])
    ordered = [f for row in rows for f in sorted(row, key=lambda f: f.centre[0])]
    for i, f in enumerate(ordered):
        f.index = i
    return ordered


def detect_faces(rgb8: np.ndarray, settings: DetectionSettings | None = None) -> list[Face]:
    """Every face in an RGB uint8 photo, in reading order."""
    settings = settings or DetectionSettings()
    if rgb8.dtype != np.uint8 or rgb8.ndim != 3 or rgb8.shape[2] != 3:
        raise ValueError("detect_faces expects an H x W x 3 uint8 RGB array")
    rgb8 = np.ascontiguousarray(rgb8)
    found = _cnn_boxes(rgb8, settings) if settings.detector == "cnn" else _hog_boxes(rgb8, settings)
    boxes = [b for b, _ in found]
    scores = [s for _, s in found]
    faces = []
    for i in _non_max_suppression(boxes, scores):
        box = boxes[i]
        h, w = rgb8.shape[:2]
        if box[2] <= 0 or box[3] <= 0 or box[0] >= w or box[1] >= h:
            continue
        faces.append(Face(0, tuple(float(v) for v in box), landmarks_in_box(rgb8, box), scores[i], settings.detector))
    return reading_order(faces)


def manual_face(rgb8: np.ndarray, box, index: int = -1) -> Face:
    """A face the user outlined by hand: landmarks are found inside the drawn box."""
    return Face(index, tuple(float(v) for v in box), landmarks_in_box(rgb8, box), 1.0, "manual")
