"""Alignment of a face to the canonical 5-point template, with the exact transform kept for the way back.

The template is the FFHQ 5-point template (GFPGAN/CodeFormer use it at 512) scaled to 128; a similarity
transform maps a face's five points (eye centres, nose tip, mouth corners from dlib's 68) onto it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

TEMPLATE_SIZE = 128
# left eye, right eye, nose tip, left mouth corner, right mouth corner (image left/right), at 128 x 128.
TEMPLATE_128 = np.array(
    [
        [48.245, 59.988],
        [79.725, 60.048],
        [64.158, 78.505],
        [50.315, 92.853],
        [78.273, 92.788],
    ],
    dtype=np.float64,
)
TEMPLATE_EYE_DISTANCE = float(np.linalg.norm(TEMPLATE_128[1] - TEMPLATE_128[0]))  # 31.5 px at 128


def resize_matrix(src_size: int, dst_size: int) -> np.ndarray:
    """2 x 3 map from the pixels of a src_size crop to those of the same crop resized to dst_size, pixel centres
    kept (cv2.resize's convention: dst (x + .5) = scale * (src x + .5)); scaling coordinates alone would shift
    a 16 px crop by 0.44 px, 3.5 px of its 128 px restoration."""
    s = dst_size / src_size
    return np.array([[s, 0, 0.5 * s - 0.5], [0, s, 0.5 * s - 0.5]], np.float64)


def template(size: int) -> np.ndarray:
    return transform_points(TEMPLATE_128, resize_matrix(TEMPLATE_SIZE, size))


def five_points(landmarks68: np.ndarray) -> np.ndarray:
    """Eye centres (means of 36-41 and 42-47), nose tip (30) and mouth corners (48, 54), as 5 x 2."""
    lm = np.asarray(landmarks68, dtype=np.float64)
    return np.stack(
        [lm[36:42].mean(axis=0), lm[42:48].mean(axis=0), lm[30], lm[48], lm[54]]
    )


def eye_distance(landmarks68: np.ndarray) -> float:
    """Pixels between the eye centres: the face size that detection, routing and blending all speak of."""
    left, right = five_points(landmarks68)[:2]
    return float(np.linalg.norm(right - left))


def estimate_transform(points5: np.ndarray, size: int) -> np.ndarray:
    """2 x 3 similarity transform taking `points5` (image pixels) onto the template at `size`.

    LMEDS, as GFPGAN/CodeFormer align, so crops match what such models expect; OpenCV refines the estimate
    on the inliers by least squares, which with five good points means all of them.
    """
    matrix, _ = cv2.estimateAffinePartial2D(
        np.asarray(points5, np.float64), template(size), method=cv2.LMEDS
    )
    if matrix is None:
        raise ValueError("degenerate landmarks: cannot estimate an alignment")
    return matrix


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(np.asarray(matrix, np.float64))


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    pts = np.asarray(points, np.float64)
    return pts @ matrix[:, :2].T + matrix[:, 2]


def affine_scale(matrix: np.ndarray) -> float:
    """Isotropic scale of a similarity transform (crop pixels per image pixel)."""
    return float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))


def compose_affine(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The 2 x 3 affine applying `inner` first, then `outer`."""
    a = np.vstack([outer, [0, 0, 1]])
    b = np.vstack([inner, [0, 0, 1]])
    return (a @ b)[:2]


@dataclass
class AlignedFace:
    """A face warped onto the template. `matrix` maps image pixels to crop pixels."""

    image: np.ndarray  # size x size x 3, float32 in [0, 1], RGB
    matrix: np.ndarray  # 2 x 3, image -> crop
    size: int

    @property
    def inverse(self) -> np.ndarray:
        """2 x 3, crop -> image."""
        return invert_affine(self.matrix)


def pixel_scale(pixels: np.ndarray) -> float:
    return 65535.0 if pixels.dtype == np.uint16 else 255.0


def crop_bounds(inverse: np.ndarray, size: int, shape: tuple[int, ...], margin: int = 2) -> tuple[int, int, int, int]:
    """Image-pixel box (x0, y0, x1, y1), clipped, covering the crop's footprint in the image."""
    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], np.float64)
    pts = transform_points(corners, inverse)
    h, w = shape[:2]
    x0 = int(np.clip(np.floor(pts[:, 0].min()) - margin, 0, w))
    y0 = int(np.clip(np.floor(pts[:, 1].min()) - margin, 0, h))
    x1 = int(np.clip(np.ceil(pts[:, 0].max()) + margin, 0, w))
    y1 = int(np.clip(np.ceil(pts[:, 1].max()) + margin, 0, h))
    return x0, y0, x1, y1


def warp_to_crop(pixels: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Sample the crop defined by `matrix` (image -> crop) from an RGB image, as float32 [0, 1].

    Only the face's region of the image is converted to float, so a 50 MP scan costs no more than a small
    photo. A face much larger than the crop is first shrunk with area averaging: bilinear sampling alone
    would alias (moire in hair and fabric) when it skips more than every other pixel.
    """
    x0, y0, x1, y1 = crop_bounds(invert_affine(matrix), size, pixels.shape)
    if x1 - x0 < 2 or y1 - y0 < 2:
        raise ValueError("the face lies outside the image")
    roi = pixels[y0:y1, x0:x1].astype(np.float32) / pixel_scale(pixels)
    to_roi = np.array([[1, 0, x0], [0, 1, y0]], np.float64)  # roi -> image
    local = compose_affine(matrix, to_roi)  # roi -> crop
    scale = affine_scale(local)
    if scale < 0.5:
        shrink = scale * 2.0
        small = cv2.resize(roi, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
        # cv2.resize maps pixel centres: small (i + .5) = shrink * (roi i + .5) per axis, up to rounding of the size.
        sx = small.shape[1] / roi.shape[1]
        sy = small.shape[0] / roi.shape[0]
        small_to_roi = np.array([[1 / sx, 0, 0.5 / sx - 0.5], [0, 1 / sy, 0.5 / sy - 0.5]], np.float64)
        local = compose_affine(local, small_to_roi)
        roi = small
    return cv2.warpAffine(
        roi, local, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )


def align_face(pixels: np.ndarray, landmarks68: np.ndarray, size: int = TEMPLATE_SIZE) -> AlignedFace:
    """Warp one face of an RGB image (uint8 or uint16) onto the template at `size` x `size`.

    A crop smaller than the template's (a 16 px model's input) is the template-size crop shrunk by area
    averaging, exactly how such models' training inputs are made from the 128 px training crops: sampled
    directly at 16 px, the same face came out aliased and different enough to cost the 16 -> 128 model
    5 dB (measured on test faces)."""
    if size < TEMPLATE_SIZE:
        matrix = estimate_transform(five_points(landmarks68), TEMPLATE_SIZE)
        full = warp_to_crop(pixels, matrix, TEMPLATE_SIZE)
        image = cv2.resize(full, (size, size), interpolation=cv2.INTER_AREA)
        return AlignedFace(image=image, matrix=compose_affine(resize_matrix(TEMPLATE_SIZE, size), matrix), size=size)
    matrix = estimate_transform(five_points(landmarks68), size)
    return AlignedFace(image=warp_to_crop(pixels, matrix, size), matrix=matrix, size=size)
