"""Recipe: FRR-Net (seed 000), restoration + relighting with a distortion classifier and a face mask.

Data: the `frrnet-train` degradation (Algorithm 1: 85 % of faces distorted, with the noise / blur / relight
multi-labels; or `frrnet-train-lighting`, which adds low light and screen light, see Config) on training faces,
the blurriest 10 % dropped as targets. The face mask comes from the prepared landmark hulls. Because the
network composites its restored face over the input through its predicted mask, the target is the same
composite: the HQ face inside the ground-truth mask, the input outside it (only faces change, as in the app).

Objective (eq. 4-8): lambda_rec (L1 + channel-wise Huber) + lambda_ang angular colour + lambda_per perceptual
+ lambda_style style (both on the identity network's features, the paper's VGGFace) + lambda_dice Dice on the
mask, plus the classifier's binary cross-entropy, trained jointly. Adam (lr: see Config).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch.nn import functional as F

from frstudio.models import frrnet
from training.recipes.base import Recipe as BaseRecipe
from training.recipes.base import TrainConfig, val_batches

LABEL_KEYS = frrnet.LABELS


@dataclasses.dataclass
class Config(TrainConfig):
    # The shipped W12D2 run: `python -m training train frrnet` reproduces it (about 33 minutes on 2 cores).
    steps: int = 5_400
    batch: int = 8
    # The paper's 2e-4 left faces visibly unchanged after 3,200 CPU steps (runs/frrnet_w12d2); with a budget
    # of thousands of steps rather than the paper's 500k, 1e-3 under the cosine schedule is what learns.
    lr: float = 1e-3
    ema: float = 0.999
    width: int = 12
    depth: int = 2
    downsamplings: int = 4
    lambda_rec: float = 1.0
    lambda_ang: float = 1.0
    lambda_per: float = 0.04
    # The paper's 4e-5 is for VGGFace Gram matrices; ours are normalised by C*H*W and ~1e-5 in size, so 4e-5
    # would switch the term off. 100 gives it ~10 % of the reconstruction term's share, as a starting point.
    lambda_style: float = 100.0
    lambda_dice: float = 1.0
    lambda_cls: float = 0.1
    # Not in the paper: 1 - cosine between the identity network's embeddings of output and target. The issue's
    # identity-match goal is on an embedding, which the feature-map perceptual term only reaches indirectly.
    # 0 in the base run (the paper's objective); the identity fine-tune sets it (training/scripts/frrnet.sh).
    lambda_id: float = 0.0
    # The sharpening fine-tune (issue 21, item 4; 0 = off, the paper's objective): non-saturating adversarial terms
    # from a patch discriminator over the whole crop and a shared one over the eyes and the mouth
    # (training/discriminators.py), which pull the output off the blurry mean the pixel losses settle on.
    lambda_adv: float = 0.0
    lambda_parts: float = 0.0
    # Feature matching (pix2pixHD) on the patch and the eyes-and-mouth discriminators, which are built for it even
    # where their adversarial weight is 0: L1 between the hidden activations of output and target. Unlike the
    # adversarial terms it is paired, so it asks for the target's detail at each place rather than any plausible
    # detail, which six adversarial tries paid for in likeness (resources/weights/README.md). Over the whole crop
    # (d_inside weights only the patch discriminator's own loss). 0 = off.
    lambda_fm_patch: float = 0.0
    lambda_fm_parts: float = 0.0
    # Not in the paper: L1 between the fine bands (image minus its 3 x 3 mean) of output and target, which weighs the
    # detail the pixel loss averages away (issue 21, item 4, after the discriminators stayed at chance). 0 = off.
    lambda_fine: float = 0.0
    # Hold to a frozen earlier model (exported weights, `hold_weights`): L1 between the output and that model's
    # output on every face whose classifier labels are known, so a fine-tune that adds a kind of damage to the mix
    # (the unlabelled marked faces of restore-mix-marks-unlabelled) learns it without moving the faces the earlier
    # model already restored well (the second marks run moved clean faces from 43.6 to 41.6 dB; the frrnet card).
    # 0 = off.
    lambda_hold: float = 0.0
    hold_weights: str = ""
    lr_d: float = 2e-4
    # Spectral normalisation in the discriminators (True, the first attempt) or none with a lazy R1 penalty on the
    # clean faces (gamma r1_gamma, every r1_every steps): see training/discriminators.py for why.
    d_spectral: bool = True
    d_detail: bool = False  # the discriminators also see the fine band, amplified (training/discriminators.py)
    r1_gamma: float = 0.0
    r1_every: int = 4
    # Steps at the start in which only the discriminators learn, on the frozen network's outputs: a fresh
    # discriminator has nothing to teach, and its first, random gradients would only add noise to the network.
    d_warmup: int = 0
    # Count the patch discriminator's verdicts only on patches inside the face mask. Its "real" face is the training
    # target, the clean face pasted into the damaged photo, whose outline is a step from sharp to blurry; judged
    # there, the network learned to draw a dark line around every face (runs/frrnet_sharpen_warm_adv001).
    d_inside: bool = False
    # A discriminator whose loss is below d_floor skips its step. Feature matching is only as gentle as the
    # discriminator is unsure: in the seventh and eighth tries the patch discriminator's loss fell from 1.1 to 0.02,
    # its features came to single out the fine band, and feature matching outgrew the identity term as FaceID distance
    # rose again after step 4,000. 0 = always step (chance is 2 ln 2 = 1.39).
    d_floor: float = 0.0
    drop_blurriest: float = 0.1
    # Training and validation degradation. The width/depth table's runs use Algorithm 1 as the paper has it; the
    # shipped W12D2 is then fine-tuned on `frrnet-train-lighting`, which adds low light and screen light to the
    # relight operation (training/scripts/frrnet.sh).
    degradation: str = "frrnet-train"
    # Validation's degradation when it is not the training one: a run that adds to the mix (restore-mix-marks) is
    # validated on the mix its starting weights were, so its numbers continue theirs.
    val_degradation: str = ""
    val_split: str = "val"
    val_faces: int = 96


def inside_patches(mask: torch.Tensor, grid: int = 16) -> torch.Tensor:
    """N x 1 x grid x grid: 1 where a patch of the `grid` x `grid` logit map lies, with a margin of one patch
    around it, wholly inside the face mask (N x 1 x H x W in [0, 1]); else 0."""
    cell = mask.shape[-1] // grid
    pooled = F.avg_pool2d(mask.float(), kernel_size=3 * cell, stride=cell, padding=cell, count_include_pad=True)
    return (pooled > 0.999).float()


def composite_target(hq: torch.Tensor, lq: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """What the composited output should be: the restored face inside the face mask, the input elsewhere."""
    return mask * hq + (1 - mask) * lq


def classifier_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy over the known labels; a NaN label (a face the mix says nothing about) adds nothing."""
    known = ~torch.isnan(labels)
    if not bool(known.any()):
        return logits.sum() * 0.0
    return F.binary_cross_entropy_with_logits(logits[known], labels[known])


