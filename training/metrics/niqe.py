"""NIQE, the Natural Image Quality Evaluator (Mittal, Soundararajan and Bovik 2013), fitted by the project.

The published NIQE model was fitted on 125 natural photographs; faces at 128 x 128 are a different
"pristine" population, so the project fits its own model on its sharp training crops with
:func:`fit_niqe` and saves it (``NiqeModel.save`` -> ``.npz``). Lower scores are more natural.

The computation follows the authors' MATLAB release (``computequality.m``, ``estimatemodelparam.m``,
``computefeature.m``) as ported by BasicSR and pyiqa:

* grey image (MATLAB ``rgb2gray`` weights 0.2989, 0.5870, 0.1140) on the 0-255 scale, cropped at the
  bottom/right to a whole number of patches;
* MSCN coefficients ``(I - mu) / (sigma + 1)`` with a 7 x 7 Gaussian window of sigma 7/6 (borders replicated);
* per patch 18 features: an AGGD fit of the MSCN coefficients (shape, mean of the two scales; for these
  symmetric coefficients it is the paper's GGD fit) and, for the products of horizontal, vertical and both
  diagonal neighbours, an AGGD fit (shape, mean, left and right scale);
* the same at half resolution (bicubic, anti-aliased, like MATLAB ``imresize(im, 0.5)``) with half-size
  patches, giving 36 features per patch;
* fitting: per training image, only patches whose mean local sigma exceeds 0.75 x the sharpest patch's
  are kept; the model is the mean and covariance of their features;
* score: ``sqrt((mu_p - mu_d)^T pinv((S_p + S_d) / 2) (mu_p - mu_d))`` with mu_d, S_d from all patches
  of the tested image. Patches whose features are NaN (flat patches) are dropped, as MATLAB's
  ``nanmean``/``nancov`` do.

Choice for small images: a 128 x 128 crop holds a single 96 x 96 patch, whose covariance is undefined;
it is taken as zero (MATLAB's ``nancov`` of one observation also gives 0), so the score is the Mahalanobis
distance under the pristine covariance alone. ``patch_size`` is a fitting parameter stored in the model,
so a project that prefers e.g. 32-pixel patches on 128 crops can fit and score with those consistently.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from scipy.special import gamma as gamma_fn

_GRAY = np.array([0.2989, 0.5870, 0.1140])
_GAM = np.arange(0.2, 10.001, 0.001)
_R_GAM = gamma_fn(2.0 / _GAM) ** 2 / (gamma_fn(1.0 / _GAM) * gamma_fn(3.0 / _GAM))
_WINDOW = None  # filled lazily: 7-tap Gaussian, sigma 7/6
N_FEATURES = 36


def _window() -> np.ndarray:
    global _WINDOW
    if _WINDOW is None:
        x = np.arange(7) - 3.0
        g = np.exp(-(x**2) / (2 * (7.0 / 6.0) ** 2))
        _WINDOW = g / g.sum()
    return _WINDOW


def _to_gray(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img, dtype=np.float64)
    if img.ndim == 3:
        if img.shape[2] != 3:
            raise ValueError(f"expected H x W x 3 RGB or H x W grey, got {img.shape}")
        img = img @ _GRAY
    elif img.ndim != 2:
        raise ValueError(f"expected H x W x 3 RGB or H x W grey, got {img.shape}")
    return img


def _aggd(x: np.ndarray) -> tuple[float, float, float]:
    """Asymmetric generalised Gaussian fit by moment matching: (shape alpha, left scale, right scale)."""
    x = x.ravel()
    left, right = x[x < 0], x[x > 0]
    if left.size == 0 or right.size == 0:
        return float("nan"), float("nan"), float("nan")
    left_std = np.sqrt(np.mean(left**2))
    right_std = np.sqrt(np.mean(right**2))
    gammahat = left_std / right_std
    rhat = np.mean(np.abs(x)) ** 2 / np.mean(x**2)
    rhatnorm = rhat * (gammahat**3 + 1) * (gammahat + 1) / (gammahat**2 + 1) ** 2
    alpha = _GAM[np.argmin((_R_GAM - rhatnorm) ** 2)]
    factor = np.sqrt(gamma_fn(1.0 / alpha) / gamma_fn(3.0 / alpha))
    return float(alpha), float(left_std * factor), float(right_std * factor)


def _patch_features(mscn: np.ndarray) -> list[float]:
    """The 18 NSS features of one MSCN patch (MATLAB ``computefeature.m``)."""
    alpha, bl, br = _aggd(mscn)
    feat = [alpha, (bl + br) / 2.0]
    for shift in ((0, 1), (1, 0), (1, 1), (-1, 1)):
        pair = mscn * np.roll(mscn, shift, axis=(0, 1))
        alpha, bl, br = _aggd(pair)
        mean = (br - bl) * gamma_fn(2.0 / alpha) / gamma_fn(1.0 / alpha) if np.isfinite(alpha) else np.nan
        feat += [alpha, mean, bl, br]
    return feat


def _mscn(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    w = _window()
    mu = cv2.sepFilter2D(gray, cv2.CV_64F, w, w, borderType=cv2.BORDER_REPLICATE)
    var = cv2.sepFilter2D(gray * gray, cv2.CV_64F, w, w, borderType=cv2.BORDER_REPLICATE) - mu * mu
    sigma = np.sqrt(np.abs(var))
    return (gray - mu) / (sigma + 1.0), sigma


def _half(gray: np.ndarray) -> np.ndarray:
    h, w = gray.shape
    pil = Image.fromarray(gray.astype(np.float32))
    return np.asarray(pil.resize((w // 2, h // 2), Image.Resampling.BICUBIC), dtype=np.float64)


def niqe_features(img: np.ndarray, patch_size: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """Per-patch NIQE features of one image.

    img: H x W x 3 RGB or H x W grey on the 0-255 scale, at least ``patch_size`` on each side.
    Returns (features (P, 36) float64, sharpness (P,)) for the P non-overlapping patches, row-major.
    """
    if patch_size % 2:
        raise ValueError("patch_size must be even (the second scale uses patch_size / 2)")
    gray = _to_gray(img)
    rows, cols = gray.shape[0] // patch_size, gray.shape[1] // patch_size
    if rows == 0 or cols == 0:
        raise ValueError(f"image {gray.shape} is smaller than one {patch_size} x {patch_size} patch")
    gray = gray[: rows * patch_size, : cols * patch_size]
    per_scale = []
    sharpness = None
    for scale in (1, 2):
        mscn, sigma = _mscn(gray)
        p = patch_size // scale
        feats = []
        for r in range(rows):
            for c in range(cols):
                feats.append(_patch_features(mscn[r * p:(r + 1) * p, c * p:(c + 1) * p]))
        per_scale.append(np.asarray(feats))
        if scale == 1:
            sharpness = sigma.reshape(rows, p, cols, p).mean(axis=(1, 3)).ravel()
        gray = _half(gray)
    return np.concatenate(per_scale, axis=1), sharpness


@dataclass
class NiqeModel:
    """A fitted pristine model: mean (36,), covariance (36, 36), the patch size used, patches fitted on."""

    mu: np.ndarray
    cov: np.ndarray
    patch_size: int = 96
    n_patches: int = 0

    def save(self, path: str | Path) -> None:
        """Write the model as an ``.npz`` file (no pickle)."""
        np.savez(path, mu=self.mu, cov=self.cov, patch_size=self.patch_size, n_patches=self.n_patches, version=1)

    @classmethod
    def load(cls, path: str | Path) -> NiqeModel:
        with np.load(path, allow_pickle=False) as z:
            mu, cov = z["mu"].astype(np.float64), z["cov"].astype(np.float64)
            return cls(mu, cov, int(z["patch_size"]), int(z["n_patches"]))


def fit_niqe(images: Iterable[np.ndarray], patch_size: int = 96, sharpness_threshold: float = 0.75) -> NiqeModel:
    """Fit the pristine multivariate Gaussian on sharp patches of ``images`` (each H x W x 3 RGB, 0-255).

    From each image only the patches with sharpness > ``sharpness_threshold`` x its sharpest patch are used.
    """
    kept = []
    for img in images:
        feats, sharp = niqe_features(img, patch_size)
        sel = feats[sharp > sharpness_threshold * sharp.max()] if sharp.max() > 0 else feats[:0]
        kept.append(sel[~np.isnan(sel).any(axis=1)])
    feats = np.concatenate(kept, axis=0) if kept else np.empty((0, N_FEATURES))
    if feats.shape[0] < 2:
        raise ValueError(f"need at least 2 usable patches to fit NIQE, got {feats.shape[0]}")
    return NiqeModel(feats.mean(axis=0), np.cov(feats, rowvar=False), patch_size, feats.shape[0])


def niqe(img: np.ndarray, model: NiqeModel) -> float:
    """NIQE score of one image (H x W x 3 RGB or H x W grey, 0-255) against a fitted model; lower is better.

    Returns NaN if every patch is flat (no NSS features can be fitted).
    """
    feats, _ = niqe_features(img, model.patch_size)
    feats = feats[~np.isnan(feats).any(axis=1)]
    if feats.shape[0] == 0:
        return float("nan")
    mu_d = feats.mean(axis=0)
    cov_d = np.cov(feats, rowvar=False) if feats.shape[0] > 1 else np.zeros_like(model.cov)
    diff = model.mu - mu_d
    return float(np.sqrt(diff @ np.linalg.pinv((model.cov + cov_d) / 2.0) @ diff))
