"""A stand-in for the trained scratch detector, for tests of what is done with its output."""

import torch


class WhiteLineDetector(torch.nn.Module):
    """Stands in for the trained detector: calls near-white pixels marks (logit +20), everything else not (-20)."""

    stride = 1

    def __init__(self):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # gives the pipeline a device to read

    def forward(self, x):
        return (x.min(dim=1, keepdim=True).values > 0.97).float() * 40 - 20 + self.anchor
