"""Restore faded colours (issue 22, item 4): the levels and white balance of a faded print, on the whole photo.

A print fades as its dyes thin towards the paper: blacks lift, contrast drops and the colours drift towards the
paper's (or towards whichever dye lasted longest). The classic correction, and what this does, is an automatic
levels stretch: each channel's darkest and brightest few pixels (LOW, HIGH percentiles) are mapped back to black
and white, which restores contrast and, since each channel is stretched on its own, neutral greys.

A photo with little colour (grey, sepia, a toned print) keeps its tone: its luma alone is stretched and every pixel
keeps its chromaticity (R : G : B), so a grey photo stays exactly grey and a sepia one stays sepia.

Hand-written rather than a library's: OpenCV and Pillow offer per-channel equalisation and `ImageOps.autocontrast`,
but not the tone-keeping path for toned prints, nor 16-bit photos; the stretch itself is a few lines of numpy.
Off by default: on photos that are not faded it changes colours people chose (a sunset, a warm interior).
"""

from __future__ import annotations

import numpy as np

LOW, HIGH = 0.5, 99.5  # percentiles taken for black and white: a few specks or highlights do not decide
# A photo whose pixels all have about the same chromaticity (R : G : B) is grey or toned (sepia, selenium): its tone
# is kept. Measured as the spread (standard deviation of r = R / (R + G + B) plus that of g) over the pixels that are
# not near black: 0 for grey and full sepia, 0.04-0.27 (5th-95th percentile) for 100 colour test photos.
TONED_SPREAD = 0.025
MIN_RANGE = 0.05  # a channel spanning less than this (a flat photo) is not stretched: it would only amplify noise


def _top(pixels: np.ndarray) -> float:
    return 255.0 if pixels.dtype == np.uint8 else 65535.0


def chroma_spread(img: np.ndarray) -> float:
    """How much the chromaticity varies over an H x W x 3 float image in [0, 1] (0: one tone, grey or sepia)."""
    total = img.sum(axis=2)
    lit = total > 0.45
    if lit.sum() < 16:
        return 0.0
    chroma = img[lit] / total[lit][:, None]
    return float(chroma[:, 0].std() + chroma[:, 1].std())


def _stretch(values: np.ndarray, sample: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(sample, [LOW, HIGH])
    if hi - lo < MIN_RANGE:
        return values
    return (values - lo) / (hi - lo)


def restore_faded(pixels: np.ndarray) -> np.ndarray:
    """A copy of `pixels` (H x W x 3 uint8 or uint16 RGB, or H x W grey) with its levels (and, for a colour photo,
    its white balance) restored; same shape and dtype."""
    pixels = np.asarray(pixels)
    if pixels.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected uint8 or uint16 pixels, got {pixels.dtype}")
    top = _top(pixels)
    img = pixels.astype(np.float32) / top
    step = max(1, int(np.sqrt(img.shape[0] * img.shape[1] / 250_000)))  # percentiles from ~250k pixels: enough
    sample = img[::step, ::step]
    if img.ndim == 2:
        out = _stretch(img, sample)
    elif chroma_spread(sample) < TONED_SPREAD:
        luma = img @ np.array([0.299, 0.587, 0.114], np.float32)
        stretched = _stretch(luma, sample @ np.array([0.299, 0.587, 0.114], np.float32))
        out = img * (np.clip(stretched, 0, 1) / np.maximum(luma, 1e-4))[..., None]
    else:
        out = np.stack([_stretch(img[..., c], sample[..., c]) for c in range(3)], axis=2)
    return np.clip(np.round(np.clip(out, 0, 1) * top), 0, top).astype(pixels.dtype)
