"""GFRNet: face restoration guided by a good photo of the same person (seed paper 004, Li et al. 2018).

Two sub-networks (paper Fig. 2-3):

* **WarpNet** takes the degraded face I^d and the guide (reference) I^g and predicts a dense flow field Phi,
  an absolute sampling grid in [-1, 1]; the guide is warped by bilinear sampling (eq. 2), giving the warped
  guidance I^w that should have the target's pose and expression. Encoder of 4x4 stride-2 convolutions, decoder
  of 4x4 stride-2 deconvolutions, conv-BatchNorm-ReLU everywhere except the first encoder and the last decoder
  layer (Sec. 3.1). The paper's eight layers take 256^2 down to 1^2; at our 128^2 crops `depth` (6 by default)
  takes it to 2^2, which already spans the whole face. The decoder stops at 32^2 and the flow is up-sampled
  bilinearly (see WarpNet).
* **RecNet** is a U-Net of the same encoder/decoder layers with skip connections (layer i concatenated to layer
  L - i), taking the degraded face and the warped guidance and producing the restored face (eq. 3).

Flow convention (shared with `training.losses.flow`): N x 2 x H x W, channel 0 = x, channel 1 = y, unit
coordinates with align_corners=False, the warped guide at pixel p being the guide sampled at flow[:, :, p].
The WarpNet predicts an offset from the identity grid, and its last layer starts at zero, so an untrained WarpNet
leaves the guide as it is: the aligned crops of the app are already roughly in register, and the identity is the
right starting point for the landmark-driven pre-training.

Choices where the paper's text is silent (its supplementary tables are not in the text):
* widths double from `width` per layer up to `max_width` (the paper's 64..512 would be ~50 M parameters, far too
  slow for the app's CPU target); ReLU in the decoder, LeakyReLU(0.2) in the encoders (pix2pix, whose U-Net the
  paper adopts); the restored face is the degraded input plus a residual (clamped), so the network starts as the
  identity and spends its capacity on what is missing;
* RecNet also gets a validity channel: where the warped guide holds real pixels (1) and where the flow points
  outside the guide or there is no guide at all (0), so the same network can restore without a reference (the
  "no reference" path used for the -WG comparison and when training drops the reference).

Ablations (paper Sec. 4.5) through `Config`: `warp=False` is -W (RecNet gets the raw, unwarped reference),
`use_reference=False` is -WG (no reference at all: RecNet sees the degraded face only).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from frstudio.models.contract import config_dict


def _widths(width: int, max_width: int, depth: int) -> list[int]:
    return [min(width * 2**i, max_width) for i in range(depth)]


def _down(cin: int, cout: int, norm: bool) -> nn.Sequential:
    """4x4 stride-2 convolution (halves the size), BatchNorm unless it is the first layer, LeakyReLU."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 4, 2, 1, bias=not norm)]
    if norm:
        layers.append(nn.BatchNorm2d(cout))
    layers.append(nn.LeakyReLU(0.2, inplace=True))
    return nn.Sequential(*layers)


