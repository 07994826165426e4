"""Recipe: the whole-photo damage detector (issue 22), `python -m training train damage`.

Data, made on the fly from the training split's prepared crops (cache/faces128): each crop is mirrored, turned by
a multiple of 90 degrees (so the detector learns marks, not where a face's features sit), half of them cut from a
random part of the face and enlarged back (coarser content), made an old print (grey 35 %, sepia 25 %, faded,
softened), then marked with `training.damage_marks.draw_marks(..., family="train")`, which puts grain or a
halftone screen under a share of them; 30 % are saved as JPEG last. The target is the mask of what the marks
changed. A share of crops (`clean`) gets no marks, so untouched prints with grain are seen with an empty target.
The data package offers aligned face crops only, not whole photos, so there are no crops of whole photos yet.

Objective: binary cross-entropy on the logits with `pos_weight` for the rare positive pixels, plus a soft Dice
over the batch (one set of pixels, so a crop with a single speck does not swing it). Adam, cosine schedule.

Validation on the val split's crops, marked with the *train* family (the test family is kept for the benchmark),
seeded per file: pixel precision, recall and IoU at 0.5, and the share of pixels called damage on the same
crops without marks (`clean_fpr`).
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from frstudio.core import degradations as D
from frstudio.models import damage_net
from frstudio.models.contract import config_dict
from training.damage_decoys import draw_decoys
from training.damage_marks import draw_marks
from training.data.dataset import DegradedFaces
from training.recipes.base import Recipe as BaseRecipe
from training.recipes.base import TrainConfig

VAL_PROTOCOL = "damage-val"  # seeds the validation crops' marks per file name (frstudio.core.degradations.protocol_rng)
FAMILY = "train"


@dataclasses.dataclass
class MarkedPrintConfig(TrainConfig):
    """What the damage detector's and the learned fill's recipes share: a tile U-Net on marked prints."""

    steps: int = 6_000
    batch: int = 16
    lr: float = 2e-3
    ema: float = 0.999
    # architecture (frstudio.models.tile_unet)
    widths: tuple = (16, 32, 64, 128)
    blocks: int = 1
    unshuffle: int = 1  # 2: on 2 x 2 pixel blocks (frstudio.models.tile_unet)
    # data
    clean: float = 0.1  # share of crops without marks
    zoom: float = 0.5  # share of crops cut from a random part (half to all of the side) and enlarged back
    grey: float = 0.35
    sepia: float = 0.25
    fade: float = 0.3
    soften: float = 0.25  # share blurred by sigma 0.3-1.2 px before the marks
    jpeg: float = 0.3  # share saved as JPEG (quality 50-95) after the marks
    decoys: float = 0.0  # share with scene structure drawn in first (training.damage_decoys): hard negatives
    val_split: str = "val"
    val_faces: int = 96

    def __post_init__(self):
        self.widths = tuple(self.widths)


@dataclasses.dataclass
class Config(MarkedPrintConfig):
    # losses
    pos_weight: float = 5.0  # marks cover ~1-5 % of a crop; the full ratio (~30) makes a trigger-happy detector
    lambda_dice: float = 1.0


@dataclasses.dataclass(frozen=True)
class PrintSettings:
    """How a crop is made an old print before it is marked (the data fields of Config; picklable for workers)."""

    clean: float = 0.1
    zoom: float = 0.5
    grey: float = 0.35
    sepia: float = 0.25
    fade: float = 0.3
    soften: float = 0.25
    jpeg: float = 0.3
    decoys: float = 0.0

    @classmethod
    def of(cls, config: MarkedPrintConfig) -> PrintSettings:
        return cls(**{f.name: getattr(config, f.name) for f in dataclasses.fields(cls)})


def old_print(img: np.ndarray, rng: np.random.Generator, s: PrintSettings) -> np.ndarray:
    """A 128 x 128 x 3 float32 crop turned, maybe zoomed, given scene structure that is not damage (`decoys`),
    toned, faded and softened: the print the marks go on."""
    img = np.rot90(img, int(rng.integers(4)))
    h, w = img.shape[:2]
    if rng.random() < s.zoom:
        side = int(round(rng.uniform(0.5, 1.0) * min(h, w)))
        y, x = int(rng.integers(h - side + 1)), int(rng.integers(w - side + 1))
        img = cv2.resize(np.ascontiguousarray(img[y : y + side, x : x + side]), (w, h), interpolation=cv2.INTER_CUBIC)
    img = np.ascontiguousarray(img, np.float32)
    # drawn before toning and softening, so they share the print's colour and blur; no draw at 0 keeps the random
    # stream, and so the data, of the runs before decoys existed
    if s.decoys > 0 and rng.random() < s.decoys:
        img = draw_decoys(img, rng, "train")
    tone = rng.random()
    if tone < s.grey:
        img = D.greyscale(img)
    elif tone < s.grey + s.sepia:
        img = D.random_sepia(img, rng)
    if rng.random() < s.fade:
        img = D.random_fade(img, rng)
    if rng.random() < s.soften:
        img = D.random_gaussian_blur(img, rng, (0.3, 1.2))
    return np.clip(img, 0, 1).astype(np.float32)


def marked_pair(img: np.ndarray, rng: np.random.Generator, s: PrintSettings, marks: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(the print with its marks, H x W x 3 float32; the marks' mask, H x W bool) of a crop. Without `marks`,
    the print alone (with grain on a share of them, as draw_marks puts under its marks) and an empty mask."""
    printed = old_print(img, rng, s)
    if marks:
        damaged, mask = draw_marks(printed, rng, FAMILY)
    else:
        damaged = D.random_film_grain(printed, rng) if rng.random() < 0.2 else printed
        mask = np.zeros(printed.shape[:2], bool)
    if rng.random() < s.jpeg:
        damaged = D.random_jpeg(damaged, rng, (50, 95))
    return damaged, mask


