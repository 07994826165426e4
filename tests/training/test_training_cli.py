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
