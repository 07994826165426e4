"""The progressive GAN's recipe: the landmark attention loss, the critic, dynamic weighting, progressive
steps on the tiny prepared cache, export and the app's Restorer reproducing the EMA network."""

import numpy as np
import pytest
import torch

from frstudio.models import faceid, progressive
from tests.support.exported import export_and_reload
from training.loop import LoopSettings, train
from training.recipes import load_recipe
from training.recipes.progressive import (Config, ProgressiveCritic, gaussian_kernel, landmark_attention_loss, ramp,
                                          scale_landmarks)

TINY = {"steps": 4, "batch": 2, "workers": 0, "widths": [8, 8, 4, 4], "blocks": [1, 1, 1], "encoder_width": 4,
        "encoder_channels": 16, "d_widths": [4, 4, 8, 8], "val_split": "test", "val_faces": 3, "gp_every": 2}


def _identity_net():
    torch.manual_seed(1)
    return faceid.build({"widths": [4, 8, 8, 8], "blocks": 1}).eval()


def test_attention_loss_reads_the_error_around_landmarks_only():
    kernel = gaussian_kernel(5, 1.0)
    assert abs(float(kernel.sum()) - 1) < 1e-6 and kernel.shape == (1, 1, 5, 5)
    target = torch.zeros(1, 3, 64, 64)
    pred = target.clone()
    pred[..., 20, 30] = 1.0  # one wrong pixel at (x 30, y 20)
    on = torch.tensor([[[30.0, 20.0]]])
    near = torch.tensor([[[31.0, 20.0]]])
    far = torch.tensor([[[5.0, 50.0]]])
    at_on, at_near, at_far = (float(landmark_attention_loss(pred, target, lm, kernel)) for lm in (on, near, far))
    assert abs(at_on - float(kernel.max())) < 1e-5  # the error (1) times the kernel's centre weight
    assert 0 < at_near < at_on and at_far == 0
    assert float(landmark_attention_loss(target, target, on, kernel)) == 0


def test_landmarks_follow_a_resize():
    lm = torch.tensor([[[0.0, 127.0], [63.5, 63.5]]])
    # pixel centres at integers: the first pixel's centre of a 128 image lies at 0.25 of a 64 image's pixel 0
    torch.testing.assert_close(scale_landmarks(lm, 0.5), torch.tensor([[[-0.25, 63.25], [31.5, 31.5]]]))


def test_dynamic_weights_grow_linearly_then_hold():
    c = Config(steps=1000, ramp_start=0.25, ramp_fraction=0.5)
    assert ramp(0, c) == 0.25 and abs(ramp(250, c) - 0.625) < 1e-9 and ramp(500, c) == 1.0 and ramp(999, c) == 1.0


def test_critic_scores_every_step_resolution():
    critic = ProgressiveCritic((4, 4, 8, 8))
    for k in (1, 2, 3):
        assert critic(torch.rand(3, 3, 16 * 2**k, 16 * 2**k), k).shape == (3,)


def test_named_recipes_pick_their_objective_and_protocol(tiny_prepared):
    cache = tiny_prepared[0]
    for name, objective, protocol, size in (("progressive_16", "16", "seed003-16", 16), ("progressive_128", "128", "seed003-128", 128)):
        recipe = load_recipe(name)(cache, "cpu", dict(TINY), identity_network=_identity_net())
        assert recipe.config.objective == objective and recipe.protocol == protocol
        assert recipe.model_config()["objective"] == objective
        assert tuple(recipe.train_set[0]["lq"].shape) == (3, size, size)
    # the 128 px objective may train on the default model's mix; the 16 px one takes 16 px inputs only
    recipe = load_recipe("progressive_128")(cache, "cpu", {**TINY, "degradation": "restore-mix"}, identity_network=_identity_net())
    assert recipe.protocol == "restore-mix" and tuple(recipe.train_set[0]["lq"].shape) == (3, 128, 128)
    with pytest.raises(ValueError, match="16 px objective"):
        load_recipe("progressive_16")(cache, "cpu", {**TINY, "degradation": "restore-mix"}, identity_network=_identity_net())


def test_progressive_steps_train_both_networks_and_export(tiny_prepared, tmp_path, monkeypatch):
    cache = tiny_prepared[0]
    recipe = load_recipe("progressive_16")(cache, "cpu", dict(TINY), identity_network=_identity_net())
    before = {k: {n: v.clone() for n, v in net.state_dict().items()} for k, net in recipe.nets.items()}
    recipe.train_mode()
    logs = recipe.train_step(next(recipe.batches(0)), 0)
    # three steps, each a critic then a generator update; the penalty on step 0 (gp_every 2); attention from step 2
    assert {"w1", "w2", "w3", "gp1", "gp2", "gp3", "g1", "g2", "g3", "pix", "att", "per"} <= set(logs)
    assert all(np.isfinite(v) for v in logs.values())
    for k, net in recipe.nets.items():
        assert any(not torch.equal(v, before[k][n]) for n, v in net.state_dict().items()), k
    # every step's RGB head learns (steps 1 and 2 are trained, not only the final one)
    assert all(not torch.equal(recipe.net.steps[i].to_rgb.weight, before["net"][f"steps.{i}.to_rgb.weight"]) for i in range(3))
    assert "gp1" not in recipe.train_step(next(recipe.batches(1)), 1)

    recipe = load_recipe("progressive_16")(cache, "cpu", dict(TINY), identity_network=_identity_net())
    summary = train(recipe, LoopSettings(run_dir=tmp_path / "run", quiet=True, val_every=1000))
    assert summary["step"] == 4 and {"psnr_in", "psnr", "ssim_in", "ssim"} <= set(summary["last_val"])
    assert (tmp_path / "run" / "samples_latest.png").exists()

    restorer, ema = export_and_reload("progressive_16", tmp_path / "run", tmp_path / "weights", monkeypatch, progressive.build, recipe.model_config())
    crops = np.random.default_rng(0).random((2, 16, 16, 3), dtype=np.float32)
    with torch.no_grad():
        expected = ema(torch.from_numpy(crops).permute(0, 3, 1, 2)).clamp(0, 1)
    got = np.stack([r.image for r in restorer.restore(crops)])
    assert got.shape == (2, 128, 128, 3)
    np.testing.assert_allclose(got, expected.permute(0, 2, 3, 1).numpy(), atol=1e-2)
