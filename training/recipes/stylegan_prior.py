"""Recipe: the StyleGAN2 prior of seed 002, pre-trained unconditionally, `python -m training train stylegan_prior`.

No pretrained StyleGAN2 can be had here, so the prior is a small one (frstudio.models.mmrb_stylegan.Generator)
trained from scratch at 128 x 128 on the training faces, mirrored with p = .5:
  - non-saturating loss; lazy R1 on real images (every `r1_every` steps, weighted by that interval, as
    StyleGAN2 does); no path-length regulariser (a smoothness term for latent interpolation, which restoration
    does not use);
  - DiffAugment (colour, translation, cutout) on everything the discriminator sees, real and fake, because
    the data are small for a GAN (Zhao et al. 2020);
  - the mapping network at 1/100 of the learning rate (StyleGAN's), Adam betas (0, 0.99);
  - the noise branches get N(0, 1) noise with the channel count the codec's decoder will later fill (eq. 3).

`recipe.nets` = {"net": generator, "disc": discriminator}: `mmrb_stylegan` takes both from this run's checkpoint
(`--set prior=RUN_DIR`). Validation reports FD-dlib of 256 samples against the validation faces, so a weak
prior is visible in the numbers; `python -m training prior RUN_DIR` draws the grid and measures it on the test
split.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from frstudio.models import mmrb_stylegan
from frstudio.models.blocks import leaky
from frstudio.core.degradations import Degraded
from training.recipes.base import Recipe as BaseRecipe
from training.recipes.base import TrainConfig


@dataclasses.dataclass
class Config(TrainConfig):
    steps: int = 3000
    batch: int = 16
    lr: float = 2e-3  # the generator's convolutions are equalised (N(0, 1) weights scaled at run time), as StyleGAN2's
    # The discriminator's are plain PyTorch layers (weights ~ 1 / sqrt(fan-in)), for which StyleGAN2's 2e-3 is a
    # ~30x larger relative step: a first run at lr_d 2e-3 blew up at step ~250 (D loss 1.4 ->
    # 7.6e5 within 30 steps). 2e-4 and a clipped gradient norm keep it in range.
    lr_d: float = 2e-4
    clip: float = 5.0  # max gradient norm of each network's update
    mapping_lr_scale: float = 0.01
    betas: tuple = (0.0, 0.99)
    ema: float = 0.995
    r1_gamma: float = 0.25  # StyleGAN2's gamma scales with resolution squared: 10 at 1024 px -> ~0.16 at 128
    r1_every: int = 8
    augment: str = "color,translation,cutout"
    # architecture (frstudio.models.mmrb_stylegan.Config; the codec's fields are unused here)
    channels: tuple = (128, 128, 96, 64, 32, 16)
    noise_channels: tuple = (32, 32, 32, 32, 16, 16)
    style: int = 128
    latent: int = 128
    mapping_layers: int = 8
    d_channels: tuple = (16, 32, 64, 96, 128, 128)  # discriminator channels at 128, 64, ..., 4 px
    val_samples: int = 256
    val_split: str = "val"

    def __post_init__(self):
        self.betas, self.channels, self.noise_channels, self.d_channels = (
            tuple(self.betas), tuple(self.channels), tuple(self.noise_channels), tuple(self.d_channels))


class DiscriminatorBlock(nn.Module):
    """StyleGAN2's residual discriminator block: two 3 x 3 convolutions and a stride-2 down-sampling, plus a
    1 x 1 skip, summed and scaled by 1/sqrt(2)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_in, 3, padding=1)
        self.conv2 = nn.Conv2d(c_in, c_out, 3, stride=2, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = leaky(self.conv2(leaky(self.conv1(x))))
        return (y + self.skip(F.avg_pool2d(x, 2))) / math.sqrt(2)


class Discriminator(nn.Module):
    """StyleGAN2's residual discriminator for 128 x 128 faces: from-RGB, five blocks to 4 x 4, minibatch
    standard deviation, a convolution and two linear layers. `layers` lists the trainable stages from the input
    side, so FreezeD can freeze the first k of them."""

    def __init__(self, channels: tuple = (16, 32, 64, 96, 128, 128)):
        super().__init__()
        self.from_rgb = nn.Conv2d(3, channels[0], 1)
        self.blocks = nn.ModuleList(DiscriminatorBlock(a, b) for a, b in zip(channels, channels[1:]))
        self.final_conv = nn.Conv2d(channels[-1] + 1, channels[-1], 3, padding=1)
        self.fc = nn.Linear(channels[-1] * 16, channels[-1])
        self.out = nn.Linear(channels[-1], 1)

    @property
    def layers(self) -> list[nn.Module]:
        return [self.from_rgb, *self.blocks, self.final_conv, self.fc, self.out]

    @staticmethod
    def minibatch_std(x: torch.Tensor, group: int = 4) -> torch.Tensor:
        """Append one channel: the standard deviation over groups of `group` images, averaged over features and
        positions (lets the discriminator see a batch's lack of variety)."""
        n, c, h, w = x.shape
        g = min(group, n)
        while n % g:
            g -= 1
        y = x.float().reshape(g, -1, c, h, w)
        std = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # n / g
        std = std.reshape(-1, 1, 1, 1).repeat(g, 1, h, w).to(x.dtype)
        return torch.cat([x, std], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = leaky(self.from_rgb(x * 2 - 1))
        for block in self.blocks:
            h = block(h)
        h = leaky(self.final_conv(self.minibatch_std(h)))
        return self.out(leaky(self.fc(h.flatten(1)))).squeeze(1)


def generator_config(c) -> dict:
    """The mmrb_stylegan architecture of a config carrying (some of) its fields."""
    fields = {f.name for f in dataclasses.fields(mmrb_stylegan.Config)}
    return mmrb_stylegan.config_dict(mmrb_stylegan.Config(**{k: getattr(c, k) for k in fields if hasattr(c, k)}))


def undegraded(hq: np.ndarray, rng: np.random.Generator) -> Degraded:
    """The identity 'degradation': unconditional training needs the faces only (module level: picklable for
    the loader's worker processes)."""
    return Degraded(hq, {"protocol": "none"})


def mean_landmarks(cache) -> np.ndarray:
    """The training faces' mean 68 landmarks on the 128 crop: where dlib looks for landmarks on a sample."""
    return np.asarray(cache.landmarks[cache.indices("train")[::50]], np.float32).mean(axis=0)


def sample_descriptors(generator: mmrb_stylegan.Generator, n: int, landmarks: np.ndarray, seed: int = 0,
                       truncation: float = 1.0, batch: int = 32) -> np.ndarray:
    """dlib descriptors of `n` random samples of the prior (landmarks searched in the mean face's box)."""
    from training.evaluate import crop_descriptor, crop_landmarks, float_to_uint8

    rng = torch.Generator().manual_seed(seed)
    out = []
    for start in range(0, n, batch):
        k = min(batch, n - start)
        z = torch.randn((k, generator.config.latent), generator=rng)
        noise = generator.random_noise(k, generator=rng)
        images = generator(z, noise, truncation=truncation).float().clamp(0, 1)
        for img in images:
            face = float_to_uint8(img.numpy())
            out.append(crop_descriptor(face, crop_landmarks(face, landmarks)))
    return np.stack(out)


class Recipe(BaseRecipe):
    name = "stylegan_prior"
    Config = Config

    def __init__(self, cache, device="cpu", overrides=None):
        super().__init__(cache, device, overrides)
        from training.data.dataset import DegradedFaces, FaceCache

        c = self.config
        torch.manual_seed(c.seed)
        self._model_config = generator_config(c)
        self.net = mmrb_stylegan.Generator(mmrb_stylegan.Config(**self._model_config))
        self.disc = Discriminator(c.d_channels)
        self.nets = {"net": self.net, "disc": self.disc}
        self.prepare_nets()
        mapping = list(self.net.mapping.parameters())
        ids = {id(p) for p in mapping}
        self.opts = {
            "net": torch.optim.Adam(
                [{"params": [p for p in self.net.parameters() if id(p) not in ids]},
                 {"params": mapping, "lr": c.lr * c.mapping_lr_scale}], lr=c.lr, betas=c.betas),
            "disc": torch.optim.Adam(self.disc.parameters(), lr=c.lr_d, betas=c.betas),
        }
        self.scheds = {}  # StyleGAN2 trains at a constant rate
        self.augment = torch.Generator().manual_seed(c.seed + 1)
        self.data = FaceCache(cache)
        self.train_set = DegradedFaces(self.data, self.data.indices("train"), undegraded, seed=c.seed, flip=True)

    def model_config(self) -> dict:
        return self._model_config

    def batches(self, start_step):
        return self.loader(self.train_set, start_step)

    def _aug(self, x: torch.Tensor) -> torch.Tensor:
        from training.losses.augment import diff_augment

        return diff_augment(x, self.config.augment, generator=self.augment)

    def _fakes(self, n: int) -> torch.Tensor:
        z = torch.randn((n, self.config.latent), device=self.device)
        with self.autocast():
            return self.net(z)

    def train_step(self, batch, step):
        from training.losses.adversarial import ns_d_loss, ns_g_loss, r1_penalty

        c = self.config
        real = self.to_device(batch["hq"])
        n = real.shape[0]
        logs = {}
        # discriminator
        fake = self._fakes(n).detach()
        with self.autocast():
            d_loss = ns_d_loss(self.disc(self._aug(real)).float(), self.disc(self._aug(fake)).float())
        self.opts["disc"].zero_grad(set_to_none=True)
        d_loss.backward()
        if step % c.r1_every == 0:  # lazy R1, in fp32: a gradient of a gradient
            real_r1 = real.detach().requires_grad_(True)
            penalty = r1_penalty(self.disc(self._aug(real_r1)).float(), real_r1)
            (penalty * c.r1_gamma / 2 * c.r1_every).backward()
            logs["r1"] = float(penalty.detach())
        torch.nn.utils.clip_grad_norm_(self.disc.parameters(), c.clip)
        self.opts["disc"].step()
        # generator
        self.disc.requires_grad_(False)
        fake = self._fakes(n)
        with self.autocast():
            g_loss = ns_g_loss(self.disc(self._aug(fake)).float())
        self.opts["net"].zero_grad(set_to_none=True)
        g_loss.backward()
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), c.clip)
        self.opts["net"].step()
        self.disc.requires_grad_(True)
        with torch.no_grad():  # the running mean of w, for truncated sampling
            w = self.net.mapping(torch.randn((n, c.latent), device=self.device)).float().mean(0)
            self.net.w_avg.lerp_(w, 0.005)
        logs.update({"d": float(d_loss.detach()), "g": float(g_loss.detach())})
        return logs

    def validate(self, ema):
        """FD-dlib of `val_samples` samples (untruncated) against the `val_split` faces' descriptors."""
        from training.metrics import frechet_distance

        ema = ema.float().cpu()
        val = self.data.indices(self.config.val_split)
        real = np.asarray(self.data.descriptors[val], np.float64)
        fake = sample_descriptors(ema, self.config.val_samples, mean_landmarks(self.data))
        ema.to(self.device)
        return {"fd_dlib": float(frechet_distance(fake, real))}

    def samples(self, ema):
        """An 8 x 4 grid of samples at truncation 0.7 (fixed latents: the grids of a run compare)."""
        g = torch.Generator().manual_seed(123)
        z = torch.randn((32, self.config.latent), generator=g)
        noise = ema.random_noise(32, generator=g)
        images = ema.cpu().float()(z, noise, truncation=0.7).clamp(0, 1)
        ema.to(self.device)
        rows = [torch.cat(list(images[i * 8 : (i + 1) * 8]), dim=2) for i in range(4)]
        grid = torch.cat(rows, dim=1)
        return (grid.permute(1, 2, 0).numpy() * 255).round().clip(0, 255).astype(np.uint8)


