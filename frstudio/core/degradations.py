"""Image degradations: the damage the models are trained on, the named evaluation protocols, and what the app's
"Learn this person" (frstudio.core.personal) does to a person's good photos to make its training pairs, which is
why they live in the app's package rather than in ``training``.

Conventions (every function here):

* An image is a ``numpy.ndarray`` of shape ``(H, W, 3)``, RGB, ``float32``, values in ``[0, 1]``.
  Every function returns a new array of the same kind, clipped to ``[0, 1]``, ``float32``, and of the same
  shape unless it is a resizing function.
* Each degradation comes as a *fixed* form with explicit parameters, ``blur(img, sigma)``, and a *random*
  form, ``random_blur(img, rng, sigma_range=...)``, which samples the parameters and calls the fixed form.
* Where there is randomness, the generator is passed explicitly and is always the second positional
  argument: ``gaussian_noise(img, rng, sigma)``. Nothing here touches a global RNG (no ``np.random.*``,
  no ``cv2.randn``), so a seeded ``numpy.random.Generator`` reproduces an output exactly.
* Noise levels are on the ``[0, 1]`` scale unless a name says ``_255``; the papers' protocols that state
  them on the 0-255 scale are converted in the pipelines.

The bottom of the file composes them into one pipeline per protocol of docs/evaluation.md
(``PIPELINES[name](hq, rng) -> Degraded``) and gives :func:`protocol_rng`, which seeds a generator from
(protocol, file name) so an evaluation input is the same on every run and machine.

Interpretation choices where the papers leave a gap are written next to the code that makes them
(search for "Choice:").
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from PIL import Image

from frstudio.core.imageio import float_to_uint8

__all__ = [
    # blur
    "gaussian_kernel", "gaussian_blur", "random_gaussian_blur",
    "motion_blur_kernel", "motion_blur", "random_motion_blur",
    # resolution
    "resize", "down_up", "random_down_up",
    # noise and compression
    "gaussian_noise", "random_gaussian_noise", "poisson_noise", "random_poisson_noise",
    "jpeg", "random_jpeg", "quantize_8bit",
    # light and colour
    "exposure", "random_exposure", "color_jitter", "random_color_jitter",
    "chromatic_aberration", "random_chromatic_aberration",
    "low_light", "random_low_light", "relight", "LIGHTING_MODES", "illumination_map", "screen_illumination", "random_screen_illumination",
    # old photographs
    "film_grain", "random_film_grain", "fade", "random_fade", "sepia", "random_sepia",
    "greyscale", "scan_dust", "random_scan_dust", "halftone", "random_halftone",
    "disk_kernel", "defocus_blur", "colour_cast", "random_colour_cast",
    # protocols
    "Degraded", "PIPELINES", "protocol_rng",
]

Range = tuple[float, float]

# ITU-R BT.601 luma weights, used for greyscale, sepia, grain and colour jitter (as torchvision does).
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _as_image(img: np.ndarray) -> np.ndarray:
    """Check an input image and return it as float32 (no copy when it already is)."""
    img = np.asarray(img)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an H x W x 3 RGB image, got shape {img.shape}")
    return img.astype(np.float32, copy=False)


def _done(img: np.ndarray) -> np.ndarray:
    """Clip to [0, 1] and return a float32 array: the common exit of every function."""
    return np.clip(img, 0.0, 1.0).astype(np.float32, copy=False)


def _luma(img: np.ndarray) -> np.ndarray:
    """BT.601 luma, H x W float32."""
    return img @ _LUMA


def _uniform(rng: np.random.Generator, bounds: Range) -> float:
    lo, hi = bounds
    return float(rng.uniform(lo, hi)) if hi > lo else float(lo)


def _integer(rng: np.random.Generator, bounds: tuple[int, int]) -> int:
    """Uniform integer in the closed range [lo, hi]."""
    lo, hi = bounds
    return int(rng.integers(lo, hi + 1))


def _log_uniform(rng: np.random.Generator, bounds: Range) -> float:
    lo, hi = bounds
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


# --------------------------------------------------------------------------------------------- blur


def gaussian_kernel(sigma: float, ksize: int | None = None) -> np.ndarray:
    """1-D normalised Gaussian kernel, float32, of odd length ``ksize`` (default ``2*ceil(3*sigma)+1``).

    ``sigma <= 0`` gives the identity kernel ``[1]`` (padded to ``ksize`` with zeros when given).
    """
    if ksize is None:
        ksize = 2 * math.ceil(3 * sigma) + 1 if sigma > 0 else 1
    if ksize < 1 or ksize % 2 == 0:
        raise ValueError(f"ksize must be a positive odd integer, got {ksize}")
    x = np.arange(ksize, dtype=np.float64) - (ksize - 1) / 2
    if sigma <= 0:
        k = (x == 0).astype(np.float64)
    else:
        k = np.exp(-0.5 * (x / sigma) ** 2)
    return (k / k.sum()).astype(np.float32)


def gaussian_blur(img: np.ndarray, sigma: float, ksize: int | None = None) -> np.ndarray:
    """Isotropic Gaussian blur (image borders reflected).

    img: H x W x 3 float32 in [0, 1]. sigma: standard deviation in pixels; ``sigma <= 0`` or ``ksize == 1``
    returns the image unchanged. ksize: odd kernel width, default ``2*ceil(3*sigma)+1``.
    Returns H x W x 3 float32 in [0, 1].
    """
    img = _as_image(img)
    k = gaussian_kernel(sigma, ksize)
    if k.size == 1 or sigma <= 0:
        return _done(img.copy())
    out = cv2.sepFilter2D(img, cv2.CV_32F, k, k, borderType=cv2.BORDER_REFLECT_101)
    return _done(out)


def random_gaussian_blur(img: np.ndarray, rng: np.random.Generator, sigma_range: Range = (0.2, 3.0)) -> np.ndarray:
    """Gaussian blur with sigma uniform in ``sigma_range`` (pixels). Same shape, float32 in [0, 1]."""
    return gaussian_blur(img, _uniform(rng, sigma_range))


def motion_blur_kernel(length: float, angle: float) -> np.ndarray:
    """Linear motion-blur kernel: a segment of ``length`` pixels through the centre at ``angle`` degrees
    (0 = horizontal, counter-clockwise), rasterised by splatting densely spaced points along it bilinearly
    (so fractional lengths and angles are smooth). Returns a K x K float32 kernel (K odd, >= length)
    that sums to 1.
    """
    size = 2 * math.ceil(max(length, 1.0) / 2) + 1
    c = (size - 1) / 2
    half = (max(length, 1.0) - 1) / 2
    t = np.linspace(-half, half, 16 * size + 1)
    x = c + t * math.cos(math.radians(angle))
    y = c - t * math.sin(math.radians(angle))
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    k = np.zeros((size + 1, size + 1), np.float64)
    for dx, dy, wgt in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        np.add.at(k, (y0 + dy, x0 + dx), wgt)
    k = k[:size, :size]
    return (k / k.sum()).astype(np.float32)


def motion_blur(img: np.ndarray, length: float, angle: float) -> np.ndarray:
    """Blur along a straight line of ``length`` pixels at ``angle`` degrees (camera shake).

    img: H x W x 3 float32 in [0, 1]; ``length <= 1`` returns the image unchanged.
    Returns H x W x 3 float32 in [0, 1].
    """
    img = _as_image(img)
    if length <= 1:
        return _done(img.copy())
    k = motion_blur_kernel(length, angle)
    return _done(cv2.filter2D(img, cv2.CV_32F, k, borderType=cv2.BORDER_REFLECT_101))


def random_motion_blur(img: np.ndarray, rng: np.random.Generator, length_range: Range = (3.0, 15.0)) -> np.ndarray:
    """Motion blur with length uniform in ``length_range`` pixels and a uniform angle in [0, 180)."""
    return motion_blur(img, _uniform(rng, length_range), _uniform(rng, (0.0, 180.0)))


# --------------------------------------------------------------------------------------- resolution

_CV2_INTERP = {
    "nearest": cv2.INTER_NEAREST,
    "bilinear": cv2.INTER_LINEAR,
    "bicubic": cv2.INTER_CUBIC,
    "area": cv2.INTER_AREA,
}
_PIL_INTERP = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}


def resize(
    img: np.ndarray, size: int | tuple[int, int], method: str = "bicubic", antialias: bool = True
) -> np.ndarray:
    """Resize to ``size`` = (height, width) (an int means square).

    method: ``"bicubic"``, ``"bilinear"``, ``"area"`` or ``"nearest"``.
    antialias=True (default) with bicubic/bilinear uses Pillow, whose kernels widen when shrinking, like
    MATLAB's ``imresize`` that the super-resolution papers used (bicubic a = -0.5 in both).
    antialias=False uses OpenCV's plain interpolation (what BasicSR/GFPGAN's ``cv2.resize`` does).
    ``"area"`` is OpenCV's pixel-area averaging (anti-aliased by construction when shrinking).
    Returns size[0] x size[1] x 3 float32 in [0, 1].
    """
    img = _as_image(img)
    h, w = (size, size) if isinstance(size, int) else size
    if h < 1 or w < 1:
        raise ValueError(f"size must be positive, got {(h, w)}")
    if (h, w) == img.shape[:2]:
        return _done(img.copy())
    if method not in _CV2_INTERP:
        raise ValueError(f"unknown method {method!r}; use one of {sorted(_CV2_INTERP)}")
    if antialias and method in _PIL_INTERP:
        channels = [
            np.asarray(Image.fromarray(np.ascontiguousarray(img[..., c])).resize((w, h), _PIL_INTERP[method]))
            for c in range(3)
        ]
        return _done(np.stack(channels, axis=-1))
    return _done(cv2.resize(img, (w, h), interpolation=_CV2_INTERP[method]))


def down_up(
    img: np.ndarray, scale: float, down: str = "bicubic", up: str = "bicubic", antialias: bool = True
) -> np.ndarray:
    """Lose resolution: shrink by ``scale`` (>= 1) with ``down``, then enlarge back to the input size with ``up``.

    The small size is ``max(1, round(H / scale)) x max(1, round(W / scale))``.
    Returns H x W x 3 float32 in [0, 1].
    """
    img = _as_image(img)
    h, w = img.shape[:2]
    small = (max(1, round(h / scale)), max(1, round(w / scale)))
    return resize(resize(img, small, down, antialias), (h, w), up, antialias)


def random_down_up(
    img: np.ndarray,
    rng: np.random.Generator,
    scale_range: Range = (1.0, 4.0),
    methods: Sequence[str] = ("bicubic", "bilinear", "area"),
) -> np.ndarray:
    """:func:`down_up` with the scale uniform in ``scale_range`` and the down/up methods drawn from ``methods``."""
    scale = _uniform(rng, scale_range)
    down = str(rng.choice(list(methods)))
    up = str(rng.choice([m for m in methods if m != "area"] or ["bicubic"]))
    return down_up(img, scale, down, up)


# ------------------------------------------------------------------------------ noise and compression


def gaussian_noise(img: np.ndarray, rng: np.random.Generator, sigma: float, gray: bool = False) -> np.ndarray:
    """Additive white Gaussian noise of standard deviation ``sigma`` (on the [0, 1] scale; 0-255 sigma / 255).

    gray=True adds the same noise to the three channels (luminance noise), else independent per channel.
    Returns H x W x 3 float32 in [0, 1].
    """
    img = _as_image(img)
    shape = img.shape[:2] + ((1,) if gray else (3,))
    return _done(img + rng.normal(0.0, sigma, shape).astype(np.float32))


def random_gaussian_noise(
    img: np.ndarray, rng: np.random.Generator, sigma_range: Range = (0.0, 0.1), gray_prob: float = 0.0
) -> np.ndarray:
    """Gaussian noise with sigma uniform in ``sigma_range``; luminance-only with probability ``gray_prob``."""
    sigma = _uniform(rng, sigma_range)
    gray = bool(rng.random() < gray_prob)
    return gaussian_noise(img, rng, sigma, gray)


def poisson_noise(img: np.ndarray, rng: np.random.Generator, photons: float, gray: bool = False) -> np.ndarray:
    """Shot noise: each value becomes ``Poisson(value * photons) / photons``.

    photons: the expected photon count at full white; fewer photons = noisier (30 is very noisy, 1000 mild).
    gray=True draws the noise on luminance and adds the same change to all channels.
    Returns H x W x 3 float32 in [0, 1].
    """
    img = _as_image(img)
    if gray:
        y = _luma(img)
        noisy = rng.poisson(np.clip(y, 0, 1) * photons).astype(np.float32) / photons
        return _done(img + (noisy - y)[..., None])
    return _done(rng.poisson(np.clip(img, 0, 1) * photons).astype(np.float32) / photons)


def random_poisson_noise(
    img: np.ndarray, rng: np.random.Generator, photons_range: Range = (30.0, 1000.0), gray_prob: float = 0.0
) -> np.ndarray:
    """Poisson noise with ``photons`` log-uniform in ``photons_range``."""
    photons = _log_uniform(rng, photons_range)
    gray = bool(rng.random() < gray_prob)
    return poisson_noise(img, rng, photons, gray)


def quantize_8bit(img: np.ndarray) -> np.ndarray:
    """Round to the 256 levels of an 8-bit file (what a lossless PNG save does). Same shape, float32."""
    img = _as_image(img)
    return _done(float_to_uint8(img) / np.float32(255.0))


def jpeg(img: np.ndarray, quality: int, chroma_subsampling: bool = True) -> np.ndarray:
    """JPEG round trip through OpenCV's encoder at ``quality`` 0..100.

    chroma_subsampling: True (OpenCV's default, and so BasicSR's and the papers') halves the colour
    resolution (4:2:0) at every quality, so even q = 100 softens colour edges; False keeps 4:4:4.
    Returns H x W x 3 float32 in [0, 1] (on the 8-bit grid).
    """
    img = _as_image(img)
    q = int(round(quality))
    if not 0 <= q <= 100:
        raise ValueError(f"JPEG quality must be in 0..100, got {quality}")
    bgr = float_to_uint8(img[..., ::-1])
    params = [cv2.IMWRITE_JPEG_QUALITY, q]
    if not chroma_subsampling:
        params += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]
    ok, buf = cv2.imencode(".jpg", bgr, params)
    if not ok:
        raise RuntimeError("cv2.imencode failed")
    out = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    return _done(out.astype(np.float32) / 255.0)


def random_jpeg(img: np.ndarray, rng: np.random.Generator, quality_range: tuple[int, int] = (30, 95)) -> np.ndarray:
    """JPEG with an integer quality uniform in the closed range ``quality_range``."""
    return jpeg(img, _integer(rng, quality_range))


# ---------------------------------------------------------------------------------- light and colour


def exposure(img: np.ndarray, gains: float | Sequence[float]) -> np.ndarray:
    """Multiply the linear values by ``gains``: one number, or one per channel (R, G, B) for a colour cast.

    Returns H x W x 3 float32 in [0, 1] (over-exposed values clip).
    """
    img = _as_image(img)
    g = np.broadcast_to(np.asarray(gains, np.float32), (3,))
    return _done(img * g)


def random_exposure(
    img: np.ndarray, rng: np.random.Generator, gain_range: Range = (0.4, 1.5), per_channel: bool = True
) -> np.ndarray:
    """Exposure with gains uniform in ``gain_range``, drawn per channel (colour cast) or once."""
    gains = rng.uniform(*gain_range, size=3) if per_channel else _uniform(rng, gain_range)
    return exposure(img, gains)


def _blend(a: np.ndarray, b: np.ndarray | float, factor: float) -> np.ndarray:
    """torchvision's ``_blend``: ``factor * a + (1 - factor) * b`` clipped to [0, 1]."""
    return np.clip(factor * a + (1.0 - factor) * b, 0.0, 1.0)


def color_jitter(
    img: np.ndarray, brightness: float = 1.0, contrast: float = 1.0, saturation: float = 1.0, hue: float = 0.0
) -> np.ndarray:
    """Colour jitter with torchvision's meaning of the factors, applied in that fixed order.

    brightness, contrast, saturation: factors (1 = unchanged; 0 = black / mean grey / greyscale).
    hue: rotation of the hue as a fraction of the full circle, in [-0.5, 0.5] (0.1 = 36 degrees).
    Returns H x W x 3 float32 in [0, 1].
    """
    img = _as_image(img)
    out = np.clip(img * brightness, 0.0, 1.0)
    out = _blend(out, float(_luma(out).mean()), contrast)
    out = _blend(out, _luma(out)[..., None], saturation)
    if hue:
        if not -0.5 <= hue <= 0.5:
            raise ValueError(f"hue must be in [-0.5, 0.5], got {hue}")
        hsv = cv2.cvtColor(out.astype(np.float32), cv2.COLOR_RGB2HSV)  # H in degrees [0, 360)
        hsv[..., 0] = np.mod(hsv[..., 0] + hue * 360.0, 360.0)
        out = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    return _done(out)


def random_color_jitter(
    img: np.ndarray,
    rng: np.random.Generator,
    brightness: float = 0.2,
    contrast: float = 0.2,
    saturation: float = 0.2,
    hue: float = 0.05,
) -> np.ndarray:
    """torchvision ``ColorJitter`` ranges: each factor uniform in [1 - x, 1 + x], hue uniform in [-hue, hue]."""
    return color_jitter(
        img,
        _uniform(rng, (max(0.0, 1 - brightness), 1 + brightness)),
        _uniform(rng, (max(0.0, 1 - contrast), 1 + contrast)),
        _uniform(rng, (max(0.0, 1 - saturation), 1 + saturation)),
        _uniform(rng, (-hue, hue)),
    )


def chromatic_aberration(
    img: np.ndarray, shift: tuple[float, float] = (0.0, 0.0), scale: float = 1.0
) -> np.ndarray:
    """Colour fringes: move the red and blue planes relative to green.

    shift: (dx, dy) pixels; red moves by +shift, blue by -shift (lateral misregistration).
    scale: red is magnified by ``scale`` and blue by ``1/scale`` about the image centre (lens dispersion).
    Borders are reflected. Returns H x W x 3 float32 in [0, 1].
    """
    img = _as_image(img)
    h, w = img.shape[:2]
    cx, cy = (w - 1) / 2, (h - 1) / 2
    out = img.copy()
    for channel, sign in ((0, 1.0), (2, -1.0)):
        s = scale if sign > 0 else 1.0 / scale
        m = np.array(
            [[s, 0.0, (1 - s) * cx + sign * shift[0]], [0.0, s, (1 - s) * cy + sign * shift[1]]], np.float64
        )
        out[..., channel] = cv2.warpAffine(
            np.ascontiguousarray(img[..., channel]), m, (w, h),
            flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101,
        )
    return _done(out)


def random_chromatic_aberration(
    img: np.ndarray, rng: np.random.Generator, shift_range: Range = (0.0, 2.0), scale_range: Range = (1.0, 1.01)
) -> np.ndarray:
    """Chromatic aberration with a shift of uniform length in ``shift_range`` in a uniform direction
    and a scale uniform in ``scale_range``."""
    length = _uniform(rng, shift_range)
    angle = _uniform(rng, (0.0, 2 * math.pi))
    return chromatic_aberration(img, (length * math.cos(angle), length * math.sin(angle)), _uniform(rng, scale_range))


def low_light(
    img: np.ndarray,
    rng: np.random.Generator,
    gamma: float = 2.0,
    gain: float = 0.3,
    photons: float = 100.0,
    read_noise: float = 0.01,
) -> np.ndarray:
    """A photo taken in the dark: ``gain * img ** gamma`` (shadows sink first, then everything darkens), then
    sensor noise that a dark exposure shows: shot noise with ``photons`` at full white of the *darkened*
    image, plus Gaussian read noise ``read_noise`` (on the [0, 1] scale), per channel (chroma noise as in
    real dark photos). Returns H x W x 3 float32 in [0, 1].
    """
    img = _as_image(img)
    dark = gain * np.power(np.clip(img, 0, 1), gamma)
    noisy = rng.poisson(dark * photons).astype(np.float32) / photons
    noisy += rng.normal(0.0, read_noise, img.shape).astype(np.float32)
    return _done(noisy)


def random_low_light(
    img: np.ndarray,
    rng: np.random.Generator,
    gamma_range: Range = (1.2, 2.5),
    gain_range: Range = (0.15, 0.5),
    photons_range: Range = (60.0, 400.0),
    read_noise_range: Range = (0.002, 0.015),
) -> np.ndarray:
    """:func:`low_light` with uniform gamma and gain, log-uniform photons and uniform read noise."""
    return low_light(
        img, rng, _uniform(rng, gamma_range), _uniform(rng, gain_range),
        _log_uniform(rng, photons_range), _uniform(rng, read_noise_range),
    )


def illumination_map(shape: tuple[int, int], angle: float, mode: str = "linear", falloff: float = 1.0) -> np.ndarray:
    """H x W float32 in [0, 1]: light arriving from direction ``angle`` (degrees, 0 = from the right,
    counter-clockwise), 1 on the lit edge.

    mode ``"linear"``: a ramp across the image along that direction. ``"radial"``: a Gaussian spot centred
    just outside the lit edge (a screen close to one side of the face). ``falloff`` > 1 makes it fall off faster.
    """
    h, w = shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    u = ((x - (w - 1) / 2) / max(w, h), ((h - 1) / 2 - y) / max(w, h))  # centred, y up, about [-0.5, 0.5]
    d = (math.cos(math.radians(angle)), math.sin(math.radians(angle)))
    if mode == "linear":
        t = np.clip(0.5 + (u[0] * d[0] + u[1] * d[1]) / (abs(d[0]) + abs(d[1])), 0.0, 1.0)
        return (t**falloff).astype(np.float32)
    if mode == "radial":
        cx, cy = 0.6 * d[0], 0.6 * d[1]
        r2 = (u[0] - cx) ** 2 + (u[1] - cy) ** 2
        return np.exp(-r2 * falloff / (2 * 0.35**2)).astype(np.float32)
    raise ValueError(f"unknown mode {mode!r}; use 'linear' or 'radial'")


def screen_illumination(
    img: np.ndarray,
    color: Sequence[float],
    strength: float,
    angle: float,
    mode: str = "linear",
    falloff: float = 1.0,
    ambient: float = 1.0,
) -> np.ndarray:
    """Light from a screen or lamp on one side of the face: the image is multiplied by
    ``ambient + strength * L * color`` with ``L = illumination_map(angle, mode, falloff)``.

    color: RGB of the light, components in [0, 1] (e.g. (0.45, 0.65, 1.0) for a blue monitor).
    strength: how much light it adds on the lit side (0 = none, 1 = doubles the white channel there).
    ambient: the room light elsewhere (< 1 for a dark room lit mainly by the screen).
    Returns H x W x 3 float32 in [0, 1].
    """
    img = _as_image(img)
    lmap = illumination_map(img.shape[:2], angle, mode, falloff)
    light = ambient + strength * lmap[..., None] * np.asarray(color, np.float32)
    return _done(img * light)


def random_screen_illumination(
    img: np.ndarray,
    rng: np.random.Generator,
    strength_range: Range = (0.3, 1.0),
    ambient_range: Range = (0.5, 1.0),
) -> np.ndarray:
    """Screen light with a random saturated colour, direction, mode (linear/radial) and falloff."""
    hue = _uniform(rng, (0.0, 360.0))
    rgb = cv2.cvtColor(np.array([[[hue, _uniform(rng, (0.3, 0.8)), 1.0]]], np.float32), cv2.COLOR_HSV2RGB)[0, 0]
    return screen_illumination(
        img, tuple(float(c) for c in rgb), _uniform(rng, strength_range), _uniform(rng, (0.0, 360.0)),
        str(rng.choice(["linear", "radial"])), _uniform(rng, (0.7, 2.0)), _uniform(rng, ambient_range),
    )


# ---------------------------------------------------------------------------------- old photographs


def film_grain(img: np.ndarray, rng: np.random.Generator, strength: float = 0.05, size: float = 0.8) -> np.ndarray:
    """Silver-halide grain: monochrome Gaussian noise, blurred with sigma ``size`` pixels (grain clumps) and
    renormalised to unit deviation, scaled by ``strength * 2 * sqrt(Y * (1 - Y))`` so it is strongest in the
    mid-tones and fades in deep shadows and highlights (luminance-correlated). Added equally to R, G, B.
    Returns H x W x 3 float32 in [0, 1].
    """
    img = _as_image(img)
    n = rng.standard_normal(img.shape[:2]).astype(np.float32)
    if size > 0:
        k = gaussian_kernel(size)
        n = cv2.sepFilter2D(n, cv2.CV_32F, k, k, borderType=cv2.BORDER_REFLECT_101)
        n /= max(float(n.std()), 1e-6)
    y = np.clip(_luma(img), 0, 1)
    amp = strength * 2.0 * np.sqrt(y * (1.0 - y))
    return _done(img + (amp * n)[..., None])


def random_film_grain(
    img: np.ndarray, rng: np.random.Generator, strength_range: Range = (0.02, 0.08), size_range: Range = (0.5, 1.2)
) -> np.ndarray:
    """Film grain with uniform strength and grain size."""
    return film_grain(img, rng, _uniform(rng, strength_range), _uniform(rng, size_range))


def greyscale(img: np.ndarray) -> np.ndarray:
    """BT.601 luma copied to the three channels (R == G == B). Returns H x W x 3 float32 in [0, 1]."""
    img = _as_image(img)
    return _done(np.repeat(_luma(img)[..., None], 3, axis=2))


SEPIA_TONE = (1.0, 0.84, 0.62)


def sepia(img: np.ndarray, strength: float = 1.0, tone: Sequence[float] = SEPIA_TONE) -> np.ndarray:
    """Sepia toning: luma times a fixed brown ``tone`` (so at strength 1 every pixel has the same hue),
    mixed with the original by ``strength``. Returns H x W x 3 float32 in [0, 1]."""
    img = _as_image(img)
    toned = _luma(img)[..., None] * np.asarray(tone, np.float32)
    return _done(strength * toned + (1.0 - strength) * img)


def random_sepia(img: np.ndarray, rng: np.random.Generator, strength_range: Range = (0.6, 1.0)) -> np.ndarray:
    """Sepia with a uniform strength."""
    return sepia(img, _uniform(rng, strength_range))


PAPER_COLOR = (0.96, 0.92, 0.80)


def fade(img: np.ndarray, amount: float, paper: Sequence[float] = PAPER_COLOR) -> np.ndarray:
    """Faded print: the dyes thin towards the (yellowed) ``paper`` colour, lifting blacks and losing
    contrast: ``(1 - amount) * img + amount * paper``. Returns H x W x 3 float32 in [0, 1]."""
    img = _as_image(img)
    return _done((1.0 - amount) * img + amount * np.asarray(paper, np.float32))


def random_fade(img: np.ndarray, rng: np.random.Generator, amount_range: Range = (0.1, 0.45)) -> np.ndarray:
    """Fading with a uniform amount."""
    return fade(img, _uniform(rng, amount_range))


def scan_dust(
    img: np.ndarray,
    rng: np.random.Generator,
    n_specks: int = 20,
    n_scratches: int = 1,
    max_radius: float = 1.5,
    dark_share: float = 0.5,
    opacity: float = 0.85,
) -> np.ndarray:
    """Dust and scratches of a scanned print.

    n_specks: round specks of radius 0.4..max_radius pixels, each dark (dust on the print) with probability
    ``dark_share`` or bright (emulsion flaked off) otherwise. n_scratches: thin bright hairlines (about
    1 px) that wander gently across part of the image. Positions come from ``rng``; the marks are drawn
    anti-aliased at 4x and blended with ``opacity``. Returns H x W x 3 float32 in [0, 1].
    """
    img = _as_image(img)
    h, w = img.shape[:2]
    up = 4
    dark = np.zeros((h * up, w * up), np.float32)
    bright = np.zeros_like(dark)
    for _ in range(int(n_specks)):
        x, y = rng.uniform(0, w) * up, rng.uniform(0, h) * up
        r = max(1, round(rng.uniform(0.4, max_radius) * up))
        target = dark if rng.random() < dark_share else bright
        cv2.circle(target, (round(x), round(y)), r, 1.0, thickness=-1, lineType=cv2.LINE_AA)
    for _ in range(int(n_scratches)):
        length = rng.uniform(0.3, 1.0) * max(h, w) * up
        angle = rng.uniform(0, math.pi)
        x, y = rng.uniform(0, w) * up, rng.uniform(0, h) * up
        pts = []
        n_seg = 12
        bend = rng.normal(0.0, 0.05)
        for i in range(n_seg + 1):
            t = i / n_seg - 0.5
            a = angle + bend * t * 4
            pts.append((x + t * length * math.cos(a), y + t * length * math.sin(a)))
        pts_arr = np.round(np.array(pts)).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(bright, [pts_arr], False, 1.0, thickness=max(1, round(rng.uniform(0.5, 1.2) * up)),
                      lineType=cv2.LINE_AA)
    dark = cv2.resize(dark, (w, h), interpolation=cv2.INTER_AREA)[..., None] * opacity
    bright = cv2.resize(bright, (w, h), interpolation=cv2.INTER_AREA)[..., None] * opacity
    out = img * (1.0 - dark) + 0.05 * dark
    out = out * (1.0 - bright) + 0.95 * bright
    return _done(out)


def random_scan_dust(
    img: np.ndarray,
    rng: np.random.Generator,
    specks_range: tuple[int, int] = (5, 60),
    scratches_range: tuple[int, int] = (0, 3),
) -> np.ndarray:
    """Dust and scratches with uniform integer counts."""
    return scan_dust(img, rng, _integer(rng, specks_range), _integer(rng, scratches_range))


def disk_kernel(radius: float) -> np.ndarray:
    """2-D normalised disk (a defocused lens's blur), float32, anti-aliased at its rim; radius in pixels."""
    r = max(float(radius), 0.5)
    half = math.ceil(r)
    y, x = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float32)
    k = np.clip(r + 0.5 - np.sqrt(x * x + y * y), 0.0, 1.0)
    return (k / k.sum()).astype(np.float32)


