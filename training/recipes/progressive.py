"""Recipe: progressive landmark-attention GAN (seed 003), both objectives.

`python -m training train progressive_16` (16 x 16 -> 128, degradation `seed003-16`) and
`python -m training train progressive_128` (128 -> 128 through the encoder, `seed003-128`), on the train split,
the blurriest 10 % dropped as targets, faces mirrored with p = .5.

Progressive training, as the seed: every batch passes through step 1 (32 px) of generator and critic, then
steps 1-2 (64 px), then the whole network (128 px); at each of the three, the critic and then the generator are
updated (alternately). The ground truth of a step is the HQ face resized to its resolution.

Losses (eq. 2-6):
  - WGAN-GP (eq. 2): critic `D(fake) - D(real) + lambda_gp * GP`, plus ProGAN's drift term `eps * D(real)^2`
    (keeps the unbounded critic's outputs near zero); generator `-D(fake)`.
  - mean absolute error (eq. 3) at every step;
  - perceptual (eq. 4): L1 between the identity network's stage features (the project's FaceID stands in for
    the seed's unnamed network), at the 128 px step, where the identity network works;
  - landmark attention (eq. 5): the absolute error, filtered by a 5 x 5 Gaussian, read at each of the 68
    landmarks (halved at 64 px), at steps 2 and 3; averaged over landmarks rather than summed, so its weight
    is on the scale of the pixel loss.
  - dynamic weighting (eq. 6): L = L_adv + alpha_k L_pixel + beta_k L_percep + gamma_k L_atten, where the
    weights of the non-adversarial terms grow linearly with training, from `ramp_start` of their value to all
    of it at `ramp_fraction` of the steps ("adversarial first, the others growing at most linearly with the
    epoch"). The seed starts them near zero over 102 GPU epochs; a CPU budget of a few thousand steps cannot
    spend its first half learning from the critic alone, so they start at a quarter.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from frstudio.models import progressive
from training.recipes.base import Recipe as BaseRecipe
from training.recipes.base import TrainConfig, add_fidelity, val_batches

PROTOCOLS = {"16": "seed003-16", "128": "seed003-128"}


@dataclasses.dataclass
class Config(TrainConfig):
    objective: str = "16"
    steps: int = 3000
    batch: int = 16
    lr: float = 2e-4  # generator
    lr_d: float = 2e-4
    betas: tuple = (0.5, 0.99)
    ema: float = 0.995  # a ~200-step horizon: with a few thousand steps, 0.999 would ship a mostly early network
    # architecture (frstudio.models.progressive.Config)
    widths: tuple = (128, 64, 32, 16)
    blocks: tuple = (3, 2, 1)
    encoder_width: int = 16
    encoder_channels: int = 512
    input_skip: bool = True
    # losses
    lambda_adv: float = 0.01
    lambda_gp: float = 10.0
    # Lazy regularisation (StyleGAN2's): the penalty's double backward costs more than the rest of a critic
    # update, so it is computed every `gp_every` critic updates with its weight multiplied by as much.
    gp_every: int = 4
    drift: float = 1e-3
    alpha: float = 1.0  # pixel
    beta: float = 0.05  # perceptual
    gamma: float = 1.0  # landmark attention
    ramp_start: float = 0.25
    ramp_fraction: float = 0.5
    attention_sigma: float = 1.0  # the 5 x 5 Gaussian's sigma, pixels
    progressive: bool = True  # False: only the whole network at each batch (an ablation of the progressive steps)
    d_widths: tuple = (16, 32, 64, 128)  # critic channels at 128, 64, 32, 16 px
    drop_blurriest: float = 0.1
    # the training and validation damage: "" is the objective's own protocol (PROTOCOLS); the 128 objective may
    # train on another 128 px pipeline, e.g. the default model's restore-mix (issue 21 item 6)
    degradation: str = ""
    val_split: str = "val"
    val_faces: int = 96

    def __post_init__(self):
        self.objective = str(self.objective)
        if self.degradation and self.objective == "16" and self.degradation != PROTOCOLS["16"]:
            raise ValueError(f"the 16 px objective trains on {PROTOCOLS['16']} only, not {self.degradation!r}")
        if self.objective not in PROTOCOLS:
            raise ValueError(f"objective must be one of {', '.join(PROTOCOLS)}")
        self.betas, self.widths, self.blocks, self.d_widths = tuple(self.betas), tuple(self.widths), tuple(self.blocks), tuple(self.d_widths)


# --------------------------------------------------------------------------------------------------- critic


class ProgressiveCritic(nn.Module):
    """The generator's mirror: from-RGB heads at 32, 64 and 128 px enter a chain of stride-2 blocks down to
    16 px, then one score. Step k's images (32 * 2^(k-1) px) go through the last k blocks. No normalisation
    (WGAN-GP's penalty is per sample)."""

    def __init__(self, widths: tuple = (32, 64, 128, 256)):
        super().__init__()
        w128, w64, w32, w16 = widths
        self.from_rgb = nn.ModuleList(nn.Conv2d(3, w, 1) for w in (w32, w64, w128))  # step 1, 2, 3
        self.blocks = nn.ModuleList(self._down(a, b) for a, b in ((w128, w64), (w64, w32), (w32, w16)))
        self.final = nn.Sequential(
            nn.Conv2d(w16, w16, 3, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(w16, w16, 4, stride=2, padding=1), nn.LeakyReLU(0.2),  # 8 x 8
            nn.Flatten(), nn.Linear(w16 * 64, 1),
        )

    @staticmethod
    def _down(c_in: int, c_out: int) -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(c_in, c_in, 3, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
        )

    def forward(self, x: torch.Tensor, steps: int = 3) -> torch.Tensor:
        h = F.leaky_relu(self.from_rgb[steps - 1](x), 0.2)
        for block in self.blocks[3 - steps :]:
            h = block(h)
        return self.final(h).squeeze(1)


# --------------------------------------------------------------------------------------------------- losses


def gaussian_kernel(size: int = 5, sigma: float = 1.0) -> torch.Tensor:
    r = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    k = torch.outer(g, g)
    return (k / k.sum())[None, None]


def landmark_attention_loss(pred: torch.Tensor, target: torch.Tensor, landmarks: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Eq. 5: (|target - pred| * h_5x5) read at each landmark, averaged over landmarks and the batch.
    landmarks: N x K x 2 pixel (x, y) in pred's resolution (pixel centres at integers)."""
    from training.losses.flow import pixels_to_unit

    err = (target.float() - pred.float()).abs().mean(dim=1, keepdim=True)
    err = F.conv2d(err, kernel.to(err), padding=kernel.shape[-1] // 2)
    grid = pixels_to_unit(landmarks.float(), pred.shape[-1]).unsqueeze(1)  # N x 1 x K x 2
    return F.grid_sample(err, grid, mode="bilinear", padding_mode="border", align_corners=False).mean()


def scale_landmarks(landmarks: torch.Tensor, scale: float) -> torch.Tensor:
    """Landmarks (pixel centres at integer coordinates) of an image resized by `scale`."""
    return (landmarks + 0.5) * scale - 0.5


def ramp(step: int, c: Config) -> float:
    """Eq. 6's dynamic weight of the non-adversarial terms: linear from ramp_start to 1."""
    end = max(1, int(c.ramp_fraction * c.steps))
    return min(1.0, c.ramp_start + (1 - c.ramp_start) * step / end)


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    if x.shape[-1] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=size < x.shape[-1])


class Recipe(BaseRecipe):
    name = "progressive"
    Config = Config
    objective: str | None = None  # set by the two named recipes below

    def __init__(self, cache, device="cpu", overrides=None, identity_network=None):
        overrides = dict(overrides or {})
        if self.objective is not None:
            overrides.setdefault("objective", self.objective)
        super().__init__(cache, device, overrides)
        from frstudio.core.restore import load_identity_network
        from training.data.dataset import DegradedFaces, FaceCache, ProtocolFaces

        c = self.config
        torch.manual_seed(c.seed)
        self.protocol = c.degradation or PROTOCOLS[c.objective]
        self._model_config = progressive.config_dict(progressive.Config(
            objective=c.objective, widths=c.widths, blocks=c.blocks, encoder_width=c.encoder_width,
            encoder_channels=c.encoder_channels, input_skip=c.input_skip))
        self.net = progressive.build(self._model_config)
        self.critic = ProgressiveCritic(c.d_widths)
        self.nets = {"net": self.net, "critic": self.critic}
        self.identity = (identity_network or load_identity_network()).eval().requires_grad_(False)
        self.prepare_nets()
        self.identity.to(self.device)
        self.kernel = gaussian_kernel(5, c.attention_sigma).to(self.device)
        self.opts = {
            "net": torch.optim.Adam(self.net.parameters(), lr=c.lr, betas=c.betas),
            "critic": torch.optim.Adam(self.critic.parameters(), lr=c.lr_d, betas=c.betas),
        }
        self.scheds = {k: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=c.steps, eta_min=o.defaults["lr"] * 0.1) for k, o in self.opts.items()}
        self.data = FaceCache(cache)
        threshold = self.data.sharpness_threshold("train", c.drop_blurriest) if c.drop_blurriest > 0 else None
        self.train_set = DegradedFaces(self.data, self.data.indices("train", min_sharpness=threshold), self.protocol, seed=c.seed, flip=True)
        val_all = self.data.indices(c.val_split)
        self.val_set = ProtocolFaces(self.data, self.protocol, split=c.val_split, indices=val_all[:: max(1, len(val_all) // c.val_faces)][: c.val_faces])

    def model_config(self) -> dict:
        return self._model_config

    def batches(self, start_step):
        return self.loader(self.train_set, start_step)

    # ------------------------------------------------------------------------------------------- step

    def _perceptual(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        from training.losses.perceptual import feature_l1

        return feature_l1(self.identity, pred, target)

    def _critic_update(self, real: torch.Tensor, fake: torch.Tensor, k: int, step: int) -> dict:
        from training.losses.adversarial import gradient_penalty, wgan_d_loss

        c, opt = self.config, self.opts["critic"]
        with self.autocast():
            d_real = self.critic(real, k).float()
            d_fake = self.critic(fake.detach(), k).float()
        loss = wgan_d_loss(d_real, d_fake) + c.drift * (d_real**2).mean()
        logs = {f"w{k}": float((d_real - d_fake).mean().detach())}
        if step % c.gp_every == 0:
            # the penalty's double backward in fp32: bf16 gradients of gradients are too coarse for a unit-norm target
            gp = gradient_penalty(lambda z: self.critic(z, k), real.float(), fake.float())
            loss = loss + c.lambda_gp * c.gp_every * gp
            logs[f"gp{k}"] = float(gp.detach())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return logs

    def _generator_update(self, fake: torch.Tensor, real: torch.Tensor, landmarks: torch.Tensor, k: int, weight: float) -> dict:
        c, opt = self.config, self.opts["net"]
        with self.autocast():
            adv = -self.critic(fake, k).float().mean()
            parts = {"pix": F.l1_loss(fake.float(), real.float())}
            if k >= 2:
                parts["att"] = landmark_attention_loss(fake, real, scale_landmarks(landmarks, real.shape[-1] / 128), self.kernel)
            if k == 3:
                parts["per"] = self._perceptual(fake, real)
        weights = {"pix": c.alpha, "att": c.gamma, "per": c.beta}
        total = c.lambda_adv * adv + weight * sum(weights[n] * v for n, v in parts.items())
        for p in self.critic.parameters():
            p.requires_grad_(False)
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        for p in self.critic.parameters():
            p.requires_grad_(True)
        out = {f"g{k}": float(total.detach())}
        if k == 3:
            out.update({n: float(v.detach()) for n, v in parts.items()})
        return out

    def train_step(self, batch, step):
        lq, hq = self.to_device(batch["lq"]), self.to_device(batch["hq"])
        landmarks = batch["landmarks"].to(self.device)
        weight = ramp(step, self.config)
        logs = {}
        for k in (1, 2, 3) if self.config.progressive else (3,):
            real = self.to_device(resize(hq, 16 * 2**k))
            with self.autocast():
                fake = self.net(lq, k)
            logs.update(self._critic_update(real, fake, k, step))
            logs.update(self._generator_update(fake, real, landmarks, k, weight))
        return logs

    # ------------------------------------------------------------------------------------------- checks

    def _val_batches(self, size: int = 16):
        return val_batches(self.val_set, ("lq", "hq"), size)

    def validate(self, ema):
        """PSNR and SSIM (Y) of the input (bicubic up-scaled for 16 px) and of the output, on val faces."""
        from training.evaluate import float_to_uint8, upscale_to

        rows: dict[str, list[float]] = {"psnr_in": [], "psnr": [], "ssim_in": [], "ssim": []}
        for b in self._val_batches():
            out = ema(b["lq"].to(self.device)).float().clamp(0, 1).cpu()
            for x, y, t in zip(b["lq"], out, b["hq"]):
                add_fidelity(rows, upscale_to(float_to_uint8(x), 128), float_to_uint8(y), float_to_uint8(t))
        return {k: float(np.mean(v)) for k, v in rows.items()}

    def samples(self, ema):
        """Rows of input (up-scaled) | step 1 | step 2 | step 3 (all up-scaled to 128) | ground truth."""
        b = next(self._val_batches(6))
        lq = b["lq"].to(self.device)
        up = lambda t: F.interpolate(t.float().cpu(), size=(128, 128), mode="nearest")  # noqa: E731
        cols = [up(lq)] + [up(ema(lq, k).clamp(0, 1)) for k in (1, 2, 3)] + [b["hq"]]
        grid = torch.cat([torch.cat(list(col), dim=1) for col in cols], dim=2)  # 3 x 6*128 x 5*128
        return (grid.permute(1, 2, 0).numpy() * 255).round().clip(0, 255).astype(np.uint8)


class Recipe16(Recipe):
    name = "progressive_16"
    objective = "16"


class Recipe128(Recipe):
    name = "progressive_128"
    objective = "128"
