"""FRR-Net: real-time blind face restoration and relighting (seed paper 000, Pouyanfar et al.).

An encoder of convolutions and residual dense blocks, a decoder that up-samples by depth-to-space (pixel
shuffle) followed by dense blocks, and two heads: the restored face (3 channels) and a face mask (1 channel);
the output composites the restored face over the input through the mask, so the background is left alone.
A distortion classifier, trained jointly, predicts the multi-labels noise / blur / relight from face
features (the paper's VGGFace; here the project's identity network, frozen) and its output is fused into
the encoder's last features to guide the decoder.

Width w (8, 12, 16) sets the first dense block's channels and, as channels double per down-sampling,
thins every block; depth d (1, 2, 3) is the number of residual layers per dense block (paper eq. 3).
Choices where the paper's text is silent (its Figure 2 is not in the text): four down-samplings (128 -> 8), U-Net
style additive skips from encoder to decoder (detail the 16x16 bottleneck cannot carry), a residual image
head, and classifier fusion as a per-channel scale and shift of the bottleneck features.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from frstudio.models import faceid
from frstudio.models.contract import config_dict

LABELS = ("noise", "blur", "relight")


class ResidualDenseBlock(nn.Module):
    """RDN-style block: `depth` densely connected 3x3 conv layers, 1x1 local fusion, residual add."""

    def __init__(self, channels: int, depth: int, growth: int | None = None):
        super().__init__()
        growth = growth or max(8, channels // 2)
        self.layers = nn.ModuleList(
            nn.Conv2d(channels + i * growth, growth, 3, padding=1) for i in range(depth)
        )
        self.fuse = nn.Conv2d(channels + depth * growth, channels, 1)

    def forward(self, x):
        feats = [x]
        for conv in self.layers:
            feats.append(F.leaky_relu(conv(torch.cat(feats, dim=1)), 0.2))
        return x + self.fuse(torch.cat(feats, dim=1))


class DistortionClassifier(nn.Module):
    """Noise / blur / relight logits from the identity network's features of the degraded face."""

    def __init__(self, feature_channels: tuple[int, ...], hidden: int = 128, classes: int = len(LABELS)):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(2 * sum(feature_channels), hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, classes))

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        # mean and std per channel: std carries noise and blur (texture energy), mean carries light and colour
        pooled = [torch.cat([f.mean(dim=(2, 3)), f.flatten(2).std(dim=2)], dim=1) for f in feats]
        return self.mlp(torch.cat(pooled, dim=1).float())


@dataclass
class Config:
    width: int = 12
    depth: int = 2
    downsamplings: int = 4
    classifier: bool = True
    faceid: dict = field(default_factory=faceid.default_config)


class FRRNet(nn.Module):
    def __init__(self, config: Config):
        super().__init__()
        self.config = config
        w, d, n = config.width, config.depth, config.downsamplings
        chans = [w * 2**i for i in range(n + 1)]
        self.stem = nn.Conv2d(3, w, 3, padding=1)
        self.enc_blocks = nn.ModuleList(ResidualDenseBlock(c, d) for c in chans[:-1])
        self.down = nn.ModuleList(nn.Conv2d(c, 2 * c, 3, stride=2, padding=1) for c in chans[:-1])
        self.bottleneck = ResidualDenseBlock(chans[-1], d)
        self.up = nn.ModuleList(nn.Sequential(nn.Conv2d(2 * c, 4 * c, 1), nn.PixelShuffle(2)) for c in reversed(chans[:-1]))
        self.dec_blocks = nn.ModuleList(ResidualDenseBlock(c, d) for c in reversed(chans[:-1]))
        self.image_head = nn.Conv2d(w, 3, 3, padding=1)
        self.mask_head = nn.Conv2d(w, 1, 3, padding=1)
        if config.classifier:
            # frozen: the features' meaning must not drift away from identity while restoration trains
            self.features = faceid.build(config.faceid).requires_grad_(False)
            self.classifier = DistortionClassifier(tuple(self.features.config.widths))
            self.fusion = nn.Linear(len(LABELS), 2 * chans[-1])
        nn.init.zeros_(self.image_head.weight)
        nn.init.zeros_(self.image_head.bias)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.config.classifier:
            self.features.eval()  # frozen BatchNorm statistics
        return self

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """x: N x 3 x 128 x 128 in [0, 1] -> {"image", "restored", "mask", "logits", "labels"}."""
        h = F.leaky_relu(self.stem(x), 0.2)
        skips = []
        for block, down in zip(self.enc_blocks, self.down):
            h = block(h)
            skips.append(h)
            h = F.leaky_relu(down(h), 0.2)
        h = self.bottleneck(h)
        out: dict[str, torch.Tensor] = {}
        if self.config.classifier:
            with torch.no_grad():
                feats = self.features.features(x)
            logits = self.classifier(feats)
            scale, shift = self.fusion(torch.sigmoid(logits)).to(h.dtype).chunk(2, dim=1)
            h = h * (1 + scale[..., None, None]) + shift[..., None, None]
            out["logits"] = logits
            out["labels"] = torch.sigmoid(logits)
        for up, block, skip in zip(self.up, self.dec_blocks, reversed(skips)):
            h = block(F.leaky_relu(up(h), 0.2) + skip)
        restored = (x + self.image_head(h)).clamp(0, 1)
        mask = torch.sigmoid(self.mask_head(h))
        out["restored"] = restored
        out["mask"] = mask
        out["image"] = mask * restored + (1 - mask) * x
        return out


def build(config: dict | None = None) -> FRRNet:
    config = dict(config or {})
    return FRRNet(Config(**config))


def default_config() -> dict:
    return config_dict(Config())
