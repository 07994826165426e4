"""`python -m training export MODEL`: ship a run's EMA weights as fp16 safetensors with a manifest entry.

The entry records what a user (and the app) needs to trust the file: the architecture config to rebuild it,
the sha256 the app verifies, the training data and steps, hours and device, and the test metrics per
protocol (added by `evaluate --record`). Writing the manifest is atomic.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from pathlib import Path

import torch

from frstudio.core.paths import weights_dir
from frstudio.models import MODELS

MAX_BYTES = 20 * 1024 * 1024
LICENCE = (
    "Trained on CelebA (non-commercial research use only) and All-Age-Faces (no licence stated): "
    "these weights inherit those terms."
)
# Networks that are shipped but are not restorers in the app's model table.
AUXILIARY_MODULES = {"faceid": "frstudio.models.faceid", "damage": "frstudio.models.damage_net", "fill": "frstudio.models.fill_net"}


def module_for(name: str):
    path = MODELS[name].module if name in MODELS else AUXILIARY_MODULES.get(name)
    if path is None:
        raise SystemExit(f"unknown model '{name}'")
    return importlib.import_module(path)


def file_for(name: str) -> str:
    return MODELS[name].weights if name in MODELS else f"{name}.safetensors"


def read_manifest(directory: Path) -> dict:
    path = directory / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else {"models": {}}


def write_manifest(directory: Path, manifest: dict) -> None:
    path = directory / "manifest.json"
    tmp = path.with_suffix(".json.part")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)


def blend_states(state: dict, other: dict, alpha: float) -> dict:
    """Network interpolation (ESRGAN, Wang et al. 2018): alpha * state + (1 - alpha) * other for every floating
    tensor, the rest from `state`. Between a fidelity-trained network and its adversarial fine-tune it gives the
    points in between on the fidelity / sharpness trade, without training."""
    if state.keys() != other.keys():
        raise SystemExit("blend: the two runs' networks have different parameters")
    return {k: alpha * v + (1 - alpha) * other[k].to(v.dtype) if v.is_floating_point() else v for k, v in state.items()}


def _blend_source(source: Path) -> tuple[dict, dict]:
    """(model config, state) of a run's EMA (a run folder) or of exported weights (a `.safetensors` file checked
    against the manifest beside it: on a new machine the run behind the shipped weights is gone)."""
    if source.suffix == ".safetensors":
        from training.loop import read_exported_weights

        config, state, _ = read_exported_weights(source, "--blend-with")
        return config, {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    other = torch.load(source / "checkpoint.pt", map_location="cpu", weights_only=False)
    return other["config"]["model"], other["ema"]


def export(name: str, run_dir: Path, data: str, device: str, out_dir: Path | None = None,
           blend_with: Path | None = None, alpha: float = 1.0) -> dict:
    """Write <out_dir>/<name>.safetensors from the run's checkpoint EMA, and its manifest entry. With `blend_with`
    (another run of the same network, usually the one this run was fine-tuned from, or its exported `.safetensors`),
    the weights are
    :func:`blend_states` of the two EMAs at `alpha` (1: this run's alone)."""
    from safetensors.torch import save_file

    out_dir = out_dir or weights_dir()
    payload = torch.load(Path(run_dir) / "checkpoint.pt", map_location="cpu", weights_only=False)
    model_config = payload["config"]["model"]
    net = module_for(name).build(model_config)
    ema = payload["ema"]
    if blend_with is not None:
        other_config, other_state = _blend_source(Path(blend_with))
        if json.loads(json.dumps(other_config)) != json.loads(json.dumps(model_config)):
            raise SystemExit(f"blend: {blend_with} has another architecture than {run_dir}")
        ema = blend_states(ema, other_state, alpha)
    net.load_state_dict(ema)  # proves the EMA state fits the architecture before shipping it
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in net.state_dict().items() if v.is_floating_point()}
    state.update({k: v.contiguous() for k, v in net.state_dict().items() if not v.is_floating_point()})
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / file_for(name)
    tmp = target.with_suffix(".part")
    # One metadata entry: safetensors keeps metadata in a hash map whose order varies from run to run, and with
    # two keys the same weights gave files with different bytes (and sha256s).
    save_file(state, str(tmp), metadata={"frstudio": json.dumps({"model": name, "config": model_config}, sort_keys=True)})
    size = tmp.stat().st_size
    if size > MAX_BYTES:
        tmp.unlink()
        raise SystemExit(f"{name}: {size / 2**20:.1f} MiB exceeds the 20 MiB limit for shipped weights")
    os.replace(tmp, target)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    base = payload.get("base")
    prior = payload["config"].get("prior")  # a pre-trained prior the run started from (mmrb_stylegan's StyleGAN2)
    manifest = read_manifest(out_dir)
    old = manifest["models"].get(name, {})
    entry = {
        "file": target.name,
        "sha256": digest,
        "config": model_config,
        "params": int(sum(p.numel() for p in net.parameters())),
        "bytes": size,
        "data": data,
        # a fine-tuned run's weights carry its base run's training too, and a pre-trained prior's; a base already
        # counts the prior it was trained from (fine-tuning reloads the prior only to be overwritten by the base)
        "steps": int(payload["step"]) + sum(int(b["steps"]) for b in (base, None if base else prior) if b),
        "hours": round(float(payload["hours"]) + sum(float(b["hours"]) for b in (base, None if base else prior) if b), 3),
        "device": device,
        "training": payload["config"].get("train", {}),
        **({"fine_tuned_from": {k: base[k] for k in ("steps", "hours", "training")}} if base else {}),
        **({"prior": prior} if prior else {}),
        **({"blended": {"with": str(blend_with), "alpha": alpha}} if blend_with is not None else {}),
        "licence": LICENCE,
        # metrics measured on earlier weights do not describe these: keep them only if the file is unchanged
        "metrics": old.get("metrics", {}) if old.get("sha256") == digest else {},
    }
    manifest["models"][name] = entry
    write_manifest(out_dir, manifest)
    return entry


def record_metrics(name: str, protocol: str, report: dict, out_dir: Path | None = None) -> None:
    """Store an evaluation's numbers in the model's manifest entry (test split, input beside output)."""
    out_dir = out_dir or weights_dir()
    manifest = read_manifest(out_dir)
    if name not in manifest["models"]:
        raise SystemExit(f"{name} has no manifest entry: export it first")
    entry = manifest["models"][name]
    if protocol == "verification":
        entry["metrics"]["verification"] = report
    else:
        # a reference-guided model's ablations (another person's photo, none) are kept beside its main row
        key = protocol if report.get("reference", "same") == "same" else f"{protocol}/reference={report['reference']}"
        keep = ("n", "split", "reference", "input", "output", "classifier_accuracy", "mask_dice")
        entry["metrics"][key] = {k: report[k] for k in keep if k in report}
    write_manifest(out_dir, manifest)
