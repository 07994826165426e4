"""What a reference photo does to the guided model's output: does it help the likeness, and does a wrong one harm it?

    python benchmarks/reference_effect.py [--people 40] [--protocols gfrnet-8x bfr-severe] [--weights DIR] [--k 3] [--json OUT]

People: test-split CelebA identities (never seen in training) with at least 3 photos, spread over the split, as
`benchmarks/personal.py` picks them. For each, in file-name order: the first photo is damaged by each protocol
(seeded per file, as `python -m training evaluate`) and restored; the second is the reference (the same person);
the rest are held out. The wrong reference is the next person's reference photo.

Rows: the damaged input, the default model, and the guided model (`gfrnet`, or the export in `--weights`) with no
reference, the person's photo and another person's. Each with the dlib descriptor distance to the person's
held-out photos (mean over them), the share of them within dlib's same-person distance 0.6, and PSNR / SSIM
against the clean photo. Then how much the reference moves the output: the mean absolute change from the
no-reference output in grey levels (0-255) for the right and the wrong reference, and how much closer each brings
the face to the reference's own person (dlib distance without minus with; the wrong one should be < 0.01).

With `--k K` > 1 the person gives K photos (the next K in file-name order; held out: the rest) and two more rows
use them all (issue 25, item 3): the photo whose face is turned most like the damaged one (the closest aligned
landmarks, as ASFFNet picks its guide), and the mean of the K guided outputs.

A gate outside the network (`--gates 0.6 0.65 ...`): the reference is used only when the face looks like its
person by dlib's descriptor distance, else the face is restored without it. Two probes are measured, the damaged
face's own descriptor (what the app matches references by) and the default model's restored face's; for each
threshold: how often the right and the wrong reference pass, and the rows and pulls of the gated pipeline.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from personal import people, scores  # noqa: E402

from frstudio.core.degradations import PIPELINES, protocol_rng  # noqa: E402
from frstudio.core.imageio import float_to_uint8  # noqa: E402
from frstudio.core.restore import Restorer  # noqa: E402
from training.data.dataset import FaceCache  # noqa: E402
from training.evaluate import crop_descriptor  # noqa: E402

ROWS = ("input", "default", "guided, none", "guided, same person", "guided, another person")
K_ROWS = ("guided, closest pose of k", "guided, mean of k")


def closest_pose(landmarks: np.ndarray, candidates: list[np.ndarray]) -> int:
    """Index of the candidate whose aligned 68 landmarks lie closest (mean point distance) to `landmarks`."""
    return int(np.argmin([np.linalg.norm(np.asarray(c) - landmarks, axis=1).mean() for c in candidates]))


def run(data: FaceCache, args) -> dict:
    default = Restorer("frrnet", device="cpu")
    guided = Restorer("gfrnet", device="cpu", directory=args.weights)
    groups = people(data, args.people, args.k + 2)
    rows_measured = ROWS + (K_ROWS if args.k > 1 else ())
    results: dict = {p: {"rows": {r: [] for r in rows_measured}, "moved": {"same": [], "other": []},
                         "towards": {"same": [], "other": []}, "seconds": [], "pairs": []} for p in args.protocols}
    for k, rows in enumerate(groups):
        target, given, held = rows[0], rows[1 : 1 + args.k], rows[1 + args.k :]
        ref_row, wrong_row = given[0], groups[(k + 1) % len(groups)][1]
        hq8 = np.asarray(data.crops[target])
        hq = hq8.astype(np.float32) / 255
        landmarks, held_desc = np.asarray(data.landmarks[target]), np.asarray(data.descriptors[held])
        refs = {"same": np.asarray(data.crops[ref_row], np.float32) / 255,
                "other": np.asarray(data.crops[wrong_row], np.float32) / 255}
        ref_desc = {"same": np.asarray(data.descriptors[ref_row]), "other": np.asarray(data.descriptors[wrong_row])}
        for protocol in args.protocols:
            r = results[protocol]
            lq = PIPELINES[protocol](hq, protocol_rng(protocol, data.file[target])).image
            start = time.perf_counter()
            outs = {"none": guided.restore(lq[None])[0].image}
            for kind, ref in refs.items():
                outs[kind] = guided.restore(lq[None], reference=ref)[0].image
            r["seconds"].append((time.perf_counter() - start) / 3)
            images = {"input": lq, "default": default.restore(lq[None])[0].image, "guided, none": outs["none"],
                      "guided, same person": outs["same"], "guided, another person": outs["other"]}
            if args.k > 1:
                crops = np.stack([np.asarray(data.crops[r], np.float32) / 255 for r in given])
                each = [f.image for f in guided.restore(np.repeat(lq[None], len(given), axis=0), reference=crops)]
                pick = closest_pose(landmarks, [np.asarray(data.landmarks[r]) for r in given])
                images["guided, closest pose of k"] = each[pick]
                images["guided, mean of k"] = np.mean(each, axis=0)
            for row, img in images.items():
                r["rows"][row].append(scores(float_to_uint8(img), hq8, landmarks, held_desc))
            base = crop_descriptor(float_to_uint8(outs["none"]), landmarks)
            probes = {"input": crop_descriptor(float_to_uint8(lq), landmarks),
                      "default": crop_descriptor(float_to_uint8(images["default"]), landmarks)}
            pair = {"distance": {probe: {kind: float(np.linalg.norm(d - ref_desc[kind])) for kind in refs} for probe, d in probes.items()}}
            for kind in refs:
                r["moved"][kind].append(float(np.abs(outs[kind] - outs["none"]).mean() * 255))
                with_ref = crop_descriptor(float_to_uint8(outs[kind]), landmarks)
                r["towards"][kind].append(float(np.linalg.norm(base - ref_desc[kind]) - np.linalg.norm(with_ref - ref_desc[kind])))
            r["pairs"].append(pair)
        print(f"{k + 1}/{len(groups)} {data.identity[target]}", flush=True)
    return results


def gated(r: dict, probe: str, threshold: float) -> dict:
    """The pipeline with the gate: each reference used only where `probe`'s descriptor lies within `threshold` of
    the reference's, else the no-reference output (its scores, and no pull)."""
    out = {}
    for kind, row in (("same", "guided, same person"), ("other", "guided, another person")):
        passed = [p["distance"][probe][kind] < threshold for p in r["pairs"]]
        chosen = [r["rows"][row][i] if ok else r["rows"]["guided, none"][i] for i, ok in enumerate(passed)]
        out[kind] = {"passed": float(np.mean(passed)),
                     "towards_reference_person": float(np.mean([t if ok else 0.0 for t, ok in zip(r["towards"][kind], passed)])),
                     **{k: float(np.mean([s[k] for s in chosen])) for k in ("id", "match", "psnr", "ssim")}}
    return out


