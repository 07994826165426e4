"""Building blocks shared by the project's networks."""

from __future__ import annotations

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