def defocus_blur(img: np.ndarray, radius: float) -> np.ndarray:
    """Out-of-focus blur: convolution with a disk of ``radius`` pixels. Returns H x W x 3 float32 in [0, 1]."""
    img = _as_image(img)
    return _done(cv2.filter2D(img, cv2.CV_32F, disk_kernel(radius), borderType=cv2.BORDER_REFLECT_101))


def halftone(img: np.ndarray, cell: float, angle: float = 45.0, softness: float = 0.6) -> np.ndarray:
    """A printed photo (newspaper, yearbook, magazine) scanned: each channel printed as a screen of ink dots
    whose area is the ink's share, on a grid of ``cell`` pixels turned by ``angle`` degrees (channels at
    angles 15 degrees apart, as colour screens are, so they form a rosette rather than moire), then seen by
    the scanner through a blur of ``softness`` pixels. A grey image gives a grey (single-screen) print.
    Returns H x W x 3 float32 in [0, 1]."""
    img = _as_image(img)
    h, w = img.shape[:2]
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    grey = bool(np.allclose(img[..., 0], img[..., 1], atol=1e-3) and np.allclose(img[..., 1], img[..., 2], atol=1e-3))
    out = np.empty_like(img)
    for c in range(3):
        a = math.radians(angle + (0 if grey else 15 * c))
        u = (x * math.cos(a) + y * math.sin(a)) * (2 * math.pi / cell)
        v = (-x * math.sin(a) + y * math.cos(a)) * (2 * math.pi / cell)
        # the screen's values replaced by their ranks, so that a share t of each cell lies below level t and a dot
        # covers as much of its cell as there is ink (the raw cosine screen would darken the mid-tones)
        screen = np.cos(u) * np.cos(v)
        screen = (np.argsort(np.argsort(screen, axis=None)).reshape(h, w).astype(np.float32) + 0.5) / (h * w)
        ink = 1.0 - img[..., c]
        out[..., c] = 1.0 - np.clip((ink - screen) * 4.0 + 0.5, 0.0, 1.0)
    return gaussian_blur(out, softness)


