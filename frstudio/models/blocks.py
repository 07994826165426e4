"""Building blocks shared by the project's networks."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def leaky(x: torch.Tensor) -> torch.Tensor:
    """LeakyReLU with slope 0.2, the GAN generators' activation."""
    return F.leaky_relu(x, 0.2)


class ResidualBlock(nn.Module):
    """x + conv(leaky(conv(x))): two 3 x 3 convolutions, no normalisation (small batches and GAN critics do not
    mix well with batch statistics)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return x + self.conv2(leaky(self.conv1(x)))


class ModulatedConv(nn.Module):
    """StyleGAN2's modulated convolution, in its unfused form: scale the input channels by the style, convolve
    with the shared weight, and (when `demodulate`) divide each output channel by the norm its modulated
    weight would have. The same result as per-sample weights, but one ordinary convolution for the batch (a
    grouped convolution with a weight per sample is several times slower on CPU). The style's affine map
    starts at zero weight and unit bias: a plain convolution."""

    def __init__(self, c_in: int, c_out: int, style: int, kernel: int = 3, demodulate: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.scale = 1 / math.sqrt(c_in * kernel * kernel)
        self.padding = kernel // 2
        self.demodulate = demodulate
        self.affine = nn.Linear(style, c_in)
        nn.init.zeros_(self.affine.weight)
        nn.init.ones_(self.affine.bias)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        s = self.affine(w)  # N x C_in
        weight = self.weight * self.scale
        out = F.conv2d(x * s[:, :, None, None].to(x.dtype), weight.to(x.dtype), padding=self.padding)
        if self.demodulate:
            demod = torch.rsqrt((weight.float().pow(2).sum(dim=(2, 3))[None] * s.float().pow(2)[:, None, :]).sum(2) + 1e-8)
            out = out * demod[:, :, None, None].to(out.dtype)
        return out + self.bias[None, :, None, None].to(out.dtype)
