"""GFRNet's flow-field losses (seed 004, Sec. 3.3) and the coordinate helpers they need.

Flow convention (the one ``torch.nn.functional.grid_sample`` needs)
-------------------------------------------------------------------
A flow field ``flow`` is an **absolute sampling grid**, N x 2 x H x W, values in [-1, 1]: channel 0 is x
(column), channel 1 is y (row). The warped reference at output pixel p is the reference *sampled at*
``flow[:, :, p]``::

    warped = grid_sample(reference, flow.permute(0, 2, 3, 1), align_corners=False)   # = warp(reference, flow)

This is GFRNet's eq. 2: ``I^w_{i,j}`` is the bilinear sample of the guide ``I^g`` at
``(Phi^x_{i,j}, Phi^y_{i,j})``, with "all the coordinates (including x, y, Phi_x and Phi_y) normalised to
[-1, 1]" (Sec. 3.3). So the flow lives on the *target's* pixel grid and points *into the reference*; the identity
warp is :func:`identity_flow`. Channels-first (not grid_sample's N x H x W x 2) because that is what a conv
decoder outputs and what :func:`training.losses.total_variation` takes; :func:`warp` does the permute.

Pixel <-> unit coordinates
--------------------------
Pixel coordinates follow OpenCV and dlib: integer (x, y) is the *centre* of pixel (column x, row y), so an image
W wide spans x in [-0.5, W - 0.5]. Unit coordinates follow ``align_corners=False`` by default, torch's default:
-1 and +1 are the outer *edges* of the border pixels, so ``u = (2 x + 1) / W - 1`` and a coordinate means the
same place at every resolution (a flow predicted at 64 x 64 can be compared with landmarks measured at 128).
``align_corners=True`` maps the border pixels' *centres* to -1 and +1: ``u = 2 x / (W - 1) - 1``. Whatever
``warp`` uses must match what the landmark loss uses; every function here takes the same ``align_corners``.

Landmarks are N x K x 2 tensors of (x, y) pixel coordinates (K = 68 for dlib's points).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def _size_hw(size) -> tuple[int, int]:
    """``size`` as (H, W): an int (square) or an (H, W) pair."""
    if isinstance(size, int):
        return size, size
    h, w = size
    return int(h), int(w)


def pixels_to_unit(coords: torch.Tensor, size, align_corners: bool = False) -> torch.Tensor:
    """Pixel (x, y) coordinates -> grid_sample's [-1, 1] coordinates.

    align_corners=False: ``u = (2 x + 1) / W - 1`` (pixel 0's centre -> -1 + 1/W; the image's left edge -> -1).
    align_corners=True:  ``u = 2 x / (W - 1) - 1`` (pixel 0's centre -> -1, pixel W-1's centre -> +1).
    Likewise y with H. coords: ... x 2 (x, y), float; size: int or (H, W) of the image they were measured in.
    """
    h, w = _size_hw(size)
    wh = torch.tensor([w, h], dtype=coords.dtype, device=coords.device)
    if align_corners:
        return 2 * coords / (wh - 1) - 1
    return (2 * coords + 1) / wh - 1


def unit_to_pixels(coords: torch.Tensor, size, align_corners: bool = False) -> torch.Tensor:
    """The inverse of :func:`pixels_to_unit`: [-1, 1] (x, y) -> pixel (x, y) for an image of ``size``."""
    h, w = _size_hw(size)
    wh = torch.tensor([w, h], dtype=coords.dtype, device=coords.device)
    if align_corners:
        return (coords + 1) * (wh - 1) / 2
    return ((coords + 1) * wh - 1) / 2


def identity_flow(
    n: int, h: int, w: int, align_corners: bool = False, device=None, dtype=torch.float32
) -> torch.Tensor:
    """The flow that leaves an image unchanged: N x 2 x H x W, each pixel's own unit coordinates."""
    ys, xs = torch.meshgrid(
        torch.arange(h, device=device, dtype=dtype), torch.arange(w, device=device, dtype=dtype), indexing="ij"
    )
    grid = pixels_to_unit(torch.stack([xs, ys], dim=-1), (h, w), align_corners)  # H x W x 2
    return grid.permute(2, 0, 1).unsqueeze(0).expand(n, 2, h, w).contiguous()


def warp(image: torch.Tensor, flow: torch.Tensor, align_corners: bool = False) -> torch.Tensor:
    """GFRNet eq. 2: the image sampled bilinearly at the flow's coordinates (zeros outside).

    image: N x C x Hi x Wi; flow: N x 2 x H x W in [-1, 1] (x, y). Returns N x C x H x W.
    """
    return F.grid_sample(image, flow.permute(0, 2, 3, 1), mode="bilinear", padding_mode="zeros",
                         align_corners=align_corners)


def flow_landmark_loss(
    flow: torch.Tensor,
    landmarks_target: torch.Tensor,
    landmarks_reference: torch.Tensor,
    size,
    align_corners: bool = False,
    reduction: str = "sum",
) -> torch.Tensor:
    """GFRNet's landmark loss on the flow (seed 004, eq. 9).

    ``l_lm = sum_i (Phi_x(x_i, y_i) - x^g_i)^2 + (Phi_y(x_i, y_i) - y^g_i)^2``: the flow, sampled bilinearly at
    each target landmark (x_i, y_i), must point at the same landmark in the reference (guide) image
    (x^g_i, y^g_i), all in [-1, 1] unit coordinates. The flow convention is the module's (absolute sampling grid,
    see above), so a flow with zero loss makes ``warp(reference, flow)`` carry the reference's landmarks onto
    the target's.

    flow: N x 2 x H x W, unit coordinates (channel 0 x, 1 y), at any resolution;
    landmarks_target, landmarks_reference: N x K x 2 pixel (x, y) in images of ``size`` (int or (H, W); the
    target and the reference share it). reduction="sum": eq. 9 per image (sum over K landmarks and both
    coordinates), then the mean over the batch; "mean": the mean over landmarks and coordinates too.

    The flow is sampled with ``padding_mode="border"``; with align_corners=False a landmark within half a
    pixel of the image edge is therefore read from the border pixel's value.
    """
    if flow.dim() != 4 or flow.shape[1] != 2:
        raise ValueError(f"flow_landmark_loss: flow must be N x 2 x H x W, got {tuple(flow.shape)}")
    tgt = pixels_to_unit(landmarks_target.to(flow.dtype), size, align_corners)  # N x K x 2
    ref = pixels_to_unit(landmarks_reference.to(flow.dtype), size, align_corners)
    sampled = F.grid_sample(flow, tgt.unsqueeze(1), mode="bilinear", padding_mode="border",
                            align_corners=align_corners)  # N x 2 x 1 x K
    sampled = sampled.squeeze(2).transpose(1, 2)  # N x K x 2
    sq = (sampled - ref) ** 2
    if reduction == "sum":
        return sq.flatten(1).sum(dim=1).mean()
    if reduction == "mean":
        return sq.mean()
    raise ValueError(f"flow_landmark_loss: reduction must be 'sum' or 'mean', not {reduction!r}")