def random_halftone(img: np.ndarray, rng: np.random.Generator, cell_range: Range = (2.0, 4.5)) -> np.ndarray:
    """Halftone print with a uniform cell size, screen angle and scanner softness."""
    return halftone(img, _uniform(rng, cell_range), _uniform(rng, (0.0, 90.0)), _uniform(rng, (0.5, 1.2)))


def colour_cast(img: np.ndarray, gains: Sequence[float]) -> np.ndarray:
    """White balance gone wrong (tungsten, fluorescent, aged dyes): per-channel gains rescaled so that the
    luma of grey is kept, so the cast changes colour, not brightness. Returns H x W x 3 float32 in [0, 1]."""
    g = np.asarray(gains, np.float32)
    return exposure(img, g / float(g @ _LUMA))


def random_colour_cast(img: np.ndarray, rng: np.random.Generator, strength_range: Range = (0.08, 0.3)) -> np.ndarray:
    """A colour cast of a random hue: gains 1 + strength * (a random unit direction in RGB)."""
    direction = rng.standard_normal(3)
    direction /= max(float(np.linalg.norm(direction)), 1e-6)
    return colour_cast(img, 1.0 + _uniform(rng, strength_range) * direction)


# ========================================================================================= protocols


@dataclass
class Degraded:
    """Output of a protocol pipeline.

    image: the degraded input, H x W x 3 float32 in [0, 1] (16 x 16 for ``seed003-16``, else the input size).
    labels: ``{"protocol": name, "params": {...sampled parameters...}}``; ``frrnet`` adds its multi-label
    distortion classes ``"noise"``, ``"blur"``, ``"relight"`` (0 or 1) and ``"distorted"`` (bool).
    """

    image: np.ndarray
    labels: dict[str, Any] = field(default_factory=dict)


