"""The StyleGAN2 prior and the MMRB + StyleGAN2 recipes: the prior trains and reports FD-dlib; the restoration
recipe starts from the prior's EMA generator and discriminator, keeps FreezeD's layers fixed, trains the rest,
cuts the components the local discriminators see at the landmarks, and its export is what the app runs."""

import json

import numpy as np
import pytest
import torch

from frstudio.models import faceid, mmrb_stylegan
from tests.support.exported import export_and_reload
from training.loop import LoopSettings, load_ema_from_checkpoint, train
from training.recipes import load_recipe
from training.recipes.mmrb_stylegan import COMPONENTS, component_patches

ARCH = {"channels": [8, 8, 8, 8, 4, 4], "noise_channels": [4, 4, 4, 4, 2, 2], "style": 8, "latent": 8,
        "mapping_layers": 2, "d_channels": [4, 4, 4, 4, 4, 4]}
PRIOR = {**ARCH, "steps": 2, "batch": 2, "workers": 0, "r1_every": 1, "val_samples": 4, "val_split": "test"}
CODEC = {**ARCH, "steps": 2, "batch": 2, "workers": 0, "enc_channels": [4, 4, 4, 4, 4, 4], "local_channels": [4, 4, 4],
         "val_split": "test", "val_faces": 3}


def _identity_net():
    torch.manual_seed(1)
    return faceid.build({"widths": [4, 8, 8, 8], "blocks": 1}).eval()


@pytest.fixture(scope="module")
def prior_run(tiny_prepared, tmp_path_factory):
    run = tmp_path_factory.mktemp("prior") / "run"
    summary = train(load_recipe("stylegan_prior")(tiny_prepared[0], "cpu", PRIOR), LoopSettings(run_dir=run, quiet=True, val_every=1000))
    return run, summary


def _recipe(cache, prior, **changes):
    return load_recipe("mmrb_stylegan")(cache, "cpu", {**CODEC, "prior": str(prior), **changes}, identity_network=_identity_net())


def test_prior_trains_with_r1_and_reports_the_fd_of_its_samples(prior_run):
    run, summary = prior_run
    assert summary["step"] == 2 and np.isfinite(summary["last_val"]["fd_dlib"]) and summary["last_val"]["fd_dlib"] > 0
    assert (run / "samples_latest.png").exists()
    payload = torch.load(run / "checkpoint.pt", weights_only=False)
    assert payload["ema"]["w_avg"].abs().sum() > 0  # the running mean of w is tracked and kept with the EMA


def test_restoration_starts_from_the_prior_and_freezes_the_first_discriminator_layers(tiny_prepared, prior_run):
    run, _ = prior_run
    recipe = _recipe(tiny_prepared[0], run)
    ema = mmrb_stylegan.Generator(mmrb_stylegan.Config(**recipe.model_config()))
    load_ema_from_checkpoint(run / "checkpoint.pt", ema)
    for name, value in ema.state_dict().items():
        assert torch.equal(recipe.net.generator.state_dict()[name], value), name
    assert recipe.config_dict()["prior"]["steps"] == 2
    frozen = {(i, n): p.clone() for i, layer in enumerate(recipe.disc.layers[:3]) for n, p in layer.named_parameters()}
    before = {k: {n: v.clone() for n, v in net.state_dict().items()} for k, net in recipe.nets.items()}
    recipe.train_mode()
    logs = recipe.train_step(next(recipe.batches(0)), 0)
    assert {"adv_g", "adv_l", "l1", "fm", "fp", "pyramid", "d", "d_local"} <= set(logs)
    assert all(np.isfinite(v) for v in logs.values())
    for k, net in recipe.nets.items():
        assert any(not torch.equal(v, before[k][n]) for n, v in net.state_dict().items()), k
    for i, layer in enumerate(recipe.disc.layers[:3]):
        for n, p in layer.named_parameters():
            assert torch.equal(p, frozen[i, n]) and not p.requires_grad
    assert all(p.requires_grad for layer in recipe.disc.layers[3:] for p in layer.parameters())
    changed = lambda part: any(not torch.equal(v, before["net"][n]) for n, v in recipe.net.state_dict().items() if n.startswith(part))
    assert changed("codec.") and changed("generator.")


def test_a_missing_or_mismatched_prior_is_a_clear_error(tiny_prepared, prior_run, tmp_path):
    with pytest.raises(SystemExit, match="no stylegan_prior checkpoint"):
        _recipe(tiny_prepared[0], tmp_path / "nowhere")
    with pytest.raises(SystemExit, match="another architecture"):
        _recipe(tiny_prepared[0], prior_run[0], channels=[8, 8, 8, 8, 8, 4])


