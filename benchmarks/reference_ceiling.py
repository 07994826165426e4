"""How much PSNR can a reference photo of the same person add, at best, on the GFRNet protocols?

    python benchmarks/reference_ceiling.py --protocol gfrnet-4x gfrnet-8x --n 300

Issue 5 asks GFRNet with the person's reference ("Full") to beat the same network without one ("-WG") by
1 dB at 4x. A reference is another photo: other light, expression, make-up, hair and background. What it can
give a restoration that already has the target's low frequencies (they survive a 4x down-sampling) is its fine
detail, put where the target's features are. This measures an upper bound of that on the test pairs
`evaluate gfrnet --reference same --limit N` uses:

* the restoration without a reference: the shipped GFRNet's no-reference path (the -WG row);
* the reference warped onto the target by a piecewise-affine map between the 68 *ground-truth* landmarks of
  both photos (an alignment the WarpNet can only approach), and, beside it, by the shipped WarpNet;
* its detail, the reference minus its Gaussian blur, added inside the target's ground-truth face mask with the
  gain that minimises the error against the ground truth: per face and, more generous still, per 16 x 16 block
  (oracles that see the answer), and one gain for all faces fitted on the other half of the pairs (what a
  linear fusion could learn).

It prints the PSNR of each beside the input's, the no-reference restoration's, and that restoration with the
ground-truth face pasted in (the most anything done inside the face can reach). Luma PSNR on 0-255, as
`evaluate`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
from scipy.interpolate import LinearNDInterpolator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.data.dataset import FaceCache, ReferencePairs  # noqa: E402
from training.evaluate import float_to_uint8  # noqa: E402
from training.metrics.fidelity import rgb_to_y  # noqa: E402

SIGMAS = (1.0, 3.0, 6.0)  # Gaussian blur (pixels at 128^2) that splits a reference into base + detail
TILE = 16  # the local oracle's blocks: an eye is ~20 x 10 px at 128^2


def landmark_warp(reference: np.ndarray, ref_landmarks: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The reference (H x W x C) resampled so that its landmarks land on the target's: piecewise affine over a
    Delaunay triangulation of the target's 68 points plus the crop's border, which stays where it is."""
    h, w = reference.shape[:2]
    border = np.array([[x, y] for x in (0, w / 2, w - 1) for y in (0, h / 2, h - 1) if (x, y) != (w / 2, h / 2)],
                      np.float64)
    src = np.concatenate([np.asarray(landmarks, np.float64), border])  # where, in the target
    dst = np.concatenate([np.asarray(ref_landmarks, np.float64), border])  # sample the reference here
    ys, xs = np.mgrid[0:h, 0:w]
    where = LinearNDInterpolator(src, dst)(np.stack([xs.ravel(), ys.ravel()], 1))
    inside = np.isfinite(where[:, 0])
    where[~inside] = np.stack([xs.ravel(), ys.ravel()], 1)[~inside]  # outside the hull: not moved
    map_x = where[:, 0].reshape(h, w).astype(np.float32)
    map_y = where[:, 1].reshape(h, w).astype(np.float32)
    return cv2.remap(reference, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def detail(y: np.ndarray, sigma: float) -> np.ndarray:
    return y - cv2.GaussianBlur(y, (0, 0), sigma)


def best_gain(detail_y: np.ndarray, error_y: np.ndarray) -> float:
    """The gain a minimising || error - a * detail ||^2 (least squares, clipped at 0: a reference whose detail
    anti-correlates with the truth gives nothing rather than its negative). `detail_y` is already masked."""
    den = float((detail_y * detail_y).sum())
    return max(0.0, float((detail_y * error_y).sum()) / den) if den > 0 else 0.0


def tile_gains(detail_y: np.ndarray, error_y: np.ndarray, tile: int) -> np.ndarray:
    """`best_gain` for each tile x tile block: the map of gains (H x W) a local fusion could at most apply."""
    gains = np.zeros_like(detail_y)
    for y in range(0, detail_y.shape[0], tile):
        for x in range(0, detail_y.shape[1], tile):
            block = np.s_[y : y + tile, x : x + tile]
            gains[block] = best_gain(detail_y[block], error_y[block])
    return gains


def psnr_y(y: np.ndarray, truth_y: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / max(float(np.mean((y - truth_y) ** 2)), 1e-12)))