def _seed003(hq: np.ndarray, rng: np.random.Generator, out_size: int, k_max: int, sigma_max: float,
             s_min: int, delta_max: float, q_min: int, name: str) -> Degraded:
    """Seed 003 eq. 1: ``JPEG_q[(HQ * k_sigma) resized to s x s + n_delta]`` resized to ``out_size``.

    Choice: k (odd kernel width) and sigma are drawn independently as the table says; sigma = 0 means no
    blur (cv2's convention of deriving sigma from k when sigma = 0 is not used). delta is the noise
    standard deviation on the 0-255 scale. Down- and up-sizing are anti-aliased bicubic.
    """
    hq = _as_image(hq)
    k = int(rng.choice(np.arange(1, k_max + 1, 2)))
    sigma = _uniform(rng, (0.0, sigma_max))
    s = _integer(rng, (s_min, hq.shape[0]))
    delta = _uniform(rng, (0.0, delta_max))
    q = _integer(rng, (q_min, 100))
    x = gaussian_blur(hq, sigma, k)
    x = resize(x, s, "bicubic")
    x = gaussian_noise(x, rng, delta / 255.0)
    x = jpeg(x, q)
    x = resize(x, out_size, "bicubic")
    return Degraded(x, {"protocol": name, "params": {"k": k, "sigma": sigma, "s": s, "delta": delta, "q": q}})


