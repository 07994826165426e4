"""Full-reference pixel metrics: PSNR, SSIM, MS-SSIM on RGB images on the 0-255 scale.

``channel="y"`` (default) measures the BT.601 luma as BasicSR does; ``channel="rgb"`` all three channels.
See the package docstring for why, and for how MS-SSIM treats 128 x 128 images.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import ndimage, signal

Channel = Literal["y", "rgb"]

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)

# BasicSR's rgb2ycbcr(y_only=True) on [0, 1] input, rescaled: Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255
_Y_WEIGHTS = np.array([65.481, 128.553, 24.966]) / 255.0


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """BT.601 luma of an H x W x 3 RGB image on the 0-255 scale: H x W float64 in [16, 235]."""
    img = np.asarray(img, dtype=np.float64)
    return img @ _Y_WEIGHTS + 16.0


def _prepare(a: np.ndarray, b: np.ndarray, channel: Channel) -> tuple[np.ndarray, np.ndarray]:
    """Both images as H x W x C float64 (C = 1 for Y, 3 for RGB)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    if a.ndim == 2:  # already single-channel
        return a[..., None], b[..., None]
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"expected H x W x 3 RGB (or H x W) images, got {a.shape}")
    if channel == "y":
        return rgb_to_y(a)[..., None], rgb_to_y(b)[..., None]
    if channel == "rgb":
        return a, b
    raise ValueError(f"channel must be 'y' or 'rgb', got {channel!r}")


def psnr(a: np.ndarray, b: np.ndarray, channel: Channel = "y", data_range: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB, ``10 log10(data_range^2 / MSE)``; ``inf`` for identical images.

    a, b: H x W x 3 RGB on the 0-255 scale (or H x W single-channel). channel: ``"y"`` or ``"rgb"``.
    """
    x, y = _prepare(a, b, channel)
    mse = float(np.mean((x - y) ** 2))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(data_range**2 / mse))


def face_psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray, channel: Channel = "y", data_range: float = 255.0) -> float:
    """PSNR over the pixels where ``mask`` (H x W, the ground-truth face mask) is above 0.5.

    The protocols score the whole aligned crop; a model that changes only the face (FRR-Net composites through
    its mask, and the app pastes back only faces) cannot touch the rest, so its gain is also read on the face."""
    x, y = _prepare(a, b, channel)
    keep = np.asarray(mask).reshape(x.shape[:2]) > 0.5
    if not keep.any():
        raise ValueError("the face mask is empty")
    mse = float(np.mean((x[keep] - y[keep]) ** 2))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(data_range**2 / mse))


def detail_ratio(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """How much fine detail ``a`` holds against the ground truth ``b``: the variance of the Laplacian of Y over
    the face mask (the whole image without one), ``a``'s over ``b``'s. 1 is as detailed as the clean face; a
    restoration smoothed towards the mean sits below 1; noise left in lifts it above 1, so it reads beside PSNR,
    never alone. NaN where the ground truth has no detail there."""
    import cv2

    x, y = (rgb_to_y(np.asarray(v, np.float64)).astype(np.float32) for v in (a, b))
    keep = np.ones(x.shape, bool) if mask is None else np.asarray(mask).reshape(x.shape) > 0.5
    keep[:1], keep[-1:], keep[:, :1], keep[:, -1:] = False, False, False, False  # the Laplacian's border
    if not keep.any():
        return float("nan")
    lap_x, lap_y = (cv2.Laplacian(v, cv2.CV_32F, ksize=3)[keep] for v in (x, y))
    reference = float(lap_y.var())
    return float(lap_x.var()) / reference if reference > 1e-6 else float("nan")


def gaussian_window(size: int, sigma: float) -> np.ndarray:
    """2-D normalised Gaussian window; even sizes are centred between pixels (as the reference ``_FSpecialGauss``)."""
    radius = size // 2
    offset, start, stop = 0.0, -radius, radius + 1
    if size % 2 == 0:
        offset, stop = 0.5, stop - 1
    x, y = np.mgrid[offset + start:stop, offset + start:stop]
    g = np.exp(-((x**2 + y**2) / (2.0 * sigma**2)))
    return g / g.sum()


def _ssim_and_cs(
    x: np.ndarray, y: np.ndarray, data_range: float, win_size: int, sigma: float, k1: float, k2: float
) -> tuple[float, float]:
    """Mean SSIM and mean contrast-structure term of two H x W x C float64 images ('valid' windows).

    A window larger than the image shrinks to ``min(win_size, H, W)`` with sigma scaled alike (the reference
    MS-SSIM implementation's rule for small images).
    """
    h, w = x.shape[:2]
    size = min(win_size, h, w)
    window = gaussian_window(size, sigma * size / win_size)[..., None]

    def filt(img: np.ndarray) -> np.ndarray:
        return signal.fftconvolve(img, window, mode="valid", axes=(0, 1))

    mu_x, mu_y = filt(x), filt(y)
    sxx = filt(x * x) - mu_x**2
    syy = filt(y * y) - mu_y**2
    sxy = filt(x * y) - mu_x * mu_y
    c1 = (k1 * data_range) ** 2
    c2 = (k2 * data_range) ** 2
    cs_map = (2.0 * sxy + c2) / (sxx + syy + c2)
    ssim_map = (2.0 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1) * cs_map
    return float(ssim_map.mean()), float(cs_map.mean())


def ssim(
    a: np.ndarray,
    b: np.ndarray,
    channel: Channel = "y",
    data_range: float = 255.0,
    win_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
) -> float:
    """Structural similarity (Wang et al. 2004), mean of the 'valid' SSIM map (mean over channels for RGB).

    a, b: H x W x 3 RGB on the 0-255 scale (or H x W). channel: ``"y"`` (default) or ``"rgb"``.
    """
    x, y = _prepare(a, b, channel)
    return _ssim_and_cs(x, y, data_range, win_size, sigma, k1, k2)[0]


def _halve(img: np.ndarray) -> np.ndarray:
    """2 x 2 mean then keep every other pixel, borders reflected (the reference's down-sampling)."""
    filtered = ndimage.convolve(img, np.full((2, 2, 1), 0.25), mode="reflect")
    return filtered[::2, ::2]


def ms_ssim(
    a: np.ndarray,
    b: np.ndarray,
    channel: Channel = "y",
    data_range: float = 255.0,
    weights: tuple[float, ...] = MS_SSIM_WEIGHTS,
    win_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
) -> float:
    """Multi-scale SSIM (Wang et al. 2003): ``prod_{j<M} cs_j^w_j * ssim_M^w_M`` over ``len(weights)`` scales.

    a, b: H x W x 3 RGB on the 0-255 scale (or H x W). Small images: see the package docstring (the window
    shrinks at coarse scales as in the reference implementation). Negative terms are clamped to 0.
    """
    x, y = _prepare(a, b, channel)
    levels = len(weights)
    if min(x.shape[:2]) < 2 ** (levels - 1):
        raise ValueError(f"images of {x.shape[:2]} are too small for {levels} scales")
    cs_values, ssim_last = [], 0.0
    for level in range(levels):
        s, cs = _ssim_and_cs(x, y, data_range, win_size, sigma, k1, k2)
        cs_values.append(cs)
        ssim_last = s
        if level < levels - 1:
            x, y = _halve(x), _halve(y)
    w = np.asarray(weights, dtype=np.float64)
    cs_arr = np.maximum(np.asarray(cs_values[:-1]), 0.0)
    return float(np.prod(cs_arr ** w[:-1]) * max(ssim_last, 0.0) ** w[-1])
