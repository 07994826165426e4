"""Pixel losses: L1, L2, Charbonnier, FRR-Net's channel-wise Huber and angular colour loss, soft Dice, and
total variation.

Conventions: ``pred`` and ``target`` are float tensors of the same shape, images N x C x H x W (RGB in
``[0, 1]`` unless said otherwise). Every loss returns a scalar, the mean over the batch (and over pixels and
channels unless the docstring says otherwise), so its scale does not depend on batch or image size.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn import functional as F


def l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error, ``mean |pred - target|`` (FRR-Net's L_L1, seed 000 Sec. 3.3; seed 003 eq. 3)."""
    return F.l1_loss(pred, target)


def l2(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error, ``mean (pred - target)^2``."""
    return F.mse_loss(pred, target)


def charbonnier(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Charbonnier (smooth L1) loss, ``mean sqrt((pred - target)^2 + eps^2)``.

    ``eps`` is on the scale of the values (1e-3 for images in [0, 1]); the loss is ``eps`` where the two agree
    and tends to L1 for errors much larger than ``eps``.
    """
    return torch.sqrt((pred - target) ** 2 + eps * eps).mean()


def channel_huber(
    pred: torch.Tensor, target: torch.Tensor, delta: float | Sequence[float] = 0.1
) -> torch.Tensor:
    """FRR-Net's channel-wise Huber loss (seed 000, eq. 4), averaged over channels.

    For each channel c with error ``e = pred - target`` and threshold ``a = delta[c]``::

        h(e) = e^2 / 2             if |e| < a
               a (|e| - a / 2)     otherwise

    the mean of ``h`` over N, H, W gives one loss per channel; the result is the mean over channels.
    ``delta`` is one threshold for all channels or one per channel (a sequence of C floats). With a single
    ``delta`` this equals ``torch.nn.functional.huber_loss(pred, target, delta=delta)``.

    Choice: the paper does not give its threshold alpha. For images in [0, 1] errors are rarely above 1, where
    ``delta = 1`` would make the loss plain L2 / 2; the default 0.1 (about 25/255) treats large errors (outliers,
    noise residue) linearly and small ones quadratically.

    pred, target: N x C x H x W (any N x C x ...). Returns a scalar.
    """
    err = (pred - target).abs()
    if isinstance(delta, (int, float)):
        a = torch.tensor(float(delta), dtype=err.dtype, device=err.device)
    else:
        a = torch.as_tensor(list(delta), dtype=err.dtype, device=err.device)
        if a.numel() != pred.shape[1]:
            raise ValueError(f"channel_huber: {a.numel()} thresholds for {pred.shape[1]} channels")
        a = a.view(1, -1, *([1] * (pred.dim() - 2)))
    h = torch.where(err < a, 0.5 * err * err, a * (err - 0.5 * a))
    per_channel = h.transpose(0, 1).flatten(1).mean(dim=1)
    return per_channel.mean()


def angular_colour_loss(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Angular colour loss (seed 000, eq. 5): the mean over pixels of the angle between RGB vectors, in radians.

    ``angle = arccos( <y, y_hat> / (|y| |y_hat|) )`` at every pixel, where ``y`` is the C-vector (RGB) of a
    pixel. The angle ignores brightness (``y`` and ``2 y`` are 0 apart) and is pi/2 for orthogonal colours.

    Stability: the norm product is ``sqrt(|y|^2 |y_hat|^2 + eps^2)``, so a zero vector (a black pixel) gives
    cosine 0 (angle pi/2) with finite gradients, and the cosine is clamped to ``[-1 + eps, 1 - eps]`` because
    arccos has an infinite slope at +-1. Hence identical colours give about ``sqrt(2 eps)`` (1.4e-3 rad for
    the default), not exactly 0; the gradient there is 0. Computed in float32 even under autocast.

    pred, target: N x C x H x W, C = 3 (any C >= 2 works). Returns a scalar in [0, pi].
    """
    p, t = pred.float(), target.float()
    dot = (p * t).sum(dim=1)
    norms = torch.sqrt((p * p).sum(dim=1) * (t * t).sum(dim=1) + eps * eps)
    cos = (dot / norms).clamp(-1 + eps, 1 - eps)
    return torch.acos(cos).mean()


def dice_loss(
    pred_prob: torch.Tensor, target: torch.Tensor, eps: float = 1e-6, squared: bool = True
) -> torch.Tensor:
    """Soft Dice loss (seed 000, eq. 7), per image then the mean over the batch.

    ``1 - (2 sum(m * m_hat) + eps) / (sum(m^2) + sum(m_hat^2) + eps)`` over all pixels (and channels) of an image.
    ``squared=True`` is eq. 7 (the V-Net form); ``squared=False`` is ``1 - 2|P n G| / (|P| + |G|)`` with plain sums.
    The two agree on binary masks. ``eps`` in numerator and denominator makes two empty masks a perfect match
    (loss 0) and never divides by zero. Identical binary masks give 0, disjoint ones 1 (to within eps).

    pred_prob: N x ... probabilities in [0, 1] (e.g. ``sigmoid(logits)``, N x 1 x H x W);
    target: the same shape, a mask in [0, 1]. Returns a scalar in [0, 1].
    """
    p = pred_prob.flatten(1)
    g = target.flatten(1).to(p.dtype)
    inter = (p * g).sum(dim=1)
    if squared:
        total = (p * p).sum(dim=1) + (g * g).sum(dim=1)
    else:
        total = p.sum(dim=1) + g.sum(dim=1)
    return (1 - (2 * inter + eps) / (total + eps)).mean()


def total_variation(x: torch.Tensor, mode: str = "l2") -> torch.Tensor:
    """Total variation of images or flow fields (GFRNet's TV regulariser, seed 004, eq. 10).

    With forward differences ``dx = x[..., :, 1:] - x[..., :, :-1]`` and ``dy = x[..., 1:, :] - x[..., :-1, :]``::

        mode="l2":  mean(dx^2) + mean(dy^2)      (eq. 10: squared gradients of both flow components)
        mode="l1":  mean(|dx|) + mean(|dy|)      (anisotropic TV)

    Choice: means, not the sums of eq. 10, so the weight does not depend on the resolution or batch size
    (eq. 10's sum is ``mean * N * C * H * (W - 1)`` per term). Each mean runs over all channels, so a flow field
    N x 2 x H x W gets the mean over its x and y components.

    x: N x C x H x W (a flow field N x 2 x H x W, or an image). Returns a scalar.
    """
    dx = x[..., :, 1:] - x[..., :, :-1]
    dy = x[..., 1:, :] - x[..., :-1, :]
    if mode == "l2":
        return (dx * dx).mean() + (dy * dy).mean()
    if mode == "l1":
        return dx.abs().mean() + dy.abs().mean()
    raise ValueError(f"total_variation: mode must be 'l1' or 'l2', not {mode!r}")


def fine_band(x: torch.Tensor) -> torch.Tensor:
    """The image minus its 3 x 3 mean: the finest detail (lashes, skin texture, hair). A box filter by pooling
    rather than a Gaussian by a depthwise convolution, which runs ~20x slower under bf16 on the development CPU."""
    return x - F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


def fine_band_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 between the fine bands of `pred` and `target`: weighs the detail a pixel loss averages away."""
    return l1(fine_band(pred), fine_band(target))
