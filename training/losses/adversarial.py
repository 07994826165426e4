"""Adversarial losses and discriminator regularisers.

Logits are the discriminator's raw outputs (any shape, e.g. N x 1 or a PatchGAN's N x 1 x h x w); every loss is
the mean over all of them. Each ``*_d_loss`` is minimised by the discriminator, each ``*_g_loss`` by the
generator. Penalty weights (lambda, gamma / 2) are left to the caller.

* Non-saturating (Goodfellow et al. 2014; seed 001 eqs. 8-9, seed 002 eq. 11), in softplus form:
  ``-log sigmoid(l) = softplus(-l)`` and ``-log(1 - sigmoid(l)) = softplus(l)``.
* Hinge (Lim & Ye 2017; Miyato et al. 2018).
* WGAN (Arjovsky et al. 2017) with the gradient penalty of Gulrajani et al. 2017 (seed 003 eq. 2).
* R1 (Mescheder et al. 2018), feature matching (pix2pixHD; seed 002 eq. 14).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.nn import functional as F


def _mean(values: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    if weight is None:
        return values.mean()
    weight = weight.expand_as(values)
    return (values * weight).sum() / weight.sum().clamp_min(1.0)


def ns_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, real_label: float = 1.0,
              weight: torch.Tensor | None = None) -> torch.Tensor:
    """Non-saturating discriminator loss: ``E[-log D(real)] + E[-log(1 - D(fake))]``, D = sigmoid(logit).

    ``= mean softplus(-real) + mean softplus(fake)``; both terms are ln 2 at logit 0.
    ``real_label < 1`` is one-sided label smoothing (GFRNet, seed 004 Sec. 3.3, uses 0.9): the real term becomes
    the binary cross-entropy with target ``real_label``, ``real_label * softplus(-l) + (1 - real_label) * softplus(l)``.
    ``weight`` (broadcastable to the logits, >= 0): a weighted mean instead, e.g. a patch discriminator's verdicts
    counted only where a mask says.
    """
    real = real_label * F.softplus(-real_logits) + (1 - real_label) * F.softplus(real_logits)
    return _mean(real, weight) + _mean(F.softplus(fake_logits), weight)


def ns_g_loss(fake_logits: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Non-saturating generator loss: ``E[-log D(fake)] = mean softplus(-fake)`` (seed 001 eq. 9); ``weight`` as
    in :func:`ns_d_loss`."""
    return _mean(F.softplus(-fake_logits), weight)


def hinge_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Hinge discriminator loss: ``mean relu(1 - real) + mean relu(1 + fake)``."""
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def hinge_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Hinge generator loss: ``-mean fake``."""
    return -fake_logits.mean()


def wgan_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """WGAN critic loss: ``mean D(fake) - mean D(real)`` (seed 003 eq. 2 with the sign for minimising;
    add ``lambda * gradient_penalty(...)``)."""
    return fake_logits.mean() - real_logits.mean()


def wgan_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """WGAN generator loss: ``-mean D(fake)``."""
    return -fake_logits.mean()


def gradient_penalty(
    discriminator: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """WGAN-GP gradient penalty (seed 003 eq. 2, Gulrajani et al. 2017), without its weight lambda.

    ``E[(||grad_x D(x_hat)||_2 - 1)^2]`` at ``x_hat = a * real + (1 - a) * fake``, ``a ~ U(0, 1)`` per sample,
    the norm over all of a sample's elements. Real and fake are detached; the graph is kept
    (``create_graph=True``) so the penalty trains the discriminator's parameters.

    discriminator: N x ... -> logits (summed over everything but the batch). real, fake: N x C x H x W.
    generator: optional ``torch.Generator`` for the mixing weights. Returns a scalar >= 0.
    """
    real, fake = real.detach(), fake.detach()
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    gen_device = generator.device if generator is not None else real.device
    alpha = torch.rand(shape, generator=generator, device=gen_device, dtype=real.dtype).to(real.device)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    out = discriminator(mixed)
    (grad,) = torch.autograd.grad(out.sum(), mixed, create_graph=True)
    norm = grad.flatten(1).norm(2, dim=1)
    return ((norm - 1) ** 2).mean()


def r1_penalty(real_logits: torch.Tensor, real_images: torch.Tensor) -> torch.Tensor:
    """R1 penalty (Mescheder et al. 2018): ``E[||grad_x D(x)||^2]`` on real images, without its gamma / 2.

    ``real_images`` must have ``requires_grad=True`` *before* the discriminator is run on it
    (``real.requires_grad_(True); logits = D(real)``). The graph is kept so the penalty trains D.
    real_logits: D(real_images), any shape; real_images: N x C x H x W. Returns a scalar >= 0.
    """
    if not real_images.requires_grad:
        raise ValueError("r1_penalty: call real_images.requires_grad_(True) before running the discriminator")
    (grad,) = torch.autograd.grad(real_logits.sum(), real_images, create_graph=True)
    return grad.pow(2).flatten(1).sum(dim=1).mean()


def feature_matching(
    real_feats: Sequence[torch.Tensor], fake_feats: Sequence[torch.Tensor]
) -> torch.Tensor:
    """Discriminator feature matching (pix2pixHD; seed 002 eq. 14): ``sum_i mean |psi_i(fake) - sg(psi_i(real))|``.

    Lists of feature maps, one per discriminator layer, real and fake in the same order and shapes; the real
    features are detached, so only the generator is trained. Choice: L1 per layer (pix2pixHD's form; seed 002
    writes an L2 norm), summed over layers as in eq. 14.
    """
    if len(real_feats) != len(fake_feats):
        raise ValueError(f"feature_matching: {len(real_feats)} real feature maps but {len(fake_feats)} fake")
    total = fake_feats[0].new_zeros(())
    for r, f in zip(real_feats, fake_feats):
        total = total + F.l1_loss(f, r.detach())
    return total
