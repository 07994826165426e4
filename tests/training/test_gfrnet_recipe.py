"""GFRNet's recipe on the tiny prepared cache: the WarpNet pre-training phase, end-to-end steps with the
adversarial terms, the flow losses, export and the app's Restorer reproducing the EMA network."""

import numpy as np
import torch

from frstudio.models import faceid, gfrnet
from tests.support.exported import export_and_reload
from training.loop import LoopSettings, train
from training.recipes.gfrnet import (EYES, MOUTH, Recipe, flow_losses, jitter_references, reference_match, region_crops,
                                     warp_confidence, warp_error_pixels, wrong_person_pull)

TINY = {"steps": 4, "batch": 2, "workers": 0, "width": 4, "max_width": 8, "depth": 3, "warp_width": 4,
        "warp_max_width": 8, "d_width": 4, "warp_steps": 1, "adv_start": 1, "val_split": "test", "val_faces": 3}


def _identity_net():
    torch.manual_seed(1)
    return faceid.build({"widths": [4, 8, 8, 8], "blocks": 1}).eval()


def test_flow_losses_vanish_for_the_right_flow():
    h = w = 16
    target = torch.tensor([[[3.0, 4.0], [10.0, 12.0]]])
    identity = gfrnet.identity_grid(1, h, w)
    parts = flow_losses(identity, target, target)
    assert float(parts["lm"]) < 1e-10 and float(parts["tv"]) < 1e-10
    # a constant shift by 2 pixels: the landmark loss sees it, TV (of the displacement) does not
    shifted = identity.clone()
    shifted[:, 0] += 2 * 2 / w
    parts = flow_losses(shifted, target, target + torch.tensor([2.0, 0.0]))
    assert float(parts["lm"]) < 1e-8 and float(parts["tv"]) < 1e-8
    assert torch.allclose(warp_error_pixels(shifted, target, target), torch.tensor([2.0]), atol=1e-4)
    assert float(flow_losses(identity, target, target + 2)["lm"]) > 0


def test_jittered_references_carry_their_landmarks_along():
    """What the image shows at a landmark before the jitter, it shows at the moved landmark after it."""
    ys, xs = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    image = torch.stack([torch.sin(xs / 9) + ys / 64, torch.cos(ys / 7) + xs / 64, (xs * ys) / 4096])[None].repeat(4, 1, 1, 1)
    lm = torch.tensor([[20.0, 24.0], [40.0, 30.0], [31.5, 45.0]]).expand(4, 3, 2)
    torch.manual_seed(0)
    moved, moved_lm = jitter_references(image, lm, degrees=10, scale=0.1, pixels=5, p=1.0)
    assert not torch.allclose(moved_lm, lm)

    def at(img, pts):
        from training.losses import pixels_to_unit

        grid = pixels_to_unit(pts, 64).unsqueeze(1)
        return torch.nn.functional.grid_sample(img, grid, align_corners=False).squeeze(2)

    torch.testing.assert_close(at(moved, moved_lm), at(image, lm), atol=0.02, rtol=0)
    same, same_lm = jitter_references(image, lm, degrees=10, scale=0.1, pixels=5, p=0.0)
    torch.testing.assert_close(same_lm, lm)
    torch.testing.assert_close(same, image, atol=1e-5, rtol=0)


def test_region_crops_are_centred_on_their_landmarks():
    img = torch.zeros(1, 1, 128, 128)
    img[..., 60:70, 30:40] = 1  # a bright square where the "eyes" are
    lm = torch.zeros(1, 68, 2)
    lm[0, :, 0], lm[0, :, 1] = 100.0, 100.0
    lm[0, EYES, 0] = torch.linspace(30, 39, len(EYES))
    lm[0, EYES, 1] = torch.linspace(60, 69, len(EYES))
    crop = region_crops(img, lm, EYES, size=32)
    assert crop.shape == (1, 1, 32, 32)
    assert float(crop[0, 0, 12:20, 12:20].mean()) > 0.9 and float(crop[0, 0, :3].mean()) < 0.1
    assert float(region_crops(img, lm, MOUTH, size=32).max()) == 0  # the mouth box is elsewhere


