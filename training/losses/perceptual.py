"""Perceptual, style and identity losses on the project's identity network (:mod:`frstudio.models.faceid`).

The papers use VGG-19 / VGGFace features (seed 000 eqs. 6-7, seed 001 eq. 10) and ArcFace embeddings (seed 002
eq. 15, the face-preserving loss). Neither can be had here (docs/evaluation.md, "No pretrained networks"), so
:class:`IdentityFeatureLoss` uses the FaceID network the project trains itself: its four stage outputs (64^2,
32^2, 16^2, 8^2 for a 128^2 face) stand in for the VGG layers, its 128-d embedding for ArcFace's.

Images are N x 3 x H x W RGB in [0, 1] (FaceID normalises them itself); 128 x 128 aligned faces in training.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F


def gram_matrix(feat: torch.Tensor) -> torch.Tensor:
    """Gram matrix of feature maps, normalised by C * H * W: ``G[c, d] = sum_hw F[c, hw] F[d, hw] / (C H W)``.

    feat: N x C x H x W. Returns N x C x C. Computed in float32 (sums of many products lose too much in bf16).
    """
    n, c, h, w = feat.shape
    f = feat.float().reshape(n, c, h * w)
    with torch.autocast(device_type=f.device.type, enabled=False):  # autocast would run bmm in bf16 again
        return torch.bmm(f, f.transpose(1, 2)) / (c * h * w)


def squared_embedding_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ||a - b||^2 between N x D embeddings, in float32."""
    return ((a.float() - b.float()) ** 2).sum(dim=1).mean()


