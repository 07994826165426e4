"""Training losses of the five seed papers, as small torch functions.

Each function's docstring gives shapes, ranges and the equation it implements (seed file and equation number).

* :mod:`.pixel`: ``l1``, ``l2``, ``charbonnier``, ``channel_huber`` and ``angular_colour_loss`` (FRR-Net eqs. 4-5),
  ``dice_loss`` (FRR-Net eq. 7), ``total_variation`` (GFRNet eq. 10).
* :mod:`.flow`: GFRNet's ``flow_landmark_loss`` (eq. 9), ``warp`` (eq. 2), ``identity_flow``, ``pixels_to_unit`` /
  ``unit_to_pixels``. **Flow convention**: an absolute sampling grid N x 2 x H x W in [-1, 1] (channel 0 = x),
  the warped reference at pixel p being the reference sampled at ``flow[:, :, p]`` -- what ``grid_sample`` needs
  after ``flow.permute(0, 2, 3, 1)``; ``align_corners=False`` and integer pixel coordinates at pixel centres.
* :mod:`.adversarial`: non-saturating (softplus), hinge and WGAN losses, ``gradient_penalty`` (WGAN-GP, seed 003
  eq. 2), ``r1_penalty``, ``feature_matching`` (seed 002 eq. 14).
* :mod:`.augment`: ``diff_augment`` (DiffAugment, seed 001 eqs. 8-9).
* :mod:`.perceptual`: ``IdentityFeatureLoss`` (perceptual, style, identity on the project's FaceID network;
  seed 000 eq. 6, seed 002 eq. 15), ``gram_matrix``.
* :mod:`.vq`: ``EMACodebook`` and ``vq_loss`` (seed 001 eqs. 2-3).

Every loss returns a scalar that is a mean over the batch; weights (lambda) are applied by the recipes.
"""

from training.losses.adversarial import (
    feature_matching,
    gradient_penalty,
    hinge_d_loss,
    hinge_g_loss,
    ns_d_loss,
    ns_g_loss,
    r1_penalty,
    wgan_d_loss,
    wgan_g_loss,
)
from training.losses.augment import diff_augment
from training.losses.flow import flow_landmark_loss, identity_flow, pixels_to_unit, unit_to_pixels, warp
from training.losses.perceptual import IdentityFeatureLoss, feature_l1, feature_l1_and_identity, gram_matrix
from training.losses.pixel import (
    angular_colour_loss,
    channel_huber,
    charbonnier,
    dice_loss,
    fine_band,
    fine_band_l1,
    l1,
    l2,
    total_variation,
)
from training.losses.vq import EMACodebook, ema_step, vq_loss

__all__ = [
    "fine_band",
    "fine_band_l1",
    "l1", "l2", "charbonnier", "channel_huber", "angular_colour_loss", "dice_loss", "total_variation",
    "flow_landmark_loss", "pixels_to_unit", "unit_to_pixels", "identity_flow", "warp",
    "ns_d_loss", "ns_g_loss", "hinge_d_loss", "hinge_g_loss", "wgan_d_loss", "wgan_g_loss",
    "gradient_penalty", "r1_penalty", "feature_matching",
    "diff_augment",
    "IdentityFeatureLoss", "feature_l1", "feature_l1_and_identity", "gram_matrix",
    "EMACodebook", "ema_step", "vq_loss",
]
