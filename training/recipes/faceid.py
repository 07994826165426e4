"""Recipe: distil dlib's 128-d face descriptor into the project's identity network (`frstudio.models.faceid`).

The teacher's descriptor of each clean training face is computed once by `prepare`. The student sees the
aligned 128 x 128 crop, clean or (40 %) degraded by one of the restoration pipelines, and learns to give the
clean face's descriptor: so it stays usable as an identity loss on restored and degraded faces. Loss: squared
distance + cosine + the batch's pairwise distances (verification depends on relations between faces more than
on each vector).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
from torch.nn import functional as F

from frstudio.models import faceid
from training.recipes.base import Recipe as BaseRecipe
from training.recipes.base import TrainConfig

DEGRADE_SHARE = 0.4
DEGRADE_PIPELINES = ("bfr-severe", "frrnet-train", "gfrnet-train", "oldphoto", "seed003-128")


@dataclasses.dataclass
class Config(TrainConfig):
    steps: int = 6000
    batch: int = 64
    lr: float = 2e-3
    weight_decay: float = 5e-4
    warmup: int = 300
    ema: float = 0.998
    val_split: str = "val"
    val_faces: int = 600
    val_pairs: int = 2000
    widths: tuple = (32, 64, 128, 256)
    blocks: int = 2


def mixed_degradation(img: np.ndarray, rng: np.random.Generator):
    """Clean 60 % of the time, else one of the restoration pipelines (at 128: 16-px inputs are not faces to
    recognise)."""
    from frstudio.core.degradations import PIPELINES, Degraded

    if rng.random() >= DEGRADE_SHARE:
        return Degraded(img, {})
    name = DEGRADE_PIPELINES[rng.integers(len(DEGRADE_PIPELINES))]
    out = PIPELINES[name](img, rng)
    return Degraded(out.image, {})


def distill_losses(student: torch.Tensor, teacher: torch.Tensor) -> dict[str, torch.Tensor]:
    student, teacher = student.float(), teacher.float()
    return {
        "sq": (student - teacher).pow(2).sum(dim=1).mean(),
        "cos": (1 - F.cosine_similarity(student, teacher, dim=1)).mean(),
        "rel": (torch.cdist(student, student) - torch.cdist(teacher, teacher)).abs().mean(),
    }


def verification_pairs(identities: np.ndarray, n_pairs: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Up to `n_pairs` same-person and as many different-person index pairs (deterministic):
    (pairs N x 2, same N). Fewer when the set has fewer distinct same-person pairs."""
    rng = np.random.default_rng(seed)
    by_id: dict = {}
    for i, ident in enumerate(identities):
        by_id.setdefault(ident, []).append(i)
    multi = [v for v in by_id.values() if len(v) > 1]
    possible = sum(len(v) * (len(v) - 1) // 2 for v in multi)
    if not multi or len(by_id) < 2:
        raise ValueError("verification needs two people and one of them with two photos")
    n_pairs = min(n_pairs, possible)
    pos, neg = set(), set()
    while len(pos) < n_pairs:
        group = multi[rng.integers(len(multi))]
        a, b = rng.choice(group, 2, replace=False)
        pos.add((min(a, b), max(a, b)))
    n = len(identities)
    while len(neg) < n_pairs:
        a, b = rng.integers(n, size=2)
        if identities[a] != identities[b]:
            neg.add((min(a, b), max(a, b)))
    pairs = np.array(sorted(pos) + sorted(neg))
    same = np.array([True] * len(pos) + [False] * len(neg))
    return pairs, same


def verification_accuracy(distances: np.ndarray, same: np.ndarray, threshold: float) -> float:
    return float(np.mean((distances < threshold) == same))


def best_threshold(distances: np.ndarray, same: np.ndarray) -> float:
    candidates = np.unique(np.round(distances, 4))
    accs = [verification_accuracy(distances, same, t) for t in candidates]
    return float(candidates[int(np.argmax(accs))])


@torch.no_grad()
def embed(net: torch.nn.Module, crops: np.ndarray, device: str = "cpu", batch: int = 128) -> np.ndarray:
    """Embeddings of uint8 crops N x 128 x 128 x 3."""
    out = []
    for i in range(0, len(crops), batch):
        x = torch.from_numpy(np.asarray(crops[i : i + batch])).permute(0, 3, 1, 2).float().div(255).to(device)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=device == "cpu"):
            out.append(net(x.contiguous(memory_format=torch.channels_last)).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 128), np.float32)


