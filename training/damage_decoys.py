"""Fine scene structure that is *not* damage, drawn into a photo before it is made an old print: the damage
detector's hard negatives (issue 22).

Trained on face crops alone, the detector took whatever thin and bright it had never seen for a scratch or a speck:
on the bundled sample (a sharp modern photo) the stars of a flag, rim lights on a helmet ring, a spacecraft's edges
and a cable, 0.95 % of its pixels (goal < 0.5 %). ``draw_decoys(img, rng, family)`` returns the photo with some of
these drawn in, and nothing else: its target stays empty. What tells them from damage is how they sit in the photo.
They are drawn before the print is toned, faded and softened, so they share its blur and colour, where marks lie on
top of the finished print. Each is also coloured and shaded like an object rather than paper white or dirt black.

* highlights and stars: a bright point in a soft glow, some with four to six rays;
* thin objects: cables, wires, rims, stems (straight or gently bent lines in an object's colour, a lighter edge
  along one side as light catches a round thing), alone or in parallel runs;
* edges: a polygon of the scene lighter or darker than what is around it (clothing, furniture, a hull's panels);
* lace and fabric: a small repeated pattern of holes or threads over part of the photo;
* hair: bunches of nearly parallel thin curves of one colour.

Two families, as for the marks: ``"train"`` for training, ``"test"`` (other shapes and proportions) for
``benchmarks/damage.py``'s hard-negative photos, so the benchmark does not reward learning one generator's habits.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from training.damage_marks import UP

FAMILIES = ("train", "test")


def _colour(rng: np.random.Generator, img: np.ndarray, x: float, y: float, lighter: bool) -> np.ndarray:
    """An object's colour near (x, y): the photo's own colour there, made lighter or darker and tinted a little."""
    h, w = img.shape[:2]
    base = img[int(np.clip(y, 0, h - 1)), int(np.clip(x, 0, w - 1))]
    step = rng.uniform(0.15, 0.5) * (1 if lighter else -1)
    return np.clip(base + step + rng.normal(0, 0.06, 3), 0, 1).astype(np.float32)


def _paint(img: np.ndarray, coverage: np.ndarray, colour: np.ndarray, blur: float) -> np.ndarray:
    """`img` with `colour` laid where `coverage` (drawn at UP x) says, through a lens blur of `blur` px."""
    h, w = img.shape[:2]
    alpha = cv2.resize(coverage, (w, h), interpolation=cv2.INTER_AREA)
    if blur > 0:
        alpha = cv2.GaussianBlur(alpha, (0, 0), blur)
    alpha = np.clip(alpha, 0, 1)[..., None]
    return img * (1 - alpha) + colour * alpha


def _layer(h: int, w: int) -> np.ndarray:
    return np.zeros((h * UP, w * UP), np.float32)


def _pts(points: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(points) * UP).astype(np.int32).reshape(-1, 1, 2)


def _bent_line(rng: np.random.Generator, w: int, h: int, length: float, bend: float) -> np.ndarray:
    """A straight line bent into a shallow arc (`bend`: the arc's height over its length)."""
    start = np.array([rng.uniform(0, w), rng.uniform(0, h)])
    angle = rng.uniform(0, 2 * math.pi)
    direction = np.array([math.cos(angle), math.sin(angle)])
    normal = np.array([-direction[1], direction[0]])
    t = np.linspace(0, 1, 24)[:, None]
    return start + t * length * direction + (4 * t * (1 - t)) * bend * length * normal


def _highlights(img, rng, size, rays: tuple[int, int], glow: tuple[float, float]):
    h, w = img.shape[:2]
    for _ in range(rng.integers(1, 12)):
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        layer = _layer(h, w)
        r = rng.uniform(0.5, 2.0)
        cv2.circle(layer, (round(x * UP), round(y * UP)), max(1, round(r * UP)), 1.0, -1, cv2.LINE_AA)
        if rng.random() < 0.5:
            n, reach, turn = int(rng.integers(*rays)), rng.uniform(2, 0.04 * size + 4), rng.uniform(0, math.pi)
            for k in range(n):
                a = turn + k * math.pi / n
                d = reach * np.array([math.cos(a), math.sin(a)])
                cv2.line(layer, tuple(_pts([x, y] - d)[0, 0]), tuple(_pts([x, y] + d)[0, 0]), 0.7, max(1, UP // 2), cv2.LINE_AA)
        img = _paint(img, layer, _colour(rng, img, x, y, True), rng.uniform(*glow))
    return img


def _thin_objects(img, rng, size, bend: float, parallel: float):
    h, w = img.shape[:2]
    for _ in range(rng.integers(1, 4)):
        line = _bent_line(rng, w, h, rng.uniform(0.3, 1.2) * size, rng.uniform(-bend, bend))
        width, runs = rng.uniform(0.6, 3.0), int(rng.integers(2, 5)) if rng.random() < parallel else 1
        offset = rng.uniform(width + 1.5, 4 * width + 4)
        tangent = line[-1] - line[0]
        normal = np.array([-tangent[1], tangent[0]]) / (np.linalg.norm(tangent) + 1e-6)
        colour = _colour(rng, img, *line[len(line) // 2], lighter=rng.random() < 0.4)
        for k in range(runs):
            body, rim = _layer(h, w), _layer(h, w)
            at = line + k * offset * normal
            cv2.polylines(body, [_pts(at)], False, 1.0, max(1, round(width * UP)), cv2.LINE_AA)
            img = _paint(img, body, colour, rng.uniform(0.3, 1.0))
            if width > 1.2 and rng.random() < 0.6:  # light catching one side of a round object
                cv2.polylines(rim, [_pts(at + normal * width * 0.3)], False, 1.0, max(1, round(width * UP * 0.3)), cv2.LINE_AA)
                img = _paint(img, rim, np.clip(colour + 0.3, 0, 1), 0.4)
    return img


def _edges(img, rng, size, corners: tuple[int, int]):
    h, w = img.shape[:2]
    for _ in range(rng.integers(1, 3)):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.15, 0.6) * size
        n = int(rng.integers(*corners))
        angles = np.sort(rng.uniform(0, 2 * math.pi, n))
        poly = np.stack([cx + r * rng.uniform(0.5, 1.2, n) * np.cos(angles), cy + r * rng.uniform(0.5, 1.2, n) * np.sin(angles)], 1)
        layer = _layer(h, w)
        cv2.fillPoly(layer, [_pts(poly)], 1.0, cv2.LINE_AA)
        img = _paint(img, layer, _colour(rng, img, cx, cy, rng.random() < 0.5), rng.uniform(0.3, 1.2))
    return img


def _lace(img, rng, size, holes: bool):
    h, w = img.shape[:2]
    layer = _layer(h, w)
    pitch = rng.uniform(2.5, 7.0)
    x0, y0 = rng.uniform(0, w), rng.uniform(0, h)
    extent = rng.uniform(0.2, 0.6) * size
    for gy in np.arange(y0 - extent / 2, y0 + extent / 2, pitch):
        for gx in np.arange(x0 - extent / 2, x0 + extent / 2, pitch):
            if holes:
                cv2.circle(layer, (round(gx * UP), round(gy * UP)), max(1, round(pitch * 0.25 * UP)), 1.0, -1, cv2.LINE_AA)
            else:  # threads: a small cross
                d = pitch * 0.35
                cv2.line(layer, tuple(_pts([gx - d, gy - d])[0, 0]), tuple(_pts([gx + d, gy + d])[0, 0]), 1.0, max(1, UP // 2), cv2.LINE_AA)
                cv2.line(layer, tuple(_pts([gx - d, gy + d])[0, 0]), tuple(_pts([gx + d, gy - d])[0, 0]), 1.0, max(1, UP // 2), cv2.LINE_AA)
    return _paint(img, layer * rng.uniform(0.5, 1.0), _colour(rng, img, x0, y0, rng.random() < 0.6), rng.uniform(0.2, 0.8))


def _hair(img, rng, size, strands: tuple[int, int], curl: float):
    h, w = img.shape[:2]
    layer = _layer(h, w)
    line = _bent_line(rng, w, h, rng.uniform(0.2, 0.7) * size, rng.uniform(-curl, curl))
    tangent = line[-1] - line[0]
    normal = np.array([-tangent[1], tangent[0]]) / (np.linalg.norm(tangent) + 1e-6)
    for _ in range(rng.integers(*strands)):
        strand = line + normal * rng.normal(0, 0.05 * size) + rng.normal(0, 0.6, line.shape).cumsum(axis=0) * 0.3
        cv2.polylines(layer, [_pts(strand)], False, rng.uniform(0.5, 1.0), max(1, round(rng.uniform(0.3, 0.9) * UP)), cv2.LINE_AA)
    return _paint(img, layer, _colour(rng, img, *line[len(line) // 2], lighter=rng.random() < 0.3), rng.uniform(0.2, 0.7))


def draw_decoys(img: np.ndarray, rng: np.random.Generator, family: str = "train") -> np.ndarray:
    """`img` (H x W x 3 float32 in [0, 1]) with one to three kinds of scene structure of `family` drawn in."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    img = np.asarray(img, np.float32).copy()
    size = float(max(img.shape[:2]))
    if family == "train":
        kinds = [lambda im: _highlights(im, rng, size, (4, 7), (0.6, 1.5)),
                 lambda im: _thin_objects(im, rng, size, 0.08, 0.3),
                 lambda im: _edges(im, rng, size, (3, 7)),
                 lambda im: _lace(im, rng, size, holes=True),
                 lambda im: _hair(im, rng, size, (5, 15), 0.15)]
    else:
        kinds = [lambda im: _highlights(im, rng, size, (2, 4), (0.4, 2.0)),
                 lambda im: _thin_objects(im, rng, size, 0.2, 0.6),
                 lambda im: _edges(im, rng, size, (4, 10)),
                 lambda im: _lace(im, rng, size, holes=False),
                 lambda im: _hair(im, rng, size, (10, 25), 0.3)]
    for k in rng.choice(len(kinds), size=int(rng.integers(1, 4)), replace=False):
        img = kinds[k](img)
    return np.clip(img, 0, 1).astype(np.float32)
