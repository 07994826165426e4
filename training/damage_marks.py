"""Scratches, cracks, dust, creases and spots drawn on a photo, with the mask of what was drawn: the training pairs
of the whole-photo damage detector (issue 22), and, with a different stroke model, its test pairs.

``draw_marks(img, rng, family)`` returns ``(damaged, mask)``: H x W x 3 float32 in [0, 1] and H x W bool (the
pixels a mark changes noticeably, the detector's target). Two families of strokes, so the test does not reward
learning one generator's habits:

* ``"train"``: random walks with drifting heading (hairline scratches, long scratches), cracks that branch as
  they go, round dust specks, creases (a bright ridge beside a dark fold), soft spots;
* ``"test"``: cubic Bezier strokes, cracks made by midpoint displacement, specks as irregular polygons, stains
  with a darker rim; drawn with their own seeds by the benchmark.

Under the marks a share of photos gets film grain or a halftone screen first (``frstudio.core.degradations``), so
texture that is not damage is seen unmasked. Marks are drawn anti-aliased at 4x and blended with their opacity;
each is bright (emulsion gone, paper showing) or dark (dirt, ink).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from frstudio.core import degradations as D

UP = 4  # marks are drawn at 4x and shrunk: anti-aliased sub-pixel widths
MASK_LEVEL = 0.15  # a pixel belongs to the mask where a mark covers it at least this much
FAMILIES = ("train", "test")


def _walk(rng: np.random.Generator, w: int, h: int, length: float, wiggle: float) -> np.ndarray:
    """A random walk of `length` px from a random point, its heading drifting by `wiggle` rad per step."""
    steps = max(2, int(length / 6))
    x, y, heading = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0, 2 * math.pi)
    pts = [(x, y)]
    for _ in range(steps):
        heading += rng.normal(0, wiggle)
        x, y = x + 6 * math.cos(heading), y + 6 * math.sin(heading)
        pts.append((x, y))
    return np.asarray(pts)


def _bezier(rng: np.random.Generator, w: int, h: int, length: float) -> np.ndarray:
    start = np.array([rng.uniform(0, w), rng.uniform(0, h)])
    angle = rng.uniform(0, 2 * math.pi)
    end = start + length * np.array([math.cos(angle), math.sin(angle)])
    c1, c2 = (start + (end - start) * f + rng.normal(0, 0.3 * length, 2) for f in (0.33, 0.66))
    t = np.linspace(0, 1, max(8, int(length / 4)))[:, None]
    return (1 - t) ** 3 * start + 3 * (1 - t) ** 2 * t * c1 + 3 * (1 - t) * t**2 * c2 + t**3 * end


def _jagged(rng: np.random.Generator, a: np.ndarray, b: np.ndarray, depth: int, rough: float) -> np.ndarray:
    """Midpoint displacement between a and b: a crack's zigzag."""
    if depth == 0:
        return np.stack([a, b])
    mid = (a + b) / 2
    normal = np.array([a[1] - b[1], b[0] - a[0]])
    mid = mid + normal * rng.normal(0, rough)
    left, right = _jagged(rng, a, mid, depth - 1, rough), _jagged(rng, mid, b, depth - 1, rough)
    return np.vstack([left[:-1], right])


def _line(layer: np.ndarray, pts: np.ndarray, width: float) -> None:
    cv2.polylines(layer, [np.round(pts * UP).astype(np.int32).reshape(-1, 1, 2)], False, 1.0,
                  thickness=max(1, round(width * UP)), lineType=cv2.LINE_AA)


def _dot(layer: np.ndarray, x: float, y: float, r: float) -> None:
    cv2.circle(layer, (round(x * UP), round(y * UP)), max(1, round(r * UP)), 1.0, thickness=-1, lineType=cv2.LINE_AA)