def test_train_export_and_reload_through_the_restorer(tiny_prepared, tmp_path, monkeypatch):
    cache = tiny_prepared[0]
    recipe = Recipe(cache, "cpu", dict(TINY), identity_network=_identity_net())
    before = {k: v.clone() for k, v in recipe.net.state_dict().items()}
    d_before = {k: v.clone() for k, v in recipe.nets["d_local"].state_dict().items()}
    batch = next(recipe.batches(0))
    recipe.train_mode()
    warm = recipe.train_step(batch, 0)  # step 0: WarpNet pre-training, flow loss only
    assert set(warm) == {"lm", "tv", "total"} and np.isfinite(warm["total"])
    assert all(torch.equal(v, before[k]) for k, v in recipe.net.state_dict().items() if k.startswith("recnet."))
    assert any(not torch.equal(v, before[k]) for k, v in recipe.net.state_dict().items() if k.startswith("warpnet."))
    full = recipe.train_step(batch, 2)  # end to end, adversarial terms on
    assert {"l2", "per", "lm", "tv", "adv_g", "adv_l", "d_g", "d_l"} <= set(full)
    assert all(np.isfinite(v) for v in full.values())
    assert any(not torch.equal(v, before[k]) for k, v in recipe.net.state_dict().items() if k.startswith("recnet."))
    assert any(not torch.equal(v, d_before[k]) for k, v in recipe.nets["d_local"].state_dict().items())

    recipe = Recipe(cache, "cpu", dict(TINY), identity_network=_identity_net())
    summary = train(recipe, LoopSettings(run_dir=tmp_path / "run", quiet=True, val_every=1000))
    assert summary["step"] == 4
    assert {"psnr_in", "psnr", "psnr_noref", "warp_px", "nowarp_px"} <= set(summary["last_val"])
    assert (tmp_path / "run" / "samples_latest.png").exists()

    restorer, ema = export_and_reload("gfrnet", tmp_path / "run", tmp_path / "weights", monkeypatch, gfrnet.build, recipe.model_config())
    rng = np.random.default_rng(0)
    crops, ref = rng.random((2, 128, 128, 3), dtype=np.float32), rng.random((2, 128, 128, 3), dtype=np.float32)
    with torch.no_grad():
        expected = ema(torch.from_numpy(crops).permute(0, 3, 1, 2), torch.from_numpy(ref).permute(0, 3, 1, 2))
    got = restorer.restore(crops, ref)
    np.testing.assert_allclose(np.stack([r.image for r in got]), expected["image"].permute(0, 2, 3, 1).numpy(), atol=1e-2)
    assert {"warped", "flow"} <= set(got[0].extras)


def test_ablation_recipes_build_and_step(tiny_prepared):
    cache = tiny_prepared[0]
    for variant in ({"warp": False}, {"warp": False, "use_reference": False}):
        recipe = Recipe(cache, "cpu", {**TINY, **variant}, identity_network=_identity_net())
        recipe.train_mode()
        parts = recipe.train_step(next(recipe.batches(0)), 0)  # no WarpNet: no pre-training phase
        assert "l2" in parts and "lm" not in parts and all(np.isfinite(v) for v in parts.values())


def test_reference_match_counts_only_where_weighted_and_pulls_only_the_output():
    torch.manual_seed(0)
    out = torch.randn(2, 4, 8, 8, requires_grad=True)
    guide = torch.randn(2, 4, 8, 8, requires_grad=True)
    weight = torch.zeros(2, 1, 32, 32)
    assert float(reference_match(out, guide, weight).detach()) == 0.0
    weight[0] = 1.0  # the first item only
    loss = reference_match(out, guide, weight)
    expected = (out[0] - guide[0]).pow(2).mean(dim=0).sum() / (2 * 8 * 8)
    assert torch.allclose(loss, expected)
    loss.backward()
    assert guide.grad is None and out.grad[1].abs().sum() == 0 and out.grad[0].abs().sum() > 0


def test_wrong_person_pull_penalises_only_moving_towards_the_wrong_reference():
    e_ref = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    e_target = torch.tensor([[0.0, 1.0], [0.0, 1.0]])
    towards = torch.tensor([[1.0, 1.0], [1.0, 1.0]])  # cos 0.71 with the reference, the target's is 0
    away = torch.tensor([[-1.0, 1.0], [-1.0, 1.0]])
    wrong = torch.tensor([1.0, 0.0])
    assert float(wrong_person_pull(towards, e_target, e_ref, wrong)) > 0.7
    assert float(wrong_person_pull(away, e_target, e_ref, wrong)) == 0.0
    assert float(wrong_person_pull(towards, e_target, e_ref, torch.zeros(2))) == 0.0  # no wrong reference


def test_warp_confidence_falls_with_the_landmark_error():
    n, h, w = 3, 16, 16
    lm = torch.rand(n, 68, 2) * 12 + 2
    flow = gfrnet.identity_grid(n, h, w, "cpu").clone()
    ref_lm = lm.clone()
    ref_lm[1] += 3.0  # 4.2 px off
    ref_lm[2] += 10.0
    conf = warp_confidence(flow, lm, ref_lm, 3.0)
    assert conf[0] > 0.99 and conf[0] > conf[1] > conf[2] and conf[2] < 1e-3
    assert torch.allclose(warp_confidence(None, lm, ref_lm, 3.0), conf, atol=1e-4)  # no flow: the offset itself


def test_guided_retrain_terms_step_with_wrong_references(tiny_prepared):
    cache = tiny_prepared[0]
    guided = {"degradation": "guided-mix", "wrong_reference": 0.5, "lambda_id": 1.0, "lambda_ref": 1.0,
              "lambda_wrong": 1.0, "warp_steps": 0, "drop_reference": 0.0, "batch": 4}
    recipe = Recipe(cache, "cpu", {**TINY, **guided}, identity_network=_identity_net())
    recipe.train_mode()
    batch = next(recipe.batches(0))
    assert set(batch["ref_same"].tolist()) <= {0.0, 1.0}
    parts = recipe.train_step(batch, 0)
    assert {"id", "ref", "wrong"} <= set(parts) and all(np.isfinite(v) for v in parts.values())
