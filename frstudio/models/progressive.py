"""Progressive landmark-attention GAN generator (seed paper 003, Golan & Zoppellari, after Kim et al. 2019).

Three steps, each doubling the resolution: 16 -> 32 -> 64 -> 128. Every step has its own to-RGB head, so
training can run the first step alone, then steps 1-2, then all three (the seed's progressive training); in
the app the whole generator runs. Two objectives share the design:

  - "16":  a 16 x 16 blind face up-scaled and restored to 128 x 128 (tiny faces of group photos);
  - "128": a 128 x 128 blind face restored at the same size; an encoder maps it to the seed's
           512 x 16 x 16 tensor, which step 1 takes instead of the 16 x 16 image.

Choices where the seed is silent (its figures are not in the text): residual blocks of two 3x3 convolutions
(LeakyReLU, no normalisation: the WGAN-GP critic and batch statistics of small batches do not mix well),
nearest-neighbour up-sampling followed by a convolution (no transposed-convolution checkerboard), widths
halving as the resolution doubles, and residual blocks in the encoder (the seed's own "future work").

Beyond the seed, `input_skip` (default on): each step's RGB head predicts a correction added to the input
resized to that step's resolution, so the network learns what the degradation removed instead of
re-synthesising the whole face; without it the 16 x 16 bottleneck of the "128" objective cannot carry a
128 x 128 face's detail and the output is blurrier than its input.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from frstudio.models.blocks import ResidualBlock, leaky
from frstudio.models.contract import config_dict

OBJECTIVES = ("16", "128")
STEPS = 3


@dataclass
class Config:
    objective: str = "16"
    widths: tuple = (128, 64, 32, 16)  # features at 16, 32, 64, 128 px
    blocks: tuple = (3, 2, 1)  # residual blocks at 16, 32 and 64 px (the 128 px stage has one convolution)
    encoder_width: int = 16  # "128" objective: channels of the encoder's first (128 px) stage
    encoder_channels: int = 512  # the seed's 512 x 16 x 16 hand-over to step 1
    input_skip: bool = True

    def __post_init__(self):
        self.objective = str(self.objective)  # 16 from a command line or JSON means "16"
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, not {self.objective!r}")
        self.widths, self.blocks = tuple(self.widths), tuple(self.blocks)
        if len(self.widths) != STEPS + 1 or len(self.blocks) != STEPS:
            raise ValueError("widths needs 4 entries (16, 32, 64, 128 px) and blocks 3")

    @property
    def input_size(self) -> int:
        return 16 if self.objective == "16" else 128


class Encoder(nn.Module):
    """128 x 128 image -> `channels` x 16 x 16: three stride-2 stages, a residual block at each scale."""

    def __init__(self, width: int, channels: int):
        super().__init__()
        widths = [width, width * 2, width * 4, width * 8]  # at 128, 64, 32, 16 px
        self.stem = nn.Conv2d(3, widths[0], 3, padding=1)
        self.stages = nn.ModuleList(
            nn.ModuleList([ResidualBlock(widths[i]), nn.Conv2d(widths[i], widths[i + 1], 4, stride=2, padding=1)])
            for i in range(3)
        )
        self.out = nn.Conv2d(widths[3], channels, 1)

    def forward(self, x):
        h = leaky(self.stem(x))
        for block, down in self.stages:
            h = leaky(down(block(h)))
        return leaky(self.out(h))


class Step(nn.Module):
    """One resolution doubling: up-sample, convolve to the next width, residual blocks, an RGB head."""

    def __init__(self, c_in: int, c_out: int, blocks: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.blocks = nn.Sequential(*[ResidualBlock(c_out) for _ in range(blocks)])
        self.to_rgb = nn.Conv2d(c_out, 3, 1)

    def forward(self, h):
        h = leaky(self.conv(F.interpolate(h, scale_factor=2, mode="nearest")))
        return self.blocks(h)


class ProgressiveGenerator(nn.Module):
    def __init__(self, config: Config):
        super().__init__()
        self.config = config
        w, b = config.widths, config.blocks
        if config.objective == "128":
            self.encoder = Encoder(config.encoder_width, config.encoder_channels)
            self.head = nn.Conv2d(config.encoder_channels, w[0], 3, padding=1)
        else:
            self.encoder = None
            self.head = nn.Conv2d(3, w[0], 3, padding=1)
        self.trunk = nn.Sequential(*[ResidualBlock(w[0]) for _ in range(b[0])])  # step 1's 16 px blocks
        # steps 1-3 end at 32, 64, 128 px; the 128 px step (last) has no residual blocks: at that size they
        # cost as much as the rest of the network together
        self.steps = nn.ModuleList(Step(w[i], w[i + 1], b[i + 1] if i + 1 < STEPS else 0) for i in range(STEPS))

    def forward(self, x: torch.Tensor, steps: int = STEPS) -> torch.Tensor:
        """The image after `steps` steps (1: 32 px, 2: 64 px, 3: 128 px), in [0, 1] up to the clamp the
        app applies (the training losses see the unclamped values, so gradients never vanish at the ends)."""
        h = self.head(self.encoder(x) if self.encoder is not None else x)
        h = self.trunk(leaky(h))
        for step in self.steps[:steps]:
            h = step(h)
        rgb = self.steps[steps - 1].to_rgb(h)
        if self.config.input_skip:
            rgb = rgb + F.interpolate(x, size=rgb.shape[-2:], mode="bilinear", align_corners=False, antialias=x.shape[-1] > rgb.shape[-1])
        return rgb


def build(config: dict | Config) -> ProgressiveGenerator:
    if isinstance(config, dict):
        config = Config(**config)
    return ProgressiveGenerator(config)


def default_config() -> dict:
    return config_dict(Config())