def seed003_128(hq: np.ndarray, rng: np.random.Generator) -> Degraded:
    """``seed003-128``: k in [1, 11] odd, sigma in [0, 10], s in [16, 128], delta in [0, 30], q in [50, 100].

    LQ is 128 x 128."""
    return _seed003(hq, rng, 128, 11, 10.0, 16, 30.0, 50, "seed003-128")


def seed003_16(hq: np.ndarray, rng: np.random.Generator) -> Degraded:
    """``seed003-16``: k in [1, 5] odd, sigma in [0, 5], s in [43, 128], delta in [0, 10], q in [60, 100].

    LQ is 16 x 16 (the model's output and the ground truth stay 128 x 128)."""
    return _seed003(hq, rng, 16, 5, 5.0, 43, 10.0, 60, "seed003-16")


_GFR_RHO = np.concatenate([[0.0], np.round(np.arange(1.0, 3.0001, 0.1), 1)])  # {0, 1:0.1:3}
_GFR_SCALE = np.round(np.arange(1.0, 8.0001, 0.1), 1)                         # {1:0.1:8}
_GFR_QUALITY = np.concatenate([[0], np.arange(10, 41)])                         # {0, 10:1:40}


def _gfrnet(hq: np.ndarray, rng: np.random.Generator, scale: float | None, name: str) -> Degraded:
    """GFRNet eq. 4: ``((I * k_rho) down_s + n_sigma)_JPEG_q``, then bicubic up by s to the input size.

    rho, sigma (0-255 scale), q are drawn uniformly from the paper's sets; s is fixed (4 or 8) for the
    test protocols and drawn from {1:0.1:8} for training. q = 0 means lossless: the image is only
    rounded to 8 bits (a PNG save). Choice: bicubic is anti-aliased (MATLAB imresize, as those papers used).
    """
    hq = _as_image(hq)
    rho = float(rng.choice(_GFR_RHO))
    s = float(rng.choice(_GFR_SCALE)) if scale is None else float(scale)
    sigma = int(rng.integers(0, 8))
    q = int(rng.choice(_GFR_QUALITY))
    h, w = hq.shape[:2]
    x = gaussian_blur(hq, rho)
    x = resize(x, (max(1, round(h / s)), max(1, round(w / s))), "bicubic")
    x = gaussian_noise(x, rng, sigma / 255.0)
    x = jpeg(x, q) if q > 0 else quantize_8bit(x)
    x = resize(x, (h, w), "bicubic")
    return Degraded(x, {"protocol": name, "params": {"rho": rho, "s": s, "sigma": sigma, "q": q}})