def feature_l1(network: nn.Module, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Sum over the stages of a frozen FaceID-like ``network`` of the L1 distance between the feature maps of
    pred and target (the target's under ``no_grad``): the perceptual loss of seeds 001 and 003, in L1 form."""
    return feature_l1_and_identity(network, pred, target)[0]


def feature_l1_and_identity(network: nn.Module, pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`feature_l1` and the mean squared distance between the embeddings of pred and target, from one
    pass of each image. FaceID's embeddings are on dlib's scale (0.36 = the same-person threshold 0.6 squared),
    so the second term pulls a restored face toward the identity the dlib-based metrics (identity distance,
    iPrecision) measure."""
    with torch.no_grad():
        target_feats = network.features(target)
        target_embedding = network.embed(target_feats)
    pred_feats = network.features(pred)
    per = sum(F.l1_loss(p.float(), t.float()) for p, t in zip(pred_feats, target_feats))
    identity = squared_embedding_distance(network.embed(pred_feats), target_embedding)
    return per, identity


class IdentityFeatureLoss(nn.Module):
    """Perceptual, style and identity losses on a frozen FaceID network.

    ``network`` is any module with FaceID's interface: ``features(x) -> list of N x C_k x H_k x W_k`` and
    ``embed(features) -> N x D`` (tests pass a tiny randomly initialised ``faceid.build(...)``).

    * ``perceptual(pred, target) = sum_k w_k * MSE(phi_k(pred), phi_k(target))`` (seed 000's L_per, MSE form);
    * ``style(pred, target) = sum_k s_k * MSE(Gram(phi_k(pred)), Gram(phi_k(target)))`` (seed 000 eq. 6, the
      Gram matrices normalised by C * H * W, see :func:`gram_matrix`);
    * ``identity(pred, target)``: distance between the embeddings e = FaceID(x) (seed 002 eq. 15):
      ``"cosine"``: mean of ``1 - cos(e_pred, e_target)`` (in [0, 2]); ``"squared"``: mean of
      ``||e_pred - e_target||^2`` (dlib's scale: 0.36 is the usual same-person threshold 0.6 squared);
      ``"l1"``: mean absolute difference of the embedding entries (eq. 15's L1 norm, divided by 128).

    phi_k are the network's stage outputs (``FaceID.features``); ``perceptual_weights`` and ``style_weights``
    give one weight per stage (default 1 each; 0 skips a stage). The target's features are computed under
    ``no_grad``; gradients reach ``pred`` but never the network, whose parameters are frozen
    (``requires_grad=False``) and which stays in eval mode (BatchNorm running statistics) even when this module
    is put in train mode. ``forward`` computes all three from one pass of each image.
    """

    def __init__(
        self,
        network: nn.Module,
        perceptual_weights: Sequence[float] | None = None,
        style_weights: Sequence[float] | None = None,
        identity_mode: str = "cosine",
    ):
        super().__init__()
        if identity_mode not in ("cosine", "squared", "l1"):
            raise ValueError(f"IdentityFeatureLoss: identity_mode must be cosine, squared or l1, not {identity_mode!r}")
        self.network = network.eval().requires_grad_(False)
        self.perceptual_weights = None if perceptual_weights is None else [float(w) for w in perceptual_weights]
        self.style_weights = None if style_weights is None else [float(w) for w in style_weights]
        self.identity_mode = identity_mode

    @classmethod
    def shipped(cls, device: str | torch.device = "cpu", **kwargs) -> "IdentityFeatureLoss":
        """The loss on the bundled FaceID weights. Raises ``frstudio.core.errors.WeightsError`` when they are missing
        or do not match the manifest (not shipped yet: train ``training/recipes/faceid.py`` first)."""
        from frstudio.core import restore

        return cls(restore.load_identity_network(str(device)), **kwargs).to(device)

    def train(self, mode: bool = True) -> "IdentityFeatureLoss":
        super().train(mode)
        self.network.eval()  # a frozen feature extractor: never update BatchNorm statistics
        return self

    # -- the pieces -------------------------------------------------------------------------------------------

    def _features(self, x: torch.Tensor, grad: bool) -> list[torch.Tensor]:
        with torch.set_grad_enabled(grad and torch.is_grad_enabled()):
            return list(self.network.features(x))

    def _embed(self, feats: list[torch.Tensor], grad: bool) -> torch.Tensor:
        with torch.set_grad_enabled(grad and torch.is_grad_enabled()):
            return self.network.embed(feats)

    @staticmethod
    def _weights(weights: list[float] | None, n: int) -> list[float]:
        if weights is None:
            return [1.0] * n
        if len(weights) != n:
            raise ValueError(f"IdentityFeatureLoss: {len(weights)} stage weights for a network with {n} stages")
        return weights

    def _perceptual(self, fp: list[torch.Tensor], ft: list[torch.Tensor]) -> torch.Tensor:
        w = self._weights(self.perceptual_weights, len(fp))
        terms = (wk * F.mse_loss(p.float(), t.float()) for wk, p, t in zip(w, fp, ft) if wk)
        return sum(terms, fp[0].new_zeros((), dtype=torch.float32))

    def _style(self, fp: list[torch.Tensor], ft: list[torch.Tensor]) -> torch.Tensor:
        w = self._weights(self.style_weights, len(fp))
        terms = (wk * F.mse_loss(gram_matrix(p), gram_matrix(t)) for wk, p, t in zip(w, fp, ft) if wk)
        return sum(terms, fp[0].new_zeros((), dtype=torch.float32))

    def _identity(self, ep: torch.Tensor, et: torch.Tensor) -> torch.Tensor:
        ep, et = ep.float(), et.float()
        if self.identity_mode == "cosine":
            return (1 - F.cosine_similarity(ep, et, dim=1, eps=1e-8)).mean()
        if self.identity_mode == "squared":
            return squared_embedding_distance(ep, et)
        return F.l1_loss(ep, et)

    # -- public ------------------------------------------------------------------------------------------------

    def perceptual(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Sum over stages of w_k * MSE between feature maps. pred, target: N x 3 x H x W in [0, 1]. Scalar >= 0."""
        return self._perceptual(self._features(pred, True), self._features(target, False))

    def style(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Sum over stages of s_k * MSE between Gram matrices. Scalar >= 0."""
        return self._style(self._features(pred, True), self._features(target, False))

    def identity(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Embedding distance (``identity_mode``). Scalar >= 0."""
        ep = self._embed(self._features(pred, True), True)
        et = self._embed(self._features(target, False), False)
        return self._identity(ep, et)

    def encode(self, x: torch.Tensor, grad: bool = True) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The stage feature maps and the embedding of x from one pass; gradients reach x when ``grad``. For
        losses that compare one image with several others (a restored face with its target and its guide)."""
        feats = self._features(x, grad)
        return feats, self._embed(feats, grad)

    def perceptual_between(self, fp: list[torch.Tensor], ft: list[torch.Tensor]) -> torch.Tensor:
        """:meth:`perceptual` on feature maps from :meth:`encode`."""
        return self._perceptual(fp, ft)

    def identity_between(self, ep: torch.Tensor, et: torch.Tensor) -> torch.Tensor:
        """:meth:`identity` on embeddings from :meth:`encode`."""
        return self._identity(ep, et)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """All three losses from one pass of each image: ``{"perceptual", "style", "identity"}``."""
        fp, ft = self._features(pred, True), self._features(target, False)
        ep, et = self._embed(fp, True), self._embed(ft, False)
        return {
            "perceptual": self._perceptual(fp, ft),
            "style": self._style(fp, ft),
            "identity": self._identity(ep, et),
        }
