"""A small fully-convolutional U-Net for whole photos run tile by tile: the damage detector and the learned fill of
what it marks (`damage_net`, `fill_net`) are both one.

N x C_in x H x W of any size to N x C_out x H x W. Choices, and why:

- dense 3 x 3 convolutions only (residual blocks of `frstudio.models.blocks`): depthwise ones are ~20x slower
  under bf16 + channels_last on the development CPU (docs/DESIGN.md);
- no normalisation layer: statistics over the image (GroupNorm, InstanceNorm) would make a tile's output depend
  on which tile it is, and tiled inference must equal whole-image inference; BatchNorm is unsuited to the
  small batches of CPU training;
- additive skips and pixel-shuffle up-sampling as in FRR-Net: cheaper than concatenation at full resolution,
  where hairline scratches (under a pixel wide) have to be seen;
- the input is padded (edges repeated) to a multiple of the total stride and the output cropped back, so any
  H x W works;
- optionally (`unshuffle` = 2) the network works at half resolution on the input's 2 x 2 pixel blocks stacked as
  channels, and predicts each block's four output pixels (pixel shuffle): every pixel still gets its own output at
  about a third of the full-resolution cost (the learned fill). It suits a correction that is smooth inside a
  block; the detector, which must see hairlines, lost accuracy this way (resources/weights/README.md).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from frstudio.models.blocks import ResidualBlock, leaky


class TileUNet(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, widths, blocks: int, unshuffle: int = 1):
        super().__init__()
        widths, blocks, self.unshuffle = [int(w) for w in widths], int(blocks), int(unshuffle)
        if len(widths) < 2:
            raise ValueError("a tile U-Net needs at least two levels (widths)")
        if self.unshuffle < 1:
            raise ValueError(f"unshuffle must be 1 or more, not {unshuffle}")
        in_channels, out_channels = in_channels * self.unshuffle**2, out_channels * self.unshuffle**2

        def stack(c: int) -> nn.Sequential:
            return nn.Sequential(*(ResidualBlock(c) for _ in range(blocks)))

        self.levels = len(widths)
        self.stem = nn.Conv2d(in_channels, widths[0], 3, padding=1)
        self.enc = nn.ModuleList(stack(c) for c in widths[:-1])
        self.down = nn.ModuleList(nn.Conv2d(a, b, 3, stride=2, padding=1) for a, b in zip(widths[:-1], widths[1:]))
        self.bottleneck = stack(widths[-1])
        self.up = nn.ModuleList(nn.Sequential(nn.Conv2d(b, 4 * a, 1), nn.PixelShuffle(2))
                                for a, b in reversed(list(zip(widths[:-1], widths[1:]))))
        self.dec = nn.ModuleList(stack(c) for c in reversed(widths[:-1]))
        self.head = nn.Conv2d(widths[0], out_channels, 3, padding=1)

    @property
    def stride(self) -> int:
        """H and W are padded to a multiple of this inside forward."""
        return self.unshuffle * 2 ** (self.levels - 1)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        """x: N x C_in x H x W (centred near 0) -> N x C_out x H x W."""
        h, w = x.shape[-2:]
        s = self.stride
        pad_h, pad_w = -h % s, -w % s
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        if self.unshuffle > 1:
            x = F.pixel_unshuffle(x, self.unshuffle)
        f = leaky(self.stem(x))
        skips = []
        for block, down in zip(self.enc, self.down):
            f = block(f)
            skips.append(f)
            f = leaky(down(f))
        f = self.bottleneck(f)
        for up, block, skip in zip(self.up, self.dec, reversed(skips)):
            f = block(leaky(up(f)) + skip)
        out = self.head(f)
        if self.unshuffle > 1:
            out = F.pixel_shuffle(out, self.unshuffle)
        return out[..., :h, :w]