def measure_prior(run_dir, cache, n: int = 1000, truncations: tuple = (1.0, 0.7)) -> tuple[dict, np.ndarray]:
    """FD-dlib of `n` samples of a stylegan_prior run's EMA generator against the test faces, at each
    truncation, beside the same distance for `n` real training faces (the floor a perfect prior would reach
    with this many samples); and a grid of 32 samples at truncation 0.7 (what validation draws)."""
    from training.data.dataset import FaceCache
    from training.loop import checkpoint_path
    from training.metrics import frechet_distance

    payload = torch.load(checkpoint_path(run_dir), map_location="cpu", weights_only=False)
    generator = mmrb_stylegan.Generator(mmrb_stylegan.Config(**payload["config"]["model"]))
    generator.load_state_dict(payload["ema"])
    generator.eval()
    data = FaceCache(cache)
    test = np.asarray(data.descriptors[data.indices("test")], np.float64)
    train = data.indices("train")
    real = np.asarray(data.descriptors[train[np.random.default_rng(0).choice(len(train), n, replace=False)]], np.float64)
    report = {"run": str(run_dir), "steps": int(payload["step"]), "hours": round(float(payload["hours"]), 3), "samples": n,
              "fd_dlib_train_faces": float(frechet_distance(real, test))}
    landmarks = mean_landmarks(data)
    with torch.no_grad():
        for psi in truncations:
            report[f"fd_dlib_psi{psi:g}"] = float(frechet_distance(sample_descriptors(generator, n, landmarks, truncation=psi), test))
        grid = Recipe.samples(_GridOnly(payload["config"]["train"]), generator)
    return report, grid


class _GridOnly:
    """Just what Recipe.samples reads, so the grid of a finished run needs no data loader."""

    def __init__(self, train_config: dict):
        self.config = Config(**train_config)
        self.device = "cpu"
