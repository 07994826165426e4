"""DamageNet: where a whole photo is scratched, cracked or dusty (issue 22).

A small fully-convolutional U-Net: an RGB photo (or any tile of one) in [0, 1], N x 3 x H x W of any size, to
one channel of damage logits at the same size (sigmoid > 0.5: a mark to repair). Not a restorer of faces:
`frstudio.core.scratches` runs it tile by tile over the whole photo and fills what it marks.

The network is a `frstudio.models.tile_unet.TileUNet` (its design choices are there). The output's logit bias
starts at -4 (sigmoid 0.018): marks are rare, and a detector that starts by calling everything damage wastes its
first steps unlearning it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from frstudio.models.contract import config_dict
from frstudio.models.tile_unet import TileUNet

PRIOR_LOGIT = -4.0


@dataclass
class Config:
    widths: tuple = (16, 32, 64, 128)  # channels per level, full resolution first; each further level halves H, W
    blocks: int = 1  # residual blocks (two 3 x 3 convolutions each) per level, in the encoder and the decoder
    unshuffle: int = 1  # 2: work on 2 x 2 pixel blocks (frstudio.models.tile_unet), about a third of the cost


class DamageNet(TileUNet):
    def __init__(self, config: Config):
        super().__init__(3, 1, config.widths, config.blocks, config.unshuffle)
        self.config = config
        nn.init.constant_(self.head.bias, PRIOR_LOGIT)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: N x 3 x H x W in [0, 1] -> N x 1 x H x W damage logits."""
        return self.body(x - 0.5)


def build(config: dict | Config | None = None) -> DamageNet:
    if isinstance(config, Config):
        return DamageNet(config)
    config = dict(config or {})
    if "widths" in config:
        config["widths"] = tuple(config["widths"])
    return DamageNet(Config(**config))


def default_config() -> dict:
    return config_dict(Config())
