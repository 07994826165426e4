"""The learned fill's recipe (training/recipes/fill.py) on a tiny cache: its examples follow the app's path, its
loss looks only inside the marks, and it trains, validates and exports what the app's loader reads back."""

import json

import numpy as np
import torch

from frstudio.core import scratches
from training.loop import LoopSettings, load_ema_from_checkpoint, train
from training.recipes import load_recipe
from training.recipes.damage import PrintSettings
from training.recipes.fill import FillFaces, Recipe, fill_example, fill_loss

from .test_damage_recipe import cache  # noqa: F401  (the tiny face cache fixture)

TINY = {"steps": 2, "batch": 2, "workers": 0, "widths": [4, 8], "val_faces": 2}


def test_examples_are_the_apps_fill_of_marked_prints(cache):  # noqa: F811
    from training.data.dataset import FaceCache

    data = FaceCache(cache)
    crop = data.crops[0].astype(np.float32) / 255
    ex = fill_example(crop, np.random.default_rng(4), PrintSettings(clean=0.0, jpeg=0.0))
    holes = ex["mask"][..., 0] > 0
    assert holes.any() and not holes.all()
    outside = ~holes
    np.testing.assert_array_equal(ex["filled"][outside], ex["scan"][outside])  # OpenCV filled the grown marks alone
    assert np.abs(ex["filled"][holes] - ex["target"][holes]).mean() < np.abs(ex["scan"][holes] - ex["target"][holes]).mean()
    assert np.abs(ex["scan"][outside] - ex["target"][outside]).mean() < 2 / 255  # the marks are all that differ
    assert np.abs(ex["scan"][holes] - ex["target"][holes]).mean() > 10 / 255
    dataset = FillFaces(data, data.indices("train"), PrintSettings(clean=0.0), seed=3)
    item = dataset[(0, 1)]
    assert item["scan"].shape == item["filled"].shape == item["target"].shape == (3, 128, 128) and item["mask"].shape == (1, 128, 128)
    assert torch.equal(item["filled"], dataset[(0, 1)]["filled"]) and not torch.equal(item["scan"], dataset[(1, 1)]["scan"])


def test_the_loss_looks_inside_the_marks_only():
    target = torch.zeros(2, 3, 8, 8)
    mask = torch.zeros(2, 1, 8, 8)
    mask[:, :, 4] = 1
    off_outside = target.clone()
    off_outside[:, :, :4] = 1
    off_inside = target.clone()
    off_inside[:, :, 4] = 0.5
    assert float(fill_loss(off_outside, target, mask)) < 2e-3 < 0.4 < float(fill_loss(off_inside, target, mask))


def test_trains_validates_and_exports_what_the_app_loads(cache, tmp_path):  # noqa: F811
    from training.export import export

    assert load_recipe("fill") is Recipe
    recipe = Recipe(cache, "cpu", dict(TINY))
    summary = train(recipe, LoopSettings(run_dir=tmp_path / "run", quiet=True, val_every=1000, log_every=1))
    assert summary["step"] == 2
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert all(np.isfinite(h["total"]) for h in history if h["kind"] == "train")
    val = summary["last_val"]
    assert {"psnr_scan", "psnr_opencv", "psnr_out"} <= set(val) and val["psnr_opencv"] > val["psnr_scan"]
    assert (tmp_path / "run" / "samples_latest.png").exists()

    weights = tmp_path / "weights"
    entry = export("fill", tmp_path / "run", data="tiny", device="cpu", out_dir=weights)
    assert (weights / "fill.safetensors").stat().st_size == entry["bytes"] <= 20 * 2**20
    assert entry["config"] == {"widths": [4, 8], "blocks": 1, "unshuffle": 2} and entry["steps"] == 2
    shipped = scratches.load_fill_network(directory=weights)
    ema = recipe.net.__class__(recipe.net.config)
    load_ema_from_checkpoint(tmp_path / "run" / "checkpoint.pt", ema)
    x, f, m = torch.rand(1, 3, 40, 52), torch.rand(1, 3, 40, 52), (torch.rand(1, 1, 40, 52) > 0.8).float()
    with torch.no_grad():
        np.testing.assert_allclose(shipped(x, f, m).numpy(), ema.eval()(x, f, m).numpy(), atol=1e-2)  # fp16 weights
    assert scratches.load_fill_network(directory=tmp_path) is None  # no fill in a folder without one