def summary(results: dict, gates=()) -> dict:
    out = {}
    for p, r in results.items():
        out[p] = {"people": len(r["seconds"]), "seconds_per_face": float(np.mean(r["seconds"])),
                  "rows": {row: {k: float(np.mean([s[k] for s in r["rows"][row]])) for k in ("id", "match", "psnr", "ssim")}
                           for row in r["rows"]},
                  "moved_grey_levels": {k: float(np.mean(v)) for k, v in r["moved"].items()},
                  "towards_reference_person": {k: float(np.mean(v)) for k, v in r["towards"].items()}}
        if gates:
            out[p]["gates"] = {probe: {f"{t:g}": gated(r, probe, t) for t in gates} for probe in ("input", "default")}
    return out


def print_table(table: dict) -> None:
    for p, t in table.items():
        print(f"\n{p}: {t['people']} people, {t['seconds_per_face']:.3f} s per guided restoration")
        print("| row | identity distance | same-person match | PSNR | SSIM |\n|---|---|---|---|---|")
        for row, s in t["rows"].items():
            print(f"| {row} | {s['id']:.3f} | {100 * s['match']:.0f} % | {s['psnr']:.2f} | {s['ssim']:.3f} |")
        m, d = t["moved_grey_levels"], t["towards_reference_person"]
        print(f"reference moves the output by {m['same']:.2f} grey levels (same person) and {m['other']:.2f} (another "
              f"person); brings it closer to the reference's person by {d['same']:+.3f} (same) and {d['other']:+.3f} (another)")
        for probe, by_threshold in t.get("gates", {}).items():
            print(f"\ngate on the {probe} face's descriptor: | threshold | right photo used | its identity distance / match |"
                  " wrong photo used | pull towards the wrong person |\n|---|---|---|---|---|")
            for threshold, g in by_threshold.items():
                same, other = g["same"], g["other"]
                print(f"| {threshold} | {100 * same['passed']:.0f} % | {same['id']:.3f} / {100 * same['match']:.0f} % | "
                      f"{100 * other['passed']:.0f} % | {other['towards_reference_person']:+.3f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=40)
    parser.add_argument("--protocols", nargs="+", default=["gfrnet-8x", "bfr-severe"])
    parser.add_argument("--k", type=int, default=1, help="photos the person gives (default 1; K > 1 adds the two rows that use them all)")
    parser.add_argument("--gates", type=float, nargs="*", default=[],
                        help="dlib distance thresholds for a gate outside the network (see above), e.g. 0.6 0.65 0.7")
    parser.add_argument("--weights", type=Path, help="a folder with gfrnet.safetensors and its manifest (default: shipped)")
    parser.add_argument("--cache", type=Path, default=REPO / "cache" / "faces128")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    table = summary(run(FaceCache(args.cache), args), args.gates)
    print_table(table)
    if args.json:
        args.json.write_text(json.dumps(table, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
