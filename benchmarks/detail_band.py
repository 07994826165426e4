"""Where does a sharper model lose the likeness: in the detail it adds, or in the rest of the face?

    python benchmarks/detail_band.py --detail runs/frrnet_sharpen_parts/weights [--sigma 1.5] [--spread 300]
                                     [--protocols oldphoto bfr-severe] [--json OUT]

Each face is restored twice: by the shipped default and by `--detail` (an exported FRR-Net, e.g. an adversarial
fine-tune from `training/scripts/frrnet.sh sharpen_warm`). The face kept is the default's, plus only the fine band
of the difference (the difference minus its Gaussian blur of `--sigma` px, as luminance, so no colour moves).
If the adversarial run's loss of likeness came from drift in colour and shape, this face keeps the default's
likeness and gains the run's detail; if identity match still falls, the added detail itself is what moves dlib.
Scored with `python -m training evaluate`'s own metrics on the same spread test faces.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from frstudio.core.restore import RestoredFace, Restorer  # noqa: E402
from training.evaluate import evaluate_restorer  # noqa: E402

LUMA = np.array([0.299, 0.587, 0.114], np.float32)
KEYS = ("psnr_face", "id_match", "iprecision", "niqe", "detail")


class FineBandFrom:
    """The base restorer's faces with the fine band of (detail − base) added as luminance."""

    def __init__(self, base: Restorer, detail: Restorer, sigma: float):
        self.base, self.detail, self.sigma = base, detail, sigma
        self.spec, self.name, self.stochastic = base.spec, base.name, False

    def restore(self, crops, reference=None, seed=0):
        faces = []
        for b, d in zip(self.base.restore(crops), self.detail.restore(crops)):
            diff = d.image - b.image
            fine = (diff - cv2.GaussianBlur(diff, (0, 0), self.sigma)) @ LUMA
            faces.append(RestoredFace(np.clip(b.image + fine[..., None], 0, 1).astype(np.float32), b.extras, b.label_names))
        return faces


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--detail", type=Path, required=True, help="folder of an exported frrnet (the sharper run)")
    parser.add_argument("--sigma", type=float, default=1.5)
    parser.add_argument("--spread", type=int, default=300)
    parser.add_argument("--protocols", nargs="+", default=["oldphoto", "bfr-severe"])
    parser.add_argument("--cache", type=Path, default=REPO / "cache" / "faces128")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    base, detail = Restorer("frrnet"), Restorer("frrnet", directory=args.detail)
    ways = {"shipped": base, "run": detail, "shipped + run's fine band": FineBandFrom(base, detail, args.sigma)}
    results = {}
    print("| protocol | way | " + " | ".join(KEYS) + " |\n|---|---|" + "---|" * len(KEYS))
    for protocol in args.protocols:
        rows = {}
        for way, restorer in ways.items():
            report = evaluate_restorer("frrnet", protocol, args.cache, spread=args.spread, restorer=restorer)
            rows.setdefault("input", report["input"])
            rows[way] = report["output"]
        for way, row in rows.items():
            print(f"| {protocol} | {way} | " + " | ".join(f"{row[k]:.3f}" for k in KEYS) + " |", flush=True)
        results[protocol] = rows
    if args.json:
        args.json.write_text(json.dumps({"sigma": args.sigma, "spread": args.spread, "detail": str(args.detail), "rows": results}, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