def measure(pairs: ReferencePairs, n: int) -> dict[str, float]:
    from frstudio.core.restore import Restorer

    restorer = Restorer("gfrnet")
    items = [pairs[i] for i in range(min(n, len(pairs)))]
    hwc = lambda t: np.asarray(t, np.float32).transpose(1, 2, 0)  # noqa: E731
    lq = np.stack([hwc(it["lq"]) for it in items])
    ref = np.stack([hwc(it["ref"]) for it in items])
    plain, guided = [], []
    for s in range(0, len(items), 16):
        plain += restorer.restore(lq[s : s + 16])
        guided += restorer.restore(lq[s : s + 16], ref[s : s + 16])

    rows = []  # per face: truth, input, restored without reference, mask, and the detail of both warps
    for it, x, r, g, rf in zip(items, lq, plain, guided, ref):
        y = lambda img: rgb_to_y(float_to_uint8(img).astype(np.float64))  # noqa: E731
        warps = {"landmarks": landmark_warp(rf, np.asarray(it["ref_landmarks"]), np.asarray(it["landmarks"])),
                 "warpnet": g.extras["warped"].transpose(1, 2, 0)}
        rows.append({"truth": y(hwc(it["hq"])), "input": y(x), "plain": y(r.image), "guided": y(g.image),
                     "mask": hwc(it["mask"])[..., 0].astype(np.float64),
                     "warps": {k: y(v) for k, v in warps.items()}})

    report = {"n": len(rows)}
    for key in ("input", "plain", "guided"):
        report[key] = float(np.mean([psnr_y(r[key], r["truth"]) for r in rows]))
    # nothing a reference does inside the face can beat the face itself (the rest of the crop is -WG's)
    report["perfect face"] = float(np.mean([psnr_y(r["mask"] * r["truth"] + (1 - r["mask"]) * r["plain"], r["truth"])
                                            for r in rows]))
    half = len(rows) // 2
    for warp_name in ("landmarks", "warpnet"):
        for sigma in SIGMAS:
            details = [r["mask"] * detail(r["warps"][warp_name], sigma) for r in rows]
            gains = [best_gain(d, r["truth"] - r["plain"]) for d, r in zip(details, rows)]
            per_face, fitted, local = [], [], []
            for i, (d, r) in enumerate(zip(details, rows)):
                per_face.append(psnr_y(r["plain"] + gains[i] * d, r["truth"]))
                # one gain for all, fitted on the other half (the median: robust to a few large ones)
                other = gains[half:] if i < half else gains[:half]
                fitted.append(psnr_y(r["plain"] + float(np.median(other)) * d, r["truth"]))
                blocks = tile_gains(d, r["truth"] - r["plain"], TILE)
                local.append(psnr_y(r["plain"] + blocks * d, r["truth"]))
            report[f"{warp_name} s{sigma:g} local"] = float(np.mean(local))
            report[f"{warp_name} s{sigma:g} oracle"] = float(np.mean(per_face))
            report[f"{warp_name} s{sigma:g} fitted"] = float(np.mean(fitted))
            report[f"{warp_name} s{sigma:g} gain"] = float(np.median(gains))
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--protocol", nargs="+", default=["gfrnet-4x", "gfrnet-8x"])
    parser.add_argument("--n", type=int, default=300, help="the first N test pairs (the card's --limit)")
    parser.add_argument("--cache", type=Path, default=Path(__file__).resolve().parents[1] / "cache" / "faces128")
    args = parser.parse_args()
    data = FaceCache(args.cache)
    for protocol in args.protocol:
        r = measure(ReferencePairs(data, "test", protocol, mode="best", protocol=True), args.n)
        print(f"\n`{protocol}`, {r['n']} test pairs, luma PSNR (dB)")
        print(f"| input | GFRNet, no reference (-WG) | GFRNet, reference (Full) | -WG with a perfect face |\n"
              f"|---|---|---|---|\n| {r['input']:.2f} | {r['plain']:.2f} | {r['guided']:.2f} | {r['perfect face']:.2f} |\n")
        print("| warp | detail sigma | per-block oracle | per-face oracle | one fitted gain | over -WG (block / face / fitted) |")
        print("|---|---|---|---|---|---|")
        for warp_name in ("landmarks", "warpnet"):
            for sigma in SIGMAS:
                key = f"{warp_name} s{sigma:g}"
                b, o, f = r[f"{key} local"], r[f"{key} oracle"], r[f"{key} fitted"]
                print(f"| {warp_name} | {sigma:g} px | {b:.2f} | {o:.2f} | {f:.2f} (x{r[f'{key} gain']:.2f}) "
                      f"| {b - r['plain']:+.2f} / {o - r['plain']:+.2f} / {f - r['plain']:+.2f} dB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
