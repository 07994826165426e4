"""FillNet: what lies under a scratch, a crack or a speck the damage detector marked (issue 22).

OpenCV's inpainting fills a mark from its edges, which is right for a hairline and smears a wider crack or a stain.
FillNet refines that fill: given the photo as scanned, the same photo with its marks already filled by OpenCV
(`frstudio.core.scratches.repair`) and the marks' mask, it predicts a correction to the fill inside the marks. It
sees the scan too because a semi-transparent mark still shows some of what it covers. The correction's layer starts
at zero, so an untrained FillNet is OpenCV's fill, and training spends every step on what that fill gets wrong.

Inputs and output are N x 3 x H x W in [0, 1] (the mask N x 1 x H x W, 1 inside the marks) of any size: it is a
`frstudio.models.tile_unet.TileUNet`, run tile by tile over the whole photo. Only pixels inside the mask change.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from frstudio.models.contract import config_dict
from frstudio.models.tile_unet import TileUNet


@dataclass
class Config:
    widths: tuple = (16, 32, 64, 128)  # channels per level, the first at 1/unshuffle resolution; each further halves H, W
    blocks: int = 1  # residual blocks (two 3 x 3 convolutions each) per level, in the encoder and the decoder
    # Works on 2 x 2 pixel blocks (frstudio.models.tile_unet): at full resolution the fill took 2.7 s of a 12 MP
    # photo's repair, over the 3 s goal with detection; on 2 x 2 blocks 0.8 s. On 4 x 4 blocks (widths 32..128,
    # 0.6 s) it learned too coarse a correction for marks a few pixels wide (the card has both runs).
    unshuffle: int = 2


class FillNet(TileUNet):
    def __init__(self, config: Config):
        super().__init__(7, 3, config.widths, config.blocks, config.unshuffle)
        self.config = config
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, scan: torch.Tensor, filled: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The photo with its marks filled: `filled` plus the predicted correction inside `mask`, in [0, 1]."""
        correction = self.body(torch.cat([scan - 0.5, filled - 0.5, mask - 0.5], dim=1))
        return (filled + mask * correction.float()).clamp(0, 1)


def build(config: dict | Config | None = None) -> FillNet:
    if isinstance(config, Config):
        return FillNet(config)
    config = dict(config or {})
    if "widths" in config:
        config["widths"] = tuple(config["widths"])
    return FillNet(Config(**config))


def default_config() -> dict:
    return config_dict(Config())
