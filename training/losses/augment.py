"""DiffAugment (Zhao et al. 2020, "Differentiable augmentation for data-efficient GAN training"), as seed 001
eqs. 8-9 use it: the discriminator sees ``D(Aug(y))`` and ``D(Aug(G(x)))``.

Every transform is differentiable with respect to the images (only the random parameters are not), so the
generator is trained through ``Aug``. Call :func:`diff_augment` once on the real batch and once on the fake
batch: each call draws its own parameters per image, as the official code does. To apply *the same* draw to two
batches, pass two ``torch.Generator`` objects seeded alike.

Amounts are those of the official implementation (``DiffAugment_pytorch.py``), which was written for images in
[-1, 1]: brightness adds U(-0.5, 0.5), saturation scales the deviation from the pixel's grey by U(0, 2), contrast
scales the deviation from the image mean by U(0.5, 1.5), translation shifts by up to 1/8 of the side (integer
pixels, zero padding), cutout zeroes a square of half the side. For images in [0, 1] the brightness shift is
relatively twice as strong; that is still the recipe most ports use.
"""

from __future__ import annotations

import torch


def _rand(shape, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """U(0, 1) of ``shape`` drawn from ``generator`` (on its device), returned on x's device and dtype."""
    device = generator.device if generator is not None else x.device
    return torch.rand(shape, generator=generator, device=device).to(device=x.device, dtype=x.dtype)


def _randint(low: int, high: int, shape, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Integers in [low, high] inclusive."""
    device = generator.device if generator is not None else x.device
    return torch.randint(low, high + 1, shape, generator=generator, device=device).to(x.device)


def brightness(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """``x + b``, ``b ~ U(-0.5, 0.5)`` per image."""
    return x + (_rand((x.shape[0], 1, 1, 1), x, generator) - 0.5)


def saturation(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """``(x - grey) * s + grey``, grey the per-pixel channel mean, ``s ~ U(0, 2)`` per image."""
    grey = x.mean(dim=1, keepdim=True)
    return (x - grey) * (_rand((x.shape[0], 1, 1, 1), x, generator) * 2) + grey


def contrast(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """``(x - m) * c + m``, m the image mean over channels and pixels, ``c ~ U(0.5, 1.5)`` per image."""
    m = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - m) * (_rand((x.shape[0], 1, 1, 1), x, generator) + 0.5) + m


def shift(x: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    """Translate each image by whole pixels, zero padding: ``out[n, :, i, j] = x[n, :, i - dy[n], j - dx[n]]``
    (0 where that falls outside). So dx > 0 moves the content right, dy > 0 down.

    x: N x C x H x W; dx, dy: N integer tensors. Differentiable with respect to x.
    """
    n, _, h, w = x.shape
    dx = dx.to(x.device).view(n, 1, 1)
    dy = dy.to(x.device).view(n, 1, 1)
    rows = torch.arange(h, device=x.device).view(1, h, 1) - dy + 1  # source row in the 1-padded image
    cols = torch.arange(w, device=x.device).view(1, 1, w) - dx + 1
    rows = rows.clamp(0, h + 1).expand(n, h, w)  # out of range -> the zero border
    cols = cols.clamp(0, w + 1).expand(n, h, w)
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1))
    batch = torch.arange(n, device=x.device).view(n, 1, 1).expand(n, h, w)
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def translation(x: torch.Tensor, ratio: float = 0.125, generator: torch.Generator | None = None) -> torch.Tensor:
    """Shift each image by whole pixels in ``[-round(ratio * side), round(ratio * side)]`` per axis, zero padding."""
    n, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = _randint(-sy, sy, (n,), x, generator)
    dx = _randint(-sx, sx, (n,), x, generator)
    return shift(x, dx, dy)


def cutout(x: torch.Tensor, ratio: float = 0.5, generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero one square of ``ratio * side`` per image, centred uniformly at random (clipped at the borders)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = _randint(0, h + (1 - ch % 2) - 1, (n, 1, 1), x, generator)
    cx = _randint(0, w + (1 - cw % 2) - 1, (n, 1, 1), x, generator)
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    ry, rx = ys - cy + ch // 2, xs - cx + cw // 2  # position inside the square, when in [0, side)
    inside = (ry >= 0) & (ry < ch) & (rx >= 0) & (rx < cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


POLICIES = {
    "color": (brightness, saturation, contrast),
    "colour": (brightness, saturation, contrast),
    "translation": (translation,),
    "cutout": (cutout,),
}


def diff_augment(
    x: torch.Tensor, policy: str = "color,translation", generator: torch.Generator | None = None
) -> torch.Tensor:
    """Apply the DiffAugment ``policy`` (comma-separated: "color"/"colour", "translation", "cutout") to a batch.

    x: N x C x H x W float (the official amounts assume [-1, 1]; see the module docstring). Returns a new tensor
    of the same shape; gradients flow to x. Each image gets its own random draw; ``generator`` makes it
    reproducible. An empty policy returns x unchanged.
    """
    if not policy:
        return x
    for name in policy.split(","):
        name = name.strip()
        if name not in POLICIES:
            raise ValueError(f"diff_augment: unknown policy {name!r}; use {sorted(POLICIES)}")
        for fn in POLICIES[name]:
            x = fn(x, generator=generator)
    return x
