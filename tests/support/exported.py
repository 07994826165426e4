"""Export a tiny training run and load it back both ways: as the app does (Restorer, from the exported
safetensors) and as the run holds it (its checkpoint's EMA), so recipe tests can compare the two."""

from pathlib import Path


def export_and_reload(name: str, run_dir: Path, out_dir: Path, monkeypatch, build, model_config: dict):
    """(Restorer on the exported weights, the checkpoint's EMA network in eval mode)."""
    from frstudio.core.restore import Restorer
    from training.export import export
    from training.loop import load_ema_from_checkpoint

    export(name, run_dir, data="tiny", device="cpu", out_dir=out_dir)
    monkeypatch.setenv("FRSTUDIO_WEIGHTS_DIR", str(out_dir))
    ema = build(model_config)
    load_ema_from_checkpoint(Path(run_dir) / "checkpoint.pt", ema)
    return Restorer(name, device="cpu", precision="fp32"), ema.eval()