def _up(cin: int, cout: int) -> nn.Sequential:
    """4x4 stride-2 deconvolution (doubles the size), BatchNorm, ReLU."""
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def identity_grid(n: int, h: int, w: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """The flow that leaves an image unchanged, N x 2 x H x W: each pixel's centre in unit coordinates
    (align_corners=False: u = (2 x + 1) / W - 1)."""
    xs = (2 * torch.arange(w, device=device, dtype=dtype) + 1) / w - 1
    ys = (2 * torch.arange(h, device=device, dtype=dtype) + 1) / h - 1
    grid = torch.stack([xs.view(1, w).expand(h, w), ys.view(h, 1).expand(h, w)])
    return grid.unsqueeze(0).expand(n, 2, h, w)


def warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Eq. 2: `image` sampled bilinearly at the flow's coordinates (zeros outside the image)."""
    return F.grid_sample(image, flow.permute(0, 2, 3, 1).to(image.dtype), mode="bilinear", padding_mode="zeros",
                         align_corners=False)


class WarpNet(nn.Module):
    """(degraded, guide) -> flow N x 2 x H x W in unit coordinates (identity grid + predicted offset).

    The deconvolutions stop at `flow_stride` times below the input (a 32 x 32 offset field for 128 x 128 faces)
    and the offset is up-sampled bilinearly: the landmark loss supervises 68 points only, and a full-resolution
    deconvolution output leaves every other pixel to the TV term alone (a first CPU run with it did not learn to
    warp in 500 pre-training steps); a coarse field ties each pixel to its supervised neighbours and is smooth
    by construction, as a face's warp is.
    """

    def __init__(self, width: int, max_width: int, depth: int, flow_stride: int = 4):
        super().__init__()
        chans = _widths(width, max_width, depth)
        self.flow_stride = flow_stride
        log_stride = flow_stride.bit_length() - 1
        if flow_stride != 2**log_stride or not 1 <= log_stride < depth:
            raise ValueError(f"WarpNet: flow_stride must be a power of two from 2 to 2**{depth - 1}, got {flow_stride}")
        self.encoder = nn.ModuleList(_down(6 if i == 0 else chans[i - 1], c, norm=i > 0) for i, c in enumerate(chans))
        # deconvolutions from the bottleneck (1/2**depth) up to 1/flow_stride of the input size
        self.decoder = nn.ModuleList(_up(chans[i], chans[i - 1]) for i in range(depth - 1, log_stride - 1, -1))
        self.head = nn.Conv2d(chans[log_stride - 1], 2, 3, 1, 1)
        # zero offset at the start: the identity warp (see the module docstring)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, degraded: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        h = torch.cat([degraded, guide], dim=1)
        for layer in self.encoder:
            h = layer(h)
        for layer in self.decoder:
            h = layer(h)
        offset = self.head(h).float()  # coordinates in fp32: bf16 has ~3 significant digits, a pixel is 1/64
        n, _, height, width = degraded.shape
        if offset.shape[2:] != (height, width):
            offset = F.interpolate(offset, size=(height, width), mode="bilinear", align_corners=False)
        return identity_grid(n, height, width, offset.device) + offset


class RecNet(nn.Module):
    """U-Net: (degraded, guidance channels) -> restored face, as a residual over the degraded input."""

    def __init__(self, in_channels: int, width: int, max_width: int, depth: int):
        super().__init__()
        chans = _widths(width, max_width, depth)
        self.encoder = nn.ModuleList(_down(in_channels if i == 0 else chans[i - 1], c, norm=i > 0) for i, c in enumerate(chans))
        # decoder layer k takes the previous decoder output concatenated with the mirrored encoder output
        self.decoder = nn.ModuleList(
            _up(chans[i] * (1 if i == depth - 1 else 2), chans[i - 1]) for i in range(depth - 1, 0, -1)
        )
        self.head = nn.ConvTranspose2d(chans[0] * 2, 3, 4, 2, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, degraded: torch.Tensor, guidance: torch.Tensor | None) -> torch.Tensor:
        h = degraded if guidance is None else torch.cat([degraded, guidance], dim=1)
        skips = []
        for layer in self.encoder:
            h = layer(h)
            skips.append(h)
        skips.pop()  # the bottleneck itself is the decoder's first input
        for layer in self.decoder:
            h = layer(h)
            h = torch.cat([h, skips.pop()], dim=1)
        return (degraded + self.head(h)).clamp(0, 1)


@dataclass
class Config:
    width: int = 32  # channels of the first layer, doubling per layer
    max_width: int = 128
    depth: int = 6  # stride-2 layers of each encoder (and deconvolutions of each decoder): 128 -> 2
    warp_width: int = 32
    warp_max_width: int = 128
    flow_stride: int = 4  # the WarpNet predicts the flow at 1/4 of the size (32 x 32) and up-samples it
    warp: bool = True  # False: the -W ablation, RecNet gets the raw reference
    use_reference: bool = True  # False: the -WG ablation, no reference at all


class GFRNet(nn.Module):
    def __init__(self, config: Config):
        super().__init__()
        if config.warp and not config.use_reference:
            raise ValueError("GFRNet: warp=True needs use_reference=True (there is nothing to warp)")
        self.config = config
        self.warpnet = WarpNet(config.warp_width, config.warp_max_width, config.depth, config.flow_stride) if config.warp else None
        # degraded (3) + guidance (3) + validity (1), or the degraded face alone for -WG
        self.recnet = RecNet(7 if config.use_reference else 3, config.width, config.max_width, config.depth)

    @property
    def reference_optional(self) -> bool:
        """Whether forward() may be called without a reference (the app's Restorer asks)."""
        return True

    def guide(self, x: torch.Tensor, reference: torch.Tensor | None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The guidance RecNet takes beside the degraded face: N x 4 x S x S (warped guide + validity; all
        zeros without a reference), and the extras {"warped", "flow"} worth showing."""
        extras: dict[str, torch.Tensor] = {}
        if reference is None:
            return x.new_zeros(x.shape[0], 4, *x.shape[2:]), extras  # no guide, valid nowhere
        reference = reference.to(x.dtype)
        ones = reference.new_ones(reference.shape[0], 1, *reference.shape[2:])
        if self.warpnet is None:  # -W: the raw reference, valid everywhere
            guidance = torch.cat([reference, ones], dim=1)
        else:
            flow = self.warpnet(x, reference)
            # warping a ones channel with the guide gives where the guide's pixels are (1) or not (0)
            guidance = warp(torch.cat([reference, ones], dim=1), flow).to(x.dtype)
            extras["flow"] = flow
        extras["warped"] = guidance[:, :3]
        return guidance, extras

    def forward(self, x: torch.Tensor, reference: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """x: degraded faces N x 3 x S x S in [0, 1]; reference: aligned good faces of the same people,
        N x 3 x S x S, or None (the no-reference path). Returns {"image"} plus, when a reference was used,
        {"warped": the guide as RecNet saw it, "flow": N x 2 x S x S unit coordinates (WarpNet only)}."""
        if not self.config.use_reference:
            return {"image": self.recnet(x, None)}
        guidance, extras = self.guide(x, reference)
        return {"image": self.recnet(x, guidance), **extras}


def build(config: dict | None = None) -> GFRNet:
    return GFRNet(Config(**dict(config or {})))


def default_config() -> dict:
    return config_dict(Config())
