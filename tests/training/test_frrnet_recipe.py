"""FRR-Net's recipe on the tiny prepared cache: training steps, export, and the app's Restorer reproducing
the EMA network's output from the shipped file."""

import hashlib
import json

import numpy as np
import pytest
import torch

from frstudio.models import faceid
from training.loop import LoopSettings, load_ema_from_checkpoint, train
from training.recipes.frrnet import Recipe, classifier_loss, composite_target, hold_loss

TINY = {"steps": 2, "batch": 2, "workers": 0, "width": 4, "depth": 1, "downsamplings": 2, "val_split": "test", "val_faces": 4}


def _identity_net():
    torch.manual_seed(1)
    return faceid.build({"widths": [4, 8, 8, 8], "blocks": 1}).eval()


def test_train_export_and_reload_through_the_restorer(tiny_prepared, tmp_path, monkeypatch):
    from frstudio.core.restore import Restorer
    from training.export import export

    cache = tiny_prepared[0]
    recipe = Recipe(cache, "cpu", dict(TINY), identity_network=_identity_net())
    before = {k: v.clone() for k, v in recipe.net.state_dict().items()}
    summary = train(recipe, LoopSettings(run_dir=tmp_path / "run", quiet=True, val_every=1000))
    assert summary["step"] == 2
    assert "psnr_out" in summary["last_val"] and "acc_noise" in summary["last_val"]
    assert (tmp_path / "run" / "samples_latest.png").exists()
    changed = [k for k, v in recipe.net.state_dict().items() if not torch.equal(v, before[k])]
    assert any(k.startswith("dec_blocks") for k in changed)
    assert not any(k.startswith("features.") and "running" not in k for k in changed)  # identity features frozen

    weights = tmp_path / "weights"
    export("frrnet", tmp_path / "run", data="tiny", device="cpu", out_dir=weights)
    again = export("frrnet", tmp_path / "run", data="tiny", device="cpu", out_dir=tmp_path / "again")
    assert again["sha256"] == hashlib.sha256((weights / "frrnet.safetensors").read_bytes()).hexdigest()  # same bytes
    from training.table import same_weights

    assert same_weights(weights / "frrnet.safetensors", tmp_path / "again" / "frrnet.safetensors")
    monkeypatch.setenv("FRSTUDIO_WEIGHTS_DIR", str(weights))
    restorer = Restorer("frrnet", device="cpu")
    ema = recipe.net.__class__(recipe.net.config)
    load_ema_from_checkpoint(tmp_path / "run" / "checkpoint.pt", ema)
    crops = np.random.default_rng(0).random((2, 128, 128, 3), dtype=np.float32)
    with torch.no_grad():
        expected = ema.eval()(torch.from_numpy(crops).permute(0, 3, 1, 2))["image"].permute(0, 2, 3, 1).numpy()
    got = np.stack([r.image for r in restorer.restore(crops)])
    np.testing.assert_allclose(got, expected, atol=1e-2)  # fp16 weights
    assert set(restorer.restore(crops)[0].extras) >= {"labels", "mask"}


def test_trains_on_the_lighting_degradation_and_refuses_one_without_labels(tiny_prepared, tmp_path):
    import pytest

    cache = tiny_prepared[0]
    recipe = Recipe(cache, "cpu", {**TINY, "degradation": "frrnet-train-lighting"}, identity_network=_identity_net())
    from frstudio.core.degradations import PIPELINES

    assert recipe.train_set.pipeline is PIPELINES["frrnet-train-lighting"] and recipe.val_set.protocol == "frrnet-train-lighting"
    summary = train(recipe, LoopSettings(run_dir=tmp_path / "run", quiet=True, val_every=1000))
    assert summary["step"] == 2 and "acc_relight" in summary["last_val"]
    with pytest.raises(SystemExit, match="no distortion labels"):
        Recipe(cache, "cpu", {**TINY, "degradation": "bfr-severe"}, identity_network=_identity_net())


def test_target_keeps_the_background_of_the_input():
    hq, lq = torch.ones(1, 3, 4, 4), torch.zeros(1, 3, 4, 4)
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., 1:3, 1:3] = 1
    target = composite_target(hq, lq, mask)
    assert target[0, 0, 1, 1] == 1 and target[0, 0, 0, 0] == 0


