"""`python -m training` wiring: train -> export -> evaluate --record, on the tiny prepared cache."""

import json

from training.__main__ import main


def test_train_export_evaluate_from_the_command_line(tiny_prepared, tmp_path, monkeypatch, capsys):
    cache = str(tiny_prepared[0])
    weights = tmp_path / "weights"
    monkeypatch.setenv("FRSTUDIO_WEIGHTS_DIR", str(weights))
    run = tmp_path / "run"
    sets = ["steps=2", "batch=4", "workers=0", "val_split=test", "widths=[4,8,8,8]", "blocks=1", "val_faces=8", "val_pairs=4", "warmup=1"]
    assert main(["train", "faceid", "--cache", cache, "--run-dir", str(run), "--set", *sets]) == 0
    assert main(["train", "faceid", "--cache", cache, "--run-dir", str(run), "--steps", "3", "--resume", "--set", *sets]) == 0
    assert json.loads((run / "summary.json").read_text())["step"] == 3
    # export writes to FRSTUDIO_WEIGHTS_DIR through frstudio's own weights_dir()
    assert main(["export", "faceid", "--run-dir", str(run), "--data", "tiny"]) == 0
    manifest = json.loads((weights / "manifest.json").read_text())
    assert manifest["models"]["faceid"]["steps"] == 3
    capsys.readouterr()


def test_export_blends_two_runs_of_one_network(tiny_prepared, tmp_path, monkeypatch, capsys):
    from safetensors.torch import load_file

    cache = str(tiny_prepared[0])
    monkeypatch.setenv("FRSTUDIO_WEIGHTS_DIR", str(tmp_path / "unused"))
    sets = ["steps=2", "batch=4", "workers=0", "val_split=test", "widths=[4,8,8,8]", "blocks=1", "val_faces=8", "val_pairs=4", "warmup=1"]
    runs = {}
    for seed in (0, 1):
        runs[seed] = tmp_path / f"run{seed}"
        assert main(["train", "faceid", "--cache", cache, "--run-dir", str(runs[seed]), "--set", *sets, f"seed={seed}"]) == 0
    outs = {}
    for name, extra in {"a": [], "b": ["--blend-with", str(runs[1]), "--alpha", "0"],
                        "mid": ["--blend-with", str(runs[1]), "--alpha", "0.5"], "other": []}.items():
        run = runs[1] if name == "other" else runs[0]
        assert main(["export", "faceid", "--run-dir", str(run), "--out", str(tmp_path / name), *extra]) == 0
        outs[name] = load_file(str(tmp_path / name / "faceid.safetensors"))
    key = next(k for k, v in outs["a"].items() if v.is_floating_point() and v.numel() > 8)
    a, other, mid = (outs[n][key].float() for n in ("a", "other", "mid"))
    assert not a.equal(other)
    assert outs["b"][key].float().equal(other)  # alpha 0: the other run's weights
    assert (mid - (a + other) / 2).abs().max() < 2e-3
    manifest = json.loads((tmp_path / "mid" / "manifest.json").read_text())
    assert manifest["models"]["faceid"]["blended"] == {"with": str(runs[1]), "alpha": 0.5}
    # ...or with exported weights, checked against their manifest (a new machine has the shipped file, not its run)
    exported = tmp_path / "other" / "faceid.safetensors"
    assert main(["export", "faceid", "--run-dir", str(runs[0]), "--out", str(tmp_path / "mid2"), "--blend-with", str(exported), "--alpha", "0.5"]) == 0
    assert (load_file(str(tmp_path / "mid2" / "faceid.safetensors"))[key].float() - mid).abs().max() < 2e-3
    capsys.readouterr()
