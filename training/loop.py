"""One training loop for every recipe.

A recipe (see `training/recipes/base.py`) owns its networks, optimisers, data and step; this loop owns what
they all share: device and precision (bf16 autocast + channels_last on CPU, AMP on CUDA), the EMA of the
exported network, deterministic seeds, checkpoints that resume exactly (networks, EMA, optimisers, schedulers,
RNG states and the data position), a time budget that stops cleanly, a progress bar with losses and ETA,
validation every N steps, sample grids and loss curves saved as PNG.
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

CHECKPOINT = "checkpoint.pt"


@dataclass
class LoopSettings:
    run_dir: Path
    hours: float | None = None  # stop cleanly after this much training time (this session)
    max_steps: int | None = None  # defaults to the recipe's configured steps
    resume: bool = False
    # fine-tuning: a new run starts from another run's checkpoint (its EMA for the exported network, the other
    # networks as they were) with fresh optimisers and schedule; ignored when this run resumes its own checkpoint
    init_from: Path | None = None
    seed: int = 0
    log_every: int = 25
    val_every: int = 500
    checkpoint_minutes: float = 10.0
    quiet: bool = False


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@torch.no_grad()
def ema_update(ema: torch.nn.Module, net: torch.nn.Module, decay: float) -> None:
    for e, p in zip(ema.parameters(), net.parameters()):
        e.lerp_(p.detach().float(), 1.0 - decay)
    for e, b in zip(ema.buffers(), net.buffers()):  # BatchNorm statistics: follow the live network
        e.copy_(b)


def _rng_state() -> dict:
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def _set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


def save_checkpoint(path: Path, recipe, ema, step: int, hours: float, history: list, base: dict | None = None) -> None:
    payload = {
        "step": step,
        "hours": hours,
        "history": history,
        "base": base,  # the run this one was fine-tuned from (its steps, hours, training config), or None
        "nets": {k: v.state_dict() for k, v in recipe.nets.items()},
        "ema": ema.state_dict(),
        "opts": {k: v.state_dict() for k, v in recipe.opts.items()},
        "scheds": {k: v.state_dict() for k, v in recipe.scheds.items()},
        "rng": _rng_state(),
        "config": recipe.config_dict(),
    }
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)  # a training-internal file, never shipped: shipped weights are safetensors
    os.replace(tmp, path)


def load_checkpoint(path: Path, recipe, ema) -> tuple[int, float, list, dict | None]:
    payload = torch.load(path, map_location="cpu", weights_only=False)
    for k, v in recipe.nets.items():
        v.load_state_dict(payload["nets"][k])
    ema.load_state_dict(payload["ema"])
    for k, v in recipe.opts.items():
        v.load_state_dict(payload["opts"][k])
    for k, v in recipe.scheds.items():
        v.load_state_dict(payload["scheds"][k])
    _set_rng_state(payload["rng"])
    return payload["step"], payload["hours"], payload["history"], payload.get("base")


def checkpoint_path(run_or_checkpoint: Path) -> Path:
    path = Path(run_or_checkpoint)
    return path / CHECKPOINT if path.is_dir() else path


def require_same_architecture(theirs: dict, ours: dict, path: Path, purpose: str) -> None:
    """A clear SystemExit naming `purpose` (the option asking) and what differs where the network config `theirs`, read
    from `path`, is not `ours` (compared as JSON, so a tuple and a list of the same values agree)."""
    theirs, ours = json.loads(json.dumps(theirs)), json.loads(json.dumps(ours))
    if theirs != ours:
        changed = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
        raise SystemExit(f"{purpose}: {path} holds another architecture ({', '.join(f'{k}={theirs.get(k)}' for k in changed)}): "
                         "set the same architecture")


def init_from_checkpoint(source: Path, recipe, ema) -> dict:
    """Start `recipe`'s networks and `ema` from another run's checkpoint, for fine-tuning.

    The exported network starts from the source's EMA (the weights that run would have shipped), its companions
    (discriminators) from their live state where the source had them. Returns the provenance kept in this run's checkpoints and manifest
    entry: the source's steps and hours (counting its own base, if it was itself fine-tuned, or else the
    pre-trained prior it started from) and its training config."""
    if Path(source).suffix == ".safetensors":
        return init_from_shipped_weights(Path(source), recipe, ema)
    path = checkpoint_path(source)
    if not path.exists():
        raise SystemExit(f"--init-from: no checkpoint at {path}")
    payload = torch.load(path, map_location="cpu", weights_only=False)
    require_same_architecture(payload["config"].get("model", {}), recipe.config_dict().get("model", {}), path, "--init-from")
    for k, v in recipe.nets.items():
        if k == recipe.export_key:
            v.load_state_dict(payload["ema"])
        elif k in payload["nets"]:
            v.load_state_dict(payload["nets"][k])
        # else: a companion the source run did not have (a sharpening fine-tune's discriminators) starts fresh
    ema.load_state_dict(payload["ema"])
    # what went into the source's weights before it: its own base, or else the pre-trained prior it started from
    earlier = payload.get("base") or payload["config"].get("prior") or {"steps": 0, "hours": 0.0}
    return {
        "checkpoint": str(path),
        "steps": int(payload["step"]) + int(earlier["steps"]),
        "hours": round(float(payload["hours"]) + float(earlier["hours"]), 4),
        "training": payload["config"].get("train", {}),
    }


def read_exported_weights(path: Path, purpose: str) -> tuple[dict, dict, dict]:
    """(model config, state, manifest entry) of exported weights (`<dir>/<model>.safetensors`), checked against the
    manifest beside them; a clear SystemExit naming `purpose` (the option asking) where they do not check out."""
    from frstudio.core.errors import WeightsError
    from frstudio.core.restore import load_verified_state, read_manifest

    names = [k for k, v in read_manifest(path.parent).items() if v.get("file") == path.name]
    if not names:
        raise SystemExit(f"{purpose}: {path} has no entry in {path.parent / 'manifest.json'}")
    try:
        return load_verified_state(names[0], path.parent)
    except WeightsError as exc:
        raise SystemExit(f"{purpose}: {exc}") from None


def init_from_shipped_weights(path: Path, recipe, ema) -> dict:
    """Fine-tune from exported weights (`resources/weights/<model>.safetensors`, checked against the manifest
    beside it) when the run that made them is gone: a fresh checkout has the shipped weights, not `runs/`.

    The exported network and the EMA start from the file (fp16, so they start within fp16 rounding of the
    run's EMA); companions such as discriminators, which are not shipped, start fresh. Provenance comes from
    the manifest entry, whose steps and hours already count that run's own base."""
    config, state, entry = read_exported_weights(path, "--init-from")
    require_same_architecture(config, recipe.config_dict().get("model", {}), path, "--init-from")
    recipe.nets[recipe.export_key].load_state_dict(state)
    ema.load_state_dict(state)
    return {
        "checkpoint": f"{path} (sha256 {entry['sha256'][:12]})",
        "steps": int(entry.get("steps", 0)),
        "hours": round(float(entry.get("hours", 0.0)), 4),
        "training": entry.get("training", {}),
    }


def load_ema_from_checkpoint(path: Path, net: torch.nn.Module) -> dict:
    payload = torch.load(path, map_location="cpu", weights_only=False)
    net.load_state_dict(payload["ema"])
    return payload


def plot_curves(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [h for h in history if h.get("kind") == "train"]
    val = [h for h in history if h.get("kind") == "val"]
    keys = sorted({k for h in train for k in h if k not in ("kind", "step", "hours", "lr")})
    vkeys = sorted({k for h in val for k in h if k not in ("kind", "step", "hours")})
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for k in keys:
        axes[0].plot([h["step"] for h in train if k in h], [h[k] for h in train if k in h], label=k)
    axes[0].set_title("training losses")
    if keys:
        axes[0].set_yscale("log")
        axes[0].legend(fontsize=7)
    for k in vkeys:
        axes[1].plot([h["step"] for h in val if k in h], [h[k] for h in val if k in h], marker="o", label=k)
    axes[1].set_title("validation")
    if vkeys:
        axes[1].legend(fontsize=7)
    for ax in axes:
        ax.set_xlabel("step")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def save_png(grid: np.ndarray, path: Path) -> None:
    from PIL import Image

    Image.fromarray(grid).save(path)


def train(recipe, settings: LoopSettings) -> dict:
    """Run (or resume) `recipe` until its step count or the time budget; returns a summary."""
    from tqdm import tqdm

    run_dir = Path(settings.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt = run_dir / CHECKPOINT
    seed_everything(settings.seed)
    net = recipe.nets[recipe.export_key]
    ema = copy.deepcopy(net).eval().requires_grad_(False)
    step, hours_done, history, base = 0, 0.0, [], None
    if settings.resume and ckpt.exists():
        step, hours_done, history, base = load_checkpoint(ckpt, recipe, ema)
        if not settings.quiet:
            print(f"resumed {recipe.name} at step {step} ({hours_done:.2f} h trained)")
    elif ckpt.exists() and not settings.resume:
        raise SystemExit(f"{ckpt} exists: pass --resume to continue it, or choose another --run-dir")
    elif settings.init_from is not None:
        base = init_from_checkpoint(settings.init_from, recipe, ema)
        if not settings.quiet:
            print(f"fine-tuning {recipe.name} from {base['checkpoint']} ({base['steps']} steps)")
    (run_dir / "config.json").write_text(json.dumps(recipe.config_dict(), indent=2))
    max_steps = settings.max_steps or recipe.config.steps
    deadline = time.time() + settings.hours * 3600 if settings.hours else math.inf
    session_start = time.time()
    last_ckpt = time.time()
    bar = tqdm(total=max_steps, initial=step, desc=recipe.name, dynamic_ncols=True, disable=settings.quiet, mininterval=5)
    running: dict[str, float] = {}
    stop_reason = "steps"
    batches = recipe.batches(step)
    # SIGTERM (and SIGINT, which a background job started from a script ignores) ends the run cleanly after
    # the current step, with a checkpoint, instead of losing up to checkpoint_minutes of training.
    stop_signal: list[int] = []
    previous = {sig: signal.signal(sig, lambda s, _f: stop_signal.append(s)) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while step < max_steps:
            if time.time() >= deadline:
                stop_reason = "time budget"
                break
            if stop_signal:
                stop_reason = f"signal {stop_signal[0]}"
                break
            batch = next(batches)
            recipe.train_mode()
            losses = recipe.train_step(batch, step)
            for sched in recipe.scheds.values():
                sched.step()
            ema_update(ema, net, recipe.ema_decay(step))
            step += 1
            for k, v in losses.items():
                running[k] = running.get(k, 0.0) * 0.9 + v * 0.1 if k in running else v
            bar.update(1)
            if step % settings.log_every == 0:
                hours_now = hours_done + (time.time() - session_start) / 3600
                history.append({"kind": "train", "step": step, "hours": round(hours_now, 4), **{k: round(v, 6) for k, v in running.items()}})
                bar.set_postfix({k: f"{v:.4g}" for k, v in list(running.items())[:4]}, refresh=False)
            if step % settings.val_every == 0:
                _validate(recipe, ema, step, hours_done + (time.time() - session_start) / 3600, history, run_dir)
            if time.time() - last_ckpt > settings.checkpoint_minutes * 60:
                save_checkpoint(ckpt, recipe, ema, step, hours_done + (time.time() - session_start) / 3600, history, base)
                last_ckpt = time.time()
    finally:
        bar.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    hours_total = hours_done + (time.time() - session_start) / 3600
    if not history or history[-1].get("kind") != "val" or history[-1].get("step") != step:
        _validate(recipe, ema, step, hours_total, history, run_dir)
    save_checkpoint(ckpt, recipe, ema, step, hours_total, history, base)
    summary = {"model": recipe.name, "step": step, "max_steps": max_steps, "hours": round(hours_total, 3), "stopped": stop_reason, "last_val": history[-1]}
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    if not settings.quiet:
        print(json.dumps(summary))
    return summary


def _validate(recipe, ema, step: int, hours: float, history: list, run_dir: Path) -> None:
    recipe.eval_mode()
    with torch.no_grad():
        metrics = recipe.validate(ema)
        grid = recipe.samples(ema)
    history.append({"kind": "val", "step": step, "hours": round(hours, 4), **{k: round(float(v), 6) for k, v in metrics.items()}})
    if grid is not None:
        save_png(grid, run_dir / f"samples_{step:07d}.png")
        save_png(grid, run_dir / "samples_latest.png")
    plot_curves(history, run_dir / "curves.png")
    (run_dir / "history.json").write_text(json.dumps(history))