def neighbour_grid(embeddings: np.ndarray, crops: np.ndarray, identities: np.ndarray, queries: int = 6, k: int = 4) -> np.ndarray:
    """A picture of what the embedding does: each row is a query face, then its k nearest other faces by
    embedding distance, framed green when they show the same person and red when not."""
    import cv2

    rng = np.random.default_rng(0)
    with_mates = [i for i in range(len(identities)) if np.sum(identities == identities[i]) > 1]
    rows = []
    for q in rng.choice(with_mates, size=min(queries, len(with_mates)), replace=False):
        d = np.linalg.norm(embeddings - embeddings[q], axis=1)
        d[q] = np.inf
        tiles = [cv2.copyMakeBorder(np.ascontiguousarray(crops[q]), 4, 4, 4, 4, cv2.BORDER_CONSTANT, value=(255, 255, 255))]
        for j in np.argsort(d)[:k]:
            colour = (40, 200, 40) if identities[j] == identities[q] else (220, 40, 40)
            tile = cv2.copyMakeBorder(np.ascontiguousarray(crops[j]), 4, 4, 4, 4, cv2.BORDER_CONSTANT, value=colour)
            cv2.putText(tile, f"{d[j]:.2f}", (8, 128), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
            tiles.append(tile)
        rows.append(np.concatenate(tiles, axis=1))
    return np.concatenate(rows, axis=0)


class Recipe(BaseRecipe):
    name = "faceid"
    Config = Config

    def __init__(self, cache, device="cpu", overrides=None):
        super().__init__(cache, device, overrides)
        from training.data.dataset import DegradedFaces, FaceCache

        c = self.config
        torch.manual_seed(c.seed)
        self.net = faceid.build(self.model_config())
        self.nets = {"net": self.net}
        self.prepare_nets()
        self.opts = {"net": torch.optim.AdamW(self.net.parameters(), lr=c.lr, weight_decay=c.weight_decay)}

        def schedule(step: int) -> float:
            if step < c.warmup:
                return (step + 1) / c.warmup
            return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - c.warmup) / max(1, c.steps - c.warmup))))

        self.scheds = {"net": torch.optim.lr_scheduler.LambdaLR(self.opts["net"], schedule)}
        self.data = FaceCache(cache)
        self.train_set = DegradedFaces(self.data, self.data.indices("train"), mixed_degradation, seed=c.seed, flip=True)
        val = self.data.indices(c.val_split, with_identity=True)
        self.val_index = val[: c.val_faces] if len(val) > c.val_faces else val
        self.val_pairs = verification_pairs(self.data.identity[self.val_index], c.val_pairs // 2, seed=1)

    def model_config(self) -> dict:
        return {"widths": list(self.config.widths), "blocks": self.config.blocks, "embedding": 128}

    def batches(self, start_step):
        return self.loader(self.train_set, start_step)

    def train_step(self, batch, step):
        x = self.to_device(batch["lq"])
        teacher = batch["descriptor"].to(self.device)
        with self.autocast():
            student = self.net(x)
        parts = distill_losses(student, teacher)
        loss = parts["sq"] + parts["cos"] + parts["rel"]
        opt = self.opts["net"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {k: float(v.detach()) for k, v in parts.items()} | {"lr": self.scheds["net"].get_last_lr()[0]}

    def samples(self, ema):
        crops = np.asarray(self.data.crops[self.val_index])
        return neighbour_grid(embed(ema, crops, self.device), crops, self.data.identity[self.val_index])

    def validate(self, ema):
        crops = self.data.crops[self.val_index]
        student = embed(ema, crops, self.device)
        teacher = np.asarray(self.data.descriptors[self.val_index])
        cos = np.sum(student * teacher, 1) / (np.linalg.norm(student, axis=1) * np.linalg.norm(teacher, axis=1))
        pairs, same = self.val_pairs
        d_student = np.linalg.norm(student[pairs[:, 0]] - student[pairs[:, 1]], axis=1)
        d_teacher = np.linalg.norm(teacher[pairs[:, 0]] - teacher[pairs[:, 1]], axis=1)
        return {
            "cos_agreement": float(cos.mean()),
            "acc@0.6": verification_accuracy(d_student, same, 0.6),
            "acc_best": verification_accuracy(d_student, same, best_threshold(d_student, same)),
            "dlib_acc@0.6": verification_accuracy(d_teacher, same, 0.6),
        }