def gfrnet_4x(hq: np.ndarray, rng: np.random.Generator) -> Degraded:
    """``gfrnet-4x``: GFRNet eq. 4 with s = 4."""
    return _gfrnet(hq, rng, 4.0, "gfrnet-4x")


def gfrnet_8x(hq: np.ndarray, rng: np.random.Generator) -> Degraded:
    """``gfrnet-8x``: GFRNet eq. 4 with s = 8."""
    return _gfrnet(hq, rng, 8.0, "gfrnet-8x")


def gfrnet_train(hq: np.ndarray, rng: np.random.Generator) -> Degraded:
    """``gfrnet-train``: GFRNet's training distribution, s from {1:0.1:8}."""
    return _gfrnet(hq, rng, None, "gfrnet-train")


FRRNET_OPS = ("downscale", "exposure", "color", "chromatic", "noise", "blur", "jpeg")


# How the relight operation of `frrnet-train-lighting` darkens or colours a face: the paper's per-channel exposure
# half of the time, a photo taken in the dark or a face lit by a screen a quarter each.
LIGHTING_MODES = {"exposure": 0.5, "low_light": 0.25, "screen": 0.25}


def relight(x: np.ndarray, rng: np.random.Generator, modes: dict[str, float] | None, params: dict) -> np.ndarray:
    """The relight operation of eq. 2: the paper's per-channel exposure gain e in [0.4, 1.5], or, when `modes`
    is given, one of them drawn by weight. Low light reaches linear gains down to 0.2 (gamma 1 to 2, with
    the sensor noise of a dark exposure): the paper's gains stop at 0.4, darker than which FRR-Net never saw a
    face, and an old indoor snapshot is often darker. Screen light is a coloured light from one side."""
    mode = "exposure"
    if modes:
        names = list(modes)
        weights = np.asarray([modes[k] for k in names], np.float64)
        mode = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    params["light"] = mode
    if mode == "exposure":
        params["e"] = [float(v) for v in rng.uniform(0.4, 1.5, size=3)]
        return exposure(x, params["e"])
    if mode == "low_light":
        return random_low_light(x, rng, gamma_range=(1.0, 2.0), gain_range=(0.2, 0.6))
    if mode == "screen":
        return random_screen_illumination(x, rng)
    raise ValueError(f"unknown lighting mode {mode!r}; use one of exposure, low_light, screen")


def frrnet(hq: np.ndarray, rng: np.random.Generator, distorted_share: float = 0.85, p_each: float = 0.5,
           lighting: dict[str, float] | None = None, name: str | None = None) -> Degraded:
    """``frrnet``: FRR-Net eq. 2 / Algorithm 1.

    ``LQ = [(((HQ down_r) xi_e eta_j C_gamma) + N_delta) * k_sigma]_JPEG_q`` with
    r in [2, 4], e in [0.4, 1.5] per RGB channel, j in [0.1, 0.2], gamma in [1, 1.5], delta in [0.01, 0.11],
    sigma in [0.2, 5], q in [0, 100]. Labels (Algorithm 1): noise = noise or JPEG or chromatic;
    blur = blur or downscale; relight = exposure or colour jitter.

    Choices where the paper is silent:
    * Algorithm 1 counts distorted images per batch to hit 85 %; one image with its own RNG cannot see the
      batch, so each image is distorted with probability ``distorted_share`` (85 % in expectation) and
      otherwise returned unchanged with all labels 0.
    * "randomly apply one or more distortions": each of the seven operations is switched on with
      probability ``p_each``; if none came up, one is picked uniformly.
    * Order: eq. 2 and the text ("Lastly, we apply JPEG"), i.e. colour jitter with the exposure, before the
      noise; Algorithm 1 lists the jitter after JPEG, which contradicts the text.
    * downscale: anti-aliased bicubic down by r and back up to the input size at once.
    * colour jitter: torchvision ``ColorJitter(j, j, j, j)`` semantics: brightness, contrast, saturation
      factors uniform in [1 - j, 1 + j] and hue shift uniform in [-j, j] of the colour circle.
    * chromatic gamma: red shifted by gamma pixels in a uniform random direction, blue by -gamma.
    * delta is the noise standard deviation on the [0, 1] scale; q = 0 is OpenCV's lowest quality.
    * lighting: the relight operation's modes and weights (:data:`LIGHTING_MODES`); None is the paper's
      exposure gain alone.
    """
    hq = _as_image(hq)
    name = name or ("frrnet" if distorted_share >= 1 and p_each >= 1 else "frrnet-train")
    labels: dict[str, Any] = {"protocol": name, "noise": 0, "blur": 0, "relight": 0, "distorted": False}
    params: dict[str, Any] = {}
    if rng.random() >= distorted_share:
        labels["params"] = params
        return Degraded(_done(hq.copy()), labels)
    on = {op: bool(rng.random() < p_each) for op in FRRNET_OPS}
    if not any(on.values()):
        on[FRRNET_OPS[int(rng.integers(len(FRRNET_OPS)))]] = True
    x = hq
    if on["downscale"]:
        params["r"] = _uniform(rng, (2.0, 4.0))
        x = down_up(x, params["r"])
    if on["exposure"]:
        x = relight(x, rng, lighting, params)
    if on["color"]:
        j = _uniform(rng, (0.1, 0.2))
        params["j"] = j
        params["jitter"] = {
            "brightness": _uniform(rng, (1 - j, 1 + j)), "contrast": _uniform(rng, (1 - j, 1 + j)),
            "saturation": _uniform(rng, (1 - j, 1 + j)), "hue": _uniform(rng, (-j, j)),
        }
        x = color_jitter(x, **params["jitter"])
    if on["chromatic"]:
        gamma = _uniform(rng, (1.0, 1.5))
        angle = _uniform(rng, (0.0, 2 * math.pi))
        params["gamma"] = gamma
        params["chromatic_angle"] = angle
        x = chromatic_aberration(x, (gamma * math.cos(angle), gamma * math.sin(angle)))
    if on["noise"]:
        params["delta"] = _uniform(rng, (0.01, 0.11))
        x = gaussian_noise(x, rng, params["delta"])
    if on["blur"]:
        params["sigma"] = _uniform(rng, (0.2, 5.0))
        x = gaussian_blur(x, params["sigma"])
    if on["jpeg"]:
        params["q"] = _integer(rng, (0, 100))
        x = jpeg(x, params["q"])
    labels.update(
        distorted=True,
        noise=int(on["noise"] or on["jpeg"] or on["chromatic"]),
        blur=int(on["blur"] or on["downscale"]),
        relight=int(on["exposure"] or on["color"]),
        applied=[op for op in FRRNET_OPS if on[op]],
        params=params,
    )
    return Degraded(_done(x), labels)


def frrnet_protocol(hq: np.ndarray, rng: np.random.Generator) -> Degraded:
    """The ``frrnet`` evaluation protocol: every distortion of eq. 2 applied, with ranges as in training
    (docs/evaluation.md: all seven applied at test). Training uses ``frrnet-train`` (Algorithm 1: 85 % distorted, each
    operation on with probability 0.5), whose clean faces would make an input PSNR infinite."""
    return frrnet(hq, rng, distorted_share=1.0, p_each=1.0)