def unmarked(img: np.ndarray, rng: np.random.Generator) -> D.Degraded:
    """DegradedFaces' pipeline slot, unused: MarkedFaces makes its items itself (module level: picklable)."""
    return D.Degraded(img)


def _item(image: np.ndarray, mask: np.ndarray, row: int) -> dict:
    return {"image": torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1), np.float32)),
            "target": torch.from_numpy(mask[None].astype(np.float32)), "index": int(row)}


class MarkedFaces(DegradedFaces):
    """Training items {"image": 3 x 128 x 128 marked print, "target": 1 x 128 x 128 mask, "index"}: item i of
    epoch e a pure function of (seed, e, i), as every training set of `training.data` (so resuming is exact)."""

    def __init__(self, cache, indices, settings: PrintSettings, seed: int = 0):
        super().__init__(cache, indices, unmarked, seed=seed, flip=True)
        self.settings = settings

    def make_item(self, row: int, rng: np.random.Generator, flip: bool) -> dict:
        hq, _, _ = self.hq_face(row, flip)
        marks = rng.random() >= self.settings.clean
        return _item(*marked_pair(hq, rng, self.settings, marks), row)


def damage_losses(logits: torch.Tensor, target: torch.Tensor, c: Config) -> dict[str, torch.Tensor]:
    from training.losses import dice_loss

    pos_weight = torch.tensor(c.pos_weight, device=logits.device)
    parts = {
        "bce": F.binary_cross_entropy_with_logits(logits, target, pos_weight=pos_weight),
        # over the whole batch as one image: crops with no or few marked pixels do not each swing it
        "dice": dice_loss(torch.sigmoid(logits).reshape(1, -1), target.reshape(1, -1), squared=False),
    }
    parts["total"] = parts["bce"] + c.lambda_dice * parts["dice"]
    return parts