def hold_loss(image: torch.Tensor, held: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """L1 between `image` and the frozen model's output `held` over the faces whose labels are all known; a face
    with a NaN label (one the earlier model never learned) is left to the other terms."""
    known = ~torch.isnan(labels).any(dim=1)
    if not bool(known.any()):
        return image.sum() * 0.0
    return (image[known] - held[known]).abs().mean()


def frrnet_losses(out: dict, target: torch.Tensor, gt_mask: torch.Tensor, labels: torch.Tensor, features, c: Config,
                  held: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    from training.losses import angular_colour_loss, channel_huber, dice_loss, fine_band_l1, l1

    image = out["image"].float()
    parts = {
        "rec": l1(image, target) + channel_huber(image, target),
        "ang": angular_colour_loss(image, target),
        "dice": dice_loss(out["mask"].float(), gt_mask),
    }
    feats = features(image, target)
    parts["per"] = feats["perceptual"]
    parts["style"] = feats["style"]
    if c.lambda_id:
        parts["id"] = feats["identity"]
    if c.lambda_fine:
        parts["fine"] = fine_band_l1(image, target)
    if "logits" in out and labels.numel():
        parts["cls"] = classifier_loss(out["logits"].float(), labels)
    if held is not None and c.lambda_hold:
        parts["hold"] = hold_loss(image, held, labels)
    weights = {"rec": c.lambda_rec, "ang": c.lambda_ang, "dice": c.lambda_dice, "per": c.lambda_per, "style": c.lambda_style, "cls": c.lambda_cls,
               "id": c.lambda_id, "fine": c.lambda_fine, "hold": c.lambda_hold}
    parts["total"] = sum(weights[k] * v for k, v in parts.items())
    return parts


def sample_grid(lq: np.ndarray, out: np.ndarray, hq: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Rows of input | output | ground truth | predicted mask, uint8."""
    def u8(a):
        return np.clip(np.round(a * 255), 0, 255).astype(np.uint8)

    rows = [np.concatenate([u8(i), u8(o), u8(h), u8(np.repeat(m, 3, axis=2))], axis=1) for i, o, h, m in zip(lq, out, hq, mask)]
    return np.concatenate(rows, axis=0)


class Recipe(BaseRecipe):
    name = "frrnet"
    Config = Config

    def __init__(self, cache, device="cpu", overrides=None, identity_network=None):
        super().__init__(cache, device, overrides)
        from frstudio.core.restore import load_identity_network
        from training.data.dataset import LABEL_KEYS as LABELLED_PIPELINES
        from training.data.dataset import DegradedFaces, FaceCache, ProtocolFaces
        from training.losses import IdentityFeatureLoss

        c = self.config
        torch.manual_seed(c.seed)
        identity_network = identity_network or load_identity_network()
        self._model_config = {
            "width": c.width,
            "depth": c.depth,
            "downsamplings": c.downsamplings,
            "classifier": True,
            "faceid": {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(identity_network.config).items()},
        }
        self.net = frrnet.build(self._model_config)
        self.net.features.load_state_dict(identity_network.state_dict())
        self.nets = {"net": self.net, **self._discriminators()}
        self.features = IdentityFeatureLoss(identity_network)
        self.prepare_nets()
        self.features.to(self.device)
        self.held_net = self._held_network() if c.lambda_hold else None
        params = [p for p in self.net.parameters() if p.requires_grad]
        self.opts = {"net": torch.optim.Adam(params, lr=c.lr, betas=(0.9, 0.99))}
        self.opts.update({k: torch.optim.Adam(self.nets[k].parameters(), lr=c.lr_d, betas=(0.5, 0.99)) for k in self.nets if k != "net"})
        self.scheds = {k: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=c.steps, eta_min=o.defaults["lr"] * 0.05)
                       for k, o in self.opts.items()}
        if c.degradation not in LABELLED_PIPELINES:
            raise SystemExit(f"frrnet: degradation {c.degradation!r} has no distortion labels for the classifier; "
                             f"use one of {', '.join(LABELLED_PIPELINES)}")
        self.data = FaceCache(cache)
        threshold = self.data.sharpness_threshold("train", c.drop_blurriest) if c.drop_blurriest > 0 else None
        rows = self.data.indices("train", min_sharpness=threshold)
        self.train_set = DegradedFaces(self.data, rows, c.degradation, seed=c.seed, flip=True, label_keys=LABEL_KEYS)
        val_rows = self.data.indices(c.val_split)[:: max(1, len(self.data.indices(c.val_split)) // c.val_faces)][: c.val_faces]
        # validation on the training distribution: its clean faces check that good faces are left alone
        self.val_set = ProtocolFaces(self.data, c.val_degradation or c.degradation, split=c.val_split, indices=val_rows)

    def model_config(self) -> dict:
        return self._model_config

    def _discriminators(self) -> dict[str, torch.nn.Module]:
        from training.discriminators import FacePartDiscriminator, PatchDiscriminator

        c = self.config
        kind = {"spectral": c.d_spectral, "detail": c.d_detail}
        return {**({"disc": PatchDiscriminator(**kind)} if c.lambda_adv or c.lambda_fm_patch else {}),
                **({"disc_parts": FacePartDiscriminator(**kind)} if c.lambda_parts or c.lambda_fm_parts else {})}

    def _held_network(self) -> torch.nn.Module:
        """The frozen model the hold term keeps faces near (`hold_weights`, exported weights of this architecture)."""
        from pathlib import Path

        from training.loop import read_exported_weights, require_same_architecture

        if not self.config.hold_weights:
            raise SystemExit("frrnet: lambda_hold needs hold_weights (exported weights, e.g. resources/weights/frrnet.safetensors)")
        path = Path(self.config.hold_weights)
        config, state, _ = read_exported_weights(path, "hold_weights")
        require_same_architecture(config, self._model_config, path, "hold_weights")
        held = frrnet.build(config)
        held.load_state_dict({k: v.float() for k, v in state.items()})
        held.requires_grad_(False).eval()
        return held.to(self.device).to(memory_format=torch.channels_last)

    def batches(self, start_step):
        return self.loader(self.train_set, start_step)

    def _adversarial(self, fake: torch.Tensor, real: torch.Tensor, step: int, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """One step of each discriminator on `real` against the detached `fake`, then, where `fake` carries
        gradients, the generator's terms (the discriminators frozen, so only the restoration network learns from them)."""
        from training.losses.adversarial import feature_matching, ns_d_loss, ns_g_loss, r1_penalty

        c = self.config
        lazy_r1 = c.r1_gamma > 0 and step % c.r1_every == 0
        terms = {"disc": ("adv", c.lambda_adv), "disc_parts": ("adv_parts", c.lambda_parts)}
        matching = {"disc": ("fm", c.lambda_fm_patch), "disc_parts": ("fm_parts", c.lambda_fm_parts)}
        parts = {}
        for key, disc in self.nets.items():
            if key not in terms:
                continue
            patch_weight = inside_patches(mask) if key == "disc" and c.d_inside else None
            with self.autocast():
                d_loss = ns_d_loss(disc(real).float(), disc(fake.detach()).float(), weight=patch_weight)
            if float(d_loss.detach()) >= c.d_floor:
                penalty = 0.0
                if lazy_r1:  # in fp32: a gradient of a gradient under bf16 is too coarse to regularise with
                    clean = real.detach().float().requires_grad_(True)
                    penalty = c.r1_gamma / 2 * c.r1_every * r1_penalty(disc(clean).float(), clean)
                self.opts[key].zero_grad(set_to_none=True)
                (d_loss + penalty).backward()
                self.opts[key].step()
            parts[f"d_{terms[key][0]}"] = d_loss.detach()
            if not fake.requires_grad:  # the warm-up: nothing for the generator to learn yet
                continue
            disc.requires_grad_(False)
            with self.autocast():
                if terms[key][1]:
                    parts[terms[key][0]] = ns_g_loss(disc(fake).float(), weight=patch_weight)
                if matching[key][1]:
                    with torch.no_grad():
                        real_feats = [f.float() for f in disc.features(real)]
                    parts[matching[key][0]] = feature_matching(real_feats, [f.float() for f in disc.features(fake)])
            disc.requires_grad_(True)
        if parts:
            weighted = [*terms.values(), *matching.values()]
            parts["total"] = sum(weight * parts[name] for name, weight in weighted if name in parts)
        return parts

    def train_step(self, batch, step):
        lq, hq = self.to_device(batch["lq"]), self.to_device(batch["hq"])
        gt_mask = self.to_device(batch["mask"])
        labels = batch["labels"].to(self.device).float()
        target = composite_target(hq, lq, gt_mask)
        if step < self.config.d_warmup and len(self.nets) > 1:
            with torch.no_grad(), self.autocast():
                fake = self.net(lq)["image"].float()
            return {k: float(v) for k, v in self._adversarial(fake, target, step, gt_mask).items() if k != "total"}
        with self.autocast():
            held = None
            if self.held_net is not None:
                with torch.no_grad():
                    held = self.held_net(lq)["image"].float()
            out = self.net(lq)
            parts = frrnet_losses(out, target, gt_mask, labels, self.features, self.config, held)
        adversarial = self._adversarial(out["image"], target, step, gt_mask)
        if adversarial:
            parts["total"] = parts["total"] + adversarial.pop("total")
            parts.update(adversarial)
        opt = self.opts["net"]
        opt.zero_grad(set_to_none=True)
        parts["total"].backward()
        opt.step()
        return {k: float(v.detach()) for k, v in parts.items()}

    def _val_batches(self):
        return val_batches(self.val_set, ("lq", "hq", "mask", "labels"))

    def validate(self, ema):
        """PSNR of input and output on the distorted validation faces; on the clean ones (15 %), how much the
        network changes a face it should leave alone; the classifier's per-label accuracy; the mask's Dice; the FaceID
        distance of input and output to the target."""
        from training.metrics import psnr

        def hwc255(t):
            return (t.permute(1, 2, 0).numpy() * 255).round()

        p_in, p_out, clean_change, dice, id_in, id_out = [], [], [], [], [], []
        correct, total = np.zeros(len(LABEL_KEYS)), 0
        for b in self._val_batches():
            lq, hq, mask = b["lq"], b["hq"], b["mask"]
            out = ema(lq.to(self.device))
            img = out["image"].float().cpu()
            target = composite_target(hq, lq, mask)
            for i in range(len(img)):
                if b["labels"][i].sum() > 0:
                    p_in.append(psnr(hwc255(lq[i]), hwc255(target[i])))
                    p_out.append(psnr(hwc255(img[i]), hwc255(target[i])))
                else:
                    clean_change.append(float((img[i] - lq[i]).abs().mean() * 255))
            correct += ((out["labels"].cpu() > 0.5).float() == b["labels"]).float().sum(0).numpy()
            total += len(img)
            pred = out["mask"].float().cpu()
            with torch.no_grad():  # FaceID cosine distance to the target, input beside output (batch means)
                id_in.append(float(self.features.identity(lq.to(self.device), target.to(self.device))))
                id_out.append(float(self.features.identity(img.to(self.device), target.to(self.device))))
            dice.extend((2 * (pred * mask).sum((1, 2, 3)) / (pred.sum((1, 2, 3)) + mask.sum((1, 2, 3)) + 1e-6)).tolist())
        metrics = {"psnr_in": float(np.mean(p_in)), "psnr_out": float(np.mean(p_out)), "mask_dice": float(np.mean(dice)),
                   "faceid_in": float(np.mean(id_in)), "faceid_out": float(np.mean(id_out))}
        if clean_change:
            metrics["clean_change"] = float(np.mean(clean_change))  # mean |output - input| in 0-255 levels
        metrics.update({f"acc_{k}": float(correct[i] / total) for i, k in enumerate(LABEL_KEYS)})
        return metrics

    def samples(self, ema):
        b = next(self._val_batches())
        out = ema(b["lq"][:6].to(self.device))
        as_hwc = lambda t: t[:6].float().cpu().permute(0, 2, 3, 1).numpy()  # noqa: E731
        return sample_grid(as_hwc(b["lq"]), as_hwc(out["image"]), as_hwc(b["hq"]), as_hwc(out["mask"]))
