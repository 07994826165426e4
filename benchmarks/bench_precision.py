"""Does a shipped model keep its quality under bf16 autocast on the CPU? (ModelSpec.bf16_ok)

    python benchmarks/bench_precision.py frrnet --protocol frrnet --n 200

Restores the same test faces (degraded by the protocol, from the prepared cache) in fp32 and in bf16 and
prints the PSNR of each against the ground truth, the PSNR between the two outputs, and the time per face.
A model is marked bf16_ok when the PSNR against the ground truth moves by less than 0.05 dB.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from frstudio.core.imageio import float_to_uint8  # noqa: E402
from frstudio.core.restore import Restorer  # noqa: E402
from training.data.dataset import FaceCache, ProtocolFaces  # noqa: E402
from training.metrics import psnr  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("--protocol", default="frrnet")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--cache", type=Path, default=Path(__file__).resolve().parents[1] / "cache" / "faces128")
    args = parser.parse_args()

    faces = ProtocolFaces(FaceCache(args.cache), args.protocol)
    picks = np.unique(np.linspace(0, len(faces) - 1, min(args.n, len(faces))).round().astype(int))
    items = [faces[int(i)] for i in picks]
    lq = np.stack([np.asarray(it["lq"]).transpose(1, 2, 0) for it in items])
    hq = [float_to_uint8(np.asarray(it["hq"]).transpose(1, 2, 0)) for it in items]
    outputs, seconds = {}, {}
    for precision in ("fp32", "bf16"):
        restorer = Restorer(args.model, device="cpu", precision=precision)
        restorer.restore(lq[:8])  # warm-up
        start = time.perf_counter()
        outputs[precision] = [float_to_uint8(r.image) for k in range(0, len(lq), 8) for r in restorer.restore(lq[k : k + 8])]
        seconds[precision] = (time.perf_counter() - start) / len(lq)
    for precision in ("fp32", "bf16"):
        score = np.mean([psnr(o, h) for o, h in zip(outputs[precision], hq)])
        print(f"{precision}: PSNR vs ground truth {score:.3f} dB, {seconds[precision] * 1000:.1f} ms/face (batch 8)")
    agreement = np.mean([psnr(a, b) for a, b in zip(outputs["fp32"], outputs["bf16"])])
    print(f"fp32 vs bf16 outputs: PSNR {agreement:.2f} dB over {len(lq)} {args.protocol} test faces")
    return 0


if __name__ == "__main__":
    sys.exit(main())