def pixel_scores(prob: np.ndarray, target: np.ndarray, clean_prob: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Precision, recall and IoU of `prob > threshold` against `target` (pixels pooled over all crops), and the
    share of pixels of the unmarked crops called damage."""
    pred, truth = prob > threshold, target > 0.5
    tp, fp, fn = float((pred & truth).sum()), float((pred & ~truth).sum()), float((~pred & truth).sum())
    return {"precision": tp / max(tp + fp, 1.0), "recall": tp / max(tp + fn, 1.0), "iou": tp / max(tp + fp + fn, 1.0),
            "clean_fpr": float((clean_prob > threshold).mean()), "mask_share": float(truth.mean())}


class Recipe(BaseRecipe):
    """Also the base of the learned fill's recipe (`training.recipes.fill`): one tile U-Net on marked prints."""

    name = "damage"
    Config = Config
    model_module = damage_net

    def __init__(self, cache, device="cpu", overrides=None):
        super().__init__(cache, device, overrides)
        from training.data.dataset import FaceCache

        c = self.config
        torch.manual_seed(c.seed)
        architecture = {f.name: getattr(c, f.name) for f in dataclasses.fields(self.model_module.Config) if hasattr(c, f.name)}
        self._model_config = config_dict(self.model_module.Config(**architecture))
        self.net = self.model_module.build(self._model_config)
        self.nets = {"net": self.net}
        self.prepare_nets()
        self.opts = {"net": torch.optim.Adam(self.net.parameters(), lr=c.lr, betas=(0.9, 0.99))}
        self.scheds = {"net": torch.optim.lr_scheduler.CosineAnnealingLR(self.opts["net"], T_max=c.steps, eta_min=c.lr * 0.05)}
        self.settings = PrintSettings.of(c)
        self.data = FaceCache(cache)
        self.train_set = self.training_set()
        val_rows = self.data.indices(c.val_split)
        self.val_rows = val_rows[:: max(1, len(val_rows) // c.val_faces)][: c.val_faces]
        self._val: dict[str, torch.Tensor] | None = None

    def training_set(self):
        return MarkedFaces(self.data, self.data.indices("train"), self.settings, seed=self.config.seed)

    def model_config(self) -> dict:
        return self._model_config

    def batches(self, start_step):
        return self.loader(self.train_set, start_step)

    def train_step(self, batch, step):
        x, target = self.to_device(batch["image"]), self.to_device(batch["target"])
        with self.autocast():
            logits = self.net(x)
        parts = damage_losses(logits.float(), target, self.config)
        opt = self.opts["net"]
        opt.zero_grad(set_to_none=True)
        parts["total"].backward()
        opt.step()
        return {k: float(v.detach()) for k, v in parts.items()}

    def val_crops(self) -> dict[str, torch.Tensor]:
        """The validation crops, made once: "image" (marked), "target", "clean" (the same prints unmarked)."""
        if self._val is None:
            images, targets, cleans = [], [], []
            for row in self.val_rows:
                hq = self.data.crops[row].astype(np.float32) / 255.0
                rng = D.protocol_rng(VAL_PROTOCOL, str(self.data.file[row]))
                state = rng.bit_generator.state
                damaged, mask = marked_pair(hq, rng, self.settings)
                rng.bit_generator.state = state  # the same print, without its marks
                clean, _ = marked_pair(hq, rng, self.settings, marks=False)
                for out, array in ((images, damaged), (targets, mask[..., None].astype(np.float32)), (cleans, clean)):
                    out.append(torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1))))
            self._val = {"image": torch.stack(images), "target": torch.stack(targets), "clean": torch.stack(cleans)}
        return self._val

    def _probabilities(self, ema, images: torch.Tensor, size: int = 16) -> torch.Tensor:
        return torch.cat([torch.sigmoid(ema(self.to_device(images[i : i + size])).float()).cpu() for i in range(0, len(images), size)])

    def validate(self, ema):
        val = self.val_crops()
        prob, clean = self._probabilities(ema, val["image"]), self._probabilities(ema, val["clean"])
        return pixel_scores(prob.numpy(), val["target"].numpy(), clean.numpy())

    def samples(self, ema):
        """Rows of marked input | true mask | predicted probability | the unmarked print | its prediction."""
        val = self.val_crops()
        n = min(6, len(val["image"]))
        image, clean = val["image"][:n], val["clean"][:n]
        grey = lambda t: t.expand(-1, 3, -1, -1)  # noqa: E731
        cols = [image, grey(val["target"][:n]), grey(self._probabilities(ema, image)), clean, grey(self._probabilities(ema, clean))]
        grid = torch.cat([torch.cat(list(col), dim=1) for col in cols], dim=2)
        return (grid.permute(1, 2, 0).numpy() * 255).round().clip(0, 255).astype(np.uint8)
