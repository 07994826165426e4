"""prepare -> a few training steps -> checkpoint/resume -> export -> reload through frstudio -> same output;
and `evaluate` on the tiny cache, for the identity network and for a restorer."""

import json

import numpy as np
import pytest
import torch

from training.loop import LoopSettings, train
from training.recipes.faceid import Recipe as FaceIDRecipe
from training.recipes.faceid import verification_accuracy, verification_pairs

TINY = {"steps": 4, "batch": 4, "workers": 0, "val_split": "test", "widths": (8, 8, 16, 16), "blocks": 1, "val_faces": 10, "val_pairs": 6, "warmup": 2}


def _train(cache, run_dir, max_steps, resume=False):
    recipe = FaceIDRecipe(cache, "cpu", dict(TINY))
    summary = train(recipe, LoopSettings(run_dir=run_dir, max_steps=max_steps, resume=resume, val_every=1000, quiet=True))
    return recipe, summary


def test_training_resumes_exactly(tiny_prepared, tmp_path):
    cache = tiny_prepared[0]
    straight, summary = _train(cache, tmp_path / "a", 4)
    assert summary["step"] == 4 and (tmp_path / "a" / "checkpoint.pt").exists()
    assert (tmp_path / "a" / "curves.png").exists() and (tmp_path / "a" / "history.json").exists()
    _train(cache, tmp_path / "b", 2)
    resumed, summary = _train(cache, tmp_path / "b", 4, resume=True)
    assert summary["step"] == 4
    a = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=False)["ema"]
    b = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)["ema"]
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)


def test_refuses_to_overwrite_a_run_without_resume(tiny_prepared, tmp_path):
    _train(tiny_prepared[0], tmp_path / "run", 1)
    with pytest.raises(SystemExit, match="--resume"):
        _train(tiny_prepared[0], tmp_path / "run", 2)


def test_fine_tuning_starts_from_the_source_ema_and_counts_both_runs(tiny_prepared, tmp_path):
    from training.export import export

    cache = tiny_prepared[0]
    _train(cache, tmp_path / "base", 3)
    source = torch.load(tmp_path / "base" / "checkpoint.pt", weights_only=False)
    recipe = FaceIDRecipe(cache, "cpu", dict(TINY))
    train(recipe, LoopSettings(run_dir=tmp_path / "tuned", hours=1e-9, init_from=tmp_path / "base", quiet=True))
    tuned = torch.load(tmp_path / "tuned" / "checkpoint.pt", weights_only=False)
    for k, v in source["ema"].items():  # the live network and the EMA both start from the source's EMA
        torch.testing.assert_close(tuned["ema"][k], v, rtol=0, atol=0)
        torch.testing.assert_close(recipe.nets[recipe.export_key].state_dict()[k], v, rtol=0, atol=0)
    assert tuned["base"]["steps"] == 3 and tuned["step"] == 0
    # two more steps, interrupted and resumed: the provenance survives, the export counts 3 + 2 steps
    train(FaceIDRecipe(cache, "cpu", dict(TINY)), LoopSettings(run_dir=tmp_path / "tuned", max_steps=1, resume=True, quiet=True))
    train(FaceIDRecipe(cache, "cpu", dict(TINY)), LoopSettings(run_dir=tmp_path / "tuned", max_steps=2, resume=True, quiet=True))
    entry = export("faceid", tmp_path / "tuned", data="tiny", device="cpu", out_dir=tmp_path / "weights")
    assert entry["steps"] == 5 and entry["fine_tuned_from"]["steps"] == 3
    assert entry["fine_tuned_from"]["training"]["steps"] == TINY["steps"]
    with pytest.raises(SystemExit, match="no checkpoint"):
        train(FaceIDRecipe(cache, "cpu", dict(TINY)), LoopSettings(run_dir=tmp_path / "x", init_from=tmp_path / "none", quiet=True))
    with pytest.raises(SystemExit, match=r"another architecture \(blocks=1\)"):
        train(FaceIDRecipe(cache, "cpu", {**TINY, "blocks": 2}), LoopSettings(run_dir=tmp_path / "y", init_from=tmp_path / "base", quiet=True))