def frrnet_train_lighting(hq: np.ndarray, rng: np.random.Generator) -> Degraded:
    """``frrnet-train-lighting``: ``frrnet-train`` (Algorithm 1) whose relight operation is, besides the paper's
    exposure, a dark photo or a screen's light (:data:`LIGHTING_MODES`): the FRR-Net issue trains on Algorithm 1
    "with screen illumination and low light"."""
    return frrnet(hq, rng, lighting=LIGHTING_MODES, name="frrnet-train-lighting")


def frrnet_lowlight(hq: np.ndarray, rng: np.random.Generator) -> Degraded:
    """``frrnet-lowlight``: the low-light check of the FRR-Net issue: one exposure gain e in [0.3, 0.6] for
    all channels (a dark photo, not a colour cast), then Gaussian noise delta in [0.01, 0.05] and 8-bit
    quantisation. Labels: relight (and noise) on, as Algorithm 1 would label it."""
    hq = _as_image(hq)
    e = _uniform(rng, (0.3, 0.6))
    delta = _uniform(rng, (0.01, 0.05))
    x = gaussian_noise(exposure(hq, e), rng, delta)
    labels = {"protocol": "frrnet-lowlight", "noise": 1, "blur": 0, "relight": 1, "distorted": True,
              "params": {"e": e, "delta": delta}}
    return Degraded(_done(x), labels)


def bfr_severe(hq: np.ndarray, rng: np.random.Generator) -> Degraded:
    """``bfr-severe``: seed 001 eq. 13, ``[(y * k_sigma) down_r + n_delta]_JPEG_q`` back up to the input size,
    sigma in [0.2, 10], r in [1, 8], delta in [0, 15] (0-255 scale), q in [60, 100].

    Choice: as GFPGAN (which the paper follows), resizing is OpenCV bilinear without anti-aliasing both
    ways, the small size is ``int(H / r)``, and the Gaussian kernel is isotropic.
    """
    hq = _as_image(hq)
    sigma = _uniform(rng, (0.2, 10.0))
    r = _uniform(rng, (1.0, 8.0))
    delta = _uniform(rng, (0.0, 15.0))
    q = _integer(rng, (60, 100))
    h, w = hq.shape[:2]
    x = gaussian_blur(hq, sigma)
    x = resize(x, (max(1, int(h / r)), max(1, int(w / r))), "bilinear", antialias=False)
    x = gaussian_noise(x, rng, delta / 255.0)
    x = jpeg(x, q)
    x = resize(x, (h, w), "bilinear", antialias=False)
    return Degraded(x, {"protocol": "bfr-severe", "params": {"sigma": sigma, "r": r, "delta": delta, "q": q}})


def seed002_train(hq: np.ndarray, rng: np.random.Generator) -> Degraded:
    """``seed002-train``: seed 002 eq. 17, ``[(y * k) down_s + n_delta]_JPEG_q`` back up to the input size, with
    the paper's ranges: s in [0.4, 8], delta in [0, 25] (0-255 scale), q in [5, 50]; k a Gaussian or a motion
    blur (p = .5 each) of at most 41 x 41.

    Choice: the paper gives the kernel size (41) but not the blur's strength; Gaussian sigma in [0.1, 10] and
    motion length in [3, 21] px on the 128 crop, sigma as bfr-severe. Resizing as bfr-severe (OpenCV bilinear,
    no anti-aliasing); s < 1 enlarges first, a mild case the paper includes.
    """
    hq = _as_image(hq)
    h, w = hq.shape[:2]
    params: dict[str, Any] = {}
    if rng.random() < 0.5:
        params["sigma"] = _uniform(rng, (0.1, 10.0))
        x = gaussian_blur(hq, params["sigma"], ksize=41)
    else:
        params["length"], params["angle"] = _uniform(rng, (3.0, 21.0)), _uniform(rng, (0.0, 180.0))
        x = motion_blur(hq, params["length"], params["angle"])
    params["s"] = _uniform(rng, (0.4, 8.0))
    params["delta"] = _uniform(rng, (0.0, 25.0))
    params["q"] = _integer(rng, (5, 50))
    x = resize(x, (max(1, int(h / params["s"])), max(1, int(w / params["s"]))), "bilinear", antialias=False)
    x = gaussian_noise(x, rng, params["delta"] / 255.0)
    x = jpeg(x, params["q"])
    x = resize(x, (h, w), "bilinear", antialias=False)
    return Degraded(x, {"protocol": "seed002-train", "params": params})


def oldphoto(hq: np.ndarray, rng: np.random.Generator) -> Degraded:
    """``oldphoto``: our users' old prints, in the order the damage happens.

    1. lens/focus: Gaussian blur sigma in [0.3, 2.0], or (20 %) camera shake: motion blur 2..7 px;
    2. film resolution: down by r in [1.5, 4] (area) and bicubic back up;
    3. film grain: strength [0.01, 0.04], grain size [0.5, 1.2] px;
    4. the print: sepia (40 %), greyscale (30 %) or colour (30 %), then faded by [0.05, 0.4];
    5. dust and scratches: 3..30 specks; 1..2 scratches in 40 % of the photos;
    6. the scan saved as JPEG, q in [40, 95].
    """
    hq = _as_image(hq)
    p: dict[str, Any] = {}
    if rng.random() < 0.2:
        p["motion_length"] = _uniform(rng, (2.0, 7.0))
        p["motion_angle"] = _uniform(rng, (0.0, 180.0))
        x = motion_blur(hq, p["motion_length"], p["motion_angle"])
    else:
        p["sigma"] = _uniform(rng, (0.3, 2.0))
        x = gaussian_blur(hq, p["sigma"])
    p["r"] = _uniform(rng, (1.5, 4.0))
    x = down_up(x, p["r"], down="area", up="bicubic")
    p["grain_strength"] = _uniform(rng, (0.01, 0.04))
    p["grain_size"] = _uniform(rng, (0.5, 1.2))
    x = film_grain(x, rng, p["grain_strength"], p["grain_size"])
    u = rng.random()
    p["tone"] = "sepia" if u < 0.4 else "grey" if u < 0.7 else "colour"
    if p["tone"] == "sepia":
        p["sepia_strength"] = _uniform(rng, (0.6, 1.0))
        x = sepia(x, p["sepia_strength"])
    elif p["tone"] == "grey":
        x = greyscale(x)
    p["fade"] = _uniform(rng, (0.05, 0.4))
    x = fade(x, p["fade"])
    p["specks"] = _integer(rng, (3, 30))
    p["scratches"] = _integer(rng, (1, 2)) if rng.random() < 0.4 else 0
    x = scan_dust(x, rng, p["specks"], p["scratches"])
    p["q"] = _integer(rng, (40, 95))
    x = jpeg(x, p["q"])
    return Degraded(x, {"protocol": "oldphoto", "params": p})