def test_the_identity_term_counts_only_when_weighted_and_validation_measures_identity(tiny_prepared, tmp_path):
    from training.losses import IdentityFeatureLoss
    from training.recipes.frrnet import Config, frrnet_losses

    torch.manual_seed(0)
    features = IdentityFeatureLoss(_identity_net())
    out = {"image": torch.rand(2, 3, 128, 128), "mask": torch.rand(2, 1, 128, 128)}
    target, mask = torch.rand(2, 3, 128, 128), (torch.rand(2, 1, 128, 128) > 0.5).float()
    labels = torch.zeros(0)
    plain = frrnet_losses(out, target, mask, labels, features, Config())
    weighted = frrnet_losses(out, target, mask, labels, features, Config(lambda_id=5.0))
    assert "id" not in plain and weighted["id"] > 0
    assert float(weighted["total"] - plain["total"]) == pytest.approx(5.0 * float(weighted["id"]), rel=1e-2)

    recipe = Recipe(tiny_prepared[0], "cpu", {**TINY, "lambda_id": 1.0}, identity_network=_identity_net())
    summary = train(recipe, LoopSettings(run_dir=tmp_path / "run", quiet=True, val_every=1000))
    last = summary["last_val"]
    assert 0 <= last["faceid_in"] <= 2 and 0 <= last["faceid_out"] <= 2


@pytest.mark.parametrize("discriminators", [{}, {"d_spectral": False, "r1_gamma": 1.0, "r1_every": 1, "d_detail": True}], ids=["spectral", "r1-detail"])
def test_the_sharpening_fine_tune_trains_its_discriminators_from_a_run_without_them(tiny_prepared, tmp_path, discriminators):
    """lambda_adv / lambda_parts add a patch and an eyes-and-mouth discriminator (spectrally normalised, or plain
    with an R1 penalty); a fine-tune from a plain run's checkpoint starts them fresh, and both they and the
    restoration network learn."""
    cache = tiny_prepared[0]
    plain = Recipe(cache, "cpu", dict(TINY), identity_network=_identity_net())
    assert set(plain.nets) == {"net"}
    train(plain, LoopSettings(run_dir=tmp_path / "plain", quiet=True, val_every=1000))

    recipe = Recipe(cache, "cpu", {**TINY, "lambda_adv": 0.05, "lambda_parts": 0.05, **discriminators}, identity_network=_identity_net())
    assert set(recipe.nets) == {"net", "disc", "disc_parts"}
    spectral = any("parametrizations" in name for name, _ in recipe.nets["disc"].named_parameters())
    assert spectral == discriminators.get("d_spectral", True)
    before = {k: {n: v.clone() for n, v in net.state_dict().items()} for k, net in recipe.nets.items()}
    summary = train(recipe, LoopSettings(run_dir=tmp_path / "sharp", quiet=True, val_every=1000, log_every=1, init_from=tmp_path / "plain"))
    assert summary["step"] == 2
    history = json.loads((tmp_path / "sharp" / "history.json").read_text())
    logged = [h for h in history if h["kind"] == "train"][-1]
    assert {"adv", "adv_parts", "d_adv", "d_adv_parts"} <= set(logged)
    for key, net in recipe.nets.items():
        assert any(not torch.equal(v, before[key][n]) for n, v in net.state_dict().items()), f"{key} did not learn"
    assert all(p.requires_grad for p in recipe.nets["disc"].parameters())  # unfrozen after the step


def test_the_discriminator_warm_up_trains_only_the_discriminators(tiny_prepared, tmp_path):
    """With d_warmup, the first steps leave the restoration network as it was while the discriminators learn."""
    recipe = Recipe(tiny_prepared[0], "cpu", {**TINY, "lambda_adv": 0.05, "d_spectral": False, "d_warmup": 2, "d_inside": True},
                    identity_network=_identity_net())
    before = {k: {n: v.clone() for n, v in net.state_dict().items()} for k, net in recipe.nets.items()}
    train(recipe, LoopSettings(run_dir=tmp_path / "warm", quiet=True, val_every=1000, log_every=1))
    assert all(torch.equal(v, before["net"][n]) for n, v in recipe.net.state_dict().items())
    assert any(not torch.equal(v, before["disc"][n]) for n, v in recipe.nets["disc"].state_dict().items())
    logged = [h for h in json.loads((tmp_path / "warm" / "history.json").read_text()) if h["kind"] == "train"][-1]
    assert "d_adv" in logged and "rec" not in logged and "adv" not in logged


