"""A codebook of feature vectors and nearest-code replacement (seed 001 eq. 2), the inference half of vector
quantisation.

The codebook is a set of buffers, not parameters: it is learned by an exponential moving average of the
vectors assigned to each code (van den Oord et al. 2017, App. A.1), which lives with the training code
(`training.losses.vq.ema_step`). `cluster_size` and `embed_sum` are that average's state; they are kept here
so a network's state dict (and its EMA copy, which follows the live network's buffers) carries them.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class Codebook(nn.Module):
    """``num_codes`` vectors of size ``dim`` for N x dim x H x W feature maps.

    ``forward(z) -> (quantised, codes, indices)``: each position replaced by its nearest code (Euclidean);
    ``quantised = z + sg(codes - z)`` has the codes' values and passes gradients to z unchanged
    (straight-through); ``codes`` are the plain code vectors (for the commitment loss); indices N x H x W.
    """

    def __init__(self, num_codes: int, dim: int):
        super().__init__()
        self.num_codes, self.dim = num_codes, dim
        embed = torch.randn(num_codes, dim)
        self.register_buffer("embed", embed)  # K x D, the codes
        self.register_buffer("cluster_size", torch.ones(num_codes))  # K, EMA of assignment counts
        self.register_buffer("embed_sum", embed.clone())  # K x D, EMA of the assigned vectors' sums

    @torch.no_grad()
    def init_codes(self, codes: torch.Tensor) -> None:
        """Set the codebook (K x D), e.g. to vectors drawn from the data, and reset the EMA statistics."""
        self.embed.copy_(codes)
        self.embed_sum.copy_(codes)
        self.cluster_size.fill_(1.0)

    def flatten(self, z: torch.Tensor) -> torch.Tensor:
        """N x C x H x W -> (N H W) x C, or M x C unchanged."""
        if z.dim() == 4:
            if z.shape[1] != self.dim:
                raise ValueError(f"Codebook: {z.shape[1]} channels for codes of size {self.dim}")
            return z.permute(0, 2, 3, 1).reshape(-1, self.dim)
        if z.dim() == 2 and z.shape[1] == self.dim:
            return z
        raise ValueError(f"Codebook: expected N x {self.dim} x H x W or M x {self.dim}, got {tuple(z.shape)}")

    @torch.no_grad()
    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """Index of the nearest code for each vector: N x C x H x W -> N x H x W, or M x C -> M."""
        flat = self.flatten(z).float()
        embed = self.embed.float()
        with torch.autocast(device_type=flat.device.type, enabled=False):  # no bf16 matmul: near ties matter
            dist = (flat * flat).sum(1, keepdim=True) - 2 * flat @ embed.t() + (embed * embed).sum(1)
        idx = dist.argmin(dim=1)
        return idx.view(z.shape[0], z.shape[2], z.shape[3]) if z.dim() == 4 else idx

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """Code vectors for N x H x W indices -> N x C x H x W (decoding a code map)."""
        return F.embedding(indices, self.embed).permute(0, 3, 1, 2).contiguous()

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        indices = self.nearest(z)
        codes = self.lookup(indices).to(z.dtype)
        return z + (codes - z).detach(), codes, indices
