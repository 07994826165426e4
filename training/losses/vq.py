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
from torch import nn
from torch.nn import functional as F


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


class EMACodebook(nn.Module):
    """A codebook of ``num_codes`` vectors of size ``dim``, updated by EMA, for N x dim x H x W feature maps.

    ``forward(z) -> (quantised, loss, indices)``:

    * quantised: N x C x H x W, each position's nearest code (Euclidean), with the straight-through estimator
      ``z + sg(e - z)``: its value is e, its gradient passes to z unchanged;
    * loss: ``vq_loss(z, e, beta)``, the commitment loss ``beta * mean (z - sg(e))^2``;
    * indices: N x H x W int64 code numbers.

    In training mode (or with ``update=True``) the codebook then takes one EMA step towards the batch's vectors;
    the outputs use the codebook as it was before the step. Distances and EMA statistics are float32 even under
    autocast. ``dead_threshold > 0`` restarts codes whose EMA cluster size falls below it: each is moved onto a
    random vector of the batch (Dhariwal et al. 2020, Jukebox), which keeps the whole codebook in use.
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
        super().__init__()
        self.num_codes, self.dim = num_codes, dim
        self.beta, self.decay, self.eps, self.dead_threshold = beta, decay, eps, dead_threshold
        embed = torch.randn(num_codes, dim)
        self.register_buffer("embed", embed)  # K x D, the codes
        self.register_buffer("cluster_size", torch.ones(num_codes))  # K, EMA of assignment counts
        self.register_buffer("embed_sum", embed.clone())  # K x D, EMA of assigned vectors' sums

    @torch.no_grad()
    def init_codes(self, codes: torch.Tensor) -> None:
        """Set the codebook (K x D), e.g. to vectors drawn from the data, and reset the EMA statistics."""
        self.embed.copy_(codes)
        self.embed_sum.copy_(codes)
        self.cluster_size.fill_(1.0)

    def _flatten(self, z: torch.Tensor) -> torch.Tensor:
        """N x C x H x W -> (N H W) x C, or M x C unchanged."""
        if z.dim() == 4:
            if z.shape[1] != self.dim:
                raise ValueError(f"EMACodebook: {z.shape[1]} channels for codes of size {self.dim}")
            return z.permute(0, 2, 3, 1).reshape(-1, self.dim)
        if z.dim() == 2 and z.shape[1] == self.dim:
            return z
        raise ValueError(f"EMACodebook: expected N x {self.dim} x H x W or M x {self.dim}, got {tuple(z.shape)}")

    @torch.no_grad()
    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """Index of the nearest code for each vector: N x C x H x W -> N x H x W, or M x C -> M."""
        flat = self._flatten(z).float()
        with torch.autocast(device_type=flat.device.type, enabled=False):  # no bf16 matmul: near ties matter
            dist = (flat * flat).sum(1, keepdim=True) - 2 * flat @ self.embed.t() + (self.embed * self.embed).sum(1)
        idx = dist.argmin(dim=1)
        return idx.view(z.shape[0], z.shape[2], z.shape[3]) if z.dim() == 4 else idx

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """Code vectors for N x H x W indices -> N x C x H x W (decoding a code map)."""
        return F.embedding(indices, self.embed).permute(0, 3, 1, 2).contiguous()

    @torch.no_grad()
    def ema_update(
        self, z: torch.Tensor, indices: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> None:
        """One EMA step of the codebook towards the vectors of z (N x C x H x W or M x C), assigned to their
        nearest codes (or to ``indices``, as ``nearest`` returns them). See the module docstring for the update."""
        flat = self._flatten(z).detach().float()
        idx = (self.nearest(flat) if indices is None else indices).reshape(-1).to(flat.device)
        counts = torch.bincount(idx, minlength=self.num_codes).to(flat.dtype)
        sums = torch.zeros_like(self.embed).index_add_(0, idx, flat)
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.embed_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        n = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.eps) / (n + self.num_codes * self.eps) * n
        self.embed.copy_(self.embed_sum / smoothed.unsqueeze(1))
        if self.dead_threshold > 0:
            dead = (self.cluster_size < self.dead_threshold).nonzero().squeeze(1)
            if dead.numel():
                gen_device = generator.device if generator is not None else flat.device
                pick = torch.randint(0, flat.shape[0], (dead.numel(),), generator=generator, device=gen_device)
                fresh = flat[pick.to(flat.device)]
                self.embed[dead] = fresh
                self.embed_sum[dead] = fresh
                self.cluster_size[dead] = 1.0

    def forward(
        self, z: torch.Tensor, update: bool | None = None, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """z: N x C x H x W -> (quantised N x C x H x W, commitment loss, indices N x H x W).

        update: take an EMA step from z (default: in training mode). generator: for dead-code restarts."""
        indices = self.nearest(z)
        codes = self.lookup(indices).to(z.dtype)
        loss = vq_loss(z, codes, self.beta)
        quantised = z + (codes - z).detach()
        if self.training if update is None else update:
            self.ema_update(z, indices, generator)
        return quantised, loss, indices
