"""numpy pixels -> Qt images, and the scaled copies the views show."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtGui import QImage, QPixmap

from frstudio.core.imageio import to_uint8

# The view shows a copy at most this big (~5 MP at 4:3): a 50 MP scan as a full pixmap would cost 200 MB of
# video memory per layer and seconds to upload. Zooming in past it shows full-resolution tiles (PhotoView).
DISPLAY_MAX_SIDE = 2560


def display_copy(pixels: np.ndarray, max_side: int = DISPLAY_MAX_SIDE) -> np.ndarray:
    """An 8-bit RGB copy no larger than `max_side` (area-averaged, so no aliasing). Call it off the GUI thread."""
    h, w = pixels.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        small = cv2.resize(pixels, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(to_uint8(small))
    return np.ascontiguousarray(to_uint8(pixels))


def to_qimage(rgb8: np.ndarray) -> QImage:
    """A QImage owning a copy of an RGB uint8 array (the array may be freed afterwards)."""
    rgb8 = np.ascontiguousarray(rgb8, dtype=np.uint8)
    if rgb8.ndim == 2:
        rgb8 = np.repeat(rgb8[:, :, None], 3, axis=2)
    h, w = rgb8.shape[:2]
    return QImage(rgb8.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def to_pixmap(rgb8: np.ndarray) -> QPixmap:
    return QPixmap.fromImage(to_qimage(rgb8))


def side_by_side(before: np.ndarray, after: np.ndarray | None, size: int = 96, gap: int = 4) -> np.ndarray:
    """A before | after strip of two face crops for the crop list (after blank while not restored)."""
    b = cv2.resize(before, (size, size), interpolation=cv2.INTER_AREA)
    a = cv2.resize(after, (size, size), interpolation=cv2.INTER_AREA) if after is not None else np.full_like(b, 60)
    return np.concatenate([b, np.full((size, gap, 3), 40, np.uint8), a], axis=1)
