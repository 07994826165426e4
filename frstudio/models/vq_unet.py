"""Stochastic VQ U-Net (seed paper 001, "Rethinking Deep Face Restoration").

A U-Net on 128 x 128 aligned faces: the encoder halves the resolution four times (128 -> 8 px); the decoder
doubles it back. What the seed changes in the plain U-Net, each switchable in `Config` (its Table 3 ablation):

  - `skips`: how many skip connections are kept, counted from the lowest resolution (16 px, then 32, 64,
    128). The seed keeps fewer, dropping the high-resolution ("low-level") ones: they carry the input's
    degradation most directly and tie the decoder to it (Sec. 3.1.1).
  - `quantize`: each kept skip feature is replaced position by position by its nearest code in a codebook
    learned (by EMA, in training) from the encoder's features of *high-quality* faces (eq. 2-3), so the decoder
    receives features of the kind clean faces produce.
  - `lgf`: linear gated fusion (eq. 4) merges skip p and decoder q as q + s * p, with a gate s computed from
    (p + q) average-pooled by r = 2^(log2 H - 5) (to at most 32 x 32), a learned linear map over the spatial
    positions, a sigmoid and up-sampling back. Without it the two are added (the baseline).
  - `noise`: Gaussian noise enters every decoder convolution and every kept skip, each scaled per channel by
    sigmoid(A z), where z is the encoder's latent vector (eq. 6: the input decides how much variety it admits).
    The decoder's convolutions are modulated and demodulated by a style from z (StyleGAN2).

Beyond the seed, `input_residual` (default on): the RGB head predicts a correction added to the input, as in
the project's other models; with a CPU training budget of thousands of steps, a network that must re-draw the
whole face from 8 x 8 learns colour and low frequencies first and fine detail last.

The model is stochastic: `forward(x, seed=...)` draws each face's noise from its own generator seeded per call,
so a face and a seed give one result; the engine's variants are different seeds. `seed=None` draws from torch's
global generator (training).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from frstudio.models.blocks import ModulatedConv, ResidualBlock, leaky
from frstudio.models.contract import config_dict
from frstudio.models.quantize import Codebook

SIZE = 128
LEVELS = 4  # 128 -> 64 -> 32 -> 16 -> 8
SKIP_RESOLUTIONS = (16, 32, 64, 128)  # skips are kept from the lowest resolution up


@dataclass
class Config:
    widths: tuple = (16, 32, 64, 96, 128)  # channels at 128, 64, 32, 16, 8 px
    skips: int = 2
    quantize: bool = True
    lgf: bool = True
    noise: bool = True
    codes: int = 256  # codebook size per kept skip
    latent: int = 128  # z
    style: int = 128  # w, from z by a two-layer MLP
    input_residual: bool = True

    def __post_init__(self):
        self.widths = tuple(int(w) for w in self.widths)
        if len(self.widths) != LEVELS + 1:
            raise ValueError("widths needs 5 entries: channels at 128, 64, 32, 16 and 8 px")
        if not 0 <= int(self.skips) <= LEVELS:
            raise ValueError(f"skips must be 0 to {LEVELS}")
        self.skips = int(self.skips)

    def kept(self) -> tuple[int, ...]:
        """Resolutions of the kept skip connections."""
        return SKIP_RESOLUTIONS[: self.skips]

    def width_at(self, resolution: int) -> int:
        return self.widths[int(math.log2(SIZE // resolution))]


class GatedNoise(nn.Module):
    """Eq. 6: eps_c = sigmoid(A z) * eps, eps ~ N(0, 1) one value per pixel, scaled per channel. A's bias
    starts at -3 (a gate of 0.05), so early training is not swamped by noise the network has not learned to
    use."""

    def __init__(self, channels: int, latent: int):
        super().__init__()
        self.gate = nn.Linear(latent, channels)
        nn.init.zeros_(self.gate.weight)
        nn.init.constant_(self.gate.bias, -3.0)

    def forward(self, x: torch.Tensor, z: torch.Tensor, generators: list[torch.Generator] | None) -> torch.Tensor:
        n, _, h, w = x.shape
        if generators is None:
            eps = torch.randn((n, 1, h, w), device=x.device, dtype=torch.float32)
        else:  # one generator per face: a face's noise does not depend on the batch it is in
            eps = torch.cat([torch.randn((1, 1, h, w), generator=g, device=x.device, dtype=torch.float32) for g in generators])
        return x + (torch.sigmoid(self.gate(z).float())[:, :, None, None] * eps).to(x.dtype)


class LinearGatedFusion(nn.Module):
    """Eq. 4: o = DownSample_r(p + q) W; s = UpSample_r(sigmoid(o)); q* = s (p + q) + (1 - s) q.
    W acts on the (H / r)^2 spatial positions, shared over channels. W and its bias start at zero: s = 1/2."""

    def __init__(self, resolution: int):
        super().__init__()
        self.r = 2 ** (int(math.log2(resolution)) - 5) if resolution > 32 else 1
        self.side = resolution // self.r
        self.linear = nn.Linear(self.side**2, self.side**2)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        both = p + q
        pooled = F.avg_pool2d(both, self.r) if self.r > 1 else both
        n, c = pooled.shape[:2]
        o = self.linear(pooled.reshape(n, c, self.side**2)).reshape(n, c, self.side, self.side)
        s = torch.sigmoid(o)
        if self.r > 1:
            s = F.interpolate(s, scale_factor=self.r, mode="nearest")
        return q + s * p


class DecoderBlock(nn.Module):
    """Up-sample, two modulated convolutions, each followed by gated noise (when on) and the activation."""

    def __init__(self, c_in: int, c_out: int, config: Config):
        super().__init__()
        self.conv1 = ModulatedConv(c_in, c_out, config.style)
        self.conv2 = ModulatedConv(c_out, c_out, config.style)
        self.noise1 = GatedNoise(c_out, config.latent) if config.noise else None
        self.noise2 = GatedNoise(c_out, config.latent) if config.noise else None

    def forward(self, h, w, z, generators):
        h = F.interpolate(h, scale_factor=2, mode="nearest")
        for conv, noise in ((self.conv1, self.noise1), (self.conv2, self.noise2)):
            h = conv(h, w)
            if noise is not None:
                h = noise(h, z, generators)
            h = leaky(h)
        return h


class VQUNet(nn.Module):

    def __init__(self, config: Config):
        super().__init__()
        self.config = config
        w = config.widths
        self.stem = nn.Conv2d(3, w[0], 3, padding=1)
        self.encoder = nn.ModuleList(ResidualBlock(w[i]) for i in range(LEVELS))
        self.down = nn.ModuleList(nn.Conv2d(w[i], w[i + 1], 4, stride=2, padding=1) for i in range(LEVELS))
        self.bottleneck = ResidualBlock(w[LEVELS])
        self.to_latent = nn.Linear(w[LEVELS] * 64, config.latent)
        self.mapping = nn.Sequential(nn.Linear(config.latent, config.style), nn.LeakyReLU(0.2), nn.Linear(config.style, config.style))
        self.decoder = nn.ModuleList(DecoderBlock(w[LEVELS - i], w[LEVELS - i - 1], config) for i in range(LEVELS))
        kept = config.kept()
        self.codebooks = nn.ModuleDict({str(r): Codebook(config.codes, config.width_at(r)) for r in kept} if config.quantize else {})
        self.fusions = nn.ModuleDict({str(r): LinearGatedFusion(r) for r in kept} if config.lgf else {})
        self.skip_noise = nn.ModuleDict({str(r): GatedNoise(config.width_at(r), config.latent) for r in kept} if config.noise else {})
        self.to_rgb = nn.Conv2d(w[0], 3, 1)

    def encode(self, x: torch.Tensor) -> tuple[dict[int, torch.Tensor], torch.Tensor, torch.Tensor]:
        """(features at each kept skip resolution before quantisation, bottleneck 8 x 8 features, latent z)."""
        h = leaky(self.stem(x))
        kept, skips = self.config.kept(), {}
        for i in range(LEVELS):
            h = self.encoder[i](h)
            resolution = SIZE >> i
            if resolution in kept:
                skips[resolution] = h
            h = leaky(self.down[i](h))
        h = self.bottleneck(h)
        z = self.to_latent(h.flatten(1))
        return skips, h, z

    def forward(self, x: torch.Tensor, seed: int | Sequence[int] | None = None, return_features: bool = False):
        """Restored faces N x 3 x 128 x 128 (unclamped; the app clamps). seed: the noise's seed, one for every
        face or one per face; a face and a seed always give the same result, whatever else is in the batch.
        None draws from the global generator (training). return_features: also the skip features before
        quantisation and their codes, for the commitment loss: (image, {resolution: (features, codes)})."""
        generators = None
        if seed is not None and self.config.noise:
            seeds = [int(seed)] * x.shape[0] if isinstance(seed, int) else [int(s) for s in seed]
            if len(seeds) != x.shape[0]:
                raise ValueError(f"{len(seeds)} seeds for {x.shape[0]} faces")
            generators = [torch.Generator(device=x.device).manual_seed(s) for s in seeds]
        skips, h, z = self.encode(x)
        w = self.mapping(z)
        quantized = {}
        for i, block in enumerate(self.decoder):
            h = block(h, w, z, generators)
            resolution = 16 << i
            if resolution not in skips:
                continue
            p = skips[resolution]
            key = str(resolution)
            if key in self.codebooks:
                q, codes, _ = self.codebooks[key](p)
                quantized[resolution] = (p, codes)
                p = q
            if key in self.skip_noise:
                p = self.skip_noise[key](p, z, generators)
            h = self.fusions[key](p, h) if key in self.fusions else h + p
        rgb = self.to_rgb(h)
        if self.config.input_residual:
            rgb = rgb + x
        return (rgb, quantized) if return_features else rgb


def build(config: dict | Config) -> VQUNet:
    if isinstance(config, dict):
        config = Config(**config)
    return VQUNet(config)


def default_config() -> dict:
    return config_dict(Config())