def everyday_damage(hq: np.ndarray, rng: np.random.Generator) -> Degraded:
    """``everyday-damage``: a random chain of the damage people bring, each stage on with its own chance,
    in the order it happens (at least one stage always applies):

    1. focus (70 %): Gaussian blur sigma 0.3-4 (half), camera shake 3-15 px (quarter), defocus disk 1-4 px;
    2. resolution (60 %): down by r in [1, 8] (log-uniform) and back up, bilinear or bicubic;
    3. light (35 %): low light, screen light, a colour cast or the paper's per-channel exposure;
    4. noise (60 %): Gaussian sigma 0.005-0.08, Poisson (30-1000 photons) or film grain 0.01-0.06;
    5. the print (30 %): sepia or grey, faded (40 %) by 0.05-0.4; a halftone screen (10 %);
    6. dust and thin scratches (20 %);
    7. JPEG (70 %), q in [20, 95].

    Labels for FRR-Net's classifier: noise = noise, halftone, dust or JPEG under q 80; blur = focus or
    resolution; relight = light or fading.
    """
    hq = _as_image(hq)
    p: dict[str, Any] = {}
    on = {"focus": rng.random() < 0.7, "resolution": rng.random() < 0.6, "light": rng.random() < 0.35,
          "noise": rng.random() < 0.6, "print": rng.random() < 0.3, "halftone": rng.random() < 0.1,
          "dust": rng.random() < 0.2, "jpeg": rng.random() < 0.7}
    if not any(on.values()):
        on[list(on)[int(rng.integers(len(on)))]] = True
    x = hq
    if on["focus"]:
        u = rng.random()
        if u < 0.5:
            p["sigma"] = _uniform(rng, (0.3, 4.0))
            x = gaussian_blur(x, p["sigma"])
        elif u < 0.75:
            p["motion"] = _uniform(rng, (3.0, 15.0))
            x = motion_blur(x, p["motion"], _uniform(rng, (0.0, 180.0)))
        else:
            p["defocus"] = _uniform(rng, (1.0, 4.0))
            x = defocus_blur(x, p["defocus"])
    if on["resolution"]:
        p["r"] = _log_uniform(rng, (1.0, 8.0))
        p["resize"] = "bicubic" if rng.random() < 0.5 else "bilinear"
        x = down_up(x, p["r"], down="area", up=p["resize"])
    if on["light"]:
        p["light"] = str(rng.choice(["low_light", "screen", "cast", "exposure"]))
        if p["light"] == "low_light":
            x = random_low_light(x, rng, gamma_range=(1.0, 2.0), gain_range=(0.2, 0.6))
        elif p["light"] == "screen":
            x = random_screen_illumination(x, rng)
        elif p["light"] == "cast":
            x = random_colour_cast(x, rng)
        else:
            x = exposure(x, rng.uniform(0.4, 1.5, size=3))
    if on["noise"]:
        u = rng.random()
        if u < 0.45:
            p["delta"] = _uniform(rng, (0.005, 0.08))
            x = gaussian_noise(x, rng, p["delta"], gray=bool(rng.random() < 0.3))
        elif u < 0.7:
            p["photons"] = _log_uniform(rng, (30.0, 1000.0))
            x = poisson_noise(x, rng, p["photons"])
        else:
            p["grain"] = _uniform(rng, (0.01, 0.06))
            x = film_grain(x, rng, p["grain"], _uniform(rng, (0.5, 1.2)))
    if on["print"]:
        p["tone"] = "sepia" if rng.random() < 0.5 else "grey"
        x = random_sepia(x, rng) if p["tone"] == "sepia" else greyscale(x)
        if rng.random() < 0.4:
            p["fade"] = _uniform(rng, (0.05, 0.4))
            x = fade(x, p["fade"])
    if on["halftone"]:
        x = random_halftone(x, rng)
    if on["dust"]:
        x = random_scan_dust(x, rng, specks_range=(3, 30), scratches_range=(0, 2))
    if on["jpeg"]:
        p["q"] = _integer(rng, (20, 95))
        x = jpeg(x, p["q"])
    labels = {
        "protocol": "everyday-damage", "params": p, "applied": [k for k, v in on.items() if v], "distorted": True,
        "noise": int(on["noise"] or on["halftone"] or on["dust"] or (on["jpeg"] and p["q"] < 80)),
        "blur": int(on["focus"] or on["resolution"]),
        "relight": int(on["light"] or "fade" in p),
    }
    return Degraded(_done(x), labels)


def _labelled(degraded: Degraded, noise: bool, blur: bool, relight: bool) -> Degraded:
    degraded.labels.update(noise=int(noise), blur=int(blur), relight=int(relight), distorted=bool(noise or blur or relight))
    return degraded


# What the default model trains on: every evaluation protocol's damage, the everyday chain, and clean faces
# (which it must hand back unchanged). Weights are shares of the training faces.
RESTORE_MIX = {
    "clean": 0.08, "everyday-damage": 0.28, "oldphoto": 0.18, "bfr-severe": 0.14, "seed003-128": 0.14,
    "frrnet-train-lighting": 0.13, "frrnet-lowlight": 0.05,
}


def restore_mix(hq: np.ndarray, rng: np.random.Generator) -> Degraded:
    """``restore-mix``: one of :data:`RESTORE_MIX`'s sources drawn by weight, with FRR-Net's noise / blur /
    relight labels for each (the protocols' own where they have them; otherwise from the damage applied:
    ``bfr-severe`` and ``seed003-128`` blur, with noise when their noise or JPEG is noticeable; ``oldphoto``
    blur and noise, relight when faded by more than 0.15). ``labels["source"]`` names the source."""
    names = list(RESTORE_MIX)
    weights = np.asarray([RESTORE_MIX[k] for k in names], np.float64)
    source = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    if source == "clean":
        out = _labelled(Degraded(_done(_as_image(hq).copy()), {"protocol": "clean", "params": {}}), False, False, False)
    else:
        out = PIPELINES[source](hq, rng)
        p = out.labels.get("params", {})
        if source in ("bfr-severe", "seed003-128"):
            noisy = p.get("delta", 0) > 3 or p.get("q", 100) < 85
            out = _labelled(out, noisy, True, False)
        elif source == "oldphoto":
            out = _labelled(out, True, True, p.get("fade", 0) > 0.15)
    out.labels["source"] = source
    out.labels["protocol"] = "restore-mix"
    return out


# What the guided model (GFRNet) trains on: the damage where the input alone cannot carry a likeness, so the
# reference photo has something to add (issue 25), beside the paper's own distribution.
GUIDED_MIX = {"gfrnet-train": 1 / 3, "gfrnet-8x": 1 / 3, "bfr-severe": 1 / 3}


def guided_mix(hq: np.ndarray, rng: np.random.Generator) -> Degraded:
    """``guided-mix``: one of :data:`GUIDED_MIX`'s sources drawn by weight; ``labels["source"]`` names it."""
    names = list(GUIDED_MIX)
    weights = np.asarray([GUIDED_MIX[k] for k in names], np.float64)
    source = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    out = PIPELINES[source](hq, rng)
    out.labels.update(source=source, protocol="guided-mix")
    return out


PIPELINES: dict[str, Callable[[np.ndarray, np.random.Generator], Degraded]] = {
    "seed003-128": seed003_128,
    "seed003-16": seed003_16,
    "gfrnet-4x": gfrnet_4x,
    "gfrnet-8x": gfrnet_8x,
    "gfrnet-train": gfrnet_train,
    "frrnet": frrnet_protocol,
    "frrnet-train": frrnet,
    "frrnet-train-lighting": frrnet_train_lighting,
    "frrnet-lowlight": frrnet_lowlight,
    "bfr-severe": bfr_severe,
    "seed002-train": seed002_train,
    "oldphoto": oldphoto,
    "everyday-damage": everyday_damage,
    "restore-mix": restore_mix,
    "guided-mix": guided_mix,
}


def protocol_rng(protocol: str, file_name: str) -> np.random.Generator:
    """A generator seeded from SHA-256 of ``"<protocol>\\0<file_name>"`` (first 16 bytes, little-endian).

    file_name: pass the manifest's ``file`` column (e.g. ``"celeba/182638.webp"``); backslashes are turned
    into slashes so Windows paths give the same seed. The seed never depends on Python's ``hash()`` or on
    the process, so every run and machine gets the same degraded input (given the same numpy version:
    numpy does not promise identical ``Generator`` streams across releases).
    """
    key = f"{protocol}\0{file_name.replace(chr(92), '/')}".encode()
    seed = int.from_bytes(hashlib.sha256(key).digest()[:16], "little")
    return np.random.Generator(np.random.PCG64(seed))
