"""A tiny, randomly initialised network used only by the tests to exercise the real weight-loading code.

It is not a shipped model: it stands in for one so the Restorer, the pipeline and the CLI can be tested
end to end before (and independently of) any trained weights.
"""

from dataclasses import dataclass

import torch
from torch import nn

from frstudio.models.contract import config_dict

LABELS = ("noise", "blur", "relight")  # what its "labels" output means, as a classifier-bearing model declares


@dataclass
class Config:
    width: int = 8


class TinyNet(nn.Module):
    def __init__(self, config: Config):
        super().__init__()
        self.config = config
        self.body = nn.Sequential(nn.Conv2d(3, config.width, 3, padding=1), nn.ReLU(), nn.Conv2d(config.width, 3, 3, padding=1))
        self.classifier = nn.Linear(3, 3)

    def forward(self, x):
        image = (x + 0.1 * torch.tanh(self.body(x))).clamp(0, 1)
        labels = torch.sigmoid(self.classifier(x.mean(dim=(2, 3))))
        return {"image": image, "labels": labels}


def build(config: dict) -> nn.Module:
    return TinyNet(Config(**config))


def default_config() -> dict:
    return config_dict(Config())
