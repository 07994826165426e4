"""`python -m training table MODEL --run DIR ...`: one table comparing trained variants, like FRR-Net's Table 1.

For each run: its EMA weights are exported to ``DIR/weights`` (never over the shipped ones), evaluated on each
protocol with the degraded input's row beside (``evaluate_restorer``), and its size and CPU speed measured by
``benchmarks/bench_models.py`` (in a child process, so its timing is not disturbed by this one's memory). The
result is a markdown table and a JSON file with everything; the JSON is what a card or a note quotes.

Speed is only meaningful on an otherwise idle machine; the table says how many threads it ran on.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIDELITY = ("psnr", "psnr_face", "ssim", "ms_ssim", "id_dist", "id_match", "lmd")
IDENTITY = ("iprecision", "irecall")  # where the faces carry identities (CelebA's)
SPEED = ("ms_b1_fp32", "ms_b1_bf16", "ms_b8_fp32", "ms_b8_bf16")


def run_label(run_dir: Path) -> str:
    config = json.loads((Path(run_dir) / "config.json").read_text())["model"]
    if {"width", "depth"} <= set(config):
        return f"W{config['width']}D{config['depth']}"
    return Path(run_dir).name


def measure_speed(model: str, run_dir: Path, runs: int = 10) -> dict:
    config = json.loads((Path(run_dir) / "config.json").read_text())["model"]
    # the benchmark builds the architecture from "key=value" pairs; nested parts (the embedded identity
    # network's shape) keep their defaults, which is what every run so far used; lists (widths) are passed
    plain = {k: v for k, v in config.items() if isinstance(v, (int, float, bool, str, list))}
    arch = f"{model}:" + ",".join(f"{k}={json.dumps(v, separators=(',', ':'))}" for k, v in plain.items())
    out = Path(run_dir) / "speed.json"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_models.py"), "--arch", arch, "--runs", str(runs), "--json", str(out)],
                   check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())[0]


def compare(model: str, run_dirs: list[Path], protocols: list[str], cache: Path, spread: int | None, speed_runs: int = 10) -> dict:
    from training.evaluate import evaluate_restorer
    from training.export import export

    rows = []
    for run_dir in run_dirs:
        weights = Path(run_dir) / "weights"
        entry = export(model, run_dir, "shared faces, train split", "table", weights)
        row = {"variant": run_label(run_dir), "run": str(run_dir), "steps": entry["steps"], "hours": entry["hours"],
               "bytes": entry["bytes"], "speed": measure_speed(model, run_dir, speed_runs), "protocols": {}}
        for protocol in protocols:
            row["protocols"][protocol] = evaluate_restorer(model, protocol, cache, weights=weights, spread=spread)
        rows.append(row)
    return {"model": model, "spread": spread, "protocols": protocols, "rows": rows}


def markdown(table: dict) -> str:
    rows = table["rows"]
    lines = ["| variant | steps | params (M) | GMACs | ms/face b1 fp32 | b1 bf16 | b8 fp32 | b8 bf16 | MiB |", "|---" * 9 + "|"]
    for r in rows:
        s = r["speed"]
        lines.append(f"| {r['variant']} | {r['steps']} | {s['params_m']:.2f} | {s['gmacs']:.2f} | "
                     + " | ".join(f"{s[k]:.1f}" for k in SPEED) + f" | {r['bytes'] / 2**20:.1f} |")
    for protocol in table["protocols"]:
        first = rows[0]["protocols"][protocol]
        lines += ["", f"`{protocol}` (test split, n = {first['n']})", "",
                  "| | " + " | ".join(FIDELITY + IDENTITY) + " | lum err | cast ° | classifier acc (noise/blur/relight) | mask Dice |",
                  "|---" * (len(FIDELITY + IDENTITY) + 4) + "|"]

        def cells(row: dict) -> str:
            identity = " | ".join(f"{row[k]:.3f}" if k in row else "–" for k in IDENTITY)
            return " | ".join(f"{row[k]:.4g}" if k in row else "–" for k in FIDELITY) + f" | {identity} | {row['lum_err']:.2f} | {row['cast_deg']:.2f}"

        lines.append(f"| degraded input | {cells(first['input'])} | – | – |")
        for r in rows:
            report = r["protocols"][protocol]
            acc = report.get("classifier_accuracy", {})
            acc_text = "/".join(f"{acc[k]:.3f}" for k in ("noise", "blur", "relight") if k in acc) or "–"
            dice = f"{report['mask_dice']:.4f}" if "mask_dice" in report else "–"
            lines.append(f"| {r['variant']} | {cells(report['output'])} | {acc_text} | {dice} |")
    return "\n".join(lines)


def same_weights(a: Path, b: Path) -> bool:
    """Whether two safetensors files hold the same tensors (their bytes may differ in header order)."""
    import torch
    from safetensors.torch import load_file

    x, y = load_file(str(a)), load_file(str(b))
    return x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


def record_shipped(table: dict) -> list[str]:
    """Store the table's numbers in the shipped manifest for the rows whose weights are the shipped ones."""
    from frstudio.core.paths import weights_dir
    from training.export import file_for, record_metrics

    recorded = []
    shipped = weights_dir() / file_for(table["model"])
    for row in table["rows"]:
        exported = Path(row["run"]) / "weights" / file_for(table["model"])
        if shipped.is_file() and exported.is_file() and same_weights(exported, shipped):
            for protocol, report in row["protocols"].items():
                record_metrics(table["model"], protocol, report)
            recorded.append(row["variant"])
    return recorded
