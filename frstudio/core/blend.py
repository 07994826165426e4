"""Putting restored faces back into the photo without a seam.

Each restored crop is warped back with the inverse of its alignment and mixed into the photo through a
feathered mask built from the landmarks: the jaw line, closed over the brows raised to the forehead. The
mask falls to zero *inside* that outline and inside the crop's footprint, over a width that grows with
the face, so neither the crop's square nor the outline shows. Only a region around each face is touched
and converted to float, so a 50 MP photo costs no more memory than a small one.

A face is never replaced by its crop warped back, which would hand back a face with less detail than it had
(an enlarged crop has none of the photo's finer detail, and even at the crop's own scale two resamplings soften
it). The model's *correction* is carried to the photo's scale instead: ``out = photo + back(restored - crop)``,
``crop`` being the photo sampled as the model saw it. For a face larger than the crop that is the restored crop
enlarged plus the photo's own detail finer than the crop could hold (``photo - up(crop)``, the top level of a
Laplacian pyramid whose reduce step is the alignment's shrink and whose expand step is the warp back). A model
that changes nothing therefore changes nothing, at any size. That fine band is kept as it is (it is the photo's
grain and texture, which goes on around the face); :func:`denoise_fine_band` can shrink its noise instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from frstudio.core.align import (AlignedFace, affine_scale, compose_affine, crop_bounds, eye_distance, pixel_scale,
                                resize_matrix, warp_to_crop)

JAW = slice(0, 17)
BROWS = slice(17, 27)


@dataclass
class BlendSettings:
    strength: float = 1.0  # 0 = original, 1 = fully restored
    match_tone: bool = True  # pull the restored face's low frequencies (tone, colour cast) to the photo's
    keep_grey: bool = False  # photo is greyscale or toned (sepia): take only luminance from the restored face
    use_model_mask: bool = True  # where the model predicts a face mask, blend through it rather than the outline
    keep_model_light: bool = False  # with match_tone: match only the colour, keep the model's brightness (relighting)
    # A face larger than the crop: shrink the noise in the photo's own fine detail (what the crop could not hold).
    # Off: that band is the photo's grain and texture, which goes on around the face; denoised, the face comes
    # back smoother than its surroundings, and the no-harm benchmark measured little PSNR for it (README).
    fine_band_denoise: bool = False


# A predicted mask covering less than this share of the landmark outline is taken for a failure of the
# mask head (an occluded or odd face), and the outline is used instead.
MIN_MODEL_MASK_COVER = 0.5


def face_outline(landmarks68: np.ndarray) -> np.ndarray:
    """Polygon around the face: the jaw line, then the brows raised towards the hair line.

    The brows are lifted along the face's own up direction (perpendicular to the eye line) by 0.6 x the
    eye distance, so the forehead is restored too; its exact height matters little under the feather.
    """
    lm = np.asarray(landmarks68, np.float64)
    left_eye, right_eye = lm[36:42].mean(axis=0), lm[42:48].mean(axis=0)
    across = right_eye - left_eye
    apart = float(np.linalg.norm(across)) or 1.0
    up = np.array([across[1], -across[0]]) / apart  # image y grows downwards
    brows = lm[BROWS][::-1] + up * 0.6 * apart
    return np.vstack([lm[JAW], brows])


def feather_width(eye_distance: float) -> float:
    """Width of the soft edge in pixels: proportional to the face, never so thin that a step shows."""
    return max(3.0, 0.25 * eye_distance)


def _gaussian(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur; wide ones run on a shrunken copy (the result is smooth, so nothing is lost and a
    large face costs a few milliseconds instead of a tenth of a second per pass)."""
    sigma = max(sigma, 0.1)
    factor = int(sigma // 4)
    h, w = img.shape[:2]
    if factor < 2 or min(h, w) < 8 * factor:
        return cv2.GaussianBlur(img, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT_101)
    small = cv2.resize(img, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigmaX=sigma / factor, borderType=cv2.BORDER_REFLECT_101)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _masked_lowpass(img: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian low-pass of `img` using only the pixels where `weight` > 0 (normalised convolution)."""
    num = _gaussian(img * weight[..., None], sigma)
    den = _gaussian(weight, sigma)[..., None]
    return num / np.maximum(den, 1e-6)


def _luma(img: np.ndarray) -> np.ndarray:
    return img @ np.array([0.299, 0.587, 0.114], np.float32)


def _rgb_to_ycc(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img, cv2.COLOR_RGB2YCrCb)


def _ycc_to_rgb(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img, cv2.COLOR_YCrCb2RGB)


def face_mask(shape: tuple[int, int], outline: np.ndarray, feather: float) -> np.ndarray:
    """Float mask in [0, 1]: 1 well inside the outline, 0 on and outside it, a smooth ramp between."""
    mask = np.zeros(shape, np.float32)
    cv2.fillPoly(mask, [np.round(outline * 16).astype(np.int32)], 1.0, lineType=cv2.LINE_AA, shift=4)
    return _feather_inwards(mask, feather)


def _feather_inwards(mask: np.ndarray, feather: float) -> np.ndarray:
    # Erode (a distance transform: linear time for any width), then blur: the ramp lies inside the region,
    # three blur sigmas from its edge, where it has fallen to ~0.001. Cutting it to the region makes "pixels
    # outside are untouched" exact. The ROI's own border is not an edge (it is the photo's border or lies
    # outside the face anyway), hence the edge padding.
    region = mask > 0.5
    inside = np.pad(region.astype(np.uint8), 1, mode="edge")
    distance = cv2.distanceTransform(inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    sigma = feather / 2.5
    eroded = (distance > 3 * sigma).astype(np.float32)
    return np.clip(_gaussian(eroded, sigma), 0.0, 1.0) * region


def _warped_model_mask(model_mask: np.ndarray, to_roi: np.ndarray, size: int, roi_size: tuple[int, int], feather: float) -> np.ndarray | None:
    model_mask = np.asarray(model_mask, np.float32)
    if model_mask.ndim == 3:
        model_mask = model_mask[0]
    if model_mask.shape[0] != size:  # a mask at the input size of a model that up-samples
        model_mask = cv2.resize(model_mask, (size, size), interpolation=cv2.INTER_LINEAR)
    warped = cv2.warpAffine(model_mask, to_roi, roi_size, flags=cv2.INTER_LINEAR, borderValue=0)
    if not np.any(warped > 0.5):
        return None
    return _feather_inwards((warped > 0.5).astype(np.float32), feather)


def crop_matrix(aligned: AlignedFace, output_size: int) -> np.ndarray:
    """2 x 3 map from photo pixels to the pixels of the model's output crop (the alignment's, resized for a
    model whose output is larger than its input, 16 -> 128)."""
    if output_size == aligned.size:
        return aligned.matrix
    return compose_affine(resize_matrix(aligned.size, output_size), aligned.matrix)


def larger_than_crop(aligned: AlignedFace, output_size: int) -> bool:
    """Whether the face in the photo is larger than the model's output crop of it (more than one photo pixel per
    crop pixel), so that warping the crop back would enlarge it and lose the photo's own detail."""
    return affine_scale(crop_matrix(aligned, output_size)) < 1.0