def test_fine_tuning_from_shipped_weights_checks_them_and_counts_their_steps(tiny_prepared, tmp_path):
    # a fresh checkout has the shipped safetensors and their manifest, not the run that made them
    from training.export import export

    cache = tiny_prepared[0]
    _train(cache, tmp_path / "base", 3)
    entry = export("faceid", tmp_path / "base", data="tiny", device="cpu", out_dir=tmp_path / "weights")
    shipped = tmp_path / "weights" / entry["file"]
    recipe = FaceIDRecipe(cache, "cpu", dict(TINY))
    train(recipe, LoopSettings(run_dir=tmp_path / "tuned", hours=1e-9, init_from=shipped, quiet=True))
    tuned = torch.load(tmp_path / "tuned" / "checkpoint.pt", weights_only=False)
    source = torch.load(tmp_path / "base" / "checkpoint.pt", weights_only=False)["ema"]
    for k, v in source.items():  # within fp16 rounding of the run's EMA, live network and EMA alike
        if v.is_floating_point():
            torch.testing.assert_close(tuned["ema"][k], v.half().float(), rtol=0, atol=0)
            torch.testing.assert_close(recipe.nets[recipe.export_key].state_dict()[k], v.half().float(), rtol=0, atol=0)
    assert tuned["base"]["steps"] == 3 and entry["sha256"][:12] in tuned["base"]["checkpoint"]
    train(FaceIDRecipe(cache, "cpu", dict(TINY)), LoopSettings(run_dir=tmp_path / "tuned", max_steps=2, resume=True, quiet=True))
    again = export("faceid", tmp_path / "tuned", data="tiny", device="cpu", out_dir=tmp_path / "again")
    assert again["steps"] == 5 and again["fine_tuned_from"]["training"]["steps"] == TINY["steps"]
    with pytest.raises(SystemExit, match=r"another architecture \(blocks=1\)"):
        train(FaceIDRecipe(cache, "cpu", {**TINY, "blocks": 2}), LoopSettings(run_dir=tmp_path / "y", init_from=shipped, quiet=True))
    shipped.write_bytes(shipped.read_bytes()[:-8] + b"corrupt!")
    with pytest.raises(SystemExit, match="corrupt"):
        train(FaceIDRecipe(cache, "cpu", dict(TINY)), LoopSettings(run_dir=tmp_path / "z", init_from=shipped, quiet=True))
    with pytest.raises(SystemExit, match="no entry"):
        train(FaceIDRecipe(cache, "cpu", dict(TINY)), LoopSettings(run_dir=tmp_path / "w", init_from=tmp_path / "x.safetensors", quiet=True))


def test_time_budget_stops_cleanly(tiny_prepared, tmp_path):
    recipe = FaceIDRecipe(tiny_prepared[0], "cpu", dict(TINY))
    summary = train(recipe, LoopSettings(run_dir=tmp_path / "t", hours=1e-9, max_steps=100, quiet=True))
    assert summary["stopped"] == "time budget" and summary["step"] == 0
    assert (tmp_path / "t" / "checkpoint.pt").exists()


def test_export_reload_gives_the_same_embeddings(tiny_prepared, tmp_path, monkeypatch):
    from frstudio.core.restore import load_identity_network
    from training.evaluate import evaluate_faceid
    from training.export import export, record_metrics
    from training.loop import load_ema_from_checkpoint
    from frstudio.models import faceid

    cache = tiny_prepared[0]
    _train(cache, tmp_path / "run", 2)
    weights = tmp_path / "weights"
    entry = export("faceid", tmp_path / "run", data="tiny test set", device="cpu", out_dir=weights)
    assert entry["steps"] == 2 and entry["file"] == "faceid.safetensors" and entry["bytes"] < 20 * 2**20
    monkeypatch.setenv("FRSTUDIO_WEIGHTS_DIR", str(weights))
    shipped = load_identity_network()
    ema = faceid.build(entry["config"])
    load_ema_from_checkpoint(tmp_path / "run" / "checkpoint.pt", ema)
    x = torch.rand(3, 3, 128, 128)
    with torch.no_grad():
        torch.testing.assert_close(shipped(x), ema.eval()(x), atol=2e-2, rtol=2e-2)  # fp16 weights

    report = evaluate_faceid(cache, split="test", pairs_per_class=3, net=shipped, threshold_split="test", grid=tmp_path / "nn.png")
    assert 0 <= report["accuracy"] <= 1 and report["dlib_accuracy"] > 0 and report["pairs"] >= 2
    assert (tmp_path / "nn.png").exists()
    record_metrics("faceid", "verification", report, weights)
    manifest = json.loads((weights / "manifest.json").read_text())
    assert manifest["models"]["faceid"]["metrics"]["verification"]["pairs"] == report["pairs"]


