"""MMRB codec with a StyleGAN2 prior (seed paper 002, "Enhancing quality of pose-varied face restoration with
local weak feature sensing and GAN prior").

Two parts on 128 x 128 aligned faces:

  - `Generator`: a small StyleGAN2 (mapping MLP z -> w, a learned 4 x 4 constant, modulated / demodulated
    convolutions, skip RGB outputs summed over 4 ... 128 px). Each style block takes, besides the previous
    block's output, a "noise branch" at its resolution, *concatenated* to its features (eq. 3) rather than added
    as a single scaled noise channel. Unconditional pre-training feeds Gaussian noise there; restoration feeds
    the codec's decoder features.
  - `Codec`: an asymmetric encoder / decoder of mixed multi-path residual blocks (MMRB, eq. 4-10). The encoder
    (`enc_mmrb` blocks per scale) maps the degraded face to the latent code Z, which the generator's mapping
    network turns into W (eq. 1-2); the decoder (`dec_mmrb` blocks per scale, fewer than the encoder's) rebuilds
    feature maps at every resolution from the encoder's and hands them to the generator's noise branches. Each
    decoder scale also has a 1 x 1 RGB head: training puts an L1 loss on it (the seed's "L1 restoration loss for
    each resolution scale of the reconstructed feature maps"), so the features stay image-like and clean.

`MMRBStyleGAN.forward(lq)` returns the restored faces; `forward(lq, return_pyramid=True)` also the decoder's RGB
images per scale, for that loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from frstudio.models.blocks import ModulatedConv, leaky
from frstudio.models.contract import config_dict

SIZE = 128
RESOLUTIONS = (4, 8, 16, 32, 64, 128)


@dataclass
class Config:
    channels: tuple = (128, 128, 96, 64, 32, 16)  # generator channels at 4, 8, ..., 128 px
    noise_channels: tuple = (32, 32, 32, 32, 16, 16)  # noise-branch / decoder channels at 4, 8, ..., 128 px
    style: int = 128  # w
    latent: int = 128  # z
    mapping_layers: int = 8
    enc_channels: tuple = (16, 32, 64, 96, 128, 128)  # encoder channels at 128, 64, ..., 4 px
    enc_mmrb: int = 1  # MMRBs per encoder scale
    dec_mmrb: int = 0  # MMRBs per decoder scale: the codec is asymmetric, the encoder has one more

    def __post_init__(self):
        self.channels = tuple(int(c) for c in self.channels)
        self.noise_channels = tuple(int(c) for c in self.noise_channels)
        self.enc_channels = tuple(int(c) for c in self.enc_channels)
        for name in ("channels", "noise_channels", "enc_channels"):
            if len(getattr(self, name)) != len(RESOLUTIONS):
                raise ValueError(f"{name} needs {len(RESOLUTIONS)} entries, one per resolution 4 ... 128 px")
        if any(c % 2 for c in self.enc_channels):
            raise ValueError("enc_channels must be even: an MMRB splits its channels in two halves")


# ------------------------------------------------------------------------------------------------ the prior


class MappingNetwork(nn.Module):
    """z -> w: pixel-normalised z through `layers` fully connected layers with leaky ReLU (StyleGAN's 8-layer
    MLP). Training gives it a 100x lower learning rate, as StyleGAN does."""

    def __init__(self, latent: int, style: int, layers: int):
        super().__init__()
        dims = [latent] + [style] * layers
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims, dims[1:]))
        # Variance-preserving init (He, for the leaky ReLU) and zero biases: with PyTorch's default init each
        # layer shrinks the z-dependent part ~6x, so after 8 layers w hardly depends on z and every sample of
        # a first prior run (500 steps) was the same face.
        for layer in self.layers:
            nn.init.kaiming_normal_(layer.weight, a=0.2)
            nn.init.zeros_(layer.bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = z * torch.rsqrt(z.float().pow(2).mean(dim=1, keepdim=True) + 1e-8).to(z.dtype)
        for layer in self.layers:
            h = leaky(layer(h))
        return h


class StyleBlock(nn.Module):
    """One resolution of the generator: (up-sample and a modulated convolution, unless it is the first),
    concatenate the noise branch (eq. 3), a second modulated convolution, and a modulated 1 x 1 RGB output."""

    def __init__(self, c_in: int, c_out: int, noise: int, style: int, first: bool):
        super().__init__()
        self.up = None if first else ModulatedConv(c_in, c_out, style)
        self.conv = ModulatedConv((c_in if first else c_out) + noise, c_out, style)
        self.to_rgb = ModulatedConv(c_out, 3, style, kernel=1, demodulate=False)

    def forward(self, y: torch.Tensor, noise: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.up is not None:
            y = leaky(self.up(F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=False), w))
        y = leaky(self.conv(torch.cat([y, noise.to(y.dtype)], dim=1), w))
        return y, self.to_rgb(y, w)


class Generator(nn.Module):
    def __init__(self, config: Config):
        super().__init__()
        self.config = config
        c, n = config.channels, config.noise_channels
        self.mapping = MappingNetwork(config.latent, config.style, config.mapping_layers)
        self.const = nn.Parameter(torch.randn(1, c[0], 4, 4))
        self.blocks = nn.ModuleList(
            StyleBlock(c[max(i - 1, 0)], c[i], n[i], config.style, first=i == 0) for i in range(len(RESOLUTIONS))
        )
        # running mean of w, for truncated samples of the prior (a buffer: exported with the weights)
        self.register_buffer("w_avg", torch.zeros(config.style))
        # StyleGAN2 starts the style maps random (unit bias), so each w gives another style from the first step;
        # ModulatedConv's default (zero weights: a plain convolution) suits the conditional vq_unet instead
        for module in self.modules():
            if isinstance(module, ModulatedConv):
                nn.init.normal_(module.affine.weight, std=1 / math.sqrt(config.style))

    def random_noise(self, batch: int, generator: torch.Generator | None = None, device=None) -> list[torch.Tensor]:
        """The noise branches of unconditional sampling: N(0, 1), one tensor per resolution."""
        return [
            torch.randn((batch, ch, r, r), generator=generator, device=device)
            for r, ch in zip(RESOLUTIONS, self.config.noise_channels)
        ]

    def synthesis(self, w: torch.Tensor, noise: list[torch.Tensor]) -> torch.Tensor:
        y = self.const.expand(w.shape[0], -1, -1, -1).to(w.dtype)
        rgb = None
        for block, branch in zip(self.blocks, noise):
            y, out = block(y, branch, w)
            rgb = out if rgb is None else F.interpolate(rgb, scale_factor=2, mode="bilinear", align_corners=False) + out
        return rgb * 0.5 + 0.5  # the prior works in [-1, 1] as StyleGAN does; images are [0, 1]

    def forward(self, z: torch.Tensor, noise: list[torch.Tensor] | None = None, truncation: float = 1.0) -> torch.Tensor:
        """Unconditional samples from latent codes z (N x latent), in [0, 1] (unclamped)."""
        w = self.mapping(z)
        if truncation != 1.0:
            w = self.w_avg.to(w.dtype) + truncation * (w - self.w_avg.to(w.dtype))
        if noise is None:
            noise = self.random_noise(z.shape[0], device=z.device)
        return self.synthesis(w, noise)


# ------------------------------------------------------------------------------------------------ the codec


class MMRB(nn.Module):
    """Mixed multi-path residual block (eq. 4-10): split the channels in two halves; a 3 x 3 and a 5 x 5
    branch (one per half); both branches again on the concatenation of the two (cross-concatenation); a 1 x 1
    convolution fuses the second pair back to C channels; PReLU after every convolution; residual add."""

    def __init__(self, channels: int):
        super().__init__()
        half = channels // 2
        self.a3, self.a5 = nn.Conv2d(half, half, 3, padding=1), nn.Conv2d(half, half, 5, padding=2)
        self.b3, self.b5 = nn.Conv2d(channels, channels, 3, padding=1), nn.Conv2d(channels, channels, 5, padding=2)
        self.fuse = nn.Conv2d(2 * channels, channels, 1)
        self.act = nn.ModuleList(nn.PReLU(n) for n in (half, half, channels, channels, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = x.chunk(2, dim=1)  # eq. 4
        p = torch.cat([self.act[0](self.a3(x1)), self.act[1](self.a5(x2))], dim=1)  # eq. 5-6
        q = torch.cat([self.act[2](self.b3(p)), self.act[3](self.b5(p))], dim=1)  # eq. 7-8
        return x + self.act[4](self.fuse(q))  # eq. 9-10


class Codec(nn.Module):
    def __init__(self, config: Config):
        super().__init__()
        e = config.enc_channels  # 128 ... 4 px
        n = config.noise_channels  # 4 ... 128 px
        levels = len(RESOLUTIONS)
        self.stem = nn.Conv2d(3, e[0], 3, padding=1)
        self.encoder = nn.ModuleList(nn.Sequential(*(MMRB(e[i]) for _ in range(config.enc_mmrb))) for i in range(levels))
        self.down = nn.ModuleList(nn.Conv2d(e[i], e[i + 1], 3, stride=2, padding=1) for i in range(levels - 1))
        self.to_latent = nn.Linear(e[-1] * 16, config.latent)
        # decoder, 4 -> 128 px: from the encoder's feature at the scale and the decoder's from below
        self.dec_in = nn.ModuleList(
            nn.Conv2d(e[levels - 1 - i] + (n[i - 1] if i else 0), n[i], 3, padding=1) for i in range(levels)
        )
        self.decoder = nn.ModuleList(nn.Sequential(*(MMRB(n[i]) for _ in range(config.dec_mmrb))) for i in range(levels))
        self.to_rgb = nn.ModuleList(nn.Conv2d(c, 3, 1) for c in n)

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """(decoder features at 4 ... 128 px, latent code Z)."""
        h = leaky(self.stem(x * 2 - 1))
        skips = []
        for i, block in enumerate(self.encoder):
            h = block(h)
            skips.append(h)
            if i < len(self.down):
                h = leaky(self.down[i](h))
        z = self.to_latent(h.flatten(1))
        feats, d = [], None
        for i, (conv, block) in enumerate(zip(self.dec_in, self.decoder)):
            e = skips[len(skips) - 1 - i]
            if d is not None:
                e = torch.cat([e, F.interpolate(d, scale_factor=2, mode="bilinear", align_corners=False)], dim=1)
            d = block(leaky(conv(e)))
            feats.append(d)
        return feats, z

    def pyramid(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        """RGB images in [0, 1] from the decoder's features at every scale (training's per-scale L1)."""
        return [head(f) * 0.5 + 0.5 for head, f in zip(self.to_rgb, feats)]


class MMRBStyleGAN(nn.Module):
    def __init__(self, config: Config):
        super().__init__()
        self.config = config
        self.codec = Codec(config)
        self.generator = Generator(config)

    def forward(self, x: torch.Tensor, return_pyramid: bool = False):
        """Restored faces N x 3 x 128 x 128 in [0, 1] (unclamped; the app clamps); with `return_pyramid`,
        (image, [decoder RGB at 4 ... 128 px])."""
        feats, z = self.codec(x)
        w = self.generator.mapping(z)  # eq. 2
        image = self.generator.synthesis(w, feats)  # eq. 3
        return (image, self.codec.pyramid(feats)) if return_pyramid else image


def build(config: dict | Config) -> MMRBStyleGAN:
    if isinstance(config, dict):
        config = Config(**config)
    return MMRBStyleGAN(config)


def default_config() -> dict:
    return config_dict(Config())