def test_feature_matching_builds_the_discriminators_and_trains_the_network_without_an_adversarial_term(tiny_prepared, tmp_path):
    """lambda_fm_patch / lambda_fm_parts alone: both discriminators learn, and the network's loss has the two
    feature-matching terms and no adversarial one."""
    recipe = Recipe(tiny_prepared[0], "cpu", {**TINY, "lambda_fm_patch": 0.1, "lambda_fm_parts": 0.1, "d_spectral": False,
                                              "d_detail": True}, identity_network=_identity_net())
    assert set(recipe.nets) == {"net", "disc", "disc_parts"}
    before = {k: {n: v.clone() for n, v in net.state_dict().items()} for k, net in recipe.nets.items()}
    train(recipe, LoopSettings(run_dir=tmp_path / "fm", quiet=True, val_every=1000, log_every=1))
    logged = [h for h in json.loads((tmp_path / "fm" / "history.json").read_text()) if h["kind"] == "train"][-1]
    assert {"fm", "fm_parts", "d_adv", "d_adv_parts"} <= set(logged)
    assert "adv" not in logged and "adv_parts" not in logged
    assert logged["fm"] > 0 and logged["fm_parts"] > 0
    for key, net in recipe.nets.items():
        assert any(not torch.equal(v, before[key][n]) for n, v in net.state_dict().items()), f"{key} did not learn"


def test_a_discriminator_below_its_floor_skips_its_step_while_the_network_learns(tiny_prepared, tmp_path):
    """d_floor above any loss a discriminator can have: it is held where it is; feature matching still trains the
    network. With the default floor (0) the same setting trains them (the test above)."""
    recipe = Recipe(tiny_prepared[0], "cpu", {**TINY, "lambda_fm_patch": 0.1, "lambda_fm_parts": 0.1, "d_spectral": False,
                                              "d_floor": 1e9}, identity_network=_identity_net())
    before = {k: {n: v.clone() for n, v in net.state_dict().items()} for k, net in recipe.nets.items()}
    train(recipe, LoopSettings(run_dir=tmp_path / "floor", quiet=True, val_every=1000, log_every=1))
    for key in ("disc", "disc_parts"):
        assert all(torch.equal(v, before[key][n]) for n, v in recipe.nets[key].state_dict().items()), f"{key} stepped"
    assert any(not torch.equal(v, before["net"][n]) for n, v in recipe.net.state_dict().items())


def test_discriminator_features_are_its_hidden_layers_and_vanish_for_the_same_image():
    from training.discriminators import FacePartDiscriminator, PatchDiscriminator
    from training.losses.adversarial import feature_matching

    torch.manual_seed(0)
    x, y = torch.rand(2, 3, 128, 128), torch.rand(2, 3, 128, 128)
    with torch.no_grad():  # a context, so a failing assertion cannot leave gradients off for later tests
        for disc, layers, size in ((PatchDiscriminator(spectral=False, detail=True), 4, 128), (FacePartDiscriminator(spectral=False), 3, 40)):
            feats = disc.features(x)
            assert len(feats) == layers and feats[0].shape[-1] == size
            assert torch.equal(disc.body[-1](feats[-1]), disc(x))  # the logits come from the last hidden layer
            assert float(feature_matching(feats, disc.features(x))) == 0.0
            assert float(feature_matching(feats, disc.features(y))) > 0.0


def test_the_patch_verdicts_can_be_counted_inside_the_face_only():
    """d_inside: the patch discriminator's loss ignores patches near or outside the mask's edge, where the
    training target steps from the sharp face to the damaged photo."""
    from training.losses.adversarial import ns_d_loss, ns_g_loss
    from training.recipes.frrnet import inside_patches

    mask = torch.zeros(1, 1, 128, 128)
    mask[..., 32:96, 32:96] = 1
    inside = inside_patches(mask)
    assert inside.shape == (1, 1, 16, 16)
    assert inside[0, 0, 5:11, 5:11].all() and inside.sum() == 36  # patches 4 and 11 touch the edge
    logits = torch.zeros(1, 1, 16, 16)
    logits[..., :2, :] = -30  # verdicts outside the face: confidently fake
    assert abs(float(ns_g_loss(logits, weight=inside)) - np.log(2)) < 1e-6
    assert float(ns_g_loss(logits)) > 1.0
    assert abs(float(ns_d_loss(logits, logits, weight=inside)) - 2 * np.log(2)) < 1e-6


def test_plain_discriminators_start_with_unit_gain():
    """He-initialised, a plain discriminator passes a unit-variance input at roughly unit scale to its logits
    (PyTorch's default init shrank it ~40x over the stack, which left the first fine-tunes at chance)."""
    from training.discriminators import PatchDiscriminator

    torch.manual_seed(0)
    with torch.no_grad():
        logits = PatchDiscriminator(spectral=False)(torch.randn(4, 3, 128, 128))
    assert 0.3 < float(logits.std()) < 3.0