def test_evaluate_a_restorer_reports_input_and_output(tiny_prepared, tiny_weights, tmp_path):
    from frstudio.core.restore import Restorer
    from training.evaluate import evaluate_restorer, markdown_table

    report = evaluate_restorer("tiny", "bfr-severe", tiny_prepared[0], grid=tmp_path / "grid.png", restorer=Restorer("tiny"))
    assert report["n"] == 5 and report["split"] == "test"
    for row in ("input", "output"):
        assert set(report[row]) >= {"psnr", "ssim", "ms_ssim", "id_dist", "id_match", "lmd"}
    assert report["input"]["psnr"] < 60 and report["output"]["psnr"] != report["input"]["psnr"]
    assert (tmp_path / "grid.png").exists()
    assert "degraded input" in markdown_table(report)


def test_verification_helpers_by_hand():
    pairs, same = verification_pairs(np.array(["a", "a", "b", "b", "c"]), 10, seed=0)
    assert same.sum() == 2 and (~same).sum() == 2  # only two same-person pairs exist
    assert verification_accuracy(np.array([0.1, 0.9, 0.5, 0.7]), np.array([True, False, True, False]), 0.6) == 1.0


def test_sigterm_stops_cleanly_with_a_checkpoint(tiny_prepared, tmp_path):
    import os
    import signal

    recipe = FaceIDRecipe(tiny_prepared[0], "cpu", dict(TINY))
    step_once = recipe.train_step

    def step_then_signal(batch, step):
        if step == 1:
            os.kill(os.getpid(), signal.SIGTERM)
        return step_once(batch, step)

    recipe.train_step = step_then_signal
    summary = train(recipe, LoopSettings(run_dir=tmp_path / "s", max_steps=100, quiet=True, val_every=1000))
    assert summary["stopped"] == f"signal {int(signal.SIGTERM)}" and summary["step"] == 2
    assert torch.load(tmp_path / "s" / "checkpoint.pt", weights_only=False)["step"] == 2
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is put back


def test_report_summary_includes_identity_precision_and_recall():
    from training.evaluate import Scores

    rng = np.random.default_rng(0)
    hq = rng.normal(size=(6, 128))
    scores = Scores(psnr=[20.0, 22.0], ssim=[0.5, 0.7], ms_ssim=[0.8, 0.9], lmd=[1.0, 3.0], descriptors=list(hq + 0.01))
    summary = scores.summary(hq, np.array(["a", "a", "b", "b", "c", "c"]))
    assert summary["psnr"] == 21.0 and summary["lmd"] == 2.0
    assert summary["id_match"] == 1.0 and summary["iprecision"] == 1.0 and summary["irecall"] == 1.0


def test_identity_precision_counts_only_faces_with_a_known_identity():
    """A spread of the test split mixes CelebA (identities) and All-Age-Faces (none): iPrecision is measured on
    the CelebA faces instead of not at all."""
    from training.evaluate import Scores

    rng = np.random.default_rng(0)
    hq = rng.normal(size=(8, 128))
    restored = hq.copy()
    restored[6:] = rng.normal(size=(2, 128))  # the two unlabelled faces are badly restored: they must not count
    scores = Scores(psnr=[20.0] * 8, ssim=[0.5] * 8, ms_ssim=[0.8] * 8, lmd=[1.0] * 8, descriptors=list(restored))
    summary = scores.summary(hq, np.array(["a", "a", "b", "b", "c", "c", "", ""]))
    assert summary["iprecision"] == 1.0 and summary["iprecision_n"] == 6
    assert "iprecision" not in scores.summary(hq, np.array([""] * 8))