def _enlarge(crop: np.ndarray, to_roi: np.ndarray, roi_shape: tuple[int, int]) -> np.ndarray:
    # bicubic: a crop enlarged many times over shows bilinear's kinks as a faint grid on smooth skin
    return cv2.warpAffine(np.ascontiguousarray(crop, np.float32), to_roi, (roi_shape[1], roi_shape[0]),
                          flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def _shrink_back(crop: np.ndarray, to_roi: np.ndarray, roi_shape: tuple[int, int]) -> np.ndarray:
    return cv2.warpAffine(np.ascontiguousarray(crop, np.float32), to_roi, (roi_shape[1], roi_shape[0]),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def carry_correction(original: np.ndarray, restored: np.ndarray, crop: np.ndarray, to_roi: np.ndarray,
                     large: bool) -> np.ndarray:
    """The photo plus the model's correction (`restored` - `crop`) warped back to the photo's pixels."""
    back = _enlarge if large else _shrink_back
    return original + back(restored - crop, to_roi, original.shape[:2])


def _with_fine_band(original: np.ndarray, restored: np.ndarray, crop: np.ndarray, to_roi: np.ndarray,
                    mask: np.ndarray, denoise: bool) -> np.ndarray:
    """The restored face at the photo's scale: the photo plus the model's correction (`restored` - `crop`, the
    photo's own crop at the output's size) enlarged; the photo's fine band denoised when asked."""
    shape = original.shape[:2]
    out = carry_correction(original, restored, crop, to_roi, large=True)
    if denoise:
        fine = original - _enlarge(crop, to_roi, shape)
        out += denoise_fine_band(fine, mask > 0.05) - fine
    return out


# How far (in noise deviations) the fine band's local energy must rise above the noise before it counts as detail
FINE_BAND_NOISE_FACTOR = 1.0


def fine_band_noise(fine: np.ndarray, support: np.ndarray) -> float:
    """The noise deviation in a fine band (H x W x 3 float), from its diagonal detail at the pixel scale (the
    HH band of a Haar step), where a photo's own content is weakest, by the median absolute deviation inside
    `support` (Donoho's estimator): texture and edges are a minority and do not move the median."""
    luma = _luma(fine)
    hh = (luma[:-1:2, :-1:2] - luma[1::2, :-1:2] - luma[:-1:2, 1::2] + luma[1::2, 1::2]) / 2.0
    inside = support[:-1:2, :-1:2][: hh.shape[0], : hh.shape[1]]
    values = hh[inside] if inside.any() else hh.ravel()
    return float(np.median(np.abs(values)) / 0.6745) if values.size else 0.0


def denoise_fine_band(fine: np.ndarray, support: np.ndarray) -> np.ndarray:
    """The fine band with its noise shrunk: a local Wiener gain (local energy minus the noise's, over the local
    energy), so edges, lashes and texture stronger than the noise stay and flat skin loses its noise."""
    sigma = fine_band_noise(fine, support)
    if sigma <= 1e-4:
        return fine
    energy = cv2.GaussianBlur(_luma(fine) ** 2, (0, 0), 1.5, borderType=cv2.BORDER_REFLECT_101)
    noise = (FINE_BAND_NOISE_FACTOR * sigma) ** 2
    gain = np.clip((energy - noise) / np.maximum(energy, 1e-8), 0.0, 1.0)
    return fine * gain[..., None]


def blend_face(
    pixels: np.ndarray,
    restored: np.ndarray,
    aligned: AlignedFace,
    landmarks68: np.ndarray,
    settings: BlendSettings | None = None,
    model_mask: np.ndarray | None = None,
) -> None:
    """Blend one restored crop (size x size x 3 float [0, 1]) into `pixels` (uint8/uint16 RGB), in place.

    `model_mask` (size x size float in [0, 1], crop space) is the face mask the model predicted, if any: it
    follows the face the network actually saw (a hand or hair over the cheek, a profile's hidden side), which
    the landmark outline cannot. It is feathered like the outline. Pixels the mask leaves at zero keep their
    exact original values.
    """
    settings = settings or BlendSettings()
    if settings.strength <= 0:
        return
    inverse = aligned.inverse
    size = restored.shape[0]
    if size != aligned.size:  # a model whose output is larger than its input (16 -> 128)
        inverse = compose_affine(inverse, resize_matrix(size, aligned.size))
    outline = np.asarray(landmarks68, np.float64)
    eyes_apart = eye_distance(outline)
    feather = feather_width(eyes_apart)

    x0, y0, x1, y1 = crop_bounds(inverse, size, pixels.shape, margin=2)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return
    roi_w, roi_h = x1 - x0, y1 - y0
    to_roi = inverse.copy()
    to_roi[:, 2] -= (x0, y0)
    large = larger_than_crop(aligned, size)
    # Where the crop actually covers the photo, shrunk and softened like the outline so its square never shows.
    coverage = cv2.warpAffine(np.ones((size, size), np.float32), to_roi, (roi_w, roi_h), flags=cv2.INTER_LINEAR, borderValue=0)
    coverage = _feather_inwards((coverage > 0.999).astype(np.float32), feather)
    outline_roi = face_outline(outline) - (x0, y0)
    mask = face_mask((roi_h, roi_w), outline_roi, feather) * coverage
    if model_mask is not None and settings.use_model_mask:
        predicted = _warped_model_mask(model_mask, to_roi, size, (roi_w, roi_h), feather)
        if predicted is not None and (predicted > 0.5).sum() >= MIN_MODEL_MASK_COVER * (mask > 0.5).sum():
            mask = predicted * coverage

    scale = pixel_scale(pixels)
    region = pixels[y0:y1, x0:x1]
    original = region.astype(np.float32) / scale
    # the crop sampled again from `pixels` as they are now (a relit photo's, under a whole-photo relight), so the
    # correction carries only what the model did beyond that light
    crop = warp_to_crop(pixels, crop_matrix(aligned, size), size)
    if large:
        warped = _with_fine_band(original, restored, crop, to_roi, mask, settings.fine_band_denoise)
    else:
        warped = carry_correction(original, restored, crop, to_roi, large=False)
    if settings.match_tone:
        sigma = max(2.0, 0.35 * eyes_apart)
        support = (mask > 0.05).astype(np.float32)
        target = _masked_lowpass(original, support, sigma)
        current = _masked_lowpass(warped, support, sigma)
        if settings.keep_model_light:
            # the photo's colour at the model's brightness: its low-pass scaled by the ratio of the lumas, so a
            # brightened face keeps the saturation of its surroundings instead of turning grey
            ratio = _luma(current) / np.maximum(_luma(target), 1e-3)
            target = target * ratio[..., None]
        warped = warped + target - current
    if settings.keep_grey:
        ycc = _rgb_to_ycc(np.clip(warped, 0, 1))
        ycc[..., 1:] = _rgb_to_ycc(original)[..., 1:]
        warped = _ycc_to_rgb(ycc)
    alpha = (mask * float(np.clip(settings.strength, 0.0, 1.0)))[..., None]
    mixed = original + alpha * (np.clip(warped, 0.0, 1.0) - original)
    out = np.clip(np.round(mixed * scale), 0, scale).astype(pixels.dtype)
    touched = np.broadcast_to(alpha > 0, out.shape)
    region[touched] = out[touched]

