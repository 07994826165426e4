"""Vector quantisation with an EMA-updated codebook (van den Oord et al. 2017, App. A.1; VQ-VAE-2, Razavi et al.
2019), as seed 001 Sec. 3.1.2 uses it on the U-Net's skip features.

Seed 001 eq. 3: ``L_VQ = ||sg(p) - p^q||^2 + ||p - sg(p^q)||^2``. The first (codebook) term is replaced by an
exponential moving average of the vectors assigned to each code; the model is trained with the second
(commitment) term only, weighted by beta (:func:`vq_loss`). Seed 001 computes the EMA "over features extracted
from ground truth high-quality images": quantise the degraded image's features with ``update=False`` and call
:meth:`EMACodebook.ema_update` on the HQ features.

EMA update, for codes k = 1..K with decay d and the batch's vectors z_i assigned to their nearest code::

    n_k <- d n_k + (1 - d) |{i : code(i) = k}|            (cluster size)
    m_k <- d m_k + (1 - d) sum_{i : code(i) = k} z_i         (cluster sum)
    n~_k = (n_k + eps) / (sum_j n_j + K eps) * sum_j n_j      (Laplace smoothing: no division by zero)
    e_k  = m_k / n~_k

Choice: n_k starts at 1 and m_k at e_k (each code "has seen" itself once), so an unused code keeps its value
instead of being divided by a near-zero count (the blow-up of implementations that start n_k at 0).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from frstudio.models.quantize import Codebook


def vq_loss(z: torch.Tensor, quantised: torch.Tensor, beta: float = 0.25, codebook_weight: float = 0.0) -> torch.Tensor:
    """VQ loss: ``beta * mean (z - sg(e))^2 + codebook_weight * mean (sg(z) - e)^2`` (seed 001 eq. 3).

    With an EMA codebook the codebook term is 0 (``codebook_weight=0``, the default): only the commitment term
    remains, which pulls the encoder's output z towards its (fixed) code e. z, quantised: the same shape
    (N x C x H x W); ``quantised`` are the plain code vectors, not the straight-through output. Scalar >= 0.
    """
    loss = beta * F.mse_loss(z.float(), quantised.detach().float())
    if codebook_weight:
        loss = loss + codebook_weight * F.mse_loss(quantised.float(), z.detach().float())
    return loss


@torch.no_grad()
def ema_step(
    codebook: Codebook,
    z: torch.Tensor,
    indices: torch.Tensor | None = None,
    decay: float = 0.99,
    eps: float = 1e-5,
    dead_threshold: float = 0.0,
    generator: torch.Generator | None = None,
) -> None:
    """One EMA step of ``codebook`` towards the vectors of z (N x C x H x W or M x C), assigned to their nearest
    codes (or to ``indices``, as ``Codebook.nearest`` returns them). See the module docstring for the update.
    ``dead_threshold > 0`` restarts codes whose EMA cluster size falls below it: each is moved onto a random
    vector of the batch (Dhariwal et al. 2020, Jukebox), which keeps the whole codebook in use."""
    flat = codebook.flatten(z).detach().float()
    idx = (codebook.nearest(flat) if indices is None else indices).reshape(-1).to(flat.device)
    counts = torch.bincount(idx, minlength=codebook.num_codes).to(flat.dtype)
    sums = torch.zeros_like(codebook.embed).index_add_(0, idx, flat)
    codebook.cluster_size.mul_(decay).add_(counts, alpha=1 - decay)
    codebook.embed_sum.mul_(decay).add_(sums, alpha=1 - decay)
    n = codebook.cluster_size.sum()
    smoothed = (codebook.cluster_size + eps) / (n + codebook.num_codes * eps) * n
    codebook.embed.copy_(codebook.embed_sum / smoothed.unsqueeze(1))
    if dead_threshold > 0:
        dead = (codebook.cluster_size < dead_threshold).nonzero().squeeze(1)
        if dead.numel():
            gen_device = generator.device if generator is not None else flat.device
            pick = torch.randint(0, flat.shape[0], (dead.numel(),), generator=generator, device=gen_device)
            fresh = flat[pick.to(flat.device)]
            codebook.embed[dead] = fresh
            codebook.embed_sum[dead] = fresh
            codebook.cluster_size[dead] = 1.0


class EMACodebook(Codebook):
    """A :class:`Codebook` that learns by EMA on its own: ``forward(z) -> (quantised, loss, indices)``.

    * quantised: N x C x H x W, each position's nearest code with the straight-through estimator;
    * loss: ``vq_loss(z, e, beta)``, the commitment loss ``beta * mean (z - sg(e))^2``;
    * indices: N x H x W int64 code numbers.

    In training mode (or with ``update=True``) the codebook then takes one EMA step (:func:`ema_step`) towards
    the batch's vectors; the outputs use the codebook as it was before the step. Distances and EMA statistics
    are float32 even under autocast.
    """

    def __init__(
        self,
        num_codes: int,
        dim: int,
        beta: float = 0.25,
        decay: float = 0.99,
        eps: float = 1e-5,
        dead_threshold: float = 0.0,
    ):
        super().__init__(num_codes, dim)
        self.beta, self.decay, self.eps, self.dead_threshold = beta, decay, eps, dead_threshold

    def ema_update(
        self, z: torch.Tensor, indices: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> None:
        ema_step(self, z, indices, self.decay, self.eps, self.dead_threshold, generator)

    def forward(
        self, z: torch.Tensor, update: bool | None = None, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """z: N x C x H x W -> (quantised N x C x H x W, commitment loss, indices N x H x W).

        update: take an EMA step from z (default: in training mode). generator: for dead-code restarts."""
        quantised, codes, indices = super().forward(z)
        loss = vq_loss(z, codes, self.beta)
        if self.training if update is None else update:
            self.ema_update(z, indices, generator)
        return quantised, loss, indices
