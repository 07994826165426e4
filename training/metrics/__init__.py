"""Evaluation metrics for face restoration (docs/evaluation.md, "Metrics").

Pixel metrics take two RGB images on the 0-255 scale (``uint8``, or floats such as ``255 * degraded``),
H x W x 3, and compute in float64. For numbers that compare with papers, pass the images as they would be
saved (``uint8``): that is what the papers' scripts read.

Conventions chosen
------------------
* **PSNR, SSIM and MS-SSIM default to the luma channel Y of ITU-R BT.601** as BasicSR computes it
  (``Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255``, so Y lies in [16, 235]; data range stays 255).
  This is the convention of the SR / face-restoration code most papers inherit (BasicSR's
  ``test_y_channel``, pyiqa's default SSIM). ``channel="rgb"`` gives the other convention:
  PSNR over all three channels' squared errors, SSIM and MS-SSIM as the mean over R, G and B.
  Y ignores colour errors, so for colour-changing protocols (``frrnet`` relighting, ``oldphoto`` sepia)
  report ``channel="rgb"`` too.
* **SSIM** (Wang et al. 2004): Gaussian window 11 x 11, sigma 1.5, K1 = 0.01, K2 = 0.03, L = 255,
  population (not sample) covariances, 'valid' filtering (no padding: the map is (H-10) x (W-10)),
  the mean of the map. Identical to BasicSR's ``calculate_ssim`` and to scikit-image's
  ``structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``.
* **MS-SSIM** (Wang et al. 2003): 5 scales, weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333), 2 x 2 mean
  down-sampling between scales, contrast-structure at scales 1-4 and full SSIM at scale 5, as in the
  reference numpy implementation (``MultiScaleSSIM`` in tensorflow/models' image-compression code, which
  ports Wang's MATLAB ``msssim.m``). A 128 x 128 face is 8 x 8 at the 5th scale, smaller than the window;
  we do what that reference does: the window shrinks to ``min(11, H, W)`` pixels with its sigma scaled by
  the same factor (8 x 8, sigma 1.09 at the last scale of a 128 face). A negative contrast-structure or
  SSIM value (possible for anti-correlated images) is clamped to 0 before the fractional power, as pyiqa
  does, instead of giving NaN.
* **LMD**: mean Euclidean distance between corresponding landmarks (pixels at the image's scale).
* **Identity**: Euclidean distance between dlib's 128-d descriptors of restored and ground-truth faces;
  mean, and share under 0.6 (dlib's same-person threshold).
* **iPrecision / iRecall** (seed 001, Sec. 3.3): k = 4 nearest neighbours, Euclidean distance, identity
  labels from the manifest. See :mod:`training.metrics.identity` for the exact reading.
* **FD**: Fréchet distance between Gaussians fitted to two feature sets (FID's formula; here on dlib
  descriptors, "FD-dlib", since Inception weights cannot be had).
* **Detail** (``detail_ratio``): the variance of the Laplacian of Y over the face mask, output's over the ground
  truth's: 1 is as detailed as the clean face, below 1 smoother (read beside PSNR: noise lifts it too).
* **NIQE** (Mittal et al. 2013), fitted by the project on its own pristine crops: :mod:`training.metrics.niqe`.

Libraries checked (none may need torchvision, which does not work here, or download weights)
---------------------------------------------------------------------------------------------
* scikit-image 0.26 (installs, no torch): has ``structural_similarity`` and ``peak_signal_noise_ratio``
  but no MS-SSIM, no NIQE, and its SSIM does not return the contrast-structure term MS-SSIM needs; it is
  not a dependency of the project either. So SSIM is written here (30 lines on scipy, shared with MS-SSIM)
  and the tests use scikit-image as the independent oracle for SSIM and PSNR (skipped if absent).
* pytorch-msssim 1.0.0 (pure torch, would install): asserts that the image side exceeds
  (11 - 1) * 2**4 = 160 for 5 scales, so it refuses 128 x 128 faces.
* torchmetrics 1.9.0 (torch + lightning-utilities, would install): its MS-SSIM likewise requires a side
  over (11 - 1) * (5 - 1)**2 = 160; it has no NIQE; its FID needs Inception weights (a download).
* piq 0.8.0: requires torchvision. pyiqa 0.1.16: requires torchvision, facexlib, timm, transformers, and
  downloads NIQE's MATLAB parameters at run time. Neither can be used.
* scipy: used for ``fftconvolve``, ``sqrtm`` (FD) and ``gamma`` (NIQE).
"""

from training.metrics.fd import frechet_distance, frechet_distance_from_stats, gaussian_stats
from training.metrics.fidelity import detail_ratio, face_psnr, ms_ssim, psnr, rgb_to_y, ssim
from training.metrics.identity import (
    IdentityScores,
    identity_distances,
    identity_scores,
    ipred,
    iprecision_irecall,
    lmd,
)
from training.metrics.niqe import NiqeModel, fit_niqe, niqe, niqe_features
from training.metrics.tone import cast_angle, luminance_error

__all__ = [
    "psnr", "face_psnr", "ssim", "ms_ssim", "rgb_to_y", "detail_ratio",
    "lmd", "identity_distances", "identity_scores", "IdentityScores", "ipred", "iprecision_irecall",
    "frechet_distance", "frechet_distance_from_stats", "gaussian_stats",
    "NiqeModel", "fit_niqe", "niqe", "niqe_features",
    "luminance_error", "cast_angle",
]
