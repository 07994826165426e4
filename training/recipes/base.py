"""What every recipe provides to the loop, and the plumbing they share (device, precision, data order)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch


@dataclasses.dataclass
class TrainConfig:
    """Training hyper-parameters shared by recipes; each recipe extends it."""

    steps: int = 10_000
    batch: int = 32
    lr: float = 1e-3
    ema: float = 0.999
    ema_warmup: int = 500  # plain averaging over the first steps, so early EMA is not dominated by noise
    workers: int = 1
    seed: int = 0


class StepSampler(torch.utils.data.Sampler):
    """Batches of (epoch, index) keys in a fixed order for a seed, starting at any step: resuming at step k
    sees exactly the batches an uninterrupted run would have seen from step k on. (The datasets of
    training.data take such keys: an item depends on its epoch, and the key carries it into the workers.)"""

    def __init__(self, n: int, batch: int, seed: int, start_step: int = 0):
        self.n, self.batch, self.seed, self.start = n, batch, seed, start_step
        self.per_epoch = n // batch

    def __iter__(self):
        step = self.start
        while True:
            epoch, k = divmod(step, self.per_epoch)
            order = np.random.default_rng([self.seed, epoch]).permutation(self.n)
            yield [(epoch, int(i)) for i in order[k * self.batch : (k + 1) * self.batch]]
            step += 1

    def __len__(self):  # an endless sampler; DataLoader only needs this for its progress hints
        return 2**31


def val_batches(dataset, keys: tuple[str, ...], size: int = 16) -> Iterator[dict]:
    """A validation set's items, stacked `size` at a time, keeping only `keys` (e.g. ("lq", "hq"))."""
    for start in range(0, len(dataset), size):
        items = [dataset[i] for i in range(start, min(len(dataset), start + size))]
        yield {k: torch.stack([torch.as_tensor(it[k]) for it in items]) for k in keys}


def add_fidelity(rows: dict[str, list[float]], inp: np.ndarray, out: np.ndarray, hq: np.ndarray) -> None:
    """Append the PSNR and SSIM (Y) of a degraded input and of its restoration (uint8 H x W x 3, the ground
    truth's size) to rows["psnr_in"], ["psnr"], ["ssim_in"], ["ssim"]."""
    from training.metrics import psnr, ssim

    for key, image in (("_in", inp), ("", out)):
        rows.setdefault(f"psnr{key}", []).append(psnr(image, hq))
        rows.setdefault(f"ssim{key}", []).append(ssim(image, hq))


class Recipe:
    """Base class. Subclasses set `name`, `Config`, build `nets`/`opts`/`scheds` and implement
    `batches`, `train_step`, `validate`, `samples`, `model_config`."""

    name = "recipe"
    Config = TrainConfig
    export_key = "net"

    def __init__(self, cache: Path | None, device: str = "cpu", overrides: dict | None = None):
        self.config = self.Config(**(overrides or {}))
        self.cache = cache
        self.device = device
        self.nets: dict[str, torch.nn.Module] = {}
        self.opts: dict[str, torch.optim.Optimizer] = {}
        self.scheds: dict[str, torch.optim.lr_scheduler.LRScheduler] = {}

    # --- precision ---------------------------------------------------------------------------------
    def autocast(self):
        """bf16 autocast on CPU (AMX makes it ~3x faster), fp16/bf16 AMP on CUDA."""
        if self.device.startswith("cuda"):
            return torch.autocast("cuda", dtype=torch.bfloat16)
        if self.device == "cpu":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def to_device(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        return x.contiguous(memory_format=torch.channels_last) if x.ndim == 4 else x

    def prepare_nets(self) -> None:
        for net in self.nets.values():
            net.to(self.device).to(memory_format=torch.channels_last)

    # --- data ----------------------------------------------------------------------------------------
    def loader(self, dataset, start_step: int) -> Iterator[dict]:
        sampler = StepSampler(len(dataset), self.config.batch, self.config.seed, start_step)
        workers = self.config.workers
        return iter(
            torch.utils.data.DataLoader(
                dataset,  # takes (epoch, index) keys, so the epoch reaches the workers too
                batch_sampler=sampler,
                num_workers=workers,
                persistent_workers=workers > 0,
                prefetch_factor=4 if workers > 0 else None,
            )
        )

    # --- the loop's interface ------------------------------------------------------------------------
    def ema_decay(self, step: int) -> float:
        return min(self.config.ema, (1 + step) / (10 + step)) if step < self.config.ema_warmup else self.config.ema

    def train_mode(self) -> None:
        for net in self.nets.values():
            net.train()

    def eval_mode(self) -> None:
        for net in self.nets.values():
            net.eval()

    def config_dict(self) -> dict:
        return {"train": dataclasses.asdict(self.config), "model": self.model_config()}

    def model_config(self) -> dict:
        raise NotImplementedError

    def batches(self, start_step: int) -> Iterator[dict]:
        raise NotImplementedError

    def train_step(self, batch: dict, step: int) -> dict[str, float]:
        raise NotImplementedError

    def validate(self, ema: torch.nn.Module) -> dict[str, float]:
        raise NotImplementedError

    def samples(self, ema: torch.nn.Module) -> np.ndarray | None:
        return None