def _train_marks(rng: np.random.Generator, w: int, h: int, size: float, bright: np.ndarray, dark: np.ndarray) -> None:
    pick = lambda: bright if rng.random() < 0.6 else dark  # noqa: E731 - scratches in prints are mostly light
    for _ in range(rng.poisson(2.5)):  # scratches, hairline to a few px
        _line(pick(), _walk(rng, w, h, rng.uniform(0.1, 1.0) * size, rng.uniform(0.01, 0.12)), rng.uniform(0.4, 3.0))
    for _ in range(rng.poisson(0.8)):  # cracks: a jagged main line with branches
        trunk = _walk(rng, w, h, rng.uniform(0.3, 1.0) * size, 0.35)
        layer, width = pick(), rng.uniform(0.6, 2.5)
        _line(layer, trunk, width)
        for _ in range(rng.integers(1, 5)):
            origin = trunk[rng.integers(len(trunk))]
            branch = _walk(rng, w, h, rng.uniform(0.05, 0.3) * size, 0.4)
            _line(layer, branch - branch[0] + origin, width * rng.uniform(0.4, 0.9))
    for _ in range(rng.poisson(25)):  # dust specks
        _dot(pick(), rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.4, 3.5))
    if rng.random() < 0.25:  # a crease: bright ridge beside a dark fold
        fold = _walk(rng, w, h, size * 1.5, 0.02)
        _line(bright, fold, rng.uniform(1.0, 3.0))
        _line(dark, fold + rng.uniform(1.5, 3.0), rng.uniform(0.8, 2.0))
    for _ in range(rng.poisson(0.7)):  # soft spots
        _dot(pick(), rng.uniform(0, w), rng.uniform(0, h), rng.uniform(4, 0.04 * size + 5))


def _test_marks(rng: np.random.Generator, w: int, h: int, size: float, bright: np.ndarray, dark: np.ndarray) -> None:
    pick = lambda: bright if rng.random() < 0.5 else dark  # noqa: E731
    for _ in range(rng.poisson(2.0)):
        _line(pick(), _bezier(rng, w, h, rng.uniform(0.15, 0.9) * size), rng.uniform(0.5, 2.5))
    for _ in range(rng.poisson(0.8)):
        a = np.array([rng.uniform(0, w), rng.uniform(0, h)])
        b = a + rng.normal(0, 0.4 * size, 2)
        _line(pick(), _jagged(rng, a, b, 6, 0.15), rng.uniform(0.7, 2.0))
    for _ in range(rng.poisson(20)):  # irregular specks
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.5, 3.0)
        angles = np.sort(rng.uniform(0, 2 * math.pi, 6))
        poly = np.stack([cx + r * rng.uniform(0.5, 1.3, 6) * np.cos(angles), cy + r * rng.uniform(0.5, 1.3, 6) * np.sin(angles)], 1)
        cv2.fillPoly(pick(), [np.round(poly * UP).astype(np.int32)], 1.0, lineType=cv2.LINE_AA)
    for _ in range(rng.poisson(0.5)):  # a stain with a darker rim
        x, y, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(5, 0.05 * size + 6)
        cv2.circle(dark, (round(x * UP), round(y * UP)), round(r * UP), 0.5, thickness=max(1, round(1.5 * UP)), lineType=cv2.LINE_AA)


def draw_marks(img: np.ndarray, rng: np.random.Generator, family: str = "train", texture: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """`img` with scratches, cracks, dust, creases and spots of `family` ("train" or "test"), and their mask.
    `texture`: put grain or a halftone screen under the marks on a share of photos (off: the photo as given)."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    img = np.asarray(img, np.float32)
    h, w = img.shape[:2]
    under = rng.random() if texture else 1.0
    if under < 0.2:
        img = D.film_grain(img, rng, rng.uniform(0.02, 0.08), rng.uniform(0.6, 1.5))
    elif under < 0.3:
        img = D.halftone(img, rng.uniform(2.0, 4.0), rng.uniform(0, 90))
    bright = np.zeros((h * UP, w * UP), np.float32)
    dark = np.zeros_like(bright)
    (_train_marks if family == "train" else _test_marks)(rng, w, h, float(max(h, w)), bright, dark)
    shrink = lambda layer: cv2.resize(layer, (w, h), interpolation=cv2.INTER_AREA)  # noqa: E731
    bright, dark = shrink(bright), shrink(dark)
    blur = rng.uniform(0, 1.0)
    if blur > 0.3:  # marks out of the scanner's focus
        bright, dark = (cv2.GaussianBlur(m, (0, 0), blur) for m in (bright, dark))
    opacity = rng.uniform(0.45, 1.0)
    b, d = bright[..., None] * opacity, dark[..., None] * opacity
    paper, dirt = rng.uniform(0.8, 1.0), rng.uniform(0.0, 0.25)
    out = img * (1 - d) + dirt * d
    out = out * (1 - b) + paper * b
    mask = np.maximum(bright, dark) * opacity >= MASK_LEVEL
    return np.clip(out, 0, 1).astype(np.float32), mask
