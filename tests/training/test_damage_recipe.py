"""The damage detector's recipe (training/recipes/damage.py) on a tiny cache written here: its items, training
steps, validation, and an export that the app's loader (frstudio.core.scratches) reads back to the same outputs."""

import csv
import json

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from training.loop import LoopSettings, load_ema_from_checkpoint, train
from training.recipes import load_recipe
from training.recipes.damage import MarkedFaces, PrintSettings, Recipe, damage_losses, marked_pair

from .conftest import SAMPLE

TINY = {"steps": 2, "batch": 2, "workers": 0, "widths": [4, 8], "val_faces": 2}
SPLITS = ["train", "train", "train", "train", "val", "val"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A face cache in prepare's layout: 128 px crops cut from the public-domain sample photo."""
    root = tmp_path_factory.mktemp("damage_cache")
    photo = np.asarray(Image.open(SAMPLE).convert("RGB"))
    crops = np.stack([cv2.resize(photo[y : y + 200, x : x + 200], (128, 128), interpolation=cv2.INTER_AREA)
                      for y, x in [(30, 120), (0, 0), (200, 200), (100, 50), (250, 300), (50, 250)]])
    n = len(crops)
    np.save(root / "crops.npy", crops)
    np.save(root / "landmarks.npy", np.zeros((n, 68, 2), np.float32))
    np.save(root / "masks.npy", np.ones((n, 128, 128), np.uint8))
    np.save(root / "descriptors.npy", np.zeros((n, 128), np.float32))
    with open(root / "faces.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "source", "identity", "age", "gender", "split", "sharpness", "yaw", "eye_distance", "score"])
        for i, split in enumerate(SPLITS):
            writer.writerow([f"celeba/{i:06d}.webp", "celeba", str(100 + i), "", "", split, 100.0, 0.0, 40.0, 1.0])
    return root


def test_items_are_marked_prints_with_their_masks_and_repeat_for_a_key(cache):
    from training.data.dataset import FaceCache

    data = FaceCache(cache)
    dataset = MarkedFaces(data, data.indices("train"), PrintSettings(), seed=3)
    item = dataset[(0, 1)]
    assert item["image"].shape == (3, 128, 128) and item["target"].shape == (1, 128, 128)
    assert 0 <= float(item["image"].min()) and float(item["image"].max()) <= 1
    assert torch.equal(item["image"], dataset[(0, 1)]["image"]) and not torch.equal(item["image"], dataset[(1, 1)]["image"])
    crop = data.crops[0].astype(np.float32) / 255
    image, mask = marked_pair(crop, np.random.default_rng(0), PrintSettings(jpeg=0.0), marks=False)
    assert image.shape == (128, 128, 3) and not mask.any()
    targets = [dataset[(e, i)]["target"] for e in range(3) for i in range(len(dataset))]
    assert any(float(t.sum()) > 0 for t in targets)


def test_losses_weigh_missed_marks_and_are_finite():
    from training.recipes.damage import Config

    target = torch.zeros(2, 1, 16, 16)
    target[:, :, 8] = 1
    miss, hit = torch.full_like(target, -10.0), torch.where(target > 0, 10.0, -10.0)
    lo, hi = damage_losses(hit, target, Config()), damage_losses(miss, target, Config())
    assert all(torch.isfinite(v) for v in (*lo.values(), *hi.values()))
    assert float(lo["total"]) < float(hi["total"]) and float(lo["dice"]) < 0.05 < 0.9 < float(hi["dice"])


def test_trains_validates_and_exports_what_the_app_loads(cache, tmp_path):
    from frstudio.core.scratches import damage_probability, load_damage_network
    from training.export import export

    assert load_recipe("damage") is Recipe
    recipe = Recipe(cache, "cpu", dict(TINY))
    before = {k: v.clone() for k, v in recipe.net.state_dict().items()}
    summary = train(recipe, LoopSettings(run_dir=tmp_path / "run", quiet=True, val_every=1000, log_every=1))
    assert summary["step"] == 2
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    losses = [h for h in history if h["kind"] == "train"]
    assert len(losses) == 2 and all(np.isfinite(h["total"]) and np.isfinite(h["bce"]) for h in losses)
    assert {"precision", "recall", "iou", "clean_fpr"} <= set(summary["last_val"])
    assert (tmp_path / "run" / "samples_latest.png").exists()
    assert any(not torch.equal(v, before[k]) for k, v in recipe.net.state_dict().items())

    weights = tmp_path / "weights"
    entry = export("damage", tmp_path / "run", data="tiny", device="cpu", out_dir=weights)
    assert (weights / "damage.safetensors").stat().st_size == entry["bytes"] <= 20 * 2**20
    assert entry["config"] == {"widths": [4, 8], "blocks": 1, "unshuffle": 1} and entry["steps"] == 2
    shipped = load_damage_network(directory=weights)
    ema = recipe.net.__class__(recipe.net.config)
    load_ema_from_checkpoint(tmp_path / "run" / "checkpoint.pt", ema)
    x = torch.rand(2, 3, 40, 52)
    with torch.no_grad():
        np.testing.assert_allclose(shipped(x).numpy(), ema.eval()(x).numpy(), atol=1e-2)  # fp16 weights
    photo = (np.random.default_rng(0).random((70, 90, 3)) * 255).astype(np.uint8)
    prob = damage_probability(photo, shipped, tile=32)
    assert prob.shape == (70, 90) and np.isfinite(prob).all()
