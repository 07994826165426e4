"""Size and CPU speed of restoration networks, like FRR-Net's Table 1.

    python benchmarks/bench_models.py                       # every model with bundled weights
    python benchmarks/bench_models.py --arch frrnet:width=8,depth=1 --arch frrnet:width=16,depth=3

For each: parameters, multiply-accumulates (MACs) for one face at the model's input size, and CPU
milliseconds per face (median of --runs) at batch 1 and batch 8, in fp32 and under bf16 autocast.
Architectures given with --arch are built with random weights: speed and size do not depend on training.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from frstudio.models import MODELS  # noqa: E402


def count_macs(net: nn.Module, inputs: tuple) -> int:
    """MACs of one forward pass, counted by hooks on convolutions and linear layers (the rest is negligible)."""
    total = 0

    def conv_hook(module: nn.Conv2d, _inp, out):
        nonlocal total
        k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
        total += out.numel() * k

    def linear_hook(module: nn.Linear, _inp, out):
        nonlocal total
        total += out.numel() * module.in_features

    handles = []
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    with torch.no_grad():
        net(*inputs)
    for h in handles:
        h.remove()
    return total


def time_per_face(net: nn.Module, inputs: tuple, batch: int, bf16: bool, runs: int) -> float:
    batched = tuple(t.expand(batch, *t.shape[1:]).contiguous() for t in inputs)
    times = []
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        net(*batched)  # warm-up: one-time allocations and kernel selection
        for _ in range(runs):
            start = time.perf_counter()
            net(*batched)
            times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times) / batch


def parse_arch(text: str) -> tuple[str, dict]:
    name, _, params = text.partition(":")
    config = {}
    # split at the commas that start a new key, so list values ("widths=[8,16,32]") stay whole
    for item in filter(None, re.split(r",(?=[A-Za-z_]\w*=)", params)):
        key, _, value = item.partition("=")
        config[key] = json.loads(value)
    return name, config


def measure(name: str, config: dict | None, runs: int) -> dict:
    spec = MODELS[name]
    module = importlib.import_module(spec.module)
    if config is None:
        from frstudio.core.restore import Restorer

        net = Restorer(name, device="cpu").network
        label = f"{name} (shipped)"
    else:
        net = module.build(config).eval()
        label = f"{name} " + ",".join(f"{k}={v}" for k, v in config.items())
    size = spec.input_size
    inputs = (torch.rand(1, 3, size, size),)
    if spec.takes_reference:
        inputs = inputs + (torch.rand(1, 3, size, size),)
    params = sum(p.numel() for p in net.parameters())
    row = {"model": label, "params_m": params / 1e6, "gmacs": count_macs(net, inputs) / 1e9}
    for batch in (1, 8):
        for bf16 in (False, True):
            row[f"ms_b{batch}_{'bf16' if bf16 else 'fp32'}"] = time_per_face(net, inputs, batch, bf16, runs)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", action="append", default=[], help="NAME:key=value,... (random weights)")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    jobs = [parse_arch(a) for a in args.arch]
    if not jobs:
        from frstudio.core.restore import model_statuses

        jobs = [(s.spec.name, None) for s in model_statuses() if s.available]
    rows = [measure(name, config, args.runs) for name, config in jobs]
    print(f"CPU: {torch.get_num_threads()} threads, torch {torch.__version__}")
    print("| model | params (M) | GMACs | ms/face b1 fp32 | b1 bf16 | b8 fp32 | b8 bf16 |\n|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['params_m']:.2f} | {r['gmacs']:.2f} | {r['ms_b1_fp32']:.1f} | {r['ms_b1_bf16']:.1f} | {r['ms_b8_fp32']:.1f} | {r['ms_b8_bf16']:.1f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
