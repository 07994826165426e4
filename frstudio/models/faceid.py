"""The project's identity network: a small ResNet distilled from dlib's 128-d face descriptor.

No pretrained VGGFace/ArcFace can be had here, yet the seed papers' perceptual, style, face-preserving and
distortion-classifier terms need face features. This network takes the aligned 128 x 128 crop and predicts
dlib's descriptor (trained in `training/recipes/faceid.py`); its intermediate feature maps serve as the
perceptual/style features and its embedding as identity loss and a fast identity metric. Distances between
embeddings are on dlib's scale: about 0.6 separates two people.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from frstudio.models.contract import config_dict

# Channel statistics of aligned face crops, so inputs in [0, 1] start near zero mean, unit variance.
_MEAN = (0.52, 0.42, 0.37)
_STD = (0.28, 0.25, 0.25)


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.skip = None
        if stride != 1 or cin != cout:
            self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.skip is None else self.skip(x)))


@dataclass
class Config:
    widths: tuple[int, ...] = (32, 64, 128, 256)  # one stage per width, each halving the resolution
    blocks: int = 2  # residual blocks per stage
    embedding: int = 128


class FaceID(nn.Module):
    def __init__(self, config: Config):
        super().__init__()
        self.config = config
        w0 = config.widths[0]
        self.stem = nn.Sequential(nn.Conv2d(3, w0, 3, 2, 1, bias=False), nn.BatchNorm2d(w0), nn.ReLU(inplace=True))
        stages = []
        cin = w0
        for i, w in enumerate(config.widths):
            blocks = [BasicBlock(cin, w, 1 if i == 0 else 2)] + [BasicBlock(w, w, 1) for _ in range(config.blocks - 1)]
            stages.append(nn.Sequential(*blocks))
            cin = w
        self.stages = nn.ModuleList(stages)
        self.head = nn.Linear(cin, config.embedding)
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps after each stage (64², 32², 16², 8² for a 128² input), for perceptual/style losses."""
        y = self.stem((x - self.mean) / self.std)
        out = []
        for stage in self.stages:
            y = stage(y)
            out.append(y)
        return out

    def embed(self, feats: list[torch.Tensor]) -> torch.Tensor:
        return self.head(feats[-1].mean(dim=(2, 3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images N x 3 x 128 x 128 in [0, 1] -> N x 128 descriptors on dlib's scale."""
        return self.embed(self.features(x))


def build(config: dict | None = None) -> FaceID:
    config = dict(config or {})
    if "widths" in config:
        config["widths"] = tuple(config["widths"])
    return FaceID(Config(**config))


def default_config() -> dict:
    return config_dict(Config())
