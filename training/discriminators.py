"""Discriminators for sharpening fine-tunes of restoration networks trained on aligned 128 px face crops.

* :class:`PatchDiscriminator` judges overlapping patches (one logit per ~40 px receptive field on a 16 x 16
  grid), so it rewards local texture (skin, hair, lashes) rather than the face's layout, which the pixel losses
  already hold (pix2pix's PatchGAN idea).
* :class:`FacePartDiscriminator` judges the eyes and the mouth cut out at the alignment template's positions: the
  parts people look at first, where a blurry restoration shows most (seed 002's local eye and mouth
  discriminators; GFPGAN uses the same idea with detected boxes, which aligned crops do not need).

Both are plain stride-2 convolution stacks of dense convolutions only (depthwise ones run ~20x slower under bf16
on this CPU), with spectral normalisation by default (stable without a gradient penalty) or without it
(`spectral=False`, for an R1 penalty instead): on a residual restorer the output differs from the clean face by a
few grey levels, and a spectrally normalised stack, whose gain is at most 1 per layer, could not tell the two
apart at all (it stayed at chance through ~3,000 steps of the FRR-Net sharpening fine-tune).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from frstudio.core.align import TEMPLATE_128, TEMPLATE_SIZE

PART_SIZE = 40  # px at 128: an eye with its lid and brow edge, or the whole mouth (corners ~28 px apart)
# With `detail`, a discriminator also sees the image's fine band (the image minus its 3 x 3 mean) times this: the band
# where a restoration falls short of the clean face, which is a few grey levels in the image itself. At 4 a fresh
# discriminator on the shipped default's outputs was still at chance after 150 steps; at 16 (the band then spans about
# as much as the image) it separated them by a logit margin of 2 within 200 steps (batch 8, lr 1e-3).
DETAIL_GAIN = 16.0


def with_detail(x: torch.Tensor) -> torch.Tensor:
    """N x 3 x H x W -> N x 6 x H x W: the image and its fine band, amplified (a 3 x 3 box filter rather than a
    Gaussian: pooling, not a depthwise convolution, which runs ~20x slower under bf16 on this CPU)."""
    from training.losses import fine_band

    return torch.cat([x, DETAIL_GAIN * fine_band(x)], dim=1)


def _conv(a: int, b: int, stride: int, spectral: bool) -> nn.Module:
    conv = nn.Conv2d(a, b, 4 if stride == 2 else 3, stride=stride, padding=1)
    if spectral:
        return spectral_norm(conv)
    # PyTorch's default init shrinks the signal ~1.7x per layer, so a fresh 5-layer stack's logits differ between
    # real and restored faces by ~0.003 and its loss sits at 2 ln 2 for hundreds of steps (measured on the shipped
    # default's outputs); He init for the leaky ReLU keeps the gain at 1, and the margin grows within 100 steps.
    nn.init.kaiming_normal_(conv.weight, a=0.2)
    nn.init.zeros_(conv.bias)
    return conv


def _stack(widths: tuple[int, ...], spectral: bool, channels: int = 3) -> list[nn.Module]:
    layers: list[nn.Module] = [_conv(channels, widths[0], 1, spectral), nn.LeakyReLU(0.2)]
    for a, b in zip(widths, widths[1:]):
        layers += [_conv(a, b, 2, spectral), nn.LeakyReLU(0.2)]
    return layers


class _ConvStack(nn.Module):
    """A stack of `_stack` layers and a 1-channel logit convolution, on what `_view` makes of the image."""

    def __init__(self, widths: tuple[int, ...], spectral: bool, detail: bool):
        super().__init__()
        self.detail = detail
        self.body = nn.Sequential(*_stack(tuple(widths), spectral, 6 if detail else 3), _conv(widths[-1], 1, 1, spectral))

    def _view(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def _input(self, x: torch.Tensor) -> torch.Tensor:
        x = self._view(x)
        return with_detail(x) if self.detail else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self._input(x))

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every hidden layer's activations (after each leaky ReLU), for feature matching
        (`training.losses.adversarial.feature_matching`)."""
        out, h = [], self._input(x)
        for layer in self.body:
            h = layer(h)
            if isinstance(layer, nn.LeakyReLU):
                out.append(h)
        return out


class PatchDiscriminator(_ConvStack):
    """128 px in, a (128 / 2^(len(widths) - 1))^2 grid of logits out (16 x 16 with the default widths)."""

    def __init__(self, widths: tuple[int, ...] = (32, 64, 128, 128), spectral: bool = True, detail: bool = False):
        super().__init__(widths, spectral, detail)


def part_centres(size: int = TEMPLATE_SIZE) -> list[tuple[float, float]]:
    """(x, y) of the left eye, the right eye and the mouth's centre in an aligned crop of `size` px."""
    t = TEMPLATE_128 * (size / TEMPLATE_SIZE)
    return [tuple(t[0]), tuple(t[1]), tuple((t[3] + t[4]) / 2)]


def face_parts(x: torch.Tensor, size: int = PART_SIZE) -> torch.Tensor:
    """The eyes and the mouth of a batch of aligned crops (N x 3 x S x S), as a batch of 3N parts of `size` px
    (part-major: all left eyes, then right eyes, then mouths)."""
    s = x.shape[-1]
    parts = []
    for cx, cy in part_centres(s):
        x0 = int(round(min(max(cx - size / 2, 0), s - size)))
        y0 = int(round(min(max(cy - size / 2, 0), s - size)))
        parts.append(x[..., y0 : y0 + size, x0 : x0 + size])
    return torch.cat(parts, dim=0)


class FacePartDiscriminator(_ConvStack):
    """One discriminator shared by the eyes and the mouth: 40 px parts in, a 10 x 10 grid of logits per part."""

    def __init__(self, widths: tuple[int, ...] = (32, 64, 128), spectral: bool = True, detail: bool = False):
        super().__init__(widths, spectral, detail)

    def _view(self, x: torch.Tensor) -> torch.Tensor:
        return face_parts(x)