def test_component_patches_are_cut_around_the_landmarks():
    images = torch.zeros(2, 3, 128, 128)
    landmarks = torch.zeros(2, 68, 2)
    landmarks[:, 36:42] = torch.tensor([40.0, 50.0])
    landmarks[:, 42:48] = torch.tensor([88.0, 50.0])
    landmarks[:, 48:68] = torch.tensor([64.0, 95.0])
    landmarks[1] += 5  # another face, elsewhere
    for i, off in enumerate((0, 5)):
        images[i, 0, 50 + off, 40 + off] = 1.0  # a dot at the left eye's centre
        images[i, 1, 95 + off, 64 + off] = 1.0  # and one at the mouth's
    eye = component_patches(images, landmarks, "left_eye")
    mouth = component_patches(images, landmarks, "mouth")
    assert eye.shape == mouth.shape == (2, 3, 32, 32) and set(COMPONENTS) == {"left_eye", "right_eye", "mouth"}
    for i in range(2):
        assert abs(np.unravel_index(int(eye[i, 0].argmax()), (32, 32))[0] - 15.5) <= 1  # the dot is in the middle
        assert abs(np.unravel_index(int(mouth[i, 1].argmax()), (32, 32))[1] - 15.5) <= 1
        assert component_patches(images, landmarks, "right_eye")[i, 0].max() == 0


def test_run_exports_and_the_app_reproduces_the_ema(tiny_prepared, prior_run, tmp_path, monkeypatch):
    recipe = _recipe(tiny_prepared[0], prior_run[0])
    summary = train(recipe, LoopSettings(run_dir=tmp_path / "run", quiet=True, val_every=1000))
    assert summary["step"] == 2 and {"psnr_in", "psnr", "faceid_in", "faceid"} <= set(summary["last_val"])
    restorer, ema = export_and_reload("mmrb_stylegan", tmp_path / "run", tmp_path / "weights", monkeypatch,
                                      mmrb_stylegan.build, recipe.model_config())
    crops = np.random.default_rng(0).random((2, 128, 128, 3), dtype=np.float32)
    with torch.no_grad():
        expected = ema(torch.from_numpy(crops).permute(0, 3, 1, 2)).clamp(0, 1).permute(0, 2, 3, 1).numpy()
    got = np.stack([r.image for r in restorer.restore(crops)])
    np.testing.assert_allclose(got, expected, atol=1e-2)
    # the manifest counts the prior's training in the weights' steps and names it
    entry = json.loads((tmp_path / "weights" / "manifest.json").read_text())["models"]["mmrb_stylegan"]
    prior_steps = torch.load(prior_run[0] / "checkpoint.pt", map_location="cpu", weights_only=False)["step"]
    assert entry["prior"]["steps"] == prior_steps and entry["steps"] == 2 + prior_steps
    # fine-tuned from the run or from its export, the prior is counted once: it is inside the base's steps
    for source in (tmp_path / "run", tmp_path / "weights" / "mmrb_stylegan.safetensors"):
        run = tmp_path / f"tuned_{source.suffix or 'run'}"
        train(_recipe(tiny_prepared[0], prior_run[0]), LoopSettings(run_dir=run, quiet=True, val_every=1000, init_from=source))
        export_and_reload("mmrb_stylegan", run, run / "weights", monkeypatch, mmrb_stylegan.build, recipe.model_config())
        tuned = json.loads((run / "weights" / "manifest.json").read_text())["models"]["mmrb_stylegan"]
        assert tuned["steps"] == 2 + 2 + prior_steps, (source, tuned["steps"])
        assert tuned["fine_tuned_from"]["steps"] == 2 + prior_steps


def test_prior_command_draws_a_grid_and_measures_fd_beside_real_faces(tiny_prepared, prior_run, tmp_path):
    from training.__main__ import main

    out = tmp_path / "report.json"
    assert main(["prior", str(prior_run[0]), "--samples", "3", "--grid", str(tmp_path / "grid.png"), "--json", str(out),
                 "--cache", str(tiny_prepared[0])]) == 0
    report = __import__("json").loads(out.read_text())
    assert report["steps"] == 2 and {"fd_dlib_psi1", "fd_dlib_psi0.7", "fd_dlib_train_faces"} <= set(report)
    from PIL import Image

    assert Image.open(tmp_path / "grid.png").size == (8 * 128, 4 * 128)
