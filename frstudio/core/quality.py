"""How a restored face compares with the face it was given, measured in the photo (not in the model's crop).

The sharpness ratio tells a user when a result is softer than the input, whatever the identity distance says:
a face smoothed like a beauty filter keeps its identity and loses its lashes and skin.
"""

from __future__ import annotations

import cv2
import numpy as np

from frstudio.core.align import pixel_scale
from frstudio.core.blend import face_outline

# A result below this share of the input's sharpness is reported as softer (the benchmark's goal for clean
# faces is 0.95; a restoration that removes noise lowers the measure a little without losing detail).
SOFTER_THAN_INPUT = 0.8


def face_region(shape: tuple[int, ...], landmarks68: np.ndarray) -> tuple[tuple[int, int, int, int], np.ndarray]:
    """The box (x0, y0, x1, y1) around a face's outline, clipped to the photo, and the outline's inside within it
    (bool), shrunk by two pixels so the outline's own edge is not measured."""
    outline = face_outline(landmarks68)
    h, w = shape[:2]
    x0, y0 = np.clip(np.floor(outline.min(axis=0)).astype(int) - 2, 0, [w, h])
    x1, y1 = np.clip(np.ceil(outline.max(axis=0)).astype(int) + 3, 0, [w, h])
    inside = np.zeros((max(0, y1 - y0), max(0, x1 - x0)), np.uint8)
    if inside.size:
        cv2.fillPoly(inside, [np.round(outline - (x0, y0)).astype(np.int32)], 1)
        inside = cv2.erode(inside, np.ones((5, 5), np.uint8))
    return (int(x0), int(y0), int(x1), int(y1)), inside.astype(bool)


def laplacian_variance(pixels: np.ndarray, box: tuple[int, int, int, int], inside: np.ndarray) -> float:
    """Variance of the Laplacian of the luma over the `inside` pixels of `box`, over the squared mean luma there:
    a face relit with the whole photo (a gain) keeps its measure; only its detail moves it."""
    x0, y0, x1, y1 = box
    roi = pixels[y0:y1, x0:x1].astype(np.float32) * (255.0 / pixel_scale(pixels))
    luma = roi[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32) if roi.ndim == 3 else roi
    lap = cv2.Laplacian(luma, cv2.CV_32F, ksize=3)
    if not inside.any():
        return 0.0
    return float(lap[inside].var()) / max(float(luma[inside].mean()) ** 2, 1.0)


def sharpness_ratio(before: np.ndarray, after: np.ndarray, landmarks68: np.ndarray) -> float | None:
    """The face's sharpness in `after` over its sharpness in `before` (same-size photos); None when the face
    has no measurable area or no texture at all."""
    box, inside = face_region(before.shape, landmarks68)
    if inside.sum() < 16:
        return None
    reference = laplacian_variance(before, box, inside)
    if reference <= 1e-6:
        return None
    return laplacian_variance(after, box, inside) / reference
