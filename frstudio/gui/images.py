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
    """A copy no larger than `max_side` (area-averaged, so no aliasing) laid out as Qt's native 32-bit pixels
    (B, G, R, 255 in memory), so the GUI thread can make a pixmap of it without converting. Call it off the GUI
    thread: for a 12 MP photo this is ~50 ms that the event loop does not have to spend."""
    h, w = pixels.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        pixels = cv2.resize(pixels, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(to_uint8(pixels), cv2.COLOR_RGB2BGRA)


def to_qimage(pixels: np.ndarray) -> QImage:
    """A QImage owning a copy of an RGB uint8 array, or of a display_copy() (4 channels)."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
    h, w, channels = pixels.shape
    fmt = QImage.Format.Format_RGB32 if channels == 4 else QImage.Format.Format_RGB888
    return QImage(pixels.data, w, h, channels * w, fmt).copy()


def to_pixmap(rgb8: np.ndarray) -> QPixmap:
    return QPixmap.fromImage(to_qimage(rgb8))


def marks_layer(mask: np.ndarray | None, max_side: int = DISPLAY_MAX_SIDE) -> np.ndarray | None:
    """The marks of `mask` (H x W bool) as a see-through red layer the size of display_copy(), laid out as Qt's
    premultiplied 32-bit pixels (B, G, R, alpha); None when nothing is marked. Made off the GUI thread, once per
    change of the marks: the view only scales it, like the photo's own copy, so it costs nothing to pan or zoom."""
    if mask is None or not mask.any():
        return None
    h, w = mask.shape
    scale = min(1.0, max_side / max(h, w))
    shown = mask
    if scale < 1.0:
        # A scratch thinner than a display pixel must still show: a display pixel is red where any photo pixel
        # under it is marked (an area average of 0/255 is above 0 wherever one is).
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        shown = cv2.resize(mask.astype(np.uint8) * 255, size, interpolation=cv2.INTER_AREA) > 0
    layer = np.zeros((*shown.shape, 4), np.uint8)
    layer[shown] = (0, 0, 128, 128)  # red at half opacity, premultiplied
    return layer


def layer_pixmap(layer: np.ndarray) -> QPixmap:
    """A pixmap of a marks_layer() (with its transparency)."""
    layer = np.ascontiguousarray(layer)
    h, w = layer.shape[:2]
    return QPixmap.fromImage(QImage(layer.data, w, h, 4 * w, QImage.Format.Format_ARGB32_Premultiplied).copy())


def side_by_side(before: np.ndarray, after: np.ndarray | None, size: int = 96, gap: int = 4) -> np.ndarray:
    """A before | after strip of two face crops for the crop list; the before crop alone until restored."""
    b = cv2.resize(before, (size, size), interpolation=cv2.INTER_AREA)
    if after is None:
        return b
    a = cv2.resize(after, (size, size), interpolation=cv2.INTER_AREA)
    return np.concatenate([b, np.full((size, gap, 3), 40, np.uint8), a], axis=1)
