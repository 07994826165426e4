"""How much PSNR can a model gain on the full 128² crop when only the face changes?

    python benchmarks/composite_ceiling.py --protocol frrnet frrnet-lowlight seed003-128 --n 1000

FRR-Net composites its restored face over the input through a face mask (paper 000, and the app pastes back
only faces), while the protocols score the whole aligned crop (hair, neck and background included) against the
ground truth. The best such a model can do is a perfect face inside the ground-truth face mask and the
degraded input everywhere else. This prints, per protocol, the input's PSNR, that ceiling's, and the mask's
share of the crop, on test faces spread evenly over the split (the faces `evaluate --spread N` uses).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.data.dataset import FaceCache, ProtocolFaces  # noqa: E402
from training.evaluate import float_to_uint8 as u8  # noqa: E402
from training.metrics import psnr  # noqa: E402


def ceiling(faces: ProtocolFaces, n: int) -> dict[str, float]:
    picks = np.unique(np.linspace(0, len(faces) - 1, min(n, len(faces))).round().astype(int))
    p_in, p_ceiling, share = [], [], []
    for i in picks:
        item = faces[int(i)]
        lq, hq = (np.asarray(item[k]).transpose(1, 2, 0) for k in ("lq", "hq"))
        mask = np.asarray(item["mask"]).transpose(1, 2, 0)
        truth = u8(hq)
        p_in.append(psnr(u8(lq), truth))
        p_ceiling.append(psnr(u8(mask * hq + (1 - mask) * lq), truth))
        share.append(float(mask.mean()))
    finite = lambda v: float(np.mean([x for x in v if np.isfinite(x)]))  # noqa: E731
    return {"n": len(picks), "input": finite(p_in), "ceiling": finite(p_ceiling), "mask_share": float(np.mean(share))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--protocol", nargs="+", default=["frrnet", "frrnet-lowlight", "seed003-128"])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--cache", type=Path, default=Path(__file__).resolve().parents[1] / "cache" / "faces128")
    args = parser.parse_args()
    data = FaceCache(args.cache)
    print("| protocol | faces | input PSNR | face-only ceiling | gain possible | face mask share of the crop |")
    print("|---|---|---|---|---|---|")
    for protocol in args.protocol:
        r = ceiling(ProtocolFaces(data, protocol), args.n)
        print(f"| `{protocol}` | {r['n']} | {r['input']:.2f} | {r['ceiling']:.2f} | +{r['ceiling'] - r['input']:.2f} dB "
              f"| {r['mask_share']:.0%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
