"""DamageNet: where a whole photo is scratched, cracked or dusty (issue 22).

A small fully-convolutional U-Net: an RGB photo (or any tile of one) in [0, 1], N x 3 x H x W of any size, to
one channel of damage logits at the same size (sigmoid > 0.5: a mark to repair). Not a restorer of faces:
`frstudio.core.scratches` runs it tile by tile over the whole photo and fills what it marks.

Choices, and why:

- dense 3 x 3 convolutions only (residual blocks of `frstudio.models.blocks`): depthwise ones are ~20x slower
  under bf16 + channels_last on the development CPU (docs/DESIGN.md);
- no normalisation layer: statistics over the image (GroupNorm, InstanceNorm) would make a tile's output depend
  on which tile it is, and tiled inference must equal whole-image inference; BatchNorm is unsuited to the
  small batches of CPU training;
- additive skips and pixel-shuffle up-sampling as in FRR-Net: cheaper than concatenation at full resolution,
  where hairline scratches (under a pixel wide) have to be seen;
- the input is padded (edges repeated) to a multiple of the total stride and the output cropped back, so any
  H x W works. The output's logit bias starts at -4 (sigmoid 0.018): marks are rare, and a detector that starts
  by calling everything damage wastes its first steps unlearning it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from frstudio.models.blocks import ResidualBlock, leaky
from frstudio.models.contract import config_dict

PRIOR_LOGIT = -4.0


@dataclass
class Config:
    widths: tuple = (16, 32, 64, 128)  # channels per level, full resolution first; each further level halves H, W
    blocks: int = 1  # residual blocks (two 3 x 3 convolutions each) per level, in the encoder and the decoder


class DamageNet(nn.Module):
    def __init__(self, config: Config):
        super().__init__()
        self.config = config
        widths, blocks = [int(w) for w in config.widths], int(config.blocks)
        if len(widths) < 2:
            raise ValueError("DamageNet needs at least two levels (widths)")

        def stack(c: int) -> nn.Sequential:
            return nn.Sequential(*(ResidualBlock(c) for _ in range(blocks)))

        self.stem = nn.Conv2d(3, widths[0], 3, padding=1)
        self.enc = nn.ModuleList(stack(c) for c in widths[:-1])
        self.down = nn.ModuleList(nn.Conv2d(a, b, 3, stride=2, padding=1) for a, b in zip(widths[:-1], widths[1:]))
        self.bottleneck = stack(widths[-1])
        self.up = nn.ModuleList(nn.Sequential(nn.Conv2d(b, 4 * a, 1), nn.PixelShuffle(2))
                                for a, b in reversed(list(zip(widths[:-1], widths[1:]))))
        self.dec = nn.ModuleList(stack(c) for c in reversed(widths[:-1]))
        self.head = nn.Conv2d(widths[0], 1, 3, padding=1)
        nn.init.constant_(self.head.bias, PRIOR_LOGIT)

    @property
    def stride(self) -> int:
        """H and W are padded to a multiple of this inside forward."""
        return 2 ** (len(self.config.widths) - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: N x 3 x H x W in [0, 1] -> N x 1 x H x W damage logits."""
        h, w = x.shape[-2:]
        s = self.stride
        pad_h, pad_w = -h % s, -w % s
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        f = leaky(self.stem(x - 0.5))
        skips = []
        for block, down in zip(self.enc, self.down):
            f = block(f)
            skips.append(f)
            f = leaky(down(f))
        f = self.bottleneck(f)
        for up, block, skip in zip(self.up, self.dec, reversed(skips)):
            f = block(leaky(up(f)) + skip)
        return self.head(f)[..., :h, :w]


def build(config: dict | Config | None = None) -> DamageNet:
    if isinstance(config, Config):
        return DamageNet(config)
    config = dict(config or {})
    if "widths" in config:
        config["widths"] = tuple(config["widths"])
    return DamageNet(Config(**config))


def default_config() -> dict:
    return config_dict(Config())
