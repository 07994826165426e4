"""Relighting the whole photo when the model relit its faces.

FRR-Net brightens a face it finds badly lit, but it sees only the aligned face: pasted back into a dark photo,
the brightened face is a lit oval in a dark scene. Under auto tone, what the model did to the brightness of the
faces it relit is fitted as one tone curve and applied to the whole photo, so faces and surroundings share the
new light; the faces are then blended with their tone matched to the relit photo (`blend.BlendSettings`).

The curve is a quantile match: the n-th brightness quantile of the faces before restoration maps to the n-th
after. It is monotone by construction, so no two tones trade places anywhere in the photo, and outside the
faces' range of brightness it runs straight to black and to white. Each pixel is scaled by the curve's ratio of
new to old luminance (capped where a channel would clip), which keeps its hue and saturation: a per-channel curve
would wash colours out exactly where a dark photo is lifted most.

Written here rather than taken from a library: OpenCV and Pillow offer global equalisation and CLAHE, which
aim at a flat histogram, not at the brightness the model chose for the face.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from frstudio.core.align import pixel_scale
from frstudio.core.restore import VERDICT_THRESHOLD

# A relight that moves the faces' median brightness by less than this (of full scale: 10 grey levels) is left
# to the face blend alone, so well-lit photos are not touched outside their faces.
MIN_LIFT = 0.04
QUANTILES = np.linspace(0.02, 0.98, 25)
LUMA_STEPS = 4096
ROWS_PER_STRIPE_PIXELS = 1 << 20  # float copies of about this many pixels at a time, whatever the photo's size
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@dataclass(frozen=True)
class ToneCurve:
    """A monotone map of luminance in [0, 1], through the knots (x, y); x strictly increasing from 0 to 1."""

    x: np.ndarray
    y: np.ndarray
    median_before: float
    median_after: float
    faces: int = 1  # how many relit faces it was fitted on

    def __call__(self, luma: np.ndarray) -> np.ndarray:
        return np.interp(luma, self.x, self.y).astype(np.float32)

    @property
    def lift(self) -> float:
        """How far the faces' median brightness moved (negative: darkened), of full scale."""
        return self.median_after - self.median_before

    def describe(self) -> str:
        verb = "brightened" if self.lift > 0 else "darkened"
        return (f"the whole photo {verb} to match its relit face{'' if self.faces == 1 else 's'} "
                f"(faces' median brightness {self.median_before:.2f} -> {self.median_after:.2f})")


def relit(result) -> bool:
    """Whether the model's classifier found this face badly lit (so its new brightness is the restoration)."""
    return getattr(result, "verdict", {}).get("relight", 0.0) >= VERDICT_THRESHOLD


def fit_tone_curve(before: np.ndarray, after: np.ndarray, faces: int = 1) -> ToneCurve:
    """The quantile-matching curve taking the luminances `before` (any shape, [0, 1]) to `after` (same count)."""
    before, after = np.ravel(before).astype(np.float64), np.ravel(after).astype(np.float64)
    xs = np.concatenate([[0.0], np.quantile(before, QUANTILES), [1.0]])
    ys = np.concatenate([[0.0], np.quantile(after, QUANTILES), [1.0]])
    # knots sharing an x (a flat stretch of the face, a clipped highlight) become one, at their mean y
    xs, inverse = np.unique(np.clip(xs, 0.0, 1.0), return_inverse=True)
    ys = np.bincount(inverse, weights=np.clip(ys, 0.0, 1.0)) / np.bincount(inverse)
    ys = np.maximum.accumulate(ys)
    return ToneCurve(xs, ys, float(np.median(before)), float(np.median(after)), faces)


def face_luma_pair(before: np.ndarray, after: np.ndarray, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Luminances of the face's pixels in the aligned input crop and in the model's output, where the model's mask
    says face (> 0.5), or in the crop's central ellipse for a model without a mask."""
    size = before.shape[0]
    if after.shape[:2] != before.shape[:2]:  # a model whose output is larger than its input
        after = cv2.resize(after, (size, size), interpolation=cv2.INTER_AREA)
    if mask is not None and np.asarray(mask).ndim >= 2:
        mask = np.asarray(mask, np.float32)
        mask = mask[0] if mask.ndim == 3 else mask
        if mask.shape[0] != size:
            mask = cv2.resize(mask, (size, size), interpolation=cv2.INTER_LINEAR)
        inside = mask > 0.5
    else:
        inside = np.zeros((size, size), bool)
    if inside.sum() < 0.05 * size * size:
        inside = np.zeros((size, size), np.uint8)
        cv2.ellipse(inside, (size // 2, size // 2), (size * 3 // 10, size * 2 // 5), 0, 0, 360, 1, -1)
        inside = inside.astype(bool)
    return before[inside] @ _LUMA, after[inside] @ _LUMA


def photo_relight(faces, restored: dict[int, tuple], strength: float | dict[int, float] = 1.0) -> ToneCurve | None:
    """The curve that gives the whole photo the light the model gave the faces it found badly lit, or None when
    it found none, or changed their brightness too little to matter (`MIN_LIFT`). Each face counts at its blend
    strength (0 = as it was)."""
    before, after = [], []
    for face in faces:
        if face.index not in restored:
            continue
        aligned, result = restored[face.index]
        s = float(np.clip(strength.get(face.index, 1.0) if isinstance(strength, dict) else strength, 0.0, 1.0))
        if s <= 0 or not relit(result):
            continue
        b, a = face_luma_pair(aligned.image, np.asarray(result.image, np.float32), getattr(result, "mask", None))
        before.append(b)
        after.append(b + s * (a - b))
    if not before:
        return None
    curve = fit_tone_curve(np.concatenate(before), np.concatenate(after), len(before))
    return curve if abs(curve.lift) >= MIN_LIFT else None


def apply_tone_curve(pixels: np.ndarray, curve: ToneCurve) -> None:
    """Relight `pixels` (H x W x 3, uint8 or uint16) in place, a stripe of rows at a time."""
    scale = pixel_scale(pixels)
    # the ratio new / old luminance, tabulated: a table look-up is ~10x faster than interpolating per pixel, and
    # 4,096 steps are 1/16 of an 8-bit grey level
    levels = np.arange(LUMA_STEPS, dtype=np.float32) / (LUMA_STEPS - 1)
    ratio_of = curve(levels) / np.maximum(levels, 0.5 / (LUMA_STEPS - 1))
    weights = (_LUMA * (LUMA_STEPS - 1) / scale).reshape(1, 3)
    rows = max(1, ROWS_PER_STRIPE_PIXELS // max(1, pixels.shape[1]))
    for top in range(0, pixels.shape[0], rows):
        stripe = pixels[top: top + rows].astype(np.float32)
        index = np.clip(cv2.transform(stripe, weights) + 0.5, 0, LUMA_STEPS - 1).astype(np.int32)
        ratio = ratio_of[index]
        # a pixel whose brightest channel would clip is scaled only as far as it can go, keeping its hue
        brightest = np.maximum(np.maximum(stripe[..., 0], stripe[..., 1]), stripe[..., 2])
        ratio = np.minimum(ratio, scale / np.maximum(brightest, 1e-3))
        out = stripe * ratio[..., None]
        pixels[top: top + rows] = np.clip(out + 0.5, 0, scale).astype(pixels.dtype)
