"""A clean face must come back as it was: each model on undamaged test faces, face PSNR of its output against them.

    python benchmarks/clean_faces.py [--spread 1000] [--models frrnet ...] [--cache cache/faces128]

The faces are the aligned 128 px crops of the face cache's test split (`python -m training prepare`), `--spread`
of them spaced evenly over it, given to the model as they are. Face PSNR is over the face mask, on luma, as the
evaluation protocols measure it (`training.metrics.face_psnr`); issue 21's goal is >= 40 dB for the default.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from frstudio.core.restore import Restorer  # noqa: E402
from training.data.dataset import FaceCache  # noqa: E402
from training.metrics import face_psnr  # noqa: E402


def clean_face_psnr(model: str, data: FaceCache, positions: np.ndarray, batch: int = 16) -> np.ndarray:
    restorer = Restorer(model)
    scores = []
    for start in range(0, len(positions), batch):
        rows = positions[start:start + batch]
        crops = np.stack([data.crops[i] for i in rows]).astype(np.float32) / 255.0
        for i, result in zip(rows, restorer.restore(crops)):
            out = np.clip(np.round(result.image * 255), 0, 255)
            scores.append(face_psnr(out, data.crops[i].astype(np.float64), np.asarray(data.masks[i]) > 0.5))
    return np.asarray(scores)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spread", type=int, default=1000)
    parser.add_argument("--models", nargs="+", default=["frrnet"])
    parser.add_argument("--cache", type=Path, default=REPO / "cache" / "faces128")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    data = FaceCache(args.cache)
    test = data.indices("test")
    positions = test[np.unique(np.linspace(0, len(test) - 1, min(args.spread, len(test))).round().astype(int))]
    report = {}
    print(f"{len(positions)} clean test faces; face PSNR of the output against the input (dB)")
    print("| model | mean | median | 5th percentile | share >= 40 dB |\n|---|---|---|---|---|")
    for model in args.models:
        s = clean_face_psnr(model, data, positions)
        finite = np.where(np.isfinite(s), s, 99.0)
        report[model] = {"n": len(s), "mean": float(finite.mean()), "median": float(np.median(finite)),
                         "p5": float(np.percentile(finite, 5)), "share_40": float((finite >= 40).mean())}
        r = report[model]
        print(f"| {model} | {r['mean']:.2f} | {r['median']:.2f} | {r['p5']:.2f} | {r['share_40']:.1%} |")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
