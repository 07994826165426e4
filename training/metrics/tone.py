"""Tone metrics for relighting: how far a face's brightness and colour are from the ground truth's.

Both compare *means over the face* (the ground-truth face mask), because relighting is about the light on
the face as a whole; pixel noise, which PSNR already sees, must not count as a colour cast.
"""

from __future__ import annotations

import numpy as np

from training.metrics.fidelity import rgb_to_y


def _face_pixels(img: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    pixels = np.asarray(img, np.float64).reshape(-1, 3)
    if mask is None:
        return pixels
    keep = np.asarray(mask).reshape(-1) > 0.5
    return pixels[keep] if keep.any() else pixels


def luminance_error(img: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None) -> float:
    """|mean luma of img - mean luma of truth| over the face, on the 0-255 scale (BT.601 Y, as PSNR's)."""
    a = rgb_to_y(_face_pixels(img, mask)).mean()
    b = rgb_to_y(_face_pixels(truth, mask)).mean()
    return float(abs(a - b))


def cast_angle(img: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Colour cast in degrees: the angle between the mean RGB vectors of img and truth over the face.

    0 when the face's average colour has the truth's hue and saturation whatever its brightness (the angular
    error of colour constancy work, on the face's mean colour)."""
    a = _face_pixels(img, mask).mean(axis=0)
    b = _face_pixels(truth, mask).mean(axis=0)
    cos = float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