def test_face_parts_cut_the_eyes_and_the_mouth_at_the_template():
    from frstudio.core.align import TEMPLATE_128
    from training.discriminators import PART_SIZE, FacePartDiscriminator, PatchDiscriminator, face_parts

    x = torch.zeros(2, 3, 128, 128)
    for cx, cy in TEMPLATE_128[[0, 1, 3, 4]]:  # a bright dot on each eye and mouth corner
        x[..., int(cy), int(cx)] = 1.0
    parts = face_parts(x)
    assert parts.shape == (6, 3, PART_SIZE, PART_SIZE)
    eyes, mouths = parts[:4], parts[4:]
    assert bool((eyes.flatten(1).amax(1) == 1).all())  # each eye part holds its eye's dot
    assert float(mouths[:, 0].sum()) == 2 * 2  # each mouth part holds both corners
    assert PatchDiscriminator()(torch.rand(2, 3, 128, 128)).shape == (2, 1, 16, 16)
    assert FacePartDiscriminator()(torch.rand(2, 3, 128, 128)).shape == (6, 1, 10, 10)


def test_the_fine_band_loss_sees_detail_the_pixel_loss_averages_away():
    from training.losses import fine_band, fine_band_l1, l1

    torch.manual_seed(0)
    sharp = torch.rand(2, 3, 32, 32)
    soft = torch.nn.functional.avg_pool2d(sharp, 3, stride=1, padding=1, count_include_pad=False)
    flat = torch.full_like(sharp, 0.5)
    assert float(fine_band(flat).abs().max()) < 1e-6 and float(fine_band_l1(sharp, sharp)) == 0.0
    # blurring loses most of the fine band, which weighs more in it than in the plain pixel difference
    assert float(fine_band_l1(soft, sharp)) / float(l1(soft, sharp)) > 0.9


def test_the_classifier_learns_nothing_from_a_face_whose_labels_are_unknown():
    logits = torch.tensor([[2.0, -1.0, 0.5], [-3.0, 4.0, 1.0]], requires_grad=True)
    nan = float("nan")
    labels = torch.tensor([[1.0, 0.0, 1.0], [nan, nan, nan]])
    loss = classifier_loss(logits, labels)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.allclose(loss, torch.nn.functional.binary_cross_entropy_with_logits(logits[0], labels[0]))
    assert torch.all(logits.grad[1] == 0) and torch.any(logits.grad[0] != 0)
    unknown = torch.zeros(2, 3, requires_grad=True)
    assert float(classifier_loss(unknown, torch.full((2, 3), nan))) == 0.0


def test_the_hold_term_pulls_only_the_faces_whose_labels_are_known():
    image = torch.rand(2, 3, 8, 8, requires_grad=True)
    held = torch.rand(2, 3, 8, 8)
    nan = float("nan")
    labels = torch.tensor([[0.0, 1.0, 0.0], [nan, nan, nan]])
    loss = hold_loss(image, held, labels)
    loss.backward()
    assert torch.allclose(loss, (image[0] - held[0]).abs().mean())
    assert torch.all(image.grad[1] == 0) and torch.any(image.grad[0] != 0)
    assert float(hold_loss(held, held, labels)) == 0.0
    assert float(hold_loss(image.detach(), held, torch.full((2, 3), nan))) == 0.0


def test_a_run_held_to_exported_weights_starts_at_them_and_refuses_another_architecture(tiny_prepared, tmp_path):
    from training.export import export

    cache = tiny_prepared[0]
    base = Recipe(cache, "cpu", dict(TINY), identity_network=_identity_net())
    train(base, LoopSettings(run_dir=tmp_path / "base", quiet=True, val_every=1000))
    export("frrnet", tmp_path / "base", data="tiny", device="cpu", out_dir=tmp_path / "weights")
    weights = tmp_path / "weights" / "frrnet.safetensors"

    held = {**TINY, "lambda_hold": 1.0, "hold_weights": str(weights)}
    recipe = Recipe(cache, "cpu", held, identity_network=_identity_net())
    assert not any(p.requires_grad for p in recipe.held_net.parameters())
    crops = torch.rand(2, 3, 128, 128)
    with torch.no_grad():  # the held network is the exported EMA (fp16 weights)
        ema = recipe.net.__class__(recipe.net.config)
        load_ema_from_checkpoint(tmp_path / "base" / "checkpoint.pt", ema)
        assert torch.allclose(recipe.held_net(crops)["image"], ema.eval()(crops)["image"], atol=1e-2)
    parts = recipe.train_step(next(iter(recipe.batches(0))), 0)
    assert parts["hold"] > 0  # the held network is the base's EMA, the trained network its live weights

    with pytest.raises(SystemExit, match="another architecture"):
        Recipe(cache, "cpu", {**held, "width": 6}, identity_network=_identity_net())
    with pytest.raises(SystemExit, match="needs hold_weights"):
        Recipe(cache, "cpu", {**TINY, "lambda_hold": 1.0}, identity_network=_identity_net())
