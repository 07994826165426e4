"""The VQ U-Net recipe: one step trains generator and discriminator, the codebooks learn from the HQ faces'
features (not the degraded ones), ablation switches reach the model, and the exported weights reproduce the EMA
network for a seed in the app's Restorer."""

import numpy as np
import torch

from frstudio.models import faceid, vq_unet
from tests.support.exported import export_and_reload
from training.loop import LoopSettings, train
from training.recipes import load_recipe

TINY = {"steps": 3, "batch": 2, "workers": 0, "widths": [4, 8, 8, 8, 8], "codes": 8, "latent": 8, "style": 8,
        "d_widths": [4, 4, 8, 8, 8], "val_split": "test", "val_faces": 3}


def _identity_net():
    torch.manual_seed(1)
    return faceid.build({"widths": [4, 8, 8, 8], "blocks": 1}).eval()


def _recipe(cache, **changes):
    return load_recipe("vq_unet")(cache, "cpu", {**TINY, **changes}, identity_network=_identity_net())


def test_a_step_trains_both_networks_and_codebooks_learn_from_hq_features(tiny_prepared):
    recipe = _recipe(tiny_prepared[0])
    before = {k: {n: v.clone() for n, v in net.state_dict().items()} for k, net in recipe.nets.items()}
    batch = next(recipe.batches(0))
    recipe.train_mode()
    logs = recipe.train_step(batch, 0)
    assert {"adv", "l1", "per", "id", "vq", "d", "total"} <= set(logs) and all(np.isfinite(v) for v in logs.values())
    assert logs["vq"] > 0
    for k, net in recipe.nets.items():
        assert any(not torch.equal(v, before[k][n]) for n, v in net.state_dict().items() if "codebooks" not in n), k
    # step 0 starts each codebook from HQ feature vectors: every code is near one of the HQ faces' vectors
    with torch.no_grad():
        skips, _, _ = recipe.net.encode(recipe.to_device(batch["hq"]))
    for key, book in recipe.net.codebooks.items():
        hq = book.flatten(skips[int(key)].float())
        assert torch.cdist(book.embed, hq).min(dim=1).values.mean() < torch.cdist(book.embed, torch.zeros_like(hq[:1])).mean()
        assert not torch.equal(book.embed, before["net"][f"codebooks.{key}.embed"])


def test_identity_weight_adds_the_embedding_distance_to_the_objective(tiny_prepared):
    logs = {}
    for weight in (0.0, 10.0):
        recipe = _recipe(tiny_prepared[0], lambda_id=weight)
        recipe.train_mode()
        logs[weight] = recipe.train_step(next(recipe.batches(0)), 0)
    assert logs[0.0]["id"] > 0 and abs(logs[0.0]["id"] - logs[10.0]["id"]) < 1e-6  # same seed, same first step
    assert abs(logs[10.0]["total"] - logs[0.0]["total"] - 10.0 * logs[0.0]["id"]) < 1e-4


def test_ablation_switches_reach_the_model(tiny_prepared):
    recipe = _recipe(tiny_prepared[0], lgf=False, quantize=False, noise=False, skips=1)
    config = recipe.model_config()
    assert (config["lgf"], config["quantize"], config["noise"], config["skips"]) == (False, False, False, 1)
    assert not recipe.net.codebooks
    recipe.train_mode()
    assert recipe.train_step(next(recipe.batches(0)), 0)["vq"] == 0


def test_degradation_setting_picks_the_training_and_validation_damage(tiny_prepared):
    from frstudio.core.degradations import PIPELINES

    assert _recipe(tiny_prepared[0]).train_set.pipeline is PIPELINES["bfr-severe"]  # the seed's, by default
    recipe = _recipe(tiny_prepared[0], degradation="restore-mix")
    assert recipe.train_set.pipeline is PIPELINES["restore-mix"] and recipe.val_set.pipeline is PIPELINES["restore-mix"]


def test_run_exports_and_the_app_reproduces_the_ema_for_a_seed(tiny_prepared, tmp_path, monkeypatch):
    recipe = _recipe(tiny_prepared[0])
    summary = train(recipe, LoopSettings(run_dir=tmp_path / "run", quiet=True, val_every=1000))
    assert summary["step"] == 3 and {"psnr_in", "psnr", "variety", "faceid_in", "faceid"} <= set(summary["last_val"])
    restorer, ema = export_and_reload("vq_unet", tmp_path / "run", tmp_path / "weights", monkeypatch, vq_unet.build, recipe.model_config())
    assert restorer.stochastic
    crops = np.random.default_rng(0).random((2, 128, 128, 3), dtype=np.float32)
    with torch.no_grad():
        expected = ema(torch.from_numpy(crops).permute(0, 3, 1, 2), seed=3).clamp(0, 1).permute(0, 2, 3, 1).numpy()
    got = np.stack([r.image for r in restorer.restore(crops, seed=3)])
    np.testing.assert_allclose(got, expected, atol=1e-2)
    again = np.stack([r.image for r in restorer.restore(crops)])
    np.testing.assert_array_equal(again, np.stack([r.image for r in restorer.restore(crops)]))  # seed 0 by default
