"""Recipe: the learned fill of marked scratches, cracks and dust (issue 22), `python -m training train fill`.

Data, made on the fly from the training split's prepared crops exactly as the damage detector's
(`training.recipes.damage`: turned, maybe zoomed, made an old print, marked by the *train* stroke family, a share
saved as JPEG), always marked. The app's path is then followed: the marked print is taken to 8 bits, its marks
grown by one pixel and filled by OpenCV (`frstudio.core.scratches.repair`), and FillNet (`frstudio.models.fill_net`)
gets the scan, that fill and the grown mask. The target is the print before its marks.

Objective: Charbonnier distance to the print over the pixels inside the grown marks only (the network changes no
other pixel), averaged over those pixels in the batch. Adam, cosine schedule. The true marks are used here; in
the app the detector's marks are, which is what `benchmarks/damage.py --fill` measures.

Validation on the val split's crops, marked with the train family and seeded per file: PSNR inside the grown marks
of the scan, of OpenCV's fill and of FillNet's.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from frstudio.core import degradations as D
from frstudio.core import scratches
from frstudio.models import fill_net
from training.data.dataset import DegradedFaces
from training.recipes.damage import MarkedPrintConfig, PrintSettings, marked_pair, old_print, unmarked
from training.recipes.damage import Recipe as DamageRecipe

VAL_PROTOCOL = "fill-val"  # seeds the validation crops' marks per file name (frstudio.core.degradations.protocol_rng)


@dataclasses.dataclass
class Config(MarkedPrintConfig):
    lr: float = 1e-3
    unshuffle: int = 2  # on 2 x 2 pixel blocks: frstudio.models.fill_net.Config says why
    clean: float = 0.0  # every crop is marked: one without marks has nothing to fill


def fill_example(hq: np.ndarray, rng: np.random.Generator, s: PrintSettings) -> dict[str, np.ndarray]:
    """One example, H x W x C float32 in [0, 1] each: "scan" (the marked print at 8 bits), "filled" (OpenCV's fill
    of its grown marks, as the app makes it), "mask" (the grown marks, H x W x 1) and "target" (the print)."""
    state = rng.bit_generator.state
    damaged, mask = marked_pair(hq, rng, s)
    rng.bit_generator.state = state
    printed = old_print(hq, rng, s)  # the same print, before its marks: marked_pair draws it first
    scan = np.clip(np.round(damaged * 255), 0, 255).astype(np.uint8)
    holes = scratches.grow_mask(mask, 1)
    filled = scratches.repair(scan, mask)
    return {"scan": scan.astype(np.float32) / 255, "filled": filled.astype(np.float32) / 255,
            "mask": holes[..., None].astype(np.float32), "target": printed}


def _chw(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1), np.float32))


class FillFaces(DegradedFaces):
    """Training items {"scan", "filled", "target": 3 x 128 x 128, "mask": 1 x 128 x 128, "index"}: item i of epoch
    e a pure function of (seed, e, i), as every training set of `training.data` (so resuming is exact)."""

    def __init__(self, cache, indices, settings: PrintSettings, seed: int = 0):
        super().__init__(cache, indices, unmarked, seed=seed, flip=True)
        self.settings = settings

    def make_item(self, row: int, rng: np.random.Generator, flip: bool) -> dict:
        hq, _, _ = self.hq_face(row, flip)
        return {**{k: _chw(v) for k, v in fill_example(hq, rng, self.settings).items()}, "index": int(row)}


def fill_loss(out: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Charbonnier distance over the masked pixels only, averaged over them (all channels)."""
    per_pixel = torch.sqrt((out - target) ** 2 + eps**2) * mask
    return per_pixel.sum() / (mask.sum() * out.shape[1]).clamp_min(1.0)


def masked_psnr(image: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> float:
    """PSNR (8-bit levels, all channels) over the masked pixels of a batch."""
    image, target = (image * 255).round().clamp(0, 255), (target * 255).round().clamp(0, 255)
    mse = float((((image - target) ** 2) * mask).sum() / (mask.sum() * image.shape[1]).clamp_min(1.0))
    return 10 * np.log10(255.0**2 / max(mse, 1e-10))


class Recipe(DamageRecipe):
    """The damage detector's recipe with FillNet, its examples and its objective."""

    name = "fill"
    Config = Config
    model_module = fill_net

    def training_set(self):
        return FillFaces(self.data, self.data.indices("train"), self.settings, seed=self.config.seed)

    def _fill(self, net, batch: dict) -> torch.Tensor:
        with self.autocast():
            return net(*(self.to_device(batch[k]) for k in ("scan", "filled", "mask"))).float()

    def train_step(self, batch, step):
        out = self._fill(self.net, batch)
        loss = fill_loss(out, self.to_device(batch["target"]), self.to_device(batch["mask"]))
        opt = self.opts["net"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"total": float(loss.detach())}

    def val_examples(self) -> dict[str, torch.Tensor]:
        if self._val is None:
            rows = [fill_example(self.data.crops[r].astype(np.float32) / 255.0, D.protocol_rng(VAL_PROTOCOL, str(self.data.file[r])),
                                 self.settings) for r in self.val_rows]
            self._val = {k: torch.stack([_chw(row[k]) for row in rows]) for k in rows[0]}
        return self._val

    def _filled_by(self, ema, size: int = 16) -> torch.Tensor:
        val = self.val_examples()
        return torch.cat([self._fill(ema, {k: v[i : i + size] for k, v in val.items()}).cpu() for i in range(0, len(val["scan"]), size)])

    def validate(self, ema):
        val = self.val_examples()
        with torch.no_grad():
            out = self._filled_by(ema)
        return {f"psnr_{name}": masked_psnr(image, val["target"], val["mask"])
                for name, image in (("scan", val["scan"]), ("opencv", val["filled"]), ("out", out))}

    def samples(self, ema):
        """Rows of scan | OpenCV's fill | FillNet's | the print before its marks."""
        val = self.val_examples()
        n = min(6, len(val["scan"]))
        with torch.no_grad():
            out = self._filled_by(ema)[:n]
        cols = [val["scan"][:n], val["filled"][:n], out, val["target"][:n]]
        grid = torch.cat([torch.cat(list(col), dim=1) for col in cols], dim=2)
        return (grid.permute(1, 2, 0).numpy() * 255).round().clip(0, 255).astype(np.uint8)
